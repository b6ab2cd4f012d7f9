//! Sign-in for the web UI: people's passwords (`password.rs`, Argon2id hashes in the store),
//! server-side sessions behind an `HttpOnly; Secure; SameSite=Strict` cookie (`cookie.rs`),
//! each belonging to a person and naming its browser (`device.rs`), rate-limited attempts
//! (`limiter.rs`), and the CSRF guard every state-changing request passes (`csrf.rs`). The
//! sign-in routes are `routes/session.rs`.
//!
//! Sessions are server-side (a table of SHA-256 hashes of cookie values, mirrored in memory so
//! checking one costs no query): sign-out, revoking a session, disabling a person and a
//! password change really end sessions, the database never holds a usable cookie, and sessions
//! survive a gateway restart so an open page simply reconnects.
//!
//! With a store other gateways share (PostgreSQL), nothing of this is kept in memory: a session
//! started on one replica must work on another, and one ended on another must end here at once,
//! so every check reads the session's row (one primary-key read), and the sign-in limiter counts
//! in the store (`Store::count`), so its limits hold across replicas.

mod cookie;
mod csrf;
mod device;
mod limiter;
mod pairing;
mod passkey;
mod password;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use axum::http::{HeaderMap, header};
use common::Secret;

pub use cookie::{COOKIE, cookie_value, set_cookie};
pub use csrf::{CSRF_HEADER, csrf_check, csrf_token};
pub use pairing::{PAIRING_MS, qr_svg};
pub use passkey::{NewPasskey, Passkeys, SignInRefused};
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
use crate::store::{Person, Store, StoredSession};

/// A session ends after this long without a request (ms).
pub const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// A session ends this long after sign-in whatever happens (ms).
pub const ABSOLUTE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `last_seen` is written to the store at most this often per session (ms).
const TOUCH_MS: i64 = 60 * 1000;
const PASSWORD_KEY: &str = "admin_password_argon2id";

#[derive(Debug, Clone)]
struct Live {
    created_at: i64,
    last_seen: i64,
    /// `last_seen` as last written to the store.
    saved: i64,
    person_id: Arc<str>,
    device: Arc<str>,
}

impl Live {
    fn of(s: StoredSession, person_id: &str) -> Self {
        Self {
            created_at: s.created_at,
            last_seen: s.last_seen,
            saved: s.last_seen,
            person_id: person_id.into(),
            device: s.device.into(),
        }
    }

    fn stored(&self, id_hash: [u8; 32]) -> StoredSession {
        StoredSession {
            id_hash,
            created_at: self.created_at,
            last_seen: self.last_seen,
            person_id: Some(self.person_id.to_string()),
            device: self.device.to_string(),
        }
    }
}

/// A request's live session: whose it is, and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub person_id: String,
    pub id_hash: [u8; 32],
}

/// A session as its person sees it in their list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    /// Hex of the cookie's SHA-256: names the session, cannot be used as one.
    pub id: String,
    pub device: String,
    pub created_at: i64,
    pub last_seen: i64,
    /// The session the listing request came with.
    pub current: bool,
}

/// The first admin, the live sessions and the sign-in limiter.
pub struct Sessions {
    /// Who signs in with a password and no name (the admin of a gateway from before people).
    first_admin: Option<String>,
    /// The store is shared with other gateways: sessions and limits live there alone.
    shared: bool,
    live: Mutex<HashMap<[u8; 32], Live>>,
    limiter: Mutex<Limiter>,
}

impl Default for Sessions {
    /// No first admin and no session.
    fn default() -> Self {
        Self::new(None, Vec::new(), 0)
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("first_admin", &self.first_admin)
            .finish_non_exhaustive()
    }
}

fn expired(s: &Live, now: i64) -> bool {
    now - s.last_seen > IDLE_MS || now - s.created_at > ABSOLUTE_MS
}

/// What a `User-Agent` header says, in a few words.
pub fn device(headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    device::describe(ua)
}

/// A hash no password matches, checked when the name is unknown so that the answer takes as
/// long as for a known one.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random = random_token(16).unwrap_or_else(|_| "decoy".into());
        hash_password(&random).unwrap_or_default()
    })
}

impl Sessions {
    /// Sessions from `stored` that have not expired at `now` and belong to a person (those that
    /// do not go to `first_admin`).
    pub fn new(first_admin: Option<String>, stored: Vec<StoredSession>, now: i64) -> Self {
        let live = stored
            .into_iter()
            .filter_map(|s| {
                let person = s.person_id.clone().or_else(|| first_admin.clone())?;
                let hash = s.id_hash;
                Some((hash, Live::of(s, &person)))
            })
            .filter(|(_, s)| !expired(s, now))
            .collect();
        Self {
            first_admin,
            shared: false,
            live: Mutex::new(live),
            limiter: Mutex::default(),
        }
    }

    /// Set up sign-in at start: the admin password is the configured one, or the stored hash,
    /// or a generated one (returned, to print once); it is the first admin's (made now if there
    /// is none: the first start, or the first after an upgrade). A changed admin password ends
    /// the first admin's stored sessions; expired sessions are deleted; sessions stored before
    /// people existed are the first admin's.
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
                // Gateways starting together on one new database each make a password: the
                // first stored is the one, and only the gateway that made it shows it.
                let stored = store
                    .meta_or_insert(PASSWORD_KEY.into(), phc.clone())
                    .await
                    .context("store the admin password hash")?;
                if stored == phc {
                    (phc, Some(pw), true)
                } else {
                    tracing::info!(
                        "the admin password was made by another gateway on this database; \
                         it shows it once"
                    );
                    (stored, None, false)
                }
            }
        };
        if changed {
            store.set_meta(PASSWORD_KEY.into(), phc.clone()).await?;
        }
        let first_admin = crate::team::first_admin(store, &phc, changed).await?;
        let now = now_ms();
        let mut keep = Vec::new();
        for mut s in store.sessions().await.context("read sessions")? {
            let person = s.person_id.clone().unwrap_or_else(|| first_admin.clone());
            let live = Live::of(s.clone(), &person);
            if expired(&live, now) || (changed && person == first_admin) {
                store.delete_session(s.id_hash).await?;
            } else {
                if s.person_id.is_none() {
                    s.person_id = Some(person);
                    store.save_session(s.clone()).await?;
                }
                keep.push(s);
            }
        }
        let mut sessions = Self::new(Some(first_admin), keep, now);
        sessions.shared = store.channel().is_some();
        if sessions.shared {
            sessions.live = Mutex::default();
        }
        Ok((sessions, new_password))
    }

    /// The live session of this cookie value, touched at `now`; `Some((person, save))` when
    /// valid, where `save` is the record to write back (its `last_seen` is over a minute old in
    /// the store).
    fn touch(&self, value: &str, now: i64) -> Option<(Arc<str>, Option<StoredSession>)> {
        let hash = session_hash(value);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let s = live.get_mut(&hash)?;
        if expired(s, now) {
            live.remove(&hash);
            return None;
        }
        s.last_seen = now.max(s.last_seen);
        if s.last_seen - s.saved < TOUCH_MS {
            return Some((s.person_id.clone(), None));
        }
        s.saved = s.last_seen;
        Some((s.person_id.clone(), Some(s.stored(hash))))
    }

    /// [`Sessions::touch`] on the store's row (a shared store: another gateway may have started
    /// or ended the session).
    async fn touch_stored(
        &self,
        store: &dyn Store,
        value: &str,
        now: i64,
    ) -> Option<(Arc<str>, Option<StoredSession>)> {
        let stored = match store.session(session_hash(value)).await {
            Ok(stored) => stored?,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a session");
                return None;
            }
        };
        let person = stored
            .person_id
            .clone()
            .or_else(|| self.first_admin.clone())?;
        let mut s = Live::of(stored, &person);
        if expired(&s, now) {
            return None;
        }
        s.last_seen = now.max(s.last_seen);
        let save = (s.last_seen - s.saved >= TOUCH_MS).then(|| s.stored(session_hash(value)));
        Some((s.person_id, save))
    }

    /// Count a sign-in attempt from `ip` before its password is checked; `Err(seconds)` to wait
    /// when over a limit.
    pub async fn reserve(
        &self,
        store: &dyn Store,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<(), u64>, ApiError> {
        if self.shared {
            return Ok(limiter::reserve_shared(store, ip, now).await?);
        }
        Ok(self
            .limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reserve(ip, now))
    }

    /// The password was right: the attempt made at `now` does not count.
    pub async fn refund(&self, store: &dyn Store, ip: Option<IpAddr>, now: i64) {
        if self.shared {
            if let Err(e) = limiter::refund_shared(store, ip, now).await {
                tracing::warn!(error = %e, "could not take back a sign-in attempt");
            }
            return;
        }
        self.limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refund(ip);
    }

    /// The enabled person `name` (the first admin when `None`) if `password` is theirs
    /// (Argon2id, on the blocking pool). An unknown name costs a hash check all the same.
    pub async fn check_password(
        &self,
        store: &dyn Store,
        name: Option<String>,
        password: String,
    ) -> Result<Option<Person>, ApiError> {
        let person = match name {
            Some(name) => store.person_by_name(name).await?,
            None => match &self.first_admin {
                Some(id) => store.person(id.clone()).await?,
                None => None,
            },
        };
        let phc = person
            .as_ref()
            .and_then(|p| p.password_hash.clone())
            .unwrap_or_else(|| decoy_hash().to_string());
        let matches = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
            .await
            .unwrap_or(false);
        Ok(person.filter(|p| matches && p.password_hash.is_some() && p.disabled_at.is_none()))
    }

    /// Start a session for `person_id` at `now`: stored, then live; the cookie value to send.
    pub async fn start(
        &self,
        store: &dyn Store,
        person_id: &str,
        device: String,
        now: i64,
    ) -> Result<String, ApiError> {
        let value = random_token(32).map_err(|e| ApiError::Internal(e.to_string()))?;
        let record = StoredSession {
            id_hash: session_hash(&value),
            created_at: now,
            last_seen: now,
            person_id: Some(person_id.to_string()),
            device,
        };
        store.save_session(record.clone()).await?;
        if !self.shared {
            self.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(record.id_hash, Live::of(record, person_id));
        }
        Ok(value)
    }

    /// End the session of this cookie value, here and in the store.
    pub async fn end(&self, store: &dyn Store, value: &str) -> Result<(), ApiError> {
        self.end_hash(store, session_hash(value)).await.map(|_| ())
    }

    /// End the session kept under `id_hash` if it is `person_id`'s; `false` if there is none.
    pub async fn revoke(
        &self,
        store: &dyn Store,
        person_id: &str,
        id_hash: [u8; 32],
    ) -> Result<bool, ApiError> {
        let theirs = store
            .sessions()
            .await?
            .into_iter()
            .any(|s| s.id_hash == id_hash && s.person_id.as_deref() == Some(person_id));
        if !theirs {
            return Ok(false);
        }
        self.end_hash(store, id_hash).await
    }

    async fn end_hash(&self, store: &dyn Store, id_hash: [u8; 32]) -> Result<bool, ApiError> {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id_hash);
        Ok(store.delete_session(id_hash).await?)
    }

    /// End every session of `person_id` (signing out everywhere, disabling); how many there were.
    pub async fn end_all(&self, store: &dyn Store, person_id: &str) -> Result<u64, ApiError> {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| &*s.person_id != person_id);
        Ok(store.delete_sessions_of(person_id.to_string()).await?)
    }

    /// The live sessions of `person_id`, most recently seen first; `current` marks the one
    /// `headers` carries.
    pub async fn list(
        &self,
        store: &dyn Store,
        person_id: &str,
        headers: &HeaderMap,
    ) -> Result<Vec<SessionView>, ApiError> {
        let current = cookie_value(headers).map(session_hash);
        let now = now_ms();
        let stored: HashMap<[u8; 32], Live>;
        let guard;
        let live = if self.shared {
            stored = store
                .sessions()
                .await?
                .into_iter()
                .filter_map(|s| {
                    let person = s.person_id.clone().or_else(|| self.first_admin.clone())?;
                    Some((s.id_hash, Live::of(s, &person)))
                })
                .collect();
            &stored
        } else {
            guard = self.live.lock().unwrap_or_else(|p| p.into_inner());
            &*guard
        };
        let mut out: Vec<SessionView> = live
            .iter()
            .filter(|(_, s)| &*s.person_id == person_id && !expired(s, now))
            .map(|(hash, s)| SessionView {
                id: hex::encode(hash),
                device: s.device.to_string(),
                created_at: s.created_at,
                last_seen: s.last_seen,
                current: Some(*hash) == current,
            })
            .collect();
        out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The request's live session, kept alive: its `last_seen` is written back to `store` (at
    /// most once a minute) in a task of its own.
    pub async fn authenticate(
        &self,
        store: &Arc<dyn Store>,
        headers: &HeaderMap,
    ) -> Option<SignedIn> {
        let value = cookie_value(headers)?;
        let (person, save) = if self.shared {
            self.touch_stored(store.as_ref(), value, now_ms()).await?
        } else {
            self.touch(value, now_ms())?
        };
        if let Some(save) = save {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                // Only an update: a touch landing after sign-out's delete must not revive it.
                if let Err(e) = store.touch_session(save.id_hash, save.last_seen).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            });
        }
        Some(SignedIn {
            person_id: person.to_string(),
            id_hash: session_hash(value),
        })
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

    fn stored(value: &str, created_at: i64, last_seen: i64) -> StoredSession {
        StoredSession {
            id_hash: session_hash(value),
            created_at,
            last_seen,
            person_id: Some("p_1".into()),
            device: String::new(),
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let s = Sessions::new(
            None,
            vec![stored("idle", 0, 0), stored("old", 0, ABSOLUTE_MS - 10)],
            ABSOLUTE_MS - 10,
        );
        assert_eq!(s.len(), 1, "the idle one is dropped on load");
        let now = ABSOLUTE_MS - 5;
        assert_eq!(s.touch("idle", now), None);
        assert_eq!(
            s.touch("old", now),
            Some(("p_1".into(), None)),
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
        let s = Sessions::new(None, vec![stored("v", 0, 0)], 0);
        assert_eq!(s.touch("v", 10).unwrap().1, None);
        let saved = s.touch("v", TOUCH_MS + 1).unwrap().1.unwrap();
        assert_eq!(saved.last_seen, TOUCH_MS + 1);
        assert_eq!(s.touch("v", TOUCH_MS + 2).unwrap().1, None);
    }

    #[test]
    fn a_session_from_before_people_is_the_first_admins() {
        let old = StoredSession {
            person_id: None,
            ..stored("old", 0, 0)
        };
        let s = Sessions::new(Some("p_admin".into()), vec![old.clone()], 0);
        assert_eq!(s.touch("old", 1).unwrap().0.as_ref(), "p_admin");
        let nobody = Sessions::new(None, vec![old], 0);
        assert!(
            nobody.is_empty(),
            "without a first admin it belongs to no one"
        );
    }
}
