//! `claude-runner start`: create or attach to a run, drive the child, stream, exit with its code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::Secret;
use common::redact::Rules;
use common::wire::{CreateRun, EventKind, Marker};
use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::allowlist::Allowlist;
use crate::child::{self, STOP_GRACE};
use crate::cli::StartArgs;
use crate::client::{GatewayClient, Signer};
use crate::commands;
use crate::config::Settings;
use crate::outbox::Outbox;
use crate::pipeline::{self, Frame, Sinks};

/// Events held in memory awaiting acknowledgement before the child is slowed down.
const OUTBOX_CAPACITY: usize = 50_000;
/// How long to keep reading pipes a descendant still holds open after the child exited.
const PIPE_GRACE: Duration = Duration::from_secs(5);
/// How long to keep trying to deliver what is left after the child exited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The redaction rules of a run: the shipped `config/redaction.rules` (secret-looking environment
/// variables, extra patterns) plus the runner's own HMAC secret and the run token.
pub fn redaction_rules(settings: &Settings, token: &Secret) -> anyhow::Result<Rules> {
    let mut own = vec![token.expose().to_string()];
    if let Some(s) = &settings.hmac_secret {
        own.push(s.expose().to_string());
    }
    Rules::from_config(common::redact::DEFAULT_CONFIG, &settings.env, own)
        .context("redaction rules")
}

/// Run `start`; the result is the process exit code.
pub async fn run(settings: Settings, args: StartArgs) -> anyhow::Result<i32> {
    let secret = settings.require_secret()?.clone();
    let client = GatewayClient::new(&settings)?;
    let cwd = match &args.cwd {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("read the current directory")?,
    };
    let cwd = std::fs::canonicalize(&cwd)
        .with_context(|| format!("working directory {}", cwd.display()))?;

    let token_env = settings.env.get("RUN_TOKEN").cloned();
    let (run_id, token) = match (
        args.run_id
            .clone()
            .or_else(|| settings.env.get("RUN_ID").cloned()),
        args.token.clone().or(token_env),
    ) {
        (Some(id), Some(token)) => {
            anyhow::ensure!(
                common::wire::valid_run_id(&id),
                "run id {id:?} is not valid"
            );
            (id, Secret::new(token))
        }
        (Some(_), None) => anyhow::bail!("--run-id needs --token (or RUN_TOKEN)"),
        _ => {
            let created = client
                .create_run(
                    &secret,
                    &CreateRun {
                        name: args.name.clone(),
                        prompt: None,
                        cwd: Some(cwd.display().to_string()),
                    },
                )
                .await?;
            eprintln!("claude-runner: run {} → {}", created.run_id, created.ui_url);
            (created.run_id, Secret::new(created.token))
        }
    };
    let signer = Signer::for_run(&secret, &run_id, &token);
    let rules = Arc::new(redaction_rules(&settings, &token)?);

    let run_dir: PathBuf = settings.data_dir.join("runs").join(&run_id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("create {}", run_dir.display()))?;
    let log_path = run_dir.join("claude.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("open {}", log_path.display()))?;

    let outbox = Arc::new(Outbox::new(OUTBOX_CAPACITY));
    let (tx, rx) = mpsc::channel::<Frame>(1024);
    let sequencer = tokio::spawn(pipeline::sequence(
        rx,
        rules.clone(),
        Sinks {
            log: std::io::BufWriter::new(log),
            echo: !args.quiet,
        },
        outbox.clone(),
    ));
    let sender = tokio::spawn(pipeline::send_loop(
        client.clone(),
        signer.clone(),
        run_id.clone(),
        outbox.clone(),
    ));

    let mut argv = settings.claude_command.clone();
    argv.extend([
        "-p".into(),
        args.prompt.clone(),
        "--output-format".into(),
        "stream-json".into(),
        "--verbose".into(),
    ]);
    let started = Instant::now();
    let (exit_code, signal) = match child::spawn(&argv, &cwd) {
        Err(e) => {
            let code = e.exit_code();
            let _ = tx
                .send(Frame::new(EventKind::Error, Value::String(e.to_string())))
                .await;
            eprintln!("claude-runner: {e}");
            (code, None)
        }
        Ok(mut running) => {
            let marker = Marker::Started {
                command: argv.clone(),
                pid: Some(running.pid),
                cwd: Some(cwd.display().to_string()),
            };
            let _ = tx
                .send(Frame::new(EventKind::Marker, marker.to_value()))
                .await;
            let out = tokio::spawn(pipeline::read_stream(
                running.stdout,
                EventKind::Stdout,
                rules.clone(),
                tx.clone(),
            ));
            let err = tokio::spawn(pipeline::read_stream(
                running.stderr,
                EventKind::Stderr,
                rules.clone(),
                tx.clone(),
            ));
            // Commands from the gateway run beside the child until it has ended.
            let stop_command = Arc::new(tokio::sync::Notify::new());
            let steering = commands::spawn(commands::Context {
                client: client.clone(),
                signer: signer.clone(),
                run_id: run_id.clone(),
                cwd: cwd.clone(),
                allowlist: Allowlist::new(&settings.extra_allowed_commands),
                rules: rules.clone(),
                tx: tx.clone(),
                stop: stop_command.clone(),
                seen_file: run_dir.join("commands.seen"),
                time_limit: commands::EXEC_TIME_LIMIT,
            });
            let status = wait_or_stop(&mut running.child, running.pid, &tx, &stop_command).await;
            steering.finish().await;
            let mut counts = std::collections::BTreeMap::new();
            for reader in [out, err] {
                let abort = reader.abort_handle();
                match tokio::time::timeout(PIPE_GRACE, reader).await {
                    Ok(Ok(c)) => {
                        for (k, v) in c {
                            *counts.entry(k).or_insert(0) += v;
                        }
                    }
                    Ok(Err(_)) => {}
                    Err(_) => {
                        abort.abort();
                        let _ = tx
                            .send(Frame::new(EventKind::Info, Value::String(
                                "a process started by the child still holds its output open; stopped reading it".into(),
                            )))
                            .await;
                    }
                }
            }
            if !counts.is_empty() {
                let _ = tx
                    .send(Frame::new(
                        EventKind::Marker,
                        Marker::Redactions { counts }.to_value(),
                    ))
                    .await;
            }
            child::exit_code(status)
        }
    };
    let finished = Marker::Finished {
        exit_code,
        signal,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let _ = tx
        .send(Frame::new(EventKind::Marker, finished.to_value()))
        .await;
    drop(tx);

    match sequencer.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("claude-runner: writing {} failed: {e}", log_path.display()),
        Err(e) => eprintln!("claude-runner: the sequencer failed: {e}"),
    }
    // claude.log is complete once the sequencer has ended.
    crate::artifacts::upload_run_log(&client, &signer, &run_id, &rules, &log_path).await;
    let abort = sender.abort_handle();
    match tokio::time::timeout(DRAIN_TIMEOUT, sender).await {
        Ok(Ok(None)) => {}
        Ok(Ok(Some(problem))) => eprintln!("claude-runner: {problem}"),
        Ok(Err(e)) => eprintln!("claude-runner: the sender failed: {e}"),
        Err(_) => {
            abort.abort();
            eprintln!(
                "claude-runner: gave up delivering after {} s: {} events not delivered (they are in {})",
                DRAIN_TIMEOUT.as_secs(),
                outbox.undelivered(),
                log_path.display()
            );
        }
    }
    Ok(exit_code)
}

/// Wait for the child; on Ctrl-C (or SIGTERM) or a `stop` command stop its group: SIGINT, grace,
/// SIGKILL.
async fn wait_or_stop(
    child: &mut tokio::process::Child,
    pid: u32,
    tx: &mpsc::Sender<Frame>,
    stop_command: &tokio::sync::Notify,
) -> std::process::ExitStatus {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let reason = tokio::select! {
        status = child.wait() => return status.unwrap_or_else(|_| std::process::ExitStatus::default()),
        _ = recv(&mut int) => "signal",
        _ = recv(&mut term) => "signal",
        () = stop_command.notified() => "command",
    };
    let _ = tx
        .send(Frame::new(
            EventKind::Marker,
            Marker::StopRequested {
                reason: reason.into(),
            }
            .to_value(),
        ))
        .await;
    eprintln!(
        "claude-runner: stopping (SIGINT to the child's process group; SIGKILL in {} s)",
        STOP_GRACE.as_secs()
    );
    child::signal_group(pid, Signal::SIGINT);
    tokio::select! {
        status = child.wait() => return status.unwrap_or_default(),
        () = tokio::time::sleep(STOP_GRACE) => {}
        _ = recv(&mut int) => {}
        () = stop_command.notified() => {}
    }
    child::signal_group(pid, Signal::SIGKILL);
    child.wait().await.unwrap_or_default()
}

/// The next delivery of `s`, or never if the handler could not be installed.
async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
