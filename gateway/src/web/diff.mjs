// Diffs: a unified diff (latest.diff, a .patch) split into files and classified lines, and the
// line diff of an Edit call's old and new text. Pure: the views build the page from the answers.

/** The class of one line of a unified diff. */
export function diffClass(line) {
  if (/^(diff |index |--- |\+\+\+ |new file|deleted file|similarity |rename |old mode|new mode|Binary files)/.test(line)) return 'd-head';
  if (line.startsWith('@@')) return 'd-hunk';
  if (line.startsWith('+')) return 'd-add';
  if (line.startsWith('-')) return 'd-del';
  if (line.startsWith('\\')) return 'd-meta';
  return 'd-ctx';
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/** `a/src/x.rs` → `src/x.rs`; `/dev/null` → null. A quoted name is unquoted. */
function stripPrefix(name) {
  let n = name.trim().replace(/\t.*$/, '');
  if (n.startsWith('"') && n.endsWith('"')) n = n.slice(1, -1);
  if (n === '/dev/null') return null;
  return n.replace(/^[ab]\//, '');
}

/**
 * Split a unified diff into files: `[{path, oldPath, newPath, status, added, removed, lines}]`,
 * each line `{cls, text, old, new}` with its line numbers in the old and new file (null where it
 * has none). Text before the first file header becomes a file with path null.
 */
export function parseUnifiedDiff(text) {
  const files = [];
  let file = null;
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  const start = (header) => {
    file = { path: null, oldPath: null, newPath: null, status: 'modified', added: 0, removed: 0, lines: [] };
    files.push(file);
    inHunk = false;
    const m = header && header.match(/^diff --git ("?a\/.+?"?) ("?b\/.+"?)$/);
    if (m) {
      file.oldPath = stripPrefix(m[1]);
      file.newPath = stripPrefix(m[2]);
    }
  };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('diff ')) start(line);
    else if (!file) start(null);
    const entry = { cls: 'd-ctx', text: line, old: null, new: null };
    const m = line.match(HUNK);
    if (m) {
      oldNo = Number(m[1]);
      newNo = Number(m[2]);
      inHunk = true;
      entry.cls = 'd-hunk';
    } else if (inHunk && (line === '' || /^[-+ \\]/.test(line))) {
      // Inside a hunk the first character decides: `--- x` here is a removed `-- x`.
      if (line[0] === '+') {
        entry.cls = 'd-add';
        entry.new = newNo++;
        file.added++;
      } else if (line[0] === '-') {
        entry.cls = 'd-del';
        entry.old = oldNo++;
        file.removed++;
      } else if (line[0] === '\\') {
        entry.cls = 'd-meta';
      } else {
        entry.old = oldNo++;
        entry.new = newNo++;
      }
    } else {
      inHunk = false;
      entry.cls = diffClass(line);
      if (line.startsWith('--- ')) file.oldPath = stripPrefix(line.slice(4));
      else if (line.startsWith('+++ ')) file.newPath = stripPrefix(line.slice(4));
      else if (line.startsWith('new file')) file.status = 'added';
      else if (line.startsWith('deleted file')) file.status = 'deleted';
      else if (line.startsWith('rename from ')) {
        file.status = 'renamed';
        file.oldPath = line.slice(12);
      } else if (line.startsWith('rename to ')) file.newPath = line.slice(10);
    }
    file.lines.push(entry);
  }
  for (const f of files) {
    f.path = f.newPath ?? f.oldPath;
    if (f.status === 'modified' && f.oldPath && !f.newPath) f.status = 'deleted';
    if (f.status === 'modified' && f.newPath && !f.oldPath && f.lines.some((l) => l.text.startsWith('--- /dev/null'))) f.status = 'added';
  }
  return files;
}

const MAX_CELLS = 4_000_000; // old × new lines above which the diff is shown as all-removed, all-added

/**
 * The line diff of `a` → `b` (an Edit call's old_string and new_string): `[{op, text, old, new}]`,
 * `op` one of ' ', '-', '+', with 1-based line numbers relative to the strings. Longest common
 * subsequence of lines, after the common head and tail are taken off.
 */
export function lineDiff(a, b) {
  const A = String(a ?? '').split('\n');
  const B = String(b ?? '').split('\n');
  let head = 0;
  while (head < A.length && head < B.length && A[head] === B[head]) head++;
  let tail = 0;
  while (tail < A.length - head && tail < B.length - head && A[A.length - 1 - tail] === B[B.length - 1 - tail]) tail++;
  const a2 = A.slice(head, A.length - tail);
  const b2 = B.slice(head, B.length - tail);
  const out = [];
  for (let i = 0; i < head; i++) out.push({ op: ' ', text: A[i], old: i + 1, new: i + 1 });
  const middle = [];
  if (a2.length * b2.length > MAX_CELLS) {
    for (const t of a2) middle.push(['-', t]);
    for (const t of b2) middle.push(['+', t]);
  } else {
    // lcs[i][j]: the LCS length of a2[i..] and b2[j..], in one flat array.
    const n = a2.length;
    const m = b2.length;
    const lcs = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * (m + 1) + j] = a2[i] === b2[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a2[i] === b2[j]) {
        middle.push([' ', a2[i]]);
        i++;
        j++;
      } else if (j < m && (i >= n || lcs[i * (m + 1) + j + 1] > lcs[(i + 1) * (m + 1) + j])) {
        middle.push(['+', b2[j++]]);
      } else {
        middle.push(['-', a2[i++]]);
      }
    }
  }
  let o = head;
  let w = head;
  for (const [op, text] of middle) {
    if (op === ' ') out.push({ op, text, old: ++o, new: ++w });
    else if (op === '-') out.push({ op, text, old: ++o, new: null });
    else out.push({ op, text, old: null, new: ++w });
  }
  for (let k = A.length - tail; k < A.length; k++) out.push({ op: ' ', text: A[k], old: ++o, new: ++w });
  return out;
}

/** Counts of added and removed lines in a lineDiff answer. */
export function diffStat(lines) {
  let added = 0;
  let removed = 0;
  for (const l of lines) {
    if (l.op === '+') added++;
    else if (l.op === '-') removed++;
  }
  return { added, removed };
}
