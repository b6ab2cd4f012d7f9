//! A secret under its label in another language, as Claude writes it to someone who asked in
//! that language and as localised tools print it (`Contraseña: …`, `Пароль: …`,
//! `パスワード：…`, `数据库密码是 …`, `비밀번호는 …입니다`). None of the labels holds a keyword
//! literal: a line is looked at for them only where it holds a byte that is not ASCII
//! (`prefilter::next_foreign_label`), and read here.

use super::names::Strength;
use super::{Found, blanks, code_span, emphasized_word, quoted_or_word, value};

/// The labels in UTF-8: password, and token or key where the language has a word of its own
/// for them; a cased word from its second letter on, so that one literal finds it at a
/// sentence's start and inside one (`ontraseña` in `Contraseña` and `contraseña`), and in upper
/// case.
pub(crate) const LABELS: &[&str] = &[
    // Spanish
    "ontraseña",
    "ONTRASEÑA",
    // Russian, Ukrainian: password, token
    "ароль",
    "АРОЛЬ",
    "окен",
    "ОКЕН",
    // Japanese: password, token
    "パスワード",
    "トークン",
    // Chinese: password (simplified, traditional), secret key, token
    "密码",
    "密碼",
    "密钥",
    "密鑰",
    "令牌",
    // Korean: password (two words)
    "비밀번호",
    "패스워드",
    // Polish
    "asło",
    "ASŁO",
    // Turkish
    "şifre",
    "Şifre",
    "ŞİFRE",
    // Vietnamese
    "ật khẩu",
    "ẬT KHẨU",
    // Swedish
    "ösenord",
    "ÖSENORD",
    // Hungarian
    "elszó",
    "ELSZÓ",
    // Romanian
    "arolă",
    "AROLĂ",
    // Greek
    "ωδικός",
    "ΩΔΙΚΌΣ",
    "ΩΔΙΚΟΣ",
    // Hebrew, Arabic, Hindi, Thai
    "סיסמה",
    "كلمة المرور",
    "كلمة السر",
    "पासवर्ड",
    "รหัสผ่าน",
    // Labels of ASCII alone, found only where their line holds a byte that is not ASCII (in
    // stream-json a whole message of the language's other letters): Portuguese, German,
    // Dutch, Czech, Finnish, Danish; whole words, in their casings.
    "Senha",
    "senha",
    "SENHA",
    "Kennwort",
    "kennwort",
    "KENNWORT",
    "Wachtwoord",
    "wachtwoord",
    "WACHTWOORD",
    "Heslo",
    "heslo",
    "HESLO",
    "Salasana",
    "salasana",
    "SALASANA",
    "Adgangskode",
    "adgangskode",
    "ADGANGSKODE",
];

/// What may come between a label and its value: a colon (a full-width one too) or `=`, or
/// the word or particle that says "is" (`es`, `é`, `ist`, `は`, `是`, `为`, `는`, `은`), after
/// which the value is judged as after `The password is` (a path or a word is none).
const SEPARATORS: &[(&str, Strength)] = &[
    (":", Strength::Strong),
    ("：", Strength::Strong),
    ("=", Strength::Strong),
    ("は", Strength::Weak),
    ("是", Strength::Weak),
    ("为", Strength::Weak),
    ("為", Strength::Weak),
    ("는", Strength::Weak),
    ("은", Strength::Weak),
    ("es ", Strength::Weak),
    ("é ", Strength::Weak),
    ("ist ", Strength::Weak),
];

/// The value after the label `line[s..e]` (a hit of [`LABELS`]), judged as after a password's
/// name in prose: one word, in a code span, quotes or bold or bare, not in lower case alone;
/// a particle glued after it (`…입니다`) and anything else past the first byte that is not
/// ASCII is none of it. A label that is a field's name in a list of them (`passwd(5)`'s
/// `usernév:jelszó:UID:GID:…`) gives none.
pub(crate) fn labelled(line: &[u8], s: usize, e: usize) -> Option<Found> {
    // (The label's word goes on in a letter: another word, `contraseñas`; or a word of ASCII
    // alone starts before it.)
    if line.get(e).is_some_and(u8::is_ascii_alphabetic)
        || line[s..e].is_ascii() && s > 0 && line[s - 1].is_ascii_alphanumeric()
    {
        return None;
    }
    // (Its first letter, before the literal in a cased word, is at most two bytes back.)
    let letters = line[s.saturating_sub(2)..s]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphabetic() || !b.is_ascii())
        .count();
    if s > letters && line[s - letters - 1] == b':' {
        return None;
    }
    let closers = |mut v: usize| {
        while matches!(line.get(v), Some(b'*' | b'`' | b'"' | b'\'')) && v < e + 4 {
            v += 1;
        }
        v
    };
    let v = blanks(line, closers(e));
    let &(sep, strength) = SEPARATORS
        .iter()
        .find(|(sep, _)| line[v..].starts_with(sep.as_bytes()))?;
    // (`**Contraseña:** …`: Markdown's bold closes after the colon.)
    let mut v = v + sep.len();
    while line.get(v) == Some(&b'*') && v < e + 8 {
        v += 1;
    }
    let w = blanks(line, v);
    let (v, end) = code_span(line, w)
        .or_else(|| emphasized_word(line, w))
        .unwrap_or_else(|| quoted_or_word(line, w));
    let end = line[v..end]
        .iter()
        .position(|b| !b.is_ascii())
        .map_or(end, |k| v + k);
    value(line, s, v, end, strength, b"password", true)
}
