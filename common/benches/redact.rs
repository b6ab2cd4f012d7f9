//! Redactor throughput on one core over ≥ 100 MB of generated mixed log text, next to a plain
//! copy of the same bytes. Run with `cargo bench -p common --bench redact`.

use common::redact::{DEFAULT_CONFIG, Redactor, Rules};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const TARGET: usize = 128 << 20;
const CHUNK: usize = 64 << 10;

/// A small deterministic generator (xorshift), so every run measures the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn word(&mut self, out: &mut String, len: usize) {
        for _ in 0..len {
            out.push((b'a' + (self.next() % 26) as u8) as char);
        }
    }
}

const CRATES: &[&str] = &[
    "serde", "tokio", "regex", "hyper", "axum", "rustls", "clap", "tracing", "proptest", "sha2",
];
const SECRETS: &[&str] = &[
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "password=hunter2222",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig123456789",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
    "the run token is bench-run-token-123456",
];

fn line(rng: &mut Rng, out: &mut String) {
    match rng.next() % 100 {
        0..=24 => {
            let c = rng.pick(CRATES);
            out.push_str(&format!(
                "   Compiling {c} v1.{}.{} (/home/user/.cargo/registry/src/index.crates.io-6f17d22bba15001f/{c}-1.0.0)\n",
                rng.next() % 40,
                rng.next() % 10
            ));
        }
        25..=34 => out.push_str(&format!(
            "\x1b[1m\x1b[32m    Finished\x1b[0m `test` profile [unoptimized + debuginfo] target(s) in {}.{}s\n",
            rng.next() % 60,
            rng.next() % 100
        )),
        35..=49 => {
            out.push_str("tests/test_");
            rng.word(out, 8);
            out.push_str(".py::test_");
            rng.word(out, 12);
            out.push_str(&format!(" PASSED                     [{:>3}%]\n", rng.next() % 100));
        }
        50..=59 => {
            out.push_str("npm WARN deprecated ");
            rng.word(out, 10);
            out.push_str("@2.0.3: This package is no longer supported. Please use @npmcli/fs instead\n");
        }
        60..=79 => {
            out.push_str(r#"{"type":"assistant","message":{"id":"msg_01"#);
            rng.word(out, 20);
            out.push_str(r#"","role":"assistant","content":[{"type":"text","text":"I'll run the test suite to check the change in src/lib.rs.\n"}],"usage":{"input_tokens":"#);
            out.push_str(&format!("{},\"output_tokens\":{}}}}},\"session_id\":\"1f0c\"}}\n", rng.next() % 9000, rng.next() % 900));
        }
        80..=94 => {
            out.push_str(&format!(
                "2025-05-01T12:{:02}:{:02}.{:03}Z  INFO runner::client: sent batch seq={} events={} bytes={}\n",
                rng.next() % 60,
                rng.next() % 60,
                rng.next() % 1000,
                rng.next() % 100000,
                rng.next() % 64,
                rng.next() % 65536
            ));
        }
        _ => {
            out.push_str("test ");
            rng.word(out, 6);
            out.push_str("::tests::");
            rng.word(out, 14);
            out.push_str(" ... ok\n");
        }
    }
}

fn generate() -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(TARGET + 4096);
    let mut n = 0u64;
    while text.len() < TARGET {
        n += 1;
        if n.is_multiple_of(20_000) {
            text.push_str("log: ");
            text.push_str(rng.pick(SECRETS));
            text.push('\n');
        } else {
            line(&mut rng, &mut text);
        }
    }
    text.into_bytes()
}

/// One redactor over `text` in [`CHUNK`]s, into `out`; the redactor, for its counts.
fn redact_once(rules: &Arc<Rules>, text: &[u8], out: &mut Vec<u8>) -> Redactor {
    let mut r = Redactor::new(Arc::clone(rules));
    for chunk in text.chunks(CHUNK) {
        r.push(black_box(chunk), out);
    }
    r.finish(out);
    black_box(&out);
    r
}

/// The least CPU time of three [`redact_once`] runs.
fn best_cpu_of_three(rules: &Arc<Rules>, text: &[u8], out: &mut Vec<u8>) -> f64 {
    (0..3)
        .map(|_| {
            out.clear();
            let c = cpu_secs();
            redact_once(rules, text, out);
            cpu_secs() - c
        })
        .fold(f64::MAX, f64::min)
}

/// `text` as Claude's stream-json carries a tool's output: one JSON string a line, 4 MiB of the
/// text in each.
fn stream_json_lines(text: &[u8]) -> Vec<u8> {
    let mut long = Vec::with_capacity(text.len() + text.len() / 8);
    for piece in text.chunks(4 << 20) {
        let body = serde_json::to_string(&String::from_utf8_lossy(piece)).expect("json");
        long.extend_from_slice(
            br#"{"type":"user","message":{"content":[{"type":"tool_result","content":"#,
        );
        long.extend_from_slice(body.as_bytes());
        long.extend_from_slice(b"}]}}\n");
    }
    long
}

/// Seconds this thread has spent on a CPU (`/proc/thread-self/schedstat`, nanoseconds): on a
/// shared machine wall time counts other processes' turns, CPU time does not.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() {
    let text = generate();
    let env = BTreeMap::from([
        ("FOO_TOKEN".to_string(), "foo-token-value-1234".to_string()),
        (
            "DB_PASSWORD".to_string(),
            "correct horse battery".to_string(),
        ),
        ("HOME".to_string(), "/home/user".to_string()),
    ]);
    let known = vec![
        "bench-run-token-123456".to_string(),
        "hmac-secret-0123456789".to_string(),
    ];
    if std::env::var_os("DUMP").is_some() {
        std::fs::write("/tmp/bench_text.log", &text).unwrap();
    }
    let rules = Arc::new(Rules::from_config(DEFAULT_CONFIG, &env, known).expect("rules"));
    if std::env::var_os("REDACT_LONG").is_some() {
        redact_once(&rules, &stream_json_lines(&text), &mut Vec::new());
        return;
    }
    if let Ok(times) = std::env::var("REDACT_ONLY") {
        // For a profiler: the redactor alone, ten times over (or as many as the variable says).
        let mut out = Vec::with_capacity(text.len() + 1024);
        for _ in 0..times.parse().unwrap_or(10) {
            out.clear();
            redact_once(&rules, &text, &mut out);
        }
        return;
    }

    let mut out = Vec::with_capacity(text.len() + 1024);
    let mut best_copy = f64::MAX;
    let mut best_red = f64::MAX;
    let (mut cpu_copy, mut cpu_red) = (f64::MAX, f64::MAX);
    let mut counts = BTreeMap::new();
    for _ in 0..3 {
        out.clear();
        let (t, c) = (Instant::now(), cpu_secs());
        for chunk in text.chunks(CHUNK) {
            out.extend_from_slice(black_box(chunk));
        }
        black_box(&out);
        best_copy = best_copy.min(t.elapsed().as_secs_f64());
        cpu_copy = cpu_copy.min(cpu_secs() - c);

        out.clear();
        let (t, c) = (Instant::now(), cpu_secs());
        let r = redact_once(&rules, &text, &mut out);
        best_red = best_red.min(t.elapsed().as_secs_f64());
        cpu_red = cpu_red.min(cpu_secs() - c);
        counts = r.counts().clone();
    }
    // A run with many secrets to look for: fifty known values (an environment with many
    // secrets, or values learned from context over a long run) make hundreds of forms.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let many: Vec<String> = (0..50)
        .map(|_| {
            let mut v = String::from("v-");
            rng.word(&mut v, 22);
            v
        })
        .collect();
    let rules_many = Arc::new(Rules::from_config(DEFAULT_CONFIG, &env, many).expect("rules"));
    let cpu_many = best_cpu_of_three(&rules_many, &text, &mut out);
    let long = stream_json_lines(&text);
    let cpu_long = best_cpu_of_three(&rules, &long, &mut out);

    let c = cpu_secs();
    let hits = rules.keyword_literal_hits(&text);
    println!(
        "keyword pass alone: {:>8.0} MB per CPU second, {hits} literal hits",
        mb_per_s(text.len(), cpu_secs() - c)
    );
    let c = cpu_secs();
    let (runs, anchored) = rules.run_pass(&text);
    println!(
        "run pass alone:     {:>8.0} MB per CPU second, {runs} runs, {anchored} near an anchor",
        mb_per_s(text.len(), cpu_secs() - c)
    );
    let c = cpu_secs();
    let (texts, escapes) = rules.encoded_pass(&text);
    println!(
        "encoded pass alone: {:>8.0} MB per CPU second, {texts} runs decode to text, {escapes} percent escapes",
        mb_per_s(text.len(), cpu_secs() - c)
    );
    let mb = text.len() as f64 / 1e6;
    println!("input: {mb:.0} MB of mixed log text, {CHUNK} B chunks, best of 3, one core");
    println!(
        "copy:     {:>8.0} MB/s wall, {:>8.0} MB per CPU second",
        mb_per_s(text.len(), best_copy),
        mb_per_s(text.len(), cpu_copy)
    );
    println!(
        "redactor: {:>8.0} MB/s wall, {:>8.0} MB per CPU second",
        mb_per_s(text.len(), best_red),
        mb_per_s(text.len(), cpu_red)
    );
    println!(
        "redactor, 50 known values: {:>8.0} MB per CPU second",
        mb_per_s(text.len(), cpu_many)
    );
    println!(
        "redactor, the text as 4 MiB JSON lines: {:>8.0} MB per CPU second",
        mb_per_s(long.len(), cpu_long)
    );
    println!("hits: {counts:?}");
}
