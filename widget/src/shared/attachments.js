// Attachments (docs/protocol.md, "Attachments"), for the widget and the console alike: the
// pre-check before an upload, the upload itself, and the pictures and file chips in messages.
// The server decides what a file is from its bytes; the checks here only spare the visitor a
// wait for an answer known in advance.
import { h } from './dom.js';

/** What chatkit accepts unless its widget config says otherwise. */
export const LIMITS = {
  max_bytes: 10 * 1024 * 1024,
  types: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf'],
};
export const MAX_FILES = 5; // per message

/** The widget config's limits if well formed, else LIMITS. */
export function readLimits(config) {
  const limits = config && config.attachments;
  return limits && Number.isInteger(limits.max_bytes) && Array.isArray(limits.types) ? limits : LIMITS;
}

/** 'type', 'size' or 'empty' when the file cannot be sent, else null. The browser's type
 * comes from the name's extension: a first guess, which the server checks against the bytes. */
export function precheck(file, limits) {
  if (!limits.types.includes(file.type)) return 'type';
  if (file.size > limits.max_bytes) return 'size';
  return file.size ? null : 'empty';
}

/** "2.4 MB", "820 kB", in the reader's locale (1 MB = 1024 kB, as the limit is set). */
export function formatSize(bytes, locale) {
  const [unit, value] = bytes >= 1048576 ? ['megabyte', bytes / 1048576]
    : bytes >= 1024 ? ['kilobyte', bytes / 1024] : ['byte', bytes];
  try {
    const unitDisplay = unit === 'byte' ? 'narrow' : 'short'; // "193B", not "193 byte"
    return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay, maximumFractionDigits: 1 }).format(value);
  } catch {
    return `${Math.round(value)} ${unit[0].toUpperCase()}B`;
  }
}

/**
 * Uploads one file (POST {mount}/api/attachments); resolves with the server's description
 * ({id, name, content_type, size, url}) or rejects with an Error carrying `status` and `code`
 * (status 0: no answer). `headers` say who uploads: the widget's visitor token
 * (`Authorization: Bearer ...`), or the console's CSRF token (`X-CSRF-Token`, beside its
 * session cookie). XHR, not fetch, for the upload's progress.
 */
export function uploadFile(mount, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${mount.href.replace(/\/$/, '')}/api/attachments`);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => {
      const data = xhr.response || {};
      if (xhr.status === 201 && typeof data.id === 'string') resolve(data);
      else fail(xhr.status, data.error);
    };
    xhr.onerror = () => fail(0);
    xhr.ontimeout = () => fail(0);
    const fail = (status, error = {}) => reject(Object.assign(new Error(error.message || 'upload failed'), { status, code: error.code }));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** A message's attachments, checked: links only to chatkit's own origin (the page's). */
export function attachmentsOf(message) {
  const files = message && message.meta && message.meta.attachments;
  if (!Array.isArray(files)) return [];
  return files.filter((file) => file && typeof file.name === 'string' && typeof file.content_type === 'string'
    && Number.isFinite(file.size)).map((file) => {
    let href = null;
    try {
      const url = new URL(file.url, location.href);
      if (url.origin === location.origin) href = url.href;
    } catch {
      // no link: shown without one
    }
    return { name: file.name, content_type: file.content_type, size: file.size, href };
  });
}

/** When a link's token expires, in ms since the epoch (0: unknown). */
function linkExpiry(href) {
  try {
    const payload = new URL(href).searchParams.get('token').split('.')[0];
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))).e * 1000 || 0;
  } catch {
    return 0;
  }
}

/**
 * A click on a link that has expired (the message was shown long ago) first asks
 * `refresh()` for the message's files again, with fresh links, then goes on.
 */
function keepFresh(link, index, refresh) {
  link.addEventListener('click', async (event) => {
    if (!refresh || linkExpiry(link.href) > Date.now() + 10000) return;
    event.preventDefault();
    const fresh = (await refresh())[index];
    if (!fresh || !fresh.href) return;
    link.href = fresh.href;
    const img = link.querySelector('img');
    if (img) img.src = fresh.href;
    link.click(); // still within the click's user activation: not a blocked pop-up
  });
  return link;
}

/**
 * Pictures as thumbnails (a click opens the full size in a new tab), other files as a chip
 * with name and size (a click downloads). `c` prefixes the class names; `refresh()`, when
 * given, resolves to the message's files with fresh links.
 */
export function renderAttachments(files, { c, locale, openLabel, refresh }) {
  if (!files.length) return null;
  return h('div', { class: `${c}files` }, ...files.map((file, index) => {
    const image = file.content_type.startsWith('image/');
    const size = formatSize(file.size, locale);
    const link = (props, ...children) => (file.href
      ? keepFresh(h('a', { href: file.href, rel: 'noopener noreferrer', ...props }, ...children), index, refresh)
      : h('span', props, ...children));
    if (image && file.href) {
      return link({ class: `${c}thumb`, target: '_blank', title: `${file.name} (${size})`, 'aria-label': `${openLabel}: ${file.name}` },
        h('img', { src: file.href, alt: file.name, loading: 'lazy' }));
    }
    return link({ class: `${c}chip`, download: file.href ? file.name : null },
      h('span', { class: `${c}chip-icon`, 'aria-hidden': 'true', text: image ? 'IMG' : 'PDF' }),
      h('span', { class: `${c}chip-name`, dir: 'auto', text: file.name }),
      h('span', { class: `${c}chip-size`, text: size }));
  }));
}
