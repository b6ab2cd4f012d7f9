//! The exposition: every counter and gauge in the Prometheus text format (0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use common::wire::RunStatus;

use super::process::process;
use super::{BUCKETS, Metrics, REFUSALS};

/// One metric family: its help and type lines, then `samples` as (labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

fn one(value: impl std::fmt::Display) -> Vec<(String, String)> {
    vec![(String::new(), value.to_string())]
}

/// What `/metrics` reads at scrape time, outside the counters.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Stored runs by status (statuses with none may be left out).
    pub runs: Vec<(RunStatus, u64)>,
    /// Open event streams.
    pub streams: usize,
    /// Nonces in this process's memory front.
    pub nonces: usize,
    /// Runs with a runner long-polling this process for commands.
    pub command_waiters: usize,
    /// Batches committed by other replicas handed to this process's streams.
    pub relayed: u64,
    /// The store's failed calls.
    pub store_errors: u64,
}

/// The whole exposition.
pub fn render(m: &Metrics, gauges: &Gauges) -> String {
    let runs = &gauges.runs;
    let mut out = String::with_capacity(4096);
    let get = |c: &AtomicU64| c.load(Relaxed);
    family(
        &mut out,
        "gateway_events_ingested_total",
        "counter",
        "Events stored by ingest (resent events are not counted again).",
        &one(get(&m.events_ingested)),
    );
    family(
        &mut out,
        "gateway_ingest_bytes_total",
        "counter",
        "Request body bytes of committed ingest batches.",
        &one(get(&m.bytes_ingested)),
    );
    family(
        &mut out,
        "gateway_ingest_batches_total",
        "counter",
        "Ingest batches committed and acknowledged.",
        &one(get(&m.batches_ingested)),
    );
    family(
        &mut out,
        "gateway_events_resent_total",
        "counter",
        "Events acknowledged without insert because they were already stored (runner resends).",
        &one(get(&m.events_resent)),
    );
    family(
        &mut out,
        "gateway_ingest_gaps_total",
        "counter",
        "Ingest batches answered 409 sequence_gap (the runner resends from the expected sequence).",
        &one(get(&m.gaps)),
    );
    family(
        &mut out,
        "gateway_ingest_order_waits_total",
        "counter",
        "Waits of an ingest batch for an earlier batch of its run still in progress (two in flight).",
        &one(get(&m.ingest_waits)),
    );
    family(
        &mut out,
        "gateway_ingest_refused_total",
        "counter",
        "Signed ingest batches refused after verification (bad shape, finished run, storage failure).",
        &one(get(&m.ingest_refused)),
    );

    let name = "gateway_ingest_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to verify, store and acknowledge one ingest batch."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, bucket) in m.latency_buckets.iter().enumerate() {
        cumulative += get(bucket);
        let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {}", get(&m.latency_sum_us) as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");

    let by_status: Vec<(String, String)> = [
        RunStatus::Queued,
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Stopped,
        RunStatus::Lost,
    ]
    .iter()
    .map(|s| {
        let n = runs.iter().find(|(r, _)| r == s).map_or(0, |(_, n)| *n);
        (format!("{{status=\"{}\"}}", s.as_str()), n.to_string())
    })
    .collect();
    family(
        &mut out,
        "gateway_runs",
        "gauge",
        "Stored runs by status; pending and running ones are the active runs.",
        &by_status,
    );
    let active: u64 = runs
        .iter()
        .filter(|(s, _)| !s.is_terminal())
        .map(|(_, n)| n)
        .sum();
    family(
        &mut out,
        "gateway_active_runs",
        "gauge",
        "Runs not yet finished (pending or running).",
        &one(active),
    );
    family(
        &mut out,
        "gateway_sse_subscribers",
        "gauge",
        "Open server-sent event streams (run streams and runs-list streams).",
        &one(gauges.streams),
    );
    family(
        &mut out,
        "gateway_command_waiters",
        "gauge",
        "Runs with a runner long-polling this process for commands.",
        &one(gauges.command_waiters),
    );
    family(
        &mut out,
        "gateway_relayed_batches_total",
        "counter",
        "Batches committed by other replicas of a shared store, handed to this process's streams.",
        &one(gauges.relayed),
    );
    family(
        &mut out,
        "gateway_nonce_cache_entries",
        "gauge",
        "Nonces in this process's memory front of replay protection (the store keeps them all).",
        &one(gauges.nonces),
    );
    family(
        &mut out,
        "gateway_connections",
        "gauge",
        "Client connections being served (at most GATEWAY_MAX_CONNECTIONS).",
        &one(get(&m.connections_open)),
    );
    family(
        &mut out,
        "gateway_connections_refused_total",
        "counter",
        "Connections that came past the connection cap (answered 503 and closed).",
        &one(get(&m.connections_refused)),
    );

    let redactions: Vec<(String, String)> = m
        .redactions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(rule, n)| (format!("{{rule=\"{rule}\"}}"), n.to_string()))
        .collect();
    family(
        &mut out,
        "gateway_redactions_total",
        "counter",
        "Secrets the runners redacted, by rule, from the redactions markers ingested.",
        &redactions,
    );
    let refusals: Vec<(String, String)> = REFUSALS
        .iter()
        .zip(&m.refusals)
        .map(|(r, c)| (format!("{{reason=\"{r}\"}}"), get(c).to_string()))
        .collect();
    family(
        &mut out,
        "gateway_unauthorized_total",
        "counter",
        "Requests answered 401, by reason.",
        &refusals,
    );
    family(
        &mut out,
        "gateway_store_errors_total",
        "counter",
        "Storage calls that failed in the database.",
        &one(gauges.store_errors),
    );
    family(
        &mut out,
        "gateway_internal_errors_total",
        "counter",
        "Requests answered 500 (the cause is in the gateway's log).",
        &one(get(&m.internal_errors)),
    );

    if let Some(p) = process() {
        family(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the gateway process.",
            &one(p.rss),
        );
        family(
            &mut out,
            "process_resident_memory_max_bytes",
            "gauge",
            "Peak resident memory of the gateway process (VmHWM).",
            &one(p.hwm),
        );
        family(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of the gateway process.",
            &one(p.cpu_seconds),
        );
    }
    out
}
