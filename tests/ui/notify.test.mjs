// The Notifications dialog in headless Chromium, phone-sized: this browser's Web Push section,
// a webhook added from the page (its secret shown once), a run that finishes delivering a
// signed webhook to a receiver here (the signature checked with node's crypto, from
// PROTOCOL.md alone), and the delivery log in the dialog. Plus the web app manifest and the
// service worker the page installs with.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, createRunInPage, newPage, script, signIn, startGateway, startRunner, stopGateway, work } from './harness.mjs';

/** A webhook receiver on 127.0.0.1:0; resolves each request into `got`. */
async function receiver() {
  const got = [];
  let wake = () => {};
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks), path: req.url });
      res.writeHead(204).end();
      wake();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const next = (n) =>
    new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no delivery ${n} within 20 s`)), 20000);
      const check = () => {
        if (got.length >= n) {
          clearTimeout(timer);
          ok(got[n - 1]);
        }
      };
      wake = check;
      check();
    });
  return { url: `http://127.0.0.1:${server.address().port}`, next, close: () => server.close() };
}

/** PROTOCOL.md, "Webhooks": v1=HMAC-SHA256(secret, "v1\n" + ts + "\n" + id + "\n" + sha256hex(body)). */
function verify(secret, d) {
  const ts = d.headers['x-webhook-timestamp'];
  const id = d.headers['x-webhook-id'];
  const canonical = `v1\n${ts}\n${id}\n${createHash('sha256').update(d.body).digest('hex')}`;
  const want = Buffer.from(`v1=${createHmac('sha256', secret).update(canonical).digest('hex')}`);
  const sent = Buffer.from(String(d.headers['x-webhook-signature']));
  assert.ok(sent.length === want.length && timingSafeEqual(sent, want), 'the signature verifies');
  assert.ok(Math.abs(Date.now() / 1000 - Number(ts)) < 300, 'a fresh timestamp');
}

test('phone: notifications dialog, a webhook added in the page gets a signed delivery, its log shows it', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'notify-'));
  const gw = await startGateway(dir);
  const hook = await receiver();
  const { context, page, problems } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(page, gw.url);

  // Installable: the manifest and the worker are served from the root.
  const installable = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=manifest]').href;
    const manifest = await (await fetch(link)).json();
    const sw = await fetch('/sw.js');
    return { display: manifest.display, start: manifest.start_url, swType: sw.headers.get('content-type') };
  });
  assert.deepEqual(installable, { display: 'standalone', start: '/', swType: 'text/javascript; charset=utf-8' });

  await page.click('#settings-open');
  await page.waitForSelector('#settings[open] #settings-push h3');
  await page.waitForSelector('#settings-hooks .hook-form');
  const pushText = await page.textContent('#settings-push');
  assert.match(pushText, /This browser/);
  await page.fill('#settings-hooks input[type=url]', `${hook.url}/hook`);
  await page.click('#settings-hooks .hook-form button[type=submit]');
  await page.waitForSelector('#settings-hooks .created pre');
  const secret = (await page.textContent('#settings-hooks .created pre')).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.equal(await page.locator('#settings-hooks .hook').count(), 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(overflow, 0, 'no sideways scrolling');
  await page.screenshot({ path: join(SHOTS, 'phone-notifications.png') });
  await page.click('#settings-close');

  // A run finishes: the webhook hears of it, signed.
  const run = await createRunInPage(page, { name: 'ship the release' });
  const child = script(join(dir, 'ok'), 'echo "private output line"\nexit 0\n');
  assert.equal((await startRunner(gw, run, child).done).code, 0);
  const d = await hook.next(1);
  verify(secret, d);
  const body = JSON.parse(d.body);
  assert.equal(body.event, 'finished');
  assert.equal(body.run.name, 'ship the release');
  assert.ok(!d.body.toString().includes('private output'), 'no output in a notification');

  // The delivery log in the dialog.
  await page.click('#settings-open');
  await page.click('#settings-hooks .hook-actions button:has-text("Deliveries")');
  await page.waitForSelector('#settings-hooks table.deliveries tr[data-state="delivered"]');
  await page.screenshot({ path: join(SHOTS, 'phone-deliveries.png') });
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  hook.close();
  await stopGateway(gw);
});
