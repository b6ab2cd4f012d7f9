// Search over a run's whole output, hit to hit. The gateway answers
//
//   GET /api/runs/:id/search?q=<text>&after=<sequence>&limit=<n>
//   → {"hits": [{"sequence", "type", "ts", "text"}], "next_after": <sequence> | null}
//
// (hits ascending, case-insensitive substring match over the line as a person reads it: escapes
// removed, Claude's lines and markers in words; `next_after` set when more hits follow).

import { api, runPath } from './api.mjs';
import { button, el } from './dom.mjs';

const LIMIT = 200;

export class LogSearch {
  constructor(runId, log) {
    this.id = runId;
    this.log = log;
    this.query = '';
    this.hits = []; // [{sequence, text}]
    this.next = null; // next_after for more hits, or null
    this.index = -1;
    const form = el('form', 'log-search');
    form.setAttribute('role', 'search');
    this.input = el('input');
    this.input.type = 'search';
    this.input.placeholder = 'Search this run';
    this.input.setAttribute('aria-label', 'Search this run');
    this.count = el('span', 'hits muted');
    this.count.setAttribute('aria-live', 'polite');
    this.prev = button('ghost small', '↑', () => this.step(-1));
    this.prev.setAttribute('aria-label', 'Previous match');
    this.nextButton = button('ghost small', '↓', () => this.step(1));
    this.nextButton.setAttribute('aria-label', 'Next match');
    form.append(this.input, this.count, this.prev, this.nextButton);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (this.input.value.trim() !== this.query) this.run(this.input.value.trim());
      else this.step(1);
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && ev.shiftKey) {
        ev.preventDefault();
        this.step(-1);
      } else if (ev.key === 'Escape') {
        this.input.value = '';
        this.run('');
      }
    });
    this.root = form;
    this.render();
  }

  async run(query) {
    this.query = query;
    this.hits = [];
    this.next = null;
    this.index = -1;
    this.clearMarks();
    if (!query) return this.render();
    this.count.textContent = 'Searching…';
    try {
      await this.fetchMore(0);
    } catch (e) {
      if (this.query === query) this.count.textContent = `Search failed: ${e.message}`;
      return;
    }
    if (this.query !== query) return;
    this.render();
    if (this.hits.length) this.go(0);
  }

  async fetchMore(after) {
    const q = encodeURIComponent(this.query);
    const page = await api('GET', runPath(this.id, `/search?q=${q}&after=${after}&limit=${LIMIT}`));
    const hits = Array.isArray(page && page.hits) ? page.hits : [];
    this.hits.push(...hits.filter((h) => Number.isInteger(h.sequence)));
    this.next = page && Number.isInteger(page.next_after) ? page.next_after : null;
  }

  async step(dir) {
    if (!this.hits.length) return;
    let i = this.index + dir;
    if (i >= this.hits.length && this.next !== null) {
      try {
        await this.fetchMore(this.next);
      } catch (e) {
        this.count.textContent = `Search failed: ${e.message}`;
        return;
      }
    }
    if (i >= this.hits.length) i = 0;
    if (i < 0) i = this.hits.length - 1;
    this.go(i);
  }

  async go(i) {
    this.index = i;
    this.render();
    const hit = this.hits[i];
    let line = this.log.lineAt(hit.sequence);
    if (line) {
      line.scrollIntoView({ block: 'center' });
      this.log.stick = false;
      this.log.updatePill();
    } else {
      line = await this.log.openAt(hit.sequence, { highlight: false });
    }
    this.clearMarks();
    if (line) this.markLine(line, true);
  }

  clearMarks() {
    for (const m of this.log.lines.querySelectorAll('.ln.hit')) m.classList.remove('hit', 'hit-current');
    for (const m of this.log.lines.querySelectorAll('mark.m')) m.replaceWith(...m.childNodes);
    this.log.lines.normalize();
  }

  /** Mark the line and the query's occurrences in its text (text nodes split, never HTML). */
  markLine(line, current) {
    line.classList.add('hit');
    if (current) line.classList.add('hit-current');
    const q = this.query.toLowerCase();
    if (!q) return;
    const walker = document.createTreeWalker(line.querySelector('.ln-x'), NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      let rest = node;
      for (;;) {
        const at = rest.data.toLowerCase().indexOf(q);
        if (at < 0) break;
        const match = rest.splitText(at);
        rest = match.splitText(q.length);
        const mark = document.createElement('mark');
        mark.className = 'm';
        match.replaceWith(mark);
        mark.append(match);
      }
    }
  }

  render() {
    const n = this.hits.length;
    const more = this.next !== null ? '+' : '';
    if (!this.query) this.count.textContent = '';
    else if (!n) this.count.textContent = 'No match';
    else this.count.textContent = `${this.index + 1} of ${n}${more}`;
    this.prev.disabled = n === 0;
    this.nextButton.disabled = n === 0;
  }
}
