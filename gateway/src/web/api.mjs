// The gateway's JSON API as the page uses it: the session cookie plus the CSRF token on every
// state-changing request, errors as ApiError with the gateway's message.

let csrf = '';
let onSignedOut = () => {};

export function setCsrf(token) {
  csrf = token || '';
}

/** Called when a request answers 401 (the session ended): the login shows. */
export function whenSignedOut(f) {
  onSignedOut = f;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  let data = null;
  if (r.status !== 204) {
    const text = await r.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
  }
  if (!r.ok) {
    if (r.status === 401 && !path.startsWith('/api/session')) onSignedOut();
    throw new ApiError(r.status, data);
  }
  return data;
}

/** `/api/runs/<id>` with the id encoded. */
export const runPath = (id, rest = '') => `/api/runs/${encodeURIComponent(id)}${rest}`;

/** Queue a command for a run; resolves with the stored command `{id, kind, …}`. */
export function sendCommand(id, body) {
  return api('POST', runPath(id, '/commands'), body);
}

let allowlist = null;

/** The runner's built-in `exec` allowlist, offered as suggestions (the runner decides). */
export function builtinAllowlist() {
  if (!allowlist) {
    allowlist = fetch('/assets/allowlist.txt')
      .then((r) => (r.ok ? r.text() : ''))
      .then((t) => t.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  return allowlist;
}

let retentionPolicy = null;

/** How long ended runs are kept (`GET /api/retention`), asked once per page. */
export function retention() {
  if (!retentionPolicy) retentionPolicy = api('GET', '/api/retention').catch(() => ((retentionPolicy = null), null));
  return retentionPolicy;
}

/** Pin (`true`) or unpin a run; resolves with the run. */
export function setPinned(id, pinned) {
  return api(pinned ? 'PUT' : 'DELETE', runPath(id, '/pin'));
}
