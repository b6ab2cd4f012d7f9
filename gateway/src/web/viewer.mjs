// The in-page artifact viewer: the first MiB of an artifact as text, escapes stripped as the
// terminal strips them, a diff with coloured lines, JSON pretty-printed, source highlighted.
// Artifacts come from the run's machine: text only (textContent), never HTML.

import { stripAnsi } from './ansi.mjs';
import { diffClass } from './diff.mjs';
import { $ } from './dom.mjs';
import { fmtSize } from './format.mjs';
import { highlightInto } from './highlight.mjs';
import { languageOf } from './tree.mjs';

export const VIEW_LIMIT = 1024 * 1024;

/** Read at most `limit` bytes of a response body; the rest is not downloaded. */
export async function readCapped(resp, limit = VIEW_LIMIT) {
  const reader = resp.body.getReader();
  const chunks = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length >= limit) {
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      truncated = true;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  // A cut may fall inside a UTF-8 sequence: the decoder shows it as U+FFFD.
  return { text: new TextDecoder().decode(bytes), truncated };
}

/** Fill `pre` with the artifact's text, shaped by its kind (from the name's extension). */
export function renderArtifact(pre, name, text, truncated) {
  pre.replaceChildren();
  pre.className = 'viewer-body';
  if (/\.(diff|patch)$/.test(name)) {
    pre.classList.add('diff');
    const frag = document.createDocumentFragment();
    const lines = stripAnsi(text).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) {
      const d = document.createElement('span');
      d.className = diffClass(line);
      d.textContent = `${line}\n`;
      frag.append(d);
    }
    pre.append(frag);
    return;
  }
  if (/\.json$/.test(name) && !truncated) {
    try {
      pre.textContent = JSON.stringify(JSON.parse(text), null, 2);
      highlightInto(pre, pre.textContent, 'json');
      return;
    } catch {
      // Not JSON after all: shown as it is.
    }
  }
  const shown = stripAnsi(text);
  pre.textContent = shown;
  const lang = /\.(log|txt)$/.test(name) ? null : languageOf(name);
  if (lang) highlightInto(pre, shown, lang);
}

let viewing = null; // the fetch being shown, so a slow one cannot overwrite a newer one
let opener = null; // the control that opened the viewer: focus returns there

/** Open the viewer on an artifact (`{name, size}`) at `href`. */
export async function openViewer(href, artifact) {
  const body = $('viewer-body');
  const note = $('viewer-note');
  const token = (viewing = {});
  opener = document.activeElement;
  $('viewer-title').textContent = artifact.name;
  $('viewer-size').textContent = fmtSize(artifact.size);
  $('viewer-download').href = href;
  $('viewer-download').download = artifact.name;
  body.className = 'viewer-body';
  body.textContent = 'Loading…';
  note.hidden = true;
  if (!$('viewer').open) $('viewer').showModal();
  try {
    const r = await fetch(href, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const { text, truncated } = await readCapped(r, VIEW_LIMIT);
    if (viewing !== token) return;
    renderArtifact(body, artifact.name, text, truncated);
    if (truncated) {
      note.textContent = `Showing the first ${fmtSize(VIEW_LIMIT)} of ${fmtSize(artifact.size)}: download it for the rest.`;
      note.hidden = false;
    }
  } catch (e) {
    if (viewing === token) body.textContent = `Could not load ${artifact.name}: ${e.message}`;
  }
}

export function setUpViewer() {
  $('viewer-close').addEventListener('click', () => $('viewer').close());
  $('viewer').addEventListener('close', () => {
    viewing = null;
    $('viewer-body').replaceChildren();
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
}
