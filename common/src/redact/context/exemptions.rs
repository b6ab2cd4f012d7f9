//! Names that hold no secret where they stand, whatever they are called: a file's name before a
//! position (`src/auth.rs:42`), a field of an Amazon Resource Name, a CloudFormation resource
//! type quoted as a key, a Dockerfile's `ENV NAME VALUE` (told apart for its own reading), and
//! a setting that names the variable it is read from.

use super::line_start;

/// Whether a "name" is a file name (`auth.rs`, `test_auth.py`): what follows it is a position.
pub(super) fn is_file_name(lname: &[u8]) -> bool {
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
pub(super) fn dockerfile_env(line: &[u8], s: usize) -> bool {
    let Some(before) = line[..s].strip_suffix(b"ENV ") else {
        return false;
    };
    // At a line's start (a file's line as the Read tool numbers it, too), or a diff's added or
    // removed line (`+ENV NAME VALUE`).
    let from = line_start(line, s).min(before.len());
    matches!(line[from..before.len()].trim_ascii(), b"" | b"+" | b"-")
        || before.trim_ascii_end().ends_with(b" :")
}

/// The longest Amazon Resource Name.
const ARN_REACH: usize = 2048;

/// Whether the name at `s` is a field of an Amazon Resource Name (`arn:partition:service:…`),
/// which names a resource, a secret's included, and holds none.
pub(super) fn in_arn(line: &[u8], s: usize) -> bool {
    if s == 0 || line[s - 1] != b':' {
        return false;
    }
    // An ARN is at most 2,048 bytes: a bounded look (every keyword hit after a `:` asks, and a
    // line of `auth:` repeated made the walk to its start quadratic).
    let floor = s.saturating_sub(ARN_REACH);
    let start = line[floor..s]
        .iter()
        // (`*` where a policy's ARN matches any region or account.)
        .rposition(|b| !(b.is_ascii_alphanumeric() || b":-_/.*".contains(b)))
        .map_or(floor, |p| floor + p + 1);
    line[start..].starts_with(b"arn:")
}

/// Whether the name at `s..e` ends a CloudFormation resource type quoted as a key
/// (`"AWS::IAM::AccessKey": …`, cfn-lint's schemas map each type to a hash): three or more
/// parts joined by `::`, each capitalised, between quotes. It names a kind of resource; a
/// type path in code given a value (`AWS::IAM::AccessKey = "…"`) is not quoted so.
pub(super) fn resource_type(line: &[u8], s: usize, e: usize) -> bool {
    if !line[..s].ends_with(b"::") || line.get(e) != Some(&b'"') {
        return false;
    }
    // A type is a few dozen bytes (`AWS::Route53GlobalResolver::AccessToken`).
    let floor = s.saturating_sub(96);
    let Some(q) = line[floor..s]
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b':'))
        .map(|p| floor + p)
    else {
        return false;
    };
    let path = &line[q + 1..e];
    let parts = path.split(|&b| b == b':').filter(|p| !p.is_empty());
    line[q] == b'"'
        && memchr::memmem::find_iter(path, b"::").count() >= 2
        && !path.windows(3).any(|w| w == b":::")
        && parts.clone().all(|p| p[0].is_ascii_uppercase())
}

/// Whether `value`, given to the name `lname` (in lower case), is the name of the variable a
/// setting is read from (`MSI_SECRET_ENV_KEY: &str = "IDENTITY_HEADER";`, `TOKEN_ENV_VAR =
/// "GITHUB_TOKEN"`): a variable's name in capitals after a name ending in `env_key`, `env_var`
/// or `var_name`.
pub(super) fn variable_name_setting(lname: &[u8], value: &[u8]) -> bool {
    [&b"env_key"[..], b"env_var", b"var_name"]
        .iter()
        .any(|k| lname.ends_with(k))
        && value.len() >= 2
        && value
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
}

/// Whether `value`, given to `AUTH` (in lower case, `lname`), is a SASL mechanism's name, as a
/// mail server's capabilities list them (`AUTH=CRAM-MD5`, `250-AUTH=PLAIN LOGIN`): a way to
/// sign in, not a secret.
pub(super) fn sasl_mechanism(lname: &[u8], value: &[u8]) -> bool {
    const MECHANISMS: &[&[u8]] = &[
        b"PLAIN",
        b"LOGIN",
        b"CRAM-MD5",
        b"DIGEST-MD5",
        b"NTLM",
        b"GSSAPI",
        b"EXTERNAL",
        b"ANONYMOUS",
        b"XOAUTH2",
        b"OAUTHBEARER",
        b"SCRAM-SHA-1",
        b"SCRAM-SHA-256",
    ];
    lname.ends_with(b"auth") && MECHANISMS.iter().any(|m| value.eq_ignore_ascii_case(m))
}

/// Whether `value`, given to a name ending in `auth` (in lower case, `lname`), is an email
/// address: whom a message is sent on behalf of (curl's `--mail-auth user@example.com`, SMTP's
/// `AUTH=<address>`), not a secret. An address and a password run together
/// (`user@example.com:VALUE`) is none.
pub(super) fn address_for_auth(lname: &[u8], value: &[u8]) -> bool {
    let Some(at) = value.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&value[..at], &value[at + 1..]);
    let labels = || domain.split(|&b| b == b'.');
    lname.ends_with(b"auth")
        && !local.is_empty()
        && local
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && labels().count() >= 2
        && labels()
            .all(|l| !l.is_empty() && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels()
            .next_back()
            .is_some_and(|tld| tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
}

/// Whether `value`, given to a name ending in `mnemonic` (in lower case, `lname`), starts
/// otherwise than a wallet's seed phrase, whose words are in lower case: prose's memory aid,
/// capitalised or quoted (`(mnemonic: Bracelets can be viewed Backwards …)`, psql's
/// `(mnemonic: “external servers”)`).
pub(super) fn memory_aid(lname: &[u8], value: &[u8]) -> bool {
    lname.ends_with(b"mnemonic") && !value.first().is_some_and(u8::is_ascii_lowercase)
}
