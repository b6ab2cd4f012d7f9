//! The agent a run drives, behind one seam: how to invoke it for a turn and what its output says.
//!
//! Only Claude Code today. Another CLI agent would be a new [`RunnerType`] variant with its own
//! argv and its own line reader (a sibling of `common::claude`); the transport (pipes, redaction,
//! sequencer, spool, sender) and the session loop in `session.rs` do not change.

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::claude::{self, Block, Line, Outcome};
use common::wire::TurnFinished;

/// Shipped defaults of the Claude settings (`config/claude.defaults`, `.env` format).
pub const DEFAULTS: &str = include_str!("../../config/claude.defaults");

/// Most file names one turn reports in `filesWritten`.
const MAX_TURN_FILES: usize = 200;

/// How Claude Code is invoked, from the runner's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaudeOptions {
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    /// Tools whose calls a person decides (`CLAUDE_ASK_TOOLS`; `*` for every tool neither
    /// allowed nor refused). Named here, a tool is taken out of `--allowedTools`.
    pub ask_tools: Vec<String>,
}

/// What one turn sets beyond the runner's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnOptions {
    /// A model or permission mode a `prompt` command chose (within the runner's ceilings);
    /// the runner's own when `None`.
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    /// `--mcp-config` naming the run's permission-prompt server, when some tool asks.
    pub mcp_config: Option<PathBuf>,
}

/// The kinds of agent a runner can drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerType {
    /// Claude Code, headless: `claude -p <prompt> --output-format stream-json --verbose …`.
    Claude {
        /// `CLAUDE_COMMAND`, split on whitespace.
        command: Vec<String>,
        options: ClaudeOptions,
    },
}

impl RunnerType {
    /// The runner's settings for the agent.
    pub fn options(&self) -> &ClaudeOptions {
        match self {
            RunnerType::Claude { options, .. } => options,
        }
    }

    /// The model and permission mode a turn runs with.
    pub fn effective(&self, turn: &TurnOptions) -> (Option<String>, Option<String>) {
        match self {
            RunnerType::Claude { options, .. } => (
                turn.model.clone().or_else(|| options.model.clone()),
                turn.permission_mode
                    .clone()
                    .or_else(|| options.permission_mode.clone()),
            ),
        }
    }

    /// The argv of one turn. The prompt comes right after `-p`, before any variadic flag
    /// (`--allowedTools` would swallow a prompt that follows it).
    pub fn argv(&self, prompt: &str, resume: Option<&str>, turn: &TurnOptions) -> Vec<String> {
        let (model, permission_mode) = self.effective(turn);
        match self {
            RunnerType::Claude { command, options } => {
                let mut argv = command.clone();
                argv.extend([
                    "-p".into(),
                    prompt.to_string(),
                    "--output-format".into(),
                    "stream-json".into(),
                    "--verbose".into(),
                ]);
                if let Some(session) = resume {
                    argv.extend(["--resume".into(), session.to_string()]);
                }
                if let Some(m) = model {
                    argv.extend(["--model".into(), m]);
                }
                if let Some(p) = permission_mode {
                    argv.extend(["--permission-mode".into(), p]);
                }
                // A tool that asks must not also be allowed outright.
                let allowed: Vec<&str> = options
                    .allowed_tools
                    .iter()
                    .map(String::as_str)
                    .filter(|t| !options.ask_tools.iter().any(|a| a == t))
                    .collect();
                if !allowed.is_empty() {
                    argv.extend(["--allowedTools".into(), allowed.join(",")]);
                }
                if !options.disallowed_tools.is_empty() {
                    argv.extend([
                        "--disallowedTools".into(),
                        options.disallowed_tools.join(","),
                    ]);
                }
                if let Some(config) = &turn.mcp_config {
                    argv.extend([
                        "--mcp-config".into(),
                        config.display().to_string(),
                        "--permission-prompt-tool".into(),
                        crate::permission::PERMISSION_TOOL.into(),
                    ]);
                }
                argv
            }
        }
    }

    /// A reader for one turn's stdout.
    pub fn observer(&self) -> TurnObserver {
        TurnObserver::default()
    }
}

/// What one line told the runner that it must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting {
    /// The agent's session id (and model), from Claude's `system/init`.
    Session {
        session_id: String,
        model: Option<String>,
    },
}

/// Reads one turn's stdout lines as they come (already redacted) through `common::claude`.
#[derive(Debug, Default)]
pub struct TurnObserver {
    session_id: Option<String>,
    outcome: Option<Outcome>,
    files: BTreeSet<String>,
}

impl TurnObserver {
    /// Read one stdout line.
    pub fn observe(&mut self, line: &str) -> Option<Sighting> {
        // Only these kinds matter here; the others (tool results above all) are not built, nor
        // are assistant lines that call no tool (text, thinking).
        let kind = claude::leading_type(line);
        match kind.as_deref() {
            Some("system" | "result") => {}
            Some("assistant") if claude::may_call_tools(line) => {}
            _ => return None,
        }
        let parsed = claude::parse_line(line)?;
        // A line that gives `type` twice is named by its first above and parsed by its last:
        // such a line is not Claude's, and is read as nothing.
        let agrees = match &parsed {
            Line::Init { .. } | Line::PermissionDenied { .. } | Line::ApiRetry { .. } => {
                kind.as_deref() == Some("system")
            }
            Line::Assistant { .. } => kind.as_deref() == Some("assistant"),
            Line::Result(_) => kind.as_deref() == Some("result"),
            Line::User { .. } | Line::Other => false,
        };
        if !agrees {
            return None;
        }
        match parsed {
            Line::Init {
                session_id, model, ..
            } => {
                self.session_id = Some(session_id.clone());
                Some(Sighting::Session { session_id, model })
            }
            Line::Assistant { blocks, .. } => {
                for b in blocks {
                    if let Block::ToolUse { name, input, .. } = b
                        && let Some(p) = claude::written_file(&name, &input)
                        && self.files.len() < MAX_TURN_FILES
                    {
                        self.files.insert(p.to_string());
                    }
                }
                None
            }
            Line::Result(o) => {
                self.outcome = Some(o);
                None
            }
            _ => None,
        }
    }

    /// The session id seen in this turn, from `system/init` or the `result` line.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id
            .as_deref()
            .or_else(|| self.outcome.as_ref()?.session_id.as_deref())
    }

    /// How the turn ended. Without a `result` line (the CLI died, or a child that does not
    /// speak stream-json) the exit code decides, and a turn the runner interrupted is `aborted`.
    pub fn finish(self, turn: u64, exit_code: i32, interrupted: bool) -> TurnFinished {
        let session_id = self.session_id().map(String::from);
        let files_written = self.files.into_iter().collect();
        match self.outcome {
            Some(o) => TurnFinished {
                turn,
                outcome: if o.aborted() {
                    "aborted"
                } else if o.failed() {
                    "failed"
                } else {
                    "success"
                }
                .into(),
                exit_code,
                subtype: Some(o.subtype),
                terminal_reason: o.terminal_reason,
                is_error: o.is_error,
                num_turns: o.num_turns,
                // The session's running total until `session` subtracts what came before.
                cost_usd: o.total_cost_usd,
                session_cost_usd: Some(o.total_cost_usd),
                duration_ms: o.duration_ms,
                usage: Some(o.usage),
                session_id,
                files_written,
            },
            None => TurnFinished {
                turn,
                outcome: if interrupted {
                    "aborted"
                } else if exit_code == 0 {
                    "success"
                } else {
                    "failed"
                }
                .into(),
                exit_code,
                subtype: None,
                terminal_reason: None,
                is_error: false,
                num_turns: 0,
                cost_usd: 0.0,
                session_cost_usd: None,
                duration_ms: 0,
                usage: None,
                session_id,
                files_written,
            },
        }
    }
}

/// The exit code a run reports for its last turn: the CLI's code, but 1 when the turn failed
/// while the CLI exited 0 (an API error, a failed tool loop: Claude Code exits 0 for those).
pub fn run_exit_code(last: &TurnFinished) -> i32 {
    if last.outcome == "failed" && last.exit_code == 0 {
        1
    } else {
        last.exit_code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude(options: ClaudeOptions) -> RunnerType {
        RunnerType::Claude {
            command: vec!["claude".into()],
            options,
        }
    }

    #[test]
    fn the_prompt_comes_before_variadic_flags() {
        let argv = claude(ClaudeOptions {
            model: Some("opus".into()),
            permission_mode: Some("acceptEdits".into()),
            allowed_tools: vec!["Read".into(), "Bash".into()],
            disallowed_tools: vec!["WebFetch".into()],
            ask_tools: vec![],
        })
        .argv("--do it", Some("sess-1"), &TurnOptions::default());
        assert_eq!(
            argv,
            [
                "claude",
                "-p",
                "--do it",
                "--output-format",
                "stream-json",
                "--verbose",
                "--resume",
                "sess-1",
                "--model",
                "opus",
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Read,Bash",
                "--disallowedTools",
                "WebFetch"
            ]
        );
        let bare = claude(ClaudeOptions::default()).argv("hi", None, &TurnOptions::default());
        assert_eq!(bare.len(), 6);
    }

    #[test]
    fn asking_tools_leave_the_allowed_list_and_bring_the_prompt_tool() {
        let agent = claude(ClaudeOptions {
            model: Some("sonnet".into()),
            allowed_tools: vec!["Read".into(), "Bash".into(), "Bash(git diff:*)".into()],
            ask_tools: vec!["Bash".into()],
            ..Default::default()
        });
        let turn = TurnOptions {
            model: Some("opus".into()),
            permission_mode: Some("plan".into()),
            mcp_config: Some("/tmp/x/mcp.json".into()),
        };
        let argv = agent.argv("go", None, &turn);
        assert_eq!(
            argv[6..],
            [
                "--model",
                "opus",
                "--permission-mode",
                "plan",
                "--allowedTools",
                "Read,Bash(git diff:*)",
                "--mcp-config",
                "/tmp/x/mcp.json",
                "--permission-prompt-tool",
                "mcp__claude-runner__approve"
            ]
        );
        assert_eq!(
            agent.effective(&TurnOptions::default()),
            (Some("sonnet".into()), None)
        );
    }

    #[test]
    fn a_failed_turn_is_failed_even_when_the_cli_exits_0() {
        let mut o = TurnObserver::default();
        let init = r#"{"type":"system","subtype":"init","session_id":"s1","model":"m"}"#;
        assert_eq!(
            o.observe(init),
            Some(Sighting::Session {
                session_id: "s1".into(),
                model: Some("m".into())
            })
        );
        let write = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t","name":"Write","input":{"file_path":"/w/a.txt","content":"x"}}]}}"#;
        assert_eq!(o.observe(write), None);
        o.observe(r#"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","num_turns":1,"total_cost_usd":0.5,"session_id":"s1"}"#);
        let t = o.finish(2, 0, false);
        assert_eq!(
            (t.outcome.as_str(), t.num_turns, t.session_id.as_deref()),
            ("failed", 1, Some("s1"))
        );
        assert_eq!(t.files_written, ["/w/a.txt"]);
        assert_eq!(run_exit_code(&t), 1);

        let mut o = TurnObserver::default();
        o.observe(r#"{"type":"result","subtype":"error_during_execution","is_error":false,"terminal_reason":"aborted_streaming"}"#);
        let t = o.finish(1, 0, true);
        assert_eq!(t.outcome, "aborted");
        assert_eq!(run_exit_code(&t), 0, "an interrupt is not a failure");

        // Keys in another order are read all the same; a tool call quoted in a text block is
        // no tool call, and a line that gives its type twice is nobody's.
        let mut o = TurnObserver::default();
        let quoted = serde_json::json!({"type": "assistant", "message": {"content": [{
            "type": "text",
            "text": r#"{"type":"tool_use","name":"Write","input":{"file_path":"/w/q.rs"}}"#
        }]}});
        assert_eq!(o.observe(&quoted.to_string()), None);
        let twice = r#"{"type":"result","type":"system","subtype":"init","session_id":"x"}"#;
        assert_eq!(o.observe(twice), None);
        let edit = r#"{"message":{"content":[{"input":{"file_path":"/w/b.rs"},"name":"Edit","id":"t","type":"tool_use"}]},"type":"assistant"}"#;
        assert_eq!(o.observe(edit), None);
        let init = r#"{ "session_id": "s2", "type": "system", "subtype": "init" }"#;
        assert!(o.observe(init).is_some());
        let t = o.finish(1, 0, false);
        assert_eq!(t.files_written, ["/w/b.rs"]);
        assert_eq!(t.session_id.as_deref(), Some("s2"));

        let t = TurnObserver::default().finish(1, 3, false);
        assert_eq!((t.outcome.as_str(), run_exit_code(&t)), ("failed", 3));
        let t = TurnObserver::default().finish(1, 0, true);
        assert_eq!(t.outcome, "aborted");
    }
}
