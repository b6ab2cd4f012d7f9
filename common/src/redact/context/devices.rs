//! Network devices' configuration commands, as `show running-config` prints them and as they are
//! typed: Cisco IOS, IOS XE, NX-OS and ASA, Juniper's `set` form, FortiOS. A password there
//! comes after its encryption type (`password 0 VALUE` is clear text, `7` a cipher anyone can
//! reverse, `5`/`8`/`9` a hash that can be cracked offline: all of them secrets), and shared
//! keys and SNMP communities are given with no name-like word at all (`snmp-server community
//! VALUE RO`, `tacacs-server key VALUE`).
//!
//! Each command is told by its words from the line's start, so prose that uses the same words
//! (`the key string is empty`) is not read as one.

use super::names::Strength;
use super::{Found, blanks, line_start, quoted_or_word, value};

/// The names of secrets a keyword literal finds in these commands (the others, `snmp-server
/// community` and `tacacs-server key`, have literals of their own).
pub(super) const NAMES: &[&[u8]] = &[
    b"password",
    b"secret",
    b"passwd",
    b"psksecret",
    b"pre-shared-key",
    b"authentication-key",
    b"message-digest-key",
];

/// Most words read from a command's start: `username NAME privilege 15 algorithm-type scrypt
/// secret 9 VALUE` has nine.
const MAX_WORDS: usize = 12;
/// Most bytes of a line [`words`] reads.
const WORD_REACH: usize = 1024;

/// The secret given by the device configuration command on the line that holds `hit`, if the
/// line is one.
pub(super) fn config_secret(line: &[u8], hit: usize) -> Option<Found> {
    let start = blanks(line, line_start(line, hit));
    let indented = start > 0 && matches!(line[start - 1], b' ' | b'\t');
    let (all, n) = words(line, start);
    let words = &all[..n];
    let w = |i: usize| words.get(i).map_or(&b""[..], |&(a, b)| &line[a..b]);
    // The index of the word that names the secret; what follows it is read below.
    let at = match w(0) {
        // `username NAME [privilege N] [algorithm-type T] password|secret [TYPE] VALUE`.
        // (`username and password …` is prose.)
        b"username" if !matches!(w(1), b"and" | b"or" | b"&" | b"/") => {
            (2..words.len()).find(|&i| matches!(w(i), b"password" | b"secret"))?
        }
        // `enable password|secret [level N] [TYPE] VALUE`.
        b"enable" if matches!(w(1), b"password" | b"secret") => 1,
        // `tacacs-server key [TYPE] VALUE`, `radius-server key …`.
        b"tacacs-server" | b"radius-server" if w(1) == b"key" => 1,
        // `snmp-server community VALUE [view V] [RO|RW] [ACL]`: the defaults are no secret.
        b"snmp-server" if w(1) == b"community" => {
            let (a, b) = quoted_or_word(line, words.get(2)?.0);
            return value(line, start, a, b, Strength::Weak, b"community", false);
        }
        // `crypto isakmp key [TYPE] VALUE address|hostname …` (IKEv1's pre-shared key), the
        // PIX's `isakmp key VALUE address …`.
        b"crypto" if w(1) == b"isakmp" && w(2) == b"key" => 2,
        b"isakmp" if w(1) == b"key" => 1,
        // An ASA tunnel group's ` ikev1 pre-shared-key VALUE`, ` ikev2 remote-authentication
        // pre-shared-key VALUE` (and `local-authentication`).
        b"ikev1" if w(1) == b"pre-shared-key" => 1,
        b"ikev2"
            if matches!(w(1), b"remote-authentication" | b"local-authentication")
                && w(2) == b"pre-shared-key" =>
        {
            2
        }
        // ` neighbor ADDRESS password [TYPE] VALUE` (BGP).
        b"neighbor" if w(2) == b"password" => 2,
        // ` ip ospf authentication-key [TYPE] VALUE`, ` ip ospf message-digest-key N md5
        // [TYPE] VALUE`.
        b"ip" if w(1) == b"ospf" && w(2) == b"authentication-key" => 2,
        b"ip" if w(1) == b"ospf" && w(2) == b"message-digest-key" && w(4) == b"md5" => 4,
        // ` ppp chap password [TYPE] VALUE`, ` ppp pap sent-username NAME password …`.
        b"ppp" => (1..words.len()).find(|&i| w(i) == b"password")?,
        // Juniper: `set … pre-shared-key ascii-text|hexadecimal "VALUE"`.
        b"set" if words.len() > 3 && w(1) == b"security" => {
            let i = (2..words.len()).find(|&i| w(i) == b"pre-shared-key")?;
            match w(i + 1) {
                b"ascii-text" | b"hexadecimal" => i + 1,
                _ => return None,
            }
        }
        // FortiOS: `set psksecret|password|passwd [ENC] VALUE`, alone on its line.
        b"set" if matches!(w(1), b"psksecret" | b"password" | b"passwd") => {
            let i = usize::from(w(2) == b"ENC") + 1;
            if words.len() != i + 2 {
                return None;
            }
            i
        }
        // A block's member: ` password [TYPE] VALUE` (a `line vty`), a key chain's ` key-string
        // [TYPE] VALUE`, ` pre-shared-key [local|remote] VALUE` (an IKEv2 keyring's peer). (`
        // key 7 VALUE` in a `tacacs server` block holds no keyword literal, and the literal it
        // would need costs more than the rest of this reader: left.)
        b"password" | b"key-string" if indented => 0,
        b"pre-shared-key" => usize::from(matches!(w(1), b"local" | b"remote")),
        _ => return None,
    };
    // Then, before the value: `level N` (enable), one encryption type.
    let mut v = at + 1;
    if w(0) == b"enable" && w(v) == b"level" {
        v += 2;
    }
    // With its type the value is the command's without doubt; without one, prose may use the
    // same words (`enable password caching`), so it is judged as after a weak name.
    let typed = matches!(w(v), b"0" | b"5" | b"6" | b"7" | b"8" | b"9") && words.len() > v + 1;
    if typed {
        v += 1;
    }
    let &(a, word_end) = words.get(v)?;
    // A block member is the value alone (` password encryption aes` is ASA's setting).
    if at == 0 && indented && words.len() != v + 1 {
        return None;
    }
    let quoted = matches!(line[a], b'"' | b'\'');
    let strength = match typed || quoted {
        true => Strength::Strong,
        false => Strength::Weak,
    };
    // A crypt hash after its type (`5 $1$SALT$HASH`, `9 $9$SALT$HASH`): not a variable's
    // reference, which a value judged alone would take a leading `$` for.
    if typed && line[a] == b'$' && word_end - a >= 8 {
        return Some(Found {
            ctx: start,
            start: a,
            end: word_end,
            list: None,
        });
    }
    // A typed value is the whole word: a hash's `$` and `.` are in it.
    let (a, b) = match typed && !quoted {
        true => (a, word_end),
        false => quoted_or_word(line, a),
    };
    value(line, start, a, b, strength, w(at), false)
}

/// The blank-separated words of the line from `start` to its end (at most [`MAX_WORDS`]) and
/// how many there are.
fn words(line: &[u8], start: usize) -> ([(usize, usize); MAX_WORDS], usize) {
    // (Bounded: every keyword hit of a scanned line asks, and a line may be megabytes long.)
    let reach = &line[start..line.len().min(start + WORD_REACH)];
    let end = memchr::memchr2(b'\n', b'\r', reach).map_or(start + reach.len(), |p| start + p);
    let mut out = [(0, 0); MAX_WORDS];
    let (mut n, mut p) = (0, start);
    while p < end && n < MAX_WORDS {
        let b = line[p..end]
            .iter()
            .position(|&c| c == b' ' || c == b'\t')
            .map_or(end, |k| p + k);
        out[n] = (p, b);
        n += 1;
        p = blanks(line, b).min(end);
    }
    (out, n)
}
