//! `pipeline_bench`: how fast and how big, measured through the real binaries on loopback, each
//! figure next to its baselines from the same run.
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/pipeline_bench            # --mb 256 --runs 200 --only startup,pipeline,ingest,latency
//! ```
//!
//! * `startup`: gateway start (certificate already generated) to its first HTTPS answer; its
//!   resident memory idle; the bytes of the web UI's first load, raw and gzip-compressed.
//! * `pipeline`: a child writes `--mb` MB of mixed log text as fast as it can through the real
//!   `claude-runner` to the real gateway: MB/s from the child's first byte to the run's
//!   `finished` marker committed at the gateway, next to the same bytes piped to nothing, through
//!   the redactor alone, and appended straight into the store. Also the runner's memory.
//! * `ingest`: signed batches of 2,000 events from 4 concurrent senders, events committed per
//!   second by one gateway.
//! * `latency`: a child prints 10 timestamped lines a second through `claude-runner`; the time
//!   until each line reaches an SSE client (`GET /api/runs/:id/stream`), with 1 and `--runs` runs.
//! * `search` (not in the default set): a 1,000,000-line run ingested through signed batches,
//!   then the time until `GET /api/runs/:id/search` answers its first page of hits, right after
//!   ingest (the index still being built) and once the index has caught up.
//!
//! The child processes are this binary again (`child-flood FILE`, `child-ticks N MS`), so the
//! benchmark needs nothing but the workspace's binaries.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redact::{DEFAULT_CONFIG, Redactor, Rules};
use common::wire::{Event, EventKind, IngestBatch, RawEvent, RunStatus};
use e2e::Gateway;
use e2e::load::{self, Errors, Latencies, Target, flag, proc_stats, unix_us};
use gateway::store::{NewRun, Store};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child-flood") => return child_flood(Path::new(&args[2])),
        Some("child-ticks") => {
            return child_ticks(args[2].parse().expect("N"), args[3].parse().expect("MS"));
        }
        // The pipeline's corpus, for profiling a runner by hand: `write-corpus MB FILE`.
        Some("write-corpus") => {
            let text = corpus(args[2].parse().expect("MB"));
            return std::fs::write(&args[3], text).expect("write corpus");
        }
        Some("--help" | "-h") => {
            println!(
                "pipeline_bench [--mb 256] [--runs 200] [--only startup,pipeline,ingest,latency,search]"
            );
            return;
        }
        _ => {}
    }
    let only = args
        .windows(2)
        .find(|w| w[0] == "--only")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| "startup,pipeline,ingest,latency".into());
    let mb = flag(&args, "--mb", 256.0) as usize;
    let runs = flag(&args, "--runs", 200.0) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "pipeline_bench on {} ({} CPUs)",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for part in only.split(',') {
        match part {
            "startup" => rt.block_on(startup()),
            "pipeline" => rt.block_on(pipeline(mb)),
            "ingest" => rt.block_on(ingest()),
            "search" => rt.block_on(search()),
            "latency" => {
                rt.block_on(latency(1));
                rt.block_on(latency(runs));
            }
            other => panic!("unknown part {other:?}"),
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Copy `file` to stdout as fast as the pipe takes it.
fn child_flood(file: &Path) {
    let text = std::fs::read(file).expect("corpus");
    let mut out = std::io::stdout().lock();
    // Written in 64 KiB pieces, like a program printing a lot.
    for chunk in text.chunks(64 * 1024) {
        if out.write_all(chunk).is_err() {
            return;
        }
    }
    let _ = out.flush();
}

/// Print `n` lines, one every `ms` milliseconds, each starting with the microsecond it was printed.
fn child_ticks(n: u64, ms: u64) {
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    for i in 0..n {
        let due = start + Duration::from_millis(i * ms);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let _ = writeln!(
            out,
            "{} tick {i} of the latency benchmark, a line of ordinary length",
            unix_us()
        );
        let _ = out.flush();
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

// --- startup and footprint ---------------------------------------------------------------

async fn startup() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first start generates the CA, the certificate and the secrets.
    let first = Gateway::start(dir.path());
    let target = Target::of(&first);
    let port = first.port;
    let ui = ui_first_load(&first).await;
    drop(first);

    let http = load::client(&target);
    let mut firsts = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..7 {
        let t0 = Instant::now();
        let mut child = Command::new(e2e::bin("gateway"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.path().join("gateway-data"))
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gateway");
        loop {
            let answer = http
                .get(format!("{}/api/health", target.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "gateway did not answer"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        firsts.push(t0.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(p) = proc_stats(child.id()) {
            idle.push(mib(p.rss));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    println!("\n## start-up and footprint");
    println!(
        "  gateway start to first HTTPS answer   median {:.0} ms, best {:.0} ms (7 starts; baseline 1,440 ms → {:.0}x faster)",
        median(firsts.clone()),
        firsts.iter().cloned().fold(f64::MAX, f64::min),
        1440.0 / median(firsts)
    );
    let idle_mib = median(idle);
    println!(
        "  gateway resident memory, idle          {idle_mib:.1} MiB (baseline 82 MiB → {:.1}x less)",
        82.0 / idle_mib
    );
    println!(
        "  UI first load                          {} files, {:.1} KB raw ({:.1} KB JS), {:.1} KB gzip -9 (baseline 4,380 KB of JS → {:.0}x less JS)",
        ui.files,
        ui.raw as f64 / 1000.0,
        ui.js as f64 / 1000.0,
        ui.gzip as f64 / 1000.0,
        4_380_000.0 / ui.js as f64
    );
}

struct FirstLoad {
    files: usize,
    raw: usize,
    js: usize,
    gzip: usize,
}

/// Fetch `/` and everything it loads (`/assets/…` references and `./x.mjs` imports), and size it.
async fn ui_first_load(gw: &Gateway) -> FirstLoad {
    let http = gw.client();
    let mut queue = vec!["/".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    let mut load = FirstLoad {
        files: 0,
        raw: 0,
        js: 0,
        gzip: 0,
    };
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let resp = http
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .expect("UI request");
        if path != "/" && !resp.status().is_success() {
            // Text that merely mentions an /assets/ path (a message, a comment) loads nothing.
            continue;
        }
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let body = resp.bytes().await.expect("UI body");
        load.files += 1;
        load.raw += body.len();
        if path.ends_with(".mjs") || path.ends_with(".js") {
            load.js += body.len();
        }
        load.gzip += gzip_size(&body);
        let text = String::from_utf8_lossy(&body);
        for (i, _) in text.match_indices("/assets/") {
            let name: String = text[i + 8..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            queue.push(format!("/assets/{name}"));
        }
        for (i, _) in text.match_indices("from './") {
            let name: String = text[i + 8..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            queue.push(format!("/assets/{name}"));
        }
    }
    load
}

/// Size of `bytes` after `gzip -9` (what a compressing proxy or server would send).
fn gzip_size(bytes: &[u8]) -> usize {
    let mut gz = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = gz.stdin.take().expect("stdin");
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let mut out = Vec::new();
    gz.stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("gzip output");
    let _ = writer.join();
    let _ = gz.wait();
    out.len()
}

// --- pipeline throughput ---------------------------------------------------------------

/// A deterministic generator (xorshift) of mixed log text, like the redactor benchmark's.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn word(&mut self, out: &mut String, len: usize) {
        for _ in 0..len {
            out.push((b'a' + (self.next() % 26) as u8) as char);
        }
    }
}

/// `mb` MB of cargo, pytest, npm, stream-json and tracing lines with ANSI colour and a few secrets.
fn corpus(mb: usize) -> Vec<u8> {
    let crates = [
        "serde", "tokio", "regex", "hyper", "axum", "rustls", "clap", "tracing",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(mb * 1_000_000 + 4096);
    let mut n = 0u64;
    while text.len() < mb * 1_000_000 {
        n += 1;
        if n.is_multiple_of(20_000) {
            text.push_str("log: token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked\n");
            continue;
        }
        match rng.next() % 100 {
            0..=24 => {
                let c = crates[(rng.next() % crates.len() as u64) as usize];
                text.push_str(&format!(
                    "   Compiling {c} v1.{}.{} (/home/user/.cargo/registry/src/index.crates.io-6f17d22bba15001f/{c}-1.0.0)\n",
                    rng.next() % 40,
                    rng.next() % 10
                ));
            }
            25..=34 => text.push_str(&format!(
                "\x1b[1m\x1b[32m    Finished\x1b[0m `test` profile [unoptimized + debuginfo] target(s) in {}.{}s\n",
                rng.next() % 60,
                rng.next() % 100
            )),
            35..=49 => {
                text.push_str("tests/test_");
                rng.word(&mut text, 8);
                text.push_str(".py::test_");
                rng.word(&mut text, 12);
                text.push_str(&format!(" PASSED                     [{:>3}%]\n", rng.next() % 100));
            }
            50..=59 => {
                text.push_str("npm WARN deprecated ");
                rng.word(&mut text, 10);
                text.push_str("@2.0.3: This package is no longer supported. Please use @npmcli/fs instead\n");
            }
            60..=79 => {
                text.push_str(r#"{"type":"assistant","message":{"id":"msg_01"#);
                rng.word(&mut text, 20);
                text.push_str(r#"","role":"assistant","content":[{"type":"text","text":"I'll run the test suite to check the change in src/lib.rs."}],"usage":{"input_tokens":"#);
                text.push_str(&format!("{},\"output_tokens\":{}}}}},\"session_id\":\"1f0c\"}}\n", rng.next() % 9000, rng.next() % 900));
            }
            80..=94 => text.push_str(&format!(
                "2025-05-01T12:{:02}:{:02}.{:03}Z  INFO runner::client: sent batch seq={} events={} bytes={}\n",
                rng.next() % 60,
                rng.next() % 60,
                rng.next() % 1000,
                rng.next() % 100000,
                rng.next() % 64,
                rng.next() % 65536
            )),
            _ => {
                text.push_str("test ");
                rng.word(&mut text, 6);
                text.push_str("::tests::");
                rng.word(&mut text, 14);
                text.push_str(" ... ok\n");
            }
        }
    }
    text.into_bytes()
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

async fn pipeline(mb: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = corpus(mb);
    let file = dir.path().join("corpus.log");
    std::fs::write(&file, &text).expect("write corpus");
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    let me = std::env::current_exe().expect("own path");

    // Baseline 1: the same child, its pipe read and thrown away.
    let t0 = Instant::now();
    let mut child = Command::new(&me)
        .args(["child-flood"])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("child");
    let mut pipe = child.stdout.take().expect("pipe");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        got += n;
    }
    let _ = child.wait();
    let pipe_s = t0.elapsed().as_secs_f64();
    assert_eq!(got, text.len());

    // Baseline 2: the redactor alone, the runner's rules, one core.
    let rules = Arc::new(
        Rules::from_config(
            DEFAULT_CONFIG,
            &BTreeMap::new(),
            vec!["bench-run-token-0123456789".into()],
        )
        .expect("rules"),
    );
    let t0 = Instant::now();
    let mut redactor = Redactor::new(rules);
    let mut out = Vec::with_capacity(128 * 1024);
    let mut redacted = 0;
    for chunk in text.chunks(64 * 1024) {
        out.clear();
        redactor.push(chunk, &mut out);
        redacted += out.len();
    }
    out.clear();
    redactor.finish(&mut out);
    let redact_s = t0.elapsed().as_secs_f64();
    std::hint::black_box(redacted);

    // Baseline 3: the lines appended straight into the store, in batches of 2,000.
    let store =
        gateway::store::sqlite::SqliteStore::open(&dir.path().join("direct.db")).expect("store");
    store
        .create_run(NewRun {
            id: "r_direct".into(),
            name: None,
            prompt: None,
            cwd: None,
            key: [7; 32],
            created_at: 0,
        })
        .await
        .expect("run");
    let events: Vec<RawEvent> = String::from_utf8_lossy(&text)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            Event {
                sequence: i as u64 + 1,
                kind: EventKind::Stdout,
                data: json!(l),
                ts: 0,
            }
            .to_raw()
        })
        .collect();
    let t0 = Instant::now();
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        let batch: Vec<RawEvent> = it.by_ref().take(2000).collect();
        store
            .append_events("r_direct".into(), batch.into(), None)
            .await
            .expect("append");
    }
    let store_s = t0.elapsed().as_secs_f64();
    drop(store);

    // End to end: the real runner and gateway.
    let gw = Gateway::start(dir.path());
    let target = Target::of(&gw);
    let http = load::client(&target);
    let (run_id, token) = admin_run(&http, &target).await;
    let started_file = dir.path().join("child.started");
    let done_file = dir.path().join("child.done");
    let cmd = format!("{} child-flood {}", me.display(), file.display());
    // `done` marks the end of the child's output: memory sampled until then is the runner's
    // while streaming; the `claude.log` upload comes after.
    let wrapper = e2e::script(
        &dir.path().join("flood.sh"),
        &format!(
            "date +%s%6N > {}\n{cmd}\ntouch {}\n",
            started_file.display(),
            done_file.display()
        ),
    );
    let t0 = Instant::now();
    let mut runner = e2e::runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args([
            "start", "--quiet", "--run-id", &run_id, "--token", &token, "--cmd", "bench",
        ])
        .env("CLAUDE_COMMAND", &wrapper)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("runner.stderr")).expect("stderr file"))
        .spawn()
        .expect("runner");
    let pid = runner.id();
    let mut peak_streaming = 0;
    let mut hwm_total = 0;
    let mut exited: Option<Instant> = None;
    let runner_said =
        || std::fs::read_to_string(dir.path().join("runner.stderr")).unwrap_or_default();
    let end_us = loop {
        if let Some(p) = proc_stats(pid) {
            if !done_file.exists() {
                peak_streaming = peak_streaming.max(p.rss);
            }
            hwm_total = p.hwm;
        }
        let run = run_json(&http, &target, &run_id).await;
        if run["status"]
            .as_str()
            .is_some_and(|s| RunStatus::parse(s).is_some_and(RunStatus::is_terminal))
        {
            break unix_us();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "pipeline did not finish; the runner said:\n{}",
            runner_said()
        );
        // A runner that is gone leaves a run that will not finish on its own.
        if exited.is_none() && runner.try_wait().ok().flatten().is_some() {
            exited = Some(Instant::now());
        }
        if let Some(at) = exited {
            assert!(
                at.elapsed() < Duration::from_secs(10),
                "the runner exited ({:?}) but the run is {}; the runner said:\n{}",
                runner.try_wait().ok().flatten(),
                run["status"],
                runner_said()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    while runner.try_wait().ok().flatten().is_none() {
        if let Some(p) = proc_stats(pid) {
            hwm_total = p.hwm;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let start_us: u64 = std::fs::read_to_string(&started_file)
        .expect("child start time")
        .trim()
        .parse()
        .expect("µs");
    let e2e_s = (end_us - start_us) as f64 / 1e6;
    let stored = run_json(&http, &target, &run_id).await;

    let n = text.len();
    println!(
        "\n## pipeline throughput: {:.0} MB, {lines} lines of mixed log text",
        n as f64 / 1e6
    );
    println!(
        "  child → pipe → nothing                 {:>7.0} MB/s",
        mbps(n, pipe_s)
    );
    println!(
        "  redactor alone (one core)              {:>7.0} MB/s",
        mbps(n, redact_s)
    );
    println!(
        "  store alone (append, 2,000 per batch)  {:>7.0} MB/s",
        mbps(n, store_s)
    );
    println!(
        "  end to end: child → runner → gateway   {:>7.0} MB/s ({:.1} s; run {} with {} events, delivery {})",
        mbps(n, e2e_s),
        e2e_s,
        stored["status"],
        stored["last_sequence"],
        stored["delivery"]
    );
    println!(
        "  runner resident memory                 {:.1} MiB while streaming (peak sampled), {:.1} MiB peak over its life (VmHWM, claude.log upload included)",
        mib(peak_streaming),
        mib(hwm_total)
    );
}

/// Create a run through the admin API: `(run id, token)`.
/// `GET /api/runs/:id` as the admin.
async fn run_json(http: &reqwest::Client, target: &Target, run_id: &str) -> serde_json::Value {
    http.get(format!("{}/api/runs/{run_id}", target.url))
        .bearer_auth(&target.admin_token)
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("run json")
}

/// The gateway's `gateway_ingest_duration_seconds` histogram, summed up: batches, mean, and the
/// bucket bound under which 99 % of them were handled (verify, order wait, store, acknowledge).
async fn ingest_histogram(http: &reqwest::Client, target: &Target) -> String {
    let text = match http
        .get(format!("{}/metrics", target.url))
        .bearer_auth(&target.admin_token)
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => return format!("unread ({e})"),
    };
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let mut buckets = Vec::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("gateway_ingest_duration_seconds_bucket{le=\"") {
            let le = rest.split('"').next().unwrap_or("");
            buckets.push((le.to_string(), value(line).unwrap_or(0.0)));
        } else if line.starts_with("gateway_ingest_duration_seconds_sum ") {
            sum = value(line).unwrap_or(0.0);
        } else if line.starts_with("gateway_ingest_duration_seconds_count ") {
            count = value(line).unwrap_or(0.0);
        }
    }
    if count == 0.0 {
        return "no batches".into();
    }
    let p99 = buckets
        .iter()
        .find(|(_, n)| *n >= 0.99 * count)
        .map_or("?".to_string(), |(le, _)| le.clone());
    format!(
        "{count:.0} batches, mean {:.1} ms, 99 % within {p99} s",
        1000.0 * sum / count
    )
}

async fn admin_run(http: &reqwest::Client, target: &Target) -> (String, String) {
    let created: serde_json::Value = http
        .post(format!("{}/api/runs", target.url))
        .bearer_auth(&target.admin_token)
        .send()
        .await
        .expect("create run")
        .json()
        .await
        .expect("created");
    (
        created["run_id"].as_str().expect("run_id").to_string(),
        created["token"].as_str().expect("token").to_string(),
    )
}

// --- ingest capacity -----------------------------------------------------------------------

async fn ingest() {
    const SENDERS: usize = 4;
    const BATCHES: u64 = 100;
    const PER_BATCH: u64 = 2000;
    let dir = tempfile::tempdir().expect("temp dir");
    let gw = Gateway::start(dir.path());
    let target = Target::of(&gw);
    let http = load::client(&target);
    let mut work = Vec::new();
    for i in 0..SENDERS {
        let (run_id, key) = load::create_run(&http, &target, &format!("ingest {i}")).await;
        // Bodies are built before the clock starts: this measures the gateway, not the client.
        let bodies: Vec<Vec<u8>> = (0..BATCHES)
            .map(|b| {
                let events = (0..PER_BATCH)
                    .map(|k| {
                        let seq = b * PER_BATCH + k + 1;
                        Event {
                            sequence: seq,
                            kind: EventKind::Stdout,
                            data: json!(format!("   Compiling crate{i} v1.{seq}.0 (/home/user/src/crate{k}) some ordinary output")),
                            ts: 0,
                        }
                    })
                    .collect();
                serde_json::to_vec(&IngestBatch { run_id: run_id.clone(), events }).expect("json")
            })
            .collect();
        work.push((run_id, key, bodies));
    }
    let bytes: usize = work.iter().flat_map(|w| &w.2).map(Vec::len).sum();
    let errors = Arc::new(Errors::default());
    let cpu0 = proc_stats(gw.pid()).expect("proc").cpu_seconds;
    let t0 = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(run_id, key, bodies)| {
            let http = load::client(&target);
            let url = target.url.clone();
            let errors = errors.clone();
            tokio::spawn(async move {
                for body in bodies {
                    let resp =
                        load::signed(&http, &url, "/api/ingest/event", &run_id, &key, body).await;
                    match resp {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => errors.add(format!("ingest {}", r.status())),
                        Err(e) => errors.add(format!("ingest: {e}")),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("sender");
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = proc_stats(gw.pid()).expect("proc").cpu_seconds - cpu0;
    let events = SENDERS as u64 * BATCHES * PER_BATCH;
    println!(
        "\n## ingest capacity: {SENDERS} senders × {BATCHES} signed batches of {PER_BATCH} events"
    );
    println!(
        "  {:.0} events/s committed ({events} events, {:.0} MB of JSON, in {secs:.2} s; gateway CPU {:.0} % of one core); errors {:?}",
        events as f64 / secs,
        bytes as f64 / 1e6,
        100.0 * cpu / secs,
        errors.0.lock().unwrap()
    );
}

// --- search ----------------------------------------------------------------------------------

/// How far the gateway's search index is: indexed lines of the run, read from its database.
fn indexed_lines(db: &Path, run_id: &str) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the gateway's database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.query_row(
        "SELECT indexed_seq FROM runs WHERE id = ?1",
        [run_id],
        |r| r.get(0),
    )
    .expect("indexed_seq")
}

async fn search() {
    const LINES: u64 = 1_000_000;
    const PER_BATCH: u64 = 5_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let gw = Gateway::start(dir.path());
    let db = dir.path().join("gateway-data").join("gateway.db");
    let target = Target::of(&gw);
    let http = load::client(&target);
    let (run_id, key) = load::create_run(&http, &target, "a million lines").await;
    // One rare line near the end; a common word on every line.
    let text = |seq: u64| {
        if seq == LINES - 1_000 {
            "error[E0425]: cannot find value `needle_xyz` in this scope".to_string()
        } else {
            format!(
                "   Compiling crate{} v1.{seq}.0 (/home/user/src/crate{}) some ordinary output",
                seq % 97,
                seq % 89
            )
        }
    };
    let t0 = Instant::now();
    for b in 0..LINES / PER_BATCH {
        let events = (b * PER_BATCH + 1..=(b + 1) * PER_BATCH)
            .map(|seq| Event {
                sequence: seq,
                kind: EventKind::Stdout,
                data: json!(text(seq)),
                ts: 0,
            })
            .collect();
        let body = serde_json::to_vec(&IngestBatch {
            run_id: run_id.clone(),
            events,
        })
        .expect("json");
        let resp = load::signed(&http, &target.url, "/api/ingest/event", &run_id, &key, body)
            .await
            .expect("ingest");
        assert!(resp.status().is_success(), "ingest {}", resp.status());
    }
    let ingest_s = t0.elapsed().as_secs_f64();
    let ask = |q: &'static str| {
        let http = http.clone();
        let url = format!(
            "{}/api/runs/{run_id}/search?q={q}&after=0&limit=200",
            target.url
        );
        let token = target.admin_token.clone();
        async move {
            let t = Instant::now();
            let resp = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("search");
            assert!(resp.status().is_success(), "search {}", resp.status());
            let body: serde_json::Value = resp.json().await.expect("hits");
            let hits = body["hits"].as_array().map_or(0, Vec::len);
            (t.elapsed().as_secs_f64() * 1e3, hits)
        }
    };
    println!("\n## search: a {LINES}-line run (ingested in {ingest_s:.1} s)");
    // What compression does to the largest answers the page asks for.
    for path in [
        format!("/api/runs/{run_id}/events?after=0&limit=5000"),
        format!("/api/runs/{run_id}/search?q=crate42&limit=1000"),
    ] {
        let mut sizes = Vec::new();
        for gzip in [false, true] {
            let mut req = http
                .get(format!("{}{path}", target.url))
                .bearer_auth(&target.admin_token);
            if gzip {
                req = req.header("accept-encoding", "gzip");
            }
            let resp = req.send().await.expect("page");
            let enc = resp
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap_or("").to_string());
            sizes.push((resp.bytes().await.expect("body").len(), enc));
        }
        println!(
            "  {path}: {} bytes as JSON, {} bytes with Accept-Encoding: gzip ({:?}, {:.1}× smaller)",
            sizes[0].0,
            sizes[1].0,
            sizes[1].1,
            sizes[0].0 as f64 / sizes[1].0 as f64
        );
    }
    let at = indexed_lines(&db, &run_id);
    let (ms, hits) = ask("E0425").await;
    println!(
        "  right after ingest ({at} of {LINES} lines indexed): rare line near the end {ms:.0} ms ({hits} hit)"
    );
    let t1 = Instant::now();
    while indexed_lines(&db, &run_id) < LINES {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  the index caught up {:.1} s after the last batch was acknowledged",
        t1.elapsed().as_secs_f64()
    );
    for (what, q) in [
        ("rare line near the end", "E0425"),
        ("first page of a common word", "crate42%20v1"),
        ("a rare word, inside a word", "eedle_x"),
        ("two characters (not narrowed: every line read)", "E0"),
    ] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..5 {
            let (ms, hits) = ask(q).await;
            times.push(ms);
            found = hits;
        }
        println!(
            "  indexed, {what} ({q:?}): median {:.1} ms, best {:.1} ms ({found} hits)",
            median(times.clone()),
            times.iter().cloned().fold(f64::MAX, f64::min)
        );
    }
}

// --- latency ---------------------------------------------------------------------------------

async fn latency(runs: usize) {
    const LINES: u64 = 100;
    const EVERY_MS: u64 = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let gw = Gateway::start(dir.path());
    let target = Target::of(&gw);
    let make = load::clients(&target);
    let http = make();
    let errors = Arc::new(Errors::default());
    let me = std::env::current_exe().expect("own path");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut viewers = Vec::new();
    let mut children = Vec::new();
    let mut made = Vec::new();
    for _ in 0..runs {
        made.push(admin_run(&http, &target).await);
    }
    for (run_id, _) in &made {
        // The viewer keeps its own client (its own connection) for as long as it watches.
        let client = make();
        let resp = load::open_stream(&client, &target, run_id).await;
        let errors = errors.clone();
        viewers.push(tokio::spawn(async move {
            let seen = load::view(resp, deadline, errors).await;
            drop(client);
            seen
        }));
    }
    let mut runner_rss = 0;
    // CPU of the runners (and of their children, which they wait for) once this process has
    // waited for them, and of the gateway: steadier figures than the latency to compare builds.
    let children_cpu = || {
        use nix::sys::resource::{UsageWho, getrusage};
        getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
            let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            s(u.user_time()) + s(u.system_time())
        })
    };
    let cpu_before = (
        children_cpu(),
        proc_stats(gw.pid()).map_or(0.0, |p| p.cpu_seconds),
    );
    for (i, (run_id, token)) in made.iter().enumerate() {
        let cwd = dir.path().join(format!("r{i}"));
        std::fs::create_dir_all(&cwd).expect("runner dir");
        children.push(
            e2e::runner(&cwd)
                .arg("--env-file")
                .arg(&gw.runner_env)
                .args([
                    "start", "--quiet", "--run-id", run_id, "--token", token, "--cmd", "bench",
                ])
                .env(
                    "CLAUDE_COMMAND",
                    format!("{} child-ticks {LINES} {EVERY_MS}", me.display()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("runner"),
        );
    }
    // Lines printed from here on come after every runner has started (the start-up burst: 200
    // process starts, TLS handshakes and rule compilations queued on 2 cores).
    let steady_from = unix_us() + 2_000_000;
    loop {
        let mut alive = 0;
        for c in &mut children {
            if c.try_wait().ok().flatten().is_none() {
                alive += 1;
                if let Some(p) = proc_stats(c.id()) {
                    runner_rss = runner_rss.max(p.rss);
                }
            }
        }
        if alive == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut samples = Vec::new();
    let mut steady = Vec::new();
    let mut framed = Vec::new();
    // Latencies by tenth of each run's lines: a figure that grows from the first tenth to the
    // last is a backlog (the machine cannot keep up), a flat one is a cost per line.
    let mut tenths: Vec<Vec<u64>> = vec![Vec::new(); 10];
    let mut short = 0;
    for v in viewers {
        let seen = v.await.expect("viewer");
        for (i, &l) in seen.latencies.iter().enumerate() {
            tenths[(i * 10 / LINES as usize).min(9)].push(l);
        }
        framed.extend_from_slice(&seen.framed);
        if !seen.ended || seen.latencies.len() as u64 != LINES {
            short += 1;
        }
        steady.extend(
            seen.latencies
                .iter()
                .zip(&seen.printed)
                .filter(|&(_, &at)| at >= steady_from)
                .map(|(&l, _)| l),
        );
        samples.extend(seen.latencies);
    }
    let runners_cpu = children_cpu() - cpu_before.0;
    let gateway_cpu = proc_stats(gw.pid()).map_or(0.0, |p| p.cpu_seconds) - cpu_before.1;
    let ingest = ingest_histogram(&http, &target).await;
    let lat = Latencies::from_unsorted(samples);
    let steady = Latencies::from_unsorted(steady);
    let gw_hwm = proc_stats(gw.pid()).map_or(0, |p| p.hwm);
    println!(
        "\n## latency, line printed by the child → SSE client: {runs} run(s), {LINES} lines at {} lines/s each",
        1000 / EVERY_MS
    );
    println!("  all lines: {}", lat.summary());
    println!(
        "  lines printed from 2 s after the last runner was started: {}",
        steady.summary()
    );
    let by_tenth: Vec<String> = tenths
        .into_iter()
        .map(|t| format!("{:.0}", Latencies::from_unsorted(t).ms(0.99)))
        .collect();
    println!(
        "  p99 by tenth of each run's lines, ms: {}",
        by_tenth.join(" · ")
    );
    println!(
        "  of which child → runner (the event's ts): {}",
        Latencies::from_unsorted(framed).summary()
    );
    println!("  gateway ingest handling (its /metrics histogram): {ingest}");
    println!(
        "  CPU while the runs ran: runners and their children {runners_cpu:.1} s ({:.2} ms a line), gateway {gateway_cpu:.1} s",
        1000.0 * runners_cpu / (runs as f64 * LINES as f64)
    );
    println!(
        "  viewers short of their stream: {short}; errors {:?}; runner RSS peak {:.1} MiB; gateway VmHWM {:.1} MiB",
        errors.0.lock().unwrap(),
        mib(runner_rss),
        mib(gw_hwm)
    );
}
