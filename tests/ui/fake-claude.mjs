// A stand-in for `claude -p <prompt> --output-format stream-json --verbose [--resume <id>]`: prints
// Claude Code stream-json lines shaped like the real CLI's (see
// common/tests/data/claude-stream-json-samples.jsonl), one turn per invocation.
//
// Usage (through a wrapper, as CLAUDE_COMMAND): fake-claude.mjs <state dir> -p <prompt> …
//   turn 1: thinking, a Bash tool call with its result, an answer (with HTML in it), a result
//   later turns: an answer quoting the prompt; a prompt containing "wait" keeps the turn running
//   until SIGINT, then ends it as Claude Code does (`terminal_reason: aborted_streaming`)

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [state, ...args] = process.argv.slice(2);
const prompt = args[args.indexOf('-p') + 1] ?? '';
const resumed = args.includes('--resume') ? args[args.indexOf('--resume') + 1] : null;
const turn = readdirSync(state).filter((f) => f.startsWith('turn-')).length + 1;
writeFileSync(join(state, `turn-${turn}`), prompt);

const session = resumed ?? '9c797fd8-2b1c-48fe-8f4e-d9134712ad76';
const model = 'claude-opus-5-5';
let n = 0;
const uuid = () => `00000000-0000-4000-8000-${String(turn * 1000 + ++n).padStart(12, '0')}`;
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const usage = (input, output) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
const assistant = (content, u = usage(12583, 1)) =>
  out({
    type: 'assistant',
    message: { id: `msg_fake_${turn}_${n}`, type: 'message', role: 'assistant', model, content, stop_reason: null, stop_sequence: null, usage: u, context_management: null },
    parent_tool_use_id: null,
    session_id: session,
    uuid: uuid(),
  });
const result = (fields) =>
  out({
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 1840,
    duration_api_ms: 1210,
    num_turns: 1,
    session_id: session,
    total_cost_usd: 0,
    usage: usage(0, 0),
    permission_denials: [],
    terminal_reason: 'completed',
    uuid: uuid(),
    ...fields,
  });

out({ type: 'system', subtype: 'init', cwd: process.cwd(), session_id: session, tools: ['Bash', 'Edit', 'Read', 'Write'], mcp_servers: [], model, permissionMode: 'default', apiKeySource: 'ANTHROPIC_API_KEY', claude_code_version: '2.1.330', uuid: uuid() });

const call = (id, name, input, content) => {
  assistant([{ type: 'tool_use', id, name, input }]);
  out({ type: 'user', message: { role: 'user', content: [{ tool_use_id: id, type: 'tool_result', content, is_error: false }] }, parent_tool_use_id: null, session_id: session, uuid: uuid() });
};

if (prompt.includes('show me everything')) {
  // One turn with every kind the transcript draws specially.
  assistant([{ type: 'thinking', thinking: 'Look at the diff, fix the bound, write a note, track the work.', signature: 'sig' }]);
  call('toolu_bash', 'Bash', { command: 'git diff --stat', description: 'Show what changed' }, ' src/lib.rs | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)');
  call('toolu_edit', 'Edit', { file_path: `${process.cwd()}/src/lib.rs`, old_string: 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len()]\n}', new_string: 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len() - 1]\n}' }, 'The file src/lib.rs has been updated.');
  call('toolu_write', 'Write', { file_path: `${process.cwd()}/NOTES.md`, content: '# Notes\n\nThe bound was off by one.\n' }, 'File created successfully at: NOTES.md');
  call('toolu_todo', 'TodoWrite', { todos: [{ content: 'Find the bug', status: 'completed', activeForm: 'Finding the bug' }, { content: 'Fix the bound', status: 'in_progress', activeForm: 'Fixing the bound' }, { content: 'Add a test', status: 'pending', activeForm: 'Adding a test' }] }, 'Todos have been modified successfully.');
  call('toolu_log', 'Bash', { command: 'cargo test', description: 'Run the tests' }, Array.from({ length: 40 }, (_, i) => `test case_${i} ... ok`).join('\n'));
  const md = [
    '## Fixed',
    '',
    'The **off-by-one** in `last()` is gone:',
    '',
    '```rust',
    'pub fn last(v: &[u8]) -> u8 {',
    '    v[v.len() - 1] // the last element',
    '}',
    '```',
    '',
    '- [x] found the bug',
    '- [ ] add a test',
    '',
    '| file | change |',
    '|:--|--:|',
    '| src/lib.rs | +1 −1 |',
    '',
    'See [the docs](https://doc.rust-lang.org/std/primitive.slice.html), not [this](javascript:window.__pwned=3).',
    'Raw <img src=x onerror="window.__pwned=4"> stays text.',
  ].join('\n');
  assistant([{ type: 'text', text: md }], usage(12620, 48));
  result({ num_turns: 6, total_cost_usd: 0.0812, duration_ms: 4200, usage: usage(31000, 310), result: 'Fixed.' });
} else if (turn === 1) {
  assistant([{ type: 'thinking', thinking: 'The test fails on the last element: the loop bound is off by one.', signature: 'sig' }]);
  assistant([{ type: 'tool_use', id: 'toolu_c01d241093614f8db8ee104f', name: 'Bash', input: { command: 'git diff --stat', description: 'Show what changed' } }]);
  out({
    type: 'user',
    message: { role: 'user', content: [{ tool_use_id: 'toolu_c01d241093614f8db8ee104f', type: 'tool_result', content: ' src/lib.rs | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)', is_error: false }] },
    parent_tool_use_id: null,
    session_id: session,
    uuid: uuid(),
  });
  assistant([{ type: 'text', text: 'Fixed the off-by-one in src/lib.rs: the loop now stops at len - 1.\nAs text: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>' }], usage(12620, 48));
  result({ num_turns: 2, total_cost_usd: 0.050348, usage: usage(25203, 49), result: 'Fixed the off-by-one in src/lib.rs.' });
} else if (prompt.includes('wait')) {
  assistant([{ type: 'text', text: `Working on it: ${prompt}` }]);
  process.on('SIGINT', () => {
    out({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user]' }] }, parent_tool_use_id: null, session_id: session, uuid: uuid() });
    result({ subtype: 'error_during_execution', terminal_reason: 'aborted_streaming', total_cost_usd: 0.0121, usage: usage(12700, 9) });
    process.exit(0);
  });
  setInterval(() => {}, 1000);
} else {
  assistant([{ type: 'text', text: `You said: ${prompt}` }], usage(12650, 20));
  result({ total_cost_usd: 0.0132, usage: usage(12650, 20), result: `You said: ${prompt}` });
}
