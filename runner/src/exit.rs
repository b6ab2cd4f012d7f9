//! The exit codes of `claude-runner`, in one place (`main.rs`, the README and `PROTOCOL.md` list
//! them for users). `start` exits 0 only when Claude's last turn succeeded, the run was not
//! stopped, and everything it produced reached the gateway whole.

/// Output lines were dropped at the spool's cap (`RUNNER_SPOOL_MAX_BYTES`); the rest of the run
/// was delivered.
pub const DROPPED: i32 = 121;
/// Events or artifacts are still undelivered (kept on disk; `flush` delivers them), or cannot be
/// delivered until the run is closed (`flush --close`).
pub const UNDELIVERED: i32 = 122;
/// The run is closed, but the gateway holds it as `incomplete`: its copy of the stream does not
/// match the runner's (it lost events it had acknowledged).
pub const INCOMPLETE: i32 = 123;
/// The run was stopped: a `stop` command, SIGINT or SIGTERM to the runner, or the run's deletion
/// at the gateway, whatever Claude's exit code after it.
pub const STOPPED: i32 = 124;
/// The runner itself failed (bad settings, an unreachable gateway before the run existed, …).
pub const RUNNER_FAILED: i32 = 125;

/// How a `start` ended, for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ending {
    /// The last turn's exit code ([`crate::agent::run_exit_code`]): Claude's code, 128 + signal,
    /// 1 for a failed turn, 126/127 when the CLI could not run.
    pub run_code: i32,
    pub stopped: bool,
    pub incomplete: bool,
    pub undelivered: bool,
    pub dropped: bool,
}

/// The exit code of `start`: the first that applies of [`STOPPED`], the run's own non-zero code,
/// [`INCOMPLETE`], [`UNDELIVERED`], [`DROPPED`], else 0.
pub fn of_start(e: Ending) -> i32 {
    if e.stopped {
        STOPPED
    } else if e.run_code != 0 {
        e.run_code
    } else if e.incomplete {
        INCOMPLETE
    } else if e.undelivered {
        UNDELIVERED
    } else if e.dropped {
        DROPPED
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_outcome_that_applies_decides() {
        let all = Ending {
            run_code: 0,
            stopped: true,
            incomplete: true,
            undelivered: true,
            dropped: true,
        };
        let cases = [
            (all, STOPPED),
            (
                Ending {
                    stopped: false,
                    run_code: 3,
                    ..all
                },
                3,
            ),
            (
                Ending {
                    stopped: false,
                    ..all
                },
                INCOMPLETE,
            ),
            (
                Ending {
                    stopped: false,
                    incomplete: false,
                    ..all
                },
                UNDELIVERED,
            ),
            (
                Ending {
                    dropped: true,
                    ..Ending::default()
                },
                DROPPED,
            ),
            (Ending::default(), 0),
            (
                Ending {
                    run_code: 137,
                    stopped: true,
                    ..Ending::default()
                },
                STOPPED,
            ),
        ];
        for (ending, want) in cases {
            assert_eq!(of_start(ending), want, "{ending:?}");
        }
    }
}
