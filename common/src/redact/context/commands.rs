//! Secrets given to a command by its own syntax rather than by an assignment, after a secret's
//! name: a setter's next argument (`setx NAME VALUE`, `git config github.token VALUE`), a value
//! flag after a name argument (`gh secret set NAME --body VALUE`, `--name NAME --value VALUE`),
//! a here-string (`--password-stdin <<< VALUE`) or an `echo` piped in, a command that prints
//! it (`--password-command "echo VALUE"`), SQL's `PASSWORD 'VALUE'`, an `echo` into
//! `~/.pgpass`. The programs whose syntax alone marks a password are in `clients`, a package
//! registry's credentials in `registries`, MySQL's `IDENTIFIED BY '…'` and an `INSERT`'s
//! password column in `sql`.

use super::names::{Strength, eq_any};
use super::shell::{
    command_end, command_start, echoed, flag_argument, program, words, words_at, words_before,
};
use super::{Found, Named, blanks, line_start, quoted_or_word, value};

/// Whether the words before a name make it a setter's first argument, so that the next
/// argument is its value: `setx`, `setenv` (csh, `launchctl`), fish's `set -x`/`-gx`/`-Ux`,
/// `config set` (npm, yarn, pnpm, pip, Redis' `CONFIG SET`), `configure set` (the AWS CLI),
/// `config` with or without a scope flag (git, poetry), `user-secrets set` (.NET), Netlify's
/// `env:set [--secret]`, dotenvx's `set [-f FILE]`, Cloud Foundry's `cf set-env APP`,
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
    // VALUE`: the subcommand names the secret. (gcloud's `users set-password USER`,
    // `reset-windows-password INSTANCE` take a name, the password by `--password`.)
    if line[s] != b'-'
        && (lname.starts_with(b"set-") || lname.starts_with(b"reset-"))
        && lname.ends_with(b"password")
    {
        return !words(before).any(|w| program(w) == b"gcloud");
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
    // Cloud Foundry's `cf set-env APP NAME VALUE`.
    if prev == b"set-env" && ws.next().is_some_and(|w| program(w) == b"cf") {
        return true;
    }
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
    // Netlify's `env:set [--secret] NAME VALUE`.
    if last == b"env:set" || last == b"--secret" && last_words.get(1) == Some(&&b"env:set"[..]) {
        return true;
    }
    // dotenvx's `set [-f FILE] NAME VALUE`, also as `npx @dotenvx/dotenvx set`.
    let mut k = 0;
    while k + 1 < last_words.len() && last_words[k + 1].starts_with(b"-") && last_words[k] != b"set"
    {
        k += 2;
    }
    if last_words.get(k) == Some(&&b"set"[..])
        && last_words
            .get(k + 1)
            .is_some_and(|w| program(w) == b"dotenvx")
    {
        return true;
    }
    if last.eq_ignore_ascii_case(b"set") {
        // Doppler's `secrets set NAME VALUE` (GitHub's `secret set` reads `--body` or stdin),
        // Convex's `env set NAME VALUE`.
        return eq_any(
            prev,
            &[b"config", b"configure", b"user-secrets", b"secrets", b"env"],
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
        // (`gh secret set NAME -bVALUE`, `-b"VALUE"`: the short flag glued to its value.)
        if end - w > 2 && line[w..].starts_with(b"-b") && line[w + 2] != b'-' {
            return Some(quoted_or_word(line, w + 2));
        }
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
    // PowerShell's environment drive: `Set-Item [-Path] Env:NAME [-Value] 'VALUE'`,
    // `New-Item -Path Env:\NAME -Value 'VALUE'`.
    let drive = line[..s].strip_suffix(b"\\").unwrap_or(&line[..s]);
    if drive.len() >= 4 && drive[drive.len() - 4..].eq_ignore_ascii_case(b"env:") {
        let mut v = blanks(&line[..cmd_end], e);
        if line.len() >= v + 6 && line[v..v + 6].eq_ignore_ascii_case(b"-value") {
            v = blanks(&line[..cmd_end], v + 6);
        }
        if v > e && v < cmd_end && line[v] != b'-' {
            let (a, b) = quoted_or_word(line, v);
            return value(line, s, a, b, strength, lname, false);
        }
    }
    // `ansible-vault encrypt_string [OPTIONS] 'VALUE' --name NAME`: the string to encrypt
    // (asked of its vault's password file and of the name it is given; the command line is
    // read only then).
    let flag_name = lname.strip_prefix(b"--").unwrap_or(lname);
    let before = words_before(line, s);
    let before = before
        .strip_suffix(b"'")
        .or(before.strip_suffix(b"\""))
        .unwrap_or(before);
    if (flag_name.starts_with(b"vault-pass")
        || matches!(
            before.trim_ascii_end().rsplit(|&b| b == b' ').next(),
            Some(b"--name" | b"-n")
        ))
        && let Some(f) = encrypt_string(line, s, cmd_end)
    {
        return Some(f);
    }
    // The registry's `reg add KEY /v NAME /t REG_SZ /d VALUE` (Winlogon's `DefaultPassword`).
    if words_before(line, s).ends_with(b"/v")
        && words(&line[command_start(line, s)..s]).any(|w| program(w).eq_ignore_ascii_case(b"reg"))
        && let Some(d) = memchr::memmem::find(&line[e..cmd_end], b" /d ")
    {
        let (a, b) = quoted_or_word(line, blanks(&line[..cmd_end], e + d + 4));
        return value(line, s, a, b, strength, lname, false);
    }
    // Google Cloud's `gcloud secrets create|versions add NAME --data-file=-`: the secret's
    // data from standard input; GnuPG's `--passphrase-fd 0`, the passphrase.
    let data_stdin = lname == b"secrets" && words(&line[e..cmd_end]).any(|w| w == b"--data-file=-")
        || lname == b"passphrase-fd" && words(&line[e..cmd_end]).next() == Some(&b"0"[..]);
    // A here-string later in the same command: `--password-stdin <<< VALUE`,
    // `vercel env add DB_PASSWORD production <<< VALUE`.
    // A few plain arguments between (prose that mentions a secret and then quotes a command
    // has more words, and code quotes).
    if let Some(h) = line[e..cmd_end].windows(3).position(|w| w == b"<<<")
        && (words(&line[e..e + h]).count() <= 3 || data_stdin)
        && !line[e..e + h].iter().any(|b| b"`()[]{}".contains(b))
    {
        let (a, b) = quoted_or_word(line, blanks(&line[..cmd_end], e + h + 3));
        // Git's credential helper protocol (`git credential approve <<< "protocol=https…`):
        // attributes a line each, whose `password=` line is found by its own name.
        let body = line[a..].strip_prefix(b"$'").unwrap_or(&line[a..]);
        if [&b"protocol="[..], b"host=", b"url=", b"username=", b"path="]
            .iter()
            .any(|k| body.starts_with(k))
        {
            return None;
        }
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // IPMI's `ipmitool user set password ID VALUE [16|20]`.
    if &line[s..e] == b"password"
        && words_before(line, s).ends_with(b"user set")
        && words(&line[command_start(line, s)..s]).any(|w| program(w) == b"ipmitool")
    {
        let mut args = words_at(line, e, cmd_end);
        let (ia, ib) = args.next()?;
        let &(a, end) = &args.next()?;
        if !line[ia..ib].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let (a, b) = quoted_or_word(line, a);
        return value(line, s, a, b.min(end), Strength::Strong, lname, false);
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
    // --password-stdin`, `printf '%s' … | gh secret set TOKEN`, `… | gh auth login
    // --with-token`.
    // (The value comes first: the evidence starts there, for the release of a long line.)
    let redirected = line[e..cmd_end].windows(2).any(|w| w == b"< ");
    // (`passwd` reads the password, and its confirmation, from a pipe without the flag too:
    // `yes '…' | passwd bob`, `echo -e "…\n…" | sudo passwd bob`.)
    let stdin_flag = lname == b"passwd"
        && (line[e..cmd_end].trim_ascii_start().starts_with(b"--stdin")
            || matches!(line[command_start(line, s)..s].trim_ascii(), b"" | b"sudo"));
    if (lname.ends_with(b"stdin")
        || lname.ends_with(b"with-token")
        || named
        || stdin_flag
        || data_stdin)
        && !redirected
        && let Some((a, b)) = echoed(line, s)
    {
        // `passwd` is given the password and its confirmation (and before them, for one's
        // own, the old one) a line each: `printf '…\n…\n'`, `echo -e "…\n…"`. The first is
        // judged; the marker stands for them all.
        // (In a view an escaped line break is a line break.)
        let breaks = |v: &[u8]| v.ends_with(b"\\n") || v.ends_with(b"\n");
        if lname == b"passwd"
            && let Some(n) = (a..b)
                .find(|&i| line[i] == b'\n' || line[i] == b'\\' && line.get(i + 1) == Some(&b'n'))
        {
            let mut end = b;
            while end > n && breaks(&line[a..end]) {
                end -= if line[end - 1] == b'\n' { 1 } else { 2 };
            }
            return value(line, a, a, n, Strength::Strong, lname, false)
                .map(|f| Found { end, ..f });
        }
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
    // `ngrok authtoken TOKEN`, `snyk auth TOKEN`, `consul acl set-agent-token TYPE TOKEN`.
    if let Some(f) = super::tool_tokens::subcommand_token(line, s, e) {
        return Some(f);
    }
    // DigitalOcean's `doctl auth init -t VALUE` (or `-t=VALUE`).
    if &line[s..e] == b"auth" && line[..s].ends_with(b"doctl ") {
        let args: Vec<(usize, usize)> = words_at(line, q, cmd_end).collect();
        if args.first().is_some_and(|&(a, b)| &line[a..b] == b"init") {
            let v = flag_argument(&args, &|(a, b)| &line[a..b], &[b"-t", b"--access-token"])?;
            let (a, b) = quoted_or_word(line, v.0);
            return value(line, s, a, b, Strength::Strong, b"token", false);
        }
    }
    // Redis' `AUTH [USER] VALUE` at `redis-cli`'s prompt (`127.0.0.1:6379> `), in any case
    // there as Redis takes it, or as `redis-cli`'s arguments.
    if line[s..e].eq_ignore_ascii_case(b"AUTH")
        && (redis_prompt(&line[line_start(line, s)..s]) || redis_command(line, s))
    {
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
    printed_by(line, open, to)
}

/// What the `echo` or `printf` in the substitution opening at `open` (`<(` or `$(`, before
/// `to`) prints: its last word, unless that is a flag.
pub(super) fn printed_by(line: &[u8], open: usize, to: usize) -> Option<(usize, usize)> {
    // Its closing bracket, or a pipe the `echo` feeds (`$(echo -n "USER:VALUE" | base64)`).
    let close = match line[open..to].iter().position(|&b| b == b')') {
        Some(c) => open + c,
        None if line.get(to) == Some(&b'|') => to,
        None => return None,
    };
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
/// type's keyword literal (`cureString`) in the same command; or, in `get-parameter`'s text
/// output (`PARAMETER  ARN  DATE  NAME  SecureString  VALUE  VERSION`, tab-separated), the
/// field after the type.
pub(super) fn secure_string(line: &[u8], hit: usize) -> Option<Found> {
    if line[hit..].starts_with(b"cureString\t") && line[..hit].ends_with(b"\tSe") {
        let v = hit + 11;
        let end = line[v..]
            .iter()
            .position(|&b| matches!(b, b'\t' | b'\n' | b'\r'))
            .map_or(line.len(), |n| v + n);
        return value(line, hit - 2, v, end, Strength::Strong, b"password", false);
    }
    let start = command_start(line, hit);
    let end = command_end(line, hit);
    let cmd = &line[start..end];
    if !words(cmd).any(|w| w == b"put-parameter") {
        return None;
    }
    let (a, b) = value_flag(line, start, end)?;
    value(line, start, a, b, Strength::Strong, b"password", false)
}

/// `redis-cli`'s options that take a value.
const REDIS_VALUED_FLAGS: &[&[u8]] = &[
    b"-h",
    b"-p",
    b"-s",
    b"-a",
    b"-u",
    b"-n",
    b"-r",
    b"-i",
    b"-d",
    b"--user",
    b"--pass",
    b"--cacert",
    b"--cert",
    b"--key",
    b"--sni",
];

/// Whether the word at `s` is the command given to `redis-cli` (or Valkey's or KeyDB's) on
/// its command line, after `sudo`, `docker exec …` or a path too: only the client's options
/// and their values come between (`redis-cli SET AUTH on` names a key).
fn redis_command(line: &[u8], s: usize) -> bool {
    let from = command_start(line, s);
    let ws: Vec<&[u8]> = words(&line[from..s]).collect();
    let Some(i) = ws
        .iter()
        .rposition(|w| matches!(program(w), b"redis-cli" | b"valkey-cli" | b"keydb-cli"))
    else {
        return false;
    };
    let mut rest = ws[i + 1..].iter();
    while let Some(w) = rest.next() {
        if !w.starts_with(b"-") {
            return false;
        }
        if REDIS_VALUED_FLAGS.contains(w) && rest.next().is_none() {
            return false;
        }
    }
    true
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

/// A secret written by `echo` or `printf` redirected into a file that holds one, `s..e` a
/// name in the file's path: a file in a `secrets/` directory (Docker's and Kubernetes'
/// `/run/secrets/NAME`), a client's credential file (`~/.vault-token`, `.vault_pass`,
/// `.git-credentials`), or a file named for a secret with a plain extension
/// (`secrets.txt`, `db_password.txt`, `api.key`): the last word echoed.
pub(super) fn echoed_into_file(line: &[u8], s: usize, e: usize) -> Option<Found> {
    // (A path of at most `NAME_REACH` bytes each way: every hit of a scanned line asks.)
    let from = s.saturating_sub(super::NAME_REACH);
    let ws = from
        + line[from..s]
            .iter()
            .rposition(|b| b.is_ascii_whitespace())
            .map(|p| p + 1)?;
    if !line[..ws].trim_ascii_end().ends_with(b">") {
        return None;
    }
    let to = line.len().min(e + super::NAME_REACH);
    let we = e + line[e..to]
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b';' | b'&' | b'|' | b'"'))
        .unwrap_or(to - e);
    if !super::names::secret_path(&line[ws..we]) {
        return None;
    }
    let (a, b) = last_echoed(line, s)?;
    value(line, a, a, b, Strength::Strong, b"password", false)
}

/// Claude Code's Write tool writing a file that holds a secret alone (see [`super::names::secret_path`]),
/// `s..e` a name in its `"file_path"`: the `"content"` after it, when it is one word (a line
/// break at its end allowed; of a `.pgpass` entry, its password field).
pub(super) fn written_file(line: &[u8], s: usize, e: usize) -> Option<Found> {
    const KEY: &[u8] = b"\"file_path\":";
    // (At most `NAME_REACH` bytes each way: every hit of a scanned line asks.)
    let from = s.saturating_sub(super::NAME_REACH);
    let open = from + line[from..s].iter().rposition(|&b| b == b'"')?;
    if !line[..open].trim_ascii_end().ends_with(KEY) {
        return None;
    }
    let to = line.len().min(e + super::NAME_REACH);
    let close = e + line[e..to].iter().position(|&b| b == b'"')?;
    if !super::names::secret_path(&line[open + 1..close]) {
        return None;
    }
    // The content after the path (as the model writes the call) or before it (keys sorted).
    let c = blanks(line, close + 1);
    let c = blanks(line, c + usize::from(line.get(c) == Some(&b',')));
    let (v, end) = if line[c..].starts_with(b"\"content\":") {
        let v = blanks(line, c + 10);
        if line.get(v) != Some(&b'"') {
            return None;
        }
        (v, v + 1 + line[v + 1..].iter().position(|&b| b == b'"')?)
    } else {
        let key = line[..open].trim_ascii_end();
        let key = key[..key.len() - KEY.len()].trim_ascii_end();
        let end = key
            .strip_suffix(b",")?
            .trim_ascii_end()
            .len()
            .checked_sub(1)?;
        if line[end] != b'"' {
            return None;
        }
        let v = line[..end].iter().rposition(|&b| b == b'"')?;
        if !line[..v].trim_ascii_end().ends_with(b"\"content\":") {
            return None;
        }
        (v, end)
    };
    let body = &line[v + 1..end];
    // (A line break at its end: escaped, or a blank in a view of the line.)
    let body = body.strip_suffix(b"\\n").unwrap_or(body).trim_ascii_end();
    if body.is_empty() || body.iter().any(|b| b.is_ascii_whitespace() || *b == b'\\') {
        return None;
    }
    // A `.pgpass` entry: its password.
    let at = match line[open + 1..close].ends_with(b".pgpass") {
        true => pgpass_password(body).unwrap_or(0),
        false => 0,
    };
    value(
        line,
        v + 1,
        v + 1 + at,
        v + 1 + body.len(),
        Strength::Strong,
        b"password",
        false,
    )
}

/// The last word an `echo` or a `printf` prints before the `>` that redirects it, `s` past
/// the `>`: its range, without its quotes.
fn last_echoed(line: &[u8], s: usize) -> Option<(usize, usize)> {
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
    match line.get(end.checked_sub(1)?)? {
        q @ (b'"' | b'\'') => {
            let open = from + line[from..end - 1].iter().rposition(|b| b == q)?;
            Some((open + 1, end - 1))
        }
        _ => {
            let w = line[from..end]
                .iter()
                .rposition(|&b| matches!(b, b' ' | b'\t'))
                .map_or(from, |p| from + p + 1);
            Some((w, end))
        }
    }
}

/// The string `ansible-vault encrypt_string` is given to encrypt in the command that holds
/// `s`: its first argument that is no option nor an option's value.
fn encrypt_string(line: &[u8], s: usize, cmd_end: usize) -> Option<Found> {
    const TAKES: &[&[u8]] = &[
        b"--vault-password-file",
        b"--vault-pass-file",
        b"--vault-id",
        b"--encrypt-vault-id",
        b"--name",
        b"-n",
        b"--output",
        b"--stdin-name",
    ];
    let from = command_start(line, s);
    let mut args = words_at(line, from, cmd_end);
    args.by_ref()
        .find(|&(a, b)| program(&line[a..b]) == b"ansible-vault")?;
    args.by_ref()
        .find(|&(a, b)| &line[a..b] == b"encrypt_string")?;
    while let Some((a, b)) = args.next() {
        let w = &line[a..b];
        if TAKES.contains(&w) {
            args.next();
        } else if !w.starts_with(b"-") {
            let (a, b) = quoted_or_word(line, a);
            return value(line, a, a, b, Strength::Strong, b"password", false);
        }
    }
    None
}

/// A line of PostgreSQL's password file written by `echo` or `printf` redirected into it
/// (`echo 'HOST:PORT:DB:USER:VALUE' > ~/.pgpass`), `s` at the file's name: the last field.
pub(super) fn pgpass(line: &[u8], s: usize) -> Option<Found> {
    let (a, b) = last_echoed(line, s)?;
    let at = pgpass_password(&line[a..b])?;
    value(line, a, a + at, b, Strength::Strong, b"password", false)
}

/// Where the password of a `.pgpass` entry (`host:port:database:user:password`) starts in
/// `entry`: past its fourth and last colon.
pub(crate) fn pgpass_password(entry: &[u8]) -> Option<usize> {
    if entry.iter().filter(|&&c| c == b':').count() != 4 {
        return None;
    }
    entry.iter().rposition(|&c| c == b':').map(|p| p + 1)
}

/// GitHub Actions' `::add-mask::VALUE`, a workflow command a step or a script prints to hide
/// a value from the job's log (so its value is a secret by definition), `at` just past it: the
/// string an `echo` quotes it in, to its closing quote (a code span's backtick too), else one
/// word (a stream-json line's string ends at its quote). A variable (`$TOKEN`, `${{
/// secrets.TOKEN }}`), the runner's `***` or a format (`%s`) is no value.
pub(super) fn add_mask(line: &[u8], at: usize) -> Option<Found> {
    let start = at - "::add-mask::".len();
    let quote = start
        .checked_sub(1)
        .map(|q| line[q])
        .filter(|q| matches!(q, b'"' | b'\'' | b'`'));
    let reach = line.len().min(at + super::text::COMMAND_REACH);
    let end = line[at..reach]
        .iter()
        .position(|&c| match quote {
            Some(q) => c == q || c == b'\n' || c == b'\r',
            None => c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'`'),
        })
        .map_or(reach, |p| at + p);
    let b = at + line[at..end].trim_ascii_end().len();
    if b == at || matches!(line[at], b'$' | b'*' | b'%' | b' ' | b'\t') {
        return None;
    }
    value(line, start, at, b, Strength::Strong, b"secret", false)
}
