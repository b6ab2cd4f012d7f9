//! The child process: spawned in its own process group with stdin closed and both output pipes
//! captured; stopped by signalling the whole group.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

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
