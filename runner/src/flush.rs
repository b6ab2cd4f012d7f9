//! `claude-runner flush`: deliver what a run's spool still holds, e.g. after the runner crashed.
//!
//! It signs with the run key `start` saved beside the spool (`run.key`), so it needs neither the
//! run token nor `HMAC_SECRET`. `--close` ends a run whose runner died before its `finished`
//! marker: it appends an `info` event and a `finished` marker (exit code 125, the runner's own
//! failure) carrying the count and SHA-256 of the spooled stream.

use std::time::Duration;

use anyhow::Context;
use common::wire::{EventKind, Marker};
use serde_json::Value;

use crate::cli::FlushArgs;
use crate::client::{GatewayClient, Signer};
use crate::config::Settings;
use crate::exit;
use crate::pipeline::now_ms;
use crate::spool::{self, Spool};
use crate::start::{finish_delivery, spawn_sender};

/// Run `flush`: 0 when everything is delivered, [`exit::UNDELIVERED`] otherwise.
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
    let key = spool::load_run_key(&run_dir, &run_id)?;
    let (spool, mut writer, recovered) = Spool::open(&spool_dir)?;
    if recovered.truncated_bytes > 0 {
        eprintln!(
            "claude-runner: dropped {} bytes of a record the runner was writing when it stopped",
            recovered.truncated_bytes
        );
    }
    let mut finished = recovered.finished;
    if args.close && !finished {
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
        writer.commit().context("write to the spool")?;
        finished = true;
    }
    spool.close();
    let (appended, _, _) = spool.progress();
    let pending = spool.undelivered();
    if pending == 0 {
        eprintln!(
            "claude-runner: nothing to deliver: the gateway acknowledged all {appended} events of run {run_id}"
        );
    } else {
        eprintln!("claude-runner: delivering {pending} events of run {run_id}");
        let client = GatewayClient::new(&settings)?;
        let signer = Signer::Run {
            run_id: run_id.clone(),
            key,
        };
        let sender = spawn_sender(client, signer, run_id.clone(), spool.clone());
        let limit = args.timeout.map(Duration::from_secs);
        if !finish_delivery(sender, &spool, &run_id, limit).await {
            return Ok(exit::UNDELIVERED);
        }
        eprintln!(
            "claude-runner: delivered; the gateway holds all {appended} events of run {run_id}"
        );
    }
    if finished {
        let _ = std::fs::remove_file(run_dir.join("run.key"));
    }
    Ok(0)
}
