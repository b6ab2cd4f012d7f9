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
    tail_after(bytes, 0, max, full_copy)
}

/// [`tail`] of a text whose first `dropped` bytes were already let go (`bytes` is the rest).
fn tail_after(bytes: Vec<u8>, dropped: usize, max: usize, full_copy: &str) -> Vec<u8> {
    if dropped == 0 && bytes.len() <= max {
        return bytes;
    }
    let from = bytes.len().saturating_sub(max);
    let start = bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(from, |i| from + i + 1);
    let mut out = format!(
        "[claude-runner: the first {} bytes are left out of this upload; the whole file is {full_copy}]\n",
        dropped + start
    )
    .into_bytes();
    out.extend_from_slice(&bytes[start..]);
    out
}

/// Redact the file at `path` as one stream with a fresh [`Redactor`], keeping only what [`tail`]
/// would keep of the result. Reads 64 KiB at a time into a ring of about `max` bytes, so a 1 GB
/// `claude.log` costs `max` plus 128 KiB, and the upload body is built in the same buffer.
pub fn redact_file_tail(
    rules: &Arc<Rules>,
    path: &Path,
    max: usize,
    full_copy: &str,
) -> std::io::Result<Vec<u8>> {
    use std::collections::VecDeque;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut redactor = Redactor::new(Arc::clone(rules));
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(128 * 1024);
    // The last `max` bytes of the redacted text (one more byte tells where a line starts).
    // Reserved once (pages are touched only as they fill): a ring that grew by doubling would
    // wander over twice the room.
    let size = file.metadata().map_or(max as u64, |m| m.len());
    let mut kept: VecDeque<u8> =
        VecDeque::with_capacity(usize::try_from(size).unwrap_or(max).min(max) + 256 * 1024);
    let mut dropped = 0;
    let mut keep = |out: &mut Vec<u8>, kept: &mut VecDeque<u8>| {
        kept.extend(out.iter());
        out.clear();
        if kept.len() > max + 1 {
            let cut = kept.len() - (max + 1);
            kept.drain(..cut);
            dropped += cut;
        }
    };
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        redactor.push(&buf[..n], &mut out);
        keep(&mut out, &mut kept);
    }
    redactor.finish(&mut out);
    keep(&mut out, &mut kept);
    drop(buf);
    if dropped == 0 && kept.len() <= max {
        return Ok(Vec::from(kept));
    }
    // As `tail_after`: the last `max` bytes from the first line start, behind the note.
    let from = kept.len().saturating_sub(max);
    let start = kept
        .range(from..)
        .position(|&b| b == b'\n')
        .map_or(from, |i| from + i + 1);
    kept.drain(..start);
    let note = format!(
        "[claude-runner: the first {} bytes are left out of this upload; the whole file is {full_copy}]\n",
        dropped + start
    );
    for &b in note.as_bytes().iter().rev() {
        kept.push_front(b);
    }
    Ok(Vec::from(kept))
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
    // Shared by every attempt, never copied (a `claude.log` tail is up to 30 MiB).
    let body = bytes::Bytes::from(body);
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
    let (rules, owned) = (Arc::clone(rules), path.to_owned());
    let body = tokio::task::spawn_blocking(move || {
        let note = format!("in {} on the runner", owned.display());
        redact_file_tail(&rules, &owned, MAX_UPLOAD_BYTES, &note)
    })
    .await
    .context("redacting the file failed")?
    .with_context(|| format!("read {}", path.display()))?;
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
    fn a_file_is_redacted_as_a_stream_and_keeps_the_same_tail() {
        let rules = Arc::new(Rules::new(&[], vec!["known-value-123456".into()]).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claude.log");
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("line {i} known-value-123456 and some more text\n"));
        }
        std::fs::write(&path, &text).unwrap();
        for max in [100, 4096, 70_000, 300_000, 10_000_000] {
            let whole = tail(redact_bytes(&rules, text.as_bytes()), max, "x");
            let streamed = redact_file_tail(&rules, &path, max, "x").unwrap();
            assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&whole),
                "max {max}"
            );
        }
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
