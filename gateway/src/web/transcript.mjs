// A run's Claude transcript as a conversation: prompts, answers, thinking, tool calls (with their
// input and result, paired by tool_use_id), errors and system notes. Everything in a transcript
// came from Claude or the child: it reaches the page through textContent only.

const MAX_ENTRIES = 1000; // entries one transcript keeps in the DOM; the export has them all
const PREVIEW = 120; // characters of a tool call's input shown on its closed line

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

const LABELS = {
  prompt: 'You',
  answer: 'Claude',
  thinking: 'Thinking',
  tool_result: 'Result',
  error: 'Error',
  system: 'System',
};

/** The one-line gist of a tool call's input: the command, path or pattern it is about. */
function gist(input) {
  if (input === null || input === undefined) return '';
  if (typeof input !== 'object') return String(input);
  for (const k of ['command', 'file_path', 'notebook_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt']) {
    if (typeof input[k] === 'string' && input[k]) return input[k];
  }
  return JSON.stringify(input);
}

function clip(s, n) {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

export function fmtTokens(n) {
  if (!n) return '0';
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1000).toFixed(n < 10000 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export function fmtCost(usd) {
  if (typeof usd !== 'number' || !Number.isFinite(usd)) return '';
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/**
 * Renders `GET /api/runs/:id/transcript` answers into `root`, appending what is new on each
 * update (entries are derived from the run's events in order, so earlier ones do not change),
 * and filling a tool call's result in when it arrives.
 */
export class TranscriptView {
  constructor(root) {
    this.root = root;
    this.calls = new Map(); // tool_use_id → the call's result slot
    this.count = 0; // entries rendered (or skipped for the cap)
    this.lastSeq = -1; // sequence of the last rendered entry, to notice a changed history
    this.prompts = [];
    this.list = el('ol', 'tx-list');
    this.list.setAttribute('aria-label', 'Transcript');
    this.note = el('p', 'tx-note');
    this.note.hidden = true;
    this.empty = el('p', 'empty', 'No Claude transcript yet: it appears as Claude answers (stream-json on stdout).');
    root.append(this.note, this.list, this.empty);
  }

  /** Apply one transcript answer. Returns true if entries were added. */
  update(t) {
    const entries = Array.isArray(t && t.entries) ? t.entries : [];
    const seen = this.count > 0 && entries.length >= this.count ? entries[this.count - 1] : null;
    if (this.count > 0 && (!seen || seen.sequence !== this.lastSeq)) this.reset();
    const start = this.count;
    if (start === entries.length) return false;
    let from = start;
    if (entries.length - from > MAX_ENTRIES) from = entries.length - MAX_ENTRIES;
    // Entries over the cap are not drawn, but their prompts still count for recall.
    for (let i = start; i < from; i++) this.remember(entries[i]);
    const frag = document.createDocumentFragment();
    for (let i = from; i < entries.length; i++) {
      const e = entries[i];
      this.remember(e);
      const node = this.render(e);
      if (!node) continue;
      node.dataset.index = i;
      frag.append(node);
    }
    this.list.append(frag);
    this.count = entries.length;
    this.lastSeq = entries[entries.length - 1].sequence;
    let excess = this.list.childElementCount - MAX_ENTRIES;
    while (excess-- > 0) this.list.firstElementChild.remove();
    // Entries before the first one drawn were left out for the cap (a result drawn in its call
    // is not left out).
    const first = this.list.firstElementChild;
    const hidden = first ? Number(first.dataset.index) : 0;
    this.note.hidden = hidden <= 0;
    this.note.textContent = `The first ${hidden} entries are not shown here: the export has all of them.`;
    this.empty.hidden = this.count > 0;
    return true;
  }

  reset() {
    this.list.replaceChildren();
    this.calls.clear();
    this.prompts = [];
    this.count = 0;
    this.lastSeq = -1;
  }

  remember(e) {
    if (e.kind === 'prompt' && typeof e.text === 'string') this.prompts.push(e.text);
  }

  render(e) {
    const kind = String(e.kind).replace(/[^a-z_]/g, '');
    if (kind === 'tool_call') return this.renderCall(e);
    if (kind === 'tool_result' && e.tool_use_id && this.calls.has(e.tool_use_id)) {
      this.fillResult(this.calls.get(e.tool_use_id), e);
      return null;
    }
    const li = el('li', `tx tx-${kind}${e.is_error ? ' tx-bad' : ''}`);
    li.dataset.seq = e.sequence;
    const label = kind === 'tool_result' && e.tool ? `Result of ${e.tool}` : LABELS[kind] || kind;
    li.append(el('div', 'tx-label', label));
    const body = el('div', 'tx-text', e.text);
    if (kind === 'thinking') {
      const d = el('details', 'tx-more');
      d.append(el('summary', '', clip(String(e.text || ''), PREVIEW) || 'thinking'), body);
      li.append(d);
    } else {
      li.append(body);
    }
    return li;
  }

  renderCall(e) {
    const li = el('li', 'tx tx-tool_call');
    li.dataset.seq = e.sequence;
    const d = el('details', 'tx-call');
    const sum = el('summary');
    sum.append(el('span', 'tx-tool', e.tool || e.text || 'tool'), el('span', 'tx-gist', clip(gist(e.input), PREVIEW)));
    const status = el('span', 'tx-status', 'running…');
    sum.append(status);
    const input = el('pre', 'tx-input', e.input === undefined ? '' : JSON.stringify(e.input, null, 2));
    const result = el('pre', 'tx-result');
    result.hidden = true;
    d.append(sum, el('div', 'tx-sub', 'Input'), input, result);
    li.append(d);
    if (e.tool_use_id) this.calls.set(e.tool_use_id, { li, status, result, d });
    return li;
  }

  fillResult(slot, e) {
    slot.status.textContent = e.is_error ? 'error' : 'done';
    slot.li.classList.toggle('tx-bad', Boolean(e.is_error));
    if (!slot.result.hidden) return;
    slot.result.hidden = false;
    slot.result.before(el('div', 'tx-sub', e.is_error ? 'Result (error)' : 'Result'));
    slot.result.textContent = e.text || '(empty)';
  }
}
