//! Request bodies: read whole within a size limit and a time limit, in bounded numbers at once,
//! and parsed as JSON with a clear error.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Read a body of at most `limit` bytes, answering 413 past it.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    // A client that trickles its body does not hold a slot and its memory forever.
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|_| ApiError::TooLarge { limit }),
        Err(_) => Err(ApiError::BodyTimeout),
    }
}

/// Longest a client may take to send a request body.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How many large bodies are read at once. A request waits for a slot only after its headers,
/// timestamp and run passed [`crate::auth::runner::begin_runner`], and holds it until it is
/// answered, so parallel uploads bound the memory they can take instead of exhausting it.
#[derive(Debug)]
pub struct BodySlots {
    /// Ingest batches (≤ 4 MiB each): 64 × 4 MiB at most.
    pub ingest: Arc<Semaphore>,
    /// Artifacts (≤ 32 MiB each): 4 × 32 MiB at most.
    pub artifacts: Arc<Semaphore>,
}

impl Default for BodySlots {
    fn default() -> Self {
        Self {
            ingest: Arc::new(Semaphore::new(64)),
            artifacts: Arc::new(Semaphore::new(4)),
        }
    }
}

/// Wait for one of `slots`; the slot is given back when the permit is dropped.
pub(crate) async fn take_slot(slots: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::Internal("body slots closed".into()))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid here: {e}"))
    })
}
