// A run's output as a log: a window of at most MAX_LINES lines in the DOM, paged through the
// events API (`?before=` going up, `?after=` going down), line numbers that link to the line
// (`#L1234`), timestamps on demand, jumps to the start and the end, and live output drawn in
// batches, a few milliseconds of work per animation frame, so a flood never blocks the page.

import { api, runPath } from './api.mjs';
import { renderAnsi } from './ansi.mjs';
import { button, el } from './dom.mjs';
import { fmtClock, fmtStamp } from './format.mjs';
import { describeEvent, isFragment, joinFragment } from './lines.mjs';

export const PAGE = 500; // events per history request
export const MAX_LINES = 2000; // line elements kept in the DOM
const BUDGET_MS = 6; // rendering work per animation frame while output streams in
const FRAME_LINES = 200; // lines drawn per animation frame at most
const FLOOD = 1000; // lines waiting while following: a flood
const FLOOD_LINES = 100; // lines kept of a flood while following (a screenful or two)
const FLOOD_MS = 100; // drawn at most this often
const NEAR = 400; // pixels from an edge at which the next page is fetched

export class LogView {
  /**
   * `ctx`: `{tools, names}` for describing Claude lines and commands; `note(text)` shows a
   * message; `onTarget(seq)` is told when a line is linked.
   */
  constructor(runId, ctx, { note, onTarget }) {
    this.id = runId;
    this.ctx = ctx;
    this.note = note;
    this.onTarget = onTarget;
    this.first = 0; // lowest sequence in the DOM (0: none)
    this.last = 0; // highest sequence in the DOM
    this.live = 0; // highest sequence received
    this.seen = 0; // highest sequence the reader has had on screen at the bottom
    this.atTail = true; // the DOM ends at `live` (and grows with it)
    this.stick = true; // follow new output: the reader is at the bottom
    this.loading = false;
    this.queue = [];
    this.frame = 0;
    this.floodDrawn = 0; // when a flood was last drawn
    this.raw = localStorage.getItem('gw.raw') === '1';
    this.expectScroll = -1; // the scrollTop this view set itself, to tell it from the reader's
    this.build();
  }

  build() {
    const wrap = el('div', 'term-wrap');
    const bar = el('div', 'log-bar');
    this.timesBox = this.toggle('Timestamps', 'gw.ts', (on) => this.term.classList.toggle('show-ts', on));
    this.rawBox = this.toggle('Raw JSON', 'gw.raw', (on) => {
      this.raw = on;
      this.rerender();
    });
    this.rawBox.hidden = true; // shown for Claude runs
    const start = button('ghost small', '⇤ Start', () => this.jumpToStart());
    start.title = 'Jump to the first line of the run';
    const end = button('ghost small', 'End ⇥', () => this.jumpToTail());
    end.title = 'Jump to the newest line';
    this.searchSlot = el('span', 'search-slot');
    bar.append(this.searchSlot, this.timesBox, this.rawBox, start, end);

    this.term = el('div', 'term');
    this.term.tabIndex = 0;
    this.term.setAttribute('role', 'log');
    this.term.setAttribute('aria-label', 'Run output');
    this.term.classList.toggle('show-ts', localStorage.getItem('gw.ts') === '1');
    this.topNote = el('div', 'term-note', '');
    this.lines = el('div', 'lines');
    this.term.append(this.topNote, this.lines);
    this.pill = button('jump', 'New output ↓', () => this.jumpToTail());
    this.pill.hidden = true;
    this.pillText = '';
    wrap.append(this.term, this.pill);
    this.term.addEventListener('scroll', () => this.onScroll(), { passive: true });
    // A line number tells its full time when pointed at (set then: formatting thousands of
    // dates per second of a flood would cost more than the lines themselves).
    this.lines.addEventListener('mouseover', (ev) => {
      const a = ev.target.closest && ev.target.closest('a.ln-n');
      if (a && !a.title) a.title = fmtStamp(a.parentElement._event.ts);
    });
    this.lines.addEventListener('click', (ev) => {
      const a = ev.target.closest('a.ln-n');
      if (!a || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      ev.preventDefault();
      this.mark(Number(a.parentElement.dataset.seq));
    });
    this.bar = bar;
    this.root = el('div', 'log-pane');
    this.root.append(bar, wrap);
  }

  toggle(label, key, apply) {
    const b = button('ghost small toggle', label);
    const set = (on) => {
      b.setAttribute('aria-pressed', String(on));
      localStorage.setItem(key, on ? '1' : '0');
      apply(on);
    };
    b.setAttribute('aria-pressed', String(localStorage.getItem(key) === '1'));
    b.addEventListener('click', () => set(b.getAttribute('aria-pressed') !== 'true'));
    return b;
  }

  /** Show the Raw JSON toggle (a Claude run's stdout is stream-json). */
  setClaude(on) {
    this.rawBox.hidden = !on;
  }

  // ---- drawing lines ----

  /** A line element for event `e`; `prev`, the element before it, is drawn over when it is a
   *  fragment of the same stream (a progress bar): this line shows what it left, joined. */
  line(e, prev = null) {
    const d = describeEvent(e, this.ctx, this.raw);
    let text = d.text;
    const over = prev && prev._frag !== undefined && prev._event.type === e.type && d.ansi ? prev : null;
    if (over) {
      text = joinFragment(over._frag, text);
      over.classList.add('ln-over');
    }
    const div = document.createElement('div');
    div.className = `ln k-${d.kind}`;
    div.dataset.seq = e.sequence;
    if (e.ts) div.dataset.t = fmtClock(e.ts);
    div._event = e;
    const n = document.createElement('a');
    n.className = 'ln-n';
    n.href = `#L${e.sequence}`;
    n.tabIndex = -1;
    n.textContent = e.sequence;
    const x = document.createElement('span');
    x.className = 'ln-x';
    if (d.label) {
      const l = document.createElement('span');
      l.className = 'ln-l';
      l.textContent = d.label;
      x.append(l, ' ');
    }
    if (d.ansi) renderAnsi(x, text);
    else x.append(text);
    if (d.ansi && isFragment(e)) div._frag = text;
    div.append(n, x);
    return div;
  }

  /** Line elements for `events` in order, the first following `prev`. */
  lineRun(events, prev, frag) {
    for (const e of events) {
      prev = this.line(e, prev);
      frag.append(prev);
    }
    return prev;
  }

  /** Draw every line again (after the raw toggle). */
  rerender() {
    const frag = document.createDocumentFragment();
    let prev = null;
    for (const d of [...this.lines.children]) {
      prev = this.line(d._event, prev);
      frag.append(prev);
    }
    this.lines.replaceChildren(frag);
    if (this.stick) this.scrollToBottom();
  }

  appendLines(events) {
    if (!events.length) return;
    const frag = document.createDocumentFragment();
    this.lineRun(events, this.lines.lastElementChild, frag);
    this.lines.append(frag);
    if (!this.first) this.first = events[0].sequence;
    this.last = events[events.length - 1].sequence;
  }

  /** Replace the window with `events` (ascending). */
  replace(events) {
    this.lines.replaceChildren();
    this.first = 0;
    this.last = 0;
    this.appendLines(events);
    if (!events.length) this.last = this.live;
    this.updateEdge();
  }

  // ---- live output ----

  /** One event from the live stream (in sequence order, each once). Cheap: no DOM here. */
  receive(e) {
    this.live = e.sequence;
    if (!this.atTail) return this.updatePill();
    this.queue.push(e);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    if (!this.queue.length) return;
    const started = performance.now();
    if (this.stick && this.queue.length > FLOOD) {
      // Following a flood: only the newest lines can be seen; drawing the rest would only
      // stall the page. They are paged in from the gateway if the reader scrolls up. The view
      // is redrawn at most every FLOOD_MS meanwhile.
      this.queue = this.queue.slice(-FLOOD_LINES);
      if (started - this.floodDrawn < FLOOD_MS) {
        this.frame = requestAnimationFrame(() => this.flush());
        return;
      }
      this.floodDrawn = started;
      this.lines.replaceChildren();
      this.first = 0;
    }
    let room = Math.min(FRAME_LINES, this.stick ? Infinity : MAX_LINES - this.lines.childElementCount);
    const frag = document.createDocumentFragment();
    let i = 0;
    let firstSeq = 0;
    let prev = this.lines.lastElementChild;
    for (; i < this.queue.length && room > 0; i++, room--) {
      const e = this.queue[i];
      if (!firstSeq) firstSeq = e.sequence;
      prev = this.line(e, prev);
      frag.append(prev);
      if ((i & 31) === 31 && performance.now() - started > BUDGET_MS) {
        i++;
        break;
      }
    }
    const drawn = this.queue.splice(0, i);
    if (drawn.length) {
      this.lines.append(frag);
      if (!this.first) this.first = firstSeq;
      this.last = drawn[drawn.length - 1].sequence;
    }
    if (this.stick) {
      this.trimTop();
      this.scrollToBottom();
      this.seen = this.last;
    } else if (this.lines.childElementCount >= MAX_LINES && this.queue.length) {
      // The reader is reading: stop growing the window, offer a jump.
      this.queue = [];
      this.atTail = false;
    }
    this.updateEdge();
    this.updatePill();
    if (this.queue.length) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Remove the lines above the newest MAX_LINES; a reader who is not following keeps the
   *  lines they are reading where they are. */
  trimTop() {
    const excess = this.lines.childElementCount - MAX_LINES;
    if (excess <= 0) return;
    const before = this.term.scrollHeight;
    if (excess > MAX_LINES / 2) {
      // Cheaper to keep the tail than to remove the head one by one.
      const keep = [...this.lines.children].slice(excess);
      this.lines.replaceChildren(...keep);
    } else {
      const range = document.createRange();
      range.setStartBefore(this.lines.firstElementChild);
      range.setEndAfter(this.lines.children[excess - 1]);
      range.deleteContents();
    }
    this.first = Number(this.lines.firstElementChild.dataset.seq);
    if (!this.stick) this.term.scrollTop -= before - this.term.scrollHeight;
  }

  trimBottom() {
    const excess = this.lines.childElementCount - MAX_LINES;
    if (excess <= 0) return;
    const range = document.createRange();
    range.setStartBefore(this.lines.children[MAX_LINES]);
    range.setEndAfter(this.lines.lastElementChild);
    range.deleteContents();
    this.last = Number(this.lines.lastElementChild.dataset.seq);
    this.atTail = false;
  }

  updateEdge() {
    this.term.classList.toggle('has-earlier', this.first > 1);
  }

  scrollToBottom() {
    const t = this.term;
    this.expectScroll = Math.max(0, t.scrollHeight - t.clientHeight);
    t.scrollTop = this.expectScroll;
  }

  /** The pill: only while the reader is away from the live bottom; it counts the lines that
   *  arrived since the reader was last there, never older ones. DOM touched only on change. */
  updatePill() {
    const away = !(this.atTail && this.stick);
    const unseen = Math.max(0, this.live - this.seen);
    const text = away ? (unseen > 0 ? `New output (${unseen.toLocaleString()}) ↓` : 'Latest ↓') : '';
    if (text === this.pillText) return;
    this.pillText = text;
    this.pill.hidden = !away;
    if (away) this.pill.textContent = text;
  }

  onScroll() {
    const t = this.term;
    const bottom = t.scrollTop + t.clientHeight >= t.scrollHeight - 24;
    if (this.expectScroll >= 0 && Math.abs(t.scrollTop - this.expectScroll) <= 1) {
      // Our own scroll to the bottom: nothing the reader did, nothing to load.
      this.expectScroll = -1;
      return;
    } else {
      this.expectScroll = -1;
      this.stick = this.atTail && bottom;
      if (this.stick) this.seen = this.live;
    }
    this.updatePill();
    if (this.loading) return;
    if (t.scrollTop < NEAR && this.first > 1) this.loadEarlier();
    else if (!this.atTail && t.scrollTop + t.clientHeight >= t.scrollHeight - NEAR) this.loadLater();
  }

  // ---- paging ----

  async page(query) {
    return api('GET', runPath(this.id, `/events?${query}`));
  }

  async loadEarlier() {
    this.loading = true;
    try {
      const page = await this.page(`before=${this.first}&limit=${PAGE}`);
      const events = page.events.filter((e) => e.sequence < this.first);
      if (events.length) {
        const t = this.term;
        const height = t.scrollHeight;
        const frag = document.createDocumentFragment();
        this.lineRun(events, null, frag);
        this.lines.prepend(frag);
        this.first = events[0].sequence;
        t.scrollTop += t.scrollHeight - height;
        this.trimBottom();
      } else {
        this.first = 1;
      }
      this.updateEdge();
      this.updatePill();
    } catch (e) {
      this.note(`Could not load earlier output: ${e.message}`);
    } finally {
      this.loading = false;
    }
  }

  async loadLater() {
    this.loading = true;
    try {
      const page = await this.page(`after=${this.last}&limit=${PAGE}`);
      const events = page.events.filter((e) => e.sequence > this.last);
      this.appendLines(events);
      this.live = Math.max(this.live, this.last, page.last_sequence || 0);
      this.atTail = this.last >= this.live;
      this.trimTop();
      this.updateEdge();
      this.updatePill();
    } catch (e) {
      this.note(`Could not load output: ${e.message}`);
    } finally {
      this.loading = false;
    }
  }

  /** The newest lines, following from there. */
  async jumpToTail() {
    if (this.atTail) {
      this.stick = true;
      this.seen = this.live;
      this.scrollToBottom();
      this.updatePill();
      return;
    }
    this.loading = true;
    try {
      const page = await this.page(`before=${this.live + 1}&limit=${PAGE}`);
      this.live = Math.max(this.live, page.last_sequence || 0);
      this.queue = [];
      this.replace(page.events);
      this.atTail = true;
      this.stick = true;
      this.seen = this.live;
      this.scrollToBottom();
      this.updatePill();
    } catch (e) {
      this.note(`Could not load output: ${e.message}`);
    } finally {
      this.loading = false;
    }
  }

  async jumpToStart() {
    await this.openAt(1, { highlight: false });
    this.term.scrollTop = 0;
  }

  /** Load the window around sequence `seq` and scroll it into the middle of the view. */
  async openAt(seq, { highlight = true } = {}) {
    this.loading = true;
    try {
      const from = Math.max(0, seq - Math.floor(PAGE / 2));
      const page = await this.page(`after=${from}&limit=${PAGE}`);
      this.live = Math.max(this.live, page.last_sequence || 0);
      this.queue = [];
      this.replace(page.events);
      this.atTail = this.last >= this.live;
      this.stick = false;
      this.updatePill();
      const line = this.lineAt(seq);
      if (line) {
        this.expectScroll = -1;
        line.scrollIntoView({ block: 'center' });
        if (highlight) this.mark(seq, false);
      }
      return line;
    } catch (e) {
      this.note(`Could not load output: ${e.message}`);
      return null;
    } finally {
      this.loading = false;
    }
  }

  /** The element showing line `seq`: a progress bar's state drawn over shows in the line after. */
  lineAt(seq) {
    let line = this.lines.querySelector(`.ln[data-seq="${Number(seq)}"]`);
    while (line && line.classList.contains('ln-over') && line.nextElementSibling) line = line.nextElementSibling;
    return line;
  }

  /** Mark line `seq` as the linked one (the address says `#L<seq>`). */
  mark(seq, tell = true) {
    for (const old of this.lines.querySelectorAll('.ln.target')) old.classList.remove('target');
    const line = this.lineAt(seq);
    if (line) line.classList.add('target');
    if (tell) this.onTarget(seq);
  }
}
