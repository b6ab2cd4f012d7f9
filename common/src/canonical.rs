//! Canonical JSON for event data: the form the stream digest hashes and the gateway stores.
//!
//! Defined in `PROTOCOL.md` §5, so that a runner in any language can compute it from the text it
//! sent: no insignificant whitespace; object members sorted by the UTF-8 bytes of their
//! (unescaped) keys; strings with `"`, `\` and the characters below U+0020 escaped (`\b \f \n \r
//! \t`, else `\u00xx` in lower-case hex) and every other character as raw UTF-8; `true`,
//! `false`, `null`; and numbers **exactly as written** (the token's characters, never
//! reformatted), so an integer past 2^64 or a float keeps its digits. Data whose meaning would be
//! ambiguous is refused: an object with a key twice, an escape of a lone UTF-16 surrogate, or
//! nesting deeper than [`MAX_DEPTH`].
//!
//! For data that is already canonical (what `serde_json` writes for a `Value`, hence everything
//! the Rust runner sends) the output is the input, byte for byte.

use std::borrow::Cow;

/// Deepest nesting of arrays and objects accepted (as `serde_json`'s own parser).
pub const MAX_DEPTH: usize = 128;

/// Why a JSON text has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct CanonicalError {
    pub what: &'static str,
    pub at: usize,
}

/// Append the canonical form of the JSON text `text` (one value, whitespace around it allowed)
/// to `out`. On an error, what was appended must be thrown away.
pub fn canonicalize(text: &str, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.value(out, 0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("text after the value"));
    }
    Ok(())
}

/// Whether `text` is one JSON string exactly as [`canonicalize`] would write it (quotes and
/// all, nothing around them), decided without building anything: then its canonical form is
/// `text` itself. `false` means only "not known to be", and [`canonicalize`] decides. A look
/// at every byte for a control character and at each escape, against the parse and the write
/// of the whole string that [`canonicalize`] costs: event lines, nearly all of what runners
/// send, are taken this way at ingest.
pub fn is_canonical_string(text: &str) -> bool {
    let Some(inner) = text
        .as_bytes()
        .strip_prefix(b"\"")
        .and_then(|rest| rest.strip_suffix(b"\""))
    else {
        return false;
    };
    // No raw control character (a fold rather than a search: it runs over 32 bytes a step).
    if inner.iter().fold(false, |seen, &c| seen | (c < 0x20)) {
        return false;
    }
    let mut rest = inner;
    while let Some(p) = memchr::memchr2(b'\\', b'"', rest) {
        if rest[p] == b'"' {
            return false; // a quote that ends the string early
        }
        rest = match rest.get(p + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => &rest[p + 2..],
            // `\u00xx`, lower-case hex, only for the controls without a short escape.
            Some(b'u') => match rest.get(p + 2..p + 6) {
                Some(
                    &[
                        b'0',
                        b'0',
                        hi @ (b'0' | b'1'),
                        lo @ (b'0'..=b'9' | b'a'..=b'f'),
                    ],
                ) if !matches!((hi, lo), (b'0', b'8' | b'9' | b'a' | b'c' | b'd')) => {
                    &rest[p + 6..]
                }
                _ => return false,
            },
            _ => return false,
        };
    }
    true
}

/// Append `s` as a canonical JSON string (quotes included).
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    // Most lines need no escape and are copied whole; coloured output and JSON lines have a few,
    // each found sixteen bytes at a time rather than byte by byte.
    while let Some(k) = next_escape(&bytes[start..]) {
        let i = start + k;
        let c = bytes[i];
        out.extend_from_slice(&bytes[start..i]);
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => b"",
        };
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether JSON must escape `c` in a string: a control byte, `"` or `\`.
fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// Where the first byte of `b` that JSON must escape is: sixteen bytes compared at once (SIMD
/// through `wide`, SSE2 on every x86-64), the last few one by one.
fn next_escape(b: &[u8]) -> Option<usize> {
    use wide::i8x16;
    // A byte below 0x20 is one whose three high bits are clear.
    let high = i8x16::splat(0xe0_u8 as i8);
    let zero = i8x16::splat(0);
    let quote = i8x16::splat(b'"' as i8);
    let backslash = i8x16::splat(b'\\' as i8);
    let mut blocks = b.chunks_exact(16);
    for (k, c) in blocks.by_ref().enumerate() {
        let c: [u8; 16] = c.try_into().expect("16 bytes");
        let v = i8x16::new(wide::bytemuck::cast(c));
        let t = (v & high).simd_eq(zero) | v.simd_eq(quote) | v.simd_eq(backslash);
        let m = t.to_bitmask();
        if m != 0 {
            return Some(16 * k + m.trailing_zeros() as usize);
        }
    }
    let tail = blocks.remainder();
    let at = b.len() - tail.len();
    tail.iter().position(|&c| needs_escape(c)).map(|p| at + p)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> CanonicalError {
        CanonicalError { what, at: self.i }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), CanonicalError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
        match self.peek() {
            Some(b'{') => self.object(out, depth + 1),
            Some(b'[') => self.array(out, depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                write_string(&s, out);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(b't') => self.literal(b"true", out),
            Some(b'f') => self.literal(b"false", out),
            Some(b'n') => self.literal(b"null", out),
            _ => Err(self.err("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &'static [u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.err("expected true, false or null"))
        }
    }

    /// A number, copied as written once it is checked against the JSON grammar.
    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("a number needs a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("a fraction needs a digit"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("an exponent needs a digit"));
            }
        }
        out.extend_from_slice(&self.b[start..self.i]);
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i += 1;
        out.push(b'[');
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.ws();
            self.value(out, depth)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    self.i += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(self.err("expected , or ] in an array")),
            }
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i += 1;
        let mut members: Vec<(Cow<'a, str>, Vec<u8>)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            out.extend_from_slice(b"{}");
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key"));
            }
            let key = self.string()?;
            self.ws();
            self.expect(b':', "expected : after a key")?;
            self.ws();
            let mut value = Vec::new();
            self.value(&mut value, depth)?;
            members.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected , or } in an object")),
            }
        }
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if members.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(self.err("an object has a key twice"));
        }
        out.push(b'{');
        for (n, (key, value)) in members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_string(key, out);
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.push(b'}');
        Ok(())
    }

    /// A string's text, unescaped (borrowed when it has no escape).
    fn string(&mut self) -> Result<Cow<'a, str>, CanonicalError> {
        self.i += 1; // the opening quote
        let start = self.i;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    let s = std::str::from_utf8(&self.b[start..self.i])
                        .map_err(|_| self.err("a string is not UTF-8"))?;
                    self.i += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(0x00..=0x1f) => return Err(self.err("a control character in a string")),
                Some(_) => self.i += 1,
            }
        }
        // Escapes: build the text.
        let mut text = String::from(
            std::str::from_utf8(&self.b[start..self.i])
                .map_err(|_| self.err("a string is not UTF-8"))?,
        );
        loop {
            let run = self.i;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | 0x00..=0x1f)) {
                self.i += 1;
            }
            text.push_str(
                std::str::from_utf8(&self.b[run..self.i])
                    .map_err(|_| self.err("a string is not UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(text));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let c = self.unicode_escape()?;
                            text.push(c);
                            continue;
                        }
                        _ => return Err(self.err("an unknown escape in a string")),
                    };
                    self.i += 1;
                    text.push(c);
                }
                None => return Err(self.err("unterminated string")),
                Some(_) => return Err(self.err("a control character in a string")),
            }
        }
    }

    /// The four hex digits after `\u` (and a low surrogate's escape after a high one).
    fn unicode_escape(&mut self) -> Result<char, CanonicalError> {
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if !self.b[self.i..].starts_with(b"\\u") {
                    return Err(self.err("a lone surrogate in a string"));
                }
                self.i += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(self.err("a lone surrogate in a string"));
                }
                0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.err("a lone surrogate in a string")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.err("an invalid escape in a string"))
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("a short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.err("a bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("a bad \\u escape"))?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.err("a bad \\u escape"));
        }
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn canon(text: &str) -> Result<String, CanonicalError> {
        let mut out = Vec::new();
        canonicalize(text, &mut out)?;
        Ok(String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn numbers_are_kept_as_written() {
        for (text, want) in [
            ("18446744073709551616", "18446744073709551616"),
            ("-18446744073709551617", "-18446744073709551617"),
            ("1.5e-05", "1.5e-05"),
            ("0.000015", "0.000015"),
            ("1E+2", "1E+2"),
            ("0.10", "0.10"),
            ("-0", "-0"),
            (" [1.0 , 2e3] ", "[1.0,2e3]"),
        ] {
            assert_eq!(canon(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn keys_sort_by_bytes_and_strings_escape_canonically() {
        let cases = [
            (
                r#"{"b":1,"a":{"z":[],"é":null,"Z":true}}"#,
                r#"{"a":{"Z":true,"z":[],"é":null},"b":1}"#,
            ),
            (
                r#""\u00e9 \/ \u0001 \b\f\n\r\t \" \\ \ud83d\ude00""#,
                "\"é / \\u0001 \\b\\f\\n\\r\\t \\\" \\\\ 😀\"",
            ),
            (r#""\u007f \u2028""#, "\"\u{7f} \u{2028}\""),
            (r#"{"\u0061":1,"b":2}"#, r#"{"a":1,"b":2}"#),
            ("{ }", "{}"),
            ("[ ]", "[]"),
        ];
        for (text, want) in cases {
            assert_eq!(canon(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn ambiguous_or_broken_text_is_refused() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            "01",
            "1.",
            "1e",
            "-",
            "+1",
            ".5",
            "[1,]",
            "{\"a\"}",
            "\"\t\"",
            "\"\\x\"",
            "tru",
            "1 2",
            "",
        ] {
            assert!(canon(bad).is_err(), "{bad:?} -> {:?}", canon(bad));
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(canon(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(canon(&ok), Ok(ok.clone()));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Pieces of string literals, canonical escapes and every way of not being one.
    fn literal_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 é😀/]{0,8}",
            prop::sample::select(vec![
                r#"\""#,
                r#"\\"#,
                r#"\/"#,
                r#"\b"#,
                r#"\f"#,
                r#"\n"#,
                r#"\r"#,
                r#"\t"#,
                r#"\x"#,
                r#"\"#,
                r#"\u0001"#,
                r#"\u001f"#,
                r#"\u001F"#,
                r#"\u0008"#,
                r#"\u0009"#,
                r#"\u000a"#,
                r#"\u000c"#,
                r#"\u000d"#,
                r#"\u000b"#,
                r#"\u0020"#,
                r#"\u0041"#,
                r#"\u00e9"#,
                r#"\ud83d\ude00"#,
                r#"\ud800"#,
                r#"\u00"#,
                "\"",
                "\t",
                "\n",
                "\u{1}",
                "\u{7f}",
            ])
            .prop_map(String::from),
        ]
    }

    #[test]
    fn the_quick_string_check_knows_the_usual_escapes() {
        for yes in [r#""""#, r#""a\"b\\c\nd\u0001\u001f""#, "\"é \u{7f} 😀\""] {
            assert!(is_canonical_string(yes), "{yes}");
        }
        for no in [
            r#""\/""#,
            r#""\u0041""#,
            r#""\u001F""#,
            r#""\u0008""#,
            r#""\ud800""#,
            r#""a"b""#,
            "\"\t\"",
            r#""abc"#,
            r#"abc""#,
            r#""a" "#,
            "\"",
            "",
        ] {
            assert!(!is_canonical_string(no), "{no}");
        }
    }

    /// Every byte JSON escapes, and some it does not, at every position of lines shorter and
    /// longer than the sixteen-byte blocks the escape search steps by: as serde_json writes.
    #[test]
    fn escapes_are_found_in_every_lane_of_a_block() {
        let mut specials: Vec<String> = (0u8..0x20).map(|c| char::from(c).to_string()).collect();
        specials.extend(["\"", "\\", "\u{7f}", "é", " ", "\u{1b}[31m"].map(String::from));
        for len in [1, 15, 16, 17, 31, 33, 47, 64] {
            for at in 0..len {
                for sp in &specials {
                    let mut line: String = "a".repeat(at);
                    line.push_str(sp);
                    line.push_str(&"b".repeat(len - at));
                    let mut out = Vec::new();
                    write_string(&line, &mut out);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        serde_json::to_string(&line).unwrap(),
                        "{line:?}"
                    );
                }
            }
        }
    }

    proptest! {
        /// What serde_json writes for a value is canonical already, and canonicalising its
        /// pretty-printed form gives the same bytes: the gateway's form and the Rust runner's
        /// `Value`-based lines agree.
        #[test]
        fn serde_json_output_is_canonical(v in json_value()) {
            let compact = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(canon(&compact).unwrap(), compact.clone());
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            prop_assert_eq!(canon(&pretty).unwrap(), compact);
        }

        /// A string written here is what serde_json writes for it, with or without escapes.
        #[test]
        fn strings_are_written_as_serde_json_writes_them(s in "(.|\n|\"|\\\\|\u{1}|\u{1f})*") {
            let mut out = Vec::new();
            write_string(&s, &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }

        /// The quick check says yes exactly where canonicalising gives the text back, so the
        /// ingest's shortcut changes no stored byte; and yes to every string serde_json writes.
        #[test]
        fn the_quick_string_check_agrees_with_canonicalize(
            pieces in prop::collection::vec(literal_piece(), 0..8),
            s in ".*",
        ) {
            let text = format!("\"{}\"", pieces.concat());
            prop_assert_eq!(is_canonical_string(&text), canon(&text) == Ok(text.clone()), "{}", text);
            let written = serde_json::to_string(&s).unwrap();
            prop_assert!(is_canonical_string(&written), "{}", written);
        }
    }
}
