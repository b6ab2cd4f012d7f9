// The gateway's service worker: shows the Web Push notifications the gateway sends, and decides
// a permission request from its Allow / Deny actions without opening the page. Served at /sw.js
// so its scope is the whole gateway. It caches nothing: the page always comes from the gateway.
//
// The payload (decrypted by the browser) holds only a run's name, status and link, and for an
// approval the tool's name and a single-use action token bound to this browser's session.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = {};
  }
  const title = typeof p.title === 'string' ? p.title : 'claude-runner gateway';
  const options = {
    body: typeof p.body === 'string' ? p.body : '',
    tag: typeof p.tag === 'string' ? p.tag : undefined,
    icon: '/assets/icon.svg',
    badge: '/assets/icon.svg',
    data: { url: typeof p.url === 'string' ? p.url : '/', action: p.action || null },
    actions: Array.isArray(p.actions) ? p.actions.slice(0, 2) : [],
    requireInteraction: Array.isArray(p.actions) && p.actions.length > 0,
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

/** Post the decision the way the page would, with the session cookie; the token replaces the CSRF token. */
async function decide(action, decision) {
  const r = await fetch(action.url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: action.token, decision }),
  });
  return r.ok;
}

/** Focus an open page of the gateway on `url`, or open one. */
async function openPage(url) {
  const pages = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const page of pages) {
    if (new URL(page.url).origin === self.location.origin && 'focus' in page) {
      await page.focus();
      if ('navigate' in page) await page.navigate(url);
      return;
    }
  }
  await self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => {
  const n = event.notification;
  const data = n.data || {};
  const url = typeof data.url === 'string' && data.url.startsWith('/') ? data.url : '/';
  n.close();
  const choice = event.action === 'allow' || event.action === 'deny' ? event.action : null;
  event.waitUntil(
    (async () => {
      if (choice && data.action && typeof data.action.url === 'string' && data.action.url.startsWith('/api/')) {
        try {
          if (await decide(data.action, choice)) {
            await self.registration.showNotification(choice === 'allow' ? 'Allowed' : 'Denied', {
              body: n.body,
              tag: n.tag,
              icon: '/assets/icon.svg',
              data: { url },
            });
            return;
          }
        } catch {
          // offline or signed out: the page decides instead
        }
      }
      await openPage(url);
    })(),
  );
});
