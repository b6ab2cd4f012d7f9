//! `claude-runner test-connection`: DNS, TCP, TLS, clock skew and the HMAC secret, each step with a
//! verdict in plain words.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::sign::{AuthReason, MAX_SKEW_SECS};
use rustls_pki_types::ServerName;

use crate::client::{GatewayClient, Signer};
use crate::config::Settings;
use crate::tls::{self, Trust};

const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// One step's verdict.
#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Run every check; stops at the first network step that fails (later ones depend on it).
pub async fn check(settings: &Settings) -> Vec<Step> {
    let mut steps = Vec::new();
    let url = &settings.gateway_url;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let push = |steps: &mut Vec<Step>, name, ok, detail: String| {
        steps.push(Step { name, ok, detail });
        ok
    };

    // DNS
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
            .await
        {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                push(
                    &mut steps,
                    "dns",
                    false,
                    format!("cannot resolve {host:?}: {e}"),
                );
                return steps;
            }
            Err(_) => {
                push(
                    &mut steps,
                    "dns",
                    false,
                    format!(
                        "resolving {host:?} took more than {} s",
                        STEP_TIMEOUT.as_secs()
                    ),
                );
                return steps;
            }
        };
    if addrs.is_empty() {
        push(
            &mut steps,
            "dns",
            false,
            format!("{host:?} resolves to no address"),
        );
        return steps;
    }
    let list = addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    push(&mut steps, "dns", true, format!("{host} → {list}"));

    // TCP: the first address that accepts.
    let mut tcp = None;
    let mut last_err = String::new();
    for addr in &addrs {
        match tokio::time::timeout(STEP_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                tcp = Some((s, *addr));
                break;
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last_err = format!(
                    "nothing is listening on {addr} (connection refused): is the gateway running, on this port?"
                );
            }
            Ok(Err(e)) => last_err = format!("cannot connect to {addr}: {e}"),
            Err(_) => {
                last_err = format!(
                    "no answer from {addr} within {} s (a firewall may drop the traffic)",
                    STEP_TIMEOUT.as_secs()
                )
            }
        }
    }
    let Some((stream, addr)) = tcp else {
        push(&mut steps, "tcp", false, last_err);
        return steps;
    };
    push(&mut steps, "tcp", true, format!("connected to {addr}"));

    // TLS
    if url.scheme() == "https" {
        let verdict = match tls::client_config(&settings.trust) {
            Err(e) => Err(format!("{e:#}")),
            Ok(cfg) => match ServerName::try_from(host.clone()) {
                Err(e) => Err(format!("{host:?} is not a valid TLS server name: {e}")),
                Ok(name) => {
                    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
                    match tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, stream)).await
                    {
                        Ok(Ok(s)) => {
                            let (_, conn) = s.get_ref();
                            let version = conn
                                .protocol_version()
                                .map(|v| format!("{v:?}"))
                                .unwrap_or_default();
                            Ok(format!(
                                "handshake ok ({version}), verified with {}",
                                tls::describe(&settings.trust)
                            ))
                        }
                        Ok(Err(e)) => Err(tls::explain_tls_error(&e)),
                        Err(_) => Err(format!(
                            "no TLS answer within {} s: is this port serving HTTPS?",
                            STEP_TIMEOUT.as_secs()
                        )),
                    }
                }
            },
        };
        let ok = verdict.is_ok();
        push(&mut steps, "tls", ok, verdict.unwrap_or_else(|e| e));
        if !ok {
            return steps;
        }
        if matches!(settings.trust, Trust::Insecure) {
            steps
                .last_mut()
                .expect("just pushed")
                .detail
                .push_str(" — WARNING: verification is off (ALLOW_SELF_SIGNED)");
        }
    } else {
        push(
            &mut steps,
            "tls",
            true,
            "plain HTTP: not encrypted (use https:// unless this is loopback)".into(),
        );
    }

    let client = match GatewayClient::new(settings) {
        Ok(c) => c,
        Err(e) => {
            push(&mut steps, "http", false, format!("{e:#}"));
            return steps;
        }
    };

    // Clock
    let skew_ok = match client.health().await {
        Ok(ping) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let skew = now - ping.server_time;
            if skew.abs() > MAX_SKEW_SECS {
                let dir = if skew > 0 { "ahead of" } else { "behind" };
                push(
                    &mut steps,
                    "clock",
                    false,
                    format!(
                        "this machine's clock is {} s {dir} the gateway's (more than {MAX_SKEW_SECS} s): signed requests \
                         will be refused as stale; synchronise the clock (NTP)",
                        skew.abs()
                    ),
                )
            } else {
                push(
                    &mut steps,
                    "clock",
                    true,
                    format!(
                        "skew {skew:+} s (limit ±{MAX_SKEW_SECS} s); gateway {}",
                        ping.version
                    ),
                )
            }
        }
        Err(e) => push(
            &mut steps,
            "clock",
            false,
            format!("GET /api/health failed: {e:#} (is this a claude-runner gateway?)"),
        ),
    };

    // Secret
    match &settings.hmac_secret {
        None => {
            push(
                &mut steps,
                "secret",
                false,
                "HMAC_SECRET is not set: copy it from the gateway's runner.env".into(),
            );
        }
        Some(secret) => match client.ping(&Signer::Shared(secret.clone())).await {
            Ok(Ok(_)) => {
                push(
                    &mut steps,
                    "secret",
                    true,
                    "the gateway accepted a request signed with HMAC_SECRET".into(),
                );
            }
            Ok(Err((status, body))) => {
                let why = match body.reason.as_deref().and_then(AuthReason::from_code) {
                    Some(AuthReason::BadSignature) => {
                        "the signature does not match: HMAC_SECRET differs from the gateway's"
                            .to_string()
                    }
                    Some(AuthReason::StaleTimestamp) if !skew_ok => {
                        "refused as stale because of the clock skew above".into()
                    }
                    _ => format!("the gateway answered {status}: {}", body.message),
                };
                push(&mut steps, "secret", false, why);
            }
            Err(e) => {
                push(
                    &mut steps,
                    "secret",
                    false,
                    format!("signed ping failed: {e:#}"),
                );
            }
        },
    }
    steps
}

/// Print the steps and a closing verdict; true if all passed.
pub fn report(steps: &[Step]) -> bool {
    for s in steps {
        println!(
            "{:<5} {:<7} {}",
            if s.ok { "ok" } else { "FAIL" },
            s.name,
            s.detail
        );
    }
    let failed = steps.iter().filter(|s| !s.ok).count();
    if failed == 0 {
        println!("OK: this runner can reach the gateway and sign requests");
        true
    } else {
        println!("FAILED: {failed} problem(s) above");
        false
    }
}
