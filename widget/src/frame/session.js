// The visitor's side of the protocol (docs/protocol.md, namespace /visitor): connecting,
// resuming, the outbox with its at-least-once resends, and dedupe by seq. It knows nothing
// about the DOM; the view listens to its events:
//
//   status(state)            'idle' | 'connecting' | 'online' | 'offline'
//   conversation(conv)       the open conversation changed (or null)
//   message(msg, {live})     a stored message not seen before (live: arrived just now)
//   pending(item)            a message of ours waits for its ack ('sending')
//   progress(item, fraction) a message of ours with files: how much is uploaded (0..1)
//   sent(item, msg)          the server stored a message of ours
//   failed(item, error)      the server refused a message of ours for good (or its upload)
//   wait(wait)               where our queued conversation stands ({conversation_id, position,
//                            estimated_wait}), or null
//   verified(verified)       whether the host site verified who the visitor is (identify)
//   switched()               identify made this tab another contact's: forget what it showed
import { ProtocolError, isRetryable, request } from '../shared/ack.js';
import { Emitter } from '../shared/emitter.js';
import { isReplyTo } from './storage.js';

const RESUME_PAGE = 100;
const RETRY_MS = 3000;
// A locale the server accepts (docs/protocol.md, resume).
const LOCALE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/;

/** The locale to send, or undefined when the browser's is not a BCP 47 tag. */
// The host page's URL as the server accepts it (docs/protocol.md, resume): http(s), bounded.
const PAGE = /^https?:\/\/[^\s\x00-\x1f\x7f]+$/;

export function protocolLocale(locale) {
  return typeof locale === 'string' && locale.length <= 35 && LOCALE.test(locale) ? locale : undefined;
}

const acceptedPage = (page) => (typeof page === 'string' && page.length <= 2000 && PAGE.test(page) ? page : undefined);

export class VisitorSession extends Emitter {
  constructor({ socketFactory, storage, nextClientId, locale, page, upload }) {
    super();
    /** The host page (agents see it in the CRM panel), when the server would accept it. */
    this.page = acceptedPage(page);
    /** upload(file, token, onProgress) → the server's {id, name, content_type, size, url}. */
    this.upload = upload;
    this.locale = protocolLocale(locale);
    this.storage = storage;
    this.nextClientId = nextClientId;
    this.socketFactory = socketFactory;
    this.socket = null;
    this.status = 'idle';
    this.conversation = null;
    /** "conversation_id:seq" of every message shown. */
    this.seen = new Set();
    /** Highest seq of the current conversation up to which we have every message. Agents'
     * notes take seqs we never receive: a resume that returns everything moves it past them. */
    this.lastSeq = 0;
    /** Highest seq of the current conversation received (read marks go up to it). */
    this.maxSeq = 0;
    this.outbox = storage.outbox;
    this.flushing = false;
    this.retryTimer = 0;
    /** The proactive trigger whose message the visitor sees: their first message answers it. */
    this.trigger = null;
    /** The host site's user ({id, name, email, hash}) and custom attributes, or null: sent
     * on every (re)connect, before resuming, and when they change. */
    this.identity = null;
    this.attributes = null;
  }

  /** The host page called ChatKit('identify') or ChatKit('setAttributes'). */
  setIdentity(identity, attributes) {
    const changed = JSON.stringify([identity, attributes]) !== JSON.stringify([this.identity, this.attributes]);
    this.identity = identity;
    this.attributes = attributes;
    // A verified identity may name another contact (its history on another device): resume
    // as that contact. Offline, the next connect sends it anyway.
    if (changed && this.status === 'online') this.#identify().then((moved) => moved && this.#resume());
  }

  /** The host page moved to another URL without loading (a single-page app): the server
   * hears of it now when connected, else with the next resume. */
  setPage(page) {
    const accepted = acceptedPage(page);
    if (!accepted || accepted === this.page) return;
    this.page = accepted;
    if (this.status === 'online') request(this.socket, 'page', { page: accepted }).catch(() => {});
  }

  /** Connects now only if the visitor may have a conversation going; else waits for open(). */
  start() {
    for (const item of this.outbox) this.emit('pending', item);
    if (this.outbox.length || (this.storage.token && this.storage.conversationId)) this.connect();
  }

  connect() {
    if (!this.socket) this.#createSocket();
    if (!this.socket.connected && !this.socket.active) {
      this.#setStatus('connecting');
      this.socket.connect();
    }
  }

  /** Forgets the visitor: token, conversation and unsent messages. The next connection
   * starts a new visitor, who sees nothing of this one's conversation. */
  reset() {
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
    }
    clearTimeout(this.retryTimer);
    this.storage.token = null;
    this.storage.conversationId = null;
    this.outbox = [];
    this.#saveOutbox();
    this.seen = new Set();
    this.lastSeq = this.maxSeq = 0;
    this.readSeq = 0;
    this.conversation = null;
    this.trigger = null;
    this.identity = null;
    this.attributes = null;
    this.emit('verified', false);
    this.#setStatus('idle');
    this.emit('conversation', null);
  }

  /** Queues a message; it is sent now or after the next (re)connect. With `replyTo`
   * ({seq, choice}) it is a quick reply, and `body` the label shown until the server's copy. */
  send(body, replyTo) {
    const item = { client_id: this.nextClientId(), body, created_at: Date.now() };
    if (isReplyTo(replyTo)) item.reply_to = { seq: replyTo.seq, choice: replyTo.choice };
    else if (this.trigger && !this.conversation) {
      // It answers the trigger's message, which the server stores first (once).
      item.trigger = this.trigger;
      this.trigger = null;
    }
    this.outbox.push(item);
    this.#saveOutbox();
    this.emit('pending', item);
    this.connect();
    this.#flush();
    return item;
  }

  /**
   * Sends files as one message: each is uploaded first (it waits, pending, on the server),
   * then the message carrying them goes through the outbox like any other, so a reload or a
   * lost connection resends it. An upload cut short is retried with retry(item).
   */
  sendFiles(files) {
    const item = {
      client_id: this.nextClientId(), body: '', created_at: Date.now(), files,
      attachments: files.map((file) => ({ name: file.name, content_type: file.type, size: file.size })),
    };
    this.emit('pending', item);
    this.#upload(item);
    return item;
  }

  async #upload(item) {
    const visitor = this.storage.token;
    try {
      const token = this.storage.token || (await this.#visitorToken());
      const done = [];
      for (const file of item.files) {
        const progress = (fraction) => this.emit('progress', item, (done.length + fraction) / item.files.length);
        done.push(await this.upload(file, token, progress));
      }
      delete item.files;
      item.attachment_ids = done.map((file) => file.id);
      item.attachments = done.map(({ name, content_type, size }) => ({ name, content_type, size }));
    } catch (error) {
      this.emit('failed', item, error);
      return;
    }
    // Reset meanwhile: the files are the previous visitor's, not to be sent as the next one.
    if (visitor && visitor !== this.storage.token) return;
    this.outbox.push(item);
    this.#saveOutbox();
    this.connect();
    this.#flush();
  }

  /** The token a first `resume` gives a new visitor (uploads need one). */
  #visitorToken() {
    return new Promise((resolve, reject) => {
      const stop = this.on('status', (status) => {
        if (status === 'online' && this.storage.token) {
          stop();
          resolve(this.storage.token);
        } else if (status === 'offline') {
          stop();
          reject(new Error('offline'));
        }
      });
      this.connect();
    });
  }

  /** Puts a failed message back in the outbox, with its original client_id. */
  retry(item) {
    if (item.files) {
      this.emit('pending', item);
      this.#upload(item);
      return;
    }
    if (!this.outbox.includes(item)) this.outbox.push(item);
    this.#saveOutbox();
    this.emit('pending', item);
    this.connect();
    this.#flush();
  }

  /** Tells the agents the visitor has seen everything so far (once per new message). */
  markRead() {
    const seq = Math.max(this.lastSeq, this.maxSeq);
    if (!this.socket || !this.socket.connected || !this.conversation || seq <= (this.readSeq || 0)) return;
    this.readSeq = seq;
    request(this.socket, 'read', { seq }).catch(() => {
      this.readSeq = 0; // try again next time
    });
  }

  /** Tells the agent whether the visitor is typing; best effort, never queued. */
  typing(active) {
    if (this.socket && this.socket.connected && this.conversation) {
      request(this.socket, 'typing', { typing: active }).catch(() => {});
    }
  }

  /** One stored message again (its file links are fresh); null when it cannot be had. */
  async message(conversationId, seq) {
    if (!this.socket || !this.socket.connected) return null;
    const page = await request(this.socket, 'history', { conversation_id: conversationId, before_seq: seq + 1, limit: 1 });
    return page.messages.find((message) => message.seq === seq) || null;
  }

  /** Ends the chat while it waits in the queue ("End chat"); resolves with the conversation. */
  async leave() {
    if (!this.socket || !this.socket.connected || !this.conversation) throw new ProtocolError('offline', 'not connected');
    const conversation = await request(this.socket, 'leave', { conversation_id: this.conversation.id });
    this.#setConversation(conversation);
    return conversation;
  }

  /** Asks for a person; resolves with the updated conversation. */
  async handoff() {
    if (!this.socket) throw new ProtocolError('offline', 'not connected');
    const conversation = await request(this.socket, 'handoff', {});
    this.#setConversation(conversation);
    return conversation;
  }

  /**
   * The offline form: leaves an email and a message for the next shift; resolves with the
   * stored message (the conversation is queued). Rejects with the server's error.
   */
  async leaveMessage(email, body) {
    if (!this.socket || !this.socket.connected) throw new ProtocolError('offline', 'not connected');
    // The same client id until it is stored: a resend after a lost ack stores nothing twice.
    this.awayClientId ||= this.nextClientId();
    const result = await request(this.socket, 'leave_message', { client_id: this.awayClientId, email, body });
    this.awayClientId = null;
    this.#receive(result.message, true);
    this.#setConversation(result.conversation);
    return result.message;
  }

  #createSocket() {
    const socket = this.socketFactory(() => (this.storage.token ? { token: this.storage.token } : {}));
    socket.on('connect', () => this.#resume());
    socket.on('disconnect', (reason) => {
      this.#setStatus('offline');
      // A disconnect sent by the server (a restart, say) is not retried by socket.io-client.
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), RETRY_MS * (1 + Math.random()));
    });
    socket.on('connect_error', (error) => {
      this.#setStatus('offline');
      if (error && error.data && error.data.code === 'invalid_token') {
        // A token from another server or an old secret: start afresh as a new visitor. The
        // server refused the connection, so socket.io-client will not retry on its own.
        this.storage.token = null;
        this.storage.conversationId = null;
        setTimeout(() => socket.connect(), 500);
      }
    });
    socket.on('message', (message) => this.#receive(message, true));
    socket.on('conversation', (conversation) => this.#setConversation(conversation));
    socket.on('typing', (typing) => this.emit('typing', typing));
    socket.on('read', (read) => this.emit('read', read));
    socket.on('queue_position', (wait) => this.#setWait(wait));
    // Rated, here or in another tab.
    socket.on('csat', (rated) => rated && typeof rated.conversation_id === 'string' && this.emit('rated', rated));
    this.socket = socket;
  }

  /** Rates the conversation an agent resolved: 1-5 and an optional comment (CSAT). */
  async rate(conversationId, rating, comment) {
    if (!this.socket) throw new ProtocolError('offline', 'not connected');
    const payload = { conversation_id: conversationId, rating };
    if (comment) payload.comment = comment;
    return request(this.socket, 'rate', payload);
  }

  /** The verified visitor's own details and preferences (docs/protocol.md, profile). */
  profile() {
    if (!this.socket) return Promise.reject(new ProtocolError('offline', 'not connected'));
    return request(this.socket, 'profile');
  }

  /** Corrects them: {name, email, phone, preferences}; resolves with the profile saved. */
  updateProfile(changes) {
    if (!this.socket) return Promise.reject(new ProtocolError('offline', 'not connected'));
    return request(this.socket, 'update_profile', changes);
  }

  /** Tells the server who the visitor is; true when the token now names another contact. */
  async #identify() {
    const socket = this.socket;
    let moved = false;
    try {
      if (this.identity) {
        const data = await request(socket, 'identify', this.identity);
        if (typeof data.token === 'string') this.storage.token = data.token;
        moved = data.changed === true;
        if (moved) {
          // Another contact: what this tab showed and knew was the previous one's (the
          // caller resumes as the new one); what waits in the outbox is sent as the new one.
          this.lastSeq = this.maxSeq = 0;
          this.seen = new Set();
          this.conversation = null;
          this.emit('switched');
          for (const item of this.outbox) this.emit('pending', item);
        }
        this.emit('verified', data.verified === true);
      }
      if (this.attributes) await request(socket, 'attributes', { attributes: this.attributes });
    } catch (error) {
      // A bad identity or attribute (the page's mistake) must not stop the chat.
      console.warn('chatkit: identify failed', error);
    }
    return moved;
  }

  async #resume() {
    this.#setStatus('connecting');
    await this.#identify();
    try {
      let since = this.lastSeq;
      let currentId = this.conversation && this.conversation.id;
      for (;;) {
        const data = await request(this.socket, 'resume', { since_seq: since, limit: RESUME_PAGE, locale: this.locale, page: this.page });
        if (typeof data.token === 'string') this.storage.token = data.token;
        const conversation = data.conversation || null;
        if (conversation && conversation.id !== currentId && since > 0) {
          // A new conversation since we last looked: since_seq belonged to the old one.
          currentId = conversation.id;
          since = 0;
          this.lastSeq = this.maxSeq = 0;
          continue;
        }
        this.#setConversation(conversation);
        this.#setWait(data.queue || null);
        // The last conversation, which an agent resolved, still awaits our rating.
        if (data.csat && typeof data.csat.conversation_id === 'string') this.emit('csat', data.csat);
        for (const message of data.messages || []) this.#receive(message, false);
        const last = (data.messages || []).at(-1);
        if (!data.has_more || !last) {
          // We have every message we may see up to its last_seq (read before the messages):
          // the seqs missing below it are agents' notes.
          if (conversation && conversation.id === (this.conversation && this.conversation.id)) {
            this.lastSeq = Math.max(this.lastSeq, conversation.last_seq || 0);
          }
          break;
        }
        since = last.seq;
      }
      this.#setStatus('online');
      this.#flush();
    } catch (error) {
      if (!this.socket.connected) return; // the next connect resumes again
      if (error.code === 'timeout' || error.code === 'unavailable') {
        this.#setStatus('offline');
        setTimeout(() => this.socket.connected && this.#resume(), RETRY_MS);
      } else {
        this.#setStatus('offline');
        console.error('chatkit: resume failed', error);
      }
    }
  }

  async #flush() {
    if (this.flushing || this.status !== 'online') return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    try {
      // One at a time, in order: the server may handle concurrent events out of order.
      while (this.status === 'online' && this.outbox.length) {
        const item = this.outbox[0];
        try {
          const payload = item.reply_to
            ? { client_id: item.client_id, reply_to: item.reply_to }
            : { client_id: item.client_id, body: item.body || undefined, attachment_ids: item.attachment_ids, trigger: item.trigger };
          const message = await request(this.socket, 'message', payload);
          this.#receive(message, true);
          this.#settle(item);
        } catch (error) {
          if (isRetryable(error)) {
            if (this.socket.connected) this.retryTimer = setTimeout(() => this.#flush(), RETRY_MS);
            break;
          }
          if (item.trigger && error.code === 'not_found') {
            // The server no longer has that trigger (its config changed): send it plainly.
            delete item.trigger;
            this.#saveOutbox();
            continue;
          }
          this.#dropFromOutbox(item);
          this.emit('failed', item, error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  #receive(message, live) {
    if (!message || typeof message.seq !== 'number' || typeof message.conversation_id !== 'string') return;
    const key = `${message.conversation_id}:${message.seq}`;
    const mine = message.sender === 'visitor' && this.outbox.find((i) => i.client_id === message.client_id);
    if (mine) this.#settle(mine, message);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (!this.conversation || this.conversation.id !== message.conversation_id) {
      // Our first message started a conversation; its `conversation` event may come later.
      if (!this.conversation || this.conversation.status === 'resolved') {
        this.#setConversation({ id: message.conversation_id, status: 'bot', agent_name: null });
      }
    }
    if (this.conversation && this.conversation.id === message.conversation_id) {
      while (this.seen.has(`${message.conversation_id}:${this.lastSeq + 1}`)) this.lastSeq += 1;
      this.maxSeq = Math.max(this.maxSeq, message.seq);
    }
    if (!mine) this.emit('message', message, { live });
  }

  #settle(item, message) {
    this.#dropFromOutbox(item);
    if (message) {
      item.message = message;
      this.emit('sent', item, message);
    }
  }

  #dropFromOutbox(item) {
    const index = this.outbox.indexOf(item);
    if (index >= 0) {
      this.outbox.splice(index, 1);
      this.#saveOutbox();
    }
  }

  #saveOutbox() {
    this.storage.outbox = this.outbox.map(({ client_id, body, created_at, reply_to, attachment_ids, attachments, trigger }) => (
      { client_id, body, created_at, reply_to, attachment_ids, attachments, trigger }));
  }

  #setConversation(conversation) {
    const previous = this.conversation;
    if (conversation && previous && conversation.id !== previous.id) {
      // A late event about an older conversation of ours: keep showing the open one.
      if (conversation.status === 'resolved' && previous.status !== 'resolved') return;
      this.lastSeq = this.maxSeq = 0;
    }
    this.conversation = conversation;
    this.storage.conversationId = conversation && conversation.status !== 'resolved' ? conversation.id : null;
    this.emit('conversation', conversation);
    // An agent resolved it (not the queue, where nobody had it): ask how it went.
    if (conversation && conversation.status === 'resolved' && conversation.agent_id
        && !(previous && previous.id === conversation.id && previous.status === 'resolved')) {
      this.emit('csat', { conversation_id: conversation.id, agent_name: conversation.agent_name || null });
    }
    if (conversation && conversation.agent_read_seq) {
      this.emit('read', { conversation_id: conversation.id, reader: 'agent', seq: conversation.agent_read_seq });
    }
  }

  #setWait(wait) {
    if (wait && (typeof wait.conversation_id !== 'string' || typeof wait.position !== 'number')) return;
    this.emit('wait', wait);
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.emit('status', status);
  }
}
