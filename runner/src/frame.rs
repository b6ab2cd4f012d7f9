//! Line framing: redacted bytes in, one string per line out, long lines split at a bound.

/// Where a framer puts the lines it cuts.
pub trait LineSink {
    fn line(&mut self, text: &str);
}

impl LineSink for Vec<String> {
    fn line(&mut self, text: &str) {
        self.push(text.to_owned());
    }
}

/// Lines kept in one buffer: a read's worth of output without a string allocated per line.
#[derive(Debug, Default)]
pub struct Lines {
    text: String,
    ends: Vec<usize>,
}

impl Lines {
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.text[start..end];
            start = end;
            line
        })
    }
}

impl LineSink for Lines {
    fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }
}

/// Splits a byte stream into lines of at most `max` bytes (on UTF-8 boundaries where possible).
/// A trailing `\r` is dropped with the `\n`; invalid UTF-8 becomes U+FFFD.
///
/// A line still open when a read ends, with a carriage return in it (a progress bar drawing over
/// its line), goes out up to its last `\r` as a *fragment*: a string ending in `\r`, which the
/// rest of the line follows later (more fragments, then the line up to its newline). Joined,
/// they are the bytes the child wrote; a viewer draws each over the one before, so the bar
/// moves while it runs instead of showing at its newline.
#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max: usize,
}

impl LineFramer {
    pub fn new(max: usize) -> Self {
        assert!(max >= 4, "a line bound must hold one UTF-8 character");
        Self {
            buf: Vec::new(),
            max,
        }
    }

    /// Append `bytes`; push every complete line (and every full `max`-byte piece of an
    /// unfinished one) to `out`.
    ///
    /// What is held back between calls (the start of an unfinished line, no line end in it) is
    /// joined only to the end of its line; the chunk's other lines are cut from it in place.
    pub fn push(&mut self, bytes: &[u8], out: &mut impl LineSink) {
        let mut bytes = bytes;
        if !self.buf.is_empty() {
            let mut joined = std::mem::take(&mut self.buf);
            let whole = match memchr::memchr(b'\n', bytes) {
                Some(i) => {
                    joined.extend_from_slice(&bytes[..=i]);
                    bytes = &bytes[i + 1..];
                    true
                }
                None => {
                    joined.extend_from_slice(bytes);
                    bytes = &[];
                    false
                }
            };
            let done = self.cut(&joined, out);
            debug_assert!(
                !whole || done == joined.len(),
                "a line that ends is cut whole"
            );
            joined.drain(..done);
            self.buf = joined;
            if !whole {
                return;
            }
        }
        let done = self.cut(bytes, out);
        self.buf.extend_from_slice(&bytes[done..]);
    }

    /// Push the lines, the fragment up to the last `\r` and the full pieces of `data` to `out`;
    /// how many bytes of it they took (the rest is held back).
    fn cut(&self, data: &[u8], out: &mut impl LineSink) -> usize {
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &data[start..]) {
            let end = start + i;
            let line = data[start..end]
                .strip_suffix(b"\r")
                .unwrap_or(&data[start..end]);
            split_into(line, self.max, out);
            start = end + 1;
        }
        if let Some(i) = memchr::memrchr(b'\r', &data[start..]) {
            let end = start + i + 1;
            split_into(&data[start..end], self.max, out);
            start = end;
        }
        while data.len() - start > self.max {
            let cut = boundary(&data[start..], self.max);
            out.line(&text(&data[start..start + cut]));
            start += cut;
        }
        start
    }

    /// End of stream: the last line, if it had no newline.
    pub fn finish(&mut self, out: &mut impl LineSink) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            split_into(&rest, self.max, out);
        }
    }
}

/// The largest cut `<= max` that does not split a UTF-8 character (or `max` if none exists).
fn boundary(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut cut = max;
    while cut > 0 && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 { max } else { cut }
}

/// `bytes` as text, invalid UTF-8 replaced. Valid text (nearly every line) is checked by
/// `str::from_utf8`, which steps over ASCII a word at a time; `from_utf8_lossy` looks at every
/// byte on its own, about a twentieth of the runner's CPU under a flood.
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn split_into(mut line: &[u8], max: usize, out: &mut impl LineSink) {
    loop {
        let cut = boundary(line, max);
        out.line(&text(&line[..cut]));
        line = &line[cut..];
        if line.is_empty() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut f = LineFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            frame(&[b"a\nb", b"c\r\n", b"\nd"], 100),
            vec!["a", "bc", "", "d"]
        );
    }

    #[test]
    fn long_lines_split_on_char_boundaries() {
        let text = "é".repeat(5); // 10 bytes
        let out = frame(&[text.as_bytes(), b"\n"], 4);
        assert_eq!(out, vec!["éé", "éé", "é"]);
        assert!(out.iter().all(|l| l.len() <= 4));
    }

    #[test]
    fn unfinished_long_line_is_released_in_pieces() {
        let mut f = LineFramer::new(4);
        let mut out = Vec::new();
        f.push(b"abcdefghij", &mut out);
        assert_eq!(
            out,
            vec!["abcd", "efgh"],
            "full pieces go out before the newline arrives"
        );
        f.finish(&mut out);
        assert_eq!(out.last().unwrap(), "ij");
    }

    #[test]
    fn a_progress_bar_goes_out_in_fragments_that_join_to_what_was_written() {
        let mut f = LineFramer::new(100);
        let mut out = Vec::new();
        f.push(b"build\n  10%\r  2", &mut out);
        assert_eq!(out, ["build", "  10%\r"], "the bar's state so far, at once");
        out.clear();
        f.push(b"0%\r 100% done\nnext", &mut out);
        assert_eq!(out, ["  20%\r 100% done"]);
        out.clear();
        // A read that ends between `\r` and `\n`: the fragment and an empty rest.
        f.push(b" line\r", &mut out);
        f.push(b"\n", &mut out);
        f.finish(&mut out);
        assert_eq!(out, ["next line\r", ""]);
        assert_eq!(
            out.concat(),
            "next line\r",
            "joined: the bytes before the newline"
        );
    }

    /// Lines cut from the chunk in place, with only the held-back start joined to its line's
    /// end, are the lines of every chunk appended to what was held and cut as a whole.
    #[test]
    fn cutting_in_place_gives_what_cutting_the_joined_bytes_gives() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: [&[u8]; 7] = [b"a", b"bc", b"\n", b"\r", b"\r\n", "é".as_bytes(), b"\xff"];
        for _ in 0..3_000 {
            let max = 4 + (next() % 12) as usize;
            let mut text = Vec::new();
            for _ in 0..next() % 60 {
                text.extend_from_slice(alphabet[(next() % 7) as usize]);
            }
            let (mut framer, mut got) = (LineFramer::new(max), Lines::default());
            let (mut held, mut want) = (Vec::new(), Vec::<String>::new());
            let mut rest = &text[..];
            while !rest.is_empty() {
                let n = 1 + (next() as usize % rest.len().min(20));
                framer.push(&rest[..n], &mut got);
                held.extend_from_slice(&rest[..n]);
                let done = framer.cut(&held, &mut want);
                held.drain(..done);
                assert_eq!(framer.buf, held, "{text:?}");
                rest = &rest[n..];
            }
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{text:?} by {max}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        assert_eq!(frame(&[b"a\xffb\n"], 100), vec!["a\u{fffd}b"]);
    }
}
