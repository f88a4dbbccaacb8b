// The chat app inside the iframe (served at {mount}/widget/). It talks to the host page's
// loader over postMessage, and to chatkit over Socket.IO, but opens no socket until the
// visitor opens the panel or may have a conversation going.
import { LIMITS, MAX_FILES, precheck, readLimits, uploadFile } from '../shared/attachments.js';
import { TO_FRAME, bridgeMessage, cleanAttributes, cleanIdentity, readBridgeMessage } from '../shared/bridge.js';
import { hexColor, inkOf, textOn } from '../shared/colors.js';
import { clientIdFactory } from '../shared/ids.js';
import { connectNamespace, mountFromScript } from '../shared/socket.js';
import { FRAME, pickLocale, translator } from '../shared/i18n.js';
import { typingSignal } from '../shared/typing.js';
import { VisitorSession, protocolLocale } from './session.js';
import { VisitorStorage } from './storage.js';
import { HelpSearch } from './search.js';
import { ChatView } from './view.js';
import { ProfileView } from './profile.js';
import { armTriggers } from './triggers.js';

/**
 * The host page's origin, given by the loader in the URL hash. Where the browser can tell us
 * who really embeds us (location.ancestorOrigins), a mismatch disables the bridge.
 */
function hostOrigin() {
  if (window.parent === window) return null;
  const origin = new URLSearchParams(location.hash.slice(1)).get('origin');
  if (!origin || !/^https?:\/\/[^/]+$/.test(origin)) return null;
  const ancestors = location.ancestorOrigins;
  if (ancestors && ancestors.length && ancestors[0] !== origin) return null;
  return origin;
}

/** The loader in the host page, or a no-op when the frame is opened on its own. */
function connectHost(origin, onMessage) {
  if (!origin) return { post() {} };
  window.addEventListener('message', (event) => {
    if (event.origin !== origin || event.source !== window.parent) return;
    const message = readBridgeMessage(event.data, TO_FRAME);
    if (message) onMessage(message);
  });
  return {
    post(type, fields) {
      window.parent.postMessage(bridgeMessage(type, fields), origin);
    },
  };
}

/**
 * The widget's config (no socket needed): the bot's greeting and menu, shown before a
 * conversation exists, and what the composer may attach. Null when the server cannot be
 * reached.
 */
async function fetchConfig(mount, locale) {
  const url = new URL(`${mount.href.replace(/\/$/, '')}/api/widget/config`);
  if (locale) url.searchParams.set('locale', locale);
  try {
    const response = await fetch(url, { credentials: 'omit' });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/**
 * A returning visitor's state at page load, by one HTTP request and no socket: their open
 * conversation (one an agent may have started for them) and how many of its messages they
 * have not read. Null when it cannot be had (or the token is no longer valid).
 */
async function fetchVisitorStatus(mount, token) {
  try {
    const response = await fetch(`${mount.href.replace(/\/$/, '')}/api/widget/visitor`, {
      credentials: 'omit', headers: { Authorization: `Bearer ${token}` },
    });
    const status = response.ok ? await response.json() : null;
    return status && typeof status === 'object' && Number.isInteger(status.unread) ? status : null;
  } catch {
    return null;
  }
}

/** What the host page's ChatKit('on', 'message') handlers get: the message, no internals. */
function publicMessage(message) {
  const { id, conversation_id, seq, sender, author_name, body, created_at } = message;
  return { id, conversation_id, seq, sender, author_name, body, created_at };
}

function main() {
  const mount = mountFromScript(document.currentScript, '/static/widget/app.js');
  const origin = hostOrigin();
  const standalone = window.parent === window;
  let panelOpen = standalone;
  let unread = 0;
  const hash = new URLSearchParams(location.hash.slice(1));
  const locale = hash.get('locale') || navigator.language;
  const accent = hexColor(hash.get('color'));
  if (accent) {
    document.documentElement.style.setProperty('--ck-accent', accent);
    document.documentElement.style.setProperty('--ck-accent-text', textOn(accent));
    document.documentElement.style.setProperty('--ck-accent-ink', inkOf(accent));
  }
  const storage = new VisitorStorage();
  // The host page's URL (shown to agents). When the server has proactive triggers, this page
  // view counts as a visit and the config is fetched at once to arm them.
  const page = hash.get('page');
  const triggered = Boolean(page) && hash.get('triggers') === '1';
  const loadedAt = Date.now();
  const visits = triggered ? storage.countVisit(loadedAt) : 0;
  // The trigger whose message is shown on this page view, if one fired.
  let proactive = null;

  const session = new VisitorSession({
    socketFactory: (auth) => connectNamespace(mount, '/visitor', auth),
    storage,
    nextClientId: clientIdFactory(),
    locale,
    page,
    upload: (file, token, onProgress) => uploadFile(mount, { Authorization: `Bearer ${token}` }, file, onProgress),
  });

  // The config is fetched once the panel opens (at load when there are triggers); its
  // greeting is shown if no conversation is going.
  let config = null;
  let limits = LIMITS;
  const loadConfig = async () => {
    config = config || fetchConfig(mount, protocolLocale(locale));
    const loaded = await config;
    if (!loaded) config = null; // try again next time
    else {
      limits = readLimits(loaded);
      view.setAvailability(loaded.availability);
    }
    return loaded;
  };
  let greeted = false;
  const showGreeting = async () => {
    if (greeted) return;
    const loaded = await loadConfig();
    if (!loaded || greeted) return;
    greeted = true;
    const greeting = loaded.greeting;
    if (greeting && typeof greeting.body === 'string' && !proactive && !session.conversation && !storage.conversationId) {
      view.showGreeting(greeting);
    }
  };

  const host = connectHost(origin, (message) => {
    if (message.type === 'open') {
      panelOpen = true;
      unread = 0;
      session.connect();
      showGreeting();
      view.focusComposer();
      reportRead();
    } else if (message.type === 'close') {
      panelOpen = false;
    } else if (message.type === 'identify') {
      // The loader passes on what the page gave: its shape is checked here.
      const identity = message.identity == null ? null : cleanIdentity(message.identity);
      const attributes = message.attributes == null ? null : cleanAttributes(message.attributes);
      if ((message.identity != null && !identity) || (message.attributes != null && !attributes)) {
        console.warn("chatkit: ChatKit('identify') wants {id, name, email, hash} (strings), ChatKit('setAttributes') a flat object of strings, numbers, booleans and nulls");
      } else {
        session.setIdentity(identity, attributes);
      }
    } else if (message.type === 'page') {
      if (typeof message.page !== 'string') return;
      session.setPage(message.page);
      if (triggered) arm(message.page, Date.now());
    } else if (message.type === 'reset') {
      session.reset();
      view.clear();
      unread = 0;
      config = null;
      greeted = false;
      proactive = null;
      if (panelOpen) {
        session.connect();
        showGreeting();
      }
    }
  });

  const typing = typingSignal((active) => session.typing(active));
  const t = translator(FRAME, locale);
  const view = new ChatView({
    t,
    locale: pickLocale(locale, FRAME),
    onSend: (body) => {
      typing.stop();
      session.send(body);
    },
    onTyping: (hasText) => (hasText ? typing.input() : typing.stop()),
    onRetry: (item) => session.retry(item),
    onRefresh: (conversationId, seq) => session.message(conversationId, seq).catch(() => null),
    onFiles: (files) => {
      if (files.length > MAX_FILES) view.tooManyFiles();
      const chosen = files.slice(0, MAX_FILES);
      const problems = chosen.map((file) => ({ file, problem: precheck(file, limits) })).filter((p) => p.problem);
      view.refuseFiles(problems, limits);
      const ok = chosen.filter((file) => !precheck(file, limits));
      if (ok.length) session.sendFiles(ok);
    },
    onChoice: ({ seq, choice, label }) => {
      typing.stop();
      session.send(label, { seq, choice });
    },
    onClose: ({ escape }) => {
      // Escape closes "Your details" or the search first.
      if (escape && profile.isOpen) profile.close();
      else if (escape && search.isOpen) search.close();
      else host.post('close');
    },
    onLeave: async () => {
      try {
        await session.leave();
      } catch {
        view.notice(t('leave_failed'));
      }
    },
    onLeaveMessage: ({ email, body }) => session.leaveMessage(email, body),
    onRate: ({ conversationId, rating, comment }) => session.rate(conversationId, rating, comment),
    onHandoff: async () => {
      try {
        await session.handoff();
      } catch {
        view.notice(t('handoff_failed'));
      }
    },
  });

  const search = new HelpSearch({ mount, locale: protocolLocale(locale), t });
  const profile = new ProfileView({
    t,
    load: () => session.profile(),
    save: (changes) => session.updateProfile(changes),
    onOpen: () => search.isOpen && search.close(),
  });
  session.on('verified', (verified) => profile.setVerified(verified));

  session.on('status', (status) => view.setOnline(status !== 'offline'));
  session.on('conversation', (conversation) => view.setConversation(conversation));
  session.on('switched', () => {
    view.clear();
    unread = 0;
  });
  session.on('wait', (wait) => view.setWait(wait));
  session.on('csat', (pending) => view.askCsat(pending));
  session.on('rated', () => view.csatDone());
  session.on('pending', (item) => view.addPending(item));
  session.on('progress', (item, fraction) => view.progress(item, fraction));
  // While the panel is open and the page in view, what arrives has been seen.
  const reportRead = () => {
    if (panelOpen && document.visibilityState === 'visible') session.markRead();
  };
  document.addEventListener('visibilitychange', reportRead);
  session.on('read', (event) => {
    if (event.reader === 'agent') view.markRead(event.conversation_id, event.seq);
  });
  session.on('status', (status) => status === 'online' && reportRead());
  session.on('typing', (event) => {
    if (event.sender === 'agent') view.showTyping(event.typing, event.author_name || t('agent'));
  });
  session.on('failed', (item, error) => view.markFailed(item, error));
  session.on('sent', (item, message) => {
    view.markSent(item, message);
    host.post('message', { message: publicMessage(message) });
  });
  session.on('message', (message, { live }) => {
    if (message.sender === 'agent') view.showTyping(false);
    view.addMessage(message, { announce: live });
    if (!live) return;
    if (message.sender !== 'visitor') reportRead();
    host.post('message', { message: publicMessage(message) });
    if (!panelOpen && message.sender !== 'visitor') {
      unread += 1;
      host.post('unread', { count: unread });
    }
  });

  session.start();

  // A returning visitor whose widget did not connect at once (no conversation it knows of)
  // asks, by one cheap request, whether one waits: an agent may have started it.
  const checked = storage.token && !session.socket
    ? fetchVisitorStatus(mount, storage.token).then((status) => {
      if (!status || !status.conversation || typeof status.conversation.id !== 'string') return;
      storage.conversationId = status.conversation.id;
      if (!panelOpen && status.unread > unread) {
        unread = status.unread;
        host.post('unread', { count: unread });
      }
      session.connect();
    })
    : Promise.resolve();

  // The proactive triggers of a page view (`at`: its URL, `since`: when it began), armed once
  // the config is here. A single-page app's navigation (the loader's 'page') is a new page
  // view: the triggers are armed again for it, until one has fired (one proactive message
  // per page load).
  let disarm = () => {};
  const arm = async (at, since) => {
    const [loaded] = await Promise.all([loadConfig(), checked]);
    disarm();
    if (!loaded || proactive) return;
    disarm = armTriggers(loaded.triggers, { page: at, visits, loadedAt: since }, {
      // Never over a conversation going on, nor over the open panel.
      blocked: () => panelOpen || Boolean(storage.conversationId) || session.outbox.length > 0
        || Boolean(session.conversation && session.conversation.status !== 'resolved'),
      fire: (trigger) => {
        proactive = trigger;
        session.trigger = trigger.id;
        const name = loaded.greeting && loaded.greeting.author_name;
        view.showGreeting({ author_name: name, body: trigger.message, meta: null }, { replace: true });
        if (trigger.open) {
          host.post('open');
        } else {
          unread += 1;
          host.post('unread', { count: unread });
        }
      },
    });
  };
  if (triggered) arm(page, loadedAt);

  if (standalone) {
    session.connect();
    showGreeting();
    view.focusComposer();
  }
  host.post('ready');
}

main();

