// The gateway's web UI, the entry module: sign-in and joining by invitation, the live runs list
// stream, the open-run tabs, the team's pages (`/people`, `/account`, `/audit`) and the address
// bar (`/runs/:id`, `#L1234` for a line), the new-run dialog. The screens live
// in their own modules (runs.mjs, runview.mjs and what it uses); heavy parts (the transcript,
// Markdown, highlighting, files) load on first use.
// Plain DOM, no framework. Everything a run printed is untrusted: it reaches the page only through
// textContent / createTextNode, never as HTML; links from it are checked first.

import { api, setCsrf, whenSignedOut } from './api.mjs';
import { $, copyText, el, setAttention, setTitle } from './dom.mjs';
import { fresherRun, needingApproval, shellQuote, shownStatus } from './format.mjs';
import { RunsList } from './runs.mjs';
import { RunView } from './runview.mjs';
import { setUpViewer } from './viewer.mjs';
import { AgentsPage, onlineAgents } from './agents.mjs';
import { can, me, setMe } from './me.mjs';
import { showPage, signOutEverywhere } from './team.mjs';
import { createPasskey, passkeysSupported, usePasskey } from './passkey.mjs';

const runs = new Map(); // id → summary, from the list stream
const views = new Map(); // id → RunView
let tabs = [];
let active = 'runs';

const RUN_PATH = /^\/runs\/([A-Za-z0-9_-]{1,64})$/;
const PAGES = new Set(['people', 'account', 'audit']);
const PAGE_TITLES = { people: 'People', account: 'Your account', audit: 'Audit log' };
const pageFromPath = () => {
  const name = location.pathname.slice(1);
  return PAGES.has(name) ? name : null;
};
const lineFromHash = () => {
  const m = location.hash.match(/^#L(\d{1,12})$/);
  return m ? Number(m[1]) : null;
};

function loadTabs() {
  try {
    const saved = JSON.parse(localStorage.getItem('gw.tabs') || '[]');
    tabs = Array.isArray(saved) ? saved.filter((t) => typeof t === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(t)) : [];
  } catch {
    tabs = [];
  }
  active = localStorage.getItem('gw.active') || 'runs';
  if (active !== 'runs' && !PAGES.has(active) && !tabs.includes(active)) active = 'runs';
}

function saveTabs() {
  localStorage.setItem('gw.tabs', JSON.stringify(tabs));
  localStorage.setItem('gw.active', active);
}

// ---------- sign-in ----------

function showLogin() {
  for (const v of views.values()) v.disconnect();
  listStream.stop();
  setMe(null);
  $('shell').hidden = true;
  $('join').hidden = true;
  $('login').hidden = false;
  $('passkey-sign-in').hidden = !passkeysSupported();
  $('passkey-or').hidden = !passkeysSupported();
  setTitle('Sign in · claude-runner gateway');
  $('password').focus();
}
whenSignedOut(showLogin);

async function signedIn(token, person, fromForm = false) {
  setCsrf(token);
  setMe(person);
  // What the role may not do is left out (the gateway refuses it anyway).
  $('new-run-open').hidden = !can('operator');
  $('nav-people').hidden = !can('admin');
  $('nav-audit').hidden = !can('admin');
  $('nav-account').textContent = me.name;
  $('login').hidden = true;
  $('join').hidden = true;
  $('shell').hidden = false;
  loadTabs();
  const m = location.pathname.match(RUN_PATH);
  if (m) {
    if (!tabs.includes(m[1])) tabs.push(m[1]);
    active = m[1];
  }
  const page = pageFromPath();
  if (page) active = page;
  // People and the audit log are an admin's.
  if (PAGES.has(active) && active !== 'account' && !can('admin')) active = 'runs';
  listStream.start();
  registerWorker();
  activate(active, { push: false, target: m ? lineFromHash() : null, focus: fromForm });
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('login-error');
  err.textContent = '';
  const submit = ev.target.querySelector('button');
  submit.disabled = true;
  try {
    const body = { password: $('password').value };
    const name = $('login-name').value.trim();
    if (name) body.name = name;
    const r = await api('POST', '/api/session', body);
    $('password').value = '';
    await signedIn(r.csrf, r.person, true);
  } catch (e) {
    err.textContent =
      e.status === 429
        ? 'Too many attempts. Wait a minute and try again.'
        : e.status === 401
          ? 'Wrong name or password.'
          : `Could not sign in: ${e.message}`;
    $('password').focus();
  } finally {
    submit.disabled = false;
  }
});

$('passkey-sign-in').addEventListener('click', async () => {
  const err = $('login-error');
  err.textContent = '';
  try {
    const options = await api('POST', '/api/session/passkey/options', {});
    const r = await api('POST', '/api/session/passkey', await usePasskey(options));
    await signedIn(r.csrf, r.person, true);
  } catch (e) {
    err.textContent = e.status === 429 ? 'Too many attempts. Wait a minute and try again.' : `No passkey sign-in: ${e.message}`;
  }
});

$('sign-out').addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/session');
  } finally {
    setCsrf('');
    showLogin();
  }
});

$('sign-out-all').addEventListener('click', async () => {
  if (!confirm('Sign out of every browser, this one included?')) return;
  try {
    await signOutEverywhere();
  } finally {
    setCsrf('');
    showLogin();
  }
});

// ---------- joining by invitation (/join#<token>) ----------

let joinToken = '';

async function showJoin() {
  joinToken = location.hash.slice(1);
  $('login').hidden = true;
  $('shell').hidden = true;
  document.title = 'Join · claude-runner gateway';
  // The form shows once the invitation is known: never a nameless form that a quick user
  // fills in before it says whom it is for, or that the invitation turns out not to allow.
  try {
    const i = await api('POST', '/api/join/check', { token: joinToken });
    $('join-title').textContent = `Join as ${i.name}`;
    $('join-name').value = i.name;
    $('join-for').textContent = `You are invited as ${i.role}. The link works once, until ${new Date(i.expires_at).toLocaleString()}.`;
    $('join-passkey').hidden = !passkeysSupported();
    $('join-or').hidden = !passkeysSupported();
    $('join').hidden = false;
    $('join-password').focus();
  } catch (e) {
    $('join-title').textContent = 'This invitation cannot be used';
    $('join-for').textContent = e.message;
    $('join-submit').disabled = true;
    $('join').hidden = false;
  }
}

$('join-passkey').addEventListener('click', async () => {
  $('join-error').textContent = '';
  $('join-passkey').disabled = true;
  try {
    const { person_id, options } = await api('POST', '/api/join/passkey/options', { token: joinToken });
    const credential = await createPasskey(options);
    const r = await api('POST', '/api/join/passkey', { token: joinToken, person_id, credential });
    joinToken = '';
    history.replaceState(null, '', '/');
    await signedIn(r.csrf, r.person, true);
  } catch (e) {
    $('join-error').textContent = `No passkey: ${e.message}`;
  } finally {
    $('join-passkey').disabled = false;
  }
});

$('join-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('join-error').textContent = '';
  $('join-submit').disabled = true;
  try {
    const r = await api('POST', '/api/join', { token: joinToken, password: $('join-password').value });
    $('join-password').value = '';
    joinToken = '';
    history.replaceState(null, '', '/');
    await signedIn(r.csrf, r.person, true);
  } catch (e) {
    $('join-error').textContent = e.message;
  } finally {
    $('join-submit').disabled = false;
  }
});

// ---------- the list stream ----------

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.querySelector('span').textContent = text;
}

const listStream = {
  es: null,
  retry: null,
  start() {
    this.stop();
    setConn('connecting', 'connecting');
    const es = new EventSource('/api/stream');
    this.es = es;
    // A snapshot opens every (re)connect. What changed before the stream subscribed, or while it
    // was away, is only there: the open views take it too, each summary the fresher of the
    // snapshot's and the one the view read itself.
    es.addEventListener('runs', (ev) => {
      const before = new Map(runs);
      runs.clear();
      for (const r of JSON.parse(ev.data)) runs.set(r.id, fresherRun(before.get(r.id), r));
      for (const id of views.keys()) if (runs.has(id)) dirty.add(id);
      setConn('live', 'live');
      changed();
    });
    es.addEventListener('run', (ev) => {
      const r = JSON.parse(ev.data);
      runs.set(r.id, fresherRun(runs.get(r.id), r));
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
    setCsrf(s.csrf);
    setMe(s.person);
    listStream.start();
  } catch (e) {
    if (e.status !== 401) listStream.retry = setTimeout(recheck, 5000);
  }
}

// Updates of one run arrive with every stored batch: draw at most once a frame.
let renderQueued = false;
const dirty = new Set();
function changed(id) {
  if (id) dirty.add(id);
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    for (const d of dirty) if (views.has(d)) views.get(d).setRun(runs.get(d));
    dirty.clear();
    showAttention();
    renderTabs();
    if (active === 'runs') list.render();
  });
}

const list = new RunsList(runs, (id, seq) => openRun(id, seq));

// Runs needing approval: counted in the tab title and on the top bar, from every page.
function showAttention() {
  const n = needingApproval(runs.values());
  setAttention(n);
  const pill = $('attention');
  pill.hidden = n === 0;
  pill.textContent = n === 1 ? '1 needs approval' : `${n} need approval`;
}
$('attention').addEventListener('click', () => {
  const waiting = [...runs.values()].filter((r) => shownStatus(r) === 'needs_approval');
  if (waiting.length === 1) {
    openRun(waiting[0].id);
    return;
  }
  $('status-filter').value = 'needs_approval';
  $('status-filter').dispatchEvent(new Event('change'));
  activate('runs', { focus: true });
});

// Durations tick: the open run's header and the running rows of the list, once a second.
setInterval(() => {
  if ($('shell').hidden) return;
  if (active === 'runs') list.tick();
  else if (views.has(active)) views.get(active).tick();
}, 1000);
setInterval(() => {
  if (!$('shell').hidden && active === 'runs') list.render();
}, 15000);

// ---------- tabs ----------

function renderTabs() {
  const nav = $('tabs');
  const frag = document.createDocumentFragment();
  const home = el('button', `tab${active === 'runs' ? ' active' : ''}`, 'Runs');
  home.type = 'button';
  home.dataset.tab = 'runs';
  if (active === 'runs') home.setAttribute('aria-current', 'page');
  frag.append(home);
  for (const id of tabs) {
    const r = runs.get(id);
    const t = el('div', `tab run-tab${active === id ? ' active' : ''}`);
    t.dataset.tab = id;
    const b = el('button', 'tab-open');
    b.type = 'button';
    b.dataset.tab = id;
    if (active === id) b.setAttribute('aria-current', 'page');
    const dot = el('i', `dot s-${shownStatus(r)}`);
    dot.setAttribute('aria-hidden', 'true');
    b.append(dot, el('span', '', (r && r.name) || id));
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
  if (t) activate(t.dataset.tab, { focus: true });
});

function openRun(id, seq = null) {
  if (!tabs.includes(id)) tabs.push(id);
  activate(id, { target: seq, focus: true });
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
  activate(active === id ? tabs[Math.min(i, tabs.length - 1)] || 'runs' : active, { focus: true });
}

/** Show the runs list or a run. `target`: a line to open at; `focus`: move focus to the
 *  screen's heading (after a click or sign-in, not when the page merely loads). */
function activate(id, { push = true, target = null, focus = false } = {}) {
  active = id;
  saveTabs();
  for (const [vid, v] of views) if (vid !== id) v.hide();
  const page = PAGES.has(id);
  const url = id === 'runs' ? '/' : page ? `/${id}` : `/runs/${id}${target ? `#L${target}` : ''}`;
  if (push && location.pathname + location.hash !== url) history.pushState(null, '', url);
  agentsPage.hide();
  $('runs-view').hidden = id !== 'runs';
  $('run-views').hidden = id === 'runs' || page;
  for (const p of PAGES) $(`${p}-view`).hidden = p !== id;
  for (const a of document.querySelectorAll('.team-nav a')) {
    if (a.dataset.page === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (page) {
    setTitle(`${PAGE_TITLES[id]} · claude-runner gateway`);
    showPage(id);
    if (focus) $(`${id}-view`).querySelector('h1').focus();
  } else if (id === 'runs') {
    setTitle('Runs · claude-runner gateway');
    list.render();
    if (focus) $('search').focus();
  } else {
    let v = views.get(id);
    if (!v) {
      v = new RunView(id, {
        runs,
        isActive: (rid) => active === rid,
        onTarget: (rid, seq) => {
          if (active === rid) history.replaceState(null, '', `/runs/${rid}#L${seq}`);
        },
      });
      views.set(id, v);
      $('run-views').append(v.root);
    }
    v.show({ target, focus });
  }
  renderTabs();
}

document.querySelector('.team-nav').addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-page]');
  if (!a) return;
  ev.preventDefault();
  activate(a.dataset.page, { focus: true });
});

window.addEventListener('popstate', () => {
  const m = location.pathname.match(RUN_PATH);
  const page = pageFromPath();
  if (page) activate(page, { push: false });
  else if (m) {
    if (!tabs.includes(m[1])) tabs.push(m[1]);
    activate(m[1], { push: false, target: lineFromHash() });
  } else activate('runs', { push: false });
});

window.addEventListener('hashchange', () => {
  const m = location.pathname.match(RUN_PATH);
  const seq = lineFromHash();
  if (m && seq && views.has(m[1])) views.get(m[1]).goTo(seq);
});

$('home').addEventListener('click', (ev) => {
  ev.preventDefault();
  activate('runs', { focus: true });
});

// ---------- agents ----------

const agentsPage = new AgentsPage();
$('agents-open').addEventListener('click', () => {
  $('runs-view').hidden = true;
  $('run-views').hidden = true;
  for (const p of PAGES) $(`${p}-view`).hidden = true;
  agentsPage.show();
  setTitle('Agents · claude-runner gateway');
});

// ---------- new run ----------

// Keyboard decisions on the open run's approval cards (A, R, D; see approvals.mjs).
document.addEventListener('keydown', (ev) => {
  if ($('shell').hidden || active === 'runs' || document.querySelector('dialog[open]')) return;
  const v = views.get(active);
  if (v && v.approvals) v.approvals.key(ev);
});

// ---------- notifications ----------

$('settings-open').addEventListener('click', () => {
  import('./settings.mjs').then((m) => m.openSettings());
});
$('settings-close').addEventListener('click', () => $('settings').close());

// The service worker shows push notifications; registered once signed in (it caches nothing).
function registerWorker() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
}

const dialog = $('new-run');
let created = null;

/** The agents a run can be started on, after the two fixed choices. */
async function fillTargets() {
  const select = $('nr-target');
  while (select.options.length > 2) select.remove(2);
  try {
    for (const a of await onlineAgents()) {
      const o = el('option', null, `Agent ${a.name} (${a.running}/${a.capacity} runs)`);
      o.value = a.name;
      select.append(o);
    }
  } catch {
    // Without the list, the fixed choices remain.
  }
}

$('new-run-open').addEventListener('click', () => {
  $('new-run-form').reset();
  $('new-run-form').hidden = false;
  $('new-run-done').hidden = true;
  $('nr-error').textContent = '';
  created = null;
  fillTargets();
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
  const target = $('nr-target').value;
  $('nr-create').disabled = true;
  if (target) {
    // On an agent: queued, taken by the agent, opened here at once.
    if (!body.prompt) {
      $('nr-error').textContent = 'A run on an agent needs a prompt.';
      $('nr-create').disabled = false;
      return;
    }
    if (target === '*') body.queue = true;
    else body.agent = target;
    body.session = $('nr-session').checked;
    try {
      const queued = await api('POST', '/api/runs', body);
      dialog.close();
      openRun(queued.run_id);
    } catch (e) {
      $('nr-error').textContent = `Could not start the run: ${e.message}`;
    } finally {
      $('nr-create').disabled = false;
    }
    return;
  }
  try {
    created = await api('POST', '/api/runs', body);
    const parts = ['claude-runner', 'start', '--run-id', created.run_id, '--token', created.token];
    if (body.cwd) parts.push('--cwd', shellQuote(body.cwd));
    parts.push('--cmd', shellQuote(body.prompt || 'your prompt'));
    $('nr-command').textContent = parts.join(' ');
    $('new-run-form').hidden = true;
    $('new-run-done').hidden = false;
    $('nr-copy').focus();
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

setUpViewer();

// ---------- start ----------

// ---------- a phone signed in by a pairing code (/pair#<code>) ----------

async function pairPhone() {
  const code = location.hash.slice(1);
  history.replaceState(null, '', '/');
  try {
    const r = await api('POST', '/api/pair', { code });
    await signedIn(r.csrf, r.person, true);
  } catch (e) {
    showLogin();
    $('login-error').textContent = `This pairing code did not work: ${e.message}`;
  }
}

(async () => {
  if (location.pathname === '/join' && location.hash.length > 1) return showJoin();
  if (location.pathname === '/pair' && location.hash.length > 1) return pairPhone();
  try {
    const s = await api('GET', '/api/session');
    await signedIn(s.csrf, s.person);
  } catch {
    showLogin();
  }
})();
