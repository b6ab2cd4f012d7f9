// Benchmark (not a test): a 100,000-line burst (`seq 1 100000`) watched live in the page,
// measured in the page with a PerformanceObserver: the longest task, tasks over 100 ms, frames
// over 50 ms (gaps between animation frames) and the time from the runner's start until the
// last line is shown. Compare two gateways' UIs in one session:
//
//   node --test tests/ui/bench-burst.mjs               # this checkout's target/debug/gateway
//   GATEWAY_BIN=/path/to/other/gateway node --test tests/ui/bench-burst.mjs
//
// (run through node --test for the shared browser set-up; tests/run does not run it: its name
// is not *.test.mjs)
//
// ROUNDS (default 3) bursts per run; figures are printed per round and as the median.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GATEWAY, work, startGateway, stopGateway, script, startRunner, newPage, signIn, createRunInPage } from './harness.mjs';

const ROUNDS = Number(process.env.ROUNDS || 3);
const LINES = 100_000;

async function round(gw, i) {
  const { context, page } = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: `burst ${i}` });
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  await page.waitForSelector('.run-view:not([hidden]) .conn[data-state="live"]');
  await page.evaluate(() => {
    const m = { tasks: [], frames: [], last: null };
    window.__bench = m;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) m.tasks.push(e.duration);
    }).observe({ type: 'longtask' });
    let prev = performance.now();
    const frame = (t) => {
      m.frames.push(t - prev);
      prev = t;
      // The line "100000" among the last few (markers follow it); old and new UIs alike.
      const lines = document.querySelector('.run-view:not([hidden]) .lines');
      let el = lines && lines.lastElementChild;
      for (let k = 0; el && k < 12; k++, el = el.previousElementSibling) {
        const text = (el.querySelector('.ln-x') || el).textContent;
        if (text === '100000') m.last = performance.now();
      }
      if (m.last === null) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    m.t0 = performance.now();
  });
  const runner = startRunner(gw, run, script(join(gw.dir, `seq-${i}`), `seq 1 ${LINES}\n`));
  await runner.done;
  // A UI that stopped following shows the last line only after its "New output" pill is pressed:
  // that counts as a stall, and the time includes the press.
  let stalled = false;
  try {
    await page.waitForFunction(() => window.__bench.last !== null, null, { timeout: 20000, polling: 200 });
  } catch {
    stalled = true;
    await page.click('.run-view:not([hidden]) .jump');
    await page.waitForFunction(() => window.__bench.last !== null, null, { timeout: 60000, polling: 200 });
  }
  const m = await page.evaluate(() => window.__bench);
  await context.close();
  const over = (xs, n) => xs.filter((x) => x > n).length;
  return {
    longestTask: Math.round(Math.max(0, ...m.tasks)),
    tasksOver100: over(m.tasks, 100),
    framesOver50: over(m.frames, 50),
    longestFrame: Math.round(Math.max(0, ...m.frames)),
    lastLineMs: Math.round(m.last - m.t0),
    stalled,
  };
}

const median = (xs) => (typeof xs[0] === 'boolean' ? xs.filter(Boolean).length : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

test(`a ${LINES.toLocaleString()}-line burst, watched live`, { timeout: 30 * 60e3 }, async (t) => {
  const dir = mkdtempSync(join(work, 'bench-'));
  const gw = await startGateway(dir);
  const results = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const r = await round(gw, i);
    results.push(r);
    t.diagnostic(`round ${i}: ${JSON.stringify(r)}`);
  }
  await stopGateway(gw);
  const keys = Object.keys(results[0]);
  t.diagnostic(`gateway: ${GATEWAY}`);
  t.diagnostic(`median of ${ROUNDS}: ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, median(results.map((r) => r[k]))])))}`);
});
