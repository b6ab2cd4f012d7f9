//! Logins a summary gives as a user and a password split by a slash: after `credentials
//! are`, a `Login:` label, a link (`Grafana: http://localhost:3000 (admin / …)`) or a
//! service's label (`Postgres: postgres / …`); and the `Username / Password` label before a
//! value.

use super::names::Strength;
use super::{Found, blanks, bold_word, code_span, line_start, quoted_or_word, value};

/// A user and a password split by a slash between blanks at `w` (`admin / …`, `` `admin` /
/// `…` ``), as summaries give them after `credentials are` or a `Login:` label: the password's
/// extent. The user's name is in lower case (`Google / GitHub` are choices, not credentials),
/// each part a code span, a quoted word or a word; after `credentials:` (`any_case`) the user's
/// name may be in any case.
pub(super) fn user_slash_password(line: &[u8], w: usize, any_case: bool) -> Option<(usize, usize)> {
    user_slash_pair(line, w, any_case).map(|(_, password)| password)
}

/// A byte of a user's name as summaries give it: lower case, digits, `.`, `_`, `@`, `-`.
fn login_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b)
}

/// [`user_slash_password`] with the user's extent too: `((user), (password))`.
fn user_slash_pair(
    line: &[u8],
    w: usize,
    any_case: bool,
) -> Option<((usize, usize), (usize, usize))> {
    let user = |b: &u8| login_byte(*b) || any_case && b.is_ascii_uppercase();
    let (u, ue, after) = match code_span(line, w) {
        Some((a, b)) => (a, b, b + 1),
        None if let Some((a, b)) = bold_word(line, w) => (a, b, b + 2),
        None => {
            let e = w + line[w..]
                .iter()
                .position(|b| !user(b))
                .unwrap_or(line.len() - w);
            (w, e, e)
        }
    };
    if ue == u || !line[u..ue].iter().all(user) || !line[after..].starts_with(b" / ") {
        return None;
    }
    let v = blanks(line, after + 3);
    Some((
        (u, ue),
        code_span(line, v)
            .or_else(|| bold_word(line, v))
            .unwrap_or_else(|| quoted_or_word(line, v)),
    ))
}

/// The password after a `Login` label at `hit` (`Login: admin / …`, `**Login:** admin / …`,
/// `- **Login**: `admin` / `…``), judged as after a strong name: the slash between a user's
/// name and a value is the label's whole content.
pub(super) fn login_label(line: &[u8], hit: usize) -> Option<Found> {
    if !line[hit..].starts_with(b"Login")
        || hit > 0 && (line[hit - 1].is_ascii_alphanumeric() || line[hit - 1] == b'_')
    {
        return None;
    }
    let mut p = hit + 5;
    p += usize::from(line[p..].starts_with(b"**")) * 2;
    if line.get(p) != Some(&b':') {
        return None;
    }
    p += 1;
    p += usize::from(line[p..].starts_with(b"**")) * 2;
    let w = blanks(line, p);
    if w == p {
        return None;
    }
    let (a, b) = user_slash_password(line, w, false)?;
    value(line, hit, a, b, Strength::Strong, b"password", false)
}

/// The password's end of a `user / password` pair a summary gives ([`user_slash_pair`]'s
/// extents), if the pair is a login's: the word cut where a JSON escape's backslash starts (in
/// raw stream-json a `\n` may follow it) and before closing punctuation (`closers`), the user
/// in lower case with no version's digits (an address may hold some), the password six bytes
/// or more and no plain lower-case word (`(dev / prod builds)`, `(frontend / backend)`).
fn login_pair(
    line: &[u8],
    (u, ue): (usize, usize),
    (a, mut b): (usize, usize),
    closers: &[u8],
) -> Option<usize> {
    if let Some(p) = memchr::memchr(b'\\', &line[a..b]) {
        b = a + p;
    }
    while b > a && closers.contains(&line[b - 1]) {
        b -= 1;
    }
    let user = &line[u..ue];
    let password = &line[a..b];
    ((!user.iter().any(u8::is_ascii_digit) || user.contains(&b'@'))
        && password.len() >= 6
        && !password.iter().all(u8::is_ascii_lowercase))
    .then_some(b)
}

/// Where what follows the value `line[a..b]` starts: past the quote or backtick that closes it,
/// if one opened it.
fn closing(line: &[u8], a: usize, b: usize) -> usize {
    if a >= 2 && line[..a].ends_with(b"**") && line[b..].starts_with(b"**") {
        return b + 2;
    }
    b + usize::from(
        matches!(line.get(b), Some(b'`' | b'\'' | b'"')) && a > 0 && line[a - 1] == line[b],
    )
}

/// Whether the value `line[a..b]` ends its sentence and its line: only closing punctuation
/// and blanks up to the line's break, an escaped one (`\n`, in raw stream-json), or the end
/// of the JSON string that holds it. (In a view of stream-json, the escaped breaks are real
/// ones, and the text's next lines follow.)
fn ends_line(line: &[u8], a: usize, b: usize) -> bool {
    let after = &line[closing(line, a, b)..];
    let tail = &after[after
        .iter()
        .position(|b| !b".,;!".contains(b))
        .unwrap_or(after.len())..];
    tail.iter()
        .find(|&&b| !b.is_ascii_whitespace() || b == b'\n')
        .is_none_or(|&b| b == b'\n')
        || tail.starts_with(b"\\n")
        || tail.first() == Some(&b'"')
}

/// What may come between a link and the user of a `user / password` pair after it
/// (`http://localhost:3000 (admin / …)`, `… — minioadmin / …`, `… and log in with admin / …`).
/// (The longer of two that start alike first.)
const AFTER_LINK: &[&[u8]] = &[
    b" (login: ",
    b" (login ",
    b" (",
    " \u{2014} ".as_bytes(),
    " \u{2013} ".as_bytes(),
    b" - ",
    b" with ",
    b" using ",
    b" and log in with ",
    b" and sign in with ",
    b" and login with ",
    b", login ",
];

/// The password of a user and a password after a link, as a summary gives a service it set
/// up (`Grafana: http://localhost:3000 (admin / …)`, `MinIO: http://localhost:9001 —
/// minioadmin / …`), `hit` at the link's `://`. Judged as after a strong name, but only a
/// pair that ends its parenthesis, its sentence or its line, whose user is a login (lower
/// case; no version's digits) and whose password is no plain word (`(frontend / backend)`,
/// `(dev / prod builds)` are choices).
pub(super) fn pair_after_link(line: &[u8], hit: usize) -> Option<Found> {
    let rest = line.get(hit + 3..)?;
    let url_end = hit
        + 3
        + rest
            .iter()
            .position(|b| b.is_ascii_whitespace() || b"\"'<>`),".contains(b))
            .unwrap_or(rest.len());
    let gap = AFTER_LINK.iter().find(|g| line[url_end..].starts_with(g))?;
    let w = url_end + gap.len();
    let ((u, ue), (a, b)) = user_slash_pair(line, w, false)?;
    let b = login_pair(line, (u, ue), (a, b), b")].,;!")?;
    // The pair ends the parenthesis it opened, or its sentence and its line.
    let ends = if gap.contains(&b'(') {
        line.get(closing(line, a, b)) == Some(&b')')
    } else {
        ends_line(line, a, b)
    };
    if !ends {
        return None;
    }
    value(line, hit, a, b, Strength::Strong, b"password", false)
}

/// Services (and the words for one) whose login a summary gives after the name as a label:
/// `Postgres: postgres / …`, `- **pgAdmin**: admin@example.com / …`.
const SERVICE_LABELS: &[&[u8]] = &[
    b"admin",
    b"adminer",
    b"airflow",
    b"argocd",
    b"cassandra",
    b"clickhouse",
    b"couchdb",
    b"database",
    b"db",
    b"elasticsearch",
    b"gitea",
    b"grafana",
    b"harbor",
    b"influxdb",
    b"jenkins",
    b"keycloak",
    b"kibana",
    b"mariadb",
    b"metabase",
    b"minio",
    b"mongo",
    b"mongodb",
    b"mssql",
    b"mysql",
    b"neo4j",
    b"nexus",
    b"opensearch",
    b"pgadmin",
    b"phpmyadmin",
    b"portainer",
    b"postgres",
    b"postgresql",
    b"rabbitmq",
    b"redis",
    b"sonarqube",
    b"superset",
];

/// The password of a user and a password given after a service's label, as a summary lists
/// what it set up: `Postgres: postgres / …`, `- **pgAdmin**: admin@example.com / …`, `hit` at
/// the ` / `. The label starts its line or list item (a JSON string's too) and holds a
/// service's name ([`SERVICE_LABELS`]), in three words at most; the user is a login (lower
/// case, no version's digits); the password is no plain word (`Mode: debug / Release`, `DB:
/// reads / writes`) and ends its line.
pub(super) fn pair_after_label(line: &[u8], hit: usize) -> Option<Found> {
    const REACH: usize = 64;
    let floor = hit.saturating_sub(REACH);
    // The user before the slash: a code span, a word in bold, or a login's bytes.
    let w = if hit > 0 && line[hit - 1] == b'`' {
        floor + memchr::memrchr(b'`', &line[floor..hit - 1])?
    } else if hit >= 4 && line[..hit].ends_with(b"**") {
        floor + memchr::memmem::rfind(&line[floor..hit - 2], b"**")?
    } else {
        let mut w = hit;
        while w > floor && login_byte(line[w - 1]) {
            w -= 1;
        }
        w
    };
    let ((u, ue), (a, b)) = user_slash_pair(line, w, false)?;
    if ue != hit && ue + 1 != hit && ue + 2 != hit {
        return None;
    }
    // A sentence that says what the pair is for: `Log in with admin / …`.
    let lead = LOG_IN_WITH.iter().find_map(|l| {
        w.checked_sub(l.len())
            .filter(|&a| line[a..w].eq_ignore_ascii_case(l))
    });
    let start = match lead {
        Some(start) => start,
        None => label_start(line, w, floor)?,
    };
    let b = login_pair(line, (u, ue), (a, b), b".,;!")?;
    let password = &line[a..b];
    if password[0].is_ascii_uppercase() && password[1..].iter().all(u8::is_ascii_lowercase)
        || !ends_line(line, a, b)
    {
        return None;
    }
    value(line, start, a, b, Strength::Strong, b"password", false)
}

/// What a sentence says before a user and a password it gives (`Log in with admin / …`,
/// `You can now sign in with …`): no label or link is needed after it.
const LOG_IN_WITH: &[&[u8]] = &[b"log in with ", b"sign in with ", b"login with "];

/// Where the label of a service ends before the user at `w`, as [`pair_after_label`] takes it
/// (`Label: `, `**Label**: `, `**Label:** `, a service's name in it, starting its line or its
/// list item): the label's start.
fn label_start(line: &[u8], w: usize, floor: usize) -> Option<usize> {
    let mut p = w;
    while p > floor && line[p - 1] == b' ' {
        p -= 1;
    }
    if p == w {
        return None;
    }
    let strip_bold = |p: usize| p - 2 * usize::from(line[..p].ends_with(b"**"));
    p = strip_bold(p);
    if p == 0 || line[p - 1] != b':' {
        return None;
    }
    let end = strip_bold(p - 1);
    let mut start = end;
    while start > end.saturating_sub(40)
        && (line[start - 1].is_ascii_alphanumeric() || line[start - 1] == b' ')
    {
        start -= 1;
    }
    let (mut words, mut service) = (0, false);
    for word in line[start..end]
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
    {
        words += 1;
        service |= SERVICE_LABELS.iter().any(|s| word.eq_ignore_ascii_case(s));
    }
    if words > 3 || !service {
        return None;
    }
    // The label starts its line or list item.
    let blanks_off = |v: &'_ [u8]| -> usize {
        v.len()
            - v.iter()
                .rev()
                .take(64)
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count()
    };
    let before = &line[..blanks_off(&line[..start])];
    let before = before.strip_suffix(b"**").unwrap_or(before);
    let before = &before[..blanks_off(before)];
    let item = before.is_empty()
        || before.ends_with(b"\\n")
        || before.ends_with("\u{2022}".as_bytes())
        || matches!(before.last(), Some(b'\n' | b'-' | b'*' | b'"' | b'|'))
        || before.ends_with(b".")
            && before[..before.len() - 1]
                .last()
                .is_some_and(u8::is_ascii_digit);
    item.then_some(start)
}

/// Whether the ` / ` at `hit` is a service's label's user and password (see
/// [`pair_after_label`]).
pub(crate) fn pair_after_label_at(line: &[u8], hit: usize) -> bool {
    // (A bounded look: every ` / ` of a line of megabytes asks.)
    let reach = &line[hit..line.len().min(hit + 512)];
    let end = memchr::memchr(b'\n', reach).map_or(hit + reach.len(), |p| hit + p);
    pair_after_label(&line[..end], hit).is_some()
}

/// Whether the link at `hit` (its `://`) has a user and a password after it (see
/// [`pair_after_link`]).
pub(crate) fn pair_after_link_at(line: &[u8], hit: usize) -> bool {
    // (A bounded look: every link of a line of megabytes asks.)
    let reach = &line[hit..line.len().min(hit + 1024)];
    let end = memchr::memchr(b'\n', reach).map_or(hit + reach.len(), |p| hit + p);
    memchr::memmem::find(&line[hit + 3..end], b" / ").is_some()
        && pair_after_link(&line[..end], hit).is_some()
}

/// Where a user's name starts when it and a slash come before the name at `s` (`Username /
/// Password`, `User/Password`, `Login / password`).
pub(super) fn user_before_slash(line: &[u8], s: usize) -> Option<usize> {
    let start = line_start(line, s);
    let before = line[start..s].trim_ascii_end().strip_suffix(b"/")?;
    let before = before.trim_ascii_end();
    [&b"username"[..], b"user", b"login"].iter().find_map(|w| {
        let at = before.len().checked_sub(w.len())?;
        (before[at..].eq_ignore_ascii_case(w)
            && !before[..at].last().is_some_and(|&b| super::name_byte(b)))
        .then_some(start + at)
    })
}

/// Whether a summary's `Login:` label at `hit` gives a user and a password (`admin / …`).
pub(crate) fn login_label_at(line: &[u8], hit: usize) -> bool {
    // (A bounded look: every `Login` of a line of megabytes asks.)
    let reach = &line[hit..line.len().min(hit + 512)];
    let end = memchr::memchr(b'\n', reach).map_or(hit + reach.len(), |p| hit + p);
    login_label(&line[..end], hit).is_some()
}

/// Whether the name at `s` is in Markdown's bold: `**Password**`, or `**Username / Password**`
/// with the bold opened before the user's name.
pub(super) fn bold_label(line: &[u8], s: usize) -> bool {
    super::bold_before(line, s)
        || user_before_slash(line, s).is_some_and(|u| super::bold_before(line, u))
}
