//! Where a secret's value starts when something stands between its name's operator and it:
//! a YAML block scalar's indicator or a heredoc's opener read in a view (the line break after
//! it a blank), a YAML tag or anchor, LDIF's base64 marker, an LDAP password's scheme, PHP's
//! `string(N)`, a call that wraps the literal (`Some(…)`, `SecretStr(…)`, `b64decode(…)`, a
//! password hash's `Hash::make(…)`, awaited or not).

use super::text::{COMMAND_REACH, after_string_prefix, before_json_end, blanks, gaps};
use super::{WRAPPERS, name_byte, next_line};

/// The value's start, `v` the first byte after the name's operator (`line[q..q + op]`) and its
/// blanks, moved past what stands before the value (see the module's list); `None` where what
/// follows names no value here: a heredoc of words, a YAML key on the next line of a view.
pub(super) fn past_wrappings(line: &[u8], q: usize, op: usize, mut v: usize) -> Option<usize> {
    // A YAML block scalar read in a view, where the line break after `|` is a blank (a tool's
    // output inside stream-json): the value is the next line's.
    if let Some(ind) = line.get(v..).and_then(|r| {
        [&b"|-"[..], b"|+", b">-", b">+", b"|", b">"]
            .into_iter()
            .find(|i| r.starts_with(i) && matches!(r.get(i.len()), Some(b' ' | b'\t' | b'\n')))
    }) {
        v = gaps(line, v + ind.len());
    }
    // A heredoc read in a view (HCL's `api_token = <<EOF`, Ruby's `<<~KEY`), the line break
    // after its opener a blank: the value is its first line, one word (words are its text).
    if line[v..].starts_with(b"<<")
        && let Some(n) = next_line::heredoc_opener(&line[v..])
        && matches!(line.get(v + n), Some(b'\n' | b'\r'))
    {
        v = gaps(line, v + n);
        let reach = line.len().min(v + COMMAND_REACH);
        let stop = line[v..reach]
            .iter()
            .position(|&b| matches!(b, b'\n' | b'\r' | b'"'))
            .map_or(reach, |n| v + n);
        if line[v..stop]
            .trim_ascii_end()
            .iter()
            .any(u8::is_ascii_whitespace)
        {
            return None;
        }
    }
    if let Some(after) = yaml_tag_or_anchor(line, v) {
        v = gaps(line, after);
    }
    // LDIF's value given base64-encoded (`userPassword:: …`), and an LDAP or Dovecot
    // password's scheme before its hash (`{SSHA}…`, `{CRYPT}$6$…`, `{PBKDF2-SHA512}…`): the
    // value is what follows.
    if op == 1 && line[q] == b':' && line.get(v) == Some(&b':') && line.get(v + 1) == Some(&b' ') {
        v = blanks(line, v + 1);
    }
    v = past_scheme(line, v);
    // In a view, a YAML key on the line after the name (`password:\n  min_length: 12`,
    // Compose's `db_password:\n    file: ./db_password.txt`): the name opens a mapping and
    // gives no value.
    if line[q..v].contains(&b'\n') {
        let k = line[v..].iter().take_while(|&&b| name_byte(b)).count();
        if k > 0
            && line.get(v + k) == Some(&b':')
            && matches!(
                line.get(v + k + 1),
                None | Some(b' ' | b'\t' | b'\n' | b'\r')
            )
        {
            return None;
        }
    }
    // PHP's `var_dump`: `["password"]=> string(16) "…"`.
    if line[v..].starts_with(b"string(")
        && let Some(close) = line[v..].iter().position(|&b| b == b')')
        && line[v + 7..v + close].iter().all(u8::is_ascii_digit)
    {
        v = gaps(line, v + close + 1);
    }
    // Basic authentication's `user:password` encoded where it is given (`'Basic ' +
    // btoa('user:…')`, `base64.b64encode(b'user:…')`): the password, after the user's colon.
    if let Some(p) = encoded_credentials(line, v) {
        return Some(p);
    }
    // A string literal wrapped in a conversion or a secret's type: Rust's `Debug` of an
    // optional value (`password: Some("…")`), `String::from("…")`, `SecretString::new("…"…)`,
    // Go's `[]byte("…")`, pydantic's `SecretStr("…")`; base64 decoded (`b64decode("…")`,
    // `atob("…")`, `Buffer.from("…", "base64")`): the literal is the secret, or its encoding.
    // (A hashing call may be awaited: `password: await bcrypt.hash("…", 10)`.)
    let call = v + if line[v..].starts_with(b"await ") {
        6
    } else {
        0
    };
    if let Some(w) = WRAPPERS.iter().find(|w| {
        line[call..].starts_with(w)
            && matches!(
                line.get(after_string_prefix(line, call + w.len())),
                Some(b'"' | b'\'')
            )
    }) {
        v = call + w.len();
    }
    Some(v)
}

/// Calls that encode their argument in base64, as code builds basic authentication's
/// credentials: JavaScript's `btoa` and Node's `Buffer.from(…).toString('base64')`, Python's,
/// Go's, Java's (`"…".getBytes()` after it), Ruby's, PHP's, C#'s (the bytes of the string
/// first), and a shell's `$(echo -n …` piped to `base64`.
const ENCODERS: &[&[u8]] = &[
    b"btoa(",
    b"Buffer.from(",
    b"base64.b64encode(",
    b"b64encode(",
    b"base64.StdEncoding.EncodeToString([]byte(",
    b"Base64.getEncoder().encodeToString(",
    b"Base64.encode64(",
    b"Base64.strict_encode64(",
    b"base64_encode(",
    b"Convert.ToBase64String(Encoding.UTF8.GetBytes(",
    b"Convert.ToBase64String(Encoding.ASCII.GetBytes(",
    b"$(echo -n ",
];

/// Where the password starts in basic authentication's credentials encoded at `v`, after
/// the scheme's string and a `+` or inside a template (`'Basic ' + btoa('user:…')`,
/// `` `Basic ${btoa('user:…')}` ``, Go's `"Basic " + base64.…`): a literal `user:password`
/// given to one of [`ENCODERS`], the user a name of its own (not interpolated), a password
/// after it. (A shell's `$(echo -n user:… | base64)` unquoted, its word.)
fn encoded_credentials(line: &[u8], v: usize) -> Option<usize> {
    let mut c = v;
    for scheme in [
        &b"'Basic ' + "[..],
        b"\"Basic \" + ",
        b"`Basic ${",
        b"Basic ",
    ] {
        if line[c..].starts_with(scheme) {
            c += scheme.len();
            break;
        }
    }
    let call = ENCODERS.iter().find(|e| line[c..].starts_with(e))?;
    let shell = call.starts_with(b"$(");
    let q = after_string_prefix(line, c + call.len());
    let (a, close) = match line.get(q) {
        Some(&quote @ (b'"' | b'\'')) => {
            let a = q + 1;
            let n = line[a..]
                .iter()
                .take(COMMAND_REACH)
                .position(|&b| b == quote || b == b'\n')?;
            (a, a + n)
        }
        Some(_) if shell => {
            let n = line[q..]
                .iter()
                .take(COMMAND_REACH)
                .position(|&b| b.is_ascii_whitespace())?;
            if !line[q + n..].starts_with(b" | base64") {
                return None;
            }
            (q, q + n)
        }
        _ => return None,
    };
    let colon = a + line[a..close].iter().position(|&b| b == b':')?;
    let user = &line[a..colon];
    let named = !user.is_empty()
        && user
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(b));
    (named && close > colon + 1).then_some(colon + 1)
}

/// Where a YAML tag or anchor before a value ends (`password: !!str …`, `api_key: &key …`):
/// `!!` or `&`, a word, blanks, and the value alone to the line's end. Code has `&` before a
/// type (`secret: &[u8], run_id: &str`, `token: &mut Vec<u8>)`), with more after it.
fn yaml_tag_or_anchor(line: &[u8], v: usize) -> Option<usize> {
    let word = if line[v..].starts_with(b"!!") {
        v + 2
    } else if line.get(v) == Some(&b'&') {
        v + 1
    } else {
        return None;
    };
    let w = word
        + line[word..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')))?;
    if w == word || !matches!(line[w], b' ' | b'\t') {
        return None;
    }
    let eol = line[w..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(line.len(), |p| w + p);
    let rest = line[w..w + before_json_end(&line[w..eol])].trim_ascii();
    let alone = match rest {
        [q @ (b'"' | b'\''), inner @ .., last] => last == q && !inner.contains(q),
        _ => !rest.is_empty() && !rest.iter().any(|b| b" \t,;(){}<>&".contains(b)),
    };
    alone.then_some(w)
}

/// Past an LDAP or Dovecot password's scheme at `v` (`{SSHA}…`, `{PBKDF2-SHA512}…`), where the
/// hash follows it directly; else `v`.
pub(super) fn past_scheme(line: &[u8], v: usize) -> usize {
    if line.get(v) != Some(&b'{') {
        return v;
    }
    let n = line[v + 1..]
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'-')
        .count();
    if n >= 3
        && line.get(v + 1 + n) == Some(&b'}')
        && line
            .get(v + 2 + n)
            .is_some_and(|c| !c.is_ascii_whitespace())
    {
        v + n + 2
    } else {
        v
    }
}
