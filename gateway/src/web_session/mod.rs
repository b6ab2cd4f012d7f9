//! Sign-in for the web UI: the admin password (`password.rs`, an Argon2id hash in the store),
//! server-side sessions behind an `HttpOnly; Secure; SameSite=Strict` cookie (`cookie.rs`),
//! rate-limited attempts (`limiter.rs`), and the CSRF guard every state-changing request passes
//! (`csrf.rs`). The sign-in routes are `routes/session.rs`.
//!
//! Sessions are server-side (a table of SHA-256 hashes of cookie values, mirrored in memory so
//! checking one stays synchronous): sign-out and a password change really end a session, the
//! database never holds a usable cookie, and sessions survive a gateway restart so an open page
//! simply reconnects.

mod cookie;
mod csrf;
mod limiter;
mod password;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::http::HeaderMap;
use common::Secret;

pub use cookie::{COOKIE, cookie_value, set_cookie};
pub use csrf::{CSRF_HEADER, csrf_guard, csrf_token};
pub use password::{hash_password, verify_password};

use self::cookie::session_hash;

/// The SHA-256 a request's session cookie is kept under, if it carries one (whether or not the
/// session is live: check that with [`Sessions::authenticate`]).
pub fn request_session_hash(headers: &HeaderMap) -> Option<[u8; 32]> {
    cookie_value(headers).map(session_hash)
}
use self::limiter::Limiter;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::secrets::random_token;
use crate::store::{Store, StoredSession};

/// A session ends after this long without a request (ms).
pub const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// A session ends this long after sign-in whatever happens (ms).
pub const ABSOLUTE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `last_seen` is written to the store at most this often per session (ms).
const TOUCH_MS: i64 = 60 * 1000;
const PASSWORD_KEY: &str = "admin_password_argon2id";

#[derive(Debug, Clone, Copy)]
struct Live {
    created_at: i64,
    last_seen: i64,
    /// `last_seen` as last written to the store.
    saved: i64,
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

    /// Whether the request carries a live session, kept alive: its `last_seen` is written back to
    /// `store` (at most once a minute) in a task of its own.
    pub fn authenticate(&self, store: &Arc<dyn Store>, headers: &HeaderMap) -> bool {
        let Some(value) = cookie_value(headers) else {
            return false;
        };
        match self.touch(value, now_ms()) {
            None => false,
            Some(None) => true,
            Some(Some(save)) => {
                let store = Arc::clone(store);
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

    /// How many sessions are live (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
