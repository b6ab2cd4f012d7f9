// Approvals with the real, pinned Claude Code CLI against the fake Messages API, watched and
// decided in headless Chromium at phone size: a Bash call outside the allowed tools makes an
// approval card appear; Allow runs it and the transcript shows its result; a follow-up prompt
// from the page asks again (Claude Code itself lets read-only commands such as `echo` run
// without asking, so each call here changes something), Deny with a message refuses it and
// Claude's next message reflects the refusal; Allow for this run lets the same call made again
// run without asking (the transcript names the rule and who gave it); in another run, a
// request left alone is denied when its time runs out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, createRunInPage, newPage, realClaude, signIn, startGateway, startRunner, stopGateway, work } from './harness.mjs';

const card = (id) => `.run-view:not([hidden]) .approval${id ? `[data-request="${id}"]` : ''}`;

async function showTranscript(page) {
  await page.click('.run-view:not([hidden]) .pane-tab[data-pane="transcript"]');
}

test('real Claude Code: allow from the card, deny with a message, a request left alone times out', { timeout: 180000 }, async (t) => {
  const dir = mkdtempSync(join(work, 'claude-approvals-'));
  const claude = await realClaude(dir);
  if (!claude) {
    t.skip('the Claude Code CLI is not installed');
    return;
  }
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(page, gw.url);
  const env = { ...claude.env, CLAUDE_ASK_TOOLS: 'Bash' };

  // 1. Allow: the command runs, its result is in the transcript.
  const run = await createRunInPage(page, { name: 'approve from the phone' });
  const runner = startRunner(gw, run, claude.cli, { prompt: 'RUN: touch allowed.txt && echo made-it', args: ['--session'], env });
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await page.waitForSelector(card(), { timeout: 60000 });
  assert.equal(await page.textContent(`${card()} .approval-command`), 'touch allowed.txt && echo made-it');
  await page.locator(card()).screenshot({ path: join(SHOTS, 'phone-claude-approval-card.png') });
  await page.click(`${card()} button:has-text("Allow")`);
  await showTranscript(page);
  await page.waitForSelector('.tx-result:has-text("made-it")', { timeout: 60000 });
  await page.waitForSelector('.tx-permission_decision:has-text("allowed once by admin")');

  // 2. A follow-up prompt from the page asks again; Deny with a message refuses it.
  await page.waitForSelector('.run-view:not([hidden]) .prompt-box:not([hidden]) textarea', { timeout: 60000 });
  await page.fill('.run-view:not([hidden]) .prompt-box textarea', 'RUN: rm -rf ./scratch');
  await page.press('.run-view:not([hidden]) .prompt-box textarea', 'Enter');
  await page.waitForSelector(card(), { timeout: 60000 });
  assert.match(await page.textContent(`${card()} .approval-command`), /rm -rf \.\/scratch/);
  await page.click(`${card()} button:has-text("Deny")`);
  await page.fill(`${card()} textarea`, 'Not in this repository.');
  await page.click(`${card()} button:has-text("Send denial")`);
  await page.waitForSelector('.tx-answer:has-text("Tool refused: Not in this repository.")', { timeout: 60000 });
  await page.waitForSelector(card(), { state: 'detached' });
  await page.screenshot({ path: join(SHOTS, 'phone-claude-denied.png') });

  // 3. Allow for this run: the same call made again does not ask; the audit names who and how.
  // This prompt also switches the permission mode for the turns to come, from the prompt box.
  await page.click('.run-view:not([hidden]) .prompt-options summary');
  await page.selectOption('.run-view:not([hidden]) .prompt-options select', 'default');
  await page.fill('.run-view:not([hidden]) .prompt-box textarea', 'RUN TWICE: touch twice.txt');
  await page.press('.run-view:not([hidden]) .prompt-box textarea', 'Enter');
  await page.waitForSelector(card(), { timeout: 60000 });
  const started = await page.evaluate(async (id) => {
    const { events } = await (await fetch(`/api/runs/${id}/events?limit=5000`)).json();
    return events.filter((e) => e.type === 'marker' && e.data.event === 'turn_started').map((e) => e.data);
  }, run.run_id);
  assert.equal(started.length, 3);
  assert.equal(started[2].permissionMode, 'default', JSON.stringify(started[2]));
  await page.click(`${card()} button:has-text("Allow for this run")`);
  await page.waitForSelector('.tx-permission_decision:has-text("allowed by admin for the rest of the run: Bash(touch twice.txt)")', { timeout: 60000 });
  await page.waitForSelector('.tx-permission_decision:has-text("allowed by the rule Bash(touch twice.txt)")', { timeout: 60000 });
  await page.waitForSelector('.tx-answer:has-text("Tool said")', { timeout: 60000 });
  assert.equal(await page.locator('.tx-permission_request').count(), 3, 'the second identical call asked nobody');
  await page.evaluate(async (id) => {
    const { csrf } = await (await fetch('/api/session')).json();
    await fetch(`/api/runs/${id}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ kind: 'end_session' }),
    });
  }, run.run_id);
  assert.equal((await runner.done).code, 0);

  // 4. Nobody answers: denied when its time runs out, and the card goes.
  const late = await createRunInPage(page, { name: 'nobody answers' });
  const lateRunner = startRunner(gw, late, claude.cli, { prompt: 'RUN: touch late.txt', env: { ...env, CLAUDE_ASK_TIMEOUT: '3s' } });
  await page.goto(`${gw.url}/runs/${late.run_id}`);
  await page.waitForSelector(card(), { timeout: 60000 });
  await page.waitForSelector(card(), { state: 'detached', timeout: 60000 });
  await showTranscript(page);
  await page.waitForSelector('.tx-permission_decision.tx-bad', { timeout: 60000 });
  await lateRunner.done;
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  claude.stop();
  await stopGateway(gw);
});
