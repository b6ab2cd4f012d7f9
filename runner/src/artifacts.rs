//! Artifacts: files the runner uploads to the gateway (`claude.log` at the end of a run,
//! `latest.diff` after a `git diff` command). Every byte passes a fresh redactor first.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::redact::{Redactor, Rules};
use common::wire::ArtifactInfo;
use reqwest::StatusCode;

use crate::client::{GatewayClient, Signer};
use crate::pipeline::Backoff;

/// Largest artifact this runner uploads (the gateway's default limit is 32 MiB).
pub const MAX_UPLOAD_BYTES: usize = 30 * 1024 * 1024;
/// How many times an upload is tried when the gateway is unreachable or busy.
const ATTEMPTS: u32 = 5;

/// Redact `bytes` as one stream with a fresh [`Redactor`].
pub fn redact_bytes(rules: &Arc<Rules>, bytes: &[u8]) -> Vec<u8> {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.chunks(64 * 1024) {
        r.push(chunk, &mut out);
    }
    r.finish(&mut out);
    out
}

/// Keep at most the last `max` bytes of `bytes`, cut at a line start, behind a note saying so.
pub fn tail(bytes: Vec<u8>, max: usize, full_copy: &str) -> Vec<u8> {
    if bytes.len() <= max {
        return bytes;
    }
    let from = bytes.len() - max;
    let start = bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(from, |i| from + i + 1);
    let mut out = format!(
        "[claude-runner: the first {start} bytes are left out of this upload; the whole file is {full_copy}]\n"
    )
    .into_bytes();
    out.extend_from_slice(&bytes[start..]);
    out
}

/// Upload `body` (already redacted) as `name`, retrying transient failures with backoff.
pub async fn upload(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    name: &str,
    body: Vec<u8>,
) -> anyhow::Result<ArtifactInfo> {
    let mut backoff = Backoff::default();
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(backoff.next_delay().max(Duration::from_millis(200))).await;
        }
        match client
            .upload_artifact(signer, run_id, name, body.clone())
            .await
        {
            Ok(Ok(info)) => return Ok(info),
            Ok(Err((status, err)))
                if status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                    || err.reason.as_deref() == Some("replayed_nonce") =>
            {
                last = format!("{status}: {}", err.message);
            }
            Ok(Err((status, err))) => {
                anyhow::bail!("the gateway refused {name} ({status}): {}", err.message)
            }
            Err(e) => last = format!("{e:#}"),
        }
    }
    anyhow::bail!("could not upload {name} after {ATTEMPTS} attempts: {last}")
}

/// Read the file at `path`, redact it, and upload it as `name` (its last part if too large).
pub async fn upload_file(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    rules: &Arc<Rules>,
    name: &str,
    path: &Path,
) -> anyhow::Result<ArtifactInfo> {
    let raw = tokio::fs::read(path)
        .await
        .with_context(|| format!("read {}", path.display()))?;
    let clean = redact_bytes(rules, &raw);
    let body = tail(
        clean,
        MAX_UPLOAD_BYTES,
        &format!("in {} on the runner", path.display()),
    );
    upload(client, signer, run_id, name, body).await
}

/// Upload the run's `claude.log` once it is complete; a failure is told on stderr (the run's
/// events are closed by then). Returns whether it was uploaded.
pub async fn upload_run_log(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    rules: &Arc<Rules>,
    path: &Path,
) -> bool {
    match upload_file(client, signer, run_id, rules, "claude.log", path).await {
        Ok(info) => {
            tracing::info!(size = info.size, "claude.log uploaded");
            true
        }
        Err(e) => {
            eprintln!("claude-runner: claude.log was not uploaded: {e:#}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_secrets_split_anywhere() {
        let rules = Arc::new(Rules::new(&[], vec!["known-value-123456".into()]).unwrap());
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let text = format!("+ let t = \"{token}\";\n+ known-value-123456\nclean line\n");
        let out = String::from_utf8(redact_bytes(&rules, text.as_bytes())).unwrap();
        assert!(
            !out.contains(&token) && !out.contains("known-value-123456"),
            "{out}"
        );
        assert!(
            out.contains("[REDACTED]") && out.ends_with("clean line\n"),
            "{out}"
        );
    }

    #[test]
    fn tail_keeps_whole_lines_and_says_so() {
        let body = b"aaaa\nbbbb\ncccc\n".to_vec();
        assert_eq!(tail(body.clone(), 100, "x"), body);
        let cut = String::from_utf8(tail(body, 7, "in /x")).unwrap();
        assert!(
            cut.starts_with("[claude-runner: the first 10 bytes"),
            "{cut}"
        );
        assert!(cut.ends_with("\ncccc\n") && cut.contains("in /x"), "{cut}");
    }
}
