// The Agents page: every enrolled agent (online or offline, labels, runs in progress over
// capacity, version, last seen), drain and revoke, and a one-time enrollment token with the
// command that uses it. Everything shown from an agent is text (textContent), never HTML.

import { api } from './api.mjs';
import { $, button, copyText, el } from './dom.mjs';
import { fmtAgo } from './format.mjs';

/** Online agents (not revoked, not draining): the New run dialog offers them. */
export async function onlineAgents() {
  const agents = await api('GET', '/api/agents');
  return agents.filter((a) => a.online && !a.revoked && !a.draining && !a.drain_requested);
}

function state(a) {
  if (a.revoked) return ['revoked', 's-stopped'];
  if (!a.online) return ['offline', 's-failed'];
  if (a.draining || a.drain_requested) return ['draining', 's-pending'];
  return ['online', 's-running'];
}

export class AgentsPage {
  constructor() {
    this.body = $('agents-body');
    this.timer = null;
    $('agents-enroll').addEventListener('click', () => this.enroll());
    $('agents-enroll-copy').addEventListener('click', async () => {
      await copyText($('agents-enroll-command').textContent, $('agents-enroll-command'));
    });
  }

  show() {
    $('agents-view').hidden = false;
    $('agents-title').focus();
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), 3000);
  }

  hide() {
    $('agents-view').hidden = true;
    clearInterval(this.timer);
    this.timer = null;
    // A token is shown once: gone when the page is left.
    $('agents-enroll-done').hidden = true;
    $('agents-enroll-command').textContent = '';
  }

  async refresh() {
    let agents;
    try {
      agents = await api('GET', '/api/agents');
    } catch (e) {
      $('agents-error').textContent = `Could not load the agents: ${e.message}`;
      return;
    }
    $('agents-error').textContent = '';
    this.body.replaceChildren();
    if (!agents.length) {
      const row = el('tr');
      const td = el('td', 'muted', 'No agent has enrolled yet.');
      td.colSpan = 7;
      row.append(td);
      this.body.append(row);
      return;
    }
    for (const a of agents) this.body.append(this.row(a));
  }

  row(a) {
    const tr = el('tr', 'agent-row');
    tr.dataset.agent = a.name;
    const [word, cls] = state(a);
    const name = el('td', 'agent-name', a.name);
    const status = el('td');
    status.append(el('span', `badge ${cls} agent-state`, word));
    const labels = el('td', 'agent-labels');
    for (const [k, v] of Object.entries(a.labels || {})) labels.append(el('span', 'chip', `${k}=${v}`));
    const load = el('td', 'agent-load', `${a.running} / ${a.capacity}`);
    const version = el('td', 'muted', a.version || '');
    const seen = el('td', 'muted', fmtAgo(a.last_seen));
    const actions = el('td', 'agent-actions');
    if (!a.revoked) {
      const draining = a.drain_requested;
      actions.append(
        button('ghost', draining ? 'Undrain' : 'Drain', async () => {
          await api('POST', `/api/agents/${encodeURIComponent(a.id)}/drain`, { drain: !draining });
          this.refresh();
        }),
        button('ghost danger', 'Revoke', async () => {
          if (!confirm(`Revoke agent ${a.name}? Its next request is refused.`)) return;
          await api('POST', `/api/agents/${encodeURIComponent(a.id)}/revoke`);
          this.refresh();
        }),
      );
    }
    tr.append(name, status, labels, load, version, seen, actions);
    return tr;
  }

  async enroll() {
    try {
      const t = await api('POST', '/api/agents/enrollments');
      $('agents-enroll-command').textContent = `claude-runner --env-file agent.env agent --enroll-token ${t.token} --name <name>`;
      $('agents-enroll-done').hidden = false;
    } catch (e) {
      $('agents-error').textContent = `Could not make a token: ${e.message}`;
    }
  }
}
