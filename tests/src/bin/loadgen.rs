//! `loadgen`: many simulated runners and SSE viewers against a fresh release gateway on
//! loopback; prints errors, lost events, latency, and the gateway's CPU and memory.
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/loadgen --runners 1000 --rate 10 --seconds 120 --viewers 200
//! # 5,000 connected runners: 1,000 streaming, 4,000 idle, all long-polling for commands
//! ulimit -n 20000; target/release/loadgen --runners 1000 --idle 4000 --long-poll --viewers 200
//! ```
//!
//! It starts `gateway` from beside itself in a temporary directory, so it measures nothing but
//! that process, with a connection cap (`--max-connections`) above what the simulation opens.
//! Exit status 1 if any error or lost event was seen.

use std::time::{Duration, Instant};

use e2e::Gateway;
use e2e::load::{LoadConfig, Target, flag, proc_stats, run};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "loadgen [--runners 1000] [--rate 10] [--seconds 120] [--viewers 200] [--line-bytes 100] \
             [--idle 0] [--long-poll]"
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
    let dir = tempfile::tempdir().expect("temp dir");
    // Room for every simulated client (one connection each) and a few more.
    let cap = (cfg.runners + cfg.idle + cfg.viewers + 100)
        .max(1000)
        .to_string();
    let gateway = Gateway::start_with(dir.path(), &["--max-connections", &cap], None);
    let pid = gateway.pid();
    // Let the first-start work (certificates, secrets) settle before the idle reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = proc_stats(pid).expect("gateway /proc");

    // Sample the gateway's resident memory every 250 ms while the load runs.
    let sampler = tokio::spawn(async move {
        let mut peak_rss = 0;
        loop {
            match proc_stats(pid) {
                Some(p) => peak_rss = peak_rss.max(p.rss),
                None => return peak_rss,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let own_before = proc_stats(std::process::id()).map_or(0.0, |p| p.cpu_seconds);
    let started = Instant::now();
    let report = run(&Target::of(&gateway), &cfg).await;
    let own = proc_stats(std::process::id()).map_or(0.0, |p| p.cpu_seconds) - own_before;
    let wall = started.elapsed();
    let after = proc_stats(pid).expect("gateway /proc");
    sampler.abort();
    let cpu = after.cpu_seconds - idle.cpu_seconds;

    println!(
        "loadgen: {} runners x {} lines/s for {:?}, {} idle runners, {} SSE viewers, \
         long polls: {}, gateway on loopback",
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
    println!(
        "  events sent       {} in {} batches ({:.0} events/s over {:.1} s)",
        report.events_sent,
        report.batches,
        report.events_sent as f64 / report.elapsed.as_secs_f64(),
        report.elapsed.as_secs_f64()
    );
    println!(
        "  errors            {} {:?}",
        report.error_count(),
        report.errors
    );
    println!(
        "  lost events       {} (runs not complete: {}, viewers short: {})",
        report.lost_events, report.incomplete_runs, report.viewers_short
    );
    println!("  latency to SSE    {}", report.latency.summary());
    println!(
        "  connections       {} sockets at most ({} file descriptors); {} command polls answered",
        report.peak_sockets, report.peak_fds, report.polls
    );
    println!(
        "  gateway CPU, load {:.1} s over {:.1} s = {:.0} % of one core",
        report.gateway_cpu,
        report.elapsed.as_secs_f64(),
        100.0 * report.gateway_cpu / report.elapsed.as_secs_f64()
    );
    println!(
        "  gateway CPU, all  {:.1} s over {:.1} s = {:.0} % of one core (runs created, connected)",
        cpu,
        wall.as_secs_f64(),
        100.0 * cpu / wall.as_secs_f64()
    );
    println!(
        "  loadgen's own CPU {:.1} s = {:.0} % of one core; machine load average {}",
        own,
        100.0 * own / wall.as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  gateway memory    idle {:.1} MiB, peak {:.1} MiB (VmHWM), {:.1} MiB at the end",
        idle.rss as f64 / 1048576.0,
        after.hwm as f64 / 1048576.0,
        after.rss as f64 / 1048576.0
    );
    let failed = report.error_count() > 0 || report.lost_events > 0 || report.incomplete_runs > 0;
    // `exit` skips destructors: stop the gateway and remove its directory first.
    drop(gateway);
    drop(dir);
    if failed {
        std::process::exit(1);
    }
}
