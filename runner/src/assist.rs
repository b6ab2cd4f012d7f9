//! `claude-runner assist`: open a tmate session on this machine, publish its links on the run,
//! and close it when asked (Ctrl-C), when the run ends, when the session ends or when it expires.
//!
//! The run's event sequence belongs to its `start` process, so `assist` does not send events: it
//! posts the links (signed with the run key) to `POST /api/runs/:id/assist`, the gateway queues
//! them on the run's command channel, and `start` publishes them as `assist` events.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use common::Secret;
use common::wire::{AssistLink, AssistState};
use reqwest::Method;

use crate::cli::AssistArgs;
use crate::client::{GatewayClient, Signer, error_body, random_b64};
use crate::config::Settings;

/// How long tmate gets to connect to its server and report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest any other tmate call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the run's status and the session are checked.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Parse a duration such as `2h`, `30m`, `45s`, `1h30m` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{text:?}: unknown unit {c:?} (use s, m, h or d)")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: expected a number before {c:?}"))?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| format!("{text:?} is too long"))?;
    }
    if !number.is_empty() {
        return Err(format!(
            "{text:?}: the number {number} has no unit (e.g. 2h, 30m)"
        ));
    }
    if total == 0 {
        return Err(format!(
            "{text:?}: give a positive duration such as 2h or 30m"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Run `assist`; the result is the exit code.
pub async fn run(settings: Settings, args: AssistArgs) -> anyhow::Result<i32> {
    let secret = settings.require_secret()?.clone();
    let run_id = args
        .run_id
        .clone()
        .or_else(|| settings.env.get("RUN_ID").cloned())
        .context("--run-id (or RUN_ID) is required")?;
    anyhow::ensure!(
        common::wire::valid_run_id(&run_id),
        "run id {run_id:?} is not valid"
    );
    let token = args
        .token
        .clone()
        .or_else(|| settings.env.get("RUN_TOKEN").cloned())
        .map(Secret::new)
        .context("--token (or RUN_TOKEN) is required")?;
    let expires = match &args.expires {
        Some(t) => parse_duration(t).map_err(|e| anyhow::anyhow!("--expires {e}"))?,
        None => settings.assist_expires,
    };
    let client = GatewayClient::new(&settings)?;
    let signer = Signer::for_run(&secret, &run_id, &token);
    // Installed first, so a Ctrl-C from the moment the link is out is never missed.
    let mut stops = Stops::install();

    // A wrong token or a finished run is reported before a session is opened.
    let state = run_state(&client, &signer, &run_id).await?;
    if state.run_status.is_terminal() {
        bail!(
            "run {run_id} has ended ({}); there is nothing to assist",
            state.run_status.as_str()
        );
    }

    let tmate = Tmate::start(&settings.tmate_command).await?;
    let links = match tmate.links().await {
        Ok(l) => l,
        Err(e) => {
            tmate.close().await;
            return Err(e);
        }
    };
    let expires_at = crate::pipeline::now_ms() + expires.as_millis() as i64;
    // Links pass the redactor like every string the runner sends (the environment's secrets
    // never ride along in one); the tmate session itself is what the link is for.
    let rules = std::sync::Arc::new(crate::start::redaction_rules(&settings, None)?);
    let clean = |s: &str| common::redact::redact_text(&rules, s);
    let open = AssistLink {
        kind: "tmate".into(),
        url: Some(clean(&links.0)),
        web: links.1.as_deref().map(clean),
        expires_at: Some(expires_at),
        closed: false,
        reason: None,
    };
    if let Err(e) = post(&client, &signer, &run_id, &open).await {
        tmate.close().await;
        return Err(e.context("publish the assist link"));
    }
    println!("assist session open on run {run_id}");
    println!("  ssh: {}", links.0);
    if let Some(web) = &links.1 {
        println!("  web: {web}");
    }
    println!(
        "it closes in {} (--expires), when the run ends, or on Ctrl-C",
        humanize(expires)
    );

    let reason = wait_for_end(&client, &signer, &run_id, &tmate, expires, &mut stops).await;
    tmate.close().await;
    if reason != "run_ended" {
        let closed = AssistLink {
            kind: "tmate".into(),
            url: None,
            web: None,
            expires_at: None,
            closed: true,
            reason: Some(reason.into()),
        };
        if let Err(e) = post(&client, &signer, &run_id, &closed).await {
            eprintln!("claude-runner: could not publish that the assist link closed: {e:#}");
        }
    }
    println!("assist session closed ({reason})");
    Ok(0)
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Ctrl-C and SIGTERM, caught from when they are installed.
struct Stops {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Stops {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }
}

/// Why the session ends: `stopped`, `expired`, `run_ended` or `session_ended`.
async fn wait_for_end(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    tmate: &Tmate,
    expires: Duration,
    stops: &mut Stops,
) -> &'static str {
    let expiry = tokio::time::sleep(expires);
    tokio::pin!(expiry);
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            () = &mut expiry => return "expired",
            _ = recv(&mut stops.int) => return "stopped",
            _ = recv(&mut stops.term) => return "stopped",
            _ = tick.tick() => {
                if let Ok(state) = run_state(client, signer, run_id).await
                    && state.run_status.is_terminal()
                {
                    return "run_ended";
                }
                if !tmate.alive().await {
                    return "session_ended";
                }
            }
        }
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// `GET /api/runs/:id/assist`: the run's status (and a check of the run key).
async fn run_state(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
) -> anyhow::Result<AssistState> {
    let resp = client
        .send(
            Method::GET,
            &format!("api/runs/{run_id}/assist"),
            signer,
            Vec::new(),
        )
        .await
        .context("reach the gateway")?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp.json().await?);
    }
    let err = error_body(resp).await;
    bail!(
        "the gateway refused run {run_id} ({status}, {}): {}",
        err.reason.as_deref().unwrap_or(&err.error),
        err.message
    )
}

/// `POST /api/runs/:id/assist`.
async fn post(
    client: &GatewayClient,
    signer: &Signer,
    run_id: &str,
    link: &AssistLink,
) -> anyhow::Result<AssistState> {
    let resp = client
        .send(
            Method::POST,
            &format!("api/runs/{run_id}/assist"),
            signer,
            serde_json::to_vec(link)?,
        )
        .await?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp.json().await?);
    }
    let err = error_body(resp).await;
    bail!("the gateway answered {status}: {}", err.message)
}

/// A tmate server on a private socket.
#[derive(Debug)]
struct Tmate {
    program: Vec<String>,
    dir: PathBuf,
    socket: PathBuf,
}

impl Tmate {
    /// Start a detached session and wait until tmate has reached its server.
    async fn start(program: &[String]) -> anyhow::Result<Self> {
        anyhow::ensure!(!program.is_empty(), "TMATE_COMMAND is empty");
        // A fresh private directory: create_dir fails rather than reuse anything that exists.
        let dir = std::env::temp_dir().join(format!("claude-runner-assist-{}", random_b64(9)));
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restrict {}", dir.display()))?;
        }
        let t = Self {
            program: program.to_vec(),
            socket: dir.join("tmate.sock"),
            dir,
        };
        let started = t.call(&["new-session", "-d"], CALL_TIMEOUT).await;
        match started {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                t.remove_dir();
                bail!(
                    "tmate could not start a session ({}): {}",
                    out.status,
                    stderr_of(&out)
                );
            }
            Err(e) => {
                t.remove_dir();
                return Err(e);
            }
        }
        match t.call(&["wait", "tmate-ready"], READY_TIMEOUT).await {
            Ok(out) if out.status.success() => Ok(t),
            Ok(out) => {
                let why = stderr_of(&out);
                t.close().await;
                bail!(
                    "tmate could not reach its server: {why}; check the network, or the server \
                     set in ~/.tmate.conf"
                )
            }
            Err(e) => {
                t.close().await;
                Err(e.context(
                    "tmate could not reach its server; check the network, or the server set in \
                     ~/.tmate.conf",
                ))
            }
        }
    }

    /// The SSH command and the web link (if the server offers one).
    async fn links(&self) -> anyhow::Result<(String, Option<String>)> {
        let ssh = self.display("#{tmate_ssh}").await?;
        if !ssh.starts_with("ssh ") {
            bail!("tmate did not report an SSH link (it printed {ssh:?})");
        }
        let web = self.display("#{tmate_web}").await?;
        Ok((ssh, web.starts_with("https://").then_some(web)))
    }

    async fn display(&self, format: &str) -> anyhow::Result<String> {
        let out = self.call(&["display", "-p", format], CALL_TIMEOUT).await?;
        if !out.status.success() {
            bail!("tmate display {format} failed: {}", stderr_of(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// True while the session exists.
    async fn alive(&self) -> bool {
        self.call(&["has-session"], CALL_TIMEOUT)
            .await
            .is_ok_and(|o| o.status.success())
    }

    /// End the session and remove its socket directory.
    async fn close(&self) {
        let _ = self.call(&["kill-server"], CALL_TIMEOUT).await;
        self.remove_dir();
    }

    fn remove_dir(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Run `tmate -S <socket> <args…>` with a time limit.
    async fn call(&self, args: &[&str], limit: Duration) -> anyhow::Result<std::process::Output> {
        let mut cmd = tokio::process::Command::new(&self.program[0]);
        crate::child::scrub_env(cmd.as_std_mut());
        cmd.args(&self.program[1..])
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "tmate is not installed ({} not found); install it (Debian/Ubuntu: apt install \
                     tmate) or set TMATE_COMMAND",
                    self.program[0]
                )
            } else {
                anyhow::anyhow!("cannot run {}: {e}", self.program[0])
            }
        })?;
        match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(out) => Ok(out?),
            Err(_) => bail!(
                "tmate {} did not answer within {} s",
                args.join(" "),
                limit.as_secs()
            ),
        }
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.is_empty() {
        format!("no message ({})", out.status)
    } else {
        text.chars().take(500).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "0s", "90", "h", "2x", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn humanized() {
        assert_eq!(humanize(Duration::from_secs(7200)), "2h");
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
        assert_eq!(humanize(Duration::from_secs(120)), "2m");
    }
}
