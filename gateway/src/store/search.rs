//! Search over what the store holds, the same for every backend: which text of an event is
//! searched, what a match is, and the shapes of the answers.
//!
//! A line matches when its search text ([`event_text`]) contains the query, ignoring case: a
//! substring, as a log viewer's find does, not words. A backend may use any index to find the
//! candidate lines faster (SQLite: FTS5 trigrams; PostgreSQL: `pg_trgm` or its full-text search)
//! but decides with [`Needle::find`] on [`event_text`], so every backend answers the same hits.

use common::terminal::Renderer;
use common::wire::{EventKind, RawEvent, RunStatus, RunSummary};
use serde::Serialize;

/// Longest query, in bytes.
pub const MAX_QUERY: usize = 256;
/// Characters of a hit's text kept around the match.
const SNIPPET: usize = 200;

/// A query, lower-cased once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    lower: String,
}

impl Needle {
    /// `None` for a query that is empty after trimming or longer than [`MAX_QUERY`].
    pub fn new(query: &str) -> Option<Self> {
        let q = query.trim();
        (!q.is_empty() && q.len() <= MAX_QUERY).then(|| Self {
            lower: q.to_lowercase(),
        })
    }

    /// The query, lower case.
    pub fn as_str(&self) -> &str {
        &self.lower
    }

    /// Where the query starts in `text` (a byte offset of `text`), ignoring case.
    pub fn position(&self, text: &str) -> Option<usize> {
        let n = self.lower.as_bytes();
        if self.lower.is_ascii() {
            // Byte-wise: no allocation per line, and ASCII case folding cannot shift offsets.
            let first = n[0];
            let hay = text.as_bytes();
            return (0..=hay.len().checked_sub(n.len())?).find(|&i| {
                hay[i].eq_ignore_ascii_case(&first) && hay[i..i + n.len()].eq_ignore_ascii_case(n)
            });
        }
        text.char_indices()
            .map(|(i, _)| i)
            .find(|&i| text[i..].to_lowercase().starts_with(&self.lower))
    }

    pub fn find(&self, text: &str) -> bool {
        self.position(text).is_some()
    }

    /// `text` cut to about [`SNIPPET`] characters around the first match, on one line.
    pub fn snippet(&self, text: &str) -> String {
        let at = self.position(text).unwrap_or(0);
        let before: Vec<(usize, char)> = text[..at].char_indices().collect();
        let start = if before.len() > SNIPPET / 3 {
            before[before.len() - SNIPPET / 3].0
        } else {
            0
        };
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        let rest = &text[start..];
        for (taken, c) in rest.chars().enumerate() {
            if taken == SNIPPET {
                out.push('…');
                break;
            }
            out.push(if c.is_whitespace() { ' ' } else { c });
        }
        out
    }
}

/// The searched text of each event of a stretch of a run, in order, as a person reads it:
/// Claude's stream-json and markers in words (`common::terminal`, every character kept), other
/// output with its terminal escapes removed and only what follows its last `\r` (what a
/// progress bar left on screen); `None` for `assist` events (their links open a session).
///
/// The text of a `tool_result` names its tool from the call earlier in the same stretch: give
/// it the same stretch each time (a backend's index and its check agree so).
#[derive(Debug)]
pub struct TextOf(Renderer);

impl Default for TextOf {
    fn default() -> Self {
        Self(Renderer::full())
    }
}

impl TextOf {
    pub fn event(&mut self, event: &RawEvent) -> Option<String> {
        match event.kind {
            EventKind::Stdout | EventKind::Stderr => {
                let line: String = serde_json::from_str(event.data.get()).ok()?;
                if event.kind == EventKind::Stdout
                    && let Some(shown) = self.0.stdout_line(&line)
                {
                    return Some(
                        shown
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                }
                let line = common::redact::strip_escapes(&line);
                let shown = line.trim_end_matches('\r');
                Some(match shown.rfind('\r') {
                    Some(i) => shown[i + 1..].to_string(),
                    None => shown.to_string(),
                })
            }
            EventKind::Info | EventKind::Error => {
                serde_json::from_str::<String>(event.data.get()).ok()
            }
            EventKind::Marker => {
                let data: serde_json::Value = serde_json::from_str(event.data.get()).ok()?;
                Some(self.0.marker(&data).to_string())
            }
            EventKind::Assist => None,
        }
    }
}

/// The searched text of one event on its own (no earlier tool calls known).
pub fn event_text(event: &RawEvent) -> Option<String> {
    TextOf::default().event(event)
}

/// A line of a run that matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineHit {
    pub sequence: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub ts: i64,
    /// The line's search text around the match.
    pub text: String,
}

/// A page of one run's hits, ascending; `next_after` is set when more follow (pass it as
/// `after`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinePage {
    pub hits: Vec<LineHit>,
    pub next_after: Option<u64>,
}

/// A search across runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSearch {
    pub needle: Needle,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs created at or after this unix ms.
    pub since: Option<i64>,
    /// Most runs answered.
    pub limit: usize,
}

/// Where a run matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitField {
    Name,
    Prompt,
    /// A line of its output (Claude's answers, tool calls and results included).
    Output,
}

/// A run that matched, with where it first did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunHit {
    pub run: RunSummary,
    pub field: HitField,
    /// The matching line, for [`HitField::Output`].
    pub sequence: Option<u64>,
    pub snippet: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::Event;
    use serde_json::value::RawValue;

    fn ev(kind: EventKind, data: &str) -> RawEvent {
        Event {
            sequence: 1,
            kind,
            data: RawValue::from_string(data.to_string()).unwrap(),
            ts: 0,
        }
    }

    #[test]
    fn a_needle_finds_substrings_ignoring_case() {
        let n = Needle::new("  ERROR: ").unwrap();
        assert_eq!(n.as_str(), "error:");
        assert!(n.find("test failed with Error: 3"));
        assert!(!n.find("no errors"));
        assert_eq!(n.position("xx error:"), Some(3));
        let u = Needle::new("ÄRGER").unwrap();
        assert!(u.find("so ein ärger"));
        assert!(Needle::new("   ").is_none());
        assert!(Needle::new(&"x".repeat(MAX_QUERY + 1)).is_none());
    }

    #[test]
    fn snippets_keep_the_match_in_view() {
        let n = Needle::new("needle").unwrap();
        let text = format!("{}needle{}", "a".repeat(500), "b".repeat(500));
        let s = n.snippet(&text);
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("needle"),
            "{s}"
        );
        assert!(s.chars().count() <= SNIPPET + 2);
    }

    #[test]
    fn the_text_of_an_event_is_what_a_person_reads() {
        let progress = ev(
            EventKind::Stdout,
            r#""\u001b[32m 10%\r 55%\r 90%\u001b[0m""#,
        );
        assert_eq!(event_text(&progress).as_deref(), Some(" 90%"));
        let claude = ev(
            EventKind::Stdout,
            r#""{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{\"command\":\"cargo test\"}}]}}""#,
        );
        assert_eq!(event_text(&claude).as_deref(), Some("→ Bash: cargo test"));
        let marker = ev(EventKind::Marker, r#"{"event":"finished","exitCode":2}"#);
        assert_eq!(event_text(&marker).as_deref(), Some("finished: exit 2"));
        let info = ev(EventKind::Info, r#""Executing command: git status""#);
        assert_eq!(
            event_text(&info).as_deref(),
            Some("Executing command: git status")
        );
        let assist = ev(EventKind::Assist, r#"{"url":"ssh x@tmate.io"}"#);
        assert_eq!(event_text(&assist), None);
    }
}
