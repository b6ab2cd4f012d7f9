//! The child process: spawned in its own process group with stdin closed and both output pipes
//! captured; stopped by signalling the whole group; nothing of it outlives the run.
//!
//! Three mechanisms make "nothing left running" hold:
//! * while the runner lives, a stop signals the whole group ([`signal_group`]) and the end of a
//!   run kills what is left of it and every orphan re-parented to the runner ([`reap_leftovers`];
//!   the runner is a child subreaper, [`become_subreaper`], so descendants that left the group with
//!   `setsid` end up as its children instead of init's);
//! * if the runner dies, even by SIGKILL, a [`Guard`] kills the group: a small `sh` in its own
//!   process group that blocks reading a pipe only the runner holds. The kernel closes that pipe
//!   when the runner dies, however it dies; the guard then sends SIGKILL to the child's group.
//!   This covers the whole group, where `PR_SET_PDEATHSIG` (via `setpriv --pdeathsig`, as
//!   `unsafe_code` rules out `pre_exec`) would cover only the direct child and is tied to the
//!   thread that forked rather than to the process.
//!
//! Claude's turns and `exec` commands run side by side, so reaping must not reach across: an
//! `exec` command's group and its guard are [`Protection`]-registered from the moment they are
//! spawned ([`spawn_protected`]) until the command has been waited for, and [`reap_leftovers`]
//! never touches a registered process or group member.
//!
//! No child inherits the runner's own secrets: every spawn passes through [`scrub_env`].

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// The guard's script: `$1` is the process group. A line `done` releases it; end of file (the
/// runner died) kills the group.
const GUARD_SCRIPT: &str =
    r#"read -r line; [ "$line" = done ] || kill -9 -"$1" 2>/dev/null; exit 0"#;

/// Grace between SIGINT and SIGKILL when stopping.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running child and its process group.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    pub pid: u32,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// Why the child could not start, with the exit code a shell would use.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{program}: command not found (set CLAUDE_COMMAND to the Claude Code CLI)")]
    NotFound { program: String },
    #[error("{program}: permission denied")]
    NotExecutable { program: String },
    #[error("{program}: {source}")]
    Other {
        program: String,
        source: std::io::Error,
    },
}

impl SpawnError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::NotFound { .. } => 127,
            SpawnError::NotExecutable { .. } => 126,
            SpawnError::Other { .. } => 125,
        }
    }
}

/// Environment variables of the runner no child may see: the HMAC secret, the run's token and id,
/// and every `GATEWAY_*` setting.
const SECRET_ENV: &[&str] = &["HMAC_SECRET", "RUN_TOKEN", "RUN_ID", "RUN_KEY"];

/// The names among `vars` that [`scrub_env`] removes.
fn secret_env_names(vars: impl Iterator<Item = OsString>) -> Vec<OsString> {
    vars.filter(|name| {
        let bytes = name.as_encoded_bytes();
        SECRET_ENV.iter().any(|s| bytes == s.as_bytes()) || bytes.starts_with(b"GATEWAY_")
    })
    .collect()
}

/// Remove the runner's secrets (see [`SECRET_ENV`]) from what `cmd` passes to its process, and
/// mark it as the run's with the cookie of [`crate::reaper`] once `start` has set one. Every
/// process the runner starts goes through this: Claude's turns, `exec` commands, guards, `git`,
/// tmate.
pub fn scrub_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    let mut names = secret_env_names(std::env::vars_os().map(|(k, _)| k));
    names.extend(SECRET_ENV.iter().map(OsString::from));
    for name in names {
        cmd.env_remove(name);
    }
    if let Some(cookie) = TREE_COOKIE
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        cmd.env(crate::reaper::COOKIE_VAR, cookie);
    }
    cmd
}

/// The run's cookie (see [`crate::reaper`]), set by `start` before its first child.
static TREE_COOKIE: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Mark every process started from now on with `cookie`.
pub fn set_tree_cookie(cookie: &str) {
    *TREE_COOKIE.write().unwrap_or_else(|p| p.into_inner()) = Some(cookie.to_string());
}

/// Process ids (each also a process group id: group leaders) [`reap_leftovers`] must not touch,
/// with the lock held while a protected child is spawned or a reaping pass runs, so a pass never
/// sees a protected child before it is registered.
static PROTECTED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn protected() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    PROTECTED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps processes out of [`reap_leftovers`]' reach until dropped.
#[derive(Debug, Default)]
pub struct Protection {
    pids: Vec<u32>,
}

impl Protection {
    /// Stop protecting `pid` (and its group), keeping the rest protected.
    pub fn release(&mut self, pid: u32) {
        if let Some(i) = self.pids.iter().position(|&p| p == pid) {
            self.pids.remove(i);
            protected().remove(&pid);
        }
    }
}

impl Drop for Protection {
    fn drop(&mut self) {
        let mut set = protected();
        for pid in &self.pids {
            set.remove(pid);
        }
    }
}

/// Keep `pid` (and its group) out of [`reap_leftovers`]' reach until the [`Protection`] drops:
/// the run's reaper, which runs for as long as the run.
pub fn protect(pid: u32) -> Protection {
    protected().insert(pid);
    Protection { pids: vec![pid] }
}

/// Run `cmd` to completion as one of the runner's own helpers (its `git`, a clone), stdout and
/// stderr captured: registered as protected before any reaping pass can see it, so the reaping
/// at the end of a Claude turn, which kills every child of the runner it does not know, never
/// kills a helper that happens to run at that moment (it did: an allowlisted `git diff` that
/// asked `git config` for the repository's filters as a turn ended failed with 125).
pub fn output_protected(cmd: &mut std::process::Command) -> std::io::Result<std::process::Output> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = {
        let mut set = protected();
        let child = cmd.spawn()?;
        set.insert(child.id());
        child
    };
    let _spared = Protection {
        pids: vec![child.id()],
    };
    child.wait_with_output()
}

/// [`spawn`] plus a [`Guard`] for the new group, both registered as protected before any reaping
/// pass can see them. For `exec` commands, which run beside Claude's turns.
pub fn spawn_protected(
    argv: &[String],
    env: &[(String, Option<String>)],
    cwd: &Path,
) -> Result<(Running, Option<Guard>, Protection), SpawnError> {
    let mut set = protected();
    let running = spawn_with(argv, env, cwd)?;
    let guard = guard(running.pid);
    let mut pids = vec![running.pid];
    pids.extend(guard.as_ref().and_then(Guard::pid));
    pids.retain(|&p| p != 0);
    set.extend(pids.iter().copied());
    drop(set);
    Ok((running, guard, Protection { pids }))
}

/// Spawn `argv` in `cwd`, in a new process group, stdin from /dev/null, without the runner's
/// secrets in its environment.
pub fn spawn(argv: &[String], cwd: &Path) -> Result<Running, SpawnError> {
    spawn_with(argv, &[], cwd)
}

/// [`spawn`] with `env` set (`Some`) or removed (`None`) on top of the scrubbed environment.
pub fn spawn_with(
    argv: &[String],
    env: &[(String, Option<String>)],
    cwd: &Path,
) -> Result<Running, SpawnError> {
    let program = argv[0].clone();
    let mut cmd = Command::new(&program);
    scrub_env(cmd.as_std_mut());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound {
            program: program.clone(),
        },
        std::io::ErrorKind::PermissionDenied => SpawnError::NotExecutable {
            program: program.clone(),
        },
        _ => SpawnError::Other {
            program: program.clone(),
            source,
        },
    })?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Running {
        child,
        pid,
        stdout,
        stderr,
    })
}

/// Send `signal` to the process group led by `pid`; a group that is gone is not an error.
pub fn signal_group(pid: u32, signal: Signal) {
    if pid == 0 {
        return;
    }
    match killpg(Pid::from_raw(pid as i32), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pid, %signal, error = %e, "could not signal the process group"),
    }
}

/// The exit code reported when waiting for a child failed, so how it ended is unknown (never 0).
pub const UNKNOWN_EXIT: i32 = 125;

/// The exit code the runner reports: the child's code, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(sig)) => (128 + sig, Some(sig)),
        (None, None) => (125, None),
    }
}

/// Kills a child's process group if the runner dies; see the module documentation.
#[derive(Debug)]
pub struct Guard {
    process: Child,
    pipe: ChildStdin,
}

/// Start a guard for the process group `pgid`. `None` (with a warning) if `sh` cannot be run.
pub fn guard(pgid: u32) -> Option<Guard> {
    let mut cmd = Command::new("/bin/sh");
    scrub_env(cmd.as_std_mut());
    let spawned = cmd
        .args(["-c", GUARD_SCRIPT, "claude-runner-guard", &pgid.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut process) => {
            let pipe = process.stdin.take().expect("stdin is piped");
            Some(Guard { process, pipe })
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not start the guard that stops the child if the runner dies");
            None
        }
    }
}

impl Guard {
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    /// The run ended normally: let the guard exit without killing anything.
    pub async fn release(mut self) {
        let _ = self.pipe.write_all(b"done\n").await;
        drop(self.pipe);
        let _ = self.process.wait().await;
    }
}

/// This process is its descendants' subreaper ([`become_subreaper`] succeeded).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Make this process the subreaper of its descendants (Linux); orphans then become its children.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => SUBREAPER.store(true, std::sync::atomic::Ordering::Relaxed),
        Err(e) => tracing::warn!(error = %e, "could not become a child subreaper"),
    }
}

/// `(pid, ppid, pgrp)` of every process, from `/proc` (empty where there is none).
fn processes() -> Vec<(u32, u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    with_parents(dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()))
}

/// `(pid, ppid, pgrp)` of each of `pids` still there.
fn with_parents(pids: impl Iterator<Item = u32>) -> Vec<(u32, u32, u32)> {
    pids.filter_map(|pid| {
        let (_, ppid, pgrp) = stat(pid)?;
        Some((pid, ppid, pgrp))
    })
    .collect()
}

/// `(state, ppid, pgrp)` of `pid`, from `/proc/<pid>/stat`; `None` once it is gone.
fn stat(pid: u32) -> Option<(u8, u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, which may hold spaces and parentheses: state ppid pgrp ...
    let mut rest = stat.get(stat.rfind(')')? + 2..)?.split(' ');
    let state = *rest.next()?.as_bytes().first()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// The children of `pid` from `/proc/<pid>/task/*/children` (each thread's; orphans a
/// subreaper reaps are listed under one of them): a few reads, however many processes the
/// machine runs. `None` where the kernel does not offer the files or the process is gone.
fn children_of(pid: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        match std::fs::read_to_string(task.path().join("children")) {
            Ok(list) => out.extend(
                list.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            ),
            // A thread that ended since the listing has no children left to show.
            Err(_) if !task.path().exists() => {}
            Err(_) => return None,
        }
    }
    Some(out)
}

/// This process's children.
pub(crate) fn own_children() -> Option<Vec<u32>> {
    children_of("self")
}

/// Every descendant of this process, children first. This runner is its descendants'
/// subreaper, so one that loses its parent stays a descendant (it becomes a child of this
/// runner): a run's processes are all here, found in reads proportional to their number rather
/// than to the machine's. One that forks while the walk passes it may be missed by this walk;
/// [`reap_leftovers`] walks again until a walk finds nothing to kill.
fn descendants() -> Option<Vec<u32>> {
    let mut found = own_children()?;
    let mut seen: BTreeSet<u32> = found.iter().copied().collect();
    let mut next = 0;
    while let Some(&pid) = found.get(next) {
        next += 1;
        // Gone since it was listed: its children, if any, are now this runner's (listed at the
        // next walk).
        for child in children_of(&pid.to_string()).unwrap_or_default() {
            if seen.insert(child) {
                found.push(child);
            }
        }
    }
    Some(found)
}

/// `(pid, ppid, pgrp)` of the processes [`reap_leftovers`] looks at: as this runner's
/// descendants' subreaper, its descendants (every member of a group a child of this runner
/// leads is one of them, and so is every orphan), so that the end of a turn on a busy machine
/// does not read every process on it; every process where it is not the subreaper (an orphan
/// would have gone to another) or the kernel does not list children.
fn candidates() -> Vec<(u32, u32, u32)> {
    let walk = if SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        descendants()
    } else {
        None
    };
    match walk {
        Some(pids) => with_parents(pids.into_iter()),
        None => processes(),
    }
}

/// What [`reap_leftovers`] kills besides the members of its process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only the group.
    Group,
    /// Also every process re-parented to this runner (the subreaper).
    Orphans,
}

/// Kill what is left of the process group `pgid` (none if 0) and, with [`Reach::Orphans`], every
/// other child of this runner, except `keep` and anything [`Protection`]-registered (a running
/// `exec` command's group and guard); reap those that are its children. Returns how many were
/// killed.
pub fn reap_leftovers(pgid: u32, reach: Reach, keep: &[u32]) -> u64 {
    let me = std::process::id();
    let mut killed = BTreeSet::new();
    // New orphans can appear while the group dies (a grandchild whose parent was just killed).
    for _ in 0..5 {
        {
            // Held for the whole pass: a protected child is either registered or not spawned yet.
            let spared = protected();
            let victims: Vec<(u32, u32)> = candidates()
                .into_iter()
                .filter(|&(pid, ppid, pgrp)| {
                    pid != me
                        && !keep.contains(&pid)
                        && !spared.contains(&pid)
                        && !spared.contains(&pgrp)
                        && ((pgid != 0 && pgrp == pgid) || (reach == Reach::Orphans && ppid == me))
                })
                .map(|(pid, ppid, _)| (pid, ppid))
                .collect();
            if victims.is_empty() {
                break;
            }
            for &(pid, ppid) in &victims {
                let p = Pid::from_raw(pid as i32);
                // Alive before the signal: a zombie is not counted, and one that dies at once is.
                if is_alive(pid) && kill(p, Signal::SIGKILL).is_ok() {
                    killed.insert(pid);
                }
                if ppid == me {
                    let _ = nix::sys::wait::waitpid(p, None);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len() as u64
}

/// True unless the process is gone or a zombie.
pub fn is_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _, _)| !matches!(state, b'Z' | b'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_children_are_read_from_every_thread_as_the_full_scan_sees_them() {
        let sleep = || {
            std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap()
        };
        let mut here = sleep();
        // A child of another thread is listed under that thread.
        let mut there = std::thread::spawn(sleep).join().unwrap();
        let me = std::process::id();
        let listed = own_children().expect("this kernel offers /proc/self/task/*/children");
        let scanned: Vec<u32> = processes()
            .into_iter()
            .filter(|&(_, ppid, _)| ppid == me)
            .map(|(pid, _, _)| pid)
            .collect();
        for c in [&here, &there] {
            assert!(listed.contains(&c.id()), "{} in {listed:?}", c.id());
            assert!(scanned.contains(&c.id()), "{} in {scanned:?}", c.id());
        }
        // Every one listed is a child (other tests' children come and go meanwhile).
        for pid in listed {
            if let Some((_, ppid, _)) = stat(pid) {
                assert_eq!(ppid, me, "{pid}");
            }
        }
        let cands = candidates();
        assert!(cands.iter().any(|&(p, pp, _)| p == here.id() && pp == me));
        for c in [&mut here, &mut there] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The end of a turn finds the run's group among this runner's descendants, as the walk of
    /// every process on the machine did: a grandchild, and an orphan whose parent exited (which
    /// the subreaper adopts), both in the child's group, are killed; nothing else is.
    #[test]
    fn a_groups_grandchildren_and_orphans_are_found_among_the_descendants() {
        use std::os::unix::process::CommandExt;
        become_subreaper();
        assert!(SUBREAPER.load(std::sync::atomic::Ordering::Relaxed));
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // The child leads a group; a grandchild waits under it, and an inner shell starts an
        // orphan-to-be and exits at once.
        let script = format!(
            "sleep 60 & echo $! >> {p}; sh -c 'sleep 60 & echo $! >> {p}'; wait",
            p = pids.display()
        );
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id();
        // Unrelated: another child of this process in a group of its own, which must live.
        let mut other = std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let planted: Vec<u32> = loop {
            let text = std::fs::read_to_string(&pids).unwrap_or_default();
            let found: Vec<u32> = text.lines().filter_map(|l| l.parse().ok()).collect();
            if found.len() == 2 {
                break found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the script planted {found:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The orphan is adopted by this process, the subreaper.
        let orphan = planted[1];
        while stat(orphan).map(|(_, ppid, _)| ppid) != Some(std::process::id()) {
            assert!(std::time::Instant::now() < deadline, "{orphan} is adopted");
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = descendants().expect("this kernel lists children");
        let scanned: Vec<u32> = processes()
            .into_iter()
            .filter(|&(_, _, pgrp)| pgrp == pgid)
            .map(|(pid, _, _)| pid)
            .collect();
        for pid in planted.iter().chain(&[pgid]) {
            assert!(found.contains(pid), "{pid} among the descendants {found:?}");
            assert!(scanned.contains(pid), "{pid} in the group {scanned:?}");
        }
        let killed = reap_leftovers(pgid, Reach::Group, &[]);
        assert_eq!(killed, 3, "the leader, the grandchild and the orphan");
        for pid in &planted {
            assert!(!is_alive(*pid), "{pid} was killed");
        }
        let _ = child.wait();
        assert!(is_alive(other.id()), "a process outside the group lives");
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn the_runners_secrets_are_removed_from_children() {
        let names = secret_env_names(
            [
                "PATH",
                "HMAC_SECRET",
                "RUN_TOKEN",
                "RUN_ID",
                "GATEWAY_URL",
                "GATEWAY_CA_FILE",
                "MY_GATEWAY_HOST",
                "HOME",
            ]
            .into_iter()
            .map(OsString::from),
        );
        assert_eq!(
            names,
            [
                "HMAC_SECRET",
                "RUN_TOKEN",
                "RUN_ID",
                "GATEWAY_URL",
                "GATEWAY_CA_FILE"
            ]
        );
        // Whatever the runner's own environment holds, a child never sees these.
        let mut cmd = std::process::Command::new("env");
        cmd.env("HMAC_SECRET", "x")
            .env("GATEWAY_X", "y")
            .env("KEPT", "z");
        let out = scrub_env(&mut cmd).output().unwrap();
        let env = String::from_utf8_lossy(&out.stdout);
        assert!(env.contains("KEPT=z"), "{env}");
        assert!(
            !env.contains("HMAC_SECRET") && !env.contains("RUN_TOKEN"),
            "{env}"
        );
    }
}
