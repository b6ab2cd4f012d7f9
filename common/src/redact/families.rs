//! The token families: one row per well-known secret shape, as data.
//!
//! The shapes follow gitleaks' default rule set (its public reference for token formats), plus
//! newer providers. A row has a rule name, the literals one of which every match contains (its
//! *anchors*: as written for a row whose regex heeds case, in any case for one that ignores
//! it; a line's rules run only where an anchor occurs), and the regex. Rows come in two kinds:
//!
//! * `tok` — a self-identifying token (`ghp_…`, `AKIA…`): the whole match is replaced.
//! * `kw` — a service name, then within a short distance an assignment, then a value of the
//!   service's key shape (`ALGOLIA_KEY=…`, `"heroku": {"api_key": "…"}`): only the value is.
//!
//! Regexes run on the matching *view* of a line (terminal escapes removed, runs of JSON
//! backslashes collapsed), so they never need to allow for `\"` or `\\n`. Every regex is
//! ASCII-only. A token's length is open-ended (`{20,}`) where the format allows it, so a longer
//! token is replaced whole rather than cut at an arbitrary cap.
//!
//! The table runs by kind of service: AI providers, code hosts, cloud providers, CI systems and
//! package registries, messaging bots and webhooks, payment providers, database URLs, then the
//! keyword rows. `families/tests.rs` generates every shape each row's regex allows and holds
//! the redactor to them.

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Family {
    pub name: &'static str,
    pub anchors: &'static [&'static str],
    pub regex: String,
    /// A `kw` row: a service's name, then a value of its key's shape.
    pub keyword: bool,
}

/// What may sit between a service name and its value: more name (`_API_KEY`), closing quotes,
/// blanks and an assignment operator, then opening quotes.
const KW_GAP: &str = r#"[a-z0-9_.\-]{0,24}\*{0,2}["'`]?[ \t]*(?:=|:|:=|=>|,)\*{0,2}[ \t]*["'`]?"#;

macro_rules! tok {
    ($name:literal, [$($a:literal),+], $re:literal) => {
        ($name, &[$($a),+] as &[&str], concat!(r"(?-u)", $re), false)
    };
}

macro_rules! kw {
    ($name:literal, [$($a:literal),+], $value:literal) => {
        ($name, &[$($a),+] as &[&str], $value, true)
    };
}

/// `(name, anchors, regex or value shape, keyword row?)`.
type Row = (&'static str, &'static [&'static str], &'static str, bool);

/// The table, kind by kind, in the order rows are read (`families/rows/`).
mod rows {
    pub(super) mod ai;
    pub(super) mod ci_registries;
    pub(super) mod cloud;
    pub(super) mod code_hosts;
    pub(super) mod databases;
    pub(super) mod keyword;
    pub(super) mod messaging;
    pub(super) mod payments;
}

/// Every row, in order.
fn rows() -> impl Iterator<Item = &'static Row> {
    [
        rows::ai::ROWS,
        rows::code_hosts::ROWS,
        rows::cloud::ROWS,
        rows::ci_registries::ROWS,
        rows::messaging::ROWS,
        rows::payments::ROWS,
        rows::databases::ROWS,
        rows::keyword::ROWS,
    ]
    .into_iter()
    .flatten()
}

/// The table, with each keyword row's regex assembled from its anchors and value shape.
pub(crate) fn families() -> Vec<Family> {
    rows()
        .map(|&(name, anchors, re, keyword)| {
            let regex = if keyword {
                let names: Vec<String> = anchors.iter().map(|a| regex_syntax_escape(a)).collect();
                // The value ends where a word ends, or before a byte no word holds: one that
                // ends in `-`, `+` or `=` and is followed by a quote or a blank has no `\b`.
                format!(
                    r"(?i-u)\b(?:{}){KW_GAP}(?P<secret>(?:{re}))(?:\b|\W|$)",
                    names.join("|")
                )
            } else {
                re.to_string()
            };
            Family {
                name,
                anchors,
                regex,
                keyword,
            }
        })
        .collect()
}

fn regex_syntax_escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests;
