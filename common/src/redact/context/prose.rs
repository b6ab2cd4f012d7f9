//! Secrets given in sentences and labels of text rather than by an assignment: a sentence that
//! names a password and gives it after a colon (MySQL's `A temporary password is generated for
//! root@localhost: …`), one that sets it (`I set the password to …`, as Claude reports what
//! it did), `The password is …`, and a numbered label (Vault's `Unseal Key 1: …`).

use super::names::{Strength, eq_any};
use super::phrases::quoted_phrase;
use super::{Found, Named, blanks, code_span, emphasized_word, line_start, quoted_or_word, value};

/// The prose forms after the name `n` with no operator after it: `Some` when one of them is
/// there (`Some(None)`: its value is none, and no other form is tried), `None` when none is.
pub(super) fn after_name(n: Named) -> Option<Option<Found>> {
    let Named {
        line,
        s,
        e,
        p,
        q,
        strength,
        lname,
    } = n;
    // Elasticsearch's `elasticsearch-setup-passwords auto`: `PASSWORD elastic = VALUE`, one
    // line for each built-in user (at a line's start, or a JSON string's).
    if &line[s..e] == b"PASSWORD"
        && (s == line_start(line, s) || line[..s].ends_with(b"\""))
        && let Some(f) = setup_password(line, s, e)
    {
        return Some(Some(f));
    }
    // `elasticsearch-reset-password`'s `Password for the [elastic] user successfully reset.`
    // in a view of a tool's output, `New value: …` on the next line (the raw stream's lines
    // are read in `Redactor::lines`).
    if let Some((v, end)) = super::new_value_after_reset(line, s) {
        return Some(value(line, s, v, end, Strength::Strong, lname, false));
    }
    // A summary's arrow or dash: `Root password → `…``, `Admin password — `…``, `Password
    // updated → …`, judged as prose (`token → access_token`, a rename, and `Password —
    // required` stay).
    // (A word that says what was done may come before it: `Password updated → …`.)
    const DONE: &[&[u8]] = &[
        b"updated",
        b"changed",
        b"reset",
        b"set",
        b"rotated",
        b"generated",
        b"regenerated",
        b"created",
    ];
    let arrow = DONE
        .iter()
        .find(|d| {
            line.get(q..q + d.len() + 1)
                .is_some_and(|w| w[..d.len()].eq_ignore_ascii_case(d) && w[d.len()] == b' ')
        })
        .map_or(q, |d| q + d.len() + 1);
    let sign = ["→ ", "— ", "– "]
        .into_iter()
        .find(|a| line[arrow..].starts_with(a.as_bytes()));
    if q == p + 1
        && let Some(sign) = sign
    {
        let (v, end, after) = word_ending_line(line, blanks(line, arrow + sign.len()), b".,;)\"");
        return Some(if after {
            value(line, s, v, end, Strength::Weak, lname, true)
        } else {
            None
        });
    }
    // The value before its name: `Use `…` as the password.`, `Enter '…' as your password`.
    if let Some(f) = given_before(line, s, e, lname) {
        return Some(Some(f));
    }
    // A sentence that names a password and gives it after a colon: `A temporary password
    // is generated for root@localhost: …` (MySQL), `Your password is: …`.
    if let Some(f) = sentence_label(line, s, e, lname, strength) {
        return Some(Some(f));
    }
    // The same sentence ending its line in a view of a tool's output, its value alone on the
    // next line (the raw stream's lines are read in `Redactor::lines`).
    if strength == Strength::Strong
        && let Some((v, end)) = super::alone_after_sentence(line, s)
        && let Some(f) = value(line, s, v, end, Strength::Weak, lname, true)
    {
        return Some(Some(f));
    }
    // A Redis hash's field alone on its line in a view of a tool's output, its value alone
    // on the next (the raw stream's lines are read in `Redactor::lines`).
    if let Some((v, end)) = super::alone_after_name(line, s, e, strength)
        && let Some(f) = value(line, s, v, end, strength, lname, false)
    {
        return Some(Some(f));
    }
    // Logs and prose: `Using API key …`, `Using token … for auth`, `connecting with password
    // …`, `I'll use the password …`: `using`, `use` or `with` before the name (an article
    // between), the next word its value, judged as after a weak name (`using token
    // authentication`, `with password protection` stay).
    if q == p + 1 && using_before(line, s) {
        let (v, end) = code_span(line, q).unwrap_or_else(|| quoted_or_word(line, q));
        let strength = judged_as(line, v, end, lname);
        return Some(value(line, s, v, end, strength, lname, false));
    }
    // A password ending its line after a comma or a word for its kind, with no colon: `Admin
    // user: admin@example.com, password …`, `Temporary password …` (judged as prose: a plain
    // word stays, as do more words after it, `Initial password policy`).
    // (`password` or `passphrase` only: `, pass -fprofile…` is a verb's.)
    if q == p + 1 && matches!(lname, b"password" | b"passphrase") && kind_before(line, s) {
        let (v, end, ends) = word_ending_line(line, q, b".,;!)");
        if ends && end > v {
            let strength = judged_as(line, v, end, lname);
            return Some(value(line, s, v, end, strength, lname, true));
        }
    }
    // Claude's prose quoting a value it found, judged as after a weak name: a code span or a
    // quoted word right after the name (`the API key `…` in config.py`, `the hardcoded password
    // "…" on line 12`), or after a few words and `is`, `is set to`, `appears to be` (`The
    // database password appears to be `…``, `The password for the admin user is ….`).
    if line[s] != b'-'
        && let Some(f) = quoted_after(line, s, e, lname)
    {
        return Some(Some(f));
    }
    // Prose: `Changed the root password from `…` to `…``: the old value, judged as the new
    // one is below (the new one after it is the change's, `lists::changed_to`).
    if q == p + 1 && line[q..].starts_with(b"from ") && set_before(line, s) {
        let w = blanks(line, q + 5);
        let (v, end) = code_span(line, w).unwrap_or_else(|| quoted_or_word(line, w));
        let closed = end + usize::from(v > w && matches!(line.get(end), Some(b'`' | b'\'' | b'"')));
        if line[closed..].starts_with(b" to ") {
            let strength = judged_as(line, v, end, lname);
            return Some(value(line, s, v, end, strength, lname, true));
        }
    }
    // Prose: `I set the password to …`, `changed the admin password to `…``: a verb that
    // sets it a few words before the name, the value judged as prose (`to expire`, `to
    // something stronger` stay). Whose it is may come between (`Setting password for user
    // 'admin' to '…'`).
    if q == p + 1
        && let Some(to) = to_after(&line[q..])
        && set_before(line, s)
    {
        let w = blanks(line, q + to);
        let (v, end) = code_span(line, w).unwrap_or_else(|| quoted_or_word(line, w));
        let strength = judged_as(line, v, end, lname);
        return Some(value(line, s, v, end, strength, lname, true));
    }
    // Prose: `The admin password has been reset to …`, `password was changed to '…'`: the
    // verb after the name, the value judged as prose.
    if q == p + 1
        && let Some(to) = changed_after(&line[q..])
    {
        let w = blanks(line, q + to);
        let (v, end) = code_span(line, w).unwrap_or_else(|| quoted_or_word(line, w));
        return Some(value(line, s, v, end, Strength::Weak, lname, true));
    }
    // Prose: `The password is …` — judged as after a weak name, so that `is required`,
    // `is expired` and `is 32 characters long` stay.
    // (`Your API key is: …` too, a label's colon after `is`.)
    // (`The credentials are …` too, a plural's `are`.)
    let is = if line[q..].starts_with(b"is: ") || line[q..].starts_with(b"are ") {
        4
    } else {
        3
    };
    if q == p + 1 && (line[q..].starts_with(b"is ") || is == 4) {
        let w = blanks(line, q + is);
        // Credentials given as `user / password` (`The default credentials are `admin` /
        // `…``): the password, its sentence ending after it.
        let pair = lname
            .starts_with(b"credential")
            .then(|| super::logins::user_slash_password(line, w, false))
            .flatten();
        let bold = emphasized_word(line, w);
        let (mut v, end) = match pair {
            Some((a, b)) => (a, b),
            None => code_span(line, w)
                .or(bold)
                .unwrap_or_else(|| quoted_or_word(line, w)),
        };
        let opened = match pair {
            Some((a, _)) => line[a - 1] == b'`' || line[a - 1] == b'"' || line[a - 1] == b'\'',
            None => v > w,
        };
        let strength = match pair {
            Some(_) => Strength::Strong,
            None => Strength::Weak,
        };
        // Credentials given as `user:password`: the password.
        if lname.starts_with(b"credential")
            && let Some(c) = memchr::memchr(b':', &line[v..end])
            && line[v..v + c]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        {
            v += c + 1;
        }
        // Past the code span's, the bold's or the quotes' closing bytes.
        let closed = if pair.is_none()
            && let Some((a, _)) = bold
        {
            end + (a - w)
        } else {
            end + usize::from(opened && matches!(line.get(end), Some(b'`' | b'\'' | b'"')))
        };
        let after = line.get(closed..).unwrap_or_default();
        // The sentence ends: punctuation or nothing to the line's end, or the JSON string
        // that holds it (a tool's output in stream-json).
        let tail = after
            .iter()
            .position(|b| !b".,;!)".contains(b))
            .map_or(&after[after.len()..], |i| &after[i..]);
        let json = line[..s].contains(&b'"');
        let ends = tail.first() == Some(&b'"') && json
            || after
                .iter()
                .take_while(|b| !matches!(b, b'\n' | b'\r'))
                .all(|b| b.is_ascii_whitespace() || b".,;!'\")".contains(b))
            // In a view the next line of a tool's output may follow (see `sentence_label`).
            || json && tail.first() == Some(&b' ') && no_word(&line[v..end])
            // The sentence goes on after a dash, a comma, a semicolon or a bracket (`The token
            // is … — keep it safe.`): a value of letters and digits mixed.
            || [&b", "[..], b" \xe2\x80\x94 ", b" \xe2\x80\x93 ", b" - ", b"; ", b" ("]
                .iter()
                .any(|p| after.starts_with(p))
                && mixed_token(&line[v..end]);
        return Some(if ends {
            value(line, s, v, end, strength, lname, false)
        } else {
            None
        });
    }
    None
}

/// Whether `v` is a token of letters and digits mixed (two of each or more, ten bytes or
/// more, no blank), no word joined to it (`RS256-signed`, `v2-compatible`).
pub(super) fn mixed_token(v: &[u8]) -> bool {
    let count = |f: fn(&u8) -> bool| v.iter().filter(|b| f(b)).count();
    (10..=200).contains(&v.len())
        && v.iter().all(u8::is_ascii_graphic)
        && count(u8::is_ascii_digit) >= 2
        && count(u8::is_ascii_alphabetic) >= 2
        && !v
            .split(|b| b"-_./".contains(b))
            .any(|w| w.len() >= 4 && w.iter().all(u8::is_ascii_lowercase))
}

/// The value of a sentence that names a password at `s..e` and ends in `: VALUE`: a few plain
/// words between (`for root@localhost`, `is`, `for the elastic built-in superuser is`), then
/// the colon, then one word to the line's end or to the end of the JSON string that holds it.
/// Judged as prose: a lower-case word (`password reset for user: bob`) is none.
///
/// After a weaker name (a token, a key), only a sentence that says it was made (`Your API
/// token has been generated: …`, `New deploy token created: …`), or a value shaped like a
/// token ([`mixed_token`]): a service's note to keep a new one, commas and full stops and all
/// (`Make sure to copy your personal access token now. You won't be able to see it again:
/// …`, `Copy this token now, it won't be shown again: …`).
fn sentence_label(
    line: &[u8],
    s: usize,
    e: usize,
    lname: &[u8],
    strength: Strength,
) -> Option<Found> {
    const MOST_WORDS: usize = 14;
    const MADE: &[&[u8]] = &[
        b"generated",
        b"created",
        b"issued",
        b"regenerated",
        b"rotated",
    ];
    let mut at = e;
    // Whether the words are more than a plain label's: punctuation, an apostrophe, many.
    let mut sentence = false;
    // (The name's clause may end at a comma or a full stop: `Your token, shown once: …`.)
    if matches!(line.get(at), Some(b',' | b'.' | b';' | b'!')) && line.get(at + 1) == Some(&b' ') {
        at += 1;
        sentence = true;
    }
    let mut words = 0;
    let mut made = false;
    // The last word before the colon: what the value is (`New version id: …`).
    let mut last = at..at;
    while line.get(at) == Some(&b' ') {
        let w = at + 1;
        // Words of a sentence: an apostrophe in them (`won't`, `won’t`), punctuation after
        // them or a bracket around them.
        let end = w + line[w..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b"@._-',;!()".contains(&b) || b >= 0x80))
            .unwrap_or(line.len() - w);
        if end == w {
            break;
        }
        made |= eq_any(&line[w..end], MADE);
        sentence |= line[w..end]
            .iter()
            .any(|b| !(b.is_ascii_alphanumeric() || b"@._-".contains(b)));
        words += 1;
        last = w..end;
        if words > MOST_WORDS {
            return None;
        }
        at = end;
    }
    // `… superuser is : VALUE`
    if line[at..].starts_with(b" :") {
        at += 1;
    }
    if words == 0 || line.get(at) != Some(&b':') || line.get(at + 1) != Some(&b' ') {
        return None;
    }
    let w = blanks(line, at + 1);
    // In raw stream-json (a bounded look back: every hit of a line of megabytes asks).
    let json = line.first() == Some(&b'{')
        || memchr::memrchr(b'"', &line[s.saturating_sub(super::COMMAND_REACH)..s]).is_some();
    let (v, mut end) = quoted_or_word(line, w);
    if v == w && line.get(w) != Some(&b'`') {
        // A generated password holds any symbol (MySQL's temporary root password,
        // `k7#Qm2;Xp9vL`): unquoted (and not a code span), the value runs to a blank.
        end += line[end..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || json && b == b'"')
            .unwrap_or(line.len() - end);
    }
    let closed = end + usize::from(v > w && matches!(line.get(end), Some(b'\'' | b'"')));
    let rest = &line[closed..];
    // Nothing after the value but the JSON string's end. Inside a JSON string (a tool's output
    // in stream-json) an escaped line break reads as a blank, so more text may follow there:
    // then only a value no word is (a digit or a symbol in it) counts. (Only blanks before the
    // line's break are read: every hit of a line of megabytes asks.)
    let blank_to_break = rest
        .iter()
        .find(|&&b| !b.is_ascii_whitespace() || b == b'\n' || b == b'\r')
        .is_none_or(|&b| b == b'\n' || b == b'\r');
    let ends = blank_to_break
        || json && rest.starts_with(b"\"")
        || json && rest.starts_with(b" ") && no_word(&line[v..end]);
    // After a sentence, only a token's shape; after a label, a password's value or a made one.
    // (A sentence that ends naming another thing gives that: `Secret rotated. New version
    // id: …`, `… found a token, see advisory: …`.)
    const OTHER: &[&[u8]] = &[
        b"id",
        b"version",
        b"advisory",
        b"name",
        b"fingerprint",
        b"hash",
        b"digest",
        b"commit",
        b"url",
        b"arn",
        b"path",
        b"file",
        b"type",
        b"header",
        b"expiry",
        b"date",
    ];
    let plain = !sentence && words <= 8 && (strength == Strength::Strong || made);
    if !ends || eq_any(&line[last], OTHER) || !plain && !mixed_token(&line[v..end]) {
        return None;
    }
    value(line, s, v, end, Strength::Weak, lname, true)
}

/// Whether the value `line[v..end]` after a colon is the first word of a sentence that goes
/// on (`They do not have to be secret: IVs are typically …`, `shares a secret: The sender,
/// …`, a comment's `# passwd.expire.cron: sample expiry …`): a word, a blank, a lower-case
/// word.
pub(super) fn sentence_goes_on(line: &[u8], v: usize, end: usize) -> bool {
    line[v..end].iter().all(u8::is_ascii_alphabetic)
        && line.get(end) == Some(&b' ')
        && line.get(end + 1).is_some_and(u8::is_ascii_lowercase)
}

/// Whether the name at `s`, just after a quote that opens a message, names a parameter and the
/// message says what is wrong with it (`TypeError("pwd: expected bytes, got %s")`,
/// `expected_msg = "pwd: expected bytes, got str"`): the quote comes after `(` or `=` (not a
/// JSON value's, whose text may print a password), and the word after the colon is one of an
/// error message's, with a sentence going on after it.
pub(super) fn message_about_a_parameter(line: &[u8], s: usize, v: usize, end: usize) -> bool {
    const WORDS: &[&[u8]] = &[
        b"expected",
        b"must",
        b"should",
        b"cannot",
        b"invalid",
        b"missing",
        b"required",
        b"not",
        b"unknown",
        b"unsupported",
        b"empty",
    ];
    s >= 1
        && matches!(line[..s - 1].trim_ascii_end().last(), Some(b'(' | b'='))
        && eq_any(&line[v..end], WORDS)
        && sentence_goes_on(line, v, end)
}

/// Whether one of the three words before `s` (in the same sentence) sets what follows:
/// `set`, `changed`, `reset`, `updated`, `rotated` and their forms.
fn set_before(line: &[u8], s: usize) -> bool {
    const VERBS: &[&[u8]] = &[
        b"set",
        b"sets",
        b"setting",
        b"change",
        b"changed",
        b"changes",
        b"changing",
        b"reset",
        b"resets",
        b"resetting",
        b"update",
        b"updated",
        b"updates",
        b"updating",
        b"rotate",
        b"rotated",
        b"rotates",
        b"rotating",
    ];
    let from = line_start(line, s);
    line[from..s]
        .split(|&b| b == b' ')
        .rev()
        .filter(|w| !w.is_empty())
        .take(4)
        .take_while(|w| !w.ends_with(b".") && !w.ends_with(b":"))
        .any(|w| {
            // (The first word of a JSON string: `"command":"Setting`.)
            let w = w.rsplit(|&b| b == b'"').next().unwrap_or(w);
            eq_any(&w.to_ascii_lowercase(), VERBS)
        })
}

/// After a name, `to `, or whose it is and `to ` (`for user 'admin' to `): where the value
/// starts, relative to `rest`.
fn to_after(rest: &[u8]) -> Option<usize> {
    if rest.starts_with(b"to ") {
        return Some(3);
    }
    if !rest.starts_with(b"for ") {
        return None;
    }
    owner_clause(rest, &[b"to "], &[]).map(|i| i + 3)
}

/// After a name, `has been reset to `, `was changed to `, `is now set to `, `set to ` (an
/// auxiliary or none, a verb that sets, `to`), or the same after whose it is (`for user
/// 'admin' set to `, `for root has been reset to `): where the value starts, relative to
/// `rest`.
fn changed_after(rest: &[u8]) -> Option<usize> {
    const AUX: &[&[u8]] = &[
        b"has been ",
        b"have been ",
        b"was ",
        b"were ",
        b"is now ",
        b"is ",
    ];
    const VERBS: &[&[u8]] = &[b"reset", b"changed", b"set", b"updated", b"rotated"];
    let owner = owner_clause(rest, AUX, VERBS);
    let r = &rest[owner.unwrap_or(0)..];
    // (A script's or a log's report needs none: `root password set to …`.)
    let aux = AUX.iter().find(|a| r.starts_with(a)).map_or(0, |a| a.len());
    let verb = VERBS.iter().find(|v| r[aux..].starts_with(v))?.len();
    r[aux + verb..]
        .starts_with(b" to ")
        .then_some(owner.unwrap_or(0) + aux + verb + 4)
}

/// `for user 'admin' `, `for root@localhost `: `for` and one to three words, each no
/// sentence's end, then one of `next` (an auxiliary or a verb): where that starts.
fn owner_clause(rest: &[u8], aux: &[&[u8]], verbs: &[&[u8]]) -> Option<usize> {
    let mut i = rest.strip_prefix(b"for ").map(|_| 4)?;
    for _ in 0..3 {
        let w = rest[i..].iter().take_while(|&&b| b != b' ').count();
        let word = &rest[i..i + w];
        if w == 0 || w > 64 || word.ends_with(b",") || word.ends_with(b".") || word.ends_with(b":")
        {
            return None;
        }
        i += w + 1;
        let r = rest.get(i..)?;
        if aux.iter().chain(verbs).any(|a| r.starts_with(a)) {
            return Some(i);
        }
    }
    None
}

/// Whether `v` is no word of prose: 8 bytes or more, letters with a digit or a symbol.
fn no_word(v: &[u8]) -> bool {
    v.len() >= 8
        && v.iter().any(|b| !b.is_ascii_alphabetic())
        && v.iter().any(u8::is_ascii_alphabetic)
}

/// A name numbered before its colon (`Unseal Key 1: VALUE`): `q` at the number.
pub(super) fn numbered_label(
    line: &[u8],
    s: usize,
    q: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    let digits = line[q..].iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) || line[q + digits..].get(..2) != Some(b": ") {
        return None;
    }
    let (v, end) = quoted_or_word(line, blanks(line, q + digits + 2));
    value(line, s, v, end, strength, lname, false)
}

/// The word that ends `before` (letters), and where it starts.
fn last_word(before: &[u8]) -> (&[u8], usize) {
    let w = before
        .iter()
        .rposition(|b| !b.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    (&before[w..], w)
}

/// Whether the word before the name at `s` is `using`, `use` or `with`, in any case, an
/// article between (`use the password …`), or `and` after a user given so (`with username
/// admin and password …`), or a comma after a user (`user admin, password …`).
fn using_before(line: &[u8], s: usize) -> bool {
    let Some(before) = line[..s].strip_suffix(b" ") else {
        return false;
    };
    let users: &[&[u8]] = &[b"username", b"user", b"login", b"email", b"account"];
    // A user given first and a comma: `user admin, password …`.
    if let Some(list) = before.strip_suffix(b",") {
        let mut words = list.rsplit(|&b| b == b' ');
        let (name, user) = (words.next(), words.next());
        return name.is_some_and(|n| !n.is_empty() && n.len() <= 64)
            && user.is_some_and(|u| eq_any(u, users));
    }
    let articles: &[&[u8]] = &[b"the", b"a", b"an", b"this", b"that", b"your", b"my"];
    let (mut word, mut w) = last_word(before);
    // (A word that qualifies the name may come between the article and it: `use the API
    // token …`, `the admin password`.)
    if !eq_any(word, articles)
        && !word.is_empty()
        && let Some(b) = before[..w].strip_suffix(b" ")
        && eq_any(last_word(b).0, articles)
    {
        (word, w) = last_word(b);
    }
    if eq_any(word, articles)
        && let Some(b) = before[..w].strip_suffix(b" ")
    {
        word = last_word(b).0;
    }
    if eq_any(word, &[b"and"]) {
        // A user given first: `log in with username admin and password …`.
        let words: Vec<&[u8]> = before[..w]
            .trim_ascii_end()
            .rsplit(|&b| b == b' ')
            .take(4)
            .collect();
        let by = |w: &[u8]| eq_any(w, &[b"using", b"use", b"with"]);
        return words.len() >= 3
            && eq_any(words[1], users)
            && (by(words[2])
                || words.len() == 4
                    && eq_any(words[2], &[b"the", b"a", b"an", b"your"])
                    && by(words[3]));
    }
    eq_any(word, &[b"using", b"use", b"used", b"with"])
}

/// The word, quoted word or code span at `w` (its quotes left out) and whether only blanks and
/// bytes of `punctuation` follow it (past its closing quote) to the line's end, or, in a line
/// of stream-json, to the end of the JSON string that holds it (Claude's text).
fn word_ending_line(line: &[u8], w: usize, punctuation: &[u8]) -> (usize, usize, bool) {
    let (v, end) = code_span(line, w).unwrap_or_else(|| quoted_or_word(line, w));
    let closed = end + usize::from(v > w && matches!(line.get(end), Some(b'`' | b'"' | b'\'')));
    let rest = line[closed..]
        .iter()
        .take_while(|b| !matches!(b, b'\n' | b'\r'));
    let alone = rest
        .clone()
        .all(|b| b.is_ascii_whitespace() || punctuation.contains(b))
        || line.first() == Some(&b'{')
            && rest
                .clone()
                .find(|&&b| b == b'"' || !(b == b' ' || punctuation.contains(&b)))
                == Some(&b'"');
    (v, end, alone)
}

/// Whether a comma or a word for a password's kind comes right before the name at `s`
/// (`…, password`, `Temporary password`).
fn kind_before(line: &[u8], s: usize) -> bool {
    if line[..s].ends_with(b", ") {
        return true;
    }
    let Some(b) = line[..s].strip_suffix(b" ") else {
        return false;
    };
    let w = b
        .iter()
        .rposition(|c| !c.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    eq_any(
        &b[w..],
        &[
            b"temporary",
            b"initial",
            b"generated",
            b"default",
            b"random",
            b"new",
        ],
    )
}

/// See [`after_name`]: the value Claude's prose quotes after the name at `s..e`.
fn quoted_after(line: &[u8], s: usize, e: usize, lname: &[u8]) -> Option<Found> {
    const MOST_WORDS: usize = 5;
    // Past the name's closing backtick or quote (`` `DB_PASSWORD` is set to … ``).
    let mut at = e + usize::from(matches!(line.get(e), Some(b'`' | b'"' | b'\'')));
    let mut words = 0;
    let mut copula = false;
    // A colon after a few words (`… in config.py: `VALUE``): a quoted value follows.
    let mut label = false;
    loop {
        if line.get(at) != Some(&b' ') {
            return None;
        }
        let w = at + 1;
        if matches!(line.get(w), Some(b'`' | b'"' | b'(')) {
            break;
        }
        // A word, or a file's name (`config.py`, `settings/prod.py`) before a colon.
        let end = w + line[w..]
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(line.len() - w);
        let path = end
            + line[end..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || b"._/-".contains(b)))
                .unwrap_or(line.len() - end);
        if words > 0 && line.get(path) == Some(&b':') {
            label = true;
            at = path + 1;
            break;
        }
        let word = &line[w..end];
        if word.is_empty() {
            return None;
        }
        if eq_any(word, &[b"is", b"was", b"are"]) {
            copula = true;
            at = end;
            for follow in [&b" set to"[..], b" now"] {
                if line[at..].starts_with(follow) {
                    at += follow.len();
                }
            }
            break;
        }
        if eq_any(word, &[b"appears", b"seems"]) && line[end..].starts_with(b" to be") {
            copula = true;
            at = end + 6;
            break;
        }
        words += 1;
        if words > MOST_WORDS {
            return None;
        }
        at = end;
    }
    if line.get(at) != Some(&b' ') {
        return None;
    }
    let w = at + 1;
    let (v, end, quoted) = match line.get(w) {
        Some(b'`') => {
            let (v, end) = code_span(line, w)?;
            (v, end, true)
        }
        Some(b'"') => {
            let end = w + 1 + line[w + 1..].iter().position(|&b| b == b'"')?;
            (w + 1, end, true)
        }
        // In parentheses right after the name (`The API key (VALUE) is …`), a code span
        // there too.
        Some(b'(') if words == 0 && !copula => {
            let (v, end) = code_span(line, w + 1).unwrap_or_else(|| {
                let end = w + 1 + line[w + 1..].iter().position(|&b| b == b')').unwrap_or(0);
                (w + 1, end)
            });
            let close = end + usize::from(line.get(end) == Some(&b'`'));
            if line.get(close) != Some(&b')') {
                return None;
            }
            (v, end, true)
        }
        // A plain word only after `is` and ending its sentence (`… is VALUE.`).
        _ if copula => {
            let (v, mut end) = quoted_or_word(line, w);
            while end > v && matches!(line[end - 1], b'.' | b'!') {
                end -= 1; // the sentence's stop
            }
            // The sentence ends there: the line's end, or a stop and then more text, the JSON
            // string's end or an escaped line break (Claude's text in stream-json).
            let after = &line[end..];
            let stop = after.iter().take_while(|b| b".!".contains(b)).count();
            let rest = &after[stop..];
            let ends = rest.trim_ascii().is_empty()
                || stop > 0 && matches!(rest.first(), Some(b' ' | b'"' | b'\\' | b'\n'));
            if !ends {
                return None;
            }
            (v, end, false)
        }
        _ => return None,
    };
    // Directly after the name, only a quoted value; after other words, only after `is` (`with
    // named curve `secp256r1``).
    if !copula && !label && (words > 0 || !quoted) {
        return None;
    }
    let strength = judged_as(line, v, end, lname);
    if strength == Strength::Weak && !random_token(&line[v..end]) {
        return None;
    }
    value(line, s, v, end, strength, lname, false)
}

/// How a value in prose, `line[v..end]` after the name `lname`, is judged: as after a weak
/// name, unless it is a passphrase of words in quotes after a passphrase's name (`Use
/// passphrase "…" to unlock`), which no weak name's value is.
fn judged_as(line: &[u8], v: usize, end: usize, lname: &[u8]) -> Strength {
    let quoted = v > 0 && matches!(line[v - 1], b'"' | b'\'');
    match quoted && quoted_phrase(lname, &line[v..end]) {
        true => Strength::Strong,
        false => Strength::Weak,
    }
}

/// Whether a value quoted in prose looks generated rather than named: 8 bytes or more of a
/// token's alphabet, digits in two places at least (`q7Xv2Lp9…`, hex). Documentation quotes
/// identifiers after such names (`` the associated `UserHandle64` ``, `` pass `IPV6_PKTINFO`
/// ``, `` needs `s3:PutObject` ``), which have their digits in one place or none.
fn random_token(v: &[u8]) -> bool {
    let token = v
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"_-+/=".contains(b));
    let digit_runs = v
        .iter()
        .zip(std::iter::once(&b' ').chain(v.iter()))
        .filter(|(b, prev)| b.is_ascii_digit() && !prev.is_ascii_digit())
        .count();
    v.len() >= 8 && token && digit_runs >= 2
}

/// The value of Elasticsearch's `PASSWORD USER = VALUE` (the name at `s..e`): one word of a
/// user's name, ` = `, the value to the line's end.
fn setup_password(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let user = e + 1;
    let end = user
        + line[user..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))?;
    if line.get(e) != Some(&b' ') || end == user || !line[end..].starts_with(b" = ") {
        return None;
    }
    let (v, b) = quoted_or_word(line, end + 3);
    value(line, s, v, b, Strength::Strong, b"password", false)
}

/// A value given before the name at `s..e`, as instructions write it: a verb that gives it
/// (`Use`, `Enter`, `Set`, `Type`, `Paste`, `using`), the value in a code span or quotes, `as`,
/// an article or `your`, then the name ending its clause (`Use `…` as the password.`, `Enter
/// '…' as your password when prompted`). Judged as after a strong name; a flag (`Use
/// `--password-stdin` as …`) or a name that goes on (`as the password name`) is none.
fn given_before(line: &[u8], s: usize, e: usize, lname: &[u8]) -> Option<Found> {
    const VERBS: &[&[u8]] = &[b"use", b"enter", b"set", b"type", b"paste", b"using"];
    const ENDS: &[&[u8]] = &[
        b".", b",", b";", b":", b")", b"\"", b" for ", b" when ", b" and ", b" to ", b" in ",
        b" on ", b" if ", b" at ",
    ];
    let rest = &line[e..];
    if !(rest.is_empty()
        || matches!(rest[0], b'\n' | b'\r')
        || ENDS.iter().any(|w| rest.starts_with(w)))
    {
        return None;
    }
    let mut i = s.checked_sub(1).filter(|&i| line[i] == b' ')?;
    for article in [&b"the"[..], b"your", b"an", b"a"] {
        if line[..i].ends_with(article) && line[..i - article.len()].ends_with(b" ") {
            i -= article.len() + 1;
            break;
        }
    }
    let i = i.checked_sub(3).filter(|&i| &line[i..i + 3] == b" as")?;
    let close = i.checked_sub(1)?;
    let q = line[close];
    if !matches!(q, b'`' | b'\'' | b'"') {
        return None;
    }
    let open =
        memchr::memrchr(q, &line[close.saturating_sub(256)..close])? + close.saturating_sub(256);
    let (a, b) = (open + 1, close);
    if a >= b || line[a] == b'-' || line[a..b].iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    let verb = line[..open].trim_ascii_end();
    let w = verb
        .iter()
        .rposition(|c| !c.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    if open == 0 || line[open - 1] != b' ' || !eq_any(&verb[w..].to_ascii_lowercase(), VERBS) {
        return None;
    }
    // (Judged from the quote that opens it: the name is after the value.)
    value(line, open, a, b, Strength::Strong, lname, false)
}
