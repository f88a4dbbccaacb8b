// The script a host page embeds: <script src="https://support.example.com/chat/widget.js" async>.
// It defines only the global `ChatKit`, draws the launcher, and puts the chat itself in an
// iframe on chatkit's origin, so the host page's CSS and scripts can neither break nor read it.
//
//   window.ChatKit = window.ChatKit || function () { (ChatKit.q = ChatKit.q || []).push(arguments) };
//   ChatKit('on', 'message', (message) => console.log(message.body));
//   ChatKit('open');
import { FROM_FRAME, bridgeMessage, readBridgeMessage } from '../shared/bridge.js';
import { hexColor, textOn } from '../shared/colors.js';
import { LOADER, translator } from '../shared/i18n.js';
import { createLauncher } from './styles.js';

/* global __LOADER_CSS__, __CHATKIT_CONFIG__ */
const css = __LOADER_CSS__;
// The server's look (colour, corner, launcher text) and whether it has proactive triggers,
// filled in when chatkit serves this file.
const SERVER = typeof __CHATKIT_CONFIG__ === 'object' ? __CHATKIT_CONFIG__ : {};

const EVENTS = ['ready', 'open', 'close', 'message'];
// Shadow host styles: inline !important beats any host-page rule, and `all: initial` stops
// the page's inherited properties (fonts, colours, line height) from leaking in (fixed
// positioning makes it a block).
const HOST_STYLE = 'all:initial;position:fixed;right:0;bottom:0;width:0;height:0;z-index:2147483647'.replace(/;|$/g, '!important;');

const unknown = (what) => {
  throw new TypeError(`ChatKit: unknown ${what}`);
};

// Calls fn(...args); what it throws is reported (as an uncaught error would be) without
// stopping the caller.
const safely = (fn, args) => {
  try {
    fn(...args);
  } catch (error) {
    reportError(error);
  }
};

function start(script) {
  const src = new URL(script.src, location.href);
  const mount = src.href.replace(/\/widget\.js(?:[?#].*)?$/, '');
  const frameOrigin = src.origin;
  const queued = window.ChatKit?.q || [];
  const settings = (window.ChatKitSettings && typeof window.ChatKitSettings === 'object') ? window.ChatKitSettings : {};
  const locale = typeof settings.locale === 'string' ? settings.locale : navigator.language;
  const t = translator(LOADER, locale);
  // The page's settings win over the server's.
  const pick = (name) => (settings[name] != null ? settings[name] : SERVER[name]);
  const color = hexColor(settings.color) || hexColor(SERVER.color) || '#2563eb';
  const text = pick('launcherText');
  const handlers = Object.fromEntries(EVENTS.map((name) => [name, []]));
  let isOpen = false;
  let isReady = false;

  const host = document.createElement('chatkit-widget');
  host.style.cssText = HOST_STYLE;
  const shadow = host.attachShadow({ mode: 'open' });
  const { root, frame, launcher, badge } = createLauncher(t('title'), typeof text === 'string' ? text.slice(0, 40) : '');
  root.style.setProperty('--a', color);
  root.style.setProperty('--t', textOn(color));
  root.classList.toggle('left', pick('position') === 'left');
  shadow.append(root);
  if (shadow.adoptedStyleSheets) {
    // Constructed sheets are not subject to the host page's CSP style-src (every browser
    // with adoptedStyleSheets has replaceSync).
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    style.textContent = css;
    shadow.prepend(style);
  }

  const fire = (name, arg) => {
    for (const fn of handlers[name]) safely(fn, [arg]);
  };
  const toFrame = (type, fields) => {
    if (isReady) frame.contentWindow.postMessage(bridgeMessage(type, fields), frameOrigin);
  };
  // The host site's user and attributes, kept until the frame is ready: the frame checks
  // their shape (bridge.js) and sends them to the server when it connects. Copies, so that
  // the page changing its object later changes nothing.
  let identity = null;
  let attributes = null;
  const sendIdentity = () => (identity || attributes) && toFrame('identify', { identity, attributes });
  const setUnread = (count) => {
    badge.hidden = !count;
    badge.textContent = count > 99 ? '99+' : count;
    launcher.setAttribute('aria-label', t(isOpen ? 'close' : count ? 'unread' : 'open', { n: count }));
  };
  const setOpen = (open) => {
    if (open === isOpen) return;
    isOpen = open;
    root.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', open);
    setUnread(0);
    if (open) frame.contentWindow.focus();
    else if (shadow.activeElement === frame) launcher.focus();
    toFrame(open ? 'open' : 'close');
    fire(open ? 'open' : 'close');
  };

  const api = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!isOpen),
    // The host site's user logged out: forget this browser's visitor, conversation and
    // identity.
    reset: () => {
      identity = attributes = null;
      setUnread(0);
      toFrame('reset');
    },
    // {id, name, email, hash}: hash is the host server's hex HMAC-SHA256 of id (README).
    identify: (user) => {
      identity = { ...user };
      sendIdentity();
    },
    setAttributes: (values) => {
      attributes = { ...attributes, ...values };
      sendIdentity();
    },
    on(name, fn) {
      if (!handlers[name] || typeof fn !== 'function') unknown(`event ${name}`);
      handlers[name].push(fn);
      if (name === 'ready' && isReady) setTimeout(fn);
    },
  };
  const ChatKit = function (command, ...args) {
    if (!Object.hasOwn(api, command)) unknown(`command ${command}`);
    return api[command](...args);
  };
  ChatKit.loaded = true;
  window.ChatKit = ChatKit;

  window.addEventListener('message', (event) => {
    if (event.origin !== frameOrigin || event.source !== frame.contentWindow) return;
    const message = readBridgeMessage(event.data, FROM_FRAME);
    if (!message) return;
    if (message.type === 'ready') {
      isReady = true;
      sendIdentity();
      toFrame(isOpen ? 'open' : 'close');
      fire('ready');
    } else if (message.type === 'close' || message.type === 'open') {
      // The frame closes the panel (its close button), or opens it (a proactive trigger).
      setOpen(message.type === 'open');
    } else if (message.type === 'unread') {
      if (Number.isInteger(message.count) && message.count >= 0 && !isOpen) setUnread(message.count);
    } else if (message.type === 'message') {
      if (message.message && typeof message.message === 'object') fire('message', { ...message.message });
    }
  });
  launcher.addEventListener('click', () => setOpen(!isOpen));
  setUnread(0);

  // The hash carries the host page's origin, the only origin the frame will talk to.
  // The locale goes along so that the chat speaks the page's language, and the page's URL
  // (without its fragment), which agents see in the CRM panel and proactive triggers match;
  // `triggers` says the server has some. A hash is never sent to a server.
  const here = () => location.href.split('#')[0];
  let page = here();
  frame.src = `${mount}/widget/#${new URLSearchParams({ origin: location.origin, locale, color, page, ...(SERVER.triggers && { triggers: '1' }) })}`;
  (document.body || document.documentElement).appendChild(host);
  // A single-page app changes its URL without loading a page: the frame hears of each
  // change, within a second, as a new page view.
  setInterval(() => isReady && page !== here() && toFrame('page', { page: (page = here()) }), 1e3);

  for (const args of queued) safely(ChatKit, args);
}

(() => {
  if (window.ChatKit?.loaded) return; // the script was included twice
  const script = document.currentScript || document.querySelector('script[src$="/widget.js"]');
  if (!script) return;
  // Queue calls made between now and start(), as the page's own stub would.
  window.ChatKit ||= function stub() {
    (stub.q ||= []).push(arguments);
  };
  if (document.body) start(script);
  else document.addEventListener('DOMContentLoaded', () => start(script), { once: true });
})();
