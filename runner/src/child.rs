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

use std::path::Path;
use std::process::{ExitStatus, Stdio};
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

/// Spawn `argv` in `cwd`, in a new process group, stdin from /dev/null.
pub fn spawn(argv: &[String], cwd: &Path) -> Result<Running, SpawnError> {
    let program = argv[0].clone();
    let mut cmd = Command::new(&program);
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
    let spawned = Command::new("/bin/sh")
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

/// Make this process the subreaper of its descendants (Linux); orphans then become its children.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "could not become a child subreaper");
    }
}

/// `(pid, ppid, pgrp)` of every process, from `/proc` (empty where there is none).
fn processes() -> Vec<(u32, u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name, which may hold spaces and parentheses: state ppid pgrp ...
            let mut rest = stat.get(stat.rfind(')')? + 2..)?.split(' ');
            let _state = rest.next()?;
            let ppid = rest.next()?.parse().ok()?;
            let pgrp = rest.next()?.parse().ok()?;
            Some((pid, ppid, pgrp))
        })
        .collect()
}

/// Kill what is left of the process group `pgid` and every other process re-parented to this
/// runner (except `keep`), and reap those that are its children. Returns how many were killed.
pub fn reap_leftovers(pgid: u32, keep: &[u32]) -> u64 {
    let me = std::process::id();
    let mut killed = std::collections::BTreeSet::new();
    // New orphans can appear while the group dies (a grandchild whose parent was just killed).
    for _ in 0..5 {
        let victims: Vec<(u32, u32)> = processes()
            .into_iter()
            .filter(|&(pid, ppid, pgrp)| {
                pid != me && !keep.contains(&pid) && ((pgid != 0 && pgrp == pgid) || ppid == me)
            })
            .map(|(pid, ppid, _)| (pid, ppid))
            .collect();
        if victims.is_empty() {
            break;
        }
        for &(pid, ppid) in &victims {
            let p = Pid::from_raw(pid as i32);
            if kill(p, Signal::SIGKILL).is_ok() && is_alive(pid) {
                killed.insert(pid);
            }
            if ppid == me {
                let _ = nix::sys::wait::waitpid(p, None);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len() as u64
}

/// True unless the process is gone or a zombie.
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.get(s.rfind(')')? + 2..)
                .map(|r| !r.starts_with('Z') && !r.starts_with('X'))
        })
        .unwrap_or(false)
}
