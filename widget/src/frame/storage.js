// What the widget keeps in the browser (chatkit's origin): the visitor token, the open
// conversation's id (so a page load knows whether to connect at once) and the outbox of
// messages not yet acknowledged. Storage may be unavailable (privacy modes, blocked
// third-party storage): then everything lives for the page's lifetime only.

const KEYS = {
  token: 'chatkit.token', conversation: 'chatkit.conversation', outbox: 'chatkit.outbox', visits: 'chatkit.visits',
};
// Page views less than this apart are one visit (for the triggers' returning visitors).
const VISIT_GAP_MS = 30 * 60 * 1000;

function open() {
  try {
    const storage = window.localStorage;
    storage.setItem('chatkit.probe', '1');
    storage.removeItem('chatkit.probe');
    return storage;
  } catch {
    return null;
  }
}

/** {seq, choice}: the quick reply a queued message answers with. */
export function isReplyTo(value) {
  return Boolean(value) && Number.isInteger(value.seq) && value.seq > 0 && typeof value.choice === 'string';
}

/** The uploaded files a queued message carries: ids, and what to show of them. */
function isFiles(item) {
  if (item.attachment_ids === undefined && item.attachments === undefined) return true;
  const ids = item.attachment_ids;
  const shown = item.attachments;
  return Array.isArray(ids) && Array.isArray(shown) && ids.length === shown.length && ids.length > 0
    && ids.every((id) => typeof id === 'string')
    && shown.every((file) => file && typeof file.name === 'string' && typeof file.content_type === 'string' && Number.isFinite(file.size));
}

export class VisitorStorage {
  #storage = open();
  #memory = new Map();

  #get(key) {
    if (!this.#storage) return this.#memory.get(key) ?? null;
    try {
      return this.#storage.getItem(key);
    } catch {
      return null;
    }
  }

  #set(key, value) {
    if (!this.#storage) {
      if (value == null) this.#memory.delete(key);
      else this.#memory.set(key, value);
      return;
    }
    try {
      if (value == null) this.#storage.removeItem(key);
      else this.#storage.setItem(key, value);
    } catch {
      // Quota or a revoked permission: the page keeps working from memory.
    }
  }

  get token() {
    return this.#get(KEYS.token);
  }

  set token(value) {
    this.#set(KEYS.token, value);
  }

  /** The id of the visitor's open (not resolved) conversation, if any. */
  get conversationId() {
    return this.#get(KEYS.conversation);
  }

  set conversationId(value) {
    this.#set(KEYS.conversation, value);
  }

  /** [{client_id, body, created_at, reply_to?, attachment_ids?, attachments?}], oldest first
   * (reply_to: a quick reply; attachment_ids: files uploaded, the message not yet sent). */
  get outbox() {
    try {
      const items = JSON.parse(this.#get(KEYS.outbox) || '[]');
      return Array.isArray(items)
        ? items.filter((i) => i && typeof i.client_id === 'string' && typeof i.body === 'string'
          && (i.reply_to === undefined || isReplyTo(i.reply_to)) && isFiles(i)
          && (i.trigger === undefined || typeof i.trigger === 'string'))
        : [];
    } catch {
      return [];
    }
  }

  set outbox(items) {
    this.#set(KEYS.outbox, items.length ? JSON.stringify(items) : null);
  }

  /** Counts this page view: returns the number of visits so far, this one included (a new
   * visit begins after 30 minutes without a page view). Kept in this browser only. */
  countVisit(now = Date.now()) {
    let seen = null;
    try {
      seen = JSON.parse(this.#get(KEYS.visits) || 'null');
    } catch {
      seen = null;
    }
    const valid = seen && Number.isInteger(seen.n) && seen.n > 0 && Number.isFinite(seen.at);
    const count = valid ? seen.n + (now - seen.at > VISIT_GAP_MS ? 1 : 0) : 1;
    this.#set(KEYS.visits, JSON.stringify({ n: count, at: now }));
    return count;
  }
}
