//! Types: whether the word after a secret's name is a type's name in code (`password:
//! SecretStr`, `API_KEY: Final = "…"`) or a value someone chose, and where a type may stand.

/// Type names a value after a secret's name may be in code (`password: String`).
pub(super) const TYPE_WORDS: &[&[u8]] = &[
    b"string",
    b"str",
    b"secret",
    b"token",
    b"password",
    b"option",
    b"vec",
    b"bytes",
    b"value",
    b"credentials",
    b"credential",
    b"secretstring",
    b"secretbox",
    b"zeroizing",
    b"key",
    b"apikey",
    b"text",
    b"number",
    b"int",
    b"integer",
    b"boolean",
    b"object",
    b"any",
    b"unknown",
    b"never",
    b"buffer",
    b"uint8array",
    b"hash",
    b"hidden",
    b"sensitive",
    b"masked",
    b"varchar",
    b"char",
];

/// The last words (one blank apart) of type names a secret's name is annotated with in code
/// (`SecretStr`, `SigningKey`, `CancellationToken`, `PathBuf`): a value in CamelCase ending
/// otherwise (`CorrectHorseBatteryStaple`) is taken for a passphrase even where a type could
/// stand.
const TYPE_ENDINGS: &str = "\
    str string bytes key keys token tokens secret secrets password credential credentials \
    creds type types input field value values data info config options option opts hash kind \
    spec ref handle provider source store id bundle material pair box cell buf buffer vec map \
    set list array result error params request response builder context manager client header \
    headers auth policy settings payload digest signature cert certificate identity account \
    entry record object model schema dto class interface enum struct wrapper holder reader \
    writer stream channel state status mode format encoding algorithm length size count number \
    int bool boolean date time duration url uri path name text generator factory service \
    resolver validator hasher cipher parameter parameters args property properties attribute \
    node element item view form widget component module mask flag flags lock guard ptr slice \
    fn func function callback handler event message template def descriptor metadata target \
    scope session user principal role claims file content body query filter expr literal tuple \
    future tree pass passes cache table version location span kit impl trait any unknown \
    optional nullable wrapped like";

/// Whether a word of letters and digits reads as a value made by a generator or a person
/// rather than a type's name: digits in two groups or more (`Zq8wLmN3pX00vR`), or the case
/// turning every letter or two (`QwErTy…`: a capital and one small letter, four times, or
/// twice with digits). Type names run whole words together (`Ed25519PublicKey`,
/// `IPv4Address`, `OAuth2Token`, `MyId`); one that ends in a type's word ([`TYPE_ENDINGS`])
/// is a type whatever comes before.
pub(super) fn generated_word(word: &[u8]) -> bool {
    if word.is_empty() || !word.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let groups = word
        .iter()
        .enumerate()
        .filter(|&(i, b)| b.is_ascii_digit() && (i == 0 || !word[i - 1].is_ascii_digit()))
        .count();
    // A capital, one small letter, then no small letter: `Qw` in `QwEr`, `Ty` in `Ty12`.
    let humps = (0..word.len())
        .filter(|&i| {
            word[i].is_ascii_uppercase()
                && word.get(i + 1).is_some_and(u8::is_ascii_lowercase)
                && !word.get(i + 2).is_some_and(u8::is_ascii_lowercase)
        })
        .count();
    let generated = groups >= 2 || humps >= 4 || groups == 1 && humps >= 2;
    let last = word
        .iter()
        .rposition(u8::is_ascii_uppercase)
        .map_or(word, |p| &word[p..]);
    generated
        && !TYPE_ENDINGS
            .split(' ')
            .any(|w| w.as_bytes().eq_ignore_ascii_case(last))
}

/// Whether a type may stand where the value at `v` is: not after a flag (`--password VALUE`)
/// or a name in capitals (an environment's or a constant's, `DB_PASSWORD=VALUE`,
/// `POSTGRES_PASSWORD: VALUE`), not after `=` with no blank (`signing.password=VALUE`). Where
/// one may, code goes on after it (`token: OkmBlock,`, `trait Secret: Zeroize + Send`, `type
/// Auth = Data<'a>;`); a value in quotes or one that ends its line is a type (or a class's
/// name, Perl's `password => "TextInput"`) only if its last word is a type's
/// ([`TYPE_ENDINGS`]): `password: SecretStr` is Python's annotation, `password:
/// CorrectHorseBatteryStaple` YAML's passphrase.
pub(crate) fn type_place(line: &[u8], s: usize, v: usize, value: &[u8], quoted: bool) -> bool {
    let last = value
        .iter()
        .rposition(u8::is_ascii_uppercase)
        .map_or(value, |p| &value[p..]);
    let type_ending = TYPE_ENDINGS
        .split(' ')
        .any(|w| w.as_bytes().eq_ignore_ascii_case(last));
    let from = s + line[s..v]
        .iter()
        .take_while(|b| matches!(b, b'"' | b'\'' | b'`' | b'$'))
        .count();
    if line.get(from) == Some(&b'-') {
        return false; // a flag
    }
    let name_len = line[from..v]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    let name = &line[from..from + name_len];
    if name.iter().any(u8::is_ascii_alphabetic) && !name.iter().any(u8::is_ascii_lowercase) {
        return false; // an environment's or a constant's name
    }
    let sep: Vec<u8> = line[from + name_len..v]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'"' | b'\''))
        .collect();
    // An assignment with no blank (`password=VALUE`) is a setting's.
    let spaced = line[..v].ends_with(b" ");
    if sep == b"=" && !spaced && !name.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let after = &line[(v + value.len()).min(line.len())..];
    let after = &after[after
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()..];
    let ends_line = match after {
        [] | [b'\n' | b'\r', ..] | [b'\\', b'n' | b'r', ..] => true,
        [b'"', rest @ ..] => matches!(rest.first(), None | Some(b'}' | b']' | b',')),
        _ => false,
    };
    !quoted && !ends_line || type_ending
}
