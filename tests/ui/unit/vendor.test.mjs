// The vendored front-end packages in gateway/src/web/vendor/ are exactly what
// gateway/web-deps/package-lock.json installs (npm ci --prefix gateway/web-deps), run through
// gateway/web-deps/vendor.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VENDOR, build } from '../../../gateway/web-deps/vendor.mjs';

const DEPS = new URL('../../../gateway/web-deps/', import.meta.url).pathname;

test('the vendored copies equal what the lockfile installs', () => {
  assert.ok(existsSync(join(DEPS, 'node_modules')), 'run npm ci --prefix gateway/web-deps first (tests/run does)');
  const lock = JSON.parse(readFileSync(join(DEPS, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(DEPS, 'package.json'), 'utf8'));
  for (const [name, version] of Object.entries(pkg.dependencies)) {
    assert.equal(lock.packages[`node_modules/${name}`].version, version, `${name} pinned`);
    const installed = JSON.parse(readFileSync(join(DEPS, 'node_modules', name, 'package.json'), 'utf8')).version;
    assert.equal(installed, version, `${name} installed as locked`);
  }
  const want = build();
  assert.deepEqual(readdirSync(VENDOR).sort(), Object.keys(want).sort(), 'no stray vendored file');
  for (const [file, content] of Object.entries(want)) {
    assert.ok(readFileSync(join(VENDOR, file), 'utf8') === content, `${file} differs: run node gateway/web-deps/vendor.mjs`);
  }
});

test('the vendored modules load and do what the page asks of them', async () => {
  const { lexer } = await import('../../../gateway/src/web/vendor/marked.mjs');
  assert.equal(lexer('# hi')[0].type, 'heading');
  const { default: Prism } = await import('../../../gateway/src/web/vendor/prism.mjs');
  for (const lang of ['rust', 'javascript', 'typescript', 'python', 'bash', 'json', 'toml', 'yaml', 'diff', 'go']) {
    assert.ok(Prism.languages[lang], lang);
  }
  const tokens = Prism.tokenize('fn main() { let x = 1; }', Prism.languages.rust);
  assert.ok(tokens.some((t) => typeof t !== 'string' && t.type === 'keyword'));
});
