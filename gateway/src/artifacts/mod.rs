//! Artifact bodies, for every store backend: kept in the database beside their metadata (the
//! default), or in S3-compatible object storage when `ARTIFACT_STORE` names a bucket
//! ([`objects`]). Metadata (run, name, size, SHA-256, time) is always the store's.
//!
//! An upload is received as a stream: hashed as it arrives, held (database bodies, and object
//! bodies up to one part) or passed on as the parts of a multipart upload, and kept only after
//! the caller has verified the request's signature over the hash ([`Received::keep`]); an
//! upload that is not kept is aborted, so no unverified body ever becomes an object or a row. A
//! download is a stream too: from the object store, never whole in memory.

pub mod objects;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use common::wire::ArtifactInfo;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::http::body::BODY_READ_TIMEOUT;
use crate::store::{ArtifactBody, Store};

pub use objects::{Objects, ObjectsConfig};

/// Where new artifact bodies go.
#[derive(Debug, Clone, Default)]
pub enum Bodies {
    /// Into the database, as before object storage existed.
    #[default]
    Database,
    /// Into the bucket `ARTIFACT_STORE` names.
    Objects(Arc<Objects>),
}

/// An upload read to its end and hashed, not kept yet.
#[derive(Debug)]
pub struct Received {
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes received.
    pub sha256: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// The whole body, for the database.
    Database(Vec<u8>),
    /// On its way to the object store (or failed there).
    Object(objects::Pending),
}

impl Bodies {
    /// Reads `body` (an upload of `name` to `run_id`) to its end within `limit` bytes and
    /// [`BODY_READ_TIMEOUT`], hashing it. Larger than `limit`: `413`; slower: `408`; an object
    /// store that fails meanwhile is reported by [`Received::keep`], after the signature, so a
    /// forged request learns nothing of it.
    pub async fn receive(
        &self,
        body: Body,
        limit: usize,
        run_id: &str,
        name: &str,
    ) -> Result<Received, ApiError> {
        match self {
            Bodies::Database => {
                let bytes = tokio::time::timeout(BODY_READ_TIMEOUT, async {
                    let mut stream = body.into_data_stream();
                    let mut bytes = Vec::new();
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|_| incomplete())?;
                        if bytes.len() + chunk.len() > limit {
                            return Err(ApiError::TooLarge { limit });
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(bytes)
                })
                .await
                .map_err(|_| ApiError::BodyTimeout)??;
                Ok(Received {
                    size: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                    held: Held::Database(bytes),
                })
            }
            Bodies::Objects(objects) => objects.receive(body, limit, run_id, name).await,
        }
    }

    /// The artifact `name` of `run_id` and its body as a stream; `None` if there is none.
    pub async fn open(
        &self,
        store: &dyn Store,
        run_id: String,
        name: String,
    ) -> Result<Option<(ArtifactInfo, Body)>, ApiError> {
        let Some((info, body)) = store.artifact(run_id, name).await? else {
            return Ok(None);
        };
        let body = match (body, self) {
            (ArtifactBody::Inline(bytes), _) => Body::from(Bytes::from(bytes)),
            (ArtifactBody::Object(key), Bodies::Objects(objects)) => objects.read(&key).await?,
            (ArtifactBody::Object(_), Bodies::Database) => {
                return Err(ApiError::Busy {
                    reason: "artifact_store_unavailable",
                    message: "this artifact is kept in object storage, which this gateway is not \
                              configured for (ARTIFACT_STORE)"
                        .into(),
                    retry_after: 60,
                });
            }
        };
        Ok(Some((info, body)))
    }

    /// Asks the object store's deleter to look at the deletion queue now (after a run was
    /// deleted); nothing for database bodies.
    pub fn deleted(&self) {
        if let Bodies::Objects(objects) = self {
            objects.wake();
        }
    }
}

/// A body that broke off: the client went away.
pub(crate) fn incomplete() -> ApiError {
    ApiError::bad_request("body_incomplete", "the body ended before its end")
}

impl Received {
    /// Keeps the body as the artifact `name` of `run_id`: the database row, or the object
    /// written (the multipart upload completed) and then its row. Answered only once both are
    /// durable; an object store that failed is a `503` and nothing is recorded.
    pub async fn keep(
        self,
        store: &dyn Store,
        run_id: String,
        name: String,
        created_at: i64,
    ) -> Result<ArtifactInfo, ApiError> {
        match self.held {
            Held::Database(bytes) => {
                Ok(store.put_artifact(run_id, name, bytes, created_at).await?)
            }
            Held::Object(pending) => {
                let info = ArtifactInfo {
                    name,
                    size: self.size,
                    sha256: self.sha256,
                    created_at,
                };
                pending.keep(store, run_id, info).await
            }
        }
    }

    /// Lets the body go: an unfinished multipart upload is aborted.
    pub async fn discard(self) {
        if let Held::Object(pending) = self.held {
            pending.abort().await;
        }
    }
}
