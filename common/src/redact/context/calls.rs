//! Calls that take a secret by its place among their arguments: a pair of strings in brackets
//! (`("user", "…")`), a login call's password (`smtp.login(user, "…")`), PowerShell's
//! `ConvertTo-SecureString "…" -AsPlainText`, connection calls that take a password by its
//! index (`getConnection(URL, USER, "…")`, `pymysql.connect(…)`, `new PDO(…)`), and a signing
//! key given to a JWT library or an HMAC. What a name's value is in code is `code.rs`'s.

use super::code::{literal, quoted_word};
use super::names::Strength;
use super::{Found, blanks, quoted_or_word, value};

/// The second of two quoted strings in parentheses or brackets at `v`: `("user", "…")`.
pub(super) fn pair_second(line: &[u8], v: usize) -> Option<(usize, usize)> {
    if !matches!(line.get(v), Some(b'(' | b'[')) {
        return None;
    }
    list_second(line, v + 1)
}

/// The second of two string literals split by a comma, the first at `v` or after blanks.
pub(super) fn list_second(line: &[u8], v: usize) -> Option<(usize, usize)> {
    let (_, first_end) = quoted_word(line, blanks(line, v))?;
    let comma = blanks(line, first_end + 1);
    if line.get(comma) != Some(&b',') {
        return None;
    }
    quoted_word(line, blanks(line, comma + 1))
}

/// A login call's second argument, a string literal: `server.login("me@example.com", "…")`,
/// `smtp.login(user, '…')`, `at` just after `login(`. Names and lookups are no secret's value
/// (`login(user, password)`, `login(os.environ["USER"], …)` stop at the bracket).
pub(super) fn login_call(line: &[u8], at: usize) -> Option<Found> {
    let first = blanks(line, at);
    let end = match line.get(first)? {
        b'"' | b'\'' => quoted_word(line, first)?.1 + 1,
        _ => line[first..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
            .map_or(line.len(), |n| first + n),
    };
    let comma = blanks(line, end);
    if end == first || line.get(comma) != Some(&b',') {
        return None;
    }
    let (a, b) = quoted_word(line, blanks(line, comma + 1))?;
    value(line, at, a, b, Strength::Strong, b"password", false)
}

/// PowerShell's `ConvertTo-SecureString [-String] "…" -AsPlainText`: the string, `hit` at
/// `PlainText` of the flag.
pub(super) fn plain_text_secure_string(line: &[u8], hit: usize) -> Option<Found> {
    const CMDLET: &[u8] = b"ConvertTo-SecureString";
    if !line[..hit].ends_with(b"-As") {
        return None;
    }
    let from = hit.saturating_sub(400);
    let c = from
        + line[from..hit]
            .windows(CMDLET.len())
            .rposition(|w| w.eq_ignore_ascii_case(CMDLET))?;
    let mut v = blanks(line, c + CMDLET.len());
    if line[v..].len() >= 8 && line[v..v + 8].eq_ignore_ascii_case(b"-String ") {
        v = blanks(line, v + 8);
    }
    let (a, b) = quoted_or_word(line, v);
    value(line, c, a, b, Strength::Strong, b"password", false)
}

/// Calls that take a password by its place: the call's name and bracket, how far into it the
/// keyword literal that finds it starts, and the argument's index. Java's
/// `DriverManager.getConnection(URL, USER, "…")` (`etConnection(`), Python's `ftplib.FTP(HOST,
/// USER, "…")` and `FTP_TLS` (`TP(`, `TP_TLS(`), `pymysql.connect(HOST, USER, "…", DB)`,
/// python-ldap's `simple_bind_s(DN, "…")`, PHP's `new PDO(DSN, USER, "…")` (`DO(`),
/// `mysqli_connect(…)`, `new mysqli(…)` and `mysql_connect(…)` and C's `mysql_real_connect(…)`
/// (found by the `mysql` of their names), Django's `create_superuser(USER, EMAIL, "…")`
/// (`e_superuser(`).
const POSITIONAL: &[(&[u8], usize, usize)] = &[
    (b"getConnection(", 1, 2),
    (b"FTP(", 1, 2),
    (b"FTP_TLS(", 1, 2),
    (b"PDO(", 1, 2),
    (b"_bind_s(", 0, 1),
    (b"mysql.connect(", 0, 2),
    (b"mysqli_connect(", 0, 2),
    (b"mysqli(", 0, 2),
    (b"mysql_connect(", 0, 2),
    (b"mysql_real_connect(", 0, 3),
    // Django's `User.objects.create_superuser(USER, EMAIL, "…")`.
    (b"e_superuser(", 0, 2),
    // Java's `new PasswordAuthentication(USER, "…".toCharArray())`, found by `Pass`.
    (b"PasswordAuthentication(", 0, 1),
];

/// The call of [`POSITIONAL`] whose keyword literal is at `hit`: where its arguments start, and
/// the password's index among them.
pub(super) fn positional_call(line: &[u8], hit: usize) -> Option<(usize, usize)> {
    // Every keyword hit of a line passes here: its literal's first two bytes first.
    let first = line.get(hit..hit + 2);
    if !matches!(
        first,
        Some(b"et" | b"TP" | b"DO" | b"_b" | b"my" | b"Pa" | b"e_")
    ) {
        return None;
    }
    POSITIONAL.iter().find_map(|&(call, off, nth)| {
        (hit >= off && line[hit - off..].starts_with(call)).then(|| (hit - off + call.len(), nth))
    })
}

/// The password given as argument `nth` of the call whose arguments start at `at`, a string
/// literal (in Rust's `Some(…)` too); names and lookups (`getConnection(url, user, pass)`) are
/// none.
pub(crate) fn password_argument(line: &[u8], at: usize, nth: usize) -> Option<Found> {
    let mut v = blanks(line, at);
    for _ in 0..nth {
        let end = argument_end(line, v)?;
        if line[end] != b',' {
            return None;
        }
        v = blanks(line, end + 1);
    }
    // Rust's optional password (`.basic_auth(USER, Some("…"))`).
    if line[v..].starts_with(b"Some(") {
        v = blanks(line, v + 5);
    }
    let (a, b) = quoted_word(line, v).or_else(|| raw_string(line, v))?;
    value(line, at, a, b, Strength::Strong, b"password", false)
}

/// A raw string of one word at `v`, its delimiters left out: Go's `` `…` ``, Rust's `r"…"` and
/// `r#"…"#`.
fn raw_string(line: &[u8], v: usize) -> Option<(usize, usize)> {
    let (open, close): (usize, &[u8]) = match line.get(v..)? {
        [b'`', ..] => (1, b"`"),
        [b'r', b'"', ..] => (2, b"\""),
        [b'r', b'#', b'"', ..] => (3, b"\"#"),
        _ => return None,
    };
    let a = v + open;
    let n = line[a..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == close[0])?;
    (n > 0 && line[a + n..].starts_with(close)).then_some((a, a + n))
}

/// Where the argument at `at` ends: at a comma or the closing bracket at its own depth, past
/// strings and brackets (`{ id: user.id }`, `f(a, b)`).
fn argument_end(line: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    while i < line.len() {
        match line[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i = i + 1 + line[i + 1..].iter().position(|&b| b == q)?;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return Some(i),
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => return Some(i),
            b'\n' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A signing secret given as a string literal, the argument `nth` (0 or 1) of the call whose
/// arguments start at `at`: `jwt.sign(payload, '…')`, `jwt.encode(payload, "…", …)`,
/// `jwt.decode`/`verify(token, '…')`, Node's `createHmac('sha256', '…')`, Python's
/// `hmac.new(b"…", …)`. Names and lookups (`process.env.JWT_SECRET`) are no value.
pub(super) fn signing_key(line: &[u8], at: usize, nth: usize) -> Option<Found> {
    let mut v = blanks(line, at);
    if nth == 1 {
        let end = argument_end(line, v)?;
        if line[end] != b',' {
            return None;
        }
        v = blanks(line, end + 1);
    }
    let (a, b) = quoted_word(line, super::after_string_prefix(line, v))?;
    literal(line, at, a, b, b"secret")
}
