//! `loadgen`: many simulated runners and SSE viewers against fresh release gateways on
//! loopback; prints errors, lost events, latency, and the CPU and memory of every process.
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/loadgen --runners 1000 --rate 10 --seconds 120 --viewers 200
//! target/release/loadgen --setups sqlite,postgres,replicas --runners 200 --seconds 30
//! # 5,000 connected runners: 1,000 streaming, 4,000 idle, all long-polling for commands
//! ulimit -n 20000; target/release/loadgen --runners 1000 --idle 4000 --long-poll --viewers 200
//! ```
//!
//! The `sqlite` setup's gateway gets a connection cap (`--max-connections`) above what the
//! simulation opens; it reports the gateway's peak sockets and descriptors, the command polls
//! answered, the gateway's CPU during the load alone, loadgen's own CPU and the load average.
//!
//! Setups, run one after the other with the same load: `sqlite` (one gateway on its embedded
//! database, the default), `postgres` (one gateway on a fresh PostgreSQL database of the server
//! `GATEWAY_TEST_POSTGRES` names, default 127.0.0.1:5432), `replicas` (two gateways on one
//! fresh PostgreSQL database behind HAProxy, round robin, TLS passed through). It starts
//! `gateway` from beside itself in temporary directories. The PostgreSQL figures are those of
//! the server's backends serving the benchmark's database (not its shared background
//! processes); their memory is private memory (`RssAnon`) at the start and at the end. Exit status 1 if any error or lost event was seen.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::Gateway;
use e2e::haproxy::Haproxy;
use e2e::load::{LoadConfig, LoadReport, Target, flag, proc_stats, run};
use e2e::postgres::Database;

const HMAC: &str = "loadgen-hmac-secret-of-the-replicas";
const ADMIN: &str = "loadgen-admin-token-of-the-replicas";

/// CPU seconds and memory of one process (or group of processes) over a run.
struct Usage {
    name: String,
    cpu: f64,
    idle_rss: u64,
    peak: u64,
}

/// One setup's run.
struct Measured {
    setup: String,
    report: LoadReport,
    wall: Duration,
    usage: Vec<Usage>,
    /// loadgen's own CPU seconds over the run.
    own_cpu: f64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "loadgen [--setups sqlite,postgres,replicas] [--runners 1000] [--rate 10] \
             [--seconds 120] [--viewers 200] [--line-bytes 100] [--idle 0] [--long-poll]"
        );
        return;
    }
    let cfg = LoadConfig {
        runners: flag(&args, "--runners", 1000.0) as usize,
        lines_per_sec: flag(&args, "--rate", 10.0),
        duration: Duration::from_secs_f64(flag(&args, "--seconds", 120.0)),
        viewers: flag(&args, "--viewers", 200.0) as usize,
        line_bytes: flag(&args, "--line-bytes", 100.0) as usize,
        idle: flag(&args, "--idle", 0.0) as usize,
        long_poll: args.iter().any(|a| a == "--long-poll"),
    };
    let setups = args
        .windows(2)
        .find(|w| w[0] == "--setups")
        .map_or("sqlite".to_string(), |w| w[1].clone());
    println!(
        "loadgen: {} runners x {} lines/s for {:?}, {} idle runners, {} SSE viewers, \
         long polls: {}, on loopback",
        cfg.runners,
        cfg.lines_per_sec,
        cfg.duration,
        cfg.idle,
        cfg.viewers,
        if cfg.long_poll || cfg.idle > 0 {
            "yes"
        } else {
            "no"
        }
    );
    let mut all = Vec::new();
    let mut failed = false;
    for setup in setups.split(',').map(str::trim) {
        let measured = match setup {
            "sqlite" => sqlite(&cfg).await,
            "postgres" | "replicas" => match postgres(&cfg, setup == "replicas").await {
                Ok(m) => m,
                Err(why) => {
                    eprintln!("SKIP: setup {setup}: {why}");
                    continue;
                }
            },
            other => panic!("unknown setup {other:?}: sqlite, postgres or replicas"),
        };
        print_one(&measured);
        failed |= measured.report.error_count() > 0
            || measured.report.lost_events > 0
            || measured.report.incomplete_runs > 0;
        all.push(measured);
    }
    if all.len() > 1 {
        print_ratios(&all);
    }
    if failed {
        std::process::exit(1);
    }
}

async fn sqlite(cfg: &LoadConfig) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    // Room for every simulated client (one connection each) and a few more.
    let cap = (cfg.runners + cfg.idle + cfg.viewers + 100)
        .max(1000)
        .to_string();
    let gateway = Gateway::start_with(dir.path(), &["--max-connections", &cap], None);
    let target = Target::of(&gateway);
    measure("sqlite", cfg, &target, &[("gateway", gateway.pid())], None).await
}

async fn postgres(cfg: &LoadConfig, replicas: bool) -> Result<Measured, String> {
    let db = Database::create("loadgen").await?;
    let dir = tempfile::tempdir().expect("temp dir");
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).expect("dir");
    let a = Gateway::start_replica(&dir_a, &db.url(), HMAC, ADMIN);
    if !replicas {
        let target = Target::of(&a);
        return Ok(measure(
            "postgres",
            cfg,
            &target,
            &[("gateway", a.pid())],
            Some(&db.name),
        )
        .await);
    }
    copy_tls(&dir_a, &dir_b);
    let b = Gateway::start_replica(&dir_b, &db.url(), HMAC, ADMIN);
    let lb = Haproxy::start(dir.path(), &[a.port, b.port], "roundrobin");
    let mut target = Target::of(&a);
    let base = a.url.rsplit_once(':').map_or(a.url.as_str(), |(b, _)| b);
    target.url = format!("{base}:{}", lb.port);
    // Connections are split between the replicas: none is counted (or waited for).
    target.pid = None;
    let procs = [("gateway A", a.pid()), ("gateway B", b.pid())];
    Ok(measure("2 replicas", cfg, &target, &procs, Some(&db.name)).await)
}

/// The second replica serves the first one's certificate (the balancer passes TLS through).
fn copy_tls(from: &Path, to: &Path) {
    let to = to.join("gateway-data/tls");
    std::fs::create_dir_all(&to).expect("tls dir");
    for entry in std::fs::read_dir(from.join("gateway-data/tls")).expect("tls of a") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy tls");
    }
}

/// A process's private resident memory (`RssAnon`), in bytes: a PostgreSQL backend's RSS also
/// counts the shared buffers it touched, once per backend.
fn private_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The PostgreSQL backends serving `database` (their command line names it), as pids.
fn backends_of(database: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.starts_with("postgres: ") && c.contains(&format!(" {database} "))
                })
                .unwrap_or(false)
        })
        .collect()
}

async fn measure(
    setup: &str,
    cfg: &LoadConfig,
    target: &Target,
    procs: &[(&str, u32)],
    database: Option<&str>,
) -> Measured {
    // Let the first-start work (certificates, secrets) settle before the idle reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle: Vec<_> = procs
        .iter()
        .map(|(_, pid)| proc_stats(*pid).expect("gateway /proc"))
        .collect();
    let db_cpu_before: f64 = database.map_or(0.0, |d| {
        backends_of(d)
            .into_iter()
            .filter_map(proc_stats)
            .map(|p| p.cpu_seconds)
            .sum()
    });
    let db_rss_idle: u64 =
        database.map_or(0, |d| backends_of(d).into_iter().map(private_rss).sum());
    let own_before = proc_stats(std::process::id()).map_or(0.0, |p| p.cpu_seconds);
    let started = Instant::now();
    let report = run(target, cfg).await;
    let wall = started.elapsed();
    let own_cpu = proc_stats(std::process::id()).map_or(0.0, |p| p.cpu_seconds) - own_before;
    let mut usage = Vec::new();
    for ((name, pid), idle) in procs.iter().zip(&idle) {
        let after = proc_stats(*pid).expect("gateway /proc");
        usage.push(Usage {
            name: name.to_string(),
            cpu: after.cpu_seconds - idle.cpu_seconds,
            idle_rss: idle.rss,
            peak: after.hwm,
        });
    }
    if let Some(d) = database {
        let pids = backends_of(d);
        let now: Vec<_> = pids.iter().copied().filter_map(proc_stats).collect();
        usage.push(Usage {
            name: format!("PostgreSQL ({} backends)", now.len()),
            // Backends that lived through the run: pool connections are kept.
            cpu: now.iter().map(|p| p.cpu_seconds).sum::<f64>() - db_cpu_before,
            // Private memory only, at the end (shared buffers are the server's, counted once
            // in its configuration, not per backend).
            idle_rss: db_rss_idle,
            peak: pids.into_iter().map(private_rss).sum(),
        });
    }
    Measured {
        setup: setup.to_string(),
        report,
        wall,
        usage,
        own_cpu,
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

fn events_per_sec(m: &Measured) -> f64 {
    m.report.events_sent as f64 / m.report.elapsed.as_secs_f64()
}

fn print_one(m: &Measured) {
    let r = &m.report;
    println!("[{}]", m.setup);
    println!(
        "  events sent       {} in {} batches ({:.0} events/s over {:.1} s)",
        r.events_sent,
        r.batches,
        events_per_sec(m),
        r.elapsed.as_secs_f64()
    );
    println!("  errors            {} {:?}", r.error_count(), r.errors);
    println!(
        "  lost events       {} (runs not complete: {}, viewers short: {})",
        r.lost_events, r.incomplete_runs, r.viewers_short
    );
    println!("  latency to SSE    {}", r.latency.summary());
    println!(
        "  connections       {} sockets at most ({} file descriptors); {} command polls answered",
        r.peak_sockets, r.peak_fds, r.polls
    );
    println!(
        "  gateway CPU, load {:.1} s over {:.1} s = {:.0} % of one core (run creation excluded)",
        r.gateway_cpu,
        r.elapsed.as_secs_f64(),
        100.0 * r.gateway_cpu / r.elapsed.as_secs_f64()
    );
    // A saturated gateway answers later, so runners gather more lines into each batch: its
    // share of a core stays near what is free while the work per batch changes. The CPU per
    // batch, with the batch size beside it, is what compares two builds.
    println!(
        "  gateway CPU per batch {:.0} us, {:.2} events a batch",
        1e6 * r.gateway_cpu / r.batches.max(1) as f64,
        r.events_sent as f64 / r.batches.max(1) as f64
    );
    println!(
        "  loadgen's own CPU {:.1} s = {:.0} % of one core; machine load average {}",
        m.own_cpu,
        100.0 * m.own_cpu / m.wall.as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for u in &m.usage {
        println!(
            "  {:<26} CPU {:.1} s = {:.0} % of one core; memory idle {:.1} MiB, peak {:.1} MiB",
            u.name,
            u.cpu,
            100.0 * u.cpu / m.wall.as_secs_f64(),
            mib(u.idle_rss),
            mib(u.peak)
        );
    }
}

/// Each setup against the first: throughput, p99 latency, CPU per event.
fn print_ratios(all: &[Measured]) {
    let base = &all[0];
    let cpu_per_kev = |m: &Measured| {
        let cpu: f64 = m.usage.iter().map(|u| u.cpu).sum();
        1000.0 * cpu / m.report.events_sent.max(1) as f64
    };
    println!("ratios against [{}]:", base.setup);
    for m in all {
        println!(
            "  {:<11} events/s x{:.2}, p99 to SSE x{:.2}, CPU per 1,000 events {:.3} s (x{:.2}, every process)",
            m.setup,
            events_per_sec(m) / events_per_sec(base),
            m.report.latency.ms(0.99) / base.report.latency.ms(0.99).max(0.001),
            cpu_per_kev(m),
            cpu_per_kev(m) / cpu_per_kev(base)
        );
    }
}
