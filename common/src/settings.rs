//! Layered configuration: flag > environment > `.env` file > compiled-in default.
//!
//! Both binaries resolve every setting through [`Layers::resolve`], so the precedence is written
//! once and `claude-runner info` can say where each effective value came from. Reading the files
//! and the process environment is the caller's job; this module only sees their contents.

use std::collections::BTreeMap;
use std::fmt;

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    DotEnv,
    Default,
    Unset,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "flag",
            Source::Env => "environment",
            Source::DotEnv => ".env",
            Source::Default => "default",
            Source::Unset => "unset",
        })
    }
}

/// A resolved raw value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: Option<String>,
    pub source: Source,
}

/// The environment and `.env` layers, captured once so resolution has no side effects.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    pub env: BTreeMap<String, String>,
    pub dotenv: BTreeMap<String, String>,
}

impl Layers {
    /// Resolve `name`: the flag value if given, else the environment, else `.env`, else `default`.
    /// Empty strings in the environment or `.env` count as unset.
    pub fn resolve(&self, name: &str, flag: Option<&str>, default: Option<&str>) -> Resolved {
        if let Some(v) = flag {
            return Resolved {
                value: Some(v.to_string()),
                source: Source::Flag,
            };
        }
        if let Some(v) = self.env.get(name).filter(|v| !v.is_empty()) {
            return Resolved {
                value: Some(v.clone()),
                source: Source::Env,
            };
        }
        if let Some(v) = self.dotenv.get(name).filter(|v| !v.is_empty()) {
            return Resolved {
                value: Some(v.clone()),
                source: Source::DotEnv,
            };
        }
        match default {
            Some(d) => Resolved {
                value: Some(d.to_string()),
                source: Source::Default,
            },
            None => Resolved {
                value: None,
                source: Source::Unset,
            },
        }
    }
}

/// An error in a `.env` file, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct DotEnvError {
    pub line: usize,
    pub reason: &'static str,
}

/// Parse the contents of a `.env` file: `NAME=value` lines, `#` comments, optional `export `,
/// single quotes (literal) or double quotes (with `\n`, `\"`, `\\` escapes).
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotEnvError> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(DotEnvError {
                line: line_no,
                reason: "expected NAME=value",
            });
        };
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(DotEnvError {
                line: line_no,
                reason: "invalid variable name",
            });
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('\'') {
            rest.strip_suffix('\'')
                .ok_or(DotEnvError {
                    line: line_no,
                    reason: "unterminated single quote",
                })?
                .to_string()
        } else if let Some(rest) = value.strip_prefix('"') {
            let inner = rest.strip_suffix('"').ok_or(DotEnvError {
                line: line_no,
                reason: "unterminated double quote",
            })?;
            unescape_double(inner)
        } else {
            // Unquoted: a ` #` starts a comment.
            match value.find(" #") {
                Some(p) => value[..p].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Parse a boolean setting: `1/true/yes/on` and `0/false/no/off`, case-insensitive.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_flag_env_dotenv_default() {
        let mut layers = Layers::default();
        layers.env.insert("A".into(), "env".into());
        layers.dotenv.insert("A".into(), "dot".into());
        layers.dotenv.insert("B".into(), "dot".into());
        layers.env.insert("C".into(), String::new());
        assert_eq!(
            layers.resolve("A", Some("flag"), Some("d")).source,
            Source::Flag
        );
        assert_eq!(
            layers.resolve("A", None, Some("d")).value.as_deref(),
            Some("env")
        );
        assert_eq!(layers.resolve("B", None, Some("d")).source, Source::DotEnv);
        assert_eq!(layers.resolve("C", None, Some("d")).source, Source::Default);
        assert_eq!(layers.resolve("D", None, None).source, Source::Unset);
    }

    #[test]
    fn dotenv_forms() {
        let text = "# comment\nexport A=1\nB = two words # trailing\nC='lit $x # not comment'\nD=\"a\\nb\\\"c\"\n\nE=\n";
        let m = parse_dotenv(text).unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "lit $x # not comment");
        assert_eq!(m["D"], "a\nb\"c");
        assert_eq!(m["E"], "");
    }

    #[test]
    fn dotenv_errors_name_the_line() {
        assert_eq!(parse_dotenv("A=1\nnonsense\n").unwrap_err().line, 2);
        assert_eq!(
            parse_dotenv("1A=x").unwrap_err().reason,
            "invalid variable name"
        );
        assert_eq!(
            parse_dotenv("A='x").unwrap_err().reason,
            "unterminated single quote"
        );
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
