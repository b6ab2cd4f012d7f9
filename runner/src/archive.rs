//! A run's session archive: what another machine needs to continue its Claude session. At the
//! end of a run an agent took, `start` uploads it as the artifact `session-archive.json`; a run
//! that continues the session restores it before its first turn resumes.
//!
//! It holds the session's transcript file (Claude keeps it at
//! `$CLAUDE_CONFIG_DIR/projects/<cwd, every other character than A-Z a-z 0-9 a dash>/<id>.jsonl`,
//! `~/.claude` without the variable) and, for a run in a fresh workspace, the workspace's text
//! files as the file tree lists them (`.gitignore`-aware in a repository; `.git`,
//! `node_modules`, `target` and the runner's data directory never), each read through
//! `workspace::read_file` (inside the workspace, no link out). Everything passes the redactor,
//! as every byte that leaves the runner does: a secret in a file comes back as `[REDACTED:…]`.
//! Binary files and files over 1 MiB are left out and listed; the whole stays under 24 MiB.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use common::redact::{Rules, redact_text};
use serde::{Deserialize, Serialize};

/// Largest file taken into an archive.
const MAX_FILE: u64 = 1024 * 1024;
/// Largest archive (the gateway takes artifacts up to 32 MiB).
const MAX_TOTAL: usize = 24 * 1024 * 1024;
/// Most files listed from a workspace.
const MAX_FILES: usize = 5_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Archive {
    pub version: u32,
    pub session_id: String,
    /// The transcript file's lines, redacted.
    pub transcript: String,
    /// The workspace's files (a fresh workspace only).
    #[serde(default)]
    pub files: Vec<ArchivedFile>,
    /// Left out: binary, too large, or past the archive's bound.
    #[serde(default)]
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedFile {
    pub path: String,
    pub text: String,
}

/// Claude's config directory, as the CLI finds it.
pub fn claude_config_dir(env: &std::collections::BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".claude")))
}

/// The folder of `projects/` that holds the sessions of `cwd`.
pub fn project_dir(config: &Path, cwd: &Path) -> PathBuf {
    let name: String = cwd
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    config.join("projects").join(name)
}

/// The transcript file of `session_id`, wherever under `projects/` it is.
fn find_transcript(config: &Path, cwd: &Path, session_id: &str) -> Option<PathBuf> {
    let file = format!("{session_id}.jsonl");
    let direct = project_dir(config, cwd).join(&file);
    if direct.is_file() {
        return Some(direct);
    }
    std::fs::read_dir(config.join("projects"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join(&file))
        .find(|p| p.is_file())
}

/// Build the archive of a run's session; `workspace` is `Some` for a fresh workspace.
pub fn build(
    config: &Path,
    cwd: &Path,
    session_id: &str,
    workspace: bool,
    hidden: &[PathBuf],
    rules: &Arc<Rules>,
) -> anyhow::Result<Archive> {
    anyhow::ensure!(
        !session_id.is_empty()
            && session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "session id {session_id:?} is not a plain name"
    );
    let path = find_transcript(config, cwd, session_id).with_context(|| {
        format!(
            "no transcript of session {session_id} under {}",
            config.display()
        )
    })?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let mut archive = Archive {
        version: 1,
        session_id: session_id.to_string(),
        transcript: redact_text(rules, &text),
        ..Archive::default()
    };
    if workspace {
        let mut total = archive.transcript.len();
        let tree = crate::workspace::tree(cwd, MAX_FILES, hidden);
        for file in tree["files"].as_array().into_iter().flatten() {
            let Some(rel) = file["path"].as_str() else {
                continue;
            };
            if file["symlink"].as_bool() == Some(true) {
                archive.skipped.push(rel.to_string());
                continue;
            }
            let read = crate::workspace::read_file(cwd, rel, MAX_FILE + 1, hidden);
            let text = match read {
                Ok(r) if !r.truncated && r.bytes.len() as u64 <= MAX_FILE => {
                    String::from_utf8(r.bytes).ok()
                }
                _ => None,
            };
            match text {
                Some(t) if total + t.len() <= MAX_TOTAL => {
                    let t = redact_text(rules, &t);
                    total += t.len() + rel.len();
                    archive.files.push(ArchivedFile {
                        path: rel.to_string(),
                        text: t,
                    });
                }
                _ => archive.skipped.push(rel.to_string()),
            }
        }
    }
    Ok(archive)
}

/// Restore an archive for a run in `cwd`: the transcript where `claude --resume` run in `cwd`
/// finds it, and the files into `cwd` (a fresh workspace). A path that is absolute, has `..`, or
/// would write through a symbolic link is refused.
pub fn restore(archive: &Archive, config: &Path, cwd: &Path, files: bool) -> anyhow::Result<()> {
    let id = &archive.session_id;
    anyhow::ensure!(
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "the archive's session id is not a plain name"
    );
    let dir = project_dir(config, cwd);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    crate::outbox::write_atomic(
        &dir.join(format!("{id}.jsonl")),
        archive.transcript.as_bytes(),
    )
    .context("write the session's transcript")?;
    if !files {
        return Ok(());
    }
    let root = std::fs::canonicalize(cwd).context("the workspace")?;
    for f in &archive.files {
        let rel = Path::new(&f.path);
        anyhow::ensure!(
            rel.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "archive path {:?} is not a plain relative path",
            f.path
        );
        let target = root.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
            let real = std::fs::canonicalize(parent)?;
            anyhow::ensure!(
                real.starts_with(&root),
                "{:?} leads outside the workspace",
                f.path
            );
        }
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            anyhow::bail!("{:?} is a symbolic link in the workspace", f.path);
        }
        std::fs::write(&target, &f.text).with_context(|| format!("write {}", target.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_redacts_and_refuses_paths_out() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("claude");
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("src")).unwrap();
        let secret = format!("ghp_{}", "Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8");
        std::fs::write(ws.join("src/a.txt"), format!("token {secret}\n")).unwrap();
        std::fs::write(ws.join("bin.dat"), [0u8, 159, 146, 150]).unwrap();
        let pd = project_dir(&config, &std::fs::canonicalize(&ws).unwrap());
        std::fs::create_dir_all(&pd).unwrap();
        std::fs::write(pd.join("s-1.jsonl"), format!("{{\"x\":\"{secret}\"}}\n")).unwrap();
        let rules = Arc::new(
            Rules::from_config(common::redact::DEFAULT_CONFIG, &Default::default(), vec![])
                .unwrap(),
        );
        let ws_real = std::fs::canonicalize(&ws).unwrap();
        let a = build(&config, &ws_real, "s-1", true, &[], &rules).unwrap();
        let text = serde_json::to_string(&a).unwrap();
        assert!(!text.contains(&secret), "{text}");
        assert_eq!(a.files.len(), 1);
        assert_eq!(a.skipped, ["bin.dat"]);

        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        restore(&a, &config, &other, true).unwrap();
        let other_real = std::fs::canonicalize(&other).unwrap();
        assert!(
            project_dir(&config, &other_real)
                .join("s-1.jsonl")
                .is_file()
                || project_dir(&config, &other).join("s-1.jsonl").is_file()
        );
        assert!(
            std::fs::read_to_string(other.join("src/a.txt"))
                .unwrap()
                .starts_with("token ")
        );

        let mut evil = a.clone();
        evil.files = vec![ArchivedFile {
            path: "../escape.txt".into(),
            text: "x".into(),
        }];
        assert!(restore(&evil, &config, &other, true).is_err());
        assert!(!dir.path().join("escape.txt").exists());
        evil.session_id = "../x".into();
        assert!(restore(&evil, &config, &other, false).is_err());
    }
}
