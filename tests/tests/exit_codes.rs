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
