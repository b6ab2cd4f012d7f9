//! Commands whose output is a secret, in Claude Code's stream-json: a Bash tool call that reads
//! one (`kubectl get secret db -o jsonpath='{.data.password}' | base64 -d`, `echo $API_KEY`,
//! `gh auth token`, `terraform output -raw db_password`) prints it bare, with nothing beside it
//! to name it. The call's id is remembered from the assistant's line; when its result comes, a
//! text that is one word is the secret: redacted there, and learned, so that it is redacted
//! wherever it appears again.
//!
//! The call's line is read when the redactor looks at it for other evidence, as it does for
//! nearly every such command: a keyword of a secret's name is in it (`secret`, `password`,
//! `token`, `auth`, `_KEY`, `pass`, `credential`), or one of the few literals kept for the
//! commands that name none (`openssl`, `wg genkey`, Node's `randomBytes`). A search for the calls themselves over every
//! byte (`"name":"Bash"`) cost 3.6 % of a pass, and a look at every long run for a call's id
//! (`toolu_…`) 0.8 %: neither is made.

use super::context::{secret_env_name, secret_path};
use serde_json::Value;

/// Most calls remembered at once: each is forgotten when its result comes, and results come
/// before the next turn, so a few are in flight at most.
const MAX_CALLS: usize = 32;

/// The ids of the Bash tool calls in `line` (an assistant line of stream-json) whose commands
/// print a secret, added to `calls`; whether one was.
pub(crate) fn secret_calls(line: &[u8], calls: &mut Vec<String>) -> bool {
    if memchr::memmem::find(line, b"\"tool_use\"").is_none()
        || memchr::memmem::find(line, b"\"Bash\"").is_none()
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
        let call = b.get("type").and_then(Value::as_str) == Some("tool_use")
            && b.get("name").and_then(Value::as_str) == Some("Bash");
        let command = b.pointer("/input/command").and_then(Value::as_str);
        if let (true, Some(command), Some(id)) =
            (call, command, b.get("id").and_then(Value::as_str))
            && prints_a_secret(command)
            && !calls.iter().any(|c| c == id)
        {
            if calls.len() == MAX_CALLS {
                calls.remove(0);
            }
            calls.push(id.to_string());
            added = true;
        }
    }
    added
}

/// The secrets a remembered call printed, if `line` (a user line of stream-json) holds its
/// result and each of that result's lines is one word (`cat ~/.pgpass` with two entries); the
/// call is forgotten either way.
pub(crate) fn secret_result(line: &[u8], calls: &mut Vec<String>) -> Vec<String> {
    one_word_lines(line, calls).unwrap_or_default()
}

/// Most lines of a result taken for secrets, one a line.
const MAX_LINES: usize = 16;

fn one_word_lines(line: &[u8], calls: &mut Vec<String>) -> Option<Vec<String>> {
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
    let i = calls.iter().position(|c| c == id)?;
    calls.remove(i);
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
    let words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let one_word = |w: &&str| (4..=4096).contains(&w.len()) && !w.chars().any(char::is_whitespace);
    (!words.is_empty() && words.len() <= MAX_LINES && words.iter().all(one_word))
        .then(|| words.into_iter().map(String::from).collect())
}

/// Whether a shell command prints a secret: one of its commands reads one (a secret store's
/// getter, a token printer, a secret variable or file).
pub(crate) fn prints_a_secret(command: &str) -> bool {
    // A Python one-liner that makes a secret and prints it: `secrets.token_hex()`, Django's
    // `get_random_secret_key()` (its calls and `;` cut it into segments below).
    if command.trim_start().starts_with("python")
        && command.contains("print(")
        && (command.contains("secrets.token_") || command.contains("get_random_secret_key()"))
    {
        return true;
    }
    // Node's `node -e "console.log(require('crypto').randomBytes(32).toString('hex'))"`, or
    // `node -p` (which prints what it evaluates).
    if command.trim_start().starts_with("node ")
        && command.contains("randomBytes(")
        && (command.contains("console.log(") || command.contains(" -p "))
    {
        return true;
    }
    // WireGuard's private key, unless the public key derived from it is what is printed
    // (`wg genkey | tee private.key | wg pubkey`).
    let public = command.contains("wg pubkey");
    command
        .split(['|', ';', '&', '\n', '(', ')', '`'])
        .any(|segment| {
            let words: Vec<&str> = segment
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
                .collect();
            match words.as_slice() {
                ["wg", "genkey", ..] => !public,
                _ => reads_a_secret(&words),
            }
        })
}

/// A variable's name in `$NAME`, `${NAME}`, `$env:NAME`.
fn variable(word: &str) -> Option<&str> {
    let name = word.strip_prefix('$')?;
    let name = name.strip_prefix("env:").unwrap_or(name);
    let name = name
        .strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(name)
}

/// Whether a secret's name is among `words` (an argument naming what is read: `db_password`,
/// `github.token`, `//registry.npmjs.org/:_authToken`).
fn names_a_secret(words: &[&str]) -> bool {
    words.iter().any(|w| {
        let last = w.rsplit(['.', '/', ':', '=']).next().unwrap_or(w);
        !last.is_empty() && secret_env_name(last)
    })
}

/// Whether the command `words` (one of a line's commands, split at blanks) reads a secret.
fn reads_a_secret(words: &[&str]) -> bool {
    let Some(&first) = words.first() else {
        return false;
    };
    let has = |w: &str| words.contains(&w);
    let flag = |f: &str| words.iter().any(|w| w.starts_with(f));
    match first {
        // `echo $API_KEY`, `printf '%s' "$DB_PASSWORD"`, `printenv GITHUB_TOKEN`.
        "echo" | "printf" => words[1..]
            .iter()
            .filter_map(|w| variable(w))
            .any(secret_env_name),
        "printenv" => words[1..].iter().any(|w| secret_env_name(w)),
        // A secret's file: Docker's and Kubernetes' `/run/secrets/…`, a file named for one
        // (`db_password.txt`, `.secrets/api_key`).
        "cat" | "head" | "tail" => words[1..].iter().any(|w| secret_path(w.as_bytes())),
        "kubectl" | "oc" => {
            has("get")
                && words
                    .iter()
                    .any(|w| matches!(*w, "secret" | "secrets") || w.starts_with("secret/"))
                && words.iter().any(|w| {
                    w.contains("jsonpath") || w.contains("go-template") || w.contains("{.data")
                })
        }
        "argocd" => has("initial-password"),
        // A secret made to be used as one: `openssl rand -hex 32` (unless written to a file),
        // `rails secret`, Phoenix's `mix phx.gen.secret`.
        "openssl" => has("rand") && !has("-out"),
        "rails" | "bin/rails" | "./bin/rails" => has("secret"),
        "mix" => has("phx.gen.secret"),
        "aws" => {
            has("get-login-password")
                || has("get-authorization-token")
                || has("get-secret-value")
                || (has("get-parameter") || has("get-parameters")) && has("--with-decryption")
        }
        "gcloud" => {
            has("print-access-token")
                || has("print-identity-token")
                || has("secrets") && has("access")
        }
        "az" => {
            has("get-access-token")
                || has("keyvault") && has("secret") && has("show")
                || has("keys") && has("list") && flag("--query")
        }
        "gh" | "glab" => has("auth") && has("token"),
        "heroku" => has("auth:token") || has("config:get") && names_a_secret(&words[2..]),
        "op" => has("read") || has("item") && has("get") && flag("--field"),
        "bw" => has("get") && (has("password") || has("totp")),
        "pass" | "gopass" => has("show") || words.len() == 2 && !words[1].starts_with('-'),
        "security" => (has("find-generic-password") || has("find-internet-password")) && has("-w"),
        "vault" => flag("-field") || has("print") && has("token"),
        "doppler" => has("secrets") && has("get"),
        "terraform" | "tofu" => has("output") && names_a_secret(&words[2..]),
        "pulumi" => has("config") && has("get") && names_a_secret(&words[3..]),
        "git" => has("config") && names_a_secret(&words[2..]),
        "npm" | "pnpm" | "yarn" => has("config") && has("get") && names_a_secret(&words[3..]),
        "docker" | "podman" => has("exec") && has("printenv") && names_a_secret(&words[2..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_print_a_secret_are_told_from_others() {
        for c in [
            "kubectl get secret db -o jsonpath='{.data.password}' | base64 -d",
            "kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath=\"{.data.password}\" | base64 --decode",
            "echo $OPENAI_API_KEY",
            "source .env && echo \"${DB_PASSWORD}\"",
            "printenv GITHUB_TOKEN",
            "cat /run/secrets/db",
            "cat secrets/db",
            "cat ~/.config/app/api_key.txt",
            "argocd admin initial-password -n argocd",
            "aws ecr get-login-password --region eu-west-1",
            "aws ssm get-parameter --name /db/pw --with-decryption --query Parameter.Value --output text",
            "gcloud auth print-access-token",
            "gcloud secrets versions access latest --secret=db",
            "gh auth token",
            "op read op://vault/db/password",
            "security find-generic-password -s app -w",
            "vault kv get -field=password secret/db",
            "terraform output -raw db_password",
            "git config --get github.token",
            "npm config get //registry.npmjs.org/:_authToken",
            "docker exec db printenv POSTGRES_PASSWORD",
            "pass show email/work",
            "cat ~/.pgpass",
            "openssl rand -hex 32",
            "python3 -c \"import secrets; print(secrets.token_hex(32))\"",
            "bin/rails secret",
        ] {
            assert!(prints_a_secret(c), "{c}");
        }
        for c in [
            "echo $HOME",
            "echo $PATH && ls",
            "kubectl get secrets",
            "kubectl get secret db -o yaml",
            "cat src/token.rs",
            "cat README.md",
            "terraform output -raw bucket_name",
            "git config --get user.name",
            "gh auth status",
            "aws ssm get-parameter --name /app/region",
            "pass",
            "printenv PATH",
            "openssl rand -out key.bin 32",
            "openssl x509 -in cert.pem -noout -subject",
            "python3 -c 'import secrets; print(secrets.__file__)'",
        ] {
            assert!(!prints_a_secret(c), "{c}");
        }
    }
}
