// The gateway's web UI: sign-in, the runs list, new runs, and run tabs with a live terminal, the
// Claude transcript, a prompt box, commands, assist links and artifacts.
// Plain DOM, no framework. Everything a run printed is untrusted: it reaches the page only through
// textContent / createTextNode (see ansi.mjs), never as HTML; links from it are checked first.

import { renderAnsi } from './ansi.mjs';
import { TranscriptView, fmtCost, fmtTokens } from './transcript.mjs';
import { VIEW_LIMIT, readCapped, renderArtifact } from './viewer.mjs';

const PAGE = 500; // events per history request
const MAX_LINES = 2000; // line elements one terminal keeps in the DOM
const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// ---------- API ----------

let csrf = '';

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  let data = null;
  if (r.status !== 204) {
    const text = await r.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
  }
  if (!r.ok) {
    if (r.status === 401 && !path.startsWith('/api/session')) showLogin();
    throw new ApiError(r.status, data);
  }
  return data;
}

// ---------- formatting ----------

function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function fmtStamp(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '';
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

function fmtAgo(ms) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const TERMINAL = new Set(['finished', 'failed', 'stopped', 'incomplete']);

function runDuration(run) {
  const end = run.finished_at || (TERMINAL.has(run.status) ? run.last_event_at : null) || Date.now();
  return fmtDuration(end - run.created_at);
}

/** `waiting_for_input` → `Waiting for input`. */
function statusLabel(status) {
  const words = String(status).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function badge(status) {
  const b = el('span', `badge s-${String(status).replace(/[^a-z_]/g, '')}`, statusLabel(status));
  return b;
}

/** The status to show: a running session between turns is waiting for a prompt. */
function shownStatus(run) {
  if (!run) return 'unknown';
  return run.status === 'running' && run.claude && run.claude.between_turns ? 'waiting_for_input' : run.status;
}

/** A link target from run output or an assist event: only an absolute https URL. */
function httpsUrl(text) {
  try {
    const u = new URL(String(text));
    return u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Copy `text`; where the Clipboard API is refused, select `node` so the reader can copy it. */
async function copyText(text, node) {
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

function shellQuote(s) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------- state ----------

const runs = new Map(); // id → summary, from the list stream
const views = new Map(); // id → RunView
let tabs = [];
let active = 'runs';

function loadTabs() {
  try {
    const saved = JSON.parse(localStorage.getItem('gw.tabs') || '[]');
    tabs = Array.isArray(saved) ? saved.filter((t) => typeof t === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(t)) : [];
  } catch {
    tabs = [];
  }
  active = localStorage.getItem('gw.active') || 'runs';
  if (active !== 'runs' && !tabs.includes(active)) active = 'runs';
}

function saveTabs() {
  localStorage.setItem('gw.tabs', JSON.stringify(tabs));
  localStorage.setItem('gw.active', active);
}

// ---------- sign-in ----------

function showLogin() {
  for (const v of views.values()) v.disconnect();
  listStream.stop();
  $('shell').hidden = true;
  $('login').hidden = false;
  document.title = 'Sign in · claude-runner gateway';
  $('password').focus();
}

async function signedIn(token) {
  csrf = token;
  $('login').hidden = true;
  $('shell').hidden = false;
  loadTabs();
  const m = location.pathname.match(/^\/runs\/([A-Za-z0-9_-]{1,64})$/);
  if (m) {
    if (!tabs.includes(m[1])) tabs.push(m[1]);
    active = m[1];
  }
  listStream.start();
  activate(active, false);
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('login-error');
  err.textContent = '';
  const button = ev.target.querySelector('button');
  button.disabled = true;
  try {
    const r = await api('POST', '/api/session', { password: $('password').value });
    $('password').value = '';
    await signedIn(r.csrf);
  } catch (e) {
    err.textContent =
      e.status === 429 ? 'Too many attempts. Wait a minute and try again.' : e.status === 401 ? 'Wrong password.' : `Could not sign in: ${e.message}`;
  } finally {
    button.disabled = false;
  }
});

$('sign-out').addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/session');
  } finally {
    csrf = '';
    showLogin();
  }
});

// ---------- connection indicator ----------

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.querySelector('span').textContent = text;
}

// ---------- runs list ----------

const listStream = {
  es: null,
  retry: null,
  start() {
    this.stop();
    setConn('connecting', 'connecting');
    const es = new EventSource('/api/stream');
    this.es = es;
    es.addEventListener('runs', (ev) => {
      runs.clear();
      for (const r of JSON.parse(ev.data)) runs.set(r.id, r);
      setConn('live', 'live');
      changed();
    });
    es.addEventListener('run', (ev) => {
      const r = JSON.parse(ev.data);
      runs.set(r.id, r);
      changed(r.id);
    });
    es.onopen = () => setConn('live', 'live');
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        setConn('offline', 'offline');
        this.retry = setTimeout(() => recheck(), 3000);
      } else {
        setConn('connecting', 'reconnecting');
      }
    };
  },
  stop() {
    clearTimeout(this.retry);
    if (this.es) this.es.close();
    this.es = null;
  },
};

// After a stream was refused: still signed in? Then reconnect; else the login shows.
async function recheck() {
  try {
    const s = await api('GET', '/api/session');
    csrf = s.csrf;
    listStream.start();
  } catch (e) {
    if (e.status !== 401) listStream.retry = setTimeout(recheck, 5000);
  }
}

let renderQueued = false;
function changed(id) {
  if (id && views.has(id)) views.get(id).setRun(runs.get(id));
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderTabs();
    if (active === 'runs') renderRuns();
  });
}

function renderRuns() {
  const q = $('search').value.trim().toLowerCase();
  const status = $('status-filter').value;
  const list = $('runs-list');
  const rows = [];
  for (const r of runs.values()) {
    if (status && shownStatus(r) !== status) continue;
    if (q && !(`${r.name || ''} ${r.id}`.toLowerCase().includes(q))) continue;
    rows.push(r);
  }
  rows.sort((a, b) => b.created_at - a.created_at);
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    const row = el('a', 'run-row');
    row.href = `/runs/${r.id}`;
    row.dataset.id = r.id;
    row.setAttribute('role', 'row');
    const name = el('span', 'c-name');
    name.append(el('b', '', r.name || r.id));
    if (r.name) name.append(el('small', 'mono', r.id));
    const c = r.claude || {};
    row.append(
      wrapCell('c-status', badge(shownStatus(r))),
      name,
      el('span', 'c-cwd mono', r.cwd || '—'),
      el('span', 'c-model mono', c.model || '—'),
      el('span', 'c-start', fmtTime(r.created_at)),
      el('span', 'c-dur', runDuration(r)),
      el('span', 'c-cost', r.claude ? fmtCost(c.cost_usd) : '—'),
      el('span', 'c-last', fmtAgo(r.last_event_at)),
    );
    row.querySelector('.c-start').title = fmtStamp(r.created_at);
    frag.append(row);
  }
  list.replaceChildren(frag);
  $('runs-empty').hidden = runs.size !== 0;
}

function wrapCell(cls, child) {
  const s = el('span', cls);
  s.append(child);
  return s;
}

$('runs-list').addEventListener('click', (ev) => {
  const row = ev.target.closest('.run-row');
  if (!row || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  ev.preventDefault();
  openRun(row.dataset.id);
});
$('search').addEventListener('input', () => renderRuns());
$('status-filter').addEventListener('change', () => renderRuns());
setInterval(() => {
  if (!$('shell').hidden && active === 'runs') renderRuns();
}, 5000);

// ---------- tabs ----------

function renderTabs() {
  const nav = $('tabs');
  const frag = document.createDocumentFragment();
  const home = el('button', `tab${active === 'runs' ? ' active' : ''}`, 'Runs');
  home.type = 'button';
  home.dataset.tab = 'runs';
  frag.append(home);
  for (const id of tabs) {
    const r = runs.get(id);
    const t = el('div', `tab run-tab${active === id ? ' active' : ''}`);
    t.dataset.tab = id;
    const b = el('button', 'tab-open');
    b.type = 'button';
    b.dataset.tab = id;
    b.append(el('i', `dot s-${shownStatus(r)}`), el('span', '', (r && r.name) || id));
    b.title = (r && r.name) || id;
    const x = el('button', 'tab-close', '×');
    x.type = 'button';
    x.dataset.close = id;
    x.setAttribute('aria-label', `Close ${(r && r.name) || id}`);
    t.append(b, x);
    frag.append(t);
  }
  nav.replaceChildren(frag);
}

$('tabs').addEventListener('click', (ev) => {
  const close = ev.target.closest('[data-close]');
  if (close) return closeRun(close.dataset.close);
  const t = ev.target.closest('[data-tab]');
  if (t) activate(t.dataset.tab);
});

function openRun(id) {
  if (!tabs.includes(id)) tabs.push(id);
  activate(id);
}

function closeRun(id) {
  const i = tabs.indexOf(id);
  if (i < 0) return;
  tabs.splice(i, 1);
  const v = views.get(id);
  if (v) {
    v.disconnect();
    v.root.remove();
    views.delete(id);
  }
  activate(active === id ? tabs[Math.min(i, tabs.length - 1)] || 'runs' : active);
}

function activate(id, push = true) {
  active = id;
  saveTabs();
  for (const [vid, v] of views) if (vid !== id) v.hide();
  const url = id === 'runs' ? '/' : `/runs/${id}`;
  if (push && location.pathname !== url) history.pushState(null, '', url);
  $('runs-view').hidden = id !== 'runs';
  $('run-views').hidden = id === 'runs';
  if (id === 'runs') {
    document.title = 'Runs · claude-runner gateway';
    renderRuns();
  } else {
    let v = views.get(id);
    if (!v) {
      v = new RunView(id);
      views.set(id, v);
      $('run-views').append(v.root);
    }
    v.show();
  }
  renderTabs();
}

window.addEventListener('popstate', () => {
  const m = location.pathname.match(/^\/runs\/([A-Za-z0-9_-]{1,64})$/);
  if (m) openRun(m[1]);
  else activate('runs', false);
});

$('home').addEventListener('click', (ev) => {
  ev.preventDefault();
  activate('runs');
});

// ---------- new run ----------

const dialog = $('new-run');
let created = null;

$('new-run-open').addEventListener('click', () => {
  $('new-run-form').reset();
  $('new-run-form').hidden = false;
  $('new-run-done').hidden = true;
  $('nr-error').textContent = '';
  created = null;
  dialog.showModal();
  $('nr-name').focus();
});
$('nr-cancel').addEventListener('click', () => dialog.close());

$('new-run-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = {};
  for (const k of ['name', 'prompt', 'cwd']) {
    const v = $(`nr-${k}`).value.trim();
    if (v) body[k] = v;
  }
  $('nr-create').disabled = true;
  try {
    created = await api('POST', '/api/runs', body);
    const parts = ['claude-runner', 'start', '--run-id', created.run_id, '--token', created.token];
    if (body.cwd) parts.push('--cwd', shellQuote(body.cwd));
    parts.push('--cmd', shellQuote(body.prompt || 'your prompt'));
    $('nr-command').textContent = parts.join(' ');
    $('new-run-form').hidden = true;
    $('new-run-done').hidden = false;
  } catch (e) {
    $('nr-error').textContent = `Could not create the run: ${e.message}`;
  } finally {
    $('nr-create').disabled = false;
  }
});

$('nr-copy').addEventListener('click', async () => {
  if (await copyText($('nr-command').textContent, $('nr-command'))) $('nr-copy').textContent = 'Copied';
  setTimeout(() => ($('nr-copy').textContent = 'Copy'), 1500);
});

$('nr-open').addEventListener('click', () => {
  dialog.close();
  if (created) openRun(created.run_id);
  // Forget the token: it was shown once.
  $('nr-command').textContent = '';
  created = null;
});
dialog.addEventListener('close', () => {
  $('nr-command').textContent = '';
});

// ---------- the terminal ----------

function describeMarker(d) {
  if (!d || typeof d !== 'object') return `marker ${JSON.stringify(d)}`;
  switch (d.event) {
    case 'started': {
      const cmd = Array.isArray(d.command) ? d.command.join(' ') : String(d.command ?? '');
      return `▶ started ${cmd}${d.pid ? `  (pid ${d.pid})` : ''}${d.cwd ? `  in ${d.cwd}` : ''}`;
    }
    case 'finished': {
      const sig = d.signal ? `, signal ${d.signal}` : '';
      const dur = typeof d.durationMs === 'number' ? ` after ${fmtDuration(d.durationMs)}` : '';
      return `■ finished: exit ${d.exitCode ?? '?'}${sig}${dur}`;
    }
    case 'stop_requested':
      return `⏹ stop requested (${d.reason || 'unknown'})`;
    case 'stopped':
      return `⏹ stopped: ${d.outcome || ''}`;
    case 'redactions': {
      const parts = Object.entries(d.counts || {}).map(([k, v]) => `${k}×${v}`);
      return `🔒 redacted ${parts.join(', ') || 'nothing'}`;
    }
    case 'command_started':
      return `$ ${d.command ?? ''}`;
    case 'command_finished':
      return `● command ${d.id ?? ''} exited ${d.exitCode ?? '?'}${d.timedOut ? ' (timed out)' : ''}`;
    case 'command_refused':
      return `⊘ refused (not on the runner's allowlist): ${d.command ?? ''}`;
    default: {
      const { event, ...rest } = d;
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
      return `● ${event ?? 'marker'}${extra}`;
    }
  }
}

function renderLine(e) {
  const d = el('div', `ln k-${String(e.type).replace(/[^a-z]/g, '')}`);
  d.dataset.seq = e.sequence;
  d.title = `#${e.sequence} · ${fmtStamp(e.ts)}`;
  switch (e.type) {
    case 'stdout':
    case 'stderr':
      renderAnsi(d, typeof e.data === 'string' ? e.data : JSON.stringify(e.data));
      break;
    case 'info':
      d.textContent = `ℹ ${e.data}`;
      break;
    case 'error':
      d.textContent = `✖ ${e.data}`;
      break;
    case 'marker':
      d.textContent = describeMarker(e.data);
      break;
    case 'assist': {
      const a = e.data || {};
      d.textContent = a.closed ? `⇄ assist session closed (${a.reason || 'ended'})` : `⇄ assist: ${a.url || ''} ${a.web || ''}`;
      break;
    }
    default:
      d.textContent = JSON.stringify(e.data);
  }
  return d;
}

// Claude's stream-json lines, when they are on stdout, tell the model, turns and cost (for runs
// whose summary has no `claude` yet); a `session` marker says the run holds a Claude session.
function claudeFacts(e, facts) {
  if (e.type === 'marker' && e.data && e.data.event === 'session') {
    facts.session = true;
    return true;
  }
  if (e.type !== 'stdout' || typeof e.data !== 'string' || e.data[0] !== '{') return false;
  let j;
  try {
    j = JSON.parse(e.data);
  } catch {
    return false;
  }
  if (j.type === 'system' && j.subtype === 'init' && typeof j.model === 'string') {
    facts.model = j.model;
    return true;
  }
  if (j.type === 'result') {
    if (typeof j.total_cost_usd === 'number') facts.cost = j.total_cost_usd;
    if (typeof j.num_turns === 'number') facts.turns = j.num_turns;
    return true;
  }
  return false;
}

let allowlist = null;
async function builtinAllowlist() {
  if (!allowlist) {
    allowlist = fetch('/assets/allowlist.txt')
      .then((r) => (r.ok ? r.text() : ''))
      .then((t) => t.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  return allowlist;
}

class RunView {
  constructor(id) {
    this.id = id;
    this.run = null; // set by setRun (below, in build)
    this.first = 0; // lowest sequence in the DOM (0: none)
    this.last = 0; // highest sequence in the DOM
    this.live = 0; // highest sequence received
    this.atTail = true; // the DOM ends at `live`
    this.stick = true; // follow new output (the reader is at the bottom)
    this.loading = false;
    this.started = false;
    this.ended = false;
    this.es = null;
    this.queue = [];
    this.flushQueued = false;
    this.facts = {};
    this.retryDelay = 1000;
    this.build();
  }

  build() {
    const root = el('article', 'run-view');
    root.dataset.run = this.id;
    const head = el('header', 'run-head');
    this.title = el('h1', 'run-title', this.id);
    this.badge = el('span', 'badge');
    this.conn = el('span', 'conn small');
    this.conn.dataset.state = 'connecting';
    this.conn.append(el('i'), el('span', '', 'connecting'));
    this.assistBox = el('span', 'assist');
    this.assistBox.hidden = true;
    const titleRow = el('div', 'title-row');
    titleRow.append(this.badge, this.title, this.assistBox, this.conn);
    this.meta = el('dl', 'run-meta');
    this.controls = el('div', 'run-controls');
    head.append(titleRow, this.meta, this.controls);

    // Two panes over the same run: the raw terminal and the Claude conversation.
    const bar = el('div', 'pane-bar');
    bar.setAttribute('role', 'tablist');
    this.paneButtons = {};
    for (const [key, label] of [['terminal', 'Terminal'], ['transcript', 'Transcript']]) {
      const b = el('button', 'pane-tab', label);
      b.type = 'button';
      b.dataset.pane = key;
      b.setAttribute('role', 'tab');
      b.addEventListener('click', () => this.showPane(key));
      this.paneButtons[key] = b;
      bar.append(b);
    }
    this.txTotals = el('span', 'tx-totals');
    this.exports = el('span', 'exports');
    for (const ext of ['md', 'json']) {
      const a = el('a', 'mono', `.${ext}`);
      a.href = `/api/runs/${encodeURIComponent(this.id)}/transcript.${ext}`;
      a.download = `${this.id}-transcript.${ext}`;
      a.title = `Download the transcript as ${ext === 'md' ? 'Markdown' : 'JSON'}`;
      this.exports.append(a);
    }
    this.exports.prepend(el('span', 'muted', 'Export'));
    bar.append(this.txTotals, this.exports);

    const termWrap = el('div', 'term-wrap');
    this.term = el('div', 'term');
    this.term.tabIndex = 0;
    this.term.setAttribute('role', 'log');
    this.term.setAttribute('aria-label', 'Run output');
    this.topNote = el('div', 'term-note', '');
    this.lines = el('div', 'lines');
    this.term.append(this.topNote, this.lines);
    this.pill = el('button', 'jump', 'New output ↓');
    this.pill.type = 'button';
    this.pill.hidden = true;
    this.pill.addEventListener('click', () => this.jumpToTail());
    termWrap.append(this.term, this.pill);
    this.term.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.termWrap = termWrap;

    this.txPane = el('div', 'transcript');
    this.txPane.tabIndex = 0;
    this.tx = new TranscriptView(this.txPane);
    this.txLoaded = false;
    this.txDirty = true;
    this.txTimer = null;
    this.txBusy = false;

    this.promptBox = this.buildPromptBox();
    this.artifacts = el('section', 'artifacts');
    this.artifacts.hidden = true;
    root.append(head, bar, termWrap, this.txPane, this.promptBox, this.artifacts);
    this.root = root;
    this.assist = null; // the newest assist event's data
    this.showPane(localStorage.getItem('gw.pane') === 'transcript' ? 'transcript' : 'terminal', false);
    this.setRun(runs.get(this.id));
  }

  showPane(key, remember = true) {
    this.pane = key;
    if (remember) localStorage.setItem('gw.pane', key);
    for (const [k, b] of Object.entries(this.paneButtons)) {
      b.classList.toggle('active', k === key);
      b.setAttribute('aria-selected', String(k === key));
    }
    this.termWrap.hidden = key !== 'terminal';
    this.txPane.hidden = key !== 'transcript';
    this.exports.hidden = key !== 'transcript';
    if (key === 'terminal' && this.stick) this.scrollToBottom();
    if (key === 'transcript' && this.txDirty) this.refreshTranscript(0);
  }

  // ---- the transcript: fetched whole, drawn incrementally, refetched as the run speaks ----

  refreshTranscript(delay = 600) {
    this.txDirty = true;
    if (this.txTimer || this.root.hidden || (this.pane !== 'transcript' && this.txLoaded)) return;
    this.txTimer = setTimeout(() => this.fetchTranscript(), delay);
  }

  async fetchTranscript() {
    this.txTimer = null;
    if (this.txBusy) return this.refreshTranscript();
    this.txBusy = true;
    this.txDirty = false;
    try {
      const t = await api('GET', `/api/runs/${this.id}/transcript`);
      const pane = this.txPane;
      const atEnd = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 40;
      if (this.tx.update(t) && (atEnd || !this.txLoaded)) pane.scrollTop = pane.scrollHeight;
      this.txLoaded = true;
      this.renderTotals(t.summary || {});
    } catch (e) {
      if (e.status !== 401) this.note(`Could not load the transcript: ${e.message}`);
    } finally {
      this.txBusy = false;
    }
  }

  renderTotals(s) {
    const parts = [];
    if (s.model) parts.push(s.model);
    if (s.turns) parts.push(`${s.turns} turn${s.turns === 1 ? '' : 's'}`);
    const u = s.usage || {};
    if (u.input_tokens || u.output_tokens) {
      parts.push(`${fmtTokens(u.input_tokens + (u.cache_read_input_tokens || 0) + (u.cache_creation_input_tokens || 0))} in · ${fmtTokens(u.output_tokens)} out`);
    }
    if (s.cost_usd) parts.push(fmtCost(s.cost_usd));
    this.txTotals.textContent = parts.join('  ·  ');
  }

  // ---- the prompt box ----

  buildPromptBox() {
    const form = el('form', 'prompt-box');
    form.hidden = true;
    const ta = el('textarea', '');
    ta.rows = 1;
    ta.maxLength = 32768;
    ta.placeholder = matchMedia('(max-width: 700px)').matches
      ? 'Follow-up prompt'
      : 'Follow-up prompt: Enter sends, Shift+Enter adds a line, ↑ recalls earlier prompts';
    ta.setAttribute('aria-label', 'Follow-up prompt');
    const send = el('button', 'primary', 'Send');
    send.type = 'submit';
    form.append(ta, send);
    this.sent = []; // prompts sent from this page, until the transcript shows them
    this.recall = -1; // index into history() while recalling, -1 for the draft
    this.draft = '';
    const fit = () => {
      ta.style.height = 'auto';
      ta.style.height = `${Math.min(ta.scrollHeight + 2, 220)}px`;
    };
    ta.addEventListener('input', () => {
      this.recall = -1;
      fit();
    });
    ta.addEventListener('focus', () => {
      if (this.txDirty && !this.txLoaded) this.fetchTranscript();
    });
    ta.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      } else if (ev.key === 'ArrowUp' && !ta.value.slice(0, ta.selectionStart).includes('\n')) {
        const h = this.history();
        const i = this.recall < 0 ? h.length - 1 : this.recall - 1;
        if (i < 0 || !h.length) return;
        if (this.recall < 0) this.draft = ta.value;
        ev.preventDefault();
        this.recall = i;
        ta.value = h[i];
        fit();
        ta.setSelectionRange(0, 0);
      } else if (ev.key === 'ArrowDown' && this.recall >= 0 && !ta.value.slice(ta.selectionEnd).includes('\n')) {
        ev.preventDefault();
        const h = this.history();
        this.recall = this.recall + 1 < h.length ? this.recall + 1 : -1;
        ta.value = this.recall < 0 ? this.draft : h[this.recall];
        fit();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const prompt = ta.value;
      if (!prompt.trim()) return;
      if (await this.command({ kind: 'prompt', prompt }, send)) {
        this.sent.push(prompt);
        this.recall = -1;
        this.draft = '';
        ta.value = '';
        fit();
        this.note('Prompt queued: it runs as the next turn.');
      }
    });
    this.promptInput = ta;
    return form;
  }

  /** This run's earlier prompts, oldest first: the transcript's, then those sent since. */
  history() {
    const known = this.tx.prompts;
    const pending = this.sent.filter((p) => !known.includes(p));
    return [...known, ...pending];
  }

  // ---- assist ----

  noteAssist(e) {
    if (e.type !== 'assist' || !e.data || typeof e.data !== 'object') return;
    if (this.assist && this.assist.sequence > e.sequence) return;
    this.assist = { ...e.data, sequence: e.sequence };
    this.renderAssist();
  }

  renderAssist() {
    const a = this.assist;
    const box = this.assistBox;
    box.hidden = !a;
    if (!a) return;
    const ended = this.run && TERMINAL.has(this.run.status);
    if (a.closed || ended || !a.url) {
      const why = a.closed ? a.reason || 'closed' : 'run ended';
      box.replaceChildren(el('span', 'assist-closed', `Assist closed (${String(why).replace(/_/g, ' ')})`));
      box.dataset.state = 'closed';
      return;
    }
    box.dataset.state = 'open';
    const parts = [el('span', 'assist-label', 'Assist')];
    const web = httpsUrl(a.web);
    if (web) {
      const link = el('a', 'assist-web', 'Open in browser');
      link.href = web;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      parts.push(link);
    }
    const ssh = el('code', 'assist-ssh', a.url);
    const copy = el('button', 'chip', 'Copy ssh');
    copy.type = 'button';
    copy.addEventListener('click', async () => {
      copy.textContent = (await copyText(String(a.url), ssh)) ? 'Copied' : 'Selected';
      setTimeout(() => (copy.textContent = 'Copy ssh'), 1500);
    });
    parts.push(ssh, copy);
    if (a.expires_at) ssh.title = `Expires ${fmtStamp(a.expires_at)}`;
    box.replaceChildren(...parts);
  }

  setRun(run) {
    if (!run) return;
    const was = this.run && this.run.status;
    this.run = run;
    this.title.textContent = run.name || run.id;
    const status = shownStatus(run);
    this.badge.className = `badge s-${status}`;
    this.badge.textContent = statusLabel(status);
    if (active === this.id) document.title = `${run.name || run.id} · ${status.replace(/_/g, ' ')}`;
    this.renderMeta();
    if (was !== run.status) {
      this.renderControls();
      this.renderAssist();
      if (TERMINAL.has(run.status)) this.loadArtifacts();
    }
    this.updateSession();
  }

  renderMeta() {
    const r = this.run;
    if (!r) return;
    const c = r.claude;
    const items = [
      ['Run', r.id, 'mono'],
      ['Directory', r.cwd || '—', 'mono'],
      ['Started', fmtTime(r.created_at), ''],
      ['Duration', runDuration(r), ''],
    ];
    if (r.exit_code !== null && r.exit_code !== undefined) items.push(['Exit', r.exit_code, 'mono']);
    const model = (c && c.model) || this.facts.model;
    if (model) items.push(['Model', model, 'mono']);
    if (c) {
      items.push(['Turns', c.turns, '']);
      items.push(['Tokens', `${fmtTokens(c.input_tokens)} in · ${fmtTokens(c.output_tokens)} out`, '']);
      items.push(['Cost', fmtCost(c.cost_usd), 'mono']);
    } else {
      if (this.facts.turns !== undefined) items.push(['Turns', this.facts.turns, '']);
      if (this.facts.cost !== undefined) items.push(['Cost', fmtCost(this.facts.cost), 'mono']);
    }
    const frag = document.createDocumentFragment();
    for (const [k, v, cls] of items) {
      const d = el('div', `m-${k.toLowerCase()}`);
      d.append(el('dt', '', k), el('dd', cls, v));
      frag.append(d);
    }
    this.meta.replaceChildren(frag);
  }

  isSession() {
    return Boolean((this.run && this.run.claude && this.run.claude.session_id) || this.facts.session);
  }

  /** Interrupt, End session and the prompt box: for a Claude session that is still running. */
  updateSession() {
    const on = Boolean(this.run && this.run.status === 'running' && this.isSession());
    if (this.sessionBox) this.sessionBox.hidden = !on;
    this.promptBox.hidden = !on;
  }

  async renderControls() {
    const running = this.run && !TERMINAL.has(this.run.status);
    this.controls.replaceChildren();
    this.sessionBox = null;
    if (!running) return this.updateSession();
    const stop = el('button', 'danger', 'Stop');
    stop.type = 'button';
    stop.addEventListener('click', () => this.stop(stop));
    const form = el('form', 'exec');
    const input = el('input', 'mono');
    input.name = 'command';
    input.placeholder = 'allowlisted command, e.g. git status';
    input.setAttribute('aria-label', 'Command to run');
    input.setAttribute('list', `allow-${this.id}`);
    const list = el('datalist');
    list.id = `allow-${this.id}`;
    const send = el('button', 'ghost', 'Run');
    send.type = 'submit';
    form.append(input, list, send);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const command = input.value.trim();
      if (command) this.command({ kind: 'exec', command }, send).then((ok) => ok && (input.value = ''));
    });
    const quick = el('div', 'quick');
    const session = el('span', 'session-controls');
    const interrupt = el('button', '', 'Interrupt');
    interrupt.type = 'button';
    interrupt.title = 'End the current turn (SIGINT); the session goes on';
    interrupt.addEventListener('click', async () => {
      if (await this.command({ kind: 'interrupt' }, interrupt)) this.note('Interrupt sent: the current turn ends.');
    });
    const end = el('button', '', 'End session');
    end.type = 'button';
    end.title = 'Interrupt the turn, drop queued prompts and end the session';
    end.addEventListener('click', async () => {
      if (!confirm(`End the Claude session of "${(this.run && this.run.name) || this.id}"? The current turn is interrupted and queued prompts are dropped.`)) return;
      if (await this.command({ kind: 'end_session' }, end)) end.textContent = 'Ending…';
    });
    session.append(interrupt, end);
    this.sessionBox = session;
    this.controls.append(form, quick, session, stop);
    this.updateSession();
    const cmds = await builtinAllowlist();
    for (const c of cmds) list.append(Object.assign(el('option'), { value: c }));
    for (const c of ['git status', 'git diff', 'cargo test', 'npm test'].filter((c) => cmds.includes(c))) {
      const b = el('button', 'chip mono', c);
      b.type = 'button';
      b.addEventListener('click', () => this.command({ kind: 'exec', command: c }, b));
      quick.append(b);
    }
  }

  async command(body, button) {
    button.disabled = true;
    try {
      await api('POST', `/api/runs/${this.id}/commands`, body);
      return true;
    } catch (e) {
      this.note(`Could not send: ${e.message}`);
      return false;
    } finally {
      button.disabled = false;
    }
  }

  async stop(button) {
    if (!confirm(`Stop "${(this.run && this.run.name) || this.id}"? Claude gets SIGINT, then SIGKILL after 10 s.`)) return;
    if (await this.command({ kind: 'stop' }, button)) button.textContent = 'Stopping…';
  }

  // ---- artifacts ----

  /** List the run's artifacts. A run that has ended uploads claude.log last: ask again until it is there. */
  async loadArtifacts(attempt = 0) {
    clearTimeout(this.artifactTimer);
    let items;
    try {
      const list = await api('GET', `/api/runs/${this.id}/artifacts`);
      items = Array.isArray(list) ? list : [];
    } catch {
      return;
    }
    const ended = this.run && TERMINAL.has(this.run.status);
    if (ended && attempt < 6 && !items.some((a) => a.name === 'claude.log')) {
      this.artifactTimer = setTimeout(() => this.loadArtifacts(attempt + 1), 500 * 2 ** attempt);
    }
    if (!items.length) return;
    const ul = el('ul');
    for (const a of items) {
      const li = el('li');
      const href = `/api/runs/${encodeURIComponent(this.id)}/artifacts/${encodeURIComponent(a.name)}`;
      const link = el('a', 'mono', a.name);
      link.href = href;
      link.download = a.name;
      const view = el('button', 'chip', 'View');
      view.type = 'button';
      view.dataset.artifact = a.name;
      view.addEventListener('click', () => openViewer(href, a));
      li.append(link, el('span', 'muted', fmtSize(a.size)), view);
      ul.append(li);
    }
    this.artifacts.replaceChildren(el('h2', '', 'Artifacts'), ul);
    this.artifacts.hidden = false;
  }

  loadArtifactsSoon() {
    clearTimeout(this.artifactTimer);
    this.artifactTimer = setTimeout(() => this.loadArtifacts(), 800);
  }

  note(text) {
    this.topNote.textContent = text;
    this.topNote.classList.add('show');
    clearTimeout(this.noteTimer);
    this.noteTimer = setTimeout(() => this.topNote.classList.remove('show'), 6000);
  }

  setConn(state, text) {
    this.conn.dataset.state = state;
    this.conn.querySelector('span').textContent = text;
  }

  show() {
    this.root.hidden = false;
    if (this.pane === 'transcript' && this.txDirty) this.refreshTranscript(0);
    if (this.run) document.title = `${this.run.name || this.id} · ${this.run.status}`;
    if (!this.started) {
      this.started = true;
      this.open();
    } else if (!this.es && !this.ended) {
      this.connect();
    }
  }

  hide() {
    this.root.hidden = true;
    this.disconnect();
  }

  disconnect() {
    clearTimeout(this.retry);
    if (this.es) this.es.close();
    this.es = null;
  }

  // First open: the run, the tail of its output, then the live stream from there.
  async open() {
    try {
      const run = await api('GET', `/api/runs/${this.id}`);
      runs.set(run.id, { ...(runs.get(run.id) || {}), ...run });
      this.setRun(run);
      const page = await api('GET', `/api/runs/${this.id}/events?before=${run.last_sequence + 1}&limit=${PAGE}`);
      this.replace(page.events);
      this.live = this.last;
      this.scrollToBottom();
      this.connect();
      if (!TERMINAL.has(run.status)) this.loadArtifacts();
    } catch (e) {
      if (e.status === 404) this.note('No such run.');
      else if (e.status !== 401) {
        this.note(`Could not load the run: ${e.message}`);
        this.started = false;
      }
    }
  }

  connect() {
    this.disconnect();
    this.setConn('connecting', 'connecting');
    const es = new EventSource(`/api/runs/${encodeURIComponent(this.id)}/stream?after=${this.live}`);
    this.es = es;
    es.onopen = () => {
      this.retryDelay = 1000;
      this.setConn('live', 'live');
    };
    es.onmessage = (ev) => this.receive(JSON.parse(ev.data));
    es.addEventListener('end', () => {
      es.close();
      this.es = null;
      this.ended = true;
      this.setConn('ended', 'ended');
      api('GET', `/api/runs/${this.id}`).then((r) => this.setRun(r), () => {});
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (signed out, gateway error): check the session, then try again.
        this.es = null;
        this.setConn('offline', 'offline');
        this.retry = setTimeout(async () => {
          try {
            const s = await api('GET', '/api/session');
            csrf = s.csrf;
            if (active === this.id) this.connect();
          } catch (e) {
            if (e.status !== 401 && active === this.id) this.connect();
          }
        }, this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, 15000);
      } else {
        this.setConn('connecting', 'reconnecting');
      }
    };
  }

  receive(e) {
    if (e.sequence <= this.live) return; // already have it
    this.live = e.sequence;
    if (claudeFacts(e, this.facts)) {
      this.renderMeta();
      this.updateSession();
    }
    this.noteAssist(e);
    const ev = e.type === 'marker' && e.data ? e.data.event : null;
    if (['finished', 'files', 'file'].includes(ev) || (e.type === 'info' && /latest\.diff/.test(String(e.data)))) this.loadArtifactsSoon();
    if (e.type === 'error' || e.type === 'marker' || (e.type === 'stdout' && String(e.data).startsWith('{'))) this.refreshTranscript();
    if (!this.atTail) return this.updatePill();
    this.queue.push(e);
    if (!this.flushQueued) {
      this.flushQueued = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  flush() {
    this.flushQueued = false;
    let batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    if (this.stick) {
      // Following: only the newest MAX_LINES can end up in the DOM anyway.
      if (batch.length >= MAX_LINES) {
        batch = batch.slice(-MAX_LINES);
        this.lines.replaceChildren();
        this.first = 0;
      }
      this.appendLines(batch);
      this.trimTop();
      this.updateEdge();
      this.scrollToBottom();
    } else {
      const room = MAX_LINES - this.lines.childElementCount;
      this.appendLines(batch.slice(0, Math.max(0, room)));
      if (batch.length > room) {
        this.atTail = false; // the reader is reading: stop growing, offer a jump
        this.updatePill();
      }
    }
  }

  appendLines(events) {
    if (!events.length) return;
    const frag = document.createDocumentFragment();
    for (const e of events) frag.append(renderLine(e));
    this.lines.append(frag);
    if (!this.first) this.first = events[0].sequence;
    this.last = events[events.length - 1].sequence;
  }

  replace(events) {
    this.lines.replaceChildren();
    this.first = 0;
    this.last = 0;
    for (const e of events) {
      claudeFacts(e, this.facts);
      this.noteAssist(e);
    }
    this.renderMeta();
    this.updateSession();
    this.appendLines(events);
    if (!events.length) this.last = this.live;
    this.updateEdge();
  }

  trimTop() {
    const excess = this.lines.childElementCount - MAX_LINES;
    if (excess <= 0) return;
    const before = this.term.scrollHeight;
    for (let i = 0; i < excess; i++) this.lines.firstElementChild.remove();
    this.first = Number(this.lines.firstElementChild.dataset.seq);
    if (!this.stick) this.term.scrollTop -= before - this.term.scrollHeight;
    this.updateEdge();
  }

  trimBottom() {
    const excess = this.lines.childElementCount - MAX_LINES;
    if (excess <= 0) return;
    for (let i = 0; i < excess; i++) this.lines.lastElementChild.remove();
    this.last = Number(this.lines.lastElementChild.dataset.seq);
    this.atTail = false;
    this.updatePill();
  }

  updateEdge() {
    this.root.classList.toggle('has-earlier', this.first > 1);
  }

  scrollToBottom() {
    this.term.scrollTop = this.term.scrollHeight;
  }

  updatePill() {
    const behind = !this.atTail || this.live > this.last;
    this.pill.hidden = !(behind || !this.stick);
    this.pill.textContent = behind ? `New output (${this.live - this.last}) ↓` : 'Latest ↓';
  }

  onScroll() {
    const t = this.term;
    this.stick = this.atTail && t.scrollTop + t.clientHeight >= t.scrollHeight - 24;
    this.updatePill();
    if (this.loading) return;
    if (t.scrollTop < 400 && this.first > 1) this.loadEarlier();
    else if (!this.atTail && t.scrollTop + t.clientHeight >= t.scrollHeight - 400) this.loadLater();
  }

  async loadEarlier() {
    this.loading = true;
    try {
      const page = await api('GET', `/api/runs/${this.id}/events?before=${this.first}&limit=${PAGE}`);
      const events = page.events.filter((e) => e.sequence < this.first);
      if (events.length) {
        for (const e of events) this.noteAssist(e);
        const t = this.term;
        const height = t.scrollHeight;
        const frag = document.createDocumentFragment();
        for (const e of events) frag.append(renderLine(e));
        this.lines.prepend(frag);
        this.first = events[0].sequence;
        t.scrollTop += t.scrollHeight - height;
        this.trimBottom();
        this.updateEdge();
      } else {
        this.first = 1;
        this.updateEdge();
      }
    } catch (e) {
      this.note(`Could not load earlier output: ${e.message}`);
    } finally {
      this.loading = false;
    }
  }

  async loadLater() {
    this.loading = true;
    try {
      while (!this.atTail) {
        const page = await api('GET', `/api/runs/${this.id}/events?after=${this.last}&limit=${PAGE}`);
        const events = page.events.filter((e) => e.sequence > this.last);
        this.appendLines(events);
        this.trimTop();
        if (this.last >= this.live || events.length < PAGE) {
          this.live = Math.max(this.live, this.last);
          this.atTail = true;
        }
        if (events.length) break;
      }
      this.updatePill();
    } catch (e) {
      this.note(`Could not load output: ${e.message}`);
    } finally {
      this.loading = false;
    }
  }

  async jumpToTail() {
    if (this.atTail) {
      this.stick = true;
      this.scrollToBottom();
      this.updatePill();
      return;
    }
    this.loading = true;
    try {
      const page = await api('GET', `/api/runs/${this.id}/events?before=${this.live + 1}&limit=${PAGE}`);
      this.replace(page.events);
      this.atTail = true;
      this.stick = true;
      this.scrollToBottom();
      this.updatePill();
    } finally {
      this.loading = false;
    }
  }
}

// ---------- the artifact viewer ----------

function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

let viewing = null; // the fetch being shown, so a slow one cannot overwrite a newer one

async function openViewer(href, artifact) {
  const body = $('viewer-body');
  const note = $('viewer-note');
  const token = (viewing = {});
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

$('viewer-close').addEventListener('click', () => $('viewer').close());
$('viewer').addEventListener('close', () => {
  viewing = null;
  $('viewer-body').replaceChildren();
});

// ---------- start ----------

(async () => {
  try {
    const s = await api('GET', '/api/session');
    await signedIn(s.csrf);
  } catch {
    showLogin();
  }
})();
