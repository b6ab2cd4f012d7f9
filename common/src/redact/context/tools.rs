//! Tools whose own grammar places a secret among their words: Oracle's `USER/VALUE@DB` (its
//! `sqlplus` login and JDBC URL), Vault's `login TOKEN` and `operator unseal KEY`, MinIO's `mc
//! alias set` and `mc admin user add`, Net-SNMP's community, strongSwan's `: PSK "VALUE"`,
//! Windows' `net user` and `net use`, and MySQL's `-pVALUE` in an argument vector.

use super::names::Strength;
use super::shell::{
    command_end, command_start, echoed, program, starts_command_word, words, words_at,
};
use super::{Found, blanks, line_start, quoted_or_word, value};

/// Oracle's `USER/VALUE[@DB]` in the word at `w..end` (`sqlplus`'s login, a JDBC URL's after
/// `jdbc:oracle:thin:`): the password between the slash and the last `@` (a password may hold
/// one), the word ending at a quote (a JSON string's end). None for `/` alone (the operating
/// system's login) or `@DB` alone.
pub(super) fn oracle_login(line: &[u8], w: usize, end: usize) -> Option<Found> {
    let end = line[w..end]
        .iter()
        .position(|b| matches!(b, b'"' | b'\'' | b'\\'))
        .map_or(end, |q| w + q);
    let slash = w + line[w..end]
        .iter()
        .take_while(|&&b| b != b'@')
        .position(|&b| b == b'/')?;
    if slash == w {
        return None;
    }
    let close = line[slash + 1..end]
        .iter()
        .rposition(|&b| b == b'@')
        .map_or(end, |p| slash + 1 + p);
    value(
        line,
        w,
        slash + 1,
        close,
        Strength::Strong,
        b"password",
        false,
    )
}

/// A JDBC URL's login after `jdbc:oracle:thin:` (`at` just past it): `USER/VALUE@HOST…`.
pub(super) fn oracle_thin(line: &[u8], at: usize) -> Option<Found> {
    let end = at
        + line[at..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || matches!(b, b';' | b',' | b')' | b'<' | b'>'))
            .unwrap_or(line.len() - at);
    oracle_login(line, at, end)
}

/// `vault login [flags] TOKEN`, `hit` at `vault login`: the first argument that is neither a
/// flag, a flag's value, an auth method's `key=value` nor `-` (standard input). Vault's
/// flags take a value (`-address URL`, `-method=…`) but for `-no-print` and `-no-store`.
/// Judged as after a weak name: a token is random, and `vault login yourself` is prose.
pub(super) fn vault_login(line: &[u8], hit: usize) -> Option<Found> {
    if !starts_command_word(line, hit) || !matches!(line.get(hit + 11), Some(b' ' | b'\t')) {
        return None;
    }
    let Some((a, b)) = vault_argument(line, hit + 11, &[b"-no-print", b"-no-store"], &[b"-"])
    else {
        // `echo TOKEN | vault login -`: the token read from standard input.
        let (a, b) = echoed(line, hit)?;
        return value(line, a, a, b, Strength::Weak, b"token", false);
    };
    if line[a..b].contains(&b'=') {
        return None; // `username=…`: another auth method's fields
    }
    let (va, vb) = quoted_or_word(line, a);
    value(line, hit, va, vb.min(b), Strength::Weak, b"token", false)
}

/// The first word of a Vault command's arguments from `from` that is neither a flag nor a
/// flag's value (Vault's flags take one, after a blank or `=`, but for those of `bare`); `None`
/// at a flag of `refuse` or when there is none.
fn vault_argument(
    line: &[u8],
    from: usize,
    bare: &[&[u8]],
    refuse: &[&[u8]],
) -> Option<(usize, usize)> {
    let mut args = words_at(line, from, command_end(line, from));
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if !w.starts_with(b"-") {
            return Some((a, b));
        }
        if refuse.contains(&w) {
            return None;
        }
        if !w.contains(&b'=') && !bare.contains(&w) {
            args.next(); // the flag's value
        }
    }
    None
}

/// Vault's (and OpenBao's) `operator unseal [flags] KEY`, `hit` at `unseal`: the first argument
/// that is neither a flag nor a flag's value (`-migrate` takes none; with `-reset`, or with no
/// key, Vault asks for one or forgets the progress). Judged as after a weak name: a key share
/// is random, and `vault operator unseal first` would be prose.
pub(super) fn vault_unseal(line: &[u8], hit: usize) -> Option<Found> {
    let operator = hit.checked_sub("operator ".len())?;
    let before = words(line[line_start(line, operator)..operator].trim_ascii_end()).next_back()?;
    if !matches!(program(before), b"vault" | b"bao")
        || !matches!(line.get(hit + 6), Some(b' ' | b'\t'))
    {
        return None;
    }
    let refuse: &[&[u8]] = &[b"-", b"-reset", b"--reset"];
    let (a, b) = vault_argument(line, hit + 6, &[b"-migrate", b"--migrate"], refuse)?;
    let (va, vb) = quoted_or_word(line, a);
    value(line, hit, va, vb.min(b), Strength::Weak, b"key", false)
}

/// MinIO's `mc alias set NAME URL ACCESS SECRET [--api S3v4]`, `at` at `mc`: the secret key,
/// the fourth word after `set` that is not a flag or a flag's value, judged as after a weak
/// name (MinIO's keys are random; `minioadmin` is its default).
pub(super) fn mc_alias_set(line: &[u8], at: usize) -> Option<Found> {
    if !starts_command_word(line, at) {
        return None;
    }
    let end = command_end(line, at);
    let mut args = words_at(line, at + 8, end);
    if args.next().map(|(a, b)| &line[a..b]) != Some(b"set") {
        return None;
    }
    let mut positional = 0;
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if w.starts_with(b"--") {
            if !w.contains(&b'=') {
                args.next();
            }
            continue;
        }
        positional += 1;
        if positional == 4 {
            let (va, vb) = quoted_or_word(line, a);
            return value(line, at, va, vb.min(b), Strength::Weak, b"secret", false);
        }
    }
    None
}

/// Net-SNMP's community, `-c VALUE` or `-cVALUE` given to one of its tools (`snmpwalk`,
/// `snmpget`, `snmpset`, `snmpbulkwalk`, `snmptable`, …; not the agents `snmpd` and
/// `snmptrapd`, whose `-c` names a configuration file), `hit` at the program's word. Judged as
/// after a weak name: the defaults `public` and `private` are no secret.
pub(super) fn snmp_community(line: &[u8], hit: usize) -> Option<Found> {
    let path = hit > 0 && matches!(line[hit - 1], b'/' | b'\\');
    if !(path || starts_command_word(line, hit)) {
        return None;
    }
    let end = command_end(line, hit);
    let mut ws = words_at(line, hit, end);
    let (_, b) = ws.next()?;
    if matches!(&line[hit..b], b"snmpd" | b"snmptrapd") {
        return None;
    }
    while let Some((a, b)) = ws.next() {
        let v = match &line[a..b] {
            b"-c" => ws.next()?.0,
            w if w.starts_with(b"-c") => a + 2,
            _ => continue,
        };
        let (va, vb) = quoted_or_word(line, v);
        return value(line, hit, va, vb, Strength::Weak, b"community", false);
    }
    None
}

/// strongSwan's and Libreswan's `ipsec.secrets`, `SELECTORS : PSK "VALUE"`, `hit` at `PSK `: a
/// quoted value is the secret the syntax says it is; an unquoted one (`PSK 0sBASE64`) is
/// judged as after a weak name, since prose puts words there too (`method: PSK only`).
pub(super) fn ipsec_psk(line: &[u8], hit: usize) -> Option<Found> {
    let v = blanks(line, hit + 4);
    let quoted = matches!(line.get(v), Some(b'"' | b'\''));
    let (a, b) = quoted_or_word(line, v);
    let strength = if quoted {
        Strength::Strong
    } else {
        Strength::Weak
    };
    value(line, hit, a, b, strength, b"psk", false)
}

/// MinIO's `mc [FLAGS] admin user add ALIAS USER VALUE`, `hit` at `admin user add `: the third
/// argument that is not a flag, judged as after a weak name (as `mc alias set`'s). The program's
/// word is `mc` (a path to it too), its flags before `admin` (`--insecure`) passed over.
pub(super) fn mc_admin_user_add(line: &[u8], hit: usize) -> Option<Found> {
    if hit == 0 || !matches!(line[hit - 1], b' ' | b'\t') {
        return None;
    }
    // Back over the program's flags (`--insecure`, `--config-dir=DIR`; not a flag's value given
    // apart, `--config-dir DIR`) to its word.
    let mut words = words_at(line, command_start(line, hit), hit).collect::<Vec<_>>();
    while words.last().is_some_and(|&(a, _)| line[a] == b'-') {
        words.pop();
    }
    let &(a, b) = words.last()?;
    if program(&line[a..b]) != b"mc" || !starts_command_word(line, a) {
        return None;
    }
    let end = command_end(line, hit);
    let mut positional = 0;
    for (a, b) in words_at(line, hit + 15, end) {
        if line[a] == b'-' {
            continue; // `--insecure`, `--json`: none of `user add`'s flags takes a value
        }
        positional += 1;
        if positional == 3 {
            let (va, vb) = quoted_or_word(line, a);
            return value(line, hit, va, vb.min(b), Strength::Weak, b"secret", false);
        }
    }
    None
}

/// Windows' `net use` or `net user` around the keyword hit at `hit` (`net use`, `NET USE` or
/// `.exe use`): where the program's word starts, where its arguments start, and whether it is
/// `net user`. Windows reads commands in any case, and `net.exe` is the same program; the
/// program's word starts a command (`internet use …` and `planet user …` are prose), or
/// follows a path's separator (`C:\Tools\net.exe`, `/mnt/c/Windows/System32/net.exe`). In a
/// raw line `C:\Windows\System32\net.exe` is not found: its `\n` reads as an escaped line break.
pub(super) fn net_command(line: &[u8], hit: usize) -> Option<(usize, usize, bool)> {
    let ci = |at: usize, w: &[u8]| {
        line.get(at..at + w.len())
            .is_some_and(|x| x.eq_ignore_ascii_case(w))
    };
    let at = if ci(hit, b"net") {
        hit
    } else {
        let at = hit.checked_sub(3)?;
        ci(at, b"net.exe").then_some(at)?
    };
    let sub = at + if ci(at, b"net.exe") { 7 } else { 3 };
    if line.get(sub) != Some(&b' ') || !ci(sub + 1, b"use") {
        return None;
    }
    let user = matches!(line.get(sub + 4), Some(b'r' | b'R'));
    let args = sub + 4 + usize::from(user);
    let path = at > 0 && matches!(line[at - 1], b'\\' | b'/');
    let ends = matches!(line.get(args), None | Some(b' ' | b'\t' | b'"' | b'\''));
    ((starts_command_word(line, at) || path) && ends).then_some((at, args, user))
}

/// Windows' `net use [DEVICE] \\HOST\SHARE VALUE [/user:USER]`, `at` at the program's word,
/// `args` where its arguments start (see [`net_command`]): the first word after the share that
/// is not an option (`/user:…`, `/persistent:no`), unless it asks for the password (`*`).
/// Judged as after a weak name: `net use Z: \\fs\public persistent` in prose gives no
/// password.
pub(super) fn net_use(line: &[u8], at: usize, args: usize) -> Option<Found> {
    let end = command_end(line, at);
    let mut ws = words_at(line, args, end);
    let mut share = ws.next()?;
    // A drive letter or `*` first.
    if !line[share.0..].starts_with(b"\\\\") {
        share = ws.next()?;
    }
    if !line[share.0..].starts_with(b"\\\\") {
        return None;
    }
    let (a, _) = ws.find(|&(a, _)| line[a] != b'/')?;
    if line[a] == b'*' {
        return None;
    }
    let (a, b) = quoted_or_word(line, a);
    value(line, at, a, b, Strength::Weak, b"password", false)
}

/// Windows' `net user NAME VALUE [/add]`, `at` and `args` as for [`net_use`]: the word after
/// the name, unless it asks for the password (`*`) or is an option (`/active:no`).
pub(super) fn net_user(line: &[u8], at: usize, args: usize) -> Option<Found> {
    let end = command_end(line, at);
    let name_at = blanks(&line[..end], args);
    let (_, name_end) = quoted_or_word(line, name_at);
    let v = blanks(
        &line[..end],
        name_end + usize::from(matches!(line.get(name_at), Some(b'"' | b'\''))),
    );
    if v >= end || name_at == v || matches!(line[v], b'/' | b'*') {
        return None;
    }
    let (a, b) = quoted_or_word(line, v);
    value(line, at, a, b, Strength::Strong, b"password", false)
}

/// MySQL's and MariaDB's glued `-pVALUE` as an element of an argument vector (`["mysql",
/// "-uroot", "-pVALUE"]` in a container's `command`, `subprocess.run(['mysql', …])`), `hit` at
/// the program's name inside its quoted element. (`-p` apart from a value asks for the
/// password; the word after it is a database's name.)
pub(super) fn mysql_argv(line: &[u8], hit: usize) -> Option<Found> {
    // The element's opening quote, before the program's directory if it has one.
    let open = hit
        - line[..hit]
            .iter()
            .rev()
            .take_while(|&&b| b == b'/' || b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
            .count();
    let quote = *line.get(open.checked_sub(1)?)?;
    let before = line[..open - 1].trim_ascii_end();
    if !matches!(quote, b'"' | b'\'') || !(before.ends_with(b"[") || before.ends_with(b",")) {
        return None;
    }
    let close = open + memchr::memchr(quote, &line[open..])?;
    let name = program(&line[open..close]);
    if !(name.starts_with(b"mysql") || name.starts_with(b"mariadb"))
        || matches!(name, b"mysqld" | b"mariadbd")
    {
        return None;
    }
    // The vector's other elements, up to its `]` (a bounded look).
    let reach = &line[close..line.len().min(close + super::COMMAND_REACH)];
    let end = close + memchr::memchr(b']', reach)?;
    let mut at = close + 1;
    while let Some(p) = memchr::memchr(quote, &line[at..end]) {
        let a = at + p + 1;
        let b = a + memchr::memchr(quote, &line[a..end])?;
        if line[a..b].starts_with(b"-p") && b > a + 2 {
            return value(line, hit, a + 2, b, Strength::Strong, b"password", false);
        }
        at = b + 1;
    }
    None
}
