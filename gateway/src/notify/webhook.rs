//! Webhooks: the outbound HTTP client, the URL and secret rules, and one signed delivery.
//!
//! The client is reqwest, already built for the runner with the same features (rustls with the
//! ring provider, the webpki roots): no second HTTP or TLS stack. It follows no redirect: the
//! admin named one URL, and a receiver answering `307 Location: http://10.0.0.1/…` must not
//! make the gateway post a signed body to an address nobody gave it. A 3xx is a failed attempt.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::sign;

use crate::error::ApiError;
use crate::store::{Webhook, WebhookFormat};

/// Longest webhook URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// One attempt's limit, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The outbound client of webhooks and Web Push.
pub(super) fn client() -> anyhow::Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .connect_timeout(ATTEMPT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("claude-runner-gateway/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
        .context("build the outbound HTTP client")
}

/// A webhook URL: `https://` or `http://`, a host, no fragment, at most 2 KiB.
pub fn check_webhook_url(url: &str) -> Result<reqwest::Url, ApiError> {
    let bad = |why: &str| ApiError::bad_request("invalid_field", format!("url {why}"));
    if url.len() > MAX_URL_BYTES {
        return Err(bad("is longer than 2048 bytes"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("is not a URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(bad("must start with https:// or http://"));
    }
    if parsed.host().is_none() || parsed.fragment().is_some() {
        return Err(bad("needs a host and no #fragment"));
    }
    Ok(parsed)
}

/// A fresh signing secret: `whsec_` and 256 random bits, base64url.
pub fn new_webhook_secret() -> anyhow::Result<String> {
    Ok(format!("whsec_{}", crate::secrets::random_token(32)?))
}

/// How one attempt ended.
#[derive(Debug)]
pub(super) enum Sent {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// It answered something else (a redirect included: not followed).
    Refused(u16),
    /// No answer: connection, TLS or timeout; the words never hold the URL.
    Unreachable(String),
}

/// Post one delivery to `hook`, signed (`PROTOCOL.md`, "Webhooks").
pub(super) async fn send(
    http: &reqwest::Client,
    hook: &Webhook,
    delivery_id: &str,
    event: &str,
    body: &str,
    now_secs: i64,
) -> Sent {
    let body = match hook.format {
        WebhookFormat::Json => body.to_string(),
        WebhookFormat::Slack => match serde_json::from_str::<super::Notice>(body) {
            Ok(notice) => notice.slack_body(),
            Err(e) => return Sent::Unreachable(format!("the stored notice does not parse: {e}")),
        },
    };
    let signature = sign::webhook_signature(
        hook.secret.as_bytes(),
        now_secs,
        delivery_id,
        body.as_bytes(),
    );
    let request = http
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::WEBHOOK_HEADER_ID, delivery_id)
        .header(sign::WEBHOOK_HEADER_TIMESTAMP, now_secs.to_string())
        .header(sign::WEBHOOK_HEADER_SIGNATURE, signature)
        .header("x-webhook-event", event)
        .body(body);
    match request.send().await {
        Ok(resp) if resp.status().is_success() => Sent::Delivered(resp.status().as_u16()),
        Ok(resp) => Sent::Refused(resp.status().as_u16()),
        Err(e) => Sent::Unreachable(e.without_url().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        for ok in [
            "https://hooks.slack.com/services/T/B/x",
            "http://127.0.0.1:9000/hook",
        ] {
            assert!(check_webhook_url(ok).is_ok(), "{ok}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        for bad in [
            "ftp://example.com/",
            "javascript:alert(1)",
            "not a url",
            "https://example.com/#x",
            long.as_str(),
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
        let secret = new_webhook_secret().unwrap();
        assert!(
            secret.starts_with("whsec_") && secret.len() == 49,
            "{secret}"
        );
    }
}
