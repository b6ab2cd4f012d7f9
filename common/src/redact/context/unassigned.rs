//! Names given their value with no operator between them, where a form's syntax says so
//! ([`after_name`] tries them in order, the other modules' forms among them): `.netrc`'s
//! `password VALUE`, a server's configuration setting an `Authorization` header
//! (`proxy_set_header Authorization "Basic …";`), and a directive alone on its line
//! (keepalived's `auth_pass VALUE`).

use super::authorization::scheme_word;
use super::names::Strength;
use super::{
    Found, Named, beside, blanks, code, commands, data, dockerfile_env, line_start, prose,
    quoted_or_word, run_end, skip_read_number, table_row, value, value_run,
};

/// Whether the `password` at `s..e`, its value at `v`, is a `.netrc` entry: the token in lower
/// case, as `.netrc` spells it, after `login X` on the same line, or at the start of a line with
/// nothing after its value but another entry (`machine …`). Prose starts lines with "password"
/// too: `password strength: 3/4`, `Password changed successfully`.
pub(super) fn netrc(line: &[u8], s: usize, e: usize, v: usize) -> bool {
    if !matches!(&line[s..e], b"password" | b"passwd") {
        return false;
    }
    let before = &line[line_start(line, s)..s];
    // `login USER password VALUE`: the user between, and other entries' pairs (`port imaps`),
    // so an odd count of words (not prose's `the login shell in /etc/passwd remains empty`).
    if let Some(l) = memchr::memmem::rfind(before, b"login ")
        && (l == 0 || matches!(before[l - 1], b' ' | b'\t'))
    {
        let words = before[l + 6..]
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty())
            .count();
        return words % 2 == 1 && words <= 7 && matches!(before.last(), Some(b' ' | b'\t'));
    }
    if !before.iter().all(|b| *b == b' ' || *b == b'\t') {
        return false;
    }
    let rest = &line[v..];
    let rest = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
    // A sentence wrapped after `password` (`password authentication.` starting a line of a
    // manual page): a lower-case word that ends it.
    let word = rest.trim_ascii();
    if setting(rest)
        || word.len() > 1
            && word.ends_with(b".")
            && word[..word.len() - 1].iter().all(u8::is_ascii_lowercase)
    {
        return false;
    }
    // The command `passwd USER` at a line's start: a user's name alone after it.
    let user = |w: &[u8]| {
        (1..=32).contains(&w.len())
            && matches!(w[0], b'a'..=b'z' | b'_')
            && w.iter()
                .all(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
    };
    if &line[s..e] == b"passwd" && before.is_empty() && user(rest.trim_ascii()) {
        return false;
    }
    let after = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .map_or(&[][..], |p| rest[p..].trim_ascii());
    after.is_empty()
        || [
            &b"machine "[..],
            b"login ",
            b"account ",
            b"macdef ",
            b"default",
        ]
        .iter()
        .any(|k| after.starts_with(k))
}

/// Whether `rest` starts with a setting of a log's or a command's, a lower-case name, `=` and
/// a value (`expires_in=3600`, `changed=yes`): what follows a name given with no operator is
/// then the line's next field, not the name's value. (A value ending in base64's `=` padding
/// has none after it; one in mixed case or after a digit is judged as any.)
fn setting(rest: &[u8]) -> bool {
    let n = rest
        .iter()
        .take_while(|&&b| matches!(b, b'a'..=b'z' | b'_'))
        .count();
    n > 0 && rest.get(n) == Some(&b'=') && rest.get(n + 1).is_some_and(|&b| b > b' ' && b != b'=')
}

/// The credentials of an `Authorization` header given quoted after the header's name and a
/// blank (`Authorization "Basic …"`): after the scheme word, up to the closing quote.
pub(super) fn quoted_credentials(line: &[u8], s: usize, q: usize, lname: &[u8]) -> Option<Found> {
    let quote = *line.get(q).filter(|&&c| c == b'"' || c == b'\'')?;
    let v = blanks(line, q + 1 + scheme_word(line, q + 1)?.0);
    value(
        line,
        s,
        v,
        run_end(line, v, Some(quote)),
        Strength::Strong,
        lname,
        false,
    )
}

/// The value of a configuration directive that gives a secret by its name and a blank, alone on
/// its line: the name at the line's start (or a diff's line's, a Read tool's numbered line's, or
/// after HAProxy's `user NAME`), made of parts (`auth_pass`, `bind_password`,
/// `insecure-password`, Gradle's `storePassword`: a word alone is prose's), one word after it,
/// or one quoted string (`keyPassword 'VALUE'`, its quotes left out), and nothing else but a
/// `;`.
pub(super) fn directive_value(line: &[u8], s: usize, e: usize, q: usize) -> Option<(usize, usize)> {
    let name = &line[s..e];
    let camel = || {
        name.windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
    };
    // (OpenLDAP's and nslcd's `rootpw` and `bindpw` are words of their own.)
    if !name.iter().any(|&b| b == b'_' || b == b'-')
        && !camel()
        && !matches!(name, b"rootpw" | b"bindpw")
    {
        return None;
    }
    let start = line_start(line, s);
    let before = line[skip_read_number(line, blanks(line, start))
        .max(start)
        .min(s)..s]
        .trim_ascii();
    let before = before
        .strip_prefix(b"+")
        .or(before.strip_prefix(b"-"))
        .unwrap_or(before)
        .trim_ascii();
    let haproxy = || {
        let mut ws = before
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        ws.next() == Some(&b"user"[..]) && ws.next().is_some() && ws.next().is_none()
    };
    if !before.is_empty() && !haproxy() {
        return None;
    }
    if setting(&line[q..]) {
        return None;
    }
    // One word, or a quoted one (a sentence in quotes is no value): see `code::quoted_word`.
    let (v, end, close) = match super::code::quoted_word(line, q) {
        Some((v, end)) => (v, end, end + 1),
        None if matches!(line[q], b'"' | b'\'') => return None,
        None => {
            let end = q + line[q..]
                .iter()
                .position(|&b| matches!(b, b' ' | b'\t' | b';' | b'\n' | b'\r'))
                .unwrap_or(line.len() - q);
            (q, end, end)
        }
    };
    let rest = &line[close..];
    let rest = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
    matches!(rest.trim_ascii(), b"" | b";").then_some((v, end))
}

/// A secret's name with no operator after it (`op == 0` in [`super::at`]), `name` as written
/// and `flag` whether it is a flag's: the forms that place its value by their own syntax, in
/// the order they are tried. An HTML form's field and a value beside the name given as data;
/// a command's, prose's, a numbered label's and code's syntax; FTP's `PASS` in a client's
/// trace; a printed table's row; then a value after a blank: a flag's (`--token VALUE`),
/// `.netrc`'s, a Dockerfile's `ENV NAME VALUE`, Go's typed declaration, a server's
/// `Authorization` header, a directive alone on its line, Nomad's `Secret ID = …`.
pub(super) fn after_name(named: Named, name: &[u8], flag: bool) -> Option<Found> {
    let Named {
        line,
        s,
        e,
        q,
        strength,
        lname,
        ..
    } = named;
    // An HTML form's `<input type="password" value="…">`.
    if let Some(f) = data::password_field(line, s, e) {
        return Some(f);
    }
    // The name given as data, its value in the field beside it.
    if let Some(f) = beside(line, s, e, strength, lname) {
        return Some(f);
    }
    // A command's own syntax: `setx NAME VALUE`, `gh secret set NAME --body VALUE`,
    // `--password-stdin <<< VALUE`, SQL's `PASSWORD 'VALUE'`.
    if let Some(f) = commands::after_name(named) {
        return Some(f);
    }
    // Prose and its labels: `Your password is: …`, `I set the password to …`, `The
    // password is …` (each decides when its form is there).
    if let Some(found) = prose::after_name(named) {
        return found;
    }
    // A numbered label: Vault's `Unseal Key 1: …`.
    if let Some(f) = prose::numbered_label(line, s, q, strength, lname) {
        return Some(f);
    }
    // Code's syntax: `define('NAME', '…')`, `setPassword("…")`, `#define NAME "…"`.
    if let Some(f) = code::after_name(named) {
        return Some(f);
    }
    // FTP's `PASS` as a client's trace shows what it sends: `> PASS …` (`curl -v`), `--->
    // PASS …` (`ftp -d`, lftp's debug).
    // Any other `PASS` with no operator is a test runner's verdict: Jest's ` PASS
    // src/app.test.js`, whose path was taken for a table's value and learned.
    if name == b"PASS" {
        let before = &line[line_start(line, s)..s];
        if q > e && q < line.len() && (before == b"> " || before == b"---> ") {
            return value_run(line, s, q, Strength::Strong, lname);
        }
        return None;
    }
    // A printed table: `api_key            VALUE` (`vault kv get`), `| password | VALUE |`.
    if let Some(f) = table_row(named) {
        return Some(f);
    }
    // No operator: `--token VALUE`, `.netrc`'s `password VALUE`.
    let spaced = q > e && q < line.len();
    if flag && q == e + 1 && q < line.len() && line[q] != b'-' {
        // Quoted, as shell commands write it (`--password 'VALUE'`): inside the quotes.
        if matches!(line[q], b'"' | b'\'') {
            let (a, b) = quoted_or_word(line, q);
            return value(line, s, a, b, Strength::Strong, lname, false);
        }
        return value_run(line, s, q, Strength::Strong, lname);
    }
    if spaced && netrc(line, s, e, q) {
        return value_run(line, s, q, Strength::Strong, lname);
    }
    if spaced && dockerfile_env(line, s) {
        return value_run(line, s, q, strength, lname);
    }
    // Go's typed declaration: `var apiKey string = "…"`, `const token string = "…"`
    // (`var apiKey string = os.Getenv("API_KEY")` is no literal).
    if spaced
        && code::go_declaration(line, s)
        && let Some((w, true)) = code::annotated(line, q)
    {
        let (a, b) = code::quoted_word(line, w)?;
        return value(line, s, a, b, strength, lname, false);
    }
    // A server's configuration setting the header: nginx's `proxy_set_header
    // Authorization "Basic …";`, Apache's `RequestHeader set Authorization "…"`.
    if spaced
        && lname.ends_with(b"authorization")
        && let Some(f) = quoted_credentials(line, s, q, lname)
    {
        return Some(f);
    }
    // keepalived's `auth_pass VALUE`, HAProxy's `user NAME insecure-password VALUE`.
    if spaced && let Some((v, end)) = directive_value(line, s, e, q) {
        let v = super::value_start::past_scheme(line, v).min(end);
        return value(line, s, v, end, strength, lname, true);
    }
    // Nomad's ACL token as `nomad acl bootstrap` and `acl token create` print it:
    // `Secret ID    = …` (beside `Accessor ID  = …`, which is none).
    if spaced && name == b"Secret" && line[q..].starts_with(b"ID ") {
        let o = blanks(line, q + 2);
        if line.get(o) == Some(&b'=') && line.get(o + 1) == Some(&b' ') {
            return value_run(line, s, blanks(line, o + 1), strength, lname);
        }
    }
    None
}
