// The inbox: the conversation list in views (my chats, my teams' queue, every open chat I may
// see), each with its unread count and how long the visitor has waited; and the
// sound and desktop notification when a chat is assigned to this agent.
import { h } from '../shared/dom.js';

export const STATUS_LABEL = { bot: 'with bot', queued: 'waiting', assigned: 'assigned', resolved: 'resolved' };
const VIEW_KEY = 'chatkit.console.view';

/** The inbox's views. "All open" is every open chat the server lists for this agent: their
 * teams' (with the bot too) and their own; for supervisors and admins, every one. */
export const VIEWS = [
  { id: 'mine', label: 'Mine', shows: (c, me) => c.status === 'assigned' && c.agent_id === me },
  { id: 'queue', label: 'Queue', shows: (c) => c.status === 'queued' },
  { id: 'all', label: 'All open', shows: () => true },
];

/** "just now", "4 min", "2 h 5 min", "3 d": how long since `since` (ms), for a waiting time. */
export function waited(since, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - since) / 60000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

/** Since when the visitor has waited: for an answer (their oldest unread message), or in the
 * queue; null when nobody is waiting on this agent. */
function waitingSince(conversation, unread) {
  if (unread && unread.count > 0) return unread.since;
  if (conversation.status === 'queued') return conversation.queued_at;
  return null;
}

/** Queue order (priority, then first come), else the longest-waiting first. */
function compare(unread) {
  return (a, b) => {
    if (a.status === 'queued' && b.status === 'queued' && a.priority !== b.priority) return b.priority - a.priority;
    const wa = waitingSince(a, unread.get(a.id)) ?? Infinity;
    const wb = waitingSince(b, unread.get(b.id)) ?? Infinity;
    return wa - wb || a.created_at - b.created_at;
  };
}

/**
 * The list and its tabs. `state` is the console's: conversations (id -> conversation), unread
 * (id -> {count, since}), current (the open conversation's id). `label(conversation)` names
 * the visitor; `extra(conversation)` adds to its line in the list (its tags); `onOpen(id)`
 * opens one.
 */
export function createInbox({ tabs, list, empty, me, state, label, extra, onOpen }) {
  const views = VIEWS;
  let view = views.find((v) => v.id === localStorage.getItem(VIEW_KEY)) || views[0];

  function render() {
    const all = [...state.conversations.values()];
    tabs.replaceChildren(...views.map((v) => {
      const shown = all.filter((c) => v.shows(c, me()));
      const unread = shown.reduce((sum, c) => sum + ((state.unread.get(c.id) || {}).count || 0), 0);
      return h('button', {
        type: 'button', role: 'tab', 'aria-selected': String(v === view), 'data-view': v.id,
        onclick: () => { view = v; localStorage.setItem(VIEW_KEY, v.id); render(); },
      }, v.label, h('span', { class: 'count', text: String(shown.length) }),
      unread ? h('span', { class: 'badge', title: `${unread} unread`, text: String(unread) }) : null);
    }));
    const shown = all.filter((c) => view.shows(c, me())).sort(compare(state.unread));
    const now = Date.now();
    list.replaceChildren(...shown.map((conversation) => {
      const unread = state.unread.get(conversation.id);
      const since = waitingSince(conversation, unread);
      const button = h(
        'button',
        { type: 'button', 'aria-current': String(conversation.id === state.current), 'data-id': conversation.id },
        h('span', { class: 'line' }, h('span', { class: 'who', text: label(conversation) }),
          unread && unread.count ? h('span', { class: 'badge', title: `${unread.count} unread`, text: String(unread.count) }) : null),
        h(
          'span',
          { class: 'meta' },
          h('span', { class: `status status-${conversation.status}`, text: STATUS_LABEL[conversation.status] || conversation.status }),
          // Left with the offline form: the visitor waits for a reply by email.
          conversation.handoff_reason === 'offline' ? ' · left a message' : '',
          conversation.agent_name && view.id !== 'mine' ? ` · ${conversation.agent_name}` : '',
          since ? h('span', { class: 'waited', 'data-since': String(since), text: ` · waiting ${waited(since, now)}` }) : '',
        ),
        extra(conversation),
      );
      button.addEventListener('click', () => onOpen(conversation.id));
      return h('li', { class: unread && unread.count ? 'unread' : null }, button);
    }));
    empty.hidden = shown.length > 0;
    empty.textContent = { mine: 'No chats assigned to you.', queue: 'Nobody is waiting.' }[view.id] || 'No open conversations.';
  }

  // Waiting times move on by themselves.
  setInterval(() => {
    const now = Date.now();
    for (const el of list.querySelectorAll('.waited')) el.textContent = ` · waiting ${waited(Number(el.dataset.since), now)}`;
  }, 30000);

  return {
    render,
    /** Shows the view a conversation is in (a new assignment: Mine). */
    show(id) {
      const conversation = state.conversations.get(id);
      const found = conversation && views.find((v) => v.shows(conversation, me()));
      if (found && !view.shows(conversation, me())) view = found;
      render();
    },
  };
}

/** A visitor's message arrived while its conversation was not open: one more unread. */
export function countUnread(unread, message) {
  const found = unread.get(message.conversation_id);
  unread.set(message.conversation_id, found && found.count
    ? { count: found.count + 1, since: found.since }
    : { count: 1, since: message.created_at });
}

/**
 * A new chat for this agent: a short chime (Web Audio, no file to fetch) and, when the agent
 * allowed it, a desktop notification that brings the console forward with the chat open.
 */
export function createAlerts(button) {
  let audio = null;
  // Browsers start audio only after a gesture on the page: prepare it on the first one.
  const prepare = () => {
    if (!audio && window.AudioContext) audio = new AudioContext();
    if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
  };
  document.addEventListener('pointerdown', prepare, { once: true });
  document.addEventListener('keydown', prepare, { once: true });

  const supported = typeof Notification === 'function';
  const refresh = () => { button.hidden = !supported || Notification.permission !== 'default'; };
  button.addEventListener('click', async () => {
    prepare();
    await Notification.requestPermission();
    refresh();
  });
  refresh();

  function chime() {
    if (!audio || audio.state !== 'running') return;
    const now = audio.currentTime;
    for (const [i, frequency] of [[0, 880], [1, 1318.5]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + i * 0.15);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.15 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.15);
      osc.stop(now + i * 0.15 + 0.32);
    }
  }

  return {
    /** Tells the agent of chat `id`; `onClick` opens it. True when a desktop notification
     * was shown. */
    assigned(id, title, body, onClick) {
      chime();
      if (!supported || Notification.permission !== 'granted') return false;
      // One notification per chat (`tag`): a re-offer replaces it.
      const note = new Notification(title, { body, tag: `chatkit-${id}`, silent: true });
      note.onclick = () => { window.focus(); onClick(); note.close(); };
      return true;
    },
  };
}
