//! A tool's token given by its place, not by a name: the first argument after `wandb login`
//! or `cargo login` (found by the run pass, no secret's name being on the line), Snyk's
//! `config set api=TOKEN`, and the token after a subcommand (`ngrok authtoken`, `snyk auth`,
//! `consul acl set-agent-token TYPE`, `doctl auth init -t`).

use super::names::{Strength, eq_any};
use super::shell::starts_command_word;
use super::shell::{command_end, program, words, words_at};
use super::{Found, quoted_or_word, value};

/// Tools that take their token as the first argument after `login` (Weights & Biases' `wandb
/// login KEY`, `cargo login TOKEN`), with their flags that take a value. No secret's name is
/// on such a line: the run pass finds the token ([`token_after_login`]).
const LOGIN_TOKENS: &[(&[u8], &[&[u8]])] = &[
    (b"wandb", &[b"--host", b"--base-url"]),
    (b"cargo", &[b"--registry", b"--config", b"--color", b"-Z"]),
];

/// The token given to one of [`LOGIN_TOKENS`]' tools at `hit`, the blank before `login `: the
/// first argument that is neither a flag nor a flag's value. Judged as after a weak name, as
/// `vault login`'s: `wandb login once` is prose.
pub(crate) fn login_token(line: &[u8], hit: usize) -> Option<Found> {
    // The program's word first: most `login`s are another tool's.
    let (prog, _) = command_word_before(line, hit)?;
    let &(_, valued) = LOGIN_TOKENS.iter().find(|(p, _)| *p == prog)?;
    let end = command_end(line, hit);
    let mut args = words_at(line, hit + 7, end);
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if w.starts_with(b"-") && w.len() > 1 {
            if eq_any(w, valued) {
                args.next(); // the flag's value
            }
            continue;
        }
        let (va, vb) = quoted_or_word(line, a);
        return value(
            line,
            hit + 1,
            va,
            vb.min(b),
            Strength::Weak,
            b"token",
            false,
        );
    }
    None
}

/// The program of the command word that ends at `end` (a blank after it), and where the word
/// starts: looked for at most 64 bytes back (a program's path is short), and only where a
/// command may start ([`starts_command_word`]).
fn command_word_before(line: &[u8], end: usize) -> Option<(&[u8], usize)> {
    let floor = end.saturating_sub(64);
    let w = line[floor..end]
        .iter()
        .rposition(|&b| {
            matches!(
                b,
                b' ' | b'\t' | b'"' | b'\'' | b';' | b'&' | b'|' | b'(' | b'`'
            )
        })
        .map_or(floor, |p| floor + p + 1);
    starts_command_word(line, w).then(|| (program(&line[w..end]), w))
}

/// Whether the run of token bytes at `s` (after a blank, or a quote after one) is the token of
/// a `TOOL login` a few words before it (see [`login_token`]).
/// Every run passes here: most follow a quote after a name (`"id":"msg_…"`), a `.` or a `/`.
#[inline(always)]
pub(crate) fn token_after_login(hay: &[u8], s: usize) -> bool {
    let blank = |i: usize| matches!(hay[i], b' ' | b'\t');
    s >= 2
        && (blank(s - 1) || matches!(hay[s - 1], b'"' | b'\'') && blank(s - 2))
        && login_before(hay, s)
}

#[cold]
fn login_before(hay: &[u8], s: usize) -> bool {
    // Snyk's `config set api=TOKEN`: the run starts at `api=`.
    if s >= 11
        && hay[..s].ends_with(b"config set ")
        && hay[s..].starts_with(b"api=")
        && let Some(f) = snyk_api(hay, s - 11, s + 4)
    {
        return f.start == s + 4;
    }
    let floor = s.saturating_sub(LOGIN_REACH);
    memchr::memmem::rfind(&hay[floor..s], b" login ")
        .and_then(|p| login_token(hay, floor + p))
        .is_some_and(|f| f.start <= s && s < f.end)
}

/// How far before a token its `login` may be: the tool's flags between them.
const LOGIN_REACH: usize = 96;

/// Snyk's `snyk config set api=TOKEN`, `s..e` at `config set api=`: the token, judged as
/// after a weak name.
pub(crate) fn snyk_api(line: &[u8], s: usize, e: usize) -> Option<Found> {
    if s == 0 || line[s - 1] != b' ' || command_word_before(line, s - 1)?.0 != b"snyk" {
        return None;
    }
    let (a, b) = quoted_or_word(line, e);
    value(line, s, a, b, Strength::Weak, b"token", false)
}

/// A tool that takes its token as an argument after a subcommand that names it.
struct SubcommandToken {
    program: &'static [u8],
    /// The word between the program and the subcommand, or none.
    between: &'static [u8],
    subcommand: &'static [u8],
    /// Which argument after the subcommand is the token (flags aside).
    nth: usize,
    /// The tool's flags that take a value.
    valued: &'static [&'static [u8]],
}

const SUBCOMMAND_TOKENS: &[SubcommandToken] = &[
    // `ngrok authtoken TOKEN [--config FILE]`
    SubcommandToken {
        program: b"ngrok",
        between: b"",
        subcommand: b"authtoken",
        nth: 1,
        valued: &[b"--config", b"--log", b"--log-format", b"--log-level"],
    },
    // `snyk auth TOKEN`
    SubcommandToken {
        program: b"snyk",
        between: b"",
        subcommand: b"auth",
        nth: 1,
        valued: &[],
    },
    // `consul acl set-agent-token [-flag=…] TYPE TOKEN`
    SubcommandToken {
        program: b"consul",
        between: b"acl",
        subcommand: b"set-agent-token",
        nth: 2,
        valued: &[],
    },
];

/// The token given to a tool's subcommand `line[s..e]` by its place (see
/// [`SUBCOMMAND_TOKENS`]), judged as after a weak name.
pub(super) fn subcommand_token(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let name = &line[s..e];
    let before = super::shell::words_before(line, s);
    let tool = SUBCOMMAND_TOKENS.iter().find(|t| {
        let mut ws = words(before).rev();
        t.subcommand == name
            && (t.between.is_empty() || ws.next() == Some(t.between))
            && ws.next().is_some_and(|w| program(w) == t.program)
    })?;
    let (nth, valued) = (tool.nth, tool.valued);
    let end = command_end(line, e);
    let mut args = words_at(line, e, end);
    let mut positional = 0;
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if w.starts_with(b"-") && w.len() > 1 {
            if eq_any(w, valued) {
                args.next();
            }
            continue;
        }
        positional += 1;
        if positional == nth {
            let (va, vb) = quoted_or_word(line, a);
            return value(line, s, va, vb.min(b), Strength::Weak, b"token", false);
        }
    }
    None
}
