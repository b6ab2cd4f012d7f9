// What every browser test of the web UI shares: the real gateway and claude-runner binaries
// (built by `cargo build --workspace --bins`), fake Claude children, headless Debian Chromium
// driven by playwright-core, and helpers to sign in and feed runs. Screenshots go to
// tests/ui/ui-artifacts/ (not committed).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const BIN = join(ROOT, 'target', 'debug');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(HERE, 'ui-artifacts');
export const PASSWORD = 'ui-test-password-1';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The gateway binary: this checkout's, or another build's (the benchmark compares UIs). */
export const GATEWAY = process.env.GATEWAY_BIN || join(BIN, 'gateway');

for (const p of [CHROMIUM, GATEWAY, join(BIN, 'claude-runner')]) {
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: install Debian's chromium (apt-get install chromium) and build the binaries (cargo build --workspace --bins)`);
  }
}

export const work = mkdtempSync(join(tmpdir(), 'gateway-ui-'));
const children = new Set(); // gateways and runners still running, killed at the end whatever happened
export let browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

// ---------- processes ----------

/** Start the gateway (port 0 = any) and wait for its banner. */
export async function startGateway(dir, port = 0, env = {}) {
  const data = join(dir, 'data');
  const proc = spawn(GATEWAY, ['--listen', `127.0.0.1:${port}`, '--data-dir', data], {
    cwd: dir,
    env: { PATH: process.env.PATH, GATEWAY_ADMIN_PASSWORD: PASSWORD, GATEWAY_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const lines = createInterface({ input: proc.stdout });
  const url = await new Promise((ok, fail) => {
    let found = null;
    lines.on('line', (line) => {
      const m = line.match(/^gateway listening on (\S+)/);
      if (m) found = m[1];
      if (line.startsWith('start a runner') && found) ok(found);
    });
    proc.on('exit', (code) => fail(new Error(`gateway exited with ${code} before its banner`)));
  });
  return { proc, url, port: Number(new URL(url).port), dir, runnerEnv: join(data, 'runner.env') };
}

export async function stopGateway(gw) {
  const exited = new Promise((ok) => gw.proc.once('exit', ok));
  gw.proc.kill('SIGKILL');
  await exited;
}

export function script(path, body) {
  writeFileSync(path, `#!/bin/sh\n${body}`);
  chmodSync(path, 0o755);
  return path;
}

/** Run `claude-runner start` for an existing run; resolves with its exit code. `env` adds to
 *  (or overrides) the runner's environment. */
export function startRunner(gw, run, child, { prompt = 'say hi', args = [], env = {} } = {}) {
  const proc = spawn(
    join(BIN, 'claude-runner'),
    ['--env-file', gw.runnerEnv, 'start', '--run-id', run.run_id, '--token', run.token, '--cmd', prompt, '--quiet', ...args],
    { cwd: gw.dir, env: { PATH: process.env.PATH, HOME: gw.dir, CLAUDE_COMMAND: child, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((ok) =>
    proc.on('exit', (code) => {
      children.delete(proc);
      ok({ code, stderr });
    }),
  );
  return { proc, done, stderr: () => stderr };
}

/** The real, pinned Claude Code CLI against the fake Messages API (`tests/src/bin/fake_anthropic.rs`):
 *  `{cli, env}` for `startRunner`, or null (said loudly) when the CLI is not installed here. */
export async function realClaude(dir) {
  const cli = join(ROOT, 'tests', 'claude', 'node_modules', '.bin', 'claude');
  if (!existsSync(cli)) {
    console.error(`SKIPPED: the Claude Code CLI is not installed at ${cli} (npm ci --prefix tests/claude; tests/run does)`);
    return null;
  }
  const proc = spawn(join(BIN, 'fake_anthropic'), [join(dir, 'claude-home')], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const line = await new Promise((ok, fail) => {
    createInterface({ input: proc.stdout }).once('line', ok);
    proc.once('exit', (code) => fail(new Error(`fake_anthropic exited with ${code}`)));
  });
  const { cli: path, env } = JSON.parse(line);
  return { cli: path, env, stop: () => proc.stdin.end() };
}

/** The fake Claude Code CLI (fake-claude.mjs) behind a wrapper, with its own turn counter. */
export function fakeClaude(dir) {
  const state = mkdtempSync(join(dir, 'claude-state-'));
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  return script(join(state, 'claude'), `exec ${q(process.execPath)} ${q(join(HERE, 'fake-claude.mjs'))} ${q(state)} "$@"\n`);
}

/** A git repository with one committed file and an uncommitted change to it. */
export function gitRepo(dir) {
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  const git = (...a) =>
    new Promise((ok, fail) =>
      spawn('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', ...a], { cwd: repo, stdio: 'ignore' }).on('exit', (c) =>
        c === 0 ? ok() : fail(new Error(`git ${a.join(' ')}: ${c}`)),
      ),
    );
  return (async () => {
    await git('init', '-q');
    writeFileSync(join(repo, 'src', 'lib.rs'), 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len()]\n}\n');
    await git('add', '.');
    await git('commit', '-qm', 'start');
    writeFileSync(join(repo, 'src', 'lib.rs'), 'pub fn last(v: &[u8]) -> u8 {\n    v[v.len() - 1]\n}\n');
    return repo;
  })();
}

/** `POST /api/runs/:id/assist` as `claude-runner assist` sends it: signed with the run key (PROTOCOL.md §2). */
export async function postAssist(gw, run, body) {
  const secret = readFileSync(gw.runnerEnv, 'utf8').match(/^HMAC_SECRET=(.*)$/m)[1];
  const key = createHmac('sha256', secret).update(`run\n${run.run_id}\n${run.token}`).digest();
  const path = `/api/runs/${run.run_id}/assist`;
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(18).toString('base64url');
  const canonical = ['v1', 'POST', path, '', run.run_id, ts, nonce, createHash('sha256').update(raw).digest('hex')].join('\n');
  // The gateway's certificate is self-signed here: trust it for this one request only.
  const { status, text } = await new Promise((ok, fail) => {
    const req = httpsRequest(`${gw.url}${path}`, {
      method: 'POST',
      rejectUnauthorized: false,
      headers: {
        'content-type': 'application/json',
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
  assert.equal(status, 202, text);
}

// ---------- browser helpers ----------

/** A fresh browser context. Dialogs are refused and count as problems, unless `confirm`: then
 *  confirmations are accepted and listed in `problems.confirmed`. */
export async function newPage(options = {}, { confirm = false } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  const page = await context.newPage();
  const problems = { dialogs: [], errors: [] };
  if (confirm) problems.confirmed = [];
  page.on('dialog', (d) => {
    if (confirm && d.type() === 'confirm') {
      problems.confirmed.push(d.message());
      return d.accept();
    }
    problems.dialogs.push(d.message());
    d.dismiss();
  });
  page.on('pageerror', (e) => problems.errors.push(String(e)));
  // A script or style the Content-Security-Policy refused is a defect too.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) problems.errors.push(m.text());
  });
  return { context, page, problems };
}

export async function signIn(page, url) {
  await page.goto(url);
  await page.fill('#password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#shell:not([hidden])');
}

/** Create a run from inside the signed-in page (same-origin fetch with the CSRF token). */
export async function createRunInPage(page, body) {
  return page.evaluate(async (body) => {
    const { csrf } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    return r.json();
  }, body);
}

export const lineTexts = (page, sel = '.run-view:not([hidden]) .ln.k-stdout .ln-x') => page.$$eval(sel, (els) => els.map((e) => e.textContent));


/** Wait until a terminal line of the shown run (`kind`: its class, e.g. `k-marker`) reads as
 *  `pattern` (a RegExp source, matched against the line's text without its number). */
export function waitForLine(page, pattern, kind = 'ln', timeout = 30000) {
  return page.waitForFunction(
    ([p, k]) => [...document.querySelectorAll(`.run-view:not([hidden]) .ln.${k} .ln-x`)].some((x) => new RegExp(p).test(x.textContent)),
    [pattern, kind],
    { timeout },
  );
}
