// Terminal text → styled segments. Run output is untrusted: this parser only ever produces plain
// strings plus a style; the caller puts them in the page with textContent. SGR colours become
// classes (or a computed rgb() for 256/true colour), every other escape sequence is dropped,
// OSC sequences (titles, OSC 8 hyperlinks…) included: their text stays text, never a link. A bare
// carriage return starts the line over, so a progress bar shows its current state.

const ESC = '\x1b';

function freshStyle() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, strike: false, inverse: false };
}

// xterm's 256-colour palette above the 16 named colours.
function rgb256(n) {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

// Reads an extended colour (38/48 ;5;n or ;2;r;g;b) starting at params[i]; returns [colour, next index].
function extended(params, i) {
  const mode = params[i + 1];
  if (mode === 5) {
    const n = params[i + 2];
    if (!Number.isInteger(n) || n < 0 || n > 255) return [null, i + 3];
    return [n < 16 ? n : rgb256(n), i + 3];
  }
  if (mode === 2) {
    const c = params.slice(i + 2, i + 5).map((v) => Math.max(0, Math.min(255, v | 0)));
    return [`rgb(${c[0]},${c[1]},${c[2]})`, i + 5];
  }
  return [null, i + 2];
}

function applySgr(style, raw) {
  const params = raw === '' ? [0] : raw.split(/[;:]/).map((p) => (p === '' ? 0 : parseInt(p, 10)));
  for (let i = 0; i < params.length; ) {
    const p = params[i];
    if (p === 0) Object.assign(style, freshStyle());
    else if (p === 1) style.bold = true;
    else if (p === 2) style.dim = true;
    else if (p === 3) style.italic = true;
    else if (p === 4) style.underline = true;
    else if (p === 7) style.inverse = true;
    else if (p === 9) style.strike = true;
    else if (p === 22) style.bold = style.dim = false;
    else if (p === 23) style.italic = false;
    else if (p === 24) style.underline = false;
    else if (p === 27) style.inverse = false;
    else if (p === 29) style.strike = false;
    else if (p >= 30 && p <= 37) style.fg = p - 30;
    else if (p >= 90 && p <= 97) style.fg = p - 90 + 8;
    else if (p === 39) style.fg = null;
    else if (p >= 40 && p <= 47) style.bg = p - 40;
    else if (p >= 100 && p <= 107) style.bg = p - 100 + 8;
    else if (p === 49) style.bg = null;
    else if (p === 38 || p === 48) {
      const [colour, next] = extended(params, i);
      if (p === 38) style.fg = colour;
      else style.bg = colour;
      i = next;
      continue;
    }
    i += 1;
  }
}

// Index just past a string sequence (OSC, DCS, …) that starts at `from`: its end is BEL, ST
// (ESC \) or the 8-bit ST; an unterminated one runs to the end of the line.
function skipString(text, from) {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '\x07' || c === '\x9c') return i + 1;
    if (c === ESC && text[i + 1] === '\\') return i + 2;
  }
  return text.length;
}

// Index just past a CSI sequence whose parameters start at `from`; `final` is its final byte.
function readCsi(text, from) {
  let i = from;
  while (i < text.length && text.charCodeAt(i) >= 0x20 && text.charCodeAt(i) <= 0x3f) i++;
  const params = text.slice(from, i);
  if (i >= text.length) return { end: text.length, final: '', params };
  return { end: i + 1, final: text[i], params };
}

/** Split `text` into `{text, style}` segments; escape sequences and control characters removed. */
export function parseAnsi(text) {
  const segments = [];
  let style = freshStyle();
  let buf = '';
  let carriage = false; // a bare \r: the next text overwrites the line, as in a terminal
  const push = () => {
    if (buf) segments.push({ text: buf, style: { ...style } });
    buf = '';
  };
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    const code = text.charCodeAt(i);
    if (c === ESC || code === 0x9b || code === 0x9d || code === 0x90 || code === 0x98 || code === 0x9e || code === 0x9f) {
      let kind = c === ESC ? text[i + 1] : String.fromCharCode(code - 0x40);
      let start = c === ESC ? i + 2 : i + 1;
      if (kind === '[') {
        const { end, final, params } = readCsi(text, start);
        if (final === 'm') {
          push();
          applySgr(style, params);
        }
        i = end;
      } else if (kind === ']' || kind === 'P' || kind === 'X' || kind === '^' || kind === '_') {
        i = skipString(text, start);
      } else {
        i = Math.min(text.length, start); // a two-byte escape (or a lone ESC): drop it
      }
      continue;
    }
    if (c === '\r') {
      carriage = true;
      i++;
      continue;
    }
    if ((code < 0x20 && c !== '\t') || code === 0x7f || (code >= 0x80 && code < 0xa0)) {
      i++;
      continue;
    }
    if (carriage) {
      segments.length = 0;
      buf = '';
      carriage = false;
    }
    buf += c;
    i++;
  }
  push();
  return segments;
}

/** The class list and inline colours for a style (colours are numbers or computed rgb() strings). */
export function styleClasses(style) {
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg ?? 'inv-fg', fg ?? 'inv-bg'];
  const classes = [];
  const inline = {};
  if (typeof fg === 'number') classes.push(`f${fg}`);
  else if (fg === 'inv-fg') classes.push('finv');
  else if (fg) inline.color = fg;
  if (typeof bg === 'number') classes.push(`b${bg}`);
  else if (bg === 'inv-bg') classes.push('binv');
  else if (bg) inline.backgroundColor = bg;
  if (style.bold) classes.push('sb');
  if (style.dim) classes.push('sd');
  if (style.italic) classes.push('si');
  if (style.underline) classes.push('su');
  if (style.strike) classes.push('ss');
  return { classes, inline };
}

/** Append `text` to `parent` as text nodes and styled spans. Never parses HTML. */
export function renderAnsi(parent, text) {
  for (const seg of parseAnsi(text)) {
    const { classes, inline } = styleClasses(seg.style);
    if (!classes.length && !inline.color && !inline.backgroundColor) {
      parent.appendChild(document.createTextNode(seg.text));
      continue;
    }
    const span = document.createElement('span');
    if (classes.length) span.className = classes.join(' ');
    if (inline.color) span.style.color = inline.color;
    if (inline.backgroundColor) span.style.backgroundColor = inline.backgroundColor;
    span.textContent = seg.text;
    parent.appendChild(span);
  }
}

// Any escape introducer (7-bit ESC, 8-bit CSI/OSC/DCS/…), a carriage return or another control
// character the terminal would not print: text without one is shown as it is.
const NEEDS_PARSE = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** `text` as a terminal would show it, without styles: escapes dropped, each line after its
 *  last carriage return (the artifact viewer shows logs with this). */
export function stripAnsi(text) {
  if (!NEEDS_PARSE.test(text)) return text;
  return text
    .split('\n')
    .map((line) => (NEEDS_PARSE.test(line) ? parseAnsi(line).map((s) => s.text).join('') : line))
    .join('\n');
}
