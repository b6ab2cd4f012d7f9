//! Helpers shared by the redactor's test files: the encodings a secret is printed in, the family
//! corpus, and one long line with secrets planted in it.

// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use common::redact::{DEFAULT_CONFIG, Redactor, Rules};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// `s` percent-encoded but for letters and digits (`-`, `_` and `.` too, so no token keeps its
/// shape), as a query string or form body built from the text carries it.
pub fn percent_all(s: &str) -> String {
    percent_encoded(s, b"")
}

/// `s` URL-encoded as RFC 3986 does it: letters, digits and `-._~` are kept.
pub fn url_encoded(s: &str) -> String {
    percent_encoded(s, b"-._~")
}

fn percent_encoded(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Standard base64 without padding.
pub fn base64_no_pad(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// `(family, secret, line)` rows of `data/families.tsv`; `\n` in a line stands for a line break.
pub fn family_rows() -> Vec<(String, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/families.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].replace("\\n", "\n"),
            )
        })
        .collect()
}

/// One line of at least `total` bytes: filler text with each `(offset, text)` planted at its
/// offset (or right after the plant before it), set apart by spaces, and a line break.
pub fn planted_line<'a>(
    plants: impl IntoIterator<Item = (usize, &'a str)>,
    total: usize,
) -> Vec<u8> {
    let mut plants: Vec<(usize, &str)> = plants.into_iter().collect();
    plants.sort_by_key(|p| p.0);
    let mut line = Vec::with_capacity(total + 4096);
    for (at, text) in plants {
        while line.len() < at {
            line.extend_from_slice(b"lorem ipsum dolor sit amet ");
        }
        line.push(b' ');
        line.extend_from_slice(text.as_bytes());
        line.push(b' ');
    }
    while line.len() < total {
        line.extend_from_slice(b"consectetur adipiscing ");
    }
    line.push(b'\n');
    line
}

/// `input` through a redactor of the default rules with no known values, pushed `chunk` bytes
/// at a time, but in at most 4096 pushes (a 4 MiB line a byte at a time would take minutes in a
/// debug build and test nothing more).
pub fn redact_in_chunks(input: &[u8], chunk: usize) -> Vec<u8> {
    let rules = Rules::from_config(DEFAULT_CONFIG, &BTreeMap::new(), Vec::new()).unwrap();
    let mut r = Redactor::new(Arc::new(rules));
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(input.len() / 4096)) {
        r.push(c, &mut out);
    }
    r.finish(&mut out);
    out
}
