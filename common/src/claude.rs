//! Claude Code's `--output-format stream-json` output, parsed into what a run needs: the session,
//! each turn's outcome, and a transcript of prompts, answers, tool calls and results.
//!
//! This is the one place that knows Claude's line format. The runner reads turn outcomes from it
//! (the exit code alone is not reliable: SIGINT exits 0, API errors come back as `is_error`); the
//! gateway builds transcripts and run summaries from stored events with it. Another CLI agent
//! would get a sibling module with the same outputs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::{Event, EventKind};

/// One content block of an assistant or user message.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Thinking(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
}

/// Token counts of a message or a turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    pub(crate) fn from_value(v: &Value) -> Self {
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Self {
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cache_read_input_tokens: n("cache_read_input_tokens"),
            cache_creation_input_tokens: n("cache_creation_input_tokens"),
        }
    }

    fn add(&mut self, o: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(o.cache_read_input_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(o.cache_creation_input_tokens);
    }
}

/// The final `result` line of one CLI invocation (one turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub subtype: String,
    pub is_error: bool,
    pub terminal_reason: Option<String>,
    pub num_turns: u64,
    pub total_cost_usd: f64,
    pub duration_ms: u64,
    pub session_id: Option<String>,
    pub result: Option<String>,
    pub usage: Usage,
    pub permission_denials: usize,
}

impl Outcome {
    /// A turn failed even if the CLI exited 0: an error flag, a non-success subtype, or an abort.
    pub fn failed(&self) -> bool {
        self.is_error
            || self.subtype != "success"
            || self
                .terminal_reason
                .as_deref()
                .is_some_and(|r| r != "completed")
    }

    /// The turn was interrupted (SIGINT): `aborted_streaming` or `aborted_tools`.
    pub fn aborted(&self) -> bool {
        self.terminal_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("aborted"))
    }
}

/// One parsed stream-json line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Init {
        session_id: String,
        model: Option<String>,
        cwd: Option<String>,
    },
    Assistant {
        blocks: Vec<Block>,
        usage: Usage,
    },
    User {
        blocks: Vec<Block>,
    },
    PermissionDenied {
        tool: String,
        message: String,
    },
    ApiRetry {
        message: String,
    },
    Result(Outcome),
    /// Valid stream-json this module does not interpret (`stream_event`, `status`, …).
    Other,
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

fn blocks(content: &Value) -> Vec<Block> {
    match content {
        Value::String(s) => vec![Block::Text(s.clone())],
        Value::Array(items) => items
            .iter()
            .filter_map(|b| match b["type"].as_str()? {
                "text" => Some(Block::Text(string(&b["text"])?)),
                "thinking" => Some(Block::Thinking(string(&b["thinking"]).unwrap_or_default())),
                "tool_use" => Some(Block::ToolUse {
                    id: string(&b["id"]).unwrap_or_default(),
                    name: string(&b["name"]).unwrap_or_default(),
                    input: b["input"].clone(),
                }),
                "tool_result" => Some(Block::ToolResult {
                    tool_use_id: string(&b["tool_use_id"]).unwrap_or_default(),
                    content: match &b["content"] {
                        Value::String(s) => s.clone(),
                        Value::Array(parts) => parts
                            .iter()
                            .filter_map(|p| p["text"].as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    },
                    is_error: b["is_error"].as_bool().unwrap_or(false),
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The top-level `type` of a stream-json line, read without building the line's values (`None`
/// if it is not a JSON object with a string `type`): a reader that needs only some kinds skips
/// the rest (tool results can be megabytes) at the cost of one scan.
pub fn line_type(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    let text = text.trim();
    if !text.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Head<'_>>(text).ok()?.kind
}

/// The top-level `type` of a stream-json line, read from its first bytes when the line starts
/// `{"type":"` (Claude Code writes `type` first), else as [`line_type`] reads it. Unlike
/// [`line_type`] it does not look past the type, so a line it names may still not parse, and a
/// line that gives `type` twice is named by its first (where [`parse_line`] reads the last):
/// a reader that goes on to [`parse_line`] checks that the two agree, having spared the scan
/// of every line it skips.
pub fn leading_type(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    let head = text.trim_start();
    if let Some(rest) = head.strip_prefix(r#"{"type":""#)
        && let Some(end) = rest.find(['"', '\\'])
        && rest.as_bytes()[end] == b'"'
    {
        return Some(std::borrow::Cow::Borrowed(&rest[..end]));
    }
    line_type(text)
}

/// Whether an `assistant` line may hold a tool call: a block's `"type":"tool_use"` names the
/// word as a JSON string of its own, `"tool_use"`, or spells it with a `\u` escape (text that
/// mentions it has its quotes escaped, `\"tool_use\"`, and does not count). Lines of text and
/// thinking, most of them, need no parse to know they call nothing.
pub fn may_call_tools(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find(bytes, br#""tool_use""#).is_some()
        || memchr::memmem::find(bytes, br"\u").is_some()
}

/// Parse one line of stream-json; `None` if it is not a JSON object with a known `type`.
pub fn parse_line(text: &str) -> Option<Line> {
    let text = text.trim();
    if !text.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    Some(match (v["type"].as_str()?, v["subtype"].as_str()) {
        ("system", Some("init")) => Line::Init {
            session_id: string(&v["session_id"])?,
            model: string(&v["model"]),
            cwd: string(&v["cwd"]),
        },
        ("system", Some("permission_denied")) => Line::PermissionDenied {
            tool: string(&v["tool_name"]).unwrap_or_default(),
            message: string(&v["message"]).unwrap_or_default(),
        },
        ("system", Some("api_retry")) => Line::ApiRetry {
            message: string(&v["error"])
                .or_else(|| string(&v["message"]))
                .unwrap_or_else(|| "API retry".into()),
        },
        ("assistant", _) => Line::Assistant {
            blocks: blocks(&v["message"]["content"]),
            usage: Usage::from_value(&v["message"]["usage"]),
        },
        ("user", _) => Line::User {
            blocks: blocks(&v["message"]["content"]),
        },
        ("result", _) => Line::Result(Outcome {
            subtype: string(&v["subtype"]).unwrap_or_default(),
            is_error: v["is_error"].as_bool().unwrap_or(false),
            terminal_reason: string(&v["terminal_reason"]),
            num_turns: v["num_turns"].as_u64().unwrap_or(0),
            total_cost_usd: v["total_cost_usd"].as_f64().unwrap_or(0.0),
            duration_ms: v["duration_ms"].as_u64().unwrap_or(0),
            session_id: string(&v["session_id"]),
            result: string(&v["result"]),
            usage: Usage::from_value(&v["usage"]),
            permission_denials: v["permission_denials"].as_array().map_or(0, Vec::len),
        }),
        _ => Line::Other,
    })
}

/// What a transcript entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Prompt,
    Answer,
    Thinking,
    ToolCall,
    ToolResult,
    Error,
    System,
    /// A tool call waiting for a person (a `permission_request` marker).
    PermissionRequest,
    /// How a permission request, or a call settled without asking, was decided.
    PermissionDecision,
}

/// One entry of a run's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// The event it came from.
    pub sequence: u64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    /// The permission marker itself (request id, command, diff, decision, who decided, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Value>,
}

/// One turn's cost from the CLI's `total_cost_usd`, which after `--resume` is the session's
/// running total: what it adds to `before`, the session's total after the previous turn (none
/// for a session's first turn; a total below it means the CLI counted afresh).
pub fn turn_cost(total: f64, before: Option<f64>) -> f64 {
    match before {
        Some(b) if total >= b => total - b,
        _ => total,
    }
}

/// What a run amounts to, from its Claude output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Sum of `num_turns` over the invocations' results.
    pub turns: u64,
    /// Number of `result` lines (CLI invocations that finished).
    pub invocations: u64,
    pub usage: Usage,
    pub cost_usd: f64,
    /// Files Claude wrote or edited (from `Write`, `Edit`, `MultiEdit`, `NotebookEdit` inputs).
    pub files_written: BTreeSet<String>,
    pub last_outcome: Option<Outcome>,
    pub permission_denials: u64,
}

/// A run's transcript, built event by event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub entries: Vec<Entry>,
    pub summary: Summary,
    /// Each finished turn's figures (its `turn_finished` marker), for the UI's turn headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<TurnFigures>,
    /// A `turn_started` marker came and its child's `started` marker has not.
    #[serde(skip)]
    turn_open: bool,
    /// Each session's total cost so far (the last `total_cost_usd` of its results).
    #[serde(skip)]
    session_costs: BTreeMap<String, f64>,
}

/// A finished turn: the sequence of its `turn_finished` marker and the marker's fields
/// (`turn`, `outcome`, `durationMs`, `usage`, `costUsd`, …, camelCase as in the marker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnFigures {
    pub sequence: u64,
    #[serde(flatten)]
    pub marker: crate::wire::TurnFinished,
}

fn entry(kind: EntryKind, sequence: u64, text: impl Into<String>) -> Entry {
    Entry {
        kind,
        sequence,
        text: text.into(),
        tool: None,
        tool_use_id: None,
        input: None,
        is_error: false,
        permission: None,
    }
}

/// A line saying how a permission was decided, from a `permission_decision` marker.
pub fn decision_text(m: &Value) -> String {
    let s = |k: &str| m[k].as_str().unwrap_or_default();
    let (by, message, rule) = (s("by"), s("message"), s("rule"));
    match (s("decision"), by) {
        ("allow", "rule") => format!("allowed by the rule {rule} given earlier in the run"),
        ("allow", _) => format!("allowed once by {by}"),
        ("allow_run", _) => format!("allowed by {by} for the rest of the run: {rule}"),
        ("deny", "policy") => format!("refused: {message}"),
        ("deny", _) => format!("denied by {by}: {message}"),
        ("timeout", _) => format!("denied: {message}"),
        ("cancelled", _) => format!("cancelled: {message}"),
        (other, _) => format!("{other} by {by}"),
    }
}

/// The file a tool call writes or edits (`Write`, `Edit`, `MultiEdit`, `NotebookEdit`), if any.
pub fn written_file<'a>(tool: &str, input: &'a Value) -> Option<&'a str> {
    if !matches!(tool, "Write" | "Edit" | "MultiEdit" | "NotebookEdit") {
        return None;
    }
    input["file_path"]
        .as_str()
        .or_else(|| input["notebook_path"].as_str())
}

/// The prompt in a `started` marker's argv: the argument after `-p`/`--print`, if not a flag.
pub fn prompt_from_argv(argv: &[String]) -> Option<String> {
    let i = argv.iter().position(|a| a == "-p" || a == "--print")?;
    argv.get(i + 1).filter(|a| !a.starts_with("--")).cloned()
}

impl Transcript {
    /// Build from a run's stored events, in sequence order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut t = Self::default();
        for e in events {
            t.push_event(e);
        }
        t
    }

    /// Add one event: markers carrying prompts, stdout stream-json lines, runner errors.
    pub fn push_event(&mut self, e: &Event) {
        match e.kind {
            EventKind::Stdout => {
                if let Some(text) = e.data.as_str() {
                    self.push_line(e.sequence, text);
                }
            }
            EventKind::Error => self.entries.push(Entry {
                is_error: true,
                ..entry(
                    EntryKind::Error,
                    e.sequence,
                    e.data.as_str().unwrap_or_default(),
                )
            }),
            EventKind::Marker => match e.data["event"].as_str() {
                // A runner that brackets turns says the prompt in `turn_started`, before the
                // child's `started`; older runs have only the argv.
                Some("started") if !std::mem::take(&mut self.turn_open) => {
                    let argv: Vec<String> =
                        serde_json::from_value(e.data["command"].clone()).unwrap_or_default();
                    if let Some(p) = prompt_from_argv(&argv) {
                        self.entries.push(entry(EntryKind::Prompt, e.sequence, p));
                    }
                }
                Some("turn_finished") => {
                    if let Ok(marker) = serde_json::from_value(e.data.clone()) {
                        self.turns.push(TurnFigures {
                            sequence: e.sequence,
                            marker,
                        });
                    }
                }
                Some("turn_started") => {
                    self.turn_open = true;
                    if let Some(p) = e.data["prompt"].as_str() {
                        self.entries.push(entry(EntryKind::Prompt, e.sequence, p));
                    }
                }
                Some(kind @ ("permission_request" | "permission_decision")) => {
                    let tool = e.data["tool"].as_str().unwrap_or_default().to_string();
                    let (kind, text) = if kind == "permission_request" {
                        let what = e.data["command"]
                            .as_str()
                            .or_else(|| e.data["input"]["file_path"].as_str())
                            .map_or_else(|| tool.clone(), |w| format!("{tool}: {w}"));
                        (EntryKind::PermissionRequest, what)
                    } else {
                        (EntryKind::PermissionDecision, decision_text(&e.data))
                    };
                    self.entries.push(Entry {
                        tool: Some(tool),
                        tool_use_id: e.data["toolUseId"].as_str().map(String::from),
                        is_error: matches!(
                            e.data["decision"].as_str(),
                            Some("deny" | "timeout" | "cancelled")
                        ),
                        permission: Some(e.data.clone()),
                        ..entry(kind, e.sequence, text)
                    });
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Add one stdout line (ignored unless it is stream-json).
    pub fn push_line(&mut self, sequence: u64, text: &str) {
        let Some(line) = parse_line(text) else { return };
        let s = &mut self.summary;
        match line {
            Line::Init {
                session_id, model, ..
            } => {
                s.session_id = Some(session_id);
                if model.is_some() {
                    s.model = model;
                }
            }
            Line::Assistant { blocks, .. } => {
                for b in blocks {
                    self.entries.push(match b {
                        Block::Text(t) => entry(EntryKind::Answer, sequence, t),
                        Block::Thinking(t) => entry(EntryKind::Thinking, sequence, t),
                        Block::ToolUse { id, name, input } => {
                            if let Some(p) = written_file(&name, &input) {
                                self.summary.files_written.insert(p.to_string());
                            }
                            Entry {
                                tool: Some(name.clone()),
                                tool_use_id: Some(id),
                                input: Some(input),
                                ..entry(EntryKind::ToolCall, sequence, name)
                            }
                        }
                        Block::ToolResult { .. } => continue,
                    });
                }
            }
            Line::User { blocks } => {
                for b in blocks {
                    match b {
                        Block::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let tool = self
                                .entries
                                .iter()
                                .rev()
                                .find(|e| {
                                    e.tool_use_id.as_deref() == Some(&tool_use_id)
                                        && e.kind == EntryKind::ToolCall
                                })
                                .and_then(|e| e.tool.clone());
                            self.entries.push(Entry {
                                tool,
                                tool_use_id: Some(tool_use_id),
                                is_error,
                                ..entry(EntryKind::ToolResult, sequence, content)
                            });
                        }
                        // Text in a user message mid-run is the CLI speaking (e.g. an interrupt).
                        Block::Text(t) => self.entries.push(entry(EntryKind::System, sequence, t)),
                        _ => {}
                    }
                }
            }
            Line::PermissionDenied { tool, message } => self.entries.push(Entry {
                tool: Some(tool.clone()),
                is_error: true,
                ..entry(
                    EntryKind::Error,
                    sequence,
                    format!("permission denied for {tool}: {message}"),
                )
            }),
            Line::ApiRetry { message } => {
                self.entries
                    .push(entry(EntryKind::System, sequence, message))
            }
            Line::Result(outcome) => {
                let s = &mut self.summary;
                s.turns = s.turns.saturating_add(outcome.num_turns);
                s.invocations = s.invocations.saturating_add(1);
                let total = outcome.total_cost_usd;
                s.cost_usd += match &outcome.session_id {
                    Some(id) => turn_cost(total, self.session_costs.insert(id.clone(), total)),
                    None => total,
                };
                s.usage.add(&outcome.usage);
                s.permission_denials = s
                    .permission_denials
                    .saturating_add(outcome.permission_denials as u64);
                if s.session_id.is_none() {
                    s.session_id = outcome.session_id.clone();
                }
                if outcome.failed() {
                    let why = outcome.result.clone().unwrap_or_else(|| {
                        format!(
                            "turn ended: {}",
                            outcome
                                .terminal_reason
                                .as_deref()
                                .unwrap_or(&outcome.subtype)
                        )
                    });
                    self.entries.push(Entry {
                        is_error: true,
                        ..entry(EntryKind::Error, sequence, why)
                    });
                }
                s.last_outcome = Some(outcome);
            }
            Line::Other => {}
        }
    }

    /// The conversation as Markdown (tool inputs and results in fenced blocks).
    pub fn to_markdown(&self, title: &str) -> String {
        let fence = |text: &str| {
            let ticks = "`".repeat(longest_backtick_run(text).max(2) + 1);
            format!("{ticks}\n{text}\n{ticks}\n")
        };
        let mut out = format!("# {title}\n\n");
        let s = &self.summary;
        if let Some(id) = &s.session_id {
            out.push_str(&format!("- session: `{id}`\n"));
        }
        if let Some(m) = &s.model {
            out.push_str(&format!("- model: `{m}`\n"));
        }
        out.push_str(&format!(
            "- turns: {}, cost: ${:.4}, tokens: {} in / {} out\n\n",
            s.turns, s.cost_usd, s.usage.input_tokens, s.usage.output_tokens
        ));
        for e in &self.entries {
            match e.kind {
                EntryKind::Prompt => out.push_str(&format!("## Prompt\n\n{}\n\n", e.text)),
                EntryKind::Answer => out.push_str(&format!("{}\n\n", e.text)),
                EntryKind::Thinking => out.push_str(&format!(
                    "> *thinking:* {}\n\n",
                    e.text.replace('\n', "\n> ")
                )),
                EntryKind::ToolCall => {
                    let input = e
                        .input
                        .as_ref()
                        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                        .unwrap_or_default();
                    out.push_str(&format!("**Tool call: {}**\n\n{}\n", e.text, fence(&input)));
                }
                EntryKind::ToolResult => {
                    let label = if e.is_error {
                        "Tool error"
                    } else {
                        "Tool result"
                    };
                    out.push_str(&format!("**{label}**\n\n{}\n", fence(&e.text)));
                }
                EntryKind::Error => out.push_str(&format!("**Error:** {}\n\n", e.text)),
                EntryKind::System => out.push_str(&format!("*{}*\n\n", e.text)),
                EntryKind::PermissionRequest => {
                    out.push_str(&format!("**Permission asked:** {}\n\n", e.text));
                    if let Some(diff) = e.permission.as_ref().and_then(|p| p["diff"].as_str()) {
                        out.push_str(&fence(diff));
                        out.push('\n');
                    }
                }
                EntryKind::PermissionDecision => {
                    out.push_str(&format!("**Permission:** {}\n\n", e.text))
                }
            }
        }
        out
    }
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLES: &str = include_str!("../tests/data/claude-stream-json-samples.jsonl");

    fn sample(pred: impl Fn(&Value) -> bool) -> String {
        SAMPLES
            .lines()
            .find(|l| pred(&serde_json::from_str::<Value>(l).unwrap()))
            .expect("sample present")
            .to_string()
    }

    #[test]
    fn every_sample_line_parses() {
        for l in SAMPLES.lines() {
            assert!(
                parse_line(l).is_some(),
                "unparsed: {}",
                &l[..l.len().min(120)]
            );
        }
    }

    #[test]
    fn init_and_results() {
        let init = parse_line(&sample(|v| v["subtype"] == "init")).unwrap();
        assert!(matches!(init, Line::Init { ref session_id, ref model, .. }
            if session_id == "ea70748c-227f-4a2f-be89-7d657b290db7" && model.as_deref() == Some("claude-opus-5-5")));

        let Some(Line::Result(ok)) = parse_line(&sample(|v| v["terminal_reason"] == "completed"))
        else {
            panic!()
        };
        assert!(!ok.failed());
        assert_eq!(
            (ok.num_turns, ok.result.as_deref()),
            (1, Some("ECHO(1 msgs): Say hello"))
        );

        let Some(Line::Result(api)) = parse_line(&sample(|v| v["terminal_reason"] == "api_error"))
        else {
            panic!()
        };
        assert!(
            api.failed(),
            "an API error is a failure even with subtype success"
        );
        let Some(Line::Result(aborted)) =
            parse_line(&sample(|v| v["terminal_reason"] == "aborted_streaming"))
        else {
            panic!()
        };
        assert!(aborted.failed() && aborted.aborted());
    }

    #[test]
    fn the_leading_type_is_read_from_the_start_or_else_from_the_whole_line() {
        for (line, want) in [
            (r#"{"type":"assistant","message":{}}"#, Some("assistant")),
            (r#"  {"type":"user"}"#, Some("user")),
            (r#"{ "type": "result" }"#, Some("result")),
            (r#"{"subtype":"init","type":"system"}"#, Some("system")),
            (r#"{"type":"sys\u0074em"}"#, Some("system")),
            (r#"{"type":1}"#, None),
            ("plain text", None),
        ] {
            assert_eq!(leading_type(line).as_deref(), want, "{line}");
        }
        assert!(may_call_tools(
            r#"{"type":"assistant","message":{"content":[{"type": "tool_use","id":"t"}]}}"#
        ));
        assert!(may_call_tools(
            r#"{"type":"assistant","message":{"content":[{"type":"tool\u005fuse","id":"t"}]}}"#
        ));
        for text in ["a tool_use", r#"the \"tool_use\" block"#] {
            let line = serde_json::json!({"type": "assistant", "message": {"content": [
                {"type": "text", "text": text}
            ]}});
            assert!(!may_call_tools(&line.to_string()), "{line}");
        }
    }

    #[test]
    fn not_stream_json_is_ignored() {
        assert_eq!(
            line_type(r#" {"a":{"type":"x"},"type":"result","b":[1]}"#).as_deref(),
            Some("result")
        );
        assert_eq!(line_type(r#"{"type":"a\"b"}"#).as_deref(), Some("a\"b"));
        assert_eq!(line_type(r#"{"no_type":1}"#), None);
        assert_eq!(line_type(r#"{"type":1}"#), None);
        assert_eq!(line_type("{broken"), None);
        assert_eq!(parse_line("plain text"), None);
        assert_eq!(parse_line("{broken"), None);
        assert_eq!(parse_line(r#"{"no_type": 1}"#), None);
    }

    fn ev(sequence: u64, kind: EventKind, data: Value) -> Event {
        Event {
            sequence,
            kind,
            data,
            ts: 0,
        }
    }

    #[test]
    fn transcript_of_a_tool_call_turn() {
        let tool_use = sample(|v| v["message"]["content"][0]["type"] == "tool_use");
        let tool_result = sample(|v| v["message"]["content"][0]["type"] == "tool_result");
        let answer = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"done"}],"usage":{"input_tokens":5,"output_tokens":2}}}"#;
        let write = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"Write","input":{"file_path":"/w/a.txt","content":"x"}}]}}"#;
        let result = sample(|v| v["terminal_reason"] == "completed");
        let events = vec![
            ev(
                1,
                EventKind::Marker,
                json!({"event": "started", "command": ["claude", "-p", "do it", "--verbose"]}),
            ),
            ev(
                2,
                EventKind::Stdout,
                json!(sample(|v| v["subtype"] == "init")),
            ),
            ev(3, EventKind::Stdout, json!(tool_use)),
            ev(4, EventKind::Stdout, json!(tool_result)),
            ev(5, EventKind::Stdout, json!(write)),
            ev(6, EventKind::Stdout, json!(answer)),
            ev(7, EventKind::Stderr, json!("noise")),
            ev(8, EventKind::Stdout, json!(result)),
            ev(
                9,
                EventKind::Marker,
                json!({"event": "turn_started", "turn": 2, "prompt": "again"}),
            ),
            ev(
                10,
                EventKind::Marker,
                json!({"event": "started", "command": ["claude", "-p", "again", "--resume", "s"]}),
            ),
        ];
        let t = Transcript::from_events(&events);
        let kinds: Vec<EntryKind> = t.entries.iter().map(|e| e.kind).collect();
        use EntryKind::*;
        assert_eq!(
            kinds,
            vec![Prompt, ToolCall, ToolResult, ToolCall, Answer, Prompt]
        );
        assert_eq!(t.entries[0].text, "do it");
        assert_eq!(t.entries[1].tool.as_deref(), Some("Bash"));
        assert_eq!(
            t.entries[1].input.as_ref().unwrap()["command"],
            "echo hello > out.txt && cat out.txt"
        );
        assert_eq!(
            (t.entries[2].text.as_str(), t.entries[2].tool.as_deref()),
            ("hello", Some("Bash"))
        );
        assert_eq!(
            t.summary.files_written.iter().collect::<Vec<_>>(),
            vec!["/w/a.txt"]
        );
        assert_eq!(t.summary.turns, 1);
        assert!((t.summary.cost_usd - 0.050348).abs() < 1e-9);
        assert_eq!(t.summary.model.as_deref(), Some("claude-opus-5-5"));
        let md = t.to_markdown("run r_1");
        assert!(
            md.contains("## Prompt\n\ndo it")
                && md.contains("**Tool call: Bash**")
                && md.contains("done")
        );
    }

    /// After `--resume` the CLI's `total_cost_usd` is the session's running total: the
    /// summary counts each session once, at its last total.
    #[test]
    fn a_resumed_sessions_cost_is_its_last_total() {
        let result = |session: &str, total: f64| {
            json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 1,
                "session_id": session, "total_cost_usd": total})
            .to_string()
        };
        let mut t = Transcript::default();
        for (i, (session, total)) in [("s1", 0.1), ("s1", 0.25), ("s1", 0.4), ("s2", 0.05)]
            .into_iter()
            .enumerate()
        {
            t.push_line(i as u64 + 1, &result(session, total));
        }
        assert!(
            (t.summary.cost_usd - 0.45).abs() < 1e-9,
            "{}",
            t.summary.cost_usd
        );
        assert_eq!(t.summary.invocations, 4);
        for (total, before, want) in [
            (0.3, None, 0.3),
            (0.3, Some(0.1), 0.2),
            (0.05, Some(0.1), 0.05),
        ] {
            assert!((turn_cost(total, before) - want).abs() < 1e-12);
        }
    }

    #[test]
    fn turns_keep_their_figures_from_turn_finished() {
        let finished = json!({"event": "turn_finished", "turn": 1, "outcome": "success", "exitCode": 0,
            "numTurns": 2, "costUsd": 0.05, "durationMs": 1840,
            "usage": {"input_tokens": 25203, "output_tokens": 49, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}});
        let events = vec![
            ev(
                1,
                EventKind::Marker,
                json!({"event": "turn_started", "turn": 1, "prompt": "go"}),
            ),
            ev(2, EventKind::Marker, finished),
            // A malformed marker is skipped, not fatal.
            ev(
                3,
                EventKind::Marker,
                json!({"event": "turn_finished", "turn": "x"}),
            ),
        ];
        let t = Transcript::from_events(&events);
        assert_eq!(t.turns.len(), 1);
        assert_eq!((t.turns[0].sequence, t.turns[0].marker.turn), (2, 1));
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["turns"][0]["sequence"], 2);
        assert_eq!(v["turns"][0]["durationMs"], 1840);
        assert_eq!(v["turns"][0]["usage"]["output_tokens"], 49);
        assert_eq!(
            serde_json::from_value::<Transcript>(v).unwrap().turns,
            t.turns
        );
        // No turns: the field is left out, as before.
        let none = serde_json::to_value(Transcript::default()).unwrap();
        assert!(none.get("turns").is_none());
    }

    #[test]
    fn failed_turns_and_denials_become_errors() {
        let mut t = Transcript::default();
        t.push_line(1, &sample(|v| v["subtype"] == "permission_denied"));
        t.push_line(2, &sample(|v| v["terminal_reason"] == "api_error"));
        assert_eq!(t.entries.len(), 2);
        assert!(
            t.entries
                .iter()
                .all(|e| e.kind == EntryKind::Error && e.is_error)
        );
        assert!(t.entries[1].text.starts_with("API Error: 529"));
    }

    #[test]
    fn permission_markers_become_entries() {
        let events = vec![
            ev(
                1,
                EventKind::Marker,
                json!({"event": "permission_request", "requestId": "pr_1", "tool": "Bash",
                       "toolUseId": "toolu_1", "input": {"command": "touch a"}, "command": "touch a",
                       "cwd": "/w", "expiresAt": 5}),
            ),
            ev(
                2,
                EventKind::Marker,
                json!({"event": "permission_decision", "requestId": "pr_1", "decision": "allow_run",
                       "tool": "Bash", "toolUseId": "toolu_1", "rule": "Bash(touch a)", "by": "admin",
                       "commandId": "c1"}),
            ),
            ev(
                3,
                EventKind::Marker,
                json!({"event": "permission_request", "requestId": "pr_2", "tool": "Edit",
                       "input": {"file_path": "/w/a.txt"}, "diff": "--- a/a.txt\n+++ b/a.txt\n",
                       "expiresAt": 5}),
            ),
            ev(
                4,
                EventKind::Marker,
                json!({"event": "permission_decision", "requestId": "pr_2", "decision": "deny",
                       "tool": "Edit", "message": "not that file", "by": "admin"}),
            ),
        ];
        let t = Transcript::from_events(&events);
        use EntryKind::*;
        let got: Vec<(EntryKind, &str, bool)> = t
            .entries
            .iter()
            .map(|e| (e.kind, e.text.as_str(), e.is_error))
            .collect();
        assert_eq!(
            got,
            vec![
                (PermissionRequest, "Bash: touch a", false),
                (
                    PermissionDecision,
                    "allowed by admin for the rest of the run: Bash(touch a)",
                    false
                ),
                (PermissionRequest, "Edit: /w/a.txt", false),
                (PermissionDecision, "denied by admin: not that file", true),
            ]
        );
        assert_eq!(
            t.entries[0].permission.as_ref().unwrap()["requestId"],
            "pr_1"
        );
        assert_eq!(t.entries[0].tool_use_id.as_deref(), Some("toolu_1"));
        let md = t.to_markdown("x");
        assert!(
            md.contains("**Permission asked:** Edit: /w/a.txt\n\n```\n--- a/a.txt"),
            "{md}"
        );
        let json = serde_json::to_value(&t.entries[1]).unwrap();
        assert_eq!(json["kind"], "permission_decision");
    }

    #[test]
    fn markdown_fences_survive_backticks() {
        let mut t = Transcript::default();
        t.entries.push(Entry {
            kind: EntryKind::ToolResult,
            ..entry(EntryKind::ToolResult, 1, "```\ninner\n```")
        });
        let md = t.to_markdown("x");
        assert!(md.contains("````\n```\ninner\n```\n````"), "{md}");
    }
}
