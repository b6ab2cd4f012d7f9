//! `claude-runner start`: create or attach to a run, drive the child, stream, exit with its code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::Secret;
use common::redact::Rules;
use common::wire::{CreateRun, EventKind, Marker};
use tokio::sync::mpsc;

use crate::agent::RunnerType;
use crate::allowlist::Allowlist;
use crate::child;
use crate::cli::StartArgs;
use crate::client::{GatewayClient, Signer};
use crate::commands;
use crate::config::Settings;
use crate::delivery::{self, Events};
use crate::outbox::Outbox;
use crate::pipeline::{self, Frame, Sinks};
use crate::spool::{self, Spool};
use crate::{exit, reaper, session, workspace};

/// How long `start` keeps delivering after the child exited; what is left stays in the spool for
/// `claude-runner flush` (or the next `start` of the run).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The redaction rules of a run: the shipped `config/redaction.rules` (secret-looking environment
/// variables, extra patterns) plus the runner's own HMAC secret and the run token.
pub fn redaction_rules(settings: &Settings, token: Option<&Secret>) -> anyhow::Result<Rules> {
    let mut own: Vec<String> = token.map(|t| t.expose().to_string()).into_iter().collect();
    if let Some(s) = &settings.hmac_secret {
        own.push(s.expose().to_string());
    }
    Rules::from_config(common::redact::DEFAULT_CONFIG, &settings.env, own)
        .context("redaction rules")
}

/// The run `start` attaches to: its id, its key, and the secret that proves it (the token, or
/// for a run an agent took, the key itself), which the redactor keeps out of the output.
async fn attach(
    settings: &Settings,
    client: &GatewayClient,
    args: &StartArgs,
    given_cwd: Option<&std::path::Path>,
) -> anyhow::Result<(String, [u8; 32], Secret)> {
    let run_id = args
        .run_id
        .clone()
        .or_else(|| settings.env.get("RUN_ID").cloned());
    let token = args
        .token
        .clone()
        .or_else(|| settings.env.get("RUN_TOKEN").cloned());
    // `claude-runner agent` hands the run key it was given, never a token or HMAC_SECRET.
    let run_key = settings.env.get(RUN_KEY_ENV).cloned();
    if let Some(id) = &run_id {
        anyhow::ensure!(common::wire::valid_run_id(id), "run id {id:?} is not valid");
    }
    match (run_id, token, run_key) {
        (Some(id), Some(token), _) => {
            let secret = settings.require_secret()?;
            let key = common::sign::derive_run_key(secret.expose().as_bytes(), &id, &token);
            Ok((id, key, Secret::new(token)))
        }
        (Some(id), None, Some(hex_key)) => {
            let key = hex::decode(hex_key.trim())
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .with_context(|| format!("{RUN_KEY_ENV} is not 64 hex digits"))?;
            Ok((id, key, Secret::new(hex_key)))
        }
        (Some(_), None, None) => anyhow::bail!("--run-id needs --token (or RUN_TOKEN)"),
        (None, _, _) => {
            let secret = settings.require_secret()?;
            // Every string sent goes through the redactor, these before the run (and its
            // token) exist.
            let early = Arc::new(redaction_rules(settings, None)?);
            let clean = |s: &str| common::redact::redact_text(&early, s);
            let created = client
                .create_run(
                    secret,
                    &CreateRun {
                        name: args.name.as_deref().map(clean),
                        prompt: None,
                        cwd: given_cwd.map(|c| clean(&c.display().to_string())),
                    },
                )
                .await?;
            eprintln!("claude-runner: run {} → {}", created.run_id, created.ui_url);
            let key = common::sign::derive_run_key(
                secret.expose().as_bytes(),
                &created.run_id,
                &created.token,
            );
            Ok((created.run_id, key, Secret::new(created.token)))
        }
    }
}

/// Put the run's session archive (`archive.rs`) in the outbox, to be uploaded with the rest.
async fn stage_archive(
    settings: &Settings,
    ended: &session::Ended,
    cwd: &std::path::Path,
    workspace: bool,
    hidden: &[PathBuf],
    rules: &Arc<Rules>,
    outbox: &Outbox,
) {
    let (Some(session_id), Some(config)) = (
        ended.session_id.clone(),
        crate::archive::claude_config_dir(&settings.env),
    ) else {
        return;
    };
    let (cwd, hidden, rules, outbox) = (
        cwd.to_path_buf(),
        hidden.to_vec(),
        rules.clone(),
        outbox.clone(),
    );
    let staged = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let archive =
            crate::archive::build(&config, &cwd, &session_id, workspace, &hidden, &rules)?;
        outbox.put(
            common::agents::ARCHIVE_NAME,
            &serde_json::to_vec(&archive).context("encode the archive")?,
        )?;
        Ok(())
    })
    .await
    .unwrap_or_else(|e| Err(anyhow::anyhow!("{e}")));
    if let Err(e) = staged {
        eprintln!("claude-runner: the session archive was not staged: {e:#}");
    }
}

/// The environment variable through which `claude-runner agent` hands a taken run's key (hex)
/// to the `start` it runs the run with.
pub const RUN_KEY_ENV: &str = "RUN_KEY";

/// Run `start`; the result is the process exit code.
pub async fn run(settings: Settings, args: StartArgs) -> anyhow::Result<i32> {
    let client = GatewayClient::new(&settings)?;
    let auto_workspace = args.workspace.as_deref() == Some("auto");
    // An auto workspace is named after the run, which may not exist yet.
    let given_cwd = if auto_workspace {
        None
    } else {
        let cwd = match &args.cwd {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("read the current directory")?,
        };
        // Checked before the run exists: a bad directory must not leave a run behind.
        let cwd = workspace::working_dir(&cwd)?;
        if args.git_branch {
            workspace::require_git_repo(&cwd)?;
        }
        Some(cwd)
    };

    let (run_id, key, token) = attach(&settings, &client, &args, given_cwd.as_deref()).await?;
    let signer = Signer::Run {
        run_id: run_id.clone(),
        key,
    };
    let rules = Arc::new(redaction_rules(&settings, Some(&token))?);
    // Run keys, spools and logs live here; its `.gitignore` keeps them out of any repository.
    workspace::ensure_data_dir(&settings.data_dir)?;
    let data_dir = std::fs::canonicalize(&settings.data_dir)
        .with_context(|| format!("data directory {}", settings.data_dir.display()))?;
    let cwd = match given_cwd {
        Some(c) => c,
        None => {
            let dir = workspace::auto_dir(&settings.data_dir, &run_id);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("create the workspace {}", dir.display()))?;
            std::fs::canonicalize(&dir).with_context(|| format!("workspace {}", dir.display()))?
        }
    };
    let hidden = workspace::hidden_dirs(&cwd, &data_dir);
    let git_branch = if args.git_branch {
        let branch = workspace::branch_name(&run_id);
        workspace::prepare_branch(&cwd, &branch, auto_workspace)?;
        Some(branch)
    } else {
        None
    };

    let run_dir: PathBuf = settings.data_dir.join("runs").join(&run_id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("create {}", run_dir.display()))?;
    let log_path = run_dir.join("claude.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("open {}", log_path.display()))?;

    let (spool, writer, recovered) = Spool::open(&run_dir.join("spool"))?;
    anyhow::ensure!(
        !recovered.finished,
        "run {run_id} already finished on this machine; `claude-runner flush --run-id {run_id}` \
         delivers what is left of it"
    );
    if recovered.last_sequence > 0 {
        eprintln!(
            "claude-runner: continuing run {run_id} after event {}; {} spooled events were not delivered yet",
            recovered.last_sequence,
            recovered.last_sequence - recovered.acked
        );
    }
    // Before the child runs: a crash from here on leaves a spool that `flush` can deliver.
    spool::save_run_key(&run_dir, &run_id, &key)?;
    child::become_subreaper();
    // Before the first child: whatever the run starts is held together, and killed if the
    // runner dies (see `reaper`).
    let containment = reaper::Containment::start(&run_id);
    tracing::debug!(
        mode = containment.mode(),
        "the run's processes are contained"
    );

    let (tx, rx) = mpsc::channel::<Frame>(pipeline::CHANNEL_FRAMES);
    let sinks = Sinks {
        log: std::io::BufWriter::new(log),
        echo: match (args.quiet, args.raw) {
            (true, _) => pipeline::Echo::Off,
            (false, true) => pipeline::Echo::Raw,
            (false, false) => pipeline::Echo::Words(common::terminal::Renderer::compact()),
        },
    };
    let sequencer = tokio::task::spawn_blocking({
        let rules = rules.clone();
        let limit = settings.spool_max_bytes;
        move || pipeline::sequence(rx, rules, sinks, writer, limit)
    });
    if !rules.too_short().is_empty() {
        // Reported once, by name only: these values are not redacted.
        let names = rules.too_short().to_vec();
        let text = format!(
            "redaction: {} hold values shorter than {} bytes, too short to redact without \
             redacting ordinary words; they are not redacted",
            names.join(", "),
            common::redact::MIN_KNOWN_LEN
        );
        let _ = tx
            .send(Frame::new(EventKind::Info, serde_json::Value::String(text)))
            .await;
        let marker = Marker::RedactionSkipped {
            names,
            min_bytes: common::redact::MIN_KNOWN_LEN,
        };
        let _ = tx
            .send(Frame::new(EventKind::Marker, marker.to_value()))
            .await;
    }
    let sender = delivery::spawn_sender(
        client.clone(),
        signer.clone(),
        run_id.clone(),
        spool.clone(),
    );

    let started = Instant::now();
    let approvals = crate::permission::Approvals::start(
        &settings.claude,
        settings.ask_timeout,
        crate::permission::request::Scope {
            cwd: cwd.clone(),
            hidden: hidden.clone(),
            rules: rules.clone(),
        },
        tx.clone(),
    )?;
    let outbox = Outbox::new(&run_dir);
    // Commands from the gateway are taken for as long as the session lasts.
    let stop_command = Arc::new(tokio::sync::Notify::new());
    let (controls_tx, controls) = mpsc::channel(commands::MAX_CONTROLS);
    let steering = commands::spawn(commands::Context {
        client: client.clone(),
        signer: signer.clone(),
        run_id: run_id.clone(),
        cwd: cwd.clone(),
        hidden: hidden.clone(),
        allowlist: Allowlist::new(&settings.extra_allowed_commands),
        rules: rules.clone(),
        tx: tx.clone(),
        stop: stop_command.clone(),
        controls: controls_tx,
        broker: approvals.broker.clone(),
        seen_file: run_dir.join("commands.seen"),
        outbox: outbox.clone(),
        time_limit: commands::EXEC_TIME_LIMIT,
    });
    // Children are spawned from the task `block_on` drives on the main thread (see `child`: the
    // guard, not the spawning thread, is what ties a child's life to the runner's).
    let driver = session::Driver {
        agent: RunnerType::Claude {
            command: settings.claude_command.clone(),
            options: settings.claude.clone(),
        },
        cwd: cwd.clone(),
        hidden: hidden.clone(),
        rules: rules.clone(),
        tx: tx.clone(),
        client: client.clone(),
        signer: signer.clone(),
        run_id: run_id.clone(),
        session: args.session,
        idle_timeout: settings.session_idle_timeout,
        git_branch,
        controls,
        stop: stop_command,
        broker: approvals.broker.clone(),
        mcp_config: approvals.mcp_config(),
        ceilings: settings.ceilings.clone(),
        outbox: outbox.clone(),
        resume: args.resume.clone(),
    };
    let (ended, _stream_counts) = driver.run(args.prompt.clone()).await;
    // From here Ctrl-C or SIGTERM ends the drain early (listening now: one that comes before
    // the drain starts counts too).
    let interrupted = delivery::interruption();
    steering.finish().await;
    approvals.close().await;
    // Nothing outlives the run: no command runs any more, so whatever is left of any group or
    // re-parented to the runner goes (an `exec` command's orphans included).
    // Then the cgroup or the cookie finds what left both the groups and the runner's children.
    let reaped = tokio::task::spawn_blocking(move || {
        child::reap_leftovers(0, child::Reach::Orphans, &[]) + containment.finish()
    })
    .await
    .unwrap_or(0);
    if reaped > 0 {
        let _ = tx
            .send(Frame::new(
                EventKind::Marker,
                Marker::Reaped { processes: reaped }.to_value(),
            ))
            .await;
    }
    // Every counted redactor of the run adds to the tally: streams, `exec` output, file reads,
    // artifacts, markers and messages.
    let counts = rules.tally();
    if !counts.is_empty() {
        let _ = tx
            .send(Frame::new(
                EventKind::Marker,
                Marker::Redactions { counts }.to_value(),
            ))
            .await;
    }
    let (exit_code, signal) = (ended.exit_code, ended.signal);
    let finished = Marker::Finished {
        exit_code,
        signal,
        duration_ms: started.elapsed().as_millis() as u64,
        // Filled in by the sequencer, which alone knows the stream before this marker.
        event_count: None,
        stream_sha256: None,
        dropped_lines: None,
    };
    let _ = tx
        .send(Frame::new(EventKind::Marker, finished.to_value()))
        .await;
    drop(tx);

    let mut outcome = exit::Ending {
        run_code: exit_code,
        stopped: ended.stopped,
        ..exit::Ending::default()
    };
    match sequencer.await {
        Ok(Ok(done)) => {
            if !done.waited.is_zero() {
                tracing::info!(waited = ?done.waited, "the child was slowed while the gateway caught up");
            }
            outcome.dropped = done.dropped_lines > 0;
        }
        Ok(Err(e)) => {
            eprintln!(
                "claude-runner: writing {} or the spool failed: {e}",
                log_path.display()
            );
            outcome.undelivered = true;
        }
        Err(e) => {
            eprintln!("claude-runner: the sequencer failed: {e}");
            outcome.undelivered = true;
        }
    }
    if ended.deleted {
        // The gateway refuses this run's events and artifacts now; stop trying.
        sender.abort();
        if auto_workspace {
            let dir = cwd.clone();
            let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&dir))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match removed {
                Ok(()) => eprintln!(
                    "claude-runner: run {run_id} was deleted at the gateway; removed its workspace {}",
                    cwd.display()
                ),
                Err(e) => eprintln!(
                    "claude-runner: run {run_id} was deleted; its workspace {} was not removed: {e}",
                    cwd.display()
                ),
            }
        } else {
            eprintln!("claude-runner: run {run_id} was deleted at the gateway");
        }
        return Ok(exit::of_start(outcome));
    }
    if args.archive {
        stage_archive(
            &settings,
            &ended,
            &cwd,
            auto_workspace,
            &hidden,
            &rules,
            &outbox,
        )
        .await;
    }
    // claude.log is complete once the sequencer has ended.
    if let Err(e) = outbox.stage_log(&rules).await {
        eprintln!("claude-runner: claude.log was not staged for upload: {e:#}");
    }
    let artifacts = Some((&outbox, &client, &signer));
    let until = delivery::window(Some(DRAIN_TIMEOUT), interrupted);
    let rest = delivery::deliver_rest(sender, &spool, artifacts, &run_id, until).await;
    match rest.events {
        Events::Delivered => {}
        Events::Incomplete => {
            outcome.incomplete = true;
            delivery::note_incomplete(
                &run_dir,
                "the events it stored differ from the ones the runner sent",
            );
        }
        Events::Undelivered | Events::Lost { .. } => outcome.undelivered = true,
    }
    if !rest.artifacts_left.is_empty() || !outbox.is_settled() {
        outcome.undelivered = true;
    }
    if !outcome.undelivered {
        // Nothing is left for `flush`: the key need not stay on disk.
        let _ = std::fs::remove_file(run_dir.join("run.key"));
    }
    Ok(exit::of_start(outcome))
}
