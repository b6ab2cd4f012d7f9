//! The redaction configuration: a small line-based format (see `config/redaction.rules`) that
//! adds patterns and names the environment variables whose values are secrets.

use super::known::{self, SECRET_ENV_SUFFIXES};
use super::rules::{RuleError, Rules};
use std::collections::BTreeMap;

/// The shipped default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/redaction.rules");

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("redaction config line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// A parsed configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Environment variable name endings whose values are secrets.
    pub suffixes: Vec<String>,
    /// Environment variable names whose values are secrets (case-insensitive; `*` globs).
    pub env: Vec<String>,
    /// Extra `(name, regex)` rules.
    pub patterns: Vec<(String, String)>,
}

impl Config {
    /// Parse the line-based format; regexes are only checked when the rules are built.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut cfg = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: &str| ConfigError::Syntax {
                line: i + 1,
                message: message.to_string(),
            };
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "suffix" | "env" if rest.is_empty() || rest.contains(char::is_whitespace) => {
                    return Err(err("expected exactly one name"));
                }
                "suffix" => cfg.suffixes.push(rest.to_string()),
                "env" => cfg.env.push(rest.to_string()),
                "pattern" => {
                    let (name, re) = rest
                        .split_once(char::is_whitespace)
                        .ok_or_else(|| err("expected `pattern <name> <regex>`"))?;
                    cfg.patterns.push((name.to_string(), re.trim().to_string()));
                }
                _ => return Err(err(&format!("unknown directive {word:?}"))),
            }
        }
        Ok(cfg)
    }
}

impl Rules {
    /// Rules from a configuration text (e.g. [`DEFAULT_CONFIG`]): the built-ins, its patterns,
    /// the values of the environment variables whose names are secrets' (by their parts, see
    /// [`secret_env_values`](super::secret_env_values)), that it names (globs allowed) or whose
    /// names end in one of its suffixes, and `extra_known` values (the runner's own HMAC secret
    /// and run token). Secret variables with values too short to redact are named in
    /// [`Rules::too_short`]. `env` is passed in: this crate never reads the environment.
    pub fn from_config(
        text: &str,
        env: &BTreeMap<String, String>,
        extra_known: Vec<String>,
    ) -> Result<Self, ConfigError> {
        let cfg = Config::parse(text)?;
        let mut suffixes = cfg.suffixes.clone();
        suffixes.extend(SECRET_ENV_SUFFIXES.iter().map(|s| s.to_string()));
        let found = known::secret_env_values(env, &suffixes, &cfg.env);
        let mut values = found.values;
        values.extend(extra_known);
        Ok(Self::build(&cfg.patterns, values, found.too_short)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_compiles() {
        let cfg = Config::parse(DEFAULT_CONFIG).unwrap();
        assert!(cfg.suffixes.contains(&"_TOKEN".to_string()));
        assert!(cfg.env.contains(&"HMAC_SECRET".to_string()));
        let env = BTreeMap::from([("FOO_TOKEN".to_string(), "foo-token-value".to_string())]);
        let rules =
            Rules::from_config(DEFAULT_CONFIG, &env, vec!["run-token-1234".into()]).unwrap();
        let rules = std::sync::Arc::new(rules);
        let out = super::super::redact_text(&rules, "a foo-token-value b run-token-1234 c\n");
        assert_eq!(out, "a [REDACTED] b [REDACTED] c\n");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("# ok\nfrobnicate x\n", 2),
            ("suffix\n", 1),
            ("env A B\n", 1),
            ("\n\npattern lonely\n", 3),
        ];
        for (text, want) in cases {
            match Config::parse(text) {
                Err(ConfigError::Syntax { line, .. }) => assert_eq!(line, want, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let bad = Rules::from_config("pattern mine (\n", &BTreeMap::new(), vec![]).unwrap_err();
        assert!(matches!(bad, ConfigError::Rule(RuleError { ref name, .. }) if name == "mine"));
    }
}
