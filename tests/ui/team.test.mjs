// Browser tests of the team: an admin invites people from the People page, an invited viewer
// joins by the link in another browser, sees runs but no Stop or Send (and the gateway refuses
// them), each person sees their own sessions, and the admin reads the audit log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, work, startGateway, stopGateway, startRunner, fakeClaude, newPage, signIn, createRunInPage } from './harness.mjs';

/** On the People page of a signed-in admin: invite `name` as `role`; the link. */
async function invite(page, name, role) {
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
  // A slow answer about the invitation: the form must not show before it says whom it is for.
  await vera.page.route('**/api/join/check', async (route) => {
    await new Promise((r) => setTimeout(r, 600));
    await route.continue();
  });
  await vera.page.goto(link);
  await vera.page.waitForSelector('#join:not([hidden])');
  assert.equal(await vera.page.textContent('#join-title'), 'Join as vera');
  assert.match(await vera.page.textContent('#join-for'), /invited as viewer/);
  await vera.page.fill('#join-password', 'vera has a long password');
  await vera.page.click('#join-submit');
  await vera.page.waitForSelector('#shell:not([hidden])');
  assert.equal(await vera.page.textContent('#nav-account'), 'vera');
  // The link works once: opened again, the form says so and cannot be sent.
  const again = await newPage({ viewport: { width: 1280, height: 860 } });
  await again.page.goto(link);
  await again.page.waitForSelector('#join:not([hidden])');
  assert.equal(await again.page.textContent('#join-title'), 'This invitation cannot be used');
  assert.ok(await again.page.$eval('#join-submit', (e) => e.disabled));
  await again.context.close();
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

/** A virtual passkey authenticator in `context`'s browser (Chrome DevTools Protocol `WebAuthn`). */
async function authenticator({ context, page }) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

test('invitation → passkey registration → sign-in with the passkey; a cloned passkey is refused', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'passkey-'));
  const gw = await startGateway(dir);
  const admin = await newPage();
  await signIn(admin.page, gw.url);
  const link = await invite(admin.page, 'pia', 'operator');

  // Pia joins with a passkey her browser makes; no password is ever set.
  const pia = await newPage();
  const key = await authenticator(pia);
  await pia.page.goto(link);
  await pia.page.waitForSelector('#join-passkey:not([hidden])');
  await pia.page.click('#join-passkey');
  await pia.page.waitForSelector("#shell:not([hidden]), #join-error:not(:empty)");
  assert.equal(await pia.page.textContent("#join-error"), "");
  assert.equal(await pia.page.textContent('#nav-account'), 'pia');
  const { credentials } = await key.cdp.send('WebAuthn.getCredentials', { authenticatorId: key.authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].rpId, 'localhost');
  assert.ok(credentials[0].isResidentCredential, 'a discoverable credential: no name to type');

  // Signed out, the passkey alone signs her in again.
  await pia.page.click('#sign-out');
  await pia.page.waitForSelector('#login:not([hidden]) #passkey-sign-in:not([hidden])');
  await pia.page.click('#passkey-sign-in');
  await pia.page.waitForSelector('#shell:not([hidden])');
  assert.equal(await pia.page.textContent('#nav-account'), 'pia');
  await pia.page.click('#nav-account');
  await pia.page.waitForSelector('#passkeys-list li.passkey:has-text("last used")');

  // A copy of her passkey (its private key and counter as they are now) in another browser.
  const [now] = (await key.cdp.send('WebAuthn.getCredentials', { authenticatorId: key.authenticatorId })).credentials;
  assert.ok(now.signCount > 0, `the counter runs: ${now.signCount}`);
  const thief = await newPage();
  const copy = await authenticator(thief);
  await copy.cdp.send('WebAuthn.addCredential', { authenticatorId: copy.authenticatorId, credential: now });
  // The real one is used once more; the copy's next count is then no longer ahead.
  await pia.page.click('#sign-out');
  await pia.page.click('#passkey-sign-in');
  await pia.page.waitForSelector('#shell:not([hidden])');
  await thief.page.goto(gw.url);
  await thief.page.click('#passkey-sign-in');
  await thief.page.waitForSelector('#login-error:has-text("No passkey sign-in")');
  assert.ok(await thief.page.$eval('#shell', (s) => s.hidden), 'the copy signs nobody in');

  await admin.page.click('#nav-audit');
  await admin.page.waitForSelector('#audit-list tr');
  const rows = await admin.page.$$eval('#audit-list tr', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.some((r) => r.includes('joined') && r.includes('"method":"passkey"')), JSON.stringify(rows));
  assert.ok(rows.some((r) => r.includes('signed_in') && r.includes('"method":"passkey"')), JSON.stringify(rows));
  assert.ok(rows.some((r) => r.includes('sign_in_failed') && r.includes('cloned_credential')), JSON.stringify(rows));
  for (const p of [admin, pia, thief]) {
    assert.deepEqual([p.problems.dialogs, p.problems.errors], [[], []]);
    await p.context.close();
  }
  await stopGateway(gw);
});

test('a QR code from the account page signs a phone in as the same person, once', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'pair-'));
  const gw = await startGateway(dir);
  const desk = await newPage();
  await signIn(desk.page, gw.url);
  await desk.page.click('#nav-account');
  await desk.page.click('#pair-phone');
  await desk.page.waitForSelector('#pairing:not([hidden])');
  const link = await desk.page.textContent('#pairing-link');
  assert.match(link, /^https:\/\/localhost:\d+\/pair#[A-Za-z0-9_-]{32}$/);
  assert.ok(await desk.page.$eval('#pairing-qr', (img) => img.complete && img.naturalWidth >= 240), 'the QR code is drawn');
  await desk.page.screenshot({ path: join(SHOTS, 'pairing.png') });

  // The phone: another browser, a phone's screen, no password typed.
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.page.goto(link);
  await phone.page.waitForSelector('#shell:not([hidden])');
  assert.equal(await phone.page.textContent('#nav-account'), 'admin');
  assert.equal(new URL(phone.page.url()).hash, '', 'the code leaves the address bar');
  await phone.page.click('#nav-account');
  await phone.page.waitForSelector('#sessions-list li .badge:text("this browser")');
  const sessions = await phone.page.$$eval('#sessions-list li b', (bs) => bs.map((b) => b.textContent));
  assert.equal(sessions.length, 2, `the desk and the phone: ${sessions}`);

  // The same code again, in a third browser: refused.
  const other = await newPage();
  await other.page.goto(link);
  await other.page.waitForSelector('#login-error:has-text("This pairing code did not work")');
  assert.ok(await other.page.$eval('#shell', (s) => s.hidden));
  for (const p of [desk, phone, other]) {
    assert.deepEqual([p.problems.dialogs, p.problems.errors], [[], []]);
    await p.context.close();
  }
  await stopGateway(gw);
});
