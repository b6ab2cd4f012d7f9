//! The built-in rule table: every well-known secret shape, with the literal anchors that let a
//! single prefilter pass skip lines that cannot hold it.
//!
//! Shapes follow gitleaks' default rule set, loosened where a truncated or reformatted token
//! should still be caught. Every regex is ASCII-only (`(?-u)`). Counted repetitions keep an upper
//! bound only where it is part of a shape (`{16,32}`); a token's length is open-ended (`{16,}`), so
//! a longer token is replaced whole rather than up to an arbitrary cap. Large bounds also cost: a
//! regex compiles `{8,2048}` into 2,048 copies of its class (~300 KB each, ~25 ms and ~8 MB for the
//! whole table at every runner start); `{8,}` is one loop (~6 KB).

/// How a candidate match is checked after the regex matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The regex alone decides.
    None,
    /// A `name=value` rule: the value must not look like code or a placeholder.
    Value,
}

/// One built-in rule: a short name (used in counts), anchors (regex fragments, one of which every
/// match contains, in the casings we look for — mostly plain literals), the regex, and the
/// post-check.
#[derive(Debug)]
pub(crate) struct Builtin {
    pub name: &'static str,
    pub anchors: &'static [&'static str],
    pub regex: &'static str,
    pub check: Check,
}

/// The value of a `name=value` pair: quoted or bare, JSON-escaped quotes allowed around it.
macro_rules! kv {
    ($name:literal) => {
        concat!(
            r#"(?i-u)"#,
            $name,
            r#"(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?P<secret>(?:[^\s"'\\,;&<>`]|\\[^nrtu"'\s])+)"#
        )
    };
}

/// A name and the byte that must follow it in `name=value` (see [`kv!`]): anchors of such rules
/// include it, so `input_tokens` or `broken` do not send a line down the slow path, and the
/// prefilter stays a set of plain literals.
macro_rules! sep {
    ($name:literal) => {
        concat!($name, r#"[\\"' \t:=]"#)
    };
}

const TOKEN_ANCHORS: &[&str] = &[sep!("(?:oken|OKEN)")];
const PASSWORD_ANCHORS: &[&str] = &[sep!("(?:assw|ASSW)(?:or|OR)?[dD]")];
const SECRET_ANCHORS: &[&str] = &[sep!(
    "(?:ecret|ECRET)(?:[_.-]?(?:access|ACCESS|Access))?(?:[_.-]?(?:key|KEY|Key))?"
)];
const API_KEY_ANCHORS: &[&str] = &[sep!(
    "(?:api[_.-]?key|api[_.-]?Key|Api[_.-]?Key|API[_.-]?KEY|ApiKey|apiKey)"
)];

/// The rules, most specific first: when two overlap, the first one is counted.
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "anthropic",
        anchors: &["sk-"],
        regex: r"(?-u)sk-ant-(?:api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{16,}",
        check: Check::None,
    },
    Builtin {
        name: "openai",
        anchors: &["sk-"],
        regex: r"(?-u)sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{16,}",
        check: Check::None,
    },
    Builtin {
        name: "sk",
        anchors: &["sk-"],
        regex: r"(?-u)\bsk-[A-Za-z0-9_-]{16,}",
        check: Check::None,
    },
    Builtin {
        name: "stripe",
        anchors: &[
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_",
        ],
        regex: r"(?-u)\b[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}",
        check: Check::None,
    },
    Builtin {
        name: "github",
        anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        regex: r"(?-u)\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})",
        check: Check::None,
    },
    Builtin {
        name: "gitlab",
        anchors: &[
            "glpat-",
            "glptt-",
            "gldt-",
            "glrt-",
            "glcbt-",
            "glsoat-",
            "glffct-",
            "glimt-",
            "GR1348941",
        ],
        regex: r"(?-u)\b(?:gl(?:pat|ptt|dt|rt|cbt|soat|ffct|imt)-[A-Za-z0-9_-]{20,64}|GR1348941[A-Za-z0-9_-]{20,64})",
        check: Check::None,
    },
    Builtin {
        name: "slack",
        anchors: &["xox", "xapp-"],
        regex: r"(?-u)\b(?:xox[abeoprs]-[A-Za-z0-9-]{10,}|xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{20,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
        check: Check::None,
    },
    Builtin {
        name: "slack_webhook",
        anchors: &["hooks.slack.com"],
        regex: r"(?-u)(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        check: Check::None,
    },
    Builtin {
        name: "aws_access_key",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        regex: r"(?-u)\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
        check: Check::None,
    },
    Builtin {
        name: "aws_secret_key",
        anchors: SECRET_ANCHORS,
        regex: r#"(?i-u)aws[a-z0-9_.-]{0,24}secret(?:[_.-]?access)?(?:[_.-]?key)?(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?P<secret>[A-Za-z0-9/+=]{40})\b"#,
        check: Check::None,
    },
    Builtin {
        name: "google",
        anchors: &["AIza"],
        regex: r"(?-u)\bAIza[A-Za-z0-9_-]{35}",
        check: Check::None,
    },
    Builtin {
        name: "jwt",
        anchors: &["eyJ"],
        regex: r"(?-u)\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
        check: Check::None,
    },
    Builtin {
        name: "npm",
        anchors: &["npm_"],
        regex: r"(?-u)\bnpm_[A-Za-z0-9]{30,64}",
        check: Check::None,
    },
    Builtin {
        name: "pypi",
        anchors: &["pypi-AgE"],
        regex: r"(?-u)pypi-AgE[A-Za-z0-9_-]{40,}",
        check: Check::None,
    },
    Builtin {
        name: "huggingface",
        anchors: &["hf_", "api_org_"],
        regex: r"(?-u)\b(?:hf_|api_org_)[A-Za-z0-9]{30,64}\b",
        check: Check::None,
    },
    Builtin {
        name: "sendgrid",
        anchors: &["SG."],
        regex: r"(?-u)\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}",
        check: Check::None,
    },
    Builtin {
        name: "vault",
        anchors: &["hvs.", "hvb.", "hvr."],
        regex: r"(?-u)\bhv[sbr]\.[A-Za-z0-9_-]{24,}",
        check: Check::None,
    },
    Builtin {
        name: "digitalocean",
        anchors: &["_v1_"],
        regex: r"(?-u)\bdo[opr]_v1_[a-f0-9]{64}",
        check: Check::None,
    },
    Builtin {
        name: "url_credentials",
        anchors: &["://"],
        regex: r#"(?i-u)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@"'<>]+:(?P<secret>[^\s/@"'<>]+)@[^\s/@]"#,
        check: Check::Value,
    },
    Builtin {
        name: "authorization",
        anchors: &[sep!("(?:uthorization|UTHORIZATION)")],
        regex: r#"(?i-u)\bauthorization(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?:(?:bearer|basic|token|bot|digest|negotiate|apikey)[ \t]+)?(?P<secret>[A-Za-z0-9._~+/=:-]{4,})"#,
        check: Check::Value,
    },
    Builtin {
        name: "bearer",
        anchors: &[r"(?:earer|EARER)[ \t]"],
        regex: r"(?i-u)\bbearer[ \t]+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        check: Check::Value,
    },
    Builtin {
        name: "api_key",
        anchors: API_KEY_ANCHORS,
        regex: kv!(r"(?:x-)?api[_.-]?key"),
        check: Check::Value,
    },
    Builtin {
        name: "password",
        anchors: PASSWORD_ANCHORS,
        regex: kv!(r"passw(?:or)?d"),
        check: Check::Value,
    },
    Builtin {
        name: "secret",
        anchors: SECRET_ANCHORS,
        regex: kv!(r"secret(?:[_.-]?access)?(?:[_.-]?key)?"),
        check: Check::Value,
    },
    Builtin {
        name: "token",
        anchors: TOKEN_ANCHORS,
        regex: kv!(r"token"),
        check: Check::Value,
    },
    Builtin {
        name: "cli_flag",
        anchors: &["--(?:token|password|api-key|secret)[ =]"],
        regex: r"(?-u)--(?:token|password|api-key|secret)[ =](?P<secret>[^\s-][^\s]*)",
        check: Check::Value,
    },
];

/// The private-key header; its block is found by code, not by one regex (it can span lines).
pub(crate) const PRIVATE_KEY_BEGIN: &str =
    r"(?-u)-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----";
/// The private-key footer.
pub(crate) const PRIVATE_KEY_END: &str = r"(?-u)-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----";
/// The literal every private-key header contains.
pub(crate) const PRIVATE_KEY_ANCHOR: &str = "-----BEGIN";

/// Whether a `name=value` value could be a secret rather than code, a type or a placeholder.
pub(crate) fn plausible_value(v: &[u8]) -> bool {
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b',' | b'|' | b')' | b']' | b'}' | b';' | b'.'))
        .map_or(0, |p| p + 1);
    let v = &v[..end];
    let Some(&first) = v.first() else {
        return false;
    };
    if matches!(
        first,
        b'{' | b'$' | b'%' | b'(' | b'*' | b'[' | b'#' | b':' | b'=' | b'<'
    ) {
        return false; // template, variable, format string, pointer, list, comment, path, <NAME>
    }
    if !v.iter().any(u8::is_ascii_alphanumeric) {
        return false; // `…`, `***`, `---`
    }
    if v.contains(&b'(') || v.windows(2).any(|w| w == b"::") {
        return false; // a call or a path
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&[u8]] = &[
        b"null",
        b"none",
        b"true",
        b"false",
        b"undefined",
        b"redacted",
        b"string",
        b"str",
        b"self",
        b"xxx",
        b"***",
        b"<redacted>",
        b"[redacted]",
        b"required",
        b"optional",
        b"bool",
        b"u8",
        b"u16",
        b"u32",
        b"u64",
        b"usize",
        b"i32",
        b"i64",
        b"vec<u8>",
        b"option<string>",
    ];
    if WORDS.contains(&lower.as_slice()) || lower.starts_with(b"[redacted]") {
        return false;
    }
    // A short lowercase word (`password: the …`, `token = args`): prose or code, not a secret a
    // person would set; anything longer, or with a digit or a capital, still counts.
    if v.len() <= 5 && v.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    // A small count (`"github_token": 2` in a table of rule hits); four digits can be a PIN.
    if v.len() <= 3 && v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    // A CamelCase type name (`Secret`, `HmacKey`; `Option<Token>` stops at `<`).
    let alpha = v.iter().all(u8::is_ascii_alphabetic);
    if alpha && first.is_ascii_uppercase() && v[1..].iter().any(u8::is_ascii_lowercase) {
        return false;
    }
    // A field path in code (`args.token`, `self.config.api_key`).
    let ident = |p: &[u8]| {
        p.first()
            .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_')
            && p.iter().all(|b| b.is_ascii_lowercase() || *b == b'_')
    };
    if v.contains(&b'.') && v.split(|&b| b == b'.').all(ident) {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_are_code_or_placeholders_are_not_secrets() {
        for v in [
            "bool,",
            "String",
            "Secret",
            ":new",
            "args.rotate_token,",
            "the",
            "args",
            "2",
            "100",
            "${{ secrets.X }}",
            "{}",
            "make_token(",
            "u64",
            "[REDACTED]",
            "self.token",
            "<TOKEN>",
            "\u{2026}",
        ] {
            assert!(!plausible_value(v.as_bytes()), "{v:?}");
        }
        for v in ["hunter22", "abc123xyz", "s3cr3t.value", "Zx9-Qw", "tok_1.2"] {
            assert!(plausible_value(v.as_bytes()), "{v:?}");
        }
    }
}
