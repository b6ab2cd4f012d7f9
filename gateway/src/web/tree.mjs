// files.json (the run's working tree, `{"root", "count", "truncated", "files": [{"path", "size",
// "symlink"?}]}`) as a tree of folders and files. Pure: files.mjs draws it.

/** A folder: `{name, path, dirs: [folder], files: [{name, path, size, symlink}], count}`, sorted
 *  by name, folders first; `count` is the number of files below it. Bad entries are skipped. */
export function buildTree(list) {
  const root = { name: '', path: '', dirs: new Map(), files: [], count: 0 };
  for (const f of Array.isArray(list) ? list : []) {
    if (!f || typeof f.path !== 'string' || !f.path) continue;
    const parts = f.path.split('/').filter((p) => p && p !== '.' && p !== '..');
    if (!parts.length) continue;
    let dir = root;
    dir.count++;
    for (let i = 0; i < parts.length - 1; i++) {
      let next = dir.dirs.get(parts[i]);
      if (!next) {
        next = { name: parts[i], path: parts.slice(0, i + 1).join('/'), dirs: new Map(), files: [], count: 0 };
        dir.dirs.set(parts[i], next);
      }
      dir = next;
      dir.count++;
    }
    dir.files.push({ name: parts[parts.length - 1], path: parts.join('/'), size: Number(f.size) || 0, symlink: Boolean(f.symlink) });
  }
  return seal(root);
}

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function seal(dir) {
  return {
    name: dir.name,
    path: dir.path,
    count: dir.count,
    dirs: [...dir.dirs.values()].sort(byName).map(seal),
    files: dir.files.sort(byName),
  };
}

/** The Prism language for a file name, or null for none. */
export function languageOf(name) {
  const base = String(name).split('/').pop().toLowerCase();
  if (base === 'dockerfile' || base.startsWith('dockerfile.')) return 'docker';
  if (base === 'makefile' || base === 'gnumakefile') return 'makefile';
  if (base === 'cargo.lock') return 'toml';
  const ext = base.includes('.') ? base.split('.').pop() : '';
  return EXTENSIONS[ext] || null;
}

const EXTENSIONS = {
  rs: 'rust', js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'jsx', ts: 'typescript', mts: 'typescript',
  tsx: 'tsx', py: 'python', rb: 'ruby', go: 'go', java: 'java', kt: 'kotlin', kts: 'kotlin', c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', cs: 'csharp', swift: 'swift', lua: 'lua', sh: 'bash', bash: 'bash',
  zsh: 'bash', json: 'json', toml: 'toml', yaml: 'yaml', yml: 'yaml', md: 'markdown', markdown: 'markdown',
  html: 'markup', htm: 'markup', xml: 'markup', svg: 'markup', css: 'css', sql: 'sql', ini: 'ini', cfg: 'ini',
  diff: 'diff', patch: 'diff', mk: 'makefile',
};

/** The language named by a Markdown fence's info string (`rust`, `js`, `sh`, `py` …), or null. */
export function fenceLanguage(info) {
  const word = String(info || '').trim().split(/\s+/)[0].toLowerCase();
  if (!word) return null;
  const alias = { js: 'javascript', ts: 'typescript', sh: 'bash', shell: 'bash', console: 'bash', zsh: 'bash', py: 'python', rb: 'ruby', rs: 'rust', yml: 'yaml', html: 'markup', xml: 'markup', md: 'markdown', dockerfile: 'docker', 'c++': 'cpp', cs: 'csharp', kt: 'kotlin', patch: 'diff', jsonc: 'json' };
  return alias[word] || (Object.values(EXTENSIONS).includes(word) ? word : null);
}

/** The artifact a `file` command uploads for `path` (as the runner names it: PROTOCOL.md §6):
 *  `file-<path, [A-Za-z0-9._-] only, leading dots dropped, its last 100>-<8 hex of SHA-256>.txt`. */
export async function fileArtifactName(path) {
  const clean = [...path].map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : '_')).join('').replace(/^\.+/, '');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(path)));
  const hex = [...digest.slice(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `file-${clean.slice(Math.max(0, clean.length - 100))}-${hex}.txt`;
}
