//! Secrets given to a command by its own syntax rather than by an assignment: a setter's next
//! argument (`setx NAME VALUE`, `git config github.token VALUE`), a value flag after a name
//! argument (`gh secret set NAME --body VALUE`, `--name NAME --value VALUE`), a here-string
//! (`--password-stdin <<< VALUE`) or an `echo` piped in, SQL's `PASSWORD 'VALUE'` and
//! `IDENTIFIED BY '…'`, and the commands whose password is a positional argument or a short
//! flag (`sshpass -p VALUE`, `htpasswd -b FILE USER VALUE`, `docker login -p VALUE`).

use super::names::{Strength, eq_any};
use super::shell::{
    command_end, command_start, echoed, flag_argument, words, words_at, words_before,
};
use super::{Found, Named, blanks, line_start, quoted_or_word, value};

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
];

/// Whether `name` (in any case) is one of [`PASSWORD_COMMANDS`] or a FreeRDP client.
pub(super) fn password_command_name(name: &[u8]) -> bool {
    // Every keyword hit of a scanned line asks: its length and first letter first
    // (`input_tokens`, `password`, `token` are turned away there; a test keeps these in step
    // with the list).
    const LENGTHS: u32 = 1 << 4 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 14;
    let first = name.first().map_or(0, u8::to_ascii_lowercase);
    if name.len() >= 32 || LENGTHS >> name.len() & 1 == 0 || !b"cehorstvwx".contains(&first) {
        return false;
    }
    let ends = |suffix: &[u8]| {
        name.len() > suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    eq_any(name, PASSWORD_COMMANDS) || ends(b"freerdp") || ends(b"freerdp3")
}

/// Keys under which Composer and Poetry store a registry's credentials, by host or repository
/// (`http-basic.HOST USER VALUE`, `bearer.HOST VALUE`, …), and which argument after the key is
/// the secret.
const REGISTRY_AUTH: &[(&[u8], usize)] = &[
    (b"http-basic.", 2),
    (b"bitbucket-oauth.", 2),
    (b"bearer.", 1),
    (b"github-oauth.", 1),
    (b"gitlab-oauth.", 1),
    (b"gitlab-token.", 1),
];

/// Which argument after a registry's credential key (`name`, in any case) is its secret.
pub(super) fn registry_auth_key(name: &[u8]) -> Option<usize> {
    // The first letter, then the dot: this runs at every keyword hit of a line that is scanned.
    if !name
        .first()
        .is_some_and(|b| matches!(b | 0x20, b'b' | b'g' | b'h'))
    {
        return None;
    }
    REGISTRY_AUTH
        .iter()
        .find(|(k, _)| {
            name.len() > k.len()
                && name[k.len() - 1] == b'.'
                && name[..k.len()].eq_ignore_ascii_case(k)
        })
        .map(|&(_, nth)| nth)
}

/// A registry's credentials given to a package manager's `config` (`poetry config
/// http-basic.REPO USER VALUE`, `composer config [-g] [--auth] http-basic.HOST USER VALUE`,
/// `… bearer.HOST VALUE`, `… github-oauth.github.com VALUE`, `… bitbucket-oauth.HOST KEY
/// VALUE`), the key at `s..e`: the `nth` argument after it, unless there is none (`--unset`,
/// or the manager asks for it) or it is a flag.
pub(super) fn registry_auth(line: &[u8], s: usize, e: usize, nth: usize) -> Option<Found> {
    if !words(words_before(line, s))
        .rev()
        .take(6)
        .any(|w| w == b"config")
    {
        return None;
    }
    let args: Vec<(usize, usize)> = words_at(line, e, command_end(line, e)).take(nth).collect();
    let &(a, b) = args.get(nth - 1)?;
    let (va, vb) = quoted_or_word(line, a);
    let vb = vb.min(b);
    if vb <= va || line[va] == b'-' {
        return None;
    }
    value(line, s, va, vb, Strength::Strong, b"password", false)
}

/// Archivers whose `-pVALUE` (glued, as they take it) is the archive's password.
fn archiver(w: &[u8]) -> bool {
    let base = w.rsplit(|&b| b == b'/').next().unwrap_or(w);
    matches!(base, b"7z" | b"7za" | b"7zz" | b"7zr" | b"unrar" | b"rar")
}

/// Whether the words before a name make it a setter's first argument, so that the next
/// argument is its value: `setx`, `setenv` (csh, `launchctl`), fish's `set -x`/`-gx`/`-Ux`,
/// `config set` (npm, yarn, pnpm, pip, Redis' `CONFIG SET`), `configure set` (the AWS CLI),
/// `config` with or without a scope flag (git, poetry), `user-secrets set` (.NET),
/// `mysqladmin … password` and `nmcli … password`.
fn setter(line: &[u8], s: usize, lname: &[u8]) -> bool {
    let before = words_before(line, s);
    let before = before
        .strip_suffix(b"\"")
        .unwrap_or(before)
        .trim_ascii_end();
    if lname == b"password" && words(before).any(|w| w == b"mysqladmin" || w == b"nmcli") {
        return true;
    }
    // `neo4j-admin dbms set-initial-password VALUE`, `grafana-cli admin reset-admin-password
    // VALUE`: the subcommand names the secret.
    if line[s] != b'-'
        && (lname.starts_with(b"set-") || lname.starts_with(b"reset-"))
        && lname.ends_with(b"password")
    {
        return true;
    }
    let mut ws = words(before).rev();
    let last = ws.next().unwrap_or_default();
    if eq_any(last, &[b"setx", b"setenv"]) {
        return true;
    }
    // (The last words only: a name's line may be a long line of a tool's output.)
    let last_words: Vec<&[u8]> = words(before).rev().take(24).collect();
    // A key-value store's key ending in the name: `consul kv put secret/db/password VALUE`,
    // `etcdctl put /app/db_password VALUE`.
    if last == b"put"
        && last_words
            .iter()
            .take(4)
            .any(|w| *w == b"kv" || *w == b"etcdctl")
    {
        return true;
    }
    // `rclone config create NAME TYPE KEY VALUE …` (and `update`): pairs of words.
    if last_words
        .windows(3)
        .any(|w| w[2] == b"rclone" && w[1] == b"config" && matches!(w[0], b"create" | b"update"))
    {
        return true;
    }
    let prev = ws.next().unwrap_or_default();
    // Poetry's `config http-basic.REPO USER VALUE`: PyPI's user `__token__` before its token.
    if prev == b"config" && last.starts_with(b"http-basic.") {
        return true;
    }
    if prev == b"set"
        && last.len() > 1
        && last[0] == b'-'
        && last[1..].iter().all(|b| b"gxUlu".contains(b))
    {
        return true; // fish: `set -gx NAME VALUE`
    }
    if last.eq_ignore_ascii_case(b"set") {
        // Doppler's `secrets set NAME VALUE` (GitHub's `secret set` reads `--body` or stdin).
        return eq_any(
            prev,
            &[b"config", b"configure", b"user-secrets", b"secrets"],
        );
    }
    // git and poetry: `config [--global|--local|--system|--user] NAME VALUE`.
    let scope: [&[u8]; 5] = [
        b"--global",
        b"--local",
        b"--system",
        b"--user",
        b"--worktree",
    ];
    last == b"config" || scope.contains(&last) && prev == b"config"
}

/// Whether the name at `s` is the argument of a flag or subcommand that names a stored secret
/// (`--name NAME`, `-n NAME`, `secret set NAME`, `variable set NAME`), the path it is given in
/// included (`--name /db/password`).
fn named_argument(line: &[u8], s: usize) -> bool {
    let before = words_before(line, s);
    let mut ws = words(before).rev();
    let last = ws.next().unwrap_or_default();
    if last == b"--name" || last == b"-n" {
        return true;
    }
    let prev = ws.next().unwrap_or_default();
    // `gh secret set NAME`, `docker secret create NAME`, `wrangler secret put NAME`, `vercel
    // env add NAME`, `gcloud secrets versions add NAME`.
    match last {
        b"set" => eq_any(prev, &[b"secret", b"secrets", b"variable"]),
        b"create" | b"put" => eq_any(prev, &[b"secret", b"secrets"]),
        b"add" => eq_any(prev, &[b"env", b"versions"]),
        _ => false,
    }
}

/// The value of the first value flag (`--value`, `--body`, `-b`, `--secret-value`) in
/// `line[from..to]`, after a blank or `=`, as `(start, end)`.
fn value_flag(line: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
    const FLAGS: &[&[u8]] = &[b"--value", b"--body", b"-b", b"--secret-value"];
    let mut at = from;
    while at < to {
        let w = line[at..to]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .map_or(to, |p| at + p);
        let end = line[w..to]
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'='))
            .map_or(to, |p| w + p);
        if end < to && FLAGS.contains(&&line[w..end]) {
            let v = if line[end] == b'=' {
                end + 1
            } else {
                blanks(&line[..to], end + 1)
            };
            return Some(quoted_or_word(line, v));
        }
        at = end + 1;
    }
    None
}

/// A secret given by a command's syntax to the name `n` (see [`Named`]), judged as the name's
/// own value with its strength.
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
    let cmd_end = command_end(line, e);
    // A here-string later in the same command: `--password-stdin <<< VALUE`,
    // `vercel env add DB_PASSWORD production <<< VALUE`.
    // A few plain arguments between (prose that mentions a secret and then quotes a command
    // has more words, and code quotes).
    if let Some(h) = line[e..cmd_end].windows(3).position(|w| w == b"<<<")
        && words(&line[e..e + h]).count() <= 3
        && !line[e..e + h].iter().any(|b| b"`()[]{}".contains(b))
    {
        let (a, b) = quoted_or_word(line, blanks(&line[..cmd_end], e + h + 3));
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // A data file that is an `echo` in a process substitution: `gcloud secrets create NAME
    // --data-file=<(echo -n VALUE)`.
    if let Some((a, b)) = substituted_echo(line, e, cmd_end) {
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    let named = named_argument(line, s);
    // A secret store's own command, whatever the secret is named: `az keyvault secret set
    // --name db --value VALUE`.
    let store = lname == b"secret"
        && line[q..].starts_with(b"set ")
        && words_before(line, s).ends_with(b"keyvault");
    if (named || store)
        && let Some((a, b)) = value_flag(line, e, cmd_end)
    {
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // Read from standard input, piped from `echo`: `echo "…" | docker login
    // --password-stdin`, `printf '%s' … | gh secret set TOKEN`.
    // (The value comes first: the evidence starts there, for the release of a long line.)
    let redirected = line[e..cmd_end].windows(2).any(|w| w == b"< ");
    let stdin_flag =
        lname == b"passwd" && line[e..cmd_end].trim_ascii_start().starts_with(b"--stdin");
    if (lname.ends_with(b"stdin") || named || stdin_flag)
        && !redirected
        && let Some((a, b)) = echoed(line, s)
    {
        return value(line, a, a, b, Strength::Strong, lname, false);
    }
    if q <= p || q >= line.len() {
        return None; // no blank, or nothing, after the name
    }
    // SMTP's `AUTH PLAIN <base64>` and `AUTH LOGIN <base64>` (a client's debug output, a
    // session by hand): the base64 holds the user's name and password.
    if &line[s..e] == b"AUTH"
        && (line[q..].starts_with(b"PLAIN ") || line[q..].starts_with(b"LOGIN "))
    {
        let a = blanks(&line[..cmd_end], q + 6);
        let b = a + line[a..cmd_end]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || b"+/=".contains(c)))
            .unwrap_or(cmd_end - a);
        return if b - a >= 8 {
            value(line, s, a, b, Strength::Strong, b"password", false)
        } else {
            None
        };
    }
    // Redis' `AUTH [USER] VALUE` at `redis-cli`'s prompt (`127.0.0.1:6379> `).
    if &line[s..e] == b"AUTH" && redis_prompt(&line[line_start(line, s)..s]) {
        // `AUTH USER VALUE` when a user's name comes first (lower case, as ACL users are
        // named); else the first word (in a view, the next line's words may follow it).
        let mut ws = words_at(line, q, cmd_end);
        let (a, b) = ws.next()?;
        let user = line[a..b]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(c));
        if user
            && let Some((c, d)) = ws.next()
            && let Some(f) = value(line, s, c, d, Strength::Strong, b"password", false)
        {
            return Some(f);
        }
        return value(line, s, a, b, Strength::Strong, b"password", false);
    }
    // A flag, a redirect or standard input (`-`) where the value would be: none is given.
    if setter(line, s, lname) && !matches!(line[q], b'-' | b'<' | b'|' | b'>') {
        let (a, b) = quoted_or_word(line, q);
        return value(line, s, a, b, strength, lname, false);
    }
    // MySQL: `SET PASSWORD FOR 'app'@'%' = 'VALUE'`.
    if &line[s..e] == b"PASSWORD" && line[q..].starts_with(b"FOR ") {
        let eq = q + line[q..cmd_end].windows(3).position(|w| w == b" = ")?;
        let (a, b) = quoted_or_word(line, eq + 3);
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // MySQL: `IDENTIFIED WITH mysql_native_password BY 'VALUE'`.
    if line[q..].starts_with(b"BY '") || line[q..].starts_with(b"BY \"") {
        let (a, b) = quoted_or_word(line, q + 3);
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // SQL: `ALTER USER app WITH PASSWORD 'VALUE'`, `CREATE ROLE app LOGIN PASSWORD '…'`.
    if lname == b"password" && line[q] == b'\'' {
        let upper = &line[s..e] == b"PASSWORD";
        let before = line[line_start(line, s)..s].to_ascii_lowercase();
        let sql = words(&before).any(|w| matches!(w, b"user" | b"role"));
        if upper || sql {
            let (a, b) = quoted_or_word(line, q);
            return value(line, s, a, b, Strength::Strong, lname, false);
        }
    }
    None
}

/// The value an `echo` or `printf` in a process substitution gives as a file among the few
/// words of `line[from..to]` after a name (`--data-file=<(echo -n VALUE)`): its last word,
/// without quotes.
pub(super) fn substituted_echo(line: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
    let open = from + memchr::memmem::find(&line[from..to], b"<(")?;
    if words(&line[from..open]).count() > 4 {
        return None;
    }
    let close = open + line[open..to].iter().position(|&b| b == b')')?;
    let inner = &line[open + 2..close];
    if !matches!(words(inner).next(), Some(b"echo" | b"printf")) || words(inner).count() < 2 {
        return None;
    }
    let end = open + 2 + inner.trim_ascii_end().len();
    let (a, b) = match line[end - 1] {
        q @ (b'"' | b'\'') => (
            open + 2 + inner[..end - open - 3].iter().rposition(|&c| c == q)? + 1,
            end - 1,
        ),
        _ => (
            line[..end].iter().rposition(|&c| c == b' ' || c == b'\t')? + 1,
            end,
        ),
    };
    (!line[a..b].starts_with(b"-")).then_some((a, b))
}

/// What the `echo` or `printf` in a quoted command after a name prints (`--password-command
/// "echo VALUE"`, `BORG_PASSCOMMAND='printf %s VALUE'`), `e` at the name's end: its last word,
/// unless that is a flag or a format. Any other command (`pass show …`, `cat FILE`) prints
/// nothing here.
pub(super) fn echo_command(line: &[u8], e: usize) -> Option<(usize, usize)> {
    let mut p = e;
    while matches!(line.get(p), Some(b'"' | b'\'')) && p == e {
        p += 1; // a quoted name's closing quote
    }
    p = blanks(line, p);
    if line.get(p) == Some(&b'=') {
        p = blanks(line, p + 1);
    }
    let q = *line.get(p).filter(|&&q| q == b'"' || q == b'\'')?;
    let close = p + 1 + line[p + 1..].iter().position(|&b| b == q)?;
    let inner = p + 1..close;
    let mut ws = words_at(line, inner.start, inner.end);
    let (a, b) = ws.next()?;
    if !matches!(&line[a..b], b"echo" | b"printf") {
        return None;
    }
    let (a, b) = ws.last()?;
    let (a, b) = match line[a] {
        c @ (b'"' | b'\'') if b - a >= 2 && line[b - 1] == c => (a + 1, b - 1),
        _ => (a, b),
    };
    (b > a && !matches!(line[a], b'-' | b'%')).then_some((a, b))
}

/// The value of `aws ssm put-parameter … --type SecureString … --value VALUE`, `hit` at the
/// type's keyword literal (`cureString`) in the same command.
pub(super) fn secure_string(line: &[u8], hit: usize) -> Option<Found> {
    let start = command_start(line, hit);
    let end = command_end(line, hit);
    let cmd = &line[start..end];
    if !words(cmd).any(|w| w == b"put-parameter") {
        return None;
    }
    let (a, b) = value_flag(line, start, end)?;
    value(line, start, a, b, Strength::Strong, b"password", false)
}

/// Whether `before` is `redis-cli`'s prompt: `HOST:PORT> ` or `HOST:PORT[DB]> `.
fn redis_prompt(before: &[u8]) -> bool {
    let Some(p) = before.strip_suffix(b"> ") else {
        return false;
    };
    let p = match p.strip_suffix(b"]") {
        Some(q) => match q.iter().rposition(|&b| b == b'[') {
            Some(i) if q[i + 1..].iter().all(u8::is_ascii_digit) => &q[..i],
            _ => return false,
        },
        None => p,
    };
    // The prompt is the last word: other text may come before it on a line of a view.
    let p = p
        .iter()
        .rposition(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
        .map_or(p, |i| &p[i + 1..]);
    let Some(colon) = p.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let port = &p[colon + 1..];
    !port.is_empty()
        && port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
        && !p[..colon].is_empty()
        && !p[..colon].iter().any(|b| b.is_ascii_whitespace())
}

/// A password among the arguments of a command that takes one by its syntax (see
/// [`PASSWORD_COMMANDS`]): `sshpass -p VALUE …`, `htpasswd -b[n] [FILE] USER VALUE`, `echo
/// 'USER:VALUE' | chpasswd`.
pub(super) fn password_command(line: &[u8], s: usize, e: usize, lname: &[u8]) -> Option<Found> {
    let cmd_end = command_end(line, e);
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
        b"htpasswd" => {
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
            let (va, vb) = *args.get(nflags + positional - 1)?;
            value(line, s, va, vb, Strength::Strong, lname, false)
        }
        b"rabbitmqctl" => {
            // `rabbitmqctl add_user NAME VALUE`, `rabbitmqctl change_password NAME VALUE`.
            let sub = args
                .iter()
                .position(|&a| matches!(word(a), b"add_user" | b"change_password"))?;
            let (va, vb) = *args.get(sub + 2)?;
            value(line, s, va, vb, Strength::Strong, lname, false)
        }
        b"chpasswd" => {
            // `echo 'user:VALUE' | chpasswd`
            let (a, b) = echoed(line, s)?;
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
            // `ssh-keygen -N NEW`, `-P OLD`: passphrases (`-N ''`, none, has no value).
            let v = flag_argument(&args, &word, &[b"-N", b"-P"])?;
            let (a, b) = quoted_or_word(line, v.0);
            value(line, a, a, b, Strength::Strong, lname, false)
        }
        b"openssl" => {
            // `openssl enc … -k VALUE` (the passphrase), `openssl passwd [-6] [-salt S] VALUE`.
            let (a, b) = if args.first().is_some_and(|&a| word(a) == b"passwd") {
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
/// an `=`): the bytes after the first colon.
fn user_password(
    line: &[u8],
    args: &[(usize, usize)],
    flags: &[&[u8]],
    lname: &[u8],
) -> Option<Found> {
    let word = |(a, b): (usize, usize)| &line[a..b];
    let v = args.iter().enumerate().find_map(|(i, &(a, b))| {
        let w = word((a, b));
        if flags.contains(&w) {
            args.get(i + 1).copied()
        } else {
            flags
                .iter()
                .find(|f| f.starts_with(b"--") && w.starts_with(f) && w.get(f.len()) == Some(&b'='))
                .map(|f| (a + f.len() + 1, b))
        }
    })?;
    let (a, b) = quoted_or_word(line, v.0);
    let colon = a + line[a..b].iter().position(|&c| c == b':')?;
    value(line, a, colon + 1, b, Strength::Strong, lname, false)
}

/// The first session cookie's value in the cookie string at `at` (`name=value; name=value`,
/// quoted or not): a cookie named `session`, `sessionid`, `*_session`, `*sess`, `*sid`
/// (`JSESSIONID`, `PHPSESSID`, `connect.sid`), its value 8 bytes or more.
fn session_cookie(line: &[u8], at: usize) -> Option<Found> {
    let (a, b) = quoted_or_word(line, at);
    let mut from = a;
    for pair in line[a..b].split(|&c| c == b';') {
        let start = from;
        from += pair.len() + 1;
        let Some(eq) = pair.iter().position(|&c| c == b'=') else {
            continue;
        };
        let name = pair[..eq].trim_ascii().to_ascii_lowercase();
        let session = [&b"sess"[..], b"session", b"sessid", b"sessionid", b"sid"]
            .iter()
            .any(|s| name.ends_with(s));
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
/// …) by `-w`, `zip`, `unzip`, SQL Server's `sqlcmd` and `bcp` and Mosquitto's clients by `-P`,
/// `redis-cli` by `-a`, `lftp` by `-u` (as `USER,VALUE`), Net-SNMP's tools by `-A` and `-X`
/// (the authentication and privacy passphrases), `nuget push` by `-k`. An archiver (`7z`,
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
    let command = &line[command_start(line, hit)..hit];
    if glued && words(command).any(archiver) {
        return Some(flag);
    }
    let takes = |w: &[u8]| match flag {
        // Database and broker clients whose `-p` is the password, not a port (`psql`, `ssh`
        // and `redis-cli` take a port there).
        b'p' => {
            w == b"login"
                || w.starts_with(b"mongo")
                // `poetry publish -p`, `dotnet nuget add|update source … -p`.
                || w == b"publish" && words(command).any(|w| w == b"poetry")
                || w == b"source" && words(command).any(|w| w == b"nuget")
                || matches!(
                    w,
                    b"twine" | b"cypher-shell" | b"cqlsh" | b"influx" | b"rabbitmqadmin" | b"rdesktop"
                )
                // Windows administration and assessment: PsExec, PAExec, Evil-WinRM,
                // NetExec (`nxc`), CrackMapExec, SMBMap.
                || {
                    let base = w.rsplit(|&b| b == b'\\' || b == b'/').next().unwrap_or(w);
                    let base = base.strip_suffix(b".exe").unwrap_or(base);
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
        ),
        // HTTPie's `-a USER:VALUE` (as curl's `-u`).
        b'a' => matches!(w, b"redis-cli" | b"http" | b"https"),
        b'u' => w == b"lftp",
        b'A' | b'X' => w.starts_with(b"snmp"),
        b'k' => w == b"push" && words(command).any(|w| w == b"nuget"),
        _ => false,
    };
    // macOS' `security add-generic-password … -w VALUE` (`find-…-password -w` prints one).
    let keychain = || {
        flag == b'w'
            && words(command).any(|w| w == b"security")
            && words(command).any(|w| w.starts_with(b"add-") && w.ends_with(b"-password"))
    };
    (words(command).any(takes) || keychain()).then_some(flag)
}

/// The password after the short flag at `hit` (see [`short_flag`]).
pub(super) fn short_flag_value(line: &[u8], hit: usize) -> Option<Found> {
    short_flag(line, hit)?;
    let glued = line[hit + 3] != b' ';
    let (a, b) = quoted_or_word(line, hit + 4 - usize::from(glued));
    if line.get(a) == Some(&b'-') {
        return None; // no value: the next flag
    }
    // `lftp -u USER,VALUE`: the password after the comma (without one lftp asks); HTTPie's
    // `-a USER:VALUE` after the colon (without one HTTPie asks).
    let (a, b) = if line[hit + 2] == b'u' {
        if line.get(b) != Some(&b',') {
            return None;
        }
        quoted_or_word(line, b + 1)
    } else if line[hit + 2] == b'a'
        && words(&line[command_start(line, hit)..hit]).any(|w| w.starts_with(b"http"))
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

/// Whether `name` is Bundler's setting of a gem server's credentials: `BUNDLE_` and the host
/// with its dots as `__` (`BUNDLE_GEMS__EXAMPLE__COM`), not a gem's build options
/// (`BUNDLE_BUILD__…`) or a mirror (`BUNDLE_MIRROR__…`).
pub(super) fn bundler_host_name(name: &[u8]) -> bool {
    name.len() > 10
        && name[..7].eq_ignore_ascii_case(b"BUNDLE_")
        && memchr::memmem::find(&name[7..], b"__").is_some()
        && ![&b"BUILD__"[..], b"MIRROR__"].iter().any(|p| {
            name[7..]
                .get(..p.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(p))
        })
}

/// A gem server's credentials as Bundler takes them (`USER:VALUE`, or a token alone) in the
/// word at `a..b`: the password after the first colon, or the whole token. None for a URL (a
/// mirror's) or a variable.
fn bundler_credential(line: &[u8], ctx: usize, a: usize, b: usize) -> Option<Found> {
    let word = &line[a..b];
    if memchr::memmem::find(word, b"://").is_some() {
        return None;
    }
    let v = word
        .iter()
        .position(|&c| c == b':')
        .map_or(a, |p| a + p + 1);
    value(line, ctx, v, b, Strength::Strong, b"password", false)
}

/// `BUNDLE_<HOST>=USER:VALUE`, `BUNDLE_<HOST>: "USER:VALUE"` (see [`bundler_host_name`]), the
/// name ending at `e`.
pub(super) fn bundler_setting(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let mut p = e;
    if line.get(p) == Some(&b'=') {
        p += 1;
    } else if line.get(p) == Some(&b':') {
        p = blanks(line, p + 1);
    } else {
        return None;
    }
    let (a, b) = quoted_or_word(line, p);
    bundler_credential(line, s, a, b)
}

/// `bundle config [set] [--global|--local] HOST USER:VALUE`, `at` at `bundle`: the host is a
/// name with a dot or a URL, the credential the word after it.
pub(super) fn bundle_config(line: &[u8], at: usize) -> Option<Found> {
    if !starts_command_word(line, at) {
        return None;
    }
    let end = command_end(line, at);
    let args: Vec<(usize, usize)> = words_at(line, at + 13, end)
        .filter(|&(a, b)| !matches!(&line[a..b], b"set" | b"--global" | b"--local"))
        .collect();
    let (&(ha, hb), &(va, vb)) = (args.first()?, args.get(1)?);
    if !line[ha..hb].contains(&b'.') || line[va] == b'-' {
        return None;
    }
    let (a, b) = quoted_or_word(line, va);
    bundler_credential(line, at, a, b.min(vb))
}

/// Whether the command word at `at` starts a word: the line's start, a blank, a quote or a
/// shell operator before it (`mc` of `mc alias`, not of `rpmc alias`).
fn starts_command_word(line: &[u8], at: usize) -> bool {
    line_start(line, at) == at
        || matches!(
            line[at - 1],
            b' ' | b'\t' | b'"' | b'\'' | b';' | b'&' | b'|' | b'(' | b'`' | b'>' | b'n'
        ) && (line[at - 1] != b'n' || at >= 2 && line[at - 2] == b'\\')
}

/// `vault login [flags] TOKEN`, `hit` at `vault login`: the first argument that is neither a
/// flag, a flag's value, an auth method's `key=value` nor `-` (standard input). Vault's
/// flags take a value (`-address URL`, `-method=…`) but for `-no-print` and `-no-store`.
/// Judged as after a weak name: a token is random, and `vault login yourself` is prose.
pub(super) fn vault_login(line: &[u8], hit: usize) -> Option<Found> {
    if !starts_command_word(line, hit) || !matches!(line.get(hit + 11), Some(b' ' | b'\t')) {
        return None;
    }
    let end = command_end(line, hit);
    let mut args = words_at(line, hit + 11, end);
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if w.starts_with(b"-") {
            if w.len() > 1 && !w.contains(&b'=') && !matches!(w, b"-no-print" | b"-no-store") {
                args.next(); // the flag's value
            }
            if w == b"-" {
                return None;
            }
            continue;
        }
        if w.contains(&b'=') {
            return None; // `username=…`: another auth method's fields
        }
        let (va, vb) = quoted_or_word(line, a);
        return value(line, hit, va, vb.min(b), Strength::Weak, b"token", false);
    }
    None
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

/// Windows' `net user NAME VALUE [/add]`, `hit` at `net user`: the word after the name, unless
/// it asks for the password (`*`) or is an option (`/active:no`).
pub(super) fn net_user(line: &[u8], hit: usize) -> Option<Found> {
    if line_start(line, hit) < hit
        && !matches!(
            line[hit - 1],
            b' ' | b'\t' | b'"' | b';' | b'&' | b'|' | b'>'
        )
    {
        return None; // `planet user …`
    }
    let end = command_end(line, hit);
    let name_at = blanks(&line[..end], hit + 8);
    let (_, name_end) = quoted_or_word(line, name_at);
    let v = blanks(
        &line[..end],
        name_end + usize::from(matches!(line.get(name_at), Some(b'"' | b'\''))),
    );
    if v >= end || name_at == v || matches!(line[v], b'/' | b'*') {
        return None;
    }
    let (a, b) = quoted_or_word(line, v);
    value(line, hit, a, b, Strength::Strong, b"password", false)
}

/// MySQL's `IDENTIFIED BY '…'` (also `IDENTIFIED WITH plugin BY '…'`), the name at `s..e`.
pub(super) fn identified_by(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let end = command_end(line, e).min(e + 80);
    let by = e + line[e..end]
        .windows(4)
        .position(|w| w == b" BY " || w == b" by ")?;
    let v = by + 4;
    if !matches!(line.get(v), Some(b'\'' | b'"')) {
        return None;
    }
    let (a, b) = quoted_or_word(line, v);
    value(line, s, a, b, Strength::Strong, b"password", false)
}

/// A line of PostgreSQL's password file written by `echo` or `printf` redirected into it
/// (`echo 'HOST:PORT:DB:USER:VALUE' > ~/.pgpass`), `s` at the file's name: the last field.
pub(super) fn pgpass(line: &[u8], s: usize) -> Option<Found> {
    let from = command_start(line, s);
    let gt = from + line[from..s].iter().rposition(|&b| b == b'>')?;
    let body = line[from..gt]
        .trim_ascii_end()
        .strip_suffix(b">")
        .unwrap_or(&line[from..gt]);
    let body = body.trim_ascii_end();
    let end = from + body.len();
    if !matches!(words(&line[from..end]).next(), Some(b"echo" | b"printf")) {
        return None;
    }
    let (a, b) = match line.get(end.checked_sub(1)?)? {
        q @ (b'"' | b'\'') => {
            let open = from + line[from..end - 1].iter().rposition(|b| b == q)?;
            (open + 1, end - 1)
        }
        _ => {
            let w = line[from..end]
                .iter()
                .rposition(|&b| matches!(b, b' ' | b'\t'))
                .map_or(from, |p| from + p + 1);
            (w, end)
        }
    };
    let fields = line[a..b].iter().filter(|&&c| c == b':').count();
    if fields != 4 {
        return None;
    }
    let colon = a + line[a..b].iter().rposition(|&c| c == b':')?;
    value(line, a, colon + 1, b, Strength::Strong, b"password", false)
}
