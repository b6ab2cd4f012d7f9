// Browser tests of API tokens on the Account page: an admin makes a token with chosen scopes and
// an expiry, its secret is shown once with a Copy button, the token works within its scopes,
// revoking it from the list refuses it, and the secret is not shown again; a viewer is offered
// only the scope their role holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, work, startGateway, stopGateway, newPage, signIn } from './harness.mjs';

/** `method path` with `token` as the bearer, from `context` (it accepts the test certificate);
 *  `{status, body}`. */
async function withToken(context, url, token, method, path, data) {
  const r = await context.request.fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    data: data === undefined ? undefined : JSON.stringify(data),
  });
  return { status: r.status(), body: await r.json().catch(() => null) };
}

/** Visible scope choices on the Account page. */
const offered = (page) =>
  page.$$eval('#token-scopes label', (ls) => ls.filter((l) => !l.hidden).map((l) => l.querySelector('input').value));

test('a token is made with its scopes, shown once, works within them, and is revoked from the page', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'tokens-'));
  const gw = await startGateway(dir);
  const admin = await newPage(
    { viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] },
  );
  await signIn(admin.page, gw.url);
  await admin.page.click('#nav-account');
  await admin.page.waitForSelector('#account-view:not([hidden])');
  assert.deepEqual(await offered(admin.page), ['read_runs', 'create_runs', 'approve', 'admin']);

  await admin.page.fill('#token-name', 'nightly script');
  await admin.page.check('#token-scopes input[value="create_runs"]');
  await admin.page.selectOption('#token-expiry', '7');
  await admin.page.click('#token-submit');
  await admin.page.waitForSelector('#token-done:not([hidden])');
  const secret = await admin.page.textContent('#token-secret');
  assert.match(secret, /^at_[A-Za-z0-9_-]{43}$/);
  assert.match(await admin.page.textContent('#token-for'), /not shown again/);
  await admin.page.click('#token-copy');
  await admin.page.waitForSelector('#token-copy:text("Copied")');
  assert.equal(await admin.page.evaluate(() => navigator.clipboard.readText()), secret);

  const row = '#tokens-list tr:has-text("nightly script")';
  await admin.page.waitForSelector(row);
  const cells = await admin.page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  assert.deepEqual([cells[1], cells[2], cells[5], cells[6]], ['admin', 'read_runs create_runs', 'not yet', 'active']);
  await admin.page.screenshot({ path: join(SHOTS, 'tokens.png') });

  // Within its scopes, as its person; beyond them, refused.
  const runs = await withToken(admin.context, gw.url, secret, 'GET', '/api/runs');
  assert.equal(runs.status, 200);
  const me = await withToken(admin.context, gw.url, secret, 'GET', '/api/me');
  assert.deepEqual([me.body.name, me.body.token.name], ['admin', 'nightly script']);
  const people = await withToken(admin.context, gw.url, secret, 'GET', '/api/people');
  assert.deepEqual([people.status, people.body.reason], [403, 'scope_required']);

  // Revoked from the list: refused, and the page says so.
  await admin.page.click('#nav-people');
  await admin.page.waitForSelector('#people-view:not([hidden])');
  await admin.page.click('#nav-account');
  await admin.page.waitForSelector('#account-view:not([hidden])');
  assert.ok(await admin.page.$eval('#token-done', (d) => d.hidden), 'the secret is not shown again');
  assert.equal(await admin.page.textContent('#token-secret'), '');
  // Its first use is listed now.
  await admin.page.waitForFunction(() =>
    [...document.querySelectorAll('#tokens-list tr')].some(
      (tr) => tr.cells[0].textContent === 'nightly script' && tr.cells[5].textContent !== 'not yet',
    ),
  );
  await admin.page.click('button[aria-label="Revoke nightly script"]');
  await admin.page.waitForSelector(`${row} td.bad:text-is("revoked")`);
  const refused = await withToken(admin.context, gw.url, secret, 'GET', '/api/runs');
  assert.deepEqual([refused.status, refused.body.reason], [401, 'token_revoked']);
  assert.deepEqual([admin.problems.dialogs, admin.problems.errors], [[], []]);
  await admin.context.close();
  await stopGateway(gw);
});

test('a viewer is offered only the scope a viewer holds, and the gateway refuses more', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(work, 'tokens-viewer-'));
  const gw = await startGateway(dir);
  const admin = await newPage();
  await signIn(admin.page, gw.url);
  const link = await admin.page.evaluate(async () => {
    const { csrf } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/invitations', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ name: 'vic', role: 'viewer' }),
    });
    return (await r.json()).url;
  });
  const vic = await newPage();
  await vic.page.goto(link);
  await vic.page.waitForSelector('#join:not([hidden])');
  await vic.page.fill('#join-password', 'vic has a long password');
  await vic.page.click('#join-submit');
  await vic.page.waitForSelector('#shell:not([hidden])');
  await vic.page.click('#nav-account');
  await vic.page.waitForSelector('#account-view:not([hidden])');
  assert.deepEqual(await offered(vic.page), ['read_runs']);
  const wider = await vic.page.evaluate(async () => {
    const { csrf } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ name: 'more', scopes: ['create_runs'] }),
    });
    return [r.status, (await r.json()).reason];
  });
  assert.deepEqual(wider, [403, 'role_required']);
  await vic.page.fill('#token-name', 'reader');
  await vic.page.click('#token-submit');
  await vic.page.waitForSelector('#token-done:not([hidden])');
  await vic.page.waitForSelector('#tokens-list tr:has-text("reader") td:text-is("read_runs")');
  assert.equal(await vic.page.$$eval('#tokens-list tr', (r) => r.length), 1, 'only her own');
  assert.deepEqual([vic.problems.dialogs, vic.problems.errors], [[], []]);
  await admin.context.close();
  await vic.context.close();
  await stopGateway(gw);
});
