//! Set-up shared by the gateway's handler tests: a gateway opened on plain HTTP over a temporary
//! data directory, driven through its router with `oneshot`.
#![allow(dead_code)] // each test binary uses its own subset

pub mod authenticator;
pub mod postgres;

use std::path::Path;

use axum::body::Body;
use axum::http::Request;
use gateway::config::{Args, Config};
use gateway::state::AppState;
use tower::ServiceExt;

/// Plain HTTP, data in `dir`, every other setting at its default.
pub fn plain_config(dir: &Path) -> Config {
    Config::resolve(
        Args {
            plain_http: true,
            data_dir: Some(dir.to_path_buf()),
            ..Args::default()
        },
        &Default::default(),
    )
    .expect("a plain configuration resolves")
}

/// A gateway opened the way `main` opens one (plain HTTP, data in `dir`), without a socket: its
/// state and the admin token its first start made.
pub async fn open(dir: &Path) -> (AppState, String) {
    let gw = gateway::Gateway::open(plain_config(dir), "127.0.0.1:3100".parse().unwrap())
        .await
        .expect("the gateway opens");
    let admin = gw
        .new_admin_token
        .as_ref()
        .expect("first start makes an admin token")
        .expose()
        .to_string();
    (gw.state, admin)
}

/// One request through the whole router, no socket.
pub async fn send(state: &AppState, req: Request<Body>) -> axum::response::Response {
    gateway::routes::router(state.clone())
        .oneshot(req)
        .await
        .expect("the router answers")
}

/// [`send`], with the answer's status and its body as JSON (`null` if it is not JSON).
pub async fn send_json(
    state: &AppState,
    req: Request<Body>,
) -> (axum::http::StatusCode, serde_json::Value) {
    let resp = send(state, req).await;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("the body arrives");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A fresh nonce, as a runner makes one.
pub fn nonce() -> String {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).unwrap();
    common::sign::encode_nonce(&b)
}

/// A request signed with `key` for `run_id` now; `path` may carry a query.
pub fn signed(method: &str, path: &str, run_id: &str, key: &[u8], body: Vec<u8>) -> Request<Body> {
    use common::sign::{self, SignedParts};
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let (ts, nonce) = (gateway::clock::now_secs(), nonce());
    let signature = sign::sign(
        key,
        &SignedParts {
            method,
            path: p,
            query: q,
            run_id,
            timestamp: ts,
            nonce: &nonce,
            body: &body,
        },
    );
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(sign::HEADER_TIMESTAMP, ts.to_string())
        .header(sign::HEADER_NONCE, nonce)
        .header(sign::HEADER_RUN, run_id)
        .header(sign::HEADER_SIGNATURE, signature);
    if !body.is_empty() {
        req = req.header(axum::http::header::CONTENT_TYPE, "application/json");
    }
    req.body(Body::from(body)).unwrap()
}

/// A signed ingest request of `events` for `run_id`; `key` may be wrong on purpose.
pub fn ingest(run_id: &str, key: &[u8], events: Vec<common::wire::Event>) -> Request<Body> {
    let body = serde_json::to_vec(&common::wire::IngestBatch {
        run_id: run_id.into(),
        events,
    })
    .unwrap();
    signed("POST", "/api/ingest/event", run_id, key, body)
}

/// [`ingest`] with the key of a run created through the API.
pub fn ingest_for(
    state: &AppState,
    run: &common::wire::CreatedRun,
    events: Vec<common::wire::Event>,
) -> Request<Body> {
    let key = common::sign::derive_run_key(
        state.hmac_secret.expose().as_bytes(),
        &run.run_id,
        &run.token,
    );
    ingest(&run.run_id, &key, events)
}

/// An open server-sent-events answer, read as it comes.
pub struct SseStream {
    body: axum::body::BodyDataStream,
    /// Everything read so far.
    pub text: String,
}

impl SseStream {
    /// Take an answer that must be a `200` event stream.
    pub fn new(resp: axum::response::Response) -> Self {
        assert_eq!(resp.status(), axum::http::StatusCode::OK);
        assert_eq!(
            resp.headers()[axum::http::header::CONTENT_TYPE],
            "text/event-stream"
        );
        Self {
            body: resp.into_body().into_data_stream(),
            text: String::new(),
        }
    }

    /// Read until `done` holds for the text so far or the stream closes; fails after 10 s.
    pub async fn read_until(&mut self, done: impl Fn(&str) -> bool) {
        use futures_util::StreamExt;
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !done(&self.text) {
                match self.body.next().await {
                    Some(chunk) => self
                        .text
                        .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
                    None => return,
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the stream stalled at:\n{}", self.text);
    }

    /// Read until the stream closes.
    pub async fn read_to_close(&mut self) {
        self.read_until(|_| false).await;
    }

    /// Read until the `id:` lines reach `last`; the ids seen, in order.
    pub async fn ids_through(&mut self, last: u64) -> Vec<u64> {
        self.read_until(|text| ids_in(text).last() == Some(&last))
            .await;
        let ids = self.ids();
        assert_eq!(ids.last(), Some(&last), "no id {last} in:\n{}", self.text);
        ids
    }

    /// The `id:` values read so far.
    pub fn ids(&self) -> Vec<u64> {
        ids_in(&self.text)
    }
}

fn ids_in(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|v| v.parse().unwrap())
        .collect()
}

/// A browser of the page: its session cookie and CSRF token, sending same-origin requests as the
/// page does (a public URL of `https://localhost:3100`).
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    /// What the answer to the sign-in said.
    pub signed_in: serde_json::Value,
}

/// A same-origin JSON `POST` as the page sends it, without a session.
pub fn page_post(path: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("origin", "https://localhost:3100")
        .header("host", "localhost:3100")
        .header("sec-fetch-site", "same-origin")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .body(Body::from(body.to_string()))
        .unwrap()
}

impl Browser {
    /// Sign in (or join) with `body` posted to `path`; `None` when refused.
    pub async fn sign_in(state: &AppState, path: &str, body: serde_json::Value) -> Option<Self> {
        let resp = send(state, page_post(path, body)).await;
        if resp.status() != axum::http::StatusCode::OK {
            return None;
        }
        let set = resp.headers()[axum::http::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let signed_in: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let csrf = signed_in["csrf"].as_str().unwrap().to_string();
        Some(Self {
            cookie,
            csrf,
            signed_in,
        })
    }

    pub fn get(&self, path: &str) -> Request<Body> {
        Request::get(path)
            .header(axum::http::header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap()
    }

    /// A same-origin state-changing request with the CSRF token, as the page sends it.
    pub fn write(&self, method: &str, path: &str, body: serde_json::Value) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(axum::http::header::COOKIE, &self.cookie)
            .header("host", "localhost:3100")
            .header("origin", "https://localhost:3100")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json")
            .header("x-csrf-token", &self.csrf)
            .body(Body::from(body.to_string()))
            .unwrap()
    }
}
