// Claude's answers as Markdown, parsed by marked's lexer (vendor/marked.mjs, loaded on first use)
// and drawn with createElement/textContent only. Answers are untrusted: raw HTML in them stays
// text, links are made only from `https:` URLs checked with `new URL()`, images are never loaded
// (shown as a link), and nothing is ever assigned as HTML.
//
// mdTree() turns lexer tokens into plain node descriptions, `{t, a, c}` (tag, attributes,
// children; a child is a string or a node) or `{t: 'pre', code, lang}`: the rules live there and
// are unit-tested; toDom() builds the elements, allowing only the tags and attributes below.

import { httpsUrl } from './format.mjs';
import { fenceLanguage } from './tree.mjs';

const TAGS = new Set(['p', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code', 'strong', 'em', 'del', 'a', 'br', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'input']);
const ATTRS = new Set(['href', 'rel', 'target', 'class', 'start', 'title', 'type', 'checked', 'disabled', 'aria-label']);

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Markdown source text with its character references decoded (the result is only ever text). */
export function decodeEntities(s) {
  return String(s).replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g, (all, ref) => {
    if (ref[0] === '#') {
      const n = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : all;
    }
    return ENTITIES[ref] ?? all;
  });
}

/** A link: an https URL becomes `<a>` opening in a new tab without referrer or opener; any
 *  other scheme (javascript:, data:, relative paths) stays text. */
function link(href, children, title) {
  const url = httpsUrl(href);
  if (!url) return { t: 'span', a: { class: 'md-nolink', title: `not a link: ${String(href).slice(0, 200)}` }, c: children };
  const a = { href: url, rel: 'noopener noreferrer', target: '_blank' };
  if (title) a.title = String(title);
  return { t: 'a', a, c: children };
}

function inline(tokens) {
  const out = [];
  for (const t of tokens || []) {
    switch (t.type) {
      case 'text':
        out.push(...(t.tokens ? inline(t.tokens) : [decodeEntities(t.text)]));
        break;
      case 'escape':
        out.push(t.text);
        break;
      case 'strong':
      case 'em':
      case 'del':
        out.push({ t: t.type, c: inline(t.tokens) });
        break;
      case 'codespan':
        out.push({ t: 'code', c: [t.text] });
        break;
      case 'br':
        out.push({ t: 'br' });
        break;
      case 'link':
        out.push(link(t.href, inline(t.tokens), t.title));
        break;
      case 'image':
        // Never loaded: an https image is a link to it, anything else its alt text.
        out.push(link(t.href, [`[image: ${t.text || 'untitled'}]`], t.title));
        break;
      case 'html':
      default:
        out.push(t.raw ?? t.text ?? '');
    }
  }
  return out;
}

function block(t) {
  switch (t.type) {
    case 'space':
    case 'def':
      return null;
    case 'heading':
      return { t: `h${Math.min(6, Math.max(3, t.depth + 2))}`, c: inline(t.tokens) };
    case 'paragraph':
      return { t: 'p', c: inline(t.tokens) };
    case 'text':
      return { t: 'p', c: t.tokens ? inline(t.tokens) : [decodeEntities(t.text)] };
    case 'code':
      return { t: 'pre', code: t.text, lang: fenceLanguage(t.lang) };
    case 'blockquote':
      return { t: 'blockquote', c: blocks(t.tokens) };
    case 'hr':
      return { t: 'hr' };
    case 'list': {
      const a = {};
      if (t.ordered && Number(t.start) > 1) a.start = String(Number(t.start));
      return { t: t.ordered ? 'ol' : 'ul', a, c: t.items.map(listItem) };
    }
    case 'table': {
      const cell = (tag, c) => ({ t: tag, a: c.align ? { class: `md-${c.align}` } : {}, c: inline(c.tokens) });
      return {
        t: 'table',
        c: [
          { t: 'thead', c: [{ t: 'tr', c: t.header.map((c) => cell('th', c)) }] },
          { t: 'tbody', c: t.rows.map((r) => ({ t: 'tr', c: r.map((c) => cell('td', c)) })) },
        ],
      };
    }
    case 'html':
      // Raw HTML in an answer is shown as the text it is.
      return { t: 'p', a: { class: 'md-html' }, c: [t.text] };
    default:
      return t.raw ? { t: 'p', c: [t.raw] } : null;
  }
}

function listItem(item) {
  const c = [];
  for (const t of item.tokens || []) {
    if (t.type === 'checkbox') continue;
    // A tight list's items hold bare text: no paragraph around it.
    if (t.type === 'text' && !item.loose) c.push(...(t.tokens ? inline(t.tokens) : [decodeEntities(t.text)]));
    else {
      const b = block(t);
      if (b) c.push(b);
    }
  }
  if (item.task) {
    const box = { t: 'input', a: { type: 'checkbox', disabled: '', 'aria-label': item.checked ? 'done' : 'not done' } };
    if (item.checked) box.a.checked = '';
    c.unshift(box, ' ');
    return { t: 'li', a: { class: 'md-task' }, c };
  }
  return { t: 'li', c };
}

function blocks(tokens) {
  return (tokens || []).map(block).filter(Boolean);
}

/** Lexer tokens → node descriptions (see the top of this file). */
export function mdTree(tokens) {
  return blocks(tokens);
}

/** Build the elements of a node description. Unknown tags become spans, unknown attributes are
 *  dropped; text is only ever a text node. `onCode(pre, code, lang)` fills code blocks. */
export function toDom(node, onCode) {
  if (typeof node === 'string') return document.createTextNode(node);
  if (node.t === 'pre' && typeof node.code === 'string') {
    const pre = document.createElement('pre');
    pre.className = 'md-code';
    const code = document.createElement('code');
    code.textContent = node.code;
    pre.append(code);
    if (node.lang) pre.dataset.lang = node.lang;
    if (onCode) onCode(pre, code, node.code, node.lang);
    return pre;
  }
  const el = document.createElement(TAGS.has(node.t) ? node.t : 'span');
  for (const [k, v] of Object.entries(node.a || {})) if (ATTRS.has(k)) el.setAttribute(k, v);
  for (const c of node.c || []) el.append(toDom(c, onCode));
  return el;
}

let lexer = null;

/** marked's lexer, imported the first time an answer is drawn. */
export function loadMarkdown() {
  if (!lexer) lexer = import('./marked.mjs').then((m) => (src) => m.lexer(String(src), { gfm: true }));
  return lexer;
}

/** Render Markdown `src` into `parent` (replacing what it had). */
export function renderMarkdown(parent, src, lex, onCode) {
  const frag = document.createDocumentFragment();
  for (const node of mdTree(lex(src))) frag.append(toDom(node, onCode));
  parent.replaceChildren(frag);
}
