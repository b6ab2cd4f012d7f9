// Browser tests of the team: an admin invites people from the People page, an invited viewer
// joins by the link in another browser, sees runs but no Stop or Send (and the gateway refuses
// them), each person sees their own sessions, and the admin reads the audit log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, work, startGateway, stopGateway, startRunner, fakeClaude, newPage, signIn, createRunInPage } from './harness.mjs';

/** On the People page of a signed-in admin: invite `name` as `role`; the link. */
export async function invite(page, name, role) {
  await page.click('#nav-people');
  await page.waitForSelector('#people-view:not([hidden])');
  await page.fill('#invite-name', name);
  await page.selectOption('#invite-role', role);
  await page.click('#invite-submit');
  await page.waitForSelector('#invite-done:not([hidden])');
  const link = await page.textContent('#invite-link');
  await page.waitForSelector(`#people-view li:text("${name} as ${role}")`);
  return link;
}

/** A request from inside a signed-in page, with its CSRF token; `{status, body}`. */
function fetchInPage(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const { csrf } = await (await fetch('/api/session')).json();
      const r = await fetch(path, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    [method, path, body],
  );
}

test('a viewer joins by invitation, sees no Stop or Send, and the gateway refuses them', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'team-'));
  const gw = await startGateway(dir);
  const admin = await newPage({ viewport: { width: 1280, height: 860 } }, { confirm: true });
  await signIn(admin.page, gw.url);
  assert.equal(await admin.page.textContent('#nav-account'), 'admin');
  const link = await invite(admin.page, 'vera', 'viewer');
  assert.match(link, /^https:\/\/localhost:\d+\/join#[A-Za-z0-9_-]{32}$/);

  // Vera opens the link in her own browser and chooses a password.
  const vera = await newPage({ viewport: { width: 1280, height: 860 } });
  await vera.page.goto(link);
  await vera.page.waitForSelector('#join:not([hidden])');
  assert.equal(await vera.page.textContent('#join-title'), 'Join as vera');
  assert.match(await vera.page.textContent('#join-for'), /invited as viewer/);
  await vera.page.fill('#join-password', 'vera has a long password');
  await vera.page.click('#join-submit');
  await vera.page.waitForSelector('#shell:not([hidden])');
  assert.equal(await vera.page.textContent('#nav-account'), 'vera');
  for (const hidden of ['#new-run-open', '#nav-people', '#nav-audit']) {
    assert.ok(await vera.page.$eval(hidden, (e) => e.hidden), `${hidden} is not a viewer's`);
  }
  assert.ok(!(await admin.page.$eval('#new-run-open', (e) => e.hidden)), 'the admin may start runs');

  // A live session run: the admin gets Stop and the prompt box, the viewer neither.
  const run = await createRunInPage(admin.page, { name: 'steer me', cwd: dir });
  const runner = startRunner(gw, run, fakeClaude(dir), { prompt: 'tidy the README', args: ['--session', '--cwd', dir] });
  const view = `.run-view[data-run="${run.run_id}"]`;
  for (const { page } of [admin, vera]) {
    await page.goto(`${gw.url}/runs/${run.run_id}`);
    await page.waitForSelector(`${view} .run-head .badge.s-waiting_for_input`);
  }
  await admin.page.waitForSelector(`${view} .prompt-box:not([hidden]) button`);
  assert.equal(await admin.page.textContent(`${view} .run-controls .danger`), 'Stop');
  assert.equal(await vera.page.$$eval(`${view} .run-controls button`, (b) => b.length), 0, 'no Stop, Interrupt or Run');
  assert.ok(await vera.page.$eval(`${view} .prompt-box`, (f) => f.hidden), 'no prompt box');
  assert.ok(await vera.page.$eval(`${view} .run-title`, (t) => t.textContent === 'steer me'), 'she reads the run');
  await vera.page.screenshot({ path: join(SHOTS, 'viewer-run.png') });
  for (const body of [{ kind: 'stop' }, { kind: 'prompt', prompt: 'delete everything' }]) {
    const r = await fetchInPage(vera.page, 'POST', `/api/runs/${run.run_id}/commands`, body);
    assert.deepEqual([r.status, r.body.reason], [403, 'role_required'], JSON.stringify(body));
  }
  const r = await fetchInPage(vera.page, 'POST', '/api/runs', {});
  assert.equal(r.status, 403, 'nor start a run');

  // Her account page lists her session; the admin's audit log shows what happened.
  await vera.page.click('#nav-account');
  await vera.page.waitForSelector('#sessions-list li .badge:text("this browser")');
  await admin.page.click('#nav-audit');
  await admin.page.waitForSelector('#audit-view:not([hidden]) #audit-list tr');
  const rows = await admin.page.$$eval('#audit-list tr', (trs) => trs.map((tr) => [...tr.cells].slice(1, 3).map((c) => c.textContent).join(' ')));
  for (const want of ['admin invitation_created', 'vera joined', 'admin run_started', 'admin signed_in']) {
    assert.ok(rows.some((r) => r.startsWith(want)), `${want} in ${JSON.stringify(rows)}`);
  }
  await admin.page.screenshot({ path: join(SHOTS, 'audit.png') });

  // The admin sends a prompt and stops the run from the page; the run says who did.
  await admin.page.goto(`${gw.url}/runs/${run.run_id}`);
  await admin.page.waitForSelector(`${view} .run-meta .m-by dd:text-is("admin")`);
  await admin.page.fill(`${view} .prompt-box textarea`, 'and the changelog');
  await admin.page.click(`${view} .prompt-box button`);
  await admin.page.click(`${view} .run-controls .danger`);
  await admin.page.waitForSelector(`${view} .run-head .badge.s-stopped`);
  await runner.done;
  await vera.page.click(`#tabs [data-tab="${run.run_id}"]`);
  await vera.page.waitForSelector(`${view} .run-history li:has-text("admin prompt: and the changelog")`, { state: "attached" });
  await vera.page.waitForSelector(`${view} .run-history li:has-text("admin run stopped")`, { state: "attached" });
  assert.deepEqual([vera.problems.dialogs, vera.problems.errors], [[], []]);
  assert.deepEqual([admin.problems.dialogs, admin.problems.errors], [[], []]);
  assert.match(admin.problems.confirmed[0], /^Stop "steer me"\?/);
  await admin.context.close();
  await vera.context.close();
  await stopGateway(gw);
});
