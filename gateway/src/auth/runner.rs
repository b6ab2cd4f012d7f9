//! A runner's signature: the headers, the timestamp window and the key of the named run, checked
//! before any body byte is read ([`begin_runner`]), then the HMAC over the canonical string of
//! the bytes received ([`RunnerCheck::verify`]). Handlers do not call this: they take a
//! [`super::Signed`] extractor, which runs these checks in their order.

use axum::http::{HeaderMap, Method, Uri};
use common::Secret;
use common::sign::{self, AuthReason, SignedParts};

use super::replay::Claim;
use super::run_keys::RunKeys;
use crate::clock::now_secs;
use crate::error::ApiError;
use crate::store::Store;

/// What a verified runner request is allowed to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Signed with the shared `HMAC_SECRET` (no run).
    Shared,
    /// Signed with the key of this run.
    Run(String),
    /// Signed with the own key of this agent (`X-Runner-Run: agent:<id>`), enrolled and not
    /// revoked.
    Agent(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or(ApiError::Unauthorized(AuthReason::MissingHeader))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized(AuthReason::MalformedHeader))
}

/// A runner request whose headers, timestamp and key passed the cheap checks; its body has not
/// been read yet. [`super::Signed`] reads the body only after [`begin_runner`], so an
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
/// shared secret), from `run_keys` when it was read there recently. Nothing is recorded yet.
pub async fn begin_runner(
    hmac_secret: &Secret,
    store: &dyn Store,
    run_keys: &RunKeys,
    headers: &HeaderMap,
) -> Result<RunnerCheck, ApiError> {
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
        (hmac_secret.expose().as_bytes().to_vec(), Caller::Shared)
    } else if let Some(agent_id) = run_id.strip_prefix(common::agents::AGENT_CALLER_PREFIX) {
        if !common::wire::valid_run_id(agent_id) {
            return Err(ApiError::Unauthorized(AuthReason::UnknownAgent));
        }
        let agent = store
            .agent(agent_id.to_string())
            .await?
            .ok_or(ApiError::Unauthorized(AuthReason::UnknownAgent))?;
        if agent.summary.revoked {
            return Err(ApiError::Unauthorized(AuthReason::AgentRevoked));
        }
        (agent.key.to_vec(), Caller::Agent(agent_id.to_string()))
    } else {
        if !common::wire::valid_run_id(run_id) {
            return Err(ApiError::Unauthorized(AuthReason::UnknownRun));
        }
        let key = match run_keys.get(run_id) {
            Some(key) => key,
            None => {
                let run = store
                    .run(run_id.to_string())
                    .await?
                    .ok_or(ApiError::Unauthorized(AuthReason::UnknownRun))?;
                run_keys.put(run_id, run.key);
                run.key
            }
        };
        (key.to_vec(), Caller::Run(run_id.to_string()))
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
    pub fn verify(&self, method: &Method, uri: &Uri, body: &[u8]) -> Result<Claim, ApiError> {
        self.verify_hashed(method, uri, &sign::sha256_hex(body))
    }

    /// [`Self::verify`] for a body streamed elsewhere, by its SHA-256 (lower-case hex).
    pub fn verify_hashed(
        &self,
        method: &Method,
        uri: &Uri,
        body_sha256: &str,
    ) -> Result<Claim, ApiError> {
        let parts = SignedParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            run_id: &self.run_id,
            timestamp: self.timestamp,
            nonce: &self.nonce,
            body: &[],
        };
        sign::verify_hashed(&self.key, &parts, body_sha256, &self.signature)
            .map_err(ApiError::Unauthorized)?;
        let now = now_secs();
        sign::check_timestamp(now, self.timestamp).map_err(ApiError::Unauthorized)?;
        Ok(Claim::new(&self.nonce, self.timestamp, now))
    }

    /// Who signed: the shared secret or a run's key (the run is known to exist).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The run the request names, if any (known to exist).
    pub fn run_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Run(id) => Some(id),
            Caller::Shared | Caller::Agent(_) => None,
        }
    }
}
