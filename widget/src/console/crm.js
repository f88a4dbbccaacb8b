// The CRM panel beside the open conversation: who the visitor is, what the CRM knows of
// them, their past conversations, the page and browser, and what the bot tried before it
// handed over (docs/protocol.md, `context`). Everything here comes from visitors, host pages
// and CRMs, so it is set as text (h() and textContent), never parsed as HTML; links are
// http(s) only (the server checks too).
import { request } from '../shared/ack.js';
import { h } from '../shared/dom.js';

const REASONS = {
  visitor_asked: 'the visitor asked for a person',
  menu: 'a team was chosen in the menu',
  low_confidence: 'the bot could not answer',
  not_helpful: "the bot's answers did not help",
  phrase: 'words that go to a person at once',
  no_bot: 'the bot is off',
  offline: 'a message left out of hours',
};
const SAFE_URL = /^https?:\/\//i;

function when(ms) {
  return typeof ms === 'number' ? new Date(ms).toLocaleString() : '';
}

function section(title, ...children) {
  return h('section', { class: 'crm-section' }, h('h3', { text: title }), ...children);
}

/** A definition list of [label, value] rows, leaving out empty values. */
function facts(rows) {
  const list = h('dl', { class: 'crm-facts' });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === '') continue;
    list.append(h('dt', { text: label }), h('dd', { text: String(value) }));
  }
  return list;
}

function link(title, url) {
  return typeof url === 'string' && SAFE_URL.test(url)
    ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: title })
    : h('span', { text: title });
}

function contactSection(contact) {
  if (!contact) return section('Contact', h('p', { class: 'crm-muted', text: 'Unknown visitor.' }));
  const verified = contact.external_id
    ? h('span', { class: contact.verified ? 'crm-badge crm-verified' : 'crm-badge', text: contact.verified ? 'verified' : 'not verified' })
    : null;
  return section('Contact',
    h('p', { class: 'crm-name' }, h('span', { class: 'crm-name-text', text: contact.name || 'Visitor' }), ' ', verified),
    facts([['Email', contact.email], ['External id', contact.external_id]]),
    Object.keys(contact.attributes || {}).length
      ? h('div', {}, h('h4', { text: 'Attributes' }), facts(Object.entries(contact.attributes)))
      : null);
}

function crmSection(crm) {
  if (!crm || crm.status === 'unavailable') {
    return section('CRM', h('p', { class: 'crm-unavailable', role: 'status', text: 'CRM unavailable' }),
      crm && crm.reason ? h('p', { class: 'crm-muted', text: crm.reason }) : null);
  }
  if (crm.status !== 'ok') return section('CRM', h('p', { class: 'crm-muted', text: 'Not in the CRM.' }));
  const context = crm.context || {};
  const value = typeof context.lifetime_value === 'number'
    ? `${context.lifetime_value.toLocaleString()}${context.currency ? ` ${context.currency}` : ''}` : null;
  return section('CRM',
    crm.contact && crm.contact.url ? h('p', {}, link('Open the CRM record', crm.contact.url)) : null,
    facts([['Plan', context.plan], ['Company', context.company], ['Lifetime value', value],
      ...Object.entries(context.fields || {})]),
    (context.links || []).length
      ? h('ul', { class: 'crm-links' }, ...context.links.map((l) => h('li', {}, link(l.title, l.url)))) : null);
}

function botSection(bot) {
  if (!bot || (!bot.handoff && !bot.questions.length)) return null;
  const handoff = bot.handoff;
  const why = handoff ? (REASONS[handoff.reason] || handoff.reason) : null;
  return section('What the bot tried',
    handoff ? h('p', { class: 'crm-handoff' }, 'Handed over: ', h('strong', { text: why }),
      handoff.team ? ` (team ${handoff.team})` : '', handoff.note ? h('q', { text: handoff.note }) : null) : null,
    bot.questions.length ? h('div', {}, h('h4', { text: 'The visitor asked' }),
      h('ol', { class: 'crm-list' }, ...bot.questions.map((q) => h('li', { text: q.text })))) : null,
    bot.answers.length ? h('div', {}, h('h4', { text: 'The bot answered' }),
      h('ol', { class: 'crm-list' }, ...bot.answers.map((a) => h('li', {},
        h('span', { class: 'crm-kind', text: a.kind === 'answer' ? `${a.entry_id || 'answer'}${typeof a.confidence === 'number' ? ` · ${Math.round(a.confidence * 100)}%` : ''}` : a.kind === 'clarify' ? 'asked which one' : 'could not answer' }),
        ' ', a.text)))) : null);
}

function historySection(history) {
  if (!history || !history.length) return section('Past conversations', h('p', { class: 'crm-muted', text: 'None.' }));
  return section('Past conversations', h('ul', { class: 'crm-list' }, ...history.map((past) => h('li', {},
    h('span', { text: when(past.created_at) }), ' · ',
    h('strong', { text: past.status === 'resolved' ? (past.reason || 'resolved') : past.status }),
    past.agent_name ? ` · ${past.agent_name}` : '',
    typeof past.csat === 'number' ? ` · ${'★'.repeat(past.csat)}` : ''))));
}

function pageSection(page) {
  if (!page) return null;
  return section('Page and browser',
    page.url ? h('p', { class: 'crm-page' }, link(page.url, page.url)) : null,
    page.user_agent ? h('p', { class: 'crm-muted', text: page.user_agent }) : null);
}

/** The panel, added to the console's app view; show(conversationId) fills it. */
export function createCrmPanel({ appView, socket }) {
  const body = h('div', { class: 'crm-body' });
  const refresh = h('button', { type: 'button', class: 'crm-refresh', text: 'Refresh' });
  const panel = h('aside', { class: 'crm', id: 'crm-panel', 'aria-labelledby': 'crm-title', hidden: true },
    h('header', { class: 'crm-header' }, h('h2', { id: 'crm-title', text: 'Customer' }), refresh), body);
  appView.append(panel);
  let current = null;

  async function load(conversationId, fresh = false) {
    current = conversationId;
    panel.hidden = false;
    appView.classList.add('crm-open');
    body.replaceChildren(h('p', { class: 'crm-muted', text: 'Loading…' }));
    try {
      const data = await request(socket(), 'context', { conversation_id: conversationId, refresh: fresh });
      if (current !== conversationId) return;
      body.replaceChildren(...[contactSection(data.contact), crmSection(data.crm), botSection(data.bot),
        historySection(data.history), pageSection(data.page)].filter(Boolean));
    } catch (error) {
      if (current !== conversationId) return;
      body.replaceChildren(h('p', { class: 'crm-muted', text: `No context: ${error.message}` }));
    }
  }

  refresh.addEventListener('click', () => current && load(current, true));
  return {
    show: (conversationId) => load(conversationId),
    clear() {
      current = null;
      panel.hidden = true;
      appView.classList.remove('crm-open');
      body.replaceChildren();
    },
  };
}
