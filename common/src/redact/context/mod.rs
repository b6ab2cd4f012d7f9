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

mod assigned;
mod authorization;
mod by_name;
mod calls;
mod clients;
mod code;
mod commands;
mod data;
mod devices;
mod exemptions;
mod fills;
mod languages;
mod lists;
mod literals;
mod logins;
mod names;
mod next_line;
mod phrases;
mod prose;
mod registries;
mod shapes;
mod shell;
mod sql;
mod tables;
mod text;
mod tool_tokens;
mod tools;
mod types;
mod unassigned;
mod value_start;
mod values;

pub(crate) use calls::password_argument;
pub(crate) use clients::next_password_flag;
pub(crate) use commands::pgpass_password;
use data::beside;
pub(crate) use data::{url_key, url_key_at};
use exemptions::dockerfile_env;
pub(crate) use languages::{LABELS, labelled};
pub(crate) use lists::{changed_to, next_in_list};
pub(crate) use literals::{creds_flag, dash_password_name, positional_call, short_password_flag};
pub(crate) use logins::{login_label_at, pair_after_label_at, pair_after_link_at};
pub(crate) use names::{
    Strength, classify, contains_ci, name_byte, parent_qualified, secret_env_name, secret_path,
};
pub(crate) use next_line::{
    NextLine, alone_after_name, alone_after_sentence, block_attribute, name_given_as_data,
    new_value_after_reset, output_member, type_member, value_line,
};
use phrases::{passphrase_name, words_to_line_end};
pub(crate) use shapes::{capitalised_words, code_literal, passed_under_its_own_name, words_joined};
pub(crate) use sql::next_inserted_row;
use tables::table_row;
pub(crate) use tables::{
    delimiter_under as table_delimiter, has_delimiter as table_has_delimiter,
    is_row as table_row_line, table_in_view,
};
pub(crate) use text::{COMMAND_REACH, READ_ARROW, VALUE_REACH};
use text::{
    after_string_prefix, before_json_end, blanks, bold_before, bold_open, bold_word, code_span,
    emphasized_word, gaps, line_start, quoted_or_word, run_end, run_end_within, skip_read_number,
};
pub(crate) use tool_tokens::{login_token, snyk_api, token_after_login};
pub(crate) use types::type_place;
pub(crate) use values::{placeholder, plausible, token_as_user};
use values::{symbol_led, symbol_salad, trim_value};

/// How far a name is read each way from a keyword's hit: every hit of a line is judged by the
/// name around it, and a line of megabytes made of one name-like run (`passpass…`) cost that
/// run's length for each of its hits, quadratic (256 KiB took a minute). No secret's name is
/// this long; a longer run is judged by its bytes nearest the hit.
pub(crate) const NAME_REACH: usize = 256;

/// The name around a keyword's hit: leftwards to its start (not into a JSON escape when
/// `escapes`: `\nrequirepass`) and rightwards to its end, at most [`NAME_REACH`] bytes each way.
#[inline(always)]
pub(crate) fn name_extent(buf: &[u8], hit: usize, escapes: bool) -> (usize, usize) {
    let floor = hit.saturating_sub(NAME_REACH);
    let mut s = hit;
    while s > floor && name_byte(buf[s - 1]) && !(escapes && s >= 2 && buf[s - 2] == b'\\') {
        s -= 1;
    }
    let ceiling = buf.len().min(hit + NAME_REACH);
    let mut e = hit;
    while e < ceiling && name_byte(buf[e]) {
        e += 1;
    }
    (s, e)
}

/// A secret found by context: `ctx` is where its name starts, `start..end` the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub ctx: usize,
    pub start: usize,
    pub end: usize,
    /// The value is an item of a list of secrets (`"api_keys": ["…", "…"]`, `TOKENS=…,…`):
    /// the items after it are read by [`lists::next_in_list`], judged at this strength.
    pub list: Option<Strength>,
}

/// A secret's name found in `line`, for the readers of the value after it: an operator's
/// (`assigned`), or a form that gives a value with none (`unassigned`: a command's syntax,
/// code's, a printed table). The name is `line[s..e]`, `p` is past its closing quotes and `q`
/// past the blanks after those.
#[derive(Clone, Copy)]
pub(super) struct Named<'a> {
    pub line: &'a [u8],
    pub s: usize,
    pub e: usize,
    pub p: usize,
    pub q: usize,
    pub strength: Strength,
    pub lname: &'a [u8],
}

/// A name's or a value's letters and digits, in lower case.
fn spelled(n: &[u8]) -> impl Iterator<Item = u8> + '_ {
    n.iter()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
}

/// Calls that wrap a secret's string literal (see [`at`]).
const WRAPPERS: &[&[u8]] = &[
    b"Some(",
    b"String::from(",
    b"SecretString::new(",
    b"SecretString::from(",
    b"Secret::new(",
    b"SecretBox::new(",
    b"Zeroizing::new(",
    b"[]byte(",
    b"SecretStr(",
    b"SecretBytes(",
    b"Secret(",
    b"b64decode(",
    b"base64.b64decode(",
    b"atob(",
    b"Buffer.from(",
    // A password hashed where it is given (seeders: Laravel's `Hash::make('…')` and
    // `bcrypt('…')`, Node's `bcrypt.hash("…", 10)`, Python's `bcrypt.hashpw(b"…", …)`).
    b"Hash::make(",
    b"bcrypt(",
    b"bcrypt.hash(",
    b"bcrypt.hashSync(",
    b"bcrypt.hashpw(",
    b"argon2.hash(",
    // bcryptjs' named imports: `password: await hash("…", 12)`, `hashSync("…", 10)`.
    b"hash(",
    b"hashSync(",
];

/// The text of a property list's `<string>…</string>` at `v`: its place.
pub(super) fn plist_string(line: &[u8], v: usize) -> Option<(usize, usize)> {
    let a = v + line.get(v..)?.strip_prefix(b"<string>").map(|_| 8)?;
    let b = a + line[a..].iter().position(|&c| c == b'<' || c == b'\n')?;
    line[b..].starts_with(b"</string>").then_some((a, b))
}

/// Look at the name around `hit` (an anchor found in `line`) and, if an assignment of a secret
/// follows it, return where the value is.
pub(crate) fn at(line: &[u8], hit: usize) -> Option<Found> {
    if let Some(decided) = literals::by_literal(line, hit) {
        return decided;
    }
    let (mut s, mut e) = name_extent(line, hit, false);
    // A name in two words, written as a label (`API Key: …`, `Secret Key: …`, `Your API Key is
    // …`): `Key` and the qualifier before it, or a qualifier and the `Key` after it.
    let joined = two_word_start(line, s, e);
    if joined < s {
        s = joined;
    } else if names::eq_any(&line[s..e], names::KEY_QUALIFIERS)
        && (line[e..].starts_with(b" Key") || line[e..].starts_with(b" key"))
        && {
            // (A full stop that ends the sentence is no name's dot: `… as the API key.`)
            let stop =
                line.get(e + 4) == Some(&b'.') && !line.get(e + 5).is_some_and(|&c| name_byte(c));
            stop || !line.get(e + 4).is_some_and(|&b| name_byte(b))
        }
    {
        e += 4;
    }
    // `--token x`, Java's `-storepass x`: a flag takes its value after a blank or `=`.
    let flag = line[s..].starts_with(b"--")
        || line[s] == b'-' && e - s > 2 && line[s + 1].is_ascii_alphabetic()
        // Windows' `/pass VALUE` (`ktpass … /pass VALUE`), not an HTTP request's path.
        || s >= 2
            && &line[s - 2..s] == b" /"
            && names::eq_any(&line[s..e], &[b"pass", b"password", b"pwd", b"passwd"])
            && !line[e..].starts_with(b" HTTP/");
    let name = trim_name(&line[s..e]);
    let lname = name.to_ascii_lowercase();
    // A flag that ends a sentence (`See also --proxy-key. Added in 7.52.0.`), and GnuPG's
    // commands whose argument is a key's or a user's id (`gpg --edit-key alice@example.com`).
    if flag
        && (line[e - 1] == b'.' && line.get(e) == Some(&b' ')
            || gpg_id_command(line, s, &lname)
            || secret_reference(line, s, &lname))
    {
        return None;
    }
    // Names that choose their reader themselves: a command's, a registry's, a file's, a
    // network device's, and names that are no secret's.
    if let Some(decided) = by_name::by_name(line, hit, s, e, flag, name, &lname) {
        return decided;
    }
    let strength = match classify(name) {
        Some(strength) => strength,
        // `"Jwt": { "Key": … }`, `{"api": {"key": …}}`: the object's name says whose key.
        None if (name == b"Key" || name == b"key") && parent_qualified(line, s) => Strength::Weak,
        // `--vault-password-file <(echo VALUE)`: the file is the value.
        None if names::secret_file(name) => {
            return commands::substituted_echo(line, e, shell::command_end(line, e))
                .and_then(|(a, b)| value(line, s, a, b, Strength::Strong, &lname, false));
        }
        None => return None,
    };
    if code::documents_a_parameter(line, s) {
        return None; // `:param str secret_key: The secret key part of …`
    }
    // A property list's `<key>NAME</key>` and the `<string>` after it (blanks between, and in
    // a view a line break; the next line of plain output is `next_line::name_given_as_data`'s).
    if s >= 5 && &line[s - 5..s] == b"<key>" && line[e..].starts_with(b"</key>") {
        let (a, b) = plist_string(line, gaps(line, e + 6))?;
        return value(line, s, a, b, strength, &lname, false);
    }
    // GitHub Actions' workflow commands that set a step's output or state:
    // `::set-output name=token::VALUE`, `::save-state name=NAME::VALUE`.
    if line[e..].starts_with(b"::") && line[..s].ends_with(b"name=") {
        let before = &line[line_start(line, s)..s];
        if memchr::memmem::find(before, b"::set-output ").is_some()
            || memchr::memmem::find(before, b"::save-state ").is_some()
        {
            let (a, b) = quoted_or_word(line, e + 2);
            return value(line, s, a, b, strength, &lname, false);
        }
    }
    let xml = s > 0 && line[s - 1] == b'<';
    let mut p = e;
    // Closing quotes of a quoted name, then blanks, then the operator; a subscript's bracket
    // (`os.environ["API_KEY"] = …`, `ENV['SECRET_TOKEN'] = …`).
    while p < line.len() && matches!(line[p], b'"' | b'\'') {
        p += 1;
    }
    // A name in Markdown's bold: `**Password**: …`, `**Admin password**: …`.
    // (`**Username / Password**: …`: the bold opens before the user's name.)
    // (Asked only where `**` follows: every hit of a scanned line comes here.)
    let bold = || logins::bold_label(line, s);
    if p == e && line[p..].starts_with(b"**") && bold() {
        p += 2;
    }
    // A name in a Markdown code span, as Claude writes one: `` `DB_PASSWORD`: … ``, ``I set
    // `DB_PASSWORD` to …``.
    let spanned = p == e && s > 0 && line[s - 1] == b'`' && line.get(p) == Some(&b'`');
    if spanned {
        p += 1;
        // Documentation: a description after it (`` `authorization`: An authorization
        // reference that is used to … ``), a word of letters and more words; and a Markdown
        // link's reference (`` [`TokenStream`]: https://… ``).
        // (Read at most `NAME_REACH` bytes on: every hit of a scanned line asks.)
        // (The span may end the line: nothing after it to read.)
        let v = blanks(line, (p + 1).min(line.len()));
        let reach = line.len().min(v + NAME_REACH);
        let word = line[v..reach]
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .map_or(reach, |n| v + n);
        let words = line[v..reach]
            .iter()
            .take_while(|b| !matches!(b, b'\n' | b'\r'))
            .filter(|&&b| b == b' ')
            .count();
        if line.get(p) == Some(&b']')
            || line.get(p) == Some(&b':') && word > v && line.get(word) == Some(&b' ') && words >= 3
        {
            return None;
        }
    }
    let subscript = p > e && line.get(p) == Some(&b']') && s >= 2 && line[s - 2] == b'[';
    if subscript {
        p += 1;
    }
    // C's array of characters given a string: `char password[] = "…"`, `char key[32] = "…"`.
    if p == e && line.get(p) == Some(&b'[') {
        let close = p
            + 1
            + line[p + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let eq = blanks(line, close + 1);
        if line.get(close) == Some(&b']')
            && line.get(eq) == Some(&b'=')
            && line.get(blanks(line, eq + 1)) == Some(&b'"')
        {
            p = close + 1;
        }
    }
    // PHP's `print_r`: `[password] => …`.
    if p == e && line.get(p) == Some(&b']') && s >= 1 && line[s - 1] == b'[' {
        p += 1;
    }
    // PowerShell's constructor of a credential: `[System.Net.NetworkCredential]::new(USER,
    // "…")`.
    if p > e
        && line[p - 1] == b']'
        && line[p..].starts_with(b"::new(")
        && lname.ends_with(b"credential")
    {
        let (a, b) = calls::pair_second(line, p + 5)?;
        return value(line, s, a, b, Strength::Strong, &lname, false);
    }
    if xml {
        return assigned::element(line, s, p, name, strength, &lname);
    }
    // Blanks, and in a view escaped line breaks: a value may be on the next line there.
    let gaps = |p: usize| gaps(line, p);
    let q = gaps(p);
    let mut op = match line.get(q..q + 2) {
        // Ruby's `||=`, JavaScript's `??=`: a default assigned.
        Some(b"||") | Some(b"??") if line.get(q + 2) == Some(&b'=') => 3,
        Some(b":=") | Some(b"=>") | Some(b"?=") => 2,
        // R's assignment, given a string: `api_key <- "…"`.
        Some(b"<-") if matches!(line.get(gaps(q + 2)), Some(b'"' | b'\'')) => 2,
        _ => match line.get(q) {
            Some(b'=') | Some(b':') => 1,
            _ => 0,
        },
    };
    // A label with a remark in brackets before its colon, as a tool prints a secret it shows
    // once: `API Key (save this, it won't be shown again): …`.
    let mut q = q;
    if op == 0
        && let Some(colon) = text::remark_colon(line, q)
    {
        (q, op) = (colon, 1);
    }
    // A match arm in Rust (`Self::ClientSecret => "client_secret"`, `ServerTrafficSecret =>
    // b"s ap traffic"`): an enum's variant, named in CamelCase or by its path, mapped to its
    // label. (Perl's and PHP's `password => '…'` and Ruby's `:password => …` name a key.)
    if op == 2 && &line[q..q + 2] == b"=>" && code::match_arm(line, s, name) {
        return None;
    }
    // A declaration's type (`let key: AmazonS3ConfigKey = …`): the value is the variable's.
    if op == 1 && line[q] == b'=' && code::declared_type(line, s) {
        return None;
    }
    let named = Named {
        line,
        s,
        e,
        p,
        q,
        strength,
        lname: &lname,
    };
    if op == 0 {
        // FactoryBot's attribute given in Ruby's block: `password { "…" }`.
        if let Some((a, b)) = code::block_literal(line, q) {
            return value(line, s, a, b, strength, &lname, false);
        }
        // A browser test typing into a login form: `page.fill('#password', '…')`.
        if let Some(f) = fills::filled(line, s, e, &lname) {
            return Some(f);
        }
        // SQL's `INSERT INTO users (email, password) VALUES ('…', '…')`.
        if matches!(line.get(q), Some(b',' | b')'))
            && let Some(f) = sql::sql_inserted(line, s, e, strength, &lname)
        {
            return Some(f);
        }
        return unassigned::after_name(named, name, flag);
    }
    assigned::after_operator(named, name, op, subscript)
}

/// Where a name in two words starts when `line[s..e]` is its `Key` (`API Key`, `Access Key`):
/// at the qualifier one blank before it; French's `Mot de passe` at its `Mot`; else `s`.
#[inline]
pub(crate) fn two_word_start(line: &[u8], s: usize, e: usize) -> usize {
    // French's password in three words, `Mot de passe : …`.
    if e - s == 5
        && s >= 7
        && line[s..e].eq_ignore_ascii_case(b"passe")
        && line[s - 7..s].eq_ignore_ascii_case(b"mot de ")
    {
        return s - 7;
    }
    // Every keyword hit passes here: the length and the blank first.
    if e - s != 3 || s < 2 || line[s - 1] != b' ' || !line[s..e].eq_ignore_ascii_case(b"key") {
        return s;
    }
    let mut w = line[..s - 1]
        .iter()
        .rposition(|b| !b.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    // Not the letter of a JSON escape before it (`…\nUnseal Key 1: …` read as it came).
    if w > 0 && line[w - 1] == b'\\' && matches!(line[w], b'n' | b'r' | b't') {
        w += 1;
    }
    if w < s - 1 && names::eq_any(&line[w..s - 1], names::KEY_QUALIFIERS) {
        w
    } else {
        s
    }
}

/// Whether a keyword hit's name is worth a look at its line: a secret's name, or a command that
/// takes a password by its syntax (`sshpass`, `htpasswd`), or `secrets` (a here-string may
/// follow).
pub(crate) fn worth_a_look(name: &[u8]) -> bool {
    classify(name).is_some()
        || names::secret_file(name)
        || names::secret_command(name)
        || names::password_hasher(name)
        || data::host_tokens_name(name)
        || registries::bundler_host_name(name)
        || clients::password_command_name(trim_name(name))
        || registries::registry_auth_key(name).is_some()
        || trim_name(name).eq_ignore_ascii_case(b"secrets")
        || name.eq_ignore_ascii_case(b".pgpass")
}

/// A name without the quotes or dashes around it.
/// GnuPG's commands named for a key, a secret key or a passphrase whose argument is a key's or
/// a user's id, not a secret (`--edit-key ID`, `--export-secret-keys ID`,
/// `--change-passphrase USER-ID`); and `--passwd`, which other tools give a password, after
/// `gpg` or `gpg2` on the line.
fn gpg_id_command(line: &[u8], s: usize, lname: &[u8]) -> bool {
    const COMMANDS: &[&[u8]] = &[
        b"edit-key",
        b"quick-generate-key",
        b"quick-gen-key",
        b"quick-add-key",
        b"export-secret-keys",
        b"export-secret-subkeys",
        b"delete-secret-keys",
        b"delete-secret-and-public-key",
        b"delete-secret-and-public-keys",
        b"generate-revocation",
        b"gen-revoke",
        b"sign-key",
        b"lsign-key",
        b"quick-sign-key",
        b"quick-lsign-key",
        b"change-passphrase",
    ];
    names::eq_any(lname, COMMANDS)
        || lname == b"passwd" && word_before(line, s, |w| w == b"gpg" || w == b"gpg2")
}

/// Whether a shell word before `s` on its line, its directory left out, is one `is` takes:
/// also inside a JSON string (`"command":"gpg …`) and in a Markdown code span (`` `gpg …``).
fn word_before(line: &[u8], s: usize, is: impl Fn(&[u8]) -> bool) -> bool {
    shell::words(&line[line_start(line, s)..s])
        .any(|w| is(shell::program(w.strip_prefix(b"`").unwrap_or(w))))
}

/// A flag whose value is a secret's name in a secrets manager's command: gcloud's `--secret`
/// (`gcloud secrets versions access latest --secret=NAME`), AWS' `--secret-id` after
/// `secretsmanager`.
fn secret_reference(line: &[u8], s: usize, lname: &[u8]) -> bool {
    let tool: &[u8] = match lname {
        b"secret" => b"gcloud",
        b"secret-id" => b"secretsmanager",
        _ => return false,
    };
    word_before(line, s, |w| w == tool)
}

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

fn value_run(line: &[u8], s: usize, v: usize, st: Strength, lname: &[u8]) -> Option<Found> {
    let end = run_end(line, v, None);
    value(line, s, v, end, st, lname, false)
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
    // In quotes, a secret of every printable character keeps its last `)` or `;`.
    let quoted =
        v > 0 && matches!(line[v - 1], b'"' | b'\'') && line.get(end) == Some(&line[v - 1]);
    // Spring Security's password in plain text behind its encoder's id (`"{noop}…"`): the
    // password is what follows the id.
    let v = match line[v..end.min(line.len())].starts_with(b"{noop}") {
        true => v + 6,
        false => v,
    };
    let raw = &line[v..end.min(line.len())];
    let trimmed = if quoted && symbol_salad(raw) {
        raw
    } else {
        trim_value(raw)
    };
    if trimmed.is_empty() || prose && trimmed.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    if (lname == b"pwd" || lname == b"oldpwd") && matches!(trimmed[0], b'/' | b'~') {
        return None; // the shell's working directory
    }
    if exemptions::address_for_auth(lname, trimmed) || exemptions::memory_aid(lname, trimmed) {
        return None; // `--mail-auth user@example.com`, `mnemonic: Every Good Boy …`
    }
    // The name spelled as its value is a label (`SharedSecret => b"shared_secret"`), as is the
    // end of the name (`"Proxy-Authorization" : "Authorization"`).
    if trimmed.len() <= 64 && spelled(trimmed).eq(spelled(lname)) {
        return None;
    }
    if trimmed.len() >= 4
        && trimmed
            .iter()
            .all(|b| b.is_ascii_alphabetic() || *b == b'-')
        && spelled(lname)
            .collect::<Vec<u8>>()
            .ends_with(&spelled(trimmed).collect::<Vec<u8>>())
    {
        return None;
    }
    let typed = type_place(line, s, v, trimmed, quoted);
    if !(values::plausible_in(trimmed, strength, typed) || quoted && symbol_led(trimmed)) {
        return None;
    }
    Some(Found {
        ctx: s,
        start: v,
        end: v + trimmed.len(),
        list: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(line: &str, anchor: &str) -> Option<String> {
        let hit = line.find(anchor).unwrap();
        at(line.as_bytes(), hit).map(|f| line[f.start..f.end].to_string())
    }

    /// SQL's row of values is read at most `COMMAND_REACH` bytes on from its `(`: an unclosed
    /// quote in a line of megabytes was read to the line's end for each name in the column
    /// list. The row's item in reach is found, one past it is not.
    #[test]
    fn an_inserted_row_is_read_a_bounded_way() {
        let row = |filler: usize| {
            format!(
                "INSERT INTO t (note, password) VALUES ('{}', 'Zq8wLmN3pX00vR')",
                "x".repeat(filler)
            )
        };
        assert_eq!(
            found(&row(100), "password").as_deref(),
            Some("Zq8wLmN3pX00vR")
        );
        assert_eq!(found(&row(COMMAND_REACH), "password"), None);
    }

    /// A browser test's typed literal and a value after a remark in brackets are read at most
    /// `COMMAND_REACH` bytes on: an unclosed quote, or a run of megabytes, in a long line was
    /// read to the line's end for each hit. The value in reach is found, one past it is not.
    #[test]
    fn a_typed_literal_and_a_remarks_value_are_read_a_bounded_way() {
        let typed = |n: usize| format!("page.fill('#password', 'Zq8wLmN3{}')", "k7Q".repeat(n / 3));
        assert!(found(&typed(100), "password").is_some());
        assert_eq!(found(&typed(COMMAND_REACH), "password"), None);
        let remark = |n: usize| format!("Token (expires in 1h): Zq8wLmN3{}", "k7Q".repeat(n / 3));
        assert!(found(&remark(100), "Token").is_some());
        assert_eq!(found(&remark(COMMAND_REACH), "Token"), None);
    }

    /// A YAML mapping's name is looked for at most 400 bytes above its key: a line above
    /// indented more whose start lies farther back ends the look (its start was sliced past
    /// the look's floor, a panic the corpora found in a man page).
    #[test]
    fn a_yaml_parent_is_looked_for_a_bounded_way_up() {
        let deep = format!(
            "api:\n    {}\n  key: a8Fk29sLq0ZxY3kd93JdkQ\n",
            "word ".repeat(120)
        );
        let near = "api:\n    url: https://example.com\n  key: a8Fk29sLq0ZxY3kd93JdkQ\n";
        for (text, parent) in [(deep.as_str(), false), (near, true)] {
            let s = text.find("key:").unwrap();
            assert_eq!(parent_qualified(text.as_bytes(), s), parent, "{text}");
        }
    }

    /// A name is read at most [`NAME_REACH`] bytes each way from its hit: a line made of one
    /// name-like run (`passpass…`) was read whole for each of its hits, quadratic. A value after
    /// a long name is still found, its name taken from the bytes nearest the hit.
    #[test]
    fn a_name_is_read_a_bounded_way_from_its_hit() {
        let line = format!("{}_password=Zq8wLmN3pX00vR", "x".repeat(1000));
        let hit = line.find("pass").unwrap();
        let f = at(line.as_bytes(), hit).expect("the value after the name");
        assert_eq!(&line[f.start..f.end], "Zq8wLmN3pX00vR");
        assert!(
            f.ctx >= hit - NAME_REACH,
            "the name read from {} for a hit at {hit}",
            f.ctx
        );
        let run = "pass".repeat(4096);
        assert_eq!(found(&run, "pass"), None);
        let mut memo = crate::redact::prefilter::NameMemo::default();
        let mid = run.len() / 2;
        assert!(!crate::redact::prefilter::keyword_hit(
            run.as_bytes(),
            mid,
            b"pass",
            &mut memo
        ));
    }

    #[test]
    fn the_quick_looks_at_command_names_let_every_listed_name_through() {
        let freerdp = [
            &b"xfreerdp"[..],
            b"wlfreerdp",
            b"sdl-freerdp",
            b"xfreerdp3",
            b"wlfreerdp3",
            b"sdl-freerdp3",
        ];
        for name in clients::PASSWORD_COMMANDS.iter().chain(&freerdp) {
            assert!(clients::password_command_name(name), "{name:?}");
            assert!(clients::password_command_name(&name.to_ascii_uppercase()));
        }
        for name in [
            "input_tokens",
            "password",
            "token",
            "PASSED",
            "curly",
            "sudoku",
        ] {
            assert!(!clients::password_command_name(name.as_bytes()), "{name}");
        }
        for (key, nth) in [
            ("http-basic.repo.example.org", 2),
            ("bitbucket-oauth.bitbucket.org", 2),
            ("bearer.repo.example.org", 1),
            ("GitHub-OAuth.github.com", 1),
            ("gitlab-oauth.gitlab.com", 1),
            ("gitlab-token.gitlab.com", 1),
        ] {
            assert_eq!(
                registries::registry_auth_key(key.as_bytes()),
                Some(nth),
                "{key}"
            );
        }
        for name in ["bearer", "http-basic", "github.com", "gitlab_token"] {
            assert_eq!(
                registries::registry_auth_key(name.as_bytes()),
                None,
                "{name}"
            );
        }
        for name in [
            "--password-command",
            "RESTIC_PASSWORD_COMMAND",
            "BORG_PASSCOMMAND",
        ] {
            assert!(names::secret_command(name.as_bytes()), "{name}");
        }
        for name in ["--command", "token_cmd", "PASSWORD", "BUILD_COMMAND"] {
            assert!(!names::secret_command(name.as_bytes()), "{name}");
        }
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
            "-storepass",
            "keypass",
            "oauth2-bearer",
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
            "credential.helper",
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
        // Numbers joined by two points or more: a version, an address, an object identifier.
        for v in ["10.0.0.123", "1.3.6.1.5.5.7.3.1", "2.14.1"] {
            assert!(!plausible(v.as_bytes(), Strength::Weak), "{v}");
            assert!(plausible(v.as_bytes(), Strength::Strong), "{v}");
        }
        // Not a quantity: letters, nothing on one side, an empty part.
        for v in [
            "10.0.0.12345",
            "5.28abc",
            "12345678.",
            ".12345678",
            "1..2345678",
        ] {
            assert_eq!(
                plausible(v.as_bytes(), Strength::Weak),
                plausible(v.replace('.', "").as_bytes(), Strength::Weak),
                "{v}"
            );
        }
        // A code or a label in capitals and digits, eight bytes at most: a character set, an
        // algorithm, a curve (`('XKB_KEYS', 'LATIN1')`, `JWT_KEY_ALG`'s `HS256`).
        for v in ["LATIN1", "HS256", "SHA256", "UTF8", "X25519", "P256"] {
            assert!(!plausible(v.as_bytes(), Strength::Weak), "{v}");
            assert!(plausible(v.as_bytes(), Strength::Strong), "{v}");
        }
        for v in ["AB12CD34EF", "Ab12cd34", "ab12cd34"] {
            assert!(plausible(v.as_bytes(), Strength::Weak), "{v}");
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
