//! Secrets found by their context: a name that says "secret" and an assignment after it
//! (`DB_PASS=…`, `"api_key": "…"`, `<password>…</password>`, `Authorization: Basic …`,
//! `--token …`, `.netrc`'s `password …`), judged by the name and then by the value.
//!
//! Names are matched case-insensitively, by their parts (`Api_Key`, `apiKey`, `SECRET_KEY_BASE`):
//! `input_tokens` has the part `tokens`, not `token`, and is not a secret's name. After a *strong*
//! name (password, secret, token flags, Bearer, URL user-info) any plausible value is a secret,
//! a capitalised word included; after a *weak* one (api key, auth, DSN, webhook, PAT,
//! credential, …) a plain word, a type name or a quantity is taken for code or prose. A name
//! whose last part is about the secret (`DB_PASSWORD_FILE`, `secret_name`, `TOKEN_EXPIRY`) names
//! none.

/// How sure a name is that its value is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Strength {
    Weak,
    Strong,
}

/// Most name parts looked at (a longer name is judged by its first ones).
const MAX_PARTS: usize = 12;

/// The parts of a name as ranges: split at every byte that is not a letter or digit, and at
/// lower-to-upper case changes (`apiKey`). No allocation: this runs on every anchor hit.
fn parts(name: &[u8]) -> ([(usize, usize); MAX_PARTS], usize) {
    let mut out = [(0, 0); MAX_PARTS];
    let mut n = 0;
    let mut start = None;
    let mut prev_lower = false;
    for (i, &b) in name.iter().enumerate() {
        let alnum = b.is_ascii_alphanumeric();
        let hump = b.is_ascii_uppercase() && prev_lower;
        if let Some(s) = start
            && (!alnum || hump)
        {
            if n < MAX_PARTS {
                out[n] = (s, i);
                n += 1;
            }
            start = None;
        }
        if alnum && start.is_none() {
            start = Some(i);
        }
        prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
    }
    if let Some(s) = start
        && n < MAX_PARTS
    {
        out[n] = (s, name.len());
        n += 1;
    }
    (out, n)
}

/// Words that make `…key` a secret's name (`api_key`, `privateKey`), unlike `cache_key`.
const KEY_QUALIFIERS: &[&[u8]] = &[
    b"api",
    b"private",
    b"secret",
    b"access",
    b"master",
    b"signing",
    b"encryption",
    b"client",
    b"account",
    b"app",
    b"auth",
    b"license",
    b"service",
    b"admin",
    b"deploy",
    b"ssh",
    b"hmac",
    b"webhook",
    b"x",
    b"subscription",
    b"consumer",
    b"storage",
    b"sas",
    b"jwt",
    b"session",
    b"crypt",
    b"decryption",
    b"gpg",
    b"pgp",
    b"rsa",
    b"ingest",
    b"write",
    b"management",
];

const STRONG: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"pass",
    b"passphrase",
    b"secret",
    b"passcode",
    b"pword",
    b"authorization",
    b"requirepass",
    b"masterauth",
];
const WEAK: &[&[u8]] = &[
    b"token",
    b"apikey",
    b"pat",
    b"dsn",
    b"webhook",
    b"credential",
    b"credentials",
    b"auth",
    b"privatekey",
    b"secretkey",
    b"accesskey",
    b"authtoken",
    b"accesstoken",
    b"apitoken",
    b"connectionstring",
    b"connstr",
    b"clientsecret",
    b"signingkey",
    b"masterkey",
];

/// Last parts that make a secret's name the name of something *about* the secret: where it is
/// (`DB_PASSWORD_FILE`, `--token-file`, `secret_ref`), what it is called or what kind it is
/// (`secret_name`, `auth_type`), its rules and lifetime (`passwordPolicy`, `TOKEN_EXPIRY`,
/// `auth_timeout`, `tokenExpiresAt`), the variable it is read from (`--auth-token-env`). Their
/// values are paths, names, words, times and durations. Not `id` (Vault's
/// `secret_id` is a credential), `hash`, `value`, `url` (a webhook's URL is the secret) or
/// `base` (`SECRET_KEY_BASE`).
const ABOUT: &[&[u8]] = &[
    b"file",
    b"files",
    b"path",
    b"dir",
    b"ref",
    b"name",
    b"names",
    b"type",
    b"kind",
    b"method",
    b"mode",
    b"format",
    b"policy",
    b"length",
    b"len",
    b"size",
    b"count",
    b"ttl",
    b"expiry",
    b"expires",
    b"expiration",
    b"lifetime",
    b"timeout",
    b"version",
    b"at",
    b"date",
    b"time",
    b"timestamp",
    b"env",
    b"var",
    b"variable",
];

fn eq_any(p: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| p.eq_ignore_ascii_case(w))
}

fn contains_ci(p: &[u8], needle: &[u8]) -> bool {
    p.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn ends_ci(p: &[u8], suffix: &[u8]) -> bool {
    p.len() >= suffix.len() && p[p.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Whether `name` (an identifier, header or flag name) names a secret, and how strongly.
pub(crate) fn classify(name: &[u8]) -> Option<Strength> {
    let (ranges, n) = parts(name);
    if about_a_secret(name, &ranges[..n]) || names_a_list(name, &ranges[..n]) {
        return None;
    }
    let mut best: Option<Strength> = None;
    for i in 0..n {
        let (a, b) = ranges[i];
        let p = &name[a..b];
        let prev = (i > 0).then(|| &name[ranges[i - 1].0..ranges[i - 1].1]);
        let s = if eq_any(p, STRONG) || contains_ci(p, b"password") || contains_ci(p, b"secret") {
            Some(Strength::Strong)
        } else if eq_any(p, WEAK)
            || (p.eq_ignore_ascii_case(b"key") || p.eq_ignore_ascii_case(b"keys"))
                && (prev.is_some_and(|q| eq_any(q, KEY_QUALIFIERS)) || i == n - 1 && n > 1)
            || p.eq_ignore_ascii_case(b"string")
                && prev.is_some_and(|q| q.eq_ignore_ascii_case(b"connection"))
            || (ends_ci(p, b"token") && p.len() > 5)
            || ends_ci(p, b"apikey")
        {
            Some(Strength::Weak)
        } else {
            None
        };
        best = best.max(s);
    }
    best
}

/// Whether the name with these parts names something about a secret rather than the secret:
/// its last part is one of [`ABOUT`] (and it has a part before it).
fn about_a_secret(name: &[u8], parts: &[(usize, usize)]) -> bool {
    match parts {
        [.., _, (a, b)] => eq_any(&name[*a..*b], ABOUT),
        _ => false,
    }
}

/// Whether the name ends in `secrets` or `tokens`: in output, a list of them by name
/// (`Mountable secrets:   default-token-x7k2p` in `kubectl describe`, compose's `secrets:`).
/// A variable so named holds them themselves (`SECRETS='{"db": …}'`).
fn names_a_list(name: &[u8], parts: &[(usize, usize)]) -> bool {
    parts
        .last()
        .is_some_and(|&(a, b)| eq_any(&name[a..b], &[b"secrets", b"tokens"]))
}

/// Whether `name` has the part `key`.
fn has_key_part(name: &[u8]) -> bool {
    let (ranges, n) = parts(name);
    ranges[..n]
        .iter()
        .any(|&(a, b)| name[a..b].eq_ignore_ascii_case(b"key"))
}

/// Whether `name` is an environment variable name whose value is a secret. Matched
/// case-insensitively by parts, as [`classify`]; `PWD`/`OLDPWD` (the shell's working directory)
/// and the agent socket are not.
pub(crate) fn secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "PWD" | "OLDPWD" | "SSH_AUTH_SOCK" | "XAUTHORITY" | "GPG_AGENT_INFO"
    ) {
        return false;
    }
    let (ranges, n) = parts(name.as_bytes());
    if about_a_secret(name.as_bytes(), &ranges[..n]) {
        return false; // `DB_PASSWORD_FILE`, `SSH_KEY_PATH`: where the secret is
    }
    if names_a_list(name.as_bytes(), &ranges[..n]) {
        return true; // `SECRETS`, `CI_TOKENS`: the values themselves
    }
    if has_key_part(name.as_bytes()) {
        return true; // `CACHE_KEY`, `SIGNING_KEY`: any `*_KEY` variable is taken for a secret
    }
    classify(name.as_bytes()).is_some()
}

/// Whether a byte may be part of a name: a letter, a digit, `_`, `-` or `.` (one table read;
/// every keyword hit walks its name a byte at a time).
#[inline(always)]
pub(crate) fn name_byte(b: u8) -> bool {
    const NAME: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.';
            b += 1;
        }
        t
    };
    NAME[usize::from(b)]
}

/// A secret found by context: `ctx` is where its name starts, `start..end` the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub ctx: usize,
    pub start: usize,
    pub end: usize,
}

/// Bytes that end an unquoted value.
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'&' | b'<' | b'>' | b'`')
}

/// Scheme words after `Authorization:`.
const SCHEMES: &[&[u8]] = &[
    b"bearer",
    b"basic",
    b"token",
    b"bot",
    b"digest",
    b"negotiate",
    b"apikey",
    b"sso-key",
    b"ntlm",
];

/// Look at the name around `hit` (an anchor found in `line`) and, if an assignment of a secret
/// follows it, return where the value is.
pub(crate) fn at(line: &[u8], hit: usize) -> Option<Found> {
    let mut s = hit;
    while s > 0 && name_byte(line[s - 1]) {
        s -= 1;
    }
    let mut e = hit;
    while e < line.len() && name_byte(line[e]) {
        e += 1;
    }
    // `--token x`: a flag takes its value after a blank or `=`.
    let flag = line[s..].starts_with(b"--");
    let name = trim_name(&line[s..e]);
    let lname = name.to_ascii_lowercase();
    if is_file_name(&lname) {
        return None; // `src/auth.rs:42:9`
    }
    if in_arn(line, s) {
        return None; // `arn:aws:secretsmanager:us-east-1:…:secret:prod/db`
    }
    if lname == b"bearer" {
        return bearer(line, s, e);
    }
    let strength = classify(name)?;
    let xml = s > 0 && line[s - 1] == b'<';
    let mut p = e;
    // Closing quotes of a quoted name, then blanks, then the operator.
    while p < line.len() && matches!(line[p], b'"' | b'\'') {
        p += 1;
    }
    if xml {
        // `<password>VALUE</password>`: the closing tag must follow.
        if line.get(p) != Some(&b'>') {
            return None;
        }
        let v = p + 1;
        let end = v + line[v..].iter().position(|&b| b == b'<' || b == b'\n')?;
        let close = &line[end..];
        let closes = close.starts_with(b"</")
            && close
                .get(2..2 + name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if !closes {
            return None;
        }
        return value(
            line,
            s,
            v,
            end,
            Strength::Strong.max(strength),
            &lname,
            false,
        );
    }
    let blanks = |mut p: usize| {
        while p < line.len() && matches!(line[p], b' ' | b'\t') {
            p += 1;
        }
        p
    };
    let q = blanks(p);
    let op = match line.get(q..q + 2) {
        Some(b":=") | Some(b"=>") | Some(b"?=") => 2,
        _ => match line.get(q) {
            Some(b'=') | Some(b':') => 1,
            _ => 0,
        },
    };
    if op == 0 {
        // The name given as data, its value in the field beside it.
        if let Some(f) = beside(line, s, e, strength, &lname) {
            return Some(f);
        }
        // No operator: `--token VALUE`, `.netrc`'s `password VALUE`.
        let spaced = q > e && q < line.len();
        if flag && q == e + 1 && q < line.len() && line[q] != b'-' {
            return value_run(line, s, q, Strength::Strong, &lname);
        }
        if spaced && netrc(line, s, e, q) {
            return value_run(line, s, q, Strength::Strong, &lname);
        }
        if spaced && dockerfile_env(line, s) {
            return value_run(line, s, q, strength, &lname);
        }
        return None;
    }
    let colon_blank = line[q] == b':' && op == 1 && matches!(line.get(q + 1), Some(b' '));
    // `PASS: tests/foo`, `--- PASS: TestX/case (0.00s)`: a test runner's verdict (automake,
    // Go), printed all day by the tests Claude runs; a key or a variable named so is lower case
    // or assigned with `=`.
    if name == b"PASS" && colon_blank {
        return None;
    }
    let mut v = blanks(q + op);
    let mut quote = None;
    if let Some(&c @ (b'"' | b'\'')) = line.get(v) {
        quote = Some(c);
        v += 1;
    }
    if lname.ends_with(b"authorization") || lname == b"proxy-authorization" {
        // Skip the scheme word; the credentials after it are the secret.
        let w = line[v..]
            .iter()
            .position(|b| !b.is_ascii_alphabetic() && *b != b'-');
        if let Some(w) = w {
            let word = line[v..v + w].to_ascii_lowercase();
            if SCHEMES.contains(&word.as_slice()) && matches!(line.get(v + w), Some(b' ')) {
                v = blanks(v + w);
            }
        }
        let end = run_end(line, v, quote);
        return value(line, s, v, end, Strength::Strong, &lname, false);
    }
    let end = run_end(line, v, quote);
    // Prose: `invalid token: expired` — a word before the name, `: ` and a plain word.
    let prose = colon_blank && quote.is_none() && s >= 2 && line[s - 1] == b' ' && {
        line[s - 2].is_ascii_alphabetic()
    };
    value(line, s, v, end, strength, &lname, prose)
}

/// Whether a "name" is a file name (`auth.rs`, `test_auth.py`): what follows it is a position.
fn is_file_name(lname: &[u8]) -> bool {
    const EXT: &[&[u8]] = &[
        b"rs", b"py", b"js", b"ts", b"tsx", b"jsx", b"mjs", b"go", b"rb", b"java", b"kt", b"c",
        b"h", b"cc", b"cpp", b"hpp", b"cs", b"php", b"swift", b"md", b"json", b"yaml", b"yml",
        b"toml", b"txt", b"html", b"css", b"sh", b"sql", b"log", b"lock", b"xml", b"ex", b"exs",
    ];
    lname
        .iter()
        .rposition(|&b| b == b'.')
        .is_some_and(|d| EXT.contains(&&lname[d + 1..]))
}

/// Whether the name at `s` follows a Dockerfile's `ENV` instruction (the form without `=`,
/// `ENV NAME VALUE`): at the start of a line, or after `docker build`'s `Step 4/9 : `.
fn dockerfile_env(line: &[u8], s: usize) -> bool {
    let Some(before) = line[..s].strip_suffix(b"ENV ") else {
        return false;
    };
    let before = before.trim_ascii_end();
    before.is_empty() || before.ends_with(b" :") || before.ends_with(b"\n")
}

/// Keys whose value names a variable or parameter (`{"name": "DB_PASSWORD", …}`), and the keys
/// of the field beside them that hold its value.
const NAME_KEYS: &[&[u8]] = &[b"name", b"key", b"parameterkey", b"parametername"];
const VALUE_KEYS: &[&[u8]] = &[b"value", b"parametervalue"];

/// A secret's name given as data, `line[s..e]`, the value of a `name`-like key, and its value in
/// a `value`-like field beside it in the same object: Kubernetes and ECS environment lists
/// (`{"name": "DB_PASSWORD", "value": "…"}`, `- {name: X, value: …}`), CloudFormation
/// parameters (`"ParameterKey": "DbPassword", "ParameterValue": "…"`).
fn beside(line: &[u8], s: usize, e: usize, strength: Strength, lname: &[u8]) -> Option<Found> {
    // Back from the name: a quote, blanks, `:`, blanks, a quote, the key.
    let p = skip_back(line, skip_back(line, s, b"\"'"), b" \t");
    if p == 0 || line[p - 1] != b':' {
        return None;
    }
    let p = skip_back(line, skip_back(line, p - 1, b" \t"), b"\"'");
    let k = line[..p]
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    if !eq_any(&line[k..p], NAME_KEYS) {
        return None;
    }
    // Forward, within the object: the first key after the name's value, after a `,` or, in a
    // view, after the blank a JSON-escaped line break reads as (`- name: X\n  value: …` in a
    // tool's output inside stream-json).
    let mut q = skip(line, e, b"\"' \t");
    let blank = line[e..q].iter().any(|b| matches!(b, b' ' | b'\t'));
    match line.get(q) {
        Some(b',') => q = skip(line, q + 1, b"\"' \t"),
        _ if blank => {}
        _ => return None,
    }
    let key_end = q + line[q..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .unwrap_or(line.len() - q);
    if !eq_any(&line[q..key_end], VALUE_KEYS) {
        return None; // `valueFrom`, another field
    }
    let v = skip(line, skip(line, key_end, b"\"'"), b" \t");
    if line.get(v) != Some(&b':') {
        return None;
    }
    let mut v = skip(line, v + 1, b" \t");
    let mut quote = None;
    if let Some(&c @ (b'"' | b'\'')) = line.get(v) {
        quote = Some(c);
        v += 1;
    }
    let end = match quote {
        Some(_) => run_end(line, v, quote),
        // Unquoted in a flow map: up to the `,` or `}` that ends it.
        None => {
            v + line[v..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(line.len() - v)
        }
    };
    value(line, s, v, end, strength, lname, false)
}

/// Where `line[p..]` stops holding bytes of `what`.
fn skip(line: &[u8], mut p: usize, what: &[u8]) -> usize {
    while p < line.len() && what.contains(&line[p]) {
        p += 1;
    }
    p
}

/// Where `line[..p]` stops ending in bytes of `what`.
fn skip_back(line: &[u8], mut p: usize, what: &[u8]) -> usize {
    while p > 0 && what.contains(&line[p - 1]) {
        p -= 1;
    }
    p
}

/// The value of the YAML field `key` (`name:`, `value:`) that starts `line` after blanks and,
/// where `item`, a list item's `- `: its range, without the quotes around it.
fn field_value(line: &[u8], key: &[u8], item: bool) -> Option<(usize, usize)> {
    let mut p = skip(line, 0, b" \t");
    if item && line[p..].starts_with(b"- ") {
        p += 2;
    }
    if !line[p..].starts_with(key) {
        return None;
    }
    let mut a = skip(line, p + key.len(), b" \t");
    let mut b = line.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
    if b > a && matches!(line[a], b'"' | b'\'') && line[b - 1] == line[a] {
        (a, b) = (a + 1, b - 1);
    }
    (a < b).then_some((a, b))
}

/// A YAML list item that gives a secret's name as data and nothing else on its line
/// (`- name: DB_PASSWORD`): the name's strength and where it is, for the value the next line
/// gives ([`value_line`]).
pub(crate) fn name_given_as_data(line: &[u8]) -> Option<(Strength, usize, usize)> {
    let (a, b) = field_value(line, b"name:", true)?;
    if !line[a..b].iter().all(|&c| name_byte(c)) {
        return None;
    }
    Some((classify(&line[a..b])?, a, b))
}

/// The value a `value:` line gives (`  value: X`, `  value: "X"`), if it is a plausible secret
/// after a name of strength `st`: its range in `line`.
pub(crate) fn value_line(line: &[u8], st: Strength) -> Option<(usize, usize)> {
    let (v, end) = field_value(line, b"value:", false)?;
    let trimmed = trim_value(&line[v..end]);
    plausible(trimmed, st).then_some((v, v + trimmed.len()))
}

/// Whether the name at `s` is a field of an Amazon Resource Name (`arn:partition:service:…`),
/// which names a resource, a secret's included, and holds none.
fn in_arn(line: &[u8], s: usize) -> bool {
    if s == 0 || line[s - 1] != b':' {
        return false;
    }
    let start = line[..s]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || b":-_/.".contains(b)))
        .map_or(0, |p| p + 1);
    line[start..].starts_with(b"arn:")
}

/// A name without the quotes or dashes around it.
fn trim_name(name: &[u8]) -> &[u8] {
    let a = name
        .iter()
        .position(|b| b.is_ascii_alphanumeric())
        .unwrap_or(name.len());
    let b = name
        .iter()
        .rposition(|b| b.is_ascii_alphanumeric())
        .map_or(a, |p| p + 1);
    &name[a..b.max(a)]
}

fn run_end(line: &[u8], v: usize, quote: Option<u8>) -> usize {
    match quote {
        Some(q) => {
            let end = line[v..].iter().position(|&b| b == q || b == b'\n');
            end.map_or(line.len(), |p| v + p)
        }
        None => line[v..]
            .iter()
            .position(|&b| ends_value(b))
            .map_or(line.len(), |p| v + p),
    }
}

fn value_run(line: &[u8], s: usize, v: usize, st: Strength, lname: &[u8]) -> Option<Found> {
    let end = run_end(line, v, None);
    value(line, s, v, end, st, lname, false)
}

/// Whether the `password` at `s..e`, its value at `v`, is a `.netrc` entry: the token in lower
/// case, as `.netrc` spells it, after `login X` on the same line, or at the start of a line with
/// nothing after its value but another entry (`machine …`). Prose starts lines with "password"
/// too: `password strength: 3/4`, `Password changed successfully`.
fn netrc(line: &[u8], s: usize, e: usize, v: usize) -> bool {
    if !matches!(&line[s..e], b"password" | b"passwd") {
        return false;
    }
    let start = line[..s]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let before = &line[start..s];
    if before.windows(6).any(|w| w == b"login ") {
        return true;
    }
    if !before.iter().all(|b| *b == b' ' || *b == b'\t') {
        return false;
    }
    let rest = &line[v..];
    let rest = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
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

fn bearer(line: &[u8], s: usize, e: usize) -> Option<Found> {
    if line.get(e) != Some(&b' ') {
        return None;
    }
    let mut v = e;
    while v < line.len() && line[v] == b' ' {
        v += 1;
    }
    let end = v + line[v..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)))
        .unwrap_or(line.len() - v);
    let val = &line[v..end];
    if val.len() < 8 {
        return None;
    }
    // `bearer authentication`, `Bearer token`: prose.
    if val.iter().all(u8::is_ascii_lowercase) && val.len() < 24 {
        return None;
    }
    value(line, s, v, end, Strength::Strong, b"bearer", false)
}

fn value(
    line: &[u8],
    s: usize,
    v: usize,
    end: usize,
    strength: Strength,
    lname: &[u8],
    prose: bool,
) -> Option<Found> {
    let raw = &line[v..end.min(line.len())];
    let trimmed = trim_value(raw);
    if trimmed.is_empty() || prose && trimmed.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    if (lname == b"pwd" || lname == b"oldpwd") && matches!(trimmed[0], b'/' | b'~') {
        return None; // the shell's working directory
    }
    if !plausible(trimmed, strength) {
        return None;
    }
    Some(Found {
        ctx: s,
        start: v,
        end: v + trimmed.len(),
    })
}

/// `v` without trailing punctuation that closes the surrounding code (`x),`, `y];`).
fn trim_value(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b',' | b'|' | b')' | b']' | b'}' | b';' | b'.'))
        .map_or(0, |p| p + 1);
    &v[..end]
}

/// Type names a value after a secret's name may be in code (`password: String`).
const TYPE_WORDS: &[&[u8]] = &[
    b"string",
    b"str",
    b"secret",
    b"token",
    b"password",
    b"option",
    b"vec",
    b"bytes",
    b"value",
    b"credentials",
    b"credential",
    b"secretstring",
    b"secretbox",
    b"zeroizing",
    b"key",
    b"apikey",
    b"text",
    b"number",
    b"int",
    b"integer",
    b"boolean",
    b"object",
    b"any",
    b"unknown",
    b"never",
    b"buffer",
    b"uint8array",
    b"hash",
    b"hidden",
    b"sensitive",
    b"masked",
    b"varchar",
    b"char",
];

/// Placeholder and code words that are never a secret.
const WORDS: &[&[u8]] = &[
    b"null",
    b"none",
    // Ansible's mask for a `no_log` value.
    b"value_specified_in_no_log_parameter",
    b"nil",
    b"true",
    b"false",
    b"undefined",
    b"redacted",
    b"self",
    b"this",
    b"xxx",
    b"xxxx",
    b"xxxxxx",
    b"xxxxxxxx",
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
    // A flag's value type in a command's help (`--password string`, `--token-ttl duration`).
    b"string",
    b"strings",
    b"stringarray",
    b"stringslice",
    b"duration",
    b"float64",
    b"int64",
    b"uint64",
    b"password",
    b"passwd",
    b"secret",
    b"token",
    b"changeme",
    b"your_token",
    b"your_password",
    b"yourpassword",
    b"example",
    b"placeholder",
    b"dummy",
    b"empty",
    b"missing",
    b"invalid",
    b"expired",
    b"unset",
    b"default",
    b"env",
    b"environ",
    b"getenv",
    b"process.env",
];

/// Whether `v` (a token or a value) is a documentation example or a placeholder in a token's
/// shape: AWS's published example keys (`AKIAIOSFODNN7EXAMPLE`, `…/bPxRfiCYEXAMPLEKEY`), or a
/// prefix and then one letter x repeated (`ghp_xxxx…`, `sk_test_XXXX…`). No random key ends
/// so.
pub(crate) fn placeholder(v: &[u8]) -> bool {
    if v.ends_with(b"EXAMPLE") || v.ends_with(b"EXAMPLEKEY") {
        return true;
    }
    let xs = v
        .iter()
        .rev()
        .take_while(|&&b| b == b'x' || b == b'X')
        .count();
    xs >= 12 && v.len() - xs <= 12
}

/// Whether a value could be a secret rather than code, a type, a placeholder or prose.
pub(crate) fn plausible(v: &[u8], strength: Strength) -> bool {
    let Some(&first) = v.first() else {
        return false;
    };
    if matches!(
        first,
        b'{' | b'$'
            | b'%'
            | b'('
            | b'*'
            | b'['
            | b'#'
            | b':'
            | b'='
            | b'<'
            | b'&'
            | b'@'
            | b'!'
            | b'?'
    ) {
        // template, variable, format string, pointer, list, comment, <NAME>, SQL placeholder
        return false;
    }
    if !v.iter().any(u8::is_ascii_alphanumeric) {
        return false; // `…`, `***`, `---`
    }
    if v.contains(&b'(') || v.contains(&b'[') || v.windows(2).any(|w| w == b"::") {
        return false; // a call, a subscript or a path (`os.environ['X']`, `Foo::new`)
    }
    if v.windows(3).any(|w| w == b"***") || v.windows(2).any(|w| w == b"{{") {
        return false; // masked (`ab***yz`) or a template
    }
    let lower = v.to_ascii_lowercase();
    if WORDS.contains(&lower.as_slice()) || lower.starts_with(b"[redacted]") || placeholder(v) {
        return false;
    }
    // A placeholder in an example file: `your-api-key-here`, `your_session_secret`,
    // `set-me-here`, `replace-me`.
    if lower
        .iter()
        .all(|b| b.is_ascii_lowercase() || *b == b'-' || *b == b'_')
        && (lower.starts_with(b"your-")
            || lower.starts_with(b"your_")
            || lower.ends_with(b"-here")
            || lower.ends_with(b"_here")
            || matches!(
                lower.as_slice(),
                b"replace-me"
                    | b"replace_me"
                    | b"replaceme"
                    | b"change-me"
                    | b"change_me"
                    | b"changeit"
            ))
    {
        return false;
    }
    // A short lowercase word (`password: the …`, `token = args`).
    if v.len() <= 5 && v.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    // A small count (`"github_token": 2` in a table of rule hits); four digits can be a PIN.
    if v.len() <= 3 && v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let alpha = v.iter().all(u8::is_ascii_alphabetic);
    // A type name in code (`password: String`, `token: SecretString`, `key: HmacKey`).
    if alpha && first.is_ascii_uppercase() {
        if TYPE_WORDS.contains(&lower.as_slice()) {
            return false;
        }
        let humps = v
            .windows(2)
            .filter(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
            .count();
        if humps >= 1 && v[1..].iter().any(u8::is_ascii_lowercase) {
            return false;
        }
    }
    // A field path in code (`args.token`, `self.config.api_key`, `os.environ`,
    // `settings.CLIENT_SECRET`, TypeScript's `process.env.JWT_SECRET!`): an object's name, then
    // fields or constants.
    let path = v.strip_suffix(b"!").unwrap_or(v);
    let ident = |p: &[u8]| {
        p.first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && p.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    if path.contains(&b'.')
        && (first.is_ascii_lowercase() || first == b'_')
        && path.split(|&b| b == b'.').all(ident)
        && !path.iter().any(u8::is_ascii_digit)
    {
        return false;
    }
    if strength == Strength::Weak {
        // After a weak name a plain word is prose or code (`auth: enabled`, `api_key: Config`);
        // keys have digits, symbols or length.
        if alpha && v.len() < 16 {
            return false;
        }
        // Keys have digits; a value without one is a word, an identifier or a setting
        // (`"sort_key": "created_at"`), unless it is long and mixed-case.
        let mixed = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
        if !(v.iter().any(u8::is_ascii_digit) || mixed && v.len() >= 24) {
            return false;
        }
        if matches!(first, b'/' | b'~') || v.starts_with(b"./") || v.starts_with(b"../") {
            return false; // a path to a key file
        }
        if v.iter().all(u8::is_ascii_digit) && v.len() < 8 {
            return false;
        }
        // A quantity (`token: 0.75`, `Cost per token: 0.000003`): digits, one point, digits.
        if let Some(d) = v.iter().position(|&b| b == b'.')
            && d > 0
            && d + 1 < v.len()
            && v[..d].iter().chain(&v[d + 1..]).all(u8::is_ascii_digit)
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(line: &str, anchor: &str) -> Option<String> {
        let hit = line.find(anchor).unwrap();
        at(line.as_bytes(), hit).map(|f| line[f.start..f.end].to_string())
    }

    #[test]
    fn names_by_parts_in_any_case() {
        for n in [
            "PGPASSWORD",
            "MYSQL_PWD",
            "DB_PASS",
            "SECRET_KEY_BASE",
            "GITHUB_PAT",
            "SENTRY_DSN",
            "SLACK_WEBHOOK_URL",
            "CLIENT_SECRET_VALUE",
            "PASSWORD",
            "TOKEN",
            "SECRET",
            "APIKEY",
            "db_password",
            "Api_Key",
            "apiKey",
            "x-api-key",
            "privateKey",
            "AUTH",
            "credentials",
        ] {
            assert!(classify(n.as_bytes()).is_some(), "{n}");
        }
        for n in [
            "input_tokens",
            "max_tokens",
            "author",
            "key",
            "keyboard",
            "passed",
            "bypass",
        ] {
            assert!(classify(n.as_bytes()).is_none(), "{n}");
        }
        assert!(secret_env_name("CACHE_KEY"));
        assert!(!secret_env_name("PWD"));
        assert!(!secret_env_name("HOME"));
    }

    #[test]
    fn names_of_things_about_a_secret_are_not_secrets_names() {
        for n in [
            "DB_PASSWORD_FILE",
            "password-file",
            "SSH_KEY_PATH",
            "secret_ref",
            "secretKeyRef",
            "secret_name",
            "auth_type",
            "passwordPolicy",
            "TOKEN_EXPIRY",
            "auth_timeout",
            "token_ttl",
            "PASSWORD_MIN_LENGTH",
            "auth-token-env",
            "tokenExpiresAt",
            "password_reset_token_expires_at",
        ] {
            assert!(classify(n.as_bytes()).is_none(), "{n}");
            assert!(!secret_env_name(n), "{n}");
        }
        // Lists by name in output; in the environment, the secrets themselves.
        for n in ["secrets", "Tokens", "image_pull_secrets"] {
            assert!(classify(n.as_bytes()).is_none(), "{n}");
            assert!(secret_env_name(n), "{n}");
        }
        // What only looks alike: a credential, the secret itself, where it is sent.
        for n in [
            "secret_id",
            "vault_secret_id",
            "CLIENT_SECRET_VALUE",
            "SECRET_KEY_BASE",
            "SLACK_WEBHOOK_URL",
            "password_hash",
            "file_password",
            "token",
        ] {
            assert!(classify(n.as_bytes()).is_some(), "{n}");
            assert!(secret_env_name(n), "{n}");
        }
        // `FILE` alone is no name with a part before its last.
        assert!(classify(b"FILE").is_none());
    }

    #[test]
    fn a_quantity_after_a_weak_name_is_no_secret_after_a_strong_one_it_is() {
        for v in ["0.75", "5.28", "0.000003", "1536.0"] {
            assert!(!plausible(v.as_bytes(), Strength::Weak), "{v}");
            assert!(plausible(v.as_bytes(), Strength::Strong), "{v}");
        }
        // Not a quantity: more points, letters, nothing on one side.
        for v in ["10.0.0.12345", "5.28abc", "12345678.", ".12345678"] {
            assert_eq!(
                plausible(v.as_bytes(), Strength::Weak),
                plausible(v.replace('.', "").as_bytes(), Strength::Weak),
                "{v}"
            );
        }
        assert_eq!(found("token: 0.75", "oken"), None);
        assert_eq!(found("Cost per token: 0.000003", "oken"), None);
        assert_eq!(found("password: 3.14159", "assw"), Some("3.14159".into()));
    }

    #[test]
    fn resource_names_and_constants_in_code_are_no_secrets() {
        let arn = "\"Resource\": \"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db\"";
        assert_eq!(found(arn, "ecret"), None);
        assert_eq!(
            found("fetch(url, client_secret=settings.CLIENT_SECRET)", "ecret"),
            None
        );
        assert_eq!(found("  secret: process.env.JWT_SECRET!,", "ecret"), None);
        // Not an ARN, not a path of names: values.
        assert_eq!(
            found("user:secret:Hunter2hunter", "ecret"),
            Some("Hunter2hunter".into())
        );
        assert_eq!(
            found("client_secret=Settings.ClientSecretXyz", "ecret"),
            Some("Settings.ClientSecretXyz".into())
        );
    }

    #[test]
    fn netrc_entries_are_secrets_prose_that_starts_with_password_is_not() {
        for (line, v) in [
            (
                "machine example.com login me password n3tRcPass",
                "n3tRcPass",
            ),
            ("  password n3tRcPass", "n3tRcPass"),
            ("password n3tRcPass machine other.example.com", "n3tRcPass"),
            ("\tpasswd Hunter2hunter  ", "Hunter2hunter"),
        ] {
            assert_eq!(found(line, "assw"), Some(v.into()), "{line}");
        }
        for line in [
            "password strength: 3/4 (strong)",
            "Password changed successfully for user deploy",
            "password reset link sent to user@example.com",
        ] {
            assert_eq!(found(line, "assw"), None, "{line}");
        }
    }

    #[test]
    fn an_example_files_placeholders_are_no_secrets() {
        for line in [
            "API_KEY=your-api-key-here",
            "JWT_SECRET=replace-me",
            "SESSION_SECRET=your_session_secret",
            "ADMIN_PASSWORD=set-me-here",
            "password: change_me",
        ] {
            let hit = line.find(['P', 'S', 'K', 'p']).unwrap();
            assert_eq!(at(line.as_bytes(), hit), None, "{line}");
        }
        // Shaped alike, but with digits or capitals: a value someone chose.
        assert!(plausible(b"your-pass-2024", Strength::Strong));
        assert!(plausible(b"Replace-Me-Now", Strength::Strong));
        assert!(plausible(b"hunter-here9", Strength::Strong));
    }

    #[test]
    fn documentation_keys_and_xs_are_placeholders() {
        for v in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sk_test_XXXXXXXXXXXXXXXXXXXXXXXX",
        ] {
            assert!(placeholder(v.as_bytes()), "{v}");
        }
        for v in [
            "AKIAJUF3OITR2AFO37QG",
            "ghp_Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8",
            // A real body that happens to end in a few x's; a long prefix before the x's.
            "ghp_Zy9xW8vU7tS6rQ5pO4nM3lK2jIxxxxxxxx",
            "sk-ant-api03-Pt9gjmUhBel31iEl2hpxxxxxxxxxxxxxxxx",
        ] {
            assert!(!placeholder(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn a_flags_value_type_in_help_text_is_no_secret() {
        assert_eq!(found("  -p, --password string   Password", "assw"), None);
        assert_eq!(found("      --secrets stringArray   Names", "ecret"), None);
        assert_eq!(
            found("  -p, --password strings0meth1ng", "assw"),
            Some("strings0meth1ng".into())
        );
    }

    #[test]
    fn assignments_of_every_shape() {
        let cases = [
            (
                "password=Correcthorsebatterystaple",
                "assw",
                Some("Correcthorsebatterystaple"),
            ),
            ("DB_PASSWORD=Welcome", "ASSW", Some("Welcome")),
            ("--token Sesameopen", "oken", Some("Sesameopen")),
            ("token:\tVALUE1234", "oken", Some("VALUE1234")),
            (
                "<password>hunter2hunter</password>",
                "assw",
                Some("hunter2hunter"),
            ),
            ("password: \"s3cr3t-value\"", "assw", Some("s3cr3t-value")),
            (
                "machine example.com login me password n3tRcPass",
                "assw",
                Some("n3tRcPass"),
            ),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "uthoriz",
                Some("dXNlcjpwYXNzd29yZA=="),
            ),
            (
                "Authorization: Bearer Abcdefghijklmnop",
                "uthoriz",
                Some("Abcdefghijklmnop"),
            ),
            (
                "Bearer Abcdefghijklmnopqr",
                "earer",
                Some("Abcdefghijklmnopqr"),
            ),
            ("bearer authentication", "earer", None),
            ("invalid token: expired", "oken", None),
            ("secret_key = os.environ['SECRET_KEY']", "ecret", None),
            ("password: String,", "assw", None),
            ("api_key: Config", "pi_key", None),
            ("PWD=/home/me", "PWD", None),
            ("\"input_tokens\": 1234", "oken", None),
            ("password is wrong", "assw", None),
            (
                "`Authorization: Bearer <token>` to the admin API.",
                "oken",
                None,
            ),
            (
                "      --rotate-admin-token       Print a new admin token",
                "oken",
                None,
            ),
            ("  --> src/auth.rs:42:9", "auth", None),
            // Test runners' verdicts (Go's subtests, automake's `make check`), not secrets.
            ("    --- PASS: TestParse/empty (0.00s)", "PASS", None),
            ("PASS: tests/test-foo", "PASS", None),
            ("PASS: test_foo", "PASS", None),
            // The same word as a key or an assignment still is one.
            ("PASS=Sesame/open42", "PASS", Some("Sesame/open42")),
            ("pass: hunter2/x", "pass", Some("hunter2/x")),
            ("db_pass: \"s3cr3t-value\"", "pass", Some("s3cr3t-value")),
        ];
        for (line, anchor, want) in cases {
            assert_eq!(found(line, anchor).as_deref(), want, "{line:?}");
        }
    }
}
