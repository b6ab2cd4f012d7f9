//! Agents and the queue of runs, between the routes and the store: enrollment tokens and
//! enrollment, checks of what an agent says and what a queued run asks for, the assignment long
//! poll, and the sweep that marks silent agents offline.
//!
//! The long poll waits on the queue's bell (`crate::live`), registered before the store is read,
//! so a run queued after the read still wakes it; every waiting agent is woken and each tries a
//! claim, which the store makes exactly-once.

use std::time::Duration;

use common::agents::{
    AgentProfile, Assignment, EnrollRequest, Enrolled, EnrollmentToken, MAX_LABELS, RunRequest,
    valid_name,
};

use crate::auth::token_hash;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::live::Live;
use crate::secrets::random_token;
use crate::store::{NewAgent, NewRun, QueuedRun, Store, StoreError};

/// How long an enrollment token enrolls.
pub const ENROLLMENT_TTL: Duration = Duration::from_secs(3600);
/// Longest assignment poll.
pub const MAX_WAIT_SECS: u64 = 30;
/// Most runs one poll hands out (bounded by the agent's free capacity anyway).
const MAX_ASSIGNMENTS: usize = 16;

fn internal(e: anyhow::Error) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// A new one-time enrollment token, stored by its hash; the token is shown once.
pub async fn new_enrollment(store: &dyn Store) -> Result<EnrollmentToken, ApiError> {
    let token = format!("ae_{}", random_token(32).map_err(internal)?);
    let now = now_ms();
    let expires_at = now + ENROLLMENT_TTL.as_millis() as i64;
    store
        .create_enrollment(token_hash(&token), now, expires_at)
        .await?;
    Ok(EnrollmentToken { token, expires_at })
}

/// The bounds of what an agent says about itself.
pub fn check_profile(profile: &AgentProfile) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::bad_request("invalid_field", m));
    if profile.labels.len() > MAX_LABELS {
        return bad("too many labels");
    }
    if !profile
        .labels
        .iter()
        .all(|(k, v)| valid_name(k) && valid_name(v))
    {
        return bad("a label key or value is not 1-64 of A-Z a-z 0-9 . _ -");
    }
    if profile.capacity == 0 || profile.capacity > 1000 {
        return bad("capacity must be 1..=1000");
    }
    if profile.version.len() > 64 {
        return bad("version is longer than 64 bytes");
    }
    let c = &profile.ceilings;
    let long = |list: &[String]| list.len() > 64 || list.iter().any(|s| s.len() > 4096);
    if long(&c.roots) || long(&c.tools) || long(&c.permission_modes) {
        return bad("a ceiling list is too long");
    }
    if !c.roots.iter().all(|r| r.starts_with('/')) {
        return bad("roots must be absolute paths");
    }
    Ok(())
}

/// Enroll an agent with a one-time token: its own id and key, the key shown this once.
pub async fn enroll(store: &dyn Store, req: EnrollRequest) -> Result<Enrolled, ApiError> {
    if !valid_name(&req.name) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name must be 1-64 of A-Z a-z 0-9 . _ -",
        ));
    }
    check_profile(&req.profile)?;
    let id = format!("a_{}", random_token(9).map_err(internal)?);
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| ApiError::Internal(e.to_string()))?;
    let agent = NewAgent {
        id: id.clone(),
        name: req.name.clone(),
        key,
        profile: req.profile,
        created_at: now_ms(),
    };
    match store.enroll_agent(token_hash(&req.token), agent).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request(
                "bad_enrollment_token",
                "the enrollment token is unknown, used or expired",
            ));
        }
        Err(StoreError::Conflict) => {
            return Err(ApiError::bad_request(
                "name_taken",
                "an enrolled agent has this name; revoke it first or pick another",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(agent = %id, name = %req.name, "agent enrolled");
    Ok(Enrolled {
        agent_id: id,
        key: hex::encode(key),
    })
}

/// The bounds of a queued run's request.
pub fn check_request(req: &RunRequest) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::bad_request("invalid_field", m));
    if req.prompt.trim().is_empty() {
        return bad("prompt is empty");
    }
    if req.prompt.len() > 32 * 1024 {
        return bad("prompt is longer than 32 KiB");
    }
    if req.agent.as_deref().is_some_and(|a| !valid_name(a)) {
        return bad("agent is not an agent name");
    }
    if req.labels.len() > MAX_LABELS
        || !req
            .labels
            .iter()
            .all(|(k, v)| valid_name(k) && valid_name(v))
    {
        return bad("labels must be at most 32 of key=value, each 1-64 of A-Z a-z 0-9 . _ -");
    }
    if let Some(cwd) = &req.cwd {
        if !cwd.starts_with('/') || cwd.len() > 4096 {
            return bad("cwd must be an absolute path");
        }
        if req.repo.is_some() {
            return bad("repo clones into a fresh workspace: give cwd or repo, not both");
        }
    }
    if let Some(repo) = &req.repo
        && (repo.url.is_empty()
            || repo.url.len() > 2048
            || repo.url.starts_with('-')
            || repo
                .branch
                .as_deref()
                .is_some_and(|b| b.starts_with('-') || b.len() > 255))
    {
        return bad("repo url or branch is not valid");
    }
    let long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.len() > 128);
    if long(&req.model) || long(&req.permission_mode) || req.tools.len() > 64 {
        return bad("model, permission mode or tools are too long");
    }
    Ok(())
}

/// Queue a run for an agent; its key is random (no token: the agent that takes it gets the key).
pub async fn queue(
    store: &dyn Store,
    live: &Live,
    name: Option<String>,
    request: RunRequest,
) -> Result<String, ApiError> {
    check_request(&request)?;
    if name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name is longer than 200 bytes",
        ));
    }
    let id = format!("r_{}", random_token(9).map_err(internal)?);
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| ApiError::Internal(e.to_string()))?;
    store
        .queue_run(QueuedRun {
            run: NewRun {
                id: id.clone(),
                name,
                prompt: Some(request.prompt.clone()),
                cwd: request.cwd.clone(),
                key,
                created_at: now_ms(),
            },
            request,
        })
        .await?;
    tracing::info!(run = %id, "run queued");
    live.announce_run(store, &id).await;
    live.ring_queue();
    Ok(id)
}

/// The runs an agent takes now, waiting up to `wait` for one it may take.
pub async fn assignments(
    store: &dyn Store,
    live: &Live,
    agent_id: &str,
    wait: Duration,
) -> Result<Vec<Assignment>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let bell = live.queue_bell();
    loop {
        // Registered before reading, so a run queued after the claim still wakes us.
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        store
            .agent_seen(agent_id.to_string(), None, now_ms())
            .await?;
        let mut out = Vec::new();
        while out.len() < MAX_ASSIGNMENTS {
            let Some(claimed) = store.claim_run(agent_id.to_string(), now_ms()).await? else {
                break;
            };
            tracing::info!(run = %claimed.run_id, agent = %agent_id, "run assigned");
            live.announce_run(store, &claimed.run_id).await;
            out.push(Assignment {
                run_id: claimed.run_id,
                key: hex::encode(claimed.key),
                name: claimed.name,
                request: claimed.request,
            });
        }
        if !out.is_empty() {
            return Ok(out);
        }
        // Revoked while waiting: say so now rather than at the next poll; draining: it takes
        // nothing more, so the wait is over.
        match store.agent(agent_id.to_string()).await? {
            Some(a) if !a.summary.revoked => {
                if a.summary.profile.draining || a.summary.drain_requested {
                    return Ok(Vec::new());
                }
            }
            _ => {
                return Err(ApiError::Unauthorized(
                    common::sign::AuthReason::AgentRevoked,
                ));
            }
        }
        if tokio::time::timeout_at(deadline, rung).await.is_err() {
            return Ok(Vec::new());
        }
    }
}

/// Every `after / 6` (at least 200 ms), marks offline the agents not heard from for `after`,
/// and announces their runs so open pages show it. An agent is therefore shown offline at most
/// `after * 7 / 6` after its last request.
pub async fn sweep_forever(state: crate::state::AppState) {
    let after = state.limits.agent_offline_after;
    let every = (after / 6).max(Duration::from_millis(200));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&state, now_ms() - after.as_millis() as i64).await;
    }
}

/// Marks offline the agents not heard from since `seen_before` (Unix ms), announces their runs
/// to open pages and notifies `agent_offline` for each unfinished run they held.
pub async fn sweep(state: &crate::state::AppState, seen_before: i64) {
    let (store, live) = (&state.store, &state.live);
    let ids = match store.mark_agents_offline(seen_before).await {
        Ok(ids) if !ids.is_empty() => ids,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "mark agents offline");
            return;
        }
    };
    tracing::warn!(agents = ?ids, "agents went offline");
    announce_agent_runs(store.as_ref(), live, None).await;
    let (agents, runs) = match (store.list_agents().await, store.list_runs(1000).await) {
        (Ok(a), Ok(r)) => (a, r),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "notifications: reading the offline agents' runs failed");
            return;
        }
    };
    let names: Vec<&str> = agents
        .iter()
        .filter(|a| ids.contains(&a.id))
        .map(|a| a.name.as_str())
        .collect();
    let held: Vec<_> = runs
        .into_iter()
        .filter(|r| {
            !r.status.is_terminal() && r.agent.as_deref().is_some_and(|a| names.contains(&a))
        })
        .collect();
    state
        .notifier
        .runs_changed(crate::store::NotifyEvent::AgentOffline, &held)
        .await;
}

/// Publish the unfinished runs of agent `name` (of every agent: `None`) to the runs list, their
/// `agent_offline` having changed. Reads the newest 1,000 runs.
pub async fn announce_agent_runs(store: &dyn Store, live: &Live, name: Option<&str>) {
    let Ok(runs) = store.list_runs(1000).await else {
        return;
    };
    for run in runs.into_iter().filter(|r| {
        !r.status.is_terminal()
            && r.agent.is_some()
            && name.is_none_or(|n| r.agent.as_deref() == Some(n))
    }) {
        live.announce_run(store, &run.id).await;
    }
}

/// Longest `wait` of the run API.
pub const MAX_API_WAIT_SECS: u64 = 300;

/// The session a `continue` names (a run id, or a Claude session id of a recent run) and the run
/// whose archive holds it.
pub async fn resolve_continue(
    store: &dyn Store,
    what: &str,
) -> Result<common::agents::Resume, ApiError> {
    let not_found = || {
        ApiError::bad_request(
            "unknown_session",
            "continue names no run with a Claude session, nor a session of a recent run",
        )
    };
    if common::wire::valid_run_id(what)
        && let Some(run) = store.run(what.to_string()).await?
    {
        let session_id = run
            .summary
            .claude
            .and_then(|c| c.session_id)
            .ok_or_else(not_found)?;
        return Ok(common::agents::Resume {
            session_id,
            from_run: run.summary.id,
        });
    }
    // A session id: the newest run that had it (its archive is the latest state).
    let runs = store.list_runs(1000).await?;
    runs.into_iter()
        .find(|r| {
            r.claude
                .as_ref()
                .and_then(|c| c.session_id.as_deref())
                .is_some_and(|s| s == what)
        })
        .map(|r| common::agents::Resume {
            session_id: what.to_string(),
            from_run: r.id,
        })
        .ok_or_else(not_found)
}

/// Whether the turn a caller waits for is over: the run ended, or it is between turns with more
/// prompts answered than `prompts_before`.
fn turn_over(run: &common::wire::RunSummary, prompts_before: u64) -> bool {
    run.status.is_terminal()
        || run
            .claude
            .as_ref()
            .is_some_and(|c| c.between_turns && c.prompts > prompts_before)
}

/// Wait up to `wait` for the run's turn to end (see [`turn_over`]), woken by the runs list's
/// changes and, at worst, once a second.
pub async fn wait_for_turn(
    store: &dyn Store,
    live: &Live,
    run_id: &str,
    prompts_before: u64,
    wait: Duration,
) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = live.subscribe_runs();
    loop {
        let run = crate::http::stored_run(store, run_id).await?;
        if turn_over(&run.summary, prompts_before) {
            return Ok(());
        }
        let tick = tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_secs(1)),
        );
        tokio::select! {
            _ = tick => {}
            _ = async {
                loop {
                    match changes.recv().await {
                        Ok(r) if r.id == run_id => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(_) => std::future::pending::<()>().await,
                    }
                }
            } => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
    }
}

/// A run as the run API answers it: status, session and conversation so far.
pub async fn answer(
    store: &dyn Store,
    transcripts: &crate::transcript::Transcripts,
    base_url: &str,
    run_id: &str,
) -> Result<common::agents::RunAnswer, ApiError> {
    use common::claude::EntryKind;
    let run = crate::http::stored_run(store, run_id).await?;
    let transcript = transcripts.get(store, run_id).await?;
    let messages = transcript
        .entries
        .iter()
        .filter_map(|e| match e.kind {
            EntryKind::Prompt => Some(("user", e)),
            EntryKind::Answer => Some(("assistant", e)),
            _ => None,
        })
        .map(|(role, e)| common::agents::Message {
            role: role.into(),
            text: e.text.clone(),
        })
        .collect();
    Ok(common::agents::RunAnswer {
        run_id: run_id.to_string(),
        status: run.summary.status,
        session_id: run
            .summary
            .claude
            .and_then(|c| c.session_id)
            .or_else(|| transcript.summary.session_id.clone()),
        messages,
        ui_url: format!("{base_url}/runs/{run_id}"),
    })
}
