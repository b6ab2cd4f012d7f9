// The in-page artifact viewer: the first MiB of an artifact as text, a diff with coloured lines,
// JSON pretty-printed. Artifacts come from the run's machine: text only (textContent), never HTML.

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

/** The class of one line of a unified diff. */
export function diffClass(line) {
  if (/^(diff |index |--- |\+\+\+ |new file|deleted file|similarity |rename |old mode|new mode|Binary files)/.test(line)) return 'd-head';
  if (line.startsWith('@@')) return 'd-hunk';
  if (line.startsWith('+')) return 'd-add';
  if (line.startsWith('-')) return 'd-del';
  if (line.startsWith('\\')) return 'd-meta';
  return 'd-ctx';
}

/** Fill `pre` with the artifact's text, shaped by its kind (from the name's extension). */
export function renderArtifact(pre, name, text, truncated) {
  pre.replaceChildren();
  pre.className = 'viewer-body';
  if (/\.(diff|patch)$/.test(name)) {
    pre.classList.add('diff');
    const frag = document.createDocumentFragment();
    const lines = text.split('\n');
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
      return;
    } catch {
      // Not JSON after all: shown as it is.
    }
  }
  pre.textContent = text;
}
