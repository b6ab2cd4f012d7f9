//! Helpers for end-to-end tests: start the real `gateway` and `claude-runner` binaries in a
//! fresh temporary directory, on `127.0.0.1:0`, and read what they stored.
//!
//! The binaries are found next to the test executable (`target/<profile>/`); the README's test
//! command builds them first (`cargo build --workspace --bins`).

pub mod agents;
pub mod claude;
pub mod fake_anthropic;
pub mod haproxy;
pub mod load;
pub mod postgres;
pub mod proxy;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wire::{Event, EventPage, RunSummary};

/// Path of a workspace binary built beside this test (`target/<profile>/deps/`) or this binary
/// (`target/<profile>/`, the benchmarks).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A running gateway in its own data directory.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    pub dir: PathBuf,
    pub url: String,
    pub port: u16,
    pub admin_token: String,
    pub ca_file: PathBuf,
    pub ca_fingerprint: String,
    pub runner_env: PathBuf,
    pub hmac_secret: String,
}

impl Gateway {
    /// Start a gateway with data in `dir` and wait for its banner.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[], None)
    }

    /// Start with extra flags; `admin_token` reuses a token printed by an earlier start.
    pub fn start_with(dir: &Path, extra: &[&str], admin_token: Option<String>) -> Self {
        Self::launch(dir, "127.0.0.1:0", extra, admin_token)
    }

    /// Start on `listen` (a port picked for a program that must know it first) with extra flags.
    pub fn start_on(dir: &Path, listen: &str, extra: &[&str]) -> Self {
        Self::launch(dir, listen, extra, None)
    }

    /// Start again on `listen` (e.g. the port an earlier start got from the OS) with the same
    /// data directory, after that one was killed.
    pub fn restart_on(dir: &Path, listen: &str, admin_token: String) -> Self {
        Self::launch(dir, listen, &[], Some(admin_token))
    }

    /// Start with extra environment variables (`ARTIFACT_STORE`, say); `admin_token` reuses a
    /// token printed by an earlier start in `dir`.
    pub fn start_env(dir: &Path, env: &[(String, String)], admin_token: Option<String>) -> Self {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self::launch_env(dir, "127.0.0.1:0", &[], &env, admin_token)
    }

    fn launch(dir: &Path, listen: &str, extra: &[&str], admin_token: Option<String>) -> Self {
        Self::launch_env(dir, listen, extra, &[], admin_token)
    }

    /// A replica of a gateway on a shared database: `DATABASE_URL`, `HMAC_SECRET` and
    /// `GATEWAY_ADMIN_TOKEN` as given, data (its TLS material) in `dir`.
    pub fn start_replica(dir: &Path, database_url: &str, hmac_secret: &str, admin: &str) -> Self {
        Self::launch_env(
            dir,
            "127.0.0.1:0",
            &[],
            &[
                ("DATABASE_URL", database_url),
                ("HMAC_SECRET", hmac_secret),
                ("GATEWAY_ADMIN_TOKEN", admin),
            ],
            Some(admin.to_string()),
        )
    }

    fn launch_env(
        dir: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        admin_token: Option<String>,
    ) -> Self {
        let data = dir.join("gateway-data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("gateway.log"))
            .expect("gateway log");
        let mut child = Command::new(bin("gateway"))
            .args(["--listen", listen, "--data-dir"])
            .arg(&data)
            .args(extra)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEWAY_LOG", "info,gateway=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn gateway");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut url, mut token, mut ca, mut fp) =
            (String::new(), admin_token, PathBuf::new(), String::new());
        loop {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => {
                    let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
                    panic!("gateway exited before it was ready; its log:\n{log}");
                }
            };
            let field = |prefix: &str| {
                line.trim()
                    .strip_prefix(prefix)
                    .map(|r| r.trim().to_string())
            };
            if let Some(rest) = line.strip_prefix("gateway listening on ") {
                url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            } else if let Some(v) = field("admin token:") {
                token = Some(v.split_whitespace().next().unwrap_or_default().to_string());
            } else if let Some(v) = field("CA certificate:") {
                ca = PathBuf::from(v);
            } else if let Some(v) = field("CA SHA-256:") {
                fp = v;
            } else if line.starts_with("start a runner") {
                break;
            }
        }
        // Keep draining stdout so the gateway never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in URL");
        let hmac_secret = match env.iter().find(|(k, _)| *k == "HMAC_SECRET") {
            Some((_, v)) => v.to_string(),
            None => std::fs::read_to_string(data.join("hmac_secret"))
                .expect("hmac_secret")
                .trim()
                .to_string(),
        };
        Self {
            child,
            dir: dir.to_path_buf(),
            url,
            port,
            admin_token: token.expect("admin token printed on first start"),
            ca_file: ca,
            ca_fingerprint: fp,
            runner_env: data.join("runner.env"),
            hmac_secret,
        }
    }

    /// The gateway's process id (to read its CPU time and memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `signal` to the gateway process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("signal the gateway");
    }

    /// Wait up to `limit` for the gateway to exit by itself; its exit status, `None` if it
    /// still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// What the gateway has logged so far (its stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gateway.log")).unwrap_or_default()
    }

    /// Kill the gateway process (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A blocking-free HTTP client that trusts this gateway's CA.
    pub fn client(&self) -> reqwest::Client {
        claude_runner::client::install_crypto_provider();
        let cfg = claude_runner::tls::client_config(&claude_runner::tls::Trust::CaFile(
            self.ca_file.clone(),
        ))
        .expect("client config");
        reqwest::Client::builder()
            .tls_backend_preconfigured(cfg)
            .no_proxy()
            .build()
            .expect("client")
    }

    /// GET an admin API path as JSON.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let resp = self
            .client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("admin request");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// Every stored event of a run, paging through the admin API.
    pub async fn events(&self, run_id: &str) -> Vec<Event> {
        let mut after = 0;
        let mut all = Vec::new();
        loop {
            let page: EventPage = serde_json::from_value(
                self.admin_get(&format!(
                    "/api/runs/{run_id}/events?after={after}&limit=1000"
                ))
                .await,
            )
            .expect("event page");
            if page.events.is_empty() {
                return all;
            }
            after = page.next_after;
            all.extend(page.events);
        }
    }

    /// Create a run through the admin API: `(run id, token)`.
    pub async fn create_run(&self, name: &str) -> (String, String) {
        let resp = self
            .client()
            .post(format!("{}/api/runs", self.url))
            .bearer_auth(&self.admin_token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("create run");
        assert_eq!(resp.status(), 201, "create run");
        let v: serde_json::Value = resp.json().await.expect("json");
        let field = |k: &str| v[k].as_str().expect("run_id and token").to_string();
        (field("run_id"), field("token"))
    }

    /// Queue a command through the admin API; returns its id.
    pub async fn queue_command(&self, run_id: &str, body: serde_json::Value) -> String {
        let resp = self
            .client()
            .post(format!("{}/api/runs/{run_id}/commands", self.url))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("queue command");
        assert_eq!(resp.status(), 201, "queue {body}");
        let v: serde_json::Value = resp.json().await.expect("json");
        v["id"].as_str().expect("command id").to_string()
    }

    /// POST JSON to an admin API path: the status and the answer as JSON (`null` if none).
    pub async fn admin_post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .client()
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    pub async fn runs(&self) -> Vec<RunSummary> {
        serde_json::from_value(self.admin_get("/api/runs").await).expect("runs")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every file under `dir` (the gateway's database, its WAL, stored artifacts), as bytes.
pub fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    out
}

/// A `claude-runner` command with a clean environment (PATH and HOME only) in `dir`.
pub fn runner(dir: &Path) -> Command {
    let mut cmd = Command::new(bin("claude-runner"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdin(Stdio::null());
    cmd
}

/// Write an executable shell script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_path_buf()
}

/// Poll `f` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The run id printed by `start` on stderr (`claude-runner: run <id> → <url>`).
pub fn run_id_from(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("claude-runner: run "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in runner output:\n{stderr}"))
        .to_string()
}
