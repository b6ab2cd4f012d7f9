//! Values: whether what follows a secret's name could be a secret, rather than code, a type,
//! a placeholder, a quantity or prose.

use super::Strength;
use super::shapes::{
    arithmetic, capitalised_words, code_path, header_name, names_its_kind, sentence, setting_path,
    style, words_run_together,
};
use super::types::TYPE_WORDS;

/// `v` without trailing punctuation that closes the surrounding code (`x),`, `y];`).
pub(super) fn trim_value(v: &[u8]) -> &[u8] {
    // A signature's end after a default or a type: Python's `def f(secret=None):`,
    // TypeScript's `(password: string): void`.
    let v = match v {
        [rest @ .., b')' | b']' | b'}', b':'] => &v[..rest.len() + 1],
        _ => v,
    };
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b',' | b'|' | b')' | b']' | b'}' | b';' | b'.'))
        .map_or(0, |p| p + 1);
    &v[..end]
}

/// Units a size is given in after its number (`16-bytes`, `32bytes`, `64-chars`).
const SIZE_UNITS: &[&[u8]] = &[
    b"byte",
    b"bytes",
    b"bit",
    b"bits",
    b"char",
    b"chars",
    b"characters",
    b"digits",
    b"words",
];

/// Placeholder and code words that are never a secret.
pub(super) const WORDS: &[&[u8]] = &[
    b"null",
    b"none",
    // Ansible's mask for a `no_log` value.
    b"value_specified_in_no_log_parameter",
    b"nil",
    b"true",
    b"false",
    // A setting's state (`PasswordAutoFill=Enabled`, `password_login=disabled`), a password's
    // as tools print it (`Password: Not set`, `password: Locked`).
    b"enabled",
    b"disabled",
    b"on",
    b"off",
    b"yes",
    b"no",
    b"not",
    b"set",
    b"locked",
    b"unlocked",
    b"unchanged",
    // A package's architecture (`dpkg -l`'s `libsecret-1-0:amd64`).
    b"amd64",
    b"arm64",
    b"i386",
    b"armhf",
    b"armel",
    b"ppc64el",
    b"s390x",
    b"x86_64",
    b"aarch64",
    // A scheme of authentication named as a value (`Auth: OAuth2`, `auth = SigV4`).
    b"oauth1",
    b"oauth2",
    b"sigv4",
    b"aws4-hmac-sha256",
    b"kerberos5",
    b"ed25519",
    b"wpa2-psk",
    b"wpa3-sae",
    b"scram-sha-1",
    b"scram-sha-256",
    // SASL's mechanisms (D-Bus' `<auth>EXTERNAL</auth>`, `sasl_mechanism: GSSAPI`), and how
    // systemd-networkd makes an IPv6 address (`Token=eui64`).
    b"external",
    b"anonymous",
    b"dbus_cookie_sha1",
    b"gssapi",
    b"cram-md5",
    b"digest-md5",
    b"xoauth2",
    b"oauthbearer",
    b"eui64",
    b"prefixstable",
    // What `systemd-creds` seals a credential with (`--with-key=tpm2`).
    b"tpm2",
    b"host+tpm2",
    // What a check or a change gives back (`Password: Accepted`, `Secret: Created`).
    b"created",
    b"generated",
    b"changed",
    b"accepted",
    b"rejected",
    b"pending",
    b"approved",
    b"verified",
    b"valid",
    b"weak",
    b"strong",
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
    // A field that does not apply (moto's `secretArn="not applicable"`).
    b"not applicable",
    b"n/a",
    b"default",
    b"env",
    b"environ",
    b"getenv",
    b"process.env",
    // A sentence's first word after a label in a docstring (`password: The password part of
    // the URL.`, `GetPassWarning: When we were unable …`).
    b"the",
    b"when",
    b"that",
    b"if",
    // A flag named in prose (`the --username and --password options`).
    b"option",
    b"options",
    b"flag",
    b"flags",
    b"argument",
    b"arguments",
];

/// A text's encoding as code names it, in lower case (`password.encode("latin1")`); in
/// capitals after a strong name it may be a value, as any code in capitals and digits may.
const ENCODINGS: &[&[u8]] = &[
    b"ascii",
    b"latin1",
    b"latin-1",
    b"utf8",
    b"utf-8",
    b"utf-16",
    b"cp1252",
    b"iso-8859-1",
];

/// Whether `v` (a token or a value) is a documentation example or a placeholder in a token's
/// shape: AWS's published example keys (`AKIAIOSFODNN7EXAMPLE`, `…/bPxRfiCYEXAMPLEKEY`), or a
/// prefix and then one letter x repeated (`ghp_xxxx…`, `sk_test_XXXX…`). No random key ends
/// so.
pub(crate) fn placeholder(v: &[u8]) -> bool {
    if v.ends_with(b"EXAMPLE") || v.ends_with(b"EXAMPLEKEY") {
        return true;
    }
    // A test vector of one or two repeated characters (`AAAA…`, `AAAA…BBBB`, `0000…`).
    if v.len() >= 16 {
        let first = v[0];
        let other = v.iter().find(|&&b| b != first).copied().unwrap_or(first);
        if v.iter().all(|&b| b == first || b == other) {
            return true;
        }
    }
    let xs = v
        .iter()
        .rev()
        .take_while(|&&b| b == b'x' || b == b'X')
        .count();
    xs >= 12 && v.len() - xs <= 12
}

/// Whether CamelCase `v` is a placeholder's filler (`YourPassword`, `MyTokenHere`,
/// `ReplaceMe`): never a secret, in whatever place.
fn filler(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    lower.starts_with(b"your")
        || lower.ends_with(b"here")
        || matches!(
            lower.as_slice(),
            b"replaceme" | b"changeme" | b"changethis" | b"secretpassword" | b"mypassword"
        )
}

/// Whether a value is a secret generated from every printable character (WordPress' keys and
/// salts, `x#4>kP9!qL2@mN8&rT1*wY5^zB3(cF6)`): 16 bytes or more, letters and digits, and four or
/// more different symbols that code and prose do not string together. Its brackets and blanks
/// are characters, not a call or words.
pub(super) fn symbol_salad(v: &[u8]) -> bool {
    const SYMBOLS: &[u8] = b"!#$%&*+<>?@^|~";
    let seen = v
        .iter()
        .filter_map(|b| SYMBOLS.iter().position(|s| s == b))
        .fold(0u16, |m, i| m | 1 << i);
    v.len() >= 16
        && seen.count_ones() >= 4
        && v.iter().any(u8::is_ascii_digit)
        && v.iter().any(u8::is_ascii_alphabetic)
}

/// Whether a quoted value led by a symbol is a password rather than a template, a variable or a
/// placeholder (`"!Q2w#E4rT5"`, `"*Secret123x"`): the symbol is none that opens one (`{`, `$`,
/// `(`, `[`, `:`, `<`; `#{`, `%(`, `%NAME%`, Perl's `@array` or `@ARRAY`, a query's `?`), nor a mask's
/// `***`, and letters and digits follow, seven bytes or more. (Unquoted, such a value is code
/// or a comment.)
pub(super) fn symbol_led(v: &[u8]) -> bool {
    let [first, rest @ ..] = v else {
        return false;
    };
    if !matches!(first, b'!' | b'#' | b'%' | b'&' | b'*' | b'=' | b'?' | b'@') {
        return false;
    }
    let identifier = rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    // Perl's arrays are named in lower case or in capitals (`@args`, `@ARGV`); a password may
    // be `@Secret123x`.
    let mixed_case =
        rest.iter().any(u8::is_ascii_uppercase) && rest.iter().any(u8::is_ascii_lowercase);
    rest.len() >= 7
        && rest.iter().any(u8::is_ascii_digit)
        && rest.iter().any(u8::is_ascii_alphabetic)
        && !rest.contains(&b'{')
        && !(*first == b'%' && (rest.starts_with(b"(") || rest.ends_with(b"%")))
        && !(*first == b'@' && identifier && !mixed_case)
        && !(*first == b'?' && rest.contains(&b'='))
        && !v.windows(3).any(|w| w == b"***")
}

/// Whether a value could be a secret rather than code, a type, a placeholder or prose.
pub(crate) fn plausible(v: &[u8], strength: Strength) -> bool {
    plausible_in(v, strength, true)
}

/// A date written with slashes, day or month first and the year last (`1/2/2024`,
/// `12/01/2026`, PowerShell's `PasswordLastSet : 12/1/2026 10:22:01 AM`), alone.
fn slashed_date(v: &[u8]) -> bool {
    let mut parts = v.split(|&b| b == b'/');
    let mut part = |most: usize| {
        parts
            .next()
            .is_some_and(|p| (1..=most).contains(&p.len()) && p.iter().all(u8::is_ascii_digit))
    };
    v.len() <= 10
        && part(2)
        && part(2)
        && v.len() >= 8
        && v[v.len() - 5] == b'/'
        && part(4)
        && parts.next().is_none()
}

/// A setting's choices, lower-case words of up to eight letters between `|` (`true|false`,
/// `yes|no`, `on|off`), as a configuration file's comment documents them.
fn choices(v: &[u8]) -> bool {
    v.contains(&b'|')
        && v.split(|&b| b == b'|')
            .all(|w| (1..=8).contains(&w.len()) && w.iter().all(u8::is_ascii_lowercase))
}

/// A version, `v` and numbers apart by dots (`v1`, `v2.3.1`): an API's or a secret's
/// version given where its value could stand (`token: v1`).
fn version(v: &[u8]) -> bool {
    v.len() >= 2
        && v[0] == b'v'
        && v[1..]
            .split(|&b| b == b'.')
            .all(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// An SSH key's file name as `ssh-keygen` gives it, a suffix allowed (`id_ed25519`,
/// `id_rsa.pub`, `id_ed25519_deploy`, `id_ecdsa_sk`): what a key's setting names.
fn ssh_key_file(v: &[u8]) -> bool {
    let Some(rest) = v.strip_prefix(b"id_") else {
        return false;
    };
    [&b"ed25519"[..], b"ecdsa", b"rsa", b"dsa"]
        .iter()
        .find_map(|k| rest.strip_prefix(*k))
        .is_some_and(|tail| {
            tail.is_empty()
                || matches!(tail[0], b'_' | b'.' | b'-')
                    && tail[1..]
                        .iter()
                        .all(|b| b.is_ascii_lowercase() || matches!(b, b'_' | b'.' | b'-'))
        })
}

/// [`plausible`], where `typed` says whether a type may stand in the value's place: where none
/// can ([`type_place`](super::types::type_place): after an environment's name, a flag or `=`
/// with no blank; in quotes or at a line's end unless its last word is a type's), words in
/// CamelCase are a value someone chose (`DB_PASSWORD=CorrectHorseBatteryStaple`), not a type name (`token: SecretString`).
pub(crate) fn plausible_in(v: &[u8], strength: Strength, typed: bool) -> bool {
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
    let date = |d: &[u8]| {
        d.len() >= 10 && d[4] == b'-' && d[7] == b'-' && {
            [0, 1, 2, 3, 5, 6, 8, 9]
                .iter()
                .all(|&i| d[i].is_ascii_digit())
        }
    };
    // A date or a time stamp (`gh secret list`'s `API_TOKEN  2024-05-01T…`), a version, an SSH
    // key's file name, a setting's choices.
    if date(v) || slashed_date(v) || version(v) || ssh_key_file(v) || choices(v) {
        return false;
    }
    // (OpenSSL's `-pass file:PATH` too.)
    if v.starts_with(b"file:") || v.starts_with(b"fileb://") {
        return false; // a file the value is read from (the AWS CLI's `--value file://pw.txt`)
    }
    // After a weak name, an HTTP header's name (`TOKEN_HEADER = "X-aws-ec2-metadata-token"`,
    // `X-Api-Key`): words and hyphens after `X-`, each word letters with a few digits at most.
    if strength == Strength::Weak
        && (v.starts_with(b"X-") || v.starts_with(b"x-"))
        && v[2..].split(|&b| b == b'-').all(|w| {
            !w.is_empty()
                && w.iter().all(u8::is_ascii_alphanumeric)
                && w.iter().filter(|b| b.is_ascii_digit()).count() <= 2
                && w.len() <= 16
        })
    {
        return false;
    }
    if v.starts_with(b"arn:") {
        return false; // a resource's name, a secret's too (`"SecretARN": "arn:aws:…"`)
    }
    // Another variable's or constant's name that names a secret (`password=KEY_PASSWORD`).
    if v.contains(&b'_')
        && v[0].is_ascii_uppercase()
        && v.iter().all(|b| b.is_ascii_uppercase() || *b == b'_')
        && super::names::classify(v).is_some()
    {
        return false;
    }
    // After a weak name, a key's name in lower case that names a secret (`ADMIN_HASH_KEY =
    // "admin_token_sha256"`, a setting's key): a key's value has no such parts.
    if strength == Strength::Weak
        && v.contains(&b'_')
        && v[0].is_ascii_lowercase()
        && v.iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && super::names::classify(v).is_some()
    {
        return false;
    }
    // A member of another value that names a secret (`colon2_token: node.colon2_token,`,
    // `password: config.db_password`): a path of lower-case names, no secret's value.
    if v.contains(&b'.')
        && v.split(|&b| b == b'.').all(|seg| {
            seg.first()
                .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_')
                && seg
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        })
        && v.rsplit(|&b| b == b'.')
            .next()
            .is_some_and(|last| super::names::classify(last).is_some())
    {
        return false;
    }
    // After a weak name, code and grammar: a tuple's field (`inside_key = tuple.0;`), an ABNF
    // repetition (`token = 1*tchar`, RFC 9110's).
    if strength == Strength::Weak {
        let field = v.iter().position(|&b| b == b'.').is_some_and(|d| {
            d >= 1
                && v[..d]
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
                && v[0].is_ascii_lowercase()
                && d + 1 < v.len()
                && v[d + 1..].iter().all(u8::is_ascii_digit)
        });
        let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
        // (`1*<any CHAR …>` ends the value at its `<`.)
        let abnf = v.get(digits) == Some(&b'*')
            && v[digits + 1..]
                .iter()
                .all(|b| b.is_ascii_lowercase() || *b == b'-');
        if field || abnf {
            return false;
        }
    }
    // (K3s' join token, `K10<hash>::server:…` or `::node:…`, is a value.)
    let k3s = v.starts_with(b"K10")
        && [&b"::server:"[..], b"::node:"]
            .iter()
            .any(|m| memchr::memmem::find(v, m).is_some());
    if !k3s
        && !symbol_salad(v)
        && (v.contains(&b'(') || v.contains(&b'[') || v.windows(2).any(|w| w == b"::"))
    {
        return false; // a call, a subscript or a path (`os.environ['X']`, `Foo::new`)
    }
    if v.windows(3).any(|w| w == b"***") || v.windows(2).any(|w| w == b"{{") {
        return false; // masked (`ab***yz`) or a template
    }
    let lower = v.to_ascii_lowercase();
    if WORDS.contains(&lower.as_slice())
        || ENCODINGS.contains(&v)
        || lower.starts_with(b"[redacted]")
        || placeholder(v)
    {
        return false;
    }
    // A placeholder in an example file: `your-api-key-here`, `your_session_secret`,
    // `set-me-here`, `replace-me`.
    if lower
        .iter()
        .all(|b| b.is_ascii_lowercase() || *b == b'-' || *b == b'_')
        && (lower.starts_with(b"your-")
            || lower.starts_with(b"your_")
            // In capitals too: `--default-key YOURKEY`, `YOUR_API_KEY`.
            || lower.starts_with(b"your") && lower.len() >= 7 && v.iter().all(|b| !b.is_ascii_lowercase())
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
                    // A manual's (`mysqladmin -u root password new-password`).
                    | b"new-password"
                    | b"new_password"
                    | b"old-password"
                    | b"old_password"
            ))
    {
        return false;
    }
    // A short lowercase word (`password: the …`, `token = args`).
    if v.len() <= 5 && v.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    // A small count (`"github_token": 2` in a table of rule hits), with its sign too
    // (`self._tokenStartLine = -1`); four digits can be a PIN.
    let unsigned = v.strip_prefix(b"-").or(v.strip_prefix(b"+")).unwrap_or(v);
    if !unsigned.is_empty() && unsigned.len() <= 3 && unsigned.iter().all(u8::is_ascii_digit) {
        return false;
    }
    // A negative number: a constant (`errSSLServerAuthCompleted = -9841`), which no PIN is.
    if let Some(n) = v.strip_prefix(b"-")
        && (1..=19).contains(&n.len())
        && n.iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if arithmetic(v, strength) {
        return false;
    }
    // A number literal with Rust's type suffix (`9104u32`, `-1i64`, `0x7FFF_u16`, `1.5f32`).
    const SUFFIXES: &[&[u8]] = &[
        b"i8", b"i16", b"i32", b"i64", b"i128", b"isize", b"u8", b"u16", b"u32", b"u64", b"u128",
        b"usize", b"f32", b"f64",
    ];
    if let Some(n) = SUFFIXES.iter().find_map(|x| unsigned.strip_suffix(*x)) {
        let n = n.strip_suffix(b"_").unwrap_or(n);
        let hex = n.strip_prefix(b"0x").or(n.strip_prefix(b"0X"));
        let digits = match hex {
            Some(h) => !h.is_empty() && h.iter().all(|b| b.is_ascii_hexdigit() || *b == b'_'),
            None => {
                n.first().is_some_and(u8::is_ascii_digit)
                    && n.iter().all(|b| b.is_ascii_digit() || b"_.".contains(b))
            }
        };
        if digits {
            return false;
        }
    }
    // A constant in code written in hexadecimal (`DEVSTAT_TYPE_PASS = 0x100,`, `PreSharedKey =>
    // 0x0029,`): 32 bits at most; a secret in hexadecimal is longer.
    if let Some(h) = v.strip_prefix(b"0x").or(v.strip_prefix(b"0X"))
        && (1..=8).contains(&h.len())
        && h.iter().all(u8::is_ascii_hexdigit)
    {
        return false;
    }
    // A generic function's type parameter (`fn password<T>(&mut self, password: T)`): one
    // capital letter hides nothing worth hiding.
    if matches!(v, [b'A'..=b'Z']) {
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
        if humps >= 1 && v[1..].iter().any(u8::is_ascii_lowercase) && (typed || filler(v)) {
            return false;
        }
    }
    // After a weak name, a path of type names (`DefaultClusterParameters.Marker`, a
    // paginator's token in an API's model): capitalised segments of letters, one of them
    // words run together. (After a strong one, `Settings.ClientSecretXyz` stays a value.)
    if strength == Strength::Weak && v.contains(&b'.') {
        let mut segs = v.split(|&b| b == b'.');
        let typed = segs.clone().all(|g| {
            g.first().is_some_and(u8::is_ascii_uppercase)
                && g.iter().all(u8::is_ascii_alphabetic)
                && g[1..].iter().any(u8::is_ascii_lowercase)
        });
        if typed && segs.any(capitalised_words) {
            return false;
        }
    }
    // After a weak name, a type or a constant that names such a secret itself, alone or at
    // the end of a module's or a class's path (`private_key: PKCS7PrivateKeyTypes`,
    // `public_key: ed25519.Ed25519PublicKey`, `OID_CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH`):
    // code, where a key's value would be random.
    if strength == Strength::Weak && names_its_kind(v) {
        return false;
    }
    // A field path in code, or a class's attribute; an HTTP header's name; a highlighter's
    // style (`Token.Comment: "italic #A3AAB2"`).
    if code_path(v) || header_name(v) || style(v) {
        return false;
    }
    if strength == Strength::Weak {
        // A field's documentation in an API's model (`"ApiKeyRequired": "Requires an API key
        // for this API, path, and method."`): a sentence of six words or more, with a point
        // and words of prose.
        if sentence(v) {
            return false;
        }
        // Words with blanks between and no digit: a table's description of the name (`| API_KEY
        // | Your API key from the dashboard |`).
        if v.contains(&b' ') && !v.iter().any(u8::is_ascii_digit) {
            return false;
        }
        // After a weak name a plain word is prose or code (`auth: enabled`, `api_key: Config`);
        // keys have digits, symbols or length.
        if alpha && v.len() < 16 {
            return false;
        }
        // Keys have digits; a value without one is a word, an identifier or a setting
        // (`"sort_key": "created_at"`), unless it is long and mixed-case.
        let mixed = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
        // (Words run together are a field's name, `EmrManagedMasterSecurityGroup`.)
        if !(v.iter().any(u8::is_ascii_digit) || mixed && v.len() >= 24 && !words_run_together(v)) {
            return false;
        }
        // A setting's dotted path (`fs.s3.consistent`, `fs.s3.cse.kms.keyId`).
        if setting_path(v) {
            return false;
        }
        if matches!(first, b'/' | b'~') || v.starts_with(b"./") || v.starts_with(b"../") {
            return false; // a path to a key file
        }
        if v.iter().all(u8::is_ascii_digit) && v.len() < 8 {
            return false;
        }
        // A code or a label in capitals and digits, eight bytes at most: a character set, an
        // algorithm, a curve (`('XKB_KEYS', 'LATIN1')`, `HS256`, `X25519`).
        if v.len() <= 8
            && v.iter().any(u8::is_ascii_uppercase)
            && v.iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return false;
        }
        // A size (`length of a salt: 16-bytes`, `token: 32bytes`): digits and a unit.
        if let Some(d) = v.iter().position(|b| !b.is_ascii_digit())
            && d > 0
            && SIZE_UNITS.contains(&&v[d + usize::from(v[d] == b'-')..])
        {
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
        // A version, an address or an object identifier (`serverAuth = "1.3.6.1.5.5.7.3.1"`):
        // numbers joined by two points or more.
        if v.iter().filter(|&&b| b == b'.').count() >= 2
            && v.split(|&b| b == b'.')
                .all(|g| (1..=3).contains(&g.len()) && g.iter().all(u8::is_ascii_digit))
        {
            return false;
        }
    }
    true
}

/// Whether `v`, an item of a list after a secret's name, is plausible: as [`plausible`], and
/// after a weak name (`auth = [`, `test_keys = [`) not a number literal of code
/// (`0x1111111111111111`) and not short (`"base64"`, a Cargo feature's).
pub(super) fn plausible_item(v: &[u8], strength: Strength) -> bool {
    let number = v.len() > 2
        && (v.starts_with(b"0x") || v.starts_with(b"0X"))
        && v[2..].iter().all(|b| b.is_ascii_hexdigit() || *b == b'_');
    plausible(v, strength) && (strength == Strength::Strong || v.len() >= 12 && !number)
}

/// Whether a URL's user (`https://USER@host`) is a token rather than a user's name: 20 bytes or
/// more of a token's alphabet, with digits or in mixed case (`git`, `deploy`, `jane.doe` are
/// names; a classic GitHub token is 40 hex digits).
pub(crate) fn token_as_user(user: &[u8]) -> bool {
    user.len() >= 20
        && user
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && plausible(user, Strength::Weak)
}
