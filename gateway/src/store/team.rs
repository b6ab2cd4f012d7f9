//! The store's types for a team: people with a role, the invitations that bring new ones in, and
//! the audit log of what they did. The methods are [`super::Store`]'s.

use std::fmt;

/// What a person may do. Ordered: each role may do everything the one below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads runs, transcripts and artifacts.
    Viewer,
    /// Also starts runs, sends prompts and commands, decides permission requests, stops runs.
    Operator,
    /// Also manages people, invitations and everything else of the gateway.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown role {s:?}: viewer, operator or admin expected"
            ))
        })
    }
}

/// A person who may sign in.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// `p_…`, never reused.
    pub id: String,
    /// Unique; what they sign in with.
    pub name: String,
    pub role: Role,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms when an admin disabled them; a disabled person cannot sign in and has no session.
    pub disabled_at: Option<i64>,
    /// PHC string of the Argon2id hash of their password; `None` for a person without one.
    pub password_hash: Option<String>,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .field("password_set", &self.password_hash.is_some())
            .finish()
    }
}

/// A one-time invitation: whoever holds its link may join once, as `name` with `role`, until it
/// expires. Kept by the SHA-256 of the link's token (never the token).
#[derive(Clone, PartialEq, Eq)]
pub struct Invitation {
    pub token_hash: [u8; 32],
    pub name: String,
    pub role: Role,
    /// The person (`p_…`) or token (`admin_token`) who made it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms after which it is refused.
    pub expires_at: i64,
}

impl fmt::Debug for Invitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invitation")
            .field("token_hash", &"********")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One line of the audit log: who did what, to what, from where. Kept for good: deleting a run
/// or a person leaves their lines.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Given by the store, ascending in the order lines were appended; 0 for a new line.
    pub id: u64,
    /// Unix ms.
    pub at: i64,
    /// Who: a person (`p_…`), `admin_token`, `runner` (the shared secret), or `anonymous` (a
    /// failed sign-in).
    pub actor_id: String,
    /// Their name as it was then.
    pub actor_name: String,
    /// What: `signed_in`, `run_started`, `prompt_sent`, … (PROTOCOL.md lists them).
    pub action: String,
    /// The run it concerns.
    pub run_id: Option<String>,
    /// Another thing it concerns: the person changed, the session ended, the command queued.
    pub target: Option<String>,
    /// What else there is to say, as a JSON object (a role's old and new value, a prompt's first
    /// words, a decision).
    pub detail: serde_json::Value,
    /// The client's address, as the connection saw it.
    pub source: Option<String>,
}

/// A person's passkey: the credential's id, public key and signature counter (nothing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: Vec<u8>,
    pub person_id: String,
    /// Public key and extensions, in `webauthn_rp`'s encoding.
    pub static_state: Vec<u8>,
    /// Signature counter and flags, in `webauthn_rp`'s encoding.
    pub dynamic_state: [u8; 7],
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last sign-in with it.
    pub last_used_at: Option<i64>,
}
