//! The run's working directory: where it is (`--cwd`, `--workspace auto`), its git branch and
//! checkpoint commits (`--git-branch`), its file tree, and reading one of its files safely.
//!
//! Everything here is blocking (files, `git`); callers run it on the blocking pool. Nothing here
//! redacts: callers pass what it returns through the redactor before it leaves the machine.
//!
//! The runner's own data directory (run keys, spools, `claude.log`) is often inside the working
//! directory (the default `.data`). It is `hidden`: never listed, read or committed here
//! ([`hidden_dirs`], [`ensure_data_dir`]).
//!
//! The working directory is not trusted: Claude writes to it, `.git/config` included. The `git`
//! the runner runs itself ([`git`]) is therefore the hardened one of [`crate::git`]: no hook,
//! fsmonitor, pager, filter, external diff or signing program the repository names runs.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

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
const GIT_AUTHOR: [&str; 4] = [
    "-c",
    "user.name=claude-runner",
    "-c",
    "user.email=claude-runner@localhost",
];
/// What [`ensure_data_dir`] writes to `<data>/.gitignore`.
const DATA_GITIGNORE: &str =
    "# claude-runner's data: run keys, spools, logs. Never commit it.\n*\n";

/// Create the runner's data directory if needed, with a `.gitignore` that ignores all of it (a
/// repository around it then never lists or commits a run key or a spool).
pub fn ensure_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("create the data directory {}", data_dir.display()))?;
    let ignore = data_dir.join(".gitignore");
    if std::fs::symlink_metadata(&ignore).is_err() {
        std::fs::write(&ignore, DATA_GITIGNORE)
            .with_context(|| format!("write {}", ignore.display()))?;
    }
    Ok(())
}

/// What of the data directory lies inside the working directory `cwd` (both canonical) and must
/// stay hidden: the data directory itself, or when the working directory is the data directory,
/// its `runs` (keys, spools, logs). Nothing when the working directory is inside it (an auto
/// workspace: the rest of the data directory is outside it).
pub fn hidden_dirs(cwd: &Path, data_dir: &Path) -> Vec<PathBuf> {
    [data_dir.to_path_buf(), data_dir.join("runs")]
        .into_iter()
        .find(|d| d.starts_with(cwd) && d != cwd)
        .into_iter()
        .collect()
}

fn is_hidden(path: &Path, hidden: &[PathBuf]) -> bool {
    hidden.iter().any(|h| path.starts_with(h))
}

/// `<data>/workspaces/<run-id>/`.
pub fn auto_dir(data_dir: &Path, run_id: &str) -> PathBuf {
    data_dir.join("workspaces").join(run_id)
}

/// The branch a `--git-branch` run works on.
pub fn branch_name(run_id: &str) -> String {
    format!("claude/{run_id}")
}

/// Run the runner's own `git` in `dir`, hardened ([`crate::git`]): no program the repository
/// names runs.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let argv: Vec<String> = std::iter::once("git")
        .chain(GIT_AUTHOR)
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let mut cmd = crate::git::harden(&argv, dir)
        .context("harden git")?
        .command(dir);
    let out = crate::child::output_protected(&mut cmd).context("run git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `dir` as the run's working directory: canonical, a directory, readable and enterable. The
/// error names the directory (it is checked before the run is created at the gateway).
pub fn working_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let canonical = std::fs::canonicalize(dir)
        .with_context(|| format!("working directory {}", dir.display()))?;
    let meta = std::fs::metadata(&canonical)
        .with_context(|| format!("working directory {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("working directory {}: it is not a directory", dir.display());
    }
    use nix::unistd::{AccessFlags, access};
    access(&canonical, AccessFlags::R_OK | AccessFlags::X_OK).map_err(|e| {
        anyhow::anyhow!(
            "working directory {}: cannot read and enter it ({})",
            dir.display(),
            e.desc()
        )
    })?;
    Ok(canonical)
}

/// An error unless `dir` is in a git working tree (what `--git-branch` needs outside an auto
/// workspace).
pub fn require_git_repo(dir: &Path) -> anyhow::Result<()> {
    if !is_git_repo(dir) {
        bail!(
            "--git-branch needs a git repository, and {} is not in one (`git init` it, or use \
             --workspace auto)",
            dir.display()
        );
    }
    Ok(())
}

/// True if `dir` is inside a git working tree.
pub fn is_git_repo(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|o| o.trim() == "true")
}

/// True if `dir` is the top of its own git working tree (not a directory inside another's).
fn is_repo_top(dir: &Path) -> bool {
    let top = git(dir, &["rev-parse", "--show-toplevel"]);
    match (top, std::fs::canonicalize(dir)) {
        (Ok(top), Ok(dir)) => std::fs::canonicalize(top.trim()).is_ok_and(|t| t == dir),
        _ => false,
    }
}

/// The `git` pathspec for "the whole working tree but the hidden directories".
fn pathspec(dir: &Path, hidden: &[PathBuf]) -> Vec<String> {
    let mut spec = vec![":(top)".to_string()];
    let top = git(dir, &["rev-parse", "--show-toplevel"])
        .ok()
        .and_then(|t| std::fs::canonicalize(t.trim()).ok());
    for h in hidden {
        if let Some(rel) = top.as_ref().and_then(|t| h.strip_prefix(t).ok()) {
            spec.push(format!(":(top,exclude){}", rel.display()));
        }
    }
    spec
}

/// Put `dir` on `branch`: switch to it if it exists (a continued run), else create it from the
/// current commit. `init` runs `git init` first where `dir` is not a repository's top (auto
/// workspaces, which may lie inside another repository: that one's branch is not touched);
/// otherwise a directory outside git is an error.
pub fn prepare_branch(dir: &Path, branch: &str, init: bool) -> anyhow::Result<()> {
    if init && !is_repo_top(dir) {
        git(dir, &["init", "--quiet"])?;
    } else if !is_git_repo(dir) {
        if !init {
            require_git_repo(dir)?;
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

/// Commit everything in the working tree (`git add -A`) on the current branch, without hooks,
/// but nothing under `hidden` (the runner's data directory).
/// `Ok(None)` if there was nothing to commit; `Ok(Some(hash))` otherwise.
pub fn checkpoint(dir: &Path, message: &str, hidden: &[PathBuf]) -> anyhow::Result<Option<String>> {
    let spec = pathspec(dir, hidden);
    let with_spec = |args: &[&'static str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--");
        all.extend(spec.iter().map(String::as_str));
        git(dir, &all)
    };
    if with_spec(&["status", "--porcelain"])?.trim().is_empty() {
        return Ok(None);
    }
    with_spec(&["add", "-A"])?;
    if git(dir, &["diff", "--cached", "--quiet"]).is_ok() {
        return Ok(None);
    }
    git(dir, &["commit", "--quiet", "--no-verify", "-m", message])?;
    Ok(Some(git(dir, &["rev-parse", "HEAD"])?.trim().to_string()))
}

/// The file tree of `dir` as JSON: `{"root", "files": [{"path", "size"}], "count",
/// "truncated"}`, at most `max` entries by path. In a git repository the files git would show
/// (`git ls-files -co --exclude-standard`: tracked, and untracked but not ignored); elsewhere a
/// walk that skips `.git`, `node_modules` and `target`. Symbolic links are listed with
/// `"symlink": true` and never followed. Nothing under `hidden` is listed.
pub fn tree(dir: &Path, max: usize, hidden: &[PathBuf]) -> Value {
    // A directory its repository ignores (an auto workspace under an ignored data directory) is
    // walked: git would list nothing in it.
    let ignored = || git(dir, &["check-ignore", "-q", "."]).is_ok();
    let mut paths = if is_git_repo(dir) && !ignored() {
        git(dir, &["ls-files", "-co", "--exclude-standard", "-z"])
            .map(|o| {
                o.split('\0')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    } else {
        walk(dir, max + 1, hidden)
    };
    paths.retain(|p| !is_hidden(&dir.join(p), hidden));
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
fn walk(root: &Path, limit: usize, hidden: &[PathBuf]) -> Vec<String> {
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
                if !SKIPPED_DIRS.iter().any(|s| e.file_name() == *s)
                    && !is_hidden(&root.join(&path), hidden)
                {
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
/// through a symbolic link or into `hidden` (the runner's data directory), anything but a
/// regular file with one link (a hard link can point anywhere on the file system). The file is
/// opened non-blocking (a FIFO cannot hang the read), then checked by its descriptor: its type
/// and link count by `fstat`, its path again through `/proc/self/fd`, so a link swapped in after
/// the first check cannot lead out either; whatever cannot be checked is refused.
pub fn read_file(root: &Path, rel: &str, max: u64, hidden: &[PathBuf]) -> Result<FileRead, String> {
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
    let refused_hidden = || "the runner's own data directory is not served".to_string();
    if is_hidden(&full, hidden) {
        return Err(refused_hidden());
    }
    use nix::fcntl::OFlag;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
        .open(&full)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.nlink() != 1 {
        return Err(
            "the file has more than one hard link, so it may lie outside the working directory"
                .into(),
        );
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            Ok(p) if !p.starts_with(&root) => {
                return Err(
                    "the path leads outside the working directory (a symbolic link)".into(),
                );
            }
            Ok(p) if is_hidden(&p, hidden) => return Err(refused_hidden()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot check where the opened file is: {e}")),
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

        let read = |p: &str| read_file(&root, p, 4, &[]);
        assert_eq!(read("sub/a.txt").unwrap().bytes, b"hell");
        assert!(read("sub/a.txt").unwrap().truncated);
        assert_eq!(
            read_file(&root, "./sub/a.txt", 100, &[]).unwrap().bytes,
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
        let t = tree(dir.path(), 10, &[]);
        let paths: Vec<&str> = t["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["a.txt", "src/b.rs"]);
        assert_eq!(t["files"][0]["size"], 5);
        assert_eq!(t["truncated"], false);
        let t = tree(dir.path(), 1, &[]);
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
        assert_eq!(checkpoint(ws, "checkpoint: nothing", &[]).unwrap(), None);
        std::fs::write(ws.join("new.txt"), "x").unwrap();
        let commit = checkpoint(ws, "checkpoint: test", &[])
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
        let t = tree(ws, 10, &[]);
        assert_eq!(t["files"][0]["path"], "new.txt");
    }

    /// Run `read_file` on another thread: a read that blocks fails the test instead of hanging it.
    fn read_within(root: &Path, rel: &str, hidden: &[PathBuf]) -> Result<FileRead, String> {
        let (root, rel, hidden) = (root.to_path_buf(), rel.to_string(), hidden.to_vec());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_file(&root, &rel, 100, &hidden));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("read_file returned instead of blocking")
    }

    #[test]
    fn fifos_and_hard_links_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir(&root).unwrap();
        nix::unistd::mkfifo(
            &root.join("pipe"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = read_within(&root, "pipe", &[]).unwrap_err();
        assert!(e.contains("regular file"), "{e}");

        // A hard link to a file outside the working directory looks like a file inside it.
        std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
        std::fs::hard_link(dir.path().join("secret"), root.join("linked")).unwrap();
        let e = read_within(&root, "linked", &[]).unwrap_err();
        assert!(e.contains("hard link"), "{e}");
    }

    /// A repository whose working directory holds the runner's data directory (the default
    /// `.data`), with a run key and a spool in it.
    fn repo_with_data_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(dir.path()).unwrap();
        prepare_branch(&ws, "claude/r1", true).unwrap();
        let data = ws.join(".data");
        let run = data.join("runs/r1");
        std::fs::create_dir_all(run.join("spool")).unwrap();
        std::fs::write(run.join("run.key"), "r1 K_run").unwrap();
        std::fs::write(run.join("spool/0001.seg"), "events").unwrap();
        std::fs::write(ws.join("code.rs"), "fn main() {}").unwrap();
        (dir, ws, data)
    }

    #[test]
    fn the_data_dir_is_never_listed_read_or_committed() {
        // With the `.gitignore` the runner writes, and without (a data directory from before).
        for ignore in [true, false] {
            let (_dir, ws, data) = repo_with_data_dir();
            if ignore {
                ensure_data_dir(&data).unwrap();
                assert_eq!(
                    std::fs::read_to_string(data.join(".gitignore")).unwrap(),
                    DATA_GITIGNORE
                );
            }
            let hidden = hidden_dirs(&ws, &data);
            assert_eq!(hidden, std::slice::from_ref(&data));
            let t = tree(&ws, 10, &hidden);
            assert_eq!(
                t["files"],
                json!([{"path": "code.rs", "size": 12}]),
                "{ignore}"
            );
            let e = read_file(&ws, ".data/runs/r1/run.key", 100, &hidden).unwrap_err();
            assert!(e.contains("data directory"), "{e}");
            let commit = checkpoint(&ws, "checkpoint: test", &hidden)
                .unwrap()
                .expect("a commit");
            let files = git(&ws, &["show", "--name-only", "--format=", &commit]).unwrap();
            assert_eq!(files.trim(), "code.rs", "{ignore}");
            // Only the data directory changed: nothing to commit.
            std::fs::write(data.join("runs/r1/claude.log"), "log").unwrap();
            assert_eq!(checkpoint(&ws, "again", &hidden).unwrap(), None);
            // The walk outside git skips it too.
            std::fs::remove_dir_all(ws.join(".git")).unwrap();
            let t = tree(&ws, 10, &hidden);
            assert_eq!(
                t["files"],
                json!([{"path": "code.rs", "size": 12}]),
                "{ignore}"
            );
        }
    }

    #[test]
    fn hidden_dirs_cover_the_data_dir_only_inside_the_working_directory() {
        let p = Path::new;
        assert_eq!(hidden_dirs(p("/w"), p("/w/.data")), [p("/w/.data")]);
        assert_eq!(hidden_dirs(p("/w"), p("/w"))[..], [p("/w/runs")]);
        assert!(hidden_dirs(p("/d/workspaces/r1"), p("/d")).is_empty());
        assert!(hidden_dirs(p("/w"), p("/elsewhere")).is_empty());
    }

    #[test]
    fn an_auto_workspace_inside_another_repository_gets_its_own() {
        let (_dir, ws, data) = repo_with_data_dir();
        ensure_data_dir(&data).unwrap();
        let auto = auto_dir(&data, "r2");
        std::fs::create_dir_all(&auto).unwrap();
        std::fs::write(auto.join("made.txt"), "x").unwrap();
        // Without --git-branch: listed although the outer repository ignores it.
        let t = tree(&auto, 10, &[]);
        assert_eq!(t["files"][0]["path"], "made.txt");
        prepare_branch(&auto, "claude/r2", true).unwrap();
        assert_eq!(
            git(&ws, &["branch", "--show-current"]).unwrap().trim(),
            "claude/r1",
            "the outer repository's branch is untouched"
        );
        assert!(checkpoint(&auto, "c", &[]).unwrap().is_some());
    }

    #[test]
    fn git_runs_no_program_the_repository_names() {
        let (dir, ws, _) = repo_with_data_dir();
        let mark = |name: &str| dir.path().join(format!("ran-{name}"));
        let hook = |name: &str| format!("#!/bin/sh\ntouch {}\n", mark(name).display());
        let write_exec = |path: PathBuf, body: String| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        write_exec(ws.join(".git/hooks/post-commit"), hook("post-commit"));
        write_exec(ws.join(".git/hooks/pre-commit"), hook("pre-commit"));
        let monitor = write_exec(dir.path().join("fsmonitor"), hook("fsmonitor"));
        let pager = write_exec(dir.path().join("pager"), hook("pager"));
        let filter = write_exec(dir.path().join("filter"), hook("filter") + "cat\n");
        for (k, v) in [
            ("core.fsmonitor", monitor.display().to_string()),
            ("core.pager", pager.display().to_string()),
            ("diff.external", pager.display().to_string()),
            ("filter.evil.clean", filter.display().to_string()),
            ("filter.evil.required", "true".into()),
        ] {
            std::process::Command::new("git")
                .args(["config", k, &v])
                .current_dir(&ws)
                .status()
                .unwrap();
        }
        std::fs::write(ws.join(".gitattributes"), "* filter=evil\n").unwrap();
        let hidden = [ws.join(".data")];
        tree(&ws, 10, &hidden);
        checkpoint(&ws, "checkpoint: test", &hidden)
            .unwrap()
            .expect("a commit");
        for name in ["post-commit", "pre-commit", "fsmonitor", "pager", "filter"] {
            assert!(!mark(name).exists(), "{name} ran");
        }
    }
}
