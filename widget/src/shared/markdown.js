// A small Markdown subset for bot and agent messages, built as DOM nodes. Every piece of text
// becomes a text node and links keep only http(s) and mailto addresses; no HTML string is ever
// parsed, so no message can inject markup. Visitor messages never come through here.
//
// Supported: paragraphs (a blank line), line breaks, **bold**, *italic* and _italic_, `code`,
// [text](https://...), bare https:// addresses, "- " / "* " lists and "1. " lists.
// A Markdown library would produce an HTML string and then need a sanitiser, many times the
// size of this whole widget's budget.

import { h } from './dom.js';

const INLINE = new RegExp(
  [
    /`([^`\n]+)`/.source, // 1 code
    /\*\*([^*\n]+)\*\*/.source, // 2 bold
    /\[([^\]\n]+)\]\(([^)\s]+)\)/.source, // 3 link text, 4 address
    /\*([^*\s](?:[^*\n]*[^*\s])?)\*/.source, // 5 italic
    /(?<![\w])_([^_\s](?:[^_\n]*[^_\s])?)_(?![\w])/.source, // 6 italic
    /(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/.source, // 7 bare address
  ].join('|'),
  'g',
);

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** The address if it is one we link to, else null (javascript:, data:, relative...). */
export function safeHref(address) {
  try {
    const url = new URL(address);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(text, address) {
  const href = safeHref(address);
  if (!href) return document.createTextNode(text === address ? text : `${text} (${address})`);
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', text });
}

function inline(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    const [whole, code, bold, linkText, address, italic, italic2, bare] = match;
    if (code !== undefined) nodes.push(h('code', { text: code }));
    else if (bold !== undefined) nodes.push(h('strong', null, ...inline(bold)));
    else if (linkText !== undefined) nodes.push(link(linkText, address));
    else if (italic !== undefined || italic2 !== undefined) nodes.push(h('em', null, ...inline(italic ?? italic2)));
    else if (bare !== undefined) nodes.push(link(bare, bare));
    else nodes.push(document.createTextNode(whole));
    last = match.index + whole.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function withBreaks(lines) {
  const nodes = [];
  lines.forEach((line, i) => {
    if (i) nodes.push(h('br'));
    nodes.push(...inline(line));
  });
  return nodes;
}

const BULLET = /^\s*[-*]\s+/;
const NUMBERED = /^\s*\d{1,3}[.)]\s+/;

/** The message as a DocumentFragment of safe elements. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  for (const block of String(source).replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((line) => line.trim());
    if (!lines.length) continue;
    const list = lines.every((line) => BULLET.test(line)) ? ['ul', BULLET]
      : lines.every((line) => NUMBERED.test(line)) ? ['ol', NUMBERED] : null;
    if (list) {
      const [tag, marker] = list;
      fragment.append(h(tag, null, ...lines.map((line) => h('li', null, ...inline(line.replace(marker, ''))))));
    } else {
      fragment.append(h('p', null, ...withBreaks(lines)));
    }
  }
  return fragment;
}
