//! Names that choose their reader themselves, before any operator after them is read: a
//! command named for a password (`passwd`, `--password-command`), a network device's
//! configuration, a registry's or a host's setting, a file named for a secret that `echo`, a
//! `.pgpass` line or Claude Code's Write tool fills, `Bearer`, `IDENTIFIED BY`; and names that
//! are no secret's here (a file's, an ARN's, a resource type's, a switch's).

use super::exemptions::{in_arn, is_file_name, resource_type};
use super::{
    Found, Named, Strength, authorization, blanks, clients, commands, data, devices, names,
    quoted_or_word, registries, shell, sql, value,
};

/// The verdict for the name `line[s..e]` (`name`, `lname` in lower case; its keyword hit at
/// `hit`; `flag` when it is written as a flag) when the name alone decides how its value is
/// read: `Some` with the verdict (a value or none), `None` when the value is read after an
/// operator as any name's (`super::at`).
pub(super) fn by_name(
    line: &[u8],
    hit: usize,
    s: usize,
    e: usize,
    flag: bool,
    name: &[u8],
    lname: &[u8],
) -> Option<Option<Found>> {
    // A network device's configuration: `username NAME password 0 VALUE`, `enable secret 5
    // VALUE`, `set psksecret VALUE` (asked only for these names: every hit of a matched line
    // comes here, 600,000 a pass of the bench's text).
    if devices::NAMES.contains(&lname)
        && let Some(f) = devices::config_secret(line, hit)
    {
        return Some(Some(f));
    }
    // Windows' printouts: `reg query`'s `DefaultPassword    REG_SZ    VALUE` and `netsh wlan
    // show profile … key=clear`'s `Key Content            : VALUE`, each to the line's end,
    // the name first on its line (both indent it) or in its JSON string.
    let t = blanks(line, e);
    if (line[t..].starts_with(b"REG_") || name == b"Key" && line[e..].starts_with(b" Content"))
        && line[super::line_start(line, s)..s]
            .rsplit(|&b| b == b'"')
            .next()
            .is_some_and(|b| b.iter().all(|&b| b == b' ' || b == b'\t'))
    {
        return windows_value(line, s, e, t, lname);
    }
    // `generate_password_hash('VALUE')`, Go's `GenerateFromPassword([]byte("VALUE"), …)`: a
    // literal, not a variable, given to the call that hashes a password.
    if line.get(e) == Some(&b'(') && names::password_hasher(name) {
        let mut a = blanks(line, e + 1);
        if line[a..].starts_with(b"[]byte(") {
            a += 7;
        }
        let a = super::after_string_prefix(line, a);
        if !matches!(line.get(a), Some(b'"' | b'\'')) {
            return Some(None);
        }
        let (va, vb) = quoted_or_word(line, a);
        return Some(value(line, s, va, vb, Strength::Strong, b"password", false));
    }
    // (hostapd's `wpa_passphrase=VALUE` is the name of a setting, not the command.)
    let assigned = matches!(line.get(blanks(line, e)), Some(b'=' | b':'));
    if clients::password_command_name(lname) && !assigned {
        return Some(clients::password_command(line, s, e, lname));
    }
    if let Some(nth) = registries::registry_auth_key(lname) {
        return Some(registries::registry_auth(line, s, e, nth));
    }
    // Bundler's `BUNDLE_GEMS__EXAMPLE__COM=USER:VALUE`.
    if registries::bundler_host_name(name) {
        return Some(registries::bundler_setting(line, s, e));
    }
    // Composer's `"bearer": {"HOST": "VALUE", …}` (else `Bearer VALUE`, below).
    if data::host_tokens_name(lname)
        && let Some(f) = data::host_tokens(line, s, e)
    {
        return Some(Some(f));
    }
    // `--password-command "echo VALUE"`: the command prints the value.
    if names::secret_command(name) {
        return Some(
            commands::echo_command(line, e)
                .and_then(|(a, b)| value(line, s, a, b, Strength::Strong, lname, false)),
        );
    }
    // Netlify's `env:set --secret NAME VALUE`: a switch, the name after it names the secret.
    if flag && lname == b"secret" && shell::words_before(line, s).ends_with(b"env:set") {
        return Some(None);
    }
    // A hashing tool's salt (`openssl passwd -1 -salt …`, `mkpasswd --salt=…`): printed in
    // the hash it makes, no key.
    if flag && lname == b"salt" {
        return Some(None);
    }
    // Composer's `--auth` is a switch: the key after it names the credential.
    if flag && line.get(e) == Some(&b' ') {
        let (a, b) = quoted_or_word(line, blanks(line, e));
        if registries::registry_auth_key(&line[a..b]).is_some() {
            return Some(None);
        }
    }
    if lname == b".pgpass" || lname == b"pgpass" {
        // (Claude Code's Write tool writing one: its `"content"`, below.)
        return Some(commands::pgpass(line, s).or_else(|| commands::written_file(line, s, e)));
    }
    // `echo VALUE > secrets/db_password.txt`, `printf '%s' VALUE > ~/.vault-token`.
    if let Some(f) = commands::echoed_into_file(line, s, e) {
        return Some(Some(f));
    }
    // Claude Code's Write tool: `"file_path": "/app/secrets/api_key", "content": "VALUE"`.
    if let Some(f) = commands::written_file(line, s, e) {
        return Some(Some(f));
    }
    if lname == b"identified" {
        return Some(sql::identified_by(line, s, e));
    }
    if is_file_name(lname) {
        return Some(None); // `src/auth.rs:42:9`
    }
    if in_arn(line, s) {
        return Some(None); // `arn:aws:secretsmanager:us-east-1:…:secret:prod/db`
    }
    if resource_type(line, s, e) {
        return Some(None); // `"AWS::IAM::AccessKey": "72c2d9dd90025459"`
    }
    if lname == b"bearer" {
        return Some(authorization::bearer(line, s, e));
    }
    // `gcloud secrets create db --data-file=- <<< VALUE`: a list's name, but a here-string's
    // value.
    if lname == b"secrets" {
        let (p, q, strength, lname) = (e, e, Strength::Strong, lname);
        return Some(commands::after_name(Named {
            line,
            s,
            e,
            p,
            q,
            strength,
            lname,
        }));
    }
    None
}

/// See [`by_name`]: the value of a registry entry named for a secret (`NAME    REG_SZ
/// VALUE`, a string's kind: `REG_SZ`, `REG_EXPAND_SZ`, `REG_MULTI_SZ`), or of a Wi-Fi
/// profile's `Key Content` (`t` past the blanks after the name), to the line's end; none for
/// other kinds (`REG_DWORD`), an empty value, or netsh's `Absent`.
fn windows_value(line: &[u8], s: usize, e: usize, t: usize, lname: &[u8]) -> Option<Option<Found>> {
    let (v, strength, lname) = if lname == b"key" {
        let c = blanks(line, e + 8);
        if line.get(c) != Some(&b':') {
            return None;
        }
        (blanks(line, c + 1), Strength::Strong, &b"password"[..])
    } else {
        let kind = [&b"REG_SZ"[..], b"REG_EXPAND_SZ", b"REG_MULTI_SZ"]
            .into_iter()
            .find(|k| {
                line[t..].starts_with(k) && matches!(line.get(t + k.len()), Some(b' ' | b'\t'))
            });
        let Some(kind) = kind else {
            return Some(None);
        };
        (
            blanks(line, t + kind.len()),
            names::classify(&line[s..e])?,
            lname,
        )
    };
    let end = line[v..]
        .iter()
        .position(|&b| matches!(b, b'\n' | b'\r' | b'"'))
        .map_or(line.len(), |n| v + n);
    let end = v + line[v..end].trim_ascii_end().len();
    if end == v || &line[v..end] == b"Absent" {
        return Some(None);
    }
    Some(value(line, s, v, end, strength, lname, false))
}
