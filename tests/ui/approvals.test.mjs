// Approvals in headless Chromium: a run's waiting permission requests (ingested here as a
// runner would send them, signed with the run key) show as cards on its header, readable at
// 390 px; the count of runs needing approval is in the tab title and on the top bar; Allow,
// Deny with a message and the A key queue the person's decisions (read back as the runner's
// signed command poll sees them); a decision marker clears the card.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, createRunInPage, newPage, signIn, startGateway, stopGateway, work } from './harness.mjs';

/** A request signed with the run key, as claude-runner sends it (PROTOCOL.md §2). */
async function signed(gw, run, method, path, body) {
  const secret = readFileSync(gw.runnerEnv, 'utf8').match(/^HMAC_SECRET=(.*)$/m)[1];
  const key = createHmac('sha256', secret).update(`run\n${run.run_id}\n${run.token}`).digest();
  const raw = body === undefined ? '' : JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(18).toString('base64url');
  const canonical = ['v1', method, path, '', run.run_id, ts, nonce, createHash('sha256').update(raw).digest('hex')].join('\n');
  const { status, text } = await new Promise((ok, fail) => {
    const req = httpsRequest(`${gw.url}${path}`, {
      method,
      rejectUnauthorized: false,
      headers: {
        ...(raw ? { 'content-type': 'application/json' } : {}),
        'x-runner-timestamp': ts,
        'x-runner-nonce': nonce,
        'x-runner-run': run.run_id,
        'x-runner-signature': `v1=${createHmac('sha256', key).update(canonical).digest('hex')}`,
      },
    }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => ok({ status: res.statusCode, text }));
    });
    req.on('error', fail);
    req.end(raw);
  });
  assert.ok(status < 300, `${method} ${path}: ${status} ${text}`);
  return JSON.parse(text);
}

let seq = 0;
const marker = (data) => ({ sequence: ++seq, type: 'marker', data, ts: Date.now() });
const ingest = (gw, run, events) => signed(gw, run, 'POST', '/api/ingest/event', { run_id: run.run_id, events });
const commands = (gw, run) => signed(gw, run, 'GET', `/api/runs/${run.run_id}/commands`);

function bash(id, command) {
  return marker({
    event: 'permission_request', requestId: id, tool: 'Bash', toolUseId: `toolu_${id}`,
    input: { command }, command, cwd: '/home/dev/repo', expiresAt: Date.now() + 600_000,
  });
}

test('approval cards: phone-readable, counted in the title, Allow, Deny with a message, and the A key', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'approvals-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'tidy the repo', cwd: '/home/dev/repo' });
  seq = 0;
  await ingest(gw, run, [
    marker({ event: 'turn_started', turn: 1, prompt: 'tidy up' }),
    bash('pr_aaaaaaaaaaaaaaaa', 'rm -rf build && npm run build'),
    marker({
      event: 'permission_request', requestId: 'pr_bbbbbbbbbbbbbbbb', tool: 'Edit', toolUseId: 'toolu_b',
      input: { file_path: '/home/dev/repo/README.md', old_string: 'old', new_string: 'new' },
      diff: '--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-old line\n+new line', expiresAt: Date.now() + 600_000,
    }),
  ]);

  // From the runs list: the count in the title and on the top bar, the status in the row.
  await page.waitForFunction(() => document.title.startsWith('(1) '));
  assert.equal((await page.textContent('#attention')).trim(), '1 needs approval');
  await page.waitForSelector('.run-row:has-text("Needs approval")');
  await page.click('#attention');
  await page.waitForSelector('.run-view:not([hidden]) .approval[data-request="pr_bbbbbbbbbbbbbbbb"]');
  assert.match(await page.title(), /^\(1\) tidy the repo · needs approval/);
  const card = '.run-view:not([hidden]) .approval[data-request="pr_aaaaaaaaaaaaaaaa"]';
  assert.equal(await page.textContent(`${card} .approval-command`), 'rm -rf build && npm run build');
  assert.match(await page.textContent(`${card} .approval-cwd`), /\/home\/dev\/repo/);
  assert.equal(await page.textContent('.run-view:not([hidden]) .approval[data-request="pr_bbbbbbbbbbbbbbbb"] .d-add'), '+new line\n');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(overflow, 0, 'no sideways scrolling');
  // Every top-bar control stays on the screen next to the count.
  for (const id of ['#attention', '#settings-open', '#new-run-open', '#sign-out']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${id} on screen: ${JSON.stringify(box)}`);
  }
  await page.locator(card).scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'phone-approval.png') });
  await page.locator(card).screenshot({ path: join(SHOTS, 'phone-approval-card.png') });

  // Allow the first; deny the second with a message for Claude.
  await page.click(`${card} button:has-text("Allow")`);
  await page.waitForSelector(`${card}.decided`);
  const edit = '.run-view:not([hidden]) .approval[data-request="pr_bbbbbbbbbbbbbbbb"]';
  await page.click(`${edit} button:has-text("Deny")`);
  await page.fill(`${edit} textarea`, 'Keep the README as it is.');
  await page.click(`${edit} button:has-text("Send denial")`);
  await page.waitForSelector(`${edit}.decided`);
  const queued = (await commands(gw, run)).filter((c) => c.kind === 'permission');
  assert.deepEqual(
    queued.map((c) => [c.request_id, c.decision, c.message ?? null, c.by]),
    [
      ['pr_aaaaaaaaaaaaaaaa', 'allow', null, 'admin'],
      ['pr_bbbbbbbbbbbbbbbb', 'deny', 'Keep the README as it is.', 'admin'],
    ],
  );

  // The runner's decision markers clear the cards and the count.
  await ingest(gw, run, [
    marker({ event: 'permission_decision', requestId: 'pr_aaaaaaaaaaaaaaaa', decision: 'allow', by: 'admin', tool: 'Bash' }),
    marker({ event: 'permission_decision', requestId: 'pr_bbbbbbbbbbbbbbbb', decision: 'deny', by: 'admin', tool: 'Edit', message: 'Keep the README as it is.' }),
  ]);
  await page.waitForFunction(() => !document.title.startsWith('('));
  await page.waitForSelector('.run-view:not([hidden]) .approvals', { state: 'hidden' });
  assert.equal(await page.isHidden('#attention'), true);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();

  // On a desktop: A allows the oldest waiting request.
  const desk = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(desk.page, `${gw.url}/runs/${run.run_id}`);
  await ingest(gw, run, [bash('pr_cccccccccccccccc', 'git push')]);
  const third = '.run-view:not([hidden]) .approval[data-request="pr_cccccccccccccccc"]';
  await desk.page.waitForSelector(third);
  assert.equal(await desk.page.isVisible(`${third} .keys`), true, 'the keys are shown on a desktop');
  await desk.page.locator('body').focus();
  await desk.page.keyboard.press('a');
  await desk.page.waitForSelector(`${third}.decided`);
  const last = (await commands(gw, run)).filter((c) => c.kind === 'permission').at(-1);
  assert.deepEqual([last.request_id, last.decision], ['pr_cccccccccccccccc', 'allow']);
  assert.deepEqual(desk.problems, { dialogs: [], errors: [] });
  await desk.context.close();
  await stopGateway(gw);
});

// The runs list stream's first snapshot can be newer than the run the open view read for itself:
// a request that arrived between the view's read and the list stream's start is only in the
// snapshot (its live update went out before the list stream subscribed). The view must take it.
test('an approval that only the list snapshot carries shows on the open run', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(work, 'approvals-snapshot-'));
  const gw = await startGateway(dir);
  const setup = await newPage();
  await signIn(setup.page, gw.url);
  const run = await createRunInPage(setup.page, { name: 'push it', cwd: '/home/dev/repo' });
  await setup.context.close();
  seq = 0;
  await ingest(gw, run, [marker({ event: 'turn_started', turn: 1, prompt: 'push' })]);

  // Hold the list stream back until the view has read its run and the request is stored.
  const desk = await newPage({ viewport: { width: 1280, height: 800 } });
  let release;
  const released = new Promise((ok) => (release = ok));
  await desk.context.route((url) => url.pathname === '/api/stream', async (route) => {
    await released;
    await route.continue();
  });
  await signIn(desk.page, `${gw.url}/runs/${run.run_id}`);
  await desk.page.waitForSelector('.run-view:not([hidden]) .conn[data-state="live"]');
  await ingest(gw, run, [bash('pr_dddddddddddddddd', 'git push --tags')]);
  release();
  const card = '.run-view:not([hidden]) .approval[data-request="pr_dddddddddddddddd"]';
  await desk.page.waitForSelector(card, { timeout: 15000 });
  assert.equal(await desk.page.textContent(`${card} .approval-command`), 'git push --tags');
  assert.deepEqual(desk.problems, { dialogs: [], errors: [] });
  await desk.context.close();
  await stopGateway(gw);
});

// The run's own stream carries its requests and decisions: the cards follow it even while the
// runs list stream never connects.
test('approval cards follow the run stream when the list stream is cut', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(work, 'approvals-cut-'));
  const gw = await startGateway(dir);
  const setup = await newPage();
  await signIn(setup.page, gw.url);
  const run = await createRunInPage(setup.page, { name: 'tag it', cwd: '/home/dev/repo' });
  await setup.context.close();
  seq = 0;
  await ingest(gw, run, [marker({ event: 'turn_started', turn: 1, prompt: 'tag' })]);

  const desk = await newPage({ viewport: { width: 1280, height: 800 } });
  await desk.context.route((url) => url.pathname === '/api/stream', (route) => route.abort('connectionreset'));
  await signIn(desk.page, `${gw.url}/runs/${run.run_id}`);
  await desk.page.waitForSelector('.run-view:not([hidden]) .conn[data-state="live"]');
  await ingest(gw, run, [bash('pr_eeeeeeeeeeeeeeee', 'git tag v1')]);
  const card = '.run-view:not([hidden]) .approval[data-request="pr_eeeeeeeeeeeeeeee"]';
  await desk.page.waitForSelector(card, { timeout: 15000 });
  assert.equal(await desk.page.textContent(`${card} .approval-command`), 'git tag v1');
  await ingest(gw, run, [
    marker({ event: 'permission_decision', requestId: 'pr_eeeeeeeeeeeeeeee', decision: 'allow', by: 'admin', tool: 'Bash' }),
  ]);
  await desk.page.waitForSelector('.run-view:not([hidden]) .approvals', { state: 'hidden', timeout: 15000 });
  assert.deepEqual(desk.problems.errors, []);
  await desk.context.close();
  await stopGateway(gw);
});
