// format.mjs: durations, sizes, money, tokens, run states, link checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as f from '../../../gateway/src/web/format.mjs';

test('durations, sizes, tokens and costs', () => {
  for (const [ms, want] of [[null, ''], [-1, ''], [450, '0.5s'], [59_000, '59s'], [61_000, '1m 01s'], [3_723_000, '1h 02m']]) {
    assert.equal(f.fmtDuration(ms), want, String(ms));
  }
  assert.deepEqual([0, 999, 1500, 25_203, 2_500_000].map(f.fmtTokens), ['0', '999', '1.5k', '25k', '2.5M']);
  assert.deepEqual([512, 2048, 3 * 1024 * 1024].map(f.fmtSize), ['512 B', '2.0 KiB', '3.0 MiB']);
  assert.deepEqual([0.050348, 12.5, NaN, undefined].map(f.fmtCost), ['$0.0503', '$12.50', '', '']);
  assert.equal(f.inputTokens({ input_tokens: 1, cache_read_input_tokens: 10, cache_creation_input_tokens: 100 }), 111);
  assert.equal(f.fmtClock(Date.UTC(2026, 0, 2, 3, 4, 5, 67)), '03:04:05.067');
});

test('a running run’s duration goes on with the clock; an ended one stops', () => {
  const run = { created_at: 1_000, status: 'running', last_event_at: 5_000 };
  assert.equal(f.runDuration(run, 61_000), '1m 00s');
  assert.equal(f.runDuration(run, 121_000), '2m 00s');
  assert.equal(f.runDuration({ ...run, status: 'failed' }, 121_000), '4s');
  assert.equal(f.runDuration({ ...run, status: 'finished', finished_at: 11_000 }, 121_000), '10s');
});

test('states: a running session between turns waits for input', () => {
  assert.equal(f.shownStatus({ status: 'running', claude: { between_turns: true } }), 'waiting_for_input');
  assert.equal(f.shownStatus({ status: 'running', agent_offline: true }), 'agent_offline');
  assert.equal(f.shownStatus({ status: 'lost', agent_offline: true }), 'lost');
  assert.equal(f.shownStatus({ status: 'running', claude: null }), 'running');
  assert.equal(f.shownStatus(null), 'unknown');
  assert.equal(f.statusLabel('waiting_for_input'), 'Waiting for input');
});

test('links from run data: https only, normalised', () => {
  for (const [input, want] of [
    ['https://tmate.io/t/x', 'https://tmate.io/t/x'],
    ['HTTPS://Example.COM', 'https://example.com/'],
    ['http://example.com', null],
    ['javascript:alert(1)', null],
    [' javascript:alert(1)', null],
    ['data:text/html,<script>', null],
    ['//evil.example/x', null],
    ['/runs/x', null],
    [undefined, null],
  ]) {
    assert.equal(f.httpsUrl(input), want, String(input));
  }
});

test('shell quoting for the command line to copy', () => {
  assert.equal(f.shellQuote('/home/me/project'), '/home/me/project');
  assert.equal(f.shellQuote("it's $HOME"), `'it'\\''s $HOME'`);
});

test('what retention keeps, and until when', () => {
  const policy = { finished: 90 * 86_400, failed: 3_600, stopped: null };
  const ended = Date.UTC(2026, 0, 1);
  assert.equal(f.keptUntil({ status: 'running', created_at: 1 }, policy), 'while it runs');
  assert.equal(f.keptUntil({ status: 'finished', pinned: true, finished_at: ended }, policy), 'pinned: kept until unpinned');
  assert.equal(f.keptUntil({ status: 'stopped', finished_at: ended }, policy), 'forever');
  assert.equal(f.keptUntil({ status: 'finished', finished_at: ended }, null), 'forever');
  assert.equal(
    f.keptUntil({ status: 'finished', finished_at: ended }, policy),
    `until ${f.fmtStamp(ended + 90 * 86_400_000)} (90 days after it ended)`,
  );
  assert.match(f.keptUntil({ status: 'failed', finished_at: null, created_at: ended }, policy), /\(1 h after it ended\)$/);
});

test('a running run with waiting permission requests needs approval, counted in the title', () => {
  const needs = { status: 'running', claude: { pending_approvals: 2, between_turns: true } };
  assert.equal(f.shownStatus(needs), 'needs_approval');
  assert.equal(f.shownStatus({ ...needs, status: 'finished' }), 'finished');
  assert.equal(f.shownStatus({ status: 'running', claude: { pending_approvals: 0, between_turns: true } }), 'waiting_for_input');
  const runs = [needs, { status: 'running', claude: null }, { status: 'running', claude: { pending_approvals: 1 } }];
  assert.equal(f.needingApproval(runs), 2);
  assert.equal(f.pageTitle('Runs · gateway', 2), '(2) Runs · gateway');
  assert.equal(f.pageTitle('Runs · gateway', 0), 'Runs · gateway');
});

test('an API token is active until it is revoked or its expiry passes', () => {
  assert.equal(f.tokenState({ revoked: false, expires_at: null }, 5), 'active');
  assert.equal(f.tokenState({ revoked: false, expires_at: 10 }, 9), 'active');
  assert.equal(f.tokenState({ revoked: false, expires_at: 10 }, 10), 'expired');
  assert.equal(f.tokenState({ revoked: true, expires_at: 10 }, 20), 'revoked');
  assert.equal(f.expiresAt('', 1000), null);
  assert.equal(f.expiresAt('7', 1000), 1000 + 7 * 24 * 60 * 60 * 1000);
});

test('a run summary read by a request never replaces a later one from the list stream', () => {
  // The page's GET was answered before the turn's last batch committed; the list stream brought
  // that batch's summary first. The stale answer must not win (a UI test once waited 30 s for
  // totals that a stale summary had wiped).
  const later = { id: 'r_1', status: 'running', last_sequence: 12, claude: { cost_usd: 0.05, between_turns: true }, agent: 'box' };
  const stale = { id: 'r_1', status: 'running', last_sequence: 7, claude: null };
  assert.equal(f.fresherRun(later, stale), later);
  // Equal or later: the answer wins whole. Fields a summary leaves out when false or unset are
  // not kept from the one before (an agent back online stays shown offline otherwise).
  const pinned = { id: 'r_1', status: 'running', last_sequence: 12, pinned: true };
  assert.equal(f.fresherRun(later, pinned), pinned);
  const offline = { ...later, agent_offline: true };
  const back = { ...later };
  assert.equal(f.fresherRun(offline, back).agent_offline, undefined);
  assert.deepEqual(f.fresherRun(stale, later), later);
  assert.equal(f.fresherRun(undefined, stale), stale);
  assert.equal(f.fresherRun({ id: 'r_2', last_sequence: 99 }, stale), stale);
});

test('a push subscription is kept only when it was made with the key the gateway has now', () => {
  const key = Uint8Array.from([4, 1, 2, 3]);
  assert.equal(f.sameBytes(null, key), false);
  assert.equal(f.sameBytes(Uint8Array.from([4, 1, 2, 3]).buffer, key), true);
  assert.equal(f.sameBytes(Uint8Array.from([4, 1, 2, 9]).buffer, key), false);
  assert.equal(f.sameBytes(Uint8Array.from([4, 1, 2]).buffer, key), false);
  // A view into a larger buffer compares only its own bytes.
  assert.equal(f.sameBytes(new Uint8Array(Uint8Array.from([0, 4, 1, 2, 3, 0]).buffer, 1, 4), key), true);
});
