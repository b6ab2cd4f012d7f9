// The team's pages: People (admins: invite, change roles, disable), Account (one's own
// sessions: end one, or sign out everywhere; API tokens, in tokens.mjs) and the Audit log
// (admins: newest first, older on demand, exported as JSON lines). Everything shown comes from the gateway as text.

import { api } from './api.mjs';
import { $, button, copyText, el } from './dom.mjs';
import { fmtAgo, fmtStamp } from './format.mjs';
import { me } from './me.mjs';
import { createPasskey, passkeysSupported } from './passkey.mjs';
import { hideTokenSecret, renderTokens } from './tokens.mjs';

const ROLES = ['viewer', 'operator', 'admin'];

function roleSelect(value, label) {
  const s = el('select');
  s.setAttribute('aria-label', label);
  for (const r of ROLES) {
    const o = el('option', '', r);
    o.value = r;
    o.selected = r === value;
    s.append(o);
  }
  return s;
}

// ---------- people ----------

async function renderPeople() {
  const note = $('people-note');
  note.textContent = '';
  try {
    const [people, invitations] = await Promise.all([api('GET', '/api/people'), api('GET', '/api/invitations')]);
    const rows = document.createDocumentFragment();
    for (const p of people) {
      const row = el('tr');
      row.dataset.person = p.name;
      const name = el('td', '', p.name);
      if (p.id === me.id) name.append(el('span', 'muted', ' (you)'));
      const role = el('td');
      const select = roleSelect(p.role, `Role of ${p.name}`);
      select.addEventListener('change', () => change(p, { role: select.value }));
      role.append(select);
      const state = el('td', p.disabled_at ? 'bad' : 'muted', p.disabled_at ? 'disabled' : 'active');
      const act = el('td');
      const toggle = button(p.disabled_at ? 'ghost' : 'danger', p.disabled_at ? 'Enable' : 'Disable', () =>
        change(p, { disabled: !p.disabled_at }),
      );
      toggle.setAttribute('aria-label', `${p.disabled_at ? 'Enable' : 'Disable'} ${p.name}`);
      act.append(toggle);
      row.append(name, role, state, el('td', 'muted', fmtStamp(p.created_at)), act);
      rows.append(row);
    }
    $('people-list').replaceChildren(rows);
    const open = document.createDocumentFragment();
    for (const i of invitations) {
      open.append(el('li', '', `${i.name} as ${i.role}, until ${fmtStamp(i.expires_at)}`));
    }
    $('invitations').replaceChildren(open);
    $('invitations-none').hidden = invitations.length > 0;
  } catch (e) {
    note.textContent = `Could not load the people: ${e.message}`;
  }
}

async function change(person, body) {
  try {
    await api('PATCH', `/api/people/${encodeURIComponent(person.id)}`, body);
  } catch (e) {
    $('people-note').textContent = `Could not change ${person.name}: ${e.message}`;
  }
  await renderPeople();
}

$('invite-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('invite-error');
  err.textContent = '';
  try {
    const r = await api('POST', '/api/invitations', { name: $('invite-name').value.trim(), role: $('invite-role').value });
    $('invite-link').textContent = r.url;
    $('invite-for').textContent = `${r.name} joins as ${r.role} with this link, once, until ${fmtStamp(r.expires_at)}.`;
    $('invite-done').hidden = false;
    $('invite-name').value = '';
    await renderPeople();
  } catch (e) {
    err.textContent = `Could not invite: ${e.message}`;
  }
});

$('invite-copy').addEventListener('click', () => copyText($('invite-link').textContent, $('invite-link')));

// ---------- account ----------

async function renderAccount() {
  $('account-who').textContent = `${me.name}, ${me.role}`;
  const note = $('account-note');
  note.textContent = '';
  try {
    const keys = await api('GET', '/api/me/passkeys');
    const list = document.createDocumentFragment();
    for (const k of keys) {
      const li = el('li', 'passkey');
      li.append(el('b', 'mono', k.id));
      li.append(el('span', 'muted', ` added ${fmtStamp(k.created_at)}${k.last_used_at ? `, last used ${fmtAgo(k.last_used_at)}` : ', not used yet'}`));
      list.append(li);
    }
    if (!keys.length) list.append(el('li', 'muted', 'None yet: a passkey signs you in without a password.'));
    $('passkeys-list').replaceChildren(list);
    $('add-passkey').hidden = !passkeysSupported();
    const sessions = await api('GET', '/api/me/sessions');
    const items = document.createDocumentFragment();
    for (const s of sessions) {
      const li = el('li', 'session');
      li.append(el('b', '', s.device || 'Browser'));
      li.append(el('span', 'muted', ` signed in ${fmtStamp(s.created_at)}, last seen ${fmtAgo(s.last_seen)}`));
      if (s.current) li.append(el('span', 'badge', 'this browser'));
      else {
        const end = button('ghost', 'Sign out', async () => {
          try {
            await api('DELETE', `/api/me/sessions/${s.id}`);
          } catch (e) {
            note.textContent = `Could not end the session: ${e.message}`;
          }
          renderAccount();
        });
        end.setAttribute('aria-label', `Sign out ${s.device || 'Browser'}`);
        li.append(end);
      }
      items.append(li);
    }
    $('sessions-list').replaceChildren(items);
  } catch (e) {
    note.textContent = `Could not load your sessions: ${e.message}`;
  }
}

$('add-passkey').addEventListener('click', async () => {
  const note = $('account-note');
  note.textContent = '';
  try {
    const options = await api('POST', '/api/me/passkeys/options', {});
    await api('POST', '/api/me/passkeys', await createPasskey(options));
  } catch (e) {
    note.textContent = `No passkey added: ${e.message}`;
  }
  renderAccount();
});

let pairingTimer = null;

$('pair-phone').addEventListener('click', async () => {
  const note = $('account-note');
  note.textContent = '';
  try {
    const p = await api('POST', '/api/me/pairing', {});
    // The gateway drew the QR code; as an image it can run nothing.
    $('pairing-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.svg)}`;
    $('pairing-link').textContent = p.url;
    $('pairing').hidden = false;
    clearInterval(pairingTimer);
    const tick = () => {
      const left = Math.max(0, Math.round((p.expires_at - Date.now()) / 1000));
      $('pairing-left').textContent = left ? ` (${left} s left)` : ' (expired)';
      if (!left) {
        clearInterval(pairingTimer);
        $('pairing').hidden = true;
      }
    };
    tick();
    pairingTimer = setInterval(tick, 1000);
  } catch (e) {
    note.textContent = `Could not make a pairing code: ${e.message}`;
  }
});

// ---------- audit ----------

let oldest = null;

function auditRow(line) {
  const row = el('tr');
  const what = [line.action];
  if (line.run_id) what.push(line.run_id);
  if (line.target && line.target !== line.run_id) what.push(line.target);
  const detail = line.detail && Object.keys(line.detail).length ? JSON.stringify(line.detail) : '';
  row.append(
    el('td', 'mono', fmtStamp(line.at)),
    el('td', '', line.actor_name),
    el('td', 'mono', what.join(' · ')),
    el('td', 'mono detail', detail),
    el('td', 'mono muted', line.source || ''),
  );
  return row;
}

async function loadAudit(more) {
  const note = $('audit-note');
  note.textContent = '';
  try {
    const q = more && oldest ? `?before=${oldest}&limit=100` : '?limit=100';
    const lines = await api('GET', `/api/audit${q}`);
    const rows = document.createDocumentFragment();
    for (const l of lines) rows.append(auditRow(l));
    if (more) $('audit-list').append(rows);
    else $('audit-list').replaceChildren(rows);
    if (lines.length) oldest = lines[lines.length - 1].id;
    $('audit-more').hidden = lines.length < 100;
  } catch (e) {
    note.textContent = `Could not load the audit log: ${e.message}`;
  }
}

$('audit-more').addEventListener('click', () => loadAudit(true));

/** Show the page `name` (`people`, `account`, `audit`): load what it shows. */
export function showPage(name) {
  if (name === 'people') renderPeople();
  else if (name === 'account') {
    hideTokenSecret();
    renderAccount();
    renderTokens();
  }
  else if (name === 'audit') loadAudit(false);
}

/** Sign out everywhere, this browser included. */
export async function signOutEverywhere() {
  await api('DELETE', '/api/me/sessions');
}
