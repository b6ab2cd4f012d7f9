// Browser tests of logs at any size and of accessibility: #L links, timestamps, jumps, search
// over the whole run on the gateway, \r progress bars, the
// pill; an axe-core audit with no serious violations, focus, ARIA tabs, 44 px touch targets,
// non-Claude runs without Claude totals, ticking durations, the viewer stripping ANSI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SHOTS, work, startGateway, stopGateway, script, startRunner, newPage, signIn, createRunInPage, waitForLine } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now. */
async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

test('a 100,000-line run: #L links, timestamps, jump to start and end, search hit to hit', { timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(work, 'logs-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'a long build log' });
  const { code } = await startRunner(gw, run, script(join(dir, 'seq'), 'seq 1 100000\nprintf "  10%%\\r  50%%\\r 100%% done\\n"\n')).done;
  assert.equal(code, 0);
  const view = '.run-view:not([hidden])';

  // A link to a line opens the run scrolled there, the line marked.
  await page.goto(`${gw.url}/runs/${run.run_id}#L1234`);
  await page.waitForSelector(`${view} .ln.target[data-seq="1234"]`);
  const inView = await page.$eval(`${view} .ln.target`, (e) => {
    const r = e.getBoundingClientRect();
    const t = e.closest('.term').getBoundingClientRect();
    return r.top >= t.top && r.bottom <= t.bottom;
  });
  assert.ok(inView, 'the linked line is on screen');
  const offset = 1234 - Number(await page.textContent(`${view} .ln.target .ln-x`));
  // Clicking a line number links it.
  await page.click(`${view} .ln[data-seq="1240"] .ln-n`);
  assert.equal(new URL(page.url()).hash, '#L1240');
  await page.waitForSelector(`${view} .ln.target[data-seq="1240"]`);
  // Timestamps on demand.
  await page.click(`${view} button.toggle:text-is("Timestamps")`);
  const stamp = await page.$eval(`${view} .ln[data-seq="1240"]`, (e) => getComputedStyle(e, '::before').content);
  assert.match(stamp, /^"\d\d:\d\d:\d\d\.\d{3}"$/);
  await page.click(`${view} button.toggle:text-is("Timestamps")`);
  // Jump to the start and to the end.
  await page.click(`${view} button:text-is("⇤ Start")`);
  await page.waitForSelector(`${view} .ln[data-seq="1"]`);
  await page.click(`${view} button:text-is("End ⇥")`);
  await waitForLine(page, '^ 100% done$', 'k-stdout');
  assert.ok((await page.$$eval(`${view} .ln`, (e) => e.length)) <= 2000);

  // Search over the whole run on the gateway: "4242" is on 20 of the 100,000 lines, the first
  // far above the loaded window; hit to hit, each opened where it is, the match marked.
  const asked = [];
  page.on('request', (r) => {
    if (r.url().includes('/search?')) asked.push(Object.fromEntries(new URL(r.url()).searchParams));
  });
  await page.fill(`${view} .log-search input`, '4242');
  await page.press(`${view} .log-search input`, 'Enter');
  await page.waitForSelector(`${view} .log-search .hits:text-is("1 of 20")`);
  assert.deepEqual(asked[0], { q: '4242', after: '0', limit: '200' });
  await page.waitForSelector(`${view} .ln.hit-current[data-seq="${4242 + offset}"] mark.m`);
  assert.equal(await page.textContent(`${view} .ln.hit-current mark.m`), '4242');
  await page.click(`${view} .log-search button[aria-label="Next match"]`);
  await page.waitForSelector(`${view} .ln.hit-current[data-seq="${14242 + offset}"] mark.m`);
  assert.equal(await page.textContent(`${view} .log-search .hits`), '2 of 20');
  for (let i = 0; i < 4; i++) await page.click(`${view} .log-search button[aria-label="Next match"]`);
  await page.waitForSelector(`${view} .ln.hit-current[data-seq="${42421 + offset}"] mark.m`);
  assert.equal(await page.textContent(`${view} .log-search .hits`), '6 of 20');
  // Shift+Enter goes back.
  await page.press(`${view} .log-search input`, 'Shift+Enter');
  await page.waitForSelector(`${view} .ln.hit-current[data-seq="${42420 + offset}"]`);
  // A link to the hit's line: the address names it, and opening it shows it.
  await page.click(`${view} .ln.hit-current .ln-n`);
  assert.equal(new URL(page.url()).hash, `#L${42420 + offset}`);
  await page.screenshot({ path: join(SHOTS, 'long-run-search.png') });
  // The runs list searches every run's output too: the hit names its line, and opens there.
  await page.click('.tab[data-tab="runs"]');
  await page.fill('#search', '77777');
  await page.waitForSelector('.run-row .snippet:text-is("output: 77777")');
  assert.match(await page.getAttribute('.run-row', 'href'), new RegExp(`/runs/${run.run_id}#L${77777 + offset}$`));
  await page.click('.run-row');
  await page.waitForSelector(`${view} .ln.target[data-seq="${77777 + offset}"]`);
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(phone.page, `${gw.url}/runs/${run.run_id}#L${42420 + offset}`);
  await phone.page.waitForSelector(`${view} .ln.target`);
  assert.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth - innerWidth), 0);
  await phone.page.screenshot({ path: join(SHOTS, 'phone-long-run.png') });
  await phone.page.fill(`${view} .log-search input`, '4242');
  await phone.page.press(`${view} .log-search input`, 'Enter');
  await phone.page.waitForSelector(`${view} .log-search .hits:text-is("1 of 20")`);
  await phone.page.waitForSelector(`${view} .ln.hit-current[data-seq="${4242 + offset}"] mark.m`);
  assert.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth - innerWidth), 0);
  await phone.page.screenshot({ path: join(SHOTS, 'phone-long-run-search.png') });
  await phone.context.close();
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('a \\r progress bar shows its current state while it runs, on one line', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'bar-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 700 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'progress' });
  const [go1, go2] = [join(dir, 'go1'), join(dir, 'go2')];
  const wait = (f) => `while [ ! -e ${f} ]; do sleep 0.02; done\n`;
  const runner = startRunner(gw, run, script(join(dir, 'bar'), `echo fetching\nprintf 'bar 10%%\\r'\n${wait(go1)}printf 'bar 50%%\\r'\n${wait(go2)}printf 'bar 100%% done\\n'\n`));
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = '.run-view:not([hidden])';
  /** The texts of the stdout lines on screen. */
  const shown = () => page.$$eval(`${view} .ln.k-stdout:not(.ln-over) .ln-x`, (xs) => xs.map((x) => x.textContent));
  const until = async (want) => {
    await page.waitForFunction(
      ([sel, w]) => JSON.stringify([...document.querySelectorAll(sel)].map((x) => x.textContent)) === JSON.stringify(w),
      [`${view} .ln.k-stdout:not(.ln-over) .ln-x`, want],
    );
  };
  await until(['fetching', 'bar 10%']);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(go1, '');
  await until(['fetching', 'bar 50%']);
  writeFileSync(go2, '');
  await until(['fetching', 'bar 100% done']);
  assert.equal((await runner.done).code, 0);
  // Opened afresh from the store, the same.
  await page.reload();
  await until(['fetching', 'bar 100% done']);
  assert.deepEqual(await shown(), ['fetching', 'bar 100% done']);
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('following live output: no pill at the bottom; away from it, the pill counts only new lines', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(work, 'pill-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 700 } });
  await signIn(page, gw.url);
  const run = await createRunInPage(page, { name: 'slow' });
  const go = join(dir, 'go');
  const runner = startRunner(gw, run, script(join(dir, 'slow'), `seq 1 300\nwhile [ ! -e ${go} ]; do sleep 0.02; done\ni=1; while [ $i -le 40 ]; do echo "late $i"; i=$((i+1)); sleep 0.02; done\n`));
  await page.goto(`${gw.url}/runs/${run.run_id}`);
  const view = '.run-view:not([hidden])';
  await waitForLine(page, '^300$', 'k-stdout');
  // Watch the pill while output streams in at the bottom: it never shows.
  await page.evaluate(() => {
    window.__pillSeen = false;
    const pill = document.querySelector('.run-view:not([hidden]) .jump');
    new MutationObserver(() => (window.__pillSeen ||= !pill.hidden)).observe(pill, { attributes: true });
  });
  (await import('node:fs')).writeFileSync(go, '');
  await waitForLine(page, '^late 20$', 'k-stdout');
  assert.equal(await page.evaluate(() => window.__pillSeen), false, 'no pill while following');
  // Scroll up: the pill appears and counts only the lines that came since.
  await page.$eval(`${view} .term`, (t) => (t.scrollTop = 0));
  await page.waitForSelector(`${view} .jump:not([hidden])`);
  await runner.done;
  await waitForLine(page, '^finished', 'k-marker').catch(() => {});
  const pill = await page.textContent(`${view} .jump`);
  const n = Number((pill.match(/\((\d+)\)/) || [0, 0])[1]);
  assert.ok(n > 0 && n < 40, `counts only new lines: ${pill}`);
  await page.click(`${view} .jump`);
  await page.waitForSelector(`${view} .jump[hidden]`, { state: 'attached' });
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});

test('accessible: axe finds nothing serious; focus, ARIA tabs, touch targets, totals, durations, viewer', { timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(work, 'a11y-'));
  const gw = await startGateway(dir);
  const { context, page, problems } = await newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(gw.url);
  await page.waitForSelector('#login:not([hidden])');
  assert.deepEqual(await audit(page), [], 'sign-in page');
  await signIn(page, gw.url);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search', 'focus moves to the runs list after sign-in');

  // A plain (non-Claude) run that is still running: no Claude totals, a ticking duration.
  const run = await createRunInPage(page, { name: 'plain build', cwd: dir });
  const go = join(dir, 'go');
  const runner = startRunner(gw, run, script(join(dir, 'plain'), `printf '\\033[1;31mred\\033[0m plain\\n'\nwhile [ ! -e ${go} ]; do sleep 0.05; done\n`));
  await page.waitForSelector(`.run-row[data-id="${run.run_id}"] .badge.s-running`);
  assert.deepEqual(await audit(page), [], 'runs list');
  await page.click(`.run-row[data-id="${run.run_id}"]`);
  const view = `.run-view[data-run="${run.run_id}"]`;
  await waitForLine(page, '^red plain$', 'k-stdout');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'run-title', 'focus moves to the run');
  assert.equal(await page.$(`${view} .m-cost, ${view} .m-turns, ${view} .m-tokens`), null, 'no empty Claude totals');
  assert.equal(await page.isVisible(`${view} .pane-tab[data-pane="transcript"]`), false);
  const before = await page.textContent(`${view} .m-duration dd`);
  await page.waitForFunction(([sel, b]) => document.querySelector(sel).textContent !== b, [`${view} .m-duration dd`, before]);
  // ARIA tabs: a tablist of tabs controlling panels, arrow keys move between them.
  const tab = await page.$eval(`${view} .pane-tab[data-pane="terminal"]`, (t) => [t.getAttribute('role'), t.getAttribute('aria-selected'), document.getElementById(t.getAttribute('aria-controls')).getAttribute('role')]);
  assert.deepEqual(tab, ['tab', 'true', 'tabpanel']);
  await page.waitForSelector(`${view} .pane-tab[data-pane="files"]:not([hidden])`);
  await page.focus(`${view} .pane-tab[data-pane="terminal"]`);
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await page.evaluate(() => [document.activeElement.dataset.pane, document.activeElement.getAttribute('aria-selected')]), ['files', 'true']);
  await page.waitForSelector(`${view} .files-pane`); // its module loads on first use
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.pane), 'terminal');
  assert.deepEqual(await audit(page), [], 'run view');
  // Visible focus on the orange button: a ring that is not the button's own colour.
  await page.focus('#new-run-open');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const ring = await page.$eval('#new-run-open', (b) => [getComputedStyle(b).outlineStyle, getComputedStyle(b).outlineColor, getComputedStyle(b).backgroundColor]);
  assert.equal(ring[0], 'solid');
  assert.notEqual(ring[1], ring[2], 'the focus ring differs from the button');

  // The artifact viewer strips ANSI like the terminal.
  (await import('node:fs')).writeFileSync(go, '');
  await runner.done;
  await page.click(`${view} .artifacts button[data-artifact="claude.log"]`, { timeout: 20000 });
  await page.waitForSelector('#viewer-body:has-text("red plain")');
  assert.ok(!(await page.textContent('#viewer-body')).includes('\x1b'), 'no escape in the viewer');
  assert.deepEqual(await audit(page), [], 'artifact viewer');
  await page.click('#viewer-close');
  // Finished, the plain run still shows no Claude totals, here or in the list.
  await page.waitForSelector(`${view} .run-head .badge.s-finished`);
  assert.equal(await page.$(`${view} .m-cost, ${view} .m-turns, ${view} .m-tokens`), null, 'no empty Claude totals once finished');
  assert.equal(await page.isVisible(`${view} .pane-tab[data-pane="transcript"]`), false);
  assert.equal(await page.isVisible(`${view} .tx-totals`), false);
  await page.click('button.tab[data-tab="runs"]');
  assert.equal(await page.textContent(`.run-row[data-id="${run.run_id}"] .c-cost`), '—');

  // On a phone every control is at least 44 px high and the commands are reachable.
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(phone.page, gw.url);
  const live = await createRunInPage(phone.page, { name: 'phone run', cwd: dir });
  const go2 = join(dir, 'go2');
  const r2 = startRunner(gw, live, script(join(dir, 'wait'), `echo waiting\nwhile [ ! -e ${go2} ]; do sleep 0.05; done\n`));
  await phone.page.goto(`${gw.url}/runs/${live.run_id}`);
  await phone.page.waitForSelector(`.run-view[data-run="${live.run_id}"] .chip:text-is("git status")`);
  const small = await phone.page.$$eval('button, a.button, select, input:not([type="checkbox"]), .pane-tab', (els) =>
    els.filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 44).map((e) => `${e.tagName}.${e.className} ${e.textContent.slice(0, 20)}`),
  );
  assert.deepEqual(small, [], 'touch targets under 44 px');
  // Judged once layout has settled (a busy machine can be caught between the chip's arrival
  // and the next layout): the condition must hold within 5 s, not at one instant.
  const chip = await phone.page
    .waitForFunction((sel) => {
      const e = document.querySelector(sel);
      if (!e) return false;
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.left >= 0 && r.top >= 0 && r.bottom <= innerHeight;
    }, `.run-view[data-run="${live.run_id}"] .chip`, { timeout: 5000 })
    .then(() => true, () => false);
  assert.ok(chip, 'a command button is on screen');
  assert.deepEqual(await audit(phone.page), [], 'run view on a phone');
  (await import('node:fs')).writeFileSync(go2, '');
  await r2.done;
  await phone.context.close();
  assert.deepEqual(problems, { dialogs: [], errors: [] });
  await context.close();
  await stopGateway(gw);
});
