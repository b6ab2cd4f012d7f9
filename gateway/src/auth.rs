//! Who may call what: runner signatures (HMAC over the canonical string, the timestamp window)
//! and the admin token. Handlers of signed routes do not call this directly: they take a
//! [`crate::signed::Signed`] extractor, which runs these checks in their order.

use axum::http::{HeaderMap, Method, Uri};
use common::sign::{self, AuthReason, SignedParts};
use sha2::{Digest, Sha256};

use crate::clock::now_secs;
use crate::error::ApiError;
use crate::state::AppState;

/// What a verified runner request is allowed to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Signed with the shared `HMAC_SECRET` (no run).
    Shared,
    /// Signed with the key of this run.
    Run(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or(ApiError::Unauthorized(AuthReason::MissingHeader))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized(AuthReason::MalformedHeader))
}

/// A runner request whose headers, timestamp and key passed the cheap checks; its body has not
/// been read yet. [`crate::signed::Signed`] reads the body only after [`begin_runner`], so an
/// unauthenticated client cannot make the gateway buffer a large body, then calls
/// [`RunnerCheck::verify`].
#[derive(Debug)]
pub struct RunnerCheck {
    timestamp: i64,
    nonce: String,
    run_id: String,
    signature: String,
    key: Vec<u8>,
    caller: Caller,
}

/// Headers well-formed, timestamp inside the window, and the key of the named run (or the
/// shared secret). Nothing is recorded yet.
pub async fn begin_runner(state: &AppState, headers: &HeaderMap) -> Result<RunnerCheck, ApiError> {
    let ts_raw = header(headers, sign::HEADER_TIMESTAMP)?;
    let nonce = header(headers, sign::HEADER_NONCE)?;
    let run_id = header(headers, sign::HEADER_RUN).unwrap_or("");
    let signature = header(headers, sign::HEADER_SIGNATURE)?;
    let timestamp: i64 = ts_raw
        .trim()
        .parse()
        .map_err(|_| ApiError::Unauthorized(AuthReason::MalformedHeader))?;
    if !sign::valid_nonce(nonce) {
        return Err(ApiError::Unauthorized(AuthReason::MalformedHeader));
    }
    sign::check_timestamp(now_secs(), timestamp).map_err(ApiError::Unauthorized)?;

    let (key, caller): (Vec<u8>, Caller) = if run_id.is_empty() {
        (
            state.hmac_secret.expose().as_bytes().to_vec(),
            Caller::Shared,
        )
    } else {
        if !common::wire::valid_run_id(run_id) {
            return Err(ApiError::Unauthorized(AuthReason::UnknownRun));
        }
        let run = state
            .store
            .run(run_id.to_string())
            .await?
            .ok_or(ApiError::Unauthorized(AuthReason::UnknownRun))?;
        (run.key.to_vec(), Caller::Run(run_id.to_string()))
    };
    Ok(RunnerCheck {
        timestamp,
        nonce: nonce.to_string(),
        run_id: run_id.to_string(),
        signature: signature.to_string(),
        key,
        caller,
    })
}

impl RunnerCheck {
    /// The signature over the received bytes, in constant time, and the window once more (reading
    /// a slow body must not stretch it). The nonce is not recorded here: the caller records it
    /// only now that the request is known genuine, so a forged request can neither use up a
    /// genuine nonce nor fill the record.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        body: &[u8],
    ) -> Result<crate::replay::Claim, ApiError> {
        let parts = SignedParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            run_id: &self.run_id,
            timestamp: self.timestamp,
            nonce: &self.nonce,
            body,
        };
        sign::verify(&self.key, &parts, &self.signature).map_err(ApiError::Unauthorized)?;
        let now = now_secs();
        sign::check_timestamp(now, self.timestamp).map_err(ApiError::Unauthorized)?;
        Ok(crate::replay::Claim::new(&self.nonce, self.timestamp, now))
    }

    /// Who signed: the shared secret or a run's key (the run is known to exist).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The run the request names, if any (known to exist).
    pub fn run_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Run(id) => Some(id),
            Caller::Shared => None,
        }
    }
}

/// SHA-256 of an admin token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Admit `Authorization: Bearer <admin token>` (checked against the stored hash, in constant
/// time) or, without that header, the web UI's session cookie. The one gate of the admin API; the
/// CSRF guard (`session::csrf_guard`) has already checked state-changing cookie requests.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(authorization) = headers.get(axum::http::header::AUTHORIZATION) else {
        return if crate::session::authenticated(state, headers) {
            Ok(())
        } else {
            Err(ApiError::AdminRequired)
        };
    };
    let presented = authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::AdminRequired)?;
    let hash = token_hash(presented.trim());
    if sign::constant_time_eq(&hash, &state.admin_token_hash) {
        Ok(())
    } else {
        Err(ApiError::AdminRequired)
    }
}
