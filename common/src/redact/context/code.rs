//! Secrets in code that gives a secret's name and its value as arguments or declarations:
//! `define('DB_PASSWORD', '…')`, `os.getenv("API_KEY", "…")`, `props.put("password", "…")`,
//! argument vectors (`["--token", "…"]`), setters (`setPassword("…")`), C's `#define NAME "…"`,
//! CMake's `set(NAME "…")`, annotated declarations (`API_KEY: Final = "…"`, `const apiKey:
//! string = "…"`), Terraform's `variable "db_password" { default = "…" }`, defaults after a
//! lookup (`process.env.X || "…"`), credentials' constructors (`HTTPBasicAuth("user", "…")`,
//! `auth=("user", "…")`, `CURLOPT_USERPWD, "user:…"`; calls that take a secret by its place
//! are `calls.rs`'s); a tuple assigned literals (`user, password = "admin", "…"`). And code that names a secret
//! without one: a variable assigned to a member, a subscript or a tuple, an f-string's field,
//! a parameter's documentation, a declaration given another name, a Rust match arm's label, a
//! generic type (the syntax of Go's, Rust's and other declarations read here).

use super::calls::{list_second, pair_second, password_argument};
use super::names::Strength;
use super::{Found, Named, blanks, line_start, run_end, value};

/// The quoted string at `v` (its quotes left out), if one starts there and holds no blank: a
/// label or a sentence (`"Enter your password"`) is no secret. (A secret generated from every
/// printable character may hold blanks: WordPress' keys.)
pub(super) fn quoted_word(line: &[u8], v: usize) -> Option<(usize, usize)> {
    let q = *line.get(v)?;
    if !matches!(q, b'"' | b'\'') {
        return None;
    }
    let end = run_end(line, v + 1, Some(q));
    let inner = &line[v + 1..end];
    (line.get(end) == Some(&q)
        && !inner.is_empty()
        && (!inner.iter().any(|b| b.is_ascii_whitespace()) || super::values::symbol_salad(inner)))
    .then_some((v + 1, end))
}

/// A string literal given to a secret's name in code, judged as after a weak name (a key has
/// digits or symbols; a label beside a field's name, `"password", "Password"`, is a word) and
/// six bytes or more: code and its tests are full of short stand-ins (`"val1"`), the name
/// itself (`with_secret_access_key("secret_access_key")`) and documentation keys.
pub(super) fn literal(line: &[u8], s: usize, a: usize, b: usize, lname: &[u8]) -> Option<Found> {
    let bare = |n: &[u8]| -> Vec<u8> {
        n.iter()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let method = bare(lname.rsplit(|&c| c == b'.').next().unwrap_or(lname));
    let name = method
        .strip_prefix(b"set")
        .or_else(|| method.strip_prefix(b"with"))
        .unwrap_or(&method);
    let v = bare(&line[a..b]);
    let named = !name.is_empty() && v.ends_with(name);
    if b - a < 6 || named || line[a..b].windows(7).any(|w| w == b"EXAMPLE") {
        return None;
    }
    value(line, s, a, b, Strength::Weak, lname, false)
}

/// A value given to the name `n` by code's syntax (see [`Named`]).
pub(super) fn after_name(n: Named) -> Option<Found> {
    let Named {
        line,
        s,
        e,
        p,
        q,
        strength,
        lname,
    } = n;
    let quoted = p > e && s > 0 && matches!(line[s - 1], b'"' | b'\'');
    // A quoted name, a comma, a quoted value: arguments (`define('DB_PASSWORD', '…')`,
    // `getenv("API_KEY", "…")`, `put("password", "…")`) and argument vectors. Judged as after a
    // weak name whatever the name: a label beside a field's name (`"password", "Password"`)
    // is a word, a key has digits or symbols.
    if quoted && line.get(q) == Some(&b',') {
        // (A default given by keyword: django-environ's `default=`, configparser's
        // `fallback=`.)
        let mut v = blanks(line, q + 1);
        for kw in [&b"default"[..], b"fallback"] {
            if line[v..].starts_with(kw) && line.get(blanks(line, v + kw.len())) == Some(&b'=') {
                v = blanks(line, blanks(line, v + kw.len()) + 1);
            }
        }
        // A header set by its name (`headers.set("Authorization", "Token …")`,
        // `setRequestHeader("Authorization", "Api-Key …")`): the credentials after the scheme.
        // (Without a scheme, judged as any other string: `"Bearer"` alone is a word.)
        if lname.ends_with(b"authorization")
            && matches!(line.get(v), Some(b'"' | b'\''))
            && let Some((w, _)) = super::authorization::scheme_word(line, v + 1)
        {
            let c = blanks(line, v + 1 + w);
            let b = run_end(line, c, Some(line[v]));
            // (Words after the scheme are a test's prose: `"Bearer Hold my bear"`.)
            if line[c..b].iter().any(u8::is_ascii_whitespace) {
                return None;
            }
            return value(line, s, c, b, Strength::Strong, lname, false);
        }
        let (a, b) = quoted_word(line, v)?;
        return literal(line, s, a, b, lname);
    }
    // Terraform: `variable "db_password" { default = "…" }`.
    // The block is one line in a view of a file read in stream-json (its line breaks escaped),
    // with other attributes before `default`.
    if quoted && line[..s - 1].trim_ascii_end().ends_with(b"variable") && line.get(q) == Some(&b'{')
    {
        let close = line[q..]
            .iter()
            .position(|&b| b == b'}')
            .map_or(line.len(), |c| q + c);
        let mut at = q + 1;
        while let Some(d) = memchr::memmem::find(&line[at..close], b"default") {
            let d = at + d;
            let eq = blanks(line, d + 7);
            if matches!(line[d - 1], b' ' | b'\t' | b'{') && line.get(eq) == Some(&b'=') {
                let (a, b) = quoted_word(line, blanks(line, eq + 1))?;
                return value(line, s, a, b, strength, lname, false);
            }
            at = d + 7;
        }
        return None;
    }
    // A default after a lookup: `process.env.DB_PASSWORD || "…"`, `?? '…'`,
    // `os.environ.get("DB_PASSWORD") or "…"`.
    let mut r = p;
    if line.get(r) == Some(&b')') {
        r += 1;
    }
    let r = blanks(line, r);
    // (Ruby's `ENV.fetch("NAME") { "…" }`: the block's value.)
    let fetched = quoted && line[..s - 1].ends_with(b"fetch(");
    let op = [&b"||"[..], b"??", b"or "]
        .iter()
        .find(|o| line[r..].starts_with(o))
        .map(|o| o.len())
        .or((fetched && line[r..].starts_with(b"{")).then_some(1));
    if let Some(n) = op {
        let (a, b) = quoted_word(line, blanks(line, r + n))?;
        return value(line, s, a, b, Strength::Weak, lname, false);
    }
    // libcurl's `CURLOPT_USERPWD, "user:…"`.
    if !quoted && lname.ends_with(b"userpwd") && line.get(q) == Some(&b',') {
        let (a, b) = quoted_word(line, blanks(line, q + 1))?;
        let colon = a + line[a..b].iter().position(|&c| c == b':')?;
        return value(line, s, colon + 1, b, Strength::Strong, lname, false);
    }
    // libcurl's other options that take a secret (`CURLOPT_PASSWORD, "…"`,
    // `CURLOPT_PROXYPASSWORD`, `CURLOPT_KEYPASSWD`, `CURLOPT_TLSAUTH_PASSWORD`), in C and PHP,
    // and pycurl's (`pycurl.PASSWORD, "…"`, `c.setopt(c.PASSWORD, "…")`).
    if !quoted
        && line.get(q) == Some(&b',')
        && (lname.starts_with(b"curlopt_")
            || lname.starts_with(b"pycurl.")
            || memchr::memmem::rfind(&line[s.saturating_sub(32)..s], b"setopt(").is_some())
    {
        let (a, b) = quoted_word(line, blanks(line, q + 1))?;
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // PowerShell's `New-Object System.Net.NetworkCredential -ArgumentList USER, "…"` (the list
    // in brackets or not; its `[…]::new(USER, "…")` is read with the brackets, `at`).
    let list = b"-argumentlist ";
    let args = blanks(line, p);
    if !quoted
        && lname.ends_with(b"credential")
        && line.len() >= args + list.len()
        && line[args..args + list.len()].eq_ignore_ascii_case(list)
    {
        let v = blanks(line, args + list.len());
        let v = v + usize::from(line[v..].starts_with(b"@("));
        let (a, b) = pair_second(line, v).or_else(|| list_second(line, v))?;
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    if !quoted && line.get(p) == Some(&b'(') {
        let method = lname.rsplit(|&b| b == b'.').next().unwrap_or(lname);
        // A user and a password by their places, given to an HTTP client's basic
        // authentication: Go's `req.SetBasicAuth(USER, "…")`, reqwest's `.basic_auth(USER,
        // Some("…"))`, OkHttp's `Credentials.basic(USER, "…")`, superagent's `.auth(USER,
        // "…")` (with one argument, `.auth("…")` is a builder's, below).
        if (matches!(
            method,
            b"setbasicauth"
                | b"withbasicauth"
                | b"basicauth"
                | b"basic_auth"
                | b"basicauthentication"
                | b"basicauthenticationinterceptor"
                | b"auth"
        ) || method == b"basic" && lname.ends_with(b"credentials.basic"))
            && let Some(f) = password_argument(line, p + 1, 1)
            // `.auth(…)` is a bare word's method: its second string is judged as after a
            // weak name (`.auth("Content-Type", "application/json")` is none).
            && (method != b"auth" || super::plausible(&line[f.start..f.end], Strength::Weak))
        {
            return Some(f);
        }
        // RestAssured's `.auth().basic(USER, "…")` (`.preemptive()` between, or `.digest`,
        // `.form`), and its `.auth().oauth2("…")`.
        if method == b"auth" && line.get(p + 1) == Some(&b')') {
            let mut r = p + 2;
            if line[r..].starts_with(b".preemptive()") {
                r += 13;
            }
            for (scheme, nth) in [(&b".basic("[..], 1), (b".digest(", 1), (b".form(", 1)] {
                if line[r..].starts_with(scheme) {
                    return password_argument(line, r + scheme.len(), nth);
                }
            }
            if line[r..].starts_with(b".oauth2(") {
                let (a, b) = quoted_word(line, blanks(line, r + 8))?;
                return value(line, s, a, b, Strength::Strong, lname, false);
            }
            return None;
        }
        // SQL's `PASSWORD('…')` (MySQL's `SET PASSWORD FOR … = PASSWORD('…')`).
        if matches!(&line[s..e], b"PASSWORD" | b"OLD_PASSWORD") {
            let (a, b) = quoted_word(line, blanks(line, p + 1))?;
            return value(line, s, a, b, Strength::Strong, lname, false);
        }
        // MongoDB's `db.changeUserPassword(USER, "…")`: the password second.
        if method == b"changeuserpassword" {
            return password_argument(line, p + 1, 1);
        }
        // Python's `keyring.set_password(SERVICE, USER, "…")`: the password third.
        if lname.ends_with(b"keyring.set_password") {
            return password_argument(line, p + 1, 2);
        }
        // A setter given a string literal: `setPassword("…")`, `set_password('…')`,
        // `withApiKey("…")`.
        if method.starts_with(b"set") || method.starts_with(b"with") {
            let (a, b) = quoted_word(line, blanks(line, p + 1))?;
            return literal(line, s, a, b, lname);
        }
        // Go's `smtp.PlainAuth(IDENTITY, USER, "…", HOST)`: the password third.
        if method == b"plainauth" {
            return password_argument(line, p + 1, 2);
        }
        // A builder's method named for the secret: `.password("…")`, `.api_key("…")`.
        if line[s] == b'.' || s > 0 && line[s - 1] == b'.' {
            let (a, b) = quoted_word(line, blanks(line, p + 1))?;
            return literal(line, s, a, b, lname);
        }
        // A user and a password given to a credential's constructor: `HTTPBasicAuth("user",
        // "…")`, `NetworkCredential("user", "…")`, `UsernamePasswordCredentials(…)`.
        if [&b"auth"[..], b"credential", b"credentials"]
            .iter()
            .any(|w| method.ends_with(w))
        {
            if let Some((a, b)) = pair_second(line, p) {
                return value(line, s, a, b, Strength::Strong, lname, false);
            }
            // A Redis client's `.auth("…")` (Jedis, node-redis, redis-rb): the password alone.
            if method != b"auth" || !lname.contains(&b'.') {
                return None;
            }
            let (a, b) = quoted_word(line, blanks(line, p + 1))?;
            if line.get(blanks(line, b + 1)) != Some(&b')') {
                return None;
            }
            return literal(line, s, a, b, lname);
        }
        // A package's function named for the secret: Go's `ssh.Password("…")`.
        if lname.contains(&b'.') {
            let (a, b) = quoted_word(line, blanks(line, p + 1))?;
            return literal(line, s, a, b, lname);
        }
        return None;
    }
    // Ruby's call without brackets: Net::HTTP's `req.basic_auth USER, "…"`.
    if !quoted && p == e && line.get(p) == Some(&b' ') && lname.ends_with(b"basic_auth") {
        let (a, b) = list_second(line, q)?;
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // C's `#define API_KEY "…"`, CMake's `set(API_TOKEN "…")`.
    if !quoted && q > p {
        let before = line[..s].trim_ascii_end();
        if before.ends_with(b"#define") || before.ends_with(b"set(") {
            let (a, b) = quoted_word(line, q)?;
            return value(line, s, a, b, strength, lname, false);
        }
    }
    None
}

/// After `NAME:` a type and then `= …` (`API_KEY: Final = "…"`, `const apiKey: string =
/// "…"`, `pub const SIGNING_KEY_ERROR: WIN32_ERROR = 9104u32;`): where the value after `=`
/// starts, `v` being where the type does, and whether it is a quoted string.
pub(super) fn annotated(line: &[u8], v: usize) -> Option<(usize, bool)> {
    // Rust's reference, its lifetime too: `TOKEN: &str`, `KEY: &'static str`.
    let mut v = v;
    if line.get(v) == Some(&b'&') {
        v += 1;
        if line.get(v) == Some(&b'\'') {
            let life = line[v + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            v = blanks(line, v + 1 + life);
        }
    }
    let ty = line[v..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"_.<>[]|?".contains(b)))
        .map_or(line.len(), |n| v + n);
    if ty == v || !(line[v].is_ascii_alphabetic() || line[v] == b'[') {
        return None;
    }
    // A value with more after it (`api_key: QwErTy123456UiOp = …`) is no type.
    if super::types::generated_word(&line[v..ty]) {
        return None;
    }
    let eq = blanks(line, ty);
    if line.get(eq) != Some(&b'=') || line.get(eq + 1) == Some(&b'=') {
        return None;
    }
    let w = blanks(line, eq + 1);
    // (A byte string too: `SECRET: &[u8] = b"…"`.)
    let quote = super::after_string_prefix(line, w);
    let quoted = matches!(line.get(quote), Some(b'"' | b'\''));
    // Code writes a blank around the `=` or a string after it (`api_key: str="…"`); a value
    // glued to an `=` is base64's padding or a value's own (`password: c2VjcmV0IHZhbHVl=`),
    // and so is one whose quote closes a string rather than opens one (`"password:
    // c2VjcmV0IHZhbA="`, `log("password: c2VjcmV0IHZhbA=", level)`, a tool's output that
    // ends so inside stream-json).
    let closes = || {
        line.get(quote + 1)
            .is_none_or(|&b| b.is_ascii_whitespace() || b"}]),;".contains(&b))
    };
    if eq == ty && w == eq + 1 && (!quoted || closes()) {
        return None;
    }
    Some((w, quoted))
}

/// A string literal alone in Ruby's block at `q` (FactoryBot's `password { "…" }`), its quotes
/// left out; a block that computes the value (`{ Faker::Internet.password }`) gives none.
pub(super) fn block_literal(line: &[u8], q: usize) -> Option<(usize, usize)> {
    if !line.get(q..)?.starts_with(b"{ ") {
        return None;
    }
    let (a, b) = quoted_word(line, blanks(line, q + 2))?;
    (line.get(blanks(line, b + 1)) == Some(&b'}')).then_some((a, b))
}

/// Whether the f-string body at `v` (its quote `quote`) puts a field where the value is: at
/// its start, or after one scheme word (`f"{token}"`, `f'Bearer {token}'`); a literal before
/// the field (`f'Tr0ub4dor&3{x}'`) is a value.
pub(super) fn fstring_field(line: &[u8], v: usize, quote: Option<u8>) -> bool {
    let body = &line[v..run_end(line, v, quote)];
    let lead = body.iter().position(|&b| b == b' ').map_or(0, |p| p + 1);
    body.first() == Some(&b'{')
        || body.get(lead) == Some(&b'{')
            && body[..lead.saturating_sub(1)]
                .iter()
                .all(u8::is_ascii_alphabetic)
}

/// Whether the name at `s` is an object's member (`self.secret_key`, `this.token`, Ruby's
/// `@password`) or an item of a tuple being unpacked ([`tuple()`]).
pub(super) fn member_or_tuple(line: &[u8], s: usize) -> bool {
    line[s..].starts_with(b"self.")
        || line[s..].starts_with(b"this.")
        || s > 0 && line[s - 1] == b'@'
        || tuple(line, s)
}

/// Whether the name at `s` follows another in a tuple being assigned (`username,
/// secret_password = …`): only names and commas before it on its line (`host = db, password =
/// …` is a log's pairs).
pub(super) fn tuple(line: &[u8], s: usize) -> bool {
    s >= 2 && &line[s - 2..s] == b", " && !line[line_start(line, s)..s].contains(&b'=')
}

/// Whether a variable's name starts at `v`: letters, `_` and `.`, no digit (a token is
/// random, `e3b0c442…`).
pub(super) fn variable(line: &[u8], v: usize) -> bool {
    let w = &line[v..];
    name_len(w).is_some_and(|n| !w[..n].iter().any(u8::is_ascii_digit))
}

/// The length of the name or path of names that `w` starts with (letters, digits, `_` and
/// `.`, no digit first), if it starts with one.
fn name_len(w: &[u8]) -> Option<usize> {
    let n = w
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'.')
        .count();
    (n > 0 && (w[0].is_ascii_alphabetic() || w[0] == b'_')).then_some(n)
}

/// Whether an identifier or a path of them starts at `v` and ends the expression there
/// (`BASE64_STANDARD`, `config.api_key`, `tokenFromEnv;`): letters, digits, `_` and `.`, no
/// digit first, then the line's end, a blank, `;`, `,` or `?`.
pub(super) fn identifier(line: &[u8], v: usize) -> bool {
    let w = &line[v..];
    name_len(w).is_some_and(|n| {
        w.get(n)
            .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b';' | b',' | b'?' | b'\\'))
    })
}

/// The place of the name at `s` in a tuple being assigned (`a, b, NAME = …`: 2).
pub(super) fn tuple_place(line: &[u8], s: usize) -> usize {
    let (mut k, mut at) = (0, s);
    while at >= 2 && &line[at - 2..at] == b", " && k < 16 {
        let end = at - 2;
        let w = line[..end]
            .iter()
            .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
            .map_or(0, |p| p + 1);
        if w == end {
            break;
        }
        k += 1;
        at = w;
    }
    k
}

/// The `k`th of the quoted items that start at `open` (`"admin", "VALUE"`), without quotes.
pub(super) fn tuple_item(line: &[u8], mut open: usize, k: usize) -> Option<(usize, usize)> {
    for i in 0..=k {
        let q = *line.get(open).filter(|&&b| b == b'"' || b == b'\'')?;
        let end = run_end(line, open + 1, Some(q));
        if i == k {
            return Some((open + 1, end));
        }
        if line.get(end) != Some(&q) || line.get(end + 1) != Some(&b',') {
            return None;
        }
        open = blanks(line, end + 2);
    }
    None
}

/// Whether the name at `s` is documented as a parameter: Sphinx's `:param [TYPE] NAME:` and
/// `:type NAME:`, Javadoc's and JSDoc's `@param [{TYPE}] NAME`, the tag at most one word
/// (the type) before the name.
pub(super) fn documents_a_parameter(line: &[u8], s: usize) -> bool {
    let window = &line[s.saturating_sub(64)..s];
    [&b":param "[..], b":type ", b"@param "].iter().any(|tag| {
        memchr::memmem::rfind(window, tag)
            .is_some_and(|p| super::shell::words(&window[p + tag.len()..]).count() <= 1)
    })
}

/// Whether the name at `s` is declared by Go's `var` or `const` (the line's first word).
pub(super) fn go_declaration(line: &[u8], s: usize) -> bool {
    let before = line[line_start(line, s)..s].trim_ascii();
    before == b"var" || before == b"const"
}

/// Whether the unquoted value `line[v..end]` is a variable whose name names a secret, with
/// code after it (`client_handshake_traffic_secret: client_secret,`, `{ secret:
/// shared_secret, … }`): no literal.
pub(super) fn variable_naming_a_secret(line: &[u8], v: usize, end: usize) -> bool {
    let value = &line[v..end];
    matches!(line.get(end), Some(b',' | b')' | b';' | b' '))
        && value.contains(&b'_')
        && value
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && super::names::classify(value).is_some()
        && matches!(
            line.get(super::blanks(line, end)),
            Some(b',' | b')' | b';' | b'}')
        )
}

/// Whether the unquoted value `line[v..end]` is a variable given to a quoted key, as Python's and
/// JavaScript's object literals do (`"SecretVersionsToStages": version_id_to_stages,`,
/// `{"authorizationData": auth_data}`): the name `line[s..e]` in quotes, then at `v` two or
/// more lower-case words joined by `_`, one of them from the key's name ([`shares_a_word`]),
/// then `,`, `}` or `)`. JSON quotes every string it holds.
pub(super) fn variable_for_quoted_key(line: &[u8], s: usize, e: usize, v: usize) -> bool {
    let end = v + line[v..]
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || **b == b'_')
        .count();
    let value = &line[v..end];
    s > 0
        && matches!(line[s - 1], b'"' | b'\'')
        && line.get(e) == Some(&line[s - 1])
        && value.contains(&b'_')
        && value.split(|&b| b == b'_').all(|w| !w.is_empty())
        && matches!(line.get(super::blanks(line, end)), Some(b',' | b'}' | b')'))
        && shares_a_word(&line[s..e], value)
}

/// Whether a word of the variable `value` (three letters or more) starts a part of the key
/// `key` that is no strong secret's word: the variable is named after the key
/// (`version_id_to_stages` for `SecretVersionsToStages`, `agg_auth` for
/// `AggregationAuthorization`), where a password given unquoted is not
/// (`"password": purple_monkey_dishwasher`, `"secret": my_secret_sauce`).
fn shares_a_word(key: &[u8], value: &[u8]) -> bool {
    let (parts, n) = super::names::parts(key);
    value
        .split(|&b| b == b'_')
        .filter(|w| w.len() >= 3)
        .any(|w| {
            parts[..n].iter().any(|&(a, b)| {
                let p = &key[a..b];
                !super::names::eq_any(p, super::names::STRONG)
                    && p.len() >= w.len()
                    && p[..w.len()].eq_ignore_ascii_case(w)
            })
        })
}

/// Whether the unquoted value `line[v..end]` is C's variable (`pass_height = height;`): a
/// lower-case name and the statement's `;`.
pub(super) fn c_variable(line: &[u8], v: usize, end: usize) -> bool {
    line.get(end) == Some(&b';')
        && line[v..end]
            .iter()
            .all(|b| b.is_ascii_lowercase() || *b == b'_')
}

/// Whether the unquoted value `line[v..end]` given to PowerShell's variable at `s` is a
/// cmdlet it runs (`$pw = ConvertTo-SecureString "…" -AsPlainText`, `$DB_PW = Get-Content
/// C:\pw.txt`): a capitalised verb, a hyphen and a capitalised noun. PowerShell quotes its
/// strings; a bare word there is a command.
pub(super) fn powershell_cmdlet(line: &[u8], s: usize, v: usize, end: usize) -> bool {
    let word = |w: &[u8]| {
        w.len() >= 2 && w[0].is_ascii_uppercase() && w.iter().all(u8::is_ascii_alphanumeric)
    };
    s > 0
        && line[s - 1] == b'$'
        && matches!(line.get(end), None | Some(b' ' | b'\n' | b'\r'))
        && line[v..end]
            .iter()
            .position(|&b| b == b'-')
            .is_some_and(|h| word(&line[v..v + h]) && word(&line[v + h + 1..end]))
}

/// Whether the name at `s` is a declaration's type, after the variable and its colon (`let
/// key: AmazonS3ConfigKey = …`, `const mode: TokenMode = …`): the value is the variable's,
/// judged by the variable's own name where it names a secret.
pub(super) fn declared_type(line: &[u8], s: usize) -> bool {
    let Some(before) = line[..s].strip_suffix(b": ") else {
        return false;
    };
    let start = before
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(0, |p| p + 1);
    start < before.len()
        && [
            &b"let "[..],
            b"let mut ",
            b"const ",
            b"var ",
            b"val ",
            b"static ",
        ]
        .iter()
        .any(|k| before[..start].ends_with(k))
}

/// Whether the name at `s` is a parameter in a function's signature (`fn f(a: u8, round_key:
/// m128i)`, `def f(password: str)`, `function f(secret: Uint8Array)`): after `fn `, `def ` or
/// `function ` on its line, inside the parentheses that follow, after `(` or `, `.
pub(super) fn parameter(line: &[u8], s: usize) -> bool {
    let from = super::line_start(line, s);
    let before = &line[from..s];
    if !(before.ends_with(b"(") || before.ends_with(b", ")) {
        return false;
    }
    let Some(k) = [&b"fn "[..], b"def ", b"function "]
        .iter()
        .filter_map(|k| memchr::memmem::rfind(before, k).map(|p| p + k.len()))
        .max()
    else {
        return false;
    };
    let after = &before[k..];
    let Some(open) = memchr::memchr(b'(', after) else {
        return false;
    };
    // Still inside the parameters' parentheses (a call's in a default closes its own).
    let mut depth = 0i32;
    for &b in &after[open..] {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return false;
        }
    }
    true
}

/// Whether the name at `s` (`name`) is a pattern of a Rust match arm: a path's last segment
/// (`Self::ClientSecret`, `Error::PwdTooLong`) or a variant of two words or more in CamelCase
/// (`DerivedSecret`).
pub(super) fn match_arm(line: &[u8], s: usize, name: &[u8]) -> bool {
    let path = s >= 2 && &line[s - 2..s] == b"::";
    // A guard's condition ends with the name (`Err(_) if !pass => return None,`, `Some(x) if
    // ok && token => break,`).
    let before = line[..s].strip_suffix(b"!").unwrap_or(&line[..s]);
    if [&b" if "[..], b" && ", b" || "]
        .iter()
        .any(|g| before.ends_with(g))
    {
        return true;
    }
    // Two words at least: a capitalised word alone (`Password => '…'`) may be a Perl key.
    let camel = name.first().is_some_and(u8::is_ascii_uppercase)
        && name.iter().all(u8::is_ascii_alphanumeric)
        && name
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    path || camel
}

/// Whether `name` (capitalised) may be a generic type's: letters (`Cell`, `std::vec::Vec`), or
/// words in CamelCase with digits (`TlsVecU16`; not `Hunter2`).
pub(super) fn type_name(name: &[u8]) -> bool {
    let humps = name
        .windows(2)
        .filter(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
        .count();
    name.iter()
        .all(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b':'))
        || humps >= 2 && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Whether a generic type's parameters start at `at` (its `<`): names of types (a letter, `_`,
/// `&`, `'` or `[` first), nested brackets closed, and then the code goes on (`,`, `)`, `;`,
/// `>`, `=`, a blank or the line's end). `Secr3t<9>x`, `Hunter2<x` are none.
pub(super) fn type_parameters(line: &[u8], at: usize) -> bool {
    const REACH: usize = 128;
    if !line
        .get(at + 1)
        .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'&' | b'\'' | b'['))
    {
        return false;
    }
    let mut depth = 0usize;
    for (i, &b) in line[at..line.len().min(at + REACH)].iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return line.get(at + i + 1).is_none_or(|n| {
                        n.is_ascii_whitespace() || matches!(n, b',' | b')' | b';' | b'>' | b'=')
                    });
                }
            }
            b if b.is_ascii_alphanumeric() || b" _:&',[]".contains(&b) => {}
            _ => return false,
        }
    }
    false
}

/// Whether the name at `s` is declared by the words before it on its line: `let`, `let mut`,
/// `const`, `var`, `val` (Rust, JavaScript, Go, Kotlin, Swift), exported or not.
pub(super) fn declared(line: &[u8], s: usize) -> bool {
    let before = line[line_start(line, s)..s].trim_ascii();
    let before = before.strip_prefix(b"export ").unwrap_or(before);
    matches!(before, b"let" | b"let mut" | b"const" | b"var" | b"val")
}
