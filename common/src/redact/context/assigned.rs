//! A secret's name and the value an operator gives it, in every syntax that assigns: `=`, `:`,
//! `:=`, `=>`, `||=`, `<-`, and XML's element (`<password>VALUE</password>`). [`after_operator`]
//! tries the forms in order, first those whose value is no secret (code's variables and types,
//! prose, a prompt's label), then the readers of the value's own syntax.

use super::names::Strength;
use super::{
    Found, Named, WRAPPERS, after_string_prefix, authorization, calls, code, code_span, commands,
    emphasized_word, exemptions, gaps, lists, logins, name_byte, passphrase_name, prose, run_end,
    run_end_within, shapes, shell, skip_read_number, trim_value, value, value_start,
    words_to_line_end,
};

/// `<password>VALUE</password>`: the value of the element the name at `line[s..p]` opens (the
/// closing tag must follow it), or none.
pub(super) fn element(
    line: &[u8],
    s: usize,
    p: usize,
    name: &[u8],
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    if line.get(p) != Some(&b'>') {
        return None;
    }
    let mut v = p + 1;
    // Windows' answer file: the value in a `<Value>` element (`<Password><Value>…</Value>`).
    let mut name = name;
    if line.len() >= v + 7 && line[v..v + 7].eq_ignore_ascii_case(b"<Value>") {
        name = &line[v + 1..v + 6];
        v += 7;
    }
    let end = v + line[v..].iter().position(|&b| b == b'<' || b == b'\n')?;
    let close = &line[end..];
    let closes = close.starts_with(b"</")
        && close
            .get(2..2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
    if !closes {
        return None;
    }
    // A description in a sample's element (Maven's `<passphrase>optional; leave empty if not
    // used.</passphrase>`): `optional` or `required`, then a clause.
    let described = |w: &[u8]| {
        line[v..end].len() > w.len() + 2
            && line[v..v + w.len()].eq_ignore_ascii_case(w)
            && matches!(line[v + w.len()], b';' | b',' | b':')
            && line[v + w.len() + 1] == b' '
    };
    if described(b"optional") || described(b"required") {
        return None;
    }
    // (A path stays a weak name's: Maven's `<privateKey>/path/to/key</privateKey>`.)
    let st = if matches!(line.get(v), Some(b'/' | b'~')) {
        strength
    } else {
        Strength::Strong.max(strength)
    };
    value(line, s, v, end, st, lname, false)
}

/// The value an operator gives the name `n.line[n.s..n.e]` (`name`, trimmed): `op` bytes of
/// operator at `n.q`; `subscript` when the name is a subscript's key (`ENV['SECRET'] = …`).
pub(super) fn after_operator(n: Named, name: &[u8], op: usize, subscript: bool) -> Option<Found> {
    let Named {
        line,
        s,
        e,
        p,
        q,
        strength,
        lname,
    } = n;
    let gaps = |p: usize| gaps(line, p);
    let bold = || logins::bold_label(line, s);
    let colon_blank = line[q] == b':' && op == 1 && matches!(line.get(q + 1), Some(b' '));
    // `PASS: tests/foo`, `--- PASS: TestX/case (0.00s)`: a test runner's verdict (automake,
    // Go), printed all day by the tests Claude runs; a key or a variable named so is lower case
    // or assigned with `=`.
    if name == b"PASS" && colon_blank {
        return None;
    }
    // (A value's line may start with the number Claude Code's Read tool gives it.)
    let mut v = skip_read_number(line, gaps(q + op));
    // The name opens a quoted string, and no quote closes the name (`'Password: '`, `"pwd:
    // expected bytes"`): a prompt's label or a message, unless a value follows in the string.
    let opens_string = p == e && s > 0 && matches!(line[s - 1], b'"' | b'\'');
    // A prompt: the string holds only its label (`prompt='Password: ', stream=None`,
    // `'Password: ' + user`); the quote after the colon closes that string and opens no value.
    if opens_string && line.get(v) == Some(&line[s - 1]) {
        return None;
    }
    // Markdown's bold around a label with its colon: `**API Key:** …`, `**Admin password:**`
    // (right after the colon: after a blank, `**Admin password**: **…**`, it opens the value's).
    if v == q + op && line[v..].starts_with(b"**") && bold() {
        v = gaps(v + 2);
    }
    v = value_start::past_wrappings(line, q, op, v)?;
    // A list of secrets (`"api_keys": ["…", "…"]`): its first item; the others are read by
    // [`lists::next_in_list`].
    if let Some(first) = lists::first_item(line, s, q, v, strength, lname) {
        return first;
    }
    // Terraform's `output -json`: `"db_password": {"sensitive": true, …, "value": "…"}`.
    if line.get(v) == Some(&b'{') {
        let close = line[v..]
            .iter()
            .position(|&b| b == b'}')
            .map_or(line.len(), |c| v + c);
        let key = memchr::memmem::find(&line[v..close], b"\"value\":")?;
        let w = gaps(v + key + 8);
        if line.get(w) != Some(&b'"') {
            return None;
        }
        let end = run_end(line, w + 1, Some(b'"'));
        return value(line, s, w + 1, end, strength, lname, false);
    }
    // A user and a password as a pair: `auth=("user", "…")`, `session.auth = ('user', '…')`.
    if lname.ends_with(b"auth")
        && let Some((a, b)) = calls::pair_second(line, v)
    {
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // A type between the name and its value: `API_KEY: Final = "…"`. A typed constant of
    // another kind is no secret's value (`SIGNING_KEY_DESCRIPTORS: WIN32_ERROR = 9104u32`,
    // `api_key: str = os.environ["API_KEY"]`), nor is its type, unless a wrapper holds a
    // literal (`password: SecretStr = SecretStr("…")`).
    // A declaration without a value (`pub AuthAlgo: DOT11_AUTH_ALGORITHM,`, `let token:
    // Token;`): the type after the colon is none.
    if op == 1
        && line[q] == b':'
        && code::annotated(line, v).is_none()
        && (code::parameter(line, s) || {
            let before = shell::words_before(line, s);
            [
                &b"pub"[..],
                b"pub(crate)",
                b"pub(super)",
                b"let",
                b"mut",
                b"const",
                b"static",
            ]
            .iter()
            .any(|k| {
                before.ends_with(k)
                    && (before.len() == k.len() || !name_byte(before[before.len() - k.len() - 1]))
            })
        })
    {
        return None;
    }
    if op == 1
        && line[q] == b':'
        && let Some((w, quoted)) = code::annotated(line, v)
    {
        if quoted {
            v = w;
        } else {
            let wrapped = WRAPPERS.iter().find(|p| {
                line[w..].starts_with(p) && matches!(line.get(w + p.len()), Some(b'"' | b'\''))
            })?;
            v = w + wrapped.len();
        }
    }
    let w = v;
    v = after_string_prefix(line, v);
    let fstring = v > w && matches!(line[w], b'f' | b'F');
    let mut quote = None;
    if let Some(&c @ (b'"' | b'\'')) = line.get(v) {
        quote = Some(c);
        v += 1;
    }
    // Code whose value is put in when it runs: an f-string's field (`f'Bearer {token}'`), a
    // variable assigned to a subscript, a member or a tuple (`self.secret_key = secret_key`).
    if fstring && code::fstring_field(line, v, quote)
        || quote.is_none()
            && line[q] == b'='
            && op == 1
            && line.get(q + 1) == Some(&b' ')
            && (subscript || code::member_or_tuple(line, s))
            && code::variable(line, v)
    {
        return None;
    }
    // A declaration in code given another variable or constant (`let decoded_key =
    // BASE64_STANDARD`, `const token = tokenFromEnv;`): an identifier, where a secret would
    // be a literal.
    if quote.is_none()
        && line[q] == b'='
        && op == 1
        && line.get(q + 1) == Some(&b' ')
        && code::declared(line, s)
        && code::identifier(line, v)
    {
        return None;
    }
    // A tuple assigned literals, `username, password = "admin", "VALUE"`: the item in the
    // name's place.
    if quote.is_some() && line[q] == b'=' && op == 1 && code::tuple(line, s) {
        let (a, b) = code::tuple_item(line, v - 1, code::tuple_place(line, s))?;
        return value(line, s, a, b, strength, lname, false);
    }
    // The shell's command substitution of an `echo` or a `printf` (`TOKEN=$(echo …)`): what it
    // prints.
    if line[q] == b'=' && line[v..].starts_with(b"$(") {
        let (a, b) = commands::printed_by(line, v, shell::command_end(line, v + 2))?;
        return value(line, s, a, b, strength, lname, false);
    }
    // A user and a password split by a slash between blanks: after `credentials:` (`Default
    // credentials: admin / …`, the user's name in any case) or after a label that pairs them
    // (`**Username / Password**: `admin` / `…``).
    let credentials = lname.ends_with(b"credentials") || lname.ends_with(b"credential");
    if quote.is_none()
        && let Some((a, b)) = logins::user_slash_password(line, v, credentials)
        && (credentials || logins::user_before_slash(line, s).is_some())
    {
        return value(line, s, a, b, Strength::Strong, lname, false);
    }
    // A variable given to a quoted key in code's object literal (`{"authorizationData":
    // auth_data}`, `"SecretVersionsToStages": version_id_to_stages,`): JSON quotes its strings.
    if quote.is_none() && colon_blank && code::variable_for_quoted_key(line, s, e, v) {
        return None;
    }
    if lname.ends_with(b"authorization") || lname == b"proxy-authorization" {
        return authorization::credentials(line, s, v, quote, lname);
    }
    // A Markdown code span, as a value is written in prose: `password: \`…\``, one word. After
    // `=` with nothing between, the shell's command substitution (`` TOKEN=`uuidgen` ``).
    if quote.is_none() && line.get(v) == Some(&b'`') && !(line[q] == b'=' && v == q + 1) {
        let (a, b) = code_span(line, v)?;
        return value(line, s, a, b, strength, lname, false);
    }
    // A word in Markdown's bold or italics after a label's colon, as a summary gives a value:
    // `Admin password: **…**`, `Password: *…*`.
    if quote.is_none()
        && line[q] == b':'
        && let Some((a, b)) = emphasized_word(line, v)
    {
        return value(line, s, a, b, strength, lname, true);
    }
    let (end, goes_on) = run_end_within(line, v, quote);
    // A generic type in code (`in_interest_pass: Cell<usize>,`, `signature: Vec<u8>,`): a
    // type's name with its parameters after it.
    if quote.is_none()
        && line.get(end) == Some(&b'<')
        && line.get(v).is_some_and(u8::is_ascii_uppercase)
        && code::type_name(&line[v..end])
        && code::type_parameters(line, end)
    {
        return None;
    }
    // Code giving a variable rather than a literal (`client_handshake_traffic_secret:
    // client_secret,`; one passed on under its own name, `self.settings = settings`; after a
    // weak name C's `pass_height = height;`), the name of the
    // variable a setting is read from (`MSI_SECRET_ENV_KEY = "IDENTITY_HEADER"`).
    if quote.is_none() && code::variable_naming_a_secret(line, v, end)
        || quote.is_none() && shapes::passed_under_its_own_name(line, v, end)
        || quote.is_none()
            && strength == Strength::Weak
            && line[q] == b'='
            && code::c_variable(line, v, end)
        || quote.is_none() && line[q] == b'=' && code::powershell_cmdlet(line, s, v, end)
        || exemptions::variable_name_setting(lname, &line[v..end])
        || exemptions::sasl_mechanism(lname, &line[v..end])
    {
        return None;
    }
    // Prose: `invalid token: expired` — a word before the name, `: ` and a plain word.
    let prose = colon_blank && quote.is_none() && s >= 2 && line[s - 1] == b' ' && {
        line[s - 2].is_ascii_alphabetic()
    };
    // A sentence that goes on after the colon, or a comment's description after a file's name,
    // or a message that names a parameter (`TypeError("pwd: expected bytes, got %s")`).
    let comment = colon_blank && quote.is_none() && line[..s].ends_with(b"# ");
    let message = colon_blank
        && quote.is_none()
        && opens_string
        && prose::message_about_a_parameter(line, s, v, end);
    if message || (prose || comment) && prose::sentence_goes_on(line, v, end) {
        return None;
    }
    let mut f = value(line, s, v, end, strength, lname, prose)?;
    // A passphrase of words, unquoted (`passphrase: correct horse battery staple`): the words
    // to the line's end, not the first alone.
    if quote.is_none() && f.end == end && passphrase_name(lname) {
        f.end = words_to_line_end(line, end).unwrap_or(end);
    }
    if goes_on {
        // Judged on its first bytes, redacted whole.
        let full = run_end(line, v, quote);
        f.end = v + trim_value(&line[v..full]).len();
    }
    Some(lists::unbracketed(line, f, quote, strength, lname))
}
