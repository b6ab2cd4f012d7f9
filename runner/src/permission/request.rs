//! What a person sees of a tool call before deciding: the `permission_request` marker, with the
//! command line and directory of a Bash call and a unified diff of an Edit, MultiEdit or Write
//! against the file on disk.
//!
//! Everything in it is redacted here, before it is cut to size (a cut must never split a secret
//! the redactor would otherwise have recognised); the sequencer redacts it once more like every
//! marker. The old content of a file is read only inside the working directory, through
//! `workspace::read_file` (no symbolic link or hard link leads out, the runner's data directory
//! is never read): for a file elsewhere the diff shows the change alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::redact::Rules;
use common::wire::PermissionRequest;
use serde_json::Value;

use crate::pipeline::redact_value;
use crate::workspace;

/// Largest serialized tool input a request carries whole; past it long strings are cut.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// What a long string of the input is cut to.
const CUT_STRING_BYTES: usize = 4 * 1024;
/// Largest diff a request carries; past it the diff is cut at a line end.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;
/// Longest a diff may take to compute before it is approximated.
const DIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// Where a request's tool call acts.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The run's working directory (canonical).
    pub cwd: PathBuf,
    /// Inside `cwd` but never read: the runner's data directory.
    pub hidden: Vec<PathBuf>,
    pub rules: Arc<Rules>,
}

/// Build the marker for one call; reads the file an edit changes (blocking).
pub fn build(
    scope: &Scope,
    request_id: &str,
    tool: &str,
    tool_use_id: Option<&str>,
    input: &Value,
    expires_at: i64,
) -> PermissionRequest {
    let raw = input;
    let (input, input_truncated) = cut_input(redact_value(&scope.rules, input));
    let mut request = PermissionRequest {
        request_id: request_id.to_string(),
        tool: tool.to_string(),
        tool_use_id: tool_use_id.map(String::from),
        input_truncated,
        command: None,
        cwd: None,
        diff: None,
        diff_truncated: false,
        diff_note: None,
        expires_at,
        input: Value::Null,
    };
    if let Some(cmd) = super::policy::bash_command(tool, &input) {
        request.command = Some(cmd.to_string());
        request.cwd = Some(scope.cwd.display().to_string());
    }
    // From the input as Claude gave it: a redacted `old_string` would not be found in the file.
    if let Some(change) = change(scope, tool, raw) {
        let diff = match redact_value(&scope.rules, &Value::String(change.diff)) {
            Value::String(s) => s,
            _ => String::new(),
        };
        let (diff, cut) = cut_lines(diff, MAX_DIFF_BYTES);
        request.diff = Some(diff);
        request.diff_truncated = cut;
        request.diff_note = change.note;
    }
    request.input = input;
    request
}

/// A diff and why it is not against the whole file, if it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    diff: String,
    note: Option<String>,
}

/// What the file holds now, as far as the runner may and can tell.
enum Base {
    Text(String),
    Missing,
    Unknown(String),
}

fn read_base(scope: &Scope, path: &Path) -> Base {
    let Ok(rel) = path.strip_prefix(&scope.cwd) else {
        return Base::Unknown("the file lies outside the working directory".into());
    };
    let rel = rel.to_string_lossy();
    match workspace::read_file(&scope.cwd, &rel, workspace::MAX_FILE_BYTES, &scope.hidden) {
        Ok(read) if read.truncated => Base::Unknown(format!(
            "the file is larger than {} MiB",
            workspace::MAX_FILE_BYTES >> 20
        )),
        Ok(read) => match String::from_utf8(read.bytes) {
            Ok(text) => Base::Text(text),
            Err(_) => Base::Unknown("the file is not UTF-8 text".into()),
        },
        Err(why) if why == "no such file" => Base::Missing,
        Err(why) => Base::Unknown(why),
    }
}

fn change(scope: &Scope, tool: &str, input: &Value) -> Option<Change> {
    let raw = input["file_path"].as_str()?;
    let path = scope.cwd.join(raw);
    let label = path
        .strip_prefix(&scope.cwd)
        .map_or_else(|_| path.display().to_string(), |r| r.display().to_string());
    let base = read_base(scope, &path);
    let edits: Vec<(&str, &str, bool)> = match tool {
        "Write" => {
            let new = input["content"].as_str().unwrap_or_default();
            return Some(match base {
                Base::Text(old) => Change {
                    diff: unified(&old, new, &label, &label),
                    note: None,
                },
                Base::Missing => Change {
                    diff: unified("", new, "/dev/null", &label),
                    note: None,
                },
                Base::Unknown(why) => Change {
                    diff: unified("", new, &label, &label),
                    note: Some(format!("{why}: the diff shows the new content alone")),
                },
            });
        }
        "Edit" => vec![edit_of(input)?],
        "MultiEdit" => input["edits"]
            .as_array()?
            .iter()
            .map(edit_of)
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    let why = match base {
        Base::Text(old) => match apply(&old, &edits) {
            Some(new) => {
                return Some(Change {
                    diff: unified(&old, &new, &label, &label),
                    note: None,
                });
            }
            None => "the text to replace is not in the file".to_string(),
        },
        Base::Missing => "the file does not exist".to_string(),
        Base::Unknown(why) => why,
    };
    // Whole lines, so the snippet reads as a change rather than as a missing line end.
    let line = |t: &str| {
        if t.ends_with('\n') {
            t.to_string()
        } else {
            format!("{t}\n")
        }
    };
    let diff = edits
        .iter()
        .map(|(old, new, _)| unified(&line(old), &line(new), &label, &label))
        .collect();
    Some(Change {
        diff,
        note: Some(format!("{why}: the diff shows the replaced text alone")),
    })
}

fn edit_of(v: &Value) -> Option<(&str, &str, bool)> {
    Some((
        v["old_string"].as_str()?,
        v["new_string"].as_str()?,
        v["replace_all"].as_bool().unwrap_or(false),
    ))
}

/// The file after the edits, in order, as Claude Code applies them; `None` if one does not apply.
fn apply(old: &str, edits: &[(&str, &str, bool)]) -> Option<String> {
    let mut text = old.to_string();
    for &(from, to, all) in edits {
        if from.is_empty() || !text.contains(from) {
            return None;
        }
        text = if all {
            text.replace(from, to)
        } else {
            text.replacen(from, to, 1)
        };
    }
    Some(text)
}

fn unified(old: &str, new: &str, a: &str, b: &str) -> String {
    let a = if a == "/dev/null" {
        a.to_string()
    } else {
        format!("a/{a}")
    };
    similar::TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new)
        .unified_diff()
        .header(&a, &format!("b/{b}"))
        .to_string()
}

/// `text` cut at the last line end within `max` bytes; true if anything was cut.
fn cut_lines(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    (text[..end].to_string(), true)
}

/// The input, its long strings cut when it is larger than [`MAX_INPUT_BYTES`].
fn cut_input(input: Value) -> (Value, bool) {
    if serde_json::to_vec(&input).map_or(0, |b| b.len()) <= MAX_INPUT_BYTES {
        return (input, false);
    }
    fn walk(v: Value) -> Value {
        match v {
            Value::String(s) if s.len() > CUT_STRING_BYTES => {
                let mut end = CUT_STRING_BYTES;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Value::String(format!("{}… ({} bytes more)", &s[..end], s.len() - end))
            }
            Value::Array(a) => Value::Array(a.into_iter().map(walk).collect()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, walk(x))).collect()),
            other => other,
        }
    }
    (walk(input), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(dir: &Path) -> Scope {
        let env = [("API_TOKEN".to_string(), "tok-0123456789abcdef".to_string())].into();
        Scope {
            cwd: std::fs::canonicalize(dir).unwrap(),
            hidden: vec![],
            rules: Arc::new(
                Rules::from_config(common::redact::DEFAULT_CONFIG, &env, vec![]).unwrap(),
            ),
        }
    }

    #[test]
    fn a_bash_request_names_its_command_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s = scope(dir.path());
        let r = build(
            &s,
            "pr_1",
            "Bash",
            Some("toolu_1"),
            &json!({"command": "touch a"}),
            7,
        );
        assert_eq!(r.command.as_deref(), Some("touch a"));
        assert_eq!(r.cwd.as_deref(), Some(s.cwd.to_str().unwrap()));
        assert_eq!(
            (r.diff, r.expires_at, r.tool_use_id.as_deref()),
            (None, 7, Some("toolu_1"))
        );
    }

    #[test]
    fn edits_are_diffed_against_the_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let s = scope(dir.path());
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\nthree\n").unwrap();
        let path = s.cwd.join("a.txt").display().to_string();
        let edit = json!({"file_path": path, "old_string": "two", "new_string": "2"});
        let r = build(&s, "pr_1", "Edit", None, &edit, 0);
        assert_eq!(
            r.diff.as_deref(),
            Some("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n")
        );
        assert_eq!(r.diff_note, None);

        let multi = json!({"file_path": "a.txt", "edits": [
            {"old_string": "one", "new_string": "1"},
            {"old_string": "three", "new_string": "3", "replace_all": true}]});
        let d = build(&s, "pr_2", "MultiEdit", None, &multi, 0)
            .diff
            .unwrap();
        assert!(
            d.contains("-one\n+1\n") && d.contains("-three\n+3\n"),
            "{d}"
        );

        let write = json!({"file_path": path, "content": "one\n"});
        let d = build(&s, "pr_3", "Write", None, &write, 0).diff.unwrap();
        assert!(d.contains("-two\n-three\n"), "{d}");
        let new = json!({"file_path": "new.txt", "content": "hi\n"});
        let d = build(&s, "pr_4", "Write", None, &new, 0).diff.unwrap();
        assert!(d.starts_with("--- /dev/null\n+++ b/new.txt\n"), "{d}");

        let stale = json!({"file_path": path, "old_string": "four", "new_string": "4"});
        let r = build(&s, "pr_5", "Edit", None, &stale, 0);
        assert!(r.diff.unwrap().contains("-four\n+4"));
        assert!(r.diff_note.unwrap().contains("not in the file"));
    }

    #[test]
    fn a_file_outside_the_working_directory_is_never_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "keep-me-private\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("link"))
            .unwrap();
        let s = scope(dir.path());
        for path in [
            outside.path().join("secret.txt").display().to_string(),
            "link".to_string(),
        ] {
            let write = json!({"file_path": path, "content": "new\n"});
            let r = build(&s, "pr_1", "Write", None, &write, 0);
            assert!(
                !r.diff.as_deref().unwrap().contains("keep-me-private"),
                "{path}"
            );
            assert!(r.diff_note.is_some(), "{path}");
        }
    }

    #[test]
    fn secrets_are_redacted_before_anything_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let s = scope(dir.path());
        // The token straddles the cut: redacted first, nothing of it survives.
        let long = format!(
            "{}tok-0123456789abcdef{}",
            "x".repeat(4090),
            "y".repeat(70_000)
        );
        let r = build(
            &s,
            "pr_1",
            "Write",
            None,
            &json!({"file_path": "f", "content": long}),
            0,
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(r.input_truncated && !text.contains("tok-0123"), "redacted");
        assert!(text.len() < MAX_INPUT_BYTES + MAX_DIFF_BYTES + 1024);
        let (cut, was) = cut_lines("a\nbb\nccc\n".into(), 6);
        assert_eq!((cut.as_str(), was), ("a\nbb\n", true));
    }
}
