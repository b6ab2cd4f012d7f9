// Syntax highlighting with Prism's tokenizer (vendor/prism.mjs, imported the first time a code
// block or file needs it). Prism's HTML output is never used: its token stream becomes spans
// whose text is set with textContent, so code from a run stays text.

const MAX = 256 * 1024; // characters highlighted; a longer text is shown plain (tokenizing it would stall the page)

let prism = null;

/** Prism, imported on first use. */
export function loadPrism() {
  if (!prism) prism = import('./prism.mjs').then((m) => m.default);
  return prism;
}

/** Prism tokens → `[string | {cls, c}]` (pure; `cls` is `tok-<type>` plus aliases). */
export function tokenTree(tokens) {
  const out = [];
  for (const t of tokens) {
    if (typeof t === 'string') {
      out.push(t);
      continue;
    }
    const aliases = Array.isArray(t.alias) ? t.alias : t.alias ? [t.alias] : [];
    const cls = [t.type, ...aliases].map((a) => `tok-${String(a).replace(/[^a-z0-9_-]/gi, '')}`).join(' ');
    const c = typeof t.content === 'string' ? [t.content] : tokenTree(Array.isArray(t.content) ? t.content : [t.content]);
    out.push({ cls, c });
  }
  return out;
}

function build(nodes) {
  const frag = document.createDocumentFragment();
  for (const n of nodes) {
    if (typeof n === 'string') frag.append(n);
    else {
      const s = document.createElement('span');
      s.className = n.cls;
      s.append(build(n.c));
      frag.append(s);
    }
  }
  return frag;
}

/** Replace `el`'s text with highlighted spans of `text` in `lang` (a Prism language name). Does
 *  nothing for an unknown language or a text over the limit. Resolves true if it highlighted. */
export async function highlightInto(el, text, lang) {
  if (!lang || text.length > MAX) return false;
  const P = await loadPrism();
  const grammar = P.languages[lang];
  if (!grammar) return false;
  el.replaceChildren(build(tokenTree(P.tokenize(text, grammar))));
  el.classList.add('hl');
  return true;
}
