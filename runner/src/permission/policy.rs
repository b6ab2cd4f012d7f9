//! What a run lets Claude do: which tools ask a person, the rules a person's "allow for the rest
//! of this run" leaves behind, and the ceilings on what a `prompt` command may switch.
//!
//! A rule is written as Claude Code writes permission rules: `Edit` (the whole tool),
//! `Bash(npm test)` (exactly that command line) or `Bash(git status:*)` (that command followed
//! by any arguments). A prefix rule never allows a line that could do more than the command it
//! names: a line holding a shell operator (`;`, `&`, `|`, a redirection, a subshell, a command
//! substitution, a newline) matches no prefix rule, wherever the operator stands, quoted or not.

use serde_json::Value;

use crate::agent::ClaudeOptions;

/// Longest rule accepted, in bytes.
pub const MAX_RULE_BYTES: usize = common::wire::MAX_PERMISSION_MESSAGE_BYTES;

/// Which tool calls Claude puts before the runner are asked about, from the run's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `CLAUDE_ASK_TOOLS`: tool names, or `*` for every tool neither allowed nor refused.
    ask: Vec<String>,
}

impl Policy {
    pub fn new(options: &ClaudeOptions) -> Self {
        Self {
            ask: options.ask_tools.clone(),
        }
    }

    /// True if some tool asks a person (Claude then gets the permission-prompt flags).
    pub fn asks(&self) -> bool {
        !self.ask.is_empty()
    }

    /// True if a call of `tool` is put before a person; otherwise the runner refuses it (Claude
    /// only asks about tools that are not in `--allowedTools`).
    pub fn asks_about(&self, tool: &str) -> bool {
        self.ask.iter().any(|t| t == "*" || t == tool)
    }
}

/// A remembered "allow for the rest of this run".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Every call of the tool.
    Tool(String),
    /// Bash with exactly this command line (surrounding whitespace aside).
    BashExact(String),
    /// Bash with a command line whose first words are these (see [`prefix_matches`]).
    BashPrefix(Vec<String>),
}

impl Rule {
    /// Parse `Tool`, `Bash(command)` or `Bash(prefix:*)`.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_RULE_BYTES {
            return Err(format!("a rule is 1 to {MAX_RULE_BYTES} bytes"));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err("a rule holds no control characters".into());
        }
        let Some(open) = text.find('(') else {
            return if valid_tool_name(text) {
                Ok(Rule::Tool(text.to_string()))
            } else {
                Err(format!("{text:?} is not a tool name"))
            };
        };
        let (tool, rest) = text.split_at(open);
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("{text:?}: a rule with arguments is Tool(…)"))?;
        if tool != "Bash" {
            return Err(format!(
                "{text:?}: only Bash rules take arguments; give the tool name alone"
            ));
        }
        match inner.strip_suffix(":*") {
            Some(prefix) => {
                let words: Vec<String> = prefix.split_whitespace().map(String::from).collect();
                if words.is_empty() {
                    return Err("a prefix rule names at least one word (Bash(git status:*))".into());
                }
                if shell_operator(prefix).is_some() {
                    return Err(format!(
                        "{text:?}: a prefix cannot hold a shell operator or a quote"
                    ));
                }
                Ok(Rule::BashPrefix(words))
            }
            None if inner.trim().is_empty() => Err("Bash() names no command".into()),
            None => Ok(Rule::BashExact(inner.trim().to_string())),
        }
    }

    /// The rule that "allow for the rest of this run" leaves when the person names none: the
    /// tool, but for Bash only this exact command line.
    pub fn default_for(tool: &str, input: &Value) -> Rule {
        match (tool, bash_command(tool, input)) {
            ("Bash", Some(cmd)) => Rule::BashExact(cmd.trim().to_string()),
            _ => Rule::Tool(tool.to_string()),
        }
    }

    /// True if the rule allows this call.
    pub fn covers(&self, tool: &str, input: &Value) -> bool {
        match self {
            Rule::Tool(t) => t == tool,
            Rule::BashExact(c) => bash_command(tool, input).is_some_and(|cmd| cmd.trim() == c),
            Rule::BashPrefix(words) => {
                bash_command(tool, input).is_some_and(|cmd| prefix_matches(words, cmd))
            }
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Tool(t) => write!(f, "{t}"),
            Rule::BashExact(c) => write!(f, "Bash({c})"),
            Rule::BashPrefix(w) => write!(f, "Bash({}:*)", w.join(" ")),
        }
    }
}

/// The command line of a Bash call.
pub fn bash_command<'a>(tool: &str, input: &'a Value) -> Option<&'a str> {
    (tool == "Bash")
        .then(|| input["command"].as_str())
        .flatten()
}

/// A tool name as Claude Code and MCP servers write them.
fn valid_tool_name(name: &str) -> bool {
    name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The first shell operator (or quote) in `line`, if any. Quotes count too: they only matter
/// inside the prefix, where a rule never needs one.
fn shell_operator(line: &str) -> Option<char> {
    line.chars()
        .find(|&c| matches!(c, '"' | '\'' | '\\') || operator_char(c))
}

fn operator_char(c: char) -> bool {
    // `;` `&` `|` chain commands; `<` `>` redirect (and with `(` make process substitutions);
    // `(` `)` open subshells; a backtick substitutes a command; newlines end one. A tab only
    // separates words.
    matches!(c, ';' | '&' | '|' | '<' | '>' | '(' | ')' | '`') || (c.is_control() && c != '\t')
}

/// True if `line` is the prefix's words followed by nothing or more plain words. Refused,
/// wherever it stands (a quote does not make it safe: the check does not parse quotes): any
/// of `;` `&` `|` `<` `>` `(` `)` `` ` ``, `$(` or `${`, and any control character but a tab
/// (newlines included). Words are separated by spaces and tabs and compared exactly, so `git status`
/// does not match `git statusx` nor `git "status"`.
pub fn prefix_matches(prefix: &[String], line: &str) -> bool {
    if prefix.is_empty() || line.contains("$(") || line.contains("${") {
        return false;
    }
    if line.chars().any(operator_char) {
        return false;
    }
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    prefix.iter().all(|p| words.next() == Some(p.as_str()))
}

/// What a `prompt` command may switch: the models and permission modes the runner allows
/// (`CLAUDE_ALLOWED_MODELS`, `CLAUDE_ALLOWED_PERMISSION_MODES`; the runner's own
/// `CLAUDE_MODEL`/`CLAUDE_PERMISSION_MODE` always).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ceilings {
    pub models: Vec<String>,
    pub permission_modes: Vec<String>,
}

impl Ceilings {
    /// `None` if the switch is allowed, else why not.
    pub fn check(
        &self,
        options: &ClaudeOptions,
        model: Option<&str>,
        mode: Option<&str>,
    ) -> Option<String> {
        if let Some(m) = model {
            let own = options.model.as_deref() == Some(m);
            let listed = self.models.iter().any(|x| x == m || x == "*");
            if !valid_flag_value(m) || !(own || listed) {
                return Some(format!(
                    "model {m:?} is not one this runner allows (CLAUDE_ALLOWED_MODELS: {})",
                    list_or_none(&self.models)
                ));
            }
        }
        if let Some(p) = mode {
            let own = options.permission_mode.as_deref() == Some(p);
            let listed = self.permission_modes.iter().any(|x| x == p);
            if !valid_flag_value(p) || !(own || listed) {
                return Some(format!(
                    "permission mode {p:?} is not one this runner allows (CLAUDE_ALLOWED_PERMISSION_MODES: {})",
                    list_or_none(&self.permission_modes)
                ));
            }
        }
        None
    }
}

fn list_or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(",")
    }
}

/// A value that can follow `--model`/`--permission-mode` without being read as a flag.
pub fn valid_flag_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@[]-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(p: &str) -> Vec<String> {
        p.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_prefix_rule_allows_only_plain_arguments_after_its_words() {
        let allowed = [
            ("git status", "git status"),
            ("git status", "  git   status  "),
            ("git status", "git status --short"),
            ("git status", "git\tstatus -s src/"),
            ("git diff", "git diff HEAD~1 -- src/main.rs"),
            ("npm run test", "npm run test -- --watch=false"),
            ("ls", "ls -la *.rs ~/x $HOME"),
        ];
        for (prefix, line) in allowed {
            assert!(prefix_matches(&words(prefix), line), "{prefix} ⊇ {line:?}");
        }
        let hostile = [
            ("git status", "git status; rm -rf ~"),
            ("git status", "git status;rm -rf ~"),
            ("git status", "git status && rm -rf ~"),
            ("git status", "git status & rm -rf ~"),
            ("git status", "git status || rm -rf ~"),
            ("git status", "git status | sh"),
            ("git status", "git status |& sh"),
            ("git status", "git status $(rm -rf ~)"),
            ("git status", "git status `rm -rf ~`"),
            ("git status", "git status ${IFS}x"),
            ("git status", "git status\nrm -rf ~"),
            ("git status", "git status\r\nrm -rf ~"),
            ("git status", "git status \\\nrm -rf ~"),
            ("git status", "git status > ~/.bashrc"),
            ("git status", "git status >> ~/.bashrc"),
            ("git status", "git status < /etc/shadow"),
            ("git status", "git status <(rm -rf ~)"),
            ("git status", "git status >(sh)"),
            ("git status", "git status (rm -rf ~)"),
            ("git status", "git status 'a;b'"),
            ("git status", "git status \"$(id)\""),
            ("git status", "git status\u{0}; rm"),
            ("git status", "git statusx"),
            ("git status", "git  stat"),
            ("git status", "git"),
            ("git status", ""),
            ("git status", "git \"status\""),
            ("git status", "FOO=1 git status"),
            ("git status", "sudo git status"),
            ("git status", " rm -rf ~ # git status"),
            ("git", "git log $((a[$(rm -rf ~)]))"),
        ];
        for (prefix, line) in hostile {
            assert!(!prefix_matches(&words(prefix), line), "{prefix} ⊉ {line:?}");
        }
        assert!(!prefix_matches(&[], "anything"));
    }

    #[test]
    fn rules_parse_print_and_cover() {
        let bash = |c: &str| json!({"command": c});
        let cases: Vec<(&str, &str, &str, Value, bool)> = vec![
            ("Edit", "Edit", "Edit", json!({"file_path": "/x"}), true),
            ("Edit", "Edit", "Write", json!({"file_path": "/x"}), false),
            ("Bash", "Bash", "Bash", bash("rm -rf ~"), true),
            (
                "Bash(npm test)",
                "Bash(npm test)",
                "Bash",
                bash(" npm test "),
                true,
            ),
            (
                "Bash(npm test)",
                "Bash(npm test)",
                "Bash",
                bash("npm test; sh"),
                false,
            ),
            (
                "Bash(npm test)",
                "Bash(npm test)",
                "Bash",
                bash("npm tests"),
                false,
            ),
            (
                "Bash( git  status :*)",
                "Bash(git status:*)",
                "Bash",
                bash("git status -s"),
                true,
            ),
            (
                "Bash(git status:*)",
                "Bash(git status:*)",
                "Bash",
                bash("git status; id"),
                false,
            ),
            (
                "Bash(git status:*)",
                "Bash(git status:*)",
                "Edit",
                bash("git status"),
                false,
            ),
        ];
        for (text, shown, tool, input, covers) in cases {
            let rule = Rule::parse(text).expect(text);
            assert_eq!(rule.to_string(), shown, "{text}");
            assert_eq!(rule.covers(tool, &input), covers, "{text} / {tool} {input}");
            assert_eq!(Rule::parse(&rule.to_string()).unwrap(), rule, "round trip");
        }
        for bad in [
            "",
            "Bash(",
            "Bash()",
            "Bash(:*)",
            "Edit(/etc/passwd)",
            "Bash(git status; rm:*)",
            "Bash(git 'status':*)",
            "rm -rf",
            "Bash(x\ny)",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad:?} is refused");
        }
        assert_eq!(
            Rule::default_for("Bash", &bash("touch a && ls")),
            Rule::BashExact("touch a && ls".into())
        );
        assert_eq!(
            Rule::default_for("Write", &json!({})),
            Rule::Tool("Write".into())
        );
    }

    #[test]
    fn ceilings_bound_what_a_prompt_may_switch() {
        let options = ClaudeOptions {
            model: Some("sonnet".into()),
            permission_mode: Some("default".into()),
            ..Default::default()
        };
        let c = Ceilings {
            models: vec!["opus".into()],
            permission_modes: vec!["acceptEdits".into(), "plan".into()],
        };
        assert_eq!(c.check(&options, None, None), None);
        assert_eq!(c.check(&options, Some("sonnet"), Some("default")), None);
        assert_eq!(c.check(&options, Some("opus"), Some("plan")), None);
        assert!(c.check(&options, Some("haiku"), None).is_some());
        let bypass = c.check(&options, None, Some("bypassPermissions")).unwrap();
        assert!(bypass.contains("acceptEdits,plan"), "{bypass}");
        let any = Ceilings {
            models: vec!["*".into()],
            ..Default::default()
        };
        assert_eq!(any.check(&options, Some("claude-x-1[1m]"), None), None);
        assert!(
            any.check(&options, Some("--dangerously-skip-permissions"), None)
                .is_some()
        );
        assert!(any.check(&options, Some("a b"), None).is_some());
        assert!(
            Ceilings::default()
                .check(&options, None, Some("plan"))
                .is_some()
        );
    }

    #[test]
    fn the_policy_asks_about_listed_tools_or_all() {
        let p = Policy {
            ask: vec!["Bash".into(), "WebFetch".into()],
        };
        assert!(p.asks() && p.asks_about("Bash") && !p.asks_about("Write"));
        let all = Policy {
            ask: vec!["*".into()],
        };
        assert!(all.asks_about("mcp__x__y"));
        assert!(!Policy::default().asks());
    }
}
