// Copies the web UI's pinned front-end packages (package-lock.json beside this file) into
// gateway/src/web/vendor/, where the gateway compiles them in with include_bytes!: a fresh
// `cargo build` needs no npm. Run after changing a version:
//
//   npm ci --prefix gateway/web-deps && node gateway/web-deps/vendor.mjs
//
// `--check` writes nothing and fails if the committed copies differ from what the lockfile
// installs (tests/ui/unit/vendor.test.mjs runs the same comparison).
//
// * marked: its ES-module build (already minified), without the source-map comment.
// * Prism: the core and a set of languages, minified by Prism itself, concatenated into one ES
//   module that exports the Prism object. Prism ships no ES-module build; in a module its
//   top-level `var Prism` is module-scoped, and `manual` keeps it from touching the page.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, 'node_modules');
export const VENDOR = join(HERE, '..', 'src', 'web', 'vendor');

/** Prism languages, in dependency order (components.json's `require`). */
export const PRISM_LANGUAGES = [
  'markup', 'css', 'clike', 'javascript', 'typescript', 'jsx', 'tsx', 'bash', 'c', 'cpp', 'csharp',
  'go', 'java', 'kotlin', 'json', 'markdown', 'python', 'ruby', 'rust', 'sql', 'toml', 'yaml',
  'diff', 'docker', 'ini', 'swift', 'lua', 'makefile',
];

const read = (...p) => readFileSync(join(MODULES, ...p), 'utf8');
const version = (name) => JSON.parse(read(name, 'package.json')).version;

function marked() {
  const src = read('marked', 'lib', 'marked.esm.js').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  return `// marked ${version('marked')} (MIT), lib/marked.esm.js; see marked.LICENSE\n${src}`;
}

function prism() {
  const parts = [
    `// Prism ${version('prismjs')} (MIT): core and ${PRISM_LANGUAGES.length} languages; see prism.LICENSE`,
    // Read by the core as it starts: no highlighting of the page on load, no worker listener.
    'globalThis.Prism = { manual: true, disableWorkerMessageHandler: true };',
    read('prismjs', 'components', 'prism-core.min.js'),
    ...PRISM_LANGUAGES.map((l) => read('prismjs', 'components', `prism-${l}.min.js`)),
    'export default Prism;',
    '',
  ];
  return parts.join('\n');
}

/** File name → content, as they belong in gateway/src/web/vendor/. */
export function build() {
  return {
    'marked.mjs': marked(),
    'marked.LICENSE': read('marked', 'LICENSE'),
    'prism.mjs': prism(),
    'prism.LICENSE': read('prismjs', 'LICENSE'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = build();
  const check = process.argv.includes('--check');
  let stale = 0;
  mkdirSync(VENDOR, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const path = join(VENDOR, name);
    let old = null;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      // Not there yet.
    }
    if (old === content) continue;
    stale++;
    if (check) console.error(`${path} differs from what package-lock.json installs`);
    else {
      writeFileSync(path, content);
      console.log(`wrote ${path} (${content.length} bytes)`);
    }
  }
  if (check && stale) process.exit(1);
}
