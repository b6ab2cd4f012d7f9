//! Allowlisted `git` commands end to end: a repository whose `.git/config`, hooks and attributes
//! name programs (anyone who can write the working tree can set them) gets them ignored by
//! `git diff`, `git diff --cached`, `git status` and `git log` queued at the real gateway and run
//! by the real runner, which still report the changes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::wire::{Event, EventKind};
use e2e::{Gateway, eventually, runner, script};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn finished<'a>(events: &'a [Event], id: &str) -> Option<&'a Event> {
    events.iter().find(|e| {
        e.kind == EventKind::Marker && e.data["event"] == "command_finished" && e.data["id"] == id
    })
}

/// The stdout lines between a command's announcement and its `command_finished` marker.
fn output_of<'a>(events: &'a [Event], line: &str, id: &str) -> Vec<&'a str> {
    let begin = events
        .iter()
        .find(|e| e.data == format!("Executing command: {line}").as_str())
        .expect("announced")
        .sequence;
    let end = finished(events, id).expect("finished").sequence;
    events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout && (begin..end).contains(&e.sequence))
        .filter_map(|e| e.data.as_str())
        .collect()
}

#[tokio::test]
async fn allowlisted_git_commands_run_no_program_the_repository_names() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("app.txt"), "hello\n").unwrap();
    std::fs::write(work.join("staged.txt"), "one\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "first"]);

    // Every program below leaves a mark named after the setting that ran it; filters and
    // textconv pass their input through so git would carry on.
    let marks = dir.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let trap = |name: &str| {
        script(
            &dir.path().join(format!("trap-{name}")),
            &format!("touch {}/{name}\ncat\n", marks.display()),
        )
        .display()
        .to_string()
    };
    let settings = [
        ("core.fsmonitor", trap("fsmonitor")),
        ("core.pager", trap("pager")),
        ("pager.diff", trap("pager-diff")),
        ("pager.status", trap("pager-status")),
        ("pager.log", trap("pager-log")),
        ("diff.external", trap("external-diff")),
        ("diff.evil.command", trap("diff-driver")),
        ("diff.evil.textconv", trap("textconv")),
        ("filter.evil.clean", trap("clean-filter")),
        ("filter.evil.smudge", trap("smudge-filter")),
        ("filter.evil.required", "true".into()),
        ("filter.we=ird.clean", trap("clean-filter-2")),
        (
            "core.hooksPath",
            dir.path().join("hooks").display().to_string(),
        ),
        ("log.showSignature", "true".into()),
        ("gpg.program", trap("gpg")),
    ];
    for (key, value) in &settings {
        git(&work, &["config", key, value]);
    }
    std::fs::create_dir(dir.path().join("hooks")).unwrap();
    for hook in ["post-index-change", "post-checkout", "pre-commit"] {
        trap(hook);
        std::fs::rename(
            dir.path().join(format!("trap-{hook}")),
            dir.path().join("hooks").join(hook),
        )
        .unwrap();
    }
    std::fs::write(
        work.join(".git/info/attributes"),
        "*.txt filter=evil diff=evil\nstaged.txt filter=we=ird\n",
    )
    .unwrap();
    std::fs::write(work.join("app.txt"), "hello\nchanged\n").unwrap();
    std::fs::write(work.join("staged.txt"), "one\ntwo\n").unwrap();
    // Staging it runs the filter here, in the test's own git: the mark is cleared below.
    git(
        &work,
        &["-c", "core.hooksPath=/dev/null", "add", "staged.txt"],
    );
    std::fs::write(work.join("new.txt"), "untracked\n").unwrap();
    for entry in std::fs::read_dir(&marks).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }

    let claude = script(&dir.path().join("claude"), "echo turn-over\n");
    let run = gw.create_run("git-exec").await;
    let mut proc = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--session", "--cmd", "work"])
        .args(["--run-id", &run.0, "--token", &run.1])
        .arg("--cwd")
        .arg(&work)
        .env("CLAUDE_COMMAND", &claude)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("runner.log")).unwrap())
        .spawn()
        .unwrap();
    let run_id = run.0.as_str();
    let lines = [
        "git diff",
        "git diff --cached",
        "git status",
        "git log --oneline -10",
    ];
    let mut ids = Vec::new();
    for line in lines {
        ids.push(
            gw.queue_command(run_id, json!({"kind": "exec", "command": line}))
                .await,
        );
    }
    let events = eventually(WAIT, || async {
        let events = gw.events(run_id).await;
        ids.iter()
            .all(|id| finished(&events, id).is_some())
            .then_some(events)
    })
    .await;
    gw.queue_command(run_id, json!({"kind": "end_session"}))
        .await;
    let status = tokio::task::spawn_blocking(move || proc.wait())
        .await
        .unwrap()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("runner.log")).unwrap_or_default();
    assert!(status.success(), "{log}");

    let ran: Vec<String> = std::fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ran.is_empty(), "programs the repository named ran: {ran:?}");
    for (line, id) in lines.iter().zip(&ids) {
        assert_eq!(
            finished(&events, id).unwrap().data["exitCode"],
            0,
            "{line}: {log}"
        );
    }
    // The commands still do their work, with git's own diff.
    let diff = output_of(&events, lines[0], &ids[0]);
    assert!(diff.contains(&"+changed"), "{diff:?}");
    let cached = output_of(&events, lines[1], &ids[1]);
    assert!(cached.contains(&"+two"), "{cached:?}");
    let status = output_of(&events, lines[2], &ids[2]);
    assert!(
        status
            .iter()
            .any(|l| l.contains("modified:") && l.contains("app.txt")),
        "{status:?}"
    );
    assert!(status.iter().any(|l| l.contains("new.txt")), "{status:?}");
    let log = output_of(&events, lines[3], &ids[3]);
    assert!(log.iter().any(|l| l.ends_with(" first")), "{log:?}");
}
