//! Passphrases of words (`correct horse battery staple`, a wallet's seed phrase): the names
//! that take one, and how far its words go, unquoted or quoted in prose.

/// Whether `v`, quoted after the name `lname` (lower case), is a passphrase of words: four
/// words or more of letters and digits, one blank apart, after a passphrase's name (a quote
/// of fewer words there is a message: `passphrase "is too short"`).
pub(super) fn quoted_phrase(lname: &[u8], v: &[u8]) -> bool {
    passphrase_name(lname)
        && v.split(|&b| b == b' ').count() >= 4
        && v.split(|&b| b == b' ')
            .all(|w| !w.is_empty() && w.iter().all(u8::is_ascii_alphanumeric))
}

/// Whether a name (lower case) is a passphrase's, whose value is words: `passphrase`,
/// `pass_phrase`, a seed phrase's `mnemonic`.
pub(super) fn passphrase_name(lname: &[u8]) -> bool {
    [
        &b"passphrase"[..],
        b"pass_phrase",
        b"pass-phrase",
        b"mnemonic",
        b"seed_phrase",
    ]
    .iter()
    .any(|n| lname.ends_with(n))
}

/// The end of the words that follow `at` to the line's end, each after one blank (`horse
/// battery staple` after `correct`): the line ends there (a line break, its JSON escape, or
/// the string's closing quote), or `None` if anything else comes first (`wrong, try again`).
pub(super) fn words_to_line_end(line: &[u8], at: usize) -> Option<usize> {
    let word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'\'' | b'-');
    let mut k = at;
    while line.get(k) == Some(&b' ') {
        let n = line[k + 1..].iter().take_while(|b| word(b)).count();
        if n == 0 {
            return None;
        }
        k += 1 + n;
    }
    let ends = match line.get(k) {
        None | Some(b'\n' | b'\r' | b'"') => true,
        Some(b'\\') => matches!(line.get(k + 1), Some(b'n' | b'r' | b'"')),
        _ => false,
    };
    (ends && k > at).then_some(k)
}
