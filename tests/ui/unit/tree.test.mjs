// tree.mjs and toolcalls.mjs: files.json as a tree, languages, file artifact names; tool calls
// understood as diffs, commands and checklists; a turn header's figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildTree, fenceLanguage, fileArtifactName, languageOf } from '../../../gateway/src/web/tree.mjs';
import { understand } from '../../../gateway/src/web/toolcalls.mjs';
import { turnStats } from '../../../gateway/src/web/transcript.mjs';

test('files.json becomes folders first, sorted, with counts; bad entries are skipped', () => {
  const t = buildTree([
    { path: 'src/main.rs', size: 10 },
    { path: 'README.md', size: 5 },
    { path: 'src/web/app.mjs', size: 7 },
    { path: 'Cargo.toml', size: 1 },
    { path: 'link', size: 0, symlink: true },
    { path: '' },
    { nope: 1 },
    null,
    { path: '../../etc/passwd', size: 1 },
  ]);
  assert.equal(t.count, 6);
  assert.deepEqual(t.dirs.map((d) => [d.path, d.count]), [['etc', 1], ['src', 2]]);
  assert.deepEqual(t.files.map((f) => f.name), ['Cargo.toml', 'README.md', 'link']);
  assert.equal(t.files[2].symlink, true);
  assert.deepEqual(t.dirs[1].dirs[0].files.map((f) => f.path), ['src/web/app.mjs']);
  assert.equal(buildTree(undefined).count, 0);
});

test('languages from file names and fence info strings', () => {
  assert.deepEqual(['src/lib.rs', 'a/b.tsx', 'Dockerfile', 'Makefile', 'x.yml', 'notes', 'y.unknown'].map(languageOf), ['rust', 'tsx', 'docker', 'makefile', 'yaml', null, null]);
  assert.deepEqual(['js', 'sh', 'rust ignore', '', 'brainfuck'].map(fenceLanguage), ['javascript', 'bash', 'rust', null, null]);
});

test('the artifact a file command uploads is named as the runner names it', async () => {
  const hex = (p) => createHash('sha256').update(p).digest('hex').slice(0, 8);
  assert.equal(await fileArtifactName('src/main.rs'), `file-src_main.rs-${hex('src/main.rs')}.txt`);
  assert.equal(await fileArtifactName('.env'), `file-env-${hex('.env')}.txt`);
  assert.equal(await fileArtifactName('dir/é x.txt'), `file-dir__x.txt-${hex('dir/é x.txt')}.txt`.replace('dir__x', 'dir___x'));
  const long = `${'a/'.repeat(80)}end.rs`;
  const name = await fileArtifactName(long);
  assert.equal(name.length, 'file-'.length + 100 + 1 + 8 + '.txt'.length);
});

test('tool calls: Edit and MultiEdit as diffs, Write as added lines, Bash, TodoWrite', () => {
  const edit = understand({ tool: 'Edit', input: { file_path: '/r/src/lib.rs', old_string: 'a\nb', new_string: 'a\nc' } });
  assert.equal(edit.shape, 'edit');
  assert.deepEqual(edit.edits[0].lines.map((l) => `${l.op}${l.text}`), [' a', '-b', '+c']);
  const multi = understand({ tool: 'MultiEdit', input: { file_path: 'x', edits: [{ old_string: '1', new_string: '2' }, { old_string: 'q', new_string: 'r', replace_all: true }, { bad: 1 }] } });
  assert.deepEqual(multi.edits.map((e) => [e.lines.length, e.replaceAll]), [[2, false], [2, true]]);
  const write = understand({ tool: 'Write', input: { file_path: 'n.md', content: '# hi\nthere\n' } });
  assert.deepEqual(write.lines.map((l) => `${l.op}${l.text}`), ['+# hi', '+there']);
  assert.deepEqual(understand({ tool: 'Bash', input: { command: 'ls', description: 'list' } }, '/repo'), { shape: 'bash', command: 'ls', description: 'list', cwd: '/repo', background: false });
  const todo = understand({ tool: 'TodoWrite', input: { todos: [{ content: 'a', status: 'completed' }, { content: 'b', activeForm: 'Doing b', status: 'in_progress' }, { content: 'c', status: 'weird' }] } });
  assert.deepEqual(todo.items, [{ text: 'a', status: 'completed' }, { text: 'Doing b', status: 'in_progress' }, { text: 'c', status: 'pending' }]);
  // Malformed inputs fall back to the JSON.
  assert.equal(understand({ tool: 'Edit', input: { file_path: 1 } }).shape, 'json');
  assert.equal(understand({ tool: 'Bash', input: null }).shape, 'json');
});

test('a turn header\'s figures: duration, tokens with cache, cost; the outcome unless success', () => {
  const usage = { input_tokens: 200, cache_read_input_tokens: 25000, cache_creation_input_tokens: 3, output_tokens: 49 };
  assert.equal(turnStats({ outcome: 'success', durationMs: 1840, usage, costUsd: 0.050348 }), '1s · 25k in · 49 out · $0.0503');
  assert.equal(turnStats({ outcome: 'aborted', durationMs: 120 }), 'aborted · 0.1s');
  assert.equal(turnStats(null), '');
});
