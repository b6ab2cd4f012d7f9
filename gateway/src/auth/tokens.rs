//! The bearer tokens people and scrapers present (`Authorization: Bearer …`) and the SHA-256
//! they are kept as: the gateway never stores a token itself. An API token is a person's, with
//! scopes ([`Scopes`]) and maybe an expiry (`people::authenticate` turns one into the principal
//! it acts as, or says why it is refused). The configured admin token is one of them
//! ([`adopt_admin_token`]).

use axum::http::{HeaderMap, header};
use common::agents::{
    ApiTokenInfo, SCOPE_ADMIN, SCOPE_APPROVE, SCOPE_CREATE_RUNS, SCOPE_READ_RUNS, SCOPES,
};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::store::{Role, Store, StoreError};

/// The id of the admin token among the API tokens (the audit log and a run's history name it).
pub const ADMIN_TOKEN_ID: &str = "admin_token";

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What `Authorization` says, if the request has that header: `Some(None)` for anything but a
/// `Bearer` token, `Some(Some(token))` (trimmed) for one.
pub fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim),
    )
}

/// Whether `token` hashes to `hash`, compared in constant time.
pub fn matches(token: &str, hash: &[u8; 32]) -> bool {
    common::sign::constant_time_eq(&token_hash(token), hash)
}

/// One thing a token may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ReadRuns,
    CreateRuns,
    Approve,
    Admin,
}

impl Scope {
    const ALL: [Scope; 4] = [
        Scope::ReadRuns,
        Scope::CreateRuns,
        Scope::Approve,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadRuns => SCOPE_READ_RUNS,
            Scope::CreateRuns => SCOPE_CREATE_RUNS,
            Scope::Approve => SCOPE_APPROVE,
            Scope::Admin => SCOPE_ADMIN,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The least role that may hold the scope.
    pub fn role(self) -> Role {
        match self {
            Scope::ReadRuns => Role::Viewer,
            Scope::CreateRuns | Scope::Approve => Role::Operator,
            Scope::Admin => Role::Admin,
        }
    }
}

/// The scopes of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: the admin token's.
    pub const ALL: Scopes = Scopes(0b1111);

    /// Parses scope names; unknown ones are an error naming them.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut out = Scopes::default();
        for name in names {
            let name = name.as_ref();
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| {
                    format!("unknown scope {name:?}: scopes are {}", SCOPES.join(", "))
                })?;
            out.0 |= scope.bit();
        }
        Ok(out)
    }

    /// The scopes of a stored token; a name this build does not know grants nothing.
    pub fn of(info: &ApiTokenInfo) -> Self {
        let mut out = Scopes::default();
        for name in &info.scopes {
            if let Ok(s) = Scopes::parse(&[name]) {
                out.0 |= s.0;
            }
        }
        out
    }

    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every scope of `self` is also in `other`.
    pub fn within(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes a person of `role` may give a token.
    pub fn for_role(role: Role) -> Self {
        Scopes(
            Scope::ALL
                .into_iter()
                .filter(|s| s.role() <= role)
                .fold(0, |acc, s| acc | s.bit()),
        )
    }

    /// The names, in the API's order.
    pub fn names(self) -> Vec<String> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.has(*s))
            .map(|s| s.as_str().to_string())
            .collect()
    }
}

/// The `meta` key holding the hash of the admin token whose first use is in the audit log (by
/// releases before the admin token was one of the API tokens).
const ADMIN_TOKEN_USED_KEY: &str = "admin_token_used";

/// Makes the admin token (its hash: configured, stored by an earlier release, or made on this
/// start) the API token `admin_token` of the first admin, with every scope and no expiry, and
/// gives the tokens without a person (made before tokens had one) to the first admin too. A
/// token already there with the same hash is left as it is, revoked or not: revoking the admin
/// token holds until it is rotated or another one is configured. `true` if the admin token
/// was (re)placed on this start.
pub async fn adopt_admin_token(
    store: &dyn Store,
    hash: [u8; 32],
    first_admin: &str,
) -> Result<bool, StoreError> {
    let claimed = store.claim_api_tokens(first_admin.to_string()).await?;
    if claimed > 0 {
        tracing::info!(tokens = claimed, person = %first_admin, "API tokens given to the first admin");
    }
    let current = store.api_token(hash).await?;
    if current.as_ref().is_some_and(|t| t.id == ADMIN_TOKEN_ID) {
        return Ok(false);
    }
    let used_before = store.get_meta(ADMIN_TOKEN_USED_KEY.into()).await? == Some(hex::encode(hash));
    let now = now_ms();
    let info = ApiTokenInfo {
        id: ADMIN_TOKEN_ID.into(),
        name: "admin token".into(),
        person_id: first_admin.to_string(),
        scopes: Scopes::ALL.names(),
        created_at: now,
        expires_at: None,
        first_used_at: used_before.then_some(now),
        revoked: false,
    };
    match store.put_api_token(info, hash).await {
        Ok(()) => Ok(true),
        // Another gateway on this database placed it at the same moment.
        Err(StoreError::Conflict)
            if store
                .api_token(hash)
                .await?
                .is_some_and(|t| t.id == ADMIN_TOKEN_ID) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_are_read_and_matched_by_hash() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        for (value, want) in [
            ("Bearer abc", Some("abc")),
            ("Bearer  abc ", Some("abc")),
            ("bearer abc", None),
            ("Basic YTpi", None),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&h), Some(want), "{value}");
        }
        assert!(matches("abc", &token_hash("abc")));
        assert!(!matches("abd", &token_hash("abc")));
    }

    #[test]
    fn scopes_parse_and_are_capped_by_role() {
        let read = Scopes::parse(&["read_runs"]).unwrap();
        let both = Scopes::parse(&["create_runs", "read_runs"]).unwrap();
        assert!(read.has(Scope::ReadRuns) && !read.has(Scope::CreateRuns));
        assert!(read.within(both) && !both.within(read));
        assert!(Scopes::parse(&["root"]).unwrap_err().contains("root"));
        assert!(Scopes::parse::<&str>(&[]).unwrap().is_empty());
        assert_eq!(Scopes::for_role(Role::Viewer), read);
        assert_eq!(
            Scopes::for_role(Role::Operator).names(),
            ["read_runs", "create_runs", "approve"]
        );
        assert_eq!(Scopes::for_role(Role::Admin), Scopes::ALL);
        assert_eq!(Scopes::ALL.names(), SCOPES);
    }
}
