//! Commands whose output is a secret, in Claude Code's stream-json: a Bash tool call that reads
//! one (`kubectl get secret db -o jsonpath='{.data.password}' | base64 -d`, `echo $API_KEY`,
//! `gh auth token`, `terraform output -raw db_password`) prints it bare, with nothing beside it
//! to name it. The call's id is remembered from the assistant's line; when its result comes, a
//! text that is one word is the secret: redacted there, and learned, so that it is redacted
//! wherever it appears again.
//!
//! The call's line is read when the redactor looks at it for other evidence: a keyword of a
//! secret's name is in it (`secret`, `password`, `token`, `_KEY`, `credential`), or its call's
//! id, a run of token bytes (`"id":"toolu_01…","name":"Bash"`, see [`bash_call_id`]), so that
//! commands that name no secret are read too (`pwgen -s 24 1`, `head -c 32 /dev/urandom |
//! base64`, `az storage account keys list`). (A search for `"name":"Bash"` over every byte
//! cost 3.6 % of a pass.)
//!
//! The Read tool on a file that holds a secret alone (`.pgpass`, Rails' `config/master.key`,
//! Docker's `/run/secrets/NAME`: the files `cat` of which is such a command) is remembered the
//! same way; its result's lines come numbered (`     1→…`), the number taken off.
//!
//! Which commands print a secret is `outputs/commands.rs`; this file remembers their calls and
//! reads their results.

use super::context::{pgpass_password, secret_env_name, secret_path};
use commands::{json_fields, makes_a_passphrase, prints_a_secret, reads_a_store_entry};
use serde_json::Value;

mod commands;

/// Most calls remembered at once: each is forgotten when its result comes, and results come
/// before the next turn, so a few are in flight at most.
const MAX_CALLS: usize = 32;

/// A Bash call whose command prints a secret, remembered until its result comes.
#[derive(Debug)]
pub(crate) struct Call {
    id: String,
    /// The command's words that name a secret (`api_key` in `psql -c "select api_key from
    /// …"`, `requirepass`): a result's line that is one of them heads or keys the value, and is
    /// none itself.
    named: Vec<String>,
    /// For a command that prints its secrets as JSON under names that say nothing
    /// (`"value"`, `"key1"`): those names, whose string values are the secrets (as a table
    /// or tab-separated, each row's last column).
    fields: &'static [&'static str],
    /// The command makes a passphrase of words (`xkcdpass`, `diceware`): a result's line of
    /// words with blanks between is one.
    phrase: bool,
    /// The command prints a secret store's entry whole (`vault kv get`): the entry's values
    /// are the secrets ([`entry_values`]).
    entry: bool,
}

/// Whether the run of token bytes `hay[s..e]` is the id of a Bash or Read tool call in Claude
/// Code's stream-json (`"id":"toolu_01…","name":"Bash"`): its line is then read for the call. Every
/// run passes here, so the first byte is looked at first.
#[inline(always)]
pub(crate) fn bash_call_id(hay: &[u8], s: usize, e: usize) -> bool {
    hay[s] == b't' && hay[s..e].starts_with(b"toolu_") && bash_call_at(hay, s, e)
}

/// The call's name near its id, before or after it (Claude Code writes `"type":"tool_use",
/// "id":…,"name":"Bash","input":{…}`).
const NAME_REACH: usize = 48;

#[cold]
fn bash_call_at(hay: &[u8], s: usize, e: usize) -> bool {
    let before = &hay[..s];
    let near = &hay[s.saturating_sub(NAME_REACH)..hay.len().min(e + NAME_REACH)];
    const TOOLS: [&[u8]; 4] = [
        b"\"name\":\"Bash\"",
        b"\"name\": \"Bash\"",
        b"\"name\":\"Read\"",
        b"\"name\": \"Read\"",
    ];
    (before.ends_with(b"\"id\":\"") || before.ends_with(b"\"id\": \""))
        && TOOLS
            .iter()
            .any(|t| memchr::memmem::find(near, t).is_some())
}

/// The Bash tool calls in `line` (an assistant line of stream-json) whose commands print a
/// secret, added to `calls`; whether one was.
pub(crate) fn secret_calls(line: &[u8], calls: &mut Vec<Call>) -> bool {
    if memchr::memmem::find(line, b"\"tool_use\"").is_none()
        || memchr::memmem::find(line, b"\"Bash\"").is_none()
            && memchr::memmem::find(line, b"\"Read\"").is_none()
    {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(line.trim_ascii()) else {
        return false;
    };
    let Some(blocks) = v.pointer("/message/content").and_then(Value::as_array) else {
        return false;
    };
    let mut added = false;
    for b in blocks {
        let (Some("tool_use"), Some(id)) = (
            b.get("type").and_then(Value::as_str),
            b.get("id").and_then(Value::as_str),
        ) else {
            continue;
        };
        let call = match b.get("name").and_then(Value::as_str) {
            // The Read tool on a file that holds a secret alone (`.pgpass`,
            // `config/master.key`, `/run/secrets/db_password`): read as `cat` of it would be.
            Some("Read") => b
                .pointer("/input/file_path")
                .and_then(Value::as_str)
                .filter(|path| secret_path(path.as_bytes()))
                .map(|_| Call {
                    id: id.to_string(),
                    named: Vec::new(),
                    fields: &[],
                    phrase: false,
                    entry: false,
                }),
            Some("Bash") => b
                .pointer("/input/command")
                .and_then(Value::as_str)
                .filter(|command| prints_a_secret(command))
                .map(|command| Call {
                    id: id.to_string(),
                    named: command
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                        .filter(|w| !w.is_empty() && secret_env_name(w))
                        .map(str::to_string)
                        .collect(),
                    fields: json_fields(command),
                    phrase: makes_a_passphrase(command),
                    entry: reads_a_store_entry(command),
                }),
            _ => None,
        };
        if let Some(call) = call
            && !calls.iter().any(|c| c.id == call.id)
        {
            if calls.len() == MAX_CALLS {
                calls.remove(0);
            }
            calls.push(call);
            added = true;
        }
    }
    added
}

/// The secrets a remembered call printed, if `line` (a user line of stream-json) holds its
/// result and each of that result's lines is one word (`cat ~/.pgpass` with two entries), or
/// the result is JSON holding the call's fields; the call is forgotten either way.
pub(crate) fn secret_result(line: &[u8], calls: &mut Vec<Call>) -> Vec<String> {
    one_word_lines(line, calls).unwrap_or_default()
}

/// Most lines of a result taken for secrets, one a line.
const MAX_LINES: usize = 16;

fn one_word_lines(line: &[u8], calls: &mut Vec<Call>) -> Option<Vec<String>> {
    const ID: &[u8] = b"\"tool_use_id\"";
    let key = memchr::memmem::find(line, ID)? + ID.len();
    let colon = key + line[key..].iter().position(|b| !b.is_ascii_whitespace())?;
    let open = colon
        + 1
        + line
            .get(colon + 1..)?
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
    if line[colon] != b':' || line[open] != b'"' {
        return None;
    }
    let at = open + 1;
    let end = at + memchr::memchr(b'"', &line[at..])?;
    let id = std::str::from_utf8(&line[at..end]).ok()?;
    let i = calls.iter().position(|c| c.id == id)?;
    let call = calls.remove(i);
    let v: Value = serde_json::from_slice(line.trim_ascii()).ok()?;
    let blocks = v.pointer("/message/content")?.as_array()?;
    let result = blocks
        .iter()
        .find(|b| b.get("tool_use_id").and_then(Value::as_str) == Some(id))?;
    let text = match result.get("content")? {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => return None,
    };
    if call.entry {
        let found = entry_values(&text);
        return (!found.is_empty()).then_some(found);
    }
    if !call.fields.is_empty() {
        let mut found = Vec::new();
        match serde_json::from_str::<Value>(&text) {
            Ok(json) => fields_in(&json, call.fields, &mut found),
            // `-o tsv`, `-o table`: the key is each row's last column (a heading's and a
            // rule's are too short, or no key's alphabet).
            Err(_) => found.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().last())
                    .filter(|w| {
                        w.len() >= MIN_FIELD && w.bytes().any(|b| b.is_ascii_alphanumeric())
                    })
                    .take(MAX_LINES)
                    .map(String::from),
            ),
        }
        return (!found.is_empty()).then_some(found);
    }
    if call.phrase {
        // Each line a passphrase: two to twelve words of letters and digits, one delimiter
        // apart (a blank, `-`, `.` or `_`), or one word (diceware's words run together).
        let phrases: Vec<&str> = text.lines().filter_map(printed_word).collect();
        let phrase = |p: &&str| {
            let Some(d) = p.chars().find(|c| !c.is_alphanumeric()) else {
                return (8..=256).contains(&p.len());
            };
            (8..=256).contains(&p.len())
                && " -._".contains(d)
                && p.split(d)
                    .all(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric))
                && (2..=12).contains(&p.split(d).count())
        };
        return (!phrases.is_empty() && phrases.len() <= MAX_LINES && phrases.iter().all(phrase))
            .then(|| phrases.into_iter().map(String::from).collect());
    }
    let words: Vec<&str> = text
        .lines()
        .filter_map(printed_word)
        .filter(|w| !call.named.iter().any(|n| n.eq_ignore_ascii_case(w)))
        .collect();
    let one_word = |w: &&str| (4..=4096).contains(&w.len()) && !w.chars().any(char::is_whitespace);
    (!words.is_empty() && words.len() <= MAX_LINES && words.iter().all(one_word)).then(|| {
        let mut secrets: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        secrets.extend(words.iter().filter_map(|w| last_field(w)).map(String::from));
        secrets
    })
}

/// The values of a secret store's entry as `vault kv get` prints it, at least
/// [`MIN_JSON_FIELD`] bytes, at most [`MAX_LINES`] of them: with `-format=json` the strings
/// under `data.data` (a version 2 engine, beside the entry's `metadata`) or else under `data`;
/// as a table, each row's value after the `Data` heading (the metadata's rows come before it).
fn entry_values(text: &str) -> Vec<String> {
    let long = |v: &str| v.len() >= MIN_JSON_FIELD;
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        let data = json.get("data");
        let entry = data
            .and_then(|d| d.get("data"))
            .filter(|d| d.is_object())
            .or(data);
        let Some(Value::Object(members)) = entry else {
            return Vec::new();
        };
        return members
            .values()
            .filter_map(Value::as_str)
            .filter(|v| long(v))
            .take(MAX_LINES)
            .map(String::from)
            .collect();
    }
    let mut lines = text.lines().skip_while(|l| {
        let l = l.trim();
        !(l.starts_with('=') && l.trim_matches('=').trim() == "Data")
    });
    lines.next(); // the heading
    lines
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(char::is_whitespace))
        // (The columns' heading and its rule: `Key  Value`, `---  -----`.)
        .filter(|(k, _)| *k != "Key" && !k.starts_with("---"))
        .map(|(_, v)| v.trim())
        .filter(|v| long(v))
        .take(MAX_LINES)
        .map(String::from)
        .collect()
}

/// The password of a line of fields that ends with one: `.pgpass`'
/// `host:port:database:user:password`, rsync's `user:password`; learned alone as well as with
/// its line, so that it is redacted when printed without the rest.
fn last_field(w: &str) -> Option<&str> {
    if w.contains("://") || w.contains('@') {
        return None;
    }
    let last = match pgpass_password(w.as_bytes()) {
        Some(at) => &w[at..],
        None => w.split_once(':').filter(|(_, p)| !p.contains(':'))?.1,
    };
    (last.len() >= 6).then_some(last)
}

/// The string values of members named one of `fields`, anywhere in `v` (a list of keys, an
/// object of them), at least [`MIN_JSON_FIELD`] bytes, at most [`MAX_LINES`] of them.
fn fields_in(v: &Value, fields: &[&str], found: &mut Vec<String>) {
    match v {
        Value::Object(members) => {
            for (k, x) in members {
                match x {
                    Value::String(s)
                        if fields.contains(&k.as_str())
                            && s.len() >= MIN_JSON_FIELD
                            && found.len() < MAX_LINES =>
                    {
                        found.push(s.clone());
                    }
                    _ => fields_in(x, fields, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| fields_in(x, fields, found)),
        _ => {}
    }
}

/// Shortest field value taken for a key (Azure's are 32 bytes and more).
const MIN_FIELD: usize = 16;

/// Shortest value of such a member in JSON, where its name says which it is (a Key Vault
/// secret's `value` may be a password of 8 bytes).
const MIN_JSON_FIELD: usize = 8;

/// A result's line as the word it may print: trimmed, Redis' `1) ` and a table's `|` borders
/// taken off, a JSON string's quotes (`jq` without `-r`) too; `None` for what only frames the
/// value: a blank line, a table's rule (`------+---`), a row count (`(1 row)`), what an unset
/// variable's lookup prints. (A column's or key's name the command gave is taken off by the
/// caller.)
fn printed_word(line: &str) -> Option<&str> {
    let mut w = line.trim();
    // A file's line as the Read tool shows it: its number and an arrow first (`     1→`).
    if let Some((n, rest)) = w.split_once('→')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        w = rest.trim();
    }
    if let Some((n, rest)) = w.split_once(") ")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        w = rest.trim();
    }
    if let Some(inner) = w.strip_prefix('|').and_then(|r| r.strip_suffix('|')) {
        w = inner.trim();
    }
    if w.len() >= 2 && w.starts_with('"') && w.ends_with('"') {
        w = &w[1..w.len() - 1];
    }
    let rule = w.bytes().all(|b| matches!(b, b'-' | b'+' | b'|' | b'='));
    // What a lookup of an unset variable prints (`undefined`, Python's `None`) is no secret,
    // and learned it would be taken out of every later line.
    let unset = ["undefined", "null", "none", "nil", "true", "false"]
        .iter()
        .any(|u| w.eq_ignore_ascii_case(u));
    let count = w.starts_with('(') && (w.ends_with(" row)") || w.ends_with(" rows)"));
    (!rule && !count && !unset).then_some(w)
}
