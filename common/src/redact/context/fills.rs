//! A password a browser test types into a login form's field, as the end-to-end tests Claude
//! writes do: the field named by a selector, a label or a variable that holds a secret's name
//! (`'#password'`, `getByLabel('Password')`, `/password/i`, `passwordInput`), the value a
//! string literal typed into it (Playwright's `page.fill('#password', '…')` and
//! `locator.fill('…')`, Cypress' `.type('…')`, Selenium's `.send_keys("…")`, Testing Library's
//! `userEvent.type(field, '…')` and `fireEvent.change(field, { target: { value: '…' } })`,
//! WebdriverIO's `.setValue('…')`, Capybara's `fill_in 'Password', with: '…'`).

use super::names::Strength;
use super::{COMMAND_REACH, Found, blanks, gaps, value};

/// Calls whose first argument names the field and whose next one is typed into it.
const FILL_CALLS: &[&[u8]] = &[b"fill", b"type", b"change", b"setValue", b"fillField"];

/// A field's methods that type their first argument into it.
const FILL_METHODS: &[&[u8]] = &[
    b"fill",
    b"type",
    b"send_keys",
    b"sendKeys",
    b"setValue",
    b"pressSequentially",
];

/// How far back the calls around a field's name are looked for.
const REACH: usize = 160;

/// The value typed into the field whose selector, label or variable holds the name at `s..e`.
pub(super) fn filled(line: &[u8], s: usize, e: usize, lname: &[u8]) -> Option<Found> {
    // The rest of the field's argument: a selector's or a label's closing quotes and brackets,
    // a regular expression's slash and flag (`/password/i`).
    let mut k = e;
    while matches!(line.get(k), Some(b'"' | b'\'' | b']' | b'/')) {
        k += 1;
    }
    if line[k - 1] == b'/' && line.get(k) == Some(&b'i') {
        k += 1;
    }
    // Capybara's `fill_in 'Password', with: '…'`.
    if k > e && line[k..].starts_with(b", with: ") {
        let open = s
            - line[..s]
                .iter()
                .rev()
                .take(64)
                .position(|&b| b == b'"' || b == b'\'')?
            - 1;
        if !line[..open].trim_ascii_end().ends_with(b"fill_in") {
            return None;
        }
        return literal(line, s, blanks(line, k + 8), lname);
    }
    // The calls the field's argument closes.
    let mut closed = 0;
    while line.get(k) == Some(&b')') {
        closed += 1;
        k += 1;
    }
    match line.get(k) {
        // The field's method: `cy.get('#password').clear().type('…')`.
        Some(b'.') if closed > 0 => {
            let mut m = k + 1;
            if line[m..].starts_with(b"clear().") {
                m += 8;
            }
            let name = line[m..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if !FILL_METHODS.contains(&&line[m..m + name]) || line.get(m + name) != Some(&b'(') {
                return None;
            }
            literal(line, s, m + name + 1, lname)
        }
        // The value after the field, given to the call around both: `page.fill('#password',
        // '…')`, `userEvent.type(screen.getByLabelText(/password/i), '…')`.
        Some(b',') => {
            let open = nth_open_paren(line, s, closed + 1)?;
            let call = line[..open]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if !FILL_CALLS.contains(&&line[open - call..open])
                || line[open + 1..s].contains(&b',') && closed == 0
            {
                return None;
            }
            let v = gaps(line, k + 1);
            if line.get(v) == Some(&b'{') {
                // `{ target: { value: '…' } }`
                let reach = line.len().min(v + 48);
                let at = memchr::memmem::find(&line[v..reach], b"value: ")?;
                return literal(line, s, v + at + 7, lname);
            }
            literal(line, s, v, lname)
        }
        _ => None,
    }
}

/// The string literal at `v`, judged as after a strong name: a variable, a lookup or a
/// template is none.
fn literal(line: &[u8], s: usize, v: usize, lname: &[u8]) -> Option<Found> {
    let q = *line.get(v)?;
    if !matches!(q, b'"' | b'\'') {
        return None;
    }
    // (At most `COMMAND_REACH` bytes on: an unclosed quote in a line of megabytes.)
    let reach = line.len().min(v + 1 + COMMAND_REACH);
    let end = v + 1 + line[v + 1..reach].iter().position(|&b| b == q)?;
    value(line, s, v + 1, end, Strength::Strong, lname, false)
}

/// The `n`th `(` before `s` that is not closed before it (1: the innermost), within
/// [`REACH`] bytes.
fn nth_open_paren(line: &[u8], s: usize, n: usize) -> Option<usize> {
    let floor = s.saturating_sub(REACH);
    let (mut depth, mut found) = (0usize, 0);
    for i in (floor..s).rev() {
        match line[i] {
            b')' => depth += 1,
            b'(' if depth > 0 => depth -= 1,
            b'(' => {
                found += 1;
                if found == n {
                    return Some(i);
                }
            }
            b'\n' => return None,
            _ => {}
        }
    }
    None
}
