//! The command line of `claude-runner`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "claude-runner",
    version,
    about = "Run Claude Code, redact secrets from its output, and stream it to a gateway",
    long_about = "Run Claude Code, redact secrets from everything it prints, and stream stdout, \
        stderr and lifecycle markers as HMAC-signed events to a gateway.\n\n\
        Settings come from flags, then the environment, then .env in the working directory (or \
        --env-file), then built-in defaults; `claude-runner info` shows each one and its source."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every subcommand; each has an environment variable of the same meaning.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Settings (every subcommand; also from the environment or .env)")]
pub struct SettingFlags {
    /// Read settings from this file instead of ./.env
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Gateway base URL [env: GATEWAY_URL] [default: https://localhost:3100]
    #[arg(long, global = true, value_name = "URL")]
    pub gateway_url: Option<String>,
    /// PEM file of the CA that signed the gateway's certificate [env: GATEWAY_CA_FILE]
    #[arg(long, global = true, value_name = "PATH")]
    pub gateway_ca_file: Option<PathBuf>,
    /// Pin the gateway's certificate (or its CA) by SHA-256 fingerprint [env: GATEWAY_CERT_SHA256]
    #[arg(long, global = true, value_name = "HEX")]
    pub gateway_cert_sha256: Option<String>,
    /// Accept any certificate from the gateway (insecure; prefer a CA file or a pin) [env: ALLOW_SELF_SIGNED]
    #[arg(long, global = true)]
    pub allow_self_signed: bool,
    /// The Claude Code command to run [env: CLAUDE_COMMAND] [default: claude]
    #[arg(long, global = true, value_name = "CMD")]
    pub claude_command: Option<String>,
    /// Where runs keep their logs [env: RUNNER_DATA_DIR] [default: .data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Claude's --model [env: CLAUDE_MODEL] [default: the CLI's own]
    #[arg(long, global = true, value_name = "MODEL")]
    pub model: Option<String>,
    /// Claude's --permission-mode [env: CLAUDE_PERMISSION_MODE] [default: the CLI's own]
    #[arg(long, global = true, value_name = "MODE")]
    pub permission_mode: Option<String>,
    /// Tools Claude may use, comma-separated [env: CLAUDE_ALLOWED_TOOLS] [default: Read,Write,Edit,Bash,Glob,Grep]
    #[arg(long, global = true, value_name = "TOOLS")]
    pub allowed_tools: Option<String>,
    /// Tools Claude may never use, comma-separated [env: CLAUDE_DISALLOWED_TOOLS]
    #[arg(long, global = true, value_name = "TOOLS")]
    pub disallowed_tools: Option<String>,
    /// Tools whose calls a person approves from the gateway, comma-separated; `*` for every
    /// tool neither allowed nor disallowed [env: CLAUDE_ASK_TOOLS] [default: none]
    #[arg(long, global = true, value_name = "TOOLS")]
    pub ask_tools: Option<String>,
    /// Deny a call nobody approved within this long [env: CLAUDE_ASK_TIMEOUT] [default: 10m]
    #[arg(long, global = true, value_name = "DURATION")]
    pub ask_timeout: Option<String>,
    /// Models a follow-up prompt may switch to, comma-separated; `*` for any [env: CLAUDE_ALLOWED_MODELS] [default: none]
    #[arg(long, global = true, value_name = "MODELS")]
    pub allowed_models: Option<String>,
    /// Permission modes a follow-up prompt may switch to [env: CLAUDE_ALLOWED_PERMISSION_MODES] [default: default,acceptEdits,plan]
    #[arg(long, global = true, value_name = "MODES")]
    pub allowed_permission_modes: Option<String>,
    /// End a `start --session` nobody prompts for this long [env: SESSION_IDLE_TIMEOUT] [default: 20m]
    #[arg(long, global = true, value_name = "DURATION")]
    pub session_idle_timeout: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Claude Code headless and stream its output to the gateway
    Start(StartArgs),
    /// Print every setting, its effective value (secrets masked) and where it came from
    Info,
    /// Check DNS, TCP, TLS, clock skew and the HMAC secret against the gateway
    TestConnection,
    /// Host runs: enroll once, then take runs queued at the gateway (from the web UI or the
    /// API) and run each as `start` would, within the ceilings set here
    Agent(AgentArgs),
    /// Deliver what a run left undelivered (after a crash or an outage); needs no token
    Flush(FlushArgs),
    /// Open a tmate session on this machine and publish its links on a run
    Assist(AssistArgs),
    /// The MCP server Claude Code starts to ask about tool calls (started by `start`, not by hand)
    #[command(hide = true)]
    McpPermission(McpPermissionArgs),
    /// Internal: the process `start` leaves behind to kill the run's processes if it dies
    #[command(hide = true)]
    Reaper(ReaperArgs),
}

#[derive(Debug, Clone, Args)]
pub struct McpPermissionArgs {
    /// The runner's permission socket; the token comes in CLAUDE_RUNNER_PERMISSION_TOKEN
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ReaperArgs {
    /// The environment cookie that marks the run's processes
    #[arg(long)]
    pub cookie: String,
    /// The run's cgroup directory, if it has one
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct FlushArgs {
    /// The run whose spool to deliver (under RUNNER_DATA_DIR/runs/)
    #[arg(long, value_name = "ID")]
    pub run_id: String,
    /// End the run: if its runner died, with a finished marker (exit code 125); if the gateway
    /// lost events it had acknowledged, marked incomplete
    #[arg(long)]
    pub close: bool,
    /// Give up after this many seconds [default: keep trying until delivered or Ctrl-C]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Ceilings: runs use at most the tools of CLAUDE_ALLOWED_TOOLS (--allowed-tools) \
    and the permission modes of CLAUDE_ALLOWED_PERMISSION_MODES; a run's working directory is \
    one of the --root directories (or below one), else a fresh workspace in \
    RUNNER_DATA_DIR/workspaces/. A run request can narrow these, never widen them.\n\n\
    The credential is kept in RUNNER_DATA_DIR/agent.json (0600); one agent per data directory."
)]
pub struct AgentArgs {
    /// One-time enrollment token from the web UI's Agents page or `gateway enroll`; needed the
    /// first time only [env: AGENT_ENROLL_TOKEN]
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true)]
    pub enroll_token: Option<String>,
    /// This agent's name at the gateway, given at enrollment [env: AGENT_NAME] [default: the host name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A label runs can target, key=value (repeatable), e.g. --label os=linux
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// How many runs at once
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub max_runs: u32,
    /// A directory runs may work in (repeatable); without one, runs get fresh workspaces only
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    /// Ask the agent running on this data directory to drain: finish its runs, take no new
    /// ones, exit (as SIGTERM does)
    #[arg(long)]
    pub drain: bool,
    /// Exit after this long without a run, e.g. 20m (for autoscaled containers)
    #[arg(long, value_name = "DURATION")]
    pub exit_when_idle: Option<String>,
    /// Seconds between heartbeats
    #[arg(long, value_name = "SECS", default_value_t = 10, hide = true)]
    pub heartbeat_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// The prompt for Claude Code
    #[arg(long = "cmd", value_name = "PROMPT", allow_hyphen_values = true)]
    pub prompt: String,
    /// Attach to a run created at the gateway (omit to create one) [env: RUN_ID]
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// The run's token, shown once when it was created [env: RUN_TOKEN]
    #[arg(
        long,
        value_name = "TOKEN",
        requires = "run_id",
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// Working directory for Claude Code [default: the current directory]
    #[arg(long, value_name = "DIR", conflicts_with = "workspace")]
    pub cwd: Option<PathBuf>,
    /// `auto`: work in a fresh RUNNER_DATA_DIR/workspaces/<run-id>/ (removed when the run is
    /// deleted at the gateway)
    #[arg(long, value_name = "auto", value_parser = ["auto"])]
    pub workspace: Option<String>,
    /// Stay after the first turn and take follow-up prompts from the gateway, each resuming the
    /// same Claude session, until end_session, stop or SESSION_IDLE_TIMEOUT
    #[arg(long)]
    pub session: bool,
    /// Work on the git branch claude/<run-id> and commit a checkpoint of the working tree when a
    /// turn is interrupted and when the run ends (an auto workspace is `git init`ed)
    #[arg(long)]
    pub git_branch: bool,
    /// A name for a run this command creates
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Do not echo the (redacted) output to this terminal
    #[arg(long, short, conflicts_with = "raw")]
    pub quiet: bool,
    /// Resume this Claude session in the first turn (its transcript restored by `agent`)
    #[arg(long, value_name = "SESSION", hide = true)]
    pub resume: Option<String>,
    /// At the end, upload the session archive (session-archive.json) another agent can continue
    /// the session from (`agent` sets it)
    #[arg(long, hide = true)]
    pub archive: bool,
    /// Echo the (redacted) output exactly as the child printed it: Claude's stream-json as JSON
    /// lines, no markers. Without it Claude's output reads as who said what, a tool call per
    /// line, and the run's markers as short labelled lines
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AssistArgs {
    /// The run to publish the links on [env: RUN_ID]
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// The run's token [env: RUN_TOKEN]
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true)]
    pub token: Option<String>,
    /// Close the session after this long, e.g. 30m, 2h [env: ASSIST_EXPIRES] [default: 2h]
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_prompts_may_start_with_a_hyphen() {
        // Older run tokens are plain base64url, one in 64 of which starts with '-'.
        let cli = Cli::try_parse_from([
            "claude-runner",
            "start",
            "--run-id",
            "r_x",
            "--token",
            "-aB3",
            "--cmd",
            "-v: explain",
        ])
        .expect("parses");
        let Command::Start(args) = cli.command else {
            panic!("start")
        };
        assert_eq!(args.token.as_deref(), Some("-aB3"));
        assert_eq!(args.prompt, "-v: explain");
    }
}
