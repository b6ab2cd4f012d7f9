//! The secret redactor: every byte the runner prints, stores or sends passes through here first.
//!
//! [`Redactor`] is streaming: feed it chunks as they arrive, get back only bytes that are safe to
//! emit, and call [`Redactor::finish`] at the end. Output is held back to the end of a line (`\n`
//! or `\r`), so a secret split across chunks is still seen whole; a line without end is released
//! once [`MAX_PENDING`] bytes are held, except its last [`MAX_MATCH`] bytes and any match — with
//! its context, the name before a value — that reaches into them. A value too long for that is
//! replaced up to the release point and the redactor carries the decision: the rest of the value
//! is dropped when it arrives, so context survives any framing or hold-back boundary.
//!
//! A private key is a header with a body after it (see `key`): header and body are replaced,
//! however many lines and chunks they span; a header alone is ordinary text. Each match becomes
//! [`REDACTED`]; [`Redactor::counts`] tells how often each rule fired. Every value found by its
//! context or shape is *learned*: redacted wherever it appears again in the run, in any encoding.
//!
//! Speed comes from `prefilter`: lines without evidence of a secret are copied as they are.

mod ansi;
mod config;
mod context;
mod encoded;
mod families;
mod key;
mod known;
mod outputs;
mod prefilter;
mod rules;
mod view;

pub use config::{Config, ConfigError, DEFAULT_CONFIG};
pub use known::{
    EnvSecrets, MAX_LEARNED, MIN_KNOWN_LEN, SECRET_ENV_SUFFIXES, glob_match, secret_env_values,
};
pub use rules::{RuleError, Rules};

use rules::{Span, Tail};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use view::View;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The name under which [`Redactor::counts`] and [`Rules::tally`] count the chunks a failure of
/// the redactor's own code dropped (see [`Redactor::push`]).
pub const REDACTOR_FAILURE: &str = "redactor_failure";
/// Longest stretch without a line end held back before part of it is released anyway.
pub const MAX_PENDING: usize = 64 * 1024;
/// Longest match a line without end is guaranteed to catch whole (a longer one is replaced up to
/// the release point, and the rest of it is dropped as it arrives).
pub const MAX_MATCH: usize = 16 * 1024;
/// Longest key-body line held back whole; a longer one is dropped as it arrives.
const KEY_LINE_HOLD: usize = 4096;

/// `line` without its terminal escape sequences (colours, cursor moves, OSC links), as text a
/// person reads and searches; bytes that are not UTF-8 after stripping become U+FFFD.
pub fn strip_escapes(line: &str) -> String {
    if !line.contains('\x1b') {
        return line.to_string();
    }
    String::from_utf8_lossy(&ansi::strip(line.as_bytes()).0).into_owned()
}

/// Redact a whole text at once.
pub fn redact_text(rules: &Arc<Rules>, text: &str) -> String {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::with_capacity(text.len());
    r.push(text.as_bytes(), &mut out);
    r.finish(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Redact a whole text at once, adding what fired to `counts`.
pub fn redact_counted(
    rules: &Arc<Rules>,
    text: &str,
    counts: &mut BTreeMap<String, u64>,
) -> String {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::with_capacity(text.len());
    r.push(text.as_bytes(), &mut out);
    r.finish(&mut out);
    for (k, v) in r.counts() {
        *counts.entry(k.clone()).or_default() += v;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `lines` did with a batch.
enum Flow {
    /// Every line emitted.
    Done,
    /// A key block opened; the lines from this offset on are its body.
    Key(usize),
    /// A key header ends the line at this offset, and what follows is not known yet.
    Hold(usize),
}

/// A streaming redactor for one byte stream (one per stdout, stderr, file, …).
pub struct Redactor {
    rules: Arc<Rules>,
    pending: Vec<u8>,
    /// Inside a private key's body: whether no body line was seen yet.
    key: Option<bool>,
    /// The held-back bytes continue a value already replaced: drop them to the value's end.
    carry: bool,
    /// The learned values' matchers (see [`known::Current`]).
    learned: known::Current,
    counts: BTreeMap<String, u64>,
    /// Whether hits go to the run's tally ([`Rules::tally`]).
    counted: bool,
    /// Verdicts on the names around keyword hits, remembered.
    names: prefilter::NameMemo,
    /// Whether names that runs are given to hold a service's name, remembered.
    services: prefilter::NameMemo,
    /// Claude Code's Bash calls whose commands print a secret, by id, until their results come
    /// (see [`outputs`]).
    calls: Vec<outputs::Call>,
    /// After a failure (see [`Redactor::push`]): the rest of the line it cut is dropped too.
    resync: bool,
}

impl fmt::Debug for Redactor {
    // The held-back bytes may be a secret in the making: never show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("pending_len", &self.pending.len())
            .field("in_key", &self.key.is_some())
            .field("counts", &self.counts)
            .finish()
    }
}

fn is_sep(b: &u8) -> bool {
    *b == b'\n' || *b == b'\r'
}

/// Where the first line end in `bytes` is (SIMD, as every search here).
fn first_sep(bytes: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', b'\r', bytes)
}

/// Where the last line end in `bytes` is.
fn last_sep(bytes: &[u8]) -> Option<usize> {
    memchr::memrchr2(b'\n', b'\r', bytes)
}

/// Bytes that make [`Redactor::push`] and [`Redactor::finish`] panic in this crate's tests, to
/// check their guard.
#[cfg(test)]
const FAULT: &[u8] = b"\x00fault-injected-by-a-test\x00";

/// Bytes that end a value (where a carried redaction stops).
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'&' | b'<' | b'>' | b'`')
}

/// Sources of evidence in `lines`: ESC, keyword literals, long runs, known and learned values,
/// extra patterns, percent escapes, while a call that prints a secret waits for its result,
/// tool results, and secrets' labels in other languages.
const SRC_ESC: usize = 0;
const SRC_KEYWORD: usize = 1;
const SRC_RUN: usize = 2;
const SRC_VALUES: usize = 3;
const SRC_EXTRA: usize = 4;
const SRC_ESCAPE: usize = 5;
const SRC_RESULT: usize = 6;
const SRC_FOREIGN: usize = 7;
const SOURCES: usize = 8;

impl Redactor {
    pub fn new(rules: Arc<Rules>) -> Self {
        let learned = rules.learned.current();
        Self {
            rules,
            pending: Vec::new(),
            key: None,
            carry: false,
            learned,
            counts: BTreeMap::new(),
            counted: true,
            names: prefilter::NameMemo::default(),
            services: prefilter::NameMemo::default(),
            calls: Vec::new(),
            resync: false,
        }
    }

    /// A redactor whose hits stay out of the run's tally: for a second pass over bytes already
    /// counted once (sizing an artifact before writing it).
    pub fn uncounted(rules: Arc<Rules>) -> Self {
        Self {
            counted: false,
            ..Self::new(rules)
        }
    }

    /// Feed a chunk; append the bytes that are now safe to emit to `out`.
    ///
    /// A failure of the redactor's own code (a panic: a reader's bug, never the input's fault)
    /// fails closed and loses no more than it must: what this call had appended, every byte
    /// held back and the rest of the line the failure cut (in the chunks after it) are dropped,
    /// never emitted unredacted, and a marker line saying how many bytes were dropped takes
    /// their place; the failure is counted under
    /// [`REDACTOR_FAILURE`], and the redactor starts afresh on the next chunk (the run's
    /// learned values kept). Without this a panic ended the task that reads the child's pipe:
    /// the rest of the output was lost with no word of it, and the child blocked on a full pipe.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut chunk = chunk;
        if self.resync {
            // The rest of the line a failure cut: a secret's end may be in it.
            let Some(p) = first_sep(chunk) else { return };
            chunk = &chunk[p + 1..];
            self.resync = false;
        }
        self.guarded(chunk.len(), out, |r, out| r.push_unguarded(chunk, out));
    }

    /// Run `step` (which appends to `out`) with [`Redactor::push`]'s guard; `len` is how many
    /// new bytes it was given.
    fn guarded(
        &mut self,
        len: usize,
        out: &mut Vec<u8>,
        step: impl FnOnce(&mut Self, &mut Vec<u8>),
    ) {
        let base = out.len();
        let held = self.pending.len();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(self, out)));
        if ok.is_err() {
            out.truncate(base);
            let dropped = held + len;
            out.extend_from_slice(
                format!(
                    "[REDACTED: {dropped} bytes of output and the rest of their line dropped: \
                     the redactor failed on them]\n"
                )
                .as_bytes(),
            );
            *self = Self {
                counts: std::mem::take(&mut self.counts),
                counted: self.counted,
                resync: true,
                ..Self::new(Arc::clone(&self.rules))
            };
            *self.counts.entry(REDACTOR_FAILURE.to_string()).or_default() += 1;
            if self.counted {
                self.rules.count_named(REDACTOR_FAILURE);
            }
        }
    }

    fn push_unguarded(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        #[cfg(test)]
        if chunk.windows(FAULT.len()).any(|w| w == FAULT) {
            panic!("a fault injected by a test");
        }
        self.refresh_learned();
        if self.pending.is_empty() && self.key.is_none() && !self.carry {
            // The common case: no carry-over, so lines are taken straight from the chunk.
            let done = self.drain(chunk, out, false);
            self.pending.extend_from_slice(&chunk[done..]);
            return;
        }
        if self.key.is_none()
            && !self.carry
            && self.pending.len() + chunk.len() < MAX_PENDING
            && memchr::memchr2(b'\n', b'\r', chunk).is_none()
        {
            // Still inside a held-back line: nothing can be released yet, so nothing is looked
            // at again (a long line in small chunks would otherwise cost its length each time).
            self.pending.extend_from_slice(chunk);
            return;
        }
        let mut chunk = chunk;
        if self.key.is_none()
            && !self.carry
            && let Some(p) = memchr::memchr2(b'\n', b'\r', chunk)
        {
            // The held-back line ends in this chunk: finish it alone, then, if nothing is held
            // back any more, take the rest of the chunk's lines straight from it (copying every
            // chunk behind the held-back bytes first would cost a copy of the whole stream).
            self.pending.extend_from_slice(&chunk[..=p]);
            self.drain_pending(out);
            chunk = &chunk[p + 1..];
            if self.pending.is_empty() && self.key.is_none() && !self.carry {
                let done = self.drain(chunk, out, false);
                self.pending.extend_from_slice(&chunk[done..]);
                return;
            }
        }
        self.pending.extend_from_slice(chunk);
        self.drain_pending(out);
    }

    /// Emit what can be emitted of the held-back bytes.
    fn drain_pending(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        let done = self.drain(&pending, out, false);
        self.pending = pending;
        self.pending.drain(..done);
    }

    /// End of stream: release what is held back, redacted (guarded as [`Redactor::push`] is).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.guarded(0, out, Self::finish_unguarded);
    }

    fn finish_unguarded(&mut self, out: &mut Vec<u8>) {
        #[cfg(test)]
        if self.pending.windows(FAULT.len()).any(|w| w == FAULT) {
            panic!("a fault injected by a test");
        }
        self.refresh_learned();
        let pending = std::mem::take(&mut self.pending);
        self.drain(&pending, out, true);
        self.key = None;
        self.carry = false;
    }

    /// How many times each rule fired so far (counts only, never values).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    fn refresh_learned(&mut self) {
        if self.rules.learned.generation() != self.learned.generation {
            self.learned = self.rules.learned.current();
        }
    }

    /// Emit what can be emitted of `buf`; return how many bytes of it were consumed.
    fn drain(&mut self, buf: &[u8], out: &mut Vec<u8>, fin: bool) -> usize {
        let mut pos = 0;
        loop {
            if self.key.is_some() {
                pos += self.key_body(&buf[pos..], fin, out);
                if self.key.is_some() {
                    return pos;
                }
            }
            if self.carry {
                let rest = &buf[pos..];
                let n = rest
                    .iter()
                    .position(|&b| ends_value(b))
                    .unwrap_or(rest.len());
                pos += n;
                if n == rest.len() && !fin {
                    return pos;
                }
                self.carry = false;
            }
            let rest = &buf[pos..];
            let end = if fin {
                rest.len()
            } else {
                last_sep(rest).map_or(0, |p| p + 1)
            };
            if end > 0 {
                match self.lines(rest, end, fin, out) {
                    Flow::Done => pos += end,
                    Flow::Key(at) => {
                        pos += at;
                        self.key = Some(true);
                        continue;
                    }
                    Flow::Hold(at) => return pos + at,
                }
            }
            let partial = &buf[pos..];
            if partial.len() < MAX_PENDING || fin {
                return pos;
            }
            pos += self.long_line(partial, out);
        }
    }

    /// Drop the key body at the start of `rest`; return how many bytes were dropped. Leaves
    /// key mode at the footer (dropped too; text after it on its line is kept, behind a marker
    /// for body and footer) or at the first line that is not body (kept).
    fn key_body(&mut self, rest: &[u8], fin: bool, out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        while let Some(first) = self.key {
            let line_rest = &rest[pos..];
            let (line, next, complete) = match line_rest.iter().position(is_sep) {
                Some(p) => {
                    let mut n = p + 1;
                    if line_rest[p] == b'\r' && line_rest.get(p + 1) == Some(&b'\n') {
                        n += 1;
                    }
                    (&line_rest[..p], n, true)
                }
                None => (line_rest, line_rest.len(), fin),
            };
            if line_rest.is_empty() {
                if fin {
                    self.key = None;
                }
                return pos;
            }
            // Colour codes spliced into a body line do not end the block.
            let view = View::of(line);
            let line = view.as_ref().map_or(line, |v| &v.bytes[..]);
            match key::classify_line(&self.rules, line, complete, first) {
                key::Next::Body => {
                    if !complete && line.len() < KEY_LINE_HOLD {
                        return pos; // wait for the line's end
                    }
                    // A key's body lines are learned too: printed again alone, they are redacted.
                    if complete && line.len() >= key::MIN_BODY {
                        let t = line.trim_ascii();
                        if self.rules.learned.add(t) {
                            self.refresh_learned();
                        }
                    }
                    pos += next;
                    // Armour headers and blank lines may come before the body.
                    self.key = Some(
                        first
                            && (line.iter().all(|b| !b.is_ascii_alphanumeric())
                                || key::armour(line.trim_ascii())),
                    );
                }
                key::Next::Footer => {
                    // The block ends with the footer; what follows it on its line is text.
                    let f = self
                        .rules
                        .key_end
                        .find(line)
                        .map_or(line.len(), |m| m.end());
                    let after = &line[f..];
                    if after.iter().all(u8::is_ascii_whitespace) {
                        if !complete && line.len() < KEY_LINE_HOLD {
                            return pos; // wait for the line's end or more text
                        }
                        pos += next;
                    } else {
                        // The marker stands for the body and the footer: output stays the
                        // input with ranges replaced.
                        pos += view.as_ref().map_or(f, |v| v.original(f - 1, f).1);
                        out.extend_from_slice(REDACTED.as_bytes());
                    }
                    self.key = None;
                }
                key::Next::Other => self.key = None,
                key::Next::Unknown => {
                    if line.len() >= KEY_LINE_HOLD {
                        self.key = None;
                    } else {
                        return pos;
                    }
                }
            }
        }
        pos
    }

    /// The next place at or after `from` where source `src` has evidence of a secret in `batch`.
    fn next_hit(&mut self, src: usize, batch: &[u8], from: usize) -> usize {
        let rules = &*self.rules;
        let memo = &mut self.names;
        let services = &mut self.services;
        let none = usize::MAX;
        let hay = &batch[from..];
        let at = match src {
            SRC_ESC => ansi::next_splitting(hay),
            SRC_KEYWORD => rules
                .finders
                .keywords
                .first(hay, |s, e| prefilter::keyword_hit(hay, s, &hay[s..e], memo)),
            SRC_RUN => prefilter::find_run(hay, |s, e| {
                rules.finders.run_has_anchor(hay, s, e)
                    || encoded::run_holds_text(hay, s, e)
                    || rules.finders.run_after_service(hay, s, e, services)
                    || context::token_after_login(hay, s)
                    || outputs::bash_call_id(hay, s, e)
                    || prefilter::superuser_call(hay, s, e)
            })
            .map(|(s, _)| s),
            // Known and learned values in one search once something is learned.
            SRC_VALUES => match &self.learned.either {
                Some(k) => k.find_at(hay, 0),
                None => rules.known.as_ref().and_then(|k| k.find_at(hay, 0)),
            },
            SRC_ESCAPE => encoded::next_escape_dsn_or_hash(hay),
            SRC_FOREIGN => prefilter::next_foreign_label(hay, &rules.finders.foreign),
            SRC_RESULT if !self.calls.is_empty() => memchr::memmem::find(hay, b"\"tool_use_id\""),
            SRC_EXTRA => rules
                .extra_finder
                .as_ref()
                .and_then(|r| r.find(hay))
                .map(|m| m.start()),
            _ => None,
        };
        at.map_or(none, |p| from + p)
    }

    /// Emit the whole lines of `rest[..end]`; `rest[end..]` is what follows (for a key header
    /// at the end of the last line, whose fate depends on the next line).
    fn lines(&mut self, rest: &[u8], end: usize, fin: bool, out: &mut Vec<u8>) -> Flow {
        let batch = &rest[..end];
        // Most batches have nothing to replace: copy the batch out first and take back what a
        // replacement needs. The copy is the stream's one pass that reads in bulk, so the
        // searches after it find the batch in the cache.
        let base = out.len();
        out.extend_from_slice(batch);
        let mut copied = true;
        let mut next = [0usize; SOURCES];
        let (mut emitted, mut from) = (0, 0);
        let mut first = true;
        loop {
            for (src, n) in next.iter_mut().enumerate() {
                if first || *n < from {
                    *n = self.next_hit(src, batch, from);
                }
            }
            first = false;
            let (src, hit) = next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, h)| h)
                .unwrap_or((0, usize::MAX));
            if hit == usize::MAX {
                break;
            }
            let start = last_sep(&batch[from..hit]).map_or(from, |p| from + p + 1);
            let line_end = first_sep(&batch[hit..]).map_or(batch.len(), |p| hit + p + 1);
            let line = &batch[start..line_end];
            if src == SRC_ESC && !ansi::splits_word(line) {
                next[SRC_ESC] = self.next_hit(SRC_ESC, batch, line_end);
                continue;
            }
            if copied {
                out.truncate(base + start);
                copied = false;
            } else {
                out.extend_from_slice(&batch[emitted..start]);
            }
            let seen = self.learned.generation;
            // A Bash call that prints a secret (`kubectl get secret … | base64 -d`), and the
            // secret it printed, learned before the line is scanned.
            if outputs::secret_calls(line, &mut self.calls) {
                // Its result is looked for in the lines after this one.
                next[SRC_RESULT] = 0;
            }
            let printed = match self.calls.is_empty() {
                true => Vec::new(),
                false => outputs::secret_result(line, &mut self.calls),
            };
            let mut learned = false;
            for word in &printed {
                learned |= self.rules.learned.add(word.as_bytes());
            }
            if learned {
                self.refresh_learned();
            }
            let (mut spans, tail) = self.scan(line, true);
            if !printed.is_empty() {
                // Their JSON forms wherever the line holds them (values too short to be
                // learned too).
                let rule = self.rules.context_rule(b"secret");
                for word in printed {
                    let raw = serde_json::to_string(&word).unwrap_or_default();
                    let raw = &raw.as_bytes()[1..raw.len().saturating_sub(1).max(1)];
                    spans.extend(memchr::memmem::find_iter(line, raw).map(|at| Span {
                        start: at,
                        end: at + raw.len(),
                        rule,
                        ctx: at,
                    }));
                }
                spans = rules::merge(spans);
            }
            if self.learned.generation != seen {
                // A value learned on this line is looked for in the lines after it.
                next[SRC_VALUES] = 0;
            }
            // `- name: DB_PASSWORD`, `password: |`, `"password":`, `--password \` alone on
            // its line: the next line may give its value; after `"api_keys": [` or YAML's
            // `api_keys:`, each line an item until one that is not.
            let mut given: Vec<(usize, usize, Option<Span>)> = Vec::new();
            if let Some((strength, a, b, how)) = context::name_given_as_data(line) {
                let after = &rest[start + line.len()..];
                let rule = self.rules.context_rule(&line[a..b]);
                let mut off = 0;
                // (How many of `given` are such breaks: "once" below counts lines.)
                let mut breaks = 0;
                loop {
                    let seg = &after[off..];
                    if seg.is_empty() && !given.is_empty() {
                        // A list's items up to here: the next line may hold another.
                        if !fin && after.len() < MAX_MATCH {
                            return Flow::Hold(start);
                        }
                        break;
                    }
                    // The `\n` of a `\r\n` break is the break's, not a line of its own.
                    let prev = match off {
                        0 => line.last(),
                        _ => after.get(off - 1),
                    };
                    if seg.first() == Some(&b'\n') && prev == Some(&b'\r') {
                        given.push((off, 1, None));
                        off += 1;
                        breaks += 1;
                        continue;
                    }
                    let n = match seg.iter().position(is_sep) {
                        // Wait for the value's line, a bounded amount: past it, output goes on.
                        None if !fin && after.len() < MAX_MATCH => return Flow::Hold(start),
                        None if !fin => break,
                        found => found.map_or(seg.len(), |p| p + 1),
                    };
                    // A table's header is one only with its delimiter row after it.
                    if let context::NextLine::Column(h) = how
                        && given.len() == breaks
                        && context::table_has_delimiter(&h)
                    {
                        if !context::table_delimiter(&h, &seg[..n]) {
                            break;
                        }
                        given.push((off, n, None));
                        off += n;
                        continue;
                    }
                    let Some((va, vb)) = context::value_line(&seg[..n], strength, how) else {
                        // (A `"Type": "SecureString",` member between a name and its value,
                        // once; a blank line before a word alone, once.)
                        if (how == context::NextLine::ValueMember
                            && context::type_member(&seg[..n])
                            || how == context::NextLine::Alone
                                && seg[..n].iter().all(u8::is_ascii_whitespace))
                            && given.len() == breaks
                        {
                            given.push((off, n, None));
                            off += n;
                            continue;
                        }
                        // A Terraform output's `sensitive` and `type` before its `value`.
                        if how == context::NextLine::ObjectValue
                            && given.len() < 3
                            && context::output_member(&seg[..n])
                        {
                            given.push((off, n, None));
                            off += n;
                            continue;
                        }
                        // A Terraform variable's other attributes before its `default`.
                        if how == context::NextLine::Default
                            && given.len() < 16
                            && context::block_attribute(&seg[..n])
                        {
                            given.push((off, n, None));
                            off += n;
                            continue;
                        }
                        // A table's row with no value in the column (`none`): the table goes on.
                        if let context::NextLine::Column(h) = how
                            && context::table_row_line(&h, &seg[..n])
                        {
                            given.push((off, n, None));
                            off += n;
                            continue;
                        }
                        break;
                    };
                    let span = Span {
                        start: va,
                        end: vb,
                        rule,
                        ctx: 0,
                    };
                    given.push((off, n, Some(span)));
                    off += n;
                    if !matches!(
                        how,
                        context::NextLine::Items
                            | context::NextLine::Dashed
                            | context::NextLine::Members
                            | context::NextLine::Column(_)
                    ) {
                        break;
                    }
                }
            }
            let mut flow = None;
            if let Tail::Header(h) = tail {
                let text_end = line.iter().rposition(|b| !is_sep(b)).map_or(0, |p| p + 1);
                let after = &rest[start + line.len()..];
                let next_line = after.iter().position(is_sep).map_or(after, |p| &after[..p]);
                let complete = after.iter().any(is_sep) || fin;
                let next_view = View::of(next_line);
                let next_line = next_view.as_ref().map_or(next_line, |v| &v.bytes[..]);
                match key::classify_line(&self.rules, next_line, complete, true) {
                    key::Next::Body => {
                        spans.retain(|s| s.end <= h);
                        spans.push(Span {
                            start: h,
                            end: text_end.max(h),
                            rule: 0,
                            ctx: h,
                        });
                        flow = Some(Flow::Key(line_end));
                    }
                    key::Next::Unknown if !fin => {
                        return Flow::Hold(start);
                    }
                    _ => {}
                }
            }
            self.emit(line, &spans, out);
            (emitted, from) = (line_end, line_end);
            if let Some(flow) = flow {
                return flow;
            }
            for &(off, n, span) in &given {
                let value_line = &batch[line_end + off..line_end + off + n];
                // The line is scanned as any line is: it may hold other secrets (a token in
                // another column, in a variable's `description`).
                let (mut spans, _) = self.scan(value_line, true);
                if let Some(span) = span {
                    self.rules.learned.add(&value_line[span.start..span.end]);
                    spans.push(span);
                    spans = rules::merge(spans);
                }
                self.emit(value_line, &spans, out);
                (emitted, from) = (line_end + off + n, line_end + off + n);
            }
            if !given.is_empty() {
                self.refresh_learned();
                next[SRC_VALUES] = 0;
            }
        }
        if !copied {
            out.extend_from_slice(&batch[emitted..]);
        }
        Flow::Done
    }

    /// Release the start of a line without end, keeping back its last [`MAX_MATCH`] bytes, any
    /// match that reaches into them and the context before it. Returns how many bytes were
    /// consumed.
    fn long_line(&mut self, partial: &[u8], out: &mut Vec<u8>) -> usize {
        let (spans, _) = self.scan(partial, false);
        let mut cut = partial.len() - MAX_MATCH;
        let mut split = None;
        for (i, s) in spans.iter().enumerate().rev() {
            if s.end > cut && s.ctx < cut {
                if s.ctx > 0 {
                    cut = s.ctx;
                } else {
                    split = Some(i);
                    break;
                }
            }
        }
        let mut kept: Vec<Span> = spans.iter().copied().filter(|s| s.end <= cut).collect();
        if let Some(i) = split {
            // One match with its context longer than the bound: replace it up to the cut, and
            // drop the rest of its value as it comes.
            let s = spans[i];
            if s.start < cut {
                kept.push(Span { end: cut, ..s });
            }
            self.carry = true;
        }
        self.emit(&partial[..cut], &kept, out);
        cut
    }

    /// The spans to replace in `line`, matched on its view; values found are learned.
    fn scan(&mut self, line: &[u8], complete: bool) -> (Vec<Span>, Tail) {
        let learned = self.learned.learned.clone();
        let view = View::of(line);
        let bytes = view.as_ref().map_or(line, |v| &v.bytes[..]);
        let generation = self.rules.learned.generation();
        let (mut spans, mut tail, learn) = self.rules.spans(bytes, complete, learned.as_deref());
        for (s, e) in learn {
            self.rules.learned.add(&bytes[s..e]);
        }
        // A value learned here may appear again further on this line (a tool's whole result
        // is one stream-json line): there too.
        if self.rules.learned.generation() != generation {
            self.refresh_learned();
            if let Some(l) = &self.learned.learned {
                let rule = self.rules.learned_rule();
                spans.extend(l.find(bytes).into_iter().map(|(start, end)| Span {
                    start,
                    end,
                    rule,
                    ctx: start,
                }));
                spans = rules::merge(spans);
            }
        }
        if let Some(v) = &view {
            for s in &mut spans {
                let (a, b) = v.original(s.start, s.end);
                s.ctx = v.original(s.ctx, s.ctx + 1).0.min(a);
                (s.start, s.end) = (a, b);
            }
            if let Tail::Header(h) = tail {
                tail = Tail::Header(v.original(h, h + 1).0);
            }
        }
        // Values learned here, decoded ones included, are redacted from the next line on.
        self.refresh_learned();
        (spans, tail)
    }

    fn emit(&mut self, line: &[u8], spans: &[Span], out: &mut Vec<u8>) {
        let mut last = 0;
        for s in spans {
            out.extend_from_slice(&line[last..s.start]);
            out.extend_from_slice(REDACTED.as_bytes());
            last = s.end;
            *self
                .counts
                .entry(self.rules.names[s.rule].clone())
                .or_default() += 1;
            if self.counted {
                self.rules.count(s.rule);
            }
        }
        out.extend_from_slice(&line[last..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure of the redactor's own code (a panic, injected here) drops what it was given
    /// and the rest of that line, never emits it, says so in a marker line, counts it, and the
    /// redactor goes on with the next line; the same at the end of the stream.
    #[test]
    fn a_failure_of_the_redactor_drops_its_bytes_says_so_and_goes_on() {
        let rules = Arc::new(Rules::new(&[], Vec::new()).expect("rules"));
        let mut r = Redactor::new(Arc::clone(&rules));
        let mut out = Vec::new();
        r.push(b"before\nheld back password=hunt", &mut out);
        let fault = [&b"er2 "[..], FAULT, b" more"].concat();
        r.push(&fault, &mut out);
        r.push(
            b" still the same line\nafter ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
            &mut out,
        );
        r.finish(&mut out);
        let text = String::from_utf8(out).expect("utf-8");
        let dropped = "held back password=hunt".len() + fault.len();
        assert_eq!(
            text,
            format!(
                "before\n[REDACTED: {dropped} bytes of output and the rest of their line dropped: \
                 the redactor failed on them]\nafter [REDACTED]\n"
            )
        );
        assert_eq!(r.counts().get(REDACTOR_FAILURE), Some(&1));
        assert_eq!(rules.tally().get(REDACTOR_FAILURE), Some(&1));
        // At the end of the stream: the held-back bytes go, the marker says so.
        let mut r = Redactor::new(Arc::clone(&rules));
        let mut out = Vec::new();
        r.push(&[&b"line\nno end "[..], FAULT].concat(), &mut out);
        assert!(
            out.starts_with(b"[REDACTED:"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let mut out = Vec::new();
        let mut r = Redactor::new(Arc::clone(&rules));
        r.push(b"ok\n", &mut out);
        r.pending.extend_from_slice(FAULT);
        r.finish(&mut out);
        let marker = format!("ok\n[REDACTED: {} bytes", FAULT.len());
        assert!(
            out.starts_with(marker.as_bytes()),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(rules.tally().get(REDACTOR_FAILURE), Some(&3));
    }

    fn red(text: &str) -> String {
        redact_text(&Arc::new(Rules::seed()), text)
    }

    #[test]
    fn seed_rules() {
        let cases = [
            ("api_key=abc123xyz", "api_key=[REDACTED]"),
            ("apiKey: \"abc123xyz\"", "apiKey: \"[REDACTED]\""),
            ("url?token=s3cr3tvalue&x=1", "url?token=[REDACTED]&x=1"),
            (
                "Authorization: Bearer abcdefghijkl",
                "Authorization: Bearer [REDACTED]",
            ),
            ("password=hunter22", "password=[REDACTED]"),
            (
                "key sk-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34 end",
                "key [REDACTED] end",
            ),
            (
                "pip install sk-learn-tutorial-notebooks-2024",
                "pip install sk-learn-tutorial-notebooks-2024",
            ),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("ghs_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("nothing to see here", "nothing to see here"),
        ];
        for (input, want) in cases {
            assert_eq!(red(input), want, "input {input:?}");
        }
    }

    #[test]
    fn private_key_block_is_replaced() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t\nAAAA\n-----END RSA PRIVATE KEY-----\nafter\n";
        let out = red(text);
        assert_eq!(out, "before\n[REDACTED]\nafter\n");
        // Without a footer the block ends at the first line that is not key body.
        let text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t\nnext: line\n";
        assert_eq!(red(text), "[REDACTED]\nnext: line\n");
    }

    #[test]
    fn text_after_a_footer_on_its_line_is_kept_whatever_the_chunking() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t\nAAAA\n-----END RSA PRIVATE KEY-----";
        let rules = Arc::new(Rules::seed());
        for (text, want) in [
            (
                format!(" {key} consectetur adipiscing\nnext\n"),
                " [REDACTED]\n[REDACTED] consectetur adipiscing\nnext\n",
            ),
            (format!("{key}\nafter\n"), "[REDACTED]\nafter\n"),
            (format!("{key}  \nafter\n"), "[REDACTED]\nafter\n"),
        ] {
            for chunk in [1, 2, 3, 5, 7, 13, 31, 64, 1 << 16] {
                let mut r = Redactor::new(Arc::clone(&rules));
                let mut out = Vec::new();
                for c in text.as_bytes().chunks(chunk) {
                    r.push(c, &mut out);
                }
                r.finish(&mut out);
                assert_eq!(String::from_utf8_lossy(&out), want, "chunks of {chunk}");
            }
        }
    }

    #[test]
    fn a_header_without_a_body_is_not_a_key() {
        let text = "const H = '-----BEGIN RSA PRIVATE KEY-----';\nghp_abcdefghijklmnopqrstuvwxyz0123456789 after\n";
        assert_eq!(
            red(text),
            "const H = '-----BEGIN RSA PRIVATE KEY-----';\n[REDACTED] after\n"
        );
        let text = "-----BEGIN RSA PRIVATE KEY-----\nnot a body\n";
        assert_eq!(red(text), text);
        let text = "x = \"-----BEGIN RSA PRIVATE KEY-----\"\n";
        assert_eq!(red(text), text);
    }

    #[test]
    fn split_chunks_are_joined_before_matching() {
        let rules = Arc::new(Rules::new(&[], vec!["topsecretvalue".into()]).unwrap());
        let mut r = Redactor::new(rules);
        let mut out = Vec::new();
        r.push(b"x topsec", &mut out);
        assert!(out.is_empty(), "nothing is released before the line ends");
        r.push(b"retvalue y\nnext", &mut out);
        r.finish(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "x [REDACTED] y\nnext");
        assert_eq!(r.counts()["known_value"], 1);
    }

    #[test]
    fn known_and_learned_values_are_both_found_once_something_is_learned() {
        for known in [vec![], vec!["known-value-0123".to_string()]] {
            let rules = Arc::new(Rules::new(&[], known.clone()).unwrap());
            let mut r = Redactor::new(Arc::clone(&rules));
            let mut out = Vec::new();
            let text = "password=Learned1value\nplain line\nagain Learned1value here\n\
                        and known-value-0123 there\nnothing\n";
            for chunk in text.as_bytes().chunks(7) {
                r.push(chunk, &mut out);
            }
            r.finish(&mut out);
            let want_known = if known.is_empty() {
                "known-value-0123"
            } else {
                "[REDACTED]"
            };
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!(
                    "password=[REDACTED]\nplain line\nagain [REDACTED] here\nand {want_known} there\nnothing\n"
                ),
                "known {known:?}"
            );
            assert_eq!(r.counts()["learned_value"], 1);
        }
    }

    #[test]
    fn bad_extra_rule_names_itself() {
        let err = Rules::new(&[("mine".into(), "(".into())], vec![]).unwrap_err();
        assert_eq!(err.name, "mine");
    }
}
