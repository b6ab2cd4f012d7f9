//! `claude-runner agent`: a long-running process that hosts runs. It enrolls once (its own
//! credential, `credential.rs`), then heartbeats and long-polls the gateway for the runs it
//! takes, and runs each through `claude-runner start` (`jobs.rs`), within the ceilings its owner
//! set: working roots, tools, permission modes, capacity. At start it sees to the runs a
//! previous life left on disk first, and tells the gateway which it holds; the others end `lost`.
//!
//! SIGTERM, SIGINT and `--drain` drain it: it takes no new runs, lets its runs finish, and
//! exits. A second signal exits at once and leaves the runs going: the next start adopts them.

mod credential;
mod jobs;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use common::agents::{AgentProfile, Assignment, Ceilings, Heartbeat, HeartbeatAnswer};
use reqwest::{Method, StatusCode};
use tokio::task::JoinSet;

use crate::cli::AgentArgs;
use crate::client::{GatewayClient, Signer, error_body};
use crate::config::Settings;

/// How long one assignment poll waits at the gateway.
const POLL_WAIT_SECS: u64 = 10;

/// What the agent tells the gateway about itself.
fn profile(settings: &Settings, args: &AgentArgs) -> anyhow::Result<AgentProfile> {
    let mut labels = BTreeMap::new();
    for label in &args.labels {
        let (k, v) = label
            .split_once('=')
            .with_context(|| format!("--label {label:?} is not key=value"))?;
        anyhow::ensure!(
            common::agents::valid_name(k) && common::agents::valid_name(v),
            "--label {label:?}: key and value are 1-64 of A-Z a-z 0-9 . _ -"
        );
        labels.insert(k.to_string(), v.to_string());
    }
    let mut roots = Vec::new();
    for root in &args.roots {
        let real = std::fs::canonicalize(root)
            .with_context(|| format!("--root {} is not a directory", root.display()))?;
        anyhow::ensure!(
            real.is_dir(),
            "--root {} is not a directory",
            root.display()
        );
        roots.push(real.display().to_string());
    }
    anyhow::ensure!(args.max_runs >= 1, "--max-runs must be at least 1");
    Ok(AgentProfile {
        labels,
        capacity: args.max_runs,
        version: env!("CARGO_PKG_VERSION").to_string(),
        ceilings: Ceilings {
            roots,
            tools: settings.claude.allowed_tools.clone(),
            permission_modes: settings.ceilings.permission_modes.clone(),
        },
        draining: false,
    })
}

/// The host name, for an agent not given `--name`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| common::agents::valid_name(h))
        .unwrap_or_else(|| "agent".into())
}

/// `--drain`: ask the agent running on this data directory to drain (a SIGTERM).
fn signal_drain(data_dir: &Path) -> anyhow::Result<i32> {
    let path = data_dir.join("agent.pid");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("read {}: is an agent running here?", path.display()))?;
    let pid: i32 = text
        .trim()
        .parse()
        .context("agent.pid holds no process id")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .with_context(|| format!("signal the agent (process {pid})"))?;
    eprintln!("claude-runner: asked the agent (process {pid}) to drain");
    Ok(0)
}

/// An assignment poll on its way.
type PendingPoll =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Assignment>, CallError>>>>;

/// Why an agent call failed.
enum CallError {
    /// Revoked or unknown: nothing will work again.
    Refused(String),
    Other(anyhow::Error),
}

async fn call<T: serde::de::DeserializeOwned>(
    client: &GatewayClient,
    signer: &Signer,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<T, CallError> {
    let resp = client
        .send(method, path, signer, body)
        .await
        .map_err(CallError::Other)?;
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let err = error_body(resp).await;
        let reason = err.reason.unwrap_or(err.error);
        if reason == "replayed_nonce" || reason == "stale_timestamp" {
            return Err(CallError::Other(anyhow::anyhow!(
                "{reason}: {}",
                err.message
            )));
        }
        return Err(CallError::Refused(format!("{reason}: {}", err.message)));
    }
    if !status.is_success() {
        let err = error_body(resp).await;
        return Err(CallError::Other(anyhow::anyhow!(
            "{status} {}: {}",
            err.reason.unwrap_or(err.error),
            err.message
        )));
    }
    resp.json()
        .await
        .map_err(|e| CallError::Other(anyhow::anyhow!("read the answer: {e}")))
}

/// Run the agent until it has drained (or was revoked); the process exit code.
pub async fn run(settings: Settings, args: AgentArgs) -> anyhow::Result<i32> {
    if args.drain {
        return signal_drain(&settings.data_dir);
    }
    let exit_when_idle = args
        .exit_when_idle
        .as_deref()
        .map(crate::assist::parse_duration)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--exit-when-idle: {e}"))?;
    crate::workspace::ensure_data_dir(&settings.data_dir)?;
    let data_dir = std::fs::canonicalize(&settings.data_dir)
        .with_context(|| format!("data directory {}", settings.data_dir.display()))?;
    // One agent per data directory: runs, spools and the credential are its own.
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("agent.lock"))
        .context("open agent.lock")?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| {
            anyhow::anyhow!(
                "another agent runs on {}; `claude-runner agent --drain` stops it",
                data_dir.display()
            )
        })?;
    crate::outbox::write_atomic(
        &data_dir.join("agent.pid"),
        format!("{}\n", std::process::id()).as_bytes(),
    )
    .context("write agent.pid")?;

    let mut profile = profile(&settings, &args)?;
    let client = GatewayClient::new(&settings)?;
    let credential = match credential::load(&data_dir)? {
        Some(c) => c,
        None => {
            let token = args
                .enroll_token
                .clone()
                .or_else(|| settings.env.get("AGENT_ENROLL_TOKEN").cloned())
                .context(
                    "this agent has not enrolled yet: pass --enroll-token (an admin makes one \
                     in the web UI's Agents page or with `gateway enroll`)",
                )?;
            let name = args
                .name
                .clone()
                .or_else(|| settings.env.get("AGENT_NAME").cloned())
                .unwrap_or_else(host_name);
            let c = credential::enroll(
                &client,
                settings.gateway_url.as_str(),
                &data_dir,
                &token,
                &name,
                profile.clone(),
            )
            .await?;
            eprintln!(
                "claude-runner: enrolled as agent {} ({}); the credential is in {}",
                c.name,
                c.agent_id,
                credential::path(&data_dir).display()
            );
            c
        }
    };
    if let Some(name) = &args.name
        && name != &credential.name
    {
        eprintln!(
            "claude-runner: this data directory is enrolled as {:?}; --name {name:?} is ignored",
            credential.name
        );
    }
    let signer = credential.signer()?;
    let name = credential.name.clone();

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listen for SIGTERM")?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listen for SIGINT")?;

    // The runs a previous life left: seen to their end before anything new is taken.
    let mut jobs: JoinSet<String> = JoinSet::new();
    let mut held: HashSet<String> = HashSet::new();
    for run_id in jobs::left_behind(&data_dir) {
        eprintln!("claude-runner: recovering run {run_id}, left by a previous start of this agent");
        held.insert(run_id.clone());
        jobs.spawn(jobs::recover(settings.clone(), run_id));
    }
    // The first heartbeat names them; the gateway marks what this agent no longer holds lost.
    let mut holding = Some(held.iter().cloned().collect::<Vec<_>>());
    let heartbeat_every = Duration::from_secs(args.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval(heartbeat_every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut announced = false;
    let mut draining = false;
    let mut revoked: Option<String> = None;
    let mut signals = 0;
    let mut idle_since = tokio::time::Instant::now();
    let mut poll: Option<PendingPoll> = None;

    loop {
        if let Some(why) = &revoked
            && held.is_empty()
        {
            eprintln!("claude-runner: the gateway refuses this agent ({why}); it exits");
            return Ok(crate::exit::RUNNER_FAILED);
        }
        if draining && held.is_empty() && poll.is_none() {
            eprintln!("claude-runner: drained; the agent exits");
            return Ok(0);
        }
        let idle_left = exit_when_idle.map(|limit| limit.saturating_sub(idle_since.elapsed()));
        if held.is_empty() && poll.is_none() && idle_left == Some(Duration::ZERO) {
            eprintln!(
                "claude-runner: idle for {}; the agent exits",
                args.exit_when_idle.as_deref().unwrap_or_default()
            );
            return Ok(0);
        }
        if announced
            && poll.is_none()
            && !draining
            && revoked.is_none()
            && (held.len() as u32) < profile.capacity
        {
            // A poll never outlasts the idle limit, so an idle agent exits on time.
            let wait = idle_left.map_or(POLL_WAIT_SECS, |d| d.as_secs().clamp(0, POLL_WAIT_SECS));
            let (client, signer) = (client.clone(), signer.clone());
            poll = Some(Box::pin(async move {
                call(
                    &client,
                    &signer,
                    Method::GET,
                    &format!("api/agent/assignments?wait={wait}"),
                    Vec::new(),
                )
                .await
            }));
        }
        let idle_wait = idle_left.filter(|_| held.is_empty() && poll.is_none());
        let poll_next = async {
            match poll.as_mut() {
                Some(p) => p.await,
                None => std::future::pending().await,
            }
        };
        let idle_timer = async {
            match idle_wait {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = beat.tick() => {
                profile.draining = draining;
                let body = serde_json::to_vec(&Heartbeat {
                    profile: profile.clone(),
                    holding: holding.clone(),
                })?;
                match call::<HeartbeatAnswer>(&client, &signer, Method::POST, "api/agent/heartbeat", body).await {
                    Ok(answer) => {
                        if holding.take().is_some() {
                            for run in &answer.lost {
                                eprintln!("claude-runner: the gateway marked run {run} lost: this agent no longer holds it");
                            }
                            eprintln!("claude-runner: agent {name} is online, taking up to {} runs", profile.capacity);
                        }
                        announced = true;
                        if answer.drain && !draining {
                            eprintln!("claude-runner: the gateway asked this agent to drain");
                            draining = true;
                            beat.reset_immediately();
                        }
                    }
                    Err(CallError::Refused(why)) => {
                        revoked = Some(why);
                        draining = true;
                    }
                    Err(CallError::Other(e)) => {
                        tracing::warn!(error = %format!("{e:#}"), "heartbeat failed");
                    }
                }
            }
            answer = poll_next => {
                poll = None;
                match answer {
                    Ok(assignments) => {
                        for a in assignments {
                            idle_since = tokio::time::Instant::now();
                            let key = hex::decode(&a.key).ok().and_then(|k| <[u8; 32]>::try_from(k).ok());
                            let Some(key) = key else {
                                tracing::warn!(run = %a.run_id, "an assignment without a valid key");
                                continue;
                            };
                            held.insert(a.run_id.clone());
                            if let Some(why) = jobs::refusal(&name, &profile, &a) {
                                let client = client.clone();
                                jobs.spawn(async move {
                                    jobs::refuse(&client, &a.run_id, key, &why).await;
                                    a.run_id
                                });
                            } else {
                                eprintln!("claude-runner: took run {}", a.run_id);
                                jobs.spawn(jobs::run(settings.clone(), client.clone(), a, key));
                            }
                        }
                    }
                    Err(CallError::Refused(why)) => {
                        revoked = Some(why);
                        draining = true;
                    }
                    Err(CallError::Other(e)) => {
                        tracing::warn!(error = %format!("{e:#}"), "assignment poll failed");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                if let Ok(run_id) = done {
                    eprintln!("claude-runner: run {run_id} is over here");
                    held.remove(&run_id);
                }
                idle_since = tokio::time::Instant::now();
            }
            _ = idle_timer => {}
            _ = terminate.recv() => {
                signals += 1;
            }
            _ = interrupt.recv() => {
                signals += 1;
            }
        }
        if signals == 1 && !draining {
            eprintln!(
                "claude-runner: draining: {} runs to finish, no new ones (signal again to exit now and leave them going)",
                held.len()
            );
            draining = true;
            // Tell the gateway at once: it stops assigning and the waiting poll returns.
            beat.reset_immediately();
        } else if signals >= 2 {
            eprintln!(
                "claude-runner: exiting with {} runs going; the next start of this agent adopts them",
                held.len()
            );
            return Ok(crate::exit::STOPPED);
        }
    }
}
