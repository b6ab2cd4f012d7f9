// Browser test of the agent path, with the real Claude Code CLI (tests/claude) against the fake
// Messages API (the fake_anthropic test binary): an admin enrolls an agent from the Agents page,
// a person starts a run on it from the New run dialog, the agent takes it within a second, the
// transcript appears, a follow-up prompt from the prompt box resumes the session, and End
// session ends it. Screenshots of each step land in ui-artifacts/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { BIN, ROOT, SHOTS, work, startGateway, stopGateway, newPage, signIn } from './harness.mjs';

const CLAUDE = join(ROOT, 'tests', 'claude', 'node_modules', '.bin', 'claude');

/** The fake Messages API, up until this process ends (its stdin closes). */
async function startFakeApi(dir) {
  const proc = spawn(join(BIN, 'fake_anthropic'), [join(dir, 'fake-claude-home')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((ok, fail) => {
    createInterface({ input: proc.stdout }).once('line', ok);
    proc.once('exit', (code) => fail(new Error(`fake API exited with ${code}`)));
  });
  return { proc, url: JSON.parse(line).base_url };
}

test('an agent enrolled in the UI takes a run from the New run dialog; prompt box and End session', { timeout: 180000 }, async () => {
  assert.ok(existsSync(CLAUDE), `the pinned Claude Code CLI at ${CLAUDE} (npm ci --prefix tests/claude)`);
  const dir = mkdtempSync(join(work, 'agent-'));
  const gw = await startGateway(dir);
  const api = await startFakeApi(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 900 } }, { confirm: true });
  await signIn(page, gw.url);

  // The Agents page: none yet; a one-time token and the command that uses it.
  await page.click('#agents-open');
  await page.waitForSelector('#agents-view:not([hidden])');
  await page.waitForSelector('#agents-body td:has-text("No agent has enrolled yet.")');
  await page.click('#agents-enroll');
  await page.waitForSelector('#agents-enroll-done:not([hidden])');
  const command = await page.textContent('#agents-enroll-command');
  const token = command.match(/--enroll-token (\S+)/)[1];
  assert.match(token, /^ae_/);
  await page.screenshot({ path: join(SHOTS, 'agents-enroll.png') });

  // The agent, with the settings of runner.env but not its HMAC secret.
  const home = join(dir, 'agent-home');
  mkdirSync(join(home, 'tmp'), { recursive: true });
  const envFile = join(dir, 'agent.env');
  writeFileSync(envFile, readFileSync(gw.runnerEnv, 'utf8').split('\n').filter((l) => !l.startsWith('HMAC_SECRET')).join('\n'));
  let agentLog = '';
  const agent = spawn(
    join(BIN, 'claude-runner'),
    ['--env-file', envFile, '--data-dir', join(dir, 'agent-data'), 'agent', '--enroll-token', token, '--name', 'ui-box', '--label', 'os=linux', '--heartbeat-secs', '1'],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        CLAUDE_COMMAND: CLAUDE,
        ANTHROPIC_BASE_URL: api.url,
        ANTHROPIC_API_KEY: 'sk-ant-api03-fake-key-for-tests-only',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_MAX_RETRIES: '0',
        HOME: home,
        CLAUDE_CONFIG_DIR: join(home, '.claude'),
        TMPDIR: join(home, 'tmp'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  agent.stderr.on('data', (d) => (agentLog += d));
  try {
    const row = '.agent-row[data-agent="ui-box"]';
    await page.waitForSelector(`${row} .agent-state:text-is("online")`, { timeout: 30000 });
    assert.equal(await page.textContent(`${row} .agent-labels`), 'os=linux');
    assert.equal(await page.textContent(`${row} .agent-load`), '0 / 1');
    await page.screenshot({ path: join(SHOTS, 'agents-online.png') });

    // New run → on the agent, as a session.
    await page.click('#new-run-open');
    await page.fill('#nr-name', 'from the browser');
    await page.fill('#nr-prompt', 'hello from the browser');
    await page.waitForSelector('#nr-target option[value="ui-box"]', { state: 'attached' });
    await page.selectOption('#nr-target', 'ui-box');
    assert.equal(await page.isChecked('#nr-session'), true);
    await page.screenshot({ path: join(SHOTS, 'new-run-on-agent.png') });
    const clicked = Date.now();
    await page.click('#nr-create');
    await page.waitForURL(/\/runs\/r_/);
    const runId = page.url().match(/\/runs\/(r_[A-Za-z0-9_-]+)/)[1];
    const view = `.run-view[data-run="${runId}"]`;
    // Taken within a second: the run has its agent.
    let taken = null;
    while (!taken && Date.now() - clicked < 10000) {
      const r = await page.evaluate(async (id) => (await fetch(`/api/runs/${id}`)).json(), runId);
      if (r.agent) taken = Date.now();
      else await page.waitForTimeout(20);
    }
    assert.ok(taken, `the agent took the run\n${agentLog}`);
    assert.ok(taken - clicked < 1000 + 500, `taken ${taken - clicked} ms after the click (one second, and the page's own requests)`);

    // The transcript: the prompt and Claude's answer, then it waits for input.
    await page.click(`${view} .pane-tab[data-pane="transcript"]`);
    await page.waitForSelector(`${view} .tx-answer .tx-text:has-text("hello from the browser")`, { timeout: 60000 });
    await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
    await page.screenshot({ path: join(SHOTS, 'agent-run-transcript.png') });

    // A follow-up from the prompt box resumes the same session: Claude is sent the earlier turn.
    const box = `${view} .prompt-box textarea`;
    await page.fill(box, 'and a second thing');
    await page.press(box, 'Enter');
    await page.waitForSelector(`${view} .tx-answer .tx-text:has-text("and a second thing")`, { timeout: 60000 });
    const answer = await page.textContent(`${view} .tx-answer >> nth=1`);
    assert.match(answer, /ECHO\(3 msgs\)/, 'the resumed request carries the first turn');
    const summary = await page.evaluate(async (id) => (await fetch(`/api/runs/${id}`)).json(), runId);
    assert.equal(summary.claude.prompts, 2);
    await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
    await page.screenshot({ path: join(SHOTS, 'agent-run-follow-up.png') });

    // End session: the run finishes; the agent is free again.
    await page.click(`${view} .session-controls button:text-is("End session")`);
    await page.waitForSelector(`${view} .run-head .badge.s-finished`, { timeout: 60000 });
    await page.screenshot({ path: join(SHOTS, 'agent-run-ended.png') });
    await page.click('#agents-open');
    await page.waitForSelector(`${row} .agent-load:text-is("0 / 1")`);
    assert.deepEqual([problems.dialogs, problems.errors], [[], []]);
  } catch (e) {
    e.message += `\nagent log:\n${agentLog}`;
    throw e;
  } finally {
    agent.kill('SIGKILL');
    api.proc.kill('SIGKILL');
    await context.close();
    await stopGateway(gw);
  }
});
