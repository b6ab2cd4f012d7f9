//! What a notification says, and which ones an ingest batch makes. A notice names the run (id,
//! name, status, link) and, for an approval, the request and the tool: never the run's output,
//! its prompt, a command line or a diff.

use common::wire::{EventKind, RawEvent, RunStatus, RunSummary};
use serde::{Deserialize, Serialize};

use crate::store::NotifyEvent;

/// One notification, as a webhook's JSON body and a push payload carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub event: NotifyEvent,
    /// Unix ms when the gateway saw it happen.
    pub ts: i64,
    pub run: NoticeRun,
    /// For `needs_approval`: which request, for which tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<NoticeApproval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeRun {
    pub id: String,
    pub name: Option<String>,
    pub status: RunStatus,
    /// The run's page.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeApproval {
    pub request_id: String,
    pub tool: String,
}

/// Most characters of a run name or tool name a notice carries.
const MAX_NAME_CHARS: usize = 200;

fn clip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect()
}

impl Notice {
    pub fn new(event: NotifyEvent, run: &RunSummary, base_url: &str, ts: i64) -> Self {
        Notice {
            event,
            ts,
            run: NoticeRun {
                id: run.id.clone(),
                name: run.name.as_deref().map(clip),
                status: run.status,
                url: format!("{}/runs/{}", base_url.trim_end_matches('/'), run.id),
            },
            approval: None,
        }
    }

    /// A title and a line for a person: what a push notification shows, what Slack gets.
    pub fn words(&self) -> (String, String) {
        let name = self.run.name.as_deref().unwrap_or(&self.run.id);
        let line = match (self.event, &self.approval) {
            (NotifyEvent::NeedsApproval, Some(a)) => format!("{} wants to use {}", name, a.tool),
            (NotifyEvent::NeedsApproval, None) => format!("{name} needs approval"),
            (NotifyEvent::WaitingForInput, _) => format!("{name} waits for your next prompt"),
            (NotifyEvent::Finished, _) => format!("{name} finished"),
            (NotifyEvent::Failed, _) => format!("{name} failed"),
            (NotifyEvent::Stopped, _) => format!("{name} was stopped"),
            (NotifyEvent::AgentOffline, _) => format!("{name}: its agent is offline"),
        };
        let title = match self.event {
            NotifyEvent::NeedsApproval => "Needs approval",
            NotifyEvent::WaitingForInput => "Waiting for input",
            NotifyEvent::Finished => "Finished",
            NotifyEvent::Failed => "Failed",
            NotifyEvent::Stopped => "Stopped",
            NotifyEvent::AgentOffline => "Agent offline",
        };
        (title.to_string(), line)
    }

    /// The Slack-compatible body: `{"text": "…"}` in Slack's markup, names escaped.
    pub fn slack_body(&self) -> String {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let (title, line) = self.words();
        let text = format!(
            "*{}*: {} <{}|open>",
            escape(&title),
            escape(&line),
            escape(&self.run.url)
        );
        serde_json::json!({ "text": text }).to_string()
    }
}

/// A marker's `event` and the fields a notice needs, read without keeping the rest.
#[derive(Deserialize)]
struct Marker {
    event: String,
    #[serde(default, rename = "requestId")]
    request_id: Option<String>,
    #[serde(default)]
    tool: Option<String>,
}

/// The notices a committed batch makes, given the run as it stands after the commit. Only the
/// events the batch stored count (`inserted`, ending at `acked_through`): a resend makes none.
pub fn from_batch(
    events: &[RawEvent],
    inserted: usize,
    acked_through: u64,
    run: &RunSummary,
    base_url: &str,
    now: i64,
) -> Vec<Notice> {
    let first_new = (acked_through + 1).saturating_sub(inserted as u64);
    let mut notices = Vec::new();
    let mut turn_finished = false;
    for e in events.iter().filter(|e| e.sequence >= first_new) {
        if e.kind != EventKind::Marker {
            continue;
        }
        let Ok(marker) = serde_json::from_str::<Marker>(e.data.get()) else {
            continue;
        };
        match marker.event.as_str() {
            "permission_request" => {
                let mut notice = Notice::new(NotifyEvent::NeedsApproval, run, base_url, now);
                notice.approval = Some(NoticeApproval {
                    request_id: clip(marker.request_id.as_deref().unwrap_or_default()),
                    tool: clip(marker.tool.as_deref().unwrap_or("a tool")),
                });
                notices.push(notice);
            }
            "turn_finished" => turn_finished = true,
            "finished" => {
                let event = match run.status {
                    RunStatus::Stopped => NotifyEvent::Stopped,
                    RunStatus::Finished => NotifyEvent::Finished,
                    _ => NotifyEvent::Failed,
                };
                notices.push(Notice::new(event, run, base_url, now));
            }
            _ => {}
        }
    }
    // Waiting for input: a turn ended and the run, still running, waits between turns. (A
    // single-turn run passes through that state on its way to `finished`; the dispatcher looks
    // again before sending, see `dispatch.rs`.)
    let waiting =
        run.status == RunStatus::Running && run.claude.as_ref().is_some_and(|c| c.between_turns);
    if turn_finished && waiting {
        notices.push(Notice::new(
            NotifyEvent::WaitingForInput,
            run,
            base_url,
            now,
        ));
    }
    notices
}

#[cfg(test)]
mod tests {
    use common::wire::{ClaudeStats, Event};
    use serde_json::json;

    use super::*;

    fn run(status: RunStatus, between_turns: bool) -> RunSummary {
        RunSummary {
            id: "r_1".into(),
            name: Some("fix <the> tests\n".into()),
            status,
            prompt: Some("secret prompt".into()),
            cwd: None,
            created_at: 0,
            finished_at: None,
            exit_code: None,
            last_sequence: 0,
            last_event_at: None,
            delivery: None,
            claude: Some(ClaudeStats {
                between_turns,
                ..Default::default()
            }),
            pinned: false,
            agent: None,
            agent_offline: false,
            reason: None,
        }
    }

    fn marker(sequence: u64, data: serde_json::Value) -> RawEvent {
        Event {
            sequence,
            kind: EventKind::Marker,
            data,
            ts: 0,
        }
        .to_raw()
    }

    #[test]
    fn a_batch_makes_the_notices_of_its_new_markers() {
        let events = vec![
            marker(
                1,
                json!({"event": "permission_request", "requestId": "pr_old", "tool": "Bash"}),
            ),
            Event {
                sequence: 2,
                kind: EventKind::Stdout,
                data: json!("output that must never travel"),
                ts: 0,
            }
            .to_raw(),
            marker(
                3,
                json!({"event": "permission_request", "requestId": "pr_new", "tool": "Bash",
                       "command": "rm -rf /"}),
            ),
            marker(4, json!({"event": "turn_finished", "turn": 1})),
        ];
        let running = run(RunStatus::Running, true);
        // Sequence 1 was stored before: only 2..=4 are new.
        let notices = from_batch(&events, 3, 4, &running, "https://gw.example/", 7);
        let kinds: Vec<_> = notices.iter().map(|n| n.event).collect();
        assert_eq!(
            kinds,
            [NotifyEvent::NeedsApproval, NotifyEvent::WaitingForInput]
        );
        let text = serde_json::to_string(&notices).unwrap();
        for never in ["output that", "rm -rf", "secret prompt", "pr_old"] {
            assert!(!text.contains(never), "{never} in {text}");
        }
        assert_eq!(
            notices[0].approval,
            Some(NoticeApproval {
                request_id: "pr_new".into(),
                tool: "Bash".into()
            })
        );
        assert_eq!(notices[0].run.url, "https://gw.example/runs/r_1");
        assert_eq!(notices[0].run.name.as_deref(), Some("fix <the> tests"));
        // A resend makes nothing; a turn that ends the run is not "waiting".
        assert!(from_batch(&events, 0, 4, &running, "https://gw", 7).is_empty());
        let ended = run(RunStatus::Running, false);
        assert_eq!(
            from_batch(&events[3..], 1, 4, &ended, "https://gw", 7),
            vec![]
        );
    }

    #[test]
    fn finished_says_how_the_run_ended() {
        let events = [marker(9, json!({"event": "finished", "exitCode": 0}))];
        for (status, want) in [
            (RunStatus::Finished, NotifyEvent::Finished),
            (RunStatus::Failed, NotifyEvent::Failed),
            (RunStatus::Stopped, NotifyEvent::Stopped),
        ] {
            let notices = from_batch(&events, 1, 9, &run(status, false), "https://gw", 1);
            assert_eq!(notices.len(), 1);
            assert_eq!((notices[0].event, notices[0].run.status), (want, status));
        }
    }

    #[test]
    fn slack_text_escapes_names() {
        let mut n = Notice::new(
            NotifyEvent::NeedsApproval,
            &run(RunStatus::Running, false),
            "https://gw",
            1,
        );
        n.approval = Some(NoticeApproval {
            request_id: "pr_1".into(),
            tool: "Bash".into(),
        });
        let body: serde_json::Value = serde_json::from_str(&n.slack_body()).unwrap();
        assert_eq!(
            body["text"],
            "*Needs approval*: fix &lt;the&gt; tests wants to use Bash <https://gw/runs/r_1|open>"
        );
    }
}
