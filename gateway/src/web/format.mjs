// Formatting shared by every screen: times, durations, sizes, money, tokens, run states, and the
// one check every link made from run data passes. Pure: no DOM, unit-tested under node --test.

/** A run state after which nothing more happens. */
export const TERMINAL = new Set(['finished', 'failed', 'stopped', 'incomplete', 'lost']);

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Clock time today, else a short date and time (local). */
export function fmtTime(ms, now = Date.now()) {
  if (!ms) return '';
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date(now).toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** `2026-12-01 02:04:16.123 UTC`. */
export function fmtStamp(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '';
}

/** A log line's time of day in UTC, to the millisecond: `02:04:16.123`. */
export function fmtClock(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${pad(m % 60)}m`;
}

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function fmtSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
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

/** Input tokens as Claude bills them: fresh, cache reads and cache writes together. */
export function inputTokens(u) {
  if (!u) return 0;
  return (u.input_tokens || 0) + (u.cache_read_input_tokens || 0) + (u.cache_creation_input_tokens || 0);
}

/** How long a run has been going (to `now` while it runs), formatted. */
export function runDuration(run, now = Date.now()) {
  if (!run || !run.created_at) return '';
  const end = run.finished_at || (TERMINAL.has(run.status) ? run.last_event_at : null) || now;
  return fmtDuration(end - run.created_at);
}

/** `waiting_for_input` → `Waiting for input`. */
export function statusLabel(status) {
  const words = String(status).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The status to show: a running run with a tool call waiting for a person needs approval; a
 *  running session between turns is waiting for a prompt. */
export function shownStatus(run) {
  if (!run) return 'unknown';
  if (run.agent_offline && !TERMINAL.has(run.status)) return 'agent_offline';
  if (run.status === 'running' && run.claude && run.claude.pending_approvals > 0) return 'needs_approval';
  return run.status === 'running' && run.claude && run.claude.between_turns ? 'waiting_for_input' : run.status;
}

/** Of two summaries of one run, the one to show: `incoming` unless `current` has seen later
 *  events. A run's summary read by a request can be answered before a batch commits and arrive
 *  after the list stream already brought that batch's summary: the older must not win, or the
 *  view keeps stale totals and status until the run's next batch (which, between turns, never
 *  comes). Sequences only grow, so the higher `last_sequence` is the later summary. */
export function fresherRun(current, incoming) {
  if (!current || current.id !== incoming.id) return incoming;
  if ((current.last_sequence ?? 0) > (incoming.last_sequence ?? 0)) return current;
  // Whole, not merged: a summary leaves out what is false or unset (`agent_offline`, `reason`),
  // and a merge would keep an agent offline for good once it was.
  return incoming;
}

/** How many of `runs` need approval. */
export function needingApproval(runs) {
  let n = 0;
  for (const r of runs) if (shownStatus(r) === 'needs_approval') n++;
  return n;
}

/** The tab title: `(n) ` in front while n runs need approval. */
export function pageTitle(base, n) {
  return n > 0 ? `(${n}) ${base}` : base;
}

/** A link target from run data: only an absolute https URL, normalised by the URL parser. */
export function httpsUrl(text) {
  try {
    const u = new URL(String(text));
    return u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export function shellQuote(s) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One line of at most `n` characters (whitespace runs made one space). */
export function clip(s, n) {
  const one = String(s ?? '').replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** A session id or command id, shortened for a label: `9c797fd8`. */
export function shortId(id) {
  return String(id ?? '').slice(0, 8);
}

/** How long retention keeps `run`, in words, given `policy` from `GET /api/retention` (seconds
 *  per ended status, null: forever): pinned runs and runs still going are kept; an ended run
 *  until its end (or creation) plus its status's time. */
export function keptUntil(run, policy) {
  if (!run) return '';
  if (run.pinned) return 'pinned: kept until unpinned';
  if (!TERMINAL.has(run.status)) return 'while it runs';
  const secs = policy ? policy[run.status] : null;
  if (secs === null || secs === undefined) return 'forever';
  const from = run.finished_at || run.created_at;
  const days = Math.round(secs / 86_400);
  const span = days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : `${Math.round(secs / 3600)} h`;
  return `until ${fmtStamp(from + secs * 1000)} (${span} after it ended)`;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** An API token's state as the Account page lists it: `revoked`, `expired` or `active`. */
export function tokenState(t, now = Date.now()) {
  if (t.revoked) return 'revoked';
  if (t.expires_at && now >= t.expires_at) return 'expired';
  return 'active';
}

/** A new token's `expires_at` (unix ms) for a choice of days; `''` (never): `null`. */
export function expiresAt(days, now = Date.now()) {
  return days === '' ? null : now + Number(days) * DAY_MS;
}

/** Whether `buffer` (an ArrayBuffer, a typed array or null) holds exactly `bytes`: a browser's
 * push subscription made with another gateway key than today's must be made again. */
export function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const a = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return a.length === bytes.length && a.every((x, i) => x === bytes[i]);
}
