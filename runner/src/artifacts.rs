//! Artifacts: files the runner uploads to the gateway (`claude.log` at the end of a run,
//! `latest.diff` after a `git diff` command, `files.json`, file contents). Every byte passes a
//! fresh redactor first; what is to be uploaded waits in the run's outbox (`outbox.rs`).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::redact::{Redactor, Rules};
use common::wire::ArtifactInfo;
use reqwest::StatusCode;

use crate::client::{GatewayClient, Signer};
use crate::pipeline::Backoff;

/// Largest artifact this runner uploads (the gateway's default limit is 32 MiB).
pub const MAX_UPLOAD_BYTES: usize = 30 * 1024 * 1024;
/// How many times an upload during the run is tried while the gateway is unreachable or busy;
/// one that still fails stays in the run's outbox (`outbox.rs`) for the end of the run and `flush`.
pub const ATTEMPTS: u32 = 5;

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
    let mut out = cut_note(dropped as u64 + start as u64, full_copy).into_bytes();
    out.extend_from_slice(&bytes[start..]);
    out
}

/// The line that heads an upload whose first `left_out` bytes were cut.
fn cut_note(left_out: u64, full_copy: &str) -> String {
    format!(
        "[claude-runner: the first {left_out} bytes are left out of this upload; the whole file is {full_copy}]\n"
    )
}

/// Redact the file at `path` as one stream with a fresh [`Redactor`] and write what [`tail`]
/// would keep of the result to `out`. Returns its size and SHA-256 (hex, for the signature).
///
/// Memory stays at a few 64 KiB buffers whatever the size of the file: a first pass only counts
/// the redacted bytes (to know where the kept part starts), the second writes them. The second
/// pass redacts again rather than keeping the first's output, which could be gigabytes.
pub fn redact_file_tail_to(
    rules: &Arc<Rules>,
    path: &Path,
    max: usize,
    full_copy: &str,
    out: &Path,
) -> std::io::Result<(u64, String)> {
    use sha2::Digest as _;
    use std::io::Write as _;
    // Pass 1: how long is the redacted text?
    let mut total = 0u64;
    redact_stream(rules, path, true, |chunk| {
        total += chunk.len() as u64;
        Ok(())
    })?;
    // Where `tail` starts: the first line start at or after `total - max` (that very offset if
    // no line starts there).
    let from = total.saturating_sub(max as u64);
    let mut writer = std::io::BufWriter::with_capacity(
        64 * 1024,
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(out)?,
    );
    let mut hash = sha2::Sha256::new();
    let mut size = 0u64;
    let mut emit = |bytes: &[u8]| -> std::io::Result<()> {
        hash.update(bytes);
        size += bytes.len() as u64;
        writer.write_all(bytes)
    };
    let mut offset = 0u64;
    let mut started = from == 0;
    // Pass 2: the kept part, behind its note.
    redact_stream(rules, path, false, |chunk| {
        let at = offset;
        offset += chunk.len() as u64;
        if started {
            return emit(chunk);
        }
        if offset <= from {
            return Ok(());
        }
        let skip = usize::try_from(from.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        // The kept part starts after the first line end at or past `from`.
        if let Some(i) = chunk[skip..].iter().position(|&b| b == b'\n') {
            started = true;
            let cut = skip + i + 1;
            emit(cut_note(at + cut as u64, full_copy).as_bytes())?;
            return emit(&chunk[cut..]);
        }
        Ok(())
    })?;
    if !started {
        // No line starts in the last `max` bytes: they are kept from `from` on. Only possible
        // when the last line is longer than `max`; read them once more.
        let mut offset = 0u64;
        let mut noted = false;
        redact_stream(rules, path, false, |chunk| {
            let at = offset;
            offset += chunk.len() as u64;
            if offset <= from {
                return Ok(());
            }
            if !noted {
                noted = true;
                emit(cut_note(from, full_copy).as_bytes())?;
            }
            let skip = usize::try_from(from.saturating_sub(at))
                .unwrap_or(usize::MAX)
                .min(chunk.len());
            emit(&chunk[skip..])
        })?;
    }
    writer.flush()?;
    Ok((size, hex::encode(hash.finalize())))
}

/// Feed the file at `path`, redacted as one stream, to `sink` piece by piece.
/// `counted`: whether the hits go to the run's tally (only one pass over a file should).
fn redact_stream(
    rules: &Arc<Rules>,
    path: &Path,
    counted: bool,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut redactor = if counted {
        Redactor::new(Arc::clone(rules))
    } else {
        Redactor::uncounted(Arc::clone(rules))
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(128 * 1024);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        redactor.push(&buf[..n], &mut out);
        sink(&out)?;
    }
    out.clear();
    redactor.finish(&mut out);
    sink(&out)
}

/// Why an upload did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// The gateway was unreachable or busy (network error, 408, 429, 5xx): worth trying again.
    #[error("{0}")]
    Transient(String),
    /// The gateway refused the artifact itself (its name, its size, …): it never will take it.
    #[error("the gateway refused {name} ({status}): {message}")]
    Refused {
        name: String,
        status: u16,
        message: String,
    },
    /// The gateway refused the run's signature (401/403): nothing of the run can be delivered
    /// with this key now (a deleted run, a wrong token).
    #[error("the gateway refused {name} ({status}): {message}")]
    Unauthorized {
        name: String,
        status: u16,
        message: String,
    },
}

/// Try `attempt` up to `attempts` times while the gateway is unreachable or busy.
async fn upload_with<F, Fut>(
    name: &str,
    attempts: u32,
    mut attempt: F,
) -> Result<ArtifactInfo, UploadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = anyhow::Result<Result<ArtifactInfo, (StatusCode, common::wire::ErrorBody)>>,
        >,
{
    let mut backoff = Backoff::default();
    let mut last = String::new();
    for n in 1..=attempts.max(1) {
        if n > 1 {
            tokio::time::sleep(backoff.next_delay().max(Duration::from_millis(200))).await;
        }
        match attempt().await {
            Ok(Ok(info)) => return Ok(info),
            Ok(Err((status, err)))
                if status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                    || err.reason.as_deref() == Some("replayed_nonce") =>
            {
                last = format!("{status}: {}", err.message);
            }
            Ok(Err((status, err)))
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN =>
            {
                return Err(UploadError::Unauthorized {
                    name: name.into(),
                    status: status.as_u16(),
                    message: err.message,
                });
            }
            Ok(Err((status, err))) => {
                return Err(UploadError::Refused {
                    name: name.into(),
                    status: status.as_u16(),
                    message: err.message,
                });
            }
            Err(e) => last = format!("{e:#}"),
        }
    }
    Err(UploadError::Transient(format!(
        "could not upload {name} ({attempts} attempts): {last}"
    )))
}

/// Upload the file at `path` (already redacted) as `name`, streamed from disk with its length
/// and SHA-256 read first, in up to `attempts` tries. Memory stays at a few 64 KiB buffers.
pub async fn send_file(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    name: &str,
    path: &Path,
    attempts: u32,
) -> Result<ArtifactInfo, UploadError> {
    let owned = path.to_owned();
    let (size, sha) = tokio::task::spawn_blocking(move || hash_file(&owned))
        .await
        .map_err(|e| UploadError::Transient(format!("hashing {name} failed: {e}")))?
        .map_err(|e| UploadError::Transient(format!("read {}: {e}", path.display())))?;
    upload_with(name, attempts, || async {
        let file = tokio::fs::File::open(path).await?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            64 * 1024,
        ));
        client
            .upload_artifact_hashed(signer, run_id, name, body, size, &sha)
            .await
    })
    .await
}

/// Length and SHA-256 (hex) of the file at `path`, read in 64 KiB pieces.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hash.finalize())))
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
        for i in 0..8_000 {
            text.push_str(&format!("line {i} known-value-123456 and some more text\n"));
        }
        std::fs::write(&path, &text).unwrap();
        // A last line longer than `max` (no line start in the kept part) too.
        text.push_str(&"x".repeat(5000));
        std::fs::write(&path, &text).unwrap();
        for max in [100, 4999, 5000, 5001, 70_000, 10_000_000] {
            let whole = tail(redact_bytes(&rules, text.as_bytes()), max, "x");
            let out = dir.path().join("claude.log.upload");
            let (size, sha) = redact_file_tail_to(&rules, &path, max, "x", &out).unwrap();
            let streamed = std::fs::read(&out).unwrap();
            assert_eq!(size, streamed.len() as u64);
            assert_eq!(sha, common::sign::sha256_hex(&streamed));
            assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&whole),
                "max {max}"
            );
        }
    }

    /// A file upload is streamed from disk with its length and signed hash known beforehand and
    /// sent again whole after a 503.
    #[tokio::test]
    async fn a_file_upload_is_streamed_signed_and_retried_whole() {
        use crate::client::testing;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let rules = Arc::new(Rules::new(&[], vec!["known-value-123456".into()]).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claude.log");
        let text: String = (0..5_000)
            .map(|i| format!("line {i} known-value-123456 and some more text\n"))
            .collect();
        let want = redact_bytes(&rules, text.as_bytes());
        std::fs::write(&path, &want).unwrap();
        let tries = Arc::new(AtomicUsize::new(0));
        let (url, _, requests) = testing::serve_recording({
            let tries = tries.clone();
            move |_| {
                if tries.fetch_add(1, Ordering::SeqCst) == 0 {
                    let body = r#"{"error":"unavailable","message":"busy"}"#;
                    format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    testing::json(
                        r#"{"name":"claude.log","size":1,"sha256":"x","created_at":0}"#,
                    )
                }
            }
        })
        .await;
        let key = [3u8; 32];
        let signer = Signer::Run {
            run_id: "r1".into(),
            key,
        };
        let info = send_file(
            &testing::client(&url),
            &signer,
            "r1",
            "claude.log",
            &path,
            3,
        )
        .await
        .unwrap();
        assert_eq!(info.name, "claude.log");
        let requests = requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2, "one 503, then the upload");
        assert!(!String::from_utf8_lossy(&want).contains("known-value-123456"));
        for (head, body) in &requests {
            assert_eq!(body, &want, "every attempt sends the whole redacted file");
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                    })
                    .unwrap_or_default()
            };
            let target = head.split(' ').nth(1).unwrap();
            let (path, query) = target.split_once('?').unwrap();
            let parts = common::sign::SignedParts {
                method: "POST",
                path,
                query,
                run_id: "r1",
                timestamp: header(common::sign::HEADER_TIMESTAMP).parse().unwrap(),
                nonce: &header(common::sign::HEADER_NONCE),
                body,
            };
            common::sign::verify(&key, &parts, &header(common::sign::HEADER_SIGNATURE))
                .expect("the signature covers the streamed body");
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
