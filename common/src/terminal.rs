//! A run's events in words, one short labelled line each, as a person reads them in a terminal:
//! Claude's stream-json as who said what (a tool call on one line), markers as `turn 1: success ·
//! 3s · $0.0123`. The runner echoes a Claude run so; the gateway searches this text. The web UI
//! renders the same way on its own (`web/lines.mjs`).
//!
//! Pure, like the rest of `common`: text in, text out. Nothing here redacts: callers pass what
//! has already been through the redactor.

use std::collections::HashMap;

use serde_json::Value;

use crate::claude::{Block, Line, Usage, parse_line};

/// One line as shown: a short label (`Claude`, `→ Bash`, `turn 2`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub label: String,
    pub text: String,
}

impl Shown {
    fn new(label: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.text.is_empty() {
            f.write_str(&self.label)
        } else {
            write!(f, "{}: {}", self.label, self.text)
        }
    }
}

/// Characters of a tool input or result kept on its line (compact mode).
const ONE: usize = 160;
/// Tool names remembered by `tool_use` id, for naming their results.
const TOOLS_KEPT: usize = 1000;

/// Renders one run's lines in order (it remembers tool names to label their results).
#[derive(Debug, Clone)]
pub struct Renderer {
    tools: HashMap<String, String>,
    /// Cut tool inputs and results to one line of [`ONE`] characters (a terminal); `false`
    /// keeps every character (search).
    compact: bool,
}

impl Renderer {
    /// For a terminal: answers whole, tool inputs and results cut to one line.
    pub fn compact() -> Self {
        Self {
            tools: HashMap::new(),
            compact: true,
        }
    }

    /// For search: every character of every text kept.
    pub fn full() -> Self {
        Self {
            tools: HashMap::new(),
            compact: false,
        }
    }

    fn one(&self, text: &str) -> String {
        if self.compact {
            clip(text, ONE)
        } else {
            text.to_string()
        }
    }

    /// A stdout line in words, one entry per content block; `None` when it is not stream-json
    /// this module reads (plain output, or a kind it does not know): show it as it is.
    pub fn stdout_line(&mut self, text: &str) -> Option<Vec<Shown>> {
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let shown = match parse_line(text)? {
            Line::Init {
                session_id,
                model,
                cwd,
            } => vec![Shown::new(
                "session",
                join([
                    Some(short_id(&session_id)),
                    model,
                    cwd.map(|c| format!("in {c}")),
                ]),
            )],
            Line::Assistant { blocks, .. } | Line::User { blocks } => {
                blocks.into_iter().map(|b| self.block(b)).collect()
            }
            Line::PermissionDenied { tool, message } => {
                vec![Shown::new(
                    "denied",
                    format!("{tool}: {}", self.one(&message)),
                )]
            }
            Line::ApiRetry { message } => vec![Shown::new("retry", self.one(&message))],
            Line::Result(o) => {
                let how = if o.failed() {
                    o.terminal_reason
                        .clone()
                        .unwrap_or_else(|| o.subtype.clone())
                        .replace('_', " ")
                } else {
                    "done".into()
                };
                let trips = format!(
                    "{} round trip{}",
                    o.num_turns,
                    if o.num_turns == 1 { "" } else { "s" }
                );
                vec![Shown::new(
                    "result",
                    join([
                        Some(how),
                        Some(trips),
                        Some(duration(o.duration_ms)),
                        Some(usage(&o.usage)),
                        Some(format!("{} session total", cost(o.total_cost_usd))),
                    ]),
                )]
            }
            Line::Other => return None,
        };
        Some(shown)
    }

    fn block(&mut self, block: Block) -> Shown {
        match block {
            Block::Text(t) => Shown::new(
                "Claude",
                if self.compact {
                    t.trim().to_string()
                } else {
                    t
                },
            ),
            Block::Thinking(t) => Shown::new("thinking", self.one(&t)),
            Block::ToolUse { id, name, input } => {
                if self.tools.len() >= TOOLS_KEPT {
                    self.tools.clear();
                }
                self.tools.insert(id, name.clone());
                Shown::new(format!("→ {name}"), self.one(&gist(&input)))
            }
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let name = self.tools.get(&tool_use_id).map_or("tool", String::as_str);
                let lines = content.lines().count();
                let mut text = String::new();
                if is_error {
                    text.push_str("error: ");
                }
                if content.trim().is_empty() {
                    text.push_str("(empty)");
                } else {
                    text.push_str(&self.one(&content));
                }
                if self.compact && lines > 1 {
                    text.push_str(&format!("  ({lines} lines)"));
                }
                Shown::new(format!("← {name}"), text)
            }
        }
    }

    /// A marker as one labelled line (`data` is the marker's JSON object).
    pub fn marker(&self, data: &Value) -> Shown {
        let s = |k: &str| data[k].as_str().unwrap_or_default().to_string();
        let n = |k: &str| data[k].as_u64();
        let ms = |k: &str| data[k].as_u64().map(duration);
        match data["event"].as_str().unwrap_or("marker") {
            "started" => {
                let cmd = match &data["command"] {
                    Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
                        .collect::<Vec<_>>()
                        .join(" "),
                    Value::String(c) => c.clone(),
                    _ => String::new(),
                };
                Shown::new(
                    "started",
                    join([
                        Some(if self.compact { clip(&cmd, 300) } else { cmd }),
                        n("pid").map(|p| format!("pid {p}")),
                    ]),
                )
            }
            "finished" => {
                let code = data["exitCode"]
                    .as_i64()
                    .map_or_else(|| "?".into(), |c| c.to_string());
                Shown::new(
                    "finished",
                    join([
                        Some(format!("exit {code}")),
                        ms("durationMs").map(|d| format!("after {d}")),
                    ]),
                )
            }
            "turn_started" => {
                let prompt = s("prompt");
                Shown::new(
                    turn_label(data),
                    if prompt.is_empty() {
                        "started".into()
                    } else {
                        format!("\"{}\"", self.one(&prompt))
                    },
                )
            }
            "turn_finished" => {
                let u = Usage::from_value(&data["usage"]);
                Shown::new(
                    turn_label(data),
                    join([
                        Some(
                            Some(s("outcome"))
                                .filter(|o| !o.is_empty())
                                .unwrap_or("finished".into()),
                        ),
                        ms("durationMs"),
                        data.get("usage").map(|_| usage(&u)),
                        data["costUsd"].as_f64().map(cost),
                    ]),
                )
            }
            "session" => Shown::new(
                "session",
                join([
                    Some(short_id(&s("sessionId"))),
                    Some(s("model")).filter(|m| !m.is_empty()),
                ]),
            ),
            "session_ended" => Shown::new(
                "session",
                format!(
                    "ended ({}) after {} turns",
                    s("reason").replace('_', " "),
                    n("turns").unwrap_or(0)
                ),
            ),
            "command_finished" => Shown::new(
                "command",
                join([
                    Some(if data["timedOut"].as_bool() == Some(true) {
                        "timed out".to_string()
                    } else {
                        format!(
                            "exit {}",
                            data["exitCode"]
                                .as_i64()
                                .map_or_else(|| "?".into(), |c| c.to_string())
                        )
                    }),
                    ms("durationMs"),
                ]),
            ),
            "command_refused" => Shown::new(
                "refused",
                format!("{} (not on the runner's allowlist)", s("command")),
            ),
            "stop_requested" => Shown::new("stop", format!("requested ({})", s("reason"))),
            "stopped" => Shown::new("stopped", s("outcome").replace('_', " ")),
            "permission_request" => {
                let what = data["command"]
                    .as_str()
                    .or_else(|| data["input"]["file_path"].as_str())
                    .unwrap_or_default();
                Shown::new(
                    "approval",
                    format!("{} asks: {}", s("tool"), self.one(what)),
                )
            }
            "permission_decision" => Shown::new(
                "approval",
                format!("{}: {}", s("tool"), crate::claude::decision_text(data)),
            ),
            "redactions" => {
                let counts = data["counts"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k} ×{v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                Shown::new(
                    "redacted",
                    if counts.is_empty() {
                        "nothing".into()
                    } else {
                        counts
                    },
                )
            }
            "checkpoint" => Shown::new(
                "checkpoint",
                join([
                    Some(s("branch")),
                    Some(short_id(&s("commit"))),
                    Some(s("reason")),
                ]),
            ),
            other => {
                let mut rest = data.clone();
                if let Some(o) = rest.as_object_mut() {
                    o.remove("event");
                }
                let text = match &rest {
                    Value::Object(o) if o.is_empty() => String::new(),
                    v => v.to_string(),
                };
                Shown::new(other.replace('_', " "), self.one(&text))
            }
        }
    }
}

fn turn_label(data: &Value) -> String {
    data["turn"]
        .as_u64()
        .map_or_else(|| "turn".into(), |t| format!("turn {t}"))
}

/// The one-line gist of a tool call's input: the command, path or pattern it is about.
pub fn gist(input: &Value) -> String {
    const KEYS: [&str; 9] = [
        "command",
        "file_path",
        "notebook_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ];
    match input {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) => {
            if let Some(s) = KEYS
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
            {
                return s.to_string();
            }
            if let Some(todos) = o.get("todos").and_then(Value::as_array) {
                return format!(
                    "{} item{}",
                    todos.len(),
                    if todos.len() == 1 { "" } else { "s" }
                );
            }
            input.to_string()
        }
        other => other.to_string(),
    }
}

/// `text` on one line (whitespace runs as one space), cut to `n` characters with `…`.
pub fn clip(text: &str, n: usize) -> String {
    let one = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        let mut cut: String = one.chars().take(n.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        one
    }
}

fn join<const N: usize>(parts: [Option<String>; N]) -> String {
    parts
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// `0.4s`, `12s`, `3m 05s`, `2h 03m`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

fn tokens(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..10_000 => format!("{:.1}k", n as f64 / 1e3),
        10_000..1_000_000 => format!("{:.0}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn usage(u: &Usage) -> String {
    let input = u
        .input_tokens
        .saturating_add(u.cache_read_input_tokens)
        .saturating_add(u.cache_creation_input_tokens);
    format!("{} in · {} out", tokens(input), tokens(u.output_tokens))
}

fn cost(usd: f64) -> String {
    if usd < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(r: &mut Renderer, line: &Value) -> Vec<String> {
        r.stdout_line(&line.to_string())
            .expect("stream-json")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_claude_turn_reads_as_who_said_what() {
        let mut r = Renderer::compact();
        let init = json!({"type": "system", "subtype": "init", "session_id": "9c797fd8-aaaa",
            "model": "claude-sonnet-4-5", "cwd": "/work", "tools": ["Bash"]});
        assert_eq!(
            lines(&mut r, &init),
            ["session: 9c797fd8 · claude-sonnet-4-5 · in /work"]
        );
        let call = json!({"type": "assistant", "message": {"content": [
            {"type": "text", "text": "I'll look.\n\nFirst the files."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash",
             "input": {"command": "ls -la", "description": "list"}}]}});
        assert_eq!(
            lines(&mut r, &call),
            ["Claude: I'll look.\n\nFirst the files.", "→ Bash: ls -la"]
        );
        let result = json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb\nc", "is_error": false}]}});
        assert_eq!(lines(&mut r, &result), ["← Bash: a b c  (3 lines)"]);
        let done = json!({"type": "result", "subtype": "success", "is_error": false,
            "num_turns": 2, "duration_ms": 3200, "total_cost_usd": 0.0123,
            "usage": {"input_tokens": 1200, "output_tokens": 300}});
        assert_eq!(
            lines(&mut r, &done),
            ["result: done · 2 round trips · 3s · 1.2k in · 300 out · $0.0123 session total"]
        );
    }

    #[test]
    fn compact_cuts_tool_output_and_full_keeps_it() {
        let long = "x".repeat(500);
        let call = json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t", "content": long, "is_error": true}]}});
        let compact = lines(&mut Renderer::compact(), &call);
        assert_eq!(
            compact[0].chars().count(),
            "← tool: error: ".chars().count() + 160
        );
        let full = lines(&mut Renderer::full(), &call);
        assert!(full[0].ends_with(&long), "{full:?}");
    }

    #[test]
    fn plain_output_and_unknown_kinds_are_left_as_they_are() {
        let mut r = Renderer::compact();
        assert_eq!(r.stdout_line("   Compiling foo v1.0"), None);
        assert_eq!(r.stdout_line("{not json"), None);
        assert_eq!(r.stdout_line(r#"{"type":"stream_event","event":{}}"#), None);
    }

    #[test]
    fn markers_are_short_labelled_lines() {
        let r = Renderer::compact();
        let cases = [
            (
                json!({"event": "turn_finished", "turn": 1, "outcome": "success", "durationMs": 65_000,
                       "usage": {"input_tokens": 10, "output_tokens": 5}, "costUsd": 1.5}),
                "turn 1: success · 1m 05s · 10 in · 5 out · $1.50",
            ),
            (
                json!({"event": "turn_started", "turn": 2, "prompt": "fix\nthe tests"}),
                "turn 2: \"fix the tests\"",
            ),
            (
                json!({"event": "started", "command": ["claude", "-p", "hi"], "pid": 42}),
                "started: claude -p hi · pid 42",
            ),
            (
                json!({"event": "finished", "exitCode": 0, "durationMs": 400}),
                "finished: exit 0 · after 0.4s",
            ),
            (
                json!({"event": "redactions", "counts": {"github_token": 2}}),
                "redacted: github_token ×2",
            ),
            (
                json!({"event": "something_new", "x": 1}),
                "something new: {\"x\":1}",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(r.marker(&data).to_string(), want);
        }
    }

    #[test]
    fn durations_and_clips() {
        assert_eq!(duration(999), "1.0s");
        assert_eq!(duration(7_384_000), "2h 03m");
        assert_eq!(clip("a  b\n c", 10), "a b c");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
