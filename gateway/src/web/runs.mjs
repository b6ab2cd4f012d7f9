// The runs list: the live list stream (`/api/stream`), filters by status, agent and date, and a
// search box. Typing filters the loaded runs by name, id, prompt and directory at once; then the
// gateway is asked to search every run's name, prompt and transcript:
//
//   GET /api/search?q=<text>&status=<s>&agent=<a>&since=<ms>&limit=50
//   → {"hits": [{"run": <run summary, as GET /api/runs>, "field": "name"|"prompt"|"output",
//                "sequence": <event sequence or null>, "snippet": "<text around the match>"}]}

import { api } from './api.mjs';
import { $, el } from './dom.mjs';
import { TERMINAL, fmtAgo, fmtCost, fmtStamp, fmtTime, runDuration, shownStatus, statusLabel, clip } from './format.mjs';

const DAY = 86400e3;
const SINCE = { '': 0, hour: 3600e3, day: DAY, week: 7 * DAY, month: 30 * DAY };

export function badge(status) {
  return el('span', `badge s-${String(status).replace(/[^a-z_]/g, '')}`, statusLabel(status));
}

/** Whether a run passes the filters (pure). `q` is lower case. */
export function matches(r, { q = '', status = '', agent = '', since = 0 }, now = Date.now()) {
  if (status && shownStatus(r) !== status) return false;
  if (agent && r.agent !== agent) return false;
  if (since && !(r.created_at >= now - since)) return false;
  if (q && !`${r.name || ''} ${r.id} ${r.prompt || ''} ${r.cwd || ''}`.toLowerCase().includes(q)) return false;
  return true;
}

export class RunsList {
  /** `open(id, seq)` opens a run (at a line). */
  constructor(runs, open) {
    this.runs = runs;
    this.open = open;
    this.remote = null; // {q, hits} from the gateway's search, or null
    this.searchTimer = null;
    this.searchSeq = 0;
    $('runs-list').addEventListener('click', (ev) => {
      const row = ev.target.closest('.run-row');
      if (!row || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      ev.preventDefault();
      this.open(row.dataset.id, row.dataset.seq ? Number(row.dataset.seq) : null);
    });
    $('search').addEventListener('input', () => {
      this.render();
      this.searchSoon();
    });
    for (const id of ['status-filter', 'agent-filter', 'since-filter']) {
      $(id).addEventListener('change', () => {
        this.render();
        this.searchSoon(0);
      });
    }
  }

  filters() {
    return {
      q: $('search').value.trim().toLowerCase(),
      status: $('status-filter').value,
      agent: $('agent-filter').value,
      since: SINCE[$('since-filter').value] || 0,
    };
  }

  searchSoon(delay = 300) {
    clearTimeout(this.searchTimer);
    const q = $('search').value.trim();
    if (!q) {
      this.remote = null;
      $('search-note').textContent = '';
      return;
    }
    this.searchTimer = setTimeout(() => this.searchAll(q), delay);
  }

  async searchAll(q) {
    const seq = ++this.searchSeq;
    const f = this.filters();
    const params = new URLSearchParams({ q, limit: '50' });
    if (f.status) params.set('status', f.status);
    if (f.agent) params.set('agent', f.agent);
    if (f.since) params.set('since', String(Date.now() - f.since));
    try {
      const answer = await api('GET', `/api/search?${params}`);
      if (seq !== this.searchSeq) return;
      const hits = Array.isArray(answer && answer.hits) ? answer.hits.filter((h) => h && h.run && h.run.id) : [];
      this.remote = { q, hits };
      $('search-note').textContent = `${hits.length} match${hits.length === 1 ? '' : 'es'} across all runs`;
    } catch (e) {
      if (seq !== this.searchSeq) return;
      this.remote = null;
      $('search-note').textContent = `Search failed: ${e.message}`;
    }
    this.render();
  }

  /** The agents seen, for the agent filter (hidden while no run names one). */
  updateAgents() {
    const agents = [...new Set([...this.runs.values()].map((r) => r.agent).filter((a) => typeof a === 'string' && a))].sort();
    const select = $('agent-filter');
    select.hidden = agents.length === 0;
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.join('\n') === agents.join('\n')) return;
    const current = select.value;
    select.replaceChildren(Object.assign(el('option', '', 'All agents'), { value: '' }), ...agents.map((a) => Object.assign(el('option', '', a), { value: a })));
    select.value = agents.includes(current) ? current : '';
  }

  render() {
    this.updateAgents();
    const f = this.filters();
    const rows = new Map();
    for (const r of this.runs.values()) if (matches(r, f)) rows.set(r.id, { run: r, hit: null });
    if (this.remote && this.remote.q.toLowerCase() === f.q) {
      for (const h of this.remote.hits) {
        const known = this.runs.get(h.run.id) || h.run;
        if (!matches(known, { ...f, q: '' })) continue;
        const row = rows.get(h.run.id) || { run: known, hit: null };
        row.hit = row.hit || h;
        rows.set(h.run.id, row);
      }
    }
    const sorted = [...rows.values()].sort((a, b) => b.run.created_at - a.run.created_at);
    const frag = document.createDocumentFragment();
    for (const { run: r, hit } of sorted) frag.append(this.row(r, hit));
    $('runs-list').replaceChildren(frag);
    $('runs-empty').hidden = this.runs.size !== 0;
    $('runs-none').hidden = this.runs.size === 0 || sorted.length !== 0;
  }

  row(r, hit) {
    const row = el('a', 'run-row');
    row.href = `/runs/${r.id}${hit && hit.sequence ? `#L${hit.sequence}` : ''}`;
    row.dataset.id = r.id;
    if (hit && hit.sequence) row.dataset.seq = hit.sequence;
    row.setAttribute('role', 'row');
    const name = el('span', 'c-name');
    name.setAttribute('role', 'cell');
    name.append(el('b', '', r.name || r.id));
    if (r.name) name.append(el('small', 'mono', r.id));
    if (hit && hit.snippet) name.append(el('small', 'snippet', `${hit.field || 'match'}: ${clip(hit.snippet, 160)}`));
    const c = r.claude || {};
    const cell = (cls, text) => {
      const s = el('span', cls, text);
      s.setAttribute('role', 'cell');
      return s;
    };
    const status = cell('c-status');
    status.append(badge(shownStatus(r)));
    const dur = cell('c-dur', runDuration(r));
    if (!TERMINAL.has(r.status)) dur.dataset.live = '1';
    row.append(
      status,
      name,
      cell('c-cwd mono', r.cwd || '—'),
      cell('c-model mono', c.model || '—'),
      cell('c-start', fmtTime(r.created_at)),
      dur,
      // A plain command's run has a `claude` summary too (the runner brackets it in turns).
      cell('c-cost', c.session_id || c.model ? fmtCost(c.cost_usd) : '—'),
      cell('c-last', fmtAgo(r.last_event_at)),
    );
    row.querySelector('.c-start').title = fmtStamp(r.created_at);
    return row;
  }

  /** Once a second: the durations of running runs go on. */
  tick() {
    for (const cell of $('runs-list').querySelectorAll('.c-dur[data-live]')) {
      const r = this.runs.get(cell.parentElement.dataset.id);
      if (r) cell.textContent = runDuration(r);
    }
  }
}
