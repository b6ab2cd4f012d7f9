//! Passkeys (WebAuthn) as a way of signing in, with `webauthn_rp`: the registration and sign-in
//! ceremonies, their options for the browser and the checks of its answers. The relying party is
//! the gateway's public host (`localhost` in tests), and only its own origin is accepted.
//!
//! A ceremony's state (its challenge, options and expiry, `webauthn_rp`'s encoding) waits in the
//! store for five minutes at most, so that any gateway sharing the store can finish it: behind a
//! load balancer the browser's answer need not reach the replica that asked. The credential
//! itself (its public key and signature counter) is the store's too. Each person has one
//! WebAuthn user handle, derived from their id with a key of the gateway's (HMAC-SHA-512, the
//! 64 bytes WebAuthn allows): a sign-in names its person by it, and the gateway checks that it is
//! the handle of the person the credential belongs to. A counter that does not grow past the one
//! stored means a cloned authenticator: the sign-in is refused.

use std::time::UNIX_EPOCH;

use hmac::{Hmac, Mac};
use sha2::Sha512;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::{
    CredProtect, PublicKeyCredentialUserEntity, RegistrationVerificationOptions,
    USER_HANDLE_MAX_LEN, UserHandle64, Username,
};
use webauthn_rp::request::{AsciiDomain, DomainOrigin, ExtensionInfo, RpId, TimedCeremony};
use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication64, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, PublicKeyCredentialCreationOptions, Registration,
    RegistrationServerState,
};

use crate::error::ApiError;
use crate::store::Store;

/// Ceremonies waiting for their answer, at most, across the gateways sharing the store (each
/// lives five minutes).
const CEREMONIES: u64 = 1024;
/// Sign-ins one address may start per minute (at this gateway): starting one costs a write to
/// the store and needs no credentials, so a flood is cut off before it reaches the database.
/// Generous, for the many people a load balancer or a NAT shows as one address.
const SIGN_INS_PER_ADDRESS: u32 = 120;
/// The kinds of ceremony, as the store names them.
const REGISTRATION: &str = "registration";
const SIGN_IN: &str = "sign_in";

/// A passkey just registered: what the store keeps of it (public data only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    /// The credential's public key and extensions, `webauthn_rp`'s encoding.
    pub static_state: Vec<u8>,
    /// Its signature counter and flags, `webauthn_rp`'s encoding.
    pub dynamic_state: [u8; 7],
}

/// A sign-in's answer, read but not verified yet: the credential it names and the handle of the
/// person it says it is.
pub struct Assertion {
    answer: DiscoverableAuthentication64,
}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion").finish_non_exhaustive()
    }
}

impl Assertion {
    pub fn credential_id(&self) -> Vec<u8> {
        self.answer.raw_id().as_ref().to_vec()
    }
}

/// The relying party: the ceremonies in progress and what checks their answers.
pub struct Passkeys {
    rp_id: RpId,
    /// The page's origin (`https://localhost:3100`), the only one accepted.
    origin: String,
    /// Keys the user handles.
    handle_key: Vec<u8>,
    /// Sign-ins started lately, per client address.
    sign_in_starts: std::sync::Mutex<super::limiter::Limiter>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn refused(message: &'static str) -> ApiError {
    ApiError::bad_request("passkey_refused", message)
}

impl Passkeys {
    /// The relying party of the pages at `base_url` (`https://host[:port]`); `handle_key` keys the
    /// user handles (the gateway's HMAC secret). `None` when the host is not a domain name (an IP
    /// address cannot be a relying party).
    pub fn new(base_url: &str, handle_key: &[u8]) -> Option<Self> {
        let rest = base_url.split_once("://")?.1;
        let authority = rest.split('/').next()?;
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        };
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            return None;
        }
        let domain = AsciiDomain::try_from(host.to_ascii_lowercase()).ok()?;
        Some(Self {
            rp_id: RpId::Domain(domain),
            origin: base_url.trim_end_matches('/').to_string(),
            handle_key: handle_key.to_vec(),
            sign_in_starts: std::sync::Mutex::new(super::limiter::Limiter::with_limits(
                SIGN_INS_PER_ADDRESS,
                u32::MAX,
            )),
        })
    }

    /// The WebAuthn user handle of `person_id`: 64 bytes no one can guess or choose.
    pub fn user_handle(&self, person_id: &str) -> UserHandle64 {
        let mut mac =
            Hmac::<Sha512>::new_from_slice(&self.handle_key).expect("HMAC takes any key length");
        mac.update(b"gateway passkey user handle v1\n");
        mac.update(person_id.as_bytes());
        let bytes: [u8; 64] = mac.finalize().into_bytes().into();
        UserHandle64::decode(bytes).expect("64 bytes are a user handle")
    }

    /// Start registering a passkey for `person_id` named `name`: the options for
    /// `navigator.credentials.create()` (`PublicKeyCredentialCreationOptionsJSON`).
    pub async fn start_registration(
        &self,
        store: &dyn Store,
        person_id: &str,
        name: &str,
    ) -> Result<serde_json::Value, ApiError> {
        let handle = self.user_handle(person_id);
        let user = PublicKeyCredentialUserEntity {
            name: Username::try_from(name)
                .map_err(|_| refused("this name cannot name a passkey"))?,
            id: &handle,
            display_name: None,
        };
        let mut options =
            PublicKeyCredentialCreationOptions::passkey(&self.rp_id, user, Vec::new());
        // Ask authenticators that know credProtect to want user verification for this passkey,
        // without refusing those that do not (Chromium's own, among others): the sign-in
        // requires user verification anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| ApiError::Internal(format!("passkey registration options: {e}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|e| ApiError::Internal(format!("passkey registration options: {e}")))?;
        let state = server
            .encode()
            .map_err(|e| ApiError::Internal(format!("passkey registration state: {e}")))?;
        wait(store, &server, REGISTRATION, state).await?;
        Ok(options)
    }

    /// Check the browser's answer (`PublicKeyCredential.toJSON()`) to a registration started for
    /// `person_id`: the passkey to store.
    pub async fn finish_registration(
        &self,
        store: &dyn Store,
        person_id: &str,
        answer: &[u8],
    ) -> Result<NewPasskey, ApiError> {
        let registration = Registration::from_json_relaxed(answer)
            .map_err(|_| refused("the answer is not a passkey registration"))?;
        let challenge = registration
            .challenge_relaxed()
            .map_err(|_| refused("the answer has no challenge"))?;
        let server = store
            .take_ceremony(
                challenge.0.to_le_bytes(),
                REGISTRATION,
                crate::clock::now_ms(),
            )
            .await?
            .ok_or_else(|| {
                refused("no such registration is waiting (it expires after 5 minutes)")
            })?;
        let server = RegistrationServerState::<USER_HANDLE_MAX_LEN>::decode(server.as_slice())
            .map_err(|e| ApiError::Internal(format!("a stored passkey registration: {e}")))?;
        let origins = [DomainOrigin::try_from(self.origin.as_str())
            .map_err(|_| ApiError::Internal("the public URL is not an origin".into()))?];
        let options = RegistrationVerificationOptions::<DomainOrigin<'_, '_>, DomainOrigin<'_, '_>> {
            allowed_origins: &origins,
            ..Default::default()
        };
        let credential = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                refused("the passkey registration did not verify")
            })?;
        if credential.user_id() != &self.user_handle(person_id) {
            return Err(refused("the passkey was made for someone else"));
        }
        let static_state = credential
            .static_state()
            .encode()
            .map_err(|e| ApiError::Internal(format!("encode a passkey: {e:?}")))?;
        let dynamic_state = credential
            .dynamic_state()
            .encode()
            .map_err(|e| ApiError::Internal(format!("encode a passkey: {e:?}")))?;
        Ok(NewPasskey {
            credential_id: credential.id().as_ref().to_vec(),
            static_state,
            dynamic_state,
        })
    }

    /// Start a sign-in with any passkey of this gateway: the options for
    /// `navigator.credentials.get()` (`PublicKeyCredentialRequestOptionsJSON`).
    /// `Err(RateLimited)` past [`SIGN_INS_PER_ADDRESS`] a minute from `ip`.
    pub async fn start_sign_in(
        &self,
        store: &dyn Store,
        ip: Option<std::net::IpAddr>,
    ) -> Result<serde_json::Value, ApiError> {
        self.sign_in_starts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reserve(ip, crate::clock::now_ms())
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&self.rp_id)
            .start_ceremony()
            .map_err(|e| ApiError::Internal(format!("passkey sign-in options: {e}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|e| ApiError::Internal(format!("passkey sign-in options: {e}")))?;
        let state = server
            .encode()
            .map_err(|e| ApiError::Internal(format!("passkey sign-in state: {e}")))?;
        wait(store, &server, SIGN_IN, state).await?;
        Ok(options)
    }

    /// Read a sign-in's answer, to look its credential up.
    pub fn read_sign_in(&self, answer: &[u8]) -> Result<Assertion, ApiError> {
        DiscoverableAuthentication64::from_json_relaxed(answer)
            .map(|answer| Assertion { answer })
            .map_err(|_| refused("the answer is not a passkey sign-in"))
    }

    /// Verify a sign-in's answer against the stored passkey of `person_id`: the new counter
    /// state to store. Refused when the ceremony is unknown, the signature or origin is wrong,
    /// the handle is not the person's, or the counter did not grow (a cloned authenticator:
    /// `Err(Err(reason))` says so for the audit log).
    pub async fn finish_sign_in(
        &self,
        store: &dyn Store,
        assertion: &Assertion,
        person_id: &str,
        stored_static: &[u8],
        stored_dynamic: [u8; 7],
    ) -> Result<[u8; 7], SignInRefused> {
        let answer = &assertion.answer;
        let handle = self.user_handle(person_id);
        if answer.response().user_handle() != &handle {
            return Err(SignInRefused::NotTheirs);
        }
        let challenge = answer
            .challenge_relaxed()
            .map_err(|_| SignInRefused::Malformed)?;
        let server = store
            .take_ceremony(challenge.0.to_le_bytes(), SIGN_IN, crate::clock::now_ms())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "passkey sign-in: the store did not answer");
                SignInRefused::Store
            })?
            .ok_or(SignInRefused::NoCeremony)?;
        let server = DiscoverableAuthenticationServerState::decode(server.as_slice())
            .map_err(|_| SignInRefused::Stored)?;
        let static_state =
            StaticState::<CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>>::decode(
                stored_static,
            )
            .map_err(|_| SignInRefused::Stored)?;
        let dynamic_state =
            DynamicState::decode(stored_dynamic).map_err(|_| SignInRefused::Stored)?;
        let mut credential =
            AuthenticatedCredential::new(answer.raw_id(), &handle, static_state, dynamic_state)
                .map_err(|_| SignInRefused::Stored)?;
        let origins =
            [DomainOrigin::try_from(self.origin.as_str()).map_err(|_| SignInRefused::Stored)?];
        let options =
            AuthenticationVerificationOptions::<DomainOrigin<'_, '_>, DomainOrigin<'_, '_>> {
                allowed_origins: &origins,
                ..Default::default()
            };
        match server.verify(&self.rp_id, answer, &mut credential, &options) {
            Ok(_) => credential
                .dynamic_state()
                .encode()
                .map_err(|_| SignInRefused::Stored),
            Err(AuthCeremonyErr::SignatureCounter) => Err(SignInRefused::Cloned),
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                Err(SignInRefused::Invalid)
            }
        }
    }
}

/// Puts a ceremony in the store until its answer comes or it expires.
async fn wait<C: TimedCeremony>(
    store: &dyn Store,
    ceremony: &C,
    kind: &'static str,
    state: Vec<u8>,
) -> Result<(), ApiError> {
    let expires_at = ceremony
        .expiration()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let challenge = ceremony.sent_challenge().0.to_le_bytes();
    if store
        .create_ceremony(challenge, kind, state, expires_at, CEREMONIES)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::Busy {
            reason: "passkey_ceremonies",
            message: "too many passkey ceremonies at once; try again".into(),
            retry_after: 5,
        })
    }
}

/// Why a passkey sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    Malformed,
    NoCeremony,
    NotTheirs,
    /// The stored passkey or ceremony could not be read.
    Stored,
    /// The store did not answer.
    Store,
    Invalid,
    /// The signature counter did not grow: the credential has been copied.
    Cloned,
}

impl SignInRefused {
    /// The reason, as the audit log names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInRefused::Malformed => "malformed",
            SignInRefused::NoCeremony => "no_ceremony",
            SignInRefused::NotTheirs => "not_theirs",
            SignInRefused::Stored => "stored_passkey_unreadable",
            SignInRefused::Store => "store_unavailable",
            SignInRefused::Invalid => "invalid",
            SignInRefused::Cloned => "cloned_credential",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_host() {
        let p = Passkeys::new("https://localhost:3100", b"key").unwrap();
        assert_eq!(p.origin, "https://localhost:3100");
        assert!(Passkeys::new("https://gw.example.com", b"key").is_some());
        assert!(
            Passkeys::new("https://127.0.0.1:3100", b"key").is_none(),
            "an address is no RP id"
        );
        assert_eq!(p.user_handle("p_1"), p.user_handle("p_1"));
        assert_ne!(p.user_handle("p_1"), p.user_handle("p_2"));
        let other = Passkeys::new("https://localhost:3100", b"another key").unwrap();
        assert_ne!(p.user_handle("p_1"), other.user_handle("p_1"));
    }

    #[tokio::test]
    async fn options_are_webauthn_json_and_answers_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let p = Passkeys::new("https://localhost:3100", b"key").unwrap();
        let create = p.start_registration(&store, "p_1", "ada").await.unwrap();
        assert_eq!(create["rp"]["id"], "localhost", "{create}");
        assert_eq!(create["user"]["name"], "ada");
        assert!(create["challenge"].is_string());
        let get = p.start_sign_in(&store, None).await.unwrap();
        assert_eq!(get["rpId"], "localhost", "{get}");
        assert!(p.finish_registration(&store, "p_1", b"{}").await.is_err());
        assert!(p.read_sign_in(b"not json").is_err());
    }
}
