// A run's waiting permission requests as cards on its header: what Claude wants to run (the
// Bash command and its directory, the diff of an edit, or the tool's input), and Allow, Allow
// for this run, Deny with a message for Claude. On a desktop: A, R and D (then Enter) decide
// the oldest request while no text field has focus. The requests are the run's
// `claude.pending_requests`; their details come from the transcript's `permission_request`
// entries. Everything shown is text.

import { api, runPath } from './api.mjs';
import { button, el } from './dom.mjs';
import { clip } from './format.mjs';

/** The pending request ids of a run summary (pure). */
export function pendingRequests(run) {
  const c = run && run.status === 'running' && run.claude;
  return c && Array.isArray(c.pending_requests) ? c.pending_requests : [];
}

export class ApprovalCards {
  constructor(runId) {
    this.id = runId;
    this.root = el('section', 'approvals');
    this.root.setAttribute('aria-label', 'Waiting for your approval');
    this.root.hidden = true;
    this.shown = ''; // the pending ids drawn, joined
    this.details = new Map(); // request id → permission_request marker
    this.busy = false;
  }

  /** Draw the run's waiting requests (a no-op when they did not change). */
  async update(run) {
    const ids = pendingRequests(run);
    const key = ids.join(',');
    if (key === this.shown) return;
    this.shown = key;
    if (ids.some((id) => !this.details.has(id))) await this.load();
    if (this.shown !== key) return; // changed meanwhile: that update draws
    this.draw(ids);
  }

  async load() {
    try {
      const t = await api('GET', runPath(this.id, '/transcript'));
      for (const e of t.entries || []) {
        if (e.kind === 'permission_request' && e.permission && e.permission.requestId) this.details.set(e.permission.requestId, e.permission);
      }
    } catch {
      // drawn with what is known; the next update tries again
    }
  }

  draw(ids) {
    this.root.replaceChildren(...ids.map((id) => this.card(id, this.details.get(id) || { requestId: id })));
    this.root.hidden = ids.length === 0;
  }

  card(id, p) {
    const card = el('article', 'approval');
    card.dataset.request = id;
    const tool = String(p.tool || 'a tool');
    const head = el('header', 'approval-head');
    head.append(el('strong', '', `Claude wants to use ${tool}`));
    if (p.expiresAt) {
      const left = Math.max(0, Math.round((p.expiresAt - Date.now()) / 60000));
      head.append(el('span', 'muted', `denied in about ${left} min without an answer`));
    }
    card.append(head);
    if (typeof p.command === 'string') {
      card.append(el('pre', 'approval-command', p.command));
      if (p.cwd) card.append(el('p', 'muted mono approval-cwd', `in ${p.cwd}`));
    } else if (typeof p.diff === 'string') {
      const pre = el('pre', 'approval-diff');
      for (const line of p.diff.split('\n')) {
        const cls = line.startsWith('+') && !line.startsWith('+++') ? 'd-add' : line.startsWith('-') && !line.startsWith('---') ? 'd-del' : '';
        pre.append(el('span', cls, `${line}\n`));
      }
      card.append(pre);
      if (p.diffNote) card.append(el('p', 'muted', p.diffNote));
    } else if (p.input !== undefined) {
      card.append(el('pre', 'approval-command', clip(JSON.stringify(p.input, null, 1), 4000)));
    }
    const message = el('textarea', 'approval-message');
    message.rows = 2;
    message.placeholder = 'Why not? (Claude reads this)';
    message.setAttribute('aria-label', `Message for Claude if you deny ${tool}`);
    message.hidden = true;
    const status = el('p', 'approval-status');
    status.setAttribute('role', 'status');
    const send = async (decision, body = {}) => {
      if (this.busy) return;
      this.busy = true;
      for (const b of card.querySelectorAll('button')) b.disabled = true;
      try {
        await api('POST', runPath(this.id, `/permissions/${encodeURIComponent(id)}`), { decision, ...body });
        status.textContent = decision === 'deny' ? 'Denied: Claude is told.' : decision === 'allow_run' ? 'Allowed for the rest of this run.' : 'Allowed once.';
        card.classList.add('decided');
      } catch (e) {
        status.textContent = `Not sent: ${e.message}`;
        for (const b of card.querySelectorAll('button')) b.disabled = false;
      } finally {
        this.busy = false;
      }
    };
    const deny = button('ghost danger', 'Deny', () => {
      if (message.hidden) {
        message.hidden = false;
        deny.textContent = 'Send denial';
        message.focus();
        return;
      }
      const text = message.value.trim();
      send('deny', text ? { message: text } : {});
    });
    message.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) {
        ev.preventDefault();
        deny.click();
      }
    });
    const actions = el('div', 'approval-actions');
    const allow = button('primary', 'Allow', () => send('allow'));
    const allowRun = button('ghost', 'Allow for this run', () => send('allow_run'));
    allow.dataset.key = 'a';
    allowRun.dataset.key = 'r';
    deny.dataset.key = 'd';
    for (const b of [allow, allowRun, deny]) b.title = `Shortcut: ${b.dataset.key.toUpperCase()}`;
    actions.append(allow, allowRun, deny);
    card.append(message, actions, status);
    card.append(el('p', 'hint keys', 'Keys: A allow · R allow for this run · D deny'));
    return card;
  }

  /** A, R or D pressed on the run's page outside a text field: the oldest card's button. */
  key(ev) {
    if (this.root.hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return false;
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return false;
    const k = ev.key.toLowerCase();
    const first = this.root.querySelector('.approval:not(.decided)');
    const b = first && first.querySelector(`button[data-key="${k}"]`);
    if (!b || b.disabled) return false;
    ev.preventDefault();
    b.click();
    return true;
  }
}
