//! The run's working directory: where it is (`--cwd`, `--workspace auto`), its git branch and
//! checkpoint commits (`--git-branch`), its file tree, and reading one of its files safely.
//!
//! Everything here is blocking (files, `git`); callers run it on the blocking pool. Nothing here
//! redacts: callers pass what it returns through the redactor before it leaves the machine.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Most entries a file tree lists.
pub const MAX_TREE_ENTRIES: usize = 2_000;
/// Most bytes of one file a `file` command returns.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The artifact the file tree is uploaded as.
pub const TREE_ARTIFACT: &str = "files.json";
/// Directories a walk outside git never enters.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target"];
/// The author of checkpoint commits.
const AUTHOR: [&str; 4] = [
    "-c",
    "user.name=claude-runner",
    "-c",
    "user.email=claude-runner@localhost",
];

/// `<data>/workspaces/<run-id>/`.
pub fn auto_dir(data_dir: &Path, run_id: &str) -> PathBuf {
    data_dir.join("workspaces").join(run_id)
}

/// The branch a `--git-branch` run works on.
pub fn branch_name(run_id: &str) -> String {
    format!("claude/{run_id}")
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(AUTHOR)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("run git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True if `dir` is inside a git working tree.
pub fn is_git_repo(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|o| o.trim() == "true")
}

/// Put `dir` on `branch`: switch to it if it exists (a continued run), else create it from the
/// current commit. `init` runs `git init` first where there is no repository (auto workspaces);
/// otherwise a directory outside git is an error.
pub fn prepare_branch(dir: &Path, branch: &str, init: bool) -> anyhow::Result<()> {
    if !is_git_repo(dir) {
        if !init {
            bail!(
                "--git-branch needs a git repository, and {} is not in one (`git init` it, or use \
                 --workspace auto)",
                dir.display()
            );
        }
        git(dir, &["init", "--quiet"])?;
    }
    let exists = git(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )
    .is_ok();
    if exists {
        git(dir, &["switch", "--quiet", branch])?;
    } else {
        git(dir, &["switch", "--quiet", "-c", branch])?;
    }
    Ok(())
}

/// Commit everything in the working tree (`git add -A`) on the current branch, without hooks.
/// `Ok(None)` if there was nothing to commit; `Ok(Some(hash))` otherwise.
pub fn checkpoint(dir: &Path, message: &str) -> anyhow::Result<Option<String>> {
    if git(dir, &["status", "--porcelain"])?.trim().is_empty() {
        return Ok(None);
    }
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "--quiet", "--no-verify", "-m", message])?;
    Ok(Some(git(dir, &["rev-parse", "HEAD"])?.trim().to_string()))
}

/// The file tree of `dir` as JSON: `{"root", "files": [{"path", "size"}], "count",
/// "truncated"}`, at most `max` entries by path. In a git repository the files git would show
/// (`git ls-files -co --exclude-standard`: tracked, and untracked but not ignored); elsewhere a
/// walk that skips `.git`, `node_modules` and `target`. Symbolic links are listed with
/// `"symlink": true` and never followed.
pub fn tree(dir: &Path, max: usize) -> Value {
    let mut paths = if is_git_repo(dir) {
        git(dir, &["ls-files", "-co", "--exclude-standard", "-z"])
            .map(|o| {
                o.split('\0')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    } else {
        walk(dir, max + 1)
    };
    paths.sort();
    paths.dedup();
    let truncated = paths.len() > max;
    let files: Vec<Value> = paths
        .iter()
        .filter_map(|p| {
            let meta = std::fs::symlink_metadata(dir.join(p)).ok()?;
            Some(if meta.file_type().is_symlink() {
                json!({"path": p, "size": 0, "symlink": true})
            } else if meta.is_file() {
                json!({"path": p, "size": meta.len()})
            } else {
                return None;
            })
        })
        .take(max)
        .collect();
    json!({
        "root": dir.display().to_string(),
        "count": files.len(),
        "truncated": truncated,
        "files": files,
    })
}

/// Relative paths of files under `root`, breadth first, at most `limit`.
fn walk(root: &Path, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([PathBuf::new()]);
    while let Some(rel) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(kind) = e.file_type() else { continue };
            let path = rel.join(e.file_name());
            if kind.is_dir() {
                if !SKIPPED_DIRS.iter().any(|s| e.file_name() == *s) {
                    queue.push_back(path);
                }
            } else {
                out.push(path.to_string_lossy().into_owned());
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

/// The start of a file a `file` command read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    pub bytes: Vec<u8>,
    /// The file is longer than what was read.
    pub truncated: bool,
}

/// Read at most `max` bytes of `rel`, a path inside `root`. Refused (with the reason as a
/// sentence): an empty or absolute path, a `..` component, a path that leads outside `root`
/// through a symbolic link, anything but a regular file. The opened file is checked again
/// through `/proc/self/fd`, so a link swapped in after the check cannot lead out either.
pub fn read_file(root: &Path, rel: &str, max: u64) -> Result<FileRead, String> {
    let path = Path::new(rel);
    if rel.is_empty() {
        return Err("the path is empty".into());
    }
    if path.is_absolute() {
        return Err("absolute paths are refused: give a path inside the working directory".into());
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("paths with `..` are refused".into());
    }
    let root = std::fs::canonicalize(root).map_err(|e| format!("the working directory: {e}"))?;
    let full = std::fs::canonicalize(root.join(path)).map_err(|_| "no such file".to_string())?;
    if !full.starts_with(&root) {
        return Err("the path leads outside the working directory (a symbolic link)".into());
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&full)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if opened.is_ok_and(|p| !p.starts_with(&root)) {
            return Err("the path leads outside the working directory (a symbolic link)".into());
        }
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(FileRead {
        truncated: meta.len() > bytes.len() as u64,
        bytes,
    })
}

/// The artifact a file's content is uploaded as: `file-<path, [A-Za-z0-9._-] only>-<8 hex of
/// its SHA-256>.txt` (the hash keeps `a/b` and `a_b` apart), at most 128 bytes.
pub fn artifact_name(rel: &str) -> String {
    use sha2::Digest;
    let clean: String = rel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    let clean = &clean[clean.len().saturating_sub(100)..];
    let hash = hex::encode(&sha2::Sha256::digest(rel.as_bytes())[..4]);
    format!("file-{clean}-{hash}.txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stay_inside_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", root.join("in")).unwrap();
        std::fs::write(root.join("big"), vec![b'x'; 10]).unwrap();

        let read = |p: &str| read_file(&root, p, 4);
        assert_eq!(read("sub/a.txt").unwrap().bytes, b"hell");
        assert!(read("sub/a.txt").unwrap().truncated);
        assert_eq!(
            read_file(&root, "./sub/a.txt", 100).unwrap().bytes,
            b"hello"
        );
        assert_eq!(read("in").unwrap().bytes, b"hell", "a link inside is fine");
        for (p, why) in [
            ("../outside.txt", "`..`"),
            ("sub/../../outside.txt", "`..`"),
            ("/etc/passwd", "absolute"),
            ("out", "outside"),
            ("sub", "regular file"),
            ("nope", "no such file"),
            ("", "empty"),
        ] {
            let e = read(p).unwrap_err();
            assert!(e.contains(why), "{p}: {e}");
        }
    }

    #[test]
    fn artifact_names_are_plain_and_distinct() {
        let a = artifact_name("src/main.rs");
        assert!(
            a.starts_with("file-src_main.rs-") && a.ends_with(".txt"),
            "{a}"
        );
        assert_ne!(artifact_name("a/b"), artifact_name("a_b"));
        let long = artifact_name(&"x/".repeat(300));
        assert!(long.len() <= 128, "{long}");
        assert!(!artifact_name("../.env").starts_with("file-."));
    }

    #[test]
    fn the_tree_skips_heavy_directories_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "a.txt",
            "src/b.rs",
            "node_modules/x/y.js",
            "target/debug/z",
            ".git/HEAD",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "12345").unwrap();
        }
        let t = tree(dir.path(), 10);
        let paths: Vec<&str> = t["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["a.txt", "src/b.rs"]);
        assert_eq!(t["files"][0]["size"], 5);
        assert_eq!(t["truncated"], false);
        let t = tree(dir.path(), 1);
        assert_eq!(
            (t["count"].as_u64(), t["truncated"].as_bool()),
            (Some(1), Some(true))
        );
    }

    #[test]
    fn checkpoints_commit_the_working_tree_on_the_branch() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        assert!(
            prepare_branch(ws, "claude/r1", false).is_err(),
            "not a repo"
        );
        prepare_branch(ws, "claude/r1", true).unwrap();
        assert_eq!(checkpoint(ws, "checkpoint: nothing").unwrap(), None);
        std::fs::write(ws.join("new.txt"), "x").unwrap();
        let commit = checkpoint(ws, "checkpoint: test")
            .unwrap()
            .expect("a commit");
        let files = git(ws, &["show", "--name-only", "--format=%an %s", &commit]).unwrap();
        assert!(
            files.contains("claude-runner checkpoint: test") && files.contains("new.txt"),
            "{files}"
        );
        assert_eq!(
            git(ws, &["branch", "--show-current"]).unwrap().trim(),
            "claude/r1"
        );
        // Switching to an existing branch (a continued run) works too.
        prepare_branch(ws, "claude/r1", false).unwrap();
        let t = tree(ws, 10);
        assert_eq!(t["files"][0]["path"], "new.txt");
    }
}
