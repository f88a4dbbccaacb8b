// The agent's desk in the console: a Reply / Note (/ Whisper) toggle in the composer, notes
// shown apart (yellow) in the thread, tags on the conversation and in the list, a reason when
// resolving; canned responses (canned.js) and supervision (supervise.js). main.js calls the
// hooks below; everything is rendered as text.
import { h } from '../shared/dom.js';
import { createCanned } from './canned.js';
import { createSupervise } from './supervise.js';

const REASONS = { solved: 'Solved', no_response: 'No response', duplicate: 'Duplicate', spam: 'Spam', other: 'Other' };
const TAG = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function createDesk({ ui, state, request, addMessage, nextClientId, onConversation }) {
  const call = (event, payload) => request(event, payload);
  const listTags = new Map(); // conversation id -> tags
  let mode = 'reply';

  // The composer's modes.
  const modes = h('div', { class: 'modes', role: 'radiogroup', 'aria-label': 'Send as' });
  const modeButtons = {};
  for (const [name, label] of [['reply', 'Reply'], ['note', 'Note'], ['whisper', 'Whisper']]) {
    modeButtons[name] = h('button', { type: 'button', role: 'radio', 'data-mode': name, text: label, onclick: () => setMode(name) });
    modes.append(modeButtons[name]);
  }
  ui.replyForm.prepend(modes);
  function setMode(name) {
    mode = name;
    for (const [key, button] of Object.entries(modeButtons)) button.setAttribute('aria-checked', String(key === name));
    ui.replyForm.classList.toggle('noting', name !== 'reply');
    ui.attach.hidden = name !== 'reply';
    ui.reply.placeholder = name === 'reply' ? 'Type a reply… (Enter sends, / for canned responses)'
      : name === 'note' ? 'A private note: only agents see it' : 'Whisper to the agent: only agents see it';
  }

  // Tags on the open conversation.
  const tagList = h('ul', { class: 'tags', id: 'thread-tags', 'aria-label': 'Tags' });
  const tagInput = h('input', { id: 'tag-input', type: 'text', maxlength: '32', placeholder: 'add tag', 'aria-label': 'Add a tag' });
  const tagError = h('span', { class: 'error', role: 'alert' });
  const tagForm = h('form', { class: 'tag-form', id: 'tag-form' }, tagList, tagInput, tagError);
  ui.status.after(tagForm);
  tagForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const tag = tagInput.value.trim().toLowerCase();
    tagError.textContent = '';
    if (!TAG.test(tag)) {
      tagError.textContent = 'Letters, digits, - and _ (up to 32)';
      return;
    }
    await changeTags({ add: [tag] });
    tagInput.value = '';
  });
  async function changeTags(change) {
    try {
      const data = await call('tags', { conversation_id: state.current, ...change });
      showTags(data.conversation_id, data.tags);
    } catch (error) {
      tagError.textContent = error.message;
    }
  }
  function showTags(id, tags) {
    listTags.set(id, tags);
    if (id === state.current) {
      tagList.replaceChildren(...tags.map((tag) => h('li', {},
        h('span', { text: tag }),
        h('button', { type: 'button', class: 'untag', 'aria-label': `Remove tag ${tag}`, text: '×', onclick: () => changeTags({ remove: [tag] }) }))));
    }
  }

  // A reason when resolving.
  const reason = h('select', { id: 'resolve-reason', 'aria-label': 'Resolution reason', hidden: true },
    h('option', { value: '', text: 'Reason…' }),
    ...Object.entries(REASONS).map(([value, text]) => h('option', { value, text })));
  ui.resolve.before(reason);

  const canned = createCanned({ textarea: ui.reply, form: ui.replyForm, request: call, current: () => state.current });
  const supervise = createSupervise({
    header: ui.title.parentElement, request: call, agent: () => state.auth && state.auth.agent,
    onChange: onConversation,
  });

  return {
    view: supervise.view,
    /** The thread's header shows `conversation`; `mine`: assigned to this agent. */
    header(conversation, { mine }) {
      const open = conversation.status !== 'resolved';
      const reply = mine || supervise.barged(conversation.id);
      const whisper = supervise.supervising() && !mine && open;
      modeButtons.reply.hidden = !reply;
      modeButtons.whisper.hidden = !whisper;
      ui.replyForm.hidden = !open;
      if ((mode === 'reply' && !reply) || (mode === 'whisper' && !whisper)) setMode(reply ? 'reply' : 'note');
      reason.hidden = ui.resolve.hidden;
      supervise.header(conversation, mine);
      showTags(conversation.id, listTags.get(conversation.id) || []);
    },
    opened() { canned.reset(); tagError.textContent = ''; reason.value = ''; },
    loaded(data) { if (state.current && Array.isArray(data.tags)) showTags(state.current, data.tags); },
    setListTags(tags) { for (const [id, list] of Object.entries(tags || {})) listTags.set(id, list); },
    listTags(id) {
      const tags = listTags.get(id) || [];
      return tags.length ? h('span', { class: 'list-tags' }, ...tags.map((tag) => h('span', { class: 'tag', text: tag }))) : null;
    },
    /** Marks notes and whispers in the thread. */
    decorate(el, message) {
      if (!message || !message.internal || !message.meta || message.meta.kind !== 'note') return;
      el.classList.add('note');
      const label = message.meta.whisper ? `Whisper from ${message.author_name || 'a supervisor'}` : 'Private note';
      el.querySelector('.meta').prepend(h('span', { class: 'note-label', text: label }));
    },
    /** Sends the composer's text as a note or whisper; false: it is a reply (main.js sends it). */
    submit(body) {
      if (mode === 'reply') return false;
      call(mode, { conversation_id: state.current, client_id: nextClientId(), body })
        .then(addMessage, (error) => { tagError.textContent = `Not sent: ${error.message}`; });
      return true;
    },
    resolution() { return reason.value ? { reason: reason.value } : {}; },
    resolved(conversation, chosen) {
      if (conversation.id === state.current && chosen.reason) ui.status.textContent += ` · ${REASONS[chosen.reason]}`;
    },
    listen(socket) { socket.on('tags', (event) => { showTags(event.conversation_id, event.tags); onConversation(null); }); },
  };
}
