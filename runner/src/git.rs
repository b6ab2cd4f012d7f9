//! The hardened `git` command. The runner's own `git` (branches, checkpoints, the file tree) and
//! the allowlisted `git` commands (`git diff`, `git status`, …) both run through [`harden`], so
//! no setting of the repository makes them run a program: Claude writes `.git/config`, hooks and
//! `.git/info/attributes` as easily as code, and a cloned repository brings its attributes.
//!
//! What it turns off, for every subcommand:
//! * `core.fsmonitor`, hooks (`core.hooksPath=/dev/null`), pagers (`--no-pager`), signing and
//!   signature checks (`commit.gpgSign`, `tag.gpgSign`, `log.showSignature`), automatic `gc` and
//!   maintenance, submodule recursion, the `ext::` transport;
//! * every filter driver (`filter.<name>.clean`, `smudge`, `process`) the repository's own config
//!   files define (local and worktree scope, with what they include), whichever attribute names
//!   it: each is set empty, and not `required`. Filters of the user's global config (git-lfs, say)
//!   still run: that file is the user's, not the working tree's;
//! * the system configuration (`GIT_CONFIG_NOSYSTEM`), terminal prompts, `GIT_EXTERNAL_DIFF` and
//!   `GIT_PAGER` from the runner's environment, and the runner's secrets (`child::scrub_env`).
//!
//! Subcommands that print patches (`diff`, `log`, `show`, `whatchanged`) also get
//! `--no-ext-diff --no-textconv`: external diff programs (`diff.external`, `diff.<driver>.command`)
//! and text conversions (`diff.<driver>.textconv`) can be turned off only by those flags.
//!
//! The settings go in through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, which
//! rank above every configuration file and, unlike `-c`, take any driver name (`we=ird` too).

use std::path::Path;
use std::process::{Command, Stdio};

/// Settings that override what the repository, the user or the system configure.
const SETTINGS: &[(&str, &str)] = &[
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
    ("protocol.ext.allow", "never"),
];

/// Subcommands that can print a patch, and so run a diff driver's program or a text conversion.
const DIFF_FAMILY: &[&str] = &["diff", "log", "show", "whatchanged"];

/// What a command must not take from the runner's environment.
const ENV_REMOVED: &[&str] = &["GIT_EXTERNAL_DIFF", "GIT_PAGER"];

/// A `git` argument vector and the environment it runs with; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardened {
    pub argv: Vec<String>,
    /// Set (`Some`) or removed (`None`).
    pub env: Vec<(String, Option<String>)>,
}

impl Hardened {
    /// Apply the environment to `cmd` (the runner's secrets are removed as for every child).
    pub fn apply_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        crate::child::scrub_env(cmd);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// A [`Command`] for it in `dir`, stdin from `/dev/null`.
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        self.apply_env(&mut cmd)
            .args(&self.argv[1..])
            .current_dir(dir)
            .stdin(Stdio::null());
        cmd
    }
}

/// True for an argument vector that runs `git`.
pub fn is_git(argv: &[String]) -> bool {
    argv.first().is_some_and(|p| p == "git")
}

/// `argv` (`git …`) hardened for the repository in `dir`: `--no-pager` first, the patch flags
/// after a diff-family subcommand, and the environment that turns the rest off. Asks the
/// repository's config which filter drivers it defines (`git config`, which runs nothing); when
/// that cannot be learned the answer is an error, never a command that would run them.
///
/// `rev-parse` (what the runner asks at each run's start and end) skips that question: it names
/// and finds objects and never converts a file's content, so no filter can run under it, and
/// each run saves a `git` process.
pub fn harden(argv: &[String], dir: &Path) -> std::io::Result<Hardened> {
    let mut settings: Vec<(String, String)> = SETTINGS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let filters = match subcommand(argv) {
        Some((_, "rev-parse")) => Vec::new(),
        _ => repository_filters(dir)?,
    };
    for name in filters {
        for key in ["clean", "smudge", "process"] {
            settings.push((format!("filter.{name}.{key}"), String::new()));
        }
        settings.push((format!("filter.{name}.required"), "false".into()));
    }
    Ok(Hardened {
        argv: with_flags(argv),
        env: environment(&settings),
    })
}

/// The environment carrying `settings`.
fn environment(settings: &[(String, String)]) -> Vec<(String, Option<String>)> {
    let mut env: Vec<(String, Option<String>)> =
        ENV_REMOVED.iter().map(|k| (k.to_string(), None)).collect();
    env.push(("GIT_CONFIG_NOSYSTEM".into(), Some("1".into())));
    env.push(("GIT_TERMINAL_PROMPT".into(), Some("0".into())));
    env.push(("GIT_CONFIG_COUNT".into(), Some(settings.len().to_string())));
    for (i, (k, v)) in settings.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), Some(k.clone())));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), Some(v.clone())));
    }
    env
}

/// `--no-pager` after `git`, and `--no-ext-diff --no-textconv` after a diff-family subcommand
/// (found past the global options, `-C <dir>` and `-c <setting>` with their values).
fn with_flags(argv: &[String]) -> Vec<String> {
    let mut out = vec![argv[0].clone(), "--no-pager".into()];
    match subcommand(argv) {
        Some((i, sub)) => {
            out.extend(argv[1..i].iter().cloned());
            out.push(sub.to_string());
            if DIFF_FAMILY.contains(&sub) {
                out.extend(["--no-ext-diff".into(), "--no-textconv".into()]);
            }
            out.extend(argv[i + 1..].iter().cloned());
        }
        None => out.extend(argv[1..].iter().cloned()),
    }
    out
}

/// The subcommand and its index, past the global options (`-C <dir>` and `-c <setting>` with
/// their values); `None` when there is none (`git --version`).
fn subcommand(argv: &[String]) -> Option<(usize, &str)> {
    let mut i = 1;
    while let Some(a) = argv.get(i).filter(|a| a.starts_with('-')) {
        if matches!(a.as_str(), "-C" | "-c") {
            i += 1;
        }
        i += 1;
    }
    argv.get(i).map(|sub| (i, sub.as_str()))
}

/// Names of the filter drivers the repository's own config files (local and worktree scope,
/// with their includes) define. Reading config runs nothing. `git config` answers 1 when no
/// key matches; anything else but success (it could not start, a config file it cannot parse, a
/// signal) is an error: a filter left unnamed would run.
fn repository_filters(dir: &Path) -> std::io::Result<Vec<String>> {
    let query: Vec<String> = [
        "git",
        "config",
        "--show-scope",
        "--name-only",
        "-z",
        "--get-regexp",
        r"^filter\.",
    ]
    .map(String::from)
    .to_vec();
    let plain = Hardened {
        argv: query,
        env: environment(
            &SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        ),
    };
    let out = crate::child::output_protected(&mut plain.command(dir))?;
    match out.status.code() {
        Some(0) => {}
        Some(1) if out.stdout.is_empty() => return Ok(Vec::new()),
        _ => {
            return Err(std::io::Error::other(format!(
                "could not read the repository's filter drivers ({}); git not run",
                out.status
            )));
        }
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split('\0');
    let mut names: Vec<String> = Vec::new();
    while let (Some(scope), Some(key)) = (fields.next(), fields.next()) {
        if !matches!(scope, "local" | "worktree") {
            continue;
        }
        let name = key
            .strip_prefix("filter.")
            .and_then(|rest| rest.rsplit_once('.'))
            .map(|(name, _)| name.to_string());
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    /// Plain `git` (not hardened, a committer set) in `dir`; it must succeed.
    fn plain_git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{args:?}");
    }

    #[test]
    fn patch_flags_follow_a_diff_family_subcommand_only() {
        for (line, want) in [
            (
                "git diff",
                "git --no-pager diff --no-ext-diff --no-textconv",
            ),
            (
                "git diff --cached",
                "git --no-pager diff --no-ext-diff --no-textconv --cached",
            ),
            (
                "git log --oneline -10",
                "git --no-pager log --no-ext-diff --no-textconv --oneline -10",
            ),
            ("git status", "git --no-pager status"),
            (
                "git -C sub -c a=b show HEAD",
                "git --no-pager -C sub -c a=b show --no-ext-diff --no-textconv HEAD",
            ),
            ("git --version", "git --no-pager --version"),
        ] {
            assert_eq!(with_flags(&argv(line)).join(" "), want, "{line}");
        }
    }

    #[test]
    fn filters_of_the_repositorys_own_config_are_emptied_whatever_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| plain_git(dir.path(), args);
        git(&["init", "-q"]);
        git(&["config", "filter.we=ird.clean", "x"]);
        git(&["config", "filter.a.b.process", "y"]);
        git(&["config", "filter.a.b.smudge", "y"]);
        let h = harden(&argv("git status"), dir.path()).unwrap();
        let value = |key: &str| {
            let i = h
                .env
                .iter()
                .find(|(k, v)| k.starts_with("GIT_CONFIG_KEY_") && v.as_deref() == Some(key))
                .map(|(k, _)| k.trim_start_matches("GIT_CONFIG_KEY_").to_string())?;
            h.env
                .iter()
                .find(|(k, _)| *k == format!("GIT_CONFIG_VALUE_{i}"))
                .and_then(|(_, v)| v.clone())
        };
        for name in ["we=ird", "a.b"] {
            for key in ["clean", "smudge", "process"] {
                assert_eq!(value(&format!("filter.{name}.{key}")).as_deref(), Some(""));
            }
            assert_eq!(
                value(&format!("filter.{name}.required")).as_deref(),
                Some("false")
            );
        }
        assert_eq!(value("core.fsmonitor").as_deref(), Some("false"));
        let count = h
            .env
            .iter()
            .find(|(k, _)| k == "GIT_CONFIG_COUNT")
            .and_then(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(count, (SETTINGS.len() + 8).to_string());
    }

    /// `rev-parse` is hardened without asking for the repository's filters, and runs none of
    /// them: a filter configured to leave a mark is not run by any form the runner uses.
    #[test]
    fn rev_parse_runs_no_filter_without_asking_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("ran");
        let plain = |args: &[&str]| plain_git(dir.path(), args);
        plain(&["init", "-q"]);
        std::fs::write(dir.path().join("file"), "text\n").unwrap();
        plain(&["add", "file"]);
        plain(&["commit", "-q", "-m", "one"]);
        let program = format!("touch {}; cat", mark.display());
        for key in ["clean", "smudge"] {
            plain(&["config", &format!("filter.x.{key}"), &program]);
        }
        std::fs::write(dir.path().join(".gitattributes"), "* filter=x\n").unwrap();
        for line in [
            "git rev-parse --is-inside-work-tree",
            "git rev-parse --show-toplevel",
            "git rev-parse HEAD",
            "git rev-parse HEAD:file",
        ] {
            let h = harden(&argv(line), dir.path()).unwrap();
            assert!(
                !h.env
                    .iter()
                    .any(|(_, v)| v.as_deref() == Some("filter.x.clean")),
                "{line}: the filters were not asked for"
            );
            let ok = h.command(dir.path()).status().unwrap().success();
            assert!(ok, "{line}");
            assert!(!mark.exists(), "{line} ran the filter");
        }
        // The same filter runs under a command that reads content (the test is able to fail).
        std::fs::write(dir.path().join("file"), "changed\n").unwrap();
        plain(&["add", "file"]);
        assert!(mark.exists(), "git add runs the clean filter");
    }

    #[test]
    fn filters_that_cannot_be_read_refuse_the_command() {
        let dir = tempfile::tempdir().unwrap();
        plain_git(dir.path(), &["init", "-q"]);
        assert!(
            harden(&argv("git status"), dir.path()).is_ok(),
            "no filters: fine"
        );
        // A config file git cannot parse: its filters are unknown, so git must not run.
        std::fs::write(
            dir.path().join(".git/config"),
            "[filter \"x\"\n\tclean = boom\n",
        )
        .unwrap();
        let err = harden(&argv("git status"), dir.path()).unwrap_err();
        assert!(err.to_string().contains("git not run"), "{err}");
    }
}
