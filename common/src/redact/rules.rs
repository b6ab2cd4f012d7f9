//! [`Rules`]: the compiled rule set — token families, secrets' names in context, extra patterns,
//! known and learned values, private keys — and the one-line matcher that turns a line's view
//! into the byte ranges to replace.

use super::families::{self, Family};
use super::known::{Learned, ValueMatcher};
use super::prefilter::{self, Finders};
use super::{context, encoded, key};
use aho_corasick::AhoCorasickBuilder;
use regex::bytes::{Regex, RegexBuilder};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// A rule that failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("redaction rule {name:?}: {source}")]
pub struct RuleError {
    pub name: String,
    #[source]
    pub source: regex::Error,
}

/// A range of a line to replace, the rule (index into [`Rules::names`]) that found it, and where
/// its context (the name before a value) starts: a line is never released between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub rule: usize,
    pub ctx: usize,
}

/// What the private-key finder saw at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Nothing open.
    Closed,
    /// The line ends in a key header (from this offset): whether it starts a key depends on the
    /// next line.
    Header(usize),
}

/// A built-in pattern, compiled the first time a line needs it: most runs never meet most
/// families, and compiling all of them up front costs every runner start.
struct Lazy {
    name: &'static str,
    source: String,
    /// A service's row (a name, then a value of its key's shape), not a self-identifying token.
    keyword: bool,
    /// The row's anchors (for a service's row, the service's names).
    anchors: &'static [&'static str],
    cell: OnceLock<Pattern>,
}

impl Lazy {
    fn get(&self) -> &Pattern {
        self.cell.get_or_init(|| {
            // Built-in regexes are checked by a unit test; a failure here is a bug.
            pattern(self.name, &self.source).expect("built-in rule compiles")
        })
    }
}

/// One compiled pattern rule.
struct Pattern {
    regex: Regex,
    /// Whether the regex has groups named `secret…`: then only those are replaced.
    grouped: bool,
}

/// Rule names of secrets found by context, by what their name says.
const CONTEXT_RULES: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "authorization",
    "bearer",
    "credential",
    "url_credentials",
    "session_cookie",
];

/// A session cookie's name (see [`SESSION_COOKIE`]): one that ends in `sess`, `session` or
/// `sid` (`JSESSIONID`, `PHPSESSID`, `connect.sid`, `_app_session`), those followed by an id, a
/// token or a key (`_session_id`, `sess_id`, NextAuth's `__Secure-next-auth.session-token`),
/// and the cookies of frameworks that hold a signed-in user (ASP.NET's `.ASPXAUTH` and
/// `.AspNetCore.*`, WordPress' `wordpress_logged_in_*` and `wordpress_sec_*`).
/// `context::clients::session_cookie` reads names by the same list.
macro_rules! session_cookie_name {
    () => {
        r#"(?:\b(?i:[a-z0-9_.-]*sess(?:ion)?(?:[_.-]?(?:id|token|key))?|[a-z0-9_.]*sid|wordpress_(?:logged_in|sec)_[0-9a-f]*)|(?i:\.aspxauth|\.aspnetcore\.[a-z.]+))"#
    };
}

/// A session cookie is a credential: its value in a `Cookie` or `Set-Cookie` header (curl -v,
/// HTTP logs) or set by a script (`document.cookie = "sessionid=…"`), up to three of them in
/// one header, wherever they are in it. Other cookies (preferences, analytics) stay. A value
/// ends where a cookie's octets do (RFC 6265: no blank, `;`, `"` or `\`) or at a quote. Read
/// on the lines the keyword search keeps for its `ookie` (see `prefilter::keyword_hit`): a
/// pattern of the configuration would search every byte for its literal once more (+3 % of
/// a pass).
const SESSION_COOKIE: &str = concat!(
    r#"ookie(?::|\s*=\s*["'`])[^\n]*?"#,
    session_cookie_name!(),
    r#"=(?P<secret>[^;\s"'`\\]{8,})(?:[^\n]*?"#,
    session_cookie_name!(),
    r#"=(?P<secret2>[^;\s"'`\\]{8,}))?(?:[^\n]*?"#,
    session_cookie_name!(),
    r#"=(?P<secret3>[^;\s"'`\\]{8,}))?"#
);

/// A compiled rule set, shared (behind an `Arc`) by every redactor of a run: what one redactor
/// learns, the others redact too.
pub struct Rules {
    /// Rule names: `private_key`, the families, the context rules, extra patterns, then
    /// `known_value` and `learned_value`.
    pub(crate) names: Vec<String>,
    families: Vec<Lazy>,
    context_base: usize,
    extra: Vec<Pattern>,
    extra_base: usize,
    /// [`SESSION_COOKIE`], and its rule's index.
    cookie: Pattern,
    cookie_rule: usize,
    /// All extra patterns at once, for the prefilter.
    pub(crate) extra_finder: Option<Regex>,
    pub(crate) finders: Finders,
    url: Regex,
    pub(crate) known: Option<ValueMatcher>,
    pub(crate) learned: Learned,
    too_short: Vec<String>,
    /// Hits of every counted redactor of the run, by rule.
    tally: Mutex<BTreeMap<String, u64>>,
    pub(crate) key_begin: Regex,
    pub(crate) key_end: Regex,
}

impl fmt::Debug for Rules {
    // Known values are secrets: show only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("rules", &self.names.len())
            .field("known_values", &self.known.as_ref().map_or(0, |k| k.len()))
            .field("too_short", &self.too_short)
            .finish()
    }
}

pub(crate) fn compile(name: &str, re: &str) -> Result<Regex, RuleError> {
    RegexBuilder::new(re)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|source| RuleError {
            name: name.to_string(),
            source,
        })
}

fn pattern(name: &str, re: &str) -> Result<Pattern, RuleError> {
    let regex = compile(name, re)?;
    let grouped = regex
        .capture_names()
        .flatten()
        .any(|n| n.starts_with("secret"));
    Ok(Pattern { regex, grouped })
}

impl Rules {
    /// The built-in rules with no known values.
    pub fn seed() -> Self {
        Self::new(&[], Vec::new()).expect("built-in rules compile")
    }

    /// The built-in rules, plus `extra` `(name, regex)` patterns and known secret values. Values
    /// shorter than [`super::MIN_KNOWN_LEN`] bytes are ignored (they would redact ordinary
    /// words); a multi-line value is matched line by line. If an extra regex has groups named
    /// `secret…`, only they are replaced.
    pub fn new(extra: &[(String, String)], known: Vec<String>) -> Result<Self, RuleError> {
        Self::build(extra, known, Vec::new())
    }

    pub(crate) fn build(
        extra: &[(String, String)],
        known: Vec<String>,
        too_short: Vec<String>,
    ) -> Result<Self, RuleError> {
        let mut names = vec!["private_key".to_string()];
        let table: Vec<Family> = families::families();
        let mut fams = Vec::with_capacity(table.len());
        let (mut exact, mut exact_family) = (Vec::new(), Vec::new());
        let (mut any_case, mut any_case_family) = (Vec::new(), Vec::new());
        for (i, f) in table.iter().enumerate() {
            fams.push(Lazy {
                name: f.name,
                source: f.regex.clone(),
                keyword: f.keyword,
                anchors: f.anchors,
                cell: OnceLock::new(),
            });
            names.push(f.name.to_string());
            // A family whose regex ignores case is anchored on a service name, in any case.
            let ci = f.regex.trim_start_matches("(?-u)").starts_with("(?i");
            for a in f.anchors {
                if ci {
                    any_case.push(*a);
                    any_case_family.push(i);
                } else {
                    exact.push(*a);
                    exact_family.push(i);
                }
            }
        }
        let context_base = names.len();
        names.extend(CONTEXT_RULES.iter().map(|s| s.to_string()));
        let cookie_rule = context_base
            + CONTEXT_RULES
                .iter()
                .position(|&n| n == "session_cookie")
                .expect("a context rule");
        let extra_base = names.len();
        let mut extras = Vec::new();
        let mut extra_alts = Vec::new();
        for (name, re) in extra {
            extras.push(pattern(name, re)?);
            names.push(name.clone());
            extra_alts.push(format!("(?:{})", strip_names(re)));
        }
        names.push("known_value".into());
        names.push("learned_value".into());
        let extra_finder = if extra_alts.is_empty() {
            None
        } else {
            Some(compile("extra rules", &extra_alts.join("|"))?)
        };
        let automaton = |pats: &[&str], ci: bool| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(ci)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(pats)
                .expect("family anchors build")
        };
        let long = prefilter::LongLines::new(
            &exact
                .iter()
                .copied()
                .zip(exact_family.iter().copied())
                .collect::<Vec<_>>(),
            &any_case
                .iter()
                .copied()
                .zip(any_case_family.iter().copied())
                .collect::<Vec<_>>(),
        );
        let finders = Finders {
            keywords: prefilter::Literals::new(prefilter::KEYWORDS),
            places: prefilter::Literals::new(prefilter::PLACES),
            unkeyed: prefilter::Literals::new(prefilter::UNKEYED),
            foreign: prefilter::Literals::new(context::LABELS),
            anchors: prefilter::Anchors {
                pairs: prefilter::Pairs::new(&exact),
                exact: automaton(&exact, false),
                exact_family,
                any_case: automaton(&any_case, true),
                any_case_family,
                long,
            },
        };
        Ok(Self {
            names,
            families: fams,
            context_base,
            extra: extras,
            extra_base,
            cookie: pattern("session_cookie", SESSION_COOKIE)?,
            cookie_rule,
            extra_finder,
            finders,
            url: compile(
                "url_credentials",
                r#"(?i-u)\b[a-z][a-z0-9+.-]{1,20}://(?P<user>[^\s:/@"'<>]*)(?::(?P<secret>[^\s/@"'<>]+))?@[^\s/@]"#,
            )?,
            known: ValueMatcher::new(&known)?,
            learned: Learned::with_known(&known),
            too_short,
            tally: Mutex::new(BTreeMap::new()),
            key_begin: compile("private_key", key::BEGIN)?,
            key_end: compile("private_key", key::END)?,
        })
    }

    /// Names of secret environment variables whose values are too short to redact safely
    /// (names only, never values). Report them; they are not used.
    pub fn too_short(&self) -> &[String] {
        &self.too_short
    }

    /// How many times each rule fired so far in every counted redactor of these rules —
    /// output streams, files, artifacts, markers and messages alike (counts only, never values).
    pub fn tally(&self) -> BTreeMap<String, u64> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn count(&self, rule: usize) {
        self.count_named(&self.names[rule]);
    }

    /// One more for the tally's entry `name` (a rule's, or [`super::REDACTOR_FAILURE`]).
    pub(crate) fn count_named(&self, name: &str) {
        let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        *t.entry(name.to_string()).or_default() += 1;
    }

    /// How many values were learned from context so far in this run.
    pub fn learned_count(&self) -> usize {
        self.learned.len()
    }

    /// How many keyword literals occur in `text`, overlapping ones included: the keyword pass
    /// alone, for benchmarks.
    #[doc(hidden)]
    pub fn keyword_literal_hits(&self, text: &[u8]) -> usize {
        self.finders.keywords.count(text)
    }

    /// Runs of token bytes in `text`, and how many of them have a family anchor near their
    /// start: the run pass alone, for benchmarks.
    #[doc(hidden)]
    pub fn run_pass(&self, text: &[u8]) -> (usize, usize) {
        let (mut runs, mut anchored) = (0, 0);
        prefilter::find_run(text, |s, e| {
            runs += 1;
            anchored += usize::from(self.finders.run_has_anchor(text, s, e));
            false
        });
        (runs, anchored)
    }

    /// The encoded-text evidence alone, for benchmarks: how many runs of token bytes belong to
    /// a base64 run that decodes to text, and how many percent escapes `text` holds.
    #[doc(hidden)]
    pub fn encoded_pass(&self, text: &[u8]) -> (usize, usize) {
        let mut runs = 0;
        prefilter::find_run(text, |s, e| {
            runs += usize::from(encoded::run_holds_text(text, s, e));
            false
        });
        let (mut escapes, mut at) = (0, 0);
        while let Some(p) = encoded::next_escape(&text[at..]) {
            escapes += 1;
            at += p + 1;
        }
        (runs, escapes)
    }

    fn known_rule(&self) -> usize {
        self.names.len() - 2
    }

    pub(crate) fn learned_rule(&self) -> usize {
        self.names.len() - 1
    }

    pub(crate) fn context_rule(&self, name: &[u8]) -> usize {
        let l = name.to_ascii_lowercase();
        let has = |w: &[u8]| l.windows(w.len()).any(|x| x == w);
        let i = if has(b"authorization") {
            4
        } else if has(b"bearer") {
            5
        } else if has(b"pass") || has(b"pwd") {
            0
        } else if has(b"secret") {
            1
        } else if has(b"token") {
            2
        } else if has(b"key") {
            3
        } else {
            6
        };
        self.context_base + i
    }

    /// Every range of `view` to replace, sorted and merged; `learned` is the run's current
    /// learned-value matcher. `complete` says whether `view` ends where the line does.
    pub(crate) fn spans(
        &self,
        view: &[u8],
        complete: bool,
        learned: Option<&ValueMatcher>,
    ) -> (Vec<Span>, Tail, Vec<(usize, usize)>) {
        self.spans_at(view, complete, learned, 0)
    }

    /// [`Rules::spans`] of a view `depth` decodings deep (0: the line itself; see `encoded`).
    pub(crate) fn spans_at(
        &self,
        view: &[u8],
        complete: bool,
        learned: Option<&ValueMatcher>,
        depth: u8,
    ) -> (Vec<Span>, Tail, Vec<(usize, usize)>) {
        let mut found = Vec::new();
        let push = |found: &mut Vec<Span>, start, end, rule, ctx| {
            if end > start {
                found.push(Span {
                    start,
                    end,
                    rule,
                    ctx,
                })
            }
        };
        let tail = key::blocks(self, view, complete, &mut found);
        if let Some(k) = &self.known {
            for (s, e) in k.find(view) {
                push(&mut found, s, e, self.known_rule(), s);
            }
        }
        if let Some(l) = learned {
            for (s, e) in l.find(view) {
                push(&mut found, s, e, self.learned_rule(), s);
            }
        }
        // Token families whose anchors occur in the line.
        let mut fams = Vec::new();
        self.finders.families_in(view, &mut fams);
        fams.sort_unstable();
        fams.dedup();
        let mut shaped = Vec::new();
        for i in fams {
            collect(self.families[i].get(), view, i + 1, &mut shaped);
        }
        // Not a documentation key or an x-filled placeholder in a family's shape, nor an
        // identifier after a service's name (`elasticloadbalancing:DescribeLoadBalancers`), nor
        // a name in lower-case words given to a service's name (`"elasticloadbalancing":
        // "elastic-load-balancing"`).
        found.extend(shaped.into_iter().filter(|s| {
            let v = &view[s.start..s.end];
            // (Only glued to `service:`, IAM's form: a passphrase of words is a value.)
            let action = s.start >= 2
                && view[s.start - 1] == b':'
                && view[s.start - 2].is_ascii_alphanumeric();
            // (Words that hold the service's own name: a passphrase of other words, such as a
            // password manager makes, stays a value.)
            let row = &self.families[s.rule - 1];
            let service_words = row.keyword
                && context::words_joined(v)
                && row
                    .anchors
                    .iter()
                    .any(|a| context::contains_ci(v, a.as_bytes()));
            !(context::placeholder(v)
                || action && context::capitalised_words(v)
                || context::code_literal(v)
                || context::passed_under_its_own_name(view, s.start, s.end)
                || service_words)
        }));
        for (i, p) in self.extra.iter().enumerate() {
            collect(p, view, self.extra_base + i, &mut found);
        }
        // (The regex's own first look is a search for `ookie`.)
        collect(&self.cookie, view, self.cookie_rule, &mut found);
        // Secrets' names followed by a value. `context::at` judges the whole name around a hit,
        // so one hit per name is enough: the keyword pass's literal search (leftmost hits, no
        // overlaps) finds one in every name that holds a literal, at SIMD speed on long lines.
        //
        // A hit inside a value of [`context::VALUE_REACH`] bytes or more that a hit before it
        // found is not read again: in a line of one assignment repeated (`pass=pass=…`) every
        // name's value is the rest of the line, and reading each was quadratic.
        let mut long_value_to = 0;
        self.finders.keywords.each(view, |s, _| {
            if s < long_value_to {
                return;
            }
            if let Some(f) = context::at(view, s) {
                let rule = self.context_rule(&view[f.ctx..f.start]);
                push(&mut found, f.start, f.end, rule, f.ctx);
                if f.end - f.start >= context::VALUE_REACH {
                    long_value_to = f.end;
                }
                // A list's other items (`"api_keys": ["…", "…"]`).
                let mut item = f;
                while let Some(g) = context::next_in_list(view, &item) {
                    push(&mut found, g.start, g.end, rule, g.ctx);
                    item = g;
                }
                // The rows after an inserted row (`VALUES ('…', '…'), ('…', '…')`).
                let mut row = f;
                while let Some(g) = context::next_inserted_row(view, &row) {
                    push(&mut found, g.start, g.end, rule, g.ctx);
                    row = g;
                }
                // A changed setting's new value (Terraform's plan: `"OLD" -> "NEW"`).
                if let Some(g) = context::changed_to(view, &f) {
                    push(&mut found, g.start, g.end, rule, g.ctx);
                }
                // A command's second password flag (`ssh-keygen -P OLD -N NEW`).
                if let Some(g) = context::next_password_flag(view, &f) {
                    push(&mut found, g.start, g.end, rule, g.ctx);
                }
            }
            // A Markdown table whose header names a secret's column, its rows in the view
            // (Claude's text in stream-json): each row's cell in that column.
            if let Some((h, rows)) = context::table_in_view(view, s) {
                let rule = self.context_rule(&view[h.name.0..h.name.1]);
                for (a, b) in rows {
                    push(&mut found, a, b, rule, h.name.0);
                }
            }
        });
        // A secret's name with no keyword literal in it (`BW_SESSION="…"`, `rootpw …`).
        prefilter::unkeyed_names(&self.finders, view, |s| {
            if let Some(f) = context::at(view, s) {
                push(
                    &mut found,
                    f.start,
                    f.end,
                    self.context_rule(&view[f.ctx..f.start]),
                    f.ctx,
                );
            }
        });
        // Secrets given with no name, found by their place: a tool's token after its `login`
        // (`wandb login KEY`), a URL's `key` parameter (`?key=VALUE`) or VS Code's connection
        // token (`?tkn=VALUE`), Snyk's `config set api=TOKEN`. One search of the line for all
        // of them.
        self.finders.places.each(view, |s, e| {
            let (f, name): (_, &[u8]) = match &view[s..e] {
                b" login " => (context::login_token(view, s), b"token"),
                b"config set api=" => (context::snyk_api(view, s, e), b"token"),
                b"e_superuser(" => (context::password_argument(view, e, 2), b"password"),
                b"?tkn=" | b"&tkn=" => (context::url_key_at(view, e), b"token"),
                _ => (context::url_key_at(view, e), b"key"),
            };
            if let Some(f) = f {
                push(&mut found, f.start, f.end, self.context_rule(name), f.ctx);
            }
        });
        // A secret under its label in another language (`Contraseña: …`, `密码：…`), where the
        // line holds a byte that is not ASCII.
        if !view.is_ascii() {
            self.finders.foreign.each(view, |s, e| {
                if let Some(f) = context::labelled(view, s, e) {
                    push(
                        &mut found,
                        f.start,
                        f.end,
                        self.context_rule(b"password"),
                        f.ctx,
                    );
                }
            });
        }
        for caps in self.url.captures_iter(view) {
            let Some(u) = caps.get(1) else { continue };
            // A token as the user, no password or GitHub's `x-oauth-basic` in its place
            // (`https://TOKEN@github.com/…`): the user is the secret.
            let oauth = caps
                .get(2)
                .is_none_or(|m| m.as_bytes().eq_ignore_ascii_case(b"x-oauth-basic"));
            // (HTTP's only: `abfss://CONTAINER@ACCOUNT…` and `wasbs://` name a container.)
            let http =
                view[..u.start()].ends_with(b"http://") || view[..u.start()].ends_with(b"https://");
            if oauth && http && context::token_as_user(u.as_bytes()) {
                push(
                    &mut found,
                    u.start(),
                    u.end(),
                    self.context_base + 7,
                    u.start(),
                );
            }
            if let Some(m) = caps.get(2)
                && context::plausible(m.as_bytes(), context::Strength::Strong)
                && !m.as_bytes().eq_ignore_ascii_case(b"password")
                && !m.as_bytes().eq_ignore_ascii_case(b"x-oauth-basic")
            {
                push(
                    &mut found,
                    m.start(),
                    m.end(),
                    self.context_base + 7,
                    u.start(),
                );
            }
        }
        // Every value found by context or shape is learned, each on its own (before spans
        // that touch are fused: `SENTRY_DSN=https://KEY@…` teaches the URL and the key).
        let learn: Vec<(usize, usize)> = found
            .iter()
            .filter(|s| s.rule != 0 && s.rule < self.known_rule())
            .map(|s| (s.start, s.end))
            .collect();
        // Secrets found decoded (learned there, as decoded values): escapes and base64 runs.
        encoded::spans(self, view, learned, depth, &learn, &mut found);
        (merge(found), tail, learn)
    }
}

fn collect(p: &Pattern, view: &[u8], rule: usize, found: &mut Vec<Span>) {
    if !p.grouped {
        for m in p.regex.find_iter(view) {
            found.push(Span {
                start: m.start(),
                end: m.end(),
                rule,
                ctx: m.start(),
            });
        }
        return;
    }
    for caps in p.regex.captures_iter(view) {
        let whole = caps.get(0).map_or(0, |m| m.start());
        let groups = p.regex.capture_names().enumerate();
        for (g, _) in groups.filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret"))) {
            let Some(m) = caps.get(g) else { continue };
            // A word, not a key: letters only and shorter than a run. A service's name before
            // a list or prose (`MinIO, Imagekit`, `minio: starting`) matches a row that takes
            // 8 to 15 letters or digits; random keys of that length have a digit in all but a
            // few in a hundred, the weak names' rule (`context::plausible`).
            let word = m.len() < 16 && m.as_bytes().iter().all(u8::is_ascii_alphabetic);
            if m.end() > m.start() && !word {
                found.push(Span {
                    start: m.start(),
                    end: m.end(),
                    rule,
                    ctx: whole,
                });
            }
        }
    }
}

/// `re` with its named groups turned into plain groups.
fn strip_names(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    while let Some(p) = rest.find("(?P<").or_else(|| rest.find("(?<")) {
        let skip = if rest[p..].starts_with("(?P<") { 4 } else { 3 };
        out.push_str(&rest[..p]);
        out.push_str("(?:");
        rest = &rest[p + skip..];
        rest = rest.find('>').map_or("", |g| &rest[g + 1..]);
    }
    out.push_str(rest);
    out
}

/// Sort spans and fuse overlapping ones; a fused span keeps the rule of the earliest-listed
/// rule that found part of it (so one secret is counted once) and the earliest context.
pub(crate) fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start < last.end => {
                last.end = last.end.max(s.end);
                last.rule = last.rule.min(s.rule);
                last.ctx = last.ctx.min(s.ctx);
            }
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session cookie's rule reads only the lines the keyword search keeps for its
    /// `ookie`: every start of a match the rule can make is kept (blanks of every kind around a
    /// script's `=`, each quote), and prose about cookies is not.
    #[test]
    fn the_keyword_search_keeps_every_line_the_session_cookie_rule_reads() {
        let rule = compile("session_cookie", SESSION_COOKIE).unwrap();
        let mut memo = crate::redact::prefilter::NameMemo::default();
        let mut kept = 0;
        for head in [
            "Cookie",
            "cookie",
            "Set-Cookie",
            "set-cookie",
            "document.cookie",
        ] {
            for sep in [
                ":",
                ": ",
                "=\"",
                " = '",
                "\t=\t`",
                "  =  \"",
                "\n=\n'",
                "\r\n= \"",
                "=",
                " = ",
                "s: ",
                "\u{0b}=\"",
            ] {
                let line = format!("{head}{sep}theme=dark; sessionid=Zq8wLmN3pX01vRkT; lang=en\n");
                let hit = line.find("ookie").unwrap();
                let keeps = prefilter::keyword_hit(line.as_bytes(), hit, b"ookie", &mut memo);
                if rule.is_match(line.as_bytes()) {
                    assert!(keeps, "{line:?} is the rule's but not kept");
                    kept += 1;
                }
            }
        }
        assert!(kept >= 40, "{kept}");
        for prose in [
            "Cookies are set by the server",
            "the cookie jar",
            "cookie-parser",
        ] {
            let hit = prose.find("ookie").unwrap();
            assert!(!prefilter::keyword_hit(
                prose.as_bytes(),
                hit,
                b"ookie",
                &mut memo
            ));
        }
    }

    #[test]
    fn names_are_stripped_for_the_prefilter() {
        assert_eq!(strip_names(r"a(?P<secret>x)b(?<s2>y)"), "a(?:x)b(?:y)");
    }

    #[test]
    fn overlapping_spans_fuse_and_keep_the_first_rule() {
        let s = |start, end, rule| Span {
            start,
            end,
            rule,
            ctx: start,
        };
        let got = merge(vec![s(5, 9, 3), s(0, 6, 7), s(20, 25, 1)]);
        assert_eq!(got, vec![s(0, 9, 3), s(20, 25, 1)]);
    }
}
