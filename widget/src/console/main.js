// The agent console (served at {mount}/console/ to a signed-in agent; the server's sign-in form
// comes first): the /agent namespace of docs/protocol.md, authenticated by the session cookie.
// Deliberately small: later work grows it into a full inbox.
import { isRetryable, request } from '../shared/ack.js';
import { LIMITS, MAX_FILES, attachmentsOf, formatSize, precheck, readLimits, renderAttachments, uploadFile } from '../shared/attachments.js';
import { byId, h, nearBottom, timeElement } from '../shared/dom.js';
import { clientIdFactory } from '../shared/ids.js';
import { renderMarkdown } from '../shared/markdown.js';
import { typingDisplay, typingSignal } from '../shared/typing.js';
import { connectNamespace, mountFromScript } from '../shared/socket.js';
import { createAdmin } from './admin.js';
import { createCrmPanel } from './crm.js';
import { STATUS_LABEL, countUnread, createAlerts, createInbox } from './inbox.js';
import { createDesk } from './desk.js';
import { createQa } from './qa.js';
import { createReports } from './reports.js';

const mount = mountFromScript(document.currentScript, '/static/console/console.js');
const LISTED = ['bot', 'queued', 'assigned'];
const nextClientId = clientIdFactory();

const ui = {
  appView: byId('app-view'),
  conn: byId('conn'),
  agentName: byId('agent-name'),
  presence: byId('presence'),
  list: byId('conversation-list'),
  listEmpty: byId('list-empty'),
  title: byId('thread-title'),
  status: byId('thread-status'),
  csat: byId('thread-csat'),
  resolve: byId('resolve'),
  messages: byId('thread-messages'),
  replyForm: byId('reply-form'),
  reply: byId('reply-input'),
  typing: byId('thread-typing'),
  attach: byId('attach'),
  file: byId('attach-file'),
};

const state = {
  auth: readAuth(), // {agent: {id, name, role}, csrf}, from the page
  socket: null,
  conversations: new Map(),
  contacts: new Map(), // contact id -> {name, email, external_id, verified, attributes}, from the list
  teams: null, // the agent's teams, once the server said (presence)
  unread: new Map(), // conversation id -> {count, since}: visitor messages no agent has read
  current: null, // the open conversation's id
  seen: new Set(), // seqs shown for the open conversation
  lastSeq: 0,
  outbox: [], // [{conversation_id, client_id, body, attachment_ids?, el}] replies not yet acknowledged
  limits: LIMITS, // what may be attached (the widget config's)
};
// The CRM panel beside the open conversation (crm.js).
const crm = createCrmPanel({ appView: ui.appView, socket: () => state.socket });
// Notes, tags, resolve reasons, canned responses, supervision (desk.js).
const desk = createDesk({ ui, state, request: (event, payload) => request(state.socket, event, payload),
  addMessage: (message) => addMessage(message), nextClientId,
  onConversation: (conversation) => (conversation ? upsertConversation(conversation) : renderList()) });

/** The signed-in agent and the session's CSRF token, which the server put in the page. The
 * session itself is an HttpOnly cookie: this script never sees it. */
function readAuth() {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || '';
  return { agent: { id: meta('chatkit-agent-id'), name: meta('chatkit-agent-name'), role: meta('chatkit-agent-role') }, csrf: meta('csrf-token') };
}

/** Back to the sign-in form (the session ended: signed out elsewhere, or expired). */
function toSignIn() {
  if (state.socket) state.socket.disconnect();
  location.assign(new URL(`login?expired=1&next=${encodeURIComponent(location.pathname)}`, location.href));
}

function visitorLabel(conversation) {
  // The email a visitor left (the offline form) says who to reply to, right in the list.
  const contact = state.contacts.get(conversation.contact_id);
  const name = contact && (contact.name || contact.email || contact.external_id);
  const label = name || `Visitor ${String(conversation.contact_id || conversation.id).slice(0, 6)}`;
  // Whether the host site signed who they are (identify): an unverified id is only a claim.
  if (contact && contact.external_id) return `${label} (${contact.verified ? 'verified' : 'unverified'})`;
  return label;
}

function senderName(message) {
  if (message.sender === 'visitor') return message.author_name || 'Visitor';
  if (message.sender === 'agent') {
    return state.auth && message.author_id === state.auth.agent.id ? 'You' : message.author_name || 'Agent';
  }
  return message.author_name || (message.sender === 'bot' ? 'Bot' : '');
}

// ---- conversation list ----

const inbox = createInbox({
  tabs: byId('inbox-tabs'),
  list: ui.list,
  empty: ui.listEmpty,
  me: () => state.auth && state.auth.agent.id,
  state,
  label: visitorLabel,
  extra: (conversation) => desk.listTags(conversation.id),
  onOpen: (id) => openConversation(id),
});
const alerts = createAlerts(byId('notify-enable'));

function renderList() {
  inbox.render();
}

/** Whether this agent still sees the conversation: an agent sees their teams' and their own
 * (transferred to another team, it leaves them); supervisors and admins every one. */
function mayList(conversation) {
  const me = state.auth && state.auth.agent;
  if (!me || me.role !== 'agent' || !state.teams || conversation.agent_id === me.id) return true;
  return !conversation.queue_team || state.teams.includes(conversation.queue_team);
}

function upsertConversation(conversation) {
  // A message left with the offline form: the list learns the visitor's email.
  if (conversation.handoff_reason === 'offline' && !state.contacts.has(conversation.contact_id)) {
    state.contacts.set(conversation.contact_id, {});
    refreshList().catch(() => {});
  }
  if (LISTED.includes(conversation.status) && mayList(conversation)) state.conversations.set(conversation.id, conversation);
  else state.conversations.delete(conversation.id);
  if (conversation.id === state.current) renderHeader(conversation);
  renderList();
}

async function refreshList() {
  const data = await request(state.socket, 'conversations', { status: LISTED });
  state.conversations = new Map(data.conversations.map((c) => [c.id, c]));
  state.contacts = new Map(Object.entries(data.contacts || {}));
  state.unread = new Map(Object.entries(data.unread || {}));
  desk.setListTags(data.tags);
  renderList();
}

// ---- the open conversation ----

function renderHeader(conversation, readOnly = false) {
  ui.title.textContent = visitorLabel(conversation);
  const mine = conversation.status === 'assigned' && state.auth && conversation.agent_id === state.auth.agent.id;
  ui.status.textContent = [STATUS_LABEL[conversation.status] || conversation.status, conversation.agent_name]
    .filter(Boolean)
    .join(' · ');
  ui.resolve.hidden = !mine;
  ui.replyForm.hidden = !mine || readOnly;
  desk.header(conversation, { mine });
}

function addMessage(message) {
  if (message.conversation_id !== state.current || state.seen.has(message.seq)) return;
  state.seen.add(message.seq);
  while (state.seen.has(state.lastSeq + 1)) state.lastSeq += 1;
  const pending = state.outbox.find((item) => item.client_id === message.client_id && message.sender === 'agent');
  if (pending && pending.el) {
    pending.el.classList.remove('sending');
    pending.el.dataset.seq = String(message.seq);
    // The stored copy's files come with links.
    const files = pending.el.querySelector('.files');
    if (files) files.replaceWith(renderFiles(attachmentsOf(message), message) || '');
    return;
  }
  const el = messageElement(message.sender, senderName(message), message.body, message.created_at,
    attachmentsOf(message), message);
  el.dataset.seq = String(message.seq);
  desk.decorate(el, message);
  // Keep seq order when a reconnect fills a gap.
  const later = [...ui.messages.children].find((other) => Number(other.dataset.seq) > message.seq);
  const stick = nearBottom(ui.messages);
  ui.messages.insertBefore(el, later || null);
  if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function messageElement(sender, name, body, createdAt, files = [], message = null) {
  return h(
    'li',
    { class: `message from-${sender}` },
    h('div', { class: 'meta' }, name ? h('b', { text: name }) : null, timeElement(createdAt)),
    // The bot's and agents' Markdown is shown as the visitor sees it; visitor text stays plain.
    // Files alone come with no text.
    body || !files.length
      ? sender === 'bot' || sender === 'agent'
        ? h('div', { class: 'body md' }, renderMarkdown(body))
        : h('div', { class: 'body', text: body })
      : null,
    renderFiles(files, message),
    offlineEmail(message),
  );
}

/** A message left with the offline form: the email to reply to, in view. */
function offlineEmail(message) {
  const meta = message && message.meta;
  if (!meta || meta.kind !== 'offline_message' || typeof meta.email !== 'string') return null;
  return h('div', { class: 'left-email' }, 'Left while we were away. Reply by email: ',
    h('a', { href: `mailto:${encodeURIComponent(meta.email).replace(/%40/g, '@')}`, text: meta.email }));
}

/** A message's files; an expired link is made fresh (from history) when clicked. */
function renderFiles(files, message) {
  const refresh = message && (async () => {
    const page = await request(state.socket, 'history', {
      conversation_id: message.conversation_id, before_seq: message.seq + 1, limit: 1 });
    return attachmentsOf(page.messages.find((m) => m.seq === message.seq));
  });
  return renderAttachments(files, { c: '', locale: navigator.language, openLabel: 'Open full size', refresh });
}

/** Tells the visitor the open conversation has been read, when this window is in view. */
function reportRead() {
  const conversation = state.conversations.get(state.current);
  if (!state.socket || !state.auth || !conversation || conversation.agent_id !== state.auth.agent.id) return;
  if (document.visibilityState !== 'visible' || !state.lastSeq) return;
  request(state.socket, 'read', { conversation_id: state.current, seq: state.lastSeq }).catch(() => {});
}
document.addEventListener('visibilitychange', reportRead);

// Typing, both ways, for the open conversation only.
const typing = typingSignal((active) => {
  if (state.socket && state.current) {
    request(state.socket, 'typing', { conversation_id: state.current, typing: active }).catch(() => {});
  }
});
const showVisitorTyping = typingDisplay((name) => {
  ui.typing.hidden = !name;
  ui.typing.textContent = name ? `${name} is typing…` : '';
});

/** The visitor's rating of the open conversation (CSAT), once they gave it. Their comment
 * is plain text. */
function showCsat(rated) {
  if (!rated || rated.conversation_id !== state.current || !Number.isInteger(rated.rating)) return;
  const stars = '★'.repeat(rated.rating) + '☆'.repeat(5 - rated.rating);
  ui.csat.textContent = `Visitor's rating: ${rated.rating}/5 ${stars}${rated.comment ? ` · “${rated.comment}”` : ''}`;
  ui.csat.hidden = false;
}

async function openConversation(id) {
  typing.stop();
  showVisitorTyping(false);
  state.current = id;
  ui.csat.hidden = true;
  ui.csat.textContent = '';
  state.seen = new Set();
  state.lastSeq = 0;
  state.unread.delete(id);
  ui.messages.replaceChildren();
  desk.opened();
  renderList();
  crm.show(id);
  await joinCurrent();
  ui.reply.focus();
}

/** Joins (or re-joins after a reconnect) the open conversation and fills in its messages. */
async function joinCurrent() {
  const id = state.current;
  if (!id) return;
  try {
    for (;;) {
      const data = await request(state.socket, 'join', { conversation_id: id, since_seq: state.lastSeq, limit: 200 });
      if (state.current !== id) return;
      renderHeader(data.conversation);
      upsertConversation(data.conversation);
      desk.loaded(data);
      data.messages.forEach(addMessage);
      if (!data.has_more || !data.messages.length) break;
    }
    reportRead();
    flushOutbox();
  } catch (error) {
    if (error.code !== 'conflict') {
      ui.status.textContent = `Could not open: ${error.message}`;
      return;
    }
    // Another agent has it: show it read-only (supervisors watch it live).
    const data = await desk.view(id);
    if (state.current !== id) return;
    desk.loaded(data);
    const conversation = state.conversations.get(id);
    if (conversation) renderHeader(conversation, true);
    showCsat(data.csat);
    data.messages.forEach(addMessage);
  }
}

async function sendReply(body) {
  const item = { conversation_id: state.current, client_id: nextClientId(), body, el: null };
  item.el = messageElement('agent', 'You', body, Date.now());
  item.el.classList.add('sending');
  ui.messages.append(item.el);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  state.outbox.push(item);
  await flushOutbox();
}

/** Uploads the files, then sends them as one reply (through the outbox, like text). */
async function sendFiles(files) {
  const item = { conversation_id: state.current, client_id: nextClientId(), body: '', el: null };
  const shown = files.map((file) => ({ name: file.name, content_type: file.type, size: file.size, href: null }));
  item.el = messageElement('agent', 'You', '', Date.now(), shown);
  item.el.classList.add('sending');
  const progress = item.el.appendChild(h('div', { class: 'progress', text: 'Uploading…' }));
  ui.messages.append(item.el);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  try {
    const ids = [];
    for (const file of files) {
      const uploaded = await uploadFile(mount, { 'X-CSRF-Token': state.auth.csrf }, file, (fraction) => {
        progress.textContent = `Uploading… ${Math.floor(((ids.length + fraction) / files.length) * 100)}%`;
      });
      ids.push(uploaded.id);
    }
    item.attachment_ids = ids;
  } catch (error) {
    item.el.classList.remove('sending');
    progress.replaceWith(h('div', { class: 'error', text: `Not sent: ${error.message}` }));
    return;
  }
  progress.remove();
  state.outbox.push(item);
  await flushOutbox();
}

let flushing = false;
async function flushOutbox() {
  if (flushing) return;
  flushing = true;
  try {
    while (state.outbox.length && state.socket && state.socket.connected) {
      const item = state.outbox[0];
      const { conversation_id, client_id, attachment_ids } = item;
      const body = item.body || undefined;
      try {
        const message = await request(state.socket, 'message', { conversation_id, client_id, body, attachment_ids });
        addMessage(message);
        item.el.classList.remove('sending');
        state.outbox.shift();
      } catch (error) {
        if (isRetryable(error)) break; // resent after the next (re)connect
        state.outbox.shift();
        item.el.classList.remove('sending');
        item.el.append(h('div', { class: 'error', text: `Not sent: ${error.message}` }));
      }
    }
  } finally {
    flushing = false;
  }
}

// ---- connection and sign-out ----

function connect() {
  ui.presence.value = localStorage.getItem('chatkit.console.presence') === 'away' ? 'away' : 'online';
  ui.agentName.textContent = state.auth.agent.name;
  byId('admin-open').hidden = state.auth.agent.role !== 'admin';
  byId('reports-open').hidden = !['supervisor', 'admin'].includes(state.auth.agent.role);
  // No auth: the server reads the session cookie, which the browser sends (same origin).
  const socket = connectNamespace(mount, '/agent', () => ({}));
  state.socket = socket;
  socket.on('connect', async () => {
    ui.conn.textContent = 'Online';
    try {
      await setPresence(ui.presence.value);
      await refreshList();
      await joinCurrent();
    } catch (error) {
      // The socket went away meanwhile (signed out, reconnecting): its next connect loads again.
      if (state.socket === socket && socket.connected) ui.conn.textContent = `Could not load your conversations: ${error.message}`;
    }
  });
  // A conversation offered to this agent: it appears in the list; opening it accepts it.
  socket.on('assignment', async ({ conversation }) => {
    if (!conversation) return;
    upsertConversation(conversation);
    inbox.show(conversation.id);
    // Its unread count and waiting time, as the server knows them.
    refreshList().catch(() => {});
    ui.conn.textContent = 'New conversation assigned to you';
    alerts.assigned(conversation.id, 'New chat assigned to you', visitorLabel(conversation), () => openConversation(conversation.id));
  });
  socket.on('disconnect', (reason) => {
    ui.conn.textContent = 'Reconnecting…';
    // A disconnect sent by the server (a restart, say) is not retried by socket.io-client.
    if (reason === 'io server disconnect') {
      setTimeout(() => state.socket === socket && socket.connect(), 2000 + Math.random() * 3000);
    }
  });
  socket.on('connect_error', (error) => {
    if (error.data && error.data.code === 'invalid_token') toSignIn();
    else ui.conn.textContent = 'Reconnecting…';
  });
  socket.on('signed_out', toSignIn); // this session was signed out, in another tab say
  socket.on('conversation', upsertConversation);
  // A contact's details changed (the visitor's "Your details", another agent): fresh names.
  socket.on('contact', ({ contact }) => {
    if (!contact || typeof contact.id !== 'string') return;
    state.contacts.set(contact.id, contact);
    renderList();
    const current = state.conversations.get(state.current);
    if (current && current.contact_id === contact.id) ui.title.textContent = visitorLabel(current);
  });
  socket.on('csat', showCsat);
  desk.listen(socket);
  socket.on('typing', (event) => {
    if (event.conversation_id === state.current && event.sender === 'visitor') showVisitorTyping(event.typing, 'Visitor');
  });
  socket.on('message', (message) => {
    if (message.conversation_id === state.current && message.sender === 'visitor') showVisitorTyping(false);
    if (message.conversation_id === state.current) {
      addMessage(message);
      if (message.sender === 'visitor') reportRead();
    }
  });
  // A visitor wrote in a chat this agent has listed (theirs, their team's queue, or any for
  // supervisors): one more unread, unless it is the one open here.
  socket.on('activity', (activity) => {
    if (activity.conversation_id === state.current || !state.conversations.has(activity.conversation_id)) return;
    countUnread(state.unread, activity);
    renderList();
  });
  // Read in another tab: nothing unread left there.
  socket.on('read', (event) => {
    if (event.reader === 'agent' && state.unread.delete(event.conversation_id)) renderList();
  });
  socket.connect();
}

/** Available agents are offered queued conversations (routing); away ones are not. */
async function setPresence(status) {
  localStorage.setItem('chatkit.console.presence', status);
  try {
    // The answer names the teams this agent works in: what the inbox may list.
    state.teams = (await request(state.socket, 'presence', { status })).teams;
  } catch (error) {
    ui.conn.textContent = `Could not set your status: ${error.message}`;
  }
}

// Signing out is the page's own form (POST logout, with the CSRF token): the server ends the
// session and answers with the sign-in form. The socket closes first, so no reconnect races it.
byId('logout-form').addEventListener('submit', () => {
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.disconnect();
});

ui.replyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const body = ui.reply.value;
  if (!body.trim() || !state.current) return;
  ui.reply.value = '';
  typing.stop();
  if (!desk.submit(body)) sendReply(body);
});
ui.reply.addEventListener('input', () => (ui.reply.value.trim() ? typing.input() : typing.stop()));
ui.attach.addEventListener('click', () => ui.file.click());
ui.file.addEventListener('change', () => {
  const files = [...ui.file.files].slice(0, MAX_FILES);
  ui.file.value = '';
  const refused = files.filter((file) => precheck(file, state.limits));
  for (const file of refused) {
    ui.messages.append(h('li', { class: 'message from-system', text: `${file.name} can't be sent: `
      + `pictures (PNG, JPEG, GIF, WebP) and PDF files up to ${formatSize(state.limits.max_bytes, navigator.language)} only.` }));
  }
  const ok = files.filter((file) => !refused.includes(file));
  if (ok.length && state.current) sendFiles(ok);
});
fetch(new URL('api/widget/config', `${mount.href}/`))
  .then((response) => (response.ok ? response.json() : null))
  .then((config) => { state.limits = readLimits(config); })
  .catch(() => {});
ui.reply.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.replyForm.requestSubmit();
  }
});
ui.resolve.addEventListener('click', async () => {
  try {
    const chosen = desk.resolution();
    const resolved = await request(state.socket, 'resolve', { conversation_id: state.current, ...chosen });
    upsertConversation(resolved);
    desk.resolved(resolved, chosen);
  } catch (error) {
    ui.status.textContent = `Could not resolve: ${error.message}`;
  }
});

// Views that take the place of the list and the thread: routing for admins (admin.js),
// reports for supervisors and admins (reports.js), quality reviews for everyone (qa.js; an
// agent sees their own). One is open at a time; closing it goes back to the conversations.
const directory = () => request(state.socket, 'directory', {});
const views = {
  admin: createAdmin({ mount, csrf: state.auth.csrf, onClose: () => showView(null) }),
  reports: createReports({ mount, directory, onClose: () => showView(null) }),
  qa: createQa({ mount, csrf: state.auth.csrf, me: state.auth.agent, directory, onClose: () => showView(null) }),
};
function showView(name) {
  for (const [key, view] of Object.entries(views)) {
    ui.appView.classList.toggle(`${key}-open`, key === name);
    if (key !== name) view.close();
  }
  ui.appView.classList.toggle('view-open', Boolean(name));
  if (name) views[name].open();
}
byId('admin-open').addEventListener('click', () => showView('admin'));
byId('reports-open').addEventListener('click', () => showView('reports'));
byId('qa-open').addEventListener('click', () => showView('qa'));


// ---- outbound: start a conversation with a known contact ----

const outbound = {
  dialog: byId('outbound'),
  search: byId('outbound-search'),
  query: byId('outbound-query'),
  contacts: byId('outbound-contacts'),
  form: byId('outbound-form'),
  body: byId('outbound-body'),
  error: byId('outbound-error'),
  start: byId('outbound-start'),
  chosen: null, // the contact id the conversation is for
};

function contactLabel(contact) {
  return contact.name || contact.email || `Visitor ${contact.id.slice(0, 6)}`;
}

/** Closes the dialog and opens a conversation in the thread. */
function openFromDialog(id) {
  outbound.dialog.close();
  openConversation(id);
}

function renderContacts(contacts) {
  outbound.chosen = null;
  outbound.start.disabled = true;
  if (!contacts.length) {
    outbound.contacts.replaceChildren(h('li', { class: 'empty', text: 'No contact matches.' }));
    return;
  }
  outbound.contacts.replaceChildren(...contacts.map((contact) => {
    const who = h('span', { class: 'who', text: contactLabel(contact) },
      h('small', { text: [contact.email, contact.id].filter(Boolean).join(' · ') }));
    const li = h('li', { 'aria-selected': 'false', 'data-id': contact.id }, who);
    if (contact.open_conversation) {
      // One open conversation per contact: offer that one instead.
      li.append(h('button', { type: 'button', text: 'Open their conversation', onclick: () => openFromDialog(contact.open_conversation.id) }));
    } else {
      li.append(h('button', {
        type: 'button',
        text: 'Choose',
        onclick: () => {
          outbound.chosen = contact.id;
          for (const other of outbound.contacts.children) other.setAttribute('aria-selected', String(other === li));
          outbound.start.disabled = false;
          outbound.body.focus();
        },
      }));
    }
    return li;
  }));
}

byId('new-conversation').addEventListener('click', () => {
  outbound.contacts.replaceChildren();
  outbound.error.replaceChildren();
  outbound.chosen = null;
  outbound.start.disabled = true;
  outbound.dialog.showModal();
  outbound.query.focus();
});
byId('outbound-cancel').addEventListener('click', () => outbound.dialog.close());
outbound.search.addEventListener('submit', async (event) => {
  event.preventDefault();
  outbound.error.replaceChildren();
  try {
    const data = await request(state.socket, 'contacts', { query: outbound.query.value, limit: 20 });
    renderContacts(data.contacts);
  } catch (error) {
    outbound.error.textContent = `Could not search: ${error.message}`;
  }
});
outbound.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = outbound.body.value;
  if (!outbound.chosen || !body.trim()) return;
  outbound.error.replaceChildren();
  outbound.start.disabled = true;
  try {
    const data = await request(state.socket, 'start', { contact_id: outbound.chosen, client_id: nextClientId(), body });
    outbound.body.value = '';
    upsertConversation(data.conversation);
    openFromDialog(data.conversation.id);
  } catch (error) {
    outbound.start.disabled = false;
    outbound.error.textContent = `Could not start: ${error.message}`;
    if (error.conversationId) {
      outbound.error.append(' ', h('button', { type: 'button', text: 'Open it', onclick: () => openFromDialog(error.conversationId) }));
    }
  }
});
ui.presence.addEventListener('change', () => state.socket && setPresence(ui.presence.value));

connect();
