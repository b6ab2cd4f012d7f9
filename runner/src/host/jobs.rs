//! What the agent does with a run: start it (a `claude-runner start` child process: the same
//! code as a `start` typed by hand, with the run's key in its environment), refuse it (an
//! `error` event and a `finished` marker sent with the run's key, so it ends rather than waits),
//! or recover one a previous life of the agent left behind (`claude-runner flush --close`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use common::agents::{AgentProfile, Assignment, under_root};
use common::wire::{Event, EventKind, IngestBatch, Marker};

use crate::client::{GatewayClient, IngestOutcome, Signer};
use crate::config::Settings;
use crate::start::RUN_KEY_ENV;
use crate::{exit, workspace};

/// The settings a `start` child gets: every one the agent resolved from a flag, the environment
/// or `.env`, as environment variables (so the child resolves the same values), except the
/// secrets (`HMAC_SECRET`, the enrollment token), which an agent's runs never need.
const SECRETS: &[&str] = &["HMAC_SECRET", "AGENT_ENROLL_TOKEN"];

fn settings_env(settings: &Settings) -> Vec<(&'static str, String)> {
    use common::settings::Source;
    settings
        .shown
        .iter()
        .filter(|s| matches!(s.source, Source::Flag | Source::Env | Source::DotEnv))
        .filter(|s| !SECRETS.contains(&s.name))
        .map(|s| (s.name, s.value.clone()))
        .collect()
}

/// Why this agent will not run `a`, checked on this machine: the same rule as the gateway's
/// (`common::agents::admits`), then the working directory's real path under a root's real path
/// (a symbolic link cannot lead out).
pub fn refusal(name: &str, profile: &AgentProfile, a: &Assignment) -> Option<String> {
    if let Err(why) = common::agents::admits(name, profile, &a.request) {
        return Some(why.to_string());
    }
    let cwd = a.request.cwd.as_deref()?;
    let Ok(real) = std::fs::canonicalize(cwd) else {
        return Some(format!("{cwd:?} is not a directory on this machine"));
    };
    let real = real.display().to_string();
    let inside = profile.ceilings.roots.iter().any(|root| {
        std::fs::canonicalize(root).is_ok_and(|r| under_root(&real, &r.display().to_string()))
    });
    (!inside).then(|| format!("{cwd:?} leads outside the agent's working roots"))
}

/// The tools a run may use: the agent's own, narrowed to the request's when it names any.
fn narrowed_tools(settings: &Settings, requested: &[String]) -> Option<String> {
    if requested.is_empty() {
        return None;
    }
    let own = &settings.claude.allowed_tools;
    let tools: Vec<&str> = requested
        .iter()
        .filter(|t| own.contains(t))
        .map(String::as_str)
        .collect();
    Some(tools.join(","))
}

/// Clone a run's repository into its fresh workspace with the hardened `git`.
fn clone_repo(data_dir: &Path, run_id: &str, repo: &common::agents::Repo) -> anyhow::Result<()> {
    let dir = workspace::auto_dir(data_dir, run_id);
    let parent = dir.parent().context("workspace directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    let mut argv = vec!["git".to_string(), "clone".into(), "--quiet".into()];
    if let Some(branch) = &repo.branch {
        argv.extend(["--branch".into(), branch.clone()]);
    }
    argv.extend(["--".into(), repo.url.clone(), dir.display().to_string()]);
    let hardened = crate::git::harden(&argv, parent).context("prepare git")?;
    let out =
        crate::child::output_protected(&mut hardened.command(parent)).context("run git clone")?;
    anyhow::ensure!(
        out.status.success(),
        "git clone failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// The `claude-runner start` command line of a hosted run (after the binary). Values a person
/// chose (the prompt, the directory) go as `--option=value` in one word, so one that begins
/// with `-` is never taken for an option.
fn start_args(
    run_id: &str,
    request: &common::agents::RunRequest,
    resume: Option<&str>,
) -> Vec<String> {
    let mut args = vec![
        "start".to_string(),
        format!("--run-id={run_id}"),
        "--quiet".into(),
        format!("--cmd={}", request.prompt),
    ];
    match &request.cwd {
        Some(cwd) => args.push(format!("--cwd={cwd}")),
        None => args.push("--workspace=auto".into()),
    }
    if request.session {
        args.push("--session".into());
    }
    // Every run an agent hosts leaves an archive, so any agent can continue its session.
    args.push("--archive".into());
    if let Some(session) = resume {
        args.push(format!("--resume={session}"));
    }
    args
}

/// Run `a` through `claude-runner start` and wait for it; the run ends one way or another.
pub async fn run(
    settings: Settings,
    client: GatewayClient,
    a: Assignment,
    key: [u8; 32],
) -> String {
    let run_id = a.run_id.clone();
    let data_dir = settings.data_dir.clone();
    if let Some(repo) = a.request.repo.clone() {
        let (dir, id) = (data_dir.clone(), run_id.clone());
        let cloned = tokio::task::spawn_blocking(move || clone_repo(&dir, &id, &repo))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("{e}")));
        if let Err(e) = cloned {
            refuse(&client, &run_id, key, &format!("{e:#}")).await;
            return run_id;
        }
    }
    let mut resume = None;
    if let Some(r) = a.request.resume.clone() {
        match restore(&settings, &client, &a, key).await {
            Ok(()) => resume = Some(r.session_id),
            Err(e) => {
                let why = format!("the session archive could not be restored: {e:#}");
                refuse(&client, &run_id, key, &why).await;
                return run_id;
            }
        }
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            refuse(&client, &run_id, key, &format!("find claude-runner: {e}")).await;
            return run_id;
        }
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(start_args(&run_id, &a.request, resume.as_deref()));
    cmd.env_remove("HMAC_SECRET")
        .env_remove("AGENT_ENROLL_TOKEN")
        .env_remove("RUN_TOKEN")
        .env_remove("RUN_ID")
        .envs(settings_env(&settings))
        .env(RUN_KEY_ENV, hex::encode(key));
    if let Some(model) = &a.request.model {
        cmd.env("CLAUDE_MODEL", model);
    }
    if let Some(mode) = &a.request.permission_mode {
        cmd.env("CLAUDE_PERMISSION_MODE", mode);
    }
    if let Some(tools) = narrowed_tools(&settings, &a.request.tools) {
        cmd.env("CLAUDE_ALLOWED_TOOLS", tools);
    }
    // Its own process group: a Ctrl-C meant for the agent (a drain) does not stop its runs.
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(false);
    tracing::info!(run = %run_id, "starting the run");
    let code = match cmd.spawn() {
        Ok(mut child) => child.wait().await.ok().and_then(|s| s.code()),
        Err(e) => {
            refuse(&client, &run_id, key, &format!("start the runner: {e}")).await;
            return run_id;
        }
    };
    tracing::info!(run = %run_id, code = ?code, "the run's runner ended");
    // A `start` that failed before its spool existed sent nothing: end the run here.
    if !data_dir.join("runs").join(&run_id).join("spool").is_dir() {
        let why = format!(
            "the runner could not start the run (exit code {})",
            code.map_or("none".into(), |c| c.to_string())
        );
        refuse(&client, &run_id, key, &why).await;
    }
    run_id
}

/// How long an agent waits for the archive of the run a session continues from (its runner
/// uploads it once that run has ended).
const ARCHIVE_WAIT: Duration = Duration::from_secs(60);

/// Fetch the archive of the session `a` continues and restore it where the run will work: the
/// transcript beside Claude's config, and for a fresh workspace the files.
async fn restore(
    settings: &Settings,
    client: &GatewayClient,
    a: &Assignment,
    key: [u8; 32],
) -> anyhow::Result<()> {
    let signer = Signer::Run {
        run_id: a.run_id.clone(),
        key,
    };
    let path = format!("api/runs/{}/resume-archive", a.run_id);
    let start = tokio::time::Instant::now();
    let bytes = loop {
        let resp = client
            .send(reqwest::Method::GET, &path, &signer, Vec::new())
            .await?;
        if resp.status().is_success() {
            break resp.bytes().await?;
        }
        anyhow::ensure!(
            resp.status() == reqwest::StatusCode::NOT_FOUND && start.elapsed() < ARCHIVE_WAIT,
            "the gateway answered {} for the archive",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let archive: crate::archive::Archive =
        serde_json::from_slice(&bytes).context("read the archive")?;
    let config = crate::archive::claude_config_dir(&settings.env)
        .context("neither CLAUDE_CONFIG_DIR nor HOME is set")?;
    let (dir, files) = match &a.request.cwd {
        Some(cwd) => (PathBuf::from(cwd), false),
        None => (workspace::auto_dir(&settings.data_dir, &a.run_id), true),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir)?;
    tokio::task::spawn_blocking(move || crate::archive::restore(&archive, &config, &dir, files))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
}

/// End a taken run that will not run here: an `error` event with `why` and a `finished`
/// marker (exit code 125), signed with the run's key. Tried a few times; the gateway shows the
/// run `lost` after the agent's next start if it never arrives.
pub async fn refuse(client: &GatewayClient, run_id: &str, key: [u8; 32], why: &str) {
    tracing::warn!(run = %run_id, reason = %why, "refusing the run");
    let now = crate::pipeline::now_ms();
    let batch = IngestBatch {
        run_id: run_id.to_string(),
        events: vec![
            Event {
                sequence: 1,
                kind: EventKind::Error,
                data: serde_json::Value::String(format!("The agent refused the run: {why}")),
                ts: now,
            },
            Event {
                sequence: 2,
                kind: EventKind::Marker,
                data: Marker::Finished {
                    exit_code: exit::RUNNER_FAILED,
                    signal: None,
                    duration_ms: 0,
                    event_count: None,
                    stream_sha256: None,
                    dropped_lines: None,
                }
                .to_value(),
                ts: now,
            },
        ],
    };
    let signer = Signer::Run {
        run_id: run_id.to_string(),
        key,
    };
    for attempt in 0..5u32 {
        match client.ingest(&signer, &batch).await {
            IngestOutcome::Acked { .. } | IngestOutcome::Refused { .. } => return,
            IngestOutcome::Rejected { message, .. } => {
                tracing::warn!(run = %run_id, %message, "the refusal was rejected");
                return;
            }
            IngestOutcome::Gap(_) => return,
            IngestOutcome::Retry { .. } => {
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
        }
    }
}

/// The runs a previous life of this agent left on disk: a run directory with a `run.key` (a
/// `start` removes it once everything was delivered).
pub fn left_behind(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("runs")) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("run.key").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| common::wire::valid_run_id(id))
        .collect();
    ids.sort();
    ids
}

/// True while a process (a `start` still going) holds the run's spool.
fn spool_busy(run_dir: &Path) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    let Ok(file) = std::fs::File::open(run_dir.join("spool").join("lock")) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// See a left-behind run to its end: wait while its `start` still runs (it delivers itself),
/// then `claude-runner flush --close`: deliver the rest of its spool and, if its runner died,
/// end it with a `finished` marker. Retried while the gateway cannot be reached.
pub async fn recover(settings: Settings, run_id: String) -> String {
    let run_dir: PathBuf = settings.data_dir.join("runs").join(&run_id);
    loop {
        if spool_busy(&run_dir) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let Ok(exe) = std::env::current_exe() else {
            return run_id;
        };
        let status = tokio::process::Command::new(exe)
            .args(["flush", "--close", "--timeout", "60", "--run-id", &run_id])
            .env_remove("HMAC_SECRET")
            .env_remove("AGENT_ENROLL_TOKEN")
            .envs(settings_env(&settings))
            .process_group(0)
            .stdin(Stdio::null())
            .status()
            .await;
        match status.ok().and_then(|s| s.code()) {
            Some(0) | Some(exit::INCOMPLETE) => {
                tracing::info!(run = %run_id, "a run left behind is delivered and closed");
                return run_id;
            }
            Some(exit::UNDELIVERED) => tokio::time::sleep(Duration::from_secs(5)).await,
            code => {
                tracing::warn!(run = %run_id, code = ?code, "could not recover a run left behind");
                return run_id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The command line a hosted run gets, read back by the runner's own CLI.
    fn parsed(request: &common::agents::RunRequest, resume: Option<&str>) -> crate::cli::StartArgs {
        let argv = std::iter::once("claude-runner".to_string())
            .chain(start_args("r_abc", request, resume));
        match crate::cli::Cli::try_parse_from(argv) {
            Ok(crate::cli::Cli {
                command: crate::cli::Command::Start(args),
                ..
            }) => args,
            Ok(other) => panic!("not a start: {other:?}"),
            Err(e) => panic!("{request:?}: {e}"),
        }
    }

    #[test]
    fn a_hosted_run_s_command_line_takes_values_beginning_with_a_dash() {
        for prompt in [
            "- fix the failing test\n- then run it again",
            "--help",
            "plain",
        ] {
            for cwd in [None, Some("-scratch"), Some("/srv/work --x")] {
                let request = common::agents::RunRequest {
                    prompt: prompt.into(),
                    cwd: cwd.map(String::from),
                    session: true,
                    ..Default::default()
                };
                let args = parsed(&request, Some("-5f0c-session"));
                assert_eq!(args.prompt, prompt);
                assert_eq!(args.cwd.as_deref(), cwd.map(Path::new));
                assert_eq!(args.workspace.is_some(), cwd.is_none());
                assert_eq!(args.run_id.as_deref(), Some("r_abc"));
                assert_eq!(args.resume.as_deref(), Some("-5f0c-session"));
                assert!(args.quiet && args.session && args.archive);
            }
        }
        let args = parsed(&Default::default(), None);
        assert!(args.resume.is_none() && !args.session);
    }
}
