//! Artifact bodies in S3-compatible object storage (`ARTIFACT_STORE=s3://bucket/prefix`), through
//! `object_store` over the gateway's own reqwest, rustls and ring.
//!
//! Each upload gets a fresh key, `<prefix>/<run>/<32 random hex digits>-<name>`, so a
//! replacement never overwrites the body a reader may be streaming, and a failed replacement
//! leaves the stored artifact as it was. A body up to [`PART_BYTES`] is held and written with
//! one `PUT` once the signature verified; a longer one goes out as a multipart upload, at most
//! [`PARTS_IN_FLIGHT`] parts at a time while more arrives, and is completed (becomes an object)
//! only after the signature verified, else aborted. Memory per upload stays under
//! `(PARTS_IN_FLIGHT + 1) × PART_BYTES`, whatever the artifact's size.
//!
//! Objects nobody needs any more are deleted from the store's deletion queue
//! ([`Objects::sweep`]): a key is queued before its upload is completed (due after
//! [`ORPHAN_GRACE`], so the object of an upload whose process died before recording it goes
//! too) and taken off when the artifact is recorded; the store queues, due at once, the body of
//! every artifact deleted or replaced.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use axum::body::{Body, Bytes};
use common::Secret;
use common::wire::ArtifactInfo;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{Held, Received};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::body::BODY_READ_TIMEOUT;
use crate::store::{Store, StoreError};

/// A multipart upload's part size; a body up to this size is written with one `PUT`. S3's
/// smallest part (but the last) is 5 MiB.
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of one upload on their way at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// How long after an upload began its object may be deleted if it was never recorded: far
/// longer than an upload can take ([`BODY_READ_TIMEOUT`] to read the body, then one request).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60 * 60);
/// How often the deleter looks at the deletion queue when nothing wakes it.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Keys deleted per round.
const SWEEP_BATCH: usize = 256;
/// Seconds a client is asked to wait after the object store failed.
const RETRY_AFTER: u64 = 5;

/// `ARTIFACT_STORE` and the AWS variables it is read with.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectsConfig {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// `AWS_ENDPOINT_URL`: an S3-compatible server; unset: AWS itself.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`); unset: the
    /// instance's role (EC2 instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// `AWS_ALLOW_HTTP=true`: an `http://` endpoint is accepted (a local server).
    pub allow_http: bool,
}

/// Names the bucket and endpoint, never a key.
impl fmt::Debug for ObjectsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectsConfig")
            .field("store", &self.to_string())
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ObjectsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl ObjectsConfig {
    /// `ARTIFACT_STORE` (unset or empty: bodies stay in the database) with the AWS variables;
    /// `get` reads a setting through the gateway's layers.
    pub fn resolve(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        let Some(url) = get("ARTIFACT_STORE").filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let (bucket, prefix) =
            parse_url(url.trim()).with_context(|| format!("ARTIFACT_STORE {url:?}"))?;
        let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let allow_http = match set("AWS_ALLOW_HTTP") {
            None => false,
            Some(v) => {
                common::settings::parse_bool(&v).context("AWS_ALLOW_HTTP must be true or false")?
            }
        };
        let endpoint = set("AWS_ENDPOINT_URL").map(|e| e.trim().trim_end_matches('/').to_string());
        if let Some(e) = &endpoint {
            let url = url::Url::parse(e)
                .with_context(|| format!("AWS_ENDPOINT_URL {e:?} is not a URL"))?;
            match url.scheme() {
                "https" => {}
                "http" if allow_http => {}
                "http" => bail!(
                    "AWS_ENDPOINT_URL {e:?} is plain HTTP: artifacts and request signatures would travel \
                     unencrypted; use https://, or set AWS_ALLOW_HTTP=true for a server on this machine"
                ),
                other => bail!("AWS_ENDPOINT_URL {e:?} must be https:// (not {other}:)"),
            }
        }
        let access_key_id = set("AWS_ACCESS_KEY_ID");
        let secret_access_key = set("AWS_SECRET_ACCESS_KEY").map(Secret::new);
        ensure!(
            access_key_id.is_some() == secret_access_key.is_some(),
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (the instance's role)"
        );
        Ok(Some(Self {
            bucket,
            prefix,
            endpoint,
            region: set("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key_id,
            secret_access_key,
            session_token: set("AWS_SESSION_TOKEN").map(Secret::new),
            allow_http,
        }))
    }
}

/// `s3://bucket` or `s3://bucket/some/prefix` → bucket and prefix.
fn parse_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .context("must start with s3:// (s3://bucket/prefix)")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    ensure!(
        (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
        "the bucket name must be 3 to 63 lower-case letters, digits, '.' and '-'"
    );
    let prefix = prefix.trim_matches('/');
    let parsed = Path::parse(prefix).map_err(|e| anyhow::anyhow!("the prefix: {e}"))?;
    ensure!(
        prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)),
        "the prefix may hold letters, digits, '/', '.', '_' and '-'"
    );
    Ok((bucket.to_string(), parsed.as_ref().to_string()))
}

/// The object store artifact bodies go to.
pub struct Objects {
    store: Arc<AmazonS3>,
    config: ObjectsConfig,
    /// Rung when something was deleted or replaced, so the deleter does not wait for its next
    /// round.
    wake: Arc<Notify>,
}

impl fmt::Debug for Objects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objects")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The HTTP client object_store uses: the gateway's reqwest with rustls on ring and the webpki
/// roots (no second TLS stack), no redirects (a signed request is not sent elsewhere), a
/// connection and a read timeout but no total one (a large download takes its time).
#[derive(Debug)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

fn http_client(allow_http: bool) -> anyhow::Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!allow_http)
        .user_agent(concat!("claude-runner-gateway/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
        .context("build the object store's HTTP client")
}

/// An object store failure as the client sees it: `503` with `Retry-After`; the cause is logged.
fn unavailable(doing: &str, e: &object_store::Error) -> ApiError {
    tracing::warn!(error = %e, "artifact store: {doing} failed");
    ApiError::Busy {
        reason: "artifact_store_unavailable",
        message: format!("the artifact store failed to {doing}; try again"),
        retry_after: RETRY_AFTER,
    }
}

impl Objects {
    /// The client for `config`; nothing is sent yet.
    pub fn connect(config: ObjectsConfig) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            .with_http_connector(Connector(http_client(config.allow_http)?))
            // A store that is down answers within seconds, as a 503 the runner retries, not after
            // object_store's default three minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder
            .build()
            .with_context(|| format!("configure the artifact store {config}"))?;
        Ok(Self {
            store: Arc::new(store),
            config,
            wake: Arc::new(Notify::new()),
        })
    }

    /// `s3://bucket/prefix`, for the log.
    pub fn describe(&self) -> String {
        self.config.to_string()
    }

    /// Checks that the bucket answers (a listing of at most one key under the prefix).
    pub async fn check(&self) -> Result<(), object_store::Error> {
        let prefix = self.prefix();
        let mut listing = self.store.list(Some(&prefix));
        match listing.next().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn prefix(&self) -> Path {
        Path::from(self.config.prefix.as_str())
    }

    /// A fresh key for an upload of `name` to `run_id`.
    fn new_key(&self, run_id: &str, name: &str) -> Result<Path, ApiError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| ApiError::Internal(format!("random key: {e}")))?;
        let leaf = format!("{}-{name}", hex::encode(random));
        Ok(self.prefix().join(run_id).join(leaf.as_str()))
    }

    /// Reads an upload to its end (see [`super::Bodies::receive`]).
    pub(super) async fn receive(
        &self,
        body: Body,
        limit: usize,
        run_id: &str,
        name: &str,
    ) -> Result<Received, ApiError> {
        let mut pending = Pending {
            store: Arc::clone(&self.store),
            wake: Arc::clone(&self.wake),
            key: self.new_key(run_id, name)?,
            state: State::Held(Vec::new()),
        };
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let pumped = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            pending.pump(body, limit, &mut hash, &mut size),
        )
        .await
        .unwrap_or(Err(ApiError::BodyTimeout));
        if let Err(e) = pumped {
            pending.abort().await;
            return Err(e);
        }
        Ok(Received {
            size,
            sha256: hex::encode(hash.finalize()),
            held: Held::Object(pending),
        })
    }

    /// The object `key` as a response body, streamed.
    pub(super) async fn read(&self, key: &str) -> Result<Body, ApiError> {
        match self.store.get(&Path::from(key)).await {
            Ok(got) => Ok(Body::from_stream(got.into_stream())),
            Err(object_store::Error::NotFound { .. }) => Err(ApiError::Internal(format!(
                "the artifact store has no object {key}, which an artifact names"
            ))),
            Err(e) => Err(unavailable("read the artifact", &e)),
        }
    }

    /// Wakes the deleter.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Deletes the objects of the deletion queue due now; how many went. Stops at the first
    /// object the store fails to delete (it stays queued for the next round).
    pub async fn sweep(&self, store: &dyn Store) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let keys = store.due_object_deletions(now_ms(), SWEEP_BATCH).await?;
            let full = keys.len() == SWEEP_BATCH;
            let mut gone = Vec::with_capacity(keys.len());
            let mut failed = false;
            for key in keys {
                match self.store.delete(&Path::from(key.as_str())).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => gone.push(key),
                    Err(e) => {
                        tracing::warn!(error = %e, "artifact store: deleting an object failed; trying again later");
                        failed = true;
                        break;
                    }
                }
            }
            deleted += gone.len() as u64;
            if !gone.is_empty() {
                store.forget_object_deletions(gone).await?;
            }
            if failed || !full {
                return Ok(deleted);
            }
        }
    }

    /// Sweeps at start, every minute and whenever woken, for as long as the gateway runs.
    pub async fn sweep_forever(self: Arc<Self>, store: Arc<dyn Store>) {
        loop {
            match self.sweep(store.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    objects = n,
                    "artifact store: deleted objects no artifact needs"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "artifact store: reading the deletion queue failed")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(SWEEP_EVERY) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

/// An upload on its way: held, a multipart upload in progress, or failed at the store.
pub(super) struct Pending {
    store: Arc<AmazonS3>,
    /// The deleter's bell: a replaced body is due at once.
    wake: Arc<Notify>,
    key: Path,
    state: State,
}

enum State {
    /// Up to [`PART_BYTES`], not sent yet.
    Held(Vec<u8>),
    /// Parts sent or on their way; not an object until completed.
    Multipart(WriteMultipart),
    /// The store failed; the rest of the body is read (and hashed) only to answer the verified
    /// request with a `503` rather than to cut it off.
    Failed(object_store::Error),
    /// Between two states.
    Moving,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Held(b) => format!("held {} bytes", b.len()),
            State::Multipart(_) => "multipart".into(),
            State::Failed(e) => format!("failed: {e}"),
            State::Moving => "moving".into(),
        };
        f.debug_struct("Pending")
            .field("key", &self.key.as_ref())
            .field("state", &state)
            .finish()
    }
}

impl Pending {
    async fn pump(
        &mut self,
        body: Body,
        limit: usize,
        hash: &mut Sha256,
        size: &mut u64,
    ) -> Result<(), ApiError> {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| super::incomplete())?;
            *size += chunk.len() as u64;
            if *size > limit as u64 {
                return Err(ApiError::TooLarge { limit });
            }
            hash.update(&chunk);
            self.push(chunk).await;
        }
        Ok(())
    }

    async fn push(&mut self, chunk: Bytes) {
        let full = match &mut self.state {
            State::Held(held) => {
                held.extend_from_slice(&chunk);
                held.len() > PART_BYTES
            }
            State::Multipart(parts) => {
                parts.put(chunk);
                false
            }
            State::Failed(_) | State::Moving => return,
        };
        if full {
            let State::Held(held) = std::mem::replace(&mut self.state, State::Moving) else {
                return;
            };
            self.state = match self.store.put_multipart(&self.key).await {
                Ok(upload) => {
                    let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
                    parts.put(Bytes::from(held));
                    State::Multipart(parts)
                }
                Err(e) => State::Failed(e),
            };
        }
        self.throttle().await;
    }

    /// Waits until at most [`PARTS_IN_FLIGHT`] parts are on their way: the client's body is read
    /// no faster than the store takes it. The upload stays in `self.state` while it waits, so a
    /// request dropped meanwhile (the client went away) is aborted by [`Pending`]'s `Drop`; held
    /// in a local, it was dropped with the future and its parts stayed in the bucket.
    async fn throttle(&mut self) {
        let State::Multipart(parts) = &mut self.state else {
            return;
        };
        if let Err(e) = parts.wait_for_capacity(PARTS_IN_FLIGHT).await {
            if let State::Multipart(parts) = std::mem::replace(&mut self.state, State::Moving) {
                let _ = abort_after_parts(parts).await;
            }
            self.state = State::Failed(e);
        }
    }

    /// Writes the object, then records the artifact (see [`super::Received::keep`]).
    pub(super) async fn keep(
        mut self,
        store: &dyn Store,
        run_id: String,
        info: ArtifactInfo,
    ) -> Result<ArtifactInfo, ApiError> {
        if let State::Failed(e) = &self.state {
            return Err(unavailable("store the artifact", e));
        }
        let key = self.key.as_ref().to_string();
        let grace = i64::try_from(ORPHAN_GRACE.as_millis()).unwrap_or(i64::MAX);
        if let Err(e) = store
            .queue_object_deletion(key.clone(), now_ms().saturating_add(grace))
            .await
        {
            self.abort().await;
            return Err(e.into());
        }
        let (objects, path) = (Arc::clone(&self.store), self.key.clone());
        let written = match std::mem::replace(&mut self.state, State::Moving) {
            State::Held(bytes) => objects
                .put(&path, PutPayload::from(Bytes::from(bytes)))
                .await
                .map(drop),
            State::Multipart(parts) => parts.finish().await.map(drop),
            State::Failed(_) | State::Moving => {
                return Err(ApiError::Internal("an upload was kept twice".into()));
            }
        };
        if let Err(e) = written {
            return Err(unavailable("store the artifact", &e));
        }
        match store.put_artifact_object(run_id, info.clone(), key).await {
            Ok(()) => {
                self.wake.notify_one();
                Ok(info)
            }
            Err(StoreError::NotFound) => {
                // The run was deleted meanwhile; its object goes now (or, failing that, when the
                // queue says so).
                let _ = objects.delete(&path).await;
                Err(StoreError::NotFound.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Aborts a multipart upload in progress; a held body is just dropped.
    pub(super) async fn abort(mut self) {
        if let State::Multipart(parts) = std::mem::replace(&mut self.state, State::Moving)
            && let Err(e) = abort_after_parts(parts).await
        {
            tracing::warn!(error = %e, "artifact store: aborting an upload failed");
        }
    }
}

/// Longest an abort waits for the parts still on their way.
const ABORT_WAIT: Duration = Duration::from_secs(60);

/// Aborts a multipart upload once none of its parts is on its way. `WriteMultipart::abort`
/// drops the part requests in flight, but a store may already hold a dropped request's body and
/// store the part after the abort, where nothing ever removes it (S3 says to abort again for
/// this reason); waiting for the parts' answers first leaves none behind.
async fn abort_after_parts(mut parts: WriteMultipart) -> object_store::Result<()> {
    let _ = tokio::time::timeout(ABORT_WAIT, async {
        // Each failed part ends one wait; the rest are still waited for.
        while parts.wait_for_capacity(0).await.is_err() {}
    })
    .await;
    parts.abort().await
}

/// An upload dropped mid-way (its request's handler was dropped: the client went away) aborts
/// its multipart upload, so the parts sent do not stay in the bucket until its lifecycle rule.
impl Drop for Pending {
    fn drop(&mut self) {
        if let State::Multipart(parts) = std::mem::replace(&mut self.state, State::Moving)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = abort_after_parts(parts).await {
                    tracing::warn!(error = %e, "artifact store: aborting a dropped upload failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> anyhow::Result<Option<ObjectsConfig>> {
        ObjectsConfig::resolve(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn urls_and_variables() {
        assert_eq!(resolve(&[]).unwrap(), None);
        assert_eq!(resolve(&[("ARTIFACT_STORE", " ")]).unwrap(), None);
        let c = resolve(&[
            ("ARTIFACT_STORE", "s3://gw-artifacts/prod/eu/"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret-value"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.bucket.as_str(), c.prefix.as_str()),
            ("gw-artifacts", "prod/eu")
        );
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.region, "us-east-1");
        assert!(!format!("{c:?}").contains("very-secret-value"), "{c:?}");
        let bare = resolve(&[("ARTIFACT_STORE", "s3://bucket")])
            .unwrap()
            .unwrap();
        assert_eq!(bare.prefix, "");
        assert_eq!(bare.access_key_id, None);
        for (pairs, says) in [
            (
                vec![("ARTIFACT_STORE", "gs://bucket/x")],
                "must start with s3://",
            ),
            (vec![("ARTIFACT_STORE", "s3://Bucket")], "bucket name"),
            (vec![("ARTIFACT_STORE", "s3://b")], "bucket name"),
            (vec![("ARTIFACT_STORE", "s3://bucket/a//b")], "prefix"),
            (vec![("ARTIFACT_STORE", "s3://bucket/a/../b")], "prefix"),
            (vec![("ARTIFACT_STORE", "s3://bucket/a b")], "prefix"),
            (
                vec![
                    ("ARTIFACT_STORE", "s3://bucket"),
                    ("AWS_ENDPOINT_URL", "http://minio:9000"),
                ],
                "AWS_ALLOW_HTTP",
            ),
            (
                vec![
                    ("ARTIFACT_STORE", "s3://bucket"),
                    ("AWS_ACCESS_KEY_ID", "id"),
                ],
                "or neither",
            ),
        ] {
            let e = format!("{:#}", resolve(&pairs).unwrap_err());
            assert!(e.contains(says), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn keys_are_fresh_under_the_prefix() {
        let config = resolve(&[
            ("ARTIFACT_STORE", "s3://bucket/gw"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .unwrap()
        .unwrap();
        let objects = Objects::connect(config).unwrap();
        let a = objects.new_key("run1", "claude.log").unwrap();
        let b = objects.new_key("run1", "claude.log").unwrap();
        assert_ne!(a, b);
        let text = a.as_ref();
        assert!(
            text.starts_with("gw/run1/") && text.ends_with("-claude.log"),
            "{text}"
        );
        assert_eq!(Path::from(text), a, "a key reads back as the same path");
    }
}
