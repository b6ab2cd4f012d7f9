// A run's Claude transcript as a conversation, turn by turn: each turn collapsible under its
// prompt with its duration, tokens and cost; answers as Markdown; Edit/MultiEdit/Write calls as
// diffs; Bash calls as the command, its directory and its output; TodoWrite as a checklist;
// thinking and long results folded. Everything in a transcript came from Claude or the child: it
// reaches the page through textContent only (markdown.mjs, highlight.mjs).

import { el } from './dom.mjs';
import { clip, fmtCost, fmtDuration, fmtTokens, inputTokens } from './format.mjs';
import { gist } from './lines.mjs';
import { highlightInto } from './highlight.mjs';
import { loadMarkdown, renderMarkdown } from './markdown.mjs';
import { languageOf } from './tree.mjs';
import { diffStat } from './diff.mjs';
import { understand } from './toolcalls.mjs';

const MAX_ENTRIES = 1000; // entries one transcript keeps in the DOM; the export has them all
const PREVIEW = 120; // characters of a folded entry shown on its line
const LONG_LINES = 12; // a result longer than this is folded behind "Show all"
const LONG_CHARS = 2000;

const LABELS = {
  prompt: 'You',
  answer: 'Claude',
  thinking: 'Thinking',
  tool_result: 'Result',
  error: 'Error',
  system: 'System',
  permission_request: 'Approval asked',
  permission_decision: 'Decision',
};

/** "1.8s · 25k in · 49 out · $0.0503" for a turn's figures (a turn_finished marker). */
export function turnStats(f) {
  if (!f) return '';
  const parts = [];
  if (f.outcome && f.outcome !== 'success') parts.push(f.outcome);
  if (typeof f.durationMs === 'number') parts.push(fmtDuration(f.durationMs));
  if (f.usage) parts.push(`${fmtTokens(inputTokens(f.usage))} in · ${fmtTokens(f.usage.output_tokens)} out`);
  if (typeof f.costUsd === 'number') parts.push(fmtCost(f.costUsd));
  return parts.join(' · ');
}

/**
 * Renders `GET /api/runs/:id/transcript` answers into `root`, appending what is new on each
 * update (entries are derived from the run's events in order, so earlier ones do not change),
 * and filling a tool call's result in when it arrives.
 */
export class TranscriptView {
  constructor(root, { cwd = () => null } = {}) {
    this.root = root;
    this.cwd = cwd;
    this.calls = new Map(); // tool_use_id → the call's result slot
    this.count = 0; // entries rendered (or skipped for the cap)
    this.drawn = 0; // entries in the DOM
    this.lastSeq = -1; // sequence of the last rendered entry, to notice a changed history
    this.prompts = [];
    this.turns = []; // [{el, body, stats, start, figures, size}]
    this.turnCount = 0;
    this.skipped = 0;
    this.list = el('div', 'tx-list');
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
    let added = false;
    if (start < entries.length) {
      let from = start;
      if (entries.length - from > MAX_ENTRIES) from = entries.length - MAX_ENTRIES;
      // Entries over the cap are not drawn, but their prompts still count for recall.
      for (let i = start; i < from; i++) this.remember(entries[i]);
      this.skipped += from - start;
      for (let i = from; i < entries.length; i++) {
        this.remember(entries[i]);
        this.add(entries[i]);
      }
      this.count = entries.length;
      this.lastSeq = entries[entries.length - 1].sequence;
      this.cap();
      added = true;
    }
    this.figures(Array.isArray(t && t.turns) ? t.turns : []);
    this.note.hidden = !this.skipped;
    this.note.textContent = `The first ${this.skipped} entries are not shown here: the export has all of them.`;
    this.empty.hidden = this.count > 0;
    return added;
  }

  reset() {
    this.list.replaceChildren();
    this.calls.clear();
    this.prompts = [];
    this.turns = [];
    this.turnCount = 0;
    this.count = 0;
    this.drawn = 0;
    this.skipped = 0;
    this.lastSeq = -1;
  }

  remember(e) {
    if (e.kind === 'prompt' && typeof e.text === 'string') this.prompts.push(e.text);
  }

  /** Drop the oldest turns while more than MAX_ENTRIES entries are drawn (keep the last). */
  cap() {
    while (this.drawn > MAX_ENTRIES && this.turns.length > 1) {
      const t = this.turns.shift();
      this.drawn -= t.size;
      this.skipped += t.size;
      t.el.remove();
    }
  }

  // ---- turns ----

  openTurn(prompt, sequence) {
    const n = ++this.turnCount;
    const d = el('details', 'turn');
    d.open = true;
    const sum = el('summary', 'turn-head');
    const stats = el('span', 'turn-stats muted');
    sum.append(el('span', 'turn-n', `Turn ${n}`), el('span', 'turn-prompt', prompt ? clip(prompt.text, PREVIEW) : 'output'), stats);
    const body = el('div', 'turn-body');
    d.append(sum, body);
    this.list.append(d);
    const turn = { el: d, body, stats, start: sequence, figures: null, size: 0 };
    this.turns.push(turn);
    return turn;
  }

  /** Fill the turns' headers from the transcript's `turns` (one per turn_finished marker). */
  figures(list) {
    for (let i = 0; i < this.turns.length; i++) {
      const t = this.turns[i];
      if (t.figures) continue;
      const end = i + 1 < this.turns.length ? this.turns[i + 1].start : Infinity;
      const f = list.find((f) => f.sequence > t.start && f.sequence < end);
      if (!f) continue;
      t.figures = f;
      t.stats.textContent = turnStats(f);
      if (Number.isInteger(f.turn)) t.el.querySelector('.turn-n').textContent = `Turn ${f.turn}`;
      t.el.classList.toggle('turn-bad', f.outcome === 'failed');
    }
  }

  add(e) {
    const kind = String(e.kind).replace(/[^a-z_]/g, '');
    if (kind === 'prompt' || !this.turns.length) this.openTurn(kind === 'prompt' ? e : null, e.sequence);
    const turn = this.turns[this.turns.length - 1];
    if (kind === 'tool_result' && e.tool_use_id && this.calls.has(e.tool_use_id)) {
      this.fillResult(this.calls.get(e.tool_use_id), e);
      return;
    }
    const node = kind === 'tool_call' ? this.renderCall(e) : this.render(e, kind);
    turn.body.append(node);
    turn.size++;
    this.drawn++;
  }

  // ---- entries ----

  render(e, kind) {
    const div = el('div', `tx tx-${kind}${e.is_error ? ' tx-bad' : ''}`);
    div.dataset.seq = e.sequence;
    const label = kind === 'tool_result' && e.tool ? `Result of ${e.tool}` : LABELS[kind] || kind;
    div.append(el('div', 'tx-label', label));
    const text = String(e.text ?? '');
    if (kind === 'thinking') {
      const d = el('details', 'tx-more');
      d.append(el('summary', '', clip(text, PREVIEW) || 'thinking'), el('div', 'tx-text', text));
      div.append(d);
    } else if (kind === 'answer') {
      const body = el('div', 'tx-text md', text);
      div.append(body);
      loadMarkdown().then(
        (lex) => renderMarkdown(body, text, lex, (pre, code, src, lang) => highlightInto(code, src, lang)),
        () => {}, // the plain text stays
      );
    } else if (kind === 'tool_result') {
      div.append(this.output(text, 'tx-result'));
    } else {
      div.append(el('div', 'tx-text', text));
    }
    return div;
  }

  /** A tool's output, folded behind "Show all" when long. */
  output(text, cls) {
    const lines = text.split('\n');
    if (lines.length <= LONG_LINES && text.length <= LONG_CHARS) return el('pre', cls, text || '(empty)');
    const wrap = el('div', 'tx-long');
    const head = el('pre', `${cls} tx-head`, `${lines.slice(0, 6).join('\n').slice(0, 1000)}\n…`);
    const d = el('details', 'tx-more-out');
    d.append(el('summary', '', `Show all ${lines.length} lines (${text.length.toLocaleString()} characters)`), el('pre', cls, text));
    d.addEventListener('toggle', () => (head.hidden = d.open));
    wrap.append(head, d);
    return wrap;
  }

  renderCall(e) {
    const shape = understand(e, this.cwd());
    const div = el('div', `tx tx-tool_call shape-${shape.shape}`);
    div.dataset.seq = e.sequence;
    const d = el('details', 'tx-call');
    const sum = el('summary');
    const status = el('span', 'tx-status', 'running…');
    let body;
    switch (shape.shape) {
      case 'edit':
      case 'write': {
        const lines = shape.shape === 'write' ? shape.lines : shape.edits.flatMap((x) => x.lines);
        const { added, removed } = diffStat(lines);
        sum.append(el('span', 'tx-tool', e.tool), el('span', 'tx-gist', shape.path), el('span', 'tx-stat', `+${added} −${removed}`));
        body = shape.shape === 'write' ? this.diffBlock(shape.lines, shape.path) : el('div');
        if (shape.shape === 'edit') for (const x of shape.edits) body.append(this.diffBlock(x.lines, shape.path, x.replaceAll));
        d.open = true;
        break;
      }
      case 'bash': {
        sum.append(el('span', 'tx-tool', 'Bash'), el('span', 'tx-gist', `$ ${clip(shape.command, PREVIEW)}`));
        body = el('div', 'tx-bash');
        const meta = el('div', 'tx-sub');
        meta.textContent = [shape.description, shape.cwd && `in ${shape.cwd}`, shape.background && 'in the background'].filter(Boolean).join(' · ');
        body.append(meta, el('pre', 'tx-cmd', `$ ${shape.command}`));
        d.open = true;
        break;
      }
      case 'todo': {
        const done = shape.items.filter((i) => i.status === 'completed').length;
        sum.append(el('span', 'tx-tool', 'Todo'), el('span', 'tx-gist', `${done} of ${shape.items.length} done`));
        body = el('ul', 'tx-todo');
        for (const item of shape.items) {
          const li = el('li', `todo-${item.status}`);
          const box = el('input');
          box.type = 'checkbox';
          box.disabled = true;
          box.checked = item.status === 'completed';
          box.setAttribute('aria-label', item.status.replace('_', ' '));
          li.append(box, el('span', '', item.text));
          if (item.status === 'in_progress') li.append(el('span', 'muted', ' (in progress)'));
          body.append(li);
        }
        d.open = true;
        break;
      }
      default:
        sum.append(el('span', 'tx-tool', e.tool || e.text || 'tool'), el('span', 'tx-gist', clip(gist(e.input), PREVIEW)));
        body = el('div');
        body.append(el('div', 'tx-sub', 'Input'), el('pre', 'tx-input', e.input === undefined ? '' : JSON.stringify(e.input, null, 2)));
    }
    sum.append(status);
    const result = el('div', 'tx-result-slot');
    result.hidden = true;
    d.append(sum, body, result);
    div.append(d);
    if (e.tool_use_id) this.calls.set(e.tool_use_id, { div, status, result, d, shape: shape.shape });
    return div;
  }

  /** Diff lines (`{op, text, old, new}`) as a table-like block, code highlighted by the file's language. */
  diffBlock(lines, path, replaceAll = false) {
    const box = el('div', 'tx-diff');
    if (replaceAll) box.append(el('div', 'tx-sub', 'every occurrence'));
    const pre = el('pre', 'diff-lines');
    const lang = languageOf(path);
    for (const l of lines) {
      const row = el('span', `dl ${l.op === '+' ? 'd-add' : l.op === '-' ? 'd-del' : 'd-ctx'}`);
      row.append(el('span', 'dn', l.old ?? ''), el('span', 'dn', l.new ?? ''), el('span', 'dop', l.op));
      const code = el('span', 'dc', l.text);
      row.append(code, '\n');
      if (lang && l.text) highlightInto(code, l.text, lang);
      pre.append(row);
    }
    box.append(pre);
    return box;
  }

  fillResult(slot, e) {
    slot.status.textContent = e.is_error ? 'error' : 'done';
    slot.div.classList.toggle('tx-bad', Boolean(e.is_error));
    if (!slot.result.hidden) return;
    const text = String(e.text ?? '');
    // A successful edit's result only repeats the file name: the diff says it all.
    if (!e.is_error && (slot.shape === 'edit' || slot.shape === 'write' || slot.shape === 'todo')) return;
    slot.result.hidden = false;
    slot.result.append(el('div', 'tx-sub', e.is_error ? 'Result (error)' : slot.shape === 'bash' ? 'Output' : 'Result'), this.output(text, 'tx-result'));
  }
}

