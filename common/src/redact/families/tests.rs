//! Tests of the family table: its rows, and every shape each row's regex allows, generated
//! and run through the redactor plain and in the presentations output gives it.

use super::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A generator that gives the same samples every run.
fn same_samples_every_run() -> TestRunner {
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::XorShift),
    )
}

#[test]
fn names_are_unique_and_the_table_is_broad() {
    let fams = families();
    let mut names: Vec<&str> = fams.iter().map(|f| f.name).collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate family names");
    assert!(n >= 200, "only {n} families");
}

/// A generated shape of a family, on a line of its own.
struct Sample {
    family: &'static str,
    line: String,
    sample: String,
    secret: String,
    /// Whether the line holds 16 token bytes in a row or a keyword literal, and the secret is
    /// not a word: letters alone and shorter than a run, which a family's match does not
    /// redact by design (`rules::collect`; random keys of that length have a digit in all but
    /// a few in a hundred).
    looked_for: bool,
}

/// Twenty shapes of every self-identifying family, generated from its own regex (token
/// lengths from the shortest to 32 past it, every alternative, separators of every
/// allowed kind), each printed after `export X=`; the families with fewer; how many were
/// left out for holding neither a run nor a keyword literal.
fn generated_samples(every_row: bool) -> (Vec<Sample>, Vec<String>) {
    let mut runner = same_samples_every_run();
    const NAME_JOIN: &str = r"(?:[_.-][a-z0-9]{1,6}){0,2}[_.-]";
    let (mut samples, mut few) = (Vec::new(), Vec::new());
    for f in families() {
        // Rows that ignore case are found through a secret's name beside the service's
        // (`SUMO_ACCESS_KEY`, `gitea_token`), which the keyword passes look for; what the
        // regex also allows there (`sumo.access_id`, `plaid.clientxyz`) is not looked for.
        // And a base64 JWT is found as base64 of text, which random base64 is not.
        if !every_row && (f.regex.contains("(?i") || f.name == "jwt_base64") {
            continue;
        }
        // The generator knows no word boundaries or flags; the sample is kept only where
        // the family's own regex matches all of it.
        let shape = f
            .regex
            .replace(r"(?:\b|\W|$)", "")
            .replace(r"\b", "")
            .replace("(?-u)", "")
            .replace("(?i-u)", "")
            .replace("(?i)", "")
            .replace("(?:^|", "(?:")
            // Names and separators as people write them: `gitea_api_token = "…"`, not
            // twenty random name bytes, twenty blanks or `^{` between name and value.
            .replace(r"[a-z0-9_.\-]{0,24}", NAME_JOIN)
            .replace(r"[a-z0-9_.\-]{0,20}", NAME_JOIN)
            .replace(r"[a-z0-9_.-]{0,20}", NAME_JOIN)
            .replace(r"[ \t]*", r"[ \t]?")
            .replace(r"[^A-Za-z0-9\n]{1,5}", r#"(?:=|: |="|": ")"#)
            .replace(r"[_.\-]?key", r"[_.\-]key")
            // Printable ASCII where the regex allows anything.
            .replace(r"\d", "[0-9]")
            .replace(r"\S", "[!-~]")
            .replace(r"[^\s-]", "[!-,.-~]")
            .replace(r"[^\s]", "[!-~]")
            .replace(r"[^\n]*?", "[ -~]{0,24}")
            .replace(
                r"(?:access|key|token)[a-z_]{0,10}",
                r"(?:access|key|token)(?:_id|_key)?",
            );
        let shape = mostly_alphanumeric(&shape);
        let Ok(strategy) = proptest::string::string_regex(&shape) else {
            panic!("{}: no generator for {shape}", f.name);
        };
        let re = regex::bytes::Regex::new(&f.regex).expect("compiles");
        let mut kept = 0;
        for _ in 0..200 {
            let sample = strategy.new_tree(&mut runner).expect("a sample").current();
            if !sample
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                continue;
            }
            // A family whose anchor is context, not part of the token (`discord`), is
            // shown with it, as its regex row expects.
            let lower = sample.to_ascii_lowercase();
            let line = match f
                .anchors
                .iter()
                .any(|a| lower.contains(&a.to_ascii_lowercase()))
            {
                true => format!("export X={sample}\n"),
                false => format!("export {}={sample}\n", f.anchors[0]),
            };
            let Some(c) = re.captures(line.as_bytes()) else {
                continue;
            };
            let whole = c.get(0).expect("match");
            if whole.as_bytes() != sample.as_bytes() {
                continue;
            }
            let secret = c.name("secret").unwrap_or(whole);
            let secret = &line[secret.start()..secret.end()];
            // The prefilter's contract: a line is looked at when it holds 16 token bytes
            // in a row or a keyword literal. A shape with neither, cut by separators into
            // shorter pieces (`ATBB8Sn6nzZI2.j0DfLwqEh.U9qg…`, which the format's regex
            // allows and real tokens do not show), is counted, not asserted.
            let long_run = secret
                .as_bytes()
                .split(|&b| !((0x30..0x80).contains(&b) || b == b'-'))
                .any(|piece| piece.len() >= 16);
            let word = secret.len() < 16 && secret.bytes().all(|b| b.is_ascii_alphabetic());
            let keyword = crate::redact::prefilter::KEYWORDS
                .iter()
                .any(|k| line.contains(k));
            samples.push(Sample {
                family: f.name,
                secret: secret.to_string(),
                sample: sample.clone(),
                line,
                looked_for: (long_run || keyword) && !word,
            });
            kept += 1;
            if kept == 20 {
                break;
            }
        }
        if kept < 20 {
            few.push(format!("{} {kept}", f.name));
        }
    }
    (samples, few)
}

/// Whether a 12-byte piece of `secret` (or all of it, if shorter) is in `out`, as it was
/// or JSON-escaped one to three times.
fn leaked(out: &str, secret: &str) -> bool {
    let mut forms = vec![secret.to_string()];
    for _ in 0..3 {
        let e = serde_json::to_string(forms.last().expect("a form")).expect("serialises");
        forms.push(e[1..e.len() - 1].to_string());
    }
    forms.iter().any(|s| {
        let w = 12.min(s.len());
        (0..=s.len() - w).any(|i| s.get(i..i + w).is_some_and(|p| out.contains(p)))
    })
}

/// Every self-identifying family's shapes, generated from its own regex (token lengths
/// from the shortest to 32 past it, every alternative, separators of every allowed kind),
/// printed after `export X=` on a line of their own: none may go out whole or in a 12-byte
/// piece. A fixed sample per family (the corpus) shows one shape; this found the shapes
/// whose anchor sat farther before the value than the prefilter looked
/// (`ocid1.tenancy.oc1..`, `t1.` with a short first part), and anchors that were not in
/// every match (`:A4…` of a Telegram token, a DSN's host without `ingest.`).
#[test]
fn every_generated_shape_of_every_family_is_redacted() {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    let (samples, few) = generated_samples(false);
    let short = samples.iter().filter(|s| !s.looked_for).count();
    eprintln!("{short} samples with neither a run nor a keyword literal, or a word");
    assert!(
        few.is_empty(),
        "families with fewer than 20 samples: {few:?}"
    );
    let samples: Vec<Sample> = samples.into_iter().filter(|s| s.looked_for).collect();
    let mut leaks = Vec::new();
    for s in &samples {
        let out = crate::redact::redact_text(&rules, &s.line);
        if leaked(&out, &s.secret) && leaks.len() < 40 {
            leaks.push(format!("{}: {:?} -> {out:?}", s.family, s.line));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(samples.len() > 2_800, "{} samples", samples.len());
}

/// A family's rules run on a line only where one of its anchors occurs, so every match
/// must hold one: every generated shape of every row (those that ignore case too) holds
/// one of its row's anchors, as written or, for those rows, in any case. Discord's bot
/// token is the one row whose anchor is context beside the token (`discord`), not in it.
#[test]
fn every_generated_shape_holds_one_of_its_anchors() {
    let (samples, _) = generated_samples(true);
    let rows: std::collections::BTreeMap<&str, Family> =
        families().into_iter().map(|f| (f.name, f)).collect();
    let mut missing = Vec::new();
    for s in &samples {
        let f = &rows[s.family];
        let any_case = f.regex.contains("(?i");
        let holds = f.anchors.iter().any(|a| match any_case {
            true => s
                .sample
                .to_ascii_lowercase()
                .contains(&a.to_ascii_lowercase()),
            false => s.sample.contains(a),
        });
        if !holds && f.name != "discord_bot" && missing.len() < 40 {
            missing.push(format!("{}: {:?}", s.family, s.sample));
        }
    }
    assert!(
        missing.is_empty(),
        "{} without an anchor:\n{}",
        missing.len(),
        missing.join("\n")
    );
    assert!(samples.len() > 4_000, "{} samples", samples.len());
}

/// Sidekiq Enterprise's credentials as Bundler's variable holds them and in a source URL.
#[test]
fn sidekiq_credentials_are_redacted_in_a_variable_and_a_url() {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    for line in [
        "export BUNDLE_ENTERPRISE__CONTRIBSYS__COM=ea5fc22b:d7f1f4e3\n",
        "BUNDLE_GEMS__CONTRIBSYS__COM: \"ea5fc22b:d7f1f4e3\"\n",
        "source \"https://ea5fc22b:d7f1f4e3@enterprise.contribsys.com/\" do\n",
    ] {
        let out = crate::redact::redact_text(&rules, line);
        assert!(
            !out.contains("ea5fc22b") && !out.contains("d7f1f4e3"),
            "{out:?}"
        );
    }
}

/// The same shapes in the presentations output gives them, one each in turn: inside a
/// stream-json tool result (JSON-escaped once), escaped twice or three times more, cut by
/// a colour code, 70 KiB into a line, and fed a few bytes at a time.
#[test]
fn generated_shapes_are_redacted_in_every_presentation() {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    let (samples, _) = generated_samples(false);
    let samples: Vec<Sample> = samples.into_iter().filter(|s| s.looked_for).collect();
    let json = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let mut leaks = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        let text = s.line.trim_end();
        let (input, chunk) = match k % 5 {
            0 | 1 => {
                let mut body = text.to_string();
                for _ in 0..=(k % 5) * (1 + k % 2) {
                    body = json(&body);
                }
                let line = format!(
                    "{{\"type\":\"user\",\"message\":{{\"content\":[{{\"type\":\"tool_result\",\"content\":{body}}}]}}}}\n"
                );
                (line, usize::MAX)
            }
            2 => {
                let mid = s.secret.len() / 2;
                let split = format!("{}\x1b[1;31m{}\x1b[0m", &s.secret[..mid], &s.secret[mid..]);
                (
                    format!("{}\n", text.replacen(&s.secret, &split, 1)),
                    usize::MAX,
                )
            }
            3 => (
                format!("{} {text} tail\n", "x".repeat(70 * 1024)),
                usize::MAX,
            ),
            _ => (s.line.clone(), 1 + k % 7),
        };
        let mut r = crate::redact::Redactor::new(std::sync::Arc::clone(&rules));
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        let out = String::from_utf8_lossy(&out);
        // Read as a terminal shows it: a secret cut by a colour code is whole again.
        let out = crate::redact::strip_escapes(&out);
        if leaked(&out, &s.secret) && leaks.len() < 40 {
            let shown: String = out
                .chars()
                .rev()
                .take(300)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            leaks.push(format!(
                "{} ({}): {:?} -> …{shown:?}",
                s.family,
                k % 5,
                s.line
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// Eight values of every service-name row, generated from the row's value shape, each
/// printed by `line(anchors, k, value)` (`None`: not a shape the caller holds) and redacted.
/// Returns how many lines were checked, how many values were passed over, and the leaks (a
/// 12-byte piece of the value in the output, [`leaked`]), the first 40 of them.
fn service_row_leaks(line: impl Fn(&[&str], usize, &str) -> String) -> (usize, Vec<String>) {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    let mut runner = same_samples_every_run();
    let (mut checked, mut leaks) = (0, Vec::new());
    for &(name, anchors, value, keyword) in rows() {
        if !keyword {
            continue;
        }
        let strategy = proptest::string::string_regex(&mostly_alphanumeric(value))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for k in 0..8 {
            let v = strategy.new_tree(&mut runner).expect("a value").current();
            let line = line(anchors, k, &v);
            let out = crate::redact::redact_text(&rules, &line);
            if leaked(&out, &v) && leaks.len() < 40 {
                leaks.push(format!("{name}: {line:?} -> {out:?}"));
            }
            checked += 1;
        }
    }
    (checked, leaks)
}

/// Every service-name row's values beside the service's name as people write secrets'
/// names: `HEROKU_API_KEY=…`, `heroku_token: "…"`, `"herokuApiKey": "…"`, `heroku.secret =
/// …`. None may go out whole or in a 12-byte piece, whichever rule takes it (the secret-name
/// rules take these names whatever the row's own shape: this holds the names' coverage, not
/// each row's regex).
#[test]
fn every_service_row_value_is_redacted_beside_its_name() {
    let (checked, leaks) = service_row_leaks(|anchors, k, v| {
        let service = anchors[0].trim_matches(['_', '-', '.']);
        match k % 4 {
            0 => format!("export {}_API_KEY={v}\n", service.to_ascii_uppercase()),
            1 => format!("{service}_token: \"{v}\"\n"),
            2 => format!("  \"{service}ApiKey\": \"{v}\",\n"),
            _ => format!("{service}.secret = {v}\n"),
        }
    });
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(checked > 500, "{checked} samples");
}

/// Every service-name row's values after the service's name alone, as configuration files
/// and tools' output give them: `"adafruit": "…"` (also inside a stream-json tool result),
/// `ADAFRUIT=…`, `adafruit: …`, `adafruit = '…'`. No secret's name marks these lines, so the
/// runs are what finds them, also where the value's first run comes after a `.`, `+` or `/`
/// in it (Salesforce's, Mux's); values shorter than a run (Dropbox's, MinIO's) are found by
/// their service's name.
#[test]
fn every_service_row_value_is_redacted_after_its_bare_name() {
    let (checked, leaks) = service_row_leaks(|anchors, k, v| {
        let anchor = anchors[k % anchors.len()];
        // An anchor that ends in a separator (`owm_`, `spaces_`) begins a longer name.
        let service = if anchor.ends_with(['_', '-', '.']) {
            format!("{anchor}app")
        } else {
            anchor.to_string()
        };
        match k % 5 {
            0 => format!("{{\"{service}\": \"{v}\"}}\n"),
            1 => format!("{}={v}\n", service.to_ascii_uppercase()),
            2 => format!("  {service}: {v}\n"),
            3 => format!("{service} = '{v}'\n"),
            _ => {
                format!(
                    r#"{{"type":"user","message":{{"content":[{{"type":"tool_result","content":"{{\"{service}\": \"{v}\"}}"}}]}}}}"#
                ) + "\n"
            }
        }
    });
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(checked > 500, "{checked} samples");
}

/// Prose and lists that name those services keep their words: a row that takes 8 to 15
/// letters or digits after the name must not take a word (`MinIO, Imagekit`).
#[test]
fn words_after_a_service_name_are_not_its_values() {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    for line in [
        "object stores: MinIO, Imagekit, Dropbox, Salesforce",
        "minio: starting",
        "Dropbox: Synchronizing",
        "chromatic: published storybook",
        "imgur = uploading",
    ] {
        let out = crate::redact::redact_text(&rules, &format!("{line}\n"));
        assert_eq!(out, format!("{line}\n"));
    }
}

/// The services whose values can be shorter than a run, at their shortest, or hold no run at
/// all, in the casings their names come in: each used to go out whole after its bare name.
#[test]
fn values_a_run_does_not_find_are_redacted_after_their_service() {
    let rules = std::sync::Arc::new(crate::redact::Rules::seed());
    for (line, value) in [
        ("{\"dropbox\": \"a1b2c3d4e5f6g7h\"}", "a1b2c3d4e5f6g7h"),
        ("  Dropbox: a1b2c3d4e5f6g7h", "a1b2c3d4e5f6g7h"),
        ("\"DROPBOX\": \"A1B2C3D4E5F6G7H\"", "A1B2C3D4E5F6G7H"),
        ("imgur = '0123456789abcde'", "0123456789abcde"),
        ("{\"Imgur\":\"0123456789abcde\"}", "0123456789abcde"),
        ("minio: \"a1b2c3d4\"", "a1b2c3d4"),
        ("MINIO: mvt+11me7h", "mvt+11me7h"),
        ("MinIO = \"q8z0x1c2\"", "q8z0x1c2"),
        ("'DropBox': 'z9y8x7w6v5u4t3s'", "z9y8x7w6v5u4t3s"),
        (
            "  imagekit: private_6a83h34+324w6+887pq54ieneyfy",
            "6a83h34+324w6+887pq54ieneyfy",
        ),
        (
            "sfdc = '44iwyu1hsx.4xb86!y73x3k6.er272mx6zw69kq4!l2i11'",
            "er272mx6zw69kq4!l2i11",
        ),
        (
            "Salesforce: 44iwyu1hsx.4xb86!y73x3k6.er272mx6zw69kq4!l2i11",
            "er272mx6zw69kq4!l2i11",
        ),
        (
            "{\"spaces_app\": \"drw068i9nn981e+fbj3l2/za+di15p41y60x09+iq\"}",
            "di15p41y60x09+iq",
        ),
        ("{\"chromatic\": \"onz5y4f92q82\"}", "onz5y4f92q82"),
        ("CHROMATIC: wrr7k39xzmbu", "wrr7k39xzmbu"),
    ] {
        let out = crate::redact::redact_text(&rules, &format!("{line}\n"));
        assert!(!out.contains(value), "{line:?} -> {out:?}");
    }
}

/// `shape` with each class that mixes letters or digits with punctuation weighted
/// toward its letters and digits: the generator picks a class's ranges evenly, so
/// `[A-Za-z0-9_.-]` would come out half punctuation, where real tokens are mostly letters
/// and digits with a separator here and there. The class as written stays one choice in
/// sixteen, so every byte it allows still turns up (a separator every 30 bytes or so).
fn mostly_alphanumeric(shape: &str) -> String {
    let b = shape.as_bytes();
    let (mut out, mut i) = (String::new(), 0);
    while i < b.len() {
        if b[i] == b'\\' {
            out.push_str(&shape[i..(i + 2).min(b.len())]);
            i += 2;
            continue;
        }
        if b[i] != b'[' || b.get(i + 1) == Some(&b'^') {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        // A class: its items, up to the closing bracket.
        let mut j = i + 1;
        let (mut alnum, mut other) = (String::new(), false);
        while j < b.len() && b[j] != b']' {
            if b[j] == b'\\' {
                if b[j + 1] == b'd' {
                    alnum.push_str("0-9");
                } else {
                    other = true;
                }
                j += 2;
            } else if b.get(j + 1) == Some(&b'-') && b.get(j + 2).is_some_and(|&c| c != b']') {
                if b[j].is_ascii_alphanumeric() {
                    alnum.push_str(&shape[j..j + 3]);
                } else {
                    other = true;
                }
                j += 3;
            } else {
                if b[j].is_ascii_alphanumeric() {
                    alnum.push(b[j] as char);
                } else {
                    other = true;
                }
                j += 1;
            }
        }
        let class = &shape[i..=j];
        if other && !alnum.is_empty() {
            // `()` keeps the parser from merging the alternatives back into one class.
            let alnum = format!("[{alnum}]()|");
            out.push_str(&format!("(?:{}{class})", alnum.repeat(15)));
        } else {
            out.push_str(class);
        }
        i = j + 1;
    }
    out
}

#[test]
fn every_regex_compiles_and_every_anchor_is_lowercase_findable() {
    for f in families() {
        regex::bytes::Regex::new(&f.regex).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert!(!f.anchors.is_empty(), "{}", f.name);
        for a in f.anchors {
            assert!(a.len() >= 2, "{}: anchor {a:?} too short", f.name);
        }
    }
}
