// Browser tests of the gateway's web UI: the real gateway and claude-runner binaries (built by
// `cargo build --workspace --bins`), a fake Claude child, and headless Debian Chromium driven by
// playwright-core. Screenshots go to tests/ui/ui-artifacts/ (not committed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = join(ROOT, 'target', 'debug');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(HERE, 'ui-artifacts');
const PASSWORD = 'ui-test-password-1';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

for (const p of [CHROMIUM, join(BIN, 'gateway'), join(BIN, 'claude-runner')]) {
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: install Debian's chromium (apt-get install chromium) and build the binaries (cargo build --workspace --bins)`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'gateway-ui-'));
let browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});
after(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

// ---------- processes ----------

/** Start the gateway (port 0 = any) and wait for its banner. */
async function startGateway(dir, port = 0) {
  const data = join(dir, 'data');
  const proc = spawn(join(BIN, 'gateway'), ['--listen', `127.0.0.1:${port}`, '--data-dir', data], {
    cwd: dir,
    env: { PATH: process.env.PATH, GATEWAY_ADMIN_PASSWORD: PASSWORD, GATEWAY_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout });
  const url = await new Promise((ok, fail) => {
    let found = null;
    lines.on('line', (line) => {
      const m = line.match(/^gateway listening on (\S+)/);
      if (m) found = m[1];
      if (line.startsWith('start a runner') && found) ok(found);
    });
    proc.on('exit', (code) => fail(new Error(`gateway exited with ${code} before its banner`)));
  });
  return { proc, url, port: Number(new URL(url).port), dir, runnerEnv: join(data, 'runner.env') };
}

async function stopGateway(gw) {
  const exited = new Promise((ok) => gw.proc.once('exit', ok));
  gw.proc.kill('SIGKILL');
  await exited;
}

function script(path, body) {
  writeFileSync(path, `#!/bin/sh\n${body}`);
  chmodSync(path, 0o755);
  return path;
}

/** Run `claude-runner start` for an existing run; resolves with its exit code. */
function startRunner(gw, run, child) {
  const proc = spawn(
    join(BIN, 'claude-runner'),
    ['--env-file', gw.runnerEnv, 'start', '--run-id', run.run_id, '--token', run.token, '--cmd', 'say hi', '--quiet'],
    { cwd: gw.dir, env: { PATH: process.env.PATH, HOME: gw.dir, CLAUDE_COMMAND: child }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((ok) => proc.on('exit', (code) => ok({ code, stderr })));
  return { proc, done };
}

// ---------- browser helpers ----------

async function newPage(options = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  const page = await context.newPage();
  const problems = { dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    problems.dialogs.push(d.message());
    d.dismiss();
  });
  page.on('pageerror', (e) => problems.errors.push(String(e)));
  return { context, page, problems };
}

async function signIn(page, url) {
  await page.goto(url);
  await page.fill('#password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#shell:not([hidden])');
}

/** Create a run from inside the signed-in page (same-origin fetch with the CSRF token). */
async function createRunInPage(page, body) {
  return page.evaluate(async (body) => {
    const { csrf } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    return r.json();
  }, body);
}

const lineTexts = (page, sel = '.run-view:not([hidden]) .ln.k-stdout') => page.$$eval(sel, (els) => els.map((e) => e.textContent));

// ---------- tests ----------

test('sign in, create a run, watch it live, run a command, survive a gateway restart with no gap or duplicate', async () => {
  const dir = mkdtempSync(join(work, 'live-'));
  let gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });

  await page.goto(gw.url);
  await page.fill('#password', 'wrong');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:text("Wrong password.")');
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
  await page.waitForSelector('.run-view:not([hidden]) .ln:text-is("line 50")');
  assert.equal(await page.textContent('.run-view:not([hidden]) .conn span'), 'live');
  await page.waitForFunction(() => [...document.querySelectorAll('.ln')].some((l) => l.textContent === 'coloured and plain'));
  const colour = await page.$$eval('.run-view:not([hidden]) .ln', (els) => els.find((l) => l.textContent === 'coloured and plain').innerHTML);
  assert.equal(colour, '<span class="f2 sb">coloured</span> and plain', 'SGR colours become classes');
  assert.ok(await page.$('.run-view:not([hidden]) .ln.k-stderr:text-is("a warning on stderr")'));
  assert.match(await page.getAttribute('.run-view:not([hidden]) .ln:text-is("line 1")', 'title'), /^#\d+ · \d{4}-/);

  // An allowlisted command from the page, through the runner, back as output.
  await page.click('.run-view:not([hidden]) .chip:text-is("git status")');
  await page.waitForSelector('.run-view:not([hidden]) .k-marker:has-text("command") >> text=/exited/');
  await page.screenshot({ path: join(SHOTS, 'run.png') });

  // Restart the gateway on the same port and data directory while the run is between outputs.
  await stopGateway(gw);
  await page.waitForSelector('.run-view:not([hidden]) .conn[data-state="connecting"]');
  gw = await startGateway(dir, gw.port);
  writeFileSync(go, '');
  await page.waitForSelector('.run-view:not([hidden]) .ln:text-is("line 100")', { timeout: 30000 });
  await page.waitForSelector('.run-view:not([hidden]) .k-marker:has-text("finished: exit 0")');
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
  const { code } = await startRunner(gw, run, child).done;
  assert.equal(code, 0);
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await page.waitForSelector('.run-view:not([hidden]) .k-marker:has-text("finished")');
  assert.deepEqual(await lineTexts(page), [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    '<script>window.__pwned=2</script>',
    'click me',
    '{"type":"assistant","text":"<b onmouseover=alert(1)>bold</b> & <iframe src=javascript:alert(1)>"}',
    'title after',
  ]);
  assert.equal(await page.textContent('.run-view:not([hidden]) .run-title'), '<b>xss</b> probe');
  const injected = await page.$$eval('.run-view img, .run-view script, .run-view iframe, .run-view b, .lines a, .tabs b', (e) => e.length);
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
  await page.waitForSelector('.run-view:not([hidden]) .ln:text-is("100000")');
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
  await page.waitForSelector('.run-view:not([hidden]) .ln:text-is("100000")');
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
  await page.waitForSelector('.run-view:not([hidden]) .k-marker:has-text("finished: exit 1")');
  assert.equal(await overflow(), 0, 'no sideways scrolling');
  await page.screenshot({ path: join(SHOTS, 'phone-run.png') });
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});
