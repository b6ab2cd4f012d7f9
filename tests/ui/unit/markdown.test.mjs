// markdown.mjs: the rules that turn marked's tokens into page nodes. Answers are untrusted: raw
// HTML stays text, only https links become links, images are never loaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lexer } from '../../../gateway/src/web/vendor/marked.mjs';
import { decodeEntities, mdTree } from '../../../gateway/src/web/markdown.mjs';

const tree = (src) => mdTree(lexer(src, { gfm: true }));
/** Every node of a tree, depth first. */
function* walk(nodes) {
  for (const n of nodes) {
    if (typeof n === 'string') continue;
    yield n;
    if (n.c) yield* walk(n.c);
  }
}
const text = (nodes) => nodes.map((n) => (typeof n === 'string' ? n : n.code ?? text(n.c || []))).join('');

test('blocks and inline styles', () => {
  assert.deepEqual(tree('# Title\n\nSome **bold**, *em*, ~~del~~ and `code`.'), [
    { t: 'h3', c: ['Title'] },
    { t: 'p', c: ['Some ', { t: 'strong', c: ['bold'] }, ', ', { t: 'em', c: ['em'] }, ', ', { t: 'del', c: ['del'] }, ' and ', { t: 'code', c: ['code'] }, '.'] },
  ]);
  assert.deepEqual(tree('```rust\nfn main() {}\n```'), [{ t: 'pre', code: 'fn main() {}', lang: 'rust' }]);
  assert.deepEqual(tree('```\nplain\n```'), [{ t: 'pre', code: 'plain', lang: null }]);
  assert.deepEqual(tree('```sh\nls\n```')[0].lang, 'bash');
  assert.deepEqual(tree('3. three\n4. four')[0], { t: 'ol', a: { start: '3' }, c: [{ t: 'li', c: ['three'] }, { t: 'li', c: ['four'] }] });
});

test('task lists are disabled checkboxes', () => {
  const [list] = tree('- [x] done\n- [ ] todo');
  assert.deepEqual(list.c.map((li) => [li.a.class, li.c[0].a.type, 'checked' in li.c[0].a, 'disabled' in li.c[0].a, text(li.c.slice(1))]), [
    ['md-task', 'checkbox', true, true, ' done'],
    ['md-task', 'checkbox', false, true, ' todo'],
  ]);
});

test('tables keep their alignment as a class', () => {
  const [table] = tree('| a | b |\n|:-|-:|\n| 1 | 2 |');
  const cells = [...walk([table])].filter((n) => n.t === 'td' || n.t === 'th');
  assert.deepEqual(cells.map((c) => [c.t, c.a.class, text(c.c)]), [['th', 'md-left', 'a'], ['th', 'md-right', 'b'], ['td', 'md-left', '1'], ['td', 'md-right', '2']]);
});

test('raw HTML is text, never an element', () => {
  for (const src of ['<img src=x onerror=alert(1)>', 'a <script>alert(1)</script> b', '<div onclick="x()">block</div>\n\nafter', '<iframe src="javascript:alert(1)">']) {
    const nodes = tree(src);
    const tags = [...walk(nodes)].map((n) => n.t);
    assert.ok(tags.every((t) => ['p'].includes(t)), `${src}: ${tags}`);
    assert.ok(text(nodes).includes('<'), `${src} kept as text: ${text(nodes)}`);
  }
});

test('links: https only, with rel and target; every other scheme stays text', () => {
  const links = (src) => [...walk(tree(src))].filter((n) => n.t === 'a').map((n) => n.a);
  assert.deepEqual(links('[docs](https://example.com/a?b=c)'), [{ href: 'https://example.com/a?b=c', rel: 'noopener noreferrer', target: '_blank' }]);
  assert.deepEqual(links('see https://example.com/auto'), [{ href: 'https://example.com/auto', rel: 'noopener noreferrer', target: '_blank' }]);
  for (const bad of ['[x](javascript:alert(1))', '[x](JAVASCRIPT:alert(1))', '[x](http://plain.example)', '[x](data:text/html;base64,PHNjcmlwdD4=)', '[x](/relative)', '[x](//proto.relative)', '<javascript:alert(1)>']) {
    assert.deepEqual(links(bad), [], bad);
  }
  const [p] = tree('[click](javascript:alert(1))');
  assert.equal(p.c[0].t, 'span');
  assert.equal(text(p.c), 'click');
});

test('images are never loaded: an https image is a link to it', () => {
  const nodes = [...walk(tree('![chart](https://example.com/c.png) ![local](/x.png)'))];
  assert.ok(!nodes.some((n) => n.t === 'img'));
  assert.deepEqual(nodes.filter((n) => n.t === 'a').map((n) => [n.a.href, text(n.c)]), [['https://example.com/c.png', '[image: chart]']]);
});

test('character references are decoded into text', () => {
  assert.equal(decodeEntities('a &amp; b &lt;i&gt; &#39;q&#x27; &bogus; &#0; &#xD800;'), "a & b <i> 'q' &bogus; &#0; &#xD800;");
  assert.equal(text(tree('Tom &amp; Jerry')), 'Tom & Jerry');
});
