//! Which shell commands print a secret: a secret store's getter, a token printer, a secret
//! variable or file, a value cut out of its line by its name, a query or a filter that selects
//! one (see the module above for how their results are found).

use super::super::context::{secret_env_name, secret_path};

/// Whether a shell command prints a secret: one of its commands reads one (a secret store's
/// getter, a token printer, a secret variable or file).
pub(super) fn prints_a_secret(command: &str) -> bool {
    // A Python one-liner that makes a secret and prints it: `secrets.token_hex()`, a password
    // of `secrets.choice(…)`, Django's `get_random_secret_key()`, `os.urandom(32)` made
    // printable, a Fernet key (`Fernet.generate_key()`) (its calls and `;` cut it into
    // segments below).
    if command.trim_start().starts_with("python")
        && command.contains("print(")
        && (command.contains("secrets.token_")
            || command.contains("secrets.choice(")
            || command.contains("get_random_secret_key()")
            || command.contains("urandom(")
            || command.contains("Fernet.generate_key()"))
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
    // Random bytes from the kernel made printable: `head -c 32 /dev/urandom | base64`, `tr -dc
    // 'A-Za-z0-9' </dev/urandom | head -c 24` (not `… | wc -c`).
    if (command.contains("/dev/urandom") || command.contains("/dev/random"))
        && ["base64", "xxd", "hexdump", "od -", "tr -dc", "tr -cd"]
            .iter()
            .any(|e| command.contains(e))
        && !command.contains("wc ")
    {
        return true;
    }
    // Ruby's `ruby -e 'puts SecureRandom.hex(32)'`, PHP's `php -r 'echo
    // bin2hex(random_bytes(32));'`.
    let start = command.trim_start();
    const MAKERS: &[&str] = &[
        "hex",
        "base64",
        "urlsafe_base64",
        "alphanumeric",
        "random_bytes",
    ];
    if start.starts_with("ruby ")
        && command.match_indices("SecureRandom.").any(|(at, m)| {
            let rest = &command[at + m.len()..];
            MAKERS.iter().any(|k| {
                rest.strip_prefix(k).is_some_and(|r| {
                    !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
            })
        })
        && ["puts ", "p ", "print "]
            .iter()
            .any(|p| command.contains(p))
        || start.starts_with("php ")
            && command.contains("random_bytes(")
            && ["echo ", "print "].iter().any(|p| command.contains(p))
    {
        return true;
    }
    // WireGuard's private key, unless the public key derived from it is what is printed
    // (`wg genkey | tee private.key | wg pubkey`).
    let public = command.contains("wg pubkey");
    let segments = segments(command);
    segments.iter().any(|words| match words.as_slice() {
        ["wg", "genkey", ..] => !public,
        _ => reads_a_secret(words),
    }) || cuts_out_a_secret(&segments)
        || selects_a_secret(command)
        || looks_behind_a_name(command)
        || prints_a_variable(command)
}

/// The commands of a shell line, each as its words (quotes around a word taken off): cut at
/// pipes, `;`, `&`, line breaks, parentheses and backticks.
fn segments(command: &str) -> Vec<Vec<&str>> {
    command
        .split(['|', ';', '&', '\n', '(', ')', '`'])
        .map(|segment| {
            segment
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
                .collect()
        })
        .collect()
}

/// Whether a one-liner prints a secret variable's value itself: Python's
/// `print(os.environ["API_KEY"])` (`os.getenv(…)`, `os.environ.get(…)`), Node's
/// `console.log(process.env.API_KEY)`, Ruby's `puts ENV["API_KEY"]`, PowerShell's
/// `[System.Environment]::GetEnvironmentVariable("API_KEY")`. The lookup must be what is
/// printed: `print(len(os.environ["API_KEY"]))` prints a length.
fn prints_a_variable(command: &str) -> bool {
    const LOOKUPS: &[&str] = &[
        "os.environ[",
        "os.environ.get(",
        "os.getenv(",
        "environ[",
        "getenv(",
        "process.env.",
        "process.env[",
        "ENV[",
        "ENV.fetch(",
        "Deno.env.get(",
        "Bun.env.",
    ];
    const PRINTS: &[&str] = &["print(", "console.log(", "puts ", "p ", "print ", "echo "];
    let named = |rest: &str| {
        let rest = rest.trim_start_matches(['"', '\'', '\\']);
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        n > 0 && secret_env_name(&rest[..n])
    };
    if let Some(at) = command.find("GetEnvironmentVariable(") {
        return named(&command[at + "GetEnvironmentVariable(".len()..]);
    }
    PRINTS.iter().any(|p| {
        command.match_indices(p).any(|(at, _)| {
            let arg = command[at + p.len()..].trim_start();
            LOOKUPS
                .iter()
                .find_map(|l| arg.strip_prefix(l))
                .is_some_and(named)
        })
    })
}

/// `grep -oP '(?<=API_TOKEN=).*' .env`: a match that starts after a secret's name (the
/// command's parentheses cut it apart above, so it is read whole here).
fn looks_behind_a_name(command: &str) -> bool {
    command
        .split_whitespace()
        .any(|w| matches!(w, "grep" | "egrep" | "rg"))
        && command
            .split("(?<=")
            .skip(1)
            .any(|after| pattern_names_a_secret(after.split(')').next().unwrap_or("")))
}

/// Whether a pipeline finds a secret's line by its name and cuts the value out of it: `grep
/// DB_PASSWORD .env | cut -d= -f2`, `awk -F= '/API_KEY/ {print $2}' .env`, `sed -n
/// 's/^DB_PASS=//p' .env`. (The line itself, `NAME=VALUE`, has its name beside it.)
fn cuts_out_a_secret(segments: &[Vec<&str>]) -> bool {
    let mut named = false;
    let mut cut = false;
    for words in segments {
        let Some((&first, rest)) = words.split_first() else {
            continue;
        };
        match first {
            "grep" | "egrep" | "rg" => {
                // The pattern: the first word that is no flag, or the one after `-e`.
                let pattern = rest
                    .iter()
                    .position(|w| *w == "-e")
                    .and_then(|i| rest.get(i + 1))
                    .or_else(|| rest.iter().find(|w| !w.starts_with('-')));
                named |= pattern.is_some_and(|p| pattern_names_a_secret(p));
            }
            "awk" | "gawk" | "mawk" => {
                // A regular expression (`/API_KEY/`) or a comparison (`$1=="API_KEY"`).
                named |= rest
                    .iter()
                    .any(|w| (w.starts_with('/') || w.contains("==")) && pattern_names_a_secret(w));
                cut |= rest.iter().any(|w| w.starts_with("-F"));
            }
            "sed" => {
                for w in rest {
                    // `s/^NAME=//p`, `/NAME/s/.*=//p`: the expression between the first slashes.
                    if let Some(e) = w.strip_prefix("s/").or_else(|| w.strip_prefix('/')) {
                        let expression = e.split('/').next().unwrap_or("");
                        named |= pattern_names_a_secret(expression);
                        cut |= w.contains("s/");
                    }
                }
            }
            "cut" => {
                cut |= rest
                    .iter()
                    .any(|w| w.starts_with("-d") || w.starts_with("--delimiter"));
            }
            _ => {}
        }
    }
    named && cut
}

/// Whether a search pattern names a secret: one of its words (letters, digits, `_`) is a
/// secret's name (`^DB_PASSWORD=`, `(?<=API_KEY=).*`).
fn pattern_names_a_secret(pattern: &str) -> bool {
    pattern
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w.len() >= 3 && secret_env_name(w))
}

/// Whether a database client's query selects one column that is a secret: `psql -c "select
/// api_key from accounts"`, `mysql -e 'SELECT password FROM users WHERE id=1'`, `sqlite3
/// app.db "select token from sessions"` (their tables are taken apart
/// by `outputs::printed_word`).
fn selects_a_secret(command: &str) -> bool {
    let client = command.split_whitespace().any(|w| {
        matches!(
            w,
            "psql" | "mysql" | "mariadb" | "sqlite3" | "sqlcmd" | "clickhouse-client" | "duckdb"
        )
    });
    if !client {
        return false;
    }
    let lower = command.to_ascii_lowercase();
    let Some(at) = lower.find("select ") else {
        return false;
    };
    let list = &lower[at + "select ".len()..];
    let Some(end) = list.find(" from ") else {
        return false;
    };
    let column = list[..end].trim();
    let column = column.strip_prefix("distinct ").unwrap_or(column);
    !column.contains(',')
        && column
            .rsplit(['.', ' '])
            .next()
            .is_some_and(|c| pattern_names_a_secret(c.trim_matches(|c| c == '"' || c == '`')))
}

/// Whether a `jq` filter's value is a secret: the last key it reads names one (`.access_token`,
/// `'.data.password'`, `.items[0]["api-key"]`), an alternative after `//` aside.
fn filter_names_a_secret(words: &[&str]) -> bool {
    let Some(filter) = words.iter().find(|w| !w.starts_with('-')) else {
        return false;
    };
    let filter = filter.split("//").next().unwrap_or(filter);
    let mut last = None;
    let bytes = filter.as_bytes();
    let key = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut i = 0;
    while i < bytes.len() {
        let at = match bytes[i] {
            b'.' => i + 1,
            b'[' if matches!(bytes.get(i + 1), Some(b'"' | b'\'')) => i + 2,
            _ => {
                i += 1;
                continue;
            }
        };
        let end = at + bytes[at..].iter().take_while(|&&b| key(b)).count();
        if end > at {
            last = Some(&filter[at..end]);
        }
        i = end.max(i + 1);
    }
    last.is_some_and(secret_env_name)
}

/// Whether `command` prints a secret store's entry whole, every key with its value, under
/// names that say nothing: `vault kv get PATH` without `-field` (as a table after its `Data`
/// heading, or as JSON with `-format=json`).
pub(super) fn reads_a_store_entry(command: &str) -> bool {
    segments(command).iter().any(|words| {
        words.first() == Some(&"vault")
            && words.contains(&"kv")
            && words.contains(&"get")
            && !words.iter().any(|w| w.starts_with("-field"))
    })
}

/// Whether `command` makes a passphrase of words and prints it (`xkcdpass -n 5`, `diceware
/// -n 6`): its result's line, blanks and all, is the secret.
pub(super) fn makes_a_passphrase(command: &str) -> bool {
    segments(command).iter().any(|words| {
        matches!(words.first(), Some(&("xkcdpass" | "diceware")))
            && !words
                .iter()
                .any(|w| matches!(*w, "-h" | "--help" | "--version"))
    })
}

/// The JSON members that hold the secrets a command prints under names that say nothing:
/// Azure's `az … keys list` without a `--query` (`az storage account keys list`: `"keyName":
/// "key1", …, "value": "…"`; `az cognitiveservices account keys list`: `"key1"`, `"key2"`)
/// and `az keyvault secret show` (the secret's `value`).
/// (Names that say what they hold, `primaryKey`, `password`, are read where they are.)
pub(super) fn json_fields(command: &str) -> &'static [&'static str] {
    let azure = |what: &[&str]| {
        segments(command).iter().any(|words| {
            words.first() == Some(&"az")
                && what.iter().all(|w| words.contains(w))
                && !words.iter().any(|w| w.starts_with("--query"))
        })
    };
    if azure(&["keys", "list"]) {
        &["value", "key1", "key2"]
    } else if azure(&["keyvault", "secret", "show"]) {
        // The secret's object: its `value`, beside its `id`, `name` and attributes.
        &["value"]
    } else {
        &[]
    }
}

/// Whether a cloud CLI's `--query` (JMESPath) reads a secret: its last key names one
/// (`Credentials.SessionToken`, `'Credentials.SecretAccessKey'`, `password`).
fn query_names_a_secret(words: &[&str]) -> bool {
    let query = words.iter().enumerate().find_map(|(i, w)| {
        w.strip_prefix("--query=").or_else(|| {
            (*w == "--query")
                .then(|| words.get(i + 1).copied())
                .flatten()
        })
    });
    query.is_some_and(|q| {
        q.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|k| !k.is_empty())
            .is_some_and(secret_env_name)
    })
}

/// A variable's name in `$NAME`, `${NAME}`, `$env:NAME`, `%NAME%` (Windows' `cmd`).
fn variable(word: &str) -> Option<&str> {
    if let Some(name) = word.strip_prefix('%').and_then(|w| w.strip_suffix('%')) {
        return (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then_some(name);
    }
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

/// The command that `words` runs through another, if it does: `sudo [-u USER]`, `bundle exec`,
/// `poetry run`, `uv run`, `pipenv run`, `cmd /c`, `sh -c`, `docker exec [FLAGS] CONTAINER`,
/// `docker compose exec [FLAGS] SERVICE`, `ssh [FLAGS] HOST`, what follows `--` in
/// `kubectl exec POD -- …`, and `fly ssh console -C COMMAND`.
fn inner_command<'a>(words: &'a [&'a str]) -> Option<&'a [&'a str]> {
    /// What follows the flags and the container or host at `words[0]..`; `valued` are the
    /// flags that take a value.
    fn after_target<'a>(words: &'a [&'a str], valued: &[&str]) -> Option<&'a [&'a str]> {
        let mut i = 0;
        while i < words.len() && words[i].starts_with('-') {
            i += 1 + usize::from(valued.contains(&words[i]));
        }
        words.get(i + 1..)
    }
    const DOCKER: &[&str] = &[
        "-e",
        "--env",
        "--env-file",
        "-u",
        "--user",
        "-w",
        "--workdir",
    ];
    const SSH: &[&str] = &["-i", "-p", "-l", "-o", "-F", "-J", "-L", "-R", "-D"];
    let rest = match words {
        ["sudo", "-u", _, rest @ ..]
        | ["sudo", rest @ ..]
        | ["bundle" | "pnpm", "exec", rest @ ..]
        | ["poetry" | "uv" | "pipenv", "run", rest @ ..]
        | ["cmd" | "cmd.exe", "/c" | "/C", rest @ ..]
        | ["sh" | "bash" | "zsh", "-c" | "-lc", rest @ ..] => rest,
        ["docker" | "podman", "exec", rest @ ..]
        | ["docker", "compose", "exec", rest @ ..]
        | ["docker-compose", "exec", rest @ ..] => after_target(rest, DOCKER)?,
        ["ssh", rest @ ..] => after_target(rest, SSH)?,
        ["kubectl" | "oc", ..] => &words[words.iter().position(|w| *w == "--")? + 1..],
        // Fly.io's `fly ssh console -C "COMMAND"` (its quotes gone with the words').
        ["fly" | "flyctl", "ssh", "console", rest @ ..] => {
            &rest[rest.iter().position(|w| *w == "-C" || *w == "--command")? + 1..]
        }
        _ => return None,
    };
    (!rest.is_empty()).then_some(rest)
}

/// Whether the command `words` (one of a line's commands, split at blanks) reads a secret.
fn reads_a_secret(words: &[&str]) -> bool {
    if let Some(inner) = inner_command(words)
        && reads_a_secret(inner)
    {
        return true;
    }
    let Some(&first) = words.first() else {
        return false;
    };
    let has = |w: &str| words.contains(&w);
    let flag = |f: &str| words.iter().any(|w| w.starts_with(f));
    // Elasticsearch's tools, run from its `bin/` under any path: an enrollment token (an API
    // key inside its base64), the `elastic` user's new password (`-s` prints it alone).
    match first.rsplit('/').next().unwrap_or(first) {
        "elasticsearch-create-enrollment-token" => return true,
        "elasticsearch-reset-password" if has("-s") || has("--silent") => return true,
        _ => {}
    }
    match first {
        // `echo $API_KEY`, `printf '%s' "$DB_PASSWORD"`, `printenv GITHUB_TOKEN`.
        "echo" | "printf" | "Write-Host" | "Write-Output" | "write-host" | "write-output" => words
            [1..]
            .iter()
            .filter_map(|w| variable(w))
            .any(secret_env_name),
        "printenv" => words[1..].iter().any(|w| secret_env_name(w)),
        // A secret's file: Docker's and Kubernetes' `/run/secrets/…`, a file named for one
        // (`db_password.txt`, `.secrets/api_key`).
        "cat" | "head" | "tail" => words[1..].iter().any(|w| secret_path(w.as_bytes())),
        "kubectl" | "oc" if has("view-secret") => true,
        // A kubeconfig's credential picked out whole (`config view --raw -o
        // jsonpath='{.users[0].user.token}'`; without `--raw` kubectl prints `REDACTED`).
        "kubectl" | "oc" if has("config") && has("view") => {
            has("--raw")
                && words.iter().any(|w| {
                    w.find("jsonpath")
                        .is_some_and(|at| filter_names_a_secret(&[&w[at..]]))
                })
        }
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
        // NetworkManager's stored Wi-Fi key, shown (`-s`) and picked out (`-g …psk`).
        "nmcli" => {
            (has("-s") || has("--show-secrets"))
                && words
                    .iter()
                    .any(|w| w.contains(".psk") || w.contains(".password"))
        }
        // A secret made to be used as one: `openssl rand -hex 32` (unless written to a file),
        // `rails secret`, Phoenix's `mix phx.gen.secret`; and a file OpenSSL decrypts to the
        // terminal (`openssl enc -d -aes-256-cbc …`, `openssl aes-256-cbc -d …`), as GnuPG's.
        "openssl" => {
            let cipher = |w: &str| {
                let w = w.trim_start_matches('-');
                [
                    "aes", "des", "chacha", "camellia", "aria", "sm4", "bf", "cast",
                ]
                .iter()
                .any(|c| w.starts_with(c))
            };
            !has("-out")
                && (has("rand")
                    || has("-d")
                        && (has("enc") || words.get(1).is_some_and(|w| cipher(w)))
                        && words.iter().any(|w| cipher(w)))
        }
        "rails" | "bin/rails" | "./bin/rails" | "rake" | "bin/rake" | "./bin/rake" => has("secret"),
        "mix" => has("phx.gen.secret"),
        // `--query Credentials.SecretAccessKey --output text`: a query whose last key names
        // a secret (one column; several come back on one line, no value alone).
        "aws" | "az" if query_names_a_secret(words) => true,
        "aws" => {
            has("configure") && has("get") && names_a_secret(&words[3..])
                || has("get-login-password")
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
                || has("keys") && has("list")
        }
        "gh" | "glab" => has("auth") && has("token"),
        "heroku" => has("auth:token") || has("config:get") && names_a_secret(&words[2..]),
        "op" => has("read") || has("item") && has("get") && flag("--field"),
        "bw" => has("get") && (has("password") || has("totp")),
        "pass" | "gopass" => has("show") || words.len() == 2 && !words[1].starts_with('-'),
        "security" => (has("find-generic-password") || has("find-internet-password")) && has("-w"),
        // (`vault kv get` without `-field` prints the secret's every key and value:
        // [`reads_a_store_entry`].)
        "vault" => flag("-field") || has("print") && has("token") || has("kv") && has("get"),
        "doppler" => has("secrets") && has("get"),
        "terraform" | "tofu" => has("output") && names_a_secret(&words[2..]),
        "pulumi" => has("config") && has("get") && names_a_secret(&words[3..]),
        "git" => has("config") && names_a_secret(&words[2..]),
        "npm" | "pnpm" | "yarn" => has("config") && has("get") && names_a_secret(&words[3..]),
        "docker" | "podman" => {
            has("exec") && has("printenv") && names_a_secret(&words[2..])
                // A swarm's join token alone (`-q`); without it, `--token …` names it.
                || has("join-token") && (has("-q") || has("--quiet"))
        }
        // `curl … | jq -r .access_token`, `kubectl get secret db -o json | jq -r
        // .data.password | base64 -d`, `yq '.db.password' config.yaml`.
        "jq" | "gojq" | "jaq" | "yq" => filter_names_a_secret(&words[1..]),
        // `redis-cli CONFIG GET requirepass`, `redis-cli GET api_key`.
        "redis-cli" => {
            words.iter().any(|w| w.eq_ignore_ascii_case("get")) && names_a_secret(&words[1..])
        }
        // A password manager's or a secret store's getter: LastPass, KeePassXC, SOPS's
        // `--extract '["db"]["password"]'`, GnuPG decrypting a secret's file, krew's
        // `kubectl view-secret`, Consul's and etcd's values by a name that names one, macOS'
        // `launchctl getenv`.
        "lpass" => has("show") && flag("--password"),
        "keepassxc-cli" => has("show") && (has("password") || has("Password")),
        "sops" => flag("--extract") && words.iter().any(|w| filter_names_a_secret(&[w])),
        // (And GnuPG's random bytes, printable with `--armor`: `gpg --gen-random --armor 1 32`.)
        "gpg" | "gpg2" | "age" | "rage" => {
            has("-d") || has("--decrypt") || has("--gen-random") && (has("--armor") || has("-a"))
        }
        // Infisical's and chamber's getters of one value, printed alone (`--plain`, `-q`).
        "infisical" => has("secrets") && has("get") && has("--plain"),
        "chamber" => has("read") && (has("-q") || has("--quiet")),
        // A gossip encryption key made for a cluster (Consul's and Serf's `keygen`, Nomad's
        // `operator gossip keyring generate`, older `operator keygen`).
        "consul" => has("keygen") || has("kv") && has("get") && names_a_secret(&words[3..]),
        "serf" => has("keygen"),
        "nomad" => has("operator") && (has("keygen") || has("generate")),
        "etcdctl" => has("get") && names_a_secret(&words[2..]),
        "launchctl" => has("getenv") && names_a_secret(&words[2..]),
        // A Cloudflare tunnel's token, which runs the tunnel from anywhere.
        "cloudflared" => has("tunnel") && has("token"),
        "secret-tool" => has("lookup"),
        // Python's `keyring get SERVICE USER`.
        "keyring" => has("get"),
        // Passwords and tokens made to be used: `pwgen -s 24 1` (`makepasswd`, `apg`), Laravel's `php artisan
        // key:generate --show`, a cluster's bootstrap token.
        "pwgen" | "makepasswd" | "apg" => true,
        // Passphrases of words: see `makes_a_passphrase`.
        "xkcdpass" | "diceware" => !has("-h") && !has("--help") && !has("--version"),
        // Symfony's secrets vault, a value revealed by its name (`php bin/console
        // secrets:reveal NAME`, `symfony console secrets:reveal NAME`).
        "php" => has("key:generate") && has("--show") || has("secrets:reveal"),
        "symfony" | "bin/console" | "./bin/console" => has("secrets:reveal"),
        // WP-CLI's `wp config get DB_PASSWORD` (`AUTH_KEY`, `SECURE_AUTH_SALT`, …), and
        // python-dotenv's `dotenv get NAME`.
        "wp" | "dotenv" => has("get") && names_a_secret(&words[1..]),
        // CyberArk Conjur's, Akeyless' and Berglas' getters of one value, printed alone.
        "conjur" => has("variable") && has("get") && names_a_secret(&words[1..]),
        "akeyless" => has("get-secret-value"),
        "berglas" => has("access"),
        "kubeadm" | "k3s" | "rke2" => has("token") && has("create"),
        "dokku" => has("config:get") && names_a_secret(&words[2..]),
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
            "vault kv get secret/db",
            "terraform output -raw db_password",
            "git config --get github.token",
            "npm config get //registry.npmjs.org/:_authToken",
            "docker exec db printenv POSTGRES_PASSWORD",
            "pass show email/work",
            "cat ~/.pgpass",
            "openssl rand -hex 32",
            "python3 -c \"import secrets; print(secrets.token_hex(32))\"",
            "bin/rails secret",
            "bundle exec rake secret",
            "sudo cat /run/secrets/db_password",
            "sudo -u postgres psql -tAc 'select api_key from accounts'",
            "kubectl exec deploy/api -- printenv STRIPE_SECRET_KEY",
            "grep DB_PASSWORD .env | cut -d= -f2",
            "awk -F= '$1==\"API_KEY\" {print $2}' .env",
            "sed -n '/^SECRET_KEY_BASE=/s/.*=//p' .env",
            "grep -oP '(?<=GITHUB_TOKEN=).*' .env",
            "curl -s https://x/token | jq -r .access_token",
            "jq -r '.items[0].credentials.client_secret' app.json",
            "psql -tAc 'SELECT api_key FROM accounts'",
            "mysql -e 'select u.password from users u'",
            "redis-cli -h cache config get masterauth",
            "aws configure get aws_secret_access_key --profile prod",
            "secret-tool lookup service db user app",
            "dokku config:get api STRIPE_SECRET_KEY",
            "redis-cli GET api_key",
            "lpass show --password github.com",
            "keepassxc-cli show -a password vault.kdbx prod/db",
            "sops -d --extract '[\"db\"][\"password\"]' secrets.enc.yaml",
            "gpg -d ~/.secrets/token.gpg",
            "kubectl view-secret db password",
            "consul kv get secret/db/password",
            "etcdctl get /app/db_password --print-value-only",
            "launchctl getenv API_TOKEN",
            "cloudflared tunnel token my-tunnel",
            "Write-Host $env:API_KEY",
            "cmd /c echo %DB_PASSWORD%",
            "[System.Environment]::GetEnvironmentVariable(\"API_KEY\", \"User\")",
            "python -c \"import os; print(os.environ['API_KEY'])\"",
            "python3 -c 'import os;print(os.getenv(\"OPENAI_API_KEY\"))'",
            "node -e 'console.log(process.env.STRIPE_SECRET_KEY)'",
            "ruby -e 'puts ENV[\"API_KEY\"]'",
            "docker compose exec app sh -c 'echo $API_KEY'",
            "docker exec -it -u root db printenv POSTGRES_PASSWORD",
            "ssh -i ~/.ssh/id deploy@web 'cat /run/secrets/db_password'",
            "aws sts get-session-token --query Credentials.SessionToken --output text",
            "aws sts assume-role --role-arn r --role-session-name s --query=Credentials.SecretAccessKey",
            "az ad sp create-for-rbac --name ci --query password -o tsv",
            "gopass show -o web/github",
            "docker swarm join-token -q worker",
            "pwgen -s 24 1",
            "head -c 32 /dev/urandom | base64",
            "openssl enc -base64 -A < /dev/random | head -c 32",
            "keyring get myservice alice",
            "ruby -e 'require \"securerandom\"; puts SecureRandom.hex(32)'",
            "php -r 'echo bin2hex(random_bytes(32));'",
            "php artisan key:generate --show",
            "kubeadm token create --ttl 1h",
            "infisical secrets get DB_PASSWORD --plain",
            "chamber read api stripe_key -q",
            "age -d -i key.txt secrets.age",
            "consul keygen",
            "nomad operator gossip keyring generate",
            "bin/elasticsearch-create-enrollment-token -s kibana",
            "docker exec -it es01 /usr/share/elasticsearch/bin/elasticsearch-reset-password -u elastic -s -b",
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
            "grep DB_PASSWORD .env",
            "grep HOST .env | cut -d= -f2",
            "grep -oP '(?<=HOST=).*' .env",
            "cut -d: -f1 /etc/passwd",
            "jq -r .name package.json",
            "jq 'del(.password)' user.json | jq -r .email",
            "psql -c 'select name, api_key from accounts'",
            "psql -c 'select count(*) from tokens'",
            "redis-cli config get maxmemory",
            "aws configure get region",
            "redis-cli GET session:42",
            "lpass show github.com",
            "sops -d secrets.enc.yaml",
            "consul kv get config/app/region",
            "consul members",
            "nomad operator raft list-peers",
            "bin/elasticsearch-reset-password --help",
            "bin/elasticsearch-keystore list",
            "etcdctl get /app/replicas",
            "launchctl getenv PATH",
            "cloudflared tunnel list",
            "python -c \"import os; print(len(os.environ['API_KEY']))\"",
            "python -c \"import os; print(bool(os.getenv('API_KEY')))\"",
            "node -e 'console.log(process.env.HOME)'",
            "echo %PATH%",
            "docker exec -it db printenv HOME",
            "ssh web 'echo $HOSTNAME'",
            "python3 -c 'import secrets; print(secrets.__file__)'",
            "aws sts get-caller-identity --query Account --output text",
            "az account show --query tenantId -o tsv",
            "aws ec2 describe-instances --query 'Reservations[].Instances[].KeyName'",
            "docker swarm join-token worker",
            "head -c 100 /dev/urandom | wc -c",
            "ls -l /dev/urandom",
            "keyring --help",
            "php artisan key:generate",
            "ruby -e 'puts SecureRandom.respond_to?(:hex)'",
            "kubeadm token list",
            "infisical secrets",
            "chamber list api",
            "age -e -r age1abc -o out.age in.txt",
        ] {
            assert!(!prints_a_secret(c), "{c}");
        }
    }

    #[test]
    fn a_store_entry_is_read_whole_only_without_a_field() {
        assert!(reads_a_store_entry("vault kv get secret/db"));
        assert!(reads_a_store_entry(
            "vault kv get -format=json -mount=secret db"
        ));
        assert!(reads_a_store_entry(
            "export VAULT_ADDR=x; vault kv get kv/app | cat"
        ));
        for c in [
            "vault kv get -field=password secret/db",
            "vault kv list secret/",
            "vault kv put secret/db api=@file",
            "vault status",
        ] {
            assert!(!reads_a_store_entry(c), "{c}");
        }
    }

    #[test]
    fn json_fields_are_given_only_for_a_key_listing_without_a_query() {
        assert!(json_fields("az storage account keys list -g rg -n acct").contains(&"value"));
        assert!(json_fields("az cognitiveservices account keys list -n ai").contains(&"key1"));
        for c in [
            "az storage account keys list -n acct --query [0].value -o tsv",
            "az storage account list",
            "cat keys.json",
            "jq .value keys.json",
        ] {
            assert!(json_fields(c).is_empty(), "{c}");
        }
    }
}
