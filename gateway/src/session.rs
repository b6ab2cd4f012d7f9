//! Sign-in for the web UI: the admin password (an Argon2id hash in the store), server-side
//! sessions behind an `HttpOnly; Secure; SameSite=Strict` cookie, rate-limited attempts, sign-out,
//! and the CSRF guard every state-changing request passes.
//!
//! Sessions are server-side (a table of SHA-256 hashes of cookie values, mirrored in memory so
//! [`crate::auth::require_admin`] stays a synchronous check): sign-out and a password change
//! really end a session, the database never holds a usable cookie, and sessions survive a
//! gateway restart so an open page simply reconnects. The CSRF token is derived from the cookie
//! value (HMAC), so it needs no storage and a cross-site page, which cannot read the cookie,
//! cannot compute it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::Secret;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::{Store, StoredSession};

/// The session cookie's name.
/// `__Host-`: the browser only accepts it Secure, for Path=/ and with no Domain, so a sibling
/// subdomain cannot plant or overwrite it.
pub const COOKIE: &str = "__Host-gw_session";
/// The header the page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without a request (ms).
pub const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// A session ends this long after sign-in whatever happens (ms).
pub const ABSOLUTE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `last_seen` is written to the store at most this often per session (ms).
const TOUCH_MS: i64 = 60 * 1000;
/// Rate limit: failed sign-ins allowed per window, per client address and in all.
const WINDOW_MS: i64 = 60 * 1000;
const PER_IP_FAILURES: u32 = 5;
const GLOBAL_FAILURES: u32 = 30;
/// Client addresses the limiter tracks before it counts only the global limit.
const MAX_TRACKED_IPS: usize = 10_000;
const PASSWORD_KEY: &str = "admin_password_argon2id";

#[derive(Debug, Clone, Copy)]
struct Live {
    created_at: i64,
    last_seen: i64,
    /// `last_seen` as last written to the store.
    saved: i64,
}

/// Fixed-window counters of failed sign-ins.
#[derive(Debug, Default)]
struct Limiter {
    window_start: i64,
    global: u32,
    per_ip: HashMap<IpAddr, u32>,
}

impl Limiter {
    /// Count an attempt before checking the password; `Err(seconds)` when over a limit.
    fn reserve(&mut self, ip: Option<IpAddr>, now: i64) -> Result<(), u64> {
        if now - self.window_start >= WINDOW_MS || now < self.window_start {
            self.window_start = now;
            self.global = 0;
            self.per_ip.clear();
        }
        let retry = ((self.window_start + WINDOW_MS - now) / 1000 + 1) as u64;
        let ip_count = ip.and_then(|ip| self.per_ip.get(&ip).copied()).unwrap_or(0);
        if self.global >= GLOBAL_FAILURES || ip_count >= PER_IP_FAILURES {
            return Err(retry);
        }
        self.global += 1;
        if let Some(ip) = ip
            && (self.per_ip.len() < MAX_TRACKED_IPS || self.per_ip.contains_key(&ip))
        {
            *self.per_ip.entry(ip).or_default() += 1;
        }
        Ok(())
    }

    /// The password was right: the attempt does not count.
    fn refund(&mut self, ip: Option<IpAddr>) {
        self.global = self.global.saturating_sub(1);
        if let Some(n) = ip.and_then(|ip| self.per_ip.get_mut(&ip)) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The password hash, the live sessions and the sign-in limiter.
pub struct Sessions {
    /// PHC string of the Argon2id hash; `None` signs nobody in.
    password_hash: Option<String>,
    live: Mutex<HashMap<[u8; 32], Live>>,
    limiter: Mutex<Limiter>,
}

impl Default for Sessions {
    /// No password: the UI cannot be signed in to (the admin token still works).
    fn default() -> Self {
        Self::new(None, Vec::new(), 0)
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("password_set", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

fn expired(s: &Live, now: i64) -> bool {
    now - s.last_seen > IDLE_MS || now - s.created_at > ABSOLUTE_MS
}

/// Hash a password with Argon2id and a random salt (OWASP's default cost: 19 MiB, t = 2, p = 1).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash the admin password: {e}"))?
        .to_string())
}

/// Check a password against a PHC string (constant time inside `argon2`).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl Sessions {
    /// Sessions from `stored` that have not expired at `now`.
    pub fn new(password_hash: Option<String>, stored: Vec<StoredSession>, now: i64) -> Self {
        let live = stored
            .into_iter()
            .map(|s| {
                let live = Live {
                    created_at: s.created_at,
                    last_seen: s.last_seen,
                    saved: s.last_seen,
                };
                (s.id_hash, live)
            })
            .filter(|(_, s)| !expired(s, now))
            .collect();
        Self {
            password_hash,
            live: Mutex::new(live),
            limiter: Mutex::default(),
        }
    }

    /// Set up sign-in at start: use the configured password, or the stored hash, or generate a
    /// password (returned, to print once). A changed password ends every stored session; expired
    /// sessions are deleted.
    pub async fn open(
        store: &dyn Store,
        configured: Option<Secret>,
    ) -> anyhow::Result<(Self, Option<Secret>)> {
        let stored = store
            .get_meta(PASSWORD_KEY.into())
            .await
            .context("read the admin password hash")?;
        let (phc, new_password, changed) = match (configured, stored) {
            (Some(pw), Some(phc)) => {
                let (p, h) = (pw.clone(), phc.clone());
                if tokio::task::spawn_blocking(move || verify_password(&h, p.expose())).await? {
                    (phc, None, false)
                } else {
                    let phc =
                        tokio::task::spawn_blocking(move || hash_password(pw.expose())).await??;
                    (phc, None, true)
                }
            }
            (Some(pw), None) => {
                let phc = tokio::task::spawn_blocking(move || hash_password(pw.expose())).await??;
                (phc, None, true)
            }
            (None, Some(phc)) => (phc, None, false),
            (None, None) => {
                let pw = Secret::new(random_token(15)?);
                let p = pw.clone();
                let phc = tokio::task::spawn_blocking(move || hash_password(p.expose())).await??;
                (phc, Some(pw), true)
            }
        };
        if changed {
            store.set_meta(PASSWORD_KEY.into(), phc.clone()).await?;
        }
        let now = now_ms();
        let mut keep = Vec::new();
        for s in store.sessions().await.context("read sessions")? {
            let live = Live {
                created_at: s.created_at,
                last_seen: s.last_seen,
                saved: s.last_seen,
            };
            if changed || expired(&live, now) {
                store.delete_session(s.id_hash).await?;
            } else {
                keep.push(s);
            }
        }
        Ok((Self::new(Some(phc), keep, now), new_password))
    }

    /// The live session of this cookie value, touched at `now`; `Some(save)` when valid, where
    /// `save` is the record to write back (its `last_seen` is over a minute old in the store).
    fn touch(&self, value: &str, now: i64) -> Option<Option<StoredSession>> {
        let hash = session_hash(value);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let s = live.get_mut(&hash)?;
        if expired(s, now) {
            live.remove(&hash);
            return None;
        }
        s.last_seen = now.max(s.last_seen);
        if s.last_seen - s.saved < TOUCH_MS {
            return Some(None);
        }
        s.saved = s.last_seen;
        Some(Some(StoredSession {
            id_hash: hash,
            created_at: s.created_at,
            last_seen: s.last_seen,
        }))
    }

    /// Count a sign-in attempt from `ip` before its password is checked; `Err(seconds)` to wait
    /// when over a limit.
    pub fn reserve(&self, ip: Option<IpAddr>, now: i64) -> Result<(), u64> {
        self.limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reserve(ip, now)
    }

    /// The password was right: the attempt does not count.
    pub fn refund(&self, ip: Option<IpAddr>) {
        self.limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refund(ip);
    }

    /// Whether `password` is the admin password (Argon2id, on the blocking pool); never when no
    /// password is set.
    pub async fn password_matches(&self, password: String) -> bool {
        match self.password_hash.clone() {
            Some(phc) => tokio::task::spawn_blocking(move || verify_password(&phc, &password))
                .await
                .unwrap_or(false),
            None => false,
        }
    }

    /// Start a session at `now`: stored, then live; the cookie value to send.
    pub async fn start(&self, store: &dyn Store, now: i64) -> Result<String, ApiError> {
        let value = random_token(32).map_err(|e| ApiError::Internal(e.to_string()))?;
        let record = StoredSession {
            id_hash: session_hash(&value),
            created_at: now,
            last_seen: now,
        };
        store.save_session(record.clone()).await?;
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(
            record.id_hash,
            Live {
                created_at: now,
                last_seen: now,
                saved: now,
            },
        );
        Ok(value)
    }

    /// End the session of this cookie value, here and in the store.
    pub async fn end(&self, store: &dyn Store, value: &str) -> Result<(), ApiError> {
        let hash = session_hash(value);
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hash);
        store.delete_session(hash).await?;
        Ok(())
    }

    /// How many sessions are live (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn session_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The CSRF token of a session: HMAC-SHA256 keyed by the cookie value, hex.
pub fn csrf_token(value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(value.as_bytes()).expect("any key length");
    mac.update(b"gateway csrf v1");
    hex::encode(mac.finalize().into_bytes())
}

/// The session cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the request carries a live session (and keep it alive). Used by `require_admin`.
pub fn authenticated(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(value) = cookie_value(headers) else {
        return false;
    };
    match state.sessions.touch(value, now_ms()) {
        None => false,
        Some(None) => true,
        Some(Some(save)) => {
            let store = state.store.clone();
            tokio::spawn(async move {
                // Only an update: a touch landing after sign-out's delete must not revive it.
                if let Err(e) = store.touch_session(save.id_hash, save.last_seen).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            });
            true
        }
    }
}

pub fn set_cookie(value: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict"
    ))
    .expect("cookie value is base64url")
}

/// The host the request was sent to (`Host`, or the HTTP/2 authority).
fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
}

/// Middleware on every route: a state-changing request (not GET/HEAD/OPTIONS) from a browser
/// must be same-origin (`Sec-Fetch-Site`, `Origin` in scheme and host), and one that carries the
/// session cookie must also carry the session's CSRF token (except sign-in itself, which has no
/// session yet).
/// Runners and scripts send none of these headers nor the cookie, so they pass untouched.
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = || {
        ApiError::Forbidden {
            reason: "cross_site",
            message: "cross-site requests are refused",
        }
        .into_response()
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return cross_site();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let parts = origin.to_str().ok().and_then(|o| o.split_once("://"));
        let same = match (parts, request_host(&request)) {
            (Some((scheme, authority)), Some(host)) => {
                scheme.eq_ignore_ascii_case(state.page_scheme())
                    && authority.eq_ignore_ascii_case(&host)
            }
            _ => false,
        };
        if !same {
            return cross_site();
        }
    }
    let signing_in = request.method() == Method::POST && request.uri().path() == "/api/session";
    if let Some(value) = cookie_value(headers)
        && !signing_in
        && !headers.contains_key(header::AUTHORIZATION)
    {
        let want = csrf_token(value);
        let sent = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !common::sign::constant_time_eq(sent, want.as_bytes()) {
            return ApiError::Forbidden {
                reason: "csrf",
                message: "missing or wrong X-CSRF-Token",
            }
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_per_address_and_in_all_and_resets_each_window() {
        let mut l = Limiter::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..PER_IP_FAILURES {
            assert!(l.reserve(Some(a), 1000).is_ok());
        }
        assert_eq!(
            l.reserve(Some(a), 1000),
            Err(60),
            "seconds left in the window"
        );
        assert!(
            l.reserve(Some(b), 1000).is_ok(),
            "another address is not blocked"
        );
        l.refund(Some(a));
        assert!(
            l.reserve(Some(a), 1000).is_ok(),
            "a right password gives the attempt back"
        );
        for i in 0..GLOBAL_FAILURES {
            let ip = IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
            let _ = l.reserve(Some(ip), 2000);
        }
        assert!(l.reserve(None, 2000).is_err(), "the global limit holds");
        assert!(l.reserve(Some(a), 1000 + WINDOW_MS).is_ok(), "a new window");
    }

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let s = Sessions::new(
            None,
            vec![
                StoredSession {
                    id_hash: session_hash("idle"),
                    created_at: 0,
                    last_seen: 0,
                },
                StoredSession {
                    id_hash: session_hash("old"),
                    created_at: 0,
                    last_seen: ABSOLUTE_MS - 10,
                },
            ],
            ABSOLUTE_MS - 10,
        );
        assert_eq!(s.len(), 1, "the idle one is dropped on load");
        let now = ABSOLUTE_MS - 5;
        assert_eq!(s.touch("idle", now), None);
        assert_eq!(
            s.touch("old", now),
            Some(None),
            "touched recently: nothing to save"
        );
        assert!(
            s.touch("old", now + TOUCH_MS).is_none(),
            "past the absolute limit"
        );
        assert!(s.is_empty());
    }

    #[test]
    fn touch_saves_at_most_once_a_minute() {
        let s = Sessions::new(
            None,
            vec![StoredSession {
                id_hash: session_hash("v"),
                created_at: 0,
                last_seen: 0,
            }],
            0,
        );
        assert_eq!(s.touch("v", 10), Some(None));
        let saved = s.touch("v", TOUCH_MS + 1).unwrap().unwrap();
        assert_eq!(saved.last_seen, TOUCH_MS + 1);
        assert_eq!(s.touch("v", TOUCH_MS + 2), Some(None));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn cookie_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; __Host-gw_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some("abc"));
        assert_ne!(csrf_token("abc"), csrf_token("abd"));
        assert_eq!(csrf_token("abc").len(), 64);
        let c = set_cookie("v", 60);
        let c = c.to_str().unwrap();
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
