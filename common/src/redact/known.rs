//! Known secret values and the forms they take in output: raw, JSON-escaped, URL-encoded and
//! base64 at each of the three byte alignments.

use std::collections::BTreeMap;

/// Shortest value (or piece of a multi-line value) worth matching: shorter ones are ordinary words.
pub const MIN_KNOWN_LEN: usize = 6;
/// Environment variable name endings whose values are secrets.
pub const SECRET_ENV_SUFFIXES: &[&str] = &[
    "_KEY",
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_PRIVATE_KEY",
    "_CONNECTION_STRING",
];

/// Values of `env` whose name ends in one of `suffixes` or is listed in `names`, and that are at
/// least [`MIN_KNOWN_LEN`] bytes long.
pub fn secret_env_values(
    env: &BTreeMap<String, String>,
    suffixes: &[String],
    names: &[String],
) -> Vec<String> {
    env.iter()
        .filter(|(k, v)| {
            v.len() >= MIN_KNOWN_LEN
                && (names.iter().any(|n| n == *k)
                    || suffixes.iter().any(|s| k.ends_with(s.as_str())))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// Every literal to look for, longest first and without duplicates.
pub(crate) fn variants(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        for piece in value.split(['\n', '\r']) {
            let piece = piece.trim();
            if piece.len() < MIN_KNOWN_LEN {
                continue;
            }
            out.push(piece.to_string());
            let json = serde_json::to_string(piece).expect("a string serialises");
            out.push(json[1..json.len() - 1].to_string());
            out.push(url_encode(piece));
            for align in 0..3 {
                let b64 = base64_core(piece.as_bytes(), align);
                if b64.len() >= MIN_KNOWN_LEN {
                    out.push(b64.replace('+', "-").replace('/', "_"));
                    out.push(b64);
                }
            }
        }
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Percent-encoding of every byte outside the URL-unreserved set.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 characters that depend only on `value` when it sits `align` bytes (0–2) past a
/// three-byte boundary of a longer encoded stream: whatever surrounds it, these appear verbatim.
fn base64_core(value: &[u8], align: usize) -> String {
    let mut bytes = vec![0u8; align];
    bytes.extend_from_slice(value);
    let mut chars = Vec::with_capacity(bytes.len() * 4 / 3 + 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            chars.push(B64[((n >> (18 - 6 * k)) & 63) as usize]);
        }
    }
    // Character i covers bits [6i, 6i+6); the value covers bits [8·align, 8·(align+len)).
    let first = (8 * align).div_ceil(6);
    let last = (8 * (align + value.len())) / 6; // exclusive
    String::from_utf8(chars[first..last.max(first)].to_vec()).expect("base64 is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_cores_appear_in_every_alignment() {
        // "secretvalue1" behind 0, 1 and 2 other bytes, encoded by GNU base64.
        let cases: [(&[u8], &str); 3] = [
            (b"secretvalue1", "c2VjcmV0dmFsdWUx"),
            (b"Asecretvalue1", "QXNlY3JldHZhbHVlMQ=="),
            (b"ABsecretvalue1", "QUJzZWNyZXR2YWx1ZTE="),
        ];
        for (align, (_, encoded)) in cases.iter().enumerate() {
            let core = base64_core(b"secretvalue1", align);
            assert!(core.len() >= 14, "core {core:?} too short");
            assert!(
                encoded.contains(&core),
                "align {align}: {core:?} not in {encoded:?}"
            );
        }
        assert_eq!(base64_core(b"secretvalue1", 0), "c2VjcmV0dmFsdWUx");
    }

    #[test]
    fn url_and_json_forms() {
        let v = variants(&["p@ss\"w/rd 1".into()]);
        assert!(v.contains(&"p%40ss%22w%2Frd%201".to_string()), "{v:?}");
        assert!(v.contains(&"p@ss\\\"w/rd 1".to_string()), "{v:?}");
    }

    #[test]
    fn env_selection_by_suffix_length_and_name() {
        let env: BTreeMap<String, String> = [
            ("FOO_TOKEN", "tok-123456"),
            ("SHORT_KEY", "abc"),
            ("HOME", "/home/someone"),
            ("HMAC_SECRET", "hmac-secret-value"),
            ("MY_THING", "listed-by-name"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let suffixes: Vec<String> = SECRET_ENV_SUFFIXES.iter().map(|s| s.to_string()).collect();
        let got = secret_env_values(&env, &suffixes, &["MY_THING".into()]);
        assert_eq!(
            got,
            vec!["tok-123456", "hmac-secret-value", "listed-by-name"]
        );
    }
}
