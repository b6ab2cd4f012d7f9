//! A runner-signed request as an axum extractor: the one way a handler of a signed route gets
//! at its caller and its body.
//!
//! [`Signed<R>`] runs the checks of PROTOCOL.md §2 in their order: headers, timestamp window,
//! the run and its key, the run the path names, the route's own checks of its request line; only
//! then does it wait for a body slot and read the body (bounded); then the signature over the
//! bytes received, and the nonce. A handler never sees the raw body of a signed route, so it
//! cannot read a byte before the caller is known; the route's [`SignedRoute`] says which key
//! signs it and what body it takes. [`SignedUpload<R>`] (the artifact upload) runs the same
//! checks before the body, then hands the body over as a stream and checks the signature over
//! its hash when the handler has read it, before the handler keeps any of it.

use std::marker::PhantomData;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};
use common::sign::AuthReason;
use tokio::sync::OwnedSemaphorePermit;

use super::replay::{self, Claim};
use super::runner::{Caller, RunnerCheck, begin_runner};
use crate::error::ApiError;
use crate::http::{read_body, take_slot};
use crate::state::AppState;
use crate::store::Nonce;

/// Which key signs a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `HMAC_SECRET` itself (`X-Runner-Run` empty).
    Shared,
    /// A run's `K_run`. When the path names a run (`{id}`), it must be that run.
    Run,
    /// Either of the two above.
    Either,
    /// An enrolled agent's own key (`X-Runner-Run: agent:<id>`).
    Agent,
}

/// What body a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// None: the signature covers the empty body (a `GET`).
    Empty,
    /// A small JSON document (`max_json_bytes`).
    Json,
    /// An ingest batch (`max_ingest_bytes`, an ingest slot). Its nonce is not recorded by the
    /// extractor but handed to the handler, which commits it with the batch.
    Ingest,
}

/// How a signed route is called.
pub trait SignedRoute: Send + Sync + 'static {
    const KEY: Key;
    const BODY: BodyKind;

    /// Checks of the request line (path, query) made before the body is read; `run` is the
    /// signing run, if any.
    fn precheck(_parts: &Parts, _run: Option<&str>) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A verified runner request to route `R`: its caller and its body.
pub struct Signed<R> {
    caller: Caller,
    body: Bytes,
    /// Only for [`BodyKind::Ingest`]: the nonce to record with the batch.
    nonce: Option<Nonce>,
    /// The body slot, held until the handler is done.
    _slot: Option<OwnedSemaphorePermit>,
    _route: PhantomData<R>,
}

impl<R> std::fmt::Debug for Signed<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("caller", &self.caller)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl<R> Signed<R> {
    /// The body, verified by the signature.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The run whose key signed the request; `None` for the shared secret or an agent.
    pub fn run_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Run(id) => Some(id),
            Caller::Shared | Caller::Agent(_) => None,
        }
    }

    /// The agent whose key signed the request, for a [`Key::Agent`] route.
    pub fn agent_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Agent(id) => Some(id),
            Caller::Shared | Caller::Run(_) => None,
        }
    }
}

impl<R: SignedRoute> Signed<R> {
    /// The nonce an ingest handler commits with its batch (`None` for every other route: the
    /// extractor has recorded it).
    pub fn batch_nonce(&self) -> Option<Nonce> {
        self.nonce
    }
}

/// The run a path names (`{id}`), if the route has one.
async fn path_run(parts: &mut Parts, state: &AppState) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params
        .iter()
        .find(|(name, _)| *name == "id")
        .map(|(_, value)| value.to_string())
}

/// The checks before any body byte is read: headers, window, the run and its key, the key the
/// route takes, the run the path names, the route's own checks.
async fn before_body<R: SignedRoute>(
    parts: &mut Parts,
    state: &AppState,
) -> Result<RunnerCheck, ApiError> {
    let check = begin_runner(
        &state.hmac_secret,
        state.store.as_ref(),
        &state.run_keys,
        &parts.headers,
    )
    .await?;
    match (R::KEY, check.caller()) {
        // A run key cannot act for the shared secret (mint runs, say).
        (Key::Shared, Caller::Run(_)) => {
            return Err(ApiError::Unauthorized(AuthReason::BadSignature));
        }
        (Key::Run, Caller::Shared) => {
            return Err(ApiError::Unauthorized(AuthReason::UnknownRun));
        }
        // An agent's key acts only for the agent, and only an agent's key does.
        (Key::Agent, Caller::Agent(_)) => {}
        (Key::Agent, _) => return Err(ApiError::Unauthorized(AuthReason::UnknownAgent)),
        (_, Caller::Agent(_)) => {
            return Err(ApiError::Unauthorized(AuthReason::BadSignature));
        }
        _ => {}
    }
    if let (Some(signing), Some(named)) = (check.run_id(), path_run(parts, state).await)
        && signing != named
    {
        return Err(ApiError::bad_request(
            "run_mismatch",
            "the path names a different run than X-Runner-Run",
        ));
    }
    R::precheck(parts, check.run_id())?;
    Ok(check)
}

impl<R: SignedRoute> FromRequest<AppState> for Signed<R> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let check = before_body::<R>(&mut parts, state).await?;
        let limits = &state.limits;
        let (slot, bytes) = match R::BODY {
            BodyKind::Empty => (None, Bytes::new()),
            BodyKind::Json => (
                None,
                read_body(body, &parts.headers, limits.max_json_bytes).await?,
            ),
            BodyKind::Ingest => {
                let slot = take_slot(&state.body_slots.ingest).await?;
                let bytes = read_body(body, &parts.headers, limits.max_ingest_bytes).await?;
                (Some(slot), bytes)
            }
        };
        let claim: Claim = check.verify(&parts.method, &parts.uri, &bytes)?;
        let nonce = if R::BODY == BodyKind::Ingest {
            replay::check_front(&state.nonces, &claim)?;
            Some(claim.stored())
        } else {
            replay::record(&state.nonces, state.store.as_ref(), &claim).await?;
            None
        };
        Ok(Self {
            caller: check.caller().clone(),
            body: bytes,
            nonce,
            _slot: slot,
            _route: PhantomData,
        })
    }
}

/// A runner-signed upload whose body is read as a stream ([`SignedUpload::take_body`]): the
/// caller is checked before, as for [`Signed`], and an upload slot taken; the signature over
/// the body's hash is checked by [`SignedUpload::verify`], which the handler must pass before
/// it keeps anything of the body (`crate::artifacts` holds it, or sends it only as parts of a
/// multipart upload that becomes an object when completed, after `verify`).
pub struct SignedUpload<R> {
    check: RunnerCheck,
    method: Method,
    uri: Uri,
    body: Option<Body>,
    slot: OwnedSemaphorePermit,
    _route: PhantomData<R>,
}

impl<R> std::fmt::Debug for SignedUpload<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUpload")
            .field("caller", self.check.caller())
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl<R> SignedUpload<R> {
    /// The run whose key signed the request (known to exist; not yet verified).
    pub fn run_id(&self) -> Option<&str> {
        self.check.run_id()
    }

    /// The body, once; empty after.
    pub fn take_body(&mut self) -> Body {
        self.body.take().unwrap_or_else(Body::empty)
    }

    /// The signature over a body whose SHA-256 (lower-case hex) is `body_sha256`, then the
    /// nonce, recorded only now that the request is known genuine. Answers the upload slot, to
    /// hold until the body is kept.
    pub async fn verify(
        self,
        state: &AppState,
        body_sha256: &str,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        let claim = self
            .check
            .verify_hashed(&self.method, &self.uri, body_sha256)?;
        replay::record(&state.nonces, state.store.as_ref(), &claim).await?;
        Ok(self.slot)
    }
}

impl<R: SignedRoute> FromRequest<AppState> for SignedUpload<R> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let check = before_body::<R>(&mut parts, state).await?;
        let limit = state.limits.max_artifact_bytes;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::TooLarge { limit });
        }
        let slot = take_slot(&state.body_slots.artifacts).await?;
        Ok(Self {
            check,
            method: parts.method,
            uri: parts.uri,
            body: Some(body),
            slot,
            _route: PhantomData,
        })
    }
}

/// `GET /api/runner/ping`: either key, no body.
#[derive(Debug)]
pub struct Ping;
impl SignedRoute for Ping {
    const KEY: Key = Key::Either;
    const BODY: BodyKind = BodyKind::Empty;
}

/// A call outside a run with a JSON body (`POST /api/runner/runs`).
#[derive(Debug)]
pub struct SharedJson;
impl SignedRoute for SharedJson {
    const KEY: Key = Key::Shared;
    const BODY: BodyKind = BodyKind::Json;
}

/// A call about the run in the path, no body (the command poll, the assist state).
#[derive(Debug)]
pub struct RunRead;
impl SignedRoute for RunRead {
    const KEY: Key = Key::Run;
    const BODY: BodyKind = BodyKind::Empty;
}

/// A call about the run in the path with a JSON body (a command ack, an assist link).
#[derive(Debug)]
pub struct RunJson;
impl SignedRoute for RunJson {
    const KEY: Key = Key::Run;
    const BODY: BodyKind = BodyKind::Json;
}

/// `POST /api/ingest/event`.
#[derive(Debug)]
pub struct Ingest;
impl SignedRoute for Ingest {
    const KEY: Key = Key::Run;
    const BODY: BodyKind = BodyKind::Ingest;
}

/// An agent's call without a body (the assignment poll).
#[derive(Debug)]
pub struct AgentRead;
impl SignedRoute for AgentRead {
    const KEY: Key = Key::Agent;
    const BODY: BodyKind = BodyKind::Empty;
}

/// An agent's call with a JSON body (a heartbeat).
#[derive(Debug)]
pub struct AgentJson;
impl SignedRoute for AgentJson {
    const KEY: Key = Key::Agent;
    const BODY: BodyKind = BodyKind::Json;
}
