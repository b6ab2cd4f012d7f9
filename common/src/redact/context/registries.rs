//! A package registry's credentials by the registry's name rather than a secret's: Composer's
//! and Poetry's `config http-basic.HOST USER VALUE` (and `bearer.`, `github-oauth.`, …), and
//! Bundler's `bundle config HOST USER:VALUE` and `BUNDLE_<HOST>=…`. (Composer's `auth.json`
//! itself is data: see `data::host_tokens`.)

use super::names::Strength;
use super::shell::starts_command_word;
use super::shell::{command_end, words, words_at, words_before};
use super::{Found, blanks, quoted_or_word, value};

/// Keys under which Composer and Poetry store a registry's credentials, by host or repository
/// (`http-basic.HOST USER VALUE`, `bearer.HOST VALUE`, …), and which argument after the key is
/// the secret.
const REGISTRY_AUTH: &[(&[u8], usize)] = &[
    (b"http-basic.", 2),
    (b"bitbucket-oauth.", 2),
    (b"bearer.", 1),
    (b"github-oauth.", 1),
    (b"gitlab-oauth.", 1),
    (b"gitlab-token.", 1),
];

/// Which argument after a registry's credential key (`name`, in any case) is its secret.
pub(super) fn registry_auth_key(name: &[u8]) -> Option<usize> {
    // The first letter, then the dot: this runs at every keyword hit of a line that is scanned.
    if !name
        .first()
        .is_some_and(|b| matches!(b | 0x20, b'b' | b'g' | b'h'))
    {
        return None;
    }
    REGISTRY_AUTH
        .iter()
        .find(|(k, _)| {
            name.len() > k.len()
                && name[k.len() - 1] == b'.'
                && name[..k.len()].eq_ignore_ascii_case(k)
        })
        .map(|&(_, nth)| nth)
}

/// A registry's credentials given to a package manager's `config` (`poetry config
/// http-basic.REPO USER VALUE`, `composer config [-g] [--auth] http-basic.HOST USER VALUE`,
/// `… bearer.HOST VALUE`, `… github-oauth.github.com VALUE`, `… bitbucket-oauth.HOST KEY
/// VALUE`), the key at `s..e`: the `nth` argument after it, unless there is none (`--unset`,
/// or the manager asks for it) or it is a flag.
pub(super) fn registry_auth(line: &[u8], s: usize, e: usize, nth: usize) -> Option<Found> {
    if !words(words_before(line, s))
        .rev()
        .take(6)
        .any(|w| w == b"config")
    {
        return None;
    }
    let args: Vec<(usize, usize)> = words_at(line, e, command_end(line, e)).take(nth).collect();
    let &(a, b) = args.get(nth - 1)?;
    let (va, vb) = quoted_or_word(line, a);
    let vb = vb.min(b);
    if vb <= va || line[va] == b'-' {
        return None;
    }
    value(line, s, va, vb, Strength::Strong, b"password", false)
}

/// Whether `name` is Bundler's setting of a gem server's credentials: `BUNDLE_` and the host
/// with its dots as `__` (`BUNDLE_GEMS__EXAMPLE__COM`), not a gem's build options
/// (`BUNDLE_BUILD__…`) or a mirror (`BUNDLE_MIRROR__…`).
pub(super) fn bundler_host_name(name: &[u8]) -> bool {
    name.len() > 10
        && name[..7].eq_ignore_ascii_case(b"BUNDLE_")
        && memchr::memmem::find(&name[7..], b"__").is_some()
        && ![&b"BUILD__"[..], b"MIRROR__"].iter().any(|p| {
            name[7..]
                .get(..p.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(p))
        })
}

/// A gem server's credentials as Bundler takes them (`USER:VALUE`, or a token alone) in the
/// word at `a..b`: the password after the first colon, or the whole token. None for a URL (a
/// mirror's) or a variable.
fn bundler_credential(line: &[u8], ctx: usize, a: usize, b: usize) -> Option<Found> {
    let word = &line[a..b];
    if memchr::memmem::find(word, b"://").is_some() {
        return None;
    }
    let v = word
        .iter()
        .position(|&c| c == b':')
        .map_or(a, |p| a + p + 1);
    value(line, ctx, v, b, Strength::Strong, b"password", false)
}

/// `BUNDLE_<HOST>=USER:VALUE`, `BUNDLE_<HOST>: "USER:VALUE"` (see [`bundler_host_name`]), the
/// name ending at `e`.
pub(super) fn bundler_setting(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let mut p = e;
    if line.get(p) == Some(&b'=') {
        p += 1;
    } else if line.get(p) == Some(&b':') {
        p = blanks(line, p + 1);
    } else {
        return None;
    }
    let (a, b) = quoted_or_word(line, p);
    bundler_credential(line, s, a, b)
}

/// `bundle config [set] [--global|--local] HOST USER:VALUE`, `at` at `bundle`: the host is a
/// name with a dot or a URL, the credential the word after it.
pub(super) fn bundle_config(line: &[u8], at: usize) -> Option<Found> {
    if !starts_command_word(line, at) {
        return None;
    }
    let end = command_end(line, at);
    let args: Vec<(usize, usize)> = words_at(line, at + 13, end)
        .filter(|&(a, b)| !matches!(&line[a..b], b"set" | b"--global" | b"--local"))
        .collect();
    let (&(ha, hb), &(va, vb)) = (args.first()?, args.get(1)?);
    if !line[ha..hb].contains(&b'.') || line[va] == b'-' {
        return None;
    }
    let (a, b) = quoted_or_word(line, va);
    bundler_credential(line, at, a, b.min(vb))
}
