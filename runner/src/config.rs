//! Runner settings: one resolution (flag > environment > `.env` > default), one report (`info`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use common::Secret;
use common::settings::{Layers, Source, parse_bool, parse_dotenv};

use crate::cli::SettingFlags;
use crate::tls::{self, Trust};

pub const DEFAULT_GATEWAY_URL: &str = "https://localhost:3100";
/// 1 GiB: room for hours of ordinary output while the gateway is away.
pub const DEFAULT_SPOOL_MAX_BYTES: &str = "1073741824";
/// Below this a spool could not hold one batch and its markers.
pub const MIN_SPOOL_MAX_BYTES: u64 = 1024 * 1024;

/// A setting's effective value (as shown by `info`, masked if secret) and its origin.
#[derive(Debug, Clone)]
pub struct Shown {
    pub name: &'static str,
    pub value: String,
    pub source: Source,
}

/// The effective runner configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub gateway_url: url::Url,
    pub hmac_secret: Option<Secret>,
    pub trust: Trust,
    pub claude_command: Vec<String>,
    pub extra_allowed_commands: Vec<String>,
    pub data_dir: PathBuf,
    /// The tmate program (and leading arguments) `assist` runs.
    pub tmate_command: Vec<String>,
    /// How long an `assist` session stays open unless `--expires` says otherwise.
    pub assist_expires: std::time::Duration,
    /// Largest a run's spool of undelivered events may grow before output is dropped.
    pub spool_max_bytes: u64,
    /// How Claude Code is invoked (`CLAUDE_MODEL`, `CLAUDE_PERMISSION_MODE`, tool lists).
    pub claude: crate::agent::ClaudeOptions,
    /// `start --session`: a session without a prompt for this long ends.
    pub session_idle_timeout: std::time::Duration,
    /// A call nobody approved within this long is denied (`CLAUDE_ASK_TIMEOUT`).
    pub ask_timeout: std::time::Duration,
    /// What a `prompt` command may switch (`CLAUDE_ALLOWED_MODELS`, `…_PERMISSION_MODES`).
    pub ceilings: crate::permission::policy::Ceilings,
    /// The environment as captured at start (known-value redaction reads it).
    pub env: BTreeMap<String, String>,
    /// Every setting with its source, for `info`.
    pub shown: Vec<Shown>,
    /// Where the `.env` layer came from, if a file was read.
    pub env_file: Option<PathBuf>,
}

/// Read the `.env` layer: `--env-file` (must exist) or `./.env` (optional).
pub fn read_layers(flags: &SettingFlags) -> anyhow::Result<(Layers, Option<PathBuf>)> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let (path, required) = match &flags.env_file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(".env"), false),
    };
    let dotenv = match std::fs::read_to_string(&path) {
        Ok(text) => parse_dotenv(&text).with_context(|| format!("{}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok((
                Layers {
                    env,
                    dotenv: BTreeMap::new(),
                },
                None,
            ));
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    Ok((Layers { env, dotenv }, Some(path)))
}

impl Settings {
    /// Resolve every setting. No side effects: files named here are only read when used.
    pub fn resolve(
        flags: &SettingFlags,
        layers: &Layers,
        env_file: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let claude_defaults =
            parse_dotenv(crate::agent::DEFAULTS).context("the built-in config/claude.defaults")?;
        let claude_default = |name: &str| {
            claude_defaults
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let mut shown = Vec::new();
        let mut get =
            |name: &'static str, flag: Option<String>, default: Option<&str>, secret: bool| {
                let r = layers.resolve(name, flag.as_deref(), default);
                let value = match (&r.value, secret) {
                    (None, _) => "(unset)".to_string(),
                    (Some(v), true) => Secret::new(v.clone()).masked(),
                    (Some(v), false) => v.clone(),
                };
                shown.push(Shown {
                    name,
                    value,
                    source: r.source,
                });
                r.value
            };

        let url_text = get(
            "GATEWAY_URL",
            flags.gateway_url.clone(),
            Some(DEFAULT_GATEWAY_URL),
            false,
        )
        .unwrap_or_default();
        let hmac_secret = get("HMAC_SECRET", None, None, true).map(Secret::new);
        // `agent` reads these two from the environment (or its --name, --enroll-token); listed
        // here so `info` shows them.
        let _ = get("AGENT_NAME", None, None, false);
        let _ = get("AGENT_ENROLL_TOKEN", None, None, true);
        let ca_file = get(
            "GATEWAY_CA_FILE",
            flags
                .gateway_ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
            None,
            false,
        );
        let pin = get(
            "GATEWAY_CERT_SHA256",
            flags.gateway_cert_sha256.clone(),
            None,
            false,
        );
        let self_signed_raw = get(
            "ALLOW_SELF_SIGNED",
            flags.allow_self_signed.then(|| "true".to_string()),
            Some("false"),
            false,
        );
        let claude = get(
            "CLAUDE_COMMAND",
            flags.claude_command.clone(),
            Some("claude"),
            false,
        )
        .unwrap_or_default();
        let extra = get("EXTRA_ALLOWED_COMMANDS", None, None, false);
        let tmate = get("TMATE_COMMAND", None, Some("tmate"), false).unwrap_or_default();
        let expires = get("ASSIST_EXPIRES", None, Some("2h"), false).unwrap_or_default();
        let data_dir = get(
            "RUNNER_DATA_DIR",
            flags.data_dir.as_ref().map(|p| p.display().to_string()),
            Some(".data"),
            false,
        )
        .unwrap_or_default();
        let spool_max = get(
            "RUNNER_SPOOL_MAX_BYTES",
            None,
            Some(DEFAULT_SPOOL_MAX_BYTES),
            false,
        )
        .unwrap_or_default();

        let model = get(
            "CLAUDE_MODEL",
            flags.model.clone(),
            claude_default("CLAUDE_MODEL"),
            false,
        );
        let permission_mode = get(
            "CLAUDE_PERMISSION_MODE",
            flags.permission_mode.clone(),
            claude_default("CLAUDE_PERMISSION_MODE"),
            false,
        );
        let allowed_tools = get(
            "CLAUDE_ALLOWED_TOOLS",
            flags.allowed_tools.clone(),
            claude_default("CLAUDE_ALLOWED_TOOLS"),
            false,
        );
        let disallowed_tools = get(
            "CLAUDE_DISALLOWED_TOOLS",
            flags.disallowed_tools.clone(),
            claude_default("CLAUDE_DISALLOWED_TOOLS"),
            false,
        );
        let ask_tools = get(
            "CLAUDE_ASK_TOOLS",
            flags.ask_tools.clone(),
            claude_default("CLAUDE_ASK_TOOLS"),
            false,
        );
        let ask_timeout = get(
            "CLAUDE_ASK_TIMEOUT",
            flags.ask_timeout.clone(),
            claude_default("CLAUDE_ASK_TIMEOUT"),
            false,
        )
        .unwrap_or_else(|| "10m".into());
        let allowed_models = get(
            "CLAUDE_ALLOWED_MODELS",
            flags.allowed_models.clone(),
            claude_default("CLAUDE_ALLOWED_MODELS"),
            false,
        );
        let allowed_modes = get(
            "CLAUDE_ALLOWED_PERMISSION_MODES",
            flags.allowed_permission_modes.clone(),
            claude_default("CLAUDE_ALLOWED_PERMISSION_MODES"),
            false,
        );
        let idle = get(
            "SESSION_IDLE_TIMEOUT",
            flags.session_idle_timeout.clone(),
            claude_default("SESSION_IDLE_TIMEOUT"),
            false,
        )
        .unwrap_or_else(|| "20m".into());

        let gateway_url = url::Url::parse(&url_text)
            .with_context(|| format!("GATEWAY_URL {url_text:?} is not a URL"))?;
        if !matches!(gateway_url.scheme(), "https" | "http") {
            bail!(
                "GATEWAY_URL must start with https:// (or http:// for a plain-HTTP gateway on loopback)"
            );
        }
        let allow_self_signed = match self_signed_raw.as_deref().map(parse_bool) {
            Some(Some(b)) => b,
            Some(None) => bail!("ALLOW_SELF_SIGNED must be true or false"),
            None => false,
        };
        let trust = match (ca_file, pin) {
            (Some(_), Some(_)) => bail!("set GATEWAY_CA_FILE or GATEWAY_CERT_SHA256, not both"),
            (Some(ca), None) => Trust::CaFile(PathBuf::from(ca)),
            (None, Some(pin)) => {
                Trust::Pin(tls::normalize_fingerprint(&pin).context("GATEWAY_CERT_SHA256")?)
            }
            (None, None) if allow_self_signed => Trust::Insecure,
            (None, None) => Trust::System,
        };
        let spool_max_bytes = spool_max
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n >= MIN_SPOOL_MAX_BYTES)
            .with_context(|| {
                format!(
                    "RUNNER_SPOOL_MAX_BYTES {spool_max:?} must be a number of bytes, at least {MIN_SPOOL_MAX_BYTES}"
                )
            })?;
        let tmate_command: Vec<String> = tmate.split_whitespace().map(String::from).collect();
        if tmate_command.is_empty() {
            bail!("TMATE_COMMAND is empty");
        }
        let assist_expires = crate::assist::parse_duration(&expires)
            .map_err(|e| anyhow::anyhow!("ASSIST_EXPIRES {e}"))?;
        let claude_command: Vec<String> = claude.split_whitespace().map(String::from).collect();
        if claude_command.is_empty() {
            bail!("CLAUDE_COMMAND is empty");
        }
        let extra_allowed_commands = extra
            .map(|s| {
                s.split(',')
                    .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let tools = |v: Option<String>| -> Vec<String> {
            v.map(|s| {
                s.split([',', ' '])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        let claude_options = crate::agent::ClaudeOptions {
            model: model.filter(|m| !m.trim().is_empty()),
            permission_mode: permission_mode.filter(|m| !m.trim().is_empty()),
            allowed_tools: tools(allowed_tools),
            disallowed_tools: tools(disallowed_tools),
            ask_tools: tools(ask_tools),
        };
        if let Some(bad) = claude_options.ask_tools.iter().find(|t| {
            t.as_str() != "*"
                && !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            bail!("CLAUDE_ASK_TOOLS names tools (or *), not rules: {bad:?}");
        }
        let ceilings = crate::permission::policy::Ceilings {
            models: tools(allowed_models),
            permission_modes: tools(allowed_modes),
        };
        let ask_timeout = crate::assist::parse_duration(&ask_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| {
                format!("CLAUDE_ASK_TIMEOUT {ask_timeout:?} must be a duration such as 10m or 90s")
            })?;
        let session_idle_timeout = crate::assist::parse_duration(&idle)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| {
                format!("SESSION_IDLE_TIMEOUT {idle:?} must be a duration such as 20m, 90s or 2h")
            })?;
        shown.push(Shown {
            name: "(trust)",
            value: tls::describe(&trust),
            source: Source::Default,
        });
        Ok(Self {
            gateway_url,
            hmac_secret,
            trust,
            claude_command,
            extra_allowed_commands,
            data_dir: PathBuf::from(data_dir),
            tmate_command,
            assist_expires,
            spool_max_bytes,
            claude: claude_options,
            session_idle_timeout,
            ask_timeout,
            ceilings,
            env: layers.env.clone(),
            shown,
            env_file,
        })
    }

    /// The shared secret, or a plain-words error.
    pub fn require_secret(&self) -> anyhow::Result<&Secret> {
        self.hmac_secret.as_ref().context(
            "HMAC_SECRET is not set: copy it from the gateway (its data directory holds runner.env) \
             into the environment or .env",
        )
    }

    /// The `info` report: one line per setting.
    pub fn report(&self) -> String {
        let mut out = String::new();
        match &self.env_file {
            Some(p) => out.push_str(&format!("settings file: {}\n", p.display())),
            None => out.push_str("settings file: (none; ./.env not found)\n"),
        }
        out.push_str(&format!("{:<24} {:<48} {}\n", "SETTING", "VALUE", "SOURCE"));
        for s in &self.shown {
            if s.name == "(trust)" {
                continue;
            }
            out.push_str(&format!("{:<24} {:<48} {}\n", s.name, s.value, s.source));
        }
        out.push_str(&format!(
            "\ngateway certificate trust: {}\n",
            tls::describe(&self.trust)
        ));
        let allowlist = crate::allowlist::Allowlist::new(&self.extra_allowed_commands);
        out.push_str(&format!(
            "commands the gateway may run (exec): {}\n",
            allowlist.lines().collect::<Vec<_>>().join(", ")
        ));
        out.push_str(&self.tool_policy());
        out.push_str(
            "terminal echo of `start`: Claude's stream-json in words (who said what, a tool call \
             per line) and markers as labelled lines; `--raw` for the lines as they came, \
             `--quiet` for none (redacted either way)\n",
        );
        if matches!(self.trust, Trust::Insecure) {
            out.push_str("WARNING: ALLOW_SELF_SIGNED turns certificate verification off; prefer GATEWAY_CA_FILE or GATEWAY_CERT_SHA256\n");
        }
        out
    }
}

impl Settings {
    /// The tool policy in plain words, for `info`.
    fn tool_policy(&self) -> String {
        let c = &self.claude;
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let allowed: Vec<String> = c
            .allowed_tools
            .iter()
            .filter(|t| !c.ask_tools.contains(t))
            .cloned()
            .collect();
        let asked = if c.ask_tools.iter().any(|t| t == "*") {
            "every other tool".to_string()
        } else {
            list(&c.ask_tools)
        };
        let mut out = format!(
            "tools Claude uses without asking: {}
tools a person approves (within {} s, else denied): {asked}
tools always refused: {}
",
            list(&allowed),
            self.ask_timeout.as_secs(),
            list(&c.disallowed_tools),
        );
        if c.ask_tools.is_empty() {
            out.push_str("(any other tool is refused: set CLAUDE_ASK_TOOLS to approve calls from the gateway)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(env: &[(&str, &str)], dot: &[(&str, &str)]) -> Layers {
        Layers {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dotenv: dot
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn defaults_and_sources() {
        let s = Settings::resolve(
            &SettingFlags::default(),
            &layers(&[], &[("HMAC_SECRET", "dot-secret-value")]),
            None,
        )
        .unwrap();
        assert_eq!(s.gateway_url.as_str(), "https://localhost:3100/");
        assert_eq!(s.claude_command, vec!["claude"]);
        assert_eq!(s.trust, Trust::System);
        let secret = s.shown.iter().find(|x| x.name == "HMAC_SECRET").unwrap();
        assert_eq!(secret.source, Source::DotEnv);
        assert!(!secret.value.contains("dot-secret-value"));
        assert!(!s.report().contains("dot-secret-value"));
    }

    #[test]
    fn flag_beats_env_beats_dotenv() {
        let flags = SettingFlags {
            gateway_url: Some("https://flag:1".into()),
            ..Default::default()
        };
        let l = layers(
            &[
                ("GATEWAY_URL", "https://env:1"),
                ("CLAUDE_COMMAND", "node fake.js"),
            ],
            &[("CLAUDE_COMMAND", "x")],
        );
        let s = Settings::resolve(&flags, &l, None).unwrap();
        assert_eq!(s.gateway_url.host_str(), Some("flag"));
        assert_eq!(s.claude_command, vec!["node", "fake.js"]);
    }

    #[test]
    fn trust_choices() {
        let pin = "AB:".repeat(31) + "AB";
        let s = Settings::resolve(
            &SettingFlags::default(),
            &layers(&[("GATEWAY_CERT_SHA256", &pin)], &[]),
            None,
        )
        .unwrap();
        assert_eq!(s.trust, Trust::Pin("ab".repeat(32)));
        let s = Settings::resolve(
            &SettingFlags::default(),
            &layers(&[("ALLOW_SELF_SIGNED", "1")], &[]),
            None,
        )
        .unwrap();
        assert_eq!(s.trust, Trust::Insecure);
        assert!(s.report().contains("WARNING"));
        let both = layers(
            &[("GATEWAY_CA_FILE", "/x"), ("GATEWAY_CERT_SHA256", &pin)],
            &[],
        );
        assert!(Settings::resolve(&SettingFlags::default(), &both, None).is_err());
    }

    #[test]
    fn extra_commands_are_normalised() {
        let s = Settings::resolve(
            &SettingFlags::default(),
            &layers(
                &[("EXTRA_ALLOWED_COMMANDS", " make   check ,, npm run lint")],
                &[],
            ),
            None,
        )
        .unwrap();
        assert_eq!(s.extra_allowed_commands, vec!["make check", "npm run lint"]);
        assert!(s.report().contains("make check, npm run lint"));
    }

    #[test]
    fn claude_settings_default_from_config_and_are_overridable() {
        let s = Settings::resolve(&SettingFlags::default(), &layers(&[], &[]), None).unwrap();
        assert_eq!(
            s.claude.allowed_tools,
            ["Read", "Write", "Edit", "Bash", "Glob", "Grep"]
        );
        assert_eq!(
            (
                s.claude.model.as_deref(),
                s.claude.permission_mode.as_deref()
            ),
            (None, None)
        );
        assert!(s.claude.disallowed_tools.is_empty());
        assert_eq!(
            s.session_idle_timeout,
            std::time::Duration::from_secs(20 * 60)
        );
        let report = s.report();
        for name in [
            "CLAUDE_MODEL",
            "CLAUDE_PERMISSION_MODE",
            "CLAUDE_ALLOWED_TOOLS",
            "CLAUDE_DISALLOWED_TOOLS",
            "SESSION_IDLE_TIMEOUT",
        ] {
            assert!(report.contains(name), "{name} in info");
        }
        let flags = SettingFlags {
            model: Some("opus".into()),
            ..Default::default()
        };
        let l = layers(
            &[
                ("CLAUDE_ALLOWED_TOOLS", "Read, Grep"),
                ("SESSION_IDLE_TIMEOUT", "90s"),
            ],
            &[("CLAUDE_DISALLOWED_TOOLS", "WebFetch")],
        );
        let s = Settings::resolve(&flags, &l, None).unwrap();
        assert_eq!(s.claude.model.as_deref(), Some("opus"));
        assert_eq!(s.claude.allowed_tools, ["Read", "Grep"]);
        assert_eq!(s.claude.disallowed_tools, ["WebFetch"]);
        assert_eq!(s.session_idle_timeout, std::time::Duration::from_secs(90));
        let bad = layers(&[("SESSION_IDLE_TIMEOUT", "0s")], &[]);
        assert!(Settings::resolve(&SettingFlags::default(), &bad, None).is_err());
    }

    #[test]
    fn approval_settings() {
        let s = Settings::resolve(&SettingFlags::default(), &layers(&[], &[]), None).unwrap();
        assert!(s.claude.ask_tools.is_empty());
        assert_eq!(s.ask_timeout, std::time::Duration::from_secs(600));
        assert!(s.ceilings.models.is_empty());
        assert_eq!(
            s.ceilings.permission_modes,
            ["default", "acceptEdits", "plan"]
        );
        let report = s.report();
        for text in [
            "CLAUDE_ASK_TOOLS",
            "CLAUDE_ASK_TIMEOUT",
            "CLAUDE_ALLOWED_MODELS",
            "CLAUDE_ALLOWED_PERMISSION_MODES",
            "tools a person approves (within 600 s, else denied): none",
        ] {
            assert!(report.contains(text), "{text} in info:\n{report}");
        }
        let flags = SettingFlags {
            ask_tools: Some("Bash, WebFetch".into()),
            ask_timeout: Some("90s".into()),
            ..Default::default()
        };
        let l = layers(&[("CLAUDE_ALLOWED_MODELS", "opus,sonnet")], &[]);
        let s = Settings::resolve(&flags, &l, None).unwrap();
        assert_eq!(s.claude.ask_tools, ["Bash", "WebFetch"]);
        assert_eq!(s.ask_timeout, std::time::Duration::from_secs(90));
        assert_eq!(s.ceilings.models, ["opus", "sonnet"]);
        let report = s.report();
        assert!(
            report.contains("without asking: Read, Write, Edit, Glob, Grep\n"),
            "{report}"
        );
        assert!(
            report.contains("approves (within 90 s, else denied): Bash, WebFetch"),
            "{report}"
        );
        for bad in [
            ("CLAUDE_ASK_TOOLS", "Bash(rm:*)"),
            ("CLAUDE_ASK_TIMEOUT", "0s"),
        ] {
            let l = layers(&[bad], &[]);
            assert!(
                Settings::resolve(&SettingFlags::default(), &l, None).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn assist_settings() {
        let s = Settings::resolve(&SettingFlags::default(), &layers(&[], &[]), None).unwrap();
        assert_eq!(s.tmate_command, vec!["tmate"]);
        assert_eq!(s.assist_expires, std::time::Duration::from_secs(7200));
        let report = s.report();
        assert!(report.contains("TMATE_COMMAND") && report.contains("ASSIST_EXPIRES"));
        let l = layers(
            &[
                ("TMATE_COMMAND", "/opt/tmate -v"),
                ("ASSIST_EXPIRES", "15m"),
            ],
            &[],
        );
        let s = Settings::resolve(&SettingFlags::default(), &l, None).unwrap();
        assert_eq!(s.tmate_command, vec!["/opt/tmate", "-v"]);
        assert_eq!(s.assist_expires, std::time::Duration::from_secs(900));
        let bad = layers(&[("ASSIST_EXPIRES", "soon")], &[]);
        assert!(Settings::resolve(&SettingFlags::default(), &bad, None).is_err());
    }
}
