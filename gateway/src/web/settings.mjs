// The Notifications dialog: this browser's Web Push subscription (which events notify this
// person here) and, for the admin, webhooks with their delivery logs. Loaded on first use.
// Webhook URLs and log lines are shown as text; a secret is shown once, when it is created.

import { api, ApiError } from './api.mjs';
import { $, button, el } from './dom.mjs';
import { fmtTime, sameBytes } from './format.mjs';

const EVENTS = [
  ['needs_approval', 'Needs approval'],
  ['waiting_for_input', 'Waiting for input'],
  ['finished', 'Finished'],
  ['failed', 'Failed'],
  ['stopped', 'Stopped'],
  ['agent_offline', 'Agent offline'],
];

/** Checkboxes for the events, `checked` the ones ticked; returns [fieldset, read()]. */
function eventBoxes(name, checked) {
  const set = el('fieldset', 'events');
  set.append(el('legend', 'muted', 'Events'));
  for (const [value, label] of EVENTS) {
    const l = el('label', 'check');
    const box = el('input');
    box.type = 'checkbox';
    box.name = name;
    box.value = value;
    box.checked = checked.includes(value);
    l.append(box, document.createTextNode(` ${label}`));
    set.append(l);
  }
  const read = () => [...set.querySelectorAll('input:checked')].map((b) => b.value);
  return [set, read];
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text) {
  const b = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function registration() {
  return navigator.serviceWorker.register('/sw.js', { scope: '/' });
}

// ---------- this browser ----------

async function renderPush(box) {
  box.replaceChildren(el('h3', '', 'This browser'));
  if (!pushSupported()) {
    box.append(el('p', 'muted', 'This browser has no Web Push. On a phone, add the gateway to the home screen first, then open it from there.'));
    return;
  }
  const subs = await api('GET', '/api/push/subscriptions');
  const mine = subs.find((s) => s.this_browser);
  const [events, read] = eventBoxes('push-events', mine ? mine.events : ['needs_approval', 'waiting_for_input', 'failed']);
  const status = el('p', 'hint', mine ? `Notifications are on here (${mine.service}).` : 'Notifications are off here.');
  const error = el('p', 'form-error');
  error.setAttribute('role', 'alert');
  const save = button('primary', mine ? 'Save' : 'Turn on', async () => {
    error.textContent = '';
    try {
      if ((await Notification.requestPermission()) !== 'granted') {
        error.textContent = 'The browser did not allow notifications.';
        return;
      }
      const { public_key } = await api('GET', '/api/push/key');
      const reg = await registration();
      await navigator.serviceWorker.ready;
      const key = fromBase64url(public_key);
      let sub = await reg.pushManager.getSubscription();
      if (sub && !sameBytes(sub.options && sub.options.applicationServerKey, key)) {
        // Made with another key than the gateway's now (replicas agreeing on one, a new data
        // directory): the push service would refuse every push signed with this one.
        await sub.unsubscribe();
        sub = null;
      }
      sub = sub || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
      const json = sub.toJSON();
      await api('POST', '/api/push/subscriptions', {
        endpoint: json.endpoint,
        keys: { p256dh: json.keys.p256dh || base64url(sub.getKey('p256dh')), auth: json.keys.auth || base64url(sub.getKey('auth')) },
        events: read(),
      });
      await renderPush(box);
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : `Could not turn notifications on: ${e.message}`;
    }
  });
  const actions = el('div', 'dialog-actions');
  if (mine) {
    actions.append(
      button('ghost', 'Turn off', async () => {
        try {
          const reg = await navigator.serviceWorker.getRegistration('/');
          const sub = reg && (await reg.pushManager.getSubscription());
          if (sub) await sub.unsubscribe();
          await api('DELETE', `/api/push/subscriptions/${encodeURIComponent(mine.id)}`);
          await renderPush(box);
        } catch (e) {
          error.textContent = e.message;
        }
      }),
    );
  }
  actions.append(save);
  box.append(status, events, error, actions);
}

// ---------- webhooks ----------

function deliveryRow(d) {
  const row = el('tr');
  const outcome = d.state === 'pending' && d.next_at ? `pending, next ${fmtTime(d.next_at)}` : d.state;
  const detail = d.last_error || (d.last_status ? `answered ${d.last_status}` : '');
  for (const text of [fmtTime(d.created_at), d.event, d.run_id || '', outcome, String(d.attempts), detail]) {
    row.append(el('td', '', text));
  }
  row.dataset.state = d.state;
  return row;
}

async function showLog(hook, holder) {
  const log = await api('GET', `/api/webhooks/${encodeURIComponent(hook.id)}/deliveries?limit=50`);
  const table = el('table', 'deliveries');
  const head = el('tr');
  for (const h of ['When', 'Event', 'Run', 'State', 'Attempts', 'Last answer']) head.append(el('th', '', h));
  table.append(head, ...log.map(deliveryRow));
  holder.replaceChildren(log.length ? table : el('p', 'muted', 'No deliveries yet.'));
}

function hookItem(hook, refresh) {
  const li = el('li', 'hook');
  const title = el('div', 'hook-head');
  title.append(el('span', 'mono hook-url', hook.url), el('span', 'muted', `${hook.format} · ${hook.events.join(', ')}`));
  const log = el('div', 'hook-log');
  const actions = el('div', 'hook-actions');
  actions.append(
    button('ghost', 'Deliveries', () => showLog(hook, log).catch((e) => log.replaceChildren(el('p', 'form-error', e.message)))),
    button('ghost', 'Delete', async () => {
      if (!confirm(`Delete the webhook to ${hook.url}?`)) return;
      await api('DELETE', `/api/webhooks/${encodeURIComponent(hook.id)}`);
      refresh();
    }),
  );
  li.append(title, actions, log);
  return li;
}

async function renderHooks(box) {
  box.replaceChildren(el('h3', '', 'Webhooks'));
  let hooks;
  try {
    hooks = await api('GET', '/api/webhooks');
  } catch (e) {
    box.append(el('p', 'form-error', e.message));
    return;
  }
  const refresh = () => renderHooks(box);
  const list = el('ul', 'hooks');
  list.append(...hooks.map((h) => hookItem(h, refresh)));
  if (!hooks.length) box.append(el('p', 'muted', 'No webhooks. Each delivery is signed with the webhook’s own secret (PROTOCOL.md, “Webhooks”).'));
  box.append(list);

  const form = el('form', 'hook-form');
  const url = el('input');
  url.type = 'url';
  url.required = true;
  url.placeholder = 'https://hooks.example.com/…';
  url.setAttribute('aria-label', 'Webhook URL');
  const format = el('select');
  format.setAttribute('aria-label', 'Body format');
  for (const [v, t] of [['json', 'JSON'], ['slack', 'Slack text']]) {
    const o = el('option', '', t);
    o.value = v;
    format.append(o);
  }
  const [events, read] = eventBoxes('hook-events', ['needs_approval', 'finished', 'failed']);
  const error = el('p', 'form-error');
  error.setAttribute('role', 'alert');
  const secret = el('pre', 'command');
  secret.hidden = true;
  const add = el('button', 'primary', 'Add webhook');
  add.type = 'submit';
  form.append(url, format, events, error, add);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const created = await api('POST', '/api/webhooks', { url: url.value, events: read(), format: format.value });
      await renderHooks(box);
      const shown = el('div', 'created');
      const pre = el('pre', 'command', created.secret);
      shown.append(el('p', '', 'The signing secret, shown only this once:'), pre);
      box.append(shown);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  box.append(form);
}

/** Open the Notifications dialog. */
export async function openSettings() {
  const dialog = $('settings');
  const push = $('settings-push');
  const hooks = $('settings-hooks');
  dialog.showModal();
  await Promise.all([
    renderPush(push).catch((e) => push.replaceChildren(el('p', 'form-error', e.message))),
    renderHooks(hooks),
  ]);
}
