// The chat panel's DOM. Every name and body is set with textContent (see shared/dom.js).
import { MAX_FILES, attachmentsOf, formatSize, renderAttachments } from '../shared/attachments.js';
import { autoGrow, byId, h, nearBottom, timeElement } from '../shared/dom.js';
import { renderMarkdown, safeHref } from '../shared/markdown.js';
import { typingDisplay } from '../shared/typing.js';

const NAME_KEYS = { visitor: 'you', bot: 'assistant', agent: 'agent' };
// The queue line is read out when first shown, when the visitor is next, and otherwise at
// most this often: a busy queue moves every few seconds, a screen reader should not.
const ANNOUNCE_WAIT_MS = 60000;

/** An article card's link: absolute, or relative to chatkit (the frame's own origin). */
function articleHref(url) {
  try {
    return safeHref(new URL(url, location.href).href);
  } catch {
    return null;
  }
}

const isText = (value) => typeof value === 'string' && value.trim() !== '';
// The server checks it again (realtime/schemas.py): one @, a dot in the domain, no spaces.
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]*[^@\s.]$/;

/** Fills the page's static strings (data-i18n attributes) from the catalogue. */
function translatePage(t) {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
}

export class ChatView {
  constructor({ t, locale, onSend, onRetry, onHandoff, onLeave, onClose, onTyping, onChoice, onFiles, onRefresh, onLeaveMessage, onRate }) {
    this.t = t;
    this.locale = locale;
    document.documentElement.lang = locale;
    translatePage(t);
    this.status = byId('ck-status');
    this.offline = byId('ck-offline');
    this.scroll = byId('ck-scroll');
    this.list = byId('ck-messages');
    this.live = byId('ck-live');
    this.welcome = byId('ck-welcome');
    this.handoff = byId('ck-handoff');
    this.leave = byId('ck-leave');
    /** Where our queued conversation stands (the server's queue_position), and the last
     * announcement of it: {conversationId, text, at}. */
    this.wait = null;
    this.waitAnnounced = null;
    this.conversation = null;
    this.form = byId('ck-composer');
    this.input = byId('ck-input');
    this.typing = byId('ck-typing');
    this.showTyping = typingDisplay((name) => {
      this.typing.hidden = !name;
      this.typing.textContent = name ? t('typing', { name }) : '';
    });
    /** client_id → <li> of our own messages; "conversation:seq" → <li> of the others. */
    this.items = new Map();
    this.onRetry = onRetry;
    this.onChoice = onChoice;
    /** onRefresh(conversationId, seq) → the stored message again, with fresh file links. */
    this.onRefresh = onRefresh;
    /** The greeting shown before a conversation exists (replaced by the stored one). */
    this.greeting = null;
    /** The conversation's status: quick replies only work while the bot has it. */
    this.conversationStatus = null;
    /** Whether a person can chat now (the widget config); false shows "we're away". */
    this.available = true;
    /** The seq of the bot's latest offline prompt (meta kind "offline"), if any. */
    this.awaySeq = 0;
    this.away = byId('ck-away');
    this.awayEmail = byId('ck-away-email');
    this.awayMessage = byId('ck-away-message');
    this.awayError = byId('ck-away-error');
    this.away.addEventListener('submit', async (event) => {
      event.preventDefault();
      const email = this.awayEmail.value.trim();
      const body = this.awayMessage.value;
      const problem = !EMAIL.test(email) ? 'away_bad_email' : !body.trim() ? 'away_no_message' : null;
      if (problem) {
        this.#awayProblem(this.t(problem), problem === 'away_bad_email' ? this.awayEmail : this.awayMessage);
        return;
      }
      this.#awayProblem(null);
      const send = this.away.querySelector('button');
      send.disabled = true;
      try {
        await onLeaveMessage({ email, body });
        this.awayMessage.value = '';
        this.notice(this.t('away_thanks', { email }));
      } catch (error) {
        const bad = error && error.code === 'invalid_payload' && /email/.test(error.message || '');
        this.#awayProblem(this.t(bad ? 'away_bad_email' : 'away_failed'), bad ? this.awayEmail : null);
      } finally {
        send.disabled = false;
      }
    });

    this.#setUpCsat(onRate);

    const resize = autoGrow(this.input);
    const submit = () => {
      const body = this.input.value;
      if (!body.trim()) return;
      this.input.value = '';
      resize();
      onSend(body);
    };
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
    this.input.addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter is a newline; never interrupt an IME composition.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    this.input.addEventListener('input', () => onTyping(this.input.value.trim() !== ''));
    // The paperclip opens the file picker; the chosen files go as one message.
    const picker = byId('ck-file');
    byId('ck-attach').addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => {
      const files = [...picker.files];
      picker.value = '';
      if (files.length) onFiles(files);
    });
    this.handoff.addEventListener('click', () => onHandoff());
    this.leave.addEventListener('click', () => {
      this.leave.disabled = true;
      Promise.resolve(onLeave()).finally(() => { this.leave.disabled = false; });
    });
    byId('ck-close').addEventListener('click', () => onClose({ escape: false }));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') onClose({ escape: true });
    });
  }

  /** The satisfaction survey: five star buttons (each says its number and meaning, and
   * whether it is chosen), then an optional comment and Send. */
  #setUpCsat(onRate) {
    this.csat = byId('ck-csat');
    this.csatThanks = byId('ck-csat-thanks');
    this.csatMore = byId('ck-csat-more');
    this.csatComment = byId('ck-csat-comment');
    this.csatError = byId('ck-csat-error');
    /** {conversation_id, agent_name} of the conversation asked about; the rating chosen. */
    this.csatFor = null;
    this.csatRating = 0;
    this.stars = [1, 2, 3, 4, 5].map((n) => {
      const star = h('button', {
        type: 'button', class: 'ck-star', 'aria-pressed': 'false',
        'aria-label': this.t('csat_star', { n, label: this.t(`csat_${n}`) }),
      }, h('span', { 'aria-hidden': 'true', text: '★' }));
      star.addEventListener('click', () => this.#pickStar(n));
      return star;
    });
    byId('ck-csat-stars').replaceChildren(...this.stars);
    this.csat.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!this.csatFor || !this.csatRating) return;
      const send = this.csatMore.querySelector('button');
      send.disabled = true;
      this.csatError.hidden = true;
      try {
        await onRate({ conversationId: this.csatFor.conversation_id, rating: this.csatRating, comment: this.csatComment.value.trim() });
        this.csatDone();
        this.input.focus(); // the form is gone: back to the composer
      } catch {
        this.csatError.textContent = this.t('csat_failed');
        this.csatError.hidden = false;
      } finally {
        send.disabled = false;
      }
    });
  }

  #pickStar(n) {
    this.csatRating = n;
    this.stars.forEach((star, i) => {
      star.setAttribute('aria-pressed', String(i + 1 === n));
      star.toggleAttribute('data-on', i < n);
    });
    this.csatMore.hidden = false;
  }

  /** Asks the visitor to rate the conversation an agent resolved. */
  askCsat(pending) {
    if (this.csatFor && this.csatFor.conversation_id === pending.conversation_id && !this.csat.hidden) return;
    this.csatFor = pending;
    this.csatRating = 0;
    this.stars.forEach((star) => {
      star.setAttribute('aria-pressed', 'false');
      star.removeAttribute('data-on');
    });
    this.csatComment.value = '';
    this.csatError.hidden = true;
    this.csatMore.hidden = true;
    byId('ck-csat-question').textContent = pending.agent_name
      ? this.t('csat_question', { name: pending.agent_name })
      : this.t('csat_question_anonymous');
    this.csatThanks.hidden = true;
    this.csat.hidden = false;
    const stick = nearBottom(this.scroll);
    if (stick) this.scroll.scrollTop = this.scroll.scrollHeight;
  }

  /** Rated (here or in another tab): thanks, and no more asking. */
  csatDone() {
    if (this.csat.hidden && !this.csatFor) return;
    this.csat.hidden = true;
    this.csatFor = null;
    this.csatThanks.textContent = this.t('csat_thanks');
    this.csatThanks.hidden = false;
  }

  /** A new conversation began: the survey and its thanks belong to the last one. */
  hideCsat() {
    this.csat.hidden = true;
    this.csatThanks.hidden = true;
    this.csatFor = null;
  }

  senderName(message) {
    if (message.sender === 'visitor') return this.t('you');
    return message.author_name || (NAME_KEYS[message.sender] ? this.t(NAME_KEYS[message.sender]) : '');
  }

  /** Empties the conversation shown (after a reset). */
  clear() {
    this.readMark = null;
    this.greeting = null;
    this.awaySeq = 0;
    this.welcome.hidden = false;
    this.list.replaceChildren();
    this.items.clear();
    this.showTyping(false);
    this.hideCsat(); // the survey was the previous visitor's
    this.setConversation(null);
  }

  focusComposer() {
    this.input.focus();
  }

  setOnline(online) {
    this.offline.hidden = online;
  }

  setConversation(conversation) {
    const status = conversation ? conversation.status : null;
    this.conversation = conversation;
    this.conversationStatus = status;
    this.agentName = conversation ? conversation.agent_name : null;
    this.#refreshChoices();
    this.#refreshAway();
    this.leave.hidden = status !== 'queued';
    if (status && status !== 'resolved') this.hideCsat();
    const line = this.#waitLine();
    if (line) {
      this.status.textContent = line;
      this.#announceWait(line);
    } else if (status === 'assigned') {
      this.status.textContent = conversation.agent_name
        ? this.t('status_assigned', { name: conversation.agent_name })
        : this.t('status_assigned_anonymous');
    } else if ((status === null || status === 'bot') && (!this.available || this.awaySeq)) {
      this.status.textContent = this.t('status_away');
    } else {
      this.status.textContent = this.t(status ? `status_${status}` : 'status_default');
    }
  }

  /** Where our queued conversation stands now (null: unknown). */
  setWait(wait) {
    this.wait = wait;
    if (this.conversation) this.setConversation(this.conversation);
  }

  /** "You're number 3 in line · about 4 min", while this conversation waits. */
  #waitLine() {
    const wait = this.wait;
    const conversation = this.conversation;
    if (!wait || !conversation || conversation.status !== 'queued' || wait.conversation_id !== conversation.id) return null;
    // A message left for the next shift is answered later (by email): no place in line.
    if (conversation.handoff_reason === 'offline') return null;
    const n = wait.position;
    if (typeof wait.estimated_wait !== 'number') return this.t('queue_unknown', { n });
    return this.t('queue_position', { n, m: Math.max(1, Math.ceil(wait.estimated_wait / 60)) });
  }

  /** Reads the queue line out politely: see ANNOUNCE_WAIT_MS. */
  #announceWait(line) {
    const last = this.waitAnnounced;
    const now = Date.now();
    const id = this.wait.conversation_id;
    const fresh = !last || last.conversationId !== id;
    const next = this.wait.position === 1 && last && last.position !== 1;
    if (!fresh && !next && (last.text === line || now - last.at < ANNOUNCE_WAIT_MS)) return;
    this.waitAnnounced = { conversationId: id, text: line, at: now, position: this.wait.position };
    this.live.textContent = line;
  }

  /** Whether a person can chat now, from the widget config (for the default team). */
  setAvailability(availability) {
    this.available = !availability || availability.available !== false;
    this.setConversation(this.conversation);
  }

  /**
   * The offline form shows while the bot has the conversation and its latest offline prompt
   * is unanswered; the "Talk to a person" button gives way to it.
   */
  #refreshAway() {
    const botHasIt = this.conversationStatus === null || this.conversationStatus === 'bot';
    const show = botHasIt && this.awaySeq > 0;
    this.away.hidden = !show;
    this.handoff.hidden = this.conversationStatus !== 'bot' || show;
  }

  #awayProblem(text, field = null) {
    this.awayError.hidden = !text;
    this.awayError.textContent = text || '';
    for (const input of [this.awayEmail, this.awayMessage]) input.toggleAttribute('aria-invalid', input === field);
    if (field) field.focus();
  }

  /** A stored message from the server (ours from another tab, the bot's, an agent's). */
  addMessage(message, { announce }) {
    const key = `${message.conversation_id}:${message.seq}`;
    if (this.items.has(key)) return;
    const files = attachmentsOf(message);
    const item = this.#render(message.sender, this.senderName(message), message.body, message.created_at, files, message);
    item.dataset.conv = message.conversation_id;
    item.dataset.seq = String(message.seq);
    if (message.sender !== 'visitor') this.#decorate(item, message.meta, message.seq);
    this.items.set(key, item);
    if (this.greeting) {
      // The conversation has begun: its stored greeting takes the shown one's place.
      this.greeting.remove();
      this.greeting = null;
    }
    this.#insert(item, false);
    this.#markChosen(message);
    this.#refreshChoices();
    if (announce && message.sender !== 'visitor') {
      const said = [message.body, ...files.map((file) => file.name)].filter(Boolean).join(', ');
      this.live.textContent = `${this.senderName(message) || this.t('message')}: ${said}`;
    }
  }

  /** One of ours, waiting for its ack. */
  addPending(pending) {
    let item = this.items.get(pending.client_id);
    if (!item) {
      item = this.#render('visitor', this.t('you'), pending.body, pending.created_at, pending.attachments || []);
      this.items.set(pending.client_id, item);
      this.#insert(item, true);
    }
    this.#setState(item, 'sending', this.t(pending.files ? 'uploading' : 'sending', { percent: 0 }));
    this.#refreshChoices();
  }

  /** How much of a message's files is uploaded (0..1). */
  progress(pending, fraction) {
    const item = this.items.get(pending.client_id);
    if (item) this.#setState(item, 'sending', this.t('uploading', { percent: Math.floor(fraction * 100) }));
  }

  /** Files the visitor picked that cannot be sent: why, in words. */
  refuseFiles(problems, limits) {
    const max = formatSize(limits.max_bytes, this.locale);
    for (const { file, problem } of problems) this.notice(this.t(`file_${problem}`, { name: file.name, max }));
  }

  tooManyFiles() {
    this.notice(this.t('too_many_files', { n: MAX_FILES }));
  }

  /**
   * The bot's greeting and menu before any conversation exists (from the server's widget
   * config). Picking from it answers message 1, the same greeting stored when the
   * conversation starts.
   */
  showGreeting(greeting, { replace = false } = {}) {
    if (replace && this.greeting) {
      // A proactive trigger's message takes the greeting's place: it starts the conversation.
      this.greeting.remove();
      this.greeting = null;
    }
    if (this.greeting || this.list.children.length) return;
    const item = this.#render('bot', greeting.author_name || this.t('assistant'), greeting.body, Date.now());
    item.dataset.greeting = '';
    this.#decorate(item, greeting.meta, 1);
    this.greeting = item;
    this.list.prepend(item);
    this.#refreshChoices();
  }

  markSent(pending, message) {
    const item = this.items.get(pending.client_id);
    if (!item) return;
    item.dataset.conv = message.conversation_id;
    item.dataset.seq = String(message.seq);
    this.items.set(`${message.conversation_id}:${message.seq}`, item);
    const files = item.querySelector('.ck-files');
    // The stored copy's files come with links: pictures show, chips open.
    if (files) files.replaceWith(this.#files(attachmentsOf(message), message) || '');
    this.#setState(item, 'sent', this.t('sent'));
    this.#markChosen(message);
    if (this.readMark && this.readMark.conversationId === message.conversation_id
        && message.seq <= this.readMark.seq) this.#setState(item, 'read', this.t('read'));
    // A reply may have been shown before our ack came: move ours to its place by seq.
    this.#insert(item, false);
    this.#refreshChoices();
  }

  /** The agent has read the conversation up to `seq`: our messages up to it show "Read". */
  markRead(conversationId, seq) {
    this.readMark = { conversationId, seq };
    for (const item of this.list.querySelectorAll('li.ck-msg--visitor[data-state="sent"]')) {
      if (item.dataset.conv === conversationId && Number(item.dataset.seq) <= seq) {
        this.#setState(item, 'read', this.t('read'));
      }
    }
  }

  markFailed(pending, error) {
    const item = this.items.get(pending.client_id);
    if (!item) return;
    // A file the server refused (the visitor's browser misjudged it): trying again is no use.
    const refused = { file_too_large: 'file_too_big', unsupported_type: 'file_type' }[error && error.code];
    if (refused) {
      this.#setState(item, 'failed', this.t(refused, { name: pending.attachments.map((f) => f.name).join(', ') }));
      return;
    }
    const retry = h('button', { type: 'button', class: 'ck-retry', text: this.t('retry') });
    retry.addEventListener('click', () => this.onRetry(pending), { once: true });
    this.#setState(item, 'failed', this.t('not_sent'), retry);
    this.#refreshChoices();
  }

  notice(text) {
    this.#insert(h('li', { class: 'ck-msg ck-msg--system' }, h('div', { class: 'ck-body', text })), true);
  }

  #render(sender, name, body, createdAt, files = [], message = null) {
    const markdown = sender === 'bot' || sender === 'agent';
    return h(
      'li',
      { class: `ck-msg ck-msg--${sender}` },
      h('div', { class: 'ck-meta' }, name ? h('span', { class: 'ck-author', text: name }) : null, timeElement(createdAt)),
      // Bot and agent messages may use Markdown; a visitor's text is always plain text.
      // Files alone come with no text.
      body || !files.length
        ? h('div', { class: markdown ? 'ck-body ck-md' : 'ck-body', dir: 'auto', text: markdown ? null : body }, markdown ? renderMarkdown(body) : null)
        : null,
      this.#files(files, message),
    );
  }

  #files(files, message) {
    const refresh = message && (async () => attachmentsOf(await this.onRefresh(message.conversation_id, message.seq)));
    return renderAttachments(files, { c: 'ck-', locale: this.locale, openLabel: this.t('open_file'), refresh });
  }

  /** Article cards and quick replies under a bot message (meta: docs/protocol.md). */
  #decorate(item, meta, seq) {
    if (!meta || typeof meta !== 'object') return;
    if (meta.kind === 'menu') this.welcome.hidden = true;
    if (meta.kind === 'offline' && seq > this.awaySeq) {
      this.awaySeq = seq;
      this.setConversation(this.conversationStatus === null ? null : { status: this.conversationStatus, agent_name: this.agentName });
      if (!this.away.hidden) {
        this.awayEmail.focus();
        // The form takes room from the transcript: keep the prompt (inserted next) in view.
        queueMicrotask(() => { this.scroll.scrollTop = this.scroll.scrollHeight; });
      }
    }
    const cards = (Array.isArray(meta.articles) ? meta.articles : []).map((article) => {
      const href = article && isText(article.title) && typeof article.url === 'string' ? articleHref(article.url) : null;
      return href && h(
        'a',
        { class: 'ck-card', href, target: '_blank', rel: 'noopener noreferrer' },
        h('span', { class: 'ck-card-title', dir: 'auto', text: article.title }),
        h('span', { class: 'ck-card-hint', text: this.t('read_article') }),
      );
    }).filter(Boolean);
    if (cards.length) item.append(h('div', { class: 'ck-cards', role: 'group', 'aria-label': this.t('articles') }, ...cards));
    const replies = (Array.isArray(meta.quick_replies) ? meta.quick_replies : [])
      .filter((reply) => reply && isText(reply.id) && isText(reply.label));
    if (!replies.length) return;
    const group = h('div', { class: 'ck-choices', role: 'group', 'aria-label': this.t('choices') });
    for (const reply of replies) {
      const button = h('button', { type: 'button', class: 'ck-choice', 'data-id': reply.id, text: reply.label });
      button.addEventListener('click', () => {
        if (button.disabled) return;
        button.classList.add('ck-choice--chosen');
        group.dataset.chosen = reply.id;
        this.#refreshChoices();
        this.focusComposer();
        this.onChoice({ seq, choice: reply.id, label: reply.label });
      });
      group.append(button);
    }
    item.append(group);
  }

  /** Shows which quick reply a stored answer of the visitor's picked. */
  #markChosen(message) {
    const replyTo = message.meta && message.meta.reply_to;
    if (message.sender !== 'visitor' || !replyTo) return;
    const offered = this.items.get(`${message.conversation_id}:${replyTo.seq}`);
    const group = offered && offered.querySelector('.ck-choices');
    if (!group) return;
    group.dataset.chosen = replyTo.choice;
    for (const button of group.children) button.classList.toggle('ck-choice--chosen', button.dataset.id === replyTo.choice);
  }

  /**
   * Quick replies work only on the newest message, while the bot has the conversation,
   * nothing of ours is on its way, and none was picked: anything else disables them.
   */
  #refreshChoices() {
    const groups = this.list.querySelectorAll('.ck-choices');
    if (!groups.length) return;
    const shown = [...this.list.children].filter((li) => li.dataset.seq || li === this.greeting);
    const newest = shown.at(-1);
    const waiting = this.list.querySelector('li[data-state="sending"]');
    const botHasIt = this.conversationStatus === null || this.conversationStatus === 'bot';
    for (const group of groups) {
      const active = botHasIt && !waiting && !group.dataset.chosen && group.parentElement === newest;
      for (const button of group.children) button.disabled = !active;
    }
  }

  #setState(item, state, text, ...extra) {
    item.dataset.state = state;
    let line = item.querySelector('.ck-state');
    if (!line) line = item.appendChild(h('div', { class: 'ck-state' }));
    line.replaceChildren(text, ...extra);
  }

  /** Appends, keeping stored messages in seq order ahead of those still sending. */
  #insert(item, scroll) {
    const stick = scroll || nearBottom(this.scroll);
    const seq = item.dataset.seq ? Number(item.dataset.seq) : null;
    let before = null;
    if (seq !== null) {
      for (const other of this.list.children) {
        if (other === item) continue;
        const later = other.dataset.conv === item.dataset.conv && Number(other.dataset.seq) > seq;
        if (other.dataset.state === 'sending' || later) {
          before = other;
          break;
        }
      }
    }
    this.list.insertBefore(item, before);
    if (stick) this.scroll.scrollTop = this.scroll.scrollHeight;
  }
}
