// API tokens on the Account page: make one (its secret is shown this once, with a Copy button),
// list one's own (an admin: everyone's), revoke one. The scopes offered are those the person's
// role allows; the gateway refuses wider ones anyway. Everything shown is set as text.

import { api } from './api.mjs';
import { $, button, copyText, el } from './dom.mjs';
import { expiresAt, fmtAgo, fmtStamp, tokenState } from './format.mjs';
import { can } from './me.mjs';

function offerScopes() {
  for (const label of $('token-scopes').querySelectorAll('label[data-needs]')) {
    const allowed = can(label.dataset.needs);
    label.hidden = !allowed;
    if (!allowed) label.querySelector('input').checked = false;
  }
}

/** Fill the list of tokens. */
export async function renderTokens() {
  offerScopes();
  const err = $('token-error');
  try {
    const tokens = await api('GET', '/api/tokens');
    const rows = document.createDocumentFragment();
    for (const t of tokens.slice().reverse()) {
      const row = el('tr');
      row.dataset.token = t.id;
      const state = tokenState(t);
      const act = el('td');
      if (state === 'active') {
        const revoke = button('danger', 'Revoke', async () => {
          err.textContent = '';
          try {
            await api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
          } catch (e) {
            err.textContent = `Could not revoke ${t.name}: ${e.message}`;
          }
          renderTokens();
        });
        revoke.setAttribute('aria-label', `Revoke ${t.name}`);
        act.append(revoke);
      }
      row.append(
        el('td', '', t.name),
        el('td', '', t.person_name || t.person_id),
        el('td', 'mono', t.scopes.join(' ')),
        el('td', 'muted', fmtStamp(t.created_at)),
        el('td', 'muted', t.expires_at ? fmtStamp(t.expires_at) : 'never'),
        el('td', 'muted', t.first_used_at ? fmtAgo(t.first_used_at) : 'not yet'),
        el('td', state === 'active' ? 'muted' : 'bad', state),
        act,
      );
      rows.append(row);
    }
    $('tokens-list').replaceChildren(rows);
  } catch (e) {
    err.textContent = `Could not load the tokens: ${e.message}`;
  }
}

$('token-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('token-error');
  err.textContent = '';
  const scopes = [...$('token-scopes').querySelectorAll('input:checked')].map((i) => i.value);
  try {
    const t = await api('POST', '/api/tokens', {
      name: $('token-name').value.trim(),
      scopes,
      expires_at: expiresAt($('token-expiry').value),
    });
    $('token-secret').textContent = t.token;
    $('token-for').textContent = `${t.name} (${t.scopes.join(', ')}): copy it now, it is not shown again.`;
    $('token-done').hidden = false;
    $('token-copy').textContent = 'Copy';
    $('token-name').value = '';
  } catch (e) {
    err.textContent = `Could not create the token: ${e.message}`;
  }
  renderTokens();
});

$('token-copy').addEventListener('click', async () => {
  if (await copyText($('token-secret').textContent, $('token-secret'))) $('token-copy').textContent = 'Copied';
});

/** Forget a shown secret (leaving the page, signing out). */
export function hideTokenSecret() {
  $('token-secret').textContent = '';
  $('token-done').hidden = true;
}
