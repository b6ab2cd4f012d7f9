//! Names: whether a name (an identifier, header, flag or environment variable) names a secret,
//! and how strongly, matched case-insensitively by its parts.

/// How sure a name is that its value is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Strength {
    Weak,
    Strong,
}

/// Most name parts looked at (a longer name is judged by its first ones).
pub(super) const MAX_PARTS: usize = 12;

/// The parts of a name as ranges: split at every byte that is not a letter or digit, and at
/// lower-to-upper case changes (`apiKey`). No allocation: this runs on every anchor hit.
pub(super) fn parts(name: &[u8]) -> ([(usize, usize); MAX_PARTS], usize) {
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
pub(super) const KEY_QUALIFIERS: &[&[u8]] = &[
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
    // Vault's `Unseal Key 1: …`, `Recovery Key 1: …` (and BitLocker's recovery key).
    b"unseal",
    b"recovery",
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

pub(super) const STRONG: &[&[u8]] = &[
    b"password",
    // An environment's abbreviation (`DB_PW`, `MYSQL_ROOT_PW`).
    b"pw",
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
    // Java's keytool and jarsigner.
    b"storepass",
    b"keypass",
    b"srcstorepass",
    b"deststorepass",
    b"srckeypass",
    b"destkeypass",
    // x11vnc's `-storepasswd VALUE FILE`.
    b"storepasswd",
    // libcurl's `CURLOPT_USERPWD`, `CURLOPT_PROXYUSERPWD` (`user:password`).
    b"userpwd",
    b"proxyuserpwd",
    // SQL Server setup's `/SAPWD=` (the `sa` login's).
    b"sapwd",
    // Other spellings and languages found by `pass`: `passw`, German's `Passwort`, French's
    // `motdepasse` (`mot_de_passe` by its parts, below).
    b"passw",
    b"passwort",
    b"motdepasse",
    // libcurl's private key's (`CURLOPT_KEYPASSWD`, formerly `CURLOPT_SSLKEYPASSWD` and
    // `CURLOPT_SSLCERTPASSWD`).
    b"keypasswd",
    b"sslkeypasswd",
    b"sslcertpasswd",
    // sssd's and PAM's word for a password (`ldap_default_authtok`, `krb5_authtok`).
    b"authtok",
    // OpenLDAP's and nslcd's (`rootpw`, `bindpw`).
    b"rootpw",
    b"bindpw",
];
pub(super) const WEAK: &[&[u8]] = &[
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
    // curl's `--oauth2-bearer` (a flag's value is taken as after a strong name); `BearerToken =>
    // "google_bearer_token"` in code is an enum's name.
    b"bearer",
    // An application's salt, which keys its cookies or ids like a secret key (WordPress'
    // `NONCE_SALT`, `SESSION_SALT`, `HASHIDS_SALT`).
    b"salt",
];

/// Last parts that make a secret's name the name of something *about* the secret: where it is
/// (`DB_PASSWORD_FILE`, `--token-file`, `secret_ref`), what it is called or what kind it is
/// (`secret_name`, `auth_type`), its rules and lifetime (`passwordPolicy`, `TOKEN_EXPIRY`,
/// `auth_timeout`, `tokenExpiresAt`), the variable it is read from (`--auth-token-env`), the
/// bytes it starts with (`TOKEN_PREFIX`). Their values are paths, names, words, times and
/// durations. Not `id` (Vault's
/// `secret_id` is a credential), `hash`, `value`, `url` (a webhook's URL is the secret) or
/// `base` (`SECRET_KEY_BASE`).
pub(super) const ABOUT: &[&[u8]] = &[
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
    // A store of secrets (`secret_manager`, `PasswordManager`; AWS's `secretsmanager` is
    // one word, judged below), what handles or fetches one (`HTTPBasicAuthHandler`,
    // `HTTPPasswordMgr`, git's `credential.helper`).
    b"manager",
    b"mgr",
    b"handler",
    b"handlers",
    b"helper",
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
    // The program that supplies it (git's `credential.helper`).
    b"helper",
    // What identifies a key without holding it (`SSH_KEY_FINGERPRINT=SHA256:…`).
    b"fingerprint",
    // File descriptors to hand on (Python's `subprocess.Popen(…, pass_fds=…)`). (Not `fd`:
    // GnuPG's `--passphrase-fd 0` says where the passphrase is read from.)
    b"fds",
    // The bytes a token starts or ends with (`TOKEN_PREFIX = 'k8s-aws-v1.'`, `ghp_`).
    b"prefix",
    b"suffix",
    // What it passes on (systemd's `PassEnvironment=VAR1 VAR2`).
    b"environment",
    // Where and how it is kept, made or checked (`SECRET_STORE=Vault`, `secret_backend: Vault`,
    // `DB_PASSWORD_SOURCE=Environment`, Django's `PASSWORD_HASHERS`, `PasswordEncoder=BCrypt`,
    // `password_hash_algo: Argon2id`, `password_strength: Strong`, `password_reset: Allowed`).
    b"store",
    b"storage",
    b"backend",
    b"source",
    b"hasher",
    b"hashers",
    b"encoder",
    b"algo",
    b"algorithm",
    b"strength",
    b"reset",
    // How it is checked (PostgreSQL's `password_encryption = scram-sha-256`, MongoDB's
    // `authMechanism=SCRAM-SHA-256`, `token_scheme`).
    b"encryption",
    b"mechanism",
    b"mechanisms",
    b"scheme",
    b"schemes",
    // Its lifetime and its checks in units (login.defs' `PASS_MAX_DAYS 99999`, `PASS_WARN_AGE`,
    // `TOKEN_TTL_SECONDS`, `password_lockout_minutes`, `password_retries`).
    b"days",
    b"age",
    b"hours",
    b"minutes",
    b"seconds",
    b"retries",
    b"attempts",
    // Its checks and their outcomes (MariaDB's `strict_password_validation`,
    // `max_password_errors`).
    b"validation",
    b"errors",
    // Its status (`PasswordStatus: Normal`, `secret_status: Pending`, `token_state: Active`).
    b"status",
    b"state",
];

pub(super) fn eq_any(p: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| p.eq_ignore_ascii_case(w))
}

pub(crate) fn contains_ci(p: &[u8], needle: &[u8]) -> bool {
    p.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

pub(super) fn ends_ci(p: &[u8], suffix: &[u8]) -> bool {
    p.len() >= suffix.len() && p[p.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Whether `name` (an identifier, header or flag name) names a secret, and how strongly.
pub(crate) fn classify(name: &[u8]) -> Option<Strength> {
    // WebSocket's handshake nonce: a key by name, random by design, secret to no one.
    if name.eq_ignore_ascii_case(b"sec-websocket-key") {
        return None;
    }
    // nginx's directives that pass a request upstream and say what it takes along
    // (`proxy_pass http://backend;`, `proxy_pass_header Authorization;`), in lower case as
    // nginx spells them (`PROXY_PASS=…` may be a proxy's password). (Every keyword hit's name
    // is classified: the first `_` first, no search.)
    if let Some(u) = name.iter().position(|&b| b == b'_')
        && name[u..].starts_with(b"_pass")
        && matches!(
            &name[..u],
            b"proxy" | b"fastcgi" | b"uwsgi" | b"scgi" | b"grpc" | b"memcached"
        )
        && matches!(
            &name[u + 5..],
            b"" | b"_header" | b"_request_body" | b"_request_headers" | b"_trailers"
        )
    {
        return None;
    }
    let (ranges, n) = parts(name);
    if plural(name, &ranges[..n]) {
        return qualified_plural(name, &ranges[..n]);
    }
    if about_a_secret(name, &ranges[..n]) {
        return None;
    }
    if cursor_token(name, &ranges[..n]) {
        return None;
    }
    let mut best: Option<Strength> = None;
    for i in 0..n {
        let (a, b) = ranges[i];
        let p = &name[a..b];
        let prev = (i > 0).then(|| &name[ranges[i - 1].0..ranges[i - 1].1]);
        // A Wi-Fi network's pre-shared key (`psk=` of wpa_supplicant and NetworkManager,
        // `wpa_psk=`) as the name's last part: `ResumptionPskBinderKey` names a kind of key.
        let psk = i == n - 1 && p.eq_ignore_ascii_case(b"psk");
        // (AWS's `secretsmanager:GetSecretValue` names the service.)
        let store = ends_ci(p, b"manager");
        let french =
            p.eq_ignore_ascii_case(b"passe") && prev.is_some_and(|q| q.eq_ignore_ascii_case(b"de"));
        // A wallet's seed phrase (`MNEMONIC`, `SEED_PHRASE`, `RECOVERY_PHRASE`): its words are
        // the wallet's keys.
        // Bitwarden's CLI session key (`BW_SESSION`), which unlocks the vault.
        let bitwarden = p.eq_ignore_ascii_case(b"session")
            && prev.is_some_and(|q| q.eq_ignore_ascii_case(b"bw"));
        let seed = p.eq_ignore_ascii_case(b"mnemonic")
            || p.eq_ignore_ascii_case(b"seedphrase")
            || p.eq_ignore_ascii_case(b"phrase")
                && prev.is_some_and(|q| eq_any(q, &[b"seed", b"recovery", b"wallet"]));
        let s = if eq_any(p, STRONG)
            || psk
            || french
            || seed
            || bitwarden
            || !store && (contains_ci(p, b"password") || contains_ci(p, b"secret"))
        {
            Some(Strength::Strong)
        } else if eq_any(p, WEAK)
                || p.eq_ignore_ascii_case(b"key")
                    && (prev.is_some_and(|q| eq_any(q, KEY_QUALIFIERS)) || i == n - 1 && n > 1)
                // A list of keys says whose they are (`api_keys`, `AccessKeys`): `SortKeys`,
                // `ConditionKeys` and `PrimaryKeys` list names.
                || p.eq_ignore_ascii_case(b"keys")
                    && (prev.is_some_and(|q| eq_any(q, KEY_QUALIFIERS))
                        || i == n - 1 && n > 1 && !name.iter().any(u8::is_ascii_lowercase))
                || p.eq_ignore_ascii_case(b"string")
                    && prev.is_some_and(|q| q.eq_ignore_ascii_case(b"connection"))
                // Spring's `basicAuthentication(USER, "…")`, `BasicAuthenticationInterceptor`.
                || p.eq_ignore_ascii_case(b"authentication")
                    && prev.is_some_and(|q| q.eq_ignore_ascii_case(b"basic"))
                || (ends_ci(p, b"token") && p.len() > 5)
                || ends_ci(p, b"apikey")
                // A qualifier and `key` in one word: Tailscale's `TS_AUTHKEY`, `LICENSEKEY`.
                || p.len() > 5
                    && ends_ci(p, b"key")
                    && eq_any(&p[..p.len() - 3], KEY_QUALIFIERS)
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
pub(super) fn about_a_secret(name: &[u8], parts: &[(usize, usize)]) -> bool {
    // A limit (MariaDB's `max_seeks_for_key`, `max_password_errors`, `MinPasswordLength`), or
    // a filter's term (blkid's `--match-token LABEL=root`).
    if let [(a, b), _, ..] = parts
        && eq_any(
            &name[*a..*b],
            &[b"max", b"min", b"maximum", b"minimum", b"match"],
        )
    {
        return true;
    }
    match parts {
        // A certificate's hash pins it, secret to no one: kubeadm's
        // `--discovery-token-ca-cert-hash sha256:…` beside the join token.
        [.., (c, d), (a, b)]
            if name[*a..*b].eq_ignore_ascii_case(b"hash")
                && name[*c..*d].eq_ignore_ascii_case(b"cert") =>
        {
            true
        }
        // When a password was last used or set (`password_last_used`, IAM's `PasswordLastUsed`,
        // Active Directory's `PasswordLastSet`, `secret_last_rotated`): a date. (`password_used`
        // alone may be the password a log says was used.)
        [.., (c, d), (a, b)]
            if eq_any(
                &name[*a..*b],
                &[
                    b"used",
                    b"set",
                    b"changed",
                    b"updated",
                    b"rotated",
                    b"modified",
                ],
            ) && name[*c..*d].eq_ignore_ascii_case(b"last") =>
        {
            true
        }
        [.., _, (a, b)] => {
            eq_any(&name[*a..*b], ABOUT)
                // Where a secret is fetched or sent (`token_uri` in every Google service
                // account's key file, `TOKEN_URL`, `auth_endpoint`): a webhook's URL and a DSN
                // are secrets themselves (`SLACK_WEBHOOK_URL`, `SENTRY_DSN_URL`).
                || eq_any(&name[*a..*b], &[b"url", b"uri", b"endpoint"])
                    && !parts.iter().any(|&(a, b)| {
                        contains_ci(&name[a..b], b"hook") || name[a..b].eq_ignore_ascii_case(b"dsn")
                    })
        }
        _ => false,
    }
}

/// Parts before a last `token` that make it a cursor or a request's id, not a credential: AWS's
/// `NextToken` and `ContinuationToken`, WAF's `ChangeToken`, Google's `nextPageToken`,
/// MongoDB's `resumeToken`, an idempotency or a cancellation token. Not `client` (Facebook's
/// client token is an app's credential, and AWS's `ClientToken` is rare in output).
const CURSOR_QUALIFIERS: &[&[u8]] = &[
    b"next",
    b"continuation",
    b"page",
    b"pagination",
    b"change",
    b"sync",
    b"cancellation",
    b"idempotency",
    b"resume",
];

/// Whether the name's last two parts are one of [`CURSOR_QUALIFIERS`] and `token`.
fn cursor_token(name: &[u8], parts: &[(usize, usize)]) -> bool {
    match parts {
        [.., (a, b), (c, d)] => {
            name[*c..*d].eq_ignore_ascii_case(b"token") && eq_any(&name[*a..*b], CURSOR_QUALIFIERS)
        }
        _ => false,
    }
}

/// Whether the name ends in `secrets` or `tokens`: in output, a list of them by name
/// (`Mountable secrets:   default-token-x7k2p` in `kubectl describe`, compose's `secrets:`),
/// or a count (`input_tokens`). A variable so named holds them themselves (`SECRETS='{"db":
/// …}'`), and so does a name whose part before says whose they are ([`qualified_plural`]).
pub(super) fn names_a_list(name: &[u8], parts: &[(usize, usize)]) -> bool {
    plural(name, parts) && qualified_plural(name, parts).is_none()
}

/// Whether the name's last part is `secrets` or `tokens`.
fn plural(name: &[u8], parts: &[(usize, usize)]) -> bool {
    parts.last().is_some_and(|&(a, b)| {
        matches!(b - a, 6 | 7) && eq_any(&name[a..b], &[b"secrets", b"tokens"])
    })
}

/// The strength of a name that ends in `tokens` or `secrets` after a part that says whose they
/// are (`api_tokens`, `ACCESS_TOKENS`, `client_secrets`, `ALLOWED_TOKENS`): a list of them,
/// each item a secret. Not after a count's parts (`input_tokens`, `max_tokens`) or a listing's
/// (`Mountable secrets`). Weak, `secrets` too: such a list may name secrets rather than hold
/// them (`app_secrets: ["DB_PASSWORD", …]`), so its items must look generated.
pub(super) fn qualified_plural(name: &[u8], parts: &[(usize, usize)]) -> Option<Strength> {
    let [.., (a, b), (c, d)] = parts else {
        return None;
    };
    if !plural(name, &[(*c, *d)]) {
        return None;
    }
    let prev = &name[*a..*b];
    (eq_any(prev, KEY_QUALIFIERS) || eq_any(prev, LIST_QUALIFIERS)).then_some(Strength::Weak)
}

/// Parts before `tokens` that say whose they are, besides [`KEY_QUALIFIERS`].
const LIST_QUALIFIERS: &[&[u8]] = &[b"allowed", b"valid", b"bearer", b"refresh", b"bot"];

/// Whether the file at `path` holds a secret alone: a file in a `secrets/` directory (Docker's
/// and Kubernetes' `/run/secrets/NAME`), a client's credential file (`.pgpass`,
/// `.git-credentials`, `.vault-token`, Ansible's `.vault_pass`, rsync's `rsyncd.secrets` of
/// `user:password` lines), Rails' `master.key`, a file whose extension names a secret
/// (Nexus' `admin.password`), or a file
/// named for a secret with a plain extension (`db_password.txt`, `api.key`). Read for a command that prints one
/// (`cat secrets/db`) and for one written into it (`echo … > secrets/db`).
pub(crate) fn secret_path(path: &[u8]) -> bool {
    let file = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let bare = file.strip_prefix(b".").unwrap_or(file);
    let (stem, ext) = match bare.iter().rposition(|&b| b == b'.') {
        Some(d) => (&bare[..d], &bare[d + 1..]),
        None => (bare, &b""[..]),
    };
    let plain = [
        &b""[..],
        b"txt",
        b"key",
        b"secret",
        b"token",
        b"pw",
        b"pass",
    ]
    .iter()
    .any(|x| ext.eq_ignore_ascii_case(x));
    let in_secrets =
        path.starts_with(b"secrets/") || memchr::memmem::find(path, b"/secrets/").is_some();
    let credentials = [
        &b".pgpass"[..],
        b".git-credentials",
        b".vault-token",
        b".vault_pass",
        b".vault-pass",
        b"rsyncd.secrets",
    ]
    .contains(&file);
    // Rails' key to its encrypted credentials: `config/master.key`,
    // `config/credentials/production.key`.
    let rails = file == b"master.key"
        || ext == b"key"
            && (path.starts_with(b"credentials/")
                || memchr::memmem::find(path, b"/credentials/").is_some());
    // An extension that names what the file holds: Nexus' `admin.password`, `vault.token`.
    let named = !stem.is_empty()
        && [&b"password"[..], b"passwd", b"secret", b"token"]
            .iter()
            .any(|x| ext.eq_ignore_ascii_case(x));
    in_secrets
        || credentials
        || rails
        || named
        || plain && !stem.is_empty() && std::str::from_utf8(stem).is_ok_and(secret_env_name)
}

/// Whether `name` names a file that holds a secret (`vault-password-file`, `PASSPHRASE_FILE`,
/// `--password-file`): its last part is `file`, and the parts before it name a secret. Such a
/// name's value is a path, unless the file is an `echo` in a process substitution.
pub(crate) fn secret_file(name: &[u8]) -> bool {
    // Most names do not end in `file`: that first, before the name is cut into parts.
    if name.len() < 6 || !name[name.len() - 4..].eq_ignore_ascii_case(b"file") {
        return false;
    }
    let (ranges, n) = parts(name);
    n >= 2 && {
        let (a, b) = ranges[n - 1];
        name[a..b].eq_ignore_ascii_case(b"file") && classify(&name[..ranges[n - 2].1]).is_some()
    }
}

/// Whether a name is a call that hashes or checks the password given to it (Werkzeug's
/// `generate_password_hash`, Django's `make_password`, PHP's `password_hash` and
/// `password_verify`, Go's `bcrypt.GenerateFromPassword`): its first argument is the password.
pub(crate) fn password_hasher(name: &[u8]) -> bool {
    let last = name
        .rsplit(|&b| b == b'.' || b == b':')
        .next()
        .unwrap_or(name);
    eq_any(
        last,
        &[
            b"generate_password_hash",
            b"make_password",
            b"password_hash",
            b"password_verify",
            b"GenerateFromPassword",
        ],
    )
}

/// Whether a name is a command that prints a secret (`--password-command`,
/// `RESTIC_PASSWORD_COMMAND`, `BORG_PASSCOMMAND`): its value is a command, and an `echo` or
/// `printf` there prints the secret itself.
pub(crate) fn secret_command(name: &[u8]) -> bool {
    // Most names end in neither: the last letter first, then the endings, before the name is
    // cut into parts.
    if name.last().is_none_or(|b| b | 0x20 != b'd') {
        return false;
    }
    let ends =
        |s: &[u8]| name.len() > s.len() && name[name.len() - s.len()..].eq_ignore_ascii_case(s);
    if !ends(b"command") && !ends(b"cmd") {
        return false;
    }
    let (ranges, n) = parts(name);
    n >= 1 && {
        let (a, b) = ranges[n - 1];
        let last = &name[a..b];
        eq_any(last, &[b"passcommand", b"passcmd"])
            || n >= 2
                && eq_any(last, &[b"command", b"cmd"])
                && classify(&name[..ranges[n - 2].1]) == Some(Strength::Strong)
    }
}

/// Whether the `Key` whose name starts at `s` (or its quote does) is a member of an object
/// named for what the key is for: ASP.NET's `"Jwt": { "Issuer": "…", "Key": "…" }`,
/// `"Encryption": {"Key": …}` (a qualifier of `key`, as in `jwt_key`), also in the view of a
/// tool's output, where the object's lines are one and Claude Code's Read tool numbers them;
/// there, a YAML mapping's too (`api:` above an indented `key: …`).
pub(crate) fn parent_qualified(line: &[u8], s: usize) -> bool {
    if yaml_parent(line, s).is_some_and(|p| eq_any(p, KEY_QUALIFIERS)) {
        return true;
    }
    let from = s.saturating_sub(400);
    let Some(open) = line[from..s].iter().rposition(|&b| b == b'{' || b == b'}') else {
        return false;
    };
    let open = from + open;
    let back = |mut i: usize| {
        while i > 0 && matches!(line[i - 1], b' ' | b'\t') {
            i -= 1;
        }
        i
    };
    if line[open] != b'{' {
        return false;
    }
    let mut i = back(open);
    if line[..i].ends_with(super::READ_ARROW) {
        i -= super::READ_ARROW.len();
        while i > 0 && line[i - 1].is_ascii_digit() {
            i -= 1;
        }
        i = back(i);
    }
    if i == 0 || line[i - 1] != b':' {
        return false;
    }
    let i = back(i - 1);
    if i <= from || line[i - 1] != b'"' {
        return false;
    }
    let end = i - 1;
    let Some(start) = line[from..end].iter().rposition(|&b| b == b'"') else {
        return false;
    };
    // (A quote escaped in a raw JSON string: `\"Jwt\": {`.)
    let parent = &line[from + start + 1..end];
    let parent = parent.strip_suffix(b"\\").unwrap_or(parent);
    // An object named for a secret itself (`{"apiKey": {"key": "…"}}`, an API's answer that
    // created a key); not one that refers to a secret (`"secretKeyRef": {…, "key": NAME}`).
    eq_any(parent, KEY_QUALIFIERS) || classify(parent).is_some()
}

/// The name of the YAML mapping that holds the key starting at `s`, the first thing on its
/// line after blanks, in a view of several lines: the nearest line above it (400 bytes back at
/// most) indented less, when that line ends in `NAME:` (the first line of a tool's output
/// starts after the JSON around it, `…"content":"api:`).
fn yaml_parent(line: &[u8], s: usize) -> Option<&[u8]> {
    let floor = s.saturating_sub(400);
    let start = super::line_start(line, s);
    if start == s || line[start..s].iter().any(|&b| b != b' ') {
        return None;
    }
    let indent = s - start;
    // The line break before the key's line, then before each line above it.
    let mut brk = floor + memchr::memrchr(b'\n', &line[floor..start.max(floor)])?;
    while brk > floor {
        let above = super::line_start(line, brk);
        let text = &line[above..brk];
        let blanks = text.iter().take_while(|&&b| b == b' ').count();
        let body = text[blanks..].trim_ascii_end();
        if !body.is_empty() && blanks < indent {
            let name = body.strip_suffix(b":")?;
            let at = name
                .iter()
                .rposition(|&b| !name_byte(b))
                .map_or(0, |p| p + 1);
            return (at < name.len()).then(|| &name[at..]);
        }
        brk = floor + memchr::memrchr(b'\n', &line[floor..above.max(floor)])?;
    }
    None
}

/// Whether `name` has the part `key`.
pub(super) fn has_key_part(name: &[u8]) -> bool {
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
