// The loader's shadow-root content, built with DOM calls rather than innerHTML so that host
// pages enforcing Trusted Types can embed it. Its styles are loader.css, minified by
// build.mjs and inlined as __LOADER_CSS__.

const SVG = 'http://www.w3.org/2000/svg';
const CHAT_ICON = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-4 4V5a2 2 0 0 1 2-2z';
const CLOSE_ICON = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z';

function el(tag, attrs, ...children) {
  const node = tag === 'svg' || tag === 'path' ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const icon = (cls, d) =>
  el('svg', { class: cls, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' }, el('path', { d }));

/** {root, frame, launcher, badge}: the launcher button (with `text` beside its icon, if
 * any) and the (hidden) chat iframe. */
export function createLauncher(title, text) {
  const frame = el('iframe', { class: 'frame', title });
  const badge = el('span', { class: 'badge', hidden: '' });
  const launcher = el(
    'button',
    { class: 'launcher', type: 'button', 'aria-expanded': 'false' },
    icon('i-chat', CHAT_ICON),
    icon('i-close', CLOSE_ICON),
    badge,
  );
  if (text) launcher.append(el('span', { class: 'txt' }, text));
  const root = el('div', { class: text ? 'root labelled' : 'root' }, frame, launcher);
  return { root, frame, launcher, badge };
}
