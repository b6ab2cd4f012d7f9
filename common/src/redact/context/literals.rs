//! The secrets found by a keyword literal of their own rather than by a name: a command's
//! short password flag (`docker login -p …`), the commands and calls each literal stands for
//! (`:thin:`, `mask::`, `PSK `, `snmp`, `-server key`, `-creds`, `y-string`, `kmp key`,
//! `mysql`, `vault login`, `net use`, `jwt.`, `Hmac(`, `login(`, …), and the checks the keyword
//! search asks of some of them before it keeps a line.

use super::{Found, calls, clients, commands, data, devices, registries, tools};

/// The secret the keyword literal at `hit` stands for, when it is one of those that name a
/// command or a call: `Some` with the verdict (a value or none), or `None` when the hit is a
/// name's to be judged as such.
pub(super) fn by_literal(line: &[u8], hit: usize) -> Option<Option<Found>> {
    if clients::short_flag(line, hit).is_some() {
        return Some(clients::short_flag_value(line, hit));
    }
    // A single-dash flag named for a password (`-password VALUE`, `-pwd VALUE`): the search's
    // ` -p` ends its step over the name, whose own literal is then never reported; the name is
    // judged from here.
    if dash_password_name(line, hit) {
        return Some(super::at(line, hit + 2));
    }
    // The commands found by a literal of their own, told apart by its first byte (every hit
    // of a scanned line passes here).
    let rest = &line[hit..];
    match rest.first() {
        // A service's label and its login (`Postgres: postgres / …`).
        Some(b' ') if rest.starts_with(b" / ") => {
            if let Some(f) = super::logins::pair_after_label(line, hit) {
                return Some(Some(f));
            }
        }
        Some(b':') if rest.starts_with(b":thin:") && line[..hit].ends_with(b"oracle") => {
            return Some(tools::oracle_thin(line, hit + 6));
        }
        // A summary's `user / password` after a link (`http://localhost:3000 (admin / …)`).
        Some(b':') if rest.starts_with(b"://") => {
            if let Some(f) = super::logins::pair_after_link(line, hit) {
                return Some(Some(f));
            }
        }
        Some(b'd') if rest.starts_with(b"dle config") && line[..hit].ends_with(b"bun") => {
            return Some(registries::bundle_config(line, hit - 3));
        }
        Some(b'm' | b'M')
            if rest.len() >= 6
                && rest[..6].eq_ignore_ascii_case(b"mask::")
                && hit >= 6
                && line[hit - 6..hit].eq_ignore_ascii_case(b"::add-") =>
        {
            return Some(commands::add_mask(line, hit + 6));
        }
        // A `Login:` label in a summary: `admin / …`.
        Some(b'L') if rest.starts_with(b"Login") => {
            if let Some(f) = super::logins::login_label(line, hit) {
                return Some(Some(f));
            }
        }
        Some(b'P')
            if rest.starts_with(b"PSK ")
                && (line[..hit].ends_with(b": ") || line[..hit].ends_with(b":\t")) =>
        {
            return Some(tools::ipsec_psk(line, hit));
        }
        Some(b's') if rest.starts_with(b"snmp") => {
            if let Some(f) = tools::snmp_community(line, hit) {
                return Some(Some(f));
            }
            // A network device's `snmp-server community VALUE RO`.
            if rest.starts_with(b"snmp-server community ") {
                return Some(devices::config_secret(line, hit));
            }
        }
        // A network device's `tacacs-server key VALUE`, `radius-server key VALUE`.
        Some(b'-') if rest.starts_with(b"-server key ") => {
            return Some(devices::config_secret(line, hit));
        }
        Some(b'-') if rest.starts_with(b"-creds") => {
            if let Some(f) = clients::registry_creds(line, hit) {
                return Some(Some(f));
            }
        }
        // A key chain's ` key-string [TYPE] VALUE`.
        Some(b'y') if rest.starts_with(b"y-string") && line[..hit].ends_with(b"ke") => {
            return Some(devices::config_secret(line, hit));
        }
        // Cisco's `crypto isakmp key VALUE address …`.
        Some(b'k') if rest.starts_with(b"kmp key ") && line[..hit].ends_with(b"isa") => {
            return Some(devices::config_secret(line, hit));
        }
        Some(b'm') if rest.starts_with(b"mysql") || rest.starts_with(b"mariadb") => {
            if let Some(f) = tools::mysql_argv(line, hit) {
                return Some(Some(f));
            }
        }
        Some(b'a') if rest.starts_with(b"admin user add ") => {
            return Some(tools::mc_admin_user_add(line, hit));
        }
        Some(b'v') if rest.starts_with(b"vault login") => {
            return Some(tools::vault_login(line, hit));
        }
        Some(b'u') if rest.starts_with(b"unseal") && line[..hit].ends_with(b"operator ") => {
            return Some(tools::vault_unseal(line, hit));
        }
        Some(b'c') if rest.starts_with(b"c alias ") && hit > 0 && line[hit - 1] == b'm' => {
            return Some(tools::mc_alias_set(line, hit - 1));
        }
        _ => {}
    }
    if let Some((at, args, user)) = tools::net_command(line, hit) {
        return Some(match user {
            true => tools::net_user(line, at, args),
            false => tools::net_use(line, at, args),
        });
    }
    // A signing secret given to a JWT library or an HMAC as a string literal.
    if line[hit..].starts_with(b"jwt.") {
        let Some(p) = line[hit + 4..].iter().position(|&b| b == b'(') else {
            return Some(None);
        };
        let open = hit + 4 + p;
        return Some(match &line[hit + 4..open] {
            b"sign" | b"encode" | b"decode" | b"verify" => calls::signing_key(line, open + 1, 1),
            _ => None,
        });
    }
    if line[hit..].starts_with(b"Hmac(") && line[..hit].ends_with(b"create") {
        return Some(calls::signing_key(line, hit + 5, 1));
    }
    if hit >= 1 && line[hit..].starts_with(b"mac.new(") && line[hit - 1] == b'h' {
        return Some(calls::signing_key(line, hit + 8, 0));
    }
    if line[hit..].starts_with(b"\"kty") {
        return Some(data::private_jwk(line, hit));
    }
    if let Some((args, nth)) = calls::positional_call(line, hit) {
        return Some(calls::password_argument(line, args, nth));
    }
    if line[hit..].starts_with(b"cureString") {
        return Some(commands::secure_string(line, hit));
    }
    if line[hit..].starts_with(b"login(") {
        return Some(calls::login_call(line, hit + 6));
    }
    if line[hit..].starts_with(b"lainText") && hit > 0 {
        return Some(calls::plain_text_secure_string(line, hit - 1));
    }
    None
}

/// Whether the keyword literal at `hit` is in a call that takes a password by its place
/// (`getConnection(URL, USER, "…")`, `pymysql.connect(…)`).
pub(crate) fn positional_call(line: &[u8], hit: usize) -> bool {
    calls::positional_call(line, hit).is_some()
}

/// Whether the short flag at `hit` (` -p `, ` -w `, ` -P `) gives a password by its command's
/// syntax: `docker login -u x -p …` (and `az`, `cf`, `podman` login), a MongoDB client's `-p`,
/// an LDAP client's `-w`, `zip -P`.
pub(crate) fn short_password_flag(line: &[u8], hit: usize) -> bool {
    clients::short_flag(line, hit).is_some()
}

/// Whether the ` -p` at `hit` starts a single-dash flag named for a password (`-password`,
/// `-passwd`, `-pwd`, …), whose name holds a keyword literal the search stepped over.
pub(crate) fn dash_password_name(line: &[u8], hit: usize) -> bool {
    line[hit..].starts_with(b" -p")
        && (line[hit + 2..].starts_with(b"pass") || line[hit + 2..].starts_with(b"pwd"))
}

/// Whether the `-creds` at `hit` ends a container tool's credentials flag (`--creds`,
/// `--src-creds`, `--dest-creds`).
pub(crate) fn creds_flag(line: &[u8], hit: usize) -> Option<usize> {
    clients::creds_flag(line, hit)
}
