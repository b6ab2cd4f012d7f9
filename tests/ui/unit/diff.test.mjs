// diff.mjs: a unified diff split into files with line numbers; the line diff of an Edit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffClass, diffStat, lineDiff, parseUnifiedDiff } from '../../../gateway/src/web/diff.mjs';

const GIT = `diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,3 @@
 pub fn last(v: &[u8]) -> u8 {
-    v[v.len()]
+    v[v.len() - 1]
 }
diff --git a/NEW.md b/NEW.md
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/NEW.md
@@ -0,0 +1,2 @@
+# New
+--- not a header inside a hunk
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
\\ No newline at end of file
`;

test('a git diff splits into files with status, counts and line numbers', () => {
  const files = parseUnifiedDiff(GIT);
  assert.deepEqual(files.map((f) => [f.path, f.status, f.added, f.removed]), [
    ['src/lib.rs', 'modified', 1, 1],
    ['NEW.md', 'added', 2, 0],
    ['old.txt', 'deleted', 0, 1],
  ]);
  const lib = files[0].lines.filter((l) => l.old !== null || l.new !== null).map((l) => [l.cls, l.old, l.new]);
  assert.deepEqual(lib, [['d-ctx', 1, 1], ['d-del', 2, null], ['d-add', null, 2], ['d-ctx', 3, 3]]);
  assert.equal(files[1].lines.at(-1).cls, 'd-add', '--- inside a hunk is an added line');
  assert.equal(files[2].lines.at(-1).cls, 'd-meta');
});

test('text that is not a diff is one file of context lines', () => {
  const files = parseUnifiedDiff('just text\nmore\n');
  assert.equal(files.length, 1);
  assert.equal(files[0].path, null);
  assert.deepEqual(files[0].lines.map((l) => l.cls), ['d-ctx', 'd-ctx']);
  assert.deepEqual(parseUnifiedDiff(''), []);
});

test('diffClass classifies the viewer’s lines', () => {
  assert.deepEqual(['diff --git a b', '@@ -1 +1 @@', '+x', '-y', ' z', '\\ No newline'].map(diffClass), ['d-head', 'd-hunk', 'd-add', 'd-del', 'd-ctx', 'd-meta']);
});

test('lineDiff: common head and tail kept, the middle as removed and added lines', () => {
  const d = lineDiff('a\nb\nc\nd', 'a\nB\nc\nd\ne');
  assert.deepEqual(d.map((l) => `${l.op}${l.text}`), [' a', '-b', '+B', ' c', ' d', '+e']);
  assert.deepEqual(d.map((l) => [l.old, l.new]), [[1, 1], [2, null], [null, 2], [3, 3], [4, 4], [null, 5]]);
  assert.deepEqual(diffStat(d), { added: 2, removed: 1 });
  assert.deepEqual(lineDiff('same', 'same').map((l) => l.op), [' ']);
  assert.deepEqual(lineDiff('', 'new').map((l) => `${l.op}${l.text}`), ['-', '+new']);
});

test('lineDiff is a correct edit script (property, random inputs)', () => {
  let seed = 7;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let round = 0; round < 300; round++) {
    const make = () => Array.from({ length: rnd(8) }, () => 'abc'[rnd(3)]).join('\n');
    const a = make();
    const b = make();
    const d = lineDiff(a, b);
    assert.equal(d.filter((l) => l.op !== '+').map((l) => l.text).join('\n'), a, `old side of ${a} → ${b}`);
    assert.equal(d.filter((l) => l.op !== '-').map((l) => l.text).join('\n'), b, `new side of ${a} → ${b}`);
  }
});
