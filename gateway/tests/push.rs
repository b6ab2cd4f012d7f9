//! Web Push end to end: this test plays the push service on loopback. A signed-in browser (the
//! test, with its own P-256 key pair and auth secret) subscribes; a tool call waiting for
//! approval makes the gateway push to it. The request must carry a VAPID token that verifies
//! (ES256) against the gateway's public key, and a payload the test decrypts (RFC 8291) with
//! the subscription's keys; the notification's Allow action, posted as the service worker
//! posts it, approves the request.

mod support;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::Secret;
use common::wire::{CommandKind, CreatedRun, Event, EventKind, PermissionChoice};
use gateway::state::AppState;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, agreement, hkdf, signature};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PASSWORD: &str = "correct horse battery";
const ORIGIN: &str = "https://localhost:3100";

/// A push the service received.
#[derive(Debug)]
struct Pushed {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The push service: `127.0.0.1:0`, answers `201 Created` as push services do.
async fn push_service() -> (String, mpsc::UnboundedReceiver<Pushed>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Pushed {
                    path: uri.path().to_string(),
                    headers,
                    body,
                });
                StatusCode::CREATED
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Pushed>) -> Pushed {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a push within 20 s")
        .expect("the push service runs")
}

/// A browser: its session cookie, CSRF token, and push subscription keys.
struct Browser {
    cookie: String,
    csrf: String,
    key: Option<agreement::EphemeralPrivateKey>,
    public: Vec<u8>,
    auth: [u8; 16],
}

async fn sign_in(state: &AppState) -> Browser {
    let req = Request::post("/api/session")
        .header("content-type", "application/json")
        .header("origin", ORIGIN)
        .header("host", "localhost:3100")
        .header("sec-fetch-site", "same-origin")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))))
        .body(Body::from(json!({ "password": PASSWORD }).to_string()))
        .unwrap();
    let resp = support::send(state, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let csrf = serde_json::from_slice::<Value>(&bytes).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let mut browser = Browser {
        cookie,
        csrf,
        key: None,
        public: Vec::new(),
        auth: [0; 16],
    };
    browser.rekey();
    browser
}

impl Browser {
    /// A fresh subscription key pair and auth secret.
    fn rekey(&mut self) {
        let rng = SystemRandom::new();
        let key = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).unwrap();
        self.public = key.compute_public_key().unwrap().as_ref().to_vec();
        self.key = Some(key);
        rng.fill(&mut self.auth).unwrap();
    }

    /// A same-origin request as the page (`csrf`) or the service worker (no CSRF token) sends it.
    fn request(&self, method: &str, path: &str, body: Value, csrf: bool) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("host", "localhost:3100")
            .header("origin", ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json");
        if csrf {
            b = b.header("x-csrf-token", &self.csrf);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    /// Decrypt a push body (RFC 8291, what the browser does), once: ring's ECDH keys are
    /// single-use, as the test needs no more.
    fn decrypt(&mut self, body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert_eq!(record_size, 4096);
        let id_len = rest[4] as usize;
        let (sender_key, ciphertext) = rest[5..].split_at(id_len);
        let shared = agreement::agree_ephemeral(
            self.key.take().expect("one push to decrypt"),
            &agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, sender_key),
            |s| s.to_vec(),
        )
        .unwrap();
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let expand = |salt: &[u8], secret: &[u8], info: &[u8], n: usize| {
            let mut out = vec![0u8; n];
            hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
                .extract(secret)
                .expand(&[info], Len(n))
                .unwrap()
                .fill(&mut out)
                .unwrap();
            out
        };
        let info = [b"WebPush: info\0".as_slice(), &self.public, sender_key].concat();
        let ikm = expand(&self.auth, &shared, &info, 32);
        let cek = expand(salt, &ikm, b"Content-Encoding: aes128gcm\0", 16);
        let nonce = expand(salt, &ikm, b"Content-Encoding: nonce\0", 12);
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).unwrap());
        let mut record = ciphertext.to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
                aead::Aad::empty(),
                &mut record,
            )
            .expect("the payload decrypts with the subscription's keys");
        // The last record ends with 0x02, then optional zero padding.
        let end = plain.iter().rposition(|&b| b != 0).unwrap();
        assert_eq!(plain[end], 2, "last-record delimiter");
        plain[..end].to_vec()
    }
}

fn marker(sequence: u64, data: Value) -> Event {
    Event {
        sequence,
        kind: EventKind::Marker,
        data,
        ts: 1_700_000_000_000 + sequence as i64,
    }
}

fn permission_request(sequence: u64, id: &str) -> Event {
    marker(
        sequence,
        json!({"event": "permission_request", "requestId": id, "tool": "Bash",
               "input": {"command": "curl TOPSECRET"}, "command": "curl TOPSECRET",
               "cwd": "/w", "expiresAt": 1_700_000_600_000_i64}),
    )
}

#[tokio::test]
async fn a_push_is_vapid_signed_decryptable_and_its_allow_action_approves() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(&dir.path().join("data"));
    config.public_url = Some(ORIGIN.into());
    config.admin_password = Some(Secret::new(PASSWORD));
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    let state = gw.state.clone();
    let dispatcher = tokio::spawn(gateway::notify::run_forever(state.notifier.clone()));
    let (service, mut pushes) = push_service().await;
    let as_admin = |method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    let mut browser = sign_in(&state).await;
    let (status, key) = support::send_json(
        &state,
        browser.request("GET", "/api/push/key", json!(null), false),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let vapid_public = key["public_key"].as_str().unwrap().to_string();
    assert_eq!(B64.decode(&vapid_public).unwrap().len(), 65);

    let subscription = json!({
        "endpoint": format!("{service}/push/browser-1"),
        "keys": {"p256dh": B64.encode(&browser.public), "auth": B64.encode(browser.auth)},
        "events": ["needs_approval"],
    });
    // A script's token is no browser: subscriptions belong to a signed-in session.
    let (status, v) = support::send_json(
        &state,
        as_admin("POST", "/api/push/subscriptions", subscription.clone()),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    for (bad, why) in [
        (
            json!({"endpoint": "http://push.example.com/x"}),
            "plain http off loopback",
        ),
        (
            json!({"keys": {"p256dh": "AAAA", "auth": B64.encode(browser.auth)}}),
            "short key",
        ),
        (json!({"events": []}), "no events"),
    ] {
        let mut body = subscription.clone();
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, v) = support::send_json(
            &state,
            browser.request("POST", "/api/push/subscriptions", body, true),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {v}");
    }
    let (status, sub) = support::send_json(
        &state,
        browser.request("POST", "/api/push/subscriptions", subscription, true),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["this_browser"], true);
    assert_eq!(sub["service"], service.as_str());
    let (_, list) = support::send_json(
        &state,
        as_admin("GET", "/api/push/subscriptions", json!(null)),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains("browser-1"),
        "the endpoint is a capability: {list}"
    );

    // A tool call waits: the gateway pushes.
    let (_, run) = support::send_json(
        &state,
        as_admin("POST", "/api/runs", json!({"name": "deploy docs"})),
    )
    .await;
    let run: CreatedRun = serde_json::from_value(run).unwrap();
    let (status, _) = support::send_json(
        &state,
        support::ingest_for(
            &state,
            &run,
            vec![
                Event {
                    sequence: 1,
                    kind: EventKind::Stdout,
                    data: json!("TOPSECRET output"),
                    ts: 1,
                },
                permission_request(2, "pr_aaaaaaaaaaaaaaaa"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let push = next(&mut pushes).await;
    assert_eq!(push.path, "/push/browser-1");
    assert_eq!(push.headers[header::CONTENT_ENCODING], "aes128gcm");
    assert_eq!(
        push.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(push.headers["urgency"], "high");
    assert_eq!(push.headers["ttl"], "600");

    // VAPID: `vapid t=<JWT>, k=<the gateway's key>`, the JWT ES256-signed by that key.
    let authorization = push.headers[header::AUTHORIZATION].to_str().unwrap();
    let (jwt, k) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("vapid t=…, k=…");
    assert_eq!(k, vapid_public);
    let (signed_part, sig) = jwt.rsplit_once('.').unwrap();
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, B64.decode(k).unwrap())
        .verify(signed_part.as_bytes(), &B64.decode(sig).unwrap())
        .expect("the VAPID signature verifies against the gateway's public key");
    let (head, claims) = signed_part.split_once('.').unwrap();
    let head: Value = serde_json::from_slice(&B64.decode(head).unwrap()).unwrap();
    assert_eq!(head["alg"], "ES256");
    let claims: Value = serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], service.as_str(), "the push service's origin");
    let exp = claims["exp"].as_i64().unwrap();
    let now = gateway::clock::now_secs();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}");
    assert!(
        claims["sub"].as_str().unwrap().starts_with("https://"),
        "{claims}"
    );

    // The payload, decrypted with the subscription's keys.
    let plain = browser.decrypt(&push.body);
    let payload: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(payload["title"], "Needs approval");
    assert_eq!(payload["body"], "deploy docs wants to use Bash");
    assert_eq!(payload["url"], format!("/runs/{}", run.run_id));
    assert_eq!(
        payload["notice"]["approval"]["request_id"],
        "pr_aaaaaaaaaaaaaaaa"
    );
    assert_eq!(payload["actions"][0]["action"], "allow");
    assert_eq!(payload["actions"][1]["action"], "deny");
    assert_eq!(payload["action"]["url"], "/api/push/action");
    assert!(!String::from_utf8_lossy(&plain).contains("TOPSECRET"));
    let token = payload["action"]["token"].as_str().unwrap().to_string();

    // The service worker posts the action: same origin, the session cookie, no CSRF token.
    let action = |decision: &str| json!({"token": token, "decision": decision});
    let (status, v) = support::send_json(
        &state,
        as_admin("POST", "/api/push/action", action("allow")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not a browser's session: {v}"
    );
    let mut cross_site = browser.request("POST", "/api/push/action", action("allow"), false);
    cross_site
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let (status, _) = support::send_json(&state, cross_site).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, command) = support::send_json(
        &state,
        browser.request("POST", "/api/push/action", action("allow"), false),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{command}");
    let pending = state
        .store
        .pending_commands(run.run_id.clone())
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    match &pending[0].kind {
        CommandKind::Permission {
            request_id,
            decision,
            by,
            message,
            rule,
        } => {
            assert_eq!(
                (request_id.as_str(), *decision, by.as_str(), message, rule),
                (
                    "pr_aaaaaaaaaaaaaaaa",
                    PermissionChoice::Allow,
                    "admin",
                    &None,
                    &None
                )
            );
        }
        other => panic!("not a decision: {other:?}"),
    }
    // Single use.
    let (status, v) = support::send_json(
        &state,
        browser.request("POST", "/api/push/action", action("deny"), false),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        state
            .store
            .pending_commands(run.run_id.clone())
            .await
            .unwrap()
            .len(),
        1
    );

    // A token is bound to the session that subscribed: another session cannot use it. (The
    // browser's ECDH key was used up by the first decryption: it subscribes again with a new
    // one, as browsers do when keys rotate.)
    browser.rekey();
    let resubscribe = json!({
        "endpoint": format!("{service}/push/browser-1"),
        "keys": {"p256dh": B64.encode(&browser.public), "auth": B64.encode(browser.auth)},
        "events": ["needs_approval"],
    });
    let (status, _) = support::send_json(
        &state,
        browser.request("POST", "/api/push/subscriptions", resubscribe, true),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = support::send_json(
        &state,
        support::ingest_for(
            &state,
            &run,
            vec![permission_request(3, "pr_bbbbbbbbbbbbbbbb")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let push = next(&mut pushes).await;
    let payload: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert_eq!(
        payload["notice"]["approval"]["request_id"],
        "pr_bbbbbbbbbbbbbbbb"
    );
    let token = payload["action"]["token"].as_str().unwrap();
    let other = sign_in(&state).await;
    let (status, _) = support::send_json(
        &state,
        other.request(
            "POST",
            "/api/push/action",
            json!({"token": token, "decision": "deny"}),
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        state
            .store
            .pending_commands(run.run_id.clone())
            .await
            .unwrap()
            .len(),
        1
    );
    dispatcher.abort();
}
