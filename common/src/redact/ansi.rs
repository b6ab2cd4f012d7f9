//! Terminal escape sequences: a line is matched with them stripped, so colour codes spliced into a
//! secret cannot hide it, and the match is mapped back to the original bytes.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// `line` without its escape sequences, and for each kept byte its offset in `line`.
pub(crate) fn strip(line: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut view = Vec::with_capacity(line.len());
    let mut map = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] == ESC {
            i += sequence_len(&line[i..]);
        } else {
            view.push(line[i]);
            map.push(i);
            i += 1;
        }
    }
    (view, map)
}

/// Whether some escape sequence in `line` sits between two non-blank bytes, as one spliced into
/// a secret or into a rule's keyword would. Colour around words and at line edges does not.
#[inline]
pub(crate) fn splits_word(line: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = memchr::memchr(ESC, &line[i..]) {
        let at = i + p;
        let mut j = at;
        while j < line.len() && line[j] == ESC {
            j += sequence_len(&line[j..]);
        }
        let before = at.checked_sub(1).map(|k| line[k]);
        let after = line.get(j).copied();
        let solid = |b: Option<u8>| b.is_some_and(|b| !b.is_ascii_whitespace());
        if solid(before) && solid(after) {
            return true;
        }
        i = j;
        if i >= line.len() {
            return false;
        }
    }
    false
}

/// Length of the escape sequence at the start of `s` (which starts with ESC).
pub(crate) fn sequence_len(s: &[u8]) -> usize {
    match s.get(1) {
        None => 1,
        // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, one final byte 0x40–0x7E.
        Some(b'[') => {
            let mut j = 2;
            while j < s.len() && (0x20..=0x3f).contains(&s[j]) {
                j += 1;
            }
            if j < s.len() && (0x40..=0x7e).contains(&s[j]) {
                j + 1
            } else {
                j
            }
        }
        // OSC (titles, hyperlinks): up to BEL or ESC \. Unterminated, only the introducer goes,
        // so nothing after it escapes matching.
        Some(b']') => {
            let body = &s[2..];
            for (k, &b) in body.iter().enumerate() {
                if b == BEL {
                    return 2 + k + 1;
                }
                if b == ESC && body.get(k + 1) == Some(&b'\\') {
                    return 2 + k + 2;
                }
                if b == b'\n' || b == b'\r' {
                    break;
                }
            }
            2
        }
        // Character-set and similar three-byte sequences.
        Some(b'(' | b')' | b'#' | b'%') => 3.min(s.len()),
        Some(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_removed_and_mapped() {
        let line = b"a\x1b[1;31mb\x1b]8;;http://x\x07c\x1b(Bd\x1b]unterminated";
        let (view, map) = strip(line);
        assert_eq!(view, b"abcdunterminated");
        assert_eq!(map[..4], [0, 8, 23, 27]);
        assert_eq!(line[map[4]], b'u');
    }

    #[test]
    fn only_escapes_inside_words_count_as_splits() {
        assert!(!splits_word(
            b"\x1b[1m\x1b[32m    Finished\x1b[0m `test` profile\n"
        ));
        assert!(!splits_word(b"plain\n"));
        assert!(splits_word(b"ghp_abc\x1b[31mdef\n"));
        assert!(splits_word(b"password\x1b[0m\x1b[1m=x\n"));
    }

    #[test]
    fn lone_and_trailing_escapes() {
        assert_eq!(strip(b"x\x1b").0, b"x");
        assert_eq!(strip(b"x\x1b[").0, b"x");
        assert_eq!(strip(b"x\x1b[12").0, b"x");
    }
}
