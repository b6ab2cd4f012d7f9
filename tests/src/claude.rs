//! Helpers for the tests that drive the real Claude Code CLI: where the pinned CLI is, waiting
//! for a run's events or a runner's exit, and reading the markers a run stored.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use common::wire::{Event, EventKind};
use serde_json::Value;

use crate::Gateway;

/// How long these tests wait for anything the CLI does.
pub const WAIT: Duration = Duration::from_secs(90);

/// The pinned CLI; `tests/run` installs it with `npm ci --prefix tests/claude`.
pub fn cli() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("claude/node_modules/.bin/claude");
    assert!(
        path.exists(),
        "the Claude Code CLI is not installed at {}: run `npm ci --prefix tests/claude` (tests/run does)",
        path.display()
    );
    path
}

/// The run's events once `check` holds; on timeout the panic shows what did arrive and
/// `context()` (the runner's log, …), so a failure in CI can be read without re-running it.
pub async fn events_when(
    gw: &Gateway,
    run_id: &str,
    check: impl Fn(&[Event]) -> bool,
    context: impl Fn() -> String,
) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    loop {
        let events = gw.events(run_id).await;
        if check(&events) {
            return events;
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = events
                .iter()
                .map(|e| match e.data["event"].as_str() {
                    Some(m) => format!("{} marker {m}", e.sequence),
                    None => format!("{} {:?} {:.80}", e.sequence, e.kind, e.data.to_string()),
                })
                .collect();
            panic!(
                "condition not met within {WAIT:?}; events:\n{}\n{}",
                seen.join("\n"),
                context()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait for a runner to exit; on timeout the panic shows `log()`.
pub async fn exit_of(child: &mut Child, log: impl Fn() -> String) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the runner") {
            return status;
        }
        assert!(
            start.elapsed() < WAIT,
            "the runner did not exit; its log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The data of the markers named `name`, in order.
pub fn markers<'a>(events: &'a [Event], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Marker && e.data["event"] == name)
        .map(|e| &e.data)
        .collect()
}

/// The `turn_finished` marker of turn `turn`.
pub fn turn_finished(events: &[Event], turn: u64) -> Option<&Value> {
    markers(events, "turn_finished")
        .into_iter()
        .find(|m| m["turn"] == turn)
}

/// A check for [`events_when`]: turn `turn` has finished.
pub fn has_turn(turn: u64) -> impl Fn(&[Event]) -> bool {
    move |events| turn_finished(events, turn).is_some()
}
