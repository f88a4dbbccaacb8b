// Canned responses in the reply box: typing "/" and letters suggests the matching ones (the
// agent's own and the shared), already filled in for the open conversation by the server
// (the `canned` event); Enter, Tab or a click inserts the text, Escape closes the list.
// Everything is shown as text.
import { h } from '../shared/dom.js';

const TRIGGER = /(^|\s)\/([a-z0-9_-]*)$/;
const SHOWN = 8;

export function createCanned({ textarea, form, request, current }) {
  const list = h('ul', { class: 'canned', role: 'listbox', id: 'canned-list', 'aria-label': 'Canned responses', hidden: true });
  form.before(list);
  textarea.setAttribute('aria-controls', 'canned-list');
  let cache = null; // {conversationId, items}
  let matches = [];
  let active = 0;
  let start = -1; // where the "/shortcut" begins in the text

  async function load() {
    const id = current();
    if (!id) return [];
    if (!cache || cache.conversationId !== id) {
      const data = await request('canned', { conversation_id: id });
      cache = { conversationId: id, items: data.canned || [] };
    }
    return cache.items;
  }

  function close() {
    list.hidden = true;
    matches = [];
    textarea.removeAttribute('aria-activedescendant');
  }

  function render() {
    list.replaceChildren(...matches.map((item, i) => {
      const option = h('li', {
        role: 'option', id: `canned-${i}`, 'aria-selected': String(i === active),
        onmousedown: (event) => { event.preventDefault(); insert(item); },
      }, h('b', { text: `/${item.shortcut}` }), ' ', h('span', { text: item.title }),
      h('small', { text: item.body }));
      return option;
    }));
    list.hidden = !matches.length;
    if (matches.length) textarea.setAttribute('aria-activedescendant', `canned-${active}`);
  }

  async function suggest() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const found = TRIGGER.exec(before);
    if (!found) return close();
    start = before.length - found[2].length - 1;
    const typed = found[2];
    let items;
    try {
      items = await load();
    } catch {
      return close();
    }
    matches = items.filter((item) => item.shortcut.startsWith(typed)).slice(0, SHOWN);
    active = 0;
    render();
  }

  function insert(item) {
    const end = textarea.selectionStart;
    textarea.value = textarea.value.slice(0, start) + item.body + textarea.value.slice(end);
    const caret = start + item.body.length;
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.focus();
    textarea.dispatchEvent(new Event('input'));
  }

  textarea.addEventListener('input', () => { suggest(); });
  textarea.addEventListener('blur', () => setTimeout(close, 150));
  // Captured on the form, before the reply box's own Enter-sends handler.
  form.addEventListener('keydown', (event) => {
    if (list.hidden || !matches.length || event.target !== textarea) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      active = (active + (event.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      insert(matches[active]);
    } else if (event.key === 'Escape') {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);

  return {
    /** Another conversation is open: its variables differ. */
    reset() { cache = null; close(); },
  };
}
