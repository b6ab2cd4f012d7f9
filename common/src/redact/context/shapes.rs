//! Shapes of values that are code or a name rather than a secret: words run together, paths
//! in code, a setting's path, a header's name, arithmetic, a sentence, a literal of code.
//! [`super::values::plausible_in`] asks them after a secret's name.

use super::Strength;
use super::values::trim_value;

/// Whether `p` is an identifier: a letter or `_` first, then letters, digits and `_`.
fn identifier(p: &[u8]) -> bool {
    p.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && p.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Whether `v` is a path in code: a field path (`args.token`, `self.config.api_key`,
/// `os.environ`, `settings.CLIENT_SECRET`, TypeScript's `process.env.JWT_SECRET!`), an object's
/// name then fields or constants, with no digit but after the object itself
/// (`self.G2_node_order.__getitem__`); or a class's attribute (`ApiGatewayApiKey.resource_type`),
/// words run together then fields in lower case.
pub(super) fn code_path(v: &[u8]) -> bool {
    let path = v.strip_suffix(b"!").unwrap_or(v);
    let Some(&first) = path.first() else {
        return false;
    };
    let own = [&b"self."[..], b"cls.", b"this."]
        .iter()
        .any(|o| path.starts_with(o));
    if path.contains(&b'.')
        && (first.is_ascii_lowercase() || first == b'_')
        && path.split(|&b| b == b'.').all(identifier)
        && (own || !path.iter().any(u8::is_ascii_digit))
    {
        return true;
    }
    path.iter().position(|&b| b == b'.').is_some_and(|dot| {
        capitalised_words(&path[..dot])
            && first.is_ascii_uppercase()
            && path[dot + 1..]
                .split(|&b| b == b'.')
                .all(|f| !f.is_empty() && f.iter().all(|b| b.is_ascii_lowercase() || *b == b'_'))
    })
}

/// Whether `v` is two or more capitalised words run together (`DescribeLoadBalancers`,
/// `GetSecretValue`, or after a lower-case one, `describeCacheClusters`): an identifier (an API's action, a type), where a service's name is
/// followed by one (IAM's `elasticloadbalancing:DescribeLoadBalancers` for Elastic's row): a
/// capital and lower-case letters, each word. A random key of letters is seldom so: two
/// capitals in a row, or one at its end, break it.
pub(crate) fn capitalised_words(v: &[u8]) -> bool {
    // The first word may be in lower case (`describeCacheClusters`).
    let mut i = v.iter().take_while(|b| b.is_ascii_lowercase()).count();
    let mut words = usize::from(i >= 2);
    if i == 1 {
        return false;
    }
    while i < v.len() {
        if !v[i].is_ascii_uppercase() {
            return false;
        }
        let lower = v[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        if lower < 1 {
            return false;
        }
        words += 1;
        i += 1 + lower;
    }
    words >= 2
}

/// Whether `v` reads as a sentence: six words or more, and two or more of prose's short words
/// with a point that ends a sentence, or three without.
pub(super) fn sentence(v: &[u8]) -> bool {
    const PROSE: &[&[u8]] = &[
        b"a", b"an", b"the", b"of", b"for", b"to", b"is", b"are", b"this", b"and", b"or", b"with",
        b"in", b"on", b"be", b"if", b"when", b"whether",
    ];
    let words = v.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let prose = words
        .clone()
        .filter(|w| PROSE.iter().any(|p| w.eq_ignore_ascii_case(p)))
        .count();
    // (A value's last point may have been trimmed with its quote: then three such words.)
    let point = v.ends_with(b".") || memchr::memmem::find(v, b". ").is_some();
    words.count() >= 6 && prose >= if point { 2 } else { 3 }
}

/// Whether a token family's value is a literal of code rather than a value (`pwd=None,` for
/// ODBC's row in a function's signature).
pub(crate) fn code_literal(v: &[u8]) -> bool {
    let v = trim_value(v).to_ascii_lowercase();
    matches!(
        v.as_slice(),
        b"none" | b"null" | b"nil" | b"undefined" | b"true" | b"false"
    )
}

/// Whether `v` is an identifier, alone or at the end of a path of identifiers, that names a
/// secret by its parts (`Ed25519PublicKey`, `win32api.RegEnumKey`, `PythonTokenTypes.ERRORTOKEN`):
/// one of several parts (words run together, or joined by `_`), or the end of a path.
pub(super) fn names_its_kind(v: &[u8]) -> bool {
    let mut segs = v.rsplit(|&b| b == b'.');
    let Some(last) = segs.next() else {
        return false;
    };
    let path = v.len() > last.len();
    let parts = last.contains(&b'_')
        || last
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    identifier(last)
        && segs.all(identifier)
        && (path || parts)
        && super::names::classify(last).is_some()
}

/// Whether `v` is three or more capitalised words run together, the first perhaps in lower
/// case (`EmrManagedMasterSecurityGroup`, `terminateBlueInstancesOnDeploymentSuccess`): a
/// field's or an action's name. All but one of its words have three letters or more, which random
/// letters that happen to alternate in case (`QwErTyUi…`) do not.
pub(super) fn words_run_together(v: &[u8]) -> bool {
    if !capitalised_words(v) {
        return false;
    }
    let (mut words, mut short, mut at) = (0, 0, 0);
    while at < v.len() {
        let len = 1 + v[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        words += 1;
        short += usize::from(len < 3);
        at += len;
    }
    words >= 3 && short <= 1
}

/// Whether `v` is a setting's dotted path of three names or more, each a word in lower case
/// or in camelCase (`fs.s3.consistent`, `fs.s3.cse.kms.keyId`): digits only in a short name
/// (`s3`, `ec2`, `k8s`) or at a name's end, as words have them, not inside a long one as a
/// password's pieces do (`s3cr3tv4lue`); each capital followed by a lower-case letter, which
/// random pieces (a token's) seldom keep to.
pub(super) fn setting_path(v: &[u8]) -> bool {
    let segs: Vec<&[u8]> = v.split(|&b| b == b'.').collect();
    segs.len() >= 3
        && v.len() <= 128
        && segs.iter().all(|g| {
            let digits_inside = g
                .iter()
                .skip_while(|b| !b.is_ascii_digit())
                .any(|b| b.is_ascii_alphabetic());
            let humps = g
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .all(|(i, _)| g.get(i + 1).is_some_and(u8::is_ascii_lowercase));
            g.first().is_some_and(u8::is_ascii_lowercase)
                && g.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && humps
                && (g.len() <= 3 || !digits_inside)
        })
}

/// Whether `v` is the name of a CORS or an authentication header (`Access-Control-Allow-
/// Credentials`, `Proxy-Authorization`, `WWW-Authenticate`): two words or more of those
/// headers, capitalised, joined by `-`. A passphrase of other words joined so is a value.
pub(super) fn header_name(v: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"access",
        b"control",
        b"allow",
        b"expose",
        b"credentials",
        b"headers",
        b"methods",
        b"origin",
        b"request",
        b"max",
        b"age",
        b"proxy",
        b"authorization",
        b"authenticate",
        b"www",
    ];
    let mut words = v.split(|&b| b == b'-');
    v.contains(&b'-')
        && words.all(|w| {
            w.first().is_some_and(u8::is_ascii_uppercase)
                && WORDS.iter().any(|k| w.eq_ignore_ascii_case(k))
        })
}

/// Whether a value is arithmetic in code: a number literal, then operators (`*`, `/`, `+`,
/// `-`) between numbers and lower-case names, one name at least and one `*` or `/` at least
/// (`100000.0/first_set_max_id`, `2.0*total_len/num_keys`, `1.5e-3*self.ratio`). What tells
/// it from a key:
/// * a decimal fraction first (base64 has no `.`), or else, after a weak name only, a name
///   with `_` or `.` (`8*key_len`; standard base64 has neither, URL-safe base64 no `*` or
///   `/`); after a strong name an integer first is a value (`2*n2x` could be a password);
/// * a `*` or `/`: `4820-ab12-cd34` is a key in groups, not a subtraction.
pub(super) fn arithmetic(v: &[u8], strength: Strength) -> bool {
    // A number literal's length at `v[at..]`: digits, a fraction, an exponent; and whether it
    // has a fraction or an exponent.
    let number = |at: usize| {
        let digits = |from: usize| v[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut n = digits(at);
        if n == 0 {
            return (0, false);
        }
        let mut decimal = false;
        if v.get(at + n) == Some(&b'.') && digits(at + n + 1) > 0 {
            n += 1 + digits(at + n + 1);
            decimal = true;
        }
        if matches!(v.get(at + n), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(v.get(at + n + 1), Some(b'+' | b'-')));
            let e = digits(at + n + 1 + sign);
            if e > 0 {
                n += 1 + sign + e;
                decimal = true;
            }
        }
        (n, decimal)
    };
    // A lower-case name's length at `v[at..]`, members after `.` included (`self.ratio`).
    let name = |at: usize| {
        let mut n = 0;
        loop {
            let start = at + n;
            if !v
                .get(start)
                .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_')
            {
                return if n == 0 { 0 } else { n - 1 }; // (the `.` before it is no part)
            }
            n += v[start..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'_')
                .count();
            if v.get(at + n) != Some(&b'.') {
                return n;
            }
            n += 1;
        }
    };
    let (mut at, decimal) = number(0);
    if at == 0 || strength == Strength::Strong && !decimal {
        return false;
    }
    let (mut names, mut code_names, mut times) = (0, 0, false);
    while at < v.len() {
        if !matches!(v[at], b'*' | b'/' | b'+' | b'-') {
            return false;
        }
        times |= matches!(v[at], b'*' | b'/');
        at += 1;
        let (n, _) = number(at);
        let len = if n > 0 { n } else { name(at) };
        if len == 0 {
            return false;
        }
        if n == 0 {
            names += 1;
            code_names += usize::from(v[at..at + len].iter().any(|b| b"_.".contains(b)));
        }
        at += len;
    }
    times && names > 0 && (decimal || code_names > 0)
}

/// Whether the unquoted value `line[v..end]` is the variable its name passes on: an identifier
/// the same as the name's last piece, after `=` or `: ` (`elasticsearch_version=
/// elasticsearch_version,`, `self.settings = settings`, `user.password_reset_required =
/// password_reset_required`), with code or nothing after it. A secret is not spelled like the
/// name it is given to; a default password that is (`password=password`) tells no one anything.
pub(crate) fn passed_under_its_own_name(line: &[u8], v: usize, end: usize) -> bool {
    // (A value's run may take in the `)` or `,` after it: `open(member, pwd=pwd)`. Only
    // those: `pwd=pwd,Hunter2` is a value.)
    let cut = v + line[v..end]
        .iter()
        .position(|b| matches!(b, b')' | b','))
        .unwrap_or(end - v);
    if !line[cut..end]
        .iter()
        .all(|b| matches!(b, b')' | b',' | b';'))
    {
        return false;
    }
    let end = cut;
    let value = &line[v..end];
    if !identifier(value) || v == 0 || matches!(line[v - 1], b'"' | b'\'' | b'`') {
        return false;
    }
    if !line
        .get(end)
        .is_none_or(|b| matches!(b, b',' | b')' | b';' | b'}' | b' ' | b'\n' | b'\r'))
    {
        return false;
    }
    let before = line[..v].trim_ascii_end();
    let Some(before) = before
        .strip_suffix(b"=")
        .or_else(|| before.strip_suffix(b":"))
        .map(<[u8]>::trim_ascii_end)
    else {
        return false;
    };
    let start = before
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(0, |p| p + 1);
    &before[start..] == value
}

/// Whether `v` is a name in lower-case words joined by `-` or `_` (`elastic-load-balancing`,
/// `elasticbeanstalk_plugin`): two words or more, letters only, each of three letters or more
/// but one. A service's key is random; the words name the service or a part of it.
pub(crate) fn words_joined(v: &[u8]) -> bool {
    let words: Vec<&[u8]> = v.split(|&b| b == b'-' || b == b'_').collect();
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.iter().all(u8::is_ascii_lowercase))
        && words.iter().filter(|w| w.len() < 3).count() <= 1
}

/// Whether `v` is a style of words and colours, as syntax highlighters give a token type
/// (pygments' `Token.Comment: "italic #A3AAB2"`, `"bg:#ff0000 #ffffff"`): items between blanks,
/// each a lower-case word of style or a colour (`#` and three or six hex digits, maybe after
/// `bg:` or `border:`), one colour at least.
pub(super) fn style(v: &[u8]) -> bool {
    let colour = |c: &[u8]| {
        let hex = c
            .strip_prefix(b"bg:")
            .or_else(|| c.strip_prefix(b"border:"))
            .unwrap_or(c)
            .strip_prefix(b"#");
        hex.is_some_and(|h| matches!(h.len(), 3 | 6) && h.iter().all(u8::is_ascii_hexdigit))
    };
    let mut colours = 0;
    let all = v.split(|&b| b == b' ').all(|item| {
        if colour(item) {
            colours += 1;
            true
        } else {
            !item.is_empty() && item.len() <= 12 && item.iter().all(u8::is_ascii_lowercase)
        }
    });
    all && colours > 0
}
