//! Finding the few lines that may hold a secret, fast: every byte of output passes here, and
//! only lines found here are matched rule by rule.
//!
//! Three kinds of evidence, each one cheap pass over a batch of lines:
//! * **Keywords** of secrets' names (`assw`, `ecret`, `oken`, `_key`, …), all in one SIMD
//!   literal search (Teddy); a hit counts only if the name around it is a secret's
//!   ([`context::classify`]), so `input_tokens` or `PASSED` cost a few nanoseconds.
//! * **Long runs**: every token family's value holds a run of 16+ token bytes (see
//!   [`token_bytes`]) with its anchor in or near it. Bytes are classified
//!   64 at a time into a bit mask (SIMD compares, no `unsafe` here), four shifts of which show
//!   where 16 token bytes in a row end; the scan never looks back. A run counts
//!   only if a family anchor sits in or just before it — a table of byte pairs read at every
//!   other position of a few dozen bytes, whatever the number of families — or if it is the
//!   value of a name that holds a service's name (`"adafruit": "…"`), or base64 of text.
//! * **Values**: known and learned secrets in every encoding; and ESC, for escapes spliced into a
//!   word.

use super::context;
use aho_corasick::AhoCorasick;

/// Shortest run of token bytes a family's value makes.
pub(crate) const MIN_RUN: usize = 16;
/// How far before a run its family anchor may sit (`SG.`, `hvs.`, `.atlasv1.` end a run before
/// the value's), and how far into it (`sk-` + 20 bytes + `T3BlbkFJ`, 32 hex bytes + `-us1`).
pub(crate) const ANCHOR_BEFORE: usize = 16;
pub(crate) const ANCHOR_INSIDE: usize = 48;

const L: u64 = 0x0101_0101_0101_0101;
const H: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte set where the byte is a token byte: `0-9 ; < = > ? @ A-Z [ \ ] ^ _
/// ` a-z { | } ~` or `-` (a superset of every family's alphabet but `.`, `/`, `+` and `:`,
/// which anchors reach across). Not `:`, though a few values hold one: those are found by
/// their names, or have a piece of [`MIN_RUN`] bytes with their anchor close before it
/// (Telegram's `123456789:AAH…`); and paths like `tests::parse::handles_empty_input` make
/// no run.
#[inline(always)]
fn token_bytes(x: u64) -> u64 {
    let ge30 = ((x & !H) + 0x50 * L) & !x & H;
    (ge30 & !bytes_equal(x, b':')) | bytes_equal(x, b'-')
}

/// High bit of each of the eight bytes of `x` that is `b` (exact for every byte: no borrow
/// from one byte reaches the next).
#[inline(always)]
fn bytes_equal(x: u64, b: u8) -> u64 {
    let y = x ^ (u64::from(b) * L);
    !(((y & !H) + !H) | y) & H
}

fn token_byte(b: u8) -> bool {
    (0x30..0x80).contains(&b) && b != b':' || b == b'-'
}

/// The token-byte mask of 64 bytes, bit `i` for `block[i]`: sixteen bytes compared at once and
/// their results gathered into bits (SIMD through `wide`, SSE2 on every x86-64).
#[inline(always)]
fn mask64(block: &[u8; 64]) -> u64 {
    use wide::i8x16;
    // As signed bytes, 0x30..=0x7f are exactly those greater than 0x2f.
    let above = i8x16::splat(0x2f);
    let colon = i8x16::splat(b':' as i8);
    let dash = i8x16::splat(b'-' as i8);
    let mut m = 0u64;
    for (k, c) in block.chunks_exact(16).enumerate() {
        let c: [u8; 16] = c.try_into().expect("16 bytes");
        let v = i8x16::new(wide::bytemuck::cast(c));
        // A colon is above 0x2f: the exclusive or takes it out.
        let t = (v.simd_gt(above) ^ v.simd_eq(colon)) | v.simd_eq(dash);
        m |= u64::from(t.to_bitmask()) << (16 * k);
    }
    m
}

/// Where [`MIN_RUN`] token bytes in a row end in a block with mask `m`: bit `j` set when bytes
/// `j - 15 ..= j` are all token bytes, the 16 bytes before the block (`before`, bit 0 the
/// first of them) counting for the first 15 positions.
#[inline(always)]
fn run_ends(before: u64, m: u64) -> u64 {
    const _: () = assert!(MIN_RUN == 16, "the shifts below make 16");
    let c = (u128::from(m) << 16) | u128::from(before & 0xffff);
    let mut r = c & (c >> 1);
    r &= r >> 2;
    r &= r >> 4;
    r &= r >> 8;
    // Bit i of r: bits i ..= i + 15 of c, the 16 bytes ending at byte i - 1 of the block.
    (r >> 1) as u64
}

/// The runs of at least [`MIN_RUN`] token bytes in `buf`, in order, as `(start, end)`, until
/// `take` accepts one: that one is returned.
///
/// Bytes are classified 64 at a time into one bit each, and four shifts of the mask tell where
/// 16 token bytes in a row end: the first such place gives a run's start without looking back,
/// and only its end is measured, from the same mask. Each byte is classified about once,
/// however many runs there are.
pub(crate) fn find_run(
    buf: &[u8],
    mut take: impl FnMut(usize, usize) -> bool,
) -> Option<(usize, usize)> {
    let n = buf.len();
    let mut pos = 0;
    // The mask of the 16 bytes before `pos`: none at the start, or after a run's end (a byte
    // that is not a token byte).
    let mut before = 0u64;
    'blocks: while pos < n {
        let m = match buf.get(pos..pos + 64) {
            Some(b) => mask64(b.try_into().expect("64 bytes")),
            None => {
                // The last block: bytes past the end count as no token bytes (zero is not one).
                let mut b = [0u8; 64];
                b[..n - pos].copy_from_slice(&buf[pos..]);
                mask64(&b)
            }
        };
        let mut ends = run_ends(before, m);
        while ends != 0 {
            // The first 16 in a row end at `j`, so the run starts 15 bytes before: had it
            // started earlier, 16 in a row would have ended earlier, here or in the block
            // before.
            let j = ends.trailing_zeros() as usize;
            let s = pos + j - 15;
            let rest = if j < 63 { !m >> (j + 1) } else { 0 };
            if rest != 0 {
                let e = pos + j + 1 + rest.trailing_zeros() as usize;
                if take(s, e) {
                    return Some((s, e));
                }
                // Byte `e` is not a token byte: the next run's first 16 end 16 bytes after it
                // or later, in this block's mask as it is.
                let k = e - pos + 16;
                ends = if k < 64 { ends & (!0u64 << k) } else { 0 };
                continue;
            }
            // The run fills the block: measure on, a word, then a byte, at a time.
            let mut e = pos + 64;
            while let Some(w) = buf.get(e..e + 8) {
                let t = !token_bytes(u64::from_le_bytes(w.try_into().expect("eight bytes"))) & H;
                if t != 0 {
                    break;
                }
                e += 8;
            }
            while e < n && token_byte(buf[e]) {
                e += 1;
            }
            if take(s, e) {
                return Some((s, e));
            }
            (pos, before) = (e, 0);
            continue 'blocks;
        }
        before = m >> 48;
        pos += 64;
    }
    None
}

/// The first run of at least [`MIN_RUN`] token bytes in `buf`, as `(start, end)`.
#[cfg(test)]
pub(crate) fn next_run(buf: &[u8]) -> Option<(usize, usize)> {
    find_run(buf, |_, _| true)
}

/// Keyword literals, searched together in one pass. Each is a piece of a secret's name in the
/// casings names come in (`pass`/`PASS`/`Pass`, `ecret`/`ECRET`, `oken`/`OKEN`,
/// `auth`, `pwd`, `dsn`, `ebhook`, `redential`, `pikey`, `_pat`, `_key`, `-key`, `.key`,
/// `Key`, `KEY=`, `_auth`, `salt`/`SALT`/`Salt`, `_PW`, a wallet's `nemonic`/`EMONIC`), or
/// stands for something with a check of its own in [`keyword_hit`] and `context::literals`:
/// * URLs' user-info (`://`), key files (`-----BEGIN`, PuTTY's `Private-Lines`, a JSON Web
///   Key's `"kty`), webhooks (`hooks.slack`), signatures (`sig=`, `Signature=`), `Bearer`
///   (`earer`), a JSON-escaped ESC (`\u001`), a session cookie's header or script (`ookie`,
///   see `rules::SESSION_COOKIE`), a summary's logins (`Login`, and ` / ` after a service's
///   label, see `context::logins`);
/// * commands and calls that take a secret by their place: `mysql`/`mariadb`, `kubeadm`,
///   `vault login`, `operator unseal`, `mc alias`/`mc admin user add`, `net use`/`net.exe use`,
///   `::add-mask::`, `rabbitmqctl`, `etcdctl`, `curl`, `snmp…`, `smbclient`, `sqlplus`,
///   `openssl`, `ssh-keygen`, FreeRDP's `/p:`, `bundle config`, Composer's `http-basic.`,
///   container tools' `-creds`, `IDENTIFIED BY`, `-AsPlainText`, `SecureString`, `login(`,
///   `getConnection(`, `SMTP(`/`SMTP_TLS(`, `PDO(`, `ldap…_bind_s(`, `jwt.`, `createHmac(`,
///   `hmac.new(`, `wg genkey`, `randomBytes`, network devices' `key-string`, `isakmp key`,
///   `-server key`, `ipsec.secrets`' `PSK `, Oracle's `:thin:`, `api key`, `private key`,
///   `admin user`;
/// * short flags that take a password (` -p`, ` -P `, ` -w `, ` -a `, ` -u `, ` -A `, ` -X `,
///   ` -k `, ` -U `);
/// * services whose values may be shorter than a run or hold none (`mgur`, `box`, `hromatic`,
///   `nio`, `ekit`, `sforce`, `sfdc`, `aces`, in their casings; see `SHORT_SERVICES`).
///
/// Password hashes (`$6$…`, `$2b$…`, `$apr1$…`) are not among them: a `$` is looked for with
/// the percent escapes (`encoded::next_escape_dsn_or_hash`), which freed seven places here.
///
/// The order is the searcher's bucket layout, so it is chosen: the SIMD search (Teddy) puts
/// literals whose first three bytes have the same low halves into one of 16 buckets, and each
/// new such group into bucket 15 − (its first literal's index mod 16); a position is looked
/// at more closely whenever the nibbles of any bucket's literals match there, so which literals
/// share a bucket decides how many positions of ordinary text are looked at. This order is
/// `keyword_layout.py --drop '$apr1$,$2y$,$2a$,$2b$,$5$,$6$,$y$' --search 100000 --seed 4
/// SALT salt Salt` run on the order before it (BENCHMARKS.md, "The keywords' order, searched
/// again"), then `ookie` and ` / ` placed by `keyword_layout.py ookie` and `" / "` (the
/// second the cheapest of its 128 places when each was timed), then `keyword_layout.py
/// --drop 'ASSW,Sfdc' 'nemonic|mnemonic|emonic' 'NEMONIC|MNEMONIC|EMONIC'`. The order cannot
/// change which hits are found (no literal is a prefix of another, so no two match at one
/// place: tested).
pub(crate) const KEYWORDS: &[&str] = &[
    "pass",
    "SFORCE",
    "sforce",
    "login(",
    "Pwd",
    "DSN",
    "ecret",
    "Private-Lines",
    "EBHOOK",
    "oken",
    "SK=",
    "REDENTIAL",
    "EMONIC",
    "I key",
    "auth",
    "Hmac(",
    "nssl",
    "salt",
    "lainText",
    "PWD",
    "qlplus",
    "dle config",
    "SALT",
    "mBytes",
    "hooks.slack",
    "net use",
    ".exe use",
    "ied by",
    "vate key",
    "NET USE",
    " -w ",
    "_pat",
    "PSK ",
    "Auth",
    "-----BEGIN",
    ".key",
    "admin user",
    "dsn",
    "TP_TLS(",
    "jwt.",
    "mbclient",
    "\"kty",
    "sig=",
    "_key",
    "unseal",
    "kubeadm",
    " -p",
    "_PW",
    "ECRET",
    "://",
    "earer",
    "-key",
    "sk=",
    "mgur",
    "box",
    "hromatic",
    "ookie",
    "BOX",
    "HROMATIC",
    "nio",
    "NIO",
    "c alias",
    " -u ",
    "-basic.",
    "Pass",
    "sfdc",
    "ekit",
    "aces",
    "nkey",
    "mac.new(",
    "TP(",
    "IED BY",
    "etConnection(",
    "nemonic",
    "snmp",
    " -P ",
    "mqctl",
    "curl",
    " -a ",
    "\\u001",
    "Login",
    "udo -S",
    "cureString",
    "MASK::",
    "OKEN",
    "-server key",
    "DO(",
    "mysql",
    ":thin:",
    "MGUR",
    "Key",
    "pikey",
    "vault login",
    "Box",
    " -X ",
    "_KEY",
    "Signature=",
    "_PAT",
    "-KEY",
    "EKIT",
    "kmp key",
    "i key",
    "-creds",
    "etcdctl",
    "PASS",
    "PIKEY",
    "redential",
    "reerdp",
    " -A ",
    "SFDC",
    " -k ",
    "_bind_s(",
    "ACES",
    "nIO",
    "mariadb",
    "DLE_",
    "KEY=",
    "mask::",
    " -U ",
    "h-keygen",
    "pwd",
    "AUTH",
    "EARER",
    ".KEY",
    "y-string",
    "ebhook",
    " / ",
    "Salt",
];

/// Services of the case-insensitive rows whose values can be shorter than a run (Dropbox's 15
/// bytes, Imgur's 15, Chromatic's 12, MinIO's 8), or hold no run at all, a `.`, `+`, `/` or `!`
/// every few bytes (Imagekit's `private_…`, Salesforce's, DigitalOcean Spaces'):
/// `"dropbox": "…"` has no run for [`Finders::run_after_service`] to find, so a piece of each
/// name is a keyword literal, with where in the name it starts. The pieces come in lower and
/// upper case, which take the capitalised names too (`Dropbox`, `Imgur`), and in `MinIO`'s
/// and `DropBox`'s casings.
const SHORT_SERVICES: &[(&[u8], &[u8], usize)] = &[
    (b"mgur", b"imgur", 1),
    (b"box", b"dropbox", 4),
    (b"hromatic", b"chromatic", 1),
    (b"nio", b"minio", 2),
    (b"ekit", b"imagekit", 4),
    (b"sforce", b"salesforce", 4),
    (b"sfdc", b"sfdc", 0),
    (b"aces", b"spaces", 2),
];

/// Whether the keyword hit at `hit` (`lit`, one of the [`SHORT_SERVICES`] pieces) is in that
/// service's whole name.
fn short_service(buf: &[u8], hit: usize, lit: &[u8]) -> bool {
    SHORT_SERVICES.iter().any(|&(piece, name, at)| {
        piece.eq_ignore_ascii_case(lit)
            && hit >= at
            && buf
                .get(hit - at..hit - at + name.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
    })
}

/// Names judged lately and the verdicts, so a name met on every line (`input_tokens` in each
/// stream-json usage line, `PASSED` in each pytest line) is judged once: [`context::classify`]
/// depends on the name's bytes alone, so a remembered verdict is the verdict. Direct-mapped,
/// names of up to [`NameMemo::LONGEST`] bytes.
#[derive(Debug, Clone)]
pub(crate) struct NameMemo {
    slots: Box<[([u8; Self::LONGEST], u8, bool); Self::SLOTS]>,
}

impl Default for NameMemo {
    fn default() -> Self {
        // Length 0 marks an empty slot: names are never empty here (they hold a literal).
        Self {
            slots: Box::new([([0; Self::LONGEST], 0, false); Self::SLOTS]),
        }
    }
}

impl NameMemo {
    const LONGEST: usize = 40;
    const SLOTS: usize = 64;

    /// `context::worth_a_look(name)`, remembered.
    fn secret_name(&mut self, name: &[u8]) -> bool {
        self.remember(name, context::worth_a_look)
    }

    /// `judge(name)`, remembered: `judge` must depend on the name's bytes alone, and one memo
    /// serves one judge.
    fn remember(&mut self, name: &[u8], judge: impl FnOnce(&[u8]) -> bool) -> bool {
        if name.is_empty() || name.len() > Self::LONGEST {
            return judge(name);
        }
        // The first and last bytes, read in place: copying a name of any length into a word
        // is a call to `memcpy`, which cost more than the rest of the lookup.
        let n = name.len();
        let word = |at: usize| u64::from_le_bytes(name[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                name[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        let edges = match n {
            8.. => word(0) ^ word(n - 8).rotate_left(29),
            4..8 => half(0) | half(n - 4) << 32,
            _ => u64::from(name[0]) | u64::from(name[n / 2]) << 8 | u64::from(name[n - 1]) << 16,
        };
        let h = edges
            .wrapping_add(n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(h >> 58) as usize];
        if usize::from(slot.1) == n && slot.0[..n] == *name {
            return slot.2;
        }
        let verdict = judge(name);
        slot.0[..n].copy_from_slice(name);
        slot.1 = n as u8;
        slot.2 = verdict;
        verdict
    }
}

/// How far after a `://` its URL is read for user-info or a `key` parameter.
const URL_REACH: usize = 512;

/// Whether a keyword hit at `hit` in `buf` is worth a closer look.
pub(crate) fn keyword_hit(buf: &[u8], hit: usize, lit: &[u8], memo: &mut NameMemo) -> bool {
    match lit {
        b"://" => {
            // User-info, `scheme://user:pass@host`, before the path; or a `key` parameter
            // (`?key=VALUE`, `&key=VALUE`) before the next blank or quote, at most 512 bytes on;
            // or a summary's `user / password` after the link.
            let rest = &buf[hit + 3..buf.len().min(hit + 3 + URL_REACH)];
            let end = rest
                .iter()
                .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>'))
                .unwrap_or(rest.len());
            let url = &rest[..end];
            let host = url.iter().position(|&b| b == b'/').unwrap_or(end);
            url[..host].contains(&b'@')
                || context::url_key(url).is_some()
                // A user and a password after it (`http://localhost:3000 (admin / …)`).
                || context::pair_after_link_at(buf, hit)
        }
        b"-----BEGIN" | b"Private-Lines" | b"hooks.slack" | b"ebhook" | b"EBHOOK" => true,
        // A `Cookie:` or `Set-Cookie:` header, a script's `document.cookie = "…"`: where the
        // session cookie's rule (`rules::SESSION_COOKIE`) may begin a match.
        b"ookie" => {
            let rest = &buf[hit + 5..];
            let blanks = |at: usize| {
                at + rest[at..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace() && *b != 0x0b)
                    .unwrap_or(rest.len() - at)
            };
            rest.first() == Some(&b':') || {
                let eq = blanks(0);
                rest.get(eq) == Some(&b'=')
                    && matches!(rest.get(blanks(eq + 1)), Some(b'"' | b'\'' | b'`'))
            }
        }
        // A signed URL's signature: URL-encoded base64, cut by `%2B` into pieces too short
        // for a run.
        b"sig=" => true,
        // A pre-signed URL's signature, a query parameter: `?X-Amz-Signature=`,
        // `&X-Goog-Signature=`, CloudFront's `&Signature=`.
        b"Signature=" => hit > 0 && matches!(buf[hit - 1], b'?' | b'&' | b'-'),
        // A JSON Web Key: judged whole (private members or not) on its line.
        b"\"kty" => true,
        // `mysql -u root -pS3cret!`: a password of any length on a client's command line.
        b"mysql" | b"mariadb" => {
            // (A bounded look: a line of megabytes naming `mysql` often cost its length for
            // each hit, quadratic.)
            let rest = &buf[hit..buf.len().min(hit + context::COMMAND_REACH)];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            // The blank before `-p` may be a JSON-escaped tab (`\t`).
            let line = &rest[..end];
            // (After a quote: an argument vector's `"-pVALUE"`, `["mysql", "-uroot", "-p…"]`.)
            line.windows(3)
                .any(|w| matches!(w, [b' ' | b'\t' | b'"' | b'\'', b'-', b'p']))
                || memchr::memmem::find(line, b"\\t-p").is_some()
                // Go's driver: `sql.Open("mysql", "USER:VALUE@tcp(HOST)/DB")`.
                || memchr::memmem::find(line, b"@tcp(").is_some()
                || memchr::memmem::find(line, b"@unix(").is_some()
                // `pymysql.connect(HOST, USER, "…")`, PHP's `mysqli_connect(…)`.
                || context::positional_call(buf, hit)
        }
        // `kubeadm join … abcdef.0123456789abcdef`: a bootstrap token anywhere on the line.
        b"kubeadm" => true,
        b" -p" | b" -w " | b" -P " | b" -a " | b" -u " | b" -A " | b" -X " | b" -k " | b" -U " => {
            // (Or a single-dash flag named for a password, `-password VALUE`: ` -p` ends the
            // search's step over its name.)
            context::short_password_flag(buf, hit) || context::dash_password_name(buf, hit)
        }
        // `jdbc:oracle:thin:USER/VALUE@…`.
        b":thin:" => buf[..hit].ends_with(b"oracle"),
        // `bundle config HOST USER:VALUE`: judged on its line.
        b"dle config" => buf[..hit].ends_with(b"bun"),
        // `vault login TOKEN`, `mc alias set …`: judged on their lines.
        b"vault login" => true,
        b"unseal" => buf[..hit].ends_with(b"operator "),
        b"c alias" => hit > 0 && buf[hit - 1] == b'm',
        // `api key: VALUE`, `API key: VALUE`: the label in two words, `api` before the hit.
        b"i key" | b"I key" => {
            hit >= 2 && buf[hit - 2..=hit].eq_ignore_ascii_case(b"api") && starts_word(buf, hit - 2)
        }
        // `private key: VALUE`, `Private key: VALUE`: the label in two words.
        b"vate key" => {
            hit >= 3 && buf[hit - 3..hit].eq_ignore_ascii_case(b"pri") && starts_word(buf, hit - 3)
        }
        // A signing secret given to `jwt.sign(…)`, `createHmac(…)`, `hmac.new(…)`: judged on
        // its line.
        b"jwt." | b"Hmac(" | b"mac.new(" => true,
        // `net user NAME VALUE`, `net use \\HOST\SHARE VALUE`, in capitals too, and
        // `net.exe use`: judged on their lines.
        b"net use" | b"NET USE" => true,
        b".exe use" => hit >= 3 && buf[hit - 3..hit].eq_ignore_ascii_case(b"net"),
        // GitHub Actions' `::add-mask::VALUE` (a workflow command's name in any case).
        b"mask::" | b"MASK::" => hit >= 6 && buf[hit - 6..hit].eq_ignore_ascii_case(b"::add-"),
        // Commands that print a key or a secret they make (`wg genkey`, Node's
        // `crypto.randomBytes(…)`): their lines are read for the call (`outputs`).
        b"nkey" => buf[..hit].ends_with(b" ge"),
        b"mBytes" => buf[..hit].ends_with(b"rando"),
        // Net-SNMP's `snmpwalk … -c VALUE`: the command's program, with a `-c` after it; a
        // network device's `snmp-server community VALUE`.
        b"snmp" => {
            let rest = &buf[hit..buf.len().min(hit + URL_REACH)];
            starts_word(buf, hit)
                && (memchr::memmem::find(rest, b" -c").is_some()
                    || rest.starts_with(b"snmp-server community "))
        }
        // A network device's `tacacs-server key …` and `radius-server key …`: judged on their
        // lines (`context::devices`).
        b"-server key" => hit >= 6 && matches!(&buf[hit - 6..hit], b"tacacs" | b"radius"),
        // strongSwan's `ipsec.secrets`: `SELECTORS : PSK "VALUE"`.
        b"PSK " => buf[..hit].ends_with(b": ") || buf[..hit].ends_with(b":\t"),
        // A summary's `Login: admin / …`: judged on its line.
        b"Login" => context::login_label_at(buf, hit),
        // A service's label and its login: `Postgres: postgres / …`.
        b" / " => context::pair_after_label_at(buf, hit),
        // MinIO's `mc admin user add ALIAS USER VALUE`: judged on its line.
        b"admin user" => buf[hit + 10..].starts_with(b" add "),
        b"mqctl" => {
            let reach = &buf[hit..buf.len().min(hit + context::COMMAND_REACH)];
            let end = memchr::memchr(b'\n', reach).map_or(hit + reach.len(), |p| hit + p);
            let rest = &buf[hit..end];
            // `add_user`, `change_password`, `authenticate_user`.
            memchr::memmem::find(rest, b"_user").is_some()
                || memchr::memmem::find(rest, b"change_password").is_some()
        }
        b"IED BY" => buf[..hit].ends_with(b"IDENTIF"),
        b"ied by" => buf[..hit].ends_with(b"identif"),
        b"lainText" => buf[..hit].ends_with(b"-AsP"),
        // A login call's password (`smtp.login(user, "…")`), a connection call's
        // (`getConnection(URL, USER, "…")`): judged on its line.
        b"login(" => true,
        b"cureString" => hit >= 2 && &buf[hit - 2..hit] == b"Se",
        b"etConnection(" | b"TP(" | b"TP_TLS(" | b"DO(" | b"_bind_s(" => {
            context::positional_call(buf, hit)
        }
        // A JSON-escaped ESC: colour codes in stream-json may split a secret.
        b"\\u001" => matches!(buf.get(hit + 5), Some(b'b' | b'B')),
        // Cisco's `crypto isakmp key …` (and the PIX's `isakmp key …`): judged on its line.
        b"kmp key" => buf[..hit].ends_with(b"isa"),
        // A key chain's ` key-string [TYPE] VALUE`: judged on its line.
        b"y-string" => buf[..hit].ends_with(b"ke"),
        // `--creds USER:VALUE`, `--src-creds`, `--dest-creds`.
        b"-creds" => context::creds_flag(buf, hit).is_some(),
        // `Bearer VALUE`; Composer's `bearer.HOST VALUE` and `"bearer": {…}`.
        b"earer" | b"EARER" => matches!(buf.get(hit + 5), Some(b' ' | b'.' | b'"')),
        // `gopass show …`: a password manager's command, whose line is read for the call
        // (`outputs`).
        b"pass" if buf[..hit].ends_with(b"go") && buf.get(hit + 4) == Some(&b' ') => true,
        b"mgur" | b"MGUR" | b"box" | b"BOX" | b"Box" | b"hromatic" | b"HROMATIC" | b"nio"
        | b"NIO" | b"nIO" | b"ekit" | b"EKIT" | b"sforce" | b"SFORCE" | b"sfdc" | b"SFDC"
        | b"aces" | b"ACES" => short_service(buf, hit, lit),
        // The hits of nearly every line of Claude's stream-json and of pytest's output, told
        // by their bytes before the name's reading: the usage's counts (`"input_tokens":`,
        // `"output_tokens":`, `"cache_read_input_tokens":`) and a test's `PASSED`.
        b"oken" if buf[..hit].ends_with(b"put_t") && buf[hit + 4..].starts_with(b"s\":") => false,
        b"PASS"
            if buf[hit + 4..].starts_with(b"ED")
                && !buf.get(hit + 6).is_some_and(|&b| context::name_byte(b))
                && !(hit > 0 && context::name_byte(buf[hit - 1])) =>
        {
            false
        }
        _ => name_hit(buf, hit, memo),
    }
}

/// Whether the name around the keyword hit at `hit` is a secret's.
fn name_hit(buf: &[u8], hit: usize, memo: &mut NameMemo) -> bool {
    let (s, e) = context::name_extent(buf, hit, true);
    // `API Key: …`: the name in two words.
    let s = context::two_word_start(buf, s, e);
    // `"Jwt": { "Key": "…" }`: a key named by its object; netsh's `Key Content : …`.
    memo.secret_name(&buf[s..e])
        || &buf[s..e] == b"Key"
            && (context::parent_qualified(buf, s) || buf[e..].starts_with(b" Content"))
}

/// A set of literals searched in one pass: Teddy (SIMD) where the CPU has it, else an
/// automaton with the same leftmost-first hits.
pub(crate) enum Literals {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Literals {
    pub fn new(lits: &[&str]) -> Self {
        // Past 64 literals the packed searcher is not built by default (Teddy's heuristic
        // limit) and the automaton took over: 72 keyword literals cost 2.15 billion more
        // instructions a pass of the bench that way, 12 million more than 63 in Teddy with
        // the limit lifted (their places chosen for Teddy's buckets, see `KEYWORDS`).
        let packed = aho_corasick::packed::Config::new()
            .heuristic_pattern_limits(false)
            .builder()
            .extend(lits.iter())
            .build();
        match packed {
            Some(s) => Literals::Packed(s),
            None => Literals::Automaton(
                aho_corasick::AhoCorasickBuilder::new()
                    .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                    .build(lits)
                    .expect("literals build"),
            ),
        }
    }

    /// The start of the first hit in `hay` that `keep(start, end)` accepts.
    pub fn first(&self, hay: &[u8], mut keep: impl FnMut(usize, usize) -> bool) -> Option<usize> {
        match self {
            Literals::Packed(s) => s
                .find_iter(hay)
                .find(|m| keep(m.start(), m.end()))
                .map(|m| m.start()),
            Literals::Automaton(a) => a
                .find_iter(hay)
                .find(|m| keep(m.start(), m.end()))
                .map(|m| m.start()),
        }
    }

    /// Every hit in `hay`, leftmost first, as `(start, end)`.
    pub fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize)) {
        match self {
            Literals::Packed(s) => s.find_iter(hay).for_each(|m| f(m.start(), m.end())),
            Literals::Automaton(a) => a.find_iter(hay).for_each(|m| f(m.start(), m.end())),
        }
    }

    /// How many hits there are in `hay`.
    pub fn count(&self, hay: &[u8]) -> usize {
        match self {
            Literals::Packed(s) => s.find_iter(hay).count(),
            Literals::Automaton(a) => a.find_iter(hay).count(),
        }
    }
}

/// The family anchors: token prefixes as written, service names in any case.
pub(crate) struct Anchors {
    /// A cheap first look at a run before the automaton's (see [`Pairs`]).
    pub pairs: Pairs,
    pub exact: AhoCorasick,
    pub exact_family: Vec<usize>,
    pub any_case: AhoCorasick,
    pub any_case_family: Vec<usize>,
    /// The same anchors for long lines.
    pub long: LongLines,
}

/// Lines this long or longer have their families found by [`LongLines`].
const LONG_LINE: usize = 16 * 1024;

/// Every anchor in one automaton that ignores case, as a DFA, for the families of a long line
/// (a tool's output in one stream-json line runs to megabytes): one table walk a byte, where the
/// two automata of [`Anchors`] (compact NFAs, 134 KB, built with the rules) cost about three times
/// as much per byte. An exact anchor it finds in another case is passed over. Built on the first
/// long line (2.7 ms, 1.1 MB), so a run without one never pays for it.
pub(crate) struct LongLines {
    /// Each pattern: the anchor, whether it is exact, its family.
    patterns: Vec<(&'static str, bool, usize)>,
    dfa: std::sync::OnceLock<AhoCorasick>,
}

impl LongLines {
    pub fn new(exact: &[(&'static str, usize)], any_case: &[(&'static str, usize)]) -> Self {
        let patterns = exact
            .iter()
            .map(|&(a, f)| (a, true, f))
            .chain(any_case.iter().map(|&(a, f)| (a, false, f)))
            .collect();
        Self {
            patterns,
            dfa: std::sync::OnceLock::new(),
        }
    }

    fn families_in(&self, region: &[u8], into: &mut Vec<usize>) {
        let dfa = self.dfa.get_or_init(|| {
            aho_corasick::AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(self.patterns.iter().map(|p| p.0))
                .expect("family anchors build")
        });
        for m in dfa.find_overlapping_iter(region) {
            let (anchor, exact, family) = self.patterns[m.pattern().as_usize()];
            if exact && &region[m.range()] != anchor.as_bytes() {
                continue;
            }
            if anchor_counts(region, m.start(), m.len()) {
                into.push(family);
            }
        }
    }
}

/// The exact anchors as a table of byte-pair signatures: a cheap first look that rejects almost
/// every position of ordinary text without a branch, and hands the rest to an exact comparison.
///
/// The region is read a pair at a time at even positions. An anchor that starts at an even
/// position `s` is seen through its bytes 0–1 (the pair at `s`) and 4–5 (the pair at `s + 4`;
/// bytes 2–3 at `s + 2` for an anchor of four or five bytes): bytes 4–5 rather than 2–3
/// because text is full of the first four bytes of long anchors (`test` of `test_pub_`). One
/// that starts at an odd position is seen through its byte 0 (the second byte of the pair at
/// `s - 1`) and bytes 1–2 (the pair at `s + 1`). Each anchor is given one of eight buckets per
/// side; a table holds, for every pair, three bucket masks: `A` (the pair is some anchor's
/// bytes 0–1), `B` (its later even-side pair; every pair, or every pair that begins with its
/// last byte, for an anchor too short for one) and `D` (bytes 1–2), and a second, for every
/// byte, `C` (the byte is some anchor's byte 0). Masks that share a bucket at the right
/// distance make a candidate, confirmed by comparing bytes: in the bench's text, 284,000 of 16
/// million positions read (the pair table before it, one flag per pair, sent 3.2 million on to
/// a second look).
pub(crate) struct Pairs {
    /// `A | B << 8 | D << 16` per pair `(a << 8) | b`. Zeroed and written only where anchors
    /// have pairs, so only a few of its pages are ever resident.
    masks: Box<[u32; 1 << 16]>,
    /// `C` per byte: the odd side's buckets of the anchors that begin with it.
    odd_first: [u8; 256],
    /// The exact anchors sorted by their first pair, to confirm a candidate by comparing bytes
    /// (no automaton over the region).
    by_pair: Vec<(u16, &'static [u8])>,
    /// Where the anchors that begin with each byte begin in `by_pair`.
    by_first: [u16; 257],
}

fn pair(a: u8, b: u8) -> usize {
    (usize::from(a) << 8) | usize::from(b)
}

/// The even side's buckets of anchors seen through a pair four bytes after their first (six
/// bytes or more); the other buckets' later pair is two bytes after.
const FAR: u32 = 0x0f;
/// The even side's bucket of two-byte anchors, whose `B` is every pair.
const TWO: u32 = 0x80;

impl Pairs {
    pub fn new(anchors: &[&'static str]) -> Self {
        let mut p = Pairs {
            masks: vec![0; 1 << 16]
                .into_boxed_slice()
                .try_into()
                .expect("a mask per pair"),
            odd_first: [0; 256],
            by_pair: Vec::with_capacity(anchors.len()),
            by_first: [0; 257],
        };
        for a in anchors {
            let b = a.as_bytes();
            assert!(b.len() >= 2, "anchor {a:?}: anchors have two bytes or more");
            p.by_pair.push((pair(b[0], b[1]) as u16, b));
            // Even side: buckets 0–3 far and 4–5 near, by first byte, so that anchors sharing a
            // bucket share few pairs; 6 for three bytes (`B`: every pair after the last byte),
            // 7 for two.
            let (even, later) = match b.len() {
                6.. => (1 << (b[0] % 4), Some((b[4], b[5]))),
                4 | 5 => (1 << (4 + b[0] % 2), Some((b[2], b[3]))),
                3 => (1 << 6, None),
                _ => (TWO, None),
            };
            p.masks[pair(b[0], b[1])] |= even;
            match (later, b.len()) {
                (Some((x, y)), _) => p.masks[pair(x, y)] |= even << 8,
                (None, 3) => (0..=255).for_each(|y| p.masks[pair(b[2], y)] |= even << 8),
                _ => {} // TWO: every pair, in `any_in`
            }
            // Odd side: buckets 0–6 by first byte, 7 for two bytes (`D`: every pair after the
            // last byte).
            let odd = if b.len() == 2 {
                1 << 7
            } else {
                1 << (b[0] % 7)
            };
            p.odd_first[usize::from(b[0])] |= odd as u8;
            match b.len() {
                2 => (0..=255).for_each(|y| p.masks[pair(b[1], y)] |= odd << 16),
                _ => p.masks[pair(b[1], b[2])] |= odd << 16,
            }
        }
        p.by_pair.sort_unstable();
        for (k, at) in p.by_first.iter_mut().enumerate() {
            *at = p.by_pair.partition_point(|&(q, _)| usize::from(q >> 8) < k) as u16;
        }
        p
    }

    /// Whether an exact anchor that counts there starts at `region[i]` and ends inside it.
    fn anchor_at(&self, region: &[u8], i: usize) -> bool {
        let Some(&[x, y]) = region.get(i..i + 2) else {
            return false;
        };
        let first = &self.by_pair[usize::from(self.by_first[usize::from(x)])
            ..usize::from(self.by_first[usize::from(x) + 1])];
        let k = pair(x, y) as u16;
        first[first.partition_point(|&(q, _)| q < k)..]
            .iter()
            .take_while(|&&(q, _)| q == k)
            .any(|&(_, a)| region[i..].starts_with(a) && anchor_counts(region, i, a.len()))
    }

    /// Whether an exact anchor that counts there lies in `region`.
    fn any_in(&self, region: &[u8]) -> bool {
        let n = region.len();
        if n < 2 {
            return false;
        }
        // At `i`: the masks of the pairs at `i - 4`, `i - 2` and `i` and the byte at `i - 1`,
        // for anchors starting at `i - 4` and `i - 2` (even side) and `i - 1` (odd side).
        let (mut m4, mut m2) = (0u32, self.masks[pair(region[0], region[1])]);
        let mut odd_byte = region[1];
        let mut step = |i: usize, m0: u32, next_odd: u8| {
            let even = ((m4 & FAR) | (m2 & !FAR)) & ((m0 >> 8) | TWO) & 0xff;
            let odd = u32::from(self.odd_first[usize::from(odd_byte)]) & (m0 >> 16) & 0xff;
            (m4, m2, odd_byte) = (m2, m0, next_odd);
            (even | odd) != 0 && self.confirm(region, i, even, odd)
        };
        let mut pairs = region[2..].chunks_exact(2);
        for (k, w) in pairs.by_ref().enumerate() {
            if step(2 + 2 * k, self.masks[pair(w[0], w[1])], w[1]) {
                return true;
            }
        }
        // The last pair, read past the end as zeros: a byte or none.
        let last = pairs.remainder().first().copied().unwrap_or(0);
        step(n - n % 2, self.masks[pair(last, 0)], 0)
    }

    /// A candidate at `i` (see [`Pairs::any_in`]) confirmed by comparing bytes.
    #[cold]
    fn confirm(&self, region: &[u8], i: usize, even: u32, odd: u32) -> bool {
        even & FAR != 0 && i >= 4 && self.anchor_at(region, i - 4)
            || even & !FAR != 0 && self.anchor_at(region, i - 2)
            || odd != 0 && self.anchor_at(region, i - 1)
    }
}

/// The compiled keyword pass and the family-anchor automata.
pub(crate) struct Finders {
    /// Every keyword literal in one SIMD literal searcher (Teddy): one pass over the bytes,
    /// hits taken in order without restarting the search. Leftmost-first hits hide no hit
    /// that matters: literals that overlap lie in one name, which is judged whole, and the
    /// special literals (`://`, `-----BEGIN`, `earer`, …) overlap no other literal's end.
    pub keywords: Literals,
    /// The places of secrets that no name marks ([`PLACES`]), searched only in the lines
    /// matched rule by rule.
    pub places: Literals,
    /// Pieces of the names no keyword literal finds ([`UNKEYED`]), likewise.
    pub unkeyed: Literals,
    /// Secrets' labels in other languages (`context::LABELS`): looked for in a line only where
    /// it holds a byte that is not ASCII ([`next_foreign_label`]).
    pub foreign: Literals,
    pub anchors: Anchors,
}

/// Where the first byte that is not ASCII is in `buf`: 128 bytes at a time, their high bits
/// gathered by SIMD (through `wide`) and looked at once.
pub(crate) fn first_non_ascii(buf: &[u8]) -> Option<usize> {
    use wide::i8x16;
    let mut at = 0;
    for b in buf.as_chunks::<128>().0 {
        // A byte's high bit is its sign: set in the union where any byte is not ASCII.
        let any = b.as_chunks::<16>().0.iter().fold(i8x16::ZERO, |any, c| {
            any | i8x16::new(wide::bytemuck::cast(*c))
        });
        if any.to_bitmask() != 0 {
            break;
        }
        at += 128;
    }
    buf[at..]
        .iter()
        .position(|&b| !b.is_ascii())
        .map(|p| at + p)
}

/// The first label of a secret in another language in `hay` (`context::LABELS`): only the
/// lines that hold a byte that is not ASCII are searched for one, each once.
pub(crate) fn next_foreign_label(hay: &[u8], labels: &Literals) -> Option<usize> {
    let mut at = 0;
    while let Some(p) = first_non_ascii(&hay[at..]) {
        let p = at + p;
        let start = memchr::memrchr2(b'\n', b'\r', &hay[at..p]).map_or(at, |k| at + k + 1);
        let end = memchr::memchr2(b'\n', b'\r', &hay[p..]).map_or(hay.len(), |k| p + k);
        if let Some(h) = labels.first(&hay[start..end], |_, _| true) {
            return Some(start + h);
        }
        at = end;
    }
    None
}

/// Where a secret is given with no name before it: a tool's token after its `login` (`wandb
/// login KEY`, `cargo login TOKEN`), a URL's `key` parameter or VS Code's connection token
/// (`?tkn=`), Snyk's `config set api=TOKEN`, Django's `create_superuser(USER, EMAIL, "…")`
/// (the run pass marks its line: `create_superuser` is a run of 16, see [`superuser_call`]).
pub(crate) const PLACES: &[&str] = &[
    " login ",
    "?key=",
    "&key=",
    "?tkn=",
    "&tkn=",
    "config set api=",
    "e_superuser(",
];

/// Whether the run `hay[s..e]` is the name of Django's `create_superuser(…)` call, whose third
/// argument is the password (no keyword literal is in the call's name, and the literals are as
/// many as the SIMD search takes: the run pass marks its line instead, at the cost of one
/// byte's look at the end of every run).
#[inline(always)]
pub(crate) fn superuser_call(hay: &[u8], s: usize, e: usize) -> bool {
    hay.get(e) == Some(&b'(') && hay[s..e].ends_with(b"_superuser")
}

/// Whether an anchor found at `at` in `hay` counts. A short anchor that begins with a letter or
/// digit (`SK`, `pat`, `re_`) must begin a word, or follow a JSON escape (`\nghp_`): inside a
/// longer word (`task_`, `package`) it is a coincidence.
fn anchor_counts(hay: &[u8], at: usize, len: usize) -> bool {
    anywhere(&hay[at..at + len]) || starts_word(hay, at)
}

/// Whether an anchor may sit anywhere in a token (long, or starting with punctuation).
fn anywhere(anchor: &[u8]) -> bool {
    anchor.len() >= 6 || !anchor[0].is_ascii_alphanumeric() || anchor.contains(&b'~')
}

/// Whether `hay[at]` begins a word: at the start, after a byte that is not a letter or digit,
/// or after a JSON escape such as `\n`.
fn starts_word(hay: &[u8], at: usize) -> bool {
    at == 0 || !hay[at - 1].is_ascii_alphanumeric() || at >= 2 && hay[at - 2] == b'\\'
}

/// Where the anchor window before a run at `start` begins: [`ANCHOR_BEFORE`] bytes back, or,
/// when every byte from `w` (the byte before that window) up to the run is a `joined` byte,
/// back to the start of those bytes, at most [`ANCHOR_BEFORE`] + [`ANCHOR_INSIDE`] back.
fn joined_start(buf: &[u8], w: usize, start: usize, joined: impl Fn(u8) -> bool) -> usize {
    if !buf[w..start].iter().all(|&b| joined(b)) {
        return w + 1;
    }
    let floor = start.saturating_sub(ANCHOR_BEFORE + ANCHOR_INSIDE);
    buf[floor..w]
        .iter()
        .rposition(|&b| !joined(b))
        .map_or(floor, |p| floor + p + 1)
}

impl Finders {
    /// The families whose anchors occur in `region`, added to `into` (indices into the table).
    pub fn families_in(&self, region: &[u8], into: &mut Vec<usize>) {
        if region.len() >= LONG_LINE {
            self.anchors.long.families_in(region, into);
        } else {
            self.families_in_short(region, into);
        }
    }

    fn families_in_short(&self, region: &[u8], into: &mut Vec<usize>) {
        let a = &self.anchors;
        for (ac, fam) in [
            (&a.exact, &a.exact_family),
            (&a.any_case, &a.any_case_family),
        ] {
            for m in ac.find_overlapping_iter(region) {
                if anchor_counts(region, m.start(), m.len()) {
                    into.push(fam[m.pattern().as_usize()]);
                }
            }
        }
    }

    /// Whether some token prefix sits near the start of the run `buf[start..end]`: up to
    /// [`ANCHOR_BEFORE`] bytes before it or [`ANCHOR_INSIDE`] into it. (Service names, which
    /// the case-insensitive rows are anchored on, are looked for in the name a run is given
    /// to: [`Finders::run_after_service`].)
    pub fn run_has_anchor(&self, buf: &[u8], start: usize, end: usize) -> bool {
        self.anchors
            .pairs
            .any_in(&buf[anchor_region(buf, start, end)])
    }

    /// Whether the run `hay[s..e]` is a value given to a name that holds a service's name
    /// (`"adafruit": "…"`, `ADAFRUIT=…`, `adafruit: …`): the shape of the case-insensitive
    /// rows where no secret's name (`_KEY`, `TOKEN`) marks the line for the keyword search.
    /// Most runs are no value, or the value of a name without one (`"id": "msg_…"`).
    /// Each name's verdict is remembered in `memo` (`"id"` comes before a value on every
    /// stream-json line).
    ///
    /// Or a secret's name that holds none of the keyword literals (`BW_SESSION="…"`, `db_pw:
    /// …`, `psk=…`): such a name is read by `context` only in a line matched rule by rule
    /// ([`unkeyed_names`]), and this is what marks a line for it.
    pub fn run_after_service(&self, hay: &[u8], s: usize, e: usize, memo: &mut NameMemo) -> bool {
        run_named(hay, s, e, |name| {
            // `{"api": {"key": "…"}}`: the object's name says whose key it is; `  key: …`
            // indented at a line's start may be a YAML mapping's (judged in the line's view,
            // where an escaped line break is one).
            let key = &hay[name.clone()] == b"key"
                && name.start > 0
                && match hay[name.start - 1] {
                    b'"' => context::parent_qualified(hay, name.start),
                    b' ' => indented(hay, name.start),
                    _ => false,
                };
            key || memo.remember(&hay[name], |name| {
                self.anchors
                    .any_case
                    .find_overlapping_iter(name)
                    .any(|m| anchor_counts(name, m.start(), m.len()))
                    || context::classify(name).is_some()
            })
        })
    }
}

/// Whether only blanks come before `s` on its line: after a line break, an escaped one (`\n`
/// in a JSON string) or the arrow of Claude Code's Read tool.
fn indented(hay: &[u8], s: usize) -> bool {
    let mut at = s;
    while at > 0 && hay[at - 1] == b' ' && s - at < 32 {
        at -= 1;
    }
    at < s
        && (at == 0
            || hay[at - 1] == b'\n'
            || hay[..at].ends_with(b"\\n")
            || hay[..at].ends_with(context::READ_ARROW))
}

/// Whether `judge` accepts a name the run `hay[s..e]` may be the value of: the name assigned
/// the run, the name of the value the run is in (`"salesforce": "6t7d2ygym.fg9ynp3.ebtpok5m…"`),
/// or a directive's alone on its line.
#[inline(always)]
fn run_named(
    hay: &[u8],
    s: usize,
    e: usize,
    mut judge: impl FnMut(std::ops::Range<usize>) -> bool,
) -> bool {
    if assigned_name(hay, s, e)
        .map(|name| with_qualifier(hay, name))
        .is_some_and(&mut judge)
    {
        return true;
    }
    // (A `=` in the run itself was the first look's: `NAME=` is looked for before it.)
    let (v, eq) = value_start(hay, s);
    if v < s && (eq || v > 0 && (gap(hay[v - 1]) || operator(hay[v - 1]))) {
        return assigned_name(hay, v, s).is_some_and(judge);
    }
    // A directive alone on its line, its value after blanks (slapd.conf's `rootpw {SSHA}…`).
    directive_name(hay, s).is_some_and(judge)
}

/// The name at the start of the line (blanks before it allowed) with only blanks between it
/// and `s`.
#[inline(always)]
fn directive_name(hay: &[u8], s: usize) -> Option<std::ops::Range<usize>> {
    let blank = |b: u8| b == b' ' || b == b'\t';
    if s == 0 || !blank(hay[s - 1]) {
        return None;
    }
    // (Directives' values are aligned in columns: up to 32 blanks.)
    let floor = s.saturating_sub(32);
    let mut end = s - 1;
    while end > floor && blank(hay[end - 1]) {
        end -= 1;
    }
    let floor = end.saturating_sub(NAME_REACH);
    let mut at = end;
    while at > floor && context::name_byte(hay[at - 1]) {
        at -= 1;
    }
    let mut before = at;
    while before > 0 && blank(hay[before - 1]) {
        before -= 1;
    }
    (at < end && (before == 0 || hay[before - 1] == b'\n')).then_some(at..end)
}

/// Where secrets' names that hold no keyword literal are in `line` (a place in each), for
/// `context` to read: found by the pieces of [`UNKEYED`], each name judged whole. A line is
/// matched rule by rule for such a name where the run pass finds a run given to it
/// ([`Finders::run_after_service`]), or for other evidence. In a long line (a tool's result in
/// one stream-json line) the same few names recur: their verdicts are remembered for the line.
pub(crate) fn unkeyed_names(finders: &Finders, line: &[u8], mut f: impl FnMut(usize)) {
    let judge = |name: &[u8]| {
        context::classify(name).is_some() && finders.keywords.first(name, |_, _| true).is_none()
    };
    let mut memo = (line.len() >= LONG_LINE).then(NameMemo::default);
    let mut judged_to = 0;
    finders.unkeyed.each(line, |h, _| {
        if h < judged_to {
            return; // another piece of a name already judged
        }
        if matches!(line[h], b'"' | b' ') {
            // `"key"`, ` key:`: a secret's name where its object's name says whose key it is.
            judged_to = h + 5;
            if context::parent_qualified(line, h + 1) {
                f(h + 1);
            }
            return;
        }
        let (s, e) = context::name_extent(line, h, false);
        judged_to = e;
        let name = &line[s..e];
        // A short flag and its value run together (7-Zip's `-pw…` is the password `w…`):
        // short flags are the keyword literals' (` -p`, ` -P `, …).
        if name.starts_with(b"-") && !name.starts_with(b"--") {
            return;
        }
        let secret = match memo.as_mut() {
            Some(m) => m.remember(name, judge),
            None => judge(name),
        };
        if secret {
            f(h);
        }
    });
}

/// Pieces of secrets' names in which no [`KEYWORDS`] literal lies, in the casings names come in:
/// `pw` (`rootpw`, `bindpw`, `db_pw`, `dbPw: …`), a Wi-Fi network's `psk`, Bitwarden's
/// `BW_SESSION`, a seed phrase's `phrase`, keys' names run together in one case
/// (`accesskey`, `PRIVATEKEY`, `signingkey`, `masterkey`), a connection string's, a camel-case
/// `WebHook`. Searched only in the lines matched rule by rule, never over every byte.
pub(crate) const UNKEYED: &[&str] = &[
    "_pw",
    "tpw",
    "dpw",
    "TPW",
    "DPW",
    // A name that ends in `pw` in any case, before its operator or quote (`dbPw: …`,
    // `adminpw=…`).
    "pw=",
    "pw:",
    "pw\"",
    "Pw=",
    "Pw:",
    "Pw\"",
    "PW=",
    "PW:",
    "PW\"",
    "psk",
    "Psk",
    "PSK",
    "hrase",
    "HRASE",
    "W_SESSION",
    "w_session",
    "ccesskey",
    "CCESSKEY",
    "ivatekey",
    "IVATEKEY",
    "gningkey",
    "GNINGKEY",
    "sterkey",
    "STERKEY",
    "onnstr",
    "ONNSTR",
    "onnectionstring",
    "onnectionString",
    "ONNECTIONSTRING",
    "ebHook",
    // A key named only `key` in an object named for what it opens (`{"api": {"key": …}}`), or
    // in a YAML mapping (`api:` above `  key: …`).
    "\"key\"",
    " key:",
];

/// A name that is only `key` with the word before it (`Fernet key: …`, `Mapbox key = …`): a
/// label in two words, whose first names the service.
#[inline(always)]
fn with_qualifier(hay: &[u8], name: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let s = name.start;
    if !(hay[name.clone()].eq_ignore_ascii_case(b"key") && s >= 2 && hay[s - 1] == b' ') {
        return name;
    }
    let floor = (s - 1).saturating_sub(24);
    let mut at = s - 1;
    while at > floor && context::name_byte(hay[at - 1]) {
        at -= 1;
    }
    if at < s - 1 { at..name.end } else { name }
}

/// Longest start of a value before its first run that [`value_start`] walks back over.
const VALUE_REACH: usize = 48;

/// Where the value that holds the run starting at `s` starts: a value's first run may come
/// after bytes that end runs (`6t7d2ygym.fg9ynp3.ebtpok5m…`, `j+6jfmr8…`, `/c172ii26…`), so
/// the walk goes back over token bytes and `.`, `+`, `/`, `!`, at most [`VALUE_REACH`] bytes,
/// eight at a time (every run after a path's `/` takes this walk). A walk that reaches that
/// limit found no start (a path's directories, a host name's labels): the run's own start is
/// returned.
///
/// Also whether a `=` may be among the bytes walked over (`true` when one is, and sometimes
/// when one is just before them): without one, and without an operator or a quote before the
/// start, no name is there to judge, the common case of a path.
#[inline(always)]
fn value_start(hay: &[u8], s: usize) -> (usize, bool) {
    if s == 0 || !matches!(hay[s - 1], b'.' | b'+' | b'/' | b'!') {
        return (s, false);
    }
    let floor = s.saturating_sub(VALUE_REACH);
    let mut at = s - 1;
    let mut eq = 0;
    while at >= floor + 8 {
        let x = u64::from_le_bytes(hay[at - 8..at].try_into().expect("eight bytes"));
        eq |= bytes_equal(x, b'=');
        let stops = !joining_bytes(x) & H;
        if stops != 0 {
            // The highest flagged byte is the last one before the value.
            let v = at - 8 + (63 - stops.leading_zeros() as usize) / 8 + 1;
            return (v, eq != 0);
        }
        at -= 8;
    }
    while at > floor && joining_byte(hay[at - 1]) {
        at -= 1;
        eq |= u64::from(hay[at] == b'=');
    }
    if at == floor && floor > 0 && joining_byte(hay[floor - 1]) {
        (s, false)
    } else {
        (at, eq != 0)
    }
}

/// A value's bytes for [`value_start`]: token bytes and `.`, `/`, `+`, `!`.
fn joining_byte(b: u8) -> bool {
    token_byte(b) || matches!(b, b'.' | b'+' | b'/' | b'!')
}

/// [`joining_byte`] for eight bytes at once: the high bit of each joining byte set.
#[inline(always)]
fn joining_bytes(x: u64) -> u64 {
    // 0x2d..=0x7f holds `-`, `.`, `/` and the token bytes, and `:`, which is not one.
    let ge2d = ((x & !H) + 0x53 * L) & !x & H;
    (ge2d & !bytes_equal(x, b':')) | bytes_equal(x, b'+') | bytes_equal(x, b'!')
}

/// Longest name [`assigned_name`] takes: a service's name and up to 24 bytes of name after it,
/// as the rows allow, and some before.
const NAME_REACH: usize = 64;

/// The name the run `hay[s..e]` is the value of, if it is one: a name before it, then quotes,
/// blanks or JSON escapes' backslashes, an operator (`=`, `:`, `,`, `=>`'s `>`), and quotes,
/// blanks or backslashes again (as the rows' own gap, `KW_GAP` in `families`); or else
/// `NAME=value` in the run itself (`=` is a token byte): the run up to its first `=`.
#[inline(always)]
fn assigned_name(hay: &[u8], s: usize, e: usize) -> Option<std::ops::Range<usize>> {
    if let Some(name) = name_before_operator(hay, s) {
        return Some(name);
    }
    let eq = first_equals(&hay[s..e.min(s + NAME_REACH)])?;
    (eq > 0).then_some(s..s + eq)
}

/// The name before an operator and quotes before `s` (`"name": "…`, `name = '…`).
#[inline(always)]
fn name_before_operator(hay: &[u8], s: usize) -> Option<std::ops::Range<usize>> {
    let skip = |mut at: usize| {
        let floor = at.saturating_sub(8);
        while at > floor && gap(hay[at - 1]) {
            at -= 1;
        }
        at
    };
    let op = skip(s);
    if op > 0 && operator(hay[op - 1]) {
        let end = skip(op - 1);
        let floor = end.saturating_sub(NAME_REACH);
        let mut at = end;
        while at > floor && context::name_byte(hay[at - 1]) {
            at -= 1;
        }
        return (at < end).then_some(at..end);
    }
    None
}

/// Quotes, blanks and JSON escapes' backslashes around an assignment's operator, and the
/// Markdown of a summary's label and value (`- **Fernet key**: \`…\``): emphasis' asterisks
/// and a code span's backtick.
fn gap(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b' ' | b'\t' | b'\\' | b'`' | b'*')
}

/// An assignment's operator: `=`, `:`, `,`, `=>`'s `>`.
fn operator(b: u8) -> bool {
    matches!(b, b'=' | b':' | b',' | b'>')
}

/// Where the first `=` in `bytes` is, eight bytes at a time (a run is a few dozen bytes: a
/// call to `memchr` costs more than the search).
fn first_equals(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = bytes.get(i..i + 8) {
        let eq = bytes_equal(u64::from_le_bytes(w.try_into().expect("eight bytes")), b'=');
        if eq != 0 {
            return Some(i + (eq.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'=').map(|p| i + p)
}

/// The bytes looked at for an anchor of the run `buf[start..end]` (see
/// [`Finders::run_has_anchor`]).
fn anchor_region(buf: &[u8], start: usize, end: usize) -> std::ops::Range<usize> {
    let from = match start
        .checked_sub(ANCHOR_BEFORE + 1)
        .map(|w| (w, buf[start - 1]))
    {
        // A token cut into short pieces by `.` (`t1.CJzPKH1Bx2v8=.…`, `ocid1.tenancy.oc1..`)
        // or by base64's `+` and `/` (`fm1r_kdw3+FmgV7xa…`), or both (`sc_….acc_….ab+cd…`),
        // may have its anchor several pieces back: when the pieces fill the whole window
        // before the run, look on back over them, as far as a run may reach. (Behind a run
        // that follows a `.`, `/` does not join: a path's directories are not a token's.)
        Some((w, b'.')) => joined_start(buf, w, start, |b| token_byte(b) || b".+".contains(&b)),
        Some((w, b'+' | b'/')) => joined_start(buf, w, start, |b| {
            b.is_ascii_alphanumeric() || b"+/=_-.".contains(&b)
        }),
        _ => start.saturating_sub(ANCHOR_BEFORE),
    };
    from..end.min(start + ANCHOR_INSIDE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hits told apart by their bytes before the name's reading (the usage's counts in
    /// stream-json, pytest's `PASSED`) get the verdict the name's reading gives them, and the
    /// names alike that are a secret's still get theirs.
    #[test]
    fn the_usage_counts_and_passed_tests_get_the_names_verdict() {
        let mut memo = NameMemo::default();
        let mut quick = 0;
        for line in [
            r#"{"usage":{"input_tokens":3592,"output_tokens":134}}"#,
            r#""cache_creation_input_tokens":0,"cache_read_input_tokens":21030"#,
            "tests/test_app.py::test_login PASSED                [ 18%]",
            "PASSED",
            r#""api_tokens": ["x"], "access_tokens":"y", "PASSWORD_PASSED": 1, PASSED_TOKEN=z"#,
            r#""input_tokens": 12, "output_token":"q""#,
        ] {
            let b = line.as_bytes();
            for lit in [&b"oken"[..], b"PASS"] {
                for (hit, _) in line.match_indices(std::str::from_utf8(lit).unwrap()) {
                    let fast = keyword_hit(b, hit, lit, &mut memo);
                    let slow = name_hit(b, hit, &mut NameMemo::default());
                    assert_eq!(fast, slow, "{line} at {hit}");
                    quick += usize::from(
                        b[hit..].starts_with(b"okens\":") || b[hit..].starts_with(b"PASSED"),
                    );
                }
            }
        }
        assert!(quick >= 6, "{quick}");
        // (And the names alike that are a secret's are one to the quick look too.)
        let line = br#""access_tokens":"y""#;
        assert!(keyword_hit(line, 9, b"oken", &mut memo));
    }
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    /// The first byte that is not ASCII, found 64 bytes at a time, is the one a byte at a
    /// time finds, wherever it is in a block and whatever the length (a generated test: one
    /// such byte or none, or several, at every place of the first blocks).
    #[test]
    fn the_first_byte_not_ascii_is_found_wherever_it_is() {
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        for _ in 0..20_000 {
            let len = (rng.next_u64() % 700) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| (rng.next_u64() % 128) as u8).collect();
            for _ in 0..rng.next_u64() % 3 {
                if len > 0 {
                    let at = (rng.next_u64() % len as u64) as usize;
                    buf[at] = 0x80 | (rng.next_u64() % 128) as u8;
                }
            }
            let slow = buf.iter().position(|&b| b >= 0x80);
            assert_eq!(first_non_ascii(&buf), slow, "{buf:?}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_keywords_are_searched_by_teddy_not_the_automaton() {
        if std::is_x86_feature_detected!("ssse3") {
            assert!(
                matches!(Literals::new(KEYWORDS), Literals::Packed(_)),
                "{} keyword literals fell back to the automaton",
                KEYWORDS.len()
            );
        } else {
            eprintln!("SKIPPED: no SSSE3 on this CPU, so no Teddy to check for");
        }
    }

    #[test]
    fn the_value_walk_eight_bytes_at_a_time_is_the_walk_a_byte_at_a_time() {
        fn one_by_one(hay: &[u8], s: usize) -> usize {
            if s == 0 || !matches!(hay[s - 1], b'.' | b'+' | b'/' | b'!') {
                return s;
            }
            let floor = s.saturating_sub(VALUE_REACH);
            let mut at = s;
            while at > floor && joining_byte(hay[at - 1]) {
                at -= 1;
            }
            if at == floor && floor > 0 && joining_byte(hay[floor - 1]) {
                s
            } else {
                at
            }
        }
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b; 8]);
            assert_eq!(joining_bytes(x) == H, joining_byte(b), "{b:#x}");
            assert_eq!(joining_bytes(x) == 0, !joining_byte(b), "{b:#x}");
        }
        let alphabet = b"ab09Z_-.+/!:= \"'(\xe2\x80";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 1 + (seed % 90) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 7) ^ (i as u64 * 0x9e37);
                    // Mostly joining bytes, so walks are long.
                    if r.is_multiple_of(9) {
                        alphabet[(r / 9 % alphabet.len() as u64) as usize]
                    } else {
                        alphabet[(r / 9 % 11) as usize]
                    }
                })
                .collect();
            for s in 0..hay.len() {
                let (v, eq) = value_start(&hay, s);
                assert_eq!(v, one_by_one(&hay, s), "{hay:?} at {s}");
                assert!(eq || !hay[v..s].contains(&b'='), "{hay:?} at {s}");
            }
        }
    }

    #[test]
    fn every_piece_of_a_short_service_is_a_keyword_judged_by_its_whole_name() {
        let mut memo = NameMemo::default();
        let mut pieces = 0;
        for lit in KEYWORDS {
            let Some(&(_, name, at)) = SHORT_SERVICES
                .iter()
                .find(|(piece, _, _)| piece.eq_ignore_ascii_case(lit.as_bytes()))
            else {
                continue;
            };
            pieces += 1;
            // The piece in its own name, in the literal's casing: a hit.
            let mut named = name.to_vec();
            named[at..at + lit.len()].copy_from_slice(lit.as_bytes());
            let line = [b"  ".as_slice(), &named, b": x"].concat();
            assert!(
                keyword_hit(&line, 2 + at, lit.as_bytes(), &mut memo),
                "{lit:?} in {:?}",
                String::from_utf8_lossy(&line)
            );
            // The piece in another word: none (where the piece is not the whole name).
            if lit.len() == name.len() {
                continue;
            }
            let other = [b"  un".as_slice(), lit.as_bytes(), b"ed: x"].concat();
            assert!(
                !keyword_hit(&other, 4, lit.as_bytes(), &mut memo),
                "{lit:?} in {:?}",
                String::from_utf8_lossy(&other)
            );
        }
        assert!(pieces >= 2 * SHORT_SERVICES.len(), "{pieces} pieces");
    }

    fn naive(buf: &[u8]) -> Option<(usize, usize)> {
        let mut run = 0;
        for (i, &b) in buf.iter().enumerate() {
            if token_byte(b) {
                run += 1;
            } else {
                if run >= MIN_RUN {
                    return Some((i - run, i));
                }
                run = 0;
            }
        }
        (run >= MIN_RUN).then(|| (buf.len() - run, buf.len()))
    }

    /// The anchors matched as written (those of families whose regex does not ignore case).
    fn exact_anchors() -> Vec<&'static str> {
        crate::redact::families::families()
            .iter()
            .filter(|fam| !fam.regex.trim_start_matches("(?-u)").starts_with("(?i"))
            .flat_map(|fam| fam.anchors.iter().copied())
            .collect()
    }

    /// The anchor check by its definition: any exact anchor, found by the automaton anywhere
    /// in the region, that counts where it sits.
    fn anchor_naive(f: &Finders, buf: &[u8], start: usize, end: usize) -> bool {
        let region = &buf[anchor_region(buf, start, end)];
        f.anchors
            .exact
            .find_overlapping_iter(region)
            .any(|m| anchor_counts(region, m.start(), m.len()))
    }

    #[test]
    fn a_colon_ends_a_run_and_values_with_one_are_still_found() {
        // Rust paths and pytest ids are cut at their colons into pieces too short for a run.
        assert_eq!(next_run(b"abcdef::tests::abcdefghijklmn ok"), None);
        assert_eq!(
            next_run(b"tests/test_x.py::test_abcdefghijkl"),
            Some((17, 34))
        );
        // Values that hold a colon: each has a piece of 16 with its anchor close before it,
        // or a secret's name before it.
        let rules = std::sync::Arc::new(crate::redact::Rules::seed());
        let piece = |n: usize| "Zq9-x_Yw3".repeat(n / 9 + 1)[..n].to_string();
        let telegram = format!("123456789:A{}", piece(34));
        let firebase = format!("AAAA{}:{}", piece(7), piece(140));
        for (line, secret) in [
            (format!("bot {telegram} ok"), telegram.as_str()),
            (format!("[{telegram}]"), telegram.as_str()),
            (format!("fcm={firebase}"), firebase.as_str()),
            (
                "BUNDLE_GEMS__CONTRIBSYS__COM: ea5fc22b:d7f1f4e3".to_string(),
                "ea5fc22b:d7f1f4e3",
            ),
        ] {
            let out = crate::redact::redact_text(&rules, &line);
            let tail = &secret[secret.len() - 8..];
            assert!(!out.contains(tail), "{line:?} -> {out:?}");
            assert!(out.contains(crate::redact::REDACTED), "{line:?} -> {out:?}");
        }
    }

    #[test]
    fn the_even_position_anchor_scan_finds_what_the_automaton_finds() {
        let rules = crate::redact::Rules::seed();
        let f = &rules.finders;
        let anchors = exact_anchors();
        let fills: &[&[u8]] = &[b"abcdefghijklmnopqrstuvwxyz0123456789", b"x_y-z:1", b"\\n"];
        let mut checked = 0;
        for a in &anchors {
            for fill in fills {
                for before in 0..20 {
                    for after in [0usize, 1, 2, 17, 40] {
                        let mut buf = Vec::new();
                        for k in 0..before {
                            buf.push(fill[k % fill.len()]);
                        }
                        buf.extend_from_slice(a.as_bytes());
                        for k in 0..after {
                            buf.push(fill[(k + 3) % fill.len()]);
                        }
                        for start in [0, before.saturating_sub(3), before] {
                            let end = buf.len();
                            assert_eq!(
                                f.run_has_anchor(&buf, start, end),
                                anchor_naive(f, &buf, start, end),
                                "{a:?} in {:?} from {start}",
                                String::from_utf8_lossy(&buf)
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn the_first_look_agrees_with_the_automaton_on_random_text() {
        let rules = crate::redact::Rules::seed();
        let f = &rules.finders;
        let anchors = exact_anchors();
        // Deterministic: the same text every run.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        let mut next = || rng.next_u64();
        let bytes = b"aZ09_-:~.$ \\nQKCAeyJskT3pgh/+=";
        let (mut found, mut checked) = (0, 0);
        for _ in 0..30_000 {
            let mut buf = Vec::new();
            let len = 8 + (next() % 90) as usize;
            while buf.len() < len {
                if next() % 5 == 0 {
                    buf.extend_from_slice(
                        anchors[(next() % anchors.len() as u64) as usize].as_bytes(),
                    );
                } else {
                    buf.push(bytes[(next() % bytes.len() as u64) as usize]);
                }
            }
            let start = (next() % buf.len() as u64) as usize;
            let end = start + (next() % (buf.len() - start + 1) as u64) as usize;
            let want = anchor_naive(f, &buf, start, end);
            assert_eq!(
                f.run_has_anchor(&buf, start, end),
                want,
                "{:?} from {start} to {end}",
                String::from_utf8_lossy(&buf)
            );
            found += usize::from(want);
            checked += 1;
        }
        assert!(
            found > checked / 10 && found < checked,
            "{found} of {checked}"
        );
    }

    #[test]
    fn the_window_before_a_run_reaches_back_over_joined_pieces_only() {
        fn region<'a>(text: &'a str, run: &str) -> &'a str {
            let s = text.find(run).expect("run in text");
            let r = anchor_region(text.as_bytes(), s, s + run.len());
            &text[r.start..s]
        }
        let run = "V3W9n2stopEU8HPQDB5lFC7cxQIHP9Ub1G7nm70qY2c01Z9k8Eazc47Hb34u";
        // `.`-pieces filling the window: back to their start, anchor and all.
        let t = format!("export X=t1.elP56ShfH1h5k==.{run}");
        assert_eq!(region(&t, run), "X=t1.elP56ShfH1h5k==.");
        // Base64 pieces cut by `+` and `/`.
        let t = format!("x fm1r_kdw3+FmgV7xa3IeTu8Z+{run}");
        assert_eq!(region(&t, run), "fm1r_kdw3+FmgV7xa3IeTu8Z+");
        // A path's directories end the pieces: the window stays sixteen bytes.
        let t = format!("(/home/user/.cargo/registry/src/index.crates.{run}");
        assert_eq!(region(&t, run), "rc/index.crates.");
        assert_eq!(region(&t, run).len(), ANCHOR_BEFORE);
        // Short pieces not filling the window, or other bytes before the run: sixteen bytes.
        let t = format!("log: a.b {run}");
        assert_eq!(region(&t, run), "log: a.b ");
        // Pieces joined by both kinds: `.` then base64 with a `+`.
        let t = format!("export X=sc_abcde12.abcd.acc_0123456789.ab+{run}");
        assert_eq!(region(&t, run), "X=sc_abcde12.abcd.acc_0123456789.ab+");
        let t = format!("export X=fm1r_kdw3+FmgV7xa3IeT.{run}");
        assert_eq!(region(&t, run), "X=fm1r_kdw3+FmgV7xa3IeT.");
        // And never farther back than a run reaches.
        let t = format!("{}.{run}", "a.".repeat(100));
        assert_eq!(region(&t, run).len(), ANCHOR_BEFORE + ANCHOR_INSIDE);
    }

    #[test]
    fn long_lines_find_the_families_short_ones_do() {
        let rules = crate::redact::Rules::seed();
        let f = &rules.finders;
        let anchors: Vec<&str> = crate::redact::families::families()
            .iter()
            .flat_map(|fam| fam.anchors.iter().copied())
            .collect();
        // Deterministic: the same text every run.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        let mut next = || rng.next_u64();
        let bytes = b"aZ09_-:~.$ \\nQKCeyJskT3pgh/+=";
        let mut families = 0;
        for case in 0..400 {
            let mut buf = Vec::new();
            while buf.len() < 2000 {
                if next() % 6 == 0 {
                    let a = anchors[(next() % anchors.len() as u64) as usize];
                    // Exact anchors in another case are not theirs; service names in any case are.
                    let a = match next() % 3 {
                        0 => a.to_ascii_uppercase(),
                        1 => a.to_ascii_lowercase(),
                        _ => a.to_string(),
                    };
                    buf.extend_from_slice(a.as_bytes());
                } else {
                    buf.push(bytes[(next() % bytes.len() as u64) as usize]);
                }
            }
            let (mut short, mut long) = (Vec::new(), Vec::new());
            f.families_in_short(&buf, &mut short);
            f.anchors.long.families_in(&buf, &mut long);
            for v in [&mut short, &mut long] {
                v.sort_unstable();
                v.dedup();
            }
            assert_eq!(short, long, "case {case}");
            families += short.len();
        }
        assert!(families > 4_000, "{families}");
        // And a long line goes the long way.
        let mut line = vec![b' '; LONG_LINE];
        line.extend_from_slice(b"ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        let mut got = Vec::new();
        f.families_in(&line, &mut got);
        assert!(!got.is_empty() && f.anchors.long.dfa.get().is_some());
    }

    /// Every run by the byte-at-a-time definition.
    fn naive_all(buf: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some((s, e)) = naive(&buf[at..]) {
            out.push((at + s, at + e));
            at += e;
        }
        out
    }

    #[test]
    fn every_run_is_found_across_blocks_and_ends() {
        // Deterministic text with runs of every length around the block and word sizes.
        // Deterministic: the same text every run.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        let mut next = || rng.next_u64();
        for case in 0..400 {
            let len = (next() % 700) as usize;
            let gap = 1 + (case % 7) as u64;
            let mut buf = Vec::with_capacity(len);
            while buf.len() < len {
                let run = match next() % 4 {
                    0 => next() % 16,
                    1 => 14 + next() % 4,
                    2 => 60 + next() % 10,
                    _ => next() % 200,
                };
                for _ in 0..run {
                    buf.push(b"aZ09_-:~{"[(next() % 9) as usize]);
                }
                for _ in 0..1 + next() % gap {
                    buf.push(b" ./+\"\x00\xff,"[(next() % 8) as usize]);
                }
            }
            buf.truncate(len);
            let mut got = Vec::new();
            find_run(&buf, |s, e| {
                got.push((s, e));
                false
            });
            assert_eq!(got, naive_all(&buf), "case {case}");
            assert_eq!(next_run(&buf), naive(&buf), "case {case}");
        }
    }

    #[test]
    fn no_keyword_is_a_prefix_of_another_so_their_order_finds_the_same_hits() {
        for a in KEYWORDS {
            for b in KEYWORDS {
                assert!(a == b || !b.starts_with(a), "{a:?} is a prefix of {b:?}");
            }
        }
        let mut sorted = KEYWORDS.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        sorted.dedup();
        assert_eq!(sorted.len(), n, "a keyword twice");
        // And so the same hits, whatever the order: written order against the searcher's.
        let text = b"DB_PASSWORD=x api_key: y GITHUB_TOKEN=z Bearer abc \\u001b[31m -----BEGIN \
            https://u:p@h Private-Lines: hooks.slack.com X-Auth-Token: w webhook_url dsn=q";
        let hits = |lits: &[&str]| {
            let mut v = Vec::new();
            Literals::new(lits).each(text, |s, e| v.push((s, e)));
            v
        };
        let mut reversed = KEYWORDS.to_vec();
        reversed.reverse();
        assert_eq!(hits(KEYWORDS), hits(&sorted));
        assert_eq!(hits(KEYWORDS), hits(&reversed));
        assert!(hits(KEYWORDS).len() >= 13, "{:?}", hits(KEYWORDS));
    }

    #[test]
    fn runs_agree_with_a_byte_at_a_time_scan() {
        let samples: &[&[u8]] = &[
            b"short words only here, nothing long",
            b"x ghp_abcdefghijklmnopqrstuvwxyz0123456789 y",
            b"0123456789abcde",
            b"0123456789abcdef",
            b"  \"session_id\":\"1f0c2b3a-1111-2222-3333-444455556666\"",
            b"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
            b"\xffabcdefghijklmnopqrstuvwxyz\xff",
            b"abcdefg hijklmnopqrstuv wxyz0123456789abcdefghij k",
            b"0123456789abcdef 0123456789abcde 0123456789abcdefg",
            b"ab cdefghijklmnopq",
            b"abcdefghijklmnop",
            b"12345678 abcdefgh 12345678abcdefgh",
        ];
        for s in samples {
            for off in 0..17 {
                let mut buf = vec![b' '; off];
                buf.extend_from_slice(s);
                assert_eq!(
                    next_run(&buf),
                    naive(&buf),
                    "{:?} at {off}",
                    String::from_utf8_lossy(s)
                );
            }
        }
    }
}
