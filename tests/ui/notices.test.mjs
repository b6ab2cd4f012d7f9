// Browser test of the run view's notices: a secret variable too short to redact, or output
// dropped at the spool's cap, is said above the panes, where nobody can miss it (the short
// secret again as its own line in the terminal); a run without either shows no notice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { work, startGateway, stopGateway, script, startRunner, newPage, signIn, createRunInPage, waitForLine } from './harness.mjs';

test('a secret too short to redact and output dropped are visible notices; a clean run has none', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'notices-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page, gw.url);
  const view = '.run-view:not([hidden])';
  const child = script(join(dir, 'child'), 'echo "session ready"\n');

  const run = await createRunInPage(page, { name: 'short secret' });
  const { code, stderr } = await startRunner(gw, run, child, { env: { CACHE_KEY: 'session' } }).done;
  assert.equal(code, 0, stderr);
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const notice = await page.waitForSelector(`${view} .run-notices .notice[data-event="redaction_skipped"]`);
  assert.ok(await notice.isVisible(), 'the notice is on screen');
  const text = await notice.textContent();
  assert.match(text, /^Not redacted: the secret variable CACHE_KEY holds a value shorter than 8 bytes/);
  assert.ok(!text.includes('session'), `the notice names the variable, never its value: ${text}`);
  assert.equal(await page.getAttribute(`${view} .run-notices`, 'role'), 'status');
  // The terminal says it too, on a labelled line; the value itself is still in the output.
  await waitForLine(page, '^not redacted CACHE_KEY: values shorter than 8 bytes$', 'k-marker');
  await waitForLine(page, '^session ready$', 'k-stdout');

  const clean = await createRunInPage(page, { name: 'nothing short' });
  assert.equal((await startRunner(gw, clean, child).done).code, 0);
  await page.goto(`${gw.url}/runs/${clean.run_id}`);
  await waitForLine(page, '^session ready$', 'k-stdout');
  assert.equal(await page.isVisible(`${view} .run-notices`), false, 'no notice without a skipped secret');
  assert.equal(await page.$$eval(`${view} .run-notices .notice`, (e) => e.length), 0);

  // Output past the spool's cap is dropped: said as a notice too.
  const flood = await createRunInPage(page, { name: 'flood' });
  const floodChild = script(join(dir, 'flood'), "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100\nexit 0\n");
  const dropped = await startRunner(gw, flood, floodChild, { env: { RUNNER_SPOOL_MAX_BYTES: '1048576' } }).done;
  assert.equal(dropped.code, 121, dropped.stderr);
  await page.goto(`${gw.url}/runs/${flood.run_id}`);
  const cut = await page.waitForSelector(`${view} .run-notices .notice[data-event="truncated"]`);
  assert.ok(await cut.isVisible());
  assert.match(await cut.textContent(), /^Output dropped: the runner's spool reached 1\.0 MiB; later output lines of this run were not kept\.$/);

  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});
