// Small DOM helpers every screen uses. Text goes in with textContent, never as HTML.

import { pageTitle } from './format.mjs';

export const $ = (id) => document.getElementById(id);

let titleBase = ''; // the title without the count; set by the first setTitle
let attention = 0;

/** Set the tab title; while runs need approval their count stays in front of it. */
export function setTitle(base) {
  titleBase = base;
  document.title = pageTitle(base, attention);
}

/** How many runs need approval now (app.mjs counts them from the runs list). */
export function setAttention(n) {
  attention = n;
  setTitle(titleBase || document.title);
}

/** `<tag class=cls>text</tag>`. */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** A `type=button` button. */
export function button(cls, text, onClick) {
  const b = el('button', cls, text);
  b.type = 'button';
  if (onClick) b.addEventListener('click', onClick);
  return b;
}

/** Copy `text`; where the Clipboard API is refused, select `node` so the reader can copy it. */
export async function copyText(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(node);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    return false;
  }
}
