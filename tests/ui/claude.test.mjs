// Browser tests of a Claude run, readable: the terminal in words with raw JSON a toggle away, the
// transcript (turns, Markdown, highlighted code, Edit/Write diffs, Bash with its output, a
// TodoWrite checklist), the files pane (tree, a file read through the `file` command, latest.diff
// with its file list), on a desktop and on a 390x844 phone, with screenshots of each.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, work, startGateway, stopGateway, startRunner, fakeClaude, gitRepo, newPage, signIn, createRunInPage, waitForLine } from './harness.mjs';

test('a Claude session, readable: terminal in words, Markdown transcript, diffs, files', { timeout: 150000 }, async () => {
  const dir = mkdtempSync(join(work, 'claude-'));
  const gw = await startGateway(dir);
  const repo = await gitRepo(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 900 } }, { confirm: true });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'show me everything', cwd: repo });
  const runner = startRunner(gw, run, fakeClaude(dir), { prompt: 'fix it and show me everything', args: ['--session', '--cwd', repo] });
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = `.run-view[data-run="${run.run_id}"]`;
  await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);

  // The terminal: who said what, one line per tool call, markers as short labelled lines.
  await waitForLine(page, '^Claude ## Fixed', 'k-c-answer');
  const words = await page.$$eval(`${view} .ln .ln-x`, (els) => els.map((e) => e.textContent));
  for (const want of [/^turn 1 "fix it and show me everything"$/, /^→ Bash git diff --stat$/, /^→ Edit \/.*\/src\/lib\.rs$/, /^← Bash src\/lib\.rs \| 2 \+- 1 file changed/, /^→ TodoWrite 3 items$/, /^result done · 6 round trips/, /^turn 1 success · .* · \$0\.0812$/]) {
    assert.ok(words.some((w) => want.test(w)), `${want} in\n${words.join('\n')}`);
  }
  assert.ok(!words.some((w) => w.startsWith('{"type"')), 'no raw stream-json by default');
  await page.click(`${view} button.toggle:text-is("Raw JSON")`);
  await page.waitForSelector(`${view} .ln.k-stdout .ln-x:text-matches("^\\\\{\\"type\\":\\"assistant\\"")`);
  assert.equal(await page.getAttribute(`${view} button.toggle:text-is("Raw JSON")`, 'aria-pressed'), 'true');
  await page.click(`${view} button.toggle:text-is("Raw JSON")`);
  await waitForLine(page, '^Claude ## Fixed', 'k-c-answer');
  await page.screenshot({ path: join(SHOTS, 'claude-terminal.png') });

  // The transcript: one turn under its prompt, with its duration, tokens and cost.
  await page.click(`${view} .pane-tab[data-pane="transcript"]`);
  assert.equal(await page.getAttribute(`${view} .pane-tab[data-pane="transcript"]`, 'aria-selected'), 'true');
  await page.waitForSelector(`${view} .tx-answer .md h4`);
  assert.equal(await page.textContent(`${view} .turn-n`), 'Turn 1');
  assert.equal(await page.textContent(`${view} .turn-prompt`), 'fix it and show me everything');
  await page.waitForSelector(`${view} .turn-stats:has-text("$0.0812")`);
  assert.match(await page.textContent(`${view} .turn-stats`), /^\d+(\.\d)?s · 31k in · 310 out · \$0\.0812$/);
  // Header and transcript agree.
  assert.equal(await page.textContent(`${view} .m-cost dd`), '$0.0812');
  assert.match(await page.textContent(`${view} .tx-totals`), /6 turns {2}· {2}31k in · 310 out {2}· {2}\$0\.0812$/);

  // Markdown: heading, highlighted code, a task list, a table, an https link; the rest is text.
  const answer = `${view} .tx-answer .md`;
  assert.equal(await page.textContent(`${answer} h4`), 'Fixed');
  await page.waitForSelector(`${answer} pre.md-code code.hl .tok-keyword`);
  assert.equal(await page.textContent(`${answer} pre.md-code code`), 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len() - 1] // the last element\n}');
  assert.deepEqual(await page.$$eval(`${answer} li.md-task input`, (els) => els.map((e) => [e.type, e.checked, e.disabled])), [['checkbox', true, true], ['checkbox', false, true]]);
  assert.deepEqual(await page.$$eval(`${answer} th`, (els) => els.map((e) => e.textContent)), ['file', 'change']);
  const links = await page.$$eval(`${answer} a`, (els) => els.map((a) => [a.getAttribute('href'), a.rel, a.target]));
  assert.deepEqual(links, [['https://doc.rust-lang.org/std/primitive.slice.html', 'noopener noreferrer', '_blank']]);
  assert.equal(await page.textContent(`${answer} .md-nolink`), 'this');
  assert.match(await page.textContent(answer), /Raw <img src=x onerror="window.__pwned=4"> stays text\./);
  assert.equal(await page.$$eval(`${view} .transcript img, ${view} .transcript script, ${view} .transcript iframe`, (e) => e.length), 0);

  // Edit and Write as diffs; Bash as command, directory and output (long output folded); TodoWrite as a checklist.
  assert.deepEqual(
    await page.$$eval(`${view} .shape-edit .dl:not(.d-ctx)`, (els) => els.map((e) => [e.className.split(' ')[1], e.querySelector('.dc').textContent])),
    [['d-del', '    v[v.len()]'], ['d-add', '    v[v.len() - 1]']],
  );
  assert.equal(await page.textContent(`${view} .shape-edit .tx-stat`), '+1 −1');
  assert.equal(await page.$$eval(`${view} .shape-write .dl.d-add`, (e) => e.length), 3);
  assert.deepEqual(await page.$$eval(`${view} .tx-todo li`, (els) => els.map((e) => [e.className, e.querySelector('input').checked])), [
    ['todo-completed', true],
    ['todo-in_progress', false],
    ['todo-pending', false],
  ]);
  const bashes = `${view} .shape-bash`;
  assert.deepEqual(await page.$$eval(`${bashes} .tx-cmd`, (els) => els.map((e) => e.textContent)), ['$ git diff --stat', '$ cargo test']);
  assert.equal(await page.textContent(`${bashes} >> nth=1 >> .tx-more-out summary`), 'Show all 40 lines (789 characters)');
  assert.equal(await page.isVisible(`${view} .tx-thinking .tx-text`), false, 'thinking is folded');
  await page.click(`${view} .turn-head`);
  assert.equal(await page.isVisible(`${view} .turn-body`), false, 'a turn folds');
  await page.click(`${view} .turn-head`);
  await page.$eval(`${view} .transcript`, (t) => (t.scrollTop = 0));
  await page.screenshot({ path: join(SHOTS, 'claude-transcript.png') });

  // Files: the tree from files.json; a file opened through the `file` command, highlighted.
  await page.waitForSelector(`${view} .pane-tab[data-pane="files"]:not([hidden])`);
  await page.click(`${view} .pane-tab[data-pane="files"]`);
  await page.waitForSelector(`${view} .file-tree .tree-dir summary:has-text("src")`);
  await page.click(`${view} .file-link[data-path="src/lib.rs"]`);
  await page.waitForSelector(`${view} .file-body.hl .tok-keyword`);
  assert.equal(await page.textContent(`${view} .file-body`), 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len() - 1]\n}\n');
  await page.waitForSelector(`${view} .k-marker .ln-x >> text=/^file src\\/lib\\.rs read/`, { state: 'attached' });
  await page.screenshot({ path: join(SHOTS, 'files-tree.png') });

  // latest.diff (from the git diff command) as a diff with its file list.
  await page.click(`${view} .chip:text-is("git diff")`);
  await page.waitForSelector(`${view} .files-bar button:text-is("Changes"):not([hidden])`, { timeout: 15000 });
  await page.click(`${view} .files-bar button:text-is("Changes")`);
  await page.waitForSelector(`${view} .diff-file-list li`);
  assert.deepEqual(await page.$$eval(`${view} .diff-file-list li`, (els) => els.map((e) => e.textContent)), ['src/lib.rs+1 −1']);
  assert.deepEqual(
    await page.$$eval(`${view} .diff-file .dl.d-del .dc, ${view} .diff-file .dl.d-add .dc`, (els) => els.map((e) => e.textContent)),
    ['    v[v.len()]', '    v[v.len() - 1]'],
  );
  await page.screenshot({ path: join(SHOTS, 'files-diff.png') });

  // The same run on a phone.
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(phone.page, `${gw.url}/runs/${run.run_id}`);
  await phone.page.click(`${view} .pane-tab[data-pane="transcript"]`);
  await phone.page.waitForSelector(`${view} .tx-answer .md pre.md-code code.hl`);
  assert.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth - innerWidth), 0, 'no sideways scrolling');
  await phone.page.screenshot({ path: join(SHOTS, 'phone-transcript.png') });
  await phone.page.click(`${view} .pane-tab[data-pane="files"]`);
  await phone.page.waitForSelector(`${view} .file-link[data-path="src/lib.rs"]`);
  await phone.page.screenshot({ path: join(SHOTS, 'phone-files.png') });
  assert.deepEqual([phone.problems.dialogs, phone.problems.errors], [[], []]);
  await phone.context.close();

  await page.click(`${view} .session-controls button:text-is("End session")`);
  await page.waitForSelector(`${view} .run-head .badge.s-finished`);
  await runner.done;
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual([problems.dialogs, problems.errors], [[], []]);
  await context.close();
  await stopGateway(gw);
});
