// Browser tests of the gateway's web UI: sign-in, live runs, a gateway restart, output as text,
// long runs, the phone layout, a Claude session, the first load's weight. Shared set-up in
// harness.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SHOTS, work, startGateway, stopGateway, script, startRunner, fakeClaude, gitRepo, postAssist, newPage, signIn,
  createRunInPage, lineTexts, waitForLine,
} from './harness.mjs';

// ---------- tests ----------

test('sign in, create a run, watch it live, run a command, survive a gateway restart with no gap or duplicate', async () => {
  const dir = mkdtempSync(join(work, 'live-'));
  let gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });

  await page.goto(gw.url);
  await page.fill('#password', 'wrong');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:text("Wrong name or password.")');
  await signIn(page, gw.url);

  // New run through the dialog: the command line to copy carries the id and the token.
  await page.click('#new-run-open');
  await page.fill('#nr-name', 'fix the flaky test');
  await page.fill('#nr-prompt', 'make tests/flaky.rs pass');
  await page.fill('#nr-cwd', dir);
  await page.click('#nr-create');
  await page.waitForSelector('#new-run-done:not([hidden])');
  const command = await page.textContent('#nr-command');
  const m = command.match(/^claude-runner start --run-id (\S+) --token (\S+) --cwd \S+ --cmd 'make tests\/flaky.rs pass'$/);
  assert.ok(m, command);
  const run = { run_id: m[1], token: m[2] };
  await page.screenshot({ path: join(SHOTS, 'new-run.png') });
  await page.click('#nr-open');
  await page.waitForSelector(`.run-view[data-run="${run.run_id}"]`);

  const go = join(dir, 'go');
  const child = script(
    join(dir, 'fake-claude'),
    `i=1; while [ $i -le 50 ]; do echo "line $i"; i=$((i+1)); done
printf '\\033[1;32mcoloured\\033[0m and plain\\n'
echo "a warning on stderr" >&2
while [ ! -e ${go} ]; do sleep 0.05; done
while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done
`,
  );
  const runner = startRunner(gw, run, child);
  await page.waitForSelector('.run-view:not([hidden]) .ln-x:text-is("line 50")').catch(async (e) => {
    // Say what the runner and the gateway saw, so a failure in CI explains itself.
    const stored = await page
      .evaluate((id) => fetch(`/api/runs/${id}`).then((r) => r.text()), run.run_id)
      .catch((x) => String(x));
    throw new Error(`${e.message}\nrunner exit: ${runner.proc.exitCode}\nrunner stderr:\n${runner.stderr()}\nrun at the gateway: ${stored}`);
  });
  assert.equal(await page.textContent('.run-view:not([hidden]) .conn span'), 'live');
  await page.waitForFunction(() => [...document.querySelectorAll('.ln-x')].some((l) => l.textContent === 'coloured and plain'));
  const colour = await page.$$eval('.run-view:not([hidden]) .ln-x', (els) => els.find((l) => l.textContent === 'coloured and plain').innerHTML);
  assert.equal(colour, '<span class="f2 sb">coloured</span> and plain', 'SGR colours become classes');
  assert.ok(await page.$('.run-view:not([hidden]) .ln.k-stderr .ln-x:text-is("a warning on stderr")'));
  // Each line's number links to it and tells its time.
  const number = await page.$('.run-view:not([hidden]) .ln:has(.ln-x:text-is("line 1")) .ln-n');
  assert.match(await number.getAttribute('href'), /^#L\d+$/);
  await number.hover();
  assert.match(await number.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/);

  // An allowlisted command from the page, through the runner, back as output: the feedback and
  // the command's end name the command, never its id.
  await page.click('.run-view:not([hidden]) .chip:text-is("git status")');
  await page.waitForSelector('.run-view:not([hidden]) .cmd-status:text-is("git status: sent to the runner")');
  await waitForLine(page, '^command git status: exit \\d+', 'k-marker');
  await page.screenshot({ path: join(SHOTS, 'run.png') });

  // Restart the gateway on the same port and data directory while the run is between outputs.
  await stopGateway(gw);
  await page.waitForSelector('.run-view:not([hidden]) .conn[data-state="connecting"]');
  gw = await startGateway(dir, gw.port);
  writeFileSync(go, '');
  await page.waitForSelector('.run-view:not([hidden]) .ln-x:text-is("line 100")', { timeout: 30000 });
  await waitForLine(page, '^finished exit 0', 'k-marker');
  const { code, stderr } = await runner.done;
  assert.equal(code, 0, stderr);

  const lines = (await lineTexts(page)).filter((t) => /^line \d+$/.test(t));
  assert.deepEqual(lines, Array.from({ length: 100 }, (_, i) => `line ${i + 1}`), 'every line once, in order');
  const seqs = await page.$$eval('.run-view:not([hidden]) .ln', (els) => els.map((e) => Number(e.dataset.seq)));
  assert.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1), `sequences contiguous: ${seqs}`);
  await page.waitForSelector('.run-view:not([hidden]) .conn[data-state="ended"]');

  // claude.log, uploaded at the end, is listed and downloads.
  await page.waitForSelector('.run-view:not([hidden]) .artifacts a:text-is("claude.log")', { timeout: 15000 });
  const log = await page.evaluate(async () => (await fetch(document.querySelector('.run-view:not([hidden]) .artifacts a').href)).text());
  assert.match(log, /line 100\n/);

  // The runs list, after a reload: tabs are remembered, the run is listed as finished.
  await page.reload();
  await page.waitForSelector(`.run-tab.active[data-tab="${run.run_id}"]`);
  await page.click('button.tab[data-tab="runs"]');
  await page.waitForSelector(`.run-row[data-id="${run.run_id}"] .badge.s-finished`);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await page.screenshot({ path: join(SHOTS, 'runs-list.png') });
  await context.close();
  await stopGateway(gw);
});

test('run output is shown as text: HTML, script and OSC 8 links never execute or become elements', async () => {
  const dir = mkdtempSync(join(work, 'xss-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage();
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: '<b>xss</b> probe' });
  const child = script(
    join(dir, 'evil'),
    `printf '%s\\n' '<img src=x onerror="window.__pwned=1;alert(1)">'
printf '%s\\n' '<script>window.__pwned=2</script>'
printf '\\033]8;;javascript:window.__pwned=3\\033\\\\click me\\033]8;;\\033\\\\\\n'
printf '%s\\n' '{"type":"assistant","text":"<b onmouseover=alert(1)>bold</b> & <iframe src=javascript:alert(1)>"}'
printf 'title\\033]0;<img src=x onerror=alert(4)>\\007 after\\n'
`,
  );
  const { code, stderr } = await startRunner(gw, run, child).done;
  assert.equal(code, 0, stderr);
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await waitForLine(page, '^finished', 'k-marker');
  assert.deepEqual(await lineTexts(page), [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    '<script>window.__pwned=2</script>',
    'click me',
    '{"type":"assistant","text":"<b onmouseover=alert(1)>bold</b> & <iframe src=javascript:alert(1)>"}',
    'title after',
  ]);
  assert.equal(await page.textContent('.run-view:not([hidden]) .run-title'), '<b>xss</b> probe');
  const injected = await page.$$eval('.run-view img, .run-view script, .run-view iframe, .run-view b, .lines .ln-x a, .tabs b', (e) => e.length);
  assert.equal(injected, 0, 'no element was made from run output');
  // Hover everything, in case a handler had been attached.
  for (const ln of await page.$$('.run-view:not([hidden]) .ln')) await ln.hover();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('a 100,000-line run opens at its tail with a bounded DOM and loads earlier lines on scroll', async () => {
  const dir = mkdtempSync(join(work, 'long-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'a long build log' });
  const { code, stderr } = await startRunner(gw, run, script(join(dir, 'seq'), 'seq 1 100000\n')).done;
  assert.equal(code, 0, stderr);

  const started = Date.now();
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await page.waitForSelector('.run-view:not([hidden]) .ln-x:text-is("100000")');
  const openMs = Date.now() - started;
  assert.ok(openMs < 5000, `the tail showed in ${openMs} ms`);
  const count = () => page.$$eval('.run-view:not([hidden]) .ln', (e) => e.length);
  const firstSeq = () => page.$eval('.run-view:not([hidden]) .ln', (e) => Number(e.dataset.seq));
  assert.ok((await count()) <= 2000, `DOM lines: ${await count()}`);

  let first = await firstSeq();
  for (let i = 0; i < 8; i++) {
    await page.$eval('.run-view:not([hidden]) .term', (t) => (t.scrollTop = 0));
    await page.waitForFunction((prev) => Number(document.querySelector('.run-view:not([hidden]) .ln').dataset.seq) < prev, first);
    const now = await firstSeq();
    assert.ok(now < first, 'earlier lines loaded');
    first = now;
    assert.ok((await count()) <= 2000, `DOM lines after scrolling: ${await count()}`);
  }
  const texts = await lineTexts(page);
  const numbers = texts.map(Number);
  assert.ok(numbers.every((n, i) => i === 0 || n === numbers[i - 1] + 1), 'the window is contiguous');
  assert.ok(numbers[0] < 100000 - 4000, `scrolled back to ${numbers[0]}`);
  await page.screenshot({ path: join(SHOTS, 'long-run.png') });

  // Back to the end: the newest line returns.
  await page.click('.run-view:not([hidden]) .jump');
  await page.waitForSelector('.run-view:not([hidden]) .ln-x:text-is("100000")');
  assert.ok((await count()) <= 2000);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('phone layout at 390x844: runs list and a run fit the screen', async () => {
  const dir = mkdtempSync(join(work, 'phone-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(page, gw.url);
  const child = script(join(dir, 'c'), 'i=1; while [ $i -le 40 ]; do echo "step $i: compiling crate number $i of the workspace"; i=$((i+1)); done\nexit 1\n');
  for (const name of ['refactor the parser', 'update dependencies']) {
    const run = await createRunInPage(page, { name, cwd: '/home/dev/project' });
    await startRunner(gw, run, child).done;
  }
  await createRunInPage(page, { name: 'waiting for a runner', cwd: '/srv/app' });
  await page.waitForSelector('.run-row >> nth=2');
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(await overflow(), 0, 'no sideways scrolling');
  await page.screenshot({ path: join(SHOTS, 'phone-runs.png') });
  await page.click('.run-row:has-text("refactor the parser")');
  await waitForLine(page, '^finished exit 1', 'k-marker');
  assert.equal(await overflow(), 0, 'no sideways scrolling');
  await page.screenshot({ path: join(SHOTS, 'phone-run.png') });
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('a run read before its turn ends and answered after the list stream brought the turn keeps the turn', { timeout: 90000 }, async () => {
  // The view's first read of the run and the list stream race: here the read is answered before
  // the runner starts and handed to the page only once the turn has ended (and the list stream
  // has told the page). The older answer must not wipe the totals and the waiting badge: between
  // turns no later batch comes to correct it.
  const dir = mkdtempSync(join(work, 'race-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 860 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'late answer', cwd: dir });
  let runner;
  let held = null; // the handler's failure, if any, reported by the test rather than lost
  await page.route((url) => url.pathname === `/api/runs/${run.run_id}`, (route) => (held = hold(route).catch((e) => e)), { times: 1 });
  async function hold(route) {
    const stale = await route.fetch();
    runner = startRunner(gw, run, fakeClaude(dir), { prompt: 'fix the off-by-one', args: ['--session', '--cwd', dir] });
    for (let i = 0; ; i++) {
      const r = await (await context.request.get(`${gw.url}/api/runs/${run.run_id}`)).json();
      if (r.claude && r.claude.between_turns) break;
      assert.ok(i < 300, 'the first turn ends');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    // The stale answer lands only once the list stream has brought the page the ended turn.
    await page.waitForSelector(`.run-tab[data-tab="${run.run_id}"] .dot.s-waiting_for_input`);
    await route.fulfill({ response: stale });
  }
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = `.run-view[data-run="${run.run_id}"]`;
  await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`, { timeout: 10000 });
  await page.waitForSelector(`${view} .run-meta dd:text-is("$0.0503")`, { timeout: 10000 });
  assert.ok(held, 'the first read of the run was held');
  const failed = await held;
  if (failed) throw failed;
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  runner.proc.kill('SIGTERM');
  await runner.done;
  await context.close();
  await stopGateway(gw);
});

test('a Claude session: transcript, prompt box with recall, interrupt, git diff viewer, assist link, end session', { timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(work, 'session-'));
  const gw = await startGateway(dir);
  const repo = await gitRepo(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 860 } }, { confirm: true });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'fix the off-by-one', cwd: repo });
  const runner = startRunner(gw, run, fakeClaude(dir), { prompt: 'fix the off-by-one in src/lib.rs', args: ['--session', '--cwd', repo] });
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = `.run-view[data-run="${run.run_id}"]`;

  // The first turn, as a conversation.
  await page.click(`${view} .pane-tab[data-pane="transcript"]`);
  await page.waitForSelector(`${view} .tx-answer .tx-text >> text=/Fixed the off-by-one/`);
  const kinds = await page.$$eval(`${view} .tx`, (els) => els.map((e) => [...e.classList].find((c) => /^tx-[a-z_]+$/.test(c) && c !== 'tx-bad')));
  assert.deepEqual(kinds, ['tx-prompt', 'tx-thinking', 'tx-tool_call', 'tx-answer'], 'the result is paired into its call');
  assert.equal(await page.textContent(`${view} .tx-prompt .tx-text`), 'fix the off-by-one in src/lib.rs');
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-tool`), 'Bash');
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-gist`), '$ git diff --stat');
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-status`), 'done');
  // A Bash call is its command, its directory and its output, open.
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-cmd`), '$ git diff --stat');
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-bash .tx-sub`), `Show what changed · in ${repo}`);
  assert.equal(await page.textContent(`${view} .tx-tool_call .tx-result`), ' src/lib.rs | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)');
  // Thinking is folded.
  assert.equal(await page.isVisible(`${view} .tx-thinking .tx-text`), false, 'thinking is folded');
  // The answer's HTML is text; nothing ran.
  await page.waitForSelector(`${view} .tx-answer .tx-text > p`);
  assert.equal(
    await page.textContent(`${view} .tx-answer .tx-text`),
    'Fixed the off-by-one in src/lib.rs: the loop now stops at len - 1.\nAs text: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>',
  );
  assert.equal(await page.$$eval(`${view} .transcript img, ${view} .transcript script`, (e) => e.length), 0);
  await page.waitForSelector(`${view} .tx-totals >> text=/\\$0\\.0503/`);
  assert.match(await page.textContent(`${view} .tx-totals`), /^claude-opus-5-5 {2}· {2}2 turns {2}· {2}25k in · 49 out {2}· {2}\$0\.0503$/);
  // The header says the same.
  assert.deepEqual(
    await page.$$eval(`${view} .run-meta dd`, (els) => els.map((e) => e.textContent)).then((v) => v.slice(-4)),
    ['claude-opus-5-5', '2', '25k in · 49 out', '$0.0503'],
  );
  const md = await page.evaluate(async (href) => (await fetch(href)).text(), await page.getAttribute(`${view} .exports a:text-is(".md")`, 'href'));
  assert.match(md, /fix the off-by-one in src\/lib\.rs/);

  // Between turns the session waits for a prompt: so say the badge and the runs list.
  await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
  await page.screenshot({ path: join(SHOTS, 'transcript.png') });
  await page.click('button.tab[data-tab="runs"]');
  const row = `.run-row[data-id="${run.run_id}"]`;
  await page.waitForSelector(`${row} .badge.s-waiting_for_input`);
  assert.equal(await page.textContent(`${row} .c-model`), 'claude-opus-5-5');
  assert.equal(await page.textContent(`${row} .c-cost`), '$0.0503');
  await page.selectOption('#status-filter', 'waiting_for_input');
  assert.equal(await page.$$eval('.run-row', (e) => e.length), 1);
  await page.screenshot({ path: join(SHOTS, 'runs-list-session.png') });
  await page.selectOption('#status-filter', '');
  await page.click(`.run-tab[data-tab="${run.run_id}"] .tab-open`);

  // A follow-up prompt: Enter sends it, the runner runs it as turn 2 (its turn_started marker
  // puts it in the transcript), and Up recalls it, then the first prompt.
  const box = `${view} .prompt-box textarea`;
  const second = 'now wait for me <b>here</b>';
  await page.fill(box, 'line one');
  await page.press(box, 'Shift+Enter');
  await page.type(box, 'line two');
  assert.equal(await page.inputValue(box), 'line one\nline two', 'Shift+Enter adds a line');
  await page.fill(box, second);
  await page.press(box, 'Enter');
  await page.waitForFunction((b) => document.querySelector(b).value === '', box);
  await page.waitForSelector(`${view} .tx-prompt .tx-text:text-is("${second}")`);
  await page.waitForSelector(`${view} .tx-answer .tx-text:has-text("Working on it: ${second}")`);
  await page.waitForSelector(`${view} .run-head .badge.s-running`);
  await page.focus(box);
  await page.press(box, 'ArrowUp');
  assert.equal(await page.inputValue(box), second);
  await page.press(box, 'ArrowUp');
  assert.equal(await page.inputValue(box), 'fix the off-by-one in src/lib.rs');
  await page.press(box, 'ArrowDown');
  await page.press(box, 'ArrowDown');
  assert.equal(await page.inputValue(box), '', 'back to the (empty) draft');

  // Interrupt ends the turn, not the session.
  await page.click(`${view} .session-controls button:text-is("Interrupt")`);
  await page.waitForSelector(`${view} .tx-system .tx-text:text-is("[Request interrupted by user]")`);
  await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
  const summary = await page.evaluate(async (id) => (await fetch(`/api/runs/${id}`)).json(), run.run_id);
  assert.equal(summary.claude.last_outcome, 'aborted');
  assert.equal(summary.claude.prompts, 2);

  // git diff through the command chip: latest.diff opens in the viewer as a coloured diff.
  await page.click(`${view} .chip:text-is("git diff")`);
  await page.click(`${view} .artifacts button[data-artifact="latest.diff"]`);
  await page.waitForSelector('#viewer[open] .d-add');
  const diff = await page.$$eval('#viewer-body span', (els) => els.map((e) => [e.className, e.textContent.trimEnd()]));
  assert.deepEqual(diff.filter(([c]) => c !== 'd-ctx').map(([c, t]) => [c, t.startsWith('index ') ? 'index' : t]), [
    ['d-head', 'diff --git a/src/lib.rs b/src/lib.rs'],
    ['d-head', 'index'],
    ['d-head', '--- a/src/lib.rs'],
    ['d-head', '+++ b/src/lib.rs'],
    ['d-hunk', '@@ -1,3 +1,3 @@'],
    ['d-del', '-    v[v.len()]'],
    ['d-add', '+    v[v.len() - 1]'],
  ]);
  const colours = await page.$$eval('#viewer-body .d-add, #viewer-body .d-del', (els) => els.map((e) => getComputedStyle(e).color));
  assert.notEqual(colours[0], colours[1], 'added and removed lines differ in colour');
  await page.screenshot({ path: join(SHOTS, 'diff-viewer.png') });
  await page.click('#viewer-close');

  // files.json (the working tree) is a JSON artifact: pretty-printed in the viewer.
  await page.click(`${view} .artifacts button[data-artifact="files.json"]`);
  await page.waitForSelector('#viewer-body >> text=/"path": "src\\/lib.rs"/');
  await page.click('#viewer-close');

  // An assist link: the https page is a link that opens nothing else, ssh is copyable, then it closes.
  await postAssist(gw, run, { type: 'tmate', url: 'ssh AbCd1234@lon1.tmate.io', web: 'https://tmate.io/t/AbCd1234', expires_at: Date.now() + 3600e3 });
  const web = await page.waitForSelector(`${view} .assist a.assist-web`);
  assert.equal(await web.getAttribute('href'), 'https://tmate.io/t/AbCd1234');
  assert.equal(await web.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await page.textContent(`${view} .assist .assist-ssh`), 'ssh AbCd1234@lon1.tmate.io');
  await page.click(`${view} .assist button`);
  await page.waitForSelector(`${view} .assist button:text-matches("Copied|Selected")`);
  await page.screenshot({ path: join(SHOTS, 'session.png') });
  await postAssist(gw, run, { type: 'tmate', closed: true, reason: 'stopped' });
  await page.waitForSelector(`${view} .assist[data-state="closed"]:has-text("Assist closed (stopped)")`);
  assert.equal(await page.$(`${view} .assist a`), null);

  // End session (confirmed): the run finishes and its controls go.
  await page.click(`${view} .session-controls button:text-is("End session")`);
  await page.waitForSelector(`${view} .run-head .badge.s-finished`);
  assert.match(problems.confirmed[0], /^End the Claude session of "fix the off-by-one"\?/);
  assert.equal(await page.isVisible(`${view} .prompt-box`), false);
  const { code, stderr } = await runner.done;
  assert.equal(code, 0, stderr);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual([problems.dialogs, problems.errors], [[], []]);
  await context.close();
  await stopGateway(gw);
});

test('phone: a session run with its prompt box and Stop, which stops it after a confirmation', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'stop-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage(
    { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    { confirm: true },
  );
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'tidy the README', cwd: dir });
  const runner = startRunner(gw, run, fakeClaude(dir), { prompt: 'tidy the README', args: ['--session', '--cwd', dir] });
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = `.run-view[data-run="${run.run_id}"]`;
  await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
  await page.click(`${view} .pane-tab[data-pane="transcript"]`);
  await page.waitForSelector(`${view} .tx-answer`);
  const inView = (sel) =>
    page.$eval(sel, (e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight;
    });
  assert.ok(await inView(`${view} .prompt-box textarea`), 'the prompt box is on screen');
  assert.ok(await inView(`${view} .prompt-box button`), 'Send is on screen');
  assert.ok(await inView(`${view} .run-controls .danger`), 'Stop is on screen');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - innerWidth), 0, 'no sideways scrolling');
  await page.screenshot({ path: join(SHOTS, 'phone-session.png') });

  await page.click(`${view} .run-controls .danger`);
  await page.waitForSelector(`${view} .run-head .badge.s-stopped`);
  assert.match(problems.confirmed[0], /^Stop "tidy the README"\?/);
  await runner.done;
  const link = await page.waitForSelector(`${view} .artifacts a:text-is("claude.log")`, { timeout: 15000 });
  assert.equal(await link.getAttribute('download'), 'claude.log');
  const log = await page.evaluate(async (href) => (await fetch(href)).text(), await link.getAttribute('href'));
  assert.match(log, /"type":"result"/);
  assert.deepEqual([problems.dialogs, problems.errors], [[], []]);
  await context.close();
  await stopGateway(gw);
});

/** A gateway that keeps failed runs 30 days, a signed-in page, and a run named `name` that
 *  has failed (its runner done). */
async function failedRunKept30Days(prefix, name) {
  const dir = mkdtempSync(join(work, prefix));
  const gw = await startGateway(dir, 0, { GATEWAY_RETENTION: '90d', GATEWAY_RETENTION_FAILED: '30d' });
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name, cwd: dir });
  await startRunner(gw, run, script(join(dir, 'c'), 'echo building; exit 2\n')).done;
  return { gw, context, page, problems, run };
}

test('a run shows how long retention keeps it, and a person pins it', async () => {
  const { gw, context, page, problems, run } = await failedRunKept30Days('retention-', 'a failing build');
  await page.click('.run-row:has-text("a failing build")');
  const kept = '.run-view:not([hidden]) .m-kept dd';
  await page.waitForSelector(`${kept}:has-text("30 days after it ended")`);
  const pin = '.run-view:not([hidden]) button.pin';
  assert.equal(await page.getAttribute(pin, 'aria-pressed'), 'false');
  await page.click(pin);
  await page.waitForSelector(`${kept}:text-is("pinned: kept until unpinned")`);
  assert.equal(await page.getAttribute(pin, 'aria-pressed'), 'true');
  // The pin is the gateway's, not the page's: a reload shows it.
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await page.waitForSelector(`${kept}:text-is("pinned: kept until unpinned")`);
  await page.click(`${pin}:text-is("Unpin")`);
  await page.waitForSelector(`${kept}:has-text("30 days after it ended")`);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('a read of the run answered before a pin and handed to the page after it does not undo the pin', async () => {
  // The view reads the run when it opens and again when its stream ends; a person pins it
  // meanwhile. The second read here is answered by the gateway before the pin and handed to
  // the page only once the pin's answer is in: as fresh by its events as the pin's answer, it
  // must not show the run unpinned again (nothing would correct it: an ended run sends no more
  // events).
  const { gw, context, page, problems, run } = await failedRunKept30Days('pin-race-', 'a pinned build');
  let release;
  const pinned = new Promise((ok) => (release = ok));
  const held = [];
  let reads = 0;
  await page.route(
    (url) => url.pathname === `/api/runs/${run.run_id}`,
    (route) => {
      if (route.request().method() !== 'GET' || ++reads === 1) return route.continue();
      const h = (async () => {
        const stale = await route.fetch();
        await pinned;
        await route.fulfill({ response: stale });
      })().catch((e) => e);
      held.push(h);
      return h;
    },
  );
  await page.click('.run-row:has-text("a pinned build")');
  const kept = '.run-view:not([hidden]) .m-kept dd';
  await page.waitForSelector(`${kept}:has-text("30 days after it ended")`);
  for (let i = 0; held.length === 0; i++) {
    assert.ok(i < 200, 'the view reads the run again when its stream ends');
    await page.waitForTimeout(50);
  }
  const answered = page.waitForResponse((r) => r.url().endsWith('/pin') && r.request().method() === 'PUT');
  await page.click('.run-view:not([hidden]) button.pin');
  await answered;
  await page.waitForSelector(`${kept}:text-is("pinned: kept until unpinned")`);
  release();
  for (const failed of await Promise.all(held)) if (failed) throw failed;
  // The held answers reached the page; give it a moment to show whatever it would.
  await page.waitForTimeout(300);
  assert.equal(await page.textContent(kept), 'pinned: kept until unpinned');
  assert.equal(await page.getAttribute('.run-view:not([hidden]) button.pin', 'aria-pressed'), 'true');
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('the first load is gzipped and well under 200 KB', async (t) => {
  const dir = mkdtempSync(join(work, 'weight-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage();
  const encodings = new Map();
  page.on('response', async (r) => {
    const path = new URL(r.url()).pathname;
    if (path === '/' || path.startsWith('/assets/')) encodings.set(path, (await r.allHeaders())['content-encoding']);
  });
  await signIn(page, gw.url);
  const bytes = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      .filter((e) => ['/', '/assets/'].some((p) => new URL(e.name).pathname === p || new URL(e.name).pathname.startsWith('/assets/')))
      .reduce((n, e) => n + e.encodedBodySize, 0),
  );
  // The list and run screens load at once; the transcript, files, Markdown and the highlighter
  // do not (they load on first use).
  const loaded = [...encodings.keys()].sort();
  for (const m of ['/', '/assets/app.mjs', '/assets/app.css', '/assets/runs.mjs', '/assets/runview.mjs', '/assets/terminal.mjs', '/assets/ansi.mjs']) {
    assert.ok(loaded.includes(m), `${m} in ${loaded}`);
  }
  for (const m of ['/assets/transcript.mjs', '/assets/markdown.mjs', '/assets/marked.mjs', '/assets/prism.mjs', '/assets/files.mjs']) {
    assert.ok(!loaded.includes(m), `${m} loads only when first used`);
  }
  assert.ok([...encodings.values()].every((e) => e === 'gzip'), JSON.stringify([...encodings]));
  assert.ok(bytes > 10000 && bytes < 200 * 1024, `first load: ${bytes} bytes`);
  t.diagnostic(`first load: ${bytes} bytes compressed`);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});
