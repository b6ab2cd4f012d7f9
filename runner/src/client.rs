//! The signed HTTP client: every request to the gateway goes out through [`GatewayClient::send`].

use std::time::Duration;

use anyhow::Context;
use common::Secret;
use common::sign::{self, AuthReason, SignedParts};
use common::wire::{
    ArtifactInfo, CreateRun, CreatedRun, ErrorBody, GapError, IngestAck, IngestBatch, Ping,
};
use reqwest::{Method, StatusCode};

use crate::config::Settings;

/// Who signs a request: the shared secret (no run), a run's key, or an enrolled agent's own key
/// (`caller` is `agent:<id>`, what `X-Runner-Run` carries).
#[derive(Clone)]
pub enum Signer {
    Shared(Secret),
    Run { run_id: String, key: [u8; 32] },
    Agent { caller: String, key: [u8; 32] },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Shared(_) => f.write_str("Signer::Shared(********)"),
            Signer::Run { run_id, .. } => write!(f, "Signer::Run({run_id}, ********)"),
            Signer::Agent { caller, .. } => write!(f, "Signer::Agent({caller}, ********)"),
        }
    }
}

impl Signer {
    pub fn for_run(secret: &Secret, run_id: &str, token: &Secret) -> Self {
        Signer::Run {
            run_id: run_id.to_string(),
            key: sign::derive_run_key(secret.expose().as_bytes(), run_id, token.expose()),
        }
    }

    fn key_and_run(&self) -> (&[u8], &str) {
        match self {
            Signer::Shared(s) => (s.expose().as_bytes(), ""),
            Signer::Run { run_id, key } => (key, run_id),
            Signer::Agent { caller, key } => (key, caller),
        }
    }
}

/// What an ingest attempt came to.
#[derive(Debug)]
pub enum IngestOutcome {
    /// Every sequence up to `through` is stored; `delivery` is the run's verdict once its
    /// `finished` marker is.
    Acked {
        through: u64,
        delivery: Option<common::wire::Delivery>,
    },
    /// 409: the gateway wants the stream from this sequence.
    Gap(u64),
    /// 401/403: sending cannot succeed without a person fixing something.
    Refused {
        status: StatusCode,
        reason: Option<String>,
        message: String,
    },
    /// Network error, timeout, 408, 429, 5xx: try again (after `retry_after` if given).
    Retry {
        cause: String,
        retry_after: Option<Duration>,
    },
    /// Any other answer (400, 413): the batch itself is wrong; retrying cannot help.
    Rejected { status: StatusCode, message: String },
}

/// A client for one gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: url::Url,
}

/// Make sure a crypto provider is installed for rustls (ring; no other is compiled in).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `n` random bytes from the OS, as base64url.
pub fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS provides randomness");
    sign::encode_nonce(&buf)
}

/// The four signature headers of a request (`PROTOCOL.md` §2).
///
/// The timestamp, the nonce and the signature change from one request to the next, so they are
/// marked sensitive: HTTP/2 then sends them as never-indexed literals (RFC 7541 §6.2.3) instead of
/// adding each to the header tables at both ends, where every request's three new entries would
/// push out, a few requests later, the ones that do repeat (the run, the content type), and the
/// gateway would decode those again as literals too.
pub fn signature_headers(
    timestamp: i64,
    nonce: &str,
    run_id: &str,
    signature: &str,
) -> Result<reqwest::header::HeaderMap, reqwest::header::InvalidHeaderValue> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let once = |value: &str| {
        HeaderValue::from_str(value).map(|mut v| {
            v.set_sensitive(true);
            v
        })
    };
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(
        HeaderName::from_static(sign::HEADER_TIMESTAMP),
        once(&timestamp.to_string())?,
    );
    headers.insert(HeaderName::from_static(sign::HEADER_NONCE), once(nonce)?);
    headers.insert(
        HeaderName::from_static(sign::HEADER_RUN),
        HeaderValue::from_str(run_id)?,
    );
    headers.insert(
        HeaderName::from_static(sign::HEADER_SIGNATURE),
        once(signature)?,
    );
    Ok(headers)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl GatewayClient {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(50))
            .no_proxy()
            // A signed request is for the gateway alone: a redirect is an answer, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("claude-runner/", env!("CARGO_PKG_VERSION")));
        if settings.gateway_url.scheme() == "https" {
            let tls = crate::tls::client_config(&settings.trust)?;
            builder = builder.tls_backend_preconfigured(tls);
        }
        let http = builder.build().context("build the HTTP client")?;
        let mut base = settings.gateway_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self { http, base })
    }

    /// The URL for an API path such as `api/ingest/event` (no leading slash).
    pub fn url(&self, path_and_query: &str) -> anyhow::Result<url::Url> {
        self.base
            .join(path_and_query)
            .with_context(|| format!("build URL for {path_and_query}"))
    }

    /// Send a signed request with a JSON body (or none).
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        signer: &Signer,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        self.send_as(method, path_and_query, signer, body, "application/json")
            .await
    }

    /// Send a signed request whose body has `content_type`.
    pub async fn send_as(
        &self,
        method: Method,
        path_and_query: &str,
        signer: &Signer,
        body: impl Into<bytes::Bytes>,
        content_type: &'static str,
    ) -> anyhow::Result<reqwest::Response> {
        // Bytes: a body is handed to the HTTP client without a copy, also on a retry.
        let body: bytes::Bytes = body.into();
        let sha = sign::sha256_hex(&body);
        let len = body.len() as u64;
        self.send_hashed(
            method,
            path_and_query,
            signer,
            body.into(),
            len,
            &sha,
            content_type,
        )
        .await
    }

    /// [`Self::send_as`] with the body's SHA-256 (lower-case hex) computed beforehand.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_hashed(
        &self,
        method: Method,
        path_and_query: &str,
        signer: &Signer,
        body: reqwest::Body,
        body_len: u64,
        body_sha256: &str,
        content_type: &'static str,
    ) -> anyhow::Result<reqwest::Response> {
        let url = self.url(path_and_query)?;
        let (key, run_id) = signer.key_and_run();
        let timestamp = unix_now();
        let nonce = random_b64(18);
        let signature = sign::sign_hashed(
            key,
            &SignedParts {
                method: method.as_str(),
                path: url.path(),
                query: url.query().unwrap_or(""),
                run_id,
                timestamp,
                nonce: &nonce,
                // Covered by `body_sha256`; `sign_hashed` does not read it.
                body: &[],
            },
            body_sha256,
        );
        let mut req = self
            .http
            .request(method, url)
            .headers(signature_headers(timestamp, &nonce, run_id, &signature)?);
        if body_len > 0 {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CONTENT_LENGTH, body_len)
                .body(body);
        }
        Ok(req.send().await?)
    }

    /// An unsigned `POST` of a JSON body (agent enrollment: the one-time token in the body is
    /// the credential).
    pub async fn post_unsigned(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url(path)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?)
    }

    /// Unsigned `GET /api/health`: the gateway's clock and version.
    pub async fn health(&self) -> anyhow::Result<Ping> {
        let resp = self.http.get(self.url("api/health")?).send().await?;
        let status = resp.status();
        anyhow::ensure!(status.is_success(), "GET /api/health answered {status}");
        Ok(resp.json().await?)
    }

    /// Signed `GET /api/runner/ping`.
    pub async fn ping(
        &self,
        signer: &Signer,
    ) -> anyhow::Result<Result<Ping, (StatusCode, ErrorBody)>> {
        let resp = self
            .send(Method::GET, "api/runner/ping", signer, Vec::new())
            .await?;
        let status = resp.status();
        if status.is_success() {
            Ok(Ok(resp.json().await?))
        } else {
            Ok(Err((status, error_body(resp).await)))
        }
    }

    /// Create a run, signed with the shared secret.
    pub async fn create_run(&self, secret: &Secret, req: &CreateRun) -> anyhow::Result<CreatedRun> {
        let body = serde_json::to_vec(req)?;
        let resp = self
            .send(
                Method::POST,
                "api/runner/runs",
                &Signer::Shared(secret.clone()),
                body,
            )
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.json().await?);
        }
        let err = error_body(resp).await;
        let hint = match err.reason.as_deref().and_then(AuthReason::from_code) {
            Some(AuthReason::BadSignature) => ": HMAC_SECRET differs from the gateway's",
            Some(AuthReason::StaleTimestamp) => {
                ": this machine's clock is more than 300 s off the gateway's"
            }
            _ => "",
        };
        anyhow::bail!(
            "the gateway refused to create the run ({status}: {}){hint}",
            err.message
        )
    }

    /// Upload an artifact's raw bytes (already redacted); the signature covers them.
    pub async fn upload_artifact(
        &self,
        signer: &Signer,
        run_id: &str,
        name: &str,
        body: impl Into<bytes::Bytes>,
    ) -> anyhow::Result<Result<ArtifactInfo, (StatusCode, ErrorBody)>> {
        let body: bytes::Bytes = body.into();
        let (len, sha) = (body.len() as u64, sign::sha256_hex(&body));
        self.upload_artifact_hashed(signer, run_id, name, body.into(), len, &sha)
            .await
    }

    /// [`Self::upload_artifact`] of a body (a stream, say) whose length and SHA-256 are known.
    pub async fn upload_artifact_hashed(
        &self,
        signer: &Signer,
        run_id: &str,
        name: &str,
        body: reqwest::Body,
        body_len: u64,
        body_sha256: &str,
    ) -> anyhow::Result<Result<ArtifactInfo, (StatusCode, ErrorBody)>> {
        let mut path = self.url("api/ingest/artifact")?;
        path.query_pairs_mut()
            .append_pair("run_id", run_id)
            .append_pair("name", name);
        let path_and_query = format!("api/ingest/artifact?{}", path.query().unwrap_or_default());
        let resp = self
            .send_hashed(
                Method::POST,
                &path_and_query,
                signer,
                body,
                body_len,
                body_sha256,
                "application/octet-stream",
            )
            .await?;
        let status = resp.status();
        if status.is_success() {
            Ok(Ok(resp.json().await?))
        } else {
            Ok(Err((status, error_body(resp).await)))
        }
    }

    /// Send one batch of events.
    pub async fn ingest(&self, signer: &Signer, batch: &IngestBatch) -> IngestOutcome {
        let body = match serde_json::to_vec(batch) {
            Ok(b) => b,
            Err(e) => {
                return IngestOutcome::Rejected {
                    status: StatusCode::BAD_REQUEST,
                    message: e.to_string(),
                };
            }
        };
        self.ingest_body(signer, body).await
    }

    /// [`GatewayClient::ingest`] with the body already encoded (an `IngestBatch` as JSON).
    pub async fn ingest_body(&self, signer: &Signer, body: Vec<u8>) -> IngestOutcome {
        let sha = sign::sha256_hex(&body);
        self.ingest_hashed(signer, body, &sha).await
    }

    /// [`Self::ingest_body`] with the body's SHA-256 computed beforehand.
    pub async fn ingest_hashed(
        &self,
        signer: &Signer,
        body: Vec<u8>,
        body_sha256: &str,
    ) -> IngestOutcome {
        let len = body.len() as u64;
        let resp = match self
            .send_hashed(
                Method::POST,
                "api/ingest/event",
                signer,
                reqwest::Body::from(body),
                len,
                body_sha256,
                "application/json",
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return IngestOutcome::Retry {
                    cause: format!("{e:#}"),
                    retry_after: None,
                };
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match status {
            s if s.is_success() => match resp.json::<IngestAck>().await {
                Ok(ack) => IngestOutcome::Acked {
                    through: ack.acked_through,
                    delivery: ack.delivery,
                },
                Err(e) => IngestOutcome::Retry {
                    cause: format!("unreadable answer: {e}"),
                    retry_after: None,
                },
            },
            StatusCode::CONFLICT => match resp.json::<GapError>().await {
                Ok(gap) => IngestOutcome::Gap(gap.expected),
                Err(e) => IngestOutcome::Retry {
                    cause: format!("unreadable 409: {e}"),
                    retry_after: None,
                },
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let err = error_body(resp).await;
                // A stale timestamp or a replayed nonce can be a transient clock or retry issue.
                match err.reason.as_deref().and_then(AuthReason::from_code) {
                    Some(AuthReason::ReplayedNonce) => IngestOutcome::Retry {
                        cause: "nonce collision".into(),
                        retry_after: None,
                    },
                    _ => IngestOutcome::Refused {
                        status,
                        reason: err.reason,
                        message: err.message,
                    },
                }
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => IngestOutcome::Retry {
                cause: status.to_string(),
                retry_after,
            },
            s if s.is_server_error() => IngestOutcome::Retry {
                cause: s.to_string(),
                retry_after,
            },
            _ => IngestOutcome::Rejected {
                status,
                message: error_body(resp).await.message,
            },
        }
    }
}

/// The JSON error body of an answer, or a stand-in if it has none.
pub async fn error_body(resp: reqwest::Response) -> ErrorBody {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(ErrorBody {
        error: status.as_str().to_string(),
        reason: None,
        message: text.chars().take(200).collect(),
    })
}

/// A minimal plain-HTTP server for the runner's unit tests: answers every request with what
/// `answer` returns for its request line, and records the request lines.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub type Seen = Arc<Mutex<Vec<String>>>;
    /// Whole requests: the head (request line and headers) and the body.
    pub type Requests = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    /// Serve on `127.0.0.1:0`; returns the base URL and the request lines seen.
    pub async fn serve(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> (String, Seen) {
        let (url, seen, _) = serve_recording(answer).await;
        (url, seen)
    }

    /// [`serve`], also recording every request whole.
    pub async fn serve_recording(
        answer: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> (String, Seen, Requests) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Seen::default();
        let requests = Requests::default();
        let (answer, log, whole) = (Arc::new(answer), seen.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (answer, log, whole) = (answer.clone(), log.clone(), whole.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let reply = answer(&line);
                    log.lock().unwrap().push(line);
                    let body = buf[head_end.min(buf.len())..].to_vec();
                    whole.lock().unwrap().push((head.clone(), body));
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (url, seen, requests)
    }

    /// A `200` with a JSON body.
    pub fn json(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// A client for `url` (plain HTTP on loopback).
    pub fn client(url: &str) -> super::GatewayClient {
        let layers = common::settings::Layers {
            env: [
                ("GATEWAY_URL".to_string(), url.to_string()),
                (
                    "HMAC_SECRET".to_string(),
                    "test-secret-test-secret".to_string(),
                ),
            ]
            .into(),
            dotenv: Default::default(),
        };
        let settings =
            crate::config::Settings::resolve(&Default::default(), &layers, None).expect("settings");
        super::GatewayClient::new(&settings).expect("client")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_run_of_the_signature_headers_may_be_indexed() {
        let h = signature_headers(1_700_000_000, "bm9uY2U", "r1", "c2ln").unwrap();
        let sensitive = |name: &str| h.get(name).map(|v| v.is_sensitive());
        assert_eq!(sensitive(sign::HEADER_TIMESTAMP), Some(true));
        assert_eq!(sensitive(sign::HEADER_NONCE), Some(true));
        assert_eq!(sensitive(sign::HEADER_SIGNATURE), Some(true));
        assert_eq!(sensitive(sign::HEADER_RUN), Some(false));
        assert_eq!(h[sign::HEADER_TIMESTAMP], "1700000000");
        assert!(signature_headers(1, "n\nx", "r1", "s").is_err());
    }

    #[tokio::test]
    async fn redirects_are_not_followed_with_a_signed_body() {
        let (elsewhere, elsewhere_seen) = testing::serve(|_| testing::json("{}")).await;
        let (url, _) = testing::serve(move |_| {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}api/ingest/event\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        })
        .await;
        let client = testing::client(&url);
        let signer = Signer::Run {
            run_id: "r1".into(),
            key: [7; 32],
        };
        let resp = client
            .send(Method::POST, "api/ingest/event", &signer, b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
        assert!(elsewhere_seen.lock().unwrap().is_empty(), "not followed");
    }
}
