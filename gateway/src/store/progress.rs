//! A run's progress as ingest keeps it, and what the lifecycle markers of its stream do to it:
//! `stop_requested` and `finished` end it (with the delivery check of the `finished` marker),
//! `session`, `turn_finished` and the permission markers keep its Claude totals and the requests
//! waiting for a person. `rules.rs` calls [`apply_marker`] for each new marker.

use common::digest::StreamDigest;
use common::wire::{ClaudeStats, Delivery, RawEvent, RunStatus};

/// The part of a run that ingest reads and rewrites.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    pub status: RunStatus,
    pub last_seq: u64,
    pub last_event_at: Option<i64>,
    pub exit_code: Option<i32>,
    pub finished_at: Option<i64>,
    /// A `stop_requested` marker is stored: the next `finished` marker means `stopped`.
    pub stop_requested: bool,
    /// The digest of every stored event, in sequence order.
    pub stream: StreamDigest,
    /// Set by the `finished` marker; see [`delivery_of`].
    pub delivery: Option<Delivery>,
    /// The run's Claude session, from `session` and `turn_finished` markers.
    pub claude: Option<ClaudeStats>,
}

/// Compares the count and SHA-256 a `finished` marker claims with the stream stored before it:
/// `None` if the marker claims neither (an older runner), else complete or incomplete.
pub(crate) fn delivery_of(stored: &StreamDigest, finished: &serde_json::Value) -> Option<Delivery> {
    let count = finished.get("eventCount");
    let sha = finished.get("streamSha256");
    if count.is_none() && sha.is_none() {
        return None;
    }
    let count_ok = count.and_then(|c| c.as_u64()) == Some(stored.events());
    let sha_ok = sha
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(&stored.hex()));
    Some(if count_ok && sha_ok {
        Delivery::Complete
    } else {
        Delivery::Incomplete
    })
}

/// What a lifecycle marker does to a run that is not yet terminal.
pub(super) fn apply_marker(after: &mut Progress, event: &RawEvent) {
    let data = event.data_value();
    match data["event"].as_str() {
        Some("stop_requested") => after.stop_requested = true,
        Some("finished") => {
            let code = data
                .get("exitCode")
                .and_then(|v| v.as_i64())
                .and_then(|c| i32::try_from(c).ok());
            after.exit_code = code;
            after.finished_at = Some(event.ts);
            after.status = if after.stop_requested {
                RunStatus::Stopped
            } else if code == Some(0) {
                RunStatus::Finished
            } else {
                RunStatus::Failed
            };
            after.delivery = delivery_of(&after.stream, &data);
            // Nothing waits for a decision once the run is over.
            if let Some(c) = after.claude.as_mut() {
                set_pending(c, Vec::new());
            }
        }
        Some("session") => {
            let c = after.claude.get_or_insert_with(ClaudeStats::default);
            if let Some(id) = data["sessionId"].as_str() {
                c.session_id = Some(id.to_string());
            }
            if let Some(m) = data["model"].as_str() {
                c.model = Some(m.to_string());
            }
        }
        Some("turn_finished") => {
            let c = after.claude.get_or_insert_with(ClaudeStats::default);
            add_turn(c, &data);
            c.between_turns = true;
            // A request cannot outlive the turn that asked it (the runner cancels it; a runner
            // that died did not).
            set_pending(c, Vec::new());
        }
        Some("permission_request") => {
            if let Some(id) = data["requestId"].as_str() {
                let c = after.claude.get_or_insert_with(ClaudeStats::default);
                let mut ids = std::mem::take(&mut c.pending_requests);
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                }
                // Beyond the bound the oldest is forgotten rather than the run's row growing.
                if ids.len() > common::wire::MAX_PENDING_REQUESTS {
                    ids.remove(0);
                }
                set_pending(c, ids);
            }
        }
        Some("permission_decision") => {
            if let (Some(id), Some(c)) = (data["requestId"].as_str(), after.claude.as_mut()) {
                let mut ids = std::mem::take(&mut c.pending_requests);
                ids.retain(|x| x != id);
                set_pending(c, ids);
            }
        }
        Some("turn_started" | "session_ended") => {
            if let Some(c) = after.claude.as_mut() {
                c.between_turns = false;
            }
        }
        _ => {}
    }
}

/// The requests waiting for a decision, and their count.
fn set_pending(c: &mut ClaudeStats, ids: Vec<String>) {
    c.pending_approvals = ids.len() as u64;
    c.pending_requests = ids;
}

/// Add one `turn_finished` marker to a run's Claude totals.
fn add_turn(c: &mut ClaudeStats, m: &serde_json::Value) {
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    c.prompts += 1;
    c.turns += n(&m["numTurns"]);
    c.input_tokens += n(&m["usage"]["input_tokens"]);
    c.output_tokens += n(&m["usage"]["output_tokens"]);
    c.cost_usd += m["costUsd"]
        .as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .unwrap_or(0.0);
    if let Some(s) = m["sessionId"].as_str() {
        c.session_id.get_or_insert_with(|| s.to_string());
    }
    if let Some(o) = m["outcome"].as_str() {
        c.last_outcome = Some(o.to_string());
    }
    for f in m["filesWritten"].as_array().into_iter().flatten() {
        if let Some(f) = f.as_str()
            && c.files_written.len() < common::wire::MAX_FILES_WRITTEN
            && !c.files_written.iter().any(|x| x == f)
        {
            c.files_written.push(f.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use common::wire::EventKind;
    use serde_json::{Value, json};

    use super::super::rules::plan_append;
    use super::super::rules::tests::{ev, fin, fresh_run};
    use super::*;

    #[test]
    fn pending_approvals_follow_requests_and_decisions() {
        let m = |seq: u64, data: Value| ev(seq, EventKind::Marker, data);
        let req = |seq, id: &str| {
            m(
                seq,
                json!({"event": "permission_request", "requestId": id, "tool": "Bash",
                          "input": {}, "expiresAt": 1}),
            )
        };
        let dec = |seq, id: &str| {
            m(
                seq,
                json!({"event": "permission_decision", "requestId": id,
                          "decision": "allow", "tool": "Bash", "by": "admin"}),
            )
        };
        let pending = |p: &Progress| {
            let c = p.claude.clone().unwrap_or_default();
            (c.pending_approvals, c.pending_requests)
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_, p) = plan_append(
            &fresh_run(),
            &[req(1, "pr_a"), req(2, "pr_b"), req(3, "pr_a")],
        )
        .unwrap();
        assert_eq!(pending(&p), (2, ids(&["pr_a", "pr_b"])));
        // A decision for a request never seen (a remembered rule's) changes nothing.
        let (_, p) = plan_append(&p, &[dec(4, "pr_a"), dec(5, "pr_x")]).unwrap();
        assert_eq!(pending(&p), (1, ids(&["pr_b"])));
        let turn_end = m(
            6,
            json!({"event": "turn_finished", "turn": 1, "outcome": "aborted"}),
        );
        let (_, p) = plan_append(&p, &[turn_end, req(7, "pr_c")]).unwrap();
        assert_eq!(pending(&p), (1, ids(&["pr_c"])));
        let (_, p) = plan_append(&p, &[fin(8, json!(0))]).unwrap();
        assert_eq!(pending(&p), (0, vec![]));
        let many: Vec<RawEvent> = (1..=70).map(|i| req(i, &format!("pr_{i}"))).collect();
        let (_, p) = plan_append(&fresh_run(), &many).unwrap();
        let (n, kept) = pending(&p);
        assert_eq!((n, kept.first().map(String::as_str)), (64, Some("pr_7")));
    }
}
