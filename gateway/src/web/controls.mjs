// A running run's controls: an allowlisted command (typed, or one of the quick buttons), Stop,
// and for a Claude session Interrupt and End session; and the follow-up prompt box with recall
// of earlier prompts. Feedback names the command ("git status sent"), never its id.

import { builtinAllowlist, sendCommand } from './api.mjs';
import { button, el } from './dom.mjs';
import { TERMINAL } from './format.mjs';
import { describeCommand } from './lines.mjs';
import { can } from './me.mjs';

const QUICK = ['git status', 'git diff', 'cargo test', 'npm test'];

export class Controls {
  constructor(view) {
    this.view = view;
    this.root = el('div', 'run-controls');
    this.status = el('span', 'cmd-status');
    this.status.setAttribute('role', 'status');
    this.sessionBox = null;
  }

  /** Tell the reader (the header's status line, read out by screen readers). */
  say(text) {
    this.status.textContent = text;
    clearTimeout(this.sayTimer);
    this.sayTimer = setTimeout(() => (this.status.textContent = ''), 8000);
  }

  setSession(on) {
    if (this.sessionBox) this.sessionBox.hidden = !on;
  }

  async render() {
    const run = this.view.run;
    const running = run && !TERMINAL.has(run.status);
    this.root.replaceChildren();
    this.sessionBox = null;
    // A viewer reads runs; commands, Stop and prompts are an operator's.
    if (!running || !can('operator')) return;
    const form = el('form', 'exec');
    const input = el('input', 'mono');
    input.name = 'command';
    input.placeholder = 'allowlisted command, e.g. git status';
    input.setAttribute('aria-label', 'Command to run');
    input.setAttribute('list', `allow-${this.view.id}`);
    const list = el('datalist');
    list.id = `allow-${this.view.id}`;
    const send = el('button', 'ghost', 'Run');
    send.type = 'submit';
    form.append(input, list, send);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const command = input.value.trim();
      if (command) this.command({ kind: 'exec', command }, send).then((ok) => ok && (input.value = ''));
    });
    const quick = el('div', 'quick');
    quick.setAttribute('role', 'group');
    quick.setAttribute('aria-label', 'Quick commands');
    const session = el('span', 'session-controls');
    const interrupt = button('', 'Interrupt', async () => {
      if (await this.command({ kind: 'interrupt' }, interrupt)) this.view.note('Interrupt sent: the current turn ends.');
    });
    interrupt.title = 'End the current turn (SIGINT); the session goes on';
    const end = button('', 'End session', async () => {
      if (!confirm(`End the Claude session of "${(run && run.name) || this.view.id}"? The current turn is interrupted and queued prompts are dropped.`)) return;
      if (await this.command({ kind: 'end_session' }, end)) end.textContent = 'Ending…';
    });
    end.title = 'Interrupt the turn, drop queued prompts and end the session';
    session.append(interrupt, end);
    this.sessionBox = session;
    const stop = button('danger', 'Stop', async () => {
      if (!confirm(`Stop "${(this.view.run && this.view.run.name) || this.view.id}"? Claude gets SIGINT, then SIGKILL after 10 s.`)) return;
      if (await this.command({ kind: 'stop' }, stop)) stop.textContent = 'Stopping…';
    });
    // On a phone the quick commands and the session buttons scroll sideways in one row.
    const row = el('div', 'cmd-row');
    row.append(quick, session);
    this.root.append(form, row, stop, this.status);
    this.view.updateSession();
    const cmds = await builtinAllowlist();
    for (const c of cmds) list.append(Object.assign(el('option'), { value: c }));
    for (const c of QUICK.filter((c) => cmds.includes(c))) {
      const b = button('chip mono', c, () => this.command({ kind: 'exec', command: c }, b));
      quick.append(b);
    }
  }

  /** Send a command; the feedback names it. Resolves true if the gateway queued it. */
  async command(body, control) {
    const what = describeCommand(body);
    control.disabled = true;
    try {
      const stored = await sendCommand(this.view.id, body);
      this.view.ctx.names.sent({ ...body, ...stored });
      if (body.kind === 'exec') this.view.note(`${what}: sent to the runner`);
      return true;
    } catch (e) {
      this.view.note(`Could not send ${what}: ${e.message}`);
      return false;
    } finally {
      control.disabled = false;
    }
  }
}

export class PromptBox {
  constructor(view) {
    this.view = view;
    const form = el('form', 'prompt-box');
    form.hidden = true;
    const ta = el('textarea', '');
    ta.rows = 1;
    ta.maxLength = 32768;
    ta.placeholder = matchMedia('(max-width: 700px)').matches
      ? 'Follow-up prompt'
      : 'Follow-up prompt: Enter sends, Shift+Enter adds a line, ↑ recalls earlier prompts';
    ta.setAttribute('aria-label', 'Follow-up prompt');
    const send = el('button', 'primary', 'Send');
    send.type = 'submit';
    // The model and permission mode for this prompt and the turns after it, as at the terminal;
    // the runner admits only what its ceilings allow (else an error event says so).
    const options = el('details', 'prompt-options');
    options.append(el('summary', '', 'Model and permissions'));
    const model = el('input', 'mono');
    model.placeholder = 'model: unchanged';
    model.maxLength = 128;
    model.setAttribute('aria-label', 'Model for the next turns');
    model.setAttribute('list', `models-${view.id}`);
    const models = el('datalist');
    models.id = `models-${view.id}`;
    for (const m of ['sonnet', 'opus', 'haiku']) {
      const o = el('option');
      o.value = m;
      models.append(o);
    }
    const mode = el('select');
    mode.setAttribute('aria-label', 'Permission mode for the next turns');
    for (const [v, t] of [['', 'permissions: unchanged'], ['default', 'default (ask)'], ['acceptEdits', 'acceptEdits'], ['plan', 'plan'], ['bypassPermissions', 'bypassPermissions']]) {
      const o = el('option', '', t);
      o.value = v;
      mode.append(o);
    }
    options.append(model, models, mode);
    form.append(ta, send, options);
    this.sent = []; // prompts sent from this page, until the transcript shows them
    this.recall = -1; // index into history() while recalling, -1 for the draft
    this.draft = '';
    const fit = () => {
      ta.style.height = 'auto';
      ta.style.height = `${Math.min(ta.scrollHeight + 2, 220)}px`;
    };
    ta.addEventListener('input', () => {
      this.recall = -1;
      fit();
    });
    ta.addEventListener('focus', () => {
      if (view.txDirty && !view.txLoaded) view.fetchTranscript();
    });
    ta.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      } else if (ev.key === 'ArrowUp' && !ta.value.slice(0, ta.selectionStart).includes('\n')) {
        const h = this.history();
        const i = this.recall < 0 ? h.length - 1 : this.recall - 1;
        if (i < 0 || !h.length) return;
        if (this.recall < 0) this.draft = ta.value;
        ev.preventDefault();
        this.recall = i;
        ta.value = h[i];
        fit();
        ta.setSelectionRange(0, 0);
      } else if (ev.key === 'ArrowDown' && this.recall >= 0 && !ta.value.slice(ta.selectionEnd).includes('\n')) {
        ev.preventDefault();
        const h = this.history();
        this.recall = this.recall + 1 < h.length ? this.recall + 1 : -1;
        ta.value = this.recall < 0 ? this.draft : h[this.recall];
        fit();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const prompt = ta.value;
      if (!prompt.trim()) return;
      const body = { kind: 'prompt', prompt };
      if (model.value.trim()) body.model = model.value.trim();
      if (mode.value) body.permission_mode = mode.value;
      if (await view.controls.command(body, send)) {
        this.sent.push(prompt);
        this.recall = -1;
        this.draft = '';
        ta.value = '';
        fit();
        view.note('Prompt queued: it runs as the next turn.');
      }
    });
    this.input = ta;
    this.root = form;
  }

  /** This run's earlier prompts, oldest first: the transcript's, then those sent since. */
  history() {
    const known = this.view.knownPrompts();
    const pending = this.sent.filter((p) => !known.includes(p));
    return [...known, ...pending];
  }
}
