// Builds DOM nodes. Text is always set as text (textContent / text nodes), never parsed as
// HTML: message bodies and names come from visitors and agents.

/**
 * h('li', {class: 'msg', text: body}, child, 'more text')
 * Props: `class`, `text`, `on<event>` listeners, anything else as an attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null && child !== false) el.append(child);
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`chatkit: #${id} is missing from the page`);
  return el;
}

/** "14:05" in the reader's locale, with the full date and time as the tooltip. */
export function timeElement(ms) {
  const date = new Date(typeof ms === 'number' ? ms : Date.now());
  return h('time', {
    datetime: date.toISOString(),
    title: date.toLocaleString(),
    text: date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
  });
}

/** True when the element is scrolled (nearly) to the bottom. */
export function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
}

/** Grows a textarea with its content, up to its CSS max-height. */
export function autoGrow(textarea) {
  const resize = () => {
    textarea.style.height = 'auto';
    textarea.style.height = `${textarea.scrollHeight}px`;
  };
  textarea.addEventListener('input', resize);
  return resize;
}
