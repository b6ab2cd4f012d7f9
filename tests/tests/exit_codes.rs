//! `claude-runner start`'s exit codes and the checks it makes before a run exists: the real
//! gateway and runner binaries with a fake `CLAUDE_COMMAND`.

use e2e::{Gateway, runner, script};

/// A `--cwd` that cannot be a working directory is refused before anything is created at the
/// gateway, with an error that names it, not the Claude command.
#[tokio::test]
async fn a_bad_cwd_is_refused_before_a_run_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let ran = dir.path().join("ran");
    let child = script(
        &dir.path().join("claude"),
        &format!("touch {}\n", ran.display()),
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let cases: [(&[&str], &std::path::Path, &str); 3] = [
        (&[], &file, "is not a directory"),
        (&[], &dir.path().join("missing"), "No such file"),
        (&["--git-branch"], &plain, "not in one"),
    ];
    for (extra, cwd, why) in cases {
        let out = runner(dir.path())
            .arg("--env-file")
            .arg(&gw.runner_env)
            .args(["start", "--cmd", "x"])
            .args(extra)
            .arg("--cwd")
            .arg(cwd)
            .env("CLAUDE_COMMAND", &child)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{}: {stderr}", cwd.display());
        assert!(
            stderr.contains(&cwd.display().to_string()) && stderr.contains(why),
            "the error names the directory and why: {stderr}"
        );
        assert!(!stderr.contains("CLAUDE_COMMAND"), "{stderr}");
        assert!(gw.runs().await.is_empty(), "no run was created: {stderr}");
        assert!(!ran.exists(), "the child never started");
    }
}

/// `start` with `child` as Claude on a run it creates; its exit code and stderr.
fn start(gw: &Gateway, dir: &std::path::Path, child: &str, env: &[(&str, &str)]) -> (i32, String) {
    let claude = script(&dir.join("claude"), child);
    let out = runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", "x"])
        .env("CLAUDE_COMMAND", &claude)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

/// A child that exits 0 after output past the spool's cap: the run is delivered, but not all of
/// the output was kept.
#[tokio::test]
async fn output_dropped_at_the_spool_cap_exits_121() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let flood = "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100\nexit 0\n";
    let (code, stderr) = start(
        &gw,
        dir.path(),
        flood,
        &[("RUNNER_SPOOL_MAX_BYTES", "1048576")],
    );
    assert_eq!(code, 121, "{stderr}");
    assert!(stderr.contains("RUNNER_SPOOL_MAX_BYTES"), "{stderr}");
    let (code, stderr) = start(&gw, dir.path(), "echo fine\n", &[]);
    assert_eq!(code, 0, "the same run without a flood: {stderr}");
}

/// Events the gateway does not take (here: signed with the wrong token) stay in the spool; the
/// child's success does not hide it.
#[tokio::test]
async fn events_still_undelivered_exit_122() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let (run_id, _token) = gw.create_run("undelivered").await;
    let wrong = "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (code, stderr) = start(
        &gw,
        dir.path(),
        "echo hello\n",
        &[("RUN_ID", &run_id), ("RUN_TOKEN", wrong)],
    );
    assert_eq!(code, 122, "{stderr}");
    assert!(
        stderr.contains(&format!("claude-runner flush --run-id {run_id}")),
        "{stderr}"
    );
}

/// A run stopped by Ctrl-C exits 124 even when Claude exits 0 after SIGINT.
#[tokio::test]
async fn a_stopped_run_exits_124() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let up = dir.path().join("up");
    let claude = script(
        &dir.path().join("claude"),
        &format!(
            "trap 'echo bye; exit 0' INT\ntouch {}\nwhile :; do sleep 0.05; done\n",
            up.display()
        ),
    );
    let proc = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", "x"])
        .env("CLAUDE_COMMAND", &claude)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    e2e::eventually(std::time::Duration::from_secs(30), || async {
        up.exists().then_some(())
    })
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(proc.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || proc.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    let run = gw.runs().await.pop().unwrap();
    assert_eq!(run.status, common::wire::RunStatus::Stopped);
    assert_eq!(
        run.exit_code,
        Some(0),
        "the finished marker keeps Claude's own code"
    );
}
