//! The run's outbox: artifacts waiting to be uploaded survive like events do. Each is kept, already
//! redacted, as `<data>/runs/<run>/outbox/<name>` (written whole, synced, then renamed in) until
//! the gateway has it; a newer version of the same name replaces a waiting one.
//!
//! During the run an upload is tried a few times ([`crate::artifacts::ATTEMPTS`]); one that still
//! fails stays. At the end `start` stages `claude.log` here too and retries everything within the
//! drain window, next to the events; `flush` delivers what is left, staging a `claude.log` a
//! crashed runner never staged (`claude.log.staged` records how much of it was). An artifact the
//! gateway refuses for itself (its name, its size) is dropped with a message, since it never will
//! take it; after a 401/403 everything stays for a later `flush`. `run.key` is kept until the
//! outbox is empty and `claude.log` is staged.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::redact::Rules;
use common::wire::ArtifactInfo;

use crate::artifacts::{self, MAX_UPLOAD_BYTES, UploadError};
use crate::client::{GatewayClient, Signer};
use crate::pipeline::Backoff;

/// The run's log, staged from `<run dir>/claude.log` at the end.
pub const RUN_LOG: &str = "claude.log";

/// A run's outbox; cheap to clone (paths only).
#[derive(Debug, Clone)]
pub struct Outbox {
    run_dir: PathBuf,
    dir: PathBuf,
}

/// How draining the outbox ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// Nothing is left.
    Empty,
    /// These are left (the time ran out, or the gateway refused the run's key).
    Left(Vec<String>),
}

impl Outbox {
    /// The outbox of the run whose directory is `run_dir` (created when first used).
    pub fn new(run_dir: &Path) -> Self {
        Self {
            run_dir: run_dir.to_path_buf(),
            dir: run_dir.join("outbox"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Keep `body` as `name` until it is uploaded: written to a temporary file, synced, renamed
    /// over a waiting older version.
    pub fn put(&self, name: &str, body: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        write_atomic(&self.path(name), body)
    }

    /// Names waiting for upload, sorted.
    pub fn pending(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// Nothing waits: the outbox is empty and `claude.log` (if any) is staged.
    pub fn is_settled(&self) -> bool {
        self.pending().is_empty() && !self.log_unstaged()
    }

    /// `claude.log` has grown since it was last staged (or never was).
    pub fn log_unstaged(&self) -> bool {
        let Ok(meta) = std::fs::metadata(self.run_dir.join(RUN_LOG)) else {
            return false;
        };
        let staged = std::fs::read_to_string(self.staged_record())
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        staged != Some(meta.len())
    }

    fn staged_record(&self) -> PathBuf {
        self.run_dir.join("claude.log.staged")
    }

    /// Redact `claude.log` with a fresh redactor (its last [`MAX_UPLOAD_BYTES`] if longer) into
    /// the outbox, then record how much of it that was. Blocking work on the blocking pool.
    pub async fn stage_log(&self, rules: &Arc<Rules>) -> anyhow::Result<()> {
        use anyhow::Context;
        let (this, rules) = (self.clone(), Arc::clone(rules));
        tokio::task::spawn_blocking(move || {
            let log = this.run_dir.join(RUN_LOG);
            let len = std::fs::metadata(&log)
                .with_context(|| format!("read {}", log.display()))?
                .len();
            std::fs::create_dir_all(&this.dir)?;
            let staging = this.dir.join(format!(".{RUN_LOG}.tmp"));
            let note = format!("in {} on the runner", log.display());
            artifacts::redact_file_tail_to(&rules, &log, MAX_UPLOAD_BYTES, &note, &staging)
                .with_context(|| format!("redact {}", log.display()))?;
            std::fs::File::open(&staging)?.sync_all()?;
            std::fs::rename(&staging, this.path(RUN_LOG))?;
            write_atomic(&this.staged_record(), format!("{len}\n").as_bytes())?;
            Ok(())
        })
        .await
        .context("staging claude.log failed")?
    }

    /// Keep `body` as `name`, then upload it (a few attempts); it stays in the outbox if that
    /// fails for a reason that may pass.
    pub async fn upload(
        &self,
        client: &GatewayClient,
        signer: &Signer,
        run_id: &str,
        name: &str,
        body: Vec<u8>,
    ) -> Result<ArtifactInfo, UploadError> {
        let (this, owned) = (self.clone(), name.to_string());
        tokio::task::spawn_blocking(move || this.put(&owned, &body))
            .await
            .map_err(|e| UploadError::Transient(format!("keeping {name} failed: {e}")))?
            .map_err(|e| UploadError::Transient(format!("keeping {name} failed: {e}")))?;
        self.send(client, signer, run_id, name, artifacts::ATTEMPTS)
            .await
    }

    /// Upload the waiting `name` in up to `attempts` tries. Once the gateway has it, it leaves
    /// the outbox (unless a newer version replaced it meanwhile); one the gateway refuses for
    /// itself leaves it too.
    pub async fn send(
        &self,
        client: &GatewayClient,
        signer: &Signer,
        run_id: &str,
        name: &str,
        attempts: u32,
    ) -> Result<ArtifactInfo, UploadError> {
        let path = self.path(name);
        let version = version_of(&path);
        let sent = artifacts::send_file(client, signer, run_id, name, &path, attempts).await;
        if matches!(sent, Ok(_) | Err(UploadError::Refused { .. })) && version_of(&path) == version
        {
            let _ = std::fs::remove_file(&path);
        }
        sent
    }

    /// Upload everything waiting, retrying what fails for a passing reason without an attempt
    /// limit (backoff with full jitter), until nothing is left or the gateway refuses the run's
    /// key. Refused artifacts are dropped with a message on stderr. The caller bounds the time.
    pub async fn drain(&self, client: &GatewayClient, signer: &Signer, run_id: &str) -> Drained {
        let mut backoff = Backoff::default();
        loop {
            let pending = self.pending();
            if pending.is_empty() {
                return Drained::Empty;
            }
            let mut failed = false;
            for name in &pending {
                match self.send(client, signer, run_id, name, 1).await {
                    Ok(info) => tracing::info!(name, size = info.size, "artifact uploaded"),
                    Err(e @ UploadError::Refused { .. }) => {
                        eprintln!("claude-runner: {e}; it is dropped");
                    }
                    Err(e @ UploadError::Unauthorized { .. }) => {
                        eprintln!("claude-runner: {e}; stopped uploading");
                        return Drained::Left(self.pending());
                    }
                    Err(UploadError::Transient(why)) => {
                        tracing::debug!(name, %why, "upload failed; retrying");
                        failed = true;
                    }
                }
            }
            if failed {
                tokio::time::sleep(backoff.next_delay().max(Duration::from_millis(100))).await;
            } else {
                backoff.reset();
            }
        }
    }
}

/// What a message about a failed upload adds: whether the artifact still waits.
pub fn kept_note(e: &UploadError) -> &'static str {
    match e {
        UploadError::Transient(_) | UploadError::Unauthorized { .. } => {
            "; it is kept and sent again when the run ends (or by `claude-runner flush`)"
        }
        UploadError::Refused { .. } => "",
    }
}

/// What identifies one version of a file: replaced by rename, it is another inode.
fn version_of(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Replace `path` with `bytes` whole: a temporary file beside it (0600), synced, renamed over it,
/// and the directory synced, so a crash leaves the old or the new content, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(format!(".{}", tmp_name.to_string_lossy()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn signer() -> Signer {
        Signer::Run {
            run_id: "r1".into(),
            key: [3; 32],
        }
    }

    fn answer(status: u16, body: &str) -> String {
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn a_failed_upload_waits_and_a_newer_version_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        let (url, _) =
            testing::serve(|_| answer(503, r#"{"error":"busy","message":"busy"}"#)).await;
        let client = testing::client(&url);
        let e = outbox
            .send(&client, &signer(), "r1", "files.json", 1)
            .await
            .unwrap_err();
        assert!(
            matches!(e, UploadError::Transient(_)),
            "nothing to send: {e}"
        );
        let e = outbox
            .upload(&client, &signer(), "r1", "files.json", b"old".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(e, UploadError::Transient(_)), "{e}");
        outbox.put("files.json", b"new").unwrap();
        assert_eq!(outbox.pending(), ["files.json"]);
        assert_eq!(
            std::fs::read(dir.path().join("outbox/files.json")).unwrap(),
            b"new"
        );
    }

    #[tokio::test]
    async fn draining_retries_until_the_gateway_takes_it_and_drops_what_it_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        outbox.put("latest.diff", b"diff").unwrap();
        outbox.put("bad.exe", b"x").unwrap();
        let tries = Arc::new(AtomicUsize::new(0));
        let (url, _, requests) = testing::serve_recording({
            let tries = tries.clone();
            move |head| {
                if head.contains("name=bad.exe") {
                    answer(
                        400,
                        r#"{"error":"bad_request","reason":"invalid_name","message":"no"}"#,
                    )
                } else if tries.fetch_add(1, Ordering::SeqCst) < 3 {
                    answer(503, r#"{"error":"busy","message":"busy"}"#)
                } else {
                    testing::json(r#"{"name":"latest.diff","size":4,"sha256":"x","created_at":0}"#)
                }
            }
        })
        .await;
        let drained = tokio::time::timeout(
            Duration::from_secs(20),
            outbox.drain(&testing::client(&url), &signer(), "r1"),
        )
        .await
        .expect("drained");
        assert_eq!(drained, Drained::Empty);
        assert!(outbox.pending().is_empty());
        let diffs = requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(head, _)| head.contains("name=latest.diff"))
            .count();
        assert_eq!(diffs, 4, "three 503s, then the upload");
    }

    #[tokio::test]
    async fn an_unauthorized_run_keeps_everything_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        outbox.put("files.json", b"{}").unwrap();
        let (url, _) = testing::serve(|_| {
            answer(
                401,
                r#"{"error":"unauthorized","reason":"unknown_run","message":"no"}"#,
            )
        })
        .await;
        let drained = outbox.drain(&testing::client(&url), &signer(), "r1").await;
        assert_eq!(drained, Drained::Left(vec!["files.json".into()]));
    }

    #[tokio::test]
    async fn claude_log_is_staged_redacted_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        assert!(!outbox.log_unstaged(), "no log, nothing to stage");
        std::fs::write(dir.path().join(RUN_LOG), "a known-value-123456 b\n").unwrap();
        assert!(outbox.log_unstaged());
        let rules = Arc::new(Rules::new(&[], vec!["known-value-123456".into()]).unwrap());
        outbox.stage_log(&rules).await.unwrap();
        assert!(!outbox.log_unstaged());
        let staged = std::fs::read_to_string(dir.path().join("outbox/claude.log")).unwrap();
        assert_eq!(staged, "a [REDACTED] b\n");
        assert_eq!(outbox.pending(), ["claude.log"]);
        // A continued run appends: it must be staged again.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(RUN_LOG))
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert!(outbox.log_unstaged());
    }
}
