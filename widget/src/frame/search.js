// "Search help" in the panel: the help centre's search (GET {mount}/api/kb/search) as the
// visitor types, results opening the articles in a new tab. No socket is needed.
import { byId, h } from '../shared/dom.js';
import { safeHref } from '../shared/markdown.js';

const DEBOUNCE_MS = 200;
const LIMIT = 5;

export class HelpSearch {
  /** `mount`: chatkit's base URL; `locale`: the protocol locale; `t`: the translator. */
  constructor({ mount, locale, t }) {
    this.api = `${mount.href.replace(/\/$/, '')}/api/kb/search`;
    this.locale = locale;
    this.t = t;
    this.toggle = byId('ck-search-toggle');
    this.box = byId('ck-search');
    this.input = byId('ck-search-input');
    this.results = byId('ck-search-results');
    this.pending = null;
    this.timer = 0;
    this.toggle.addEventListener('click', () => (this.box.hidden ? this.open() : this.close()));
    this.input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.lookUp(this.input.value.trim()), DEBOUNCE_MS);
    });
    this.box.addEventListener('submit', (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.lookUp(this.input.value.trim());
    });
  }

  get isOpen() {
    return !this.box.hidden;
  }

  open() {
    this.box.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    this.input.focus();
  }

  close() {
    this.box.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.focus();
  }

  async lookUp(query) {
    if (this.pending) this.pending.abort();
    if (!query) {
      this.results.replaceChildren();
      return;
    }
    const url = new URL(this.api);
    url.search = new URLSearchParams({ q: query.slice(0, 200), limit: String(LIMIT), prefix: '1' });
    if (this.locale) url.searchParams.set('locale', this.locale);
    const pending = (this.pending = new AbortController());
    try {
      const response = await fetch(url, { credentials: 'omit', signal: pending.signal });
      if (!response.ok) throw new Error(`search failed: ${response.status}`);
      const body = await response.json();
      this.show(Array.isArray(body.results) ? body.results : []);
    } catch (error) {
      if (error.name !== 'AbortError') this.message(this.t('search_failed'));
    }
  }

  show(results) {
    const items = [];
    for (const result of results) {
      const href = typeof result.url === 'string' ? safeHref(new URL(result.url, this.api).href) : null;
      if (!href || typeof result.question !== 'string') continue;
      items.push(h('li', null, h('a', { href, target: '_blank', rel: 'noopener' },
        h('span', { class: 'ck-search-title', text: result.question }),
        typeof result.snippet === 'string' ? h('span', { class: 'ck-search-snippet', text: result.snippet }) : null)));
    }
    if (!items.length) return this.message(this.t('search_none'));
    this.results.replaceChildren(...items);
  }

  message(text) {
    this.results.replaceChildren(h('li', { class: 'ck-search-empty', text }));
  }
}
