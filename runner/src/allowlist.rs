//! The `exec` allowlist, enforced here on the runner whatever the gateway sends: a command line
//! runs only if it equals an allowed line after whitespace normalisation, and then only as an
//! argument vector, never through a shell.

use std::collections::BTreeSet;

/// The built-in allowlist (`config/allowlist.txt`).
pub const BUILTIN: &str = include_str!("../../config/allowlist.txt");

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the command is empty")]
    Empty,
    #[error("{command:?} is not on the allowlist (built-in list plus EXTRA_ALLOWED_COMMANDS)")]
    NotAllowed { command: String },
}

/// The command lines that may run, each already normalised.
#[derive(Debug, Clone)]
pub struct Allowlist {
    lines: BTreeSet<String>,
}

/// Collapse every run of whitespace into one space and trim the ends.
pub fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Allowlist {
    /// The built-in list plus `extra` (from `EXTRA_ALLOWED_COMMANDS`).
    pub fn new(extra: &[String]) -> Self {
        let builtin = BUILTIN
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let lines = builtin
            .chain(extra.iter().map(String::as_str))
            .map(normalise)
            .filter(|l| !l.is_empty())
            .collect();
        Self { lines }
    }

    /// The argument vector to run for `command`, or why it may not run.
    pub fn check(&self, command: &str) -> Result<Vec<String>, Refusal> {
        let line = normalise(command);
        if line.is_empty() {
            return Err(Refusal::Empty);
        }
        if !self.lines.contains(&line) {
            return Err(Refusal::NotAllowed { command: line });
        }
        Ok(line.split(' ').map(String::from).collect())
    }

    /// Every allowed line, sorted.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lines_are_exactly_the_shipped_ones() {
        let a = Allowlist::new(&[]);
        let want = [
            "npm test",
            "npm run test",
            "pnpm test",
            "yarn test",
            "pytest",
            "pytest -v",
            "go test ./...",
            "cargo test",
            "git diff",
            "git diff --cached",
            "git status",
            "git log --oneline -10",
            "ls -la",
            "pwd",
        ];
        let mut want: Vec<&str> = want.to_vec();
        want.sort_unstable();
        assert_eq!(a.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn matching_is_exact_after_whitespace_normalisation() {
        let a = Allowlist::new(&["make check".into()]);
        assert_eq!(a.check("git status").unwrap(), ["git", "status"]);
        assert_eq!(
            a.check("  git\t log   --oneline -10 \n").unwrap(),
            ["git", "log", "--oneline", "-10"]
        );
        assert_eq!(a.check("make   check").unwrap(), ["make", "check"]);
        for refused in [
            "rm -rf /",
            "npm test; curl x",
            "git diff && sh",
            "git diff | sh",
            "git diff $(curl x)",
            "`curl x`",
            "npm test #",
            "git status --porcelain",
            "GIT_DIR=/x git status",
            "git  diff --output=/tmp/x",
            "Git status",
            "pytest -v -x",
            "cargo",
            "make check extra",
        ] {
            assert_eq!(
                a.check(refused),
                Err(Refusal::NotAllowed {
                    command: normalise(refused)
                }),
                "{refused}"
            );
        }
        assert_eq!(a.check(" \n "), Err(Refusal::Empty));
    }

    #[test]
    fn comments_and_blank_lines_are_not_commands() {
        let a = Allowlist::new(&[String::new(), "  ".into()]);
        assert!(a.lines().all(|l| !l.starts_with('#') && !l.is_empty()));
        assert!(a.check("#").is_err());
    }
}
