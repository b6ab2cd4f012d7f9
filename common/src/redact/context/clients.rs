//! Programs whose own syntax marks a password among their arguments: the password commands
//! (`sshpass -p VALUE`, `htpasswd -b FILE USER VALUE`, `curl -u USER:VALUE`, FreeRDP's `/p:`),
//! a client's `USER:VALUE` credentials and a short flag after the client that takes it (`docker
//! login -p VALUE`, `ldapsearch -w VALUE`, an archiver's glued `-pVALUE`). The tools that place
//! a secret by their own grammar (Oracle's logins, Vault, MinIO, Windows' `net`, …) are in
//! `tools.rs`.

use super::names::{Strength, eq_any};
use super::shell::{
    command_end, command_start, echoed, flag_argument, program, starts_command_word,
    substitution_end, words, words_at,
};
use super::tools::oracle_login;
use super::{Found, blanks, quoted_or_word, value};

/// Commands whose name alone marks a password among their arguments; the keyword search finds
/// them by the `pass` in their names, `rabbitmqctl` by its literal `mqctl`, the others by their
/// own.
pub(super) const PASSWORD_COMMANDS: &[&[u8]] = &[
    b"sshpass",
    b"htpasswd",
    b"chpasswd",
    b"rabbitmqctl",
    b"curl",
    b"etcdctl",
    b"smbclient",
    b"ssh-keygen",
    b"openssl",
    b"wpa_passphrase",
    b"sudo",
    b"sqlplus",
    // FreeRDP's clients (`xfreerdp`, `wlfreerdp`, `sdl-freerdp`, each also with a `3`) are
    // told by their ending ([`password_command_name`]), found by the literal `reerdp`.
    // `nuget setapikey VALUE`, found by `pikey`.
    b"setapikey",
    // `vncpasswd -f <<< VALUE`, `echo VALUE | vncpasswd -f`, found by `assw`.
    b"vncpasswd",
    b"tigervncpasswd",
    // OpenLDAP's `ldappasswd -s NEW`, `-a OLD`, found by `assw`.
    b"ldappasswd",
    // `mkpasswd [-m METHOD] VALUE [SALT]` (it prints the hash), found by `pass`.
    b"mkpasswd",
    // Mosquitto's `mosquitto_passwd -b FILE USER VALUE`, as `htpasswd -b`.
    b"mosquitto_passwd",
];

/// Whether `name` (in any case) is one of [`PASSWORD_COMMANDS`] or a FreeRDP client.
pub(super) fn password_command_name(name: &[u8]) -> bool {
    // Every keyword hit of a scanned line asks: its length and first letter first
    // (`input_tokens`, `password`, `token` are turned away there; a test keeps these in step
    // with the list).
    const LENGTHS: u32 =
        1 << 4 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 14 | 1 << 16;
    let first = name.first().map_or(0, u8::to_ascii_lowercase);
    if name.len() >= 32 || LENGTHS >> name.len() & 1 == 0 || !b"cehlmorstvwx".contains(&first) {
        return false;
    }
    let ends = |suffix: &[u8]| {
        name.len() > suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    eq_any(name, PASSWORD_COMMANDS) || ends(b"freerdp") || ends(b"freerdp3")
}

/// The next passphrase of `ssh-keygen`, given its first as `f` (`ssh-keygen -p -P OLD -N NEW`:
/// one keyword hit, two values).
pub(crate) fn next_password_flag(line: &[u8], f: &Found) -> Option<Found> {
    // Only a value after one of its flags leads to the command (looked for no further).
    let before = &line[..f.start];
    let before = before
        .strip_suffix(b"'")
        .or(before.strip_suffix(b"\""))
        .unwrap_or(before);
    let flag = before.len() >= 4 && {
        let w = &before[before.len() - 4..];
        matches!(w[0], b' ' | b'\t')
            && w[1] == b'-'
            && matches!(w[2], b'N' | b'P' | b'a' | b's')
            && matches!(w[3], b' ' | b'\t')
    };
    if !flag {
        return None;
    }
    // `ssh-keygen -P OLD -N NEW`, `ldappasswd -a OLD -s NEW`.
    let start = command_start(line, f.start);
    let (flags, name): (&[&[u8]], &[u8]) = match before[before.len() - 2] {
        b'N' | b'P' if words(&line[start..f.start]).any(|w| w.ends_with(b"ssh-keygen")) => {
            (&[b"-N", b"-P"], b"ssh-keygen")
        }
        b'a' | b's' if words(&line[start..f.start]).any(|w| program(w) == b"ldappasswd") => {
            (&[b"-a", b"-s"], b"password")
        }
        _ => return None,
    };
    // Past the first value's closing quote, if it had one.
    let from = f.end + usize::from(matches!(line.get(f.end), Some(b'"' | b'\'')));
    let end = substitution_end(line, start, command_end(line, from));
    let args: Vec<(usize, usize)> = words_at(line, from, end).collect();
    let v = flag_argument(&args, &|(a, b)| &line[a..b], flags)?;
    let (a, b) = quoted_or_word(line, v.0);
    value(line, a, a, b, Strength::Strong, name, false)
}

/// Archivers whose `-pVALUE` (glued, as they take it) is the archive's password.
fn archiver(w: &[u8]) -> bool {
    matches!(
        program(w),
        b"7z" | b"7za" | b"7zz" | b"7zr" | b"unrar" | b"rar"
    )
}

/// A password among the arguments of a command that takes one by its syntax (see
/// [`PASSWORD_COMMANDS`]): `sshpass -p VALUE …`, `htpasswd -b[n] [FILE] USER VALUE`, `echo
/// 'USER:VALUE' | chpasswd` (or `chpasswd <<< 'USER:VALUE'`).
pub(super) fn password_command(line: &[u8], s: usize, e: usize, lname: &[u8]) -> Option<Found> {
    let cmd_end = substitution_end(line, s, command_end(line, e));
    let args: Vec<(usize, usize)> = words_at(line, e, cmd_end).collect();
    let word = |(a, b): (usize, usize)| &line[a..b];
    match lname {
        b"sshpass" => {
            let i = args.iter().position(|&a| word(a).starts_with(b"-p"))?;
            let (a, b) = args[i];
            let (va, vb) = if b - a > 2 {
                (a + 2, b)
            } else {
                *args.get(i + 1)?
            };
            value(line, s, va, vb, Strength::Strong, lname, false)
        }
        b"htpasswd" | b"mosquitto_passwd" => {
            let flags: Vec<u8> = args
                .iter()
                .take_while(|&&a| word(a).starts_with(b"-"))
                .flat_map(|&a| word(a)[1..].to_vec())
                .collect();
            if !flags.contains(&b'b') {
                return None; // the password is asked for, not given
            }
            let nflags = args
                .iter()
                .take_while(|&&a| word(a).starts_with(b"-"))
                .count();
            let positional = if flags.contains(&b'n') { 2 } else { 3 };
            let &(va, _) = args.get(nflags + positional - 1)?;
            let (va, vb) = quoted_or_word(line, va);
            value(line, s, va, vb, Strength::Strong, lname, false)
        }
        b"rabbitmqctl" => {
            // `rabbitmqctl add_user NAME VALUE`, `change_password NAME VALUE`,
            // `authenticate_user NAME VALUE`.
            let sub = args.iter().position(|&a| {
                matches!(
                    word(a),
                    b"add_user" | b"change_password" | b"authenticate_user"
                )
            })?;
            let (va, vb) = *args.get(sub + 2)?;
            value(line, s, va, vb, Strength::Strong, lname, false)
        }
        b"mkpasswd" => {
            // `mkpasswd [-m METHOD] [-S SALT] [-R ROUNDS] VALUE [SALT]`: the first word that is
            // neither a flag nor a flag's value (`-s`, `--stdin` read it from standard input).
            let mut i = 0;
            while let Some(&w) = args.get(i) {
                let w = word(w);
                if matches!(w, b"-s" | b"--stdin") {
                    return None;
                }
                if !w.starts_with(b"-") {
                    break;
                }
                // A flag given its value apart: `-m sha-512`, `--salt SALT`.
                i += if matches!(
                    w,
                    b"-m"
                        | b"-S"
                        | b"-R"
                        | b"-P"
                        | b"--method"
                        | b"--salt"
                        | b"--rounds"
                        | b"--password-fd"
                ) {
                    2
                } else {
                    1
                };
            }
            let &(a, end) = args.get(i)?;
            let (a, b) = quoted_or_word(line, a);
            value(line, s, a, b.min(end), Strength::Strong, b"password", false)
        }
        b"chpasswd" => {
            // `echo 'user:VALUE' | chpasswd`, `chpasswd <<< 'user:VALUE'`.
            let (a, b) = match memchr::memmem::find(&line[e..cmd_end], b"<<<") {
                Some(h) => quoted_or_word(line, blanks(&line[..cmd_end], e + h + 3)),
                None => echoed(line, s)?,
            };
            let colon = a + line[a..b].iter().position(|&c| c == b':')?;
            value(line, a, colon + 1, b, Strength::Strong, lname, false)
        }
        b"smbclient" => {
            // `smbclient //srv/share -U USER%VALUE`, `--user=USER%VALUE`.
            let v = flag_argument(&args, &word, &[b"-U", b"--user"])?;
            let (a, b) = quoted_or_word(line, v.0);
            let pc = a + line[a..b].iter().position(|&c| c == b'%')?;
            value(line, a, pc + 1, b, Strength::Strong, lname, false)
        }
        b"ssh-keygen" => {
            // `ssh-keygen -N NEW`, `-P OLD`: passphrases. `-N ''` or `-P ''` is none, and the
            // other flag may still give one (`-p -P '' -N NEW` adds a passphrase to a key).
            (0..args.len().saturating_sub(1))
                .filter(|&i| matches!(word(args[i]), b"-N" | b"-P"))
                .find_map(|i| {
                    let (a, b) = quoted_or_word(line, args[i + 1].0);
                    value(line, a, a, b, Strength::Strong, lname, false)
                })
        }
        b"openssl" => {
            // `echo VALUE | openssl enc … -pass stdin` (`-passin`, `-passout`), `… | openssl
            // passwd -stdin`: the password piped in.
            let passwd = args.first().is_some_and(|&a| word(a) == b"passwd");
            if args.windows(2).any(|w| {
                matches!(word(w[0]), b"-pass" | b"-passin" | b"-passout") && word(w[1]) == b"stdin"
            }) || passwd && args.iter().any(|&a| word(a) == b"-stdin")
            {
                let (a, b) = echoed(line, s)?;
                return value(line, a, a, b, Strength::Strong, lname, false);
            }
            // `openssl enc … -k VALUE` (the passphrase), `openssl passwd [-6] [-salt S] VALUE`.
            let (a, b) = if passwd {
                // The last word, unless the password comes from a file or standard input.
                if args.len() < 2
                    || args.iter().any(|&a| {
                        matches!(word(a), b"-stdin" | b"-in") || word(a).starts_with(b"<")
                    })
                {
                    return None;
                }
                let last = args[args.len() - 1];
                if word(last).starts_with(b"-") || word(args[args.len() - 2]) == b"-salt" {
                    return None;
                }
                let (a, b) = quoted_or_word(line, last.0);
                // (Up to the word's end: a substitution's `)` may come right after it.)
                let b = b.min(last.1);
                // The whole word (a JSON string's end after it is no password's).
                if !(b == last.1 || b + 1 == last.1 && matches!(line[b], b'"' | b'\'')) {
                    return None;
                }
                (a, b)
            } else {
                let v = flag_argument(&args, &word, &[b"-k"])?;
                quoted_or_word(line, v.0)
            };
            value(line, a, a, b, Strength::Strong, lname, false)
        }
        // `ldappasswd … -s NEW` or `-a OLD` (`-S`, `-A` ask; `-w`, the bind password, is the
        // short flags' reader's); the other of the two, when both are given, is
        // [`next_password_flag`]'s.
        b"ldappasswd" => {
            let v = flag_argument(&args, &word, &[b"-s", b"-a"])?;
            let (a, b) = quoted_or_word(line, v.0);
            value(line, a, a, b, Strength::Strong, b"password", false)
        }
        b"sudo" | b"vncpasswd" | b"tigervncpasswd" => {
            // `echo VALUE | sudo -S …`, `sudo -S <<< VALUE …`: `-S` reads the password from
            // standard input, as `vncpasswd -f` does.
            let flag: &[u8] = if lname == b"sudo" { b"-S" } else { b"-f" };
            if !args.iter().any(|&a| word(a) == flag) {
                return None;
            }
            if let Some(h) = memchr::memmem::find(&line[e..cmd_end], b"<<<") {
                let (a, b) = quoted_or_word(line, blanks(&line[..cmd_end], e + h + 3));
                return value(line, s, a, b, Strength::Strong, b"password", false);
            }
            let (a, b) = echoed(line, s)?;
            value(line, a, a, b, Strength::Strong, b"password", false)
        }
        b"sqlplus" => {
            // Oracle's `sqlplus [-s] USER/VALUE[@DB]`: the first word that is not a flag.
            let &(w, end) = args.iter().find(|&&a| !word(a).starts_with(b"-"))?;
            oracle_login(line, w, end)
        }
        b"setapikey" => {
            // `nuget setapikey VALUE [-Source URL]`.
            let &(a, _) = args.first()?;
            let (a, b) = quoted_or_word(line, a);
            if b <= a || line[a] == b'-' {
                return None;
            }
            value(
                line,
                s,
                a,
                b.min(args[0].1),
                Strength::Strong,
                b"apikey",
                false,
            )
        }
        _ if lname.ends_with(b"freerdp") || lname.ends_with(b"freerdp3") => {
            // FreeRDP's `/p:VALUE` (quoted or not; `/p:` alone asks for it).
            let &(a, _) = args.iter().find(|&&a| word(a).starts_with(b"/p:"))?;
            let (va, vb) = quoted_or_word(line, a + 3);
            if vb <= va {
                return None;
            }
            value(line, s, va, vb, Strength::Strong, b"password", false)
        }
        b"wpa_passphrase" => {
            // `wpa_passphrase SSID VALUE` (without it, the passphrase is read from stdin).
            let &(a, b) = args.get(1)?;
            if word((a, b)).starts_with(b"<") {
                return None;
            }
            let (a, b) = quoted_or_word(line, a);
            value(line, a, a, b, Strength::Strong, lname, false)
        }
        b"curl" => {
            // `curl -b "sessionid=VALUE"`, `--cookie 'theme=dark; _app_session=VALUE'`: a
            // session cookie, as in a `Cookie` header (`config/redaction.rules`).
            if let Some(v) = flag_argument(&args, &word, &[b"-b", b"--cookie"])
                && let Some(f) = session_cookie(line, v.0)
            {
                return Some(f);
            }
            // `curl -u USER:VALUE`, `--user[=]USER:VALUE`, the proxy's `-U`/`--proxy-user`:
            // the password after the first colon (without one curl asks for it).
            user_password(
                line,
                &args,
                &[b"-u", b"--user", b"-U", b"--proxy-user"],
                lname,
            )
        }
        // `etcdctl --user[=]USER:VALUE` (without a colon, etcdctl asks for it).
        b"etcdctl" => user_password(line, &args, &[b"--user"], lname),
        _ => None,
    }
}

/// The password of a client's `USER:VALUE` argument to one of `flags` (given after a blank or
/// an `=`): the bytes after the first colon. Or the user, where it is a token and the password
/// is empty or a placeholder `x` (an API key as the user: `curl -u KEY:`, `-u KEY:X`).
fn user_password(
    line: &[u8],
    args: &[(usize, usize)],
    flags: &[&[u8]],
    lname: &[u8],
) -> Option<Found> {
    let word = |(a, b): (usize, usize)| &line[a..b];
    let v = flag_argument(args, &word, flags)?;
    let (a, b) = quoted_or_word(line, v.0);
    let colon = a + line[a..b].iter().position(|&c| c == b':')?;
    if matches!(&line[colon + 1..b], b"" | b"x" | b"X") && super::token_as_user(&line[a..colon]) {
        return value(line, a, a, colon, Strength::Strong, lname, false);
    }
    value(line, a, colon + 1, b, Strength::Strong, lname, false)
}

/// Where the flag holding the `-creds` at `hit` starts: `--creds`, `--src-creds`,
/// `--dest-creds` (skopeo, podman, buildah), a word of its own.
pub(super) fn creds_flag(line: &[u8], hit: usize) -> Option<usize> {
    let before = &line[..hit];
    let prefix = [&b"-"[..], b"--src", b"--dest"]
        .into_iter()
        .find(|p| before.ends_with(p))?;
    // The flag's first dash: a word's start before it.
    let dash = hit - prefix.len();
    (line.get(dash) == Some(&b'-') && starts_command_word(line, dash)).then_some(dash)
}

/// A container tool's `--creds USER:VALUE` (`--creds=…`, `--src-creds`, `--dest-creds`), `hit`
/// at `-creds`: the password after the first colon (without one the tool asks for it).
pub(super) fn registry_creds(line: &[u8], hit: usize) -> Option<Found> {
    let dash = creds_flag(line, hit)?;
    let args: Vec<(usize, usize)> = words_at(line, dash, command_end(line, dash)).collect();
    user_password(
        line,
        &args,
        &[b"--creds", b"--src-creds", b"--dest-creds"],
        b"creds",
    )
}

/// Whether a cookie's name, in lower case, is a session's (the list of
/// `rules::SESSION_COOKIE`): one that ends in `sess`, `session` or `sid`, or in `sess` or
/// `session` and an id, a token or a key (`_session_id`, `next-auth.session-token`), or an
/// ASP.NET or WordPress sign-in cookie.
fn session_cookie_name(name: &[u8]) -> bool {
    let base = [&b"id"[..], b"token", b"key"]
        .iter()
        .find_map(|s| name.strip_suffix(*s))
        .map_or(name, |b| match b.last() {
            Some(b'_' | b'-' | b'.') => &b[..b.len() - 1],
            _ => b,
        });
    base.ends_with(b"sess")
        || base.ends_with(b"session")
        || name.ends_with(b"sid")
        || name == b".aspxauth"
        || name.starts_with(b".aspnetcore.")
        || name.starts_with(b"wordpress_logged_in_")
        || name.starts_with(b"wordpress_sec_")
}

/// The first session cookie's value in the cookie string at `at` (`name=value; name=value`,
/// quoted or not): a cookie whose name is a session's ([`session_cookie_name`]), its value 8
/// bytes or more.
fn session_cookie(line: &[u8], at: usize) -> Option<Found> {
    let (a, b) = quoted_or_word(line, at);
    let mut from = a;
    for pair in line[a..b].split(|&c| c == b';') {
        let start = from;
        from += pair.len() + 1;
        let Some(eq) = pair.iter().position(|&c| c == b'=') else {
            continue;
        };
        let session = session_cookie_name(&pair[..eq].trim_ascii().to_ascii_lowercase());
        let v = start + eq + 1;
        let end = start + pair.len();
        if session && end - v >= 8 {
            return value(line, v, v, end, Strength::Strong, b"session", false);
        }
    }
    None
}

/// The short flag at `hit` (` -p `, ` -w `, ` -P `, ` -a `, ` -A `, ` -X `, ` -k `), if a
/// command earlier in the same command line takes a password by it: `login` (a registry's or a
/// cloud's: `docker`, `podman`, `helm registry`, `az`, `cf`) or a MongoDB client (`mongo`,
/// `mongosh`, `mongodump`, …) by `-p` (and `twine`), an LDAP client (`ldapsearch`, `ldapadd`,
/// …) by `-w`, `zip`, `unzip`, SQL Server's `sqlcmd`, `bcp` and `osql`, `isql`, Perforce's `p4`
/// and Mosquitto's clients by `-P`,
/// `redis-cli` by `-a`, `lftp` by `-u` (as `USER,VALUE`), Net-SNMP's tools by `-A` and `-X`
/// (the authentication and privacy passphrases), `nuget push` by `-k`, PuTTY's `plink`,
/// `pscp` and `psftp` by `-pw`. An archiver (`7z`,
/// `unrar`) takes its `-p` glued to the value (`-pVALUE`; `-p` alone asks for one), as the
/// clients above may.
pub(super) fn short_flag(line: &[u8], hit: usize) -> Option<u8> {
    let flag = *line.get(hit + 2)?;
    if !line[hit..].starts_with(b" -") {
        return None;
    }
    let glued = match line.get(hit + 3) {
        Some(b' ') => false,
        Some(&c) if flag == b'p' && !c.is_ascii_whitespace() && c != b'-' => true,
        _ => return None,
    };
    // A long flag with one dash (`influx -password VALUE`, PowerShell's `-Password`) is no
    // `-p` glued to its value: its name gives the value, as any flag's does.
    if glued {
        let word = &line[hit + 2..];
        let n = word
            .iter()
            .position(|&c| c == b' ' || c == b'=')
            .unwrap_or(word.len());
        if [&b"password"[..], b"passwd", b"pass", b"passphrase", b"pwd"]
            .iter()
            .any(|f| word[..n].eq_ignore_ascii_case(f))
        {
            return None;
        }
    }
    let command = &line[command_start(line, hit)..hit];
    if putty_pw(line, hit) {
        return Some(flag);
    }
    if glued && words(command).any(archiver) {
        return Some(flag);
    }
    let takes = |w: &[u8]| {
        // A client by its path too (`/usr/bin/xh`, `C:\Tools\PsExec.exe`).
        let w = program(w);
        match flag {
            // Database and broker clients whose `-p` is the password, not a port (`psql`, `ssh`
            // and `redis-cli` take a port there).
            b'p' => {
                w == b"login"
                || w.starts_with(b"mongo")
                // `poetry publish -p`, `uv publish -p`, `dotnet nuget add|update source … -p`.
                || w == b"publish" && words(command).any(|w| w == b"poetry" || w == b"uv")
                || w == b"source" && words(command).any(|w| w == b"nuget")
                || matches!(
                    w,
                    b"twine"
                        | b"cypher-shell"
                        | b"cqlsh"
                        | b"influx"
                        | b"rabbitmqadmin"
                        | b"rdesktop"
                        | b"hydra"
                )
                // shadow's `useradd -p`, `usermod -p`, `groupadd -p`, `groupmod -p`: the
                // password's hash (or, by mistake, the password itself).
                || matches!(w, b"useradd" | b"usermod" | b"groupadd" | b"groupmod")
                // Supabase's `db push|pull|dump -p VALUE`, `link -p VALUE` (the database's).
                || w == b"supabase"
                // Conan 1's `conan user -p VALUE -r REMOTE NAME` (never glued: `-pr` is a
                // profile).
                || w == b"conan" && !glued
                // Windows administration and assessment: PsExec, PAExec, Evil-WinRM,
                // NetExec (`nxc`), CrackMapExec, SMBMap.
                || {
                    let base = w.strip_suffix(b".exe").unwrap_or(w);
                    [
                        &b"psexec"[..],
                        b"psexec64",
                        b"paexec",
                        b"evil-winrm",
                        b"nxc",
                        b"netexec",
                        b"crackmapexec",
                        b"cme",
                        b"smbmap",
                    ]
                    .iter()
                    .any(|t| base.eq_ignore_ascii_case(t))
                }
            }
            b'w' => w.starts_with(b"ldap"),
            b'P' => matches!(
                w,
                b"zip"
                    | b"unzip"
                    | b"sqlcmd"
                    | b"bcp"
                    | b"mosquitto_pub"
                    | b"mosquitto_sub"
                    | b"ipmitool"
                    // Sybase's and unixODBC's `isql`, SQL Server's older `osql`, Perforce's `p4`.
                    | b"isql"
                    | b"osql"
                    | b"p4"
            ),
            // HTTPie's and xh's `-a USER:VALUE` (as curl's `-u`).
            b'a' => matches!(
                w,
                b"redis-cli" | b"http" | b"https" | b"xh" | b"xhs" | b"hey"
            ),
            b'u' => w == b"lftp",
            b'A' | b'X' => w.starts_with(b"snmp") || flag == b'A' && w == b"ab",
            b'k' => w == b"push" && words(command).any(|w| w == b"nuget"),
            // Samba's clients, `-U USER%VALUE` (the password after the `%`).
            b'U' => matches!(
                w,
                b"rpcclient"
                    | b"smbclient"
                    | b"smbcacls"
                    | b"smbget"
                    | b"smbtree"
                    | b"winexe"
                    | b"samba-tool"
                    | b"net"
            ),
            _ => false,
        }
    };
    // macOS' `security add-generic-password … -w VALUE` (`find-…-password -w` prints one), a
    // keychain's password (`security unlock-keychain -p VALUE`, `create-keychain -p`) and a
    // PKCS #12 file's (`security import cert.p12 … -P VALUE`), as iOS builds set them up;
    // Xcode's `xcrun altool … -p VALUE`.
    let keychain = || {
        let security = || words(command).any(|w| w == b"security");
        let sub = |f: &dyn Fn(&[u8]) -> bool| words(command).any(f);
        match flag {
            b'w' => security() && sub(&|w| w.starts_with(b"add-") && w.ends_with(b"-password")),
            b'p' => {
                security() && sub(&|w| w == b"unlock-keychain" || w == b"create-keychain")
                    || sub(&|w| w == b"altool")
            }
            b'P' => security() && sub(&|w| w == b"import"),
            _ => false,
        }
    };
    (words(command).any(takes) || keychain()).then_some(flag)
}

/// Whether ` -pw ` at `hit` is PuTTY's password flag: `plink`, `pscp`, `psftp` (by a path,
/// with `.exe`, in any case).
fn putty_pw(line: &[u8], hit: usize) -> bool {
    line[hit..].starts_with(b" -pw ")
        && words(&line[command_start(line, hit)..hit]).any(|w| {
            let w = program(w);
            let base = w.strip_suffix(b".exe").unwrap_or(w);
            [&b"plink"[..], b"pscp", b"psftp"]
                .iter()
                .any(|t| base.eq_ignore_ascii_case(t))
        })
}

/// The password after the short flag at `hit` (see [`short_flag`]).
pub(super) fn short_flag_value(line: &[u8], hit: usize) -> Option<Found> {
    short_flag(line, hit)?;
    let glued = line[hit + 3] != b' ';
    let at = if putty_pw(line, hit) {
        hit + 5
    } else {
        hit + 4 - usize::from(glued)
    };
    let (a, b) = quoted_or_word(line, at);
    if line.get(a) == Some(&b'-') {
        return None; // no value: the next flag
    }
    // `lftp -u USER,VALUE`: the password after the comma (without one lftp asks); Samba's
    // `-U USER%VALUE` after the `%`; HTTPie's
    // and xh's `-a USER:VALUE` after the colon (without one they ask).
    let (a, b) = if line[hit + 2] == b'u' {
        if line.get(b) != Some(&b',') {
            return None;
        }
        quoted_or_word(line, b + 1)
    } else if line[hit + 2] == b'U' {
        // Samba's `-U USER%VALUE` (without a `%` the client asks), the password quoted too.
        let pc = a + line[a..b].iter().position(|&c| c == b'%')?;
        if matches!(line.get(pc + 1), Some(b'"' | b'\'')) {
            quoted_or_word(line, pc + 1)
        } else {
            (pc + 1, b)
        }
    } else if matches!(line[hit + 2], b'a' | b'A')
        && words(&line[command_start(line, hit)..hit])
            .map(program)
            .any(|w| w == b"hey" || w == b"ab")
    {
        // The load testers' basic authentication, `hey -a USER:VALUE`, `ab -A USER:VALUE`:
        // after the colon.
        let colon = a + line[a..b].iter().position(|&c| c == b':')?;
        (colon + 1, b)
    } else if line[hit + 2] == b'a'
        && words(&line[command_start(line, hit)..hit])
            .map(program)
            .any(|w| w.starts_with(b"http") || w.starts_with(b"xh"))
    {
        // A bearer token whole (`-A bearer`, `--auth-type=bearer`), else the password after
        // the colon.
        let cmd = &line[command_start(line, hit)..command_end(line, hit)];
        let bearer = [
            &b"-A bearer"[..],
            b"--auth-type=bearer",
            b"--auth-type bearer",
        ]
        .iter()
        .any(|f| memchr::memmem::find(cmd, f).is_some());
        if bearer {
            (a, b)
        } else {
            let colon = a + line[a..b].iter().position(|&c| c == b':')?;
            (colon + 1, b)
        }
    } else {
        (a, b)
    };
    value(line, hit + 1, a, b, Strength::Strong, b"password", false)
}
