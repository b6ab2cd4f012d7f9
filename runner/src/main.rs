//! `claude-runner`: parse the command line, run the subcommand, exit with its code.
//!
//! Exit codes (`exit.rs`): `start` exits 0 only when Claude's last turn succeeded, the run was
//! not stopped, and everything reached the gateway whole. Otherwise the first that applies:
//! 124 the run was stopped (a `stop` command, SIGINT/SIGTERM, the run deleted at the gateway);
//! the last turn's CLI exit code (128 + signal if a signal ended it; 1 when the turn failed while
//! the CLI exited 0; 126/127 when `CLAUDE_COMMAND` cannot be run or found); 123 the gateway holds
//! the run as incomplete; 122 events or artifacts are still undelivered (`flush` delivers them);
//! 121 output was dropped at the spool cap. 125 when the runner itself fails. `flush` exits 0
//! when everything is delivered (or nothing was left), 122 and 123 as `start`. `test-connection`
//! exits 0 when every check passes and 1 otherwise; `assist` exits 0 once its session has
//! closed and 125 when it could not open one.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use claude_runner::cli::{Cli, Command};
use claude_runner::config::{Settings, read_layers};
use claude_runner::{assist, connection, flush, host, permission, reaper, start};

/// Longest the runtime waits for its tasks once the subcommand has its answer.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNNER_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Started by Claude Code in the run's working directory: no settings, no `.env` of its own.
    if let Command::McpPermission(args) = &cli.command {
        return match permission_server(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("claude-runner mcp-permission: {e:#}");
                ExitCode::from(125)
            }
        };
    }
    if let Command::Reaper(args) = &cli.command {
        // Reads no settings: it must be up, whatever the environment holds, before any child.
        return ExitCode::from(reaper::reaper_main(args.cgroup.clone(), &args.cookie) as u8);
    }
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("claude-runner: {e:#}");
            claude_runner::exit::RUNNER_FAILED
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn permission_server(args: &claude_runner::cli::McpPermissionArgs) -> anyhow::Result<()> {
    let token = std::env::var(permission::TOKEN_ENV)
        .map_err(|_| anyhow::anyhow!("{} is not set", permission::TOKEN_ENV))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(permission::mcp::serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        args.socket.clone(),
        common::Secret::new(token),
    ));
    rt.shutdown_timeout(SHUTDOWN_TIMEOUT);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let (layers, env_file) = read_layers(&cli.settings)?;
    let settings = Settings::resolve(&cli.settings, &layers, env_file)?;
    // One thread for every task: the runner's work is a few pipes, one sender and a poll, and
    // handing wake-ups between worker threads cost more than it bought (measured with 200
    // runners at 10 lines/s on 2 cores: p99 −30 %; a flood −5 %). Blocking work goes to the
    // blocking pool; the sequencer has its own thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = match cli.command {
        Command::Info => {
            print!("{}", settings.report());
            Ok(0)
        }
        Command::TestConnection => {
            let steps = rt.block_on(connection::check(&settings));
            Ok(if connection::report(&steps) { 0 } else { 1 })
        }
        Command::Start(args) => rt.block_on(start::run(settings, args)),
        Command::Agent(args) => rt.block_on(host::run(settings, args)),
        Command::Flush(args) => rt.block_on(flush::run(settings, args)),
        Command::Assist(args) => rt.block_on(assist::run(settings, args)),
        Command::McpPermission(args) => permission_server(&args).map(|()| 0),
        Command::Reaper(_) => Ok(0),
    };
    // A blocking task stuck in a system call must not keep the process alive after its answer.
    rt.shutdown_timeout(SHUTDOWN_TIMEOUT);
    result
}
