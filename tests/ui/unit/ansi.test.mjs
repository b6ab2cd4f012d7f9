// ansi.mjs: SGR colours to styles, every other escape dropped, `\r` starts the line over.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnsi, stripAnsi, styleClasses } from '../../../gateway/src/web/ansi.mjs';

const texts = (s) => parseAnsi(s).map((x) => x.text);
const classes = (s) => parseAnsi(s).map((x) => [x.text, styleClasses(x.style).classes.join(' ')]);

test('SGR colours and attributes become classes, reset clears them', () => {
  assert.deepEqual(classes('\x1b[1;32mok\x1b[0m plain'), [['ok', 'f2 sb'], [' plain', '']]);
  assert.deepEqual(classes('\x1b[91;44mx\x1b[39my'), [['x', 'f9 b4'], ['y', 'b4']]);
  assert.deepEqual(classes('\x1b[7minv'), [['inv', 'finv binv']]);
  const [seg] = parseAnsi('\x1b[38;2;1;2;300mrgb');
  assert.deepEqual(styleClasses(seg.style).inline, { color: 'rgb(1,2,255)' });
  assert.deepEqual(styleClasses(parseAnsi('\x1b[38;5;196mr')[0].style).inline, { color: 'rgb(255,0,0)' });
});

test('other escapes are dropped, their text kept as text', () => {
  for (const [input, want] of [
    ['\x1b]8;;javascript:alert(1)\x1b\\click\x1b]8;;\x1b\\', ['click']],
    ['title\x1b]0;<img src=x>\x07 after', ['title after']],
    ['a\x1b[2Kb\x1b[10;5Hc', ['abc']],
    ['\x9b31mc1 csi', ['c1 csi']],
    ['bell\x07 and nul\x00 gone', ['bell and nul gone']],
    ['tab\tkept', ['tab\tkept']],
    ['unterminated \x1b]0;title', ['unterminated ']],
  ]) {
    assert.deepEqual(texts(input), want, JSON.stringify(input));
  }
});

test('a carriage return starts the line over: a progress bar shows its current state', () => {
  assert.deepEqual(texts('  10%\r  50%\r 100% done'), [' 100% done']);
  assert.deepEqual(texts('working…\r'), ['working…'], 'a trailing \\r keeps the text');
  assert.deepEqual(classes('\x1b[32m[###   ]\r\x1b[32m[######]'), [['[######]', 'f2']]);
});

test('stripAnsi leaves plain text alone and cleans each line of a log', () => {
  const plain = 'no escapes here\nat all\n';
  assert.equal(stripAnsi(plain), plain);
  assert.equal(stripAnsi('\x1b[1mbold\x1b[0m\n10%\r20%\nend'), 'bold\n20%\nend');
});
