// chatkit help centre: search suggestions as you type, and "was this helpful?" votes.
// Plain JavaScript, no build step. Without it the pages still work: the search form submits
// to the results page, and only the vote (which needs this script) stays hidden.
(function () {
  'use strict';

  var DEBOUNCE_MS = 200;
  var MIN_CHARS = 2;
  var SUGGESTIONS = 6;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  // The ARIA 1.2 combobox pattern: the input keeps focus; arrows move a highlight through
  // the listbox (aria-activedescendant), Enter opens the highlighted article, Escape closes.
  function typeahead(form) {
    var input = form.querySelector('input[name="q"]');
    var combo = input && input.parentElement;
    if (!input || !combo || !form.dataset.api || !window.fetch) return;

    var list = document.createElement('ul');
    list.id = 'hc-suggestions';
    list.className = 'hc-suggestions';
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', form.dataset.suggestions || '');
    list.hidden = true;
    var status = document.createElement('p');
    status.className = 'hc-visually-hidden';
    status.setAttribute('role', 'status');
    combo.append(list, status);

    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', list.id);
    input.setAttribute('aria-expanded', 'false');

    var results = [];
    var active = -1;
    var timer = 0;
    var pending = null;
    var shownFor = '';

    function setActive(index) {
      var options = list.children;
      if (active >= 0 && options[active]) options[active].setAttribute('aria-selected', 'false');
      active = index;
      if (active >= 0 && options[active]) {
        options[active].setAttribute('aria-selected', 'true');
        input.setAttribute('aria-activedescendant', options[active].id);
        options[active].scrollIntoView({block: 'nearest'});
      } else {
        input.removeAttribute('aria-activedescendant');
      }
    }

    function close() {
      setActive(-1);
      list.hidden = true;
      input.setAttribute('aria-expanded', 'false');
    }

    function open() {
      if (!results.length) return;
      list.hidden = false;
      input.setAttribute('aria-expanded', 'true');
    }

    function show(items, query) {
      results = items;
      shownFor = query;
      active = -1;
      list.replaceChildren();
      items.forEach(function (item, index) {
        var option = document.createElement('li');
        option.id = 'hc-suggestion-' + index;
        option.setAttribute('role', 'option');
        option.setAttribute('aria-selected', 'false');
        var question = document.createElement('span');
        question.className = 'hc-suggestion-question';
        question.textContent = item.question;  // text, never HTML
        var topic = document.createElement('span');
        topic.className = 'hc-suggestion-topic';
        topic.textContent = item.category;
        option.append(question, topic);
        list.append(option);
      });
      status.textContent = items.length
        ? fill(form.dataset.count || '{count}', {count: items.length})
        : (form.dataset.none || '');
      if (items.length) open(); else close();
    }

    function go(index) {
      var item = results[index];
      if (item) window.location.assign(item.url);
    }

    function lookUp(query) {
      if (pending) pending.abort();
      pending = new AbortController();
      var url = new URL(form.dataset.api, window.location.href);
      url.searchParams.set('q', query);
      url.searchParams.set('limit', String(SUGGESTIONS));
      url.searchParams.set('prefix', '1');  // the last word may be unfinished
      if (form.dataset.locale) url.searchParams.set('locale', form.dataset.locale);
      fetch(url, {headers: {Accept: 'application/json'}, signal: pending.signal})
        .then(function (response) {
          if (!response.ok) throw new Error('search failed: ' + response.status);
          return response.json();
        })
        .then(function (body) {
          if (input.value.trim() === query) show(body.results, query);
        })
        .catch(function (error) {
          if (error.name !== 'AbortError') close();  // the form still works
        });
    }

    input.addEventListener('input', function () {
      window.clearTimeout(timer);
      var query = input.value.trim();
      if (query.length < MIN_CHARS) {
        if (pending) pending.abort();
        results = [];
        shownFor = '';
        close();
        return;
      }
      timer = window.setTimeout(function () { lookUp(query); }, DEBOUNCE_MS);
    });

    input.addEventListener('keydown', function (event) {
      var count = results.length;
      switch (event.key) {
        case 'ArrowDown':
          if (!count) return;
          event.preventDefault();
          if (list.hidden) { open(); setActive(0); } else setActive((active + 1) % count);
          break;
        case 'ArrowUp':
          if (!count) return;
          event.preventDefault();
          if (list.hidden) { open(); setActive(count - 1); } else setActive(active <= 0 ? count - 1 : active - 1);
          break;
        case 'Enter':
          if (!list.hidden && active >= 0) {
            event.preventDefault();
            go(active);
          }
          break;  // otherwise the form submits: the results page
        case 'Escape':
          if (!list.hidden) {
            event.preventDefault();
            close();
          }
          break;
        default:
      }
    });

    input.addEventListener('focus', function () {
      if (results.length && input.value.trim() === shownFor) open();
    });
    input.addEventListener('blur', close);
    // Keep the focus in the input while a suggestion is clicked.
    list.addEventListener('mousedown', function (event) { event.preventDefault(); });
    list.addEventListener('click', function (event) {
      var option = event.target.closest('[role="option"]');
      if (option) go(Array.prototype.indexOf.call(list.children, option));
    });
  }

  function voting(section) {
    if (!window.fetch) return;
    var buttons = section.querySelector('.hc-vote-buttons');
    var status = section.querySelector('.hc-vote-status');
    section.hidden = false;

    function report(text) {
      status.textContent = text;
      status.focus();  // the buttons go away: keep the keyboard's place here
    }

    buttons.addEventListener('click', function (event) {
      var button = event.target.closest('button[data-helpful]');
      if (!button) return;
      var all = buttons.querySelectorAll('button');
      all.forEach(function (each) { each.disabled = true; });
      fetch(section.dataset.url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', Accept: 'application/json'},
        body: JSON.stringify({helpful: button.dataset.helpful === 'true',
                              locale: section.dataset.locale})
      })
        .then(function (response) {
          if (!response.ok) throw new Error('vote failed: ' + response.status);
          return response.json();
        })
        .then(function (body) {
          buttons.hidden = true;
          var said = body.recorded ? section.dataset.thanks : section.dataset.already;
          report(said + ' ' + fill(section.dataset.counts, body));
        })
        .catch(function () {
          all.forEach(function (each) { each.disabled = false; });
          report(section.dataset.failed);
        });
    });
  }

  function start() {
    document.querySelectorAll('form.hc-search').forEach(typeahead);
    document.querySelectorAll('section.hc-vote[data-url]').forEach(voting);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
