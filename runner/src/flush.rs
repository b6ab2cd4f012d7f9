//! `claude-runner flush`: deliver what a run left on this machine, e.g. after the runner crashed
//! or the gateway was away when the run ended: the spool's undelivered events and the outbox's
//! artifacts (`claude.log` staged first if `start` never did).
//!
//! It signs with the run key `start` saved beside the spool (`run.key`), so it needs neither the
//! run token nor `HMAC_SECRET`. `--close` ends a run whose runner died before its `finished`
//! marker: it appends an `info` event and a `finished` marker (exit code 125, the runner's own
//! failure) carrying the count and SHA-256 of the spooled stream; and it closes a run whose
//! acknowledged events the gateway lost (see `delivery.rs`), marked incomplete. `run.key` goes
//! once nothing of a finished run is left to deliver.

use anyhow::Context;
use common::redact::Rules;
use common::wire::{EventKind, Marker};
use serde_json::Value;

use crate::cli::FlushArgs;
use crate::client::{GatewayClient, Signer};
use crate::config::Settings;
use crate::delivery::{self, Events, close_lost, deliver_rest, spawn_sender};
use crate::exit;
use crate::outbox::Outbox;
use crate::pipeline::now_ms;
use crate::spool::{self, Spool};

/// Run `flush`: 0 when everything is delivered (or nothing was left), [`exit::INCOMPLETE`] when
/// the gateway holds the run as incomplete, [`exit::UNDELIVERED`] when something is left.
pub async fn run(settings: Settings, args: FlushArgs) -> anyhow::Result<i32> {
    let run_id = args.run_id;
    anyhow::ensure!(
        common::wire::valid_run_id(&run_id),
        "run id {run_id:?} is not valid"
    );
    let run_dir = settings.data_dir.join("runs").join(&run_id);
    let spool_dir = run_dir.join("spool");
    anyhow::ensure!(
        spool_dir.is_dir(),
        "no spool for run {run_id} in {}",
        run_dir.display()
    );
    let (spool, mut writer, recovered) = Spool::open(&spool_dir)?;
    if recovered.truncated_bytes > 0 {
        eprintln!(
            "claude-runner: dropped {} bytes of a record the runner was writing when it stopped",
            recovered.truncated_bytes
        );
    }
    let outbox = Outbox::new(&run_dir);
    let incomplete = delivery::incomplete_note(&run_dir);
    let mut finished = recovered.finished || incomplete.is_some();
    let (appended, _, _) = spool.progress();
    if spool.undelivered() == 0 && outbox.is_settled() && (finished || !args.close) {
        eprintln!(
            "claude-runner: nothing to deliver: the gateway acknowledged all {appended} events \
             of run {run_id}, and its artifacts"
        );
        if finished {
            let _ = std::fs::remove_file(run_dir.join("run.key"));
        } else {
            eprintln!(
                "claude-runner: run {run_id} has not finished; if its runner is gone, \
                 `claude-runner flush --close --run-id {run_id}` ends it"
            );
        }
        return Ok(match incomplete {
            Some(note) => {
                eprintln!("claude-runner: the gateway holds run {run_id} as incomplete: {note}");
                exit::INCOMPLETE
            }
            None => 0,
        });
    }
    let key = spool::load_run_key(&run_dir, &run_id)?;
    if args.close && !finished {
        close_in_spool(&mut writer)?;
        finished = true;
    }
    spool.close();
    if outbox.log_unstaged() {
        let staged = match rules(&settings) {
            Ok(rules) => outbox.stage_log(&std::sync::Arc::new(rules)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = staged {
            eprintln!("claude-runner: claude.log was not staged for upload: {e:#}");
        }
    }
    let (appended, _, _) = spool.progress();
    let pending = spool.undelivered();
    if pending > 0 {
        eprintln!("claude-runner: delivering {pending} events of run {run_id}");
    }
    let client = GatewayClient::new(&settings)?;
    let signer = Signer::Run {
        run_id: run_id.clone(),
        key,
    };
    let limit = args.timeout.map(std::time::Duration::from_secs);
    let interrupted = delivery::interruption();
    let sender = spawn_sender(
        client.clone(),
        signer.clone(),
        run_id.clone(),
        spool.clone(),
    );
    let artifacts = Some((&outbox, &client, &signer));
    let until = delivery::window(limit, interrupted);
    tokio::pin!(until);
    let rest = deliver_rest(sender, &spool, artifacts, &run_id, &mut until).await;
    let (mut code, settled) = match rest.events {
        Events::Delivered => (0, true),
        Events::Incomplete => {
            delivery::note_incomplete(
                &run_dir,
                "the events it stored differ from the ones the runner sent",
            );
            (exit::INCOMPLETE, true)
        }
        Events::Lost { expected } if args.close => {
            let note = close_lost(&client, &signer, &spool, &run_id, expected, &mut until).await?;
            delivery::note_incomplete(&run_dir, &note);
            eprintln!(
                "claude-runner: closed run {run_id}; the gateway holds it as incomplete: {note}"
            );
            (exit::INCOMPLETE, true)
        }
        Events::Lost { .. } | Events::Undelivered => (exit::UNDELIVERED, false),
    };
    if code == 0 && !rest.artifacts_left.is_empty() {
        code = exit::UNDELIVERED;
    }
    if settled && finished && outbox.is_settled() {
        let _ = std::fs::remove_file(run_dir.join("run.key"));
    }
    if code == 0 {
        eprintln!(
            "claude-runner: delivered; the gateway holds all {appended} events of run {run_id}"
        );
    }
    Ok(code)
}

/// Append the `info` event and `finished` marker that end a run whose runner died.
fn close_in_spool(writer: &mut spool::Writer) -> anyhow::Result<()> {
    let note = "the runner of this run ended without finishing it (it crashed or was killed); \
                `claude-runner flush --close` closed the run";
    writer
        .stage(EventKind::Info, &Value::String(note.into()), now_ms())
        .context("write to the spool")?;
    let (count, sha) = writer.digest();
    let marker = Marker::Finished {
        exit_code: 125,
        signal: None,
        duration_ms: 0,
        event_count: Some(count),
        stream_sha256: Some(sha),
        dropped_lines: None,
    };
    writer
        .stage(EventKind::Marker, &marker.to_value(), now_ms())
        .context("write to the spool")?;
    writer.commit().context("write to the spool")
}

/// The redaction rules `flush` has for a `claude.log` it stages: the shipped ones, the
/// environment's secrets and `HMAC_SECRET` if set. The run token is not known here; `start` kept
/// it out of `claude.log` already (every line there passed its redactor).
fn rules(settings: &Settings) -> anyhow::Result<Rules> {
    let own = settings
        .hmac_secret
        .iter()
        .map(|s| s.expose().to_string())
        .collect();
    Rules::from_config(common::redact::DEFAULT_CONFIG, &settings.env, own)
        .context("redaction rules")
}
