// lines.mjs: what the terminal shows for each event: markers and Claude's stream-json in words,
// commands by name, raw JSON on request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CommandNames, describeClaude, describeEvent, describeMarker, isFragment, joinFragment, skipNotice, streamJson } from '../../../gateway/src/web/lines.mjs';

const SAMPLES = new URL('../../../common/tests/data/claude-stream-json-samples.jsonl', import.meta.url);

test('every sample stream-json line of the real CLI reads as words', () => {
  const tools = new Map();
  const lines = readFileSync(SAMPLES, 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.length >= 5);
  for (const line of lines) {
    const j = streamJson(line);
    assert.ok(j, line.slice(0, 80));
    const d = describeClaude(j, tools);
    if (!d) continue; // a kind the CLI prints that the terminal shows raw
    assert.ok(d.label && typeof d.text === 'string', JSON.stringify(d));
    assert.ok(!d.text.startsWith('{"type"'), `not raw JSON: ${d.text.slice(0, 80)}`);
  }
});

test('who said what: answers, tool calls on one line, their results by tool name', () => {
  const tools = new Map();
  const call = describeClaude({ type: 'assistant', message: { content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'cargo test', description: 'run tests' } }] } }, tools);
  assert.deepEqual(call, { kind: 'tool', label: '→ Bash', text: 'cargo test' });
  const result = describeClaude({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok\nall passed', is_error: false }] } }, tools);
  assert.deepEqual(result, { kind: 'result', label: '← Bash', text: 'ok all passed  (2 lines)' });
  const failed = describeClaude({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'zz', content: [{ type: 'text', text: 'nope' }], is_error: true }] } }, tools);
  assert.deepEqual(failed, { kind: 'bad', label: '← tool', text: 'error: nope' });
  assert.deepEqual(describeClaude({ type: 'assistant', message: { content: [{ type: 'text', text: 'Hello\n\nworld' }] } }), { kind: 'answer', label: 'Claude', text: 'Hello world' });
  const done = describeClaude({ type: 'result', subtype: 'success', is_error: false, num_turns: 2, duration_ms: 1840, total_cost_usd: 0.050348, usage: { input_tokens: 25203, output_tokens: 49 } });
  assert.equal(done.text, 'done · 2 round trips · 1s · 25k in · 49 out · $0.0503 session total');
  const aborted = describeClaude({ type: 'result', subtype: 'error_during_execution', terminal_reason: 'aborted_streaming' });
  assert.equal(aborted.kind, 'bad');
  assert.match(aborted.text, /^aborted streaming/);
});

test('markers are short labelled lines', () => {
  for (const [data, label, text] of [
    [{ event: 'finished', exitCode: 0, durationMs: 61000 }, 'finished', 'exit 0 · after 1m 01s'],
    [{ event: 'turn_started', turn: 2, prompt: 'now fix the docs' }, 'turn 2', '"now fix the docs"'],
    [{ event: 'turn_finished', turn: 1, outcome: 'success', durationMs: 1840, usage: { input_tokens: 25203, output_tokens: 49 }, costUsd: 0.050348 }, 'turn 1', 'success · 1s · 25k in · 49 out · $0.0503'],
    [{ event: 'session', sessionId: '9c797fd8-2b1c', model: 'claude-opus-5-5' }, 'session', '9c797fd8 · claude-opus-5-5'],
    [{ event: 'redactions', counts: { aws_key: 2 } }, 'redacted', 'aws_key ×2'],
    [{ event: 'files', count: 12, truncated: false }, 'files', '12 listed'],
    [{ event: 'something_new', a: 1 }, 'something_new', '{"a":1}'],
  ]) {
    assert.deepEqual(describeMarker(data), { label, text }, JSON.stringify(data));
  }
});

test('markers that say output went unredacted or was dropped become notices; others do not', () => {
  const one = skipNotice({ event: 'redaction_skipped', names: ['CACHE_KEY'], minBytes: 8 });
  assert.match(one, /^Not redacted: the secret variable CACHE_KEY holds a value shorter than 8 bytes/);
  const two = skipNotice({ event: 'redaction_skipped', names: ['A_KEY', 'B_TOKEN'], minBytes: 8 });
  assert.match(two, /variables A_KEY, B_TOKEN hold values shorter than 8 bytes/);
  assert.match(skipNotice({ event: 'truncated', reason: 'spool_full', limitBytes: 1048576 }), /^Output dropped: .*1\.0 MiB/);
  for (const d of [{ event: 'redaction_skipped', names: [] }, { event: 'redactions', counts: { github: 1 } }, { event: 'finished', exitCode: 0 }, null, 'x']) {
    assert.equal(skipNotice(d), null, JSON.stringify(d));
  }
  assert.deepEqual(describeMarker({ event: 'redaction_skipped', names: ['CACHE_KEY'], minBytes: 8 }), {
    label: 'not redacted',
    text: 'CACHE_KEY: values shorter than 8 bytes',
  });
});

test('commands are named by what they run, never by their id', () => {
  const id = 'c0ffee00c0ffee00c0ffee00c0ffee00';
  const names = new CommandNames();
  names.see({ type: 'info', data: 'Executing command: git status' });
  const done = { type: 'marker', data: { event: 'command_finished', id, exitCode: 0, durationMs: 120 } };
  names.see(done);
  const line = describeEvent(done, { names });
  assert.equal(line.text, 'git status: exit 0 · 0.1s');
  assert.ok(!line.text.includes(id));
  // Sent from this page: known by id before anything was announced.
  const other = new CommandNames();
  other.sent({ id: 'abc', kind: 'exec', command: 'cargo test' });
  assert.equal(describeMarker({ event: 'command_finished', id: 'abc', exitCode: 101 }, other).text, 'cargo test: exit 101');
  assert.equal(describeMarker({ event: 'command_finished', id: 'unknown', exitCode: 1 }, other).text, 'command: exit 1');
});

test('raw mode shows what the run sent; non-JSON stdout keeps its escapes for colouring', () => {
  const line = '{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}';
  assert.deepEqual(describeEvent({ type: 'stdout', data: line }, { tools: new Map() }), { kind: 'c-answer', label: 'Claude', text: 'hi', ansi: false });
  assert.deepEqual(describeEvent({ type: 'stdout', data: line }, { tools: new Map() }, true), { kind: 'stdout', label: '', text: line, ansi: true });
  assert.deepEqual(describeEvent({ type: 'stdout', data: '{not json' }, {}), { kind: 'stdout', label: '', text: '{not json', ansi: true });
  assert.deepEqual(describeEvent({ type: 'marker', data: { event: 'x' } }, {}, true), { kind: 'marker', label: 'marker', text: '{"event":"x"}' });
});

test('a progress bar in fragments shows only its current state', () => {
  // Trailing carriage returns: each fragment's state, then the last line.
  assert.equal(joinFragment('  10%\r', '  50%\r'), '\r  50%\r');
  assert.equal(joinFragment('\r  50%\r', ' 100% done'), '\r 100% done');
  // A read that ended between \r and \n: the fragment stays what shows.
  assert.equal(joinFragment('50%\r', ''), '50%\r');
  // Leading carriage returns (the state after the \r).
  assert.equal(joinFragment('\r', ' 10%\r'), '\r 10%\r');
  assert.ok(isFragment({ type: 'stdout', data: ' 10%\r' }));
  assert.ok(isFragment({ type: 'stderr', data: '\r' }));
  assert.ok(!isFragment({ type: 'stdout', data: 'done' }));
  assert.ok(!isFragment({ type: 'marker', data: { event: 'x' } }));
});
