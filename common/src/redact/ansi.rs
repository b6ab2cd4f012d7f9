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
    next_splitting(line).is_some()
}

/// The first chain of escape sequences in `hay` (sequences one right after the other) that sits
/// between two non-blank bytes. Read over many lines at once (`hay` starting a line), it finds
/// the lines [`splits_word`] calls split without cutting each out and reading it again: a line
/// whose escapes are only colour around words and at line edges (`\x1b[1m\x1b[32m
/// Finished\x1b[0m`, every tenth line of a cargo build) yields nothing. (A chain that swallows a
/// line break, `ESC` or `ESC (` at a line's end, may be found where its line alone splits
/// nothing, which that line's own reading settles; what it runs into is the next line's first
/// chain, which has no byte before it in its line and splits nothing either.)
pub(crate) fn next_splitting(hay: &[u8]) -> Option<usize> {
    let solid = |b: Option<&u8>| b.is_some_and(|b| !b.is_ascii_whitespace());
    let mut i = 0;
    while let Some(p) = memchr::memchr(ESC, &hay[i..]) {
        let at = i + p;
        let mut end = at;
        while end < hay.len() && hay[end] == ESC {
            end += sequence_len(&hay[end..]);
        }
        if solid(at.checked_sub(1).map(|k| &hay[k])) && solid(hay.get(end)) {
            return Some(at);
        }
        i = end;
    }
    None
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

    /// The lines the redactor takes up for their escapes: from the start, the line of each
    /// [`next_splitting`] hit if [`splits_word`] confirms it, the search going on after that
    /// line either way (as `Redactor::lines` does).
    fn lines_taken_up(text: &[u8]) -> Vec<usize> {
        let mut taken = Vec::new();
        let mut from = 0;
        while let Some(p) = next_splitting(&text[from..]) {
            let hit = from + p;
            let start = text[from..hit]
                .iter()
                .rposition(|&b| b == b'\n' || b == b'\r')
                .map_or(from, |k| from + k + 1);
            let end = text[hit..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(text.len(), |k| hit + k + 1);
            if splits_word(&text[start..end]) {
                taken.push(start);
            }
            from = end;
        }
        taken
    }

    #[test]
    fn escapes_looked_for_in_place_find_the_lines_that_splitting_finds() {
        // Every line `splits_word` calls split, and no other, for texts made of words, blanks,
        // line ends and escapes of every kind, whole and cut short.
        const PIECES: &[&[u8]] = &[
            b"ab",
            b"=",
            b" ",
            b"\t",
            b"\n",
            b"\r",
            b"\r\n",
            b"\x1b[31m",
            b"\x1b[0m",
            b"\x1b[1;2",
            b"\x1b[",
            b"\x1b",
            b"\x1b]8;;http://x\x07",
            b"\x1b]8;;x",
            b"\x1b(B",
            b"\x1b(",
            b"\x1b\\",
            b"\x1bM",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = Vec::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut r = seed;
            for _ in 0..(r % 12 + 1) {
                r = r.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                text.extend_from_slice(PIECES[(r >> 40) as usize % PIECES.len()]);
            }
            let mut expected = Vec::new();
            let mut start = 0;
            for (i, &b) in text.iter().enumerate() {
                if b == b'\n' || b == b'\r' {
                    if splits_word(&text[start..=i]) {
                        expected.push(start);
                    }
                    start = i + 1;
                }
            }
            if start < text.len() && splits_word(&text[start..]) {
                expected.push(start);
            }
            assert_eq!(
                lines_taken_up(&text),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn lone_and_trailing_escapes() {
        assert_eq!(strip(b"x\x1b").0, b"x");
        assert_eq!(strip(b"x\x1b[").0, b"x");
        assert_eq!(strip(b"x\x1b[12").0, b"x");
    }
}
