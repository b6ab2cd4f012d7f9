// One run's tab: its header (status, ticking duration, Claude totals, assist link), the
// Terminal / Transcript / Files panes as ARIA tabs, the live stream that feeds them, and the
// artifacts list. The controls and the prompt box are in controls.mjs.

import { api, retention, runPath, setCsrf, setPinned } from './api.mjs';
import { ApprovalCards } from './approvals.mjs';
import { button, copyText, el, setTitle } from './dom.mjs';
import { TERMINAL, fmtCost, fmtStamp, fmtTime, fmtTokens, fresherRun, httpsUrl, keptUntil, runDuration, shownStatus, statusLabel, fmtSize } from './format.mjs';
import { CommandNames, skipNotice, streamJson } from './lines.mjs';
import { LogView, PAGE } from './terminal.mjs';
import { LogSearch } from './search.mjs';
import { Controls, PromptBox } from './controls.mjs';
import { can } from './me.mjs';
import { openViewer } from './viewer.mjs';
import { readStream } from './stream.mjs';

const PANES = [
  ['terminal', 'Terminal'],
  ['transcript', 'Transcript'],
  ['files', 'Files'],
];

/** A run's Claude totals, from the run summary (kept by the gateway from turn_finished
 *  markers) or, for a run without one, from the stream-json seen: one source for the header and
 *  the transcript, so they agree. Null for a run that is not a Claude run. */
export function claudeTotals(run, facts) {
  const c = run && run.claude;
  // The runner brackets any child in turns, so a plain command has a `claude` summary too: only
  // a session id or a model (from Claude's init line) makes it a Claude run.
  const claude = Boolean((c && (c.session_id || c.model)) || facts.model || facts.session);
  if (!claude) return null;
  if (c) return { model: c.model || facts.model || null, turns: c.turns, prompts: c.prompts, input: c.input_tokens, output: c.output_tokens, cost: c.cost_usd };
  return { model: facts.model || null, turns: facts.turns, prompts: undefined, input: undefined, output: undefined, cost: facts.cost };
}

export class RunView {
  /** `shell`: `{runs, isActive(id), onTarget(id, seq)}` from app.mjs. */
  constructor(id, shell) {
    this.id = id;
    this.shell = shell;
    this.run = null;
    // Changes made here and answered (a pin): a read on its way across one is not shown.
    this.changes = 0;
    this.started = false;
    this.ended = false;
    this.es = null;
    this.facts = {};
    this.retryDelay = 1000;
    this.ctx = { tools: new Map(), names: new CommandNames() };
    this.artifactList = [];
    this.target = null; // a line to open at (#L1234)
    this.build();
  }

  build() {
    const root = el('article', 'run-view');
    root.dataset.run = this.id;
    const head = el('header', 'run-head');
    this.title = el('h1', 'run-title', this.id);
    this.title.tabIndex = -1;
    this.badge = el('span', 'badge');
    this.conn = el('span', 'conn small');
    this.conn.dataset.state = 'connecting';
    this.conn.append(el('i'), el('span', '', 'connecting'));
    this.assistBox = el('span', 'assist');
    this.assistBox.hidden = true;
    this.pin = button('ghost pin', 'Pin', () => this.togglePin());
    this.pin.setAttribute('aria-pressed', 'false');
    this.pin.title = 'A pinned run is never deleted by retention';
    this.policy = null;
    retention().then((p) => {
      this.policy = p;
      this.renderMeta();
    });
    const titleRow = el('div', 'title-row');
    titleRow.append(this.badge, this.title, this.pin, this.assistBox, this.conn);
    this.meta = el('dl', 'run-meta');
    this.controls = new Controls(this);
    // Who started the run and who sent each prompt, command and decision (the run's audit lines).
    this.history = el('details', 'run-history');
    this.history.hidden = true;
    this.activity = null;
    this.approvals = new ApprovalCards(this.id);
    // Markers that say output went unredacted or was dropped, as notices nobody can miss.
    this.notices = el('div', 'run-notices');
    this.notices.setAttribute('role', 'status');
    this.notices.hidden = true;
    this.noticeSeen = new Set();
    head.append(titleRow, this.notices, this.approvals.root, this.meta, this.history, this.controls.root);

    // The panes over the same run, as tabs.
    const bar = el('div', 'pane-bar');
    const tablist = el('div', 'pane-tabs');
    tablist.setAttribute('role', 'tablist');
    tablist.setAttribute('aria-label', 'Run views');
    this.tabs = {};
    for (const [key, label] of PANES) {
      const b = button('pane-tab', label, () => this.showPane(key, true, true));
      b.id = `tab-${key}-${this.id}`;
      b.dataset.pane = key;
      b.setAttribute('role', 'tab');
      b.setAttribute('aria-controls', `panel-${key}-${this.id}`);
      this.tabs[key] = b;
      tablist.append(b);
    }
    tablist.addEventListener('keydown', (ev) => this.tabKeys(ev));
    this.txTotals = el('span', 'tx-totals');
    this.exports = el('span', 'exports');
    this.exports.append(el('span', 'muted', 'Export'));
    for (const ext of ['md', 'json']) {
      const a = el('a', 'mono', `.${ext}`);
      a.href = runPath(this.id, `/transcript.${ext}`);
      a.download = `${this.id}-transcript.${ext}`;
      a.title = `Download the transcript as ${ext === 'md' ? 'Markdown' : 'JSON'}`;
      this.exports.append(a);
    }
    bar.append(tablist, this.txTotals, this.exports);

    this.log = new LogView(this.id, this.ctx, {
      note: (t) => this.note(t),
      onTarget: (seq) => this.shell.onTarget(this.id, seq),
    });
    this.search = new LogSearch(this.id, this.log);
    this.log.searchSlot.append(this.search.root);
    this.panels = { terminal: this.log.root };

    this.txPane = el('div', 'transcript');
    this.txPane.tabIndex = 0;
    this.panels.transcript = this.txPane;
    this.tx = null; // the TranscriptView, made when the pane is first shown (its module loads then)
    this.txLoaded = false;
    this.txDirty = true;
    this.txTimer = null;
    this.txBusy = false;

    this.filesPane = el('div', 'files-host');
    this.panels.files = this.filesPane;
    this.files = null; // the FilesView, made on first use

    for (const [key] of PANES) {
      const p = this.panels[key];
      p.id = `panel-${key}-${this.id}`;
      p.setAttribute('role', 'tabpanel');
      p.setAttribute('aria-labelledby', this.tabs[key].id);
      p.classList.add('pane');
    }

    this.prompt = new PromptBox(this);
    this.artifacts = el('section', 'artifacts');
    this.artifacts.setAttribute('aria-label', 'Artifacts');
    this.artifacts.hidden = true;
    root.append(head, bar, this.log.root, this.txPane, this.filesPane, this.prompt.root, this.artifacts);
    this.root = root;
    this.assist = null; // the newest assist event's data
    const saved = localStorage.getItem('gw.pane');
    this.showPane(saved === 'transcript' || saved === 'files' ? saved : 'terminal', false);
    this.setRun(this.shell.runs.get(this.id));
  }

  /** Arrow keys, Home and End move between the tabs (WAI-ARIA tabs pattern). */
  tabKeys(ev) {
    const visible = PANES.map(([k]) => k).filter((k) => !this.tabs[k].hidden);
    const i = visible.indexOf(this.pane);
    let next = null;
    if (ev.key === 'ArrowRight') next = visible[(i + 1) % visible.length];
    else if (ev.key === 'ArrowLeft') next = visible[(i - 1 + visible.length) % visible.length];
    else if (ev.key === 'Home') next = visible[0];
    else if (ev.key === 'End') next = visible[visible.length - 1];
    if (!next) return;
    ev.preventDefault();
    this.showPane(next, true, true);
  }

  showPane(key, remember = true, focusTab = false) {
    if (this.tabs[key].hidden) key = 'terminal';
    this.pane = key;
    if (remember) localStorage.setItem('gw.pane', key);
    for (const [k, b] of Object.entries(this.tabs)) {
      const on = k === key;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      this.panels[k].hidden = !on;
    }
    if (focusTab) this.tabs[key].focus();
    this.exports.hidden = key !== 'transcript';
    if (key === 'terminal' && this.log.stick) this.log.scrollToBottom();
    if (key === 'transcript' && this.txDirty) this.refreshTranscript(0);
    if (key === 'files') this.openFiles();
  }

  /** Which panes this run has: Transcript for a Claude run, Files once it has files.json or
   *  latest.diff. */
  updateTabs() {
    const claude = Boolean(claudeTotals(this.run, this.facts));
    this.tabs.transcript.hidden = !claude;
    this.tabs.files.hidden = !this.artifactList.some((a) => a.name === 'files.json' || a.name === 'latest.diff');
    this.log.setClaude(claude);
    if (this.tabs[this.pane].hidden) this.showPane('terminal', false);
    else if (this.pane !== 'terminal' && this.panels[this.pane].hidden) this.showPane(this.pane, false);
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
      if (!this.tx) {
        const { TranscriptView } = await import('./transcript.mjs');
        this.tx = this.tx || new TranscriptView(this.txPane, { cwd: () => (this.run && this.run.cwd) || null });
      }
      const t = await api('GET', runPath(this.id, '/transcript'));
      const pane = this.txPane;
      const atEnd = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 40;
      if (this.tx.update(t) && (atEnd || !this.txLoaded)) pane.scrollTop = pane.scrollHeight;
      this.txLoaded = true;
      if (t.summary && t.summary.model && !this.facts.model) {
        this.facts.model = t.summary.model;
        this.renderMeta();
      }
    } catch (e) {
      if (e.status !== 401) this.note(`Could not load the transcript: ${e.message}`);
    } finally {
      this.txBusy = false;
    }
  }

  /** Earlier prompts for recall: the transcript's (when loaded). */
  knownPrompts() {
    return this.tx ? this.tx.prompts : [];
  }

  // ---- files ----

  async openFiles() {
    if (!this.files) {
      const { FilesView } = await import('./files.mjs');
      if (!this.files) {
        this.files = new FilesView(this.id, {
          run: () => this.run,
          artifacts: () => this.artifactList,
          sent: (c) => this.ctx.names.sent(c),
        });
        this.filesPane.append(this.files.root);
      }
    }
    this.files.refresh(this.artifactList);
  }

  // ---- header ----

  /** A summary this view read itself (not from the list stream): kept only if no later one
   *  arrived meanwhile, and shared with the runs list. Returns the summary shown. */
  adopt(incoming) {
    const run = fresherRun(this.shell.runs.get(this.id), incoming);
    this.shell.runs.set(run.id, run);
    this.setRun(run);
    return run;
  }

  setRun(run) {
    if (!run) return;
    const was = this.run && this.run.status;
    this.run = run;
    this.title.textContent = run.name || run.id;
    const status = shownStatus(run);
    this.badge.className = `badge s-${status}`;
    this.badge.textContent = statusLabel(status);
    if (this.shell.isActive(this.id)) setTitle(`${run.name || run.id} · ${status.replace(/_/g, ' ')}`);
    this.approvals.update(run);
    this.renderMeta();
    if (was !== run.status) {
      this.loadActivity();
      this.controls.render();
      this.renderAssist();
      if (TERMINAL.has(run.status)) this.loadArtifacts();
    }
    this.updateTabs();
    this.updateSession();
  }

  renderMeta() {
    const r = this.run;
    if (!r) return;
    const items = [
      ['Run', r.id, 'mono'],
      ['Directory', r.cwd || '—', 'mono'],
      ['Started', fmtTime(r.created_at), ''],
      ['Duration', runDuration(r), 'tick'],
    ];
    const started = this.activity && this.activity.find((a) => a.action === 'run_started');
    if (started) items.push(['By', started.by, '']);
    if (r.exit_code !== null && r.exit_code !== undefined) items.push(['Exit', r.exit_code, 'mono']);
    // Retention concerns ended runs only (a run still going is always kept): the line and the
    // Pin button show once it has ended, and keep a running run's header short on a phone.
    const ended = TERMINAL.has(r.status);
    if (ended) items.push(['Kept', keptUntil(r, this.policy), '']);
    this.pin.hidden = !can('operator') || (!ended && !r.pinned);
    this.pin.textContent = r.pinned ? 'Unpin' : 'Pin';
    this.pin.setAttribute('aria-pressed', String(Boolean(r.pinned)));
    const t = claudeTotals(r, this.facts);
    if (t) {
      if (t.model) items.push(['Model', t.model, 'mono']);
      if (t.turns !== undefined) items.push(['Turns', t.turns, '']);
      if (t.input !== undefined) items.push(['Tokens', `${fmtTokens(t.input)} in · ${fmtTokens(t.output)} out`, '']);
      if (t.cost !== undefined) items.push(['Cost', fmtCost(t.cost), 'mono']);
    }
    const frag = document.createDocumentFragment();
    for (const [k, v, cls] of items) {
      const d = el('div', `m-${k.toLowerCase()}`);
      const dd = el('dd', cls, v);
      if (k === 'Started') dd.title = fmtStamp(r.created_at);
      d.append(el('dt', '', k), dd);
      frag.append(d);
    }
    this.meta.replaceChildren(frag);
    this.durationEl = this.meta.querySelector('.m-duration dd');
    this.renderTotals(t);
  }

  /** Read the run's history again (on opening it and when its status changes). */
  async loadActivity() {
    try {
      this.activity = await api('GET', runPath(this.id, '/activity'));
    } catch {
      return;
    }
    const sent = this.activity.filter((a) => a.action !== 'run_started');
    this.history.hidden = sent.length === 0;
    const list = el('ol');
    for (const a of sent) {
      const d = a.detail || {};
      const what =
        a.action === 'prompt_sent'
          ? `prompt: ${d.prompt}`
          : a.action === 'command_sent'
            ? `${d.kind}${d.command ? `: ${d.command}` : d.path ? `: ${d.path}` : ''}`
            : a.action === 'approval_decided'
              ? `${d.decision} ${d.request_id}${d.message ? `: ${d.message}` : ''}`
              : a.action.replace(/_/g, ' ');
      const li = el('li');
      li.append(el('span', 'muted', fmtTime(a.at)), el('b', '', ` ${a.by} `), el('span', '', what));
      list.append(li);
    }
    this.history.replaceChildren(el('summary', '', `Sent by people (${sent.length})`), list);
    this.renderMeta();
  }

  /** Pin or unpin the run (retention keeps a pinned run whatever its age). */
  async togglePin() {
    const want = !(this.run && this.run.pinned);
    this.pin.disabled = true;
    try {
      const run = await setPinned(this.id, want);
      this.changes += 1;
      this.adopt(run);
      this.controls.say(want ? 'Pinned: retention keeps this run.' : 'Unpinned.');
    } catch (e) {
      this.controls.say(`Could not ${want ? 'pin' : 'unpin'} the run: ${e.message}`);
    } finally {
      this.pin.disabled = false;
    }
  }

  /** The transcript bar's totals: the same figures as the header. */
  renderTotals(t) {
    const parts = [];
    if (t) {
      if (t.model) parts.push(t.model);
      if (t.turns) parts.push(`${t.turns} turn${t.turns === 1 ? '' : 's'}`);
      if (t.input || t.output) parts.push(`${fmtTokens(t.input)} in · ${fmtTokens(t.output)} out`);
      if (t.cost !== undefined) parts.push(fmtCost(t.cost));
    }
    this.txTotals.textContent = parts.join('  ·  ');
    this.txTotals.hidden = !t;
  }

  /** Once a second while shown: the duration of a running run goes on. */
  tick() {
    if (this.run && this.durationEl && !TERMINAL.has(this.run.status)) this.durationEl.textContent = runDuration(this.run);
  }

  isSession() {
    return Boolean((this.run && this.run.claude && this.run.claude.session_id) || this.facts.session);
  }

  updateSession() {
    const on = Boolean(this.run && this.run.status === 'running' && this.isSession());
    this.controls.setSession(on);
    this.prompt.root.hidden = !on || !can('operator');
  }

  // ---- notices ----

  /** A marker that says output went unredacted or was dropped becomes a notice (once). */
  noteSkip(e) {
    if (e.type !== 'marker') return;
    const text = skipNotice(e.data);
    if (!text || this.noticeSeen.has(text)) return;
    this.noticeSeen.add(text);
    const p = el('p', 'notice', text);
    p.dataset.event = e.data.event;
    this.notices.append(p);
    this.notices.hidden = false;
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
    const copy = button('chip', 'Copy ssh', async () => {
      copy.textContent = (await copyText(String(a.url), ssh)) ? 'Copied' : 'Selected';
      setTimeout(() => (copy.textContent = 'Copy ssh'), 1500);
    });
    parts.push(ssh, copy);
    if (a.expires_at) ssh.title = `Expires ${fmtStamp(a.expires_at)}`;
    box.replaceChildren(...parts);
  }

  // ---- artifacts ----

  /** List the run's artifacts. A run that has ended uploads claude.log last: ask again until it is there. */
  async loadArtifacts(attempt = 0) {
    clearTimeout(this.artifactTimer);
    let items;
    try {
      const list = await api('GET', runPath(this.id, '/artifacts'));
      items = Array.isArray(list) ? list : [];
    } catch {
      return;
    }
    const ended = this.run && TERMINAL.has(this.run.status);
    if (ended && attempt < 6 && !items.some((a) => a.name === 'claude.log')) {
      this.artifactTimer = setTimeout(() => this.loadArtifacts(attempt + 1), 500 * 2 ** attempt);
    }
    this.artifactList = items;
    this.updateTabs();
    if (this.files) this.files.refresh(items);
    if (!items.length) return;
    const ul = el('ul');
    for (const a of items) {
      const li = el('li');
      const href = runPath(this.id, `/artifacts/${encodeURIComponent(a.name)}`);
      const link = el('a', 'mono', a.name);
      link.href = href;
      link.download = a.name;
      const view = button('chip', 'View', () => openViewer(href, a));
      view.dataset.artifact = a.name;
      view.setAttribute('aria-label', `View ${a.name}`);
      li.append(link, el('span', 'muted', fmtSize(a.size)), view);
      ul.append(li);
    }
    this.artifacts.replaceChildren(el('h2', '', 'Artifacts'), ul);
    this.artifacts.hidden = false;
  }

  /** Read the run's summary once a burst of its events has passed. */
  readRunSoon() {
    clearTimeout(this.runTimer);
    this.runTimer = setTimeout(() => this.readRun().catch(() => {}), 250);
  }

  /** Read the run's summary and show it, unless a change made here (a pin) was answered while
   *  the read was on its way: the read may have been answered before that change, and its
   *  summary, as fresh by its events, would undo it on screen. Returns the summary read. */
  async readRun() {
    const seen = this.changes;
    const run = await api('GET', runPath(this.id));
    return this.changes === seen ? this.adopt(run) : run;
  }

  loadArtifactsSoon() {
    clearTimeout(this.artifactTimer);
    this.artifactTimer = setTimeout(() => this.loadArtifacts(), 800);
  }

  note(text) {
    this.log.topNote.textContent = text;
    this.log.topNote.classList.add('show');
    clearTimeout(this.noteTimer);
    this.noteTimer = setTimeout(() => this.log.topNote.classList.remove('show'), 6000);
    this.controls.say(text);
  }

  setConn(state, text) {
    this.conn.dataset.state = state;
    this.conn.querySelector('span').textContent = text;
  }

  // ---- showing and the stream ----

  /** Show the tab; `target` is a line to open at (from `#L1234`), `focus` moves focus to the title. */
  show({ target = null, focus = false } = {}) {
    this.root.hidden = false;
    if (this.pane === 'transcript' && this.txDirty) this.refreshTranscript(0);
    if (this.run) setTitle(`${this.run.name || this.id} · ${shownStatus(this.run).replace(/_/g, ' ')}`);
    if (target) this.target = target;
    if (!this.started) {
      this.started = true;
      this.open();
    } else {
      if (target) this.goTo(target);
      if (!this.es && !this.ended) this.connect();
    }
    if (focus) this.title.focus({ preventScroll: true });
  }

  hide() {
    this.root.hidden = true;
    this.disconnect();
  }

  disconnect() {
    clearTimeout(this.retry);
    if (this.es) this.es.abort();
    this.es = null;
  }

  /** Open the terminal at line `seq`. */
  async goTo(seq) {
    if (this.pane !== 'terminal') this.showPane('terminal', false);
    await this.log.openAt(seq);
  }

  // First open: the run, the tail of its output (or the linked line), then the live stream.
  async open() {
    try {
      const run = await this.readRun();
      const page = await api('GET', runPath(this.id, `/events?before=${run.last_sequence + 1}&limit=${PAGE}`));
      for (const e of page.events) this.learn(e);
      this.renderMeta();
      this.updateTabs();
      this.updateSession();
      this.log.live = run.last_sequence;
      this.log.seen = run.last_sequence;
      if (this.target) {
        await this.goTo(this.target);
      } else {
        this.log.replace(page.events);
        this.log.scrollToBottom();
      }
      this.connect();
      this.loadArtifacts();
    } catch (e) {
      if (e.status === 404) this.note('No such run.');
      else if (e.status !== 401) {
        this.note(`Could not load the run: ${e.message}`);
        this.started = false;
      }
    }
  }

  /** Follow the live stream from the last sequence this view has; on a cut, check the session
   *  and reconnect with a growing delay (the view de-duplicates by sequence). */
  connect() {
    this.disconnect();
    this.setConn('connecting', 'connecting');
    const ctrl = new AbortController();
    this.es = ctrl;
    readStream(runPath(this.id, `/stream?after=${this.log.live}`), {
      signal: ctrl.signal,
      onOpen: () => {
        this.retryDelay = 1000;
        this.setConn('live', 'live');
      },
      onEvent: (e) => this.receive(e),
      onEnd: () => {
        this.ended = true;
        this.setConn('ended', 'ended');
        this.readRun().catch(() => {});
      },
    }).then(
      ({ ended }) => {
        if (this.es !== ctrl) return;
        this.es = null;
        if (!ended) this.reconnect(false);
      },
      (e) => {
        if (this.es !== ctrl || ctrl.signal.aborted) return;
        this.es = null;
        this.reconnect(Boolean(e.status));
      },
    );
  }

  reconnect(refused) {
    this.setConn(refused ? 'offline' : 'connecting', refused ? 'offline' : 'reconnecting');
    clearTimeout(this.retry);
    this.retry = setTimeout(async () => {
      if (refused) {
        // Refused (signed out, gateway error): still signed in?
        try {
          const s = await api('GET', '/api/session');
          setCsrf(s.csrf);
        } catch (e) {
          if (e.status === 401) return;
        }
      }
      if (this.shell.isActive(this.id) && !this.ended) this.connect();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 15000);
  }

  /**
   * What the header, the command names, the tool names and the files pane learn from one event.
   * Returns true if the header's facts changed. Stream-json is parsed here once.
   */
  learn(e) {
    this.ctx.names.see(e);
    this.noteAssist(e);
    this.noteSkip(e);
    if (this.files) this.files.see(e);
    if (e.type === 'marker' && e.data && e.data.event === 'session') {
      this.facts.session = true;
      return true;
    }
    if (e.type !== 'stdout') return false;
    const j = streamJson(e.data);
    if (!j) return false;
    if (j.type === 'assistant' && j.message && Array.isArray(j.message.content)) {
      for (const b of j.message.content) if (b && b.type === 'tool_use' && b.id) this.ctx.tools.set(b.id, b.name);
    } else if (j.type === 'system' && j.subtype === 'init' && typeof j.model === 'string') {
      this.facts.model = j.model;
      return true;
    } else if (j.type === 'result') {
      if (typeof j.total_cost_usd === 'number') this.facts.cost = j.total_cost_usd;
      if (typeof j.num_turns === 'number') this.facts.turns = j.num_turns;
      return true;
    }
    return false;
  }

  receive(e) {
    if (e.sequence <= this.log.live) return; // already have it
    if (this.learn(e)) {
      this.renderMeta();
      this.updateTabs();
      this.updateSession();
    }
    const ev = e.type === 'marker' && e.data ? e.data.event : null;
    if (['finished', 'files', 'file'].includes(ev) || (e.type === 'info' && /latest\.diff/.test(String(e.data)))) this.loadArtifactsSoon();
    // A request or a decision changes the run's waiting requests: the cards follow the run's
    // own stream too, not only the list stream (which may lag, or be cut while this one is not).
    if (ev === 'permission_request' || ev === 'permission_decision') this.readRunSoon();
    if (e.type === 'error' || e.type === 'marker' || (e.type === 'stdout' && String(e.data).startsWith('{'))) this.refreshTranscript();
    this.log.receive(e);
  }
}
