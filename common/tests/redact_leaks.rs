//! One test per leak class and over-redaction an outside review found: each failed before the
//! fix it names.

use common::redact::{DEFAULT_CONFIG, REDACTED, Redactor, Rules};
use std::collections::BTreeMap;
use std::sync::Arc;

mod support;
use support::{base64_no_pad, percent_all};

fn rules_with(env: &[(&str, &str)]) -> Arc<Rules> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(Rules::from_config(DEFAULT_CONFIG, &env, Vec::new()).unwrap())
}

fn run(rules: &Arc<Rules>, chunks: &[&[u8]]) -> (Vec<u8>, BTreeMap<String, u64>) {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::new();
    for c in chunks {
        r.push(c, &mut out);
    }
    r.finish(&mut out);
    (out, r.counts().clone())
}

/// `text` redacted by the default rules, fed in chunks of `cut` bytes: the output and what
/// fired.
fn red_in_chunks(text: &str, cut: usize) -> (String, BTreeMap<String, u64>) {
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
    let (out, counts) = run(&rules_with(&[]), &chunks);
    (String::from_utf8(out).unwrap(), counts)
}

fn red(text: &str) -> String {
    let (out, _) = run(&rules_with(&[]), &[text.as_bytes()]);
    String::from_utf8(out).unwrap()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Class 1: A context secret whose value starts at or crosses the release point of a long line.
#[test]
fn context_survives_the_release_of_a_long_line() {
    let forms = [
        ("password=", "Pa55w0rd-LongLine-Value"),
        ("\"api_key\": \"", "QwErTy123456UiOpAsDf"),
        ("Authorization: Bearer ", "Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5"),
    ];
    for (f, (key, value)) in forms.into_iter().enumerate() {
        // The value starts at every offset around 48 KiB (where the first release cuts) and at
        // the later release points, in lines up to 4 MiB, fed in chunks of several sizes.
        let cases = [
            (48 * 1024 - 40, 70 * 1024),
            (48 * 1024 - 9, 70 * 1024),
            (48 * 1024, 70 * 1024),
            (48 * 1024 + 3, 70 * 1024),
            (200_000, 4 << 20),
        ];
        for (lead, total) in cases {
            if total > 1 << 20 && f > 0 {
                continue; // one 4 MiB line is enough (and costs seconds in a debug build)
            }
            {
                let mut line = vec![b'x'; lead];
                line.push(b' ');
                line.extend_from_slice(key.as_bytes());
                line.extend_from_slice(value.as_bytes());
                line.extend_from_slice(b"\" ");
                while line.len() < total {
                    line.push(b'y');
                }
                line.push(b'\n');
                let sizes: &[usize] = if total > 1 << 20 {
                    &[65536]
                } else {
                    &[4096, 65536, 1 << 20]
                };
                for &size in sizes {
                    // Fresh rules for each case: a value learned in one is not known to the next.
                    let rules = rules_with(&[]);
                    let chunks: Vec<&[u8]> = line.chunks(size).collect();
                    let (out, _) = run(&rules, &chunks);
                    assert!(
                        !contains(&out, value),
                        "{key}{value} at {lead} of {total}, chunks of {size}"
                    );
                    assert_eq!(out.len(), line.len() - value.len() + REDACTED.len());
                }
            }
        }
    }
}

/// Class 2: An unterminated key header neither swallows output nor resumes inside a token.
#[test]
fn an_unterminated_key_header_loses_nothing() {
    let header = "'-----BEGIN RSA PRIVATE KEY-----'";
    let mut text = format!("const PEM = {header};\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "line {i} ghp_abcdefghijklmnopqrstuvwxyz0123456789 end\n"
        ));
    }
    let out = red(&text);
    assert!(out.starts_with(&format!("const PEM = {header};\n")));
    assert_eq!(out.lines().count(), text.lines().count(), "no line lost");
    assert!(!out.contains("ghp_") && !out.contains("0123456789 end"));
    assert!(out.contains("line 4999 [REDACTED] end"));
    // A bare header line followed by ordinary text is ordinary text too.
    let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nthis is not a key body\n";
    assert_eq!(red(text), text);
}

/// A key whose header is followed by armour headers before its body: a traditional encrypted
/// PEM (`openssl genrsa -aes256`: `Proc-Type:`, `DEK-Info:`, a blank line) and an OpenPGP block
/// with `Version:` and `Comment:`. The first armour line ended the block and the whole body went
/// out, printed, cut into chunks, and inside a stream-json string.
#[test]
fn a_key_with_armour_headers_before_its_body_is_redacted() {
    let body = [
        "wav+t55gSrsCnvgeikRqcQKXuUeXEqEcL6zwNsTMIis6rpGuXkBYH5Ezntm6h/5h",
        "2vZDu2vTOeq7QbNmTbKWbU6Rw0e7hlnWcPFhg3ssLNrh0XW3ynZ56gLCj/TRHj9V",
        "3kzlM0tz9/Rm4bYttEDBt67Fg4/hZbZ+m+5BMzVWWdtZIdHUIGJjew==",
    ]
    .join("\n");
    let keys = [
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             DEK-Info: DES-EDE3-CBC,932256E9ACCDC996\n\n{body}\n-----END RSA PRIVATE KEY-----\n"
        ),
        format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: backup\n\n\
             {body}\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n"
        ),
    ];
    let pieces = ["wav+t55gSrsCnvge", "2vZDu2vTOeq7QbNm", "3kzlM0tz9/Rm4bYt"];
    for key in &keys {
        let text = format!("$ cat server.key\n{key}after the key\n");
        let json = serde_json::json!({"type": "user", "content": key.clone() + "after the key"})
            .to_string()
            + "\n";
        for text in [&text, &json] {
            for cut in [text.len(), 64, 7, 1] {
                let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
                let (out, _) = run(&rules_with(&[]), &chunks);
                let out = String::from_utf8(out).unwrap();
                for p in pieces {
                    assert!(!out.contains(p), "{p} in chunks of {cut}:\n{out}");
                }
                assert!(out.contains("after the key"), "{out}");
            }
        }
    }
    // Armour-like lines after a header with no body after them are text.
    let text = "-----BEGIN RSA PRIVATE KEY-----\nVersion: 1.2\nthis is not a key body\n";
    assert!(red(text).contains("this is not a key body"));
}

/// A value after `NAME: ` that holds or ends in `=` (base64's padding of a 32-byte key, Vault's
/// dev server's `Unseal Key: …=`): the `=` was taken for a type annotation's (`API_KEY: Final
/// = "…"`), and the value for a type.
#[test]
fn a_value_with_an_equals_sign_after_a_colon_is_redacted() {
    each_redacted_as(
        &[
            "password: @@",
            "secret: @@",
            "  client_secret: @@",
            "Unseal Key: @@",
            "    12\u{2192}  api_key: @@",
            "API Key: @@",
            "password: @@",
        ],
        |i| match i {
            6 => "ab=Zq8wLmN3pX00vR".to_string(),
            _ => format!("Zx9pQ2rT7vW4yB1nM8kL5jH3gF6dS0aPqRsTuVwX{i:02}="),
        },
    );
    // Type annotations keep their meaning: a typed constant of another kind, a lookup.
    each_kept(&[
        "api_key: str = os.environ[\"API_KEY\"]",
        "pub const SIGNING_KEY_ERROR: WIN32_ERROR = 9104u32;",
        "token: Optional[str] = None",
    ]);
}

/// A quoted password led by a symbol (`"!Q2w#E4rT5"`, `'*Secret123x'`): a value starting with
/// `!`, `#`, `*`, `&`, `?`, `%`, `=` or `@` was taken for a comment, a pointer, a variable or a
/// placeholder, in quotes too. Templates and variables in quotes stay what they are.
#[test]
fn a_quoted_password_led_by_a_symbol_is_redacted() {
    each_redacted_as(
        &[
            "\"password\": \"@@\"",
            "DB_PASSWORD='@@'",
            "password = \"@@\"",
            "  \"client_secret\": \"@@\",",
            "password: \"@@\"",
            "\"password\": \"@@\"",
            "\"password\": \"@@\"",
            "\"password\": \"@@\"",
            "\"password\": \"@@\"",
        ],
        |i| {
            [
                "!Q2w#E4rT5",
                "*Secret123x",
                "&Secret123x",
                "?Secret123x",
                "%Secret123x",
                "#Secret123x",
                "=Secret123x",
                "@Secret1!x",
                // Letters in both cases: no Perl array's name.
                "@Secret123x",
            ][i]
                .to_string()
        },
    );
    each_kept(&[
        "\"password\": \"%(db_password)s\"",
        "\"password\": \"#{db_password1}\"",
        "\"password\": \"%DB_PASSWORD1%\"",
        "\"password\": \"@db_password1\"",
        "\"password\": \"@DB_PASSWORDS1\"",
        "\"password\": \"${DB_PASSWORD1}\"",
        "\"password\": \"!important\"",
        "\"password\": \"***hidden123\"",
        "\"token\": \"?page=2&size=10\"",
        "password: !secret db_password1",
        "password: *default_password1",
    ]);
}

/// Claude telling how to log in: `with password `…`` (a code span after `with password`), and
/// a password given after a user (`log in with username admin and password …`).
#[test]
fn a_password_claude_gives_after_with_or_after_a_user_is_redacted() {
    each_redacted(&[
        "I have created the admin user with password `@@`.",
        "You can log in with username admin and password @@.",
        "Log in with the user `admin` and password `@@`",
        "Use the username admin and password @@ to sign in.",
        "Log in with user admin, password @@.",
    ]);
    each_kept(&[
        "log in with username and password authentication",
        "with user admin and password protection",
        "user admin, password protection enabled",
        "For each user, password rotation happens monthly",
        "We compared username and password fields",
    ]);
}

/// MySQL's first start logs its temporary root password, which holds any symbol
/// (`grep 'temporary password' /var/log/mysqld.log`): the value ended at its `;` and the line
/// went out whole.
#[test]
fn mysqls_temporary_root_password_is_redacted() {
    let line = "2026-12-06T05:00:00.000000Z 6 [Note] [MY-010454] [Server] A temporary password \
                is generated for root@localhost: @@";
    each_redacted_as(
        &[
            line,
            "[Note] A temporary password is generated for root@localhost: @@",
        ],
        |i| ["k7#Qm2;Xp9vL", "w<e,r;T5yU>i"][i].to_string(),
    );
    let secret = "k7#Qm2;Xp9vL";
    let text = format!(
        "{}\n{}\n",
        bash_call(
            "toolu_01MysqlTemporaryPass00",
            "sudo grep 'temporary password' /var/log/mysqld.log"
        ),
        bash_result(
            "toolu_01MysqlTemporaryPass00",
            &format!("{}\n", line.replace("@@", secret))
        )
    );
    let out = red(&text);
    assert!(!contains(out.as_bytes(), secret), "{out}");
}

/// Class 3: After a strong keyword a capitalised word is a secret, not a type name.
#[test]
fn capitalised_words_after_strong_keywords() {
    for (line, secret) in [
        (
            "password=Correcthorsebatterystaple",
            "Correcthorsebatterystaple",
        ),
        ("DB_PASSWORD=Welcome", "Welcome"),
        ("Bearer Abcdefghijklmnopqrst", "Abcdefghijklmnopqrst"),
        ("postgres://admin:Hunterhunter@db:5432/app", "Hunterhunter"),
        ("deploy --token Sesameopen", "Sesameopen"),
    ] {
        let out = red(&format!("{line}\n"));
        assert!(!out.contains(secret), "{line:?} -> {out:?}");
    }
}

/// Class 3, words in CamelCase: a passphrase of capitalised words run together
/// (`CorrectHorseBatteryStaple`) was taken for a type name (`token: SecretString`) after every
/// strong name, in quotes, after an environment name, a flag and `=` too. A type stands only
/// where code annotates a name, and there it ends in a type's word.
#[test]
fn camel_case_passphrases_are_not_type_names() {
    let secret = "CorrectHorseBatteryStaple";
    for line in [
        "DB_PASSWORD=@@",
        "export DB_PASSWORD=@@",
        "PGPASSWORD=@@ psql -h db -U app",
        "POSTGRES_PASSWORD: @@",
        "      - POSTGRES_PASSWORD=@@",
        "\"password\": \"@@\",",
        "password = '@@'",
        "password=@@",
        "signing.password=@@",
        "spring.datasource.password=@@",
        "deploy --password @@",
        "deploy --password=@@",
        "password: @@",
        "  password: @@",
        "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"content\":\"DB_PASSWORD=@@\\n\"}]}}",
    ] {
        let line = line.replace("@@", secret);
        let out = red(&format!("{line}\n"));
        assert!(!out.contains(secret), "{line:?} -> {out:?}");
    }
    // Code annotating a secret's name with its type, and placeholders, stay as they are.
    for line in [
        "password: SecretStr",
        "    token: SecretString,",
        "    pub password: SecretString,",
        "let key: SigningKey = SigningKey::generate(&mut rng);",
        "fn serve(token: CancellationToken) {",
        "secret: StaticSecret,",
        "type Token = SecretString;",
        "password = SecretStr",
        "\"password\": \"YourPassword\"",
        "password=YourPasswordHere",
    ] {
        assert_eq!(red(&format!("{line}\n")), format!("{line}\n"));
    }
}

/// Class 4: Environment names in any case and spelling, and user-configured names and globs.
#[test]
fn environment_names_in_every_spelling() {
    let env = [
        ("PGPASSWORD", "pg-Value-0001"),
        ("MYSQL_PWD", "my-Value-0002"),
        ("DB_PASS", "db-Value-0003"),
        ("SECRET_KEY_BASE", "rails-Value-0004"),
        ("GITHUB_PAT", "pat-Value-0005"),
        ("SENTRY_DSN", "https://f00dfeed@o1.ingest.sentry.io/42"),
        ("SLACK_WEBHOOK_URL", "https://hooks.example.com/T0/B0/abc"),
        ("CLIENT_SECRET_VALUE", "client-Value-0006"),
        ("PASSWORD", "bare-Value-0007"),
        ("TOKEN", "bare-Value-0008"),
        ("SECRET", "bare-Value-0009"),
        ("APIKEY", "bare-Value-0010"),
        ("db_password", "lower-Value-0011"),
        ("Api_Key", "mixed-Value-0012"),
        ("ACME_THING", "glob-Value-0013"),
    ];
    let env_map: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = format!("{DEFAULT_CONFIG}\nenv acme_*\n");
    let rules = Arc::new(Rules::from_config(&config, &env_map, Vec::new()).unwrap());
    for (name, value) in env {
        for line in [
            format!("{name}={value}\n"),
            format!("echo {value}\n"),
            format!("{{\"text\":\"{}\"}}\n", value.replace('/', "\\/")),
        ] {
            let (out, _) = run(&rules, &[line.as_bytes()]);
            assert!(
                !contains(&out, value),
                "{name}: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
    // Printed as `name=value`, without being in the environment.
    for line in [
        "PGPASSWORD=Pg5ecret99",
        "MYSQL_PWD=My5ecret99",
        "DB_PASS=Db5ecret99",
        "SECRET_KEY_BASE=0a1b2c3d4e5f6a7b",
        "GITHUB_PAT=Gh5ecret99xx",
        "db_password=lower5ecret",
        "Api_Key=Mixed5ecret99",
        "APIKEY=Bare5ecret99",
    ] {
        let value = line.split('=').nth(1).unwrap();
        let out = red(&format!("{line}\n"));
        assert!(!out.contains(value), "{line:?} -> {out:?}");
    }
}

/// Class 6, encodings: JSON-escaped tab, two and three levels of JSON escaping, XML, YAML, .netrc and
/// `Authorization: Basic`.
#[test]
fn encodings_of_context_secrets() {
    let secret = "Zx9-Qw8-Er7-Ty6";
    let mut lines = vec![
        format!(r#"{{"text":"token:\t{secret}"}}"#),
        format!("<password>{secret}</password>"),
        // Windows' answer file (`autounattend.xml`): the value in a `<Value>` element.
        format!("<Password><Value>{secret}</Value><PlainText>true</PlainText></Password>"),
        format!("<AdministratorPassword><Value>{secret}</Value></AdministratorPassword>"),
        format!("password: \"{secret}\""),
        format!("machine api.example.com login me password {secret}"),
        format!(
            "Authorization: Basic {}",
            "ZGVwbG95OlNlc2FtZW9wZW4xMjM0NQ=="
        ),
    ];
    let mut text = format!("password={secret}");
    for _ in 0..3 {
        text = serde_json::to_string(&format!("run: {text}")).unwrap();
        lines.push(format!("{{\"content\":{text}}}"));
    }
    for line in lines {
        let out = red(&format!("{line}\n"));
        assert!(
            !out.contains(secret) && !out.contains("ZGVwbG95OlNlc2FtZW9wZW4xMjM0NQ"),
            "{line:?} -> {out:?}"
        );
        assert!(out.contains(REDACTED), "{line:?}");
    }
}

/// Class 7: a secret seen once in context is redacted wherever it appears again, in any encoding, in
/// any stream of the run.
#[test]
fn learned_secrets_are_redacted_when_repeated_bare() {
    let rules = rules_with(&[]);
    let secret = "Lrn-Secret/Value+42";
    let (out, _) = run(&rules, &[format!("password={secret}\n").as_bytes()]);
    assert!(!contains(&out, secret));
    let url = secret.replace('/', "%2F").replace('+', "%2B");
    let b64 = {
        use std::io::Write;
        let mut v = Vec::new();
        write!(v, "{secret}").unwrap();
        base64_no_pad(&v)
    };
    let split = "Lrn-Sec\x1b[31mret/Value+42";
    for later in [
        format!("echo {secret}"),
        format!("url={url}"),
        format!("b64 {b64}"),
        split.to_string(),
        format!(
            "{{\"t\":{}}}",
            serde_json::to_string(&format!("x {secret}")).unwrap()
        ),
    ] {
        // A second redactor of the same run (another stream) learns it too.
        let (out, counts) = run(&rules, &[format!("{later}\n").as_bytes()]);
        let visible = String::from_utf8_lossy(&out).replace("\x1b[31m", "");
        assert!(
            !visible.contains(secret) && !visible.contains(&url) && !visible.contains(&b64[..16]),
            "{later:?} -> {visible:?}"
        );
        assert_eq!(counts.get("learned_value"), Some(&1), "{later:?}");
    }
    assert!(rules.learned_count() >= 1);
}

/// Over-redaction: short known values, prose and code that name a secret.
#[test]
fn short_values_prose_and_code_stay_intact() {
    let rules = rules_with(&[("CACHE_KEY", "session")]);
    assert_eq!(rules.too_short(), ["CACHE_KEY"]);
    let init = r#"{"type":"system","subtype":"init","session_id":"4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c","tools":["Bash"]}"#;
    let (out, _) = run(&rules, &[format!("{init}\nsession started\n").as_bytes()]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{init}\nsession started\n")
    );
    for line in [
        "Use bearer authentication for the API.",
        "error: invalid token: expired",
        "secret_key = os.environ['SECRET_KEY']",
        "git clone https://github.com/acme/sk-learn-tutorial-notebooks-2024",
        "password: String,",
        "let token = args.token.clone();",
        "The password is stored in the keychain.",
        "    pub api_key: Option<String>,",
        "export PASSWORD=$DB_PASSWORD",
        "tests/test_auth.py:41: KeyError",
    ] {
        assert_eq!(red(&format!("{line}\n")), format!("{line}\n"), "{line:?}");
    }
}

/// Leak class 6, first appearance encoded: a secret whose first copy is percent-encoded (a query
/// string, a form body, a URL's user-info) is found in the decoded text and replaced in the
/// encoded one, escapes included; nothing had to teach it first.
#[test]
fn secrets_first_seen_percent_encoded() {
    let ghp = "ghp_Q7mZk2Lx9Rb4Tn8Vw3Yc6Hd1Jf5Gs0Pa2Ke7";
    let aws = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzq9Lk4Tn8V";
    let slack = "xoxb-123456789012-1234567890123-Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("GET /cb?client_secret={}&x=1", percent_all(aws)),
            aws,
        ),
        (format!("https://host/x?q={}&page=2", percent_all(ghp)), ghp),
        (
            format!("curl 'https://h/hook?t={}'", percent_all(slack)),
            slack,
        ),
        (
            format!(
                "POST body: user=bob&password={}",
                percent_all("p@ss/w0rd!Zq9x")
            ),
            "p@ss/w0rd!Zq9x",
        ),
        (
            format!(
                "connect {}",
                "postgres://admin:p%40ssW0rd%21xyz@db.internal:5432/app"
            ),
            "p%40ssW0rd%21xyz",
        ),
        // The whole assignment encoded, keyword and all, and encoded twice.
        (
            format!(
                "redirect=%2Fnext%3F{}",
                percent_all(&format!("GITHUB_TOKEN={ghp}"))
            ),
            ghp,
        ),
        (
            format!(
                "next={}",
                percent_all(&percent_all(&format!("aws_secret_access_key={aws}")))
            ),
            aws,
        ),
    ];
    let rules = rules_with(&[]);
    for (line, secret) in &cases {
        let (out, counts) = run(&rules, &[format!("{line}\n").as_bytes()]);
        let out = String::from_utf8(out).unwrap();
        for enc in [
            secret.to_string(),
            percent_all(secret),
            percent_all(&percent_all(secret)),
        ] {
            for piece in enc.as_bytes().windows(12.min(enc.len())) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!out.contains(piece), "{line:?} -> {out:?} leaks {piece:?}");
            }
        }
        assert!(out.contains(REDACTED) && !counts.is_empty(), "{line:?}");
    }
    // Learned from its encoded first appearance: the bare value later is redacted too.
    let (out, _) = run(
        &rules,
        &[
            b"login?password=Tr0ub4dor%26Zq%2F9x\n",
            b"echo Tr0ub4dor&Zq/9x\n",
        ],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "login?password=[REDACTED]\necho [REDACTED]\n"
    );
}

/// Leak class 6, first appearance in base64: a config fragment, a Kubernetes Secret's `data:`,
/// a `.dockerconfigjson` (base64 inside base64), an `.npmrc`, a JWT's payload. The whole base64
/// run is replaced, and the secret found inside it is learned.
#[test]
fn secrets_first_seen_in_base64() {
    use base64::Engine;
    let url_safe = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let std_pad = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let ghp = "ghp_Q7mZk2Lx9Rb4Tn8Vw3Yc6Hd1Jf5Gs0Pa2Ke7";
    let npm = "npm_Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg9Fe8Dc7B";
    let pw = "Tr0ub4dor-Zq9x-Lk4";
    let docker = format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
        std_pad(format!("octocat:{ghp}").as_bytes())
    );
    let cases: Vec<(String, String, &str)> = vec![
        (
            std_pad(format!("GITHUB_TOKEN={ghp}\n").as_bytes()),
            String::new(),
            ghp,
        ),
        (
            format!(
                "  DB_CONFIG: {}",
                std_pad(format!("host=db user=app password={pw}").as_bytes())
            ),
            "  DB_CONFIG: ".into(),
            pw,
        ),
        (
            format!("  .dockerconfigjson: {}", std_pad(docker.as_bytes())),
            "  .dockerconfigjson: ".into(),
            ghp,
        ),
        (
            format!(
                "  .npmrc: {}",
                std_pad(
                    format!("//registry.npmjs.org/:_authToken={npm}\nalways-auth=true\n")
                        .as_bytes()
                )
            ),
            "  .npmrc: ".into(),
            npm,
        ),
        (
            format!(
                "Authorization: Basic {}",
                std_pad(format!("deploy:{pw}").as_bytes())
            ),
            "Authorization: Basic ".into(),
            pw,
        ),
        (
            format!(
                "cookie={}.{}.c2lnbmF0dXJlLWJ5dGVz",
                url_safe(br#"{"alg":"HS256","typ":"JWT"}"#),
                url_safe(format!(r#"{{"sub":"ci","npm":"{npm}"}}"#).as_bytes())
            ),
            "cookie=".into(),
            npm,
        ),
    ];
    let rules = rules_with(&[]);
    for (line, kept, secret) in &cases {
        let (out, _) = run(&rules, &[format!("{line}\n").as_bytes()]);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(kept.as_str()) && out.contains(REDACTED),
            "{line:?} -> {out:?}"
        );
        for piece in secret.as_bytes().windows(12) {
            assert!(
                !out.contains(std::str::from_utf8(piece).unwrap()),
                "{line:?}"
            );
        }
        // Nothing of the base64 run is left either.
        let run_text = &line[kept.len()..];
        for piece in run_text.as_bytes().windows(16) {
            assert!(
                !out.contains(std::str::from_utf8(piece).unwrap()),
                "{line:?} -> {out:?}"
            );
        }
    }
    // Learned from its base64 first appearance: printed bare later, it is redacted.
    let first = std_pad(format!("DB_PASSWORD={pw}").as_bytes());
    let (out, counts) = run(
        &rules_with(&[]),
        &[format!("{first}\nretrying with {pw} now\n").as_bytes()],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "[REDACTED]\nretrying with [REDACTED] now\n"
    );
    assert_eq!(counts.get("learned_value"), Some(&1), "{counts:?}");
}

/// Encoded text without a secret stays as it is: URLs with escapes, base64 of prose, images,
/// integrity strings, hashes, UUIDs.
#[test]
fn encoded_text_without_a_secret_is_left_alone() {
    let prose = base64_no_pad(b"The quick brown fox jumps over the lazy dog, again and again.");
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    for line in [
        "GET /search?q=rust%20redaction%20speed&lang=en 200".to_string(),
        "open https://example.com/a%2Fb/c%3Fd?x=%E2%9C%93".to_string(),
        "progress: 100% done, 45%|####".to_string(),
        format!("echo {prose} | base64 -d"),
        format!("<img src=\"data:image/png;base64,{png}\">"),
        "\"integrity\": \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"".to_string(),
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c".to_string(),
    ] {
        assert_eq!(red(&format!("{line}\n")), format!("{line}\n"), "{line:?}");
    }
}

/// A value learned on one line is redacted on the next even when both arrive in one chunk.
#[test]
fn a_value_learned_is_redacted_later_in_the_same_chunk() {
    let (out, _) = run(
        &rules_with(&[]),
        &[b"password=Zq9-Lrn-Same-Chunk\nthen Zq9-Lrn-Same-Chunk again\n"],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "password=[REDACTED]\nthen [REDACTED] again\n"
    );
}

/// A session cookie is a credential: in `Cookie` and `Set-Cookie` headers (curl -v, HTTP logs)
/// its value goes, the header's other cookies and attributes stay.
#[test]
fn session_cookies_are_redacted_in_cookie_headers() {
    let cases = [
        (
            "Set-Cookie: session=Sup3rS3cretC1abcdefgh; Path=/; HttpOnly",
            "Set-Cookie: session=[REDACTED]; Path=/; HttpOnly",
        ),
        (
            "> Cookie: theme=dark; sessionid=Sup3rS3cretC2abcdefgh; lang=en",
            "> Cookie: theme=dark; sessionid=[REDACTED]; lang=en",
        ),
        (
            "< set-cookie: JSESSIONID=9F8E7D6C5B4A39281716; Path=/app",
            "< set-cookie: JSESSIONID=[REDACTED]; Path=/app",
        ),
        (
            "cookie: _myapp_session=eyJhbGciOiJIUzI1NiJ9abcdef012345",
            "cookie: _myapp_session=[REDACTED]",
        ),
        (
            "Cookie: connect.sid=s%3AAbCdEfGh12345678.XyZ",
            "Cookie: connect.sid=[REDACTED]",
        ),
        (
            "Cookie: sessionid=AAAA1111bbbb2222; theme=dark; _app_session=BBBB2222cccc3333",
            "Cookie: sessionid=[REDACTED]; theme=dark; _app_session=[REDACTED]",
        ),
        // Given to curl: `-b`, `--cookie`.
        (
            "curl -b \"sessionid=Sup3rS3cretC3abcdefgh\" https://app.example.com/api/me",
            "curl -b \"sessionid=[REDACTED]\" https://app.example.com/api/me",
        ),
        (
            "curl --cookie 'theme=dark; _shop_session=Sup3rS3cretC4abcdefgh' https://shop.example",
            "curl --cookie 'theme=dark; _shop_session=[REDACTED]' https://shop.example",
        ),
        (
            "curl -s -b session=Sup3rS3cretC5abcdefgh https://x.example/",
            "curl -s -b session=[REDACTED] https://x.example/",
        ),
        // Session ids and tokens named with a separator (Rails' `_session_id`, NextAuth's
        // `session-token` under its `__Secure-` prefix), and the framework cookies that hold a
        // signed-in user (ASP.NET's, WordPress').
        (
            "Cookie: theme=dark; _session_id=8f7e6d5c4b3a29180716f5e4",
            "Cookie: theme=dark; _session_id=[REDACTED]",
        ),
        (
            "< Set-Cookie: session_id=Sup3rS3cretC6abcdefgh; Path=/; HttpOnly",
            "< Set-Cookie: session_id=[REDACTED]; Path=/; HttpOnly",
        ),
        (
            "Cookie: __Secure-next-auth.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..Xk82",
            "Cookie: __Secure-next-auth.session-token=[REDACTED]",
        ),
        (
            "set-cookie: .AspNetCore.Cookies=CfDJ8Nq82mLz0Xk9pWv3TyR7; path=/; secure",
            "set-cookie: .AspNetCore.Cookies=[REDACTED]; path=/; secure",
        ),
        (
            "Cookie: .ASPXAUTH=9F8E7D6C5B4A39281716F5E4D3C2B1A0",
            "Cookie: .ASPXAUTH=[REDACTED]",
        ),
        (
            "Cookie: wordpress_logged_in_5c016e8f0f95f039102cbe8366c5c7f3=admin%7C1700000000%7CXk82mLq0",
            "Cookie: wordpress_logged_in_5c016e8f0f95f039102cbe8366c5c7f3=[REDACTED]",
        ),
        (
            "curl -b \"sess_id=Sup3rS3cretC7abcdefgh\" https://app.example.com/api/me",
            "curl -b \"sess_id=[REDACTED]\" https://app.example.com/api/me",
        ),
        // A cookie that only names a session's setting stays.
        (
            "Set-Cookie: session_timeout=3600000000; Path=/",
            "Set-Cookie: session_timeout=3600000000; Path=/",
        ),
        // Not a session: preferences, analytics; a cookie named alike in prose; `-b` of
        // another command.
        (
            "curl -b \"theme=dark\" https://x.example/",
            "curl -b \"theme=dark\" https://x.example/",
        ),
        (
            "git checkout -b session-timeouts && git push -u origin session=draft",
            "git checkout -b session-timeouts && git push -u origin session=draft",
        ),
        (
            "Cookie: theme=dark; lang=en-GB",
            "Cookie: theme=dark; lang=en-GB",
        ),
        (
            "the session=abc123def456ghi789 line is not a header",
            "the session=abc123def456ghi789 line is not a header",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(red(line), want, "{line}");
    }
}

/// A secret's name given as data and its value in the field beside it: Kubernetes and ECS
/// environment lists (`{"name": "DB_PASSWORD", "value": "…"}`, `- {name: X, value: …}`),
/// CloudFormation parameters.
#[test]
fn a_value_beside_a_secrets_name_given_as_data_is_redacted() {
    let cases = [
        (
            r#"{"name": "DB_PASSWORD", "value": "Sup3rS3cretD1"}"#,
            r#"{"name": "DB_PASSWORD", "value": "[REDACTED]"}"#,
        ),
        (
            r#""environment": [{"name": "API_TOKEN", "value": "Sup3rS3cretD2x"}, {"name": "LOG_LEVEL", "value": "debug"}]"#,
            r#""environment": [{"name": "API_TOKEN", "value": "[REDACTED]"}, {"name": "LOG_LEVEL", "value": "debug"}]"#,
        ),
        (
            "        - {name: DB_PASSWORD, value: Sup3rS3cretD4}",
            "        - {name: DB_PASSWORD, value: [REDACTED]}",
        ),
        (
            r#"{"ParameterKey": "DbPassword", "ParameterValue": "Sup3rS3cretD5"}"#,
            r#"{"ParameterKey": "DbPassword", "ParameterValue": "[REDACTED]"}"#,
        ),
        // A name about a secret, or a value that is a reference: not a secret.
        (
            r#"{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}"#,
            r#"{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}"#,
        ),
        (
            r#"{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}"#,
            r#"{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}"#,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(red(line), want, "{line}");
    }
}

/// The block form of a name given as data: `- name: DB_PASSWORD`, then `value: …` on the next
/// line (`kubectl get deploy -o yaml`), whole or cut anywhere, the value's line arriving late.
#[test]
fn a_value_on_the_line_after_a_secrets_name_given_as_data_is_redacted() {
    let text = "        env:\n        - name: LOG_LEVEL\n          value: debug\n        - name: DB_PASSWORD\n          value: Sup3rS3cretE1\n        - name: API_TOKEN\n          value: \"Sup3rS3cretE2x\"\n        - name: DB_PASSWORD_FILE\n          value: /run/secrets/db\n        - name: PGPASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: db\n";
    let want = text
        .replace("Sup3rS3cretE1", REDACTED)
        .replace("Sup3rS3cretE2x", REDACTED);
    for size in [text.len(), 1, 7, 40] {
        let rules = rules_with(&[]);
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
        let (out, counts) = run(&rules, &chunks);
        assert_eq!(String::from_utf8(out).unwrap(), want, "chunks of {size}");
        assert_eq!(counts.values().sum::<u64>(), 2, "{counts:?}");
    }
    // The name's line is the stream's last: nothing follows, nothing is held for ever.
    let (out, _) = run(&rules_with(&[]), &[b"- name: DB_PASSWORD\n"]);
    assert_eq!(out, b"- name: DB_PASSWORD\n");
}

/// A URL's password with no user name before it (`redis://:PASSWORD@host`, as Redis clients
/// and Celery print their broker URL).
#[test]
fn a_url_password_without_a_user_is_redacted() {
    assert_eq!(
        red("broker: redis://:Sup3rS3cretF8@redis:6379/0"),
        format!("broker: redis://:{REDACTED}@redis:6379/0")
    );
    assert_eq!(
        red("rediss://:Sup3rS3cretF9@cache.example.com:6380"),
        format!("rediss://:{REDACTED}@cache.example.com:6380")
    );
    // No password: a port, an empty user-info.
    assert_eq!(red("redis://localhost:6379/0"), "redis://localhost:6379/0");
}

/// After `- name: DB_PASSWORD`, a next line that does not end is not waited for without bound:
/// output goes on (a flood with no newline after such a line must not pile up in memory).
#[test]
fn a_name_given_as_data_holds_back_a_bounded_amount() {
    let rules = rules_with(&[]);
    let mut r = Redactor::new(Arc::clone(&rules));
    let mut out = Vec::new();
    r.push(b"- name: DB_PASSWORD\n", &mut out);
    let flood = vec![b'a'; 1 << 20];
    r.push(&flood, &mut out);
    assert!(
        out.len() > 512 * 1024,
        "only {} bytes out of 1 MiB after the name's line",
        out.len()
    );
    r.finish(&mut out);
    assert_eq!(out.len(), 20 + (1 << 20));
}

/// The block form inside a JSON string, as Claude's stream-json carries a tool's output
/// (`kubectl get pod -o yaml` read by the Bash tool): the lines are one line with `\n` escapes.
#[test]
fn a_value_after_a_secrets_name_given_as_data_inside_stream_json_is_redacted() {
    let line = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"spec:\n  containers:\n  - env:\n    - name: DB_PASSWORD\n      value: Sup3rS3cretH1\n    - name: LOG_LEVEL\n      value: debug\n"}]}}"#;
    let want = line.replace("Sup3rS3cretH1", REDACTED);
    assert_eq!(red(line), want);
}

/// A Dockerfile's `ENV NAME VALUE` (the older form without `=`, also in `docker build` and
/// `docker history` output) and a Makefile's `NAME ?= VALUE`.
#[test]
fn dockerfile_env_and_makefile_defaults_are_redacted() {
    let cases = [
        (
            "ENV DB_PASSWORD Sup3rS3cretJ5",
            "ENV DB_PASSWORD [REDACTED]",
        ),
        (
            "Step 4/9 : ENV API_TOKEN Sup3rS3cretJ6x",
            "Step 4/9 : ENV API_TOKEN [REDACTED]",
        ),
        ("DB_PASSWORD ?= Sup3rS3cretK7", "DB_PASSWORD ?= [REDACTED]"),
        // Not a secret's name, or not the instruction.
        ("ENV LOG_LEVEL debug", "ENV LOG_LEVEL debug"),
        (
            "the ENV PASSWORD variable must be set",
            "the ENV PASSWORD variable must be set",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(red(line), want, "{line}");
    }
}

/// Each line of `cases` redacted on its own, the secret (`@@` in the line) gone and the rest
/// as written.
fn each_redacted(cases: &[impl AsRef<str>]) {
    each_redacted_as(cases, |i| format!("Zq8wLmN3pX{i:02}vR"));
}

/// [`each_redacted`] with the secret `secret(i)` for case `i`.
fn each_redacted_as(cases: &[impl AsRef<str>], secret: impl Fn(usize) -> String) {
    let mut leaks = Vec::new();
    for (i, line) in cases.iter().enumerate() {
        let secret = secret(i);
        let line = line.as_ref().replace("@@", &secret);
        let out = red(&line);
        if contains(out.as_bytes(), &secret) || out != line.replace(&secret, REDACTED) {
            leaks.push(format!("{line}\n   -> {out}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {}:\n{}",
        leaks.len(),
        cases.len(),
        leaks.join("\n")
    );
}

/// [`each_redacted_as`] of `(line, secret)` pairs.
fn each_redacted_with(cases: &[(&str, &str)]) {
    let lines: Vec<&str> = cases.iter().map(|(l, _)| *l).collect();
    each_redacted_as(&lines, |i| cases[i].1.to_string());
}

/// Lines that hold no secret: each goes out as it came.
fn each_kept(lines: &[&str]) {
    for line in lines {
        assert_eq!(red(line), *line);
    }
}

/// `cases` as they are, and each without any of `unsafe_chars` (which the wrapping does not
/// escape) also as a Bash call's command in Claude's stream-json and inside a tool's output
/// (`output` places it among the output's lines).
fn with_stream_json(
    cases: &[&str],
    unsafe_chars: &[char],
    output: impl Fn(&str) -> String,
) -> Vec<String> {
    let mut all: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    for c in cases.iter().filter(|c| !c.contains(unsafe_chars)) {
        all.push(format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","name":"Bash","input":{{"command":"{c}"}}}}]}}}}"#
        ));
        all.push(tool_result(&output(c)));
    }
    all
}

/// `text` as Claude's own text in stream-json: one line, its line breaks escaped.
fn assistant_text(text: &str) -> String {
    let body = serde_json::to_string(text).expect("a string serialises");
    format!(r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":{body}}}]}}}}"#)
}

/// Each of `texts` as it is, then each as Claude's text in stream-json ([`assistant_text`]).
fn raw_and_in_claudes_text(texts: &[&str]) -> Vec<String> {
    let raw = texts.iter().map(|t| t.to_string());
    raw.chain(texts.iter().map(|t| assistant_text(t))).collect()
}

/// `text` as a tool's output in Claude's stream-json: one line, its line breaks escaped.
fn tool_result(text: &str) -> String {
    let body = serde_json::to_string(text).expect("a string serialises");
    format!(
        r#"{{"type":"user","message":{{"content":[{{"type":"tool_result","content":{body}}}]}}}}"#
    )
}

/// `text` as Claude Code's Read tool shows a file, each line after its number (from `first`)
/// and an arrow.
fn read_view(text: &str, first: usize) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:>6}→{l}\n", i + first))
        .collect()
}

/// A Bash tool call as Claude Code writes it in stream-json: the name right after the id
/// (`serde_json` would sort the keys), an id of `toolu_01` and 22 letters and digits.
fn bash_call(id: &str, command: &str) -> String {
    let input = serde_json::json!({"command": command, "description": "Run it"});
    format!(
        r#"{{"type":"assistant","message":{{"role":"assistant","content":[{{"type":"tool_use","id":"{id}","name":"Bash","input":{input}}}]}}}}"#
    )
}

/// The result of the Bash call `id` in stream-json.
fn bash_result(id: &str, text: &str) -> String {
    serde_json::json!({"type": "user", "message": {"role": "user", "content": [
        {"tool_use_id": id, "type": "tool_result", "content": text}]}})
    .to_string()
}

/// Commands that set a secret by name, with the value as the next argument: Windows' `setx`,
/// fish's `set -x`, csh's `setenv`, `launchctl setenv`, and the `config set` of git, npm,
/// yarn, pip, poetry and the AWS CLI.
#[test]
fn a_secret_set_by_a_command_is_redacted() {
    each_redacted(&[
        "setx DB_PASSWORD @@",
        "setx GITHUB_TOKEN @@ /M",
        "C:\\> setx API_KEY \"@@\"",
        "set -x DB_PASSWORD @@",
        "set -gx API_TOKEN @@",
        "setenv DB_PASSWORD @@",
        "launchctl setenv DB_PASSWORD @@",
        "aws configure set aws_secret_access_key @@",
        "git config --global github.token @@",
        "npm config set //registry.npmjs.org/:_authToken @@",
        "yarn config set npmAuthToken @@",
        "pip config set global.password @@",
        "poetry config pypi-token.pypi @@",
        "dotnet user-secrets set \"DbPassword\" \"@@\"",
        "mysqladmin -u root password @@",
    ]);
}

/// A secret stored under a name by a CLI, its value in a flag after the name (`gh secret set
/// NAME --body @@`, `az keyvault secret set --name NAME --value @@`), or read from a here-string.
#[test]
fn a_secret_stored_under_a_name_by_a_cli_is_redacted() {
    each_redacted(&[
        "gh secret set DB_PASSWORD --body @@",
        "gh secret set DB_PASSWORD -b @@",
        "gh secret set DEPLOY_KEY --body \"@@\"",
        "gh secret set API_TOKEN --body=@@ --repo acme/app",
        "az keyvault secret set --vault-name kv --name DbPassword --value @@",
        "aws ssm put-parameter --name /db/password --value @@ --type SecureString",
        "docker login -u deploy --password-stdin <<< \"@@\"",
        "docker login -u deploy --password-stdin <<< @@",
        "vercel env add DB_PASSWORD production <<< @@",
        "docker secret create db_pw - <<< @@",
        "gcloud secrets create db --data-file=- <<< @@",
        "echo \"@@\" | docker login --username deploy --password-stdin",
        "printf '%s' @@ | gh secret set TOKEN",
        "echo -n @@ | gh secret set DB_PASSWORD --repo acme/app",
        // As Claude's stream-json carries the command it runs.
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"gh secret set DB_PASSWORD --body @@"}}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"setx API_KEY @@"}}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"sshpass -p @@ ssh deploy@host"}}]}}"#,
    ]);
}

/// Flags and arguments that carry a password by the command's own syntax.
#[test]
fn a_password_passed_to_a_command_by_its_syntax_is_redacted() {
    each_redacted(&[
        "sshpass -p @@ ssh deploy@host",
        "keytool -list -keystore ks.jks -storepass @@",
        "jarsigner -keystore ks.jks -storepass @@ -keypass @@ app.jar alias",
        "htpasswd -b .htpasswd deploy @@",
        "htpasswd -nb deploy @@",
        "mosquitto_passwd -b /etc/mosquitto/passwd deploy @@",
        "sudo mosquitto_passwd -b passwd deploy '@@'",
        "curl --oauth2-bearer @@ https://api.example.com",
        "echo 'deploy:@@' | chpasswd",
        "chpasswd <<< 'deploy:@@'",
        "sudo chpasswd <<< deploy:@@",
        "chpasswd -c SHA512 <<< \"deploy:@@\" && echo done",
        "mkpasswd -m sha-512 @@",
        "mkpasswd --method=yescrypt '@@' && echo ok",
        "ipmitool -I lanplus -H bmc -U admin -P @@ chassis status",
        "ipmitool user set password 2 @@",
        "ipmitool user set password 3 '@@' 20",
        "isql -U sa -P @@ -S db",
        "osql -S srv -U sa -P @@",
        "p4 -u build -P @@ sync //depot/...",
        "docker login -u deploy -p @@ registry.example.com",
        "podman login -u deploy -p @@ quay.io",
        "az login -u ops@example.com -p @@",
        "cf login -a https://api.cf -u ops -p @@",
        "mongo -u app -p @@ --authenticationDatabase admin",
        "mongosh \"mongodb://db:27017\" -u app -p '@@'",
        "mongodump -u app -p @@ --db shop",
        "ldapsearch -x -D cn=admin,dc=example,dc=org -w @@ -b dc=example,dc=org",
        "ldapadd -x -D cn=admin -w '@@' -f users.ldif",
        "zip -P @@ secrets.zip notes.txt",
        "unzip -P @@ secrets.zip",
        "rabbitmqctl add_user app @@",
        "rabbitmqctl change_password app @@",
        "rabbitmqctl authenticate_user app @@",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"docker login -u deploy -p @@ ghcr.io"}}]}}"#,
    ]);
}

/// A password given to a client as `user:password` (`curl -u`, `--user`, `--proxy-user`,
/// `etcdctl --user`), and the password flags of SQL Server's tools (`sqlcmd -P`, `bcp -P`) and of `redis-cli -a`.
#[test]
fn a_password_in_a_clients_credentials_flag_is_redacted() {
    each_redacted(&[
        "curl -u deploy:@@ https://api.example.com/v1/items",
        "curl -sS -u \"deploy:@@\" https://api.example.com",
        "curl -fsSL -u 'ci-bot:@@' -o out.json https://x.example.com",
        "curl --user deploy:@@ https://api.example.com",
        "curl --user=deploy:@@ -X POST https://api.example.com",
        "curl -X POST -H 'Accept: application/json' --user deploy:@@ https://x.example.com",
        "curl -u :@@ https://api.example.com",
        "curl --proxy-user proxy:@@ -x http://proxy:3128 https://x.example.com",
        "curl -U proxy:@@ -x http://proxy:3128 https://x.example.com",
        "etcdctl --user root:@@ put /config/a b",
        "ETCDCTL_API=3 etcdctl --endpoints=https://10.0.0.1:2379 --user=admin:@@ get / --prefix",
        "kubectl exec etcd-0 -- etcdctl --user \"root:@@\" member list",
        "sqlcmd -S db.example.com -U sa -P @@ -Q \"SELECT 1\"",
        "bcp dbo.orders out orders.dat -S db -U sa -P @@ -c",
        "redis-cli -h cache -a @@ ping",
        "redis-cli -a '@@' --no-auth-warning info",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"curl -s -u deploy:@@ https://api.example.com/v1"}}]}}"#,
    ]);
}

/// An API key given to curl as the user, with an empty password or a placeholder `x`, as
/// Stripe's, Recurly's, Chargebee's, Intercom's, BambooHR's and Freshdesk's documentation
/// writes it (`curl -u KEY:`, `-u KEY:X`): the password after the colon was the only value
/// read, and the key went out whole. A user's name with no password stays (curl asks for it).
#[test]
fn an_api_key_given_to_curl_as_the_user_is_redacted() {
    let cases = [
        "curl -u @@: https://api.example.com/v1/charges",
        "curl -s -u '@@:' https://api.recurly.com/accounts",
        "curl --user @@: https://api.example.com",
        "curl --user=@@: -X POST https://api.example.com",
        "curl -u @@:x https://api.bamboohr.com/api/gateway.php/acme/v1/employees/directory",
        "curl -u @@:X https://acme.freshdesk.com/api/v2/tickets",
    ];
    let mut all: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    all.extend(
        cases
            .iter()
            .map(|c| bash_call("toolu_01CurlKeyAsUser0000000", c)),
    );
    each_redacted_as(&all, |i| format!("Zq8wLmN3pX{i:02}vRt7Ka2Bc9Dx4Ey"));
    kept_raw_and_in_a_tool_result(&[
        "curl -u deploy: https://api.example.com",
        "curl -u jane.doe@example.com: https://api.example.com",
        "curl -u ci-deploy-bot-account-user: https://api.example.com",
        "curl -u deploy:x https://api.example.com",
    ]);
}

/// What the rules above must leave alone: a user without a password (curl asks for it),
/// references, other commands' `-u`, `-a` and `-P`, and `curl` in prose.
#[test]
fn clients_given_no_password_stay_intact() {
    for line in [
        "curl -u deploy https://api.example.com",
        "curl -u deploy: https://api.example.com",
        "curl -u \"deploy:$API_TOKEN\" https://api.example.com",
        "curl -u \"$CI_USER:$CI_TOKEN\" https://api.example.com",
        "curl --user ${USER}:${PASS} https://api.example.com",
        "etcdctl --user root get /config",
        "etcdctl --user \"root:$ETCD_PASSWORD\" get /config",
        "etcdctl get /config --prefix --keys-only",
        "curl -sSfL https://sh.rustup.rs | sh -s -- -y",
        "curl -u deploy:%s https://api.example.com",
        "docker run -u 1000:1000 -v $PWD:/src builder",
        "git push -u origin main",
        "ls -a /tmp && sort -u names.txt",
        "redis-cli -a $REDIS_PASSWORD ping",
        "redis-cli -h cache ping",
        "sqlcmd -S db -U sa -P $SA_PASSWORD",
        "the curl user flag takes user:password, see the docs",
        "curl -u user:pass https://example.com",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A password given by a command's or a call's own syntax with no secret's name on the line:
/// lower-case SQL, a login call's second argument, PowerShell's plain-text secure string,
/// `smbclient`'s `USER%VALUE`, `ssh-keygen`'s passphrases, `openssl`'s `-k` and `passwd`,
/// `lftp -u USER,VALUE`, Windows' `net user NAME VALUE`; a label in any case (`api key:`),
/// Markdown's code spans and bold, tables drawn with box rules, R's `<-`, strings with a prefix
/// (`b'…'`, `f"…"`, `@"…"`).
#[test]
fn a_password_by_a_calls_or_a_tools_syntax_is_redacted() {
    each_redacted(&[
        "create user 'app'@'%' identified by '@@';",
        "alter user app identified by \"@@\";",
        "grant all on *.* to 'app'@'localhost' identified by '@@';",
        "server.login(\"me@example.com\", \"@@\")",
        "ftp.login('alice', '@@')",
        "smtp.login(user, \"@@\")",
        "    imap.login(self.username, '@@')",
        "$pw = ConvertTo-SecureString \"@@\" -AsPlainText -Force",
        "$pw = ConvertTo-SecureString -String '@@' -AsPlainText -Force",
        // (The cmdlet is no value of the variable's strong name.)
        "$password = ConvertTo-SecureString \"@@\" -AsPlainText -Force",
        "$DB_PW = ConvertTo-SecureString -String '@@' -AsPlainText -Force",
        "New-LocalUser -Name ops -Password (ConvertTo-SecureString \"@@\" -AsPlainText -Force)",
        "smbclient //files/share -U alice%@@",
        "smbclient -U 'CORP\\alice%@@' //files/share -c ls",
        "smbclient //files/share --user=alice%@@",
        "ssh-keygen -t ed25519 -N '@@' -f ~/.ssh/deploy",
        "ssh-keygen -p -N \"@@\" -f ~/.ssh/id_ed25519",
        "openssl enc -aes-256-cbc -salt -k @@ -in notes.txt -out notes.enc",
        "openssl passwd -6 '@@'",
        "openssl passwd -1 -salt x9 @@",
        "lftp -u alice,@@ sftp://files.example.com",
        "api key: @@",
        "your api key is @@",
        "API key: @@",
        "Your API key is '@@'",
        // A wallet's key as `cast wallet new` and others print it.
        "Private key: @@",
        "private key: @@",
        &tool_result(
            "Successfully created new keypair.\nAddress:     0x5B38Da6a701c568545dCfcB03FcB875f56beddC4\nPrivate key: @@\n",
        ),
        &tool_result("Created.\napi key: @@\n"),
        "  - API key: `@@`",
        "password: `@@`",
        "- **Password**: `@@`",
        "api_key <- \"@@\"",
        "echo 'db.example.com:5432:app:app:@@' > ~/.pgpass",
        "echo \"localhost:5432:*:postgres:@@\" >> ~/.pgpass && chmod 600 ~/.pgpass",
        "│ DB_PASSWORD      │ @@                 │",
        "┃ API_KEY ┃ @@ ┃",
        "║ password ║ @@ ║",
        "| API_KEY     | @@ |",
        "db_password <- '@@'",
        "app.secret_key = b'@@'",
        "SECRET_KEY = r\"@@\"",
        "requests.get(url, headers={\"Authorization\": f\"Token @@\"})",
        "string apiKey = @\"@@\";",
        "**API Key:** `@@`",
        "The token is `@@`.",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Your API key is `@@`."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The password is @@."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"- **Password**: `@@`\n- **User**: admin"}]}}"#,
        "net user alice @@ /add",
        "net user svc-deploy \"@@\" /add /domain",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"smbclient //files/share -U alice%@@ -c ls"}}]}}"#,
    ]);
}

/// What the rules above must leave alone.
#[test]
fn calls_and_tools_given_no_password_stay_intact() {
    for line in [
        "the user is identified by their email address",
        "rows are identified by 'id'",
        "server.login(user, password)",
        "smtp.login(os.environ[\"SMTP_USER\"], os.environ[\"SMTP_PASSWORD\"])",
        "await page.login()",
        "def login(self, username, password):",
        "$pw = Read-Host -AsSecureString",
        "$pw = ConvertTo-SecureString $env:DB_PASSWORD -AsPlainText -Force",
        "smbclient -L //files -U alice",
        "smbclient -N -L //files",
        "ssh-keygen -t ed25519 -N '' -f ~/.ssh/deploy",
        "ssh-keygen -t rsa -b 4096 -C ops@example.com",
        "openssl enc -aes-256-cbc -salt -k \"$PASSPHRASE\" -in a -out b",
        "openssl passwd -6 -stdin < pw.txt",
        "openssl req -new -key server.key -out server.csr",
        "openssl x509 -in cert.pem -noout -text",
        "lftp -u alice sftp://files.example.com",
        "lftp -u alice, sftp://files.example.com",
        "net user",
        "net user alice",
        "net user alice * /add",
        "net user alice /active:no",
        "planet user alice Zq8wLmN3pX99vR",
        "the api key must be set",
        "api key: required",
        "API key rotation is monthly",
        "Set the API key in .env before the first run.",
        "rapi key: value",
        "Private key saved to /home/u/.ssh/id_ed25519",
        "private key: /etc/ssl/private/server.key",
        "Private key: (sensitive value)",
        "The private key is stored encrypted.",
        "Private key file: ~/.ssh/id_rsa",
        "private key: required",
        "deprivate key: Zq8wLmN3pX99vR",
        "DB_PASSWORD=`cat /run/secrets/db`",
        "TOKEN=`uuidgen`",
        "- **Password**: `required`",
        "- **Password**: at least 12 characters",
        "the `password` field is hashed",
        "password: ``",
        "token <- ch",
        "chmod 600 ~/.pgpass && cat ~/.pgpass",
        "echo 'localhost:5432:*:postgres:*' > ~/.pgpass",
        "echo \"$PGHOST:5432:app:app:$PGPASSWORD\" > ~/.pgpass",
        "│ DB_PASSWORD      │ ********           │",
        "│ API_KEY          │ (not set)          │",
        "| API_KEY | string | The key to use |",
        "│ Name             │ Value              │",
        "if (password <- readline()) {",
        "api_key = f\"{prefix}-{suffix}\"",
        "password = b''",
        "Self::SharedSecret => b\"shared_secret\",",
        "ApiKey => \"api_key\",",
        "A fresh signing secret: `whsec_` and 256 random bits.",
        "The token is `ghp_` followed by 36 characters.",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The password is required."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Your API key is invalid."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The token is 32 characters long."}]}}"#,
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A password handed to `sudo -S`, Oracle's `sqlplus USER/VALUE@DB`, MariaDB's client,
/// `twine upload -p` (and `uv publish -p`, `conan user -p`), `mosquitto_pub -P`, `passwd
/// --stdin`, `nmcli … password`
/// and `wpa_passphrase`.
#[test]
fn a_password_handed_to_an_admin_tool_is_redacted() {
    each_redacted(&[
        "echo '@@' | sudo -S apt-get install -y nginx",
        "echo @@ | sudo -S systemctl restart app",
        "sudo -S <<< \"@@\" whoami",
        "sqlplus scott/@@@orcl",
        "sqlplus -s system/@@@//db:1521/XEPDB1 @migrate.sql",
        "sqlplus app/@@",
        "mariadb -u root -p@@ shop",
        "mariadb-dump -u root -p@@ shop > shop.sql",
        "twine upload -u __token__ -p @@ dist/*",
        "uv publish -u deploy -p @@",
        "conan user -p @@ -r internal deploy",
        "mosquitto_pub -h broker -u app -P @@ -t alerts -m hi",
        "echo @@ | passwd --stdin deploy",
        "nmcli dev wifi connect HomeNet password @@",
        "wpa_passphrase HomeNet @@",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"echo '@@' | sudo -S apt-get update"}}]}}"#,
    ]);
}

/// What the rules above must leave alone.
#[test]
fn admin_tools_given_no_password_stay_intact() {
    for line in [
        "sudo -S true < /dev/null",
        "echo $SUDO_PASSWORD | sudo -S apt-get update",
        "sudo -u postgres psql",
        "pseudo -S mode",
        "sqlplus / as sysdba",
        "sqlplus -v",
        "sqlplus scott@orcl",
        "mariadb -u root -p shop",
        "cargo login",
        "cargo login --registry internal",
        "Updating crates.io index; Running `cargo login` first",
        "twine upload dist/*",
        "uv publish --index internal",
        "conan create . -pr:h release",
        "mosquitto_sub -h broker -t alerts -v",
        "passwd deploy",
        "nmcli dev wifi list",
        "wpa_passphrase HomeNet",
        "wpa_passphrase HomeNet < pass.txt",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A password given by a database or admin client's own syntax, found through a keyword the
/// line already holds: the short flag of Neo4j's, Cassandra's, InfluxDB's and RabbitMQ's
/// clients, `ipmitool -P`, macOS' `security add-…-password -w`; a secret's name as a
/// positional argument followed by its value (`doppler secrets set NAME VALUE`, `rclone
/// config create … secret_access_key VALUE`, `consul kv put …/password VALUE`,
/// `neo4j-admin … set-initial-password VALUE`); an HTML password field's value; PyPI's
/// `__token__` user and its token; Redis' `AUTH` at `redis-cli`'s prompt.
#[test]
fn a_password_given_by_a_clients_syntax_is_redacted() {
    each_redacted(&[
        "cypher-shell -u neo4j -p @@ -a bolt://db:7687",
        "cqlsh -u cassandra -p @@ cass1 9042",
        "influx setup -u admin -p @@ -o org -b bucket -f",
        "rabbitmqadmin -u admin -p @@ list queues",
        "ipmitool -I lanplus -H 10.0.0.5 -U admin -P @@ power status",
        "security add-generic-password -a me -s svc -w @@",
        "security add-internet-password -a me -s host.example -w '@@'",
        "doppler secrets set DB_PASSWORD @@",
        "doppler secrets set API_TOKEN '@@' --project web",
        "cf set-env web-app API_TOKEN @@",
        "cf set-env web-app DB_PASSWORD '@@' && cf restage web-app",
        "rclone config create s3 s3 access_key_id AKIAEXAMPLEID secret_access_key @@",
        "rclone config update r2 secret_access_key '@@'",
        "consul kv put secret/db/password @@",
        "etcdctl put /app/prod/db_password @@",
        "neo4j-admin dbms set-initial-password @@",
        "neo4j-admin set-initial-password '@@'",
        "<input type=\"password\" name=\"pw\" value=\"@@\">",
        "<input value='@@' type='password' id='p'>",
        "poetry config http-basic.pypi __token__ @@",
        "127.0.0.1:6379> AUTH @@",
        "127.0.0.1:6379> AUTH default @@",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"cqlsh -u cassandra -p @@ db1"}}]}}"#,
        // A long flag, one dash, after a client whose `-p` takes the password: InfluxDB 1's
        // `influx -password`, PowerShell's `-Password`.
        "influx -username admin -password @@ -execute 'SHOW DATABASES'",
        "influx -password '@@'",
        "cqlsh -u cassandra -passwd @@",
        "mongosh -u admin -Password @@",
    ]);
}

/// What the rules above must leave alone.
#[test]
fn clients_and_stores_given_no_password_stay_intact() {
    for line in [
        "cypher-shell -u neo4j -p",
        "psql -h db -p 5432 -U app",
        "ssh -p 2222 deploy@host",
        "security find-generic-password -s svc -w",
        "security find-generic-password -w -s svc",
        "doppler secrets set DB_PASSWORD",
        "doppler secrets get DB_PASSWORD --plain",
        "doppler secrets set DB_PASSWORD < password.txt",
        "rclone config create s3 s3 env_auth true",
        "rclone config show",
        "consul kv get secret/db/password",
        "consul kv put secret/db/password -",
        "etcdctl get /app/prod/db_password",
        "neo4j-admin dbms set-initial-password --help",
        "<input type=\"password\" name=\"pw\" placeholder=\"Password\">",
        "<input type=\"password\" value=\"\">",
        "<input type=\"text\" value=\"hello world\">",
        "poetry config http-basic.pypi __token__",
        "AUTH required",
        "AUTH failed: invalid password",
        "127.0.0.1:6379> AUTH",
        "The AUTH command authenticates the connection.",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A password a tool prints when it makes one: MySQL's first start, Elasticsearch's setup, a
/// sentence that names the password and ends in `: VALUE` (or `is: VALUE`); a subcommand that
/// resets one (`grafana-cli admin reset-admin-password VALUE`); SMTP's `AUTH PLAIN`/`AUTH
/// LOGIN` in a client's debug output; Vault's numbered `Unseal Key N: VALUE`.
#[test]
fn a_password_a_tool_prints_or_is_given_is_redacted() {
    each_redacted(&[
        "2024-05-01T10:00:00.123456Z 6 [Note] [MY-010454] [Server] A temporary password is generated for root@localhost: @@",
        "The generated password for the elastic built-in superuser is : @@",
        "Your password is: @@",
        "Temporary password for admin: @@",
        "Generated password for user deploy: '@@'",
        "grafana-cli admin reset-admin-password @@",
        "send: 'AUTH PLAIN @@\\r\\n'",
        "AUTH LOGIN @@",
        "Unseal Key 1: @@",
        "Unseal Key 5: @@",
        "Password for the elastic user (reset with `bin/elasticsearch-reset-password -u elastic`):\n  @@",
        // `elasticsearch-reset-password` without `-s`.
        "Password for the [elastic] user successfully reset.\nNew value: @@",
        "Password for the [kibana_system] user successfully reset.\r\nNew value: @@\r\n",
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"Do you want to continue [y/N]y\n\n\nPassword for the [elastic] user successfully reset.\nNew value: @@\n"}]}}"#,
        "Your new password is:\n@@",
        "Generated root password:\n    @@",
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"Starting...\nA temporary password is generated for root@localhost: @@\nDone"}]}}"#,
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"$ ./setup\nThe generated admin password is @@\nok\n"}]}}"#,
    ]);
}

/// What the rules above must leave alone.
#[test]
fn sentences_and_tools_that_print_no_password_stay_intact() {
    for line in [
        "Password policy for domain: Default",
        "password reset for user: bob",
        "Password changed for user: alice",
        "Password expiry for user root: 2024-05-01",
        "Password length for accounts: 12",
        "Enter password for admin:",
        "[sudo] password for ubuntu: ",
        "Password for the elastic user (reset with `bin/elasticsearch-reset-password -u elastic`):",
        "Your password is: required",
        "Your password is: ********",
        "The password for the database is: ${DB_PASSWORD}",
        "Password authentication failed for user: postgres",
        "grafana-cli admin reset-admin-password --help",
        "250-AUTH PLAIN LOGIN CRAM-MD5",
        "AUTH PLAIN",
        "235 2.7.0 Authentication successful",
        "Unseal Key 1:",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The password is required and the token is optional."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The token is v2 of the API, and the password is hashed."}]}}"#,
        "Password for the elastic user (reset with `bin/elasticsearch-reset-password -u elastic`):\n  see above",
        "Enter password for admin:\nLogin succeeded",
        "Enter new password:\nRetype-Password",
        "[sudo] password for ubuntu:\nactive",
        "Your new password is:\nhidden",
        "Unseal Progress: 1/3",
        "Key 1: value",
        "Password for the [elastic] user successfully reset.\nNew value: <hidden>",
        "Password for the [elastic] user successfully reset.\nok",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A new token or secret a service shows once, after a sentence that names it and tells the
/// user to keep it, with commas, a full stop or an apostrophe before its colon (GitHub's
/// `Make sure to copy your personal access token now. You won't be able to see it again`, a
/// CLI's `Copy this token now, it won't be shown again: …`), as a terminal shows it, in
/// Claude's text and in a tool's output. After a name that is not a password's, only a value
/// shaped like a token counts (letters and digits, sixteen bytes or more).
#[test]
fn a_token_after_a_sentence_that_says_to_keep_it_is_redacted() {
    let sentences = [
        "Make sure to copy your personal access token now. You won't be able to see it again: @@",
        "Copy this token now, it won't be shown again: @@",
        "Here is your new API token, store it somewhere safe: @@",
        "Save this token somewhere safe: @@",
        "Your token will only be shown once: @@",
        "Token created. Copy it now: @@",
        "Your token, shown once: @@",
        "Copy this token now: @@",
        "Your client secret (copy it now, it will not be shown again): @@",
        "API key generated. Store it in a safe place; it won't be displayed again: @@",
        "New password set, please write it down: @@",
        "Your deploy token for project web, valid for 30 days: @@",
    ];
    let mut cases = raw_and_in_claudes_text(&sentences);
    cases.extend(
        sentences
            .iter()
            .map(|s| tool_result(&format!("created\n{s}\n"))),
    );
    each_redacted(&cases);
}

/// What the sentences above must leave alone: a word, a number, a path or a command after
/// the colon, or a value with more of the sentence after it.
#[test]
fn sentences_about_tokens_that_give_none_stay_intact() {
    kept_raw_and_in_a_tool_result(&[
        "error: invalid token: expired",
        "The token expired. Run this to log in again: gh auth login",
        "The token was rejected by the server, status: 401",
        "Token usage for this session, cached included: 123456789012345678",
        "The token is stored in the keychain, see: ~/.config/gh/hosts.yml",
        "Token endpoint for this client, as configured: https://auth.example.com/oauth/token",
        "Your token, as the docs say: YOUR_API_TOKEN_HERE",
        "The secret was rotated, new version: v2024-05-01",
        "The secret's value is not shown, run: kubectl get secret db-creds -o yaml",
        "Tokens used so far, by model: claude-sonnet-4-5-20250929",
        "Secret rotated. New version id: 3f2a9c1e-7b4d-4e8a-9f1c-2d3e4f5a6b7c",
        "Secret scanning found a token in this commit, see advisory: GHSA-5xq3-7hm2-9vfp",
    ]);
}

/// A password a tool prints alone on a line of its own after a sentence that announces it:
/// Jenkins' first start (`Please use the following password to proceed to installation:`, a
/// blank line, the password), as a terminal shows it and inside a tool's output in Claude's
/// stream-json, where the lines are one JSON string.
#[test]
fn a_password_alone_after_the_sentence_that_announces_it_is_redacted() {
    let jenkins = "Jenkins initial setup is required. An admin user has been created and a password generated.\n\
                   Please use the following password to proceed to installation:\n\
                   \n\
                   @@\n\
                   \n\
                   This may also be found at: /var/jenkins_home/secrets/initialAdminPassword";
    let cases = [
        jenkins.to_string(),
        tool_result(jenkins),
        tool_result("Your new password is:\n@@\ndone"),
        tool_result("Generated root password:\n    @@\n"),
        tool_result("A password was generated for you:\n\n@@"),
    ];
    each_redacted_as(&cases, |_| "4f1c0d2e3a5b4c6d8e9f0a1b2c3d4e5f".to_string());
    for kept in [
        "Please use the following password to proceed to installation:\n\nsee the log",
        "Enter password for admin:\n\nLogin succeeded",
        "Your new password is:\nhidden",
    ] {
        assert_eq!(red(kept), kept);
        let line = tool_result(kept);
        assert_eq!(red(&line), line);
    }
}

/// A secret given to a builder's method named for it (`.password("…")`, sqlx, JDBC and HTTP
/// clients' builders), HTTPie's `-a USER:VALUE`, and a value piped by `echo` into a command
/// that stores a secret under a name (`docker secret create`, `wrangler secret put`, `vercel
/// env add`, `gcloud secrets versions add`).
#[test]
fn a_secret_given_to_a_builder_httpie_or_a_secret_store_is_redacted() {
    each_redacted(&[
        "let opts = PgConnectOptions::new().username(\"app\").password(\"@@\");",
        "builder.user(\"admin\").password('@@').build()",
        "Client::builder().api_key(\"@@\").build()?",
        "http -a admin:@@ GET https://api.example.com/items",
        "https -a 'deploy:@@' POST example.com/hooks",
        "printf '@@' | docker secret create db_password -",
        "echo -n @@ | wrangler secret put API_KEY",
        "echo \"@@\" | vercel env add DB_PASSWORD production",
        "echo @@ | gcloud secrets versions add db-password --data-file=-",
    ]);
    for line in [
        "let pw = config.password(\"database\");",
        "opts.password(password.as_str())",
        "builder.password(&cfg.db_password)",
        "http -a admin GET https://api.example.com/items",
        "http GET https://api.example.com/items -a",
        "docker secret create db_password ./password.txt",
        "echo done | docker secret ls",
        "echo $DB_PASSWORD | vercel env add DB_PASSWORD production",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A private JSON Web Key (RFC 7517: RSA's `d`, `p`, `q`, `dp`, `dq`, `qi`, an EC or OKP
/// key's `d`, a symmetric key's `k`), in any member order, plain or inside stream-json; and a
/// pre-signed URL's signature (S3's `X-Amz-Signature`, Cloud Storage's `X-Goog-Signature`,
/// CloudFront's `Signature`), a bearer capability as Azure's `sig=` is.
#[test]
fn a_private_jwk_and_a_signed_urls_signature_are_redacted() {
    let rsa = r#"{"kty":"RSA","kid":"k1","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf","e":"AQAB","d":"X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoV","p":"83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQ","q":"3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuq","dp":"G4sPXkc6Ya9y8oJW9_ILj4xuppu0lzi_H7VTkS8xj5Sd","dq":"s9lAH9fggBsoFR8Oac2R_E2gw282rT2kGOAhvIllETE1","qi":"GyM_p5rvvGhSNnWWRVHVqMTCVo1dBQbNXJ6WpUpmz8k3"}"#;
    let out = red(rsa);
    for private in [
        "X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoV",
        "83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQ",
        "3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuq",
        "G4sPXkc6Ya9y8oJW9_ILj4xuppu0lzi_H7VTkS8xj5Sd",
        "s9lAH9fggBsoFR8Oac2R_E2gw282rT2kGOAhvIllETE1",
        "GyM_p5rvvGhSNnWWRVHVqMTCVo1dBQbNXJ6WpUpmz8k3",
    ] {
        assert!(!out.contains(private), "{out}");
    }
    // The public half stays readable.
    assert!(out.contains(r#""kty":"RSA","kid":"k1","n":"0vx7"#), "{out}");
    // Members in another order (alphabetical, as some libraries write them), pretty-printed
    // over lines, inside stream-json.
    let sorted = r#"{"crv":"P-256","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
    let out = red(sorted);
    assert!(
        !out.contains("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"),
        "{out}"
    );
    assert!(
        out.contains("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"),
        "{out}"
    );
    // `cat key.json` in a tool's output: pretty-printed, its line breaks escaped.
    let pretty = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"{\n  \"kty\": \"oct\",\n  \"k\": \"GawgguFyGrWKav7AX4VKUg4dCkRYRbEm4W6qpq1W9kM\",\n  \"alg\": \"HS256\"\n}\n"}]}}"#;
    assert!(
        !red(pretty).contains("GawgguFyGrWKav7AX4VKUg4dCkRYRbEm4W6qpq1W9kM"),
        "{}",
        red(pretty)
    );
    let okp = tool_result(
        r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    );
    assert!(
        !red(&okp).contains("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"),
        "{}",
        red(&okp)
    );

    // Signatures are longer than the 14 bytes `each_redacted` plants: the whole of one goes.
    let sig = "3f5b2e9c8a7d6f4e1b0c9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f";
    for line in [
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240501T000000Z&X-Amz-Signature=@@",
        "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=@@",
        "https://d111111abcdef8.cloudfront.net/v.mp4?Expires=1714521600&Signature=@@~abc__&Key-Pair-Id=K2JCJMDEHXQW5F",
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"url: https://b.s3.amazonaws.com/k?X-Amz-Signature=@@\n"}]}}"#,
    ] {
        let line = line.replace("@@", sig);
        let out = red(&line);
        assert!(
            !out.contains(&sig[..12]) && out.contains("Signature=[REDACTED]"),
            "{out}"
        );
    }
}

/// What the rules above must leave alone: public keys and key sets, code that reads a key's
/// members, a signature's name in prose or code.
#[test]
fn public_jwks_and_signature_names_stay_intact() {
    for line in [
        r#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf","e":"AQAB"}]}"#,
        r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#,
        r#"if jwk["kty"] == "RSA" and "d" in jwk:"#,
        "const { kty, d } = jwk;",
        "Signature=valid",
        "X-Amz-Signature=<signature>",
        "see the Signature= parameter",
        "let signature = sign(&key, body);",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// Claude's summary of what it made, in Markdown: a label in bold with words before the name
/// (`**Admin password**: …`, `- **Database password:** …`) and a table's first cell so written
/// (`| **Admin password** | … |`, `| Admin password | … |`). Only `**Password**` with nothing
/// before it and a bare name in a cell were read.
#[test]
fn qualified_labels_in_bold_and_in_a_tables_cell_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "**Admin password**: `@@`",
            "**Admin password:** `@@`",
            "- **Database password**: @@",
            "* **Root DB password:** @@",
            "| **Password** | `@@` |",
            "| **Admin password** | `@@` |",
            "| Admin password | `@@` |",
            "| Root DB password | @@ |",
        ],
        &['"'],
        |c| format!("Done. The stack is up:\n{c}"),
    ));
    each_kept(&[
        "**Note**: the admin password is required",
        "**Admin password**: see the vault",
        "| **Password** | required |",
        "| Admin password | Set in the dashboard |",
        "| the password | string |",
    ]);
}

/// What pins or identifies a key without holding it: kubeadm's join command redacted its
/// `--discovery-token-ca-cert-hash` (a name with `token` in it) as well as its token, and a
/// key's fingerprint went as a key. The token still goes.
#[test]
fn certificate_hashes_and_key_fingerprints_stay() {
    let hash = "sha256:8f14e45fceea167a5a36dedd4bea2543c9f0f895fb98ab9159f51fd0297e236d";
    let line = format!(
        "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash {hash}"
    );
    let out = red(&line);
    assert!(out.contains(hash), "{out}");
    assert!(!out.contains("0123456789abcdef "), "{out}");
    for line in [
        "SSH_KEY_FINGERPRINT=SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
        "api_key_fingerprint: 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
        "  discovery-token-ca-cert-hash: sha256:8f14e45fceea167a5a36dedd4bea2543c9f0f895fb98ab9159f51fd0297e236d",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A password set to a value in prose, as Claude reports what it did: `I've set the password
/// to `…``, `changed the admin password to …`.
#[test]
fn a_password_set_to_a_value_in_prose_is_redacted() {
    each_redacted(&[
        "I've set the password to `@@` in the config.",
        "I set the admin password to @@ for now.",
        "Changed the root password to '@@'.",
        "The script resets the DB password to @@ on every deploy.",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done: I updated the password to `@@`, restart the service to pick it up."}]}}"#,
    ]);
    for line in [
        "Set the password to expire after 90 days.",
        "Change the password to something stronger.",
        "I set the password to the value of DB_PASSWORD.",
        "reset the password to its default",
        "Set password to NULL to disable logins.",
        "Pass the password to the client as an argument.",
        "Write the password to a file with mode 0600.",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// This session's command forms inside a tool's output in stream-json, after other lines of
/// it: the keyword search reads the line as it came (`…\nipmitool …`, the escape's `n` before
/// the command's name), the rules read its view (the line breaks as blanks).
#[test]
fn client_forms_after_other_lines_of_a_tools_output_are_redacted() {
    let wrap = |cmd: &str| {
        tool_result(&format!(
            "$ date\nThu Dec  3 10:00:00 UTC 2026\n{cmd}\nok\n"
        ))
    };
    let cases: Vec<String> = [
        "ipmitool -I lanplus -H 10.0.0.5 -U admin -P @@ power status",
        "security add-generic-password -a me -s svc -w @@",
        "influx setup -u admin -p @@ -o org -b bucket -f",
        "rabbitmqadmin -u admin -p @@ list queues",
        "http -a admin:@@ GET https://api.example.com/items",
        "127.0.0.1:6379> AUTH @@",
        "Unseal Key 1: @@",
        "rclone config create s3 s3 access_key_id AKIAEXAMPLEID secret_access_key @@",
        "printf '@@' | docker secret create db_password -",
        "echo -n @@ | wrangler secret put API_KEY",
        "echo '@@' | sudo -S apt-get update",
    ]
    .iter()
    .map(|c| wrap(c))
    .collect();
    each_redacted(&cases);
}

/// A file as Claude Code's Read tool shows it in stream-json, each line after its number and
/// an arrow (`     12→`), the line breaks escaped: a Dockerfile's `ENV NAME VALUE` and a
/// Kubernetes env list's `- name: X` with `value:` on the next line, which need a line's start.
#[test]
fn forms_that_need_a_lines_start_in_a_file_the_read_tool_shows_are_redacted() {
    let read = |text: &str| {
        let numbered: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{:6}\u{2192}{l}", i + 1))
            .collect();
        tool_result(&numbered.join("\n"))
    };
    let cases: Vec<String> = [
        "FROM node:20\nENV DB_PASSWORD @@\nRUN npm ci",
        "env:\n  - name: DB_PASSWORD\n    value: @@\n  - name: LOG_LEVEL\n    value: debug",
    ]
    .iter()
    .map(|t| read(t))
    .collect();
    each_redacted(&cases);
    let benign = read("FROM node:20\nENV NODE_ENV production\nENV PATH /app/bin:$PATH");
    assert_eq!(red(&benign), benign);
}

/// Go's MySQL driver's DSN, `USER:PASSWORD@tcp(HOST:PORT)/DB`: no scheme, so not a URL's
/// user-info, and a `(` in it, so not a plausible value after a `DSN` name either.
#[test]
fn a_password_in_a_go_mysql_dsn_is_redacted() {
    each_redacted(&[
        "dsn := \"app:@@@tcp(127.0.0.1:3306)/shop?parseTime=true\"",
        "DATABASE_DSN=app:@@@tcp(db:3306)/shop",
        "db, err := sql.Open(\"mysql\", \"app:@@@tcp(127.0.0.1:3306)/shop\")",
        "db, err := gorm.Open(mysql.Open(\"root:@@@tcp(localhost:3306)/app?charset=utf8mb4\"), &gorm.Config{})",
        "MYSQL_DSN='deploy:@@@unix(/var/run/mysqld/mysqld.sock)/app'",
    ]);
    for line in [
        "db, err := sql.Open(\"mysql\", os.Getenv(\"DSN\"))",
        "dsn := fmt.Sprintf(\"%s:%s@tcp(%s)/%s\", user, pass, host, name)",
        "dsn := \"root@tcp(127.0.0.1:3306)/test\"",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A signing secret written into code as a string literal: JWT libraries' `sign`, `encode`,
/// `decode` and `verify`, Node's `createHmac`, Python's `hmac.new`.
#[test]
fn a_signing_secret_given_to_a_jwt_library_or_an_hmac_is_redacted() {
    each_redacted(&[
        "const token = jwt.sign({ id: user.id, role: 'admin' }, '@@', { expiresIn: '1h' });",
        "token = jwt.encode(payload, \"@@\", algorithm=\"HS256\")",
        "data = jwt.decode(token, '@@', algorithms=['HS256'])",
        "jwt.verify(req.headers.authorization, \"@@\", (err, decoded) => next(err))",
        "const sig = crypto.createHmac('sha256', '@@').update(body).digest('hex');",
        "sig = hmac.new(b\"@@\", body, hashlib.sha256).hexdigest()",
        "mac = hmac.new('@@'.encode(), msg, 'sha256')",
    ]);
    for line in [
        "jwt.sign(payload, process.env.JWT_SECRET, { expiresIn: '1h' })",
        "jwt.encode(payload, settings.SECRET_KEY, algorithm=\"HS256\")",
        "jwt.decode(token, options={\"verify_signature\": False})",
        "const decoded = jwt.decode(token);",
        "jwt.sign(payload, 'secret')",
        "crypto.createHmac('sha256', secret).update(body)",
        "hmac.new(key, msg, hashlib.sha256)",
        "import jwt.exceptions",
        "see jwt.io for a debugger",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// SQL that sets a password, a YAML value behind a tag or an anchor, a value assigned to a
/// subscript (`os.environ["X"] = …`), and .NET's and Java's XML key/value pairs.
#[test]
fn secrets_in_sql_yaml_tags_subscripts_and_xml_pairs_are_redacted() {
    each_redacted(&[
        "ALTER USER app WITH PASSWORD '@@';",
        "CREATE ROLE app LOGIN PASSWORD '@@';",
        "psql -c \"ALTER ROLE app PASSWORD '@@'\"",
        "alter user app with password '@@';",
        "SET PASSWORD FOR 'app'@'%' = '@@';",
        "CREATE USER 'app'@'%' IDENTIFIED BY '@@';",
        "GRANT ALL ON *.* TO 'app'@'%' IDENTIFIED BY '@@';",
        "ALTER USER 'app'@'localhost' IDENTIFIED WITH mysql_native_password BY '@@';",
        "password: !!str @@",
        "password: &dbpw @@",
        "db_password: !!str \"@@\"",
        "api_key: &key '@@'",
        "os.environ[\"OPENAI_API_KEY\"] = \"@@\"",
        "ENV['SECRET_TOKEN'] = '@@'",
        "config['db_password'] = '@@'",
        "<add key=\"ApiKey\" value=\"@@\" />",
        "<add key=\"DbPassword\" value=\"@@\"/>",
        "<entry key=\"db.password\">@@</entry>",
    ]);
}

/// What the rules above must leave alone: shell tracing, settings that hold no secret, a
/// secret's name with no value after it, references and file redirections.
#[test]
fn commands_that_name_a_secret_without_one_stay_intact() {
    for line in [
        "set -x",
        "set -euxo pipefail",
        "setx PATH \"%PATH%;C:\\tools\\bin\"",
        "setx DB_PASSWORD %DB_PASSWORD%",
        "set -x DB_PASSWORD $DB_PASSWORD",
        "git config --global user.email \"jane@example.com\"",
        "git config --get github.token",
        "git config --global credential.helper store",
        "npm config set registry https://registry.npmjs.org/",
        "aws configure set region us-east-1",
        "gh secret set DB_PASSWORD < secret.txt",
        "gh secret list",
        "az keyvault secret show --name DbPassword --vault-name kv",
        "password: *dbpw",
        // Code's borrows look like YAML anchors; a value alone to the line's end does not.
        "let form = Form { password: &mut password_input, remember: true };",
        // A secret named in prose, then a quoted command with a here-string.
        "Each secret inside replaces the whole run: `base64 <<< \"abc123def456\"`",
        "Each secret inside replaces the whole run, as base64 <<< abc123def456 shows",
        "password: !Ref DbPassword",
        "password: !vault |",
        "grep -rn password src/",
        "the password 'policy' is enforced at sign-in",
        "docker login -u deploy --password-stdin < token.txt",
        "htpasswd -c .htpasswd deploy",
        "<add key=\"LogLevel\" value=\"Information\" />",
        "<entry key=\"db.url\">jdbc:postgresql://db/app</entry>",
        "if os.environ[\"API_KEY\"] == \"\":",
        "echo \"$DB_PASSWORD\" | docker login --username x --password-stdin",
        "echo 'set the token' | gh secret set API_TOKEN < token.txt",
        "gcloud secrets list --format=json",
        "cat secrets.yaml | chpasswd",
        "mkdir -p build/out",
        "docker run -p 8080:80 nginx",
        "ssh -p 2222 deploy@host",
        "docker login -u deploy -p $REGISTRY_PASSWORD registry",
        "docker login -u deploy -p --password-stdin",
        "mongo -p",
        "CREATE USER 'app'@'%' IDENTIFIED WITH auth_socket;",
        "docker login ghcr.io && mkdir -p out",
        "ldapsearch -x -W -b dc=example,dc=org",
        "git grep -w token -P src/",
        "zip -r out.zip dist",
        "rabbitmqctl list_users",
        "rabbitmqctl add_user app",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// WordPress' keys in `wp-config.php` are 64 characters of every printable kind, blanks and
/// brackets among them (`x#4>kP9!…(cF6)`): they were taken for a call or for words and kept.
#[test]
fn secrets_of_every_printable_character_are_redacted() {
    let salads = [
        "x#4>kP9!qL2@mN8&rT1*wY5^zB3(cF6)",
        "7Hq 2Lm#9Pr@4Tw&1Yz*5Bc^3Fg(8Jk)",
        "v|7H[q!2Lm]#9Pr@4Tw&1Yz*5Bc^3Fg8;",
    ];
    let cases: Vec<String> = salads
        .iter()
        .flat_map(|_| {
            [
                "define( 'AUTH_KEY',         '@@' );",
                "define('SECURE_AUTH_KEY', '@@');",
                "AUTH_KEY='@@'",
                "\"auth_key\": \"@@\",",
            ]
        })
        .map(String::from)
        .collect();
    each_redacted_as(&cases, |i| salads[i / 4].to_string());
    // Brackets in a value that is not such a secret are still code.
    each_kept(&[
        "api_key = get_key(config[\"api\"])",
        "password = os.environ['DB_PASSWORD']",
        "token: \"see the docs (section 4)\"",
    ]);
}

/// Code that gives a secret's name and its value as arguments or declarations: PHP's
/// `define`, a default of an environment lookup, properties and headers set by name, argument
/// vectors, setters, C's `#define`, CMake's `set`, annotated declarations, Terraform variables.
#[test]
fn secrets_in_code_given_by_name_and_value_are_redacted() {
    each_redacted(&[
        "define('DB_PASSWORD', '@@');",
        "define( 'AUTH_KEY', '@@' );",
        "define(\"SECRET_KEY\", \"@@\");",
        "ENV.fetch(\"API_KEY\", \"@@\")",
        "os.getenv(\"DB_PASSWORD\", \"@@\")",
        "os.environ.get('DB_PASSWORD', '@@')",
        "System.setProperty(\"db.password\", \"@@\");",
        "props.put(\"password\", \"@@\");",
        "headers.set(\"X-Api-Key\", \"@@\")",
        "req.Header.Add(\"X-API-Key\", \"@@\")",
        "args: [\"--token\", \"@@\"]",
        "command: [\"app\", \"--api-key\", \"@@\"]",
        "exec.Command(\"psql\", \"--password\", \"@@\")",
        "conn.setPassword(\"@@\");",
        "client.set_password('@@')",
        "builder.withApiKey(\"@@\")",
        "#define API_KEY \"@@\"",
        "set(API_TOKEN \"@@\")",
        "API_KEY: Final = \"@@\"",
        "const apiKey: string = \"@@\";",
        "variable \"db_password\" { default = \"@@\" }",
        "requests.get(url, auth=(\"deploy\", \"@@\"))",
        "session.auth = ('deploy', '@@')",
        "HTTPBasicAuth(\"deploy\", \"@@\")",
        "aiohttp.BasicAuth('deploy', '@@')",
        "new NetworkCredential(\"deploy\", \"@@\")",
        // PowerShell's constructors.
        "$c = [System.Net.NetworkCredential]::new(\"deploy\", \"@@\")",
        "$c = New-Object System.Net.NetworkCredential -ArgumentList \"deploy\", \"@@\"",
        "$c = New-Object Net.NetworkCredential -ArgumentList @('deploy', '@@')",
        "new UsernamePasswordCredentials(\"deploy\", \"@@\")",
        "curl_setopt($ch, CURLOPT_USERPWD, \"deploy:@@\");",
        "const password = process.env.DB_PASSWORD || \"@@\";",
        "const token = process.env.API_TOKEN ?? '@@';",
        "password = os.environ.get(\"DB_PASSWORD\") or \"@@\"",
    ]);
    // Digest's parameters go whole, the response with them.
    let line = r#"Authorization: Digest username="deploy", realm="api", nonce="dcd98b7102dd2f0e", uri="/", response="6629fae49393a05397450978507c4ef1""#;
    assert_eq!(red(line), "Authorization: Digest [REDACTED]");
}

/// The same shapes without a secret in them.
#[test]
fn code_that_names_a_secret_without_one_stays_intact() {
    for line in [
        "define('DB_NAME', 'wordpress');",
        "os.getenv(\"DB_PASSWORD\", \"\")",
        "os.getenv(\"API_KEY\")",
        "form.add_field(\"password\", \"Password\")",
        "t(\"password\", \"Enter your password\")",
        "getattr(settings, \"SECRET_KEY\", None)",
        "args: [\"--token-file\", \"/run/secrets/token\"]",
        "secrets.get_secret(\"prod/db-password\")",
        "conn.setPassword(password);",
        "$c = [System.Net.NetworkCredential]::new($user, $password)",
        "$c = New-Object System.Net.NetworkCredential -ArgumentList $user, $pass",
        "client.set_password(os.environ[\"DB_PASSWORD\"])",
        "#define API_KEY_LEN 32",
        "set(API_TOKEN \"${ENV_API_TOKEN}\")",
        "const apiKey: string = process.env.API_KEY!;",
        "variable \"db_password\" { type = string }",
        "headers.set(\"Authorization\", `Bearer ${token}`)",
        // From the crates this workspace builds on (their sources and tests, run through the
        // redactor before and after these rules): stand-ins, names, documentation keys.
        "(\"X-Amz-Credential\", \"AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request\"),",
        "req.headers.append(\"x-amz-meta-key\", \"val1\".parse().unwrap());",
        "Self::BearerToken => \"google_bearer_token\",",
        ".with_secret_access_key(\"secret_access_key\")",
        ".with_secret_access_key(\"my-secret-access-key\")",
        ".header(\"sec-websocket-key\", \"6D69KGBOr4Re+Nj6zx9aQA==\")",
        "requests.get(url, auth=(user, password))",
        "HTTPBasicAuth(username, password)",
        "const password = process.env.DB_PASSWORD || \"\";",
        "const token = process.env.API_TOKEN ?? null;",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A secret's name at a line's end and its value on the next line: a YAML block scalar,
/// pretty-printed JSON, a shell line continued, a heredoc (HCL's, Ruby's); whole and cut into chunks of 1, 7 and 40
/// bytes. Their benign twins (a YAML key that opens a mapping, a continued line with a flag
/// and no value) stay as written.
#[test]
fn a_value_on_the_line_after_its_name_is_redacted() {
    let cases = [
        "password: |\n  Sup3rS3cretM1\nuser: app\n",
        "api_key: >-\n    Sup3rS3cretM2x\n",
        "{\n  \"password\":\n    \"Sup3rS3cretM3\"\n}\n",
        "export DB_PASSWORD=\\\n  Sup3rS3cretM4\n",
        "mysqldump --password \\\n  Sup3rS3cretM5 \\\n  --all-databases\n",
        // A heredoc's first line: HCL's, Ruby's squiggly one.
        "api_token = <<EOF\nSup3rS3cretM6\nEOF\n",
        "  private_token = <<-EOT\n    Sup3rS3cretM7\n  EOT\n",
        "API_KEY = <<~KEY\n  Sup3rS3cretM8\nKEY\n",
    ];
    for text in cases {
        let secret = text
            .split_whitespace()
            .find(|w| w.contains("Sup3r"))
            .unwrap();
        let secret = secret.trim_matches('"');
        let want = text.replace(secret, REDACTED);
        for size in [text.len(), 1, 7, 40] {
            let rules = rules_with(&[]);
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
            let (out, _) = run(&rules, &chunks);
            assert_eq!(String::from_utf8(out).unwrap(), want, "chunks of {size}");
        }
    }
    for text in [
        "password:\n  min_length: 12\n",
        "secrets:\n  db_password:\n    file: ./db_password.txt\n",
        "docker run \\\n  --env-file .env \\\n  app\n",
        "curl -X POST \\\n  -H 'Content-Type: application/json' \\\n  https://api\n",
        "token: |\n  Paste your token below\n",
        // Prose wrapped after a secret's name, and a flag with no value (asked for) before the
        // next flag.
        "bail!(\"refusing to start without a password \\\n    configured for the admin user\")\n",
        "mysqldump --password \\\n  --all-databases > dump.sql\n",
        "description = <<EOF\nThe API token for the deploy bot\nEOF\n",
        "password = <<EOF\nchange me before the first deploy\nEOF\n",
    ] {
        // (And in a tool's output in stream-json.)
        let text = format!("{text}{}\n", tool_result(text));
        let text = text.as_str();
        assert_eq!(red(text), text, "{text}");
    }
}

/// Prose that gives a secret: `The password is …`, `my api key is …`; judged as after a weak
/// name (a key has digits, or is long and mixed-case), so prose about a secret stays.
#[test]
fn a_secret_given_in_prose_is_redacted() {
    each_redacted(&[
        "The password is @@",
        "wifi password is @@.",
        "my api_key is @@",
        "The admin token is '@@'",
        "API Key: @@",
        "Api Key = @@",
        "Secret Key: @@",
        "Your API Key is @@",
    ]);
    for line in [
        "The password is required",
        "the token is expired",
        "The API key is invalid.",
        "your password is too short",
        "the secret is stored in Vault",
        "token is None",
        "The password is hashed with argon2id",
        "the api key is 32 characters long",
        "The auth token is base64-encoded before it is sent",
        "Primary Key: id",
        "Foreign Key: user_id",
        "API Key: required",
        "API Key authentication is enabled",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// Secrets in tables a tool prints: a key and its value in aligned columns (`vault kv get`,
/// `vault read`), a Markdown row, Terraform's `output -json` (the value inside the object the
/// name opens).
#[test]
fn secrets_in_printed_tables_are_redacted() {
    each_redacted(&[
        "api_key            @@",
        "token              @@",
        "db_password\t@@",
        "| password | @@ |",
        "| DB_PASSWORD | `@@` |",
        "{\"db_password\": {\"sensitive\": true, \"type\": \"string\", \"value\": \"@@\"}}",
    ]);
    for line in [
        "token_ttl          768h",
        "token              n/a",
        "| password | required |",
        "| Name | Password |",
        "{\"db_password\": {\"sensitive\": true, \"type\": \"string\"}}",
        "api_key            (none)",
        "API_TOKEN\t2024-05-01T12:00:00Z",
        "db-password   Opaque   1   5d",
    ] {
        assert_eq!(red(line), line, "{line}");
    }
}

/// A name and its value in aligned columns with more columns after them: `gh variable list`
/// piped (`NAME<TAB>VALUE<TAB>UPDATED`), a listing's columns padded with blanks. The value had
/// to end its line, so these went out whole. After another column only a token's shape counts
/// (letters and digits mixed): listings of secrets' names, their dates, types and counts stay.
#[test]
fn a_value_in_aligned_columns_with_more_after_it_is_redacted() {
    let cases = [
        "DB_PASSWORD\t@@\t2024-05-01T10:00:00Z",
        "API_TOKEN\t@@\tabout 2 days ago",
        "DB_PASSWORD   @@   about 2 days ago",
        "api_key            @@      (from .env)",
    ];
    each_redacted(&cases);
    // (A tool's output, its first line right after the string's quote, or after a header.)
    let mut all: Vec<String> = cases
        .iter()
        .map(|c| tool_result(&format!("{c}\n")))
        .collect();
    all.push(tool_result(&format!(
        "NAME\tVALUE\tUPDATED\n{}\n",
        cases[0]
    )));
    all.push(tool_result("api_key            @@\n"));
    each_redacted(&all);
    kept_raw_and_in_a_tool_result(&[
        "API_TOKEN\t2024-05-01T12:00:00Z\tabout 2 days ago",
        "db-password   Opaque   1   5d",
        "DB_PASSWORD   Updated   2024-05-01",
        "GITHUB_TOKEN  Repository  2024-05-01T10:00:00Z",
        "api_key            (none)      default",
        "token_ttl          768h        policy default",
        "password   required   string   The user's password.",
    ]);
}

/// The forms above inside a tool's output in stream-json, where the output's line breaks are
/// `\n` escapes.
#[test]
fn the_new_forms_inside_stream_json_are_redacted() {
    let lines: Vec<String> = [
        "define(\"SECRET_KEY\", \"@@\");",
        "conn.setPassword(\"@@\");",
        "gh secret set DB_PASSWORD --body \"@@\"",
        "password: |\n  @@\nuser: app",
        "{\n  \"password\":\n    \"@@\"\n}",
        "| Name | Value |\n|---|---|\n| password | @@ |",
        "docker login -u x -p @@ ghcr.io",
        "The password is @@",
        "<add key=\"ApiKey\" value=\"@@\" />",
        "HTTPBasicAuth(\"user\", \"@@\")",
        "variable \"db_password\" {\n  type    = string\n  default = \"@@\"\n}\n",
        "api_token = <<EOF\n@@\nEOF\n",
    ]
    .iter()
    .map(|t| tool_result(t))
    .collect();
    each_redacted(&lines);
}

/// Lines built at random from the pieces the command, code, table and next-line forms read
/// (`setx`, `--body`, `<<<`, `| chpasswd`, `IDENTIFIED BY`, quotes, brackets, `\`, …), cut
/// into random chunks: nothing panics, no line is lost or added, and what is not replaced comes
/// out as it went in.
#[test]
fn random_lines_of_the_forms_pieces_keep_their_shape() {
    const PIECES: &[&str] = &[
        "setx ",
        "set -x ",
        "setenv ",
        "config set ",
        "git config --global ",
        "DB_PASSWORD",
        "api_key",
        "password",
        "PASSWORD",
        "token",
        "secret",
        "secrets",
        " ",
        "  ",
        "\t",
        "\"",
        "'",
        "=",
        ":",
        ",",
        "|",
        "| ",
        ">-",
        "<<< ",
        "< ",
        "--body ",
        "-b ",
        "--name ",
        "--value ",
        " -p ",
        " -w ",
        " -P ",
        "login",
        "mongo",
        "ldapsearch",
        "zip",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\"value\": ",
        "echo ",
        "printf '%s' ",
        "is ",
        "IDENTIFIED BY ",
        "IED BY",
        "rabbitmqctl add_user ",
        "sshpass ",
        "htpasswd -nb ",
        "cqlsh ",
        "security add-generic-password ",
        "doppler secrets set ",
        "consul kv put secret/",
        "rclone config create ",
        "set-initial-password ",
        "<input type=\"password\" value=\"",
        "127.0.0.1:6379> AUTH ",
        "__token__ ",
        "chpasswd",
        "#define ",
        "set(",
        "variable ",
        "default = ",
        "auth=",
        "HTTPBasicAuth(",
        "curl -u ",
        "--user=",
        "redis-cli -a ",
        " -a ",
        " -u ",
        "lftp ",
        "%",
        "smbclient ",
        "ssh-keygen -N ",
        "openssl passwd ",
        "openssl enc -k ",
        "identified by ",
        "ied by",
        ".login(",
        "login(",
        "ConvertTo-SecureString ",
        "-AsPlainText",
        "lainText",
        "net user ",
        "CURLOPT_USERPWD, ",
        "&a ",
        "!!str ",
        "`",
        "\\",
        "\n",
        "%DB",
        "%41",
        "S3cr3tV4lue9",
        "x",
        "-",
        "||",
        "??",
        " or ",
        "setPassword(",
        "define(",
        "os.environ[",
        "<add key=",
        "</entry>",
        "\\n",
        "\\\"",
    ];
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
    let mut next = move || rng.next_u64();
    let rules = rules_with(&[]);
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(2 + next() % 30) {
            text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        text.push('\n');
        let cut = 1 + (next() % 40) as usize;
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
        let (out, _) = run(&rules, &chunks);
        let out = String::from_utf8_lossy(&out).into_owned();
        assert_eq!(
            out.lines().count(),
            text.lines().count(),
            "{text:?} -> {out:?}"
        );
        // Unchanged but for replacements: the pieces between them are in order.
        let mut rest = text.as_str();
        for piece in out.split(REDACTED) {
            let at = rest
                .find(piece)
                .unwrap_or_else(|| panic!("{text:?} -> {out:?}"));
            rest = &rest[at + piece.len()..];
        }
    }
}

/// A secret's name whose value is a list: every item goes, not only the first. JSON's and
/// TOML's arrays, YAML's flow sequence, a variable's comma-separated values, Vault's `operator
/// init -format=json` (its unseal and recovery keys, in base64 and hex) as printed and as a
/// tool's output in stream-json, pretty-printed over lines; Vault's `Recovery Key N:`.
#[test]
fn every_item_of_a_secret_list_is_redacted() {
    let key = |i: usize| format!("Zq8wLmN3pX{i:02}vR");
    let cases: Vec<String> = vec![
        r#""api_keys": ["@1", "@2"]"#.into(),
        r#"{"unseal_keys_b64":["@1","@2","@3"],"unseal_threshold":3}"#.into(),
        r#"{"unseal_keys_hex":["@1"],"recovery_keys_b64":["@2", "@3"]}"#.into(),
        r#"api_keys = ["@1", "@2"]"#.into(),
        r#"api_keys = ['@1','@2']"#.into(),
        "passwords: [@1, @2]".into(),
        "API_KEYS=@1,@2".into(),
        "export ALLOWED_API_KEYS=@1,@2,@3".into(),
        "Recovery Key 1: @1".into(),
        "Recovery Key 2: @1".into(),
        // Plural names whose first part says whose tokens or secrets they are.
        r#""api_tokens": ["@1", "@2"]"#.into(),
        "API_SECRETS=@1,@2".into(),
        "client_secrets = ['@1', '@2']".into(),
        "export ACCESS_TOKENS=@1,@2,@3".into(),
        "ALLOWED_TOKENS=@1,@2".into(),
        tool_result(
            "{\n  \"unseal_keys_b64\": [\n    \"@1\",\n    \"@2\"\n  ],\n  \"unseal_shares\": 2\n}",
        ),
        tool_result("api_keys:\n  - @1\n  - \"@2\"\nport: 8080\n"),
        tool_result("\"passwords\": [\"@1\", \"@2\"],"),
        // A file as Claude Code's Read tool shows it, each line after its number.
        tool_result(
            "     1→{\n     2→  \"api_keys\": [\n     3→    \"@1\",\n     4→    \"@2\"\n     5→  ]\n     6→}\n",
        ),
        tool_result("     1→api_keys:\n     2→  - @1\n     3→  - @2\n     4→port: 8080\n"),
    ];
    let mut leaks = Vec::new();
    for line in &cases {
        let (mut line, mut want) = (line.clone(), line.clone());
        for i in 1..=3 {
            line = line.replace(&format!("@{i}"), &key(i));
            want = want.replace(&format!("@{i}"), REDACTED);
        }
        let out = red(&line);
        if (1..=3).any(|i| contains(out.as_bytes(), &key(i))) || out != want {
            leaks.push(format!("{line}\n   -> {out}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {}:\n{}",
        leaks.len(),
        cases.len(),
        leaks.join("\n")
    );
    // Lists that hold no secret stay: the names of secrets, token ids, an empty list, Rust's
    // array types, a comprehension, mount's options after a password.
    each_kept(&[
        r#"    secrets: ["DB_PASSWORD", "API_KEY"]"#,
        r#""tokens": [15496, 11, 995, 0]"#,
        r#"token_ids: [101, 2023, 2003, 102]"#,
        r#""api_keys": []"#,
        "    password: [u8; 32],",
        "    secret: [0u8; 64],",
        "tokens = [tok.strip() for tok in text.split()]",
        "secrets = [s for s in names if s]",
        r#""api_keys": ["[REDACTED]", "[REDACTED]"]"#,
        "API_KEYS=[REDACTED],[REDACTED]",
        r#"{"type":"assistant","message":{"usage":{"input_tokens":[12,13],"output_tokens":5}}}"#,
        // Plural names that list secrets by name, or count tokens.
        "Mountable secrets:   default-token-x7k2p",
        r#"    app_secrets: ["DB_PASSWORD", "API_KEY"]"#,
        r#""api_tokens": [15496, 11, 995, 0]"#,
        "max_tokens = [1024, 4096]",
        r#""cache_read_input_tokens":[1200,1300]"#,
        "API_SECRETS=db_password,api_key",
    ]);
    // Over real lines (an `exec`'s output, a file, a diff), whole and cut into small chunks,
    // each with rules of its own (a value learned in one run is redacted in the next).
    for text in [
        "{\n  \"unseal_keys_b64\": [\n    \"@1\",\n    \"@2\"\n  ],\n  \"unseal_shares\": 2\n}\n",
        "api_keys = [\n  \"@1\",\n  \"@2\",\n  \"@3\",\n]\n",
        "api_keys:\n  - @1\n  - \"@2\"\nport: 8080\n",
    ] {
        let (mut line, mut want) = (text.to_string(), text.to_string());
        for i in 1..=3 {
            line = line.replace(&format!("@{i}"), &key(i));
            want = want.replace(&format!("@{i}"), REDACTED);
        }
        for cut in [line.len(), 7, 1] {
            let chunks: Vec<&[u8]> = line.as_bytes().chunks(cut).collect();
            let (out, _) = run(&rules_with(&[]), &chunks);
            assert_eq!(String::from_utf8(out).unwrap(), want, "in chunks of {cut}");
        }
    }
    each_kept(&[
        "ports:\n  - 8080\n  - 9090\n",
        "api_keys: []\npassword:\n  min_length: 12\n",
        "\"api_keys\": [\n  ],\n",
        // A Cargo feature's list; code's key constants.
        "auth = [\n    \"base64\",\n    \"validate-request\",\n]\n",
        "    let test_keys = [\n        0x1111111111111111,\n        0x2222222222222222,\n    ];\n",
        "    let keys = [0x1234567890ABCDEF, 0x2345678901BCDEF0];\n",
    ]);
    let mount = format!(
        "mount -t cifs //s/x /mnt -o username=u,password={},vers=3.0",
        key(1)
    );
    assert_eq!(
        red(&mount),
        format!("mount -t cifs //s/x /mnt -o username=u,password={REDACTED},vers=3.0")
    );
}

/// A password given by its place among a connection call's arguments, as code and its
/// tutorials write it: Python's `pymysql.connect(HOST, USER, "…")` and `ftplib.FTP(…)`, PHP's
/// `mysqli`, `mysql_connect` and `PDO`, C's `mysql_real_connect`, Java's
/// `DriverManager.getConnection(URL, USER, "…")` and `PasswordAuthentication(USER, "…")`,
/// python-ldap's `simple_bind_s(DN, "…")`, Go's `smtp.PlainAuth("", USER, "…", HOST)` and
/// `ssh.Password("…")`; in a file's text and in a tool's output in stream-json.
#[test]
fn a_password_given_by_its_place_in_a_connection_call_is_redacted() {
    let cases = [
        r#"conn = pymysql.connect("localhost", "root", "@@", "app")"#,
        "conn = pymysql.connect('localhost', 'root', '@@')",
        r#"mysqli_connect("localhost", "root", "@@", "app");"#,
        r#"$conn = new mysqli("localhost", "root", "@@", "app");"#,
        "$link = mysql_connect('localhost', 'root', '@@');",
        r#"Connection c = DriverManager.getConnection("jdbc:mysql://db/app", "root", "@@");"#,
        r#"ftp = FTP("ftp.example.com", "user", "@@")"#,
        r#"ftp = ftplib.FTP_TLS("ftp.example.com", "user", "@@")"#,
        "$pdo = new PDO($dsn, 'root', '@@');",
        r#"$pdo = new PDO("mysql:host=db;dbname=app", "root", "@@", $options);"#,
        r#"l.simple_bind_s("cn=admin,dc=example,dc=org", "@@")"#,
        r#"auth := smtp.PlainAuth("", "me@example.com", "@@", "smtp.example.com")"#,
        r#"Auth: []ssh.AuthMethod{ssh.Password("@@")},"#,
        r#"mysql_real_connect(conn, "db", "app", "@@", "shop", 0, NULL, 0);"#,
        r#"return new PasswordAuthentication("bob", "@@".toCharArray());"#,
    ];
    each_redacted(&cases);
    let wrapped: Vec<String> = cases
        .iter()
        .map(|c| tool_result(&format!("     4→import os\n     5→{c}\n")))
        .collect();
    each_redacted(&wrapped);
    each_kept(&[
        "conn = pymysql.connect(host, user, password, db)",
        r#"conn = pymysql.connect(host="db", user="root", password=os.environ["DB_PASSWORD"])"#,
        "Connection c = DriverManager.getConnection(url, user, pass);",
        "Connection c = DriverManager.getConnection(url, props);",
        "pool.getConnection((err, conn) => {",
        r#"ftp = FTP("ftp.example.com")"#,
        "$pdo = new PDO($dsn, $user, $pass);",
        "mysqli_connect($host, $user, $pass, $db);",
        "mysql_real_connect(conn, host, user, passwd, db, 0, NULL, 0);",
        "return new PasswordAuthentication(user, password.toCharArray());",
        r#"auth := smtp.PlainAuth("", from, password, host)"#,
        "Auth: []ssh.AuthMethod{ssh.Password(pass)},",
        "l.simple_bind_s(dn, pw)",
        // A call's literal at the line's very start, where the call's name would begin before it.
        "TP(\"h\", \"u\", \"x\")",
        "etConnection(url, \"u\", \"x\")",
    ]);
}

/// A value a secret store's CLI stores, whatever name it is stored under (`az keyvault secret
/// set --name db --value …`, `aws ssm put-parameter … --type SecureString`, a data file that is
/// an `echo` in a process substitution); the password that `poetry publish` and `dotnet nuget
/// add|update source` take by `-p`; HTTPie's bearer token (`-A bearer -a …`); a default
/// assigned with Ruby's `||=` or JavaScript's `??=`; a password file that is an `echo` in a
/// process substitution (`--vault-password-file <(echo …)`).
#[test]
fn a_value_stored_by_a_secret_store_or_given_by_a_publishers_flag_is_redacted() {
    each_redacted(&[
        "az keyvault secret set --vault-name v --name db --value @@",
        "az keyvault secret set --name db --vault-name v --value \"@@\"",
        "aws ssm put-parameter --name /db/pw --value @@ --type SecureString",
        "aws ssm put-parameter --type SecureString --name app-cfg --value '@@'",
        "gcloud secrets create db --data-file=<(echo -n @@)",
        "gcloud secrets versions add db --data-file=<(printf '%s' '@@')",
        "ansible-vault decrypt --vault-password-file <(echo @@) site.yml",
        "ansible-playbook site.yml --vault-password-file=<(echo \"@@\")",
        "rsync -av --password-file=<(echo @@) src/ rsync://u@h/m",
        "restic -r /srv/restic --password-file <(printf '%s' '@@') snapshots",
        "PASSPHRASE_FILE=<(echo -n @@) duplicity restore x",
        "poetry publish -u __token__ -p @@",
        "poetry publish --build -u __token__ -p '@@'",
        "dotnet nuget add source https://x -n x -u u -p @@ --store-password-in-clear-text",
        "dotnet nuget update source x -u u -p @@",
        "rdesktop -u admin -p @@ 10.0.0.5",
        "http -A bearer -a @@ https://api.example.com",
        "https --auth-type=bearer -a @@ api.example.com",
        "ENV[\"API_KEY\"] ||= \"@@\"",
        "process.env.API_TOKEN ??= \"@@\";",
        // A script as Claude Code's Read tool shows it.
        &tool_result("     1→#!/bin/sh\n     2→poetry publish -u __token__ -p @@\n"),
        &tool_result("     1→poetry publish -u __token__ -p @@\n"),
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"aws ssm put-parameter --name /db/pw --value @@ --type SecureString"}}]}}"#,
    ]);
    each_kept(&[
        "aws ssm put-parameter --name /app/region --value eu-west-1 --type String",
        "aws ssm get-parameter --name /db/pw --with-decryption --type SecureString",
        "az keyvault secret show --vault-name v --name db",
        "poetry run pytest -p no:cacheprovider",
        "http -a deploy https://x",
        "ENV[\"API_KEY\"] ||= ENV.fetch(\"KEY\")",
        "ansible-vault decrypt --vault-password-file ~/.vault_pass site.yml",
        "restic --password-file /etc/restic/pass backup /srv",
        "restic --password-file <(echo $RESTIC_PASSWORD) snapshots",
        "diff <(echo a) <(echo b) --password-file x",
    ]);
}

/// A command whose output is a secret, run by Claude Code's Bash tool: the result is the bare
/// value, with nothing beside it to name it (`kubectl get secret … | base64 -d`, `echo
/// $API_KEY`, `gh auth token`, `terraform output -raw db_password`). The call's command marks
/// its result; the value is redacted there (in the result's content and Claude Code's
/// `tool_use_result` copy) and wherever it appears again in the run, in any chunking.
/// Claude's Read tool on a file that holds a secret alone printed it, numbered (`     1→…`):
/// only `cat` of the same file was read as printing a secret. Claude reads files with Read far
/// more often than with `cat`.
#[test]
fn a_secret_file_read_by_the_read_tool_is_redacted() {
    let secret = "Xk9pLm2QwErTy7";
    let read = |id: &str, path: &str| {
        format!(
            r#"{{"type":"assistant","message":{{"role":"assistant","content":[{{"type":"tool_use","id":"{id}","name":"Read","input":{}}}]}}}}"#,
            serde_json::json!({ "file_path": path })
        )
    };
    let numbered = |lines: &[String]| {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{:>6}\u{2192}{l}\n", i + 1))
            .collect::<String>()
    };
    for (path, lines) in [
        (
            "/home/dev/.pgpass",
            vec![
                format!("localhost:5432:app:admin:{secret}"),
                format!("*:*:*:postgres:{secret}2"),
            ],
        ),
        ("/srv/app/config/master.key", vec![secret.to_string()]),
        ("/run/secrets/db_password", vec![secret.to_string()]),
        ("/srv/app/secrets/stripe", vec![secret.to_string()]),
        ("/etc/rsyncd.secrets", vec![format!("backup:{secret}")]),
    ] {
        let id = "toolu_01ReadAbCdEfGhIjKlMnOp";
        let text = format!(
            "{}\n{}\nthe value was {secret}\n",
            read(id, path),
            bash_result(id, &numbered(&lines)),
        );
        for cut in [text.len(), 64, 7] {
            let (out, _) = red_in_chunks(&text, cut);
            assert!(
                !contains(out.as_bytes(), secret),
                "{path} in chunks of {cut}:\n{out}"
            );
            assert_eq!(out.lines().count(), 3);
        }
    }
    // A file that is no secret's, read the same way, stays.
    let id = "toolu_01ReadBbCdEfGhIjKlMnOp";
    let text = format!(
        "{}\n{}\n",
        read(id, "/srv/app/src/version.txt"),
        bash_result(id, &numbered(&[secret.to_string()]))
    );
    assert_eq!(red(&text), text);
}

#[test]
fn the_output_of_a_command_that_prints_a_secret_is_redacted() {
    let secret = "Zq8wLmN3pX07vR";
    let call = |id: &str, command: &str| {
        serde_json::json!({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": id, "name": "Bash",
             "input": {"command": command, "description": "Read it"}}]},
            "session_id": "2b1f"})
        .to_string()
    };
    let result = |id: &str, text: &str| {
        serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": id, "type": "tool_result", "content": text, "is_error": false}]},
            "session_id": "2b1f",
            "tool_use_result": {"stdout": text.trim_end(), "stderr": "", "interrupted": false}})
        .to_string()
    };
    for command in [
        "kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath=\"{.data.password}\" | base64 -d",
        "echo $OPENAI_API_KEY",
        "source .env && printf '%s' \"$DB_PASSWORD\"",
        "gh auth token",
        "terraform output -raw db_password",
        "vault kv get -field=password secret/app",
        "cat /run/secrets/db",
        "sudo cat /run/secrets/db_password",
        "kubectl exec deploy/api -- printenv STRIPE_SECRET_KEY",
        "bundle exec rake secret",
        "Write-Host $env:API_KEY",
        "python3 -c 'import os; print(os.environ[\"OPENAI_API_KEY\"])'",
        "node -e 'console.log(process.env.STRIPE_SECRET_KEY)'",
        "docker compose exec app sh -c 'echo $API_KEY'",
        "ssh -i ~/.ssh/deploy deploy@web 'cat /run/secrets/db_password'",
        // Rails' key to its encrypted credentials.
        "cat config/master.key",
        "cat config/credentials/production.key",
        // Nexus' first admin password, in a file named for it.
        "docker exec nexus cat /nexus-data/admin.password",
        // Elasticsearch's enrollment token and the elastic user's new password.
        "bin/elasticsearch-create-enrollment-token -s kibana",
        "docker exec -it es01 /usr/share/elasticsearch/bin/elasticsearch-reset-password -u elastic -s -b",
    ] {
        let text = format!(
            "{}\n{}\n{}\nthe value was {secret}\n",
            call("toolu_01AbCdEfGhIjKlMnOpQrStUv", "ls"),
            call("toolu_01BbCdEfGhIjKlMnOpQrStUv", command),
            result("toolu_01BbCdEfGhIjKlMnOpQrStUv", &format!("{secret}\n")),
        );
        for cut in [text.len(), 64, 7] {
            let (out, counts) = red_in_chunks(&text, cut);
            assert!(
                !contains(out.as_bytes(), secret),
                "{command} in chunks of {cut}:\n{out}"
            );
            assert_eq!(out.lines().count(), 4);
            assert!(counts.values().sum::<u64>() >= 3, "{counts:?}");
        }
    }
    // Each line of a result whose lines are one word each: `cat ~/.pgpass` with two entries.
    let entries = format!("db1:5432:app:app:{secret}\ndb2:5432:*:ops:{secret}x2\n");
    let text = format!(
        "{}\n{}\n",
        call("toolu_01D", "cat ~/.pgpass"),
        result("toolu_01D", &entries)
    );
    let out = red(&text);
    assert!(!contains(out.as_bytes(), secret), "{out}");
    assert!(!contains(out.as_bytes(), "db2:5432"), "{out}");
    // A secret whose text names a secret is still one: only a line that is a name the command
    // gave (a column's heading, a key before its value) is taken off a result.
    for value in [
        "SuperSecretPassword123",
        "my_token_value_x9",
        "api_key_prod_123",
        "MY_SECRET_TOKEN",
    ] {
        let text = format!(
            "{}\n{}\nthen {value}\n",
            call("toolu_01F", "echo $DB_PASSWORD"),
            result("toolu_01F", &format!("{value}\n"))
        );
        let out = red(&text);
        assert!(!out.contains(value), "{out}");
    }
    // What a lookup of an unset variable prints is no secret, and is not learned.
    let unset = format!(
        "{}\n{}\nreturns undefined when unset\n",
        call("toolu_01E", "node -e 'console.log(process.env.API_KEY)'"),
        result("toolu_01E", "undefined\n")
    );
    assert_eq!(red(&unset), unset);
    // The same result text after a command that reads no secret, or a result of more than one
    // word after one that does, stays.
    for (command, text) in [
        ("echo $HOME", format!("{secret}\n")),
        (
            "kubectl get secret db -o yaml",
            format!("apiVersion: v1\nkind: {secret}\n"),
        ),
        (
            "gh auth token",
            "no oauth token found for github.com\n".to_string(),
        ),
    ] {
        let lines = format!(
            "{}\n{}\n",
            call("toolu_01CbCdEfGhIjKlMnOpQrStUv", command),
            result("toolu_01CbCdEfGhIjKlMnOpQrStUv", &text)
        );
        assert_eq!(red(&lines), lines, "{command}");
    }
}

/// A Go MySQL DSN (`USER:VALUE@tcp(HOST)/DB`, `@unix(SOCKET)`) on a line that names no secret
/// and no `mysql`: goose's `GOOSE_DBSTRING`, a `DATABASE_URL`, a config's `connStr:`. A
/// password too short for a run, or cut by a `$` or `!` before the `@tcp(`, went out.
#[test]
fn a_go_mysql_dsn_on_a_line_that_names_no_secret_is_redacted() {
    let cases = with_stream_json(
        &[
            "GOOSE_DBSTRING=\"app:@@@tcp(db:3306)/app\"",
            "DATABASE_URL=app:@@@tcp(db:3306)/app?parseTime=true",
            "export X= app:@@@tcp(",
            "connStr: app:@@@unix(/var/run/mysqld/mysqld.sock)/app",
        ],
        &['"'],
        |c| format!("$ env\n{c}\n"),
    );
    // A short password, one cut by `!`, a run cut by `$` before the `@`.
    let values = ["S3cr3t!x", "Zq8wLmN3pX!x", "vG7TiVX2fNbI8fZ3DHCht6d$U9S"];
    each_redacted_as(&cases, |i| values[i % values.len()].to_string());
    each_kept(&[
        "db, err := sql.Open(\"mysql\", \"user:password@tcp(127.0.0.1:3306)/hello\")",
        "  dsn: \"user:password@tcp(127.0.0.1:3306)/dbname\"",
        "npm WARN deprecated foo@2.0.3: use @npmcli/fs instead",
        "git@tcp(x)",
    ]);
}

/// A cluster's join token printed bare: Docker Swarm's (`SWMTKN-1-…`, what `docker swarm
/// join-token -q worker` prints) and K3s' server token (`K10<CA hash>::server:<password>`, the
/// content of `/var/lib/rancher/k3s/server/token`). Either lets a machine join the cluster;
/// with no name beside them they went out.
#[test]
fn join_tokens_printed_bare_are_redacted() {
    let swarm =
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";
    let k3s = "K1075e4f8d2a6b7c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8::server:3f2a9c8b7d6e5f4a3b2c1d0e9f8a7b6c";
    for (token, piece) in [(swarm, "hszjas19xyp7gh"), (k3s, "3f2a9c8b7d6e5f4a")] {
        for line in [
            token.to_string(),
            format!("$ sudo cat /var/lib/rancher/k3s/server/token\n{token}"),
            tool_result(&format!("{token}\n")),
        ] {
            let out = red(&line);
            assert!(!out.contains(piece), "{line}\n   -> {out}");
        }
    }
    each_kept(&[
        "K10 resistor, 5% tolerance",
        "SWMTKN-1 is the prefix of a swarm join token",
    ]);
}

/// A command that takes a secret's value out of where it is stored, by its name: a pipeline that
/// cuts it out of its `NAME=VALUE` line (`grep DB_PASSWORD .env | cut -d= -f2`), a `jq` or `yq`
/// filter whose last key names one (`curl … | jq -r .access_token`), a database query selecting
/// one column that names one (its table's rules, borders and heading are no value), Redis'
/// `CONFIG GET requirepass`, `aws configure get aws_secret_access_key`. The value comes back
/// bare and is redacted there and wherever it appears again; the same commands reading what is
/// no secret print their results whole.
#[test]
fn the_output_of_a_command_that_extracts_a_secret_by_its_name_is_redacted() {
    let secret = "Kw3nR8tLq2ZpX9vY";
    let lines = |command: &str, text: &str| {
        let call = serde_json::json!({"type": "assistant", "message": {"role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01Ex", "name": "Bash",
                "input": {"command": command, "description": "Read the value"}}]},
            "session_id": "2b1f"});
        let result = serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_01Ex", "type": "tool_result", "content": text}]},
            "session_id": "2b1f", "tool_use_result": {"stdout": text, "stderr": ""}});
        format!("{call}\n{result}\nthen {secret} again\n")
    };
    let bare = format!("{secret}\n");
    let psql = format!("     api_key      \n------------------\n {secret}\n(1 row)\n");
    let mysql_table = format!(
        "+------------------+\n| api_key          |\n+------------------+\n| {secret} |\n+------------------+\n"
    );
    let mysql_batch = format!("password\n{secret}\n");
    let redis = format!("1) \"requirepass\"\n2) \"{secret}\"\n");
    let quoted = format!("\"{secret}\"\n");
    for (command, text) in [
        ("grep DB_PASSWORD .env | cut -d= -f2", &bare),
        ("cat .env | grep '^API_KEY=' | cut -d '=' -f2-", &bare),
        ("awk -F= '/DB_PASSWORD/ {print $2}' .env", &bare),
        ("sed -n 's/^DB_PASSWORD=//p' .env", &bare),
        ("grep -oP '(?<=API_TOKEN=).*' .env", &bare),
        (
            "curl -s -X POST https://auth.example.com/oauth/token -d grant_type=client_credentials | jq -r .access_token",
            &bare,
        ),
        ("curl -s https://api.example.com/login | jq .token", &quoted),
        (
            "kubectl get secret db -o json | jq -r '.data[\"api-key\"]' | base64 -d",
            &bare,
        ),
        ("yq '.database.password' config.yml", &bare),
        ("psql -c \"select api_key from accounts limit 1\"", &psql),
        (
            "mysql -u root -e 'SELECT api_key FROM accounts LIMIT 1'",
            &mysql_table,
        ),
        (
            "mysql -e 'SELECT password FROM users WHERE id = 1'",
            &mysql_batch,
        ),
        ("sqlite3 app.db 'select token from sessions limit 1'", &bare),
        ("redis-cli CONFIG GET requirepass", &redis),
        ("aws configure get aws_secret_access_key", &bare),
        ("redis-cli GET api_key", &quoted),
        ("lpass show --password github.com", &bare),
        ("consul kv get secret/db/password", &bare),
        ("launchctl getenv API_TOKEN", &bare),
        ("kubectl view-secret db password", &bare),
        ("cloudflared tunnel token my-tunnel", &bare),
        (
            "aws sts get-session-token --query Credentials.SessionToken --output text",
            &bare,
        ),
        (
            "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/deploy --role-session-name ci --query 'Credentials.SecretAccessKey' --output text",
            &bare,
        ),
        (
            "az ad sp create-for-rbac --name ci --query password -o tsv",
            &bare,
        ),
        ("gopass show -o web/github", &bare),
        ("gopass show web/github", &bare),
        ("docker swarm join-token -q worker", &bare),
    ] {
        let text = lines(command, text);
        for cut in [text.len(), 64, 7] {
            let (out, _) = red_in_chunks(&text, cut);
            assert!(
                !contains(out.as_bytes(), secret),
                "{command} in chunks of {cut}:\n{out}"
            );
            // A heading or key that names a secret is not taken for the value.
            for heading in ["requirepass", "api_key"] {
                assert_eq!(
                    text.matches(heading).count(),
                    out.matches(heading).count(),
                    "{out}"
                );
            }
        }
    }
    for command in [
        "grep HOST .env | cut -d= -f2",
        "grep -oP '(?<=HOST=).*' .env",
        "curl -s https://api.example.com/me | jq -r .name",
        "psql -c \"select name from accounts limit 1\"",
        "psql -c \"select name, api_key from accounts limit 1\"",
        "redis-cli CONFIG GET maxmemory",
        "aws sts get-caller-identity --query Account --output text",
        "az account show --query tenantId -o tsv",
        "docker swarm join-token worker --rotate --help",
    ] {
        let text = lines(command, &bare);
        let out = red(&text);
        assert_eq!(out.lines().nth(1), text.lines().nth(1), "{command}");
    }
}

/// A secret generated and printed by a command Claude Code runs to make one (`openssl rand -hex
/// 32`, Python's `secrets.token_hex()`, Django's `get_random_secret_key()`, `rails secret`,
/// `mix phx.gen.secret`): its output is the bare value, redacted there and wherever it appears
/// again (the `.env` line it goes into next names it anyway).
#[test]
fn a_secret_a_command_generates_and_prints_is_redacted() {
    let secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let call = |command: &str| {
        serde_json::json!({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01Gen", "name": "Bash",
             "input": {"command": command, "description": "Generate a signing key"}}]}})
        .to_string()
    };
    let result = |text: &str| {
        serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_01Gen", "type": "tool_result", "content": text}]}})
        .to_string()
    };
    for command in [
        "openssl rand -hex 32",
        "openssl rand -base64 48",
        "python3 -c \"import secrets; print(secrets.token_hex(32))\"",
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
        "python3 -c 'from django.core.management.utils import get_random_secret_key; print(get_random_secret_key())'",
        "bin/rails secret",
        "mix phx.gen.secret",
    ] {
        let text = format!(
            "{}\n{}\ncopied {secret} again\n",
            call(command),
            result(&format!("{secret}\n"))
        );
        let out = red(&text);
        assert!(!contains(out.as_bytes(), secret), "{command}:\n{out}");
    }
    // What prints no secret: a version, a file's text, a random file written to disk.
    for command in [
        "openssl version",
        "openssl rand -out key.bin 32",
        "python3 -c 'import secrets; print(secrets.__file__)'",
        "bin/rails routes",
    ] {
        let text = format!("{}\n{}\n", call(command), result(&format!("{secret}\n")));
        assert_eq!(red(&text), text, "{command}");
    }
    // Commands that name no secret, read by their call's id (`"id":"toolu_…","name":"Bash"`, as
    // Claude Code writes the call); and a passphrase of words, the line, blanks or a delimiter
    // and all (diceware's words run together are one word). Each printed again later, bare.
    let passphrases = [
        ("xkcdpass -n 5", "orbit staple correct lantern mosaic"),
        ("xkcdpass -n 4 -d -", "orbit-staple-correct-lantern"),
        ("diceware -n 6", "OrbitStapleCorrectLanternMosaicQuartz"),
    ];
    let makers = [
        "python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())'",
        "gpg --gen-random --armor 1 32",
        "makepasswd --chars 20",
        "apg -n 1 -m 16",
        "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
        "python3 -c \"import secrets, string; a = string.ascii_letters + string.digits; print(''.join(secrets.choice(a) for _ in range(24)))\"",
    ];
    for (command, printed) in makers.iter().map(|&c| (c, secret)).chain(passphrases) {
        let id = "toolu_01GenAbCdEfGhIjKlMnOpQr";
        let text = format!(
            "{}\n{}\ncopied {printed} again\n",
            bash_call(id, command),
            bash_result(id, &format!("{printed}\n"))
        );
        let out = red(&text);
        assert!(!out.contains(printed), "{command}:\n{out}");
    }
    // Its help is no passphrase.
    let id = "toolu_01PhrBbCdEfGhIjKlMnOpQr";
    let help = format!(
        "{}\n{}\n",
        bash_call(id, "xkcdpass --help"),
        bash_result(id, "usage: xkcdpass [-h] [-w WORDFILE] [-n NUMWORDS]\n")
    );
    assert_eq!(red(&help), help);
}

/// Commands that print a secret and name none, read by their call's id (Claude Code's
/// `"id":"toolu_01…","name":"Bash"`, a run of token bytes) rather than by a keyword: a password
/// or key a tool makes (`pwgen`, `/dev/urandom` through `base64`, Ruby's `SecureRandom`, PHP's
/// `random_bytes`, Laravel's `key:generate --show`, `kubeadm token create`), a keyring's
/// getter, a cloud key selected by a query. Their bare output went out.
#[test]
fn a_secret_printed_by_a_command_that_names_none_is_redacted() {
    let secret = "Rk7vQ2xLm9TzW4pN8sBy3Hc6";
    let id = "toolu_01Kq7XmV3pRzT9wLn2HsB4cY";
    let call = |command: &str| bash_call(id, command);
    let result = |text: &str| bash_result(id, text);
    for command in [
        "pwgen -s 24 1",
        "head -c 32 /dev/urandom | base64",
        "tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24; echo",
        "keyring get myservice alice",
        "az storage account keys list -g rg -n acct --query '[0].value' -o tsv",
        "ruby -rsecurerandom -e 'puts SecureRandom.hex(32)'",
        "php -r 'echo bin2hex(random_bytes(32));'",
        "php artisan key:generate --show",
        "kubeadm token create",
        "age -d -i ~/.config/age/key.txt .env.prod.age",
        "infisical secrets get DB_PASSWORD --plain --env=prod",
        "chamber read api stripe_key -q",
        // A kubeconfig's credential picked out of `config view --raw`, a file decrypted by
        // OpenSSL.
        "kubectl config view --raw -o jsonpath='{.users[0].user.token}'",
        "kubectl config view --raw -o=jsonpath={.users[0].user.client-key-data}",
        "openssl enc -d -aes-256-cbc -pbkdf2 -in secret.enc -pass env:PASS",
        "openssl aes-256-cbc -d -in db_password.enc -k \"$KEY\"",
        // NetworkManager's Wi-Fi key, shown (`-s`) and picked out (`-g`).
        "nmcli -s -g 802-11-wireless-security.psk connection show HomeWifi",
    ] {
        let text = format!(
            "{}\n{}\nusing {secret} from now on\n",
            call(command),
            result(&format!("{secret}\n"))
        );
        for cut in [text.len(), 64, 7] {
            let (out, _) = red_in_chunks(&text, cut);
            assert!(
                !contains(out.as_bytes(), secret),
                "{command} in chunks of {cut}:\n{out}"
            );
        }
    }
    // What prints no secret: an id, a count, a listing.
    for command in [
        "uuidgen",
        "head -c 100 /dev/urandom | wc -c",
        "ls -l /dev/urandom",
        "keyring --help",
        "php artisan route:list",
        "kubeadm token list",
        "kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}'",
        "kubectl config view -o jsonpath='{.users[0].user.token}'",
        "openssl enc -d -aes-256-cbc -in secret.enc -out secret.txt",
        "openssl base64 -d -in cert.b64",
        "nmcli -g 802-11-wireless-security.psk connection show HomeWifi",
    ] {
        let text = format!("{}\n{}\n", call(command), result(&format!("{secret}\n")));
        assert_eq!(red(&text), text, "{command}");
    }
}

/// A cloud CLI that prints keys as JSON under names that say nothing: Azure's `az storage
/// account keys list` (`"keyName": "key1", …, "value": "…"`, the account's full-access keys)
/// and `az cognitiveservices account keys list` (`"key1"`, `"key2"`: an Azure OpenAI
/// resource's keys), and `az keyvault secret show` (the secret's `"value"`). Each value is
/// redacted in the result and learned.
#[test]
fn keys_a_cloud_cli_lists_as_json_are_redacted() {
    let id = "toolu_01Az7XmV3pRzT9wLn2HsB4cY";
    let call = |command: &str| bash_call(id, command);
    let result = |text: &str| bash_result(id, text);
    let (k1, k2) = (
        "Qx2mVb7Lr9Tz4Wp8Nc3Hs6Jd1Kf5Gy0Ae2Iu7Oq4Wr9Ty3Ui8Op1As6Df2Gh7Jk4Lz5Xc0Vb3Nm9Qw8Er==",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    );
    let storage = format!(
        "[\n  {{\n    \"creationTime\": \"2024-01-01T00:00:00.000000+00:00\",\n    \"keyName\": \"key1\",\n    \"permissions\": \"FULL\",\n    \"value\": \"{k1}\"\n  }},\n  {{\n    \"creationTime\": \"2024-01-01T00:00:00.000000+00:00\",\n    \"keyName\": \"key2\",\n    \"permissions\": \"FULL\",\n    \"value\": \"{k2}\"\n  }}\n]\n"
    );
    let cognitive = format!("{{\n  \"key1\": \"{k1}\",\n  \"key2\": \"{k2}\"\n}}\n");
    let tsv = format!(
        "2024-01-01T00:00:00.000000+00:00\tkey1\tFULL\t{k1}\n2024-01-01T00:00:00.000000+00:00\tkey2\tFULL\t{k2}\n"
    );
    let table = format!(
        "CreationTime                      KeyName    Permissions    Value\n--------------------------------  ---------  -------------  ------\n2024-01-01T00:00:00.000000+00:00  key1       FULL           {k1}\n2024-01-01T00:00:00.000000+00:00  key2       FULL           {k2}\n"
    );
    for (command, text) in [
        ("az storage account keys list -g rg -n acct -o tsv", &tsv),
        (
            "az storage account keys list -g rg -n acct --output table",
            &table,
        ),
        ("az storage account keys list -g rg -n acct", &storage),
        (
            "az storage account keys list --account-name acct -o json",
            &storage,
        ),
        (
            "az cognitiveservices account keys list -g rg -n openai",
            &cognitive,
        ),
    ] {
        let lines = format!(
            "{}\n{}\nthe first key is {k1}\n",
            call(command),
            result(text)
        );
        let out = red(&lines);
        for k in [k1, k2] {
            assert!(!out.contains(k), "{command}: {k}\n{out}");
        }
        // The members around the keys stay.
        assert!(out.contains("FULL") || out.contains("key2"), "{out}");
    }
    // The same JSON after a command that lists no keys stays.
    let lines = format!("{}\n{}\n", call("cat keys.example.json"), result(&storage));
    assert_eq!(red(&lines), lines);
    // A Key Vault secret as `az keyvault secret show` prints it: its `value`, a password of
    // any length from 8 bytes, beside the members that say what it is.
    let password = "AzKv3Secret";
    let secret = format!(
        "{{\n  \"attributes\": {{\n    \"enabled\": true\n  }},\n  \"id\": \"https://kv.vault.azure.net/secrets/dbpass/0a1b2c\",\n  \"name\": \"dbpass\",\n  \"value\": \"{password}\"\n}}\n"
    );
    let lines = format!(
        "{}\n{}\nthe password is {password}\n",
        call("az keyvault secret show --vault-name kv --name dbpass"),
        result(&secret)
    );
    let out = red(&lines);
    assert!(!out.contains(password), "{out}");
    assert!(out.contains("\\\"name\\\": \\\"dbpass\\\""), "{out}");
}

/// A `Key` whose object names what it is for: ASP.NET's `appsettings.json` (`"Jwt": { "Key":
/// "…" }`, `"Encryption": { "Key": "…" }`), on one line, pretty-printed in a tool's output, and
/// as Claude Code's Read tool numbers the file's lines.
#[test]
fn a_key_under_an_object_named_for_its_use_is_redacted() {
    each_redacted(&[
        r#"{"Jwt":{"Key":"@@","Issuer":"https://app.example.com"}}"#,
        r#"  "Jwt": { "Key": "@@", "Audience": "app" },"#,
        r#"  "Encryption": {"Key": "@@"}"#,
        &tool_result("{\n  \"Jwt\": {\n    \"Key\": \"@@\",\n    \"Issuer\": \"app\"\n  }\n}\n"),
        &tool_result(
            "     1→{\n     2→  \"Jwt\": {\n     3→    \"Key\": \"@@\",\n     4→    \"Issuer\": \"app\"\n     5→  }\n     6→}\n",
        ),
    ]);
    each_kept(&[
        r#"{"Cache": {"Key": "users:v2", "Ttl": 60}}"#,
        r#"  "Redis": { "Key": "session-store-2024" },"#,
        r#"{"Key": "Zq8wLmN3pX99vR"}"#,
        r#"{"Jwt": {"Key": "", "Issuer": "app"}}"#,
    ]);
}

/// A token given as a URL's user, with no password or GitHub's `x-oauth-basic` in its place
/// (`https://TOKEN@github.com/…`, a classic 40-hex personal token included): the user is the
/// secret. A user's name stays (`git@`, `deploy@`, `jane.doe@`).
#[test]
fn a_token_given_as_a_urls_user_is_redacted() {
    let hex = "3f2b1c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
    let token = "q7Xv2Lp9Rt4Kw8Zmq7Xv2Lp9Rt4Kw8Zm";
    for (line, secret) in [
        (
            format!("origin\thttps://{hex}@github.com/acme/app.git (fetch)"),
            hex,
        ),
        (
            format!("git clone https://{token}@github.com/acme/app.git"),
            token,
        ),
        (
            format!("https://{token}:x-oauth-basic@github.com/acme/app"),
            token,
        ),
        (
            format!(r#"  "repository": "git+https://{token}@github.com/acme/app.git","#),
            token,
        ),
        (
            format!("pip install git+https://{token}@github.com/acme/lib.git"),
            token,
        ),
    ] {
        assert_eq!(red(&line), line.replace(secret, REDACTED), "{line}");
    }
    each_kept(&[
        "git clone https://git@github.com/acme/app.git",
        "Cloning into 'app'... https://deploy@bitbucket.org/acme/app.git",
        "https://jane.doe@example.com/dav/",
        "ssh://git@gitlab.example.com:2222/acme/app.git",
        "https://x-oauth-basic@github.com/acme/app",
        // Azure Data Lake's and Blob's URLs name a container there.
        "abfss://c047b3e34e89407a98d7cf9949ae92a3@onelake.dfs.fabric.microsoft.com/file",
    ]);
}

/// A Telegram bot's token in the Bot API's URL, glued to its `bot` prefix
/// (`https://api.telegram.org/bot123456789:AA…/getUpdates`), where no word boundary is before
/// its digits.
#[test]
fn a_telegram_token_in_the_bot_apis_url_is_redacted() {
    let token = "6679926197:AAt4WqVOXsc9967O5Vl3VXtucIs5PRn0KRx";
    for line in [
        format!("curl https://api.telegram.org/bot{token}/getUpdates"),
        format!(r#"const url = `https://api.telegram.org/bot{token}/sendMessage`;"#),
        format!(r#"{{"url":"https://api.telegram.org/bot{token}/setWebhook"}}"#),
    ] {
        assert_eq!(red(&line), line.replace(token, REDACTED), "{line}");
    }
}

/// A value a log line or a sentence gives right after a secret's name and `using` or `with`
/// (`Using API key …`, `Using token … for auth`); a Dockerfile's `ENV NAME VALUE` in a diff.
#[test]
fn a_value_after_using_a_secrets_name_and_a_dockerfiles_env_in_a_diff_are_redacted() {
    each_redacted(&[
        "INFO:root:Using API key @@",
        "Using token @@ for auth",
        "2024-05-01 12:00:00 DEBUG connecting with password @@...",
        "+ENV DB_PASSWORD @@",
        "-ENV API_TOKEN @@",
    ]);
    each_kept(&[
        "Using token authentication for the API",
        "Protected with password protection enabled",
        "using api key rotation every 30 days",
        "Using token 3 of 12",
    ]);
}

/// Claude's own prose about a secret it found, quoting the value: after the name, a code span
/// or a quoted word (`the API key `…` in config.py`), or a few words and `is`, `is set to`,
/// `appears to be` before it; `use the password …`.
#[test]
fn a_value_claude_quotes_in_its_prose_is_redacted() {
    each_redacted(&[
        "I found the API key `@@` in config.py, which should be moved to an env var.",
        "The database password appears to be `@@` (hardcoded in settings.py).",
        "The hardcoded password \"@@\" on line 12 should be removed.",
        "- `DB_PASSWORD` is set to `@@`",
        "The password for the admin user is @@.",
        "I'll use the password @@ for the test account.",
        // A word that qualifies the name between the article and it.
        "Use the API token @@ to fetch the list of users.",
        "I'll use the admin password @@ for the test account.",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"I found the API key `@@` in config.py."}]}}"#,
    ]);
    each_kept(&[
        "The password field is required.",
        "The token limit for this model is 4096.",
        "The password for user bob is stored in Vault.",
        "I'll use the password manager for the test account.",
        "Use the refresh token flow to renew the session.",
        "We use the API key header for authentication.",
        "The API key `OPENAI_API_KEY` must be set.",
        "The secret `db-credentials` is mounted at /etc/creds.",
        "The token appears to be expired.",
        "Your API key is set to `$OPENAI_API_KEY` in the shell.",
        "Set the password \"\" to disable it.",
    ]);
}

/// Claude's prose giving a value it found after a few words and a colon, or in parentheses
/// right after the name: `I found a hardcoded password in config.py: `…`.`, `The API key (…)
/// is committed in src/config.js.`
#[test]
fn a_value_claude_gives_after_a_colon_or_in_parentheses_is_redacted() {
    each_redacted(&[
        "I found a hardcoded password in config.py: `@@`.",
        "There is a database password in settings/prod.py: \"@@\", which should be rotated.",
        "The API key (@@) is committed in src/config.js.",
        "the secret (`@@`) was logged",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"I found a hardcoded password in config.py: `@@`. It should move to an environment variable."}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The API key (@@) is committed in src/config.js."}]}}"#,
    ]);
    each_kept(&[
        "The password field in forms.py: `PasswordInput`.",
        "The API key (optional) is read from the environment.",
        "The token (see below) expires in an hour.",
        "Set the password in config.py: `DB_PASSWORD`.",
        "The API key (`OPENAI_API_KEY`) must be set.",
        "The secret (v2) is rotated weekly.",
    ]);
}

/// A token or key a tool announces it made, after a colon: `Your API token has been generated:
/// …`, `New deploy token created: …`, `A new access token was issued: …`.
#[test]
fn a_token_a_tool_announces_it_made_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "Your API token has been generated: @@",
            "New deploy token created: @@",
            "A new access token was issued for ci-bot: @@",
            "API key regenerated: '@@'",
        ],
        &['\''],
        |c| format!("Done.\n{c}\n"),
    ));
    each_kept(&[
        "The token limit for this model: 4096",
        "Your API token has been generated: see the dashboard",
        "Token created: yes",
        "API key usage this month: 1234 requests",
    ]);
}

/// Values as debug dumps and database clients print them: PHP's `var_dump` (`["password"]=>
/// string(16) "…"`) and `print_r` (`[password] => …`), psql's expanded display (`password |
/// …`, `\x` or `\gx`), on its own lines and in a tool's output.
#[test]
fn values_in_php_dumps_and_psqls_expanded_display_are_redacted() {
    each_redacted(&[
        r#"array(2) { ["user"]=> string(3) "app" ["password"]=> string(14) "@@" }"#,
        "    [password] => @@",
        "password      | @@",
        " api_key  | @@",
        &tool_result(
            "-[ RECORD 1 ]-------\nid       | 1\npassword | @@\nemail    | a@example.com\n",
        ),
    ]);
    each_kept(&[
        "password | string | The user's password, hashed",
        " password | text |           | not null |",
        "    [password] => ",
        "password      | ",
    ]);
}

/// Forms that need a line's start or its end, in a tool's output inside stream-json: after
/// other lines, and as Claude Code's Read tool numbers a file's lines (`     2→…`). The view of
/// a JSON string reads its `\n` escapes as line breaks and its `\t` as a tab; it read both as
/// blanks, so these forms found no line start (a diff's `+ENV`, printed tables, `net user`, an
/// `echo` into `.pgpass`) or no line end (YAML's tags and anchors before a value), and went out.
/// (As the output's last line, ended by the JSON string's quote rather than a line break, most
/// are still not found: ARCHITECTURE.md, "Printed tables".) A psql row there (`password |
/// VALUE"`) took the string's closing quote into its value, which broke the line's JSON.
#[test]
fn forms_that_need_a_lines_start_or_end_are_redacted_inside_a_tool_result() {
    let forms = [
        "+ENV DB_PASSWORD @@",
        "-ENV API_TOKEN @@",
        "api_key            @@",
        "token              @@",
        "db_password\t@@",
        "password      | @@",
        "| API_KEY     | @@ |",
        "│ DB_PASSWORD      │ @@                 │",
        "api_key: &key '@@'",
        "db_password: !!str \"@@\"",
        "password: &dbpw @@",
        "echo 'db.example.com:5432:app:app:@@' > ~/.pgpass",
        "openssl passwd -6 '@@'",
        "net user alice @@ /add",
        "The admin token is '@@'",
        "Changed the root password to '@@'.",
    ];
    let mut cases = Vec::new();
    for f in forms {
        cases.push(tool_result(&format!("ok\n{f}\nnext")));
        cases.push(tool_result(&format!("     1→ok\n     2→{f}\n     3→next")));
    }
    // As the output's last line, ended by the JSON string's quote: aligned columns, YAML's
    // tags and anchors, a command's last word, a quoted value in prose.
    for f in [
        "api_key            @@",
        "db_password\t@@",
        "api_key: &key '@@'",
        "db_password: !!str \"@@\"",
        "password: &dbpw @@",
        "openssl passwd -6 '@@'",
        "echo 'db.example.com:5432:app:app:@@' > ~/.pgpass",
        "The admin token is '@@'",
        "Your API key is \"@@\"",
    ] {
        cases.push(tool_result(&format!("ok\n{f}")));
    }
    // psql's expanded display as the output's last row: the value, not the string's quote.
    cases.push(tool_result("-[ RECORD 1 ]\nusename  | app\npassword | @@"));
    each_redacted(&cases);
    // Their benign twins stay, in the same places.
    for f in [
        "+ENV NODE_ENV production",
        "│ API_KEY          │ (not set)          │",
        "password      | ********",
        "net user alice /active:no",
        "echo 'localhost:5432:*:postgres:*' > ~/.pgpass",
        "openssl passwd -6 -stdin < pw.txt",
        "token              <none>",
        "api_key: &default_key",
        "The password is required.",
    ] {
        each_kept(&[
            &tool_result(&format!("ok\n{f}\nnext")),
            &tool_result(&format!("ok\n{f}")),
            &tool_result(&format!("     1→ok\n     2→{f}\n     3→next")),
        ]);
    }
}

/// Oracle's JDBC URL (`jdbc:oracle:thin:USER/VALUE@…`), FreeRDP's `/p:`, Net-SNMP's `-A`/`-X`
/// passphrases, 7-Zip's and UnRAR's `-pVALUE`, NuGet's `-k` and `setapikey`, a Wi-Fi
/// pre-shared key (`psk=`), and a cookie set from a script.
#[test]
fn a_password_given_to_a_connection_url_a_remote_desktop_snmp_or_an_archiver_is_redacted() {
    let cases = [
        r#"String url = "jdbc:oracle:thin:scott/@@@db.example.com:1521:ORCL";"#,
        "jdbc:oracle:thin:app_user/@@@//db.internal:1521/SVC",
        "spring.datasource.url=jdbc:oracle:thin:system/@@@localhost:1521/XEPDB1",
        "xfreerdp /v:10.0.0.5 /u:Administrator /p:@@ /cert:ignore",
        "xfreerdp /u:admin /p:\"@@\" /v:host",
        "wlfreerdp /v:host /u:admin /p:@@",
        "snmpwalk -v3 -l authPriv -u admin -a SHA -A @@ -x AES -X Kp2nRt7vWq 10.0.0.1"
            .replace("Kp2nRt7vWq", "@@")
            .leak(),
        "snmpbulkwalk -v3 -u ops -l authNoPriv -a SHA -A '@@' router1",
        "7z a -p@@ backup.7z secret/",
        "7za x -p@@ -o/tmp/out backup.7z",
        "unrar x -p@@ backup.rar",
        "nuget push pkg.1.0.0.nupkg -k @@ -s https://api.nuget.org/v3/index.json",
        "dotnet nuget push pkg.nupkg -k @@ --source nuget.org",
        "nuget setapikey @@ -source https://api.nuget.org/v3/index.json",
        "psk=@@",
        "\tpsk=\"@@\"",
        "wpa_psk=@@",
        r#"document.cookie = "sessionid=@@; path=/";"#,
        "document.cookie = 'PHPSESSID=@@';",
    ];
    each_redacted(&with_stream_json(&cases, &['"'], |c| {
        format!("ok\n{c}\ndone")
    }));
}

/// What the rules above must leave alone.
#[test]
fn connection_urls_remote_desktops_snmp_and_archivers_given_no_password_stay_intact() {
    each_kept(&[
        "jdbc:oracle:thin:@db.example.com:1521:ORCL",
        "jdbc:oracle:thin:@//db.internal:1521/SVC",
        "It is a thin: layer over the driver",
        "xfreerdp /v:10.0.0.5 /u:Administrator /cert:ignore",
        "xfreerdp /v:host /p:",
        "snmpwalk -v2c -c public 10.0.0.1",
        "snmpwalk -v3 -l noAuthNoPriv -u monitor 10.0.0.1",
        "snmpget -v3 -A -X 10.0.0.1",
        "7z a backup.7z secret/",
        "7z x -p backup.7z",
        "7z x -o/tmp/out backup.7z",
        "unrar x backup.rar",
        "Compressing to backup.7z a -p flag",
        "nuget push pkg.1.0.0.nupkg -s https://api.nuget.org/v3/index.json",
        "nuget restore",
        "dotnet nuget push pkg.nupkg --source nuget.org",
        "psk=",
        "The psk= line sets the key.",
        // `psk` names a pre-shared key only as a name's last part.
        r#"            ResumptionPskBinderKey => b"res binder","#,
        "document.cookie = \"theme=dark; path=/\";",
        "document.cookie.split(';')",
    ]);
}

/// A registry's credentials stored by a package manager's `config`: Poetry's and Composer's
/// `http-basic.HOST USER VALUE`, Composer's `bearer.`, `github-oauth.`, `gitlab-oauth.`,
/// `gitlab-token.` and `bitbucket-oauth.` keys.
#[test]
fn a_registrys_credentials_given_to_a_package_managers_config_are_redacted() {
    let cases = [
        "poetry config http-basic.private deploy @@",
        "poetry config http-basic.internal-pypi ci-bot '@@'",
        "composer config --global --auth http-basic.repo.example.org deploy @@",
        "composer config -g http-basic.repo.example.org deploy @@",
        "composer config --global --auth bearer.repo.example.org @@",
        "composer config -g github-oauth.github.com @@",
        "composer config --auth gitlab-oauth.gitlab.example.com @@",
        "composer config --auth gitlab-token.gitlab.example.com @@",
        "composer config --auth bitbucket-oauth.bitbucket.org Kq2vLx8mPz @@",
    ];
    each_redacted(&with_stream_json(&cases, &['\''], |c| format!("$ {c}\nok")));
}

/// What the rule above must leave alone.
#[test]
fn a_package_managers_config_given_no_credential_stays_intact() {
    each_kept(&[
        "composer config --global --auth --unset http-basic.repo.example.org",
        "composer config -g github-oauth.github.com",
        "composer config --list",
        "poetry config http-basic.private deploy",
        "poetry config --unset http-basic.private",
        "poetry config http-basic.private",
        "The http-basic.repo entry holds the login; bearer.example.org holds a token.",
        "Authorization uses bearer.js under the hood",
    ]);
}

/// A token given to `vault login` by its place, and MinIO's `mc alias set NAME URL ACCESS
/// SECRET`.
#[test]
fn a_token_given_to_vault_login_and_a_minio_aliass_secret_key_are_redacted() {
    let cases = [
        "vault login @@",
        "vault login -no-print @@",
        "vault login -address=https://vault.internal:8200 @@",
        "VAULT_ADDR=https://vault:8200 vault login @@ && vault kv get secret/app",
        "mc alias set myminio https://minio.example.com Q3AM3UQ867SPQQA43P2F @@",
        "mc alias set local http://localhost:9000 admin @@ --api S3v4",
        "mc alias set --api S3v4 local http://localhost:9000 admin '@@'",
    ];
    each_redacted(&with_stream_json(&cases, &['\''], |c| format!("$ {c}\nok")));
}

/// A single-dash flag named for a password (`-password VALUE`, `-passwd`, `-pwd`, Windows'
/// `dsadd user … -pwd VALUE`): the keyword search's ` -p` (a short flag's literal) ends its step
/// over the name, so the name's own literal is never reported there and the flag is read from
/// the ` -p` hit.
#[test]
fn a_single_dash_password_flag_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "tool -password @@",
            "tool -password=@@ --verbose",
            "tool -passwd @@",
            "tool -pwd @@",
            "tool -pwd=@@",
            "dsadd user cn=deploy,dc=example,dc=org -pwd @@ -mustchpwd yes",
            "sqlcmd -S db -U sa -password @@",
        ],
        &['\''],
        |c| format!("$ {c}\nok"),
    ));
    each_kept(&[
        "tool -password",
        "tool -password -v",
        "ls -pwd",
        "tool -p 8080",
        "tool -passes 3",
    ]);
}

/// A flag's value quoted after a blank (`--password 'VALUE'`, `--token "VALUE"`), as shell
/// commands write it: the run after the flag started at the quote and held nothing.
#[test]
fn a_flags_quoted_value_after_a_blank_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "tool --password '@@'",
            "tool --token \"@@\" --verbose",
            "tool --api-key '@@'",
            "mysql -u root --password '@@' shop",
            "tool -password '@@'",
        ],
        &['"', '\''],
        |c| format!("$ {c}\nok"),
    ));
    each_kept(&[
        "tool --password ''",
        "tool --password \"$DB_PASSWORD\"",
        "tool --token \"${GITHUB_TOKEN}\"",
        "tool --token '<your token>'",
    ]);
}

/// A key share given to Vault's (or OpenBao's) `operator unseal`: a 44-character base64 share,
/// which no family anchor marks, went out whole.
#[test]
fn a_key_share_given_to_vault_operator_unseal_is_redacted() {
    let cases = [
        "vault operator unseal @@",
        "vault operator unseal -migrate @@",
        "vault operator unseal -address=https://vault.internal:8200 @@",
        "VAULT_ADDR=http://127.0.0.1:8200 vault operator unseal '@@' && vault status",
        "bao operator unseal @@",
    ];
    let share = "6yqWjqJjdKmWIFpFJqyaHSg5mIQkeHyDo0gq2M6cFbOp";
    for c in cases {
        let line = c.replace("@@", share);
        assert!(!red(&line).contains(share), "{line}");
    }
    each_redacted(&with_stream_json(&cases, &['\''], |c| format!("$ {c}\nok")));
    each_kept(&[
        "vault operator unseal",
        "vault operator unseal -reset",
        "vault operator unseal -",
        "Unseal the vault with vault operator unseal, three times.",
        "the operator unseal step is manual",
    ]);
}

/// What the rules above must leave alone.
#[test]
fn vault_login_and_minio_aliases_given_no_secret_stay_intact() {
    each_kept(&[
        "vault login",
        "vault login -",
        "vault login -method=github",
        "vault login -method=userpass username=admin",
        "vault login -method=oidc role=dev",
        "Run vault login to refresh your session.",
        "You can vault login yourself",
        "mc alias set local http://localhost:9000 minioadmin minioadmin",
        "mc alias set local http://localhost:9000",
        "mc alias set myminio https://minio.example.com Q3AM3UQ867SPQQA43P2F",
        "mc alias list",
        "mc alias remove local",
        "grep -c alias setup.sh",
    ]);
}

/// A password given as a command that prints it (`restic --password-command "echo …"`,
/// `BORG_PASSCOMMAND="echo …"`), and one piped or here-stringed into `vncpasswd -f`.
#[test]
fn a_password_printed_by_a_password_command_or_fed_to_vncpasswd_is_redacted() {
    let cases = [
        "restic -r /srv/backup --password-command \"echo @@\" backup .",
        "restic backup . --password-command='echo -n @@'",
        "RESTIC_PASSWORD_COMMAND=\"echo @@\" restic snapshots",
        "export BORG_PASSCOMMAND=\"echo @@\"",
        "BORG_PASSCOMMAND='printf %s @@' borg create ::daily .",
        "vncpasswd -f <<< @@ > ~/.vnc/passwd",
        "echo '@@' | vncpasswd -f > ~/.vnc/passwd",
        "printf '%s' '@@' | tigervncpasswd -f > passwd",
    ];
    each_redacted(&with_stream_json(&cases, &['"', '\\'], |c| {
        format!("$ {c}\nok")
    }));
}

/// What the rules above must leave alone.
#[test]
fn password_commands_that_print_no_literal_stay_intact() {
    each_kept(&[
        "restic backup . --password-command \"pass show restic\"",
        "export BORG_PASSCOMMAND=\"cat /run/secrets/borg\"",
        "restic --password-command \"echo $RESTIC_PW\" snapshots",
        "Set RESTIC_PASSWORD_COMMAND to a command that prints the password.",
        "vncpasswd ~/.vnc/passwd",
        "vncpasswd -f < pass.txt > ~/.vnc/passwd",
    ]);
}

/// Composer's `auth.json`: tokens keyed by host under `bearer`, `github-oauth`,
/// `gitlab-oauth`, `gitlab-token` and `bitbucket-oauth`, on one line, pretty-printed over real
/// lines, and as a tool reads the file.
#[test]
fn tokens_keyed_by_host_in_composers_auth_json_are_redacted() {
    let pretty = "{\n    \"bearer\": {\n        \"repo.example.org\": \"@@\",\n        \"pkg.example.com\": \"@@\"\n    },\n    \"github-oauth\": {\n        \"github.com\": \"@@\"\n    }\n}";
    let numbered = read_view(pretty, 1);
    let cases = [
        r#"{"bearer": {"repo.example.org": "@@"}}"#.to_string(),
        r#"{"github-oauth": {"github.com": "@@"}, "gitlab-token": {"gitlab.example.com": "@@"}}"#
            .to_string(),
        r#"    "gitlab-oauth": {"gitlab.example.com": "@@", "git.example.org": "@@"},"#.to_string(),
        r#"{"bitbucket-oauth": {"bitbucket.org": "@@"}}"#.to_string(),
        pretty.to_string(),
        tool_result(pretty),
        tool_result(&numbered),
    ];
    each_redacted(&cases);
}

/// What the rule above must leave alone.
#[test]
fn composers_auth_json_without_tokens_stays_intact() {
    each_kept(&[
        r#"{"access_token": "x", "token_type": "bearer", "expires_in": 3600}"#,
        r#"{"bearer": {}}"#,
        "{\n    \"github-oauth\": {}\n}",
        r#"{"http-basic": {"repo.example.org": {"username": "deploy"}}}"#,
        r#"{"bearer": {"repo.example.org": "${COMPOSER_TOKEN}"}}"#,
    ]);
}

/// Bundler's credentials for a gem server: `bundle config [set] [--global|--local] HOST
/// USER:VALUE` (or a token alone), and the same as `BUNDLE_<HOST>` in the environment or in
/// `.bundle/config`.
#[test]
fn bundlers_credentials_for_a_gem_server_are_redacted() {
    let cases = [
        "bundle config set --global gems.example.com deploy:@@",
        "bundle config set --local gems.example.com deploy:@@",
        "bundle config gems.example.com deploy:@@",
        "bundle config https://rubygems.pkg.github.com/acme octocat:@@",
        "bundle config set gem.fury.io @@",
        "export BUNDLE_GEMS__EXAMPLE__COM=deploy:@@",
        "BUNDLE_GEMS__EXAMPLE__COM: \"deploy:@@\"",
        "BUNDLE_RUBYGEMS__PKG__GITHUB__COM: \"octocat:@@\"",
        "BUNDLE_GEM__FURY__IO: \"@@\"",
    ];
    let mut all = with_stream_json(&cases, &['"'], |c| format!("$ {c}\nok"));
    all.push(tool_result(
        "---\nBUNDLE_PATH: \"vendor/bundle\"\nBUNDLE_GEMS__EXAMPLE__COM: \"deploy:@@\"\n",
    ));
    each_redacted(&all);
}

/// What the rule above must leave alone.
#[test]
fn bundlers_settings_without_credentials_stay_intact() {
    each_kept(&[
        "bundle config set --local path vendor/bundle",
        "bundle config set without development:test",
        "bundle config",
        "bundle config list",
        "bundle config unset gems.example.com",
        "BUNDLE_WITHOUT: \"development:test\"",
        "BUNDLE_PATH: \"vendor/bundle\"",
        "BUNDLE_JOBS: \"4\"",
        "BUNDLE_BUILD__NOKOGIRI: \"--use-system-libraries\"",
        "BUNDLE_MIRROR__RUBYGEMS__ORG: \"https://mirror.example.com\"",
        "BUNDLE_GEMS__EXAMPLE__COM: \"${GEMS_CREDENTIALS}\"",
    ]);
}

/// Windows administration and assessment tools that take a password by `-p`: PsExec and
/// PAExec, Evil-WinRM, NetExec and CrackMapExec, SMBMap; and x11vnc's `-storepasswd VALUE FILE`.
#[test]
fn a_password_given_to_a_windows_admin_tool_or_x11vnc_is_redacted() {
    let cases = [
        r"psexec \\10.0.0.5 -u CORP\admin -p @@ cmd",
        r"PsExec.exe \\srv01 -u admin -p @@ -s powershell",
        "evil-winrm -i 10.0.0.5 -u Administrator -p '@@'",
        "nxc smb 10.0.0.0/24 -u admin -p @@ --shares",
        "crackmapexec winrm 10.0.0.5 -u svc -p @@",
        "smbmap -H 10.0.0.5 -u guest -p @@",
        "x11vnc -storepasswd @@ ~/.vnc/passwd",
        // PuTTY's command-line tools: `-pw VALUE`.
        "plink -ssh -pw @@ admin@10.0.0.5",
        r"C:\Tools\pscp.exe -pw @@ build.zip deploy@srv01:/tmp",
        "psftp -pw \"@@\" admin@srv01",
        "plink.exe -batch -l admin -pw '@@' srv01 uptime",
    ];
    each_redacted(&cases);
}

/// What the rule above must leave alone.
#[test]
fn windows_admin_tools_given_no_password_stay_intact() {
    each_kept(&[
        r"psexec \\srv01 -s cmd",
        "evil-winrm -i 10.0.0.5 -u Administrator -H 0123456789abcdef",
        "nxc smb 10.0.0.0/24 --gen-relay-list relay.txt",
        "x11vnc -storepasswd",
        "plink -ssh -i key.ppk admin@10.0.0.5",
        "7z x -pw archive.7z",
    ]);
}

/// A password given by its place to an HTTP client's basic authentication (Go's
/// `req.SetBasicAuth(USER, "…")`, reqwest's `.basic_auth(USER, Some("…"))`, OkHttp's
/// `Credentials.basic(USER, "…")`, superagent's `.auth(USER, "…")`), xh's `-a USER:VALUE`,
/// Redis' `AUTH` on `redis-cli`'s command line or typed in lower case at its prompt, a secret
/// set by `netlify env:set NAME VALUE` or `dotenvx set NAME VALUE`, hydra's `-p`, and both of
/// `ssh-keygen`'s passphrases when it is given two.
#[test]
fn basic_auth_by_place_redis_auth_and_env_setters_are_redacted() {
    let code = [
        r#"req.SetBasicAuth("admin", "@@")"#,
        r#"r.SetBasicAuth(cfg.User, "@@")"#,
        r#"let res = client.get(url).basic_auth("admin", Some("@@")).send().await?;"#,
        r#".basic_auth(user, Some("@@".to_string()))"#,
        r#"String credential = Credentials.basic("admin", "@@");"#,
        r#"request.get(url).auth("admin", "@@").end(cb)"#,
    ];
    let mut all: Vec<String> = code.iter().map(|c| c.to_string()).collect();
    all.extend(
        code.iter()
            .map(|c| tool_result(&format!("     4→use std::env;\n     5→{c}\n"))),
    );
    each_redacted(&all);
    let commands = [
        "xh -a admin:@@ https://api.example.com",
        "redis-cli -h cache AUTH @@",
        "redis-cli -h cache -p 6379 AUTH default @@",
        "127.0.0.1:6379> auth @@",
        "netlify env:set API_KEY @@",
        "dotenvx set DB_PASSWORD @@",
        "hydra -l admin -p @@ ssh://10.0.0.5",
        // Both passphrases of one command: the old one and the new one.
        "ssh-keygen -p -P @@ -N @@ -f ~/.ssh/id_ed25519",
        "ssh-keygen -p -f key -N '@@' -P '@@'",
        "ssh-keygen -p -f key -P \"@@\" -N \"@@\"",
    ];
    each_redacted(&with_stream_json(&commands, &['"'], |c| {
        format!("$ {c}\nok")
    }));
}

/// What the rules above must leave alone.
#[test]
fn basic_auth_from_names_redis_commands_and_plain_settings_stay_intact() {
    each_kept(&[
        "req.SetBasicAuth(user, pass)",
        "req.SetBasicAuth(cfg.User, cfg.Password)",
        ".basic_auth(&user, Some(&password))",
        r#".basic_auth("admin", None::<&str>)"#,
        ".basic_auth(user, password.as_deref())",
        "Credentials.basic(user, pass)",
        ".auth(token, { type: 'bearer' })",
        "xh -a admin https://api.example.com",
        "redis-cli -h cache ping",
        "redis-cli -h cache AUTH $REDIS_PASSWORD",
        "(error) NOAUTH Authentication required.",
        "netlify env:set NODE_VERSION 20",
        "netlify env:get API_KEY",
        "dotenvx set HELLO world",
        "dotenvx get DB_PASSWORD",
        "hydra -l admin -P rockyou.txt ssh://10.0.0.5",
    ]);
}

/// A value masked by a GitHub Actions workflow command (`echo "::add-mask::VALUE"`), Samba's
/// `-U USER%VALUE` to `rpcclient`, `smbcacls`, `smbget` and `net rpc`, Windows' `net use
/// \\HOST\SHARE VALUE`, an upper-case `PSK=`, DigitalOcean's `doctl auth init -t VALUE`, and a
/// secret's name given `$(echo VALUE)`.
#[test]
fn masked_values_samba_logins_net_use_and_upper_case_psk_are_redacted() {
    let cases = [
        "::add-mask::@@",
        "echo \"::add-mask::@@\"",
        "echo '::add-mask::@@' && ./deploy.sh",
        "rpcclient -U admin%@@ 10.0.0.5",
        "smbcacls //fs/share file.txt -U CORP/admin%@@",
        "net rpc group members 'Domain Admins' -U admin%@@ -S dc01",
        "smbget -U backup%@@ smb://fs/share/file",
        "WPA_PSK=@@",
        "export WIFI_PSK='@@'",
        "doctl auth init -t @@",
        "doctl auth init --context work -t @@",
        "API_TOKEN=$(echo @@)",
        "export DB_PASSWORD=\"$(printf '%s' @@)\"",
    ];
    each_redacted(&with_stream_json(&cases, &['"', '\''], |c| {
        format!("$ {c}\nok")
    }));
    let windows = [
        r"net use \\fs01\share @@ /user:CORP\admin",
        r"net use Z: \\fs01\share @@ /persistent:no",
        r"net use \\fs01\share /user:CORP\admin @@",
        r"C:\> net use * \\fs01\backup @@ /user:backup",
    ];
    let mut all: Vec<String> = windows.iter().map(|c| c.to_string()).collect();
    all.extend(
        windows
            .iter()
            .map(|c| tool_result(&format!("{c}\nThe command completed successfully."))),
    );
    each_redacted(&all);
}

/// What the rules above must leave alone.
#[test]
fn masks_of_variables_samba_prompts_and_net_use_without_a_password_stay_intact() {
    each_kept(&[
        "echo \"::add-mask::$TOKEN\"",
        "echo \"::add-mask::${{ secrets.TOKEN }}\"",
        "::add-mask::***",
        "Use ::add-mask:: to hide a value from the log.",
        "rpcclient -U admin 10.0.0.5",
        "smbclient -L fs01 -U% -N",
        "psql -U postgres -d app",
        "sqlcmd -S db01 -U sa -Q \"select 1\"",
        r"net use Z: \\fs01\share /persistent:no",
        r"net use \\fs01\share * /user:CORP\admin",
        r"net use Z: /delete",
        "net use",
        "The internet use policy applies.",
        "TASK=build",
        "DISK=/dev/sda1",
        "PSK=",
        "doctl auth init",
        "doctl auth init --context work",
        "API_TOKEN=$(cat /run/secrets/api_token)",
        "DB_PASSWORD=$(echo $DB_PASSWORD_FROM_VAULT)",
    ]);
}

/// A token piped by `echo` into `gh auth login --with-token`, and a name that is a key's
/// qualifier and `key` in one word (Tailscale's `TS_AUTHKEY` and `--authkey`, `LICENSEKEY`,
/// `DEPLOYKEY`, `"AuthKey"`).
#[test]
fn a_token_piped_to_gh_and_one_word_qualified_keys_are_redacted() {
    let cases = [
        "echo @@ | gh auth login --with-token",
        "printf '%s' @@ | gh auth login --hostname ghe.example.com --with-token",
        "TS_AUTHKEY=@@",
        "export TS_AUTHKEY='@@'",
        "tailscale up --authkey=@@",
        "sudo tailscale up --authkey @@ --ssh",
        "LICENSEKEY=@@",
        "DEPLOYKEY=@@",
        "{\"AuthKey\": \"@@\"}",
    ];
    each_redacted(&with_stream_json(&cases, &['"'], |c| format!("$ {c}\nok")));
}

/// What the rules above must leave alone.
#[test]
fn gh_logins_from_files_and_other_one_word_keys_stay_intact() {
    each_kept(&[
        "gh auth login --with-token < token.txt",
        "gh auth login --web",
        "echo done | gh auth status",
        "monkey=banana",
        "HOTKEY=ctrl+k",
        "SORTKEY=created_at",
        "PRIMARYKEY=id",
        "xkey=abcdefgh123",
        "TS_AUTHKEY=${TS_AUTHKEY}",
    ]);
}

/// What a review of the forms above found: `::add-mask::` in a stream-json line must end at
/// the word (its JSON string's quote, a blank), not swallow the line; `redis-cli` after `sudo`
/// or `docker exec`, and its command in lower case; a client by its path; a second passphrase
/// after a tab; Samba's quoted password; an `echo` piped on inside `$(…)`.
#[test]
fn the_reviews_cases_of_the_new_forms_are_redacted_and_the_line_kept() {
    let cases = [
        "echo ::add-mask::@@",
        "echo ::add-mask::@@ ; echo other",
        "sudo redis-cli AUTH @@",
        "docker exec -it redis redis-cli AUTH @@",
        "redis-cli -h 10.0.0.5 auth @@",
        "/usr/bin/xh -a admin:@@ x.com",
        "/usr/bin/hydra -l admin -p @@ ssh://h",
        "/usr/bin/rpcclient -U alice%@@ h",
        "rpcclient -U alice%'@@' h",
        "ssh-keygen\t-p\t-P\t@@\t-N\t@@",
        "TOKEN=$(echo -n @@ | base64)",
        "netlify env:set --secret DB_PASSWORD @@",
        "npx @dotenvx/dotenvx set DB_PASSWORD @@",
        "dotenvx set -f .env.production DB_PASSWORD @@",
    ];
    let mut all = with_stream_json(&cases, &['\t'], |c| format!("$ {c}\nok"));
    all.push(
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"echo ::add-mask::@@","description":"Mask the token"}}]},"session_id":"s1"}"#
            .to_string(),
    );
    each_redacted(&all);
}

/// What the review found the new forms took that is no secret.
#[test]
fn the_reviews_benign_lines_for_the_new_forms_stay_intact() {
    each_kept(&[
        "Use `::add-mask::` before you print the token; the runner then hides it.",
        &tool_result("the `::add-mask::` workflow command hides a value from the log"),
        "redis-cli SET AUTH enabled",
        "redis-cli HSET AUTH session_ttl 3600",
        "redis-cli -n 2 DEL AUTH session:abc123",
        r"To map a drive, run net use Z: \\fileserver\public persistent",
        r#".auth("Content-Type", "application/json")"#,
        "netlify env:set --secret NODE_VERSION 20",
        "dotenvx set -f .env.production HELLO world",
    ]);
}

/// [`each_redacted`] with a secret long enough to be a run of token bytes (32 bytes), as the
/// tokens that tools print and take are.
fn each_long_redacted(cases: &[impl AsRef<str>]) {
    each_redacted_as(cases, |i| format!("Zq8wLmN3pX{i:02}vR7tW4yB6cD1fG5hJ0s"));
}

/// Tools that take their token as an argument after a subcommand: ngrok's `authtoken`, Snyk's
/// `auth`, Consul's `acl set-agent-token`, DigitalOcean's `doctl auth init -t=` and
/// `--access-token`.
#[test]
fn a_token_given_to_a_tools_auth_subcommand_is_redacted() {
    let cases = [
        "ngrok authtoken @@",
        "ngrok authtoken @@ --config ngrok.yml",
        "/usr/local/bin/ngrok authtoken '@@'",
        "snyk auth @@",
        "npx snyk auth @@",
        "consul acl set-agent-token agent @@",
        "consul acl set-agent-token -http-addr=https://consul:8501 default @@",
        "doctl auth init -t=@@",
        "doctl auth init --access-token @@",
        "doctl auth init --access-token=@@",
    ];
    each_redacted(&with_stream_json(&cases, &['\''], |c| format!("$ {c}\nok")));
}

/// Weights & Biases' and Cargo's `login KEY`: no secret's name on the line, the key is found
/// as a run of token bytes after `login`.
#[test]
fn a_token_given_to_a_tools_login_is_redacted() {
    let cases = [
        "wandb login @@",
        "wandb login --relogin @@",
        "wandb login --host https://wandb.example.com @@",
        "cargo login @@",
        "cargo login --registry my-registry @@",
        "sudo cargo login \"@@\"",
    ];
    each_long_redacted(&with_stream_json(&cases, &['"'], |c| format!("$ {c}\nok")));
}

/// What the rules above must leave alone: the commands without a token, a token read from a
/// file or a variable, prose.
#[test]
fn tool_logins_without_a_token_stay_intact() {
    each_kept(&[
        "ngrok authtoken",
        "ngrok authtoken --help",
        "ngrok http 8080",
        "wandb login",
        "wandb login --relogin",
        "wandb login --host https://wandb.example.com",
        "Run wandb login once, then train.",
        "cargo login",
        "cargo login --registry my-registry",
        "cargo login < token.txt",
        "cargo login $CARGO_REGISTRY_TOKEN",
        "snyk auth",
        "Then run snyk auth and follow the browser prompt.",
        "snyk auth $SNYK_TOKEN",
        "consul acl set-agent-token agent",
        "consul acl set-agent-token agent ${CONSUL_TOKEN}",
        "doctl auth init -t=$DIGITALOCEAN_TOKEN",
        "doctl auth init --context work",
        "docker login registry.example.com",
        "npm login --registry https://npm.example.com",
        "git log --oneline 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
    ]);
}

/// AWS's policy vocabulary and code that assigns to a secret's key, as a session that writes
/// IAM policies or a request signer prints them (found in botocore's, moto's and cfn-lint's
/// sources, where one such value, once learned, was redacted on thousands of lines).
#[test]
fn iam_policies_and_assignments_to_a_secrets_key_stay_intact() {
    each_kept(&[
        // A list named `…Keys` without a secret's qualifier: its items are names.
        "\"ConditionKeys\": [\n  \"amplifyuibuilder:CodegenJobResourceAppId\",\n  \"aws:ResourceTag/${TagKey}\"\n],",
        "\"SortKeys\": [\n  \"CreatedAtTimestamp2024\",\n  \"OrderId\"\n],",
        // Actions and condition keys, `service:Name`.
        "\"elasticloadbalancing:DescribeLoadBalancers\",",
        "\"Action\": [\"elasticache:CreateCacheCluster\", \"secretsmanager:GetSecretValue\"],",
        // A secret's ARN: `secret:` is its resource type.
        "\"Resource\": \"arn:aws:secretsmanager:*:*:secret:aws/ssm/3p/*\",",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        // Code that assigns a variable to a secret's key.
        "request.headers['X-Amzn-Authorization'] = signature",
        "headers[\"Authorization\"] = auth_header",
        "self.headers['x-api-key'] = api_key_value",
        // A paginator's token: a dotted path of names.
        "\"output_token\": \"DefaultClusterParameters.Marker\",",
    ]);
}

/// The secrets beside those forms: a list of keys that says whose they are, a value assigned
/// to a secret's key as a literal, an ARN's secret given as a value.
#[test]
fn secrets_beside_iam_policies_and_key_assignments_are_redacted() {
    each_redacted(&[
        "\"api_keys\": [\n  \"@@\"\n],",
        "\"AccessKeys\": [\n  \"@@\"\n],",
        "request.headers['X-Amzn-Authorization'] = '@@'",
        "headers[\"Authorization\"] = \"Bearer @@\"",
        "self.headers['x-api-key'] = \"@@\"",
        "\"secret\": \"@@\"",
        "\"output_token\": \"@@\"",
        "PASSWORD=@@",
    ]);
}

/// What the same sources showed next: Python's f-strings that put a variable into a header,
/// AWS Secrets Manager's actions and the globs of a policy (once one was taken for a value it
/// was learned, and every `ses:Describe*` after it went too), an action with a two-letter word.
#[test]
fn f_strings_secrets_managers_and_policy_globs_stay_intact() {
    each_kept(&[
        "auth_header = f\"AWS {self.credentials.access_key}:{signature}\"",
        "auth_header = f'Bearer {self.auth_token.token}'",
        "\"secretsmanager:Describe*\",\n\"ses:Describe*\",",
        "\"secretsmanager:GetSecretValue\",",
        "secret_manager = boto3.client(\"secretsmanager\")",
        "\"elasticloadbalancing:GetTrustStoreCaCertificatesBundle\",",
        "\"elasticache:describeCacheClusters\",",
        "serverAuth = \"1.3.6.1.5.5.7.3.1\"",
        "AUTH_VERSION=2.14.1",
    ]);
    each_redacted(&["api_key = f\"@@\"", "SECRETS_MANAGER_TOKEN=@@", "secret=@@"]);
}

/// Code that stores a parameter in an object (`self.secret_key = secret_key`, `this.token =
/// token`, Ruby's `@password = password`) and documentation of a parameter (`:param str
/// secret_key: The secret key part …`, `@param password the user's password`): found in
/// botocore and moto, where each value, once learned, went on every later line holding it.
#[test]
fn parameters_stored_and_documented_stay_intact() {
    each_kept(&[
        "        self.secret_key = secret_key",
        "        self.secret_id = secret_id\n        self.name = secret_id",
        "    this.apiToken = apiToken;",
        "    @password = password",
        "        self.secret_string = secret_string or None",
        "    :param str secret_key: The secret key part of the credentials.",
        "    :param token: The session token, if any.",
        "     * @param password The user's password, checked against the hash.",
    ]);
    each_redacted(&[
        "        self.secret_key = \"@@\"",
        "    this.apiToken = '@@';",
        "secret_key = @@",
        "spring.datasource.password = @@",
    ]);
}

/// An API key given as a URL's `key` parameter (Google's Maps and YouTube APIs, many others:
/// `?key=VALUE`, `&key=VALUE`), VS Code's connection token (`?tkn=VALUE`), a secret set by
/// `npx convex env set NAME VALUE`, and Snyk's `snyk config set api=TOKEN`.
#[test]
fn a_urls_key_parameter_and_convex_env_set_are_redacted() {
    let cases = [
        "curl \"https://api.example.com/v1/data?key=@@\"",
        "GET https://maps.example.com/api/geocode/json?address=Main+St&key=@@&region=us",
        "fetch(`https://www.example.com/youtube/v3/videos?part=id&key=@@`)",
        "npx convex env set OPENAI_API_KEY @@",
        // VS Code's web server: its connection token opens the editor, and a terminal in it.
        "Web UI available at http://127.0.0.1:8000?tkn=@@",
        "open http://localhost:8000/?folder=/home/me/app&tkn=@@",
    ];
    each_redacted(&with_stream_json(&cases, &['"'], |c| format!("$ {c}\nok")));
    // Snyk's `config set api=TOKEN`: its token is a UUID, a run of token bytes.
    let snyk = [
        "snyk config set api=@@",
        "npx snyk config set api=@@",
        "curl https://example.com/a?key=@@?key=@@",
    ];
    each_long_redacted(&with_stream_json(&snyk, &['"'], |c| format!("$ {c}\nok")));
}

/// What they must leave alone: a `key` that names (a sort key, a cache key, a map's key), a
/// key without a value, and a page that only mentions the parameter.
#[test]
fn url_keys_that_name_stay_intact() {
    each_kept(&[
        "https://example.com/search?q=rust&key=",
        "http://127.0.0.1:8000?tkn=",
        "https://example.com/items?sort=asc&key=created_at",
        "https://example.com/docs?key=YOUR_API_KEY",
        "https://example.com/docs/api?key=${API_KEY}",
        "Pass the key as the `key` parameter: ?key=<your key>",
        "npx convex env set NODE_ENV production",
    ]);
}

/// Values that name rather than hold a secret: an ARN (`"SecretARN": "arn:aws:…"`), another
/// variable's name in capitals (`password=KEY_PASSWORD`, once learned taken on every line
/// that used the constant), and a model's documentation of a field, a sentence, after a weak
/// name (`"ApiKeyRequired": "Requires an API key for this API, path, and method. …"`).
#[test]
fn arns_constant_names_and_field_docs_stay_intact() {
    each_kept(&[
        "\"kms:EncryptionContext:SecretARN\":\"arn:aws:secretsmanager:*:*:secret:*\",",
        "SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "        ctx.load_cert_chain(CERTFILE_PROTECTED, password=KEY_PASSWORD)",
        "KEY_PASSWORD = \"[REDACTED]\"\nctx.load_cert_chain(CERT, password=KEY_PASSWORD.encode())",
        "\"ApiKeyRequired\": \"Requires an API key for this API, path, and method.  \\n*Type*: Boolean\",",
        "\"AllowCredentials\": \"Boolean indicating whether request is allowed to contain credentials.\",",
    ]);
    each_redacted(&[
        "password=@@",
        "\"SecretARN\": \"@@\"",
        "SECRET_KEY=\"@@\"",
        "\"api_key\": \"@@\"",
    ]);
}

/// More of the same sources: a default of `None` after `pwd=` in a signature (ODBC's row took
/// it), a header's name after a weak name (`ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"`), a tuple unpacked
/// (`username, secret_password = user_pass`).
#[test]
fn defaults_names_with_digits_headers_and_tuples_stay_intact() {
    each_kept(&[
        "    def __init__(self, fileobj, mode, zipinfo, pwd=None,",
        "        username, secret_password = user_pass",
    ]);
    each_redacted(&[
        "Driver={ODBC};Server=db;Uid=app;Pwd=@@;",
        "username, password = \"admin\", \"@@\"",
        "host, user, db_password = 'db', 'app', '@@'",
    ]);
    // After a strong name, capitalised words joined by hyphens are a passphrase.
    assert_eq!(
        red("password = \"Correct-Horse-Battery-Staple\""),
        "password = \"[REDACTED]\""
    );
}

/// Names about a secret that end in a handler, a manager or a helper (`HTTPBasicAuthHandler`,
/// `HTTPPasswordMgr`, `credential_helper`), and a signed small number (`self._tokenStartLine =
/// -1`): no value follows them (six's table of moved attributes lost its module names).
#[test]
fn handlers_managers_and_signed_numbers_stay_intact() {
    each_kept(&[
        "    MovedAttribute(\"HTTPBasicAuthHandler\", \"urllib2\", \"urllib.request\"),",
        "    MovedAttribute(\"HTTPPasswordMgr\", \"urllib2\", \"urllib.request\"),",
        "credential_helper = \"osxkeychain\"",
        "        self._tokenStartLine = -1",
        "        self._tokenStartColumn = +1",
    ]);
    each_redacted(&["\"auth_token\": \"@@\"", "HTTP_PASSWORD=@@"]);
}

/// What a review of the exemptions above found leaking: a log line's pairs after a comma, a
/// member or a subscript given a token, an f-string's literal part, a constant-like password
/// with digits, CamelCase and hyphenated passphrases, `FERNET_KEYS`, dotted numbers.
#[test]
fn the_reviews_leaks_through_the_new_exemptions_are_redacted() {
    let red_has = |line: &str, secret: &str| {
        let out = red(line);
        assert!(!out.contains(secret), "{line}\n -> {out}");
    };
    red_has(
        "host = db.internal, user = admin, password = Sup3rS3cretPass",
        "Sup3rS3cretPass",
    );
    red_has(
        "host = db.internal, user = admin, password = Hunterhunter",
        "Hunterhunter",
    );
    red_has(
        "INFO connect host = db, port = 5432, password = Xk9mP2qLw7Rt",
        "Xk9mP2qLw7Rt",
    );
    red_has(
        "user = bob, token = e3b0c44298fc1c149afbf4c8996fb924",
        "e3b0c44298fc1c149afbf4c8996fb924",
    );
    red_has(
        "self.api_key = e3b0c44298fc1c149afbf4c8996fb924",
        "e3b0c44298fc1c149afbf4c8996fb924",
    );
    red_has(
        "this.token = a8f5f167f44f4964e6c998dee827110c",
        "a8f5f167f44f4964e6c998dee827110c",
    );
    red_has("@password = Xk9mP2qLw7Rt", "Xk9mP2qLw7Rt");
    red_has("secret = f'Tr0ub4dor&3{x}'", "Tr0ub4dor");
    red_has("password = f\"Winter2024!{suffix}\"", "Winter2024");
    red_has("DB_PASSWORD=SUPER_SECRET_2024", "SUPER_SECRET_2024");
    red_has("password: ADMIN_PASS_2024", "ADMIN_PASS_2024");
    red_has(
        "MINIO_ROOT_PASSWORD=CorrectHorseBatteryStaple",
        "CorrectHorseBatteryStaple",
    );
    red_has(
        "elastic: WhiteRabbitFollowTheMoon",
        "WhiteRabbitFollowTheMoon",
    );
    red_has(
        "ELASTIC_API=TrustNoOneEverAgainPlease",
        "TrustNoOneEverAgainPlease",
    );
    red_has(
        "\"token\": \"Purple-Monkey-Dishwasher-Banana\"",
        "Purple-Monkey",
    );
    red_has("api_key: Correct-Horse-Battery-Staple", "Correct-Horse");
    red_has(
        "FERNET_KEYS=9b1c8f0e7d6a5b4c3d2e1f0a9b8c7d6e",
        "9b1c8f0e7d6a5b4c3d2e1f0a9b8c7d6e",
    );
    red_has("token = 1234.5678.9012.3456", "1234.5678");
    each_kept(&[
        "curl \"http://localhost:9000/download?key=uploads/2024/05/report.pdf\"",
        "GET http://localhost:3000/cache?key=user:42:profile 200",
    ]);
}

/// Windows' `net use` and `net user` typed in capitals or run as `net.exe` (Windows reads
/// commands in any case), a workflow command's name in capitals (GitHub reads `::ADD-MASK::`
/// as `::add-mask::`), MinIO's `mc admin user add ALIAS USER VALUE`, and a basic-auth password
/// in Go's and Rust's raw strings.
#[test]
fn net_use_in_capitals_and_as_net_exe_minio_users_and_raw_strings_are_redacted() {
    let cases = [
        "NET USER alice @@ /ADD",
        "net.exe user alice @@ /add",
        "echo \"::ADD-MASK::@@\"",
        "mc admin user add myminio alice @@",
        "mc admin user add local/ svc-backup '@@' --insecure",
        "mc --insecure admin user add myminio alice @@",
        "req.SetBasicAuth(\"admin\", `@@`)",
        ".basic_auth(\"admin\", Some(r\"@@\"))",
        ".basic_auth(\"admin\", Some(r#\"@@\"#))",
    ];
    let mut all = with_stream_json(&cases, &['"', '\'', '`'], |c| format!("$ {c}\nok"));
    let windows = [
        r"NET USE \\fs01\share @@ /USER:CORP\admin",
        r"NET USE Z: \\fs01\share @@ /PERSISTENT:NO",
        r"net.exe use \\fs01\share @@ /user:CORP\admin",
        r"C:\> net.exe use Z: \\fs01\share @@",
        r"C:\Windows\System32> NET USE Z: \\fs01\share @@",
    ];
    all.extend(windows.iter().map(|c| c.to_string()));
    all.extend(
        windows
            .iter()
            .map(|c| tool_result(&format!("{c}\nThe command completed successfully."))),
    );
    each_redacted(&all);
}

/// What the rules above must leave alone.
#[test]
fn net_use_without_a_password_minio_listings_and_raw_names_stay_intact() {
    each_kept(&[
        r"NET USE Z: \\fs01\share /PERSISTENT:NO",
        r"NET USE Z: /DELETE",
        r"NET USE \\fs01\share * /USER:CORP\admin",
        "NET USE",
        "NET USER alice * /ADD",
        "NET USER alice /ACTIVE:NO",
        "THE INTERNET USE POLICY",
        "net.exe use",
        "magnet.exe use the settings",
        "echo \"::ADD-MASK::$TOKEN\"",
        "mc admin user add myminio alice",
        "mc admin user list myminio",
        "mc admin user info myminio alice",
        "Use mc admin user add to create a user.",
        "req.SetBasicAuth(user, pass)",
        "let re = Regex::new(r\"^[a-z]+$\")",
    ]);
}

/// A key or a secret made by WireGuard's `wg genkey` or Node's `crypto.randomBytes()` and
/// printed bare, as `openssl rand` prints one: redacted in the result and wherever it appears
/// again; a public key derived in the same pipeline is no secret.
#[test]
fn a_wireguard_key_and_node_random_bytes_printed_bare_are_redacted() {
    let secret = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    let call = |command: &str| {
        serde_json::json!({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01Wg", "name": "Bash",
             "input": {"command": command, "description": "Make a key"}}]}})
        .to_string()
    };
    let result = |text: &str| {
        serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_01Wg", "type": "tool_result", "content": text}]}})
        .to_string()
    };
    for command in [
        "wg genkey",
        "wg genkey | tee /etc/wireguard/private.key",
        "umask 077; wg genkey | sudo tee /etc/wireguard/wg0.key",
        "node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"",
        "node -e 'console.log(crypto.randomBytes(48).toString(\"hex\"))'",
        "node -p \"require('crypto').randomBytes(32).toString('base64url')\"",
    ] {
        let text = format!(
            "{}\n{}\nPrivateKey was {secret} once\n",
            call(command),
            result(&format!("{secret}\n"))
        );
        let out = red(&text);
        assert!(!contains(out.as_bytes(), secret), "{command}:\n{out}");
    }
    for command in [
        "wg genkey | tee private.key | wg pubkey",
        "wg pubkey < private.key",
        "wg show wg0 public-key",
        "node -e \"console.log(process.version)\"",
    ] {
        let text = format!("{}\n{}\n", call(command), result(&format!("{secret}\n")));
        assert_eq!(red(&text), text, "{command}");
    }
}

/// A cluster's gossip encryption key (Consul, Nomad, Serf): made by `consul keygen` and printed
/// bare, then given as `encrypt` in HCL or JSON, or to `-encrypt=`, or as `CONSUL_ENCRYPT`. The
/// name holds no secret's part, so neither was read.
#[test]
fn a_gossip_encryption_key_is_redacted() {
    let secret = |i: usize| format!("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu{i:02}=");
    each_redacted_as(
        &[
            "encrypt = \"@@\"",
            "  encrypt = \"@@\"",
            "  \"encrypt\": \"@@\",",
            "consul agent -server -encrypt=@@ -bootstrap-expect=3",
            // The Docker image's environment variable.
            "CONSUL_ENCRYPT=@@",
            "      - CONSUL_ENCRYPT=\"@@\"",
        ],
        secret,
    );
    each_kept(&[
        "encrypt = true",
        "encrypt = \"aes-256-gcm\"",
        "  \"encrypt\": false,",
        "checksum = \"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\"",
    ]);
    let key = secret(99);
    for command in ["consul keygen", "nomad operator gossip keyring generate"] {
        let text = format!(
            "{}\n{}\nencrypt is {key} now\n",
            bash_call("toolu_01GossipKeyMadeHere00", command),
            bash_result("toolu_01GossipKeyMadeHere00", &format!("{key}\n"))
        );
        let out = red(&text);
        assert!(!contains(out.as_bytes(), &key), "{command}:\n{out}");
    }
}

/// strongSwan's and Libreswan's `ipsec.secrets`: `SELECTORS : PSK "VALUE"`, quoted or not.
#[test]
fn an_ipsec_pre_shared_key_is_redacted() {
    let cases = [
        "%any %any : PSK \"@@\"",
        "10.0.0.1 10.0.0.2 : PSK '@@'",
        ": PSK \"@@\"",
        "@moon.example.org @sun.example.org : PSK @@",
        "vpn.example.com :\tPSK \"@@\"",
    ];
    let mut all: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    all.push(tool_result(&format!(
        "# /etc/ipsec.secrets\n{}\n",
        cases[0]
    )));
    each_redacted(&all);
    each_kept(&[
        "%any : PSK \"\"",
        "Authentication with PSK failed",
        "IKE_SA auth method: PSK (pre-shared key)",
        "mode: PSK only",
    ]);
}

/// Net-SNMP's community (`-c VALUE`, `-cVALUE`), the password of SNMP v1 and v2c, to every tool
/// of the suite; the defaults (`public`, `private`) and a variable are no secret.
#[test]
fn an_snmp_community_is_redacted() {
    let cases = [
        "snmpwalk -v2c -c @@ 10.0.0.1",
        "snmpget -v 2c -c @@ router sysUpTime.0",
        "snmpbulkwalk -v2c -c '@@' switch01 ifDescr",
        "snmpwalk -v2c -c@@ 10.0.0.1",
        "sudo snmpset -v2c -c @@ 10.0.0.1 sysContact.0 s ops",
        "/usr/bin/snmptable -v2c -c \"@@\" host ifTable",
    ];
    each_redacted(&with_stream_json(&cases, &['"', '\''], |c| {
        format!("$ {c}\nSNMPv2-MIB::sysDescr.0 = STRING: Linux")
    }));
    each_kept(&[
        "snmpwalk -v2c -c public 10.0.0.1",
        "snmpwalk -v2c -c private 10.0.0.1",
        "snmpwalk -v2c -c $COMMUNITY 10.0.0.1",
        "snmpget -v3 -l authPriv -u admin router sysUpTime.0",
        "snmpd -c /etc/snmp/snmpd.conf",
        "SNMP v2c sends the community string in clear text",
        "snmpwalk: Timeout: No Response from 10.0.0.1",
    ]);
}

/// A CloudFormation resource type as a key (cfn-lint's schemas map each to a hash) and a token
/// that is a cursor or a request's id (AWS's `NextToken`, `ContinuationToken`, WAF's
/// `ChangeToken`, Google's `nextPageToken`, MongoDB's `resumeToken`): no secret. The same values
/// under a credential's name, and a type path in code assigned a literal, still are.
#[test]
fn resource_types_and_cursor_tokens_stay_intact() {
    each_kept(&[
        r#"    "AWS::IAM::AccessKey": "72c2d9dd90025459","#,
        r#"    "AWS::ApiGateway::ApiKey": "48205d4ffd7feba3","#,
        r#"    "AWS::SecretsManager::Secret": "c85175a4ebcce361","#,
        r#"    "AWS::Route53GlobalResolver::AccessToken": "ebce066c0deb24b4","#,
        r#"  "ChangeToken": "abcd12f2-46da-4fdb-b8d5-fbd4c466928f","#,
        r#"  "NextToken": "eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAxMH0=","#,
        r#"  "ContinuationToken": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=","#,
        r#"{"nextPageToken": "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA3", "items": []}"#,
        "next_token = \"abcd12f2-46da-4fdb-b8d5-fbd4c466928f\"",
        r#"{"resumeToken": {"_data": "8263A1B2C3000000012B022C0100296E5A1004"}}"#,
    ]);
    each_redacted(&[
        r#"  "AccessToken": "@@","#,
        r#"  "ClientToken": "@@","#,
        r#"{"Resources": {"Key": {"Type": "AWS::IAM::AccessKey"}}, "SecretAccessKey": "@@"}"#,
        "AWS::IAM::AccessKey = \"@@\"",
        r#""next_auth_token": "@@""#,
    ]);
}

/// hostapd's `hostapd.conf` names the Wi-Fi passphrase `wpa_passphrase=VALUE`: the same word as
/// the `wpa_passphrase SSID VALUE` command, but assigned, so a name and its value.
#[test]
fn hostapd_wpa_passphrase_assigned_is_redacted() {
    each_redacted(&[
        "wpa_passphrase=@@",
        "WPA_PASSPHRASE=@@",
        "  wpa_passphrase = @@",
        "wpa_passphrase: @@",
    ]);
    each_kept(&[
        "wpa_passphrase=",
        "wpa_passphrase HomeNet < passphrase.txt",
        "run wpa_passphrase to make the psk line",
    ]);
}

/// Network devices' configurations as `show running-config` prints them and as they are written
/// (Cisco IOS, IOS XE, NX-OS and ASA; Juniper's `set` form; FortiOS): passwords with their
/// encryption type (`0` is clear text, `7` a reversible cipher, `5`/`8`/`9` a hash that can be
/// cracked offline), shared keys of TACACS+, RADIUS, IKE and routing protocols, and SNMP
/// communities; IKEv1's `crypto isakmp key VALUE address …` and an ASA tunnel group's
/// pre-shared keys; a key chain's ` key-string [TYPE] VALUE`. (A `tacacs server` block's ` key 7
/// VALUE` is not read: no keyword literal finds it.)
#[test]
fn a_network_device_configuration_secret_is_redacted() {
    let cases = [
        "username admin privilege 15 password 0 @@",
        "username admin password 7 @@",
        "username netops privilege 15 secret 9 @@",
        "username admin secret @@",
        "enable secret 5 @@",
        "enable secret @@",
        "enable password 7 @@",
        "enable password level 7 @@",
        " password 7 @@",
        " password @@",
        "snmp-server community @@ RO",
        "snmp-server community @@ RW 10",
        "snmp-server community @@",
        "tacacs-server key 7 @@",
        "tacacs-server key @@",
        "radius-server key 0 @@",
        " pre-shared-key @@",
        " pre-shared-key local @@",
        " neighbor 192.0.2.1 password 7 @@",
        " ip ospf authentication-key @@",
        " ip ospf message-digest-key 1 md5 @@",
        " ppp chap password 0 @@",
        "set security ike policy ike-pol pre-shared-key ascii-text \"@@\"",
        "    set psksecret @@",
        "crypto isakmp key 0 @@ address 203.0.113.5",
        "crypto isakmp key @@ address 0.0.0.0 0.0.0.0",
        " crypto isakmp key 6 @@ hostname vpn.example.com",
        "isakmp key @@ address 192.0.2.1 netmask 255.255.255.255",
        " ikev1 pre-shared-key @@",
        " ikev2 remote-authentication pre-shared-key @@",
        "  key-string 7 @@",
        "  key-string @@",
    ];
    let mut all: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    // Hashes as the device prints them (MD5-crypt, scrypt).
    all.push("enable secret 5 @@".to_string());
    all.push("username admin secret 9 @@".to_string());
    all.push(tool_result(&format!(
        "Building configuration...\n!\nhostname edge1\n{}\n!\nend\n",
        cases[0]
    )));
    let n = all.len();
    each_redacted_as(&all, |i| match i {
        _ if i == n - 3 => "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0".to_string(),
        _ if i == n - 2 => {
            "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM".to_string()
        }
        _ => format!("Zq8wLmN3pX{i:02}vR"),
    });
    each_kept(&[
        "username admin privilege 15",
        "enable secret",
        "service password-encryption",
        "snmp-server community public RO",
        "snmp-server community private RW",
        "snmp-server enable traps",
        "tacacs-server host 192.0.2.10",
        " key chain OSPF-KEYS",
        " key 1",
        "crypto isakmp policy 10",
        "crypto isakmp key exchange is described below",
        "the isakmp key exchange failed",
        "the key-string is empty",
        "  key-string",
        " ikev2 remote-authentication pre-shared-key",
        " authentication pre-share",
        " password encryption aes",
        "no enable password",
        "the key string is empty",
        "        username and password from the URL, as well as from the",
        "username or password is incorrect",
        "enable password caching",
        "enable secret storage for the vault",
    ]);
}

/// A password command inside a command substitution (`$(…)`, `` `…` ``) ends where the
/// substitution does: `useradd -p $(openssl passwd -6 VALUE) bob` gives `openssl` its password
/// as the last word before the `)`, not `bob`.
#[test]
fn a_password_command_in_a_command_substitution_is_read_up_to_its_end() {
    each_redacted(&[
        "useradd -m -p $(openssl passwd -6 @@) bob",
        "useradd -m -p \"$(openssl passwd -6 @@)\" bob",
        "echo $(openssl passwd -1 -salt xyz @@) >> users.txt",
        "usermod -p `openssl passwd -6 @@` bob",
        "x=$(sshpass -p @@ ssh host uptime) && echo $x",
    ]);
    each_kept(&[
        "useradd -m -p $(openssl passwd -6 -stdin < pw.txt) bob",
        "echo $(openssl passwd -6) done",
    ]);
}

/// OpenLDAP's `ldappasswd`: `-s NEW` sets the new password, `-w BIND` gives the bind
/// password (`-a OLD` the old one); `-S` and `-W` ask for them.
#[test]
fn ldappasswd_passwords_are_redacted() {
    each_redacted(&[
        "ldappasswd -x -D cn=admin,dc=example,dc=org -W -s @@ uid=bob,ou=people,dc=example,dc=org",
        "ldappasswd -H ldap://ldap -x -D uid=bob,dc=ex -W -a @@ -S",
        "ldappasswd -x -s @@",
    ]);
    each_kept(&[
        "ldappasswd -x -D cn=admin,dc=example,dc=org -W -S uid=bob,dc=example,dc=org",
        "man ldappasswd",
    ]);
    // Both the old and the new password, in either order.
    for line in [
        "ldappasswd -x -a Qp0ld0ld0ldX1 -s Wn3wn3wn3wY2 uid=bob",
        "ldappasswd -x -s Wn3wn3wn3wY2 -a Qp0ld0ld0ldX1 uid=bob",
    ] {
        let out = red(line);
        assert!(!out.contains("0ld0ld") && !out.contains("n3wn3w"), "{out}");
    }
}

/// A web server's or a proxy's configuration that sets an `Authorization` header: the name,
/// a blank and the quoted value, no colon (nginx, Apache, HAProxy, Caddy).
#[test]
fn an_authorization_header_set_in_a_server_configuration_is_redacted() {
    each_redacted(&[
        "proxy_set_header Authorization \"Basic @@\";",
        "    proxy_set_header Authorization \"Bearer @@\";",
        "RequestHeader set Authorization \"Basic @@\"",
        "http-request set-header Authorization \"Basic @@\"",
        "header_up Authorization \"Bearer @@\"",
        "proxy_set_header Proxy-Authorization 'Basic @@';",
    ]);
    each_kept(&[
        "proxy_set_header Authorization $http_authorization;",
        "proxy_set_header Authorization \"\";",
        "RequestHeader unset Authorization",
    ]);
}

/// A configuration directive that gives a secret by its name and a blank, alone on its line:
/// keepalived's `auth_pass VALUE`, HAProxy's `user NAME insecure-password VALUE`, Gradle's
/// signing config in Groovy (`storePassword 'VALUE'`, a camel-case name and a quoted word; a
/// file Claude reads has its lines numbered). A lower-case word there may be prose (`api_key
/// missing`), so the value needs a capital, a digit or a symbol.
#[test]
fn a_secret_directive_alone_on_its_line_is_redacted() {
    each_redacted(&[
        "auth_pass @@",
        "        auth_pass @@",
        "    user admin insecure-password @@",
        "  bind_password @@;",
        "+    auth_pass @@",
        "        storePassword '@@'",
        "        keyPassword \"@@\"",
        "    14\u{2192}        keyPassword '@@'",
        "+            storePassword '@@'",
    ]);
    each_kept(&[
        "auth_pass missing",
        "auth_type PASS",
        "api_key required",
        "the auth_pass option",
        "    user admin password $6$rounds",
        "auth_pass is the VRRP password",
        "        keyAlias 'upload'",
        "        storePassword keystoreProperties['storePassword']",
        "        storePassword System.getenv(\"STORE_PASSWORD\")",
        "        keyPassword 'is required'",
        "        keyPassword 'changeme' // not used",
        // A setting after the name, not its value: a log's `key=value` pairs.
        "access_token expires_in=3600",
        "auth_pass x=1",
        "password changed=yes",
        "password reset_required=true user=bob",
    ]);
    each_redacted(&["machine git.example.com login bob password @@"]);
    each_redacted_with(&[
        ("auth_pass @@", "Zq8wLmN3pX00vR="),
        ("password @@", "dGhpcyBpcyBhIHNlY3JldA=="),
        ("auth_pass @@", "Abc=def9xQ"),
        ("machine h login u password @@", "pass=word1"),
    ]);
}

/// sssd's and PAM's name for a password, `authtok` (`ldap_default_authtok = VALUE`, the bind
/// password of sssd.conf), as a name's part; its type beside it names none.
#[test]
fn an_sssd_authtok_is_redacted() {
    each_redacted(&[
        "ldap_default_authtok = @@",
        "ldap_default_authtok=@@",
        "    ldap_default_authtok = @@",
        "krb5_authtok: @@",
    ]);
    each_kept(&[
        "ldap_default_authtok_type = password",
        "ldap_default_authtok_type = obfuscated_password",
        "pam_sss.so use_authtok",
        "password sufficient pam_unix.so use_authtok try_first_pass",
    ]);
}

/// A setting about a password or a secret whose value is its state (`PasswordAutoFill=Enabled`,
/// Windows' and browsers' policies, an application's flags): `Enabled` and `Disabled` name a
/// state, in any case, as `true` and `false` do. A value that only starts so is judged as any.
#[test]
fn a_settings_state_after_a_secrets_name_stays_intact() {
    each_kept(&[
        "PasswordAutoFill=Enabled",
        "PasswordAutoSave=Disabled",
        "EnablePasswordReveal=Enabled",
        "password_login=enabled",
        "PASSWORD_REQUIRED=Enabled",
        "passwordless: Enabled",
        "password_auth: disabled",
        "secret_rotation = Disabled",
        "\"PasswordManagerEnabled\": \"Disabled\",",
    ]);
    each_redacted_with(&[
        ("password=@@", "Enabled-2024!"),
        ("DB_PASSWORD=@@", "EnabledDisabled7"),
        ("password: @@", "Disabledx9q"),
    ]);
}

/// A setting that says how a secret is kept, made or checked, not the secret: its last part a
/// store, a backend, a source, a hasher or an encoder, an algorithm, a strength, a reset
/// (`SECRET_STORE=Vault`, `PASSWORD_HASHERS = Argon2`, `password_strength: Strong`); and a
/// password's state as tools print it (`Password: Not set`, `password: Locked`).
#[test]
fn how_a_secret_is_kept_and_its_state_stay_intact() {
    each_kept(&[
        "PASSWORD_HASHERS = Argon2",
        "password_hash_algo: Argon2id",
        "secret_backend: Vault",
        "SECRET_STORE=Vault",
        "password_storage: Keychain",
        "password_strength: Strong",
        "password_reset: Allowed",
        "passwordReset=Allowed",
        "secret_source: Environment",
        "DB_PASSWORD_SOURCE=Environment",
        "PasswordEncoder=BCrypt",
        "password_encoder: BCrypt",
        "PasswordHasher=Pbkdf2",
        "password_algorithm: Sha512",
        "Password: Not set",
        "password: Set",
        "password: Locked",
        "password: Unchanged",
    ]);
    each_redacted_with(&[
        ("password: @@", "Notset4life"),
        ("SECRET_STORE_TOKEN=@@", "Vault7x9qLmN2"),
        ("password_store_pass=@@", "Keychain9q"),
    ]);
}

/// What a directory's or an account tool prints about a password: when it was last set
/// (`Get-ADUser`'s `PasswordLastSet : 12/1/2026 10:22:01 AM`, a date with slashes, or a
/// FILETIME's number), its status (`PasswordStatus: Normal`, `secret_status: Pending`), and
/// the word a check or a change gives back (`Password: Accepted`, `Secret: Created`).
#[test]
fn a_passwords_status_and_when_it_was_set_stay_intact() {
    each_kept(&[
        "PasswordLastSet : 1/2/2024 3:04:05 PM",
        "PasswordLastSet    : 12/1/2026 10:22:01 AM",
        "PasswordLastSet=133456789012345678",
        "password_last_changed: 2024-01-02",
        "secret_last_rotated: 12/01/2026",
        "password: 1/2/2024",
        "PasswordStatus: Normal",
        "secret_status: Pending",
        "token_state: Active",
        "Secret: Created",
        "password: Generated",
        "Password: Accepted",
        "Password: Rejected",
        "Password: Valid",
        "Password: Weak",
        "Password: Strong",
        "password: Changed",
        "secret=Approved",
        "password: Verified",
    ]);
    each_redacted_with(&[
        ("password: @@", "1/2/2024x"),
        ("password: @@", "12/1/20267"),
        ("PASSWORD_LAST=@@", "Verified9q!"),
        ("password_set=@@", "Accepted-42"),
    ]);
}

/// How a password or a login is checked, named after it: PostgreSQL's `password_encryption =
/// scram-sha-256`, MongoDB's `authMechanism=SCRAM-SHA-256`, and the name of a scheme of
/// authentication as a value (`Auth: OAuth2`, `auth = SigV4`, `auth: Kerberos5`).
#[test]
fn how_a_login_is_checked_stays_intact() {
    each_kept(&[
        "password_encryption = scram-sha-256",
        "password_encryption = md5",
        "#password_encryption = scram-sha-256\t\t# scram-sha-256 or md5",
        "auth_mechanism: SCRAM-SHA-1",
        "authMechanism=SCRAM-SHA-256",
        "mongodb://db.example.com/?authSource=admin&authMechanism=SCRAM-SHA-256",
        "token_scheme: Bearer2",
        "Auth: OAuth2",
        "auth = SigV4",
        "Auth: AWS4-HMAC-SHA256",
        "auth: Kerberos5",
        "auth: Ed25519",
        "auth: WPA2-PSK",
        "Auth: OAuth2 (scopes: repo, read:org)",
    ]);
    each_redacted_with(&[
        ("auth: @@", "OAuth2x9Q7mL"),
        ("password_encryption_key = @@", "Zq8wLmN3pX00vR"),
    ]);
}

/// An SSH key's file name (`ssh_key: id_ed25519`, `SSH_KEY=id_ed25519.pub`,
/// `deploy_key: id_ed25519_deploy`) and a version (`token: v1`, `secret: v1.0.0`) given as a
/// value: what a key's or an API's setting names, not a secret.
#[test]
fn an_ssh_keys_file_name_and_a_version_stay_intact() {
    each_kept(&[
        "ssh_key: id_ed25519",
        "SSH_KEY=id_ed25519.pub",
        "deploy_key: id_ed25519_deploy",
        "private_key: id_ecdsa_sk",
        "ssh_key = \"id_rsa.pub\"",
        "token: v1",
        "token: v2.3.1",
        "auth: v2",
        "secret: v1.0.0",
        "token = \"v1\"",
    ]);
    each_redacted_with(&[
        ("ssh_key: @@", "id_ed25519x9QmL7"),
        ("token: @@", "v1Zq8wLmN3pX"),
        ("password: @@", "v1.2.3x"),
    ]);
}

/// What this machine's own configuration files hold that names a secret without one, found by
/// redacting every text file under `/etc`: login.defs' `PASS_MAX_DAYS 99999`, redis.conf's
/// `# masterauth <master-password>`, Maven's `<privateKey>/path/to/private/key</privateKey>`, a
/// setting's choices (`… = true|false`).
#[test]
fn what_etc_names_without_a_secret_stays_intact() {
    each_kept(&[
        "PASS_MAX_DAYS\t99999",
        "PASS_MIN_DAYS\t0",
        "PASS_WARN_AGE\t7",
        "password_max_age: 90000",
        "TOKEN_TTL_SECONDS=86400000",
        "password_lockout_minutes = 1440000",
        "# masterauth <master-password>",
        "requirepass <your-password-here>",
        "      <privateKey>/path/to/private/key</privateKey>",
        "<privateKey>~/.ssh/id_rsa</privateKey>",
        "# com.sun.management.jmxremote.password.toHashes = true|false",
        "password=yes|no",
        "secret: on|off",
    ]);
    each_redacted(&[
        "masterauth @@",
        "requirepass @@",
        "<privateKey>@@</privateKey>",
    ]);
    each_redacted_with(&[
        ("password: @@", "open|Sesame9"),
        ("password=@@", "Zq8wLmN3pX|x"),
        ("<password>@@</password>", "/Zq8wLmN3pX"),
    ]);
}

/// What a database server and a package manager print that names a secret without one, found
/// by redacting this machine's command output: MariaDB's `SHOW VARIABLES` (`old_passwords
/// OFF`, `max_password_errors 4294967295`, whose value, once taken, was learned and went from
/// every later row that held it), `dpkg -l`'s `libsecret-1-0:amd64`.
#[test]
fn server_variables_and_package_architectures_stay_intact() {
    let show_variables = "Variable_name\tValue\n\
        disconnect_on_expired_password\tOFF\n\
        max_password_errors\t4294967295\n\
        max_seeks_for_key\t4294967295\n\
        max_write_lock_count\t4294967295\n\
        old_passwords\tOFF\n\
        strict_password_validation\tON\n";
    assert_eq!(red(show_variables), show_variables);
    each_kept(&[
        "ii  libsecret-1-0:amd64                       0.20.5-3     amd64        Secret store",
        "ii  gir1.2-secret-1:arm64   0.20.5-3   arm64   Secret store (GObject-Introspection)",
        "libsecret-1-dev:i386",
        "password_reuse_check_interval = 0",
        "password: off",
        "secret=Yes",
    ]);
    each_redacted_with(&[
        ("password\t@@", "OFF4294967295"),
        ("libsecret:@@", "amd64Zq8wLmN3pX"),
    ]);
}

/// What manual pages say of flags and files, found by redacting `man`'s text of this machine's
/// tools: GnuPG's commands that take a key's or a user's id (`--edit-key alice@example.com`,
/// `--passwd USER-ID`, `--export-secret-keys ID`), a flag that ends a sentence (`See also
/// --proxy-key. Added in 7.52.0.`), and `login` in prose before `/etc/passwd` (`.netrc`'s
/// `login USER password VALUE` has one word between).
#[test]
fn what_manual_pages_say_of_flags_and_files_stays_intact() {
    each_kept(&[
        "gpg --edit-key alice@example.com",
        "gpg --edit-key 0xABCDEF0123456789",
        "\t      --edit-key command \"tsign\").",
        "gpg --passwd alice@example.com",
        "gpg2 --batch --passwd 0xABCDEF01",
        "       --change-passphrase user-id",
        "gpg --export-secret-keys ABCDEF0123456789 > key.asc",
        "gpg --export-secret-subkeys --armor 3AA5C34371567BD2!",
        "gpg --quick-generate-key \"Alice <alice@example.com>\" ed25519 sign 1y",
        "       --quick-generate-key user-id [algo [usage [expire]]]",
        "gpg --delete-secret-keys 3AA5C34371567BD2",
        "\t      See also -x, --proxy and --proxy-key. Added in 7.52.0.",
        "\t      See also -x, --proxy and --proxy-tlspassword. Added in 7.52.0.",
        "\t   the login shell in /etc/passwd remains empty.",
    ]);
    each_redacted(&[
        "tool --passwd @@",
        "vncserver --passwd @@ :1",
        "gpg --batch --passphrase @@ -d f.gpg",
        "machine git.example.com login bob password @@",
        "login bob password @@",
        "machine imap login tzz@example.com port imaps password @@",
        "curl --proxy-key @@ https://x",
    ]);
}

/// Settings whose value names a mechanism, not a secret, found by redacting this machine's
/// manual pages: D-Bus' `<auth>EXTERNAL</auth>` (a SASL mechanism), systemd-networkd's
/// `Token=eui64` (how an IPv6 address is made); and GnuPG's `--generate-revocation NAME`.
#[test]
fn mechanisms_named_as_values_stay_intact() {
    each_kept(&[
        "  <auth>EXTERNAL</auth>",
        "Example: <auth>DBUS_COOKIE_SHA1</auth>",
        "<auth>ANONYMOUS</auth>",
        "auth_mechanisms = plain login",
        "sasl_mechanism: GSSAPI",
        "auth: CRAM-MD5",
        "auth: XOAUTH2",
        "Token=eui64",
        "Token=prefixstable",
        "gpg --generate-revocation alice",
        "gpg --gen-revoke 0xABCDEF01",
        "gpg --delete-secret-and-public-key alice",
    ]);
    each_redacted_with(&[
        ("<auth>@@</auth>", "EXTERNALx9Q7"),
        ("Token=@@", "eui64Zq8wLmN3pX"),
    ]);
}

/// Cloud tools that take a secret's or a resource's name where a secret's name is the flag or
/// the command: Secret Manager's `gcloud secrets versions access latest --secret=NAME`, AWS'
/// `secretsmanager get-secret-value --secret-id NAME`, and gcloud's `set-password USER` or
/// `reset-windows-password INSTANCE`, whose password is a flag's (redacted as ever).
#[test]
fn cloud_tools_naming_a_secret_or_a_resource_stay_intact() {
    each_kept(&[
        "gcloud secrets versions access latest --secret=db-password",
        "gcloud secrets versions access 3 --secret my-secret --project prod",
        "aws secretsmanager get-secret-value --secret-id prod/db",
        "aws secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf --query SecretString",
        "aws secretsmanager describe-secret --secret-id prod/db2024",
        "Run `gcloud secrets versions access latest --secret=db-password` to read it.",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"gcloud secrets versions access latest --secret=db-password"}}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"/usr/bin/gpg --batch --passwd alice@example.com"}}]}}"#,
        "gcloud compute reset-windows-password my-instance --user=admin --zone us-central1-a",
        "gcloud active-directory domains reset-admin-password my-domain.com",
    ]);
    each_redacted(&[
        "gcloud alloydb users set-password my-username --cluster=c --password=@@",
        "gcloud sql users set-password root --host=% --instance=db --password=@@",
        "neo4j-admin dbms set-initial-password @@",
        "tool --secret=@@",
        "aws secretsmanager put-secret-value --secret-id prod/db --secret-string @@",
    ]);
}

/// What manual pages of this machine's servers and tools show, rendered: nginx's upstream
/// directives (`proxy_pass http://127.0.0.1:8080;`, in every reverse proxy's configuration),
/// systemd's `PassEnvironment=VAR1 VAR2`, `systemd-creds --with-key=tpm2`, OpenSSL's `-pass
/// file:PATH`, and a wrapped sentence that starts its line with `password authentication.`.
#[test]
fn what_rendered_manual_pages_show_stays_intact() {
    each_kept(&[
        "        proxy_pass http://127.0.0.1:8080;",
        "    proxy_pass http://backend;",
        "\t\t  proxy_pass localhost:873;",
        "  fastcgi_pass unix:/run/php/php8.2-fpm.sock;",
        "  uwsgi_pass 127.0.0.1:3031;",
        "  grpc_pass grpc://127.0.0.1:50051;",
        "    proxy_pass_header Authorization;",
        "    fastcgi_pass_header Authorization;",
        "    proxy_pass_request_headers on;",
        "PassEnvironment=VAR1 VAR2 VAR3",
        "systemd-creds encrypt --with-key=tpm2 in out",
        "systemd-creds encrypt --with-key=host+tpm2 in out",
        "openssl enc -d -aes-256-cbc -in f -pass file:/tmp/pw",
        "\t   -pass file:<passfile>",
        "\t   password authentication.",
    ]);
    each_redacted(&[
        "PROXY_PASS=@@",
        "proxy_pass_word=@@",
        "proxy_password = @@",
        "password @@",
        "  password @@",
    ]);
    each_redacted_with(&[(
        "openssl enc -d -aes-256-cbc -in f -pass @@",
        "pass:Zq8wLmN3pX",
    )]);
}

/// A default after an environment lookup given by keyword (django-environ's `env("NAME",
/// default="…")`, `configparser`'s `fallback="…"`) or a block (Ruby's `ENV.fetch("NAME") {
/// "…" }`).
#[test]
fn a_secret_default_given_by_keyword_or_block_is_redacted() {
    each_redacted(&[
        "DB_PASS = env(\"DB_PASS\", default=\"@@\")",
        "SECRET_KEY = env.str(\"SECRET_KEY\", default='@@')",
        "password = config.get(\"db\", \"password\", fallback=\"@@\")",
        "config.password = ENV.fetch(\"PASSWORD\") { \"@@\" }",
        "token = ENV.fetch('API_TOKEN') { '@@' }",
    ]);
    each_kept(&[
        "DB_PASS = env(\"DB_PASS\", default=None)",
        "SECRET_KEY = env(\"SECRET_KEY\", default=\"\")",
        "config.password = ENV.fetch(\"PASSWORD\") { nil }",
    ]);
}

/// MySQL's and MariaDB's glued `-pVALUE` in an argument vector: a Dockerfile's or a
/// Kubernetes container's `command`, Python's `subprocess.run([...])` (`-p` apart from its
/// value names a database there, not a password).
#[test]
fn a_mysql_password_in_an_argument_vector_is_redacted() {
    each_redacted(&[
        "    command: [\"mysql\", \"-uroot\", \"-p@@\", \"-e\", \"SELECT 1\"]",
        "CMD [\"mariadb\", \"-h\", \"db\", \"-p@@\"]",
        "subprocess.run(['mysql', '-u', 'root', '-p@@', 'app'], check=True)",
        "HEALTHCHECK CMD [\"mysqladmin\", \"ping\", \"-p@@\"]",
    ]);
    each_kept(&[
        "    command: [\"mysql\", \"-uroot\", \"-p\", \"app\"]",
        "CMD [\"mysqld\", \"--port\", \"3306\"]",
        "args: [\"mysql\", \"-P\", \"3306\"]",
    ]);
}

/// A container tool's registry credentials on its command line: skopeo's `--src-creds` and
/// `--dest-creds`, podman's and buildah's `--creds`, `USER:VALUE` after a blank or an `=`.
#[test]
fn registry_credentials_given_by_creds_flags_are_redacted() {
    each_redacted(&[
        "skopeo copy --dest-creds admin:@@ docker://a docker://b",
        "skopeo copy --src-creds bob:@@ docker://a docker://b",
        "skopeo copy --src-creds=bob:@@ docker://a docker://b",
        "podman login --creds user:@@ registry.example.com",
        "buildah push --creds=ci:@@ image docker://reg/img",
        "podman pull --creds \"deploy:@@\" quay.io/x/y",
    ]);
    each_kept(&[
        "the creds are stored in the keychain",
        "use --creds to pass credentials",
        "    --creds USERNAME[:PASSWORD]   Use USERNAME[:PASSWORD] for accessing the registry",
        "podman login --creds=$REG_USER:$REG_PASS quay.io",
        "skopeo copy --dest-creds \"$USER:$PASSWORD\" a b",
        "podman login --creds alice quay.io",
        "my-creds-file.json",
    ]);
}

/// A token split by a colour code in Claude's stream-json, where the ESC is JSON-escaped in
/// either casing (`\u001b`, as serde writes it, or `\u001B`, as other writers do): one keyword
/// literal finds both, and neither piece of the token is left.
#[test]
fn a_token_split_by_a_json_escaped_colour_code_is_redacted_in_either_casing() {
    let ghp = "ghp_Q7mZk2Lx9Rb4Tn8Vw3Yc6Hd1Jf5Gs0Pa2Ke7";
    for esc in ["\\u001b", "\\u001B"] {
        for cut in [8, 20, 30] {
            let (a, b) = ghp.split_at(cut);
            let line = tool_result("x").replace("\"x\"", &format!("\"{a}{esc}[1m{b}{esc}[0m\""));
            let out = red(&line);
            assert!(
                !contains(out.as_bytes(), a) && !contains(out.as_bytes(), b),
                "{line}\n   -> {out}"
            );
        }
    }
    // Other escaped control characters are no colour code.
    each_kept(&["{\"text\":\"a\\u0019b \\u001fc\"}"]);
}

/// npm's `_auth` (base64 of `USER:VALUE`) in an `.npmrc`, scoped to a registry, in the
/// environment's spellings and as JSON: found by the `auth` of its name, with no literal of its
/// own.
#[test]
fn an_npm_auth_setting_is_redacted() {
    each_redacted(&[
        "_auth=@@",
        "//registry.npmjs.org/:_auth=@@",
        "npm_config__auth=@@",
        "NPM_CONFIG__AUTH=@@",
        "\"_auth\": \"@@\"",
        "//npm.pkg.github.com/:_authToken=@@",
    ]);
    each_kept(&["always-auth=true", "_auth=", "npm config delete _auth"]);
}

/// A value longer than the look of the `NAME=VALUE` reader (4 KiB) is judged on its first bytes
/// and redacted whole, quoted or not; and a line of one assignment repeated, where every
/// name's value is the rest of the line, is redacted whole (reading each value to the line's
/// end, and each ARN's walk to its start, made such lines quadratic: 1 MiB of `pass=` took
/// minutes).
#[test]
fn a_value_longer_than_the_look_is_redacted_whole() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let alphabet = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let long: String = (0..12_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect();
    for line in [
        format!("password={long}"),
        format!("password=\"{long}\" and more"),
        format!("api_key: {long}"),
        format!("{{\"token\": \"{long}\"}}"),
    ] {
        let out = red(&line);
        for piece in long.as_bytes().chunks(12) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                !contains(out.as_bytes(), piece),
                "{piece} left in {}",
                &out[..80]
            );
        }
    }
    for unit in ["pass=", "secret="] {
        let out = red(&unit.repeat(200_000 / unit.len()));
        assert!(
            !out.contains(&unit.repeat(2)),
            "{unit} repeated: {}",
            &out[..80]
        );
    }
}

/// The credentials after an `Authorization` header's scheme when the scheme is a service's own
/// (`Api-Key`, `SSWS`, `GenieKey`, `Key`, `Client-ID`, …): the scheme word was taken for the
/// value and redacted, and the credentials after it went out; a header set by its name in
/// code (`headers.set("Authorization", "Token …")`) went out whole.
#[test]
fn credentials_after_any_authorization_scheme_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "Authorization: Api-Key @@",
            "Authorization: SSWS @@",
            "Authorization: GenieKey @@",
            "Authorization: Key @@",
            "Authorization: Klaviyo-API-Key @@",
            "Authorization: Client-ID @@",
            "Authorization: Zoho-oauthtoken @@",
            "Authorization: OAuth @@",
            "Authorization: DeepL-Auth-Key @@",
            "Proxy-Authorization: Api-Key @@",
            "curl -H 'Authorization: SSWS @@' https://example.okta.com/api/v1/users",
            "curl -H \"Authorization: Api-Key @@\" https://api.example.com",
            "\"Authorization\": \"Api-Key @@\"",
            "headers.set(\"Authorization\", \"Token @@\")",
            "req.Header.Set(\"Authorization\", \"token @@\")",
            "xhr.setRequestHeader(\"Authorization\", \"Key @@\");",
            "session.headers.update({'Authorization': 'GenieKey @@'})",
        ],
        &['"', '\''],
        |c| format!("> {c}\n< HTTP/1.1 200 OK"),
    ));
    // Parameters after the scheme (AWS's signature, Hawk's MAC): all of them go, to the line's
    // end or the quote around the header.
    for line in [
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=@@",
        "Authorization: Hawk id=\"dh37fgj492je\", ts=\"1353832234\", mac=\"@@\"",
        "curl -H 'Authorization: Hawk id=\"dh37fgj492je\", mac=\"@@\"' https://example.com",
    ] {
        let secret = "6R4rV5iE3NPoym0WwjeHzjAGXUtLNIxmo1vpMofpLAE";
        let line = line.replace("@@", secret);
        let out = red(&line);
        assert!(!out.contains(secret), "{line}\n   -> {out}");
        assert!(!out.ends_with(REDACTED) || !line.contains("https"), "{out}");
    }
    each_kept(&[
        "Authorization: Missing credentials",
        "Authorization: Invalid or expired token",
        "Authorization: Token <your-token>",
        "Authorization: Key $API_KEY",
        "Authorization: Bearer ${{ secrets.GH_TOKEN }}",
        "Authorization: None needed for local dev",
        "Authorization: Optional header",
        "headers.set(\"Authorization\", \"Bearer \" + token)",
        "headers.set(\"Authorization\", `Bearer ${token}`)",
        "headers.set(\"Authorization\", authHeader)",
    ]);
}

/// Passwords given to libcurl's and pycurl's options other than `CURLOPT_USERPWD`, to Python's
/// `keyring.set_password`, to shadow's `useradd -p` and `usermod -p`, and password hashes
/// outside a `user:` pair or with their `rounds=`.
#[test]
fn passwords_given_to_libcurl_keyring_and_shadow_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "curl_easy_setopt(curl, CURLOPT_PASSWORD, \"@@\");",
            "curl_setopt($ch, CURLOPT_PASSWORD, '@@');",
            "curl_easy_setopt(h, CURLOPT_PROXYPASSWORD, \"@@\");",
            "curl_easy_setopt(h, CURLOPT_KEYPASSWD, \"@@\");",
            "curl_easy_setopt(h, CURLOPT_TLSAUTH_PASSWORD, \"@@\");",
            "c.setopt(pycurl.PASSWORD, \"@@\")",
            "c.setopt(c.PASSWORD, '@@')",
            "keyring.set_password(\"smtp\", \"bob\", \"@@\")",
            "keyring.set_password('smtp', user, '@@')",
            "useradd -m -p @@ bob",
            "sudo usermod -p @@ bob",
            "groupadd -p @@ devs",
        ],
        &['"', '\''],
        |c| format!("$ {c}\nok"),
    ));
    let hash =
        "Xq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3k12";
    each_redacted_as(
        &[
            "useradd -p '@@' bob",
            "root:@@:19000:0:99999:7:::",
            "    password: \"@@\"",
            "@@",
            // Mosquitto's password file: base64 salt and hash, `+` and `=` among them.
            "roger:@@",
        ],
        |i| {
            let salt = [
                "$6$abcdefgh$",
                "$6$rounds=5000$abcdefgh$",
                "$5$abcdefgh$",
                "$6$abcdefgh$",
                "$6$clQ4Ocu312S0qWgl$",
            ][i];
            let hash = if i == 4 {
                "Cv2wUxgEN73c6C6jlBkswqR4AkHsvDLWvtEXZZ8NpsBLgP1WAo/qA+WXcmEN/mjDNgdUwcxRAveqNMs2xUVQYA=="
            } else {
                hash
            };
            format!("{salt}{hash}")
        },
    );
    each_kept(&[
        "curl_easy_setopt(curl, CURLOPT_PASSWORD, password);",
        "curl_easy_setopt(curl, CURLOPT_PASSWORD, \"\");",
        "c.setopt(c.URL, \"https://example.com/password-reset\")",
        "keyring.set_password(\"svc\", \"bob\", password)",
        "useradd -m -p \"$(openssl passwd -6 \"$PW\")\" bob",
        "useradd -p -m bob",
        "usermod -aG docker bob",
        "costs $5$ and $6$ each",
    ]);
}

/// A bcrypt hash (`$2b$12$` and 53 bytes of salt and hash) went out wherever no `user:` stood
/// before it (htpasswd's form): a users table's `password_hash` column, a config's admin hash,
/// an environment variable. Crackable offline, it is kept like crypt(3)'s SHA hashes.
#[test]
fn a_bcrypt_hash_is_redacted_wherever_it_stands() {
    each_redacted_as(
        &[
            "password_hash: @@",
            "  \"hash\": \"@@\",",
            "ADMIN_PASSWORD_HASH='@@'",
            "@@",
            "  1 | bob@example.com | @@ | 2024-01-01",
            "INSERT INTO users VALUES (1, 'bob', '@@');",
        ],
        |i| {
            format!(
                "${}$1{}$Xq7rTb9wPz3kXq7rTb9wPu/k3Zq8wLmN3pX.vR4sT6uV8wXy0zA2b",
                ["2b", "2y", "2a", "2b", "2b", "2y"][i],
                i % 3
            )
        },
    );
    each_kept(&[
        "bcrypt's hashes start $2b$ and a cost",
        "if hash.startswith('$2b$'):",
    ]);
}

/// An LDAP or Dovecot password's hash after its scheme (`userPassword: {SSHA}…`, `{CRYPT}…`,
/// `{PBKDF2-SHA512}…`), and LDIF's value given base64-encoded (`userPassword:: …`), as
/// `ldapsearch` and `slapcat` print them: crackable offline, or the password itself.
#[test]
fn an_ldap_password_hash_or_base64_value_is_redacted() {
    each_redacted(&[
        "userPassword: {SSHA}@@",
        "userPassword: {PBKDF2-SHA512}@@",
        "password={SSHA512}@@",
        "userPassword:: @@",
    ]);
    // A crypt(3) hash under its scheme: the whole hash.
    let crypt = "$6$rounds=5000$Xq7rTb9wPz3kXq7r$Zq8wLmN3pXvR4sT6uV8wXy0zA2bXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kXq7rTb9wPz3kX";
    let out = red(&format!("userPassword: {{CRYPT}}{crypt}\n"));
    assert!(!out.contains("Zq8wLmN3pXvR4sT6"), "{out}");
    each_kept(&[
        "password: {{ vault_password }}",
        "password: {password}",
        "impl Password { fn new() }",
        "let hash = password::hash(&input);",
    ]);
}

/// Windows' own printouts of a stored password: `reg query … /v DefaultPassword` (Winlogon's
/// automatic logon) and `netsh wlan show profile name=… key=clear` (a Wi-Fi network's key).
#[test]
fn a_password_windows_prints_from_its_registry_or_wifi_profiles_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "    DefaultPassword    REG_SZ    @@",
            "    DB_PASSWORD    REG_EXPAND_SZ    @@",
            "    Key Content            : @@",
        ],
        &['"'],
        |c| format!("HKEY_LOCAL_MACHINE\\SOFTWARE\n{c}\n"),
    ));
    each_kept(&[
        "    AutoAdminLogon    REG_SZ    1",
        "    DefaultPassword    REG_SZ    ",
        "    Key Content            : Absent",
        "The Key Content field shows the key.",
        "* `reg query` prints `DefaultPassword    REG_SZ    …` for the logon, in clear",
    ]);
}

/// An Argon2 hash (`$argon2id$v=19$m=…,t=…,p=…$SALT$HASH`, what Django, Passlib and most new
/// applications store) went out wherever it stood: crackable offline, kept as bcrypt's.
#[test]
fn an_argon2_hash_is_redacted_wherever_it_stands() {
    each_redacted_as(
        &[
            "password_hash: @@",
            "  \"hash\": \"@@\",",
            "@@",
            "  1 | bob@example.com | @@ | 2024-01-01",
        ],
        |i| {
            format!(
                "$argon2{}$v=19$m=65536,t=3,p=4$c2FsdHNhbHQxMjM0NTY{i}$Zq8wLmN3pXvR4sT6uV8wXy0zA2bXq7rTb9wPz3kXq7r",
                ["id", "i", "d", "id"][i]
            )
        },
    );
    each_kept(&["Argon2's hashes start $argon2id$ and a version"]);
}

/// Google Cloud's `gcloud secrets versions add NAME --data-file=-` given its data by a
/// here-string or an `echo` piped in (only `secrets create` with three words between was read),
/// and `gh secret set NAME -bVALUE` with the short flag glued to its value.
#[test]
fn a_secrets_data_from_standard_input_or_a_glued_flag_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "gcloud secrets versions add db --data-file=- <<< @@",
            "gcloud secrets create db --replication-policy=automatic --data-file=- <<< '@@'",
            "echo -n @@ | gcloud secrets versions add db --data-file=-",
            "printf '%s' '@@' | gcloud secrets create db --data-file=-",
            "gh secret set API_KEY -b\"@@\"",
            "gh secret set API_KEY -b@@ --repo o/r",
        ],
        &['"', '\''],
        |c| format!("$ {c}\nCreated version [2] of the secret [db]."),
    ));
    each_kept(&[
        "gcloud secrets versions add db --data-file=secret.txt",
        "cat pw.txt | gcloud secrets versions add db --data-file=-",
        "gcloud secrets versions access latest --secret=db",
        "gh secret set API_KEY --body-file key.txt",
        "gh secret set API_KEY -b \"$API_KEY\"",
    ]);
}

/// A secret declared in C as an array of characters (`char password[] = "…"`) and in Rust
/// behind a reference (`const TOKEN: &str = "…"`, `&'static [u8] = b"…"`).
#[test]
fn secrets_declared_as_c_arrays_and_rust_references_are_redacted() {
    each_redacted(&[
        "char password[] = \"@@\";",
        "static char secret_key[32] = \"@@\";",
        "const TOKEN: &str = \"@@\";",
        "static API_KEY: &'static str = \"@@\";",
        "const SECRET: &[u8] = b\"@@\";",
    ]);
    each_kept(&[
        "fn check(token: &str) -> bool {",
        "fn new(password: &'a str, x: u8) {",
        "password[0] = \"x\";",
        "if (password[i] == \"a\")",
        "let token: &mut String = &mut s;",
        "char password[64];",
    ]);
}

/// Where a secret is fetched or sent, and names that point at one, are no secret: a Google
/// service account's key file has `token_uri` and `auth_uri` in every copy; `TOKEN_HEADER`
/// holds a header's name; a weakly named field given another name (`"publicKey": b64_key`,
/// `generate_private_key: x25519_generate_private_key`) is code. A webhook's URL and a DSN
/// stay secrets.
#[test]
fn where_a_secret_goes_and_names_that_point_at_one_stay_intact() {
    each_kept(&[
        "  \"token_uri\": \"https://oauth2.googleapis.com/token\",",
        "  \"auth_uri\": \"https://accounts.google.com/o/oauth2/auth\",",
        "TOKEN_URL = \"https://login.microsoftonline.com/common/oauth2/v2.0/token\"",
        "const AWS_EC2_METADATA_TOKEN_HEADER: &str = \"X-aws-ec2-metadata-token\";",
        "API_KEY_HEADER = \"X-Api-Key\"",
        "    \"publicKey\": b64_key,",
        "    generate_private_key: x25519_generate_private_key,",
        "const ADMIN_HASH_KEY: &str = \"admin_token_sha256\";",
    ]);
    let secret = "Zq8wLmN3pX00vR";
    for line in [
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/@@",
        "webhookUrl: \"https://example.org/hook/@@\"",
        "SENTRY_DSN_URL=https://@@@o1.ingest.sentry.io/1",
        "TOKEN_URL=https://bot:@@@example.org/token",
        "api_key: X-@@",
        "password: X-Api-@@",
    ] {
        let line = line.replace("@@", secret);
        let out = red(&line);
        assert!(!out.contains(secret), "{line}\n   -> {out}");
    }
}

/// Values that tools and services print after a label: `Your API key is: …` (a colon after
/// `is`), Elasticsearch's `PASSWORD elastic = …`, K3s' join token (`K10…::server:…`, whose
/// `::` read as a path), and a user and a password after `credentials:` split by a slash.
#[test]
fn values_printed_after_labels_by_tools_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "Your API key is: @@",
            "Your token is: @@",
            "PASSWORD elastic = @@",
            "PASSWORD apm_system = @@",
            "Default credentials: admin / @@",
        ],
        &[],
        |c| format!("Changed password for user elastic\n{c}"),
    ));
    let token = "K10Zq8wLmN3pX00vRZq8wLmN3pX00vR::server:Zq8wLmN3pX00vR";
    for line in ["k3s token: @@", "K3S_TOKEN=@@ sh -"] {
        let line = line.replace("@@", token);
        assert!(!red(&line).contains("Zq8wLmN3pX00vR"), "{line}");
    }
    each_kept(&[
        "The token is: expired",
        "The API key is: required",
        "PASSWORD = 42",
        "token: Foo::bar",
        "credentials: read / write",
        "Default credentials: admin/admin",
    ]);
}

/// Passwords set in SQL and MongoDB's shell: Oracle's unquoted `IDENTIFIED BY VALUE` (in a
/// statement that creates or alters a user, a role or a link), MySQL's `BY PASSWORD '*hash'`,
/// MySQL's `SET PASSWORD … = PASSWORD('…')`, and `db.changeUserPassword(USER, "…")`.
#[test]
fn passwords_set_in_sql_and_mongodb_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "ALTER USER scott IDENTIFIED BY @@;",
            "alter user scott identified by @@ account unlock;",
            "SQL> CREATE USER app IDENTIFIED BY @@ DEFAULT TABLESPACE users;",
            "CREATE DATABASE LINK x CONNECT TO u IDENTIFIED BY @@ USING 'y';",
            "SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('@@');",
            "db.changeUserPassword(\"app\", \"@@\")",
        ],
        &['"'],
        |c| format!("{c}\nUser altered."),
    ));
    let hash = "6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4";
    let line = format!("CREATE USER 'bob'@'%' IDENTIFIED BY PASSWORD '*{hash}';");
    assert!(!red(&line).contains(hash), "{line}");
    each_kept(&[
        "CREATE USER bob IDENTIFIED BY RANDOM PASSWORD;",
        "Users are identified by username and email.",
        "Each row is identified by id_1234abcd in the index.",
        "db.changeUserPassword('app', passwordPrompt())",
        "SELECT PASSWORD('x');",
    ]);
}

/// A changed setting's new value in Terraform's plan (`~ api_token = "OLD" -> "NEW"`): the old
/// value was redacted, the new one went out.
#[test]
fn a_changed_secrets_new_value_is_redacted() {
    let old = "Zq8wLmN3pX00vR";
    let new = "Kd4tBn7cQw22sJ";
    let plan = [
        "      ~ api_token      = \"OLD\" -> \"NEW\"",
        "      ~ admin_password = \"OLD\" -> \"NEW\" # forces replacement",
        "  ~ secret = 'OLD' -> 'NEW'",
    ];
    for line in plan {
        let line = line.replace("OLD", old).replace("NEW", new);
        for text in [
            line.clone(),
            tool_result(&format!("Terraform will perform:\n{line}\n")),
        ] {
            let out = red(&text);
            assert!(
                !out.contains(old) && !out.contains(new),
                "{text}\n   -> {out}"
            );
        }
    }
    each_kept(&[
        "      ~ password = (sensitive value)",
        "      ~ instance_type = \"t3.micro\" -> \"t3.small\"",
    ]);
    assert_eq!(
        red(&format!("      - secret = \"{old}\" -> null")),
        "      - secret = \"[REDACTED]\" -> null"
    );
}

/// A parameter store's value beside its name given as data when another member sits between
/// (AWS's `get-parameter --with-decryption`: `"Name"`, `"Type": "SecureString"`, `"Value"`;
/// Azure Key Vault's `"name"`, `"tags": {}`, `"value"`), pretty-printed one member a line or on
/// one line, and a name that ends a path.
#[test]
fn a_parameters_value_after_its_name_and_type_is_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let pretty = format!(
        "{{\n    \"Parameter\": {{\n        \"Name\": \"/prod/db/password\",\n        \"Type\": \"SecureString\",\n        \"Value\": \"{secret}\",\n        \"Version\": 1\n    }}\n}}\n"
    );
    let one_line = format!(
        "{{\"Parameter\": {{\"Name\": \"/prod/db/password\", \"Type\": \"SecureString\", \"Value\": \"{secret}\", \"Version\": 1}}}}\n"
    );
    let listed =
        format!("{{\"Parameters\":[{{\"Name\":\"/app/api_key\",\"Value\":\"{secret}\"}}]}}\n");
    // Azure Key Vault's `az keyvault secret show`: an empty `tags` between.
    let vault = format!(
        "{{\n  \"contentType\": null,\n  \"id\": \"https://kv1.vault.azure.net/secrets/db-password/0a1b\",\n  \"kid\": null,\n  \"managed\": null,\n  \"name\": \"db-password\",\n  \"tags\": {{}},\n  \"value\": \"{secret}\"\n}}\n"
    );
    let vault_line =
        format!("{{\"name\": \"db-password\", \"tags\": {{}}, \"value\": \"{secret}\"}}\n");
    for text in [
        &pretty,
        &one_line,
        &listed,
        &tool_result(&pretty),
        &vault,
        &vault_line,
        &tool_result(&vault),
    ] {
        let bytes = text.as_bytes();
        for chunk in [bytes.len(), 7, 1] {
            // Fresh rules each time: a value learned from one text is not carried to the next.
            let rules = rules_with(&[]);
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            let (out, _) = run(&rules, &chunks);
            let out = String::from_utf8(out).unwrap();
            assert!(!out.contains(secret), "{text}\n   -> {out}");
            assert_eq!(out, text.replace(secret, REDACTED), "chunks of {chunk}");
        }
    }
    // Other parameters keep their values.
    let region =
        "{\n  \"Name\": \"/app/region\",\n  \"Type\": \"String\",\n  \"Value\": \"eu-west-1\"\n}\n";
    assert_eq!(red(region), region);
    let tagged = "{\n  \"name\": \"region\",\n  \"tags\": {},\n  \"value\": \"eu-west-1\"\n}\n";
    assert_eq!(red(tagged), tagged);
}

/// Windows' forms: PowerShell's environment drive (`Set-Item Env:NAME 'VALUE'`, `New-Item
/// -Path Env:\NAME -Value …`), the registry's `reg add … /v NAME /t REG_SZ /d VALUE`, a
/// slash flag and a blank (`ktpass … /pass VALUE`), SQL Server setup's `/SAPWD="VALUE"`.
#[test]
fn windows_environment_registry_and_slash_flags_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "Set-Item -Path Env:API_KEY -Value '@@'",
            "Set-Item Env:API_KEY '@@'",
            "New-Item -Path Env:\\DB_PASSWORD -Value '@@'",
            "reg add HKLM\\Software\\App /v Password /t REG_SZ /d @@",
            "reg add \"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\" /v DefaultPassword /t REG_SZ /d @@ /f",
            "ktpass /princ HTTP/web@EXAMPLE.COM /pass @@ /out web.keytab",
            "setup.exe /Q /ACTION=Install /SAPWD=\"@@\"",
        ],
        &['"', '\'', '\\'],
        |c| format!("PS> {c}\nThe operation completed successfully."),
    ));
    each_kept(&[
        "Get-Item Env:API_KEY",
        "Remove-Item Env:API_KEY",
        "reg query HKLM\\Software\\App /v Password",
        "POST /password HTTP/1.1",
        "GET /token HTTP/1.1",
        "curl -X POST https://example.com /password reset",
    ]);
}

/// Passwords an iOS build gives macOS' `security` (a keychain's, `unlock-keychain -p` and
/// `create-keychain -p`; a PKCS #12 file's, `import … -P`) and Xcode's `xcrun altool -p`; and
/// the database's password given to Supabase's CLI (`supabase db push -p`, `link -p`).
#[test]
fn keychain_and_signing_passwords_on_macos_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "security create-keychain -p @@ build.keychain",
            "security unlock-keychain -p @@ build.keychain",
            "security import cert.p12 -k build.keychain -P @@ -T /usr/bin/codesign",
            "xcrun altool --upload-app -f App.ipa -u dev@example.com -p @@",
            "supabase db push -p @@",
            "npx supabase link --project-ref abcdefghijklmnop -p @@",
        ],
        &[],
        |c| format!("+ {c}\n1 identity imported."),
    ));
    each_kept(&[
        "security unlock-keychain -p \"$KEYCHAIN_PASSWORD\" build.keychain",
        "security list-keychains -d user -s build.keychain",
        "security find-identity -p codesigning -v",
    ]);
}

/// Claude's prose about what it set: a name in a code span (``I've set `DB_PASSWORD` to
/// `…` ``, `` - `API_KEY`: `…` ``, a Markdown row `` | `DB_PASSWORD` | `…` | ``) and a verb after
/// the name (`The admin password has been reset to …`, `password was changed to '…'`), whose
/// it is between them too (`Password for user 'admin' set to '…'`, `Setting password for user
/// 'admin' to '…'`).
#[test]
fn claudes_prose_about_a_secret_it_set_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "I've set `DB_PASSWORD` to `@@` in .env",
            "- `API_KEY`: `@@`",
            "| `DB_PASSWORD` | `@@` |",
            "The admin password has been reset to @@",
            "The password was changed to '@@'.",
            "The API token is now set to @@",
            // Whose it is between the name and the verb.
            "Password for user 'admin' set to '@@'",
            "The password for root@localhost has been reset to @@.",
            "password for user bob was changed to `@@`",
            // A plural's `are`.
            "The credentials are admin:@@",
            // The verb before the name, whose it is between the name and `to`.
            "Setting password for user 'admin' to '@@'",
            "Setting password for user \"admin\" to \"@@\"",
            "Changing password for admin to @@",
            "I reset the API token for the deploy bot to `@@`.",
        ],
        &['"'],
        |c| format!("Done.\n{c}"),
    ));
    each_kept(&[
        "The password was changed to something stronger.",
        "The token has been reset to expire in 1h.",
        "Password for user admin set to expire in 30 days",
        "The credentials are stored in the vault.",
        "Your credentials are invalid",
        "The password for the account was set to something stronger.",
        "The password is reset to default on reboot.",
        "Setting password for user admin to expire in 30 days",
        "Changing the password for every user to something stronger.",
        "Set `password` to your own value",
        "The `password` field is required",
        "set `token` to `null`",
        "`API_KEY`: see the dashboard",
        "| `API_KEY` | Your API key from the dashboard |",
        "| API_KEY | Your API key from the dashboard |",
        "| `password` | `string` | The password |",
    ]);
}

/// What the code-span name must leave alone: documentation after it and a Markdown link's
/// reference.
#[test]
fn documentation_after_a_name_in_a_code_span_stays_intact() {
    each_kept(&[
        "    /// Parameter `authorization`: An authorization reference that is used to",
        "[`TokenStream`]: https://docs.rs/proc-macro2/1.0/proc_macro2/struct.TokenStream.html",
        "//! [`Authorization`]: https://developer.mozilla.org/docs/Web/HTTP/Headers/Authorization",
        "- `API_KEY`: the key from your account's settings page",
    ]);
}

/// Rust's `Debug` of a struct with an optional secret (`Config { password: Some("…") }`), as a
/// panic or a `dbg!` prints it.
#[test]
fn an_optional_secret_in_rusts_debug_output_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "Config { password: Some(\"@@\"), user: \"app\" }",
            "[src/main.rs:12:5] &settings = Settings { api_key: Some(\"@@\") }",
        ],
        &['"'],
        |c| format!("thread 'main' panicked\n{c}"),
    ));
    each_kept(&[
        "Config { password: None }",
        "    token: Some(token),",
        "    password: Some(String::from(\"x\")),",
    ]);
}

/// A secret's string literal wrapped in a conversion or a secret's type (`String::from("…")`,
/// `SecretString::new("…".into())`, Go's `[]byte("…")`, pydantic's `SecretStr("…")`), base64
/// decoded in code (`b64decode("…")`, `atob("…")`, `Buffer.from("…", "base64")`), and Bash's
/// `$'…'` quoting.
#[test]
fn a_secrets_literal_wrapped_in_a_call_is_redacted() {
    each_redacted(&[
        "password: String::from(\"@@\"),",
        "password: SecretString::new(\"@@\".into()),",
        "let api_key = Secret::new(\"@@\".to_owned());",
        "cfg.Password = []byte(\"@@\")",
        "\tPassword: []byte(\"@@\"),",
        "password = SecretStr(\"@@\")",
        "password = base64.b64decode(\"@@\").decode()",
        "const password = atob(\"@@\");",
        "const password = Buffer.from(\"@@\", \"base64\").toString();",
        "PASSWORD=$'@@'",
        "export PASSWORD=$\"@@\"",
    ]);
    each_kept(&[
        "let token = String::from(name);",
        "password = SecretStr(os.environ[\"PW\"])",
        "api_key = Secret(\"API_KEY\")",
        "password = $\"{cfg.Password}\"",
        "PASSWORD=$\"$HOME\"",
    ]);
}

/// A secret written into a file that holds one by `echo` or `printf` (`> secrets/db_password.txt`,
/// `> /run/secrets/api_key`, `> ~/.vault-token`, `> .vault_pass`), GnuPG's passphrase from
/// standard input (`--passphrase-fd 0 <<< …`, `echo … | gpg --passphrase-fd 0`), and the string
/// `ansible-vault encrypt_string` encrypts.
#[test]
fn secrets_written_to_files_piped_to_gpg_or_encrypted_by_ansible_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "echo -n \"@@\" > secrets/db_password.txt",
            "printf '@@' > /run/secrets/api_key",
            "echo \"@@\" > ~/.vault-token",
            "echo '@@' > .vault_pass && chmod 600 .vault_pass",
            "printf '%s' @@ >> db_password",
            "gpg --passphrase-fd 0 --batch -d backup.gpg <<< @@",
            "echo @@ | gpg --batch --passphrase-fd 0 -c notes.txt",
            "ansible-vault encrypt_string '@@' --name 'db_password'",
            "ansible-vault encrypt_string --vault-id prod@prompt --name db_password '@@'",
        ],
        &['"', '\''],
        |c| format!("$ {c}\n"),
    ));
    each_kept(&[
        "echo \"done\" > build/password_reset.log",
        "echo $DB_PASSWORD > secrets/db",
        "echo \"hello\" > token_count.txt",
        "gpg --passphrase-fd 3 -d f.gpg 3< pw.txt",
        "ansible-vault encrypt_string --stdin-name 'db_password'",
        "ansible-vault encrypt secrets.yml --vault-password-file pw",
    ]);
}

/// Basic authentication given to the load testers: Apache Bench's `ab -A USER:VALUE` and
/// `hey -a USER:VALUE`.
#[test]
fn basic_authentication_given_to_load_testers_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "ab -n 1000 -c 50 -A admin:@@ http://localhost:8080/",
            "hey -z 30s -a admin:@@ http://localhost:8080/api",
        ],
        &[],
        |c| format!("$ {c}\nRequests per second: 812.4"),
    ));
    each_kept(&[
        "ab -n 100 -c 10 http://localhost/",
        "hey -n 100 -A application/json http://localhost",
        "ab -A admin http://localhost/",
    ]);
}

/// A password's name in other spellings and languages the keyword search already stops on
/// (`passw`, German's `Passwort`, French's `mot_de_passe`/`motDePasse`).
#[test]
fn passwords_named_in_other_languages_are_redacted() {
    each_redacted(&[
        "  passw: @@",
        "PASSWORT=@@",
        "  mot_de_passe: @@",
        "motDePasse = \"@@\"",
    ]);
    each_kept(&["c'est passé: Xq7rTb9wPz3k", "de_passe: x"]);
}

/// Claude Code's Write tool writing a file that holds a secret alone (`/run/secrets/api_key`,
/// `~/.vault-token`, `db_password.txt`): the content, one word, went out in the tool call.
#[test]
fn a_secret_written_by_claudes_write_tool_is_redacted() {
    // As the model writes the call (the path first) and with the keys sorted.
    let write = |path: &str, content: &str| {
        let (p, c) = (
            serde_json::to_string(path).unwrap(),
            serde_json::to_string(content).unwrap(),
        );
        format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","name":"Write","input":{{"file_path":{p},"content":{c}}}}}]}}}}"#
        )
    };
    let sorted = |path: &str, content: &str| {
        serde_json::json!({"type": "assistant", "message": {"content": [{"type": "tool_use",
            "name": "Write", "input": {"file_path": path, "content": content}}]}})
        .to_string()
    };
    each_redacted(&[
        write("/app/secrets/api_key", "@@"),
        write("/home/dev/.vault-token", "@@\n"),
        write("/srv/app/config/db_password.txt", "@@"),
        sorted("/run/secrets/postgres", "@@"),
        sorted("/home/dev/.vault-token", "@@\n"),
        // A `.pgpass` entry (its name answered first for `echo … > ~/.pgpass`).
        write("/home/dev/.pgpass", "localhost:5432:app:app:@@\n"),
        sorted("/home/dev/.pgpass", "*:*:*:postgres:@@"),
    ]);
    for kept in [
        write("/app/secrets/README.md", "Put secrets here"),
        write("/app/token_count.txt", "12345678"),
        write("/app/secrets/db", "line one\nline two"),
        write("/app/src/auth.rs", "fn main() {}"),
    ] {
        assert_eq!(red(&kept), kept);
    }
}

/// A typed constant of another kind than a string: its type is no value (`pub const
/// DNS_ERROR_NOT_ENOUGH_SIGNING_KEY_DESCRIPTORS: WIN32_ERROR = 9104u32;` in windows-sys made
/// `WIN32_ERROR` a learned value, and 5,800 lines of the file after it lost their type).
#[test]
fn a_typed_constants_type_is_no_value() {
    let text = "pub const DNS_ERROR_NOT_ENOUGH_SIGNING_KEY_DESCRIPTORS: WIN32_ERROR = 9104u32;\n\
                pub const DNS_ERROR_NOT_UNIQUE: WIN32_ERROR = 9555u32;\n\
                pub const DOT11_AUTH_ALGO_RSNA_PSK: DOT11_AUTH_ALGORITHM = 7i32;\n\
                pub const DOT11_AUTH_ALGO_OWE: DOT11_AUTH_ALGORITHM = 10i32;\n";
    assert_eq!(red(text), text);
    each_kept(&[
        "    pub AuthAlgo: DOT11_AUTH_ALGORITHM,",
        "    pub auth_keynumber: __u16,",
        "pub const _SC_PASS_MAX: c_int = 88;",
        "api_key: str = os.environ[\"API_KEY\"]",
        "let token: u32 = 5;",
        "secret: Vec<u8> = vec![1, 2, 3];",
    ]);
    each_redacted(&[
        "password: SecretStr = SecretStr(\"@@\")",
        "API_KEY: Final = \"@@\"",
    ]);
}

/// Go's typed declarations (`var apiKey string = "…"`, `const token string = "…"`), whose type
/// between the name and `=` hid the literal, and Nomad's ACL token as `nomad acl bootstrap`
/// prints it (`Secret ID    = …`).
#[test]
fn go_typed_declarations_and_nomads_secret_id_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "var apiKey string = \"@@\"",
            "\tconst token string = \"@@\"",
            "var signingKey []byte = \"@@\"",
            "Secret ID    = @@",
        ],
        &['"'],
        |c| format!("{c}\nName         = Bootstrap Token"),
    ));
    each_kept(&[
        "var apiKey string = os.Getenv(\"API_KEY\")",
        "var token string",
        "var tokenType string = \"Bearer\"",
        "const tokenURL string = \"https://oauth2.googleapis.com/token\"",
        "Accessor ID  = 5b7fd453-d3f7-6814-81dc-fcfe6daedea5",
        "return apiKey string",
    ]);
}

/// Code that gives a secret's name another name rather than a literal stays, and is not
/// learned (each was, and then every later use of the other name in the file was redacted):
/// a declaration given an identifier (`let decoded_key = BASE64_STANDARD`, the expression
/// going on on the next line), a member of another value that names a secret (`colon2_token:
/// node.colon2_token,`), a signature's end after a default or a type (`def f(secret=None):`,
/// `(password: string): void`). Literals in the same places are still redacted.
#[test]
fn code_that_gives_a_secrets_name_another_name_stays() {
    each_kept(&[
        "        let decoded_key = BASE64_STANDARD",
        "let api_key = API_KEY_2;",
        "const token = tokenFromEnv;",
        "export const secret = process.env.SECRET;",
        "        colon2_token: node.colon2_token,",
        "    password: config.db_password",
        "def connect(host, secret=None):",
        "def login(self, password: Optional[str] = None, api_key: SecretStr = None):",
        "function login(password: string): void {",
    ]);
    let text = "let decoded_key = BASE64_STANDARD\n    .decode(raw)?;\nlet id = BASE64_STANDARD.encode(x);\n";
    assert_eq!(red(text), text);
    each_redacted(&[
        "const apiKey = \"@@\";",
        "let password = \"@@\";",
        "API_KEY = @@",
        "password: @@",
        "password=@@):",
    ]);
}

/// `/proc/PID/environ` (`cat /proc/1/environ` in a container, `env -0`): each `NAME=VALUE`
/// ends with a NUL, raw or JSON-escaped in a tool's output. A secret's value ends there; the
/// variables after it are kept (the value ran on to the line's end and took them along).
#[test]
fn a_nul_ends_a_value_in_a_processs_environment() {
    let secret = "Zq8wLmN3pX00vR";
    let environ = format!("PATH=/usr/bin\0DB_PASSWORD={secret}\0HOME=/root\0LANG=C.UTF-8\0");
    let want = environ.replace(secret, REDACTED);
    for text in [environ.clone(), tool_result(&environ)] {
        let want = if text == environ {
            want.clone()
        } else {
            tool_result(&want)
        };
        for cut in [text.len(), 7, 1] {
            assert_eq!(red_in_chunks(&text, cut).0, want, "chunks of {cut}");
        }
    }
}

/// Code's generic types, type parameters, hexadecimal constants and Rust's match arms after a
/// secret's name are no values (each was redacted, and learned): `in_interest_pass:
/// Cell<usize>,`, `password: T)`, `DEVSTAT_TYPE_PASS = 0x100,`, `Self::ClientSecret =>
/// "client_secret"`. A value with a `<` that is no type's parameters, a long hexadecimal
/// secret and a key before `=>` in Perl, PHP or Ruby are still redacted.
#[test]
fn generic_types_and_hex_constants_are_no_values() {
    each_kept(&[
        "    in_interest_pass: Cell<usize>,",
        "    signature: Vec<u8>,",
        "    token: Arc<Mutex<Option<String>>>,",
        "    signature_key: TlsVecU16<u8>,",
        "    secret: HashMap<String, Vec<u8>>)",
        "    DEVSTAT_TYPE_PASS = 0x100,",
        "        PreSharedKey => 0x0029,",
        "    pub fn password<T>(&mut self, password: T) -> &mut Config {",
        "fn assert_converges<P: Fn(u32) -> bool>(start: u8, pass: P) {",
        // Rust's match arms: a variant mapped to its label.
        "            Self::ClientSecret => \"client_secret\",",
        "            Error::PwdTooLong => \"password too long\",",
        "            ServerApplicationTrafficSecret => b\"s ap traffic\",",
    ]);
    // Perl's, PHP's and Ruby's keys before `=>` are still read.
    each_redacted(&[
        "my %h = (password => \"@@\");",
        "$config = array(\"password\" => \"@@\");",
        "{:password => \"@@\"}",
        "  Password => \"@@\",",
    ]);
    for (line, want) in [
        (
            "private_key: 0x4c0883a69102937d6231471b5dbb6204fe512961708279f3c0a6a3e2d0b1c2d3,",
            "private_key: [REDACTED],",
        ),
        ("PASSWORD=0xDEADBEEF01", "PASSWORD=[REDACTED]"),
        ("password: Secr3t<9>x", "password: [REDACTED]<9>x"),
        ("password=Hunter2<x", "password=[REDACTED]<x"),
        ("password=Hunter2<abc>", "password=[REDACTED]<abc>"),
    ] {
        assert_eq!(red(line), want);
    }
}

/// More code and grammar the cargo registry's sources show after a secret's name (each was
/// redacted): a Rust match guard (`Err(_) if !pass => return None,`), a tuple's field
/// (`inside_key = tuple.0;`), an ABNF rule (`token = 1*tchar`, RFC 9110's). A short password
/// with a dot and a digit after a strong name is still one.
#[test]
fn match_guards_tuple_fields_and_grammar_rules_are_no_values() {
    each_kept(&[
        "                    Err(_) if !pass => return None,",
        "            Some(x) if x.len() > 3 && token => break,",
        "    ///         inside_key = tuple.0;",
        "        let api_key = pair.1;",
        "///       token          = 1*tchar",
        "    // token = 1*tchar",
    ]);
    each_redacted_as(&["password = \"@@\";", "token = @@"], |i| {
        ["hunter22.1", "Zq8wLmN3pX00vR"][i].to_string()
    });
}

/// Arithmetic after a name that holds a secret's word: a number literal times or over a
/// variable (`error_per_key = 100000.0/first_set_max_id` in Redis' `test-lru.rb`; `let
/// bytes_per_key = 2.0*total_len/num_keys;`) is code, not a value. After a strong name an
/// integer first (`password = 2*n2xQ`) is still one, and so are a value whose operands are not
/// all numbers and lower-case names, a key in groups with no `*` or `/` (`4820-ab12-cd34`),
/// and base64 that starts with digits (`9/k3jx+ab/cdqz`: no `_` or `.` in its pieces).
#[test]
fn arithmetic_after_a_secrets_name_is_code() {
    each_kept(&[
        "    error_per_key = 100000.0/first_set_max_id",
        "let bytes_per_key = 2.0*total_len/num_keys;",
        "cost_per_token = 0.000003*tokens",
        "    secret_ratio = 0.75*n",
        "let key_bits = 8*key_len;",
        "token_limit = 4096*max_ratio-reserved_tokens",
        "  scale_per_token = 1.5e-3*self.ratio",
    ]);
    each_redacted_as(
        &[
            "password = @@",
            "PASSWORD=@@",
            "api_key = @@",
            "secret = @@",
            "api_key = @@",
            "api_key = @@",
        ],
        |i| {
            [
                "2*n2xQ",
                "3.5*Hunter2",
                "8*kJ3mQ9zX",
                "1.0*x/Zq8wLmN3pX",
                "4820-ab12-cd34-ef56",
                "9/k3jx+ab/cdqz",
            ][i]
                .to_string()
        },
    );
}

/// Python's typed code, from the standard library and the packages beside it: after a weak
/// secret's name, a type or a constant that names such a secret itself, alone or at the end
/// of a module's or a class's path, is code (`private_key: PKCS7PrivateKeyTypes,`, `public_key:
/// ed25519.Ed25519PublicKey`, `RegEnumKey = win32api.RegEnumKey`, `OID_CLIENT_AUTH =
/// ExtendedKeyUsageOID.CLIENT_AUTH`); each was redacted, and learned, so every later mention
/// of the type was too. After a strong name such a value is still one, and so is a path whose
/// last piece names no secret or is no identifier.
#[test]
fn types_and_constants_that_name_a_secret_are_code() {
    each_kept(&[
        "MLKEM768X25519PrivateKey = rust_openssl.hpke.MLKEM768X25519PrivateKey",
        "        RegEnumKey = win32api.RegEnumKey",
        "OID_CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH",
        "ERRORTOKEN = PythonTokenTypes.ERRORTOKEN",
        "CERTIFICATE_PRIVATE_KEY_TYPES = CertificateIssuerPrivateKeyTypes",
        "        private_key: PKCS7PrivateKeyTypes,",
        "        self, public_key: ed25519.Ed25519PublicKey, f_pub: _FragList",
        "    public_key: RSAPublicKey | Ed25519PublicKey,",
        "    private_key: X25519PrivateKey",
    ]);
    each_redacted_as(
        &[
            "password = @@",
            "PASSWORD=@@",
            "api_key = @@",
            "api_key = @@",
            "secret_key = @@",
        ],
        |i| {
            [
                "MySecretKey2024",
                "config.HunterKey2",
                "t1.CJzPKH1Bx2v8kQ9",
                "abc.Zq8wLmN3pX00vR",
                "Tr0ub4dor3xK",
            ][i]
                .to_string()
        },
    );
}

/// A prompt: a label and its colon alone in a string (`getpass(prompt='Password: ',
/// stream=None)`, Python's `getpass.py`), followed by code. The quote after the colon closes
/// the string the label is in; it opens no value, and what follows it is code (it was
/// redacted, and learned: `, stream=None` went from every later line too). A value inside
/// such a string, or after a quoted name, is still one.
#[test]
fn a_prompts_closing_quote_opens_no_value() {
    each_kept(&[
        "def unix_getpass(prompt='Password: ', stream=None):",
        "prompt = 'Password: ' + user",
        "    pw = getpass.getpass(prompt=\"Password: \", stream=sys.stderr)",
        "    token = input(\"API token: \").strip()",
    ]);
    each_redacted_as(
        &[
            "echo 'password: @@'",
            "{\"password\": \"@@\"}",
            "'password': '@@',",
            "PROMPT='Password: @@'",
        ],
        |_| "S3cretPw9x".to_string(),
    );
}

/// After a weak name, the name of a setting or a field in quotes (the AWS CLI's
/// `EMRFS_CONSISTENT_KEY = 'fs.s3.consistent'`, `src_key='EmrManagedMasterSecurityGroup'`,
/// `terminate_key = 'terminateBlueInstancesOnDeploymentSuccess'`): a property's dotted path of
/// three names or more, or capitalised words run together, is a key's name, not a key. A
/// random key of letters alone, long and mixed-case, is still one, and so are dotted tokens
/// whose pieces are no words (a JSON Web Token's family sees one whatever its context).
#[test]
fn settings_and_field_names_after_a_weak_name_are_no_values() {
    each_kept(&[
        "EMRFS_CONSISTENT_KEY = 'fs.s3.consistent'",
        "EMRFS_CSE_KMS_KEY_ID_KEY = 'fs.s3.cse.kms.keyId'",
        "            src_key='EmrManagedMasterSecurityGroup',",
        "            terminate_key = 'terminateBlueInstancesOnDeploymentSuccess'",
        "    CONTEXT_KEY = \"ApplyTypeAnnotationsVisitor\"",
        "            constraints_key = \"NumberAttributeConstraints\"",
    ]);
    each_redacted_as(
        &[
            "api_key = '@@'",
            "SIGNING_KEY = '@@'",
            "OPENAI_API_KEY=@@",
            "auth_key: @@",
        ],
        |i| {
            [
                "QwErTyUiOpAsDfGhJkLzXcVbNm",
                "kqzwmtbx.s3cr3tv4lue.hunter2x",
                "live7.kqZPLmwx.abcRTYu2",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            ][i]
            .to_string()
        },
    );
}

/// More of Python's code and docstrings after a secret's name: a sentence's first word
/// (`password: The password part of the URL.`, `GetPassWarning: When we were unable …`), a flag
/// named in prose (`the --username and --password options`), an encoding's name
/// (`password.encode("latin1")`), a negative constant (`errSSLServerAuthCompleted = -9841`,
/// which no PIN is) and a token's prefix (`TOKEN_PREFIX = 'k8s-aws-v1.'`). A word after a
/// flag, a capitalised word of a password's length and four digits stay values.
#[test]
fn sentences_flags_encodings_and_constants_in_python_stay() {
    each_kept(&[
        "            password: The password part of the URL, or omit for no password.",
        "      GetPassWarning: When we were unable to turn echo off on the input.",
        "        --username and --password options instead of via the URL.",
        "        information can be provided via the --username and --password options",
        "        password = password.encode(\"latin1\")",
        "    errSSLServerAuthCompleted = -9841",
        "TOKEN_PREFIX = 'k8s-aws-v1.'",
    ]);
    each_redacted_as(
        &[
            "mysql --password @@",
            "password: @@",
            "password = @@",
            "password = '@@'",
        ],
        |i| ["Sunshine9", "Thereafter", "9841", "latin1x9Q"][i].to_string(),
    );
}

/// Still more of Python's code after a secret's name: an HTTP header's name given as a
/// constant (`ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"`, SAM's and flask-cors'),
/// a class's attribute (`"ApiKey": ApiGatewayApiKey.resource_type,`) and an object's
/// attribute with digits in its path (`min_key = self.G2_node_order.__getitem__`). A passphrase
/// of capitalised words joined by hyphens is no header's name, and stays a value.
#[test]
fn header_names_and_attributes_in_python_stay() {
    each_kept(&[
        "        ALLOW_CREDENTIALS = \"Access-Control-Allow-Credentials\"",
        "ACL_CREDENTIALS = \"Access-Control-Allow-Credentials\"",
        "PROXY_AUTH_HEADER = 'Proxy-Authorization'",
        "        \"ApiKey\": ApiGatewayApiKey.resource_type,",
        "        \"UsagePlanKey\": ApiGatewayUsagePlanKey.resource_type,",
        "        min_key = self.G2_node_order.__getitem__",
    ]);
    each_redacted_as(&["password = \"@@\"", "api_key: @@"], |i| {
        ["Correct-Horse-Battery-Staple", "Xq9ZkLw2.resource_type"][i].to_string()
    });
}

/// What else the registry's sources show after a secret's name that is none: `bearer
/// authentication.` ending a sentence (the issue's own example, with a stop after it), a
/// field given a variable that names a secret (`client_handshake_traffic_secret:
/// client_secret,`, rustls' key schedule; learned, it took every later `client_secret`), and
/// the name of the variable a setting is read from (`MSI_SECRET_ENV_KEY: &str =
/// "IDENTITY_HEADER";`). Quoted, or with no code after it, such a value is still one.
#[test]
fn sentences_variables_and_variable_names_after_a_secrets_name_stay() {
    each_kept(&[
        "    /// Enable HTTP bearer authentication.",
        "            client_handshake_traffic_secret: client_secret,",
        "            server_handshake_traffic_secret: server_secret,",
        "        let tls = Tls { secret: shared_secret, mode };",
        "const MSI_SECRET_ENV_KEY: &str = \"IDENTITY_HEADER\";",
        "TOKEN_ENV_VAR = \"GITHUB_TOKEN\"",
    ]);
    each_redacted_as(
        &[
            "Authorization: Bearer @@.",
            "client_secret: \"@@\",",
            "  password: @@",
            "MSI_SECRET_ENV_KEY = \"@@\"",
        ],
        |i| {
            [
                "eyJhbGciOiJIUzI1NiJ9abc",
                "super_secret",
                "super_secret",
                "Zq8wLmN3pX00vR",
            ][i]
                .to_string()
        },
    );
}

/// A test vector of one or two repeated characters in a family's shape is no secret: the
/// ecdsa crate's `hex!("AAAA…")` (64 `A`s, Dropbox's long-lived token's shape), `AAAA…BBBB`,
/// Twitter's bearer shape as `A`s; a real token of that shape still is.
#[test]
fn repeated_characters_in_a_familys_shape_are_no_secret() {
    let a64 = "A".repeat(64);
    let ab = format!("{}{}", "A".repeat(64), "B".repeat(32));
    let a110 = "A".repeat(110);
    for line in [
        format!("        let prehash = hex!(\"{a64}\");"),
        format!("        let prehash = hex!(\"{ab}\");"),
        format!("x {a110}"),
    ] {
        assert_eq!(red(&line), line);
    }
    let token = "sl9Qx2mVb7LAAAAAAAAAAr9Tz4Wp8Nc3Hs6Jd1Kf5Gy0Ae2Iu7Oq4Wr9Ty3Ui8Op1As6D";
    assert!(!red(&format!("x {token}")).contains("Kf5Gy0Ae2Iu7"));
}

/// A function's parameter and its type are no name and value (`pub fn aes_encrypt_m128i(a:
/// m128i, round_key: m128i) -> m128i {`, the aes crate's; Python's `def login(password: str,
/// token: Token) -> None:`); a default given to the parameter still is one.
#[test]
fn a_parameters_type_is_no_value() {
    each_kept(&[
        "pub fn aes_encrypt_m128i(a: m128i, round_key: m128i) -> m128i {",
        "    fn derive(&self, secret: Okm32, label: u8) -> Key {",
        "def login(password: str, token: Token) -> None:",
        "function sign(secret: Uint8Array, payload: string): string {",
    ]);
    each_redacted(&["def connect(user: str = \"app\", password: str = \"@@\"):"]);
}

/// A declaration's type that names a secret is not the variable whose value follows (`let
/// key: AmazonS3ConfigKey = "aws_endpoint_url_s3".parse()`, object_store's tests; `const
/// cfg: TokenConfig = {…}`); a variable named for a secret is still read past its type.
#[test]
fn a_declarations_type_is_not_its_name() {
    each_kept(&[
        "        let key: AmazonS3ConfigKey = \"aws_endpoint_url_s3\".parse().unwrap();",
        "    let mut kind: SecretKind = \"generic_kind_v2\".into();",
        "const mode: TokenMode = \"refresh_rotating\";",
    ]);
    each_redacted(&[
        "    let api_key: ApiKey = \"@@\".into();",
        "const password: string = \"@@\";",
    ]);
}

/// What the second benign corpus (`/usr/share/doc`, `perl5`) showed after a secret's name that
/// is none: a sentence that goes on after the colon (`They do not have to be secret: IVs are
/// typically just`, `shares a secret: The sender, Alice, …`), a placeholder in capitals
/// (`--default-key YOURKEY`), an ABNF rule's bare repetition (`token = 1*<any CHAR …>`), C's
/// variable (`pass_height = height;`), and a header's name the name ends with (`$proxy ?
/// "Proxy-Authorization" : "Authorization"`). A value alone after the colon, or a word with a
/// digit before more words, is still one.
#[test]
fn sentences_placeholders_and_code_from_the_documentation_stay() {
    each_kept(&[
        "cryptographically random. They do not have to be secret: IVs are typically just",
        "when Alice and Bob shares a secret: The sender, Alice, computes the",
        "similar to: `gpg --default-key YOURKEY --digest-algo SHA256 --detach-sign file`.",
        "export API_KEY=YOUR_API_KEY",
        "  token             = 1*<any CHAR except CTLs or separators>",
        "            pass_height = height;",
        "    my $auth_header = $proxy ? \"Proxy-Authorization\" : \"Authorization\";",
    ]);
    each_redacted(&[
        "The admin password: @@",
        "secret: @@ is the one to use",
        "DB_PASSWORD=@@",
    ]);
}

/// An authorization scheme named alone in prose (`a "Proxy-Authorization: Basic" header`,
/// curl's manual) and a comment's description after a file's name and colon (`#
/// passwd.expire.cron: sample expiry notification script`) are no credentials.
#[test]
fn a_scheme_named_alone_and_a_comments_description_stay() {
    each_kept(&[
        "   option is used with a \"Proxy-Authorization: Basic\" header in base64 encoded",
        "Send an 'Authorization: Bearer' header with each request.",
        "# passwd.expire.cron: sample expiry notification script for use as a cronjob",
    ]);
    each_redacted(&[
        "Authorization: Basic @@",
        "# password: @@",
        "\"Authorization: Bearer @@\"",
    ]);
}

/// OpenRouter's keys (`sk-or-v1-` and 64 hexadecimal digits, as Claude Code users route models
/// through it): the dashes in them kept the `sk-` family's value from matching, and a bare key
/// went out.
#[test]
fn openrouter_keys_are_redacted() {
    let key = "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";
    for line in [
        key.to_string(),
        format!("curl https://openrouter.ai/api/v1/chat/completions -H \"X-Title: app\" # {key}"),
        tool_result(&format!("using {key}\n")),
    ] {
        let out = red(&line);
        assert!(!out.contains("0f3c2b1a9d8e7f6a5b4c"), "{line}\n   -> {out}");
    }
}

/// FTP's password as a client's trace shows it (`curl -v ftp://…`: `> PASS …`; `ftp -d`:
/// `---> PASS …`) is redacted; Jest's verdicts (` PASS  src/app.test.js`), whose path was taken
/// for a printed table's value after the name `PASS` and learned, stay.
#[test]
fn ftp_passwords_in_a_trace_and_jest_verdicts() {
    each_redacted(&[
        "> PASS @@".to_string(),
        "---> PASS @@".to_string(),
        tool_result("> USER bob\n> PASS @@\n< 230 Login successful.\n"),
    ]);
    let jest = " PASS  src/app.test.js (5.2 s)\n PASS  src/utils/format.test.ts\n FAIL  src/api.test.js\n\
                Tests:       12 passed, 12 total\nsee src/app.test.js\n";
    assert_eq!(red(jest), jest);
    let colored = "\u{1b}[42m\u{1b}[30m PASS \u{1b}[39m\u{1b}[49m src/app.test.js\n";
    assert_eq!(red(colored), colored);
    let wrapped = tool_result(jest);
    assert_eq!(red(&wrapped), wrapped);
}

/// A secret's name in a code span that ends its line (`cargo build`'s ``warning: unused
/// variable: `api_key` ``) made the reader of the description after a span look past the
/// line's end: the redactor panicked, and with it the stream it was redacting.
#[test]
fn a_secrets_name_in_a_code_span_at_a_lines_end_is_read_safely() {
    for text in [
        "warning: unused variable: `api_key`\n",
        "warning: unused variable: `api_key`",
        "warning: unused variable: `api_key`\r\n",
        "`password`\n",
        "`password`",
        "see `DB_PASSWORD` \n",
    ] {
        assert_eq!(red(text), text);
        for cut in [1, 7] {
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(cut).collect();
            let (out, _) = run(&rules_with(&[]), &chunks);
            assert_eq!(String::from_utf8(out).unwrap(), text, "chunks of {cut}");
        }
        let wrapped = tool_result(text);
        assert_eq!(red(&wrapped), wrapped);
    }
}

/// Lines made of secrets' names, operators, quotes, code spans, escapes and colour codes at
/// random, whole and cut into chunks: the redactor never panics on any of them (a name in a
/// code span at a line's end did, above). A fixed sequence, the same every run.
#[test]
fn random_lines_of_names_and_punctuation_never_panic() {
    const PIECES: &[&str] = &[
        "password",
        "api_key",
        "`",
        "`",
        "\"",
        "'",
        ":",
        "=",
        " ",
        "\\n",
        "\\",
        "\n",
        "token",
        "PASS",
        "> ",
        "Bearer ",
        "Authorization",
        "secret",
        "x",
        "Abc123xyz",
        "$",
        "(",
        ")",
        "[",
        "{",
        ",",
        "<",
        " -p ",
        "--password",
        "echo ",
        "|",
        "/",
        "0x",
        "Some(",
        "=>",
        "::",
        "\t",
        "\r",
        "\u{1b}[31m",
        "\\u0000",
        "\0",
        "is ",
        "to ",
        "-----BEGIN",
        "_KEY",
        "DSN",
        "://",
        "é",
        "1→",
    ];
    let rules = rules_with(&[]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let mut line = String::new();
        for _ in 0..1 + next() % 12 {
            line.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let cut = 1 + (next() % 9) as usize;
        let chunks: Vec<&[u8]> = line.as_bytes().chunks(cut).collect();
        let outcome = std::panic::catch_unwind(|| run(&rules, &chunks));
        assert!(outcome.is_ok(), "panicked on {line:?} in chunks of {cut}");
    }
}

/// An application's salts, which key its cookies and tokens like a secret key: WordPress'
/// `wp-config.php` defines eight keys and salts, and the four `*_SALT`s whose names held no
/// other secret's word (`LOGGED_IN_SALT`, `NONCE_SALT`) went out whole, as did `SESSION_SALT`
/// in a `.env` and a bare `SALT=`. A salt named in code or prose stays.
#[test]
fn an_applications_salts_are_redacted() {
    each_redacted_as(
        &[
            "define('LOGGED_IN_SALT',   '@@');",
            "define('NONCE_SALT',       '@@');",
            "define( 'NONCE_SALT', '@@' );",
            "export HASHIDS_SALT=\"@@\"",
            "  \"salt\": \"@@\",",
        ],
        |i| format!("R1&tY6*hN3%cx7#Lq9!vB2@mZ4$kW8^p{i:02}"),
    );
    each_redacted(&[
        "NONCE_SALT=@@",
        "SESSION_SALT=@@",
        "SALT=@@",
        "salt = \"@@\"",
        "cookie_salt: @@",
        "Salt: @@",
    ]);
    each_kept(&[
        "salt '*' test.ping",
        "sudo systemctl restart salt-minion",
        "let salt = SaltString::generate(&mut OsRng);",
        "    salt: Vec<u8>,",
        "salt_rounds = 12",
        "SALT_LENGTH=16",
        "Each password gets a random salt before hashing.",
        "salt = os.urandom(16)",
        "salt = bcrypt.gensalt()",
        "    /// Recommended length of a salt: 16-bytes.",
        "    /// Recommended length of a token: 32bytes.",
    ]);
    // A hashing tool's salt is printed in the hash it makes; the password given is redacted.
    each_redacted(&[
        "mkpasswd --method=sha-512 --salt=x9x9x9x9 @@",
        "openssl passwd -6 -salt x9x9x9x9 @@",
    ]);
}

/// A user and a password as Claude's summaries give them, split by a slash: after a `Login`
/// label (`**Login:** admin / …`) and after `The default credentials are` with code spans
/// around each. Both went out whole: `Login` named no secret, and after `credentials are`
/// only `user:password` was read. A label that gives no user's name, or a list of choices,
/// stays.
#[test]
fn a_user_and_a_password_split_by_a_slash_in_a_summary_are_redacted() {
    each_redacted(&[
        "Login: admin / @@",
        "**Login:** admin / @@",
        "- **Login**: `admin` / `@@`",
        "- Login: `admin@example.com` / `@@`",
        "The default credentials are `admin` / `@@`.",
        "The credentials are admin / @@",
        "Default credentials are `elastic` / `@@`",
        "- **Username / Password**: `admin` / `@@`",
        "Username / password: admin / @@",
        "**User/Password:** `admin` / `@@`",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Grafana is up.\n\n- **URL**: http://localhost:3000\n- **Login**: `admin` / `@@`\n"}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The default credentials are `admin` / `@@`."}]}}"#,
    ]);
    each_kept(&[
        "Login: Google / GitHub",
        "Login: email / password",
        "Login: disabled",
        "Login / Logout buttons now work",
        "LoginView / SignupView",
        "The credentials are stored in ~/.aws/credentials",
        "The credentials are `read` / `write` scoped",
        "Username / Password: required / optional fields",
        "| Username / Password | Basic auth |",
    ]);
}

/// A user and a password after a link, as Claude's summaries give a service it set up:
/// `Grafana: http://localhost:3000 (admin / …)`, `… — minioadmin / …`, `… and log in with
/// `admin` / `…``. No secret's name is on these lines, and they went out whole. A pair of
/// choices after a link (`(GET / POST)`, `(dev / prod builds)`, versions) stays.
#[test]
fn a_user_and_a_password_after_a_link_are_redacted() {
    each_redacted(&[
        "Grafana: http://localhost:3000 (admin / @@)",
        "- RabbitMQ management: http://localhost:15672 (guest / @@)",
        "Open http://localhost:8080 (admin / @@) to sign in.",
        "- **pgAdmin**: http://localhost:5050 (`admin@example.com` / `@@`)",
        "MinIO console: http://localhost:9001 \u{2014} minioadmin / @@",
        "Open http://localhost:8080 and log in with admin / @@",
        "Jenkins is at http://localhost:8080 with `admin` / `@@`.",
        "Kibana: https://localhost:5601 - elastic / @@",
        "The dashboard is at http://localhost:3000 (login admin / @@)",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done.\n\n- **Grafana**: http://localhost:3000 (admin / @@)\n- **Prometheus**: http://localhost:9090\n"}]}}"#,
        // The pair ending its line inside stream-json, more lines after it (the end was read
        // to the whole text's end, where the escaped line breaks of a view are real ones).
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Services:\n- MinIO: http://localhost:9001 — minioadmin / @@\n- Redis: none"}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Open http://localhost:8080 and log in with admin / @@\nThen go on."}]}}"#,
    ]);
    each_kept(&[
        "See https://example.com/api (GET / POST)",
        "Served at http://localhost:8080 (dev / prod builds)",
        "Compare https://example.com/diff (v1.2.0 / v1.3.0)",
        "Open http://localhost:3000 (frontend / backend) in two tabs",
        "Docs: https://docs.rs/tokio (read / write halves)",
        "https://example.com (Google / GitHub sign-in)",
        "The app: http://localhost:8000 (admin / user roles)",
    ]);
}

/// A Fernet key (32 bytes in URL-safe base64) given by its label in prose or a setting, as a
/// summary or a Django or Airflow setup prints it: `Fernet key: …`, `fernet_key = …`,
/// `AIRFLOW__CORE__FERNET_KEY=…`. `Fernet key: …` named no secret and went out whole.
#[test]
fn a_fernet_key_given_by_its_label_is_redacted() {
    each_redacted_as(
        &[
            "Fernet key: @@",
            "- Fernet key: @@",
            "fernet_key = @@",
            "\"fernet\": \"@@\"",
            "AIRFLOW__CORE__FERNET_KEY=@@",
        ],
        |i| format!("8yQ2Xh7mV-3nRkP9sLt4Wz6cBd1fGj5aYe0uIo2qH{i:02}="),
    );
    each_kept(&[
        "Fernet key rotation is documented in docs/security.md",
        "from cryptography.fernet import Fernet",
        "fernet_key = Fernet.generate_key()",
    ]);
}

/// The same label in a summary's Markdown: bold around the label (its colon inside or after
/// the bold) and the value in a code span. `- **Fernet key**: \`…\`` went out whole, though
/// each of the two alone was redacted: the name before the operator was not read past the
/// bold's asterisks, nor the value's start past its backtick.
#[test]
fn a_service_key_labelled_in_markdown_is_redacted() {
    each_redacted_as(
        &[
            "- **Fernet key**: `@@`",
            "**Fernet key:** `@@`",
            "* *Fernet key*: `@@`",
            "- `fernet_key`: `@@`",
        ],
        |i| format!("8yQ2Xh7mV-3nRkP9sLt4Wz6cBd1fGj5aYe0uIo2qH{i:02}="),
    );
    each_kept(&[
        "- **Fernet key**: rotate it with `airflow rotate-fernet-key`",
        "**Fernet**: `cryptography.fernet.Fernet`",
        "- **Build**: `cargo build --release --workspace --all-targets`",
        "- **Commit**: `0123456789abcdef0123456789abcdef01234567`",
    ]);
}

/// A summary lists the services it set up, each with its login after its name: `Postgres:
/// postgres / …`, `- **pgAdmin**: admin@example.com / …`. No secret's name and no link is on
/// such a line, and the password went out whole. Choices and versions given the same way
/// stay, and so does a password that is a plain word (a default, `postgres / postgres`).
#[test]
fn a_login_after_a_services_label_is_redacted() {
    each_redacted_as(
        &[
            "Postgres: postgres / @@",
            "- **pgAdmin**: admin@example.com / @@",
            "- **Grafana admin:** `admin` / `@@`",
            "2. MySQL: app / @@",
            "* RabbitMQ: guest / @@.",
            "\u{2022} MinIO console: minioadmin / @@",
        ],
        |i| format!("S3cure!Pass{i}x"),
    );
    let stream = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Services:\n- Postgres: postgres / Zq8wLmN3pX!\n- Redis: none"}]}}"#;
    let out = red(stream);
    assert!(!out.contains("Zq8wLmN3pX"), "{out}");
    each_kept(&[
        "Mode: debug / Release",
        "Database: reads / writes",
        "Postgres: postgres / postgres",
        "Branches: main / feature-123",
        "DB: v14 / v15.2",
        "Postgres: 5432 / 5433",
        "Redis: cache / queue-2 for the workers",
        "See the notes: admin / Adm1n-Guide.md",
    ]);
}

/// `vault kv get` without `-field` prints a secret's every key and value, under names that say
/// nothing (`api`, `conn`): as a table after its `Data` heading, or as JSON (`-format=json`,
/// the values under `data.data`, or `data` in a version 1 engine). Each went out whole, and
/// whole again when printed later. The metadata's values (times, versions) stay.
#[test]
fn the_values_vault_kv_get_prints_are_redacted() {
    let secrets = ["Zq8wLmN3pX01vRkT", "hK2v9QzLw4Tx8BnM"];
    let table = format!(
        "====== Secret Path ======\nsecret/data/db\n\n======= Metadata =======\n\
         Key                Value\n---                -----\n\
         created_time       2026-12-06T10:00:00.123456Z\ndeletion_time      n/a\n\
         destroyed          false\nversion            3\n\n\
         ====== Data ======\nKey     Value\n---     -----\napi     {}\nconn    {}\n",
        secrets[0], secrets[1]
    );
    let v2 = serde_json::json!({"request_id": "5d1c2d0e-7c1b-4b8e-9d7a-0c5b3f2e1a44", "lease_id": "",
        "data": {"data": {"api": secrets[0], "conn": secrets[1]},
                 "metadata": {"created_time": "2026-12-06T10:00:00.123456Z", "version": 3}}});
    let v1 = serde_json::json!({"request_id": "5d1c2d0e-7c1b-4b8e-9d7a-0c5b3f2e1a44", "lease_id": "",
        "data": {"api": secrets[0], "conn": secrets[1]}});
    for (command, printed) in [
        ("vault kv get secret/db", table.clone()),
        ("vault kv get -mount=secret db", table),
        ("vault kv get -format=json secret/db", format!("{v2:#}")),
        ("vault kv get -format=json kv1/db", format!("{v1:#}")),
    ] {
        let id = "toolu_01VaultAbCdEfGhIjKlMnOp";
        let text = format!(
            "{}\n{}\nconnected with {} again\n",
            bash_call(id, command),
            bash_result(id, &printed),
            secrets[1]
        );
        let out = red(&text);
        for s in secrets {
            assert!(!out.contains(s), "{command}:\n{out}");
        }
        if printed.contains("created_time") {
            assert!(out.contains("2026-12-06T10:00:00.123456Z"), "{out}");
        }
    }
}

/// A Markdown table whose header names a secret's column, as Claude's summaries list the
/// services they set up (`| Service | URL | Credentials |`, then `| Grafana | … | admin / … |`):
/// each row's cell in that column is the value, the password of a `user / password` pair.
/// The rows named no secret and went out whole, in the terminal's lines and in stream-json.
#[test]
fn a_tables_secret_column_is_redacted_in_every_row() {
    let table = "| Service | URL | Credentials |\n|---------|-----|-------------|\n\
                 | Grafana | http://localhost:3000 | admin / @@1 |\n\
                 | pgAdmin | http://localhost:5050 | `admin@example.com` / `@@2` |\n\
                 | Redis | localhost:6379 | none |\n\
                 | MinIO | http://localhost:9001 | minioadmin / @@3 |\n\nDone.\n";
    let by_password = "| Service | User | Password |\n|:--|:--|:--|\n| Postgres | app | `@@1` |\n\
                       | RabbitMQ | guest | @@2 |\n| Mongo | root | @@3 |\n";
    for text in [table, by_password] {
        let secrets: Vec<String> = (1..=3).map(|i| format!("Zq8wLmN3pX{i:02}vR")).collect();
        let mut plain = text.to_string();
        for (i, s) in secrets.iter().enumerate() {
            plain = plain.replace(&format!("@@{}", i + 1), s);
        }
        let json = serde_json::json!({"type": "assistant", "message": {"content": [{"type": "text", "text": plain}]}});
        for form in [plain.clone(), format!("{json}\n")] {
            for cut in [form.len(), 11] {
                let (out, _) = red_in_chunks(&form, cut);
                for s in &secrets {
                    assert!(!out.contains(s.as_str()), "{s} in chunks of {cut}:\n{out}");
                }
                assert!(out.contains("Grafana") || out.contains("Postgres"), "{out}");
            }
        }
    }
    // Tables that name a secret's column but hold none, and a column of names.
    for text in [
        "| Variable | Required | Secret |\n|---|---|---|\n| `DB_HOST` | yes | no |\n| `DB_PASSWORD` | yes | yes |\n",
        "| Name | Token | Notes |\n|---|---|---|\n| GitHub | `GITHUB_TOKEN` | from the repo's settings |\n",
        "| Service | Credentials |\n|---|---|\n| Grafana | see `.env` |\n| Redis | none |\n",
        "| part | ms per pass |\n|---|---|\n| output copy | ~30 |\n",
        "| Test | Pass | Fail |\n|---|---|---|\n| unit | 12 | 0 |\n| e2e | x9z | 1 |\n",
    ] {
        assert_eq!(red(text), text);
        let json = format!(
            "{}\n",
            serde_json::json!({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})
        );
        assert_eq!(red(&json), json);
    }
}

/// A view of nothing but header rows with their delimiter rows, and a line of a megabyte of
/// table rules and names of secrets: each header reads a bounded number of rows, each hit
/// looks a bounded distance back and ahead. (The reader of a sentence ending in a colon read
/// each hit's line to its end: the long line took 26 s, a 4 MiB one minutes; later, the same
/// reader's check of what follows a sentence's value did it again.)
#[test]
fn tables_of_headers_and_long_lines_of_rules_are_read_in_bounded_time() {
    let rows = "| x | Password |\n|---|---|\n".repeat(20_000);
    let json = format!(
        "{}\n",
        serde_json::json!({"type": "assistant", "message": {"content": [{"type": "text", "text": rows}]}})
    );
    let long = format!("{}\n", "| Password ".repeat(100_000));
    // A line of 8 MB without a break, of sentences that name a password and end in a colon
    // and a word: each looked for its line's end (and for a quote back to its start), 135 s
    // for half of it in a release build, past this suite's 5 minutes in a test build.
    let sentences = format!(
        "{}\n",
        "Reset the password for user alice: done ".repeat(200_000)
    );
    for text in [
        rows.as_str(),
        json.as_str(),
        long.as_str(),
        sentences.as_str(),
    ] {
        let out = red(text);
        assert_eq!(out.len(), text.len(), "nothing to redact, nothing lost");
    }
}

/// A value given before its name (`Use `…` as the password.`) and after an arrow (`Root
/// password → `…``), as Claude's instructions and summaries write them: both went out whole,
/// as the readers of a name looked only after it, and an arrow was no operator. A value that
/// is a flag or a word stays, as does a rename (`token → access_token`).
#[test]
fn a_value_before_its_name_or_after_an_arrow_is_redacted() {
    each_redacted(&[
        "Use `@@` as the password.",
        "Use '@@' as the password for the admin user.",
        "Enter `@@` as your password when prompted.",
        "Use \"@@\" as the API key",
        // A two-word name that ends the sentence: its full stop is no name's dot.
        "Use `@@` as the API key.",
        "Enter '@@' as your API key.",
        "- Root password → `@@`",
        "Password → @@",
        "**Admin password** → `@@`",
    ]);
    each_kept(&[
        "Use SSH keys as the password alternative.",
        "Use the same value as the password.",
        "Use `--password-stdin` as the password source.",
        "Use `secret` as the password name.",
        "Set api key.name to `billing` in the settings.",
        "Renamed `token` → `access_token`",
        "password → passphrase",
        "Token → see below",
    ]);
}

/// A summary's arrow after a word that says what was done to the secret (`Password updated →
/// …`, `Admin password reset → `…``, `API token rotated → …`): the arrow was read only right
/// after the name, and these went out whole. A change of a setting that is no value stays.
#[test]
fn a_value_after_a_verb_and_an_arrow_is_redacted() {
    let cases = [
        "Password updated → @@",
        "Admin password updated → `@@`",
        "- Root password reset → `@@`",
        "**DB password** changed → `@@`",
        "API token rotated → @@",
        "Deploy token regenerated → `@@`",
        "Password set → @@",
    ];
    each_redacted(&raw_and_in_claudes_text(&cases));
    let kept = [
        "Password updated → see the vault",
        "Password policy updated → stricter",
        "Token updated → `access_token`",
        "Password changed → required on next login",
        "Token rotated → every 30 days",
        "Password → required",
    ];
    each_kept(&kept);
    for k in kept {
        assert_eq!(red(&assistant_text(k)), assistant_text(k));
    }
}

/// `PW` as a password's name in an environment's (`DB_PW`, `MYSQL_ROOT_PW`, `ADMIN_PW`): no
/// keyword literal was in them, and their values went out whole. What names something about
/// it stays.
#[test]
fn a_password_named_pw_is_redacted() {
    each_redacted(&[
        "DB_PW=@@",
        "export ADMIN_PW=@@",
        "      MYSQL_ROOT_PW: \"@@\"",
        "  \"SMTP_PW\": \"@@\",",
    ]);
    each_kept(&[
        "PW_LENGTH=16",
        "BACKUP_PW_FILE=/run/secrets/backup",
        "DB_PW=",
        "echo $DB_PW",
    ]);
}

/// Git's credential helper protocol given as a here-string: its `password=` line is the
/// secret, and its first line (`protocol=https`) was redacted as if the here-string were one
/// value.
#[test]
fn a_git_credential_here_string_loses_only_its_password() {
    each_kept(&[
        "git credential approve <<< \"protocol=https",
        "git credential reject <<< 'url=https://github.com/org/repo'",
    ]);
    each_redacted(&[
        "git credential approve <<< $'protocol=https\\nhost=github.com\\nusername=bob\\npassword=@@\\n'",
        "printf 'protocol=https\\nhost=github.com\\nusername=bob\\npassword=@@\\n' | git credential approve",
    ]);
}

/// Code that passes a variable on under its own name (`elasticsearch_version=
/// elasticsearch_version`, `self.elasticsearch_settings = elasticsearch_settings`,
/// `user.password_reset_required = password_reset_required`), from the Python corpus: a
/// service's name in the variable's made it a token's row, and a secret's word a password's
/// value; each was learned, and every later mention of the variable went too. So did a
/// password's last use (`password_last_used = "not_supported"`), a date, not the password.
/// A value that differs from its name, or is quoted, is still one.
#[test]
fn a_variable_passed_on_under_its_own_name_is_code() {
    each_kept(&[
        "            elasticsearch_version=elasticsearch_version,",
        "            elasticsearch_cluster_config=elasticsearch_cluster_config,",
        "        self.elasticsearch_settings = elasticsearch_settings",
        "        user.password_reset_required = password_reset_required",
        "        secret.rotation_lambda_arn = rotation_lambda_arn or \"\"",
        "    return Session(token=token, api_key=api_key)",
        "            password_last_used = \"not_supported\"",
        "  \"PasswordLastUsed\": \"2024-01-02T03:04:05Z\",",
    ]);
    each_redacted_as(
        &[
            "password=@@",
            "DB_PASSWORD=@@",
            "api_key = \"@@\"",
            "elasticsearch_password=@@",
            "password = '@@'",
            "    return Session(token=@@, api_key=api_key)",
        ],
        |i| {
            [
                "passw0rd_Hunter",
                "db_password_2",
                "Zq8wLmN3pX00vR4t",
                "Xk9mQ2vLp4Tz8wR",
                "Tr0ub4dor3xK",
                "Xk9mQ2vLp4Tz8wR",
            ][i]
                .to_string()
        },
    );
}

/// A quoted key given a variable, as Python's and JavaScript's object literals do
/// (`"SecretVersionsToStages": version_id_to_stages,`, `{"authorizationData": auth_data}`), from
/// the Python corpus: the variable was taken for the secret and learned, and every later use of
/// it went too. JSON quotes every string, so an unquoted name in several lower-case parts after
/// a quoted key is code. A YAML value after an unquoted key, a quoted value and a single word
/// are still values.
#[test]
fn a_quoted_key_given_a_variable_is_code() {
    each_kept(&[
        "                    \"SecretVersionsToStages\": version_id_to_stages,",
        "        return ActionResult({\"authorizationData\": auth_data})",
        "        schema = {\"AggregationAuthorization\": agg_auth}",
        "    headers = {'X-Api-Key': api_key_value, 'Accept': 'application/json'}",
    ]);
    each_redacted_as(
        &[
            "password: @@",
            "{\"password\": \"@@\"}",
            "\"SECRET_BLOCK\": @@,",
            "{\"token\": @@}",
            // A YAML flow mapping, a hand-built JSON with a quote forgotten: words that are
            // not the key's.
            "credentials: {\"user\": admin, \"password\": @@}",
            "+ curl -d '{\"username\": \"bob\", \"password\": @@}' https://api",
            "    'db_password': @@,",
            "\"secret\": @@}",
        ],
        |i| {
            [
                "my_password_x",
                "hunter2_x",
                "Xk9mQ2vLp4Tz",
                "ghx_9f8e7d6c5b4a3",
                "purple_monkey_dishwasher",
                "tiger_lily_garden",
                "purple_monkey_dishwasher",
                "my_secret_sauce",
            ][i]
                .to_string()
        },
    );
}

/// More of the Python corpus: a keyword argument passed on under its own name before the
/// call's `)` (`self.open(member, pwd=pwd)`: the `)` went with the value), an error message
/// that names a parameter (`"pwd: expected bytes, got %s"`: `expected` was learned, and every
/// later `expected` went), a mail server's SASL mechanism (`AUTH=CRAM-MD5`), and a service's
/// name in words as a token row's value (`'elb': 'elastic-load-balancing'`). Passwords in
/// such places are still redacted.
#[test]
fn names_messages_and_mechanisms_in_code_are_no_values() {
    each_kept(&[
        "        stream = self.root.open(self.at, zip_mode, pwd=pwd)",
        "        with self.open(member, pwd=pwd) as source, \\",
        "            raise TypeError(\"pwd: expected bytes, got %s\" % type(pwd).__name__)",
        "        expected_msg = \"pwd: expected bytes, got str\"",
        "            capabilities = 'LOGINDISABLED AUTH=CRAM-MD5'",
        "        self.assertTrue('AUTH=CRAM-MD5' in client.capabilities)",
        "250-AUTH=PLAIN LOGIN",
        "    \"elasticloadbalancing\": \"elastic-load-balancing\",",
        "    'elasticbeanstalkplugin': 'elasticbeanstalk_plugin',",
    ]);
    each_redacted_as(
        &[
            "        zf.pwd = @@",
            "            raise ValueError(\"password: @@ was rejected\")",
            "AUTH=@@",
            "ELASTIC_API_KEY=@@",
            "  \"password\": \"@@\",",
            // A message's text in stream-json or a log's JSON, an alphabetic password in it.
            "{\"type\":\"text\",\"text\":\"Password: @@ is the admin password.\"}",
            "{\"level\":\"info\",\"msg\":\"password: @@ accepted for admin\"}",
            "            raise ValueError(\"password: @@ was rejected\")",
            // A passphrase of words a password manager made, given to a service's name.
            "elastic_pw: @@",
            "{\"elastic\": \"@@\"}",
            // A value that only starts with its name.
            "pwd=@@",
        ],
        |i| {
            [
                "Xk9mQ2vLp4Tz",
                "hunter2x",
                "Zq8wLmN3pX00vR4t",
                "ZWxhc3RpYzpjaGFuZ2VtZQ1234567890ab",
                "correct-horse-battery-staple",
                "Swordfish",
                "letmein",
                "hunterxyz",
                "mango-velvet-orbit-canyon",
                "pickle-walrus-saffron-ember",
                "pwd,Hunter2xyz",
            ][i]
                .to_string()
        },
    );
}

/// A style given to a token type (pygments' styles: `Token.Comment: "italic #A3AAB2"`, `Token.Name.Builtin:
/// "bold #08547A"`, `"bg:#ff0000 #ffffff"`): words of style and colours, from the Python
/// corpus, where each style was redacted after `Token`'s name. A value with anything else in
/// it is still one.
#[test]
fn a_style_of_words_and_colours_is_no_value() {
    each_kept(&[
        "        Token.Comment: \"italic #A3AAB2\",",
        "        Token.Name.Builtin.MusicCommand: \"bold #08547A\",",
        "        Token.Error: \"bg:#ff0000 #ffffff\",",
        "        Token.Keyword: \"nobold noitalic #0000ff\",",
    ]);
    each_redacted_as(
        &[
            "        Token.Secret: \"@@\",",
            "api_token: \"@@\"",
            "password: \"@@\"",
        ],
        |i| ["bold #08547A9Qz", "italic Xk9mQ2vLp4Tz", "blue #1234567"][i].to_string(),
    );
}

/// Python's `subprocess` takes file descriptors to pass on (`pass_fds=fds_to_keep`): a name
/// about descriptors, from the Python corpus, where the variable given to it was learned and
/// went from every later line. GnuPG's passphrase read from a descriptor is still found.
#[test]
fn descriptors_to_pass_are_no_password() {
    each_kept(&[
        "                             pass_fds=fds_to_keep)",
        "    proc = subprocess.Popen(args, pass_fds=keep_fds, close_fds=True)",
        "gpg --batch --passphrase-fd 0 --decrypt secret.gpg",
    ]);
    each_redacted_as(
        &[
            "echo @@ | gpg --batch --passphrase-fd 0 --decrypt secret.gpg",
            "pass_phrase=@@",
        ],
        |i| ["hunter2pass", "Xk9mQ2vLp4Tz"][i].to_string(),
    );
}

/// A key of a cipher's or a signature's given under its kind's label in two words (`AES key=`,
/// `Encryption key: …`, `Master key: …`), as scripts and tools print a key they make or use:
/// 16, 32 or 64 bytes in hex or padded base64. The labels of keys that are no secret (a public
/// key, a cache's key, a table's primary key) keep their values.
#[test]
fn a_key_under_its_kinds_label_is_a_secret() {
    let hex32 = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let hex64 = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
    let b64_16 = "n8Zq4kPv2Xw9LmT3rB7yHg==";
    let b64_32 = "q3Zk9vX2mL8pR4tW7yB1nC6hJ0dF5sG3aE9uK2oI4lM=";
    let cases = [
        ("AES key=@@", hex32),
        ("aes key: @@", hex64),
        ("Master key: @@", hex32),
        ("master key = \"@@\"", b64_32),
        ("Encryption key: @@", hex64),
        ("encryption key: '@@'", b64_16),
        ("Decryption key: @@", hex32),
        ("Signing key: @@", b64_32),
        ("HMAC key: @@", hex64),
        ("Session key: @@", hex32),
        ("Shared key: @@", b64_16),
        ("Symmetric key: @@", hex32),
        ("Wrapping key: @@", hex64),
        ("  \"encryption key\": \"@@\",", hex32),
    ];
    each_redacted_with(&cases);
    each_kept(&[
        "public key: 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
        "Public key: 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
        "primary key: id",
        "Key ID: 0x9F8E7D6C5B4A3928",
        "encryption key: not set",
        "Master key: see config/master.key",
        "signing key: ~/.ssh/id_ed25519",
        "Encryption key: ok",
        "the master key: rotate it every 90 days",
    ]);
}

/// A TLS key log (`SSLKEYLOGFILE`, NSS's format, which browsers, curl and Wireshark share):
/// each line a label, the connection's client random and the secret that decrypts it. The
/// random is no secret and stays; the secret goes.
#[test]
fn a_tls_key_log_loses_its_secrets() {
    let random = "9c2e8b7d1a4f6e0c3b9a8d7f2e1c5b4a3d2c1e0f9a8b7c6d5e4f3a2b1c0d9e8f";
    let cases: Vec<String> = [
        "CLIENT_RANDOM",
        "CLIENT_EARLY_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EARLY_EXPORTER_SECRET",
        "EXPORTER_SECRET",
    ]
    .iter()
    .map(|label| format!("{label} {random} @@"))
    .collect();
    each_redacted_as(&cases, |i| {
        // TLS 1.2's master secret is 48 bytes; TLS 1.3's traffic secrets 32 or 48.
        let secret = "5a3f9c2e8b7d1a4f6e0c3b9a8d7f2e1c07b4e9d2a6f3c8b1e5d0a9f4c7b2e6d1a8f3c0b5e9d4a7f2c6b1e8d3a0f5c9e2";
        secret[..[96, 64][i % 2]].to_string()
    });
}

/// A licence's, a product's or a recovery key in groups of letters and digits under its
/// label (`License key: Q7K2M-…`, BitLocker's recovery key of eight groups of six digits).
#[test]
fn a_licence_or_recovery_key_in_groups_is_a_secret() {
    let cases = [
        ("License key: @@", "Q7K2M-9XW4P-R8T3L-V6N5J-H2D4F"),
        ("Licence key: @@", "Q7K2M-9XW4P-R8T3L-V6N5J"),
        ("Product key: @@", "Q7K2M-9XW4P-R8T3L-V6N5J-H2D4F"),
        ("Recovery key: @@", "8f3k-29dk-xk2m-39dj-4kd9-2mx8"),
        (
            "BitLocker recovery key: @@",
            "482913-019283-746556-473829-102938-475610-293847-561029",
        ),
        ("Activation key = @@", "Q7K2M9XW-4PR8T3LV-6N5JH2D4"),
    ];
    each_redacted_with(&cases);
    each_kept(&[
        "License key: XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
        "License key: see LICENSE-2024-APACHE-MIT",
        "Recovery key: stored-in-the-vault-team-a",
        "product key: none",
    ]);
}

/// A wallet's seed phrase in the environment (`MNEMONIC`, `SEED_PHRASE`, `WALLET_MNEMONIC`,
/// `RECOVERY_PHRASE`): a secret's name, so its value is known and redacted wherever it is
/// printed (`echo $MNEMONIC`), as the other secret variables' are.
#[test]
fn a_seed_phrase_in_the_environment_is_a_known_secret() {
    let phrase =
        "abandon ability able about above absent absorb abstract absurd abuse access accident";
    for name in [
        "MNEMONIC",
        "WALLET_MNEMONIC",
        "SEED_PHRASE",
        "seed_phrase",
        "RECOVERY_PHRASE",
        "DEPLOYER_MNEMONIC",
    ] {
        let rules = rules_with(&[(name, phrase)]);
        for line in [
            format!("{phrase}\n"),
            format!("export {name}=\"{phrase}\"\n"),
            format!("{{\"type\":\"text\",\"text\":\"the phrase is {phrase}\"}}\n"),
        ] {
            let (out, _) = run(&rules, &[line.as_bytes()]);
            assert!(!contains(&out, phrase), "{name}: {line}");
        }
    }
    // Phrases that name no secret keep their variables' values out of the known ones.
    let rules = rules_with(&[
        ("CATCH_PHRASE", "ready when you are"),
        ("PHRASE_COUNT", "12"),
    ]);
    let (out, _) = run(&rules, &[b"ready when you are, 12 of them\n"]);
    assert_eq!(out, b"ready when you are, 12 of them\n");
}

/// A password given to a call (`zf.extractall(pwd=…)`, `open(path, pwd=…)`) loses only the
/// password: the call's `)` stays, as it does after every other name. ODBC's `Pwd=…;` is still
/// taken whole.
#[test]
fn a_password_given_to_a_call_keeps_the_calls_parenthesis() {
    each_redacted(&[
        "zf.extractall(pwd=@@)",
        "    with zipfile.ZipFile(p).open(name, pwd=@@) as f:",
        "connect(user, password=@@)",
        "Driver={ODBC Driver 18};Server=db;Uid=app;Pwd=@@;",
        "DRIVER=x;PWD=@@ ",
    ]);
}

/// A password in quotes given to a call in code (`open(name, pwd="…")`, from Python's tests)
/// loses what the quotes hold, and the quotes and the call's `)` stay.
#[test]
fn a_quoted_password_given_to_a_call_keeps_its_quotes() {
    each_redacted(&[
        "            self.zip.open(\"test.txt\", pwd=\"@@\")",
        "            self.zip.extract(\"test.txt\", pwd='@@')",
    ]);
}

/// A passphrase of words given unquoted (`passphrase: correct horse battery staple`, a
/// `.env`'s `PASSPHRASE=…`, in stream-json's text): every word of it, where only the first
/// went before and the other three went out. Prose after the name is not taken as words.
#[test]
fn an_unquoted_passphrase_of_words_is_taken_whole() {
    each_redacted_as(
        &[
            "passphrase: @@",
            "PASSPHRASE=@@",
            "pass_phrase = @@",
            "gpg: passphrase: @@",
            "{\"type\":\"text\",\"text\":\"passphrase: @@\\n\"}",
            "  passphrase: @@\r",
        ],
        |i| ["correct horse battery staple", "Tr0ub4dor and 3 more words"][i % 2].to_string(),
    );
    each_kept(&[
        "passphrase: wrong, try again",
        "Bad passphrase: please try again",
        "passphrase: required (min 12 chars)",
    ]);
}

/// A script's or a log's report of a password it set, with no auxiliary before the verb
/// (`root password set to …`, `Admin password reset to …`), as `was set to …` already is.
#[test]
fn a_password_set_to_a_value_without_an_auxiliary_is_a_secret() {
    each_redacted(&[
        "root password set to @@",
        "Admin password reset to @@",
        "[entrypoint] password changed to '@@'",
        "API token rotated to @@ for the staging app",
    ]);
    each_kept(&[
        "password set to expire in 90 days",
        "Password reset to default",
        "password changed to something stronger",
        "token set to null",
    ]);
}

/// A passphrase of words quoted in prose after its name (`Use passphrase "…" to unlock`, `The
/// passphrase is "…".`): four words or more, as generated passphrases have; a shorter quote
/// after the name is a message.
#[test]
fn a_quoted_passphrase_of_words_in_prose_is_a_secret() {
    each_redacted_as(
        &[
            "Use passphrase \"@@\" to unlock",
            "The passphrase is \"@@\".",
            "wallet passphrase \"@@\"",
            "I set the passphrase to \"@@\" for the key",
        ],
        |i| {
            [
                "correct horse battery staple",
                "abandon ability able about above absent absorb abstract absurd abuse access accident",
            ][i % 2]
                .to_string()
        },
    );
    each_kept(&[
        "the passphrase \"is too short\" error",
        "Enter passphrase (empty for no passphrase):",
        "The passphrase is \"required\".",
    ]);
}

/// Terraform's input variables: a secret's name as a `variable` block's label and its value
/// the block's `default`, on a later line of the block (after its `type`, `description` or
/// `sensitive`); as printed, and as a tool reads the file.
#[test]
fn a_terraform_variables_default_under_a_secrets_name_is_redacted() {
    let block = "variable \"api_token\" {\n  type        = string\n  description = \"The API's token\"\n  sensitive   = true\n  default     = \"@@\"\n}";
    let numbered = read_view(block, 10);
    let cases = [
        "variable \"db_password\" {\n  default = \"@@\"\n}".to_string(),
        "variable \"db_password\" {\n\n  # kept out of the state\n  default = \"@@\"\n}\n"
            .to_string(),
        "  variable \"admin_pass\"   {\n    default=\"@@\"\n  }".to_string(),
        block.to_string(),
        tool_result(block),
        tool_result(&numbered),
    ];
    each_redacted(&cases);
}

/// What the rule above must leave alone: no default, a default that is no secret, a variable
/// that names none, a default past the block's end.
#[test]
fn terraform_variables_without_a_secret_default_stay_intact() {
    each_kept(&[
        "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}",
        "variable \"password_policy\" {\n  default = \"strict\"\n}",
        "variable \"db_password\" {\n  default = null\n}",
        "variable \"region\" {\n  default = \"eu-west-3a\"\n}",
        "variable \"db_password\" {\n  type = string\n}\n\nlocals {\n  default = \"Zq8wLmN3pX01vR\"\n}",
    ]);
}

/// A base64 value with one `=` of padding after a label, at the end of a quoted string: a
/// Kubernetes secret's `data` as a tool prints it (the string a tool result's JSON), a
/// message in quotes. The padding and the quote after it are no type annotation's `= "…"`.
#[test]
fn a_padded_value_that_ends_a_quoted_string_is_redacted() {
    let id = "toolu_01Lq3ZkPadded000000000";
    let yaml = "apiVersion: v1\ndata:\n  password: @@";
    let cases = [
        "\"password: @@\"".to_string(),
        "'password: @@'".to_string(),
        "log(\"password: @@\", level)".to_string(),
        r#"{"content":"password: @@"}"#.to_string(),
        tool_result(yaml),
        format!(
            "{}\n{}",
            bash_call(id, "kubectl get secret db -o yaml"),
            bash_result(id, yaml)
        ),
    ];
    each_redacted_as(&cases, |i| format!("VHg4MnpMeDBLbTl{i:02}UXA="));
    // A type annotation still reads as one.
    assert_eq!(
        red("API_KEY: Final = \"Zq8wLmN3pX77vR\""),
        format!("API_KEY: Final = \"{REDACTED}\"")
    );
}

/// Claude's prose giving a value after `is` and going on in the same sentence (`The token is
/// … — keep it safe.`, `Your password is …, change it after login`): a value with letters and
/// digits mixed is the secret, whatever follows a dash, comma, semicolon or bracket.
#[test]
fn a_value_after_is_with_the_sentence_going_on_is_redacted() {
    each_redacted(&[
        "The token is @@ — keep it safe.",
        "The token is @@ – keep it safe.",
        "Your token is @@, keep it safe.",
        "The password is @@ - change it after the first login.",
        "The admin password is @@; it expires in a day.",
        "The API key is @@ (it was in config.py).",
        "The database password is `@@`, as set in .env.",
        "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"The token is @@ — keep it safe.\"}]}}",
    ]);
}

/// What the rule above must leave alone: a word, a size or a version after `is`, with the
/// sentence going on.
#[test]
fn prose_about_a_secret_with_the_sentence_going_on_stays_intact() {
    each_kept(&[
        "The token is Required, and must be sent on every request.",
        "The password is 12 characters long, with one digit.",
        "The key is RS256-signed, so verify it first.",
        "The token is v2, the one the API issues since May.",
        "The secret is base64, not hex - decode it first.",
        "The key is 2048-bit RSA, which is enough.",
    ]);
}

/// GitHub Actions' older workflow commands that set a step's output or state under a secret's
/// name (`::set-output name=token::VALUE`, `::save-state name=password::VALUE`), as a
/// workflow's script echoes them and as a runner's log shows them.
#[test]
fn a_step_output_set_under_a_secrets_name_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "::set-output name=token::@@",
            "echo \"::set-output name=api_token::@@\"",
            "echo '::save-state name=DB_PASSWORD::@@' && ./next.sh",
            "  ::set-output name=client_secret::\"@@\"",
        ],
        &['"', '\''],
        |c| c.to_string(),
    ));
    each_kept(&[
        "echo \"::set-output name=token::$TOKEN\"",
        "echo \"::set-output name=token::${{ steps.auth.outputs.token }}\"",
        "::set-output name=version::1.4.2",
        "::set-output name=token_expiry::2024-05-01T10:00:00Z",
    ]);
}

/// A property list's value under a secret's key (macOS configuration profiles, launchd's
/// `EnvironmentVariables`, Xcode's export options): `<key>NAME</key>` and the `<string>` after
/// it, on one line, on the next, and as a tool reads the file.
#[test]
fn a_property_lists_string_under_a_secrets_key_is_redacted() {
    let plist = "<dict>\n\t<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>DB_PASSWORD</key>\n\t\t<string>@@</string>\n\t\t<key>LOG_LEVEL</key>\n\t\t<string>info</string>\n\t</dict>\n</dict>";
    let cases = [
        "<key>APIKey</key><string>@@</string>".to_string(),
        "    <key>Password</key> <string>@@</string>".to_string(),
        "\t<key>Password</key>\n\t<string>@@</string>".to_string(),
        "<key>api_token</key>\r\n    <string>@@</string>\r\n".to_string(),
        plist.to_string(),
        tool_result(plist),
    ];
    each_redacted(&cases);
}

/// What the rule above must leave alone.
#[test]
fn property_lists_without_a_secret_stay_intact() {
    each_kept(&[
        "<key>APIKey</key>\n<string>$(API_KEY)</string>",
        "<key>PasswordPolicy</key>\n<string>strict</string>",
        "<key>KeepAlive</key>\n<true/>",
        "<key>Password</key>\n<data>\n</data>",
        "<key>TokenEndpoint</key><string>https://login.example.com/oauth2/token</string>",
    ]);
}

/// The forms whose value is on the line after its name, with Windows' `\r\n` breaks (a file
/// written on Windows, a Windows program's output): the `\n` is the break's, not a blank line
/// between the name and its value.
#[test]
fn a_value_on_the_next_line_after_a_crlf_break_is_redacted() {
    each_redacted(&[
        "- name: DB_PASSWORD\r\n  value: @@\r\n",
        "{\r\n  \"password\":\r\n    \"@@\"\r\n}\r\n",
        "password: |\r\n  @@\r\n",
        "\"api_keys\": [\r\n  \"@@\",\r\n  \"@@\"\r\n]\r\n",
        "export DB_PASSWORD=\\\r\n  @@\r\n",
        "<key>api_token</key>\r\n    <string>@@</string>\r\n",
        "Password for the [elastic] user successfully reset.\r\nNew value: @@\r\n",
        "| Service | Password |\r\n|---|---|\r\n| db | @@ |\r\n",
    ]);
}

/// A query's result as the MySQL and MariaDB clients draw it, its header row between `+---+`
/// borders: a column named for a secret has its value in every row, as Claude's `mysql -e
/// "SELECT …"` prints them, in the terminal's lines and in a tool's result.
#[test]
fn a_mysql_result_tables_secret_column_is_redacted_in_every_row() {
    let table = "+----+-------+--------------+\n| id | name  | password     |\n+----+-------+--------------+\n|  1 | admin | @@           |\n|  2 | app   | @@           |\n+----+-------+--------------+\n2 rows in set (0.00 sec)\n";
    table_rows_redacted(table, 0, 11, &["admin", "2 rows in set"]);
    // A column that names no secret, and a border alone.
    let kept = "+----+----------+\n| id | password_changed_at |\n+----+----------+\n|  1 | 2024-05-01 |\n+----+----------+\n";
    assert_eq!(red(kept), kept);
}

/// `table` printed and as a tool's result in stream-json, each `@@` a secret of its own
/// (numbered from `first`), whole and in chunks of `cut` bytes: no secret goes out, and each of
/// `kept` stays.
fn table_rows_redacted(table: &str, first: usize, cut: usize, kept: &[&str]) {
    let each = |i: usize| format!("Zq8wLmN3pX{i:02}vR");
    for (n, form) in [table.to_string(), tool_result(table) + "\n"]
        .iter()
        .enumerate()
    {
        let mut text = form.clone();
        let mut secrets = Vec::new();
        while let Some(at) = text.find("@@") {
            let s = each(secrets.len() + 10 * n + first);
            text.replace_range(at..at + 2, &s);
            secrets.push(s);
        }
        for cut in [text.len(), cut] {
            let (out, _) = red_in_chunks(&text, cut);
            for s in &secrets {
                assert!(!out.contains(s.as_str()), "{s} in chunks of {cut}:\n{out}");
            }
            assert!(kept.iter().all(|k| out.contains(k)), "{out}");
        }
    }
}

/// psql's result table (`psql -c "SELECT …"`): a secret's column redacted in every row, as
/// MySQL's above.
#[test]
fn a_psql_result_tables_secret_column_is_redacted_in_every_row() {
    // psql's aligned output as it prints it: a centred header with a blank at each end, a
    // delimiter of the same width with `+` under each `|`, no rule at a row's ends; the secret's
    // column last, first, or alone, and a two-word name.
    let tables = [
        " id | username |     password     \n----+----------+------------------\n  1 | admin    | @@\n 22 | app      | @@\n(2 rows)\n\n",
        "     password     | username \n------------------+----------\n @@ | admin\n @@ | app\n(2 rows)\n\n",
        "     password     \n------------------\n @@\n @@\n(2 rows)\n\n",
        "     API Key      | x \n------------------+---\n @@ | a\n(1 row)\n\n",
    ];
    for (t, table) in tables.iter().enumerate() {
        table_rows_redacted(table, 20 * t, 7, &[" row"]);
    }
    // A column that names no secret; a header whose bars are not over the delimiter's `+`; a
    // Markdown heading underlined; a shell pipe over a rule (no blank after it).
    for kept in [
        " id | password_changed_at \n----+---------------------\n  1 | 2024-05-01\n",
        " id | password \n------+--------\n  1 | Zq8wLmN3pX99vR\n",
        "Password\n--------\nZq8wLmN3pX99vR\n",
        " cat creds | grep password\n--------------------------\n Zq8wLmN3pX99vR\n",
    ] {
        assert_eq!(red(kept), kept);
    }
}

/// A long value given to a secret's name that holds none of the keyword pass's literals:
/// Bitwarden's `bw unlock` prints the vault's session key as an `export` to copy, LDAP's
/// `BIND_PW`, a Wi-Fi network's hex `psk`, a lower-case `_pw`. Each went out whole, and so did
/// its bare repeat.
#[test]
fn a_long_value_after_a_secret_name_with_no_keyword_in_it_is_redacted() {
    let key = "5PBYGU+5yt3RHcCjoeJKx/wByU34vokGRZjXpSH7Ylo8w==";
    let unlock = format!(
        "Your vault is now unlocked!\n\nTo unlock your vault, set your session key to the \
         `BW_SESSION` environment variable. ex:\n$ export BW_SESSION=\"{key}\"\n> \
         $env:BW_SESSION=\"{key}\"\n\nbw list items --session {key}\n"
    );
    for cut in [unlock.len(), 9] {
        let (out, _) = red_in_chunks(&unlock, cut);
        for piece in key.split(['+', '/']) {
            assert!(!out.contains(piece), "{piece} in chunks of {cut}:\n{out}");
        }
        assert!(out.contains("`BW_SESSION` environment variable."), "{out}");
    }
    // The same output as Claude's tool result, in a stream-json line of 100 KiB.
    let filler = "compiling crate_name v0.1.0 (/home/user/project/crate_name)\n".repeat(1700);
    let line = format!("{}\n", tool_result(&format!("{filler}{unlock}")));
    assert!(line.len() > 100 * 1024);
    for cut in [line.len(), 4096] {
        let (out, _) = red_in_chunks(&line, cut);
        for piece in key.split(['+', '/']) {
            assert!(
                !out.contains(piece),
                "{piece} in a long line in chunks of {cut}"
            );
        }
    }
    for (line, value) in [
        ("LDAP_BIND_PW=Zq8wLmN3pX99vR4t7Kc2", "Zq8wLmN3pX99vR4t7Kc2"),
        ("  db_pw: \"k29Xq8wLmN3pX99vR4t7\"", "k29Xq8wLmN3pX99vR4t7"),
        (
            "    psk=6f0c3ad54e2b91a7d8c3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7",
            "6f0c3ad54e2b91a7d8c3e5f7a9b1c3d5",
        ),
        (
            "{\"rootpw\": \"W6ph5Mm5Pz8GgiULbPgzG37\"}",
            "W6ph5Mm5Pz8GgiULbPgzG37",
        ),
        ("  dbPw: \"k29Xq8wLmN3pX99vR4t7\"", "k29Xq8wLmN3pX99vR4t7"),
        ("adminPw=k29Xq8wLmN3pX99vR4t7", "k29Xq8wLmN3pX99vR4t7"),
    ] {
        let out = red(&format!("{line}\n"));
        assert!(!out.contains(value), "{line:?} -> {out:?}");
    }
    // Names of other things with a long value: an id, a hash, a path, a session's id.
    each_kept(&[
        "{\"session_id\": \"8f3c2a1b-4d5e-6f7a-8b9c-0d1e2f3a4b5c\"}\n",
        "BW_SESSION_TIMEOUT=86400000000000000000\n",
        "commit_sha=9fceb02d0ae598e95dc970b74767f19372d61af8\n",
        "pw_hash_algorithm=\"pbkdf2_sha256_iterations_600000\"\n",
        "$DB_PW = Get-Content \"C:\\secrets\\dbpw.txt\"\n",
    ]);
}

/// What manual pages and sample files put where a secret's name takes a value, each redacted
/// before: curl's `--mail-auth` takes an address, blkid's `--match-token` a filter's term,
/// mysqladmin's manual writes `new-password`, Maven's sample settings describe the element.
/// Values that only start the same way are still redacted.
#[test]
fn an_address_a_filter_and_a_samples_description_are_no_secrets() {
    each_kept(&[
        "curl --mail-auth user@example.com smtp://mail.example.com\n",
        "curl --mail-auth=user@example.com --mail-from a@example.com smtp://mail.example.com\n",
        "SMTP_AUTH=alice@mail.example.org\n",
        "blkid --match-token LABEL=root\n",
        "blkid --match-token TYPE=ext4 /dev/sda1\n",
        "shell> mysqladmin -u root -p password new-password\n",
        "      <passphrase>optional; leave empty if not used.</passphrase>\n",
    ]);
    for (line, value) in [
        (
            "curl --mail-auth Zq8wLmN3pX99vR smtp://x\n",
            "Zq8wLmN3pX99vR",
        ),
        (
            "SMTP_AUTH=alice@example.com:Zq8wLmN3pX99vR\n",
            "Zq8wLmN3pX99vR",
        ),
        ("gh auth --token Zq8wLmN3pX99vRt7\n", "Zq8wLmN3pX99vRt7"),
        ("mysqladmin -u root password new-Zq8wLmN3\n", "new-Zq8wLmN3"),
        (
            "<passphrase>optional;Zq8wLmN3pX99vR</passphrase>\n",
            "Zq8wLmN3pX99vR",
        ),
    ] {
        let out = red(line);
        assert!(!out.contains(value), "{line:?} -> {out:?}");
    }
}

/// A wallet's seed phrase, as a web3 project's `.env`, its code and its configuration give it:
/// the words are the wallet's keys, and no run or keyword found them. Code that reads the
/// phrase from elsewhere and prose about it stay intact.
#[test]
fn a_wallets_mnemonic_is_redacted_in_every_casing() {
    let words =
        "abandon ability able about above absent absorb abstract absurd abuse access accident";
    for line in [
        format!("MNEMONIC=\"{words}\""),
        format!("export WALLET_MNEMONIC={words}"),
        format!("const mnemonic = \"{words}\";"),
        format!("  \"mnemonic\": \"{words}\","),
        format!("Mnemonic: {words}"),
    ] {
        for cut in [line.len() + 1, 5] {
            let (out, _) = red_in_chunks(&format!("{line}\n{words}\n"), cut);
            assert!(
                !out.contains("absurd"),
                "{line:?} in chunks of {cut} -> {out:?}"
            );
        }
    }
    each_kept(&[
        "    mnemonic: process.env.MNEMONIC,\n",
        "const mnemonic = ethers.Wallet.createRandom().mnemonic.phrase;\n",
        "The mnemonic is stored in your keychain.\n",
        "    (mnemonic: Bracelets can be viewed Backwards, but Not Necklaces.)\n",
        "            Lists foreign servers (mnemonic: “external servers”). If pattern is\n",
        "DEMONIC_MODE=true\n",
    ]);
}

/// A value learned from its context and printed again further on the same line went out the
/// second time: the learned values were looked for from the next line on, and Claude's tool
/// result is one stream-json line however many lines the tool printed.
#[test]
fn a_bare_repeat_on_the_line_that_taught_it_is_redacted() {
    let secret = "Zq8wLmN3pX99vR";
    let printed = format!("DB_PASSWORD={secret}\nconnecting as app with {secret}\n");
    let filler = "test tests::parse::case ... ok\n".repeat(3000);
    let result = |text: String| format!("{}\n", tool_result(&text));
    for line in [
        format!("password={secret} later {secret}\n"),
        result(printed.clone()),
        // The repeat 90 KiB after the assignment, past the hold-back's release point.
        result(format!(
            "DB_PASSWORD={secret}\n{filler}connecting with {secret}\n"
        )),
        result(format!("{filler}{printed}")),
    ] {
        for cut in [line.len(), 7, 4096] {
            let (out, counts) = red_in_chunks(&line, cut);
            assert!(
                !out.contains(secret),
                "{secret} in a line of {} in chunks of {cut}",
                line.len()
            );
            assert!(counts.contains_key("learned_value"), "{counts:?}");
        }
    }
    // A field that does not apply is no value, so nothing is learned from it for the rest of
    // the line (moto's tests: `resourceArn="not applicable", secretArn="not applicable"`).
    each_kept(&[
        "execute_statement(resourceArn=\"not applicable\", secretArn=\"not applicable\")\n",
        "password: n/a (key only) and n/a for the token\n",
    ]);
}

/// OpenLDAP's and nslcd's configuration, as `cat` prints it: `rootpw` and `bindpw` alone on
/// their lines, the value after blanks or a tab, a hash after its scheme. Each went out whole;
/// a commented line, a short value and other directives stay as they are (a short value still
/// needs a keyword literal to be found).
#[test]
fn slapd_and_nslcd_directives_with_a_long_value_are_redacted() {
    for (line, value) in [
        (
            "rootpw          {SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g5gK0\n",
            "W6ph5Mm5Pz8GgiULbPgzG37mj9g5gK0",
        ),
        (
            "rootpw\t{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g5gK0\n",
            "W6ph5Mm5Pz8GgiULbPgzG37mj9g5gK0",
        ),
        (
            "bindpw Xk93jdKq2ZZpXk93jdKq2ZZp\n",
            "Xk93jdKq2ZZpXk93jdKq2ZZp",
        ),
    ] {
        let text = format!("database mdb\nsuffix \"dc=example,dc=com\"\n{line}");
        for cut in [text.len(), 5] {
            let (out, _) = red_in_chunks(&text, cut);
            assert!(
                !out.contains(value),
                "{line:?} in chunks of {cut} -> {out:?}"
            );
            assert!(out.contains("suffix \"dc=example,dc=com\""), "{out}");
        }
    }
    each_kept(&[
        "# rootpw {SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g5gK0\n",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\n",
        "rootdn \"cn=Manager,dc=example,dc=com\"\n",
    ]);
}

/// A value `printf` or `echo -e` pipes in with an escaped line break after it (`printf
/// '@@\n' | docker login --password-stdin`, `printf '%s\n' @@ | …`): the line's view reads the
/// `\n` as a line break, which cut the `printf` off from the value and the command it feeds.
/// Each went out whole.
#[test]
fn a_value_piped_in_with_an_escaped_line_break_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "printf '@@\\n' | docker login -u deploy --password-stdin",
            "printf \"@@\\n\" | docker login -u deploy --password-stdin",
            "printf '%s\\n' @@ | docker login -u deploy --password-stdin",
            "printf '%s\\n' '@@' | gh auth login --with-token",
            "echo -e \"@@\\n\" | docker login -u deploy --password-stdin",
            "printf '@@\\n' | sudo passwd --stdin deploy",
        ],
        &['"'],
        |c| format!("$ {c}\nLogin Succeeded"),
    ));
    // What the printf prints but no secret's reader takes, and a variable, stay as they are.
    each_kept(&[
        "printf '%s\\n' \"$TOKEN\" | docker login -u deploy --password-stdin",
        "printf 'line one\\nline two\\n' | sort | uniq -c",
        "printf '%s\\n' build test | xargs -n1 make",
    ]);
}

/// `ssh-keygen -p -P '' -N NEW`: adding a passphrase to a key that had none. The empty old one
/// ended the look, and the new one went out.
#[test]
fn a_new_passphrase_after_an_empty_old_one_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "ssh-keygen -p -P '' -N @@ -f ~/.ssh/id_ed25519",
            "ssh-keygen -p -P \"\" -N \"@@\" -f key",
            "ssh-keygen -p -f key -P '' -N '@@'",
            "ssh-keygen -p -f key -N '' -P @@",
        ],
        &['"'],
        |c| format!("$ {c}\nYour identification has been saved with the new passphrase."),
    ));
    each_kept(&["ssh-keygen -p -P '' -N '' -f key"]);
}

/// A key named only `key` in JSON, inside an object whose name says what kind of key it is
/// (`{"api": {"key": …}}`, `"encryption": {"key": …}`), as `"Jwt": {"Key": …}` already was: a
/// long value went out whole. An object named for something else keeps its `key`.
#[test]
fn a_lower_case_key_in_an_object_named_for_its_kind_is_redacted() {
    let value = "a8Fk29sLq0ZxY3kd93JdkQ";
    for line in [
        r#"{"api": {"key": "@@"}}"#,
        r#"{"service": {"name": "billing", "key": "@@"}}"#,
        r#"  "auth": { "key": "@@" },"#,
        r#"{"license":{"key":"@@"}}"#,
        r#"{"encryption": {"key": "@@", "cipher": "aes-256-gcm"}}"#,
    ] {
        let line = line.replace("@@", value);
        for text in [line.clone(), tool_result(&format!("{line}\n"))] {
            let out = red(&text);
            assert!(!out.contains(value), "{text}\n   -> {out}");
        }
    }
    each_kept(&[
        r#"{"cache": {"key": "a8Fk29sLq0ZxY3kd93JdkQ"}}"#,
        r#"{"sort": {"key": "created_at_desc_then_name"}}"#,
        r#"{"s3": {"bucket": "assets", "key": "uploads/2024/05/report-final.pdf"}}"#,
        r#"{"items": [{"key": "a8Fk29sLq0ZxY3kd93JdkQ", "label": "first"}]}"#,
    ]);
}

/// A secret piped into a reader that takes it on standard input by a flag or an argument of its
/// own: `vault login -`, OpenSSL's `-pass stdin` (`-passin`, `-passout`) and `openssl passwd
/// -stdin`. Each went out whole.
#[test]
fn a_secret_piped_into_vault_login_or_openssl_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "echo @@ | vault login -",
            "echo -n '@@' | vault login -method=token -",
            "echo @@ | openssl enc -aes-256-cbc -pbkdf2 -pass stdin -in notes.txt -out notes.enc",
            "printf '%s' @@ | openssl pkcs12 -export -passout stdin -in c.pem -out c.p12",
            "echo '@@' | openssl rsa -in key.pem -passin stdin -out plain.pem",
            "echo '@@' | openssl passwd -6 -stdin",
        ],
        &['"'],
        |c| format!("$ {c}\ndone"),
    ));
    each_kept(&[
        "echo $VAULT_TOKEN | vault login -",
        "cat token.txt | vault login -",
        "echo hello | openssl enc -base64",
        "echo -n 'release-1.4.2' | openssl dgst -sha256",
        "openssl enc -aes-256-cbc -pass stdin -in notes.txt < pass.txt",
    ]);
}

/// The same `key` in YAML, as Claude reads a configuration file (its Read tool's lines in one
/// stream-json line): the mapping above it, indented less, names what kind of key it is.
#[test]
fn a_key_in_a_yaml_mapping_named_for_its_kind_is_redacted() {
    let value = "a8Fk29sLq0ZxY3kd93JdkQ";
    for text in [
        "api:\n  key: @@\n",
        "encryption:\n  cipher: aes-256-gcm\n  key: \"@@\"\n",
        "services:\n  billing:\n    url: https://billing.internal\n  auth:\n    key: '@@'\n",
    ] {
        let text = text.replace("@@", value);
        for line in [tool_result(&text), tool_result(&read_view(&text, 1))] {
            let out = red(&line);
            assert!(!out.contains(value), "{line}\n   -> {out}");
        }
    }
    for text in [
        "cache:\n  key: a8Fk29sLq0ZxY3kd93JdkQ\n",
        "api:\n  version: 2\nsort:\n  key: created_at_desc_then_name_asc\n",
        "Press the key: a8Fk29sLq0ZxY3kd93JdkQ\n",
    ] {
        let line = tool_result(&read_view(text, 1));
        assert_eq!(red(&line), line);
    }
    // A line above indented more and longer than the look back (400 bytes): the mapping's
    // name is out of reach, and the value stays.
    let text = format!(
        "    {}\n  key: a8Fk29sLq0ZxY3kd93JdkQ\n",
        "word ".repeat(120)
    );
    for line in [tool_result(&text), tool_result(&read_view(&text, 1))] {
        assert_eq!(red(&line), line);
    }
}

/// SQL that inserts a password by its column's place: `INSERT INTO users (email, password)
/// VALUES ('…', '@@')`, as seed files and migrations Claude writes do. The value went out
/// whole; the other columns, a hash function's call and a parameter stay.
#[test]
fn a_password_inserted_by_its_column_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "INSERT INTO users (email, password) VALUES ('ops@example.com', '@@');",
            "insert into accounts (id, name, api_token, created_at) values (1, 'ci', '@@', now());",
            "INSERT INTO users(username,passwd,role) VALUES('admin','@@','admin')",
            "INSERT INTO creds (note, secret) VALUES ('it''s, (here)', '@@');",
            "INSERT INTO users (email, password) VALUES (lower('A@B.C'), '@@');",
        ],
        &['"'],
        |c| format!("$ psql -c \"{c}\"\nINSERT 0 1"),
    ));
    each_kept(&[
        "INSERT INTO users (email, password) VALUES ('ops@example.com', crypt('x', gen_salt('bf')));",
        "INSERT INTO users (email, password) VALUES ($1, $2)",
        "INSERT INTO users (email, password) VALUES (?, ?)",
        "INSERT INTO users (email, password) SELECT email, password FROM old_users;",
        "INSERT INTO settings (name, value) VALUES ('password_min_length', '12');",
    ]);
}

/// A password given as a literal to the call that hashes or checks it, as seed scripts and
/// tests Claude writes do: Werkzeug's `generate_password_hash`, Django's `make_password` and
/// `check_password`, PHP's `password_hash` and `password_verify`, Go's
/// `bcrypt.GenerateFromPassword([]byte("…"), …)`. The literal went out whole; a variable, the
/// functions' names in prose and their definitions stay.
#[test]
fn a_password_literal_given_to_a_hashing_call_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "hashed = generate_password_hash('@@')",
            "user = User(email='ops@example.com', password=make_password('@@'))",
            "assert user.check_password('@@')",
            "$hash = password_hash('@@', PASSWORD_DEFAULT);",
            "if (password_verify('@@', $row['hash'])) {",
            "hash, _ := bcrypt.GenerateFromPassword([]byte(\"@@\"), bcrypt.DefaultCost)",
            "pw = generate_password_hash(b'@@', method='scrypt')",
        ],
        &['"'],
        |c| format!("     1→{c}\n"),
    ));
    each_kept(&[
        "hashed = generate_password_hash(form.password.data)",
        "user.password = make_password(password)",
        "$hash = password_hash($_POST['password'], PASSWORD_DEFAULT);",
        "def check_password(self, raw_password):",
        "Use generate_password_hash() to store passwords, never the plain text.",
        "hash, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)",
    ]);
}

/// A summary's user and password in bold (`Login: **admin** / **…**`), and after a sentence's
/// `Log in with` with no link before it (`Log in with **admin** / **…**.`). Both went out
/// whole: only code spans and plain words were read as the pair's parts, and only a label or a
/// link led to one. Choices in bold and a sentence that goes on stay.
#[test]
fn a_user_and_a_password_in_bold_or_after_log_in_with_are_redacted() {
    each_redacted(&[
        "Login: **admin** / **@@**",
        "- **Login**: **admin** / **@@**",
        "Log in with **admin** / **@@**.",
        "Log in with admin / @@",
        "You can now log in with `admin` / `@@`.",
        "- Sign in with admin@example.com / @@",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done. Log in with **admin** / **@@**.\n"}]}}"#,
    ]);
    each_kept(&[
        "Login: **Google** / **GitHub**",
        "Log in with Google / GitHub",
        "Log in with email / password",
        "Log in with **email** / **password** or a passkey",
        "log in with sso / saml instead of a password",
    ]);
}

/// A value in Markdown's bold after its name, as Claude's summaries give one: `Admin password:
/// **…**`, `The password is **…**.` Both went out whole (a code span was read there, bold was
/// not). Bold words that are no value stay.
#[test]
fn a_value_in_bold_after_its_name_is_redacted() {
    each_redacted(&[
        "Admin password: **@@**",
        "- **Root password**: **@@**",
        "The password is **@@**.",
        "The generated API key is **@@**",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done.\n\nAdmin password: **@@**\n"}]}}"#,
        // A table's cell.
        "| Password | **@@** |",
        "| **Admin password** | **@@** |",
    ]);
    each_kept(&[
        "Password: **required**",
        "The password is **not** stored anywhere.",
        "Token: **expired** (run `gh auth refresh`)",
        "The API key is **optional** for local runs.",
    ]);
}

/// A password literal given to a hashing call on the right of its name, as seeders Claude
/// writes do: Laravel's `'password' => Hash::make('…')` and `bcrypt('…')`, Node's `password:
/// await bcrypt.hash("…", 10)` and `bcrypt.hashSync`, `argon2.hash`, Python's
/// `bcrypt.hashpw(b"…", …)`. The literal went out whole (a call is no value); a variable
/// given to the same calls stays.
#[test]
fn a_password_literal_hashed_on_the_right_of_its_name_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "'password' => Hash::make('@@'),",
            "        'password' => bcrypt('@@'),",
            "  password: await bcrypt.hash(\"@@\", 10),",
            "  password: bcrypt.hashSync('@@', 10),",
            "  const passwordHash = await argon2.hash('@@');",
            "password_hash = bcrypt.hashpw(b'@@', bcrypt.gensalt())",
            "$user->password = Hash::make('@@');",
        ],
        &['"'],
        |c| format!("     1→{c}\n"),
    ));
    each_kept(&[
        "'password' => Hash::make($request->password),",
        "  password: await bcrypt.hash(req.body.password, 10),",
        "password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())",
        "  const passwordHash = await argon2.hash(plain);",
    ]);
}

/// A label and its value after a dash, as Claude's summaries write one: `Admin password —
/// `…``, `**Password** – …`. The value went out whole (only `:`, `is` and an arrow led to
/// one). A dash before more words (a description) stays.
#[test]
fn a_value_after_a_dash_in_a_summary_is_redacted() {
    each_redacted(&[
        "- Admin password — `@@`",
        "- **Admin password** — @@",
        "Password — @@",
        "Root password – `@@`",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done.\n\n- Admin password — `@@`\n"}]}}"#,
    ]);
    each_kept(&[
        "- `password` — the user's password, hashed with bcrypt",
        "Password — required",
        "Token — see the section below.",
        "- **API key** — optional for local runs",
        "Password – not set",
    ]);
}

/// A value in Markdown's italics after its name (`Password: *…*`, `The password is *…*.`):
/// it went out whole, as bold did before. Italic words that are no value stay.
#[test]
fn a_value_in_italics_after_its_name_is_redacted() {
    each_redacted(&[
        "Admin password: *@@*",
        "The password is *@@*.",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Admin password: *@@*\n"}]}}"#,
    ]);
    each_kept(&[
        "Password: *required*",
        "The password is *not* stored anywhere.",
        "Password: ********",
        "password: *.example.com",
    ]);
}

/// `INSERT … VALUES (…, '…'), (…, '…')`: every row's value in the password's column, rows on
/// one line or, in a file Claude writes, each on its own line. Only the first row's was read.
#[test]
fn every_rows_password_of_an_insert_is_redacted() {
    for case in [
        "INSERT INTO users (email, password) VALUES ('a@example.com', '@@1'), ('b@example.com', '@@2');",
        "insert into users (email, password) values ('a@example.com','@@1'),('b@example.com','@@2'),('c@example.com','@@3');",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Write","input":{"file_path":"/app/seed.sql","content":"INSERT INTO users (email, password) VALUES\n  ('a@example.com', '@@1'),\n  ('b@example.com', '@@2');\n"}}]}}"#,
    ] {
        let (mut line, mut want) = (case.to_string(), case.to_string());
        for i in 1..=3 {
            let secret = format!("Zq8wLmN3pX{i:02}vR");
            line = line.replace(&format!("@@{i}"), &secret);
            want = want.replace(&format!("@@{i}"), REDACTED);
        }
        assert_eq!(red(&line), want);
    }
    each_kept(&[
        "INSERT INTO users (email, password) VALUES ('a@example.com', crypt('x', gen_salt('bf'))), ('b@example.com', $2);",
        "INSERT INTO users (email, password) VALUES ($1, $2), ($3, $4)",
    ]);
}

/// A password piped into `passwd`: `yes '…' | passwd bob`, `echo -e "…\n…" | passwd bob`,
/// `printf '…\n…\n' | passwd bob`. Each went out whole (`chpasswd`'s `user:…` was read).
#[test]
fn a_password_piped_into_passwd_is_redacted() {
    each_redacted(&["yes '@@' | passwd bob", "yes @@ | sudo passwd bob"]);
    // The password and its confirmation, an escaped line break between: both go.
    for line in [
        "printf 'Zq8wLmN3pX01vR\\nZq8wLmN3pX01vR\\n' | passwd bob",
        "echo -e \"Zq8wLmN3pX01vR\\nZq8wLmN3pX01vR\" | passwd bob",
        "echo -e \"OldPw8wLmN3pX\\nZq8wLmN3pX01vR\\nZq8wLmN3pX01vR\" | passwd",
    ] {
        let out = red(line);
        assert!(
            !out.contains("Zq8wLmN3pX01vR") && !out.contains("OldPw8"),
            "{line}\n -> {out}"
        );
        assert!(
            out.ends_with("| passwd bob") || out.ends_with("| passwd"),
            "{out}"
        );
    }
    each_kept(&[
        "yes | passwd -d bob",
        "echo 'changing the password now' ; passwd bob",
        "echo $NEW_PASSWORD | passwd --stdin bob",
    ]);
}

/// A password typed into a login form by a browser test, as the end-to-end tests Claude writes
/// do: Playwright's `page.fill('#password', '…')` and `getByLabel('Password').fill('…')`,
/// Cypress' `cy.get('#password').type('…')`, Selenium's `find_element(By.ID,
/// "password").send_keys("…")`, Testing Library's `userEvent.type(screen.getByLabelText(/password/i),
/// '…')` and `fireEvent.change(passwordInput, { target: { value: '…' } })`, Capybara's
/// `fill_in 'Password', with: '…'`. Each went out whole. A variable, an environment lookup,
/// an empty string and an assertion on the field stay.
#[test]
fn a_password_a_browser_test_types_into_its_field_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "await page.fill('#password', '@@');",
            "await page.fill('input[name=\"password\"]', '@@')",
            "await page.type('#password', '@@', { delay: 50 })",
            "page.fill(\"#password\", \"@@\")",
            "cy.get('#password').type('@@')",
            "cy.get('[data-cy=password]').clear().type('@@')",
            "cy.get('input[type=password]').type('@@', { log: false })",
            "driver.find_element(By.ID, \"password\").send_keys(\"@@\")",
            "driver.findElement(By.name(\"password\")).sendKeys(\"@@\");",
            "await page.getByLabel('Password').fill('@@');",
            "await page.getByPlaceholder('Password').fill('@@')",
            "await page.locator('#pass').fill('@@');",
            "await page.locator('input[name=\"password\"]').pressSequentially('@@')",
            "page.get_by_label(\"Password\").fill(\"@@\")",
            "await userEvent.type(screen.getByLabelText(/password/i), '@@')",
            "await user.type(screen.getByLabelText('Password'), '@@')",
            "await userEvent.type(passwordInput, '@@')",
            "fireEvent.change(passwordInput, { target: { value: '@@' } })",
            "fireEvent.change(screen.getByLabelText(/password/i), { target: { value: '@@' } })",
            "await $('#password').setValue('@@')",
            "fill_in 'Password', with: '@@'",
            "fill_in \"user[password]\", with: \"@@\"",
        ],
        &['"'],
        |c| format!("     1→{c}\n"),
    ));
    each_kept(&[
        "await page.fill('#password', password);",
        "await page.fill('#password', process.env.TEST_PASSWORD!);",
        "cy.get('#password').type(Cypress.env('password'))",
        "await page.getByLabel('Password').fill(user.password);",
        "await expect(page.getByLabel('Password')).toHaveValue('')",
        "await page.getByLabel('Password').fill('');",
        "cy.get('#password').should('have.value', '')",
        "fill_in 'Password', with: user.password",
        "await userEvent.type(passwordInput, password)",
        "await page.fill('#password', `${password}`)",
    ]);
}

/// A label with a remark in brackets before its colon, as a tool prints a secret it shows
/// once (`API Key (save this, it won't be shown again): …`, `Token (expires in 1h): …`): the
/// value went out whole. A parameter's documentation (`api_key (str): The key …`) stays.
#[test]
fn a_value_after_a_remark_in_brackets_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "API Key (save this, it won't be shown again): @@",
            "Password (keep it safe): @@",
            "Token (expires in 1h): @@",
            "Your API key (copy it now): @@",
        ],
        &['"'],
        |c| format!("{c}\n"),
    ));
    each_kept(&[
        "    api_key (str): The key for the service.",
        "    password (str, optional): Defaults to None.",
        "Token (optional): see below",
        "password (see the docs): required",
        "API key (in the dashboard): Settings > API",
    ]);
}

/// Django's superuser made in code, its password by its place: `User.objects.create_superuser('admin',
/// 'admin@example.com', '…')`, as Docker entrypoints and seed scripts pipe it into `manage.py
/// shell`. No name marked the line, and the password went out whole. A variable or a lookup
/// stays.
#[test]
fn a_django_superusers_password_by_its_place_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "User.objects.create_superuser('admin', 'admin@example.com', '@@')",
            "echo \"from django.contrib.auth import get_user_model; get_user_model().objects.create_superuser('admin', 'admin@example.com', '@@')\" | python manage.py shell",
            "get_user_model().objects.create_superuser(\"admin\", \"a@example.com\", \"@@\")",
        ],
        &['"'],
        |c| format!("     1→{c}\n"),
    ));
    each_kept(&[
        "User.objects.create_superuser('admin', 'admin@example.com', os.environ['ADMIN_PW'])",
        "User.objects.create_superuser(username, email, pw)",
        "def create_superuser(self, username, email=None, **extra_fields):",
    ]);
}

/// A cell that ends in a slash (` AKIAQWERTYUIOP234567 / `, read as a psql header whose second
/// cell is `/`; `| Service | User / |`): the reader of a `Username / Password` header took the
/// name after the slash past the cell's end, and the redactor panicked (found by
/// `redact_props`' planted secrets).
#[test]
fn a_header_cell_that_ends_in_a_slash_is_read_without_a_panic() {
    assert_eq!(red(" AKIAQWERTYUIOP234567 / "), format!(" {REDACTED} / "));
    for line in [
        "| Service | User / |\n|---|---|\n| db | admin |\n",
        " name | / \n------+---\n x | y \n",
    ] {
        assert_eq!(red(line), line);
    }
}

/// A password a test's factory or seed gives in Ruby's block (FactoryBot's `password {
/// "…" }`) or hashed by a bare imported call (`password: await hash('…', 12)`, `hashSync('…',
/// 10)`, bcryptjs' named imports): each went out whole. A block that computes it stays.
#[test]
fn a_password_in_a_factorys_block_or_a_bare_hash_call_is_redacted() {
    each_redacted(&with_stream_json(
        &[
            "    password { \"@@\" }",
            "    password_confirmation { '@@' }",
            "  password: await hash('@@', 12),",
            "  password: hashSync('@@', 10),",
        ],
        &['"'],
        |c| format!("     1→{c}\n"),
    ));
    each_kept(&[
        "    password { Faker::Internet.password }",
        "    password { SecureRandom.hex(8) }",
        "  password: await hash(plain, 12),",
        "    password { }",
    ]);
}

/// French's label for a password in a summary Claude writes in French, `Mot de passe : …`
/// (a blank before the colon, as French sets it): the name was read as `passe`, no secret's.
/// German's `Passwort: …` was already found. Prose that says what happens (`se passe`) stays.
#[test]
fn a_french_password_label_is_redacted() {
    each_redacted(&[
        "Mot de passe : @@",
        "- Mot de passe : `@@`",
        "- **Mot de passe** : `@@`",
        "mot de passe: @@",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Compte créé.\n\n- Mot de passe : `@@`\n"}]}}"#,
    ]);
    each_kept(&[
        "Que se passe-t-il ensuite ?",
        "Voici ce qui se passe : le serveur redémarre.",
        "Le mot de passe doit contenir 12 caractères.",
    ]);
}

/// A `key` member of an object named for a secret itself (`{"apiKey": {"key": "…"}}`,
/// `"api_key": {"key": "…", "created": …}`), as an API that creates a key answers: the value
/// went out whole (only qualifiers, `api`, `jwt`, named such an object). A reference to a
/// secret by its key (`"secretKeyRef": {"name": "db", "key": "password"}`) stays.
#[test]
fn a_key_member_of_an_object_named_for_a_secret_is_redacted() {
    each_redacted(&[
        r#"{"apiKey":{"key":"@@"}}"#,
        r#"{"api_key": {"id": "k_1", "key": "@@", "created": 1700000000}}"#,
        r#"{"encryption_key": {"key": "@@"}}"#,
    ]);
    each_kept(&[
        r#"{"secretKeyRef": {"name": "db", "key": "password"}}"#,
        r#"{"valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "DB_PASSWORD"}}}"#,
        r#"{"api_key": {"type": "apiKey", "name": "api_key", "in": "header"}}"#,
    ]);
}

/// A password given with no colon at the end of a line, after a comma or a word that says
/// whose or what kind it is (`Admin user: admin@example.com, password …`, `Temporary password
/// …`, `Generated password …`): it went out whole. More words after it, or a plain word, stay.
#[test]
fn a_password_ending_its_line_after_a_comma_or_its_kind_is_redacted() {
    each_redacted(&[
        "Admin user: admin@example.com, password @@",
        "Created admin@example.com, password @@.",
        "Temporary password @@",
        "Generated password @@",
        "Initial password @@",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Admin user: admin@example.com, password @@\n"}]}}"#,
    ]);
    each_kept(&[
        "Temporary password expired, ask for a new one",
        "Login disabled, password reset",
        "Generated password",
        "Set a new password and confirm it.",
        "Initial password policy",
        "Generated password hashes",
        "flags. If linking with the clang driver, pass -fprofile-instr-generate",
    ]);
}

/// Basic credentials encoded where the header is given: `curl -H "Authorization: Basic
/// $(echo -n 'admin:…' | base64)"`, as Claude calls a local API: the password went out whole
/// (the substitution was read as the credentials, and judged none). A variable encoded so stays.
#[test]
fn basic_credentials_encoded_in_a_command_substitution_are_redacted() {
    each_redacted(&with_stream_json(
        &[
            "curl -H \"Authorization: Basic $(echo -n 'admin:@@' | base64)\" http://localhost:8080/api",
            "curl -H \"Authorization: Basic $(printf '%s' 'elastic:@@' | base64 -w0)\" https://localhost:9200",
            "curl -H 'Authorization: Basic '\"$(echo -n \"admin:@@\" | base64)\" http://x",
        ],
        &['"'],
        |c| format!("$ {c}\n"),
    ));
    each_kept(&[
        "curl -H \"Authorization: Basic $(echo -n \"$USER:$PASS\" | base64)\" http://localhost:8080/api",
        "curl -H \"Authorization: Basic $(echo -n admin:$PASSWORD | base64)\" http://x",
    ]);
}

/// A value that holds digits or turns case every letter or two, after a name's colon and
/// before an `=` (`api_key: QwErTy123456UiOp = …`, a setting's line with more after it): it
/// was taken for an annotation's type (`api_key: SecretStr = …`) and went out whole. Found by
/// `redact_props` with a random seed (the `=` began the text after the plant). Types with
/// digits or capitals in a row stay types.
#[test]
fn a_value_before_an_equals_sign_is_no_type_unless_it_reads_as_one() {
    each_redacted_with(&[
        (
            "api_key: QwErTy123456UiOp = oa91q2785cfwk",
            "QwErTy123456UiOp",
        ),
        (
            " a\x1b[31mpi_key: QwErTy123456UiOp\x1b[0m = oa91q2785cfwk",
            "QwErTy123456UiOp",
        ),
        ("password: Zq8wLmN3pX00vR = old", "Zq8wLmN3pX00vR"),
        ("token: aZ3kP9qLm2XvB7tR = expired", "aZ3kP9qLm2XvB7tR"),
    ]);
    each_kept(&[
        "api_key: str = os.environ['API_KEY']",
        "public_key: Ed25519PublicKey = load_key(path)",
        "signing_key: X509Certificate = cert",
        "token: OAuth2Token = fetch_token()",
        "address: IPv4Address = parse(host)",
        "pub const SIGNING_KEY_ERROR: WIN32_ERROR = 9104u32;",
        "secret_key: Sha256Hash = digest",
        "auth: HTTPBasicAuth = None",
        "key: KeyType = KeyType.RSA",
    ]);
}

/// Each of `texts` goes out as it came, alone and as a tool's output in stream-json.
fn kept_raw_and_in_a_tool_result(texts: &[&str]) {
    for kept in texts {
        assert_eq!(red(kept), *kept);
        assert_eq!(red(&tool_result(kept)), tool_result(kept));
    }
}

/// Each of `texts` redacted whole and in chunks of `chunk` bytes and of one byte, with fresh
/// rules each time (a value learned from one text is not carried to the next): `secret`
/// replaced, nothing else changed.
fn redacted_in_any_chunks(texts: &[&String], secret: &str, chunk: usize) {
    for text in texts {
        let bytes = text.as_bytes();
        for chunk in [bytes.len(), chunk, 1] {
            let rules = rules_with(&[]);
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            let (out, _) = run(&rules, &chunks);
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, text.replace(secret, REDACTED), "chunks of {chunk}");
        }
    }
}

/// Terraform's `terraform output -json`: each output an object named for it, pretty-printed,
/// its `"value"` after `"sensitive"` and `"type"` (`{"db_password": {"sensitive": true, "type":
/// "string", "value": "…"}}`). On one line the object's name was read; pretty-printed, as
/// Terraform writes it, in a command's output or a file, the value went out whole. Outputs
/// with other names, and an object that names a secret but whose member is a schema's, keep
/// their values.
#[test]
fn a_terraform_outputs_value_under_its_secret_name_is_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let pretty = format!(
        "{{\n  \"db_password\": {{\n    \"sensitive\": true,\n    \"type\": \"string\",\n    \"value\": \"{secret}\"\n  }},\n  \"region\": {{\n    \"sensitive\": false,\n    \"type\": \"string\",\n    \"value\": \"eu-west-1\"\n  }}\n}}\n"
    );
    let bare = format!("{{\n  \"api_key\": {{\n    \"value\": \"{secret}\"\n  }}\n}}\n");
    redacted_in_any_chunks(&[&pretty, &bare, &tool_result(&pretty)], secret, 7);
    kept_raw_and_in_a_tool_result(&[
        "{\n  \"region\": {\n    \"sensitive\": false,\n    \"type\": \"string\",\n    \"value\": \"eu-west-1\"\n  }\n}\n",
        "{\n  \"password\": {\n    \"type\": \"string\",\n    \"format\": \"password\",\n    \"minLength\": 12\n  }\n}\n",
        "\"api_key\": {\n  \"description\": \"The key\",\n  \"value\": \"see below\"\n}\n",
    ]);
}

/// Lines read as the value of a name on a line before them (a table's rows under a secret's
/// column, a Terraform variable's attributes before its `default`) went out with that value
/// redacted and nothing else looked at: a GitHub token in another column or in the variable's
/// `description` went out whole. Found by trying
/// `psql`'s table of users with a `password_hash` column. Each such line is now scanned as
/// any line is, the value's span added.
#[test]
fn every_line_read_for_a_names_value_is_scanned_itself() {
    let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let texts = [
        format!(
            " id | username | password_hash \n----+----------+---------------\n  1 | {token} | x\n"
        ),
        format!(
            " id | username | password_hash \n----+----------+---------------\n  1 | admin    | x\n  2 | {token} | y\n"
        ),
        format!(
            "variable \"db_password\" {{\n  description = \"{token}\"\n  type = string\n  default = \"Zq8wLmN3pX00vR\"\n}}\n"
        ),
        format!(
            "| Service | Password | Token |\n|---|---|---|\n| api | Zq8wLmN3pX00vR | {token} |\n"
        ),
        format!("| Service | Password | Note |\n|---|---|---|\n| api | none | {token} |\n"),
    ];
    for text in &texts {
        let bytes = text.as_bytes();
        for chunk in [bytes.len(), 7, 1] {
            let rules = rules_with(&[]);
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            let (out, _) = run(&rules, &chunks);
            let out = String::from_utf8(out).unwrap();
            assert!(
                !out.contains(token) && !out.contains("Zq8wLmN3pX00vR"),
                "chunks of {chunk}: {text}\n   -> {out}"
            );
            assert_eq!(out.lines().count(), text.lines().count(), "{out}");
        }
    }
}

/// A Redis hash's fields and values as `redis-cli HGETALL` prints them (`CONFIG GET` alike):
/// each field alone on its line and its value alone on the next, bare when the output is no
/// terminal (as a tool's is, in Claude's stream-json too), numbered and quoted when it is (`1)
/// "password"`, `2) "…"`). The values went out whole. Another name, a word in lower case or a sentence after the field,
/// and a list of field names (`HKEYS`), stay.
#[test]
fn a_redis_hashs_secret_field_and_its_value_on_the_next_line_are_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let raw = format!("email\nbob@example.com\npassword\n{secret}\nrole\nadmin\n");
    let numbered = format!("1) \"requirepass\"\n2) \"{secret}\"\n");
    let token = format!("1) \"user\"\n2) \"bob\"\n3) \"api_token\"\n4) \"{secret}\"\n");
    let raw_token = format!("user\nbob\napi_token\n{secret}\n");
    redacted_in_any_chunks(
        &[
            &raw,
            &numbered,
            &token,
            &tool_result(&raw),
            &tool_result(&raw_token),
        ],
        secret,
        5,
    );
    kept_raw_and_in_a_tool_result(&[
        "password\ntoken\nemail\n",
        "1) \"password\"\n2) \"token\"\n",
        "password\nrequired\n",
        "Password\nEnter the password for the admin user\n",
        "secret\n\nNext section\n",
        // Code and shell sessions found so in the corpora.
        "        pass\n    else:\n",
        "pwd\n/examples\n",
        "    SSL2_MT_CLIENT_MASTER_KEY\n    SSL2_MT_CLIENT_FINISHED\n",
        "        self.key\n            .k_2\n",
    ]);
}

/// A query's result as the MySQL client prints it when its output is no terminal (`mysql -e
/// "SELECT * FROM users"` run by a tool, `psql -A -F $'\t'`): a header row of names split by
/// tabs, no delimiter row, then the rows. The psql and MySQL tables a terminal shows were
/// read; the password column of this one went out whole, in a command's output and in
/// Claude's stream-json. Other columns, and a tab-separated file whose header names no
/// secret, stay.
#[test]
fn a_tab_separated_results_secret_column_is_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let text = format!("id\tusername\tpassword\n1\tadmin\t{secret}\n2\tbob\t{secret}\n");
    redacted_in_any_chunks(
        &[&text, &tool_result(&text), &tool_result(text.trim_end())],
        secret,
        6,
    );
    kept_raw_and_in_a_tool_result(&[
        "id\tusername\temail\n1\tadmin\tadmin@example.com\n",
        "id\tusername\tpassword\n1\tadmin\tNULL\n",
        "name\tvalue\nregion\teu-west-1\n",
    ]);
}

/// `kubeadm token list` prints each bootstrap token first on its row and its group
/// (`system:bootstrappers:kubeadm:default-node-token`) at the end: the family's rule wanted
/// `kubeadm` before the token (`kubeadm join … --token …`), so the listed tokens, which let
/// a machine join the cluster, went out whole, in a command's output and in stream-json.
#[test]
fn a_listed_bootstrap_token_is_redacted() {
    let token = "7f8d2a.9c3e1b5f0a2d4e6c";
    let text = format!(
        "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION                                                EXTRA GROUPS\n{token}   23h         2026-12-08T20:00:00Z   authentication,signing   The default bootstrap token generated by 'kubeadm init'.   system:bootstrappers:kubeadm:default-node-token\n"
    );
    for text in [&text, &tool_result(&text)] {
        let out = red(text);
        assert_eq!(out, text.replace(token, REDACTED));
    }
}

/// HTTP clients' basic authentication under the other names it goes by (Laravel's
/// `Http::withBasicAuth(USER, "…")`, Spring's `.basicAuth(USER, "…")` and
/// `basicAuthentication(USER, "…")`, RestAssured's `.auth().basic(USER, "…")`, Ruby's
/// `req.basic_auth USER, "…"` without brackets), a Redis client's `.auth("…")` given the
/// password alone (Jedis, node-redis, redis-rb), and Spring Security's plain-text password
/// behind its encoder's id (`.password("{noop}…")`): each went out whole, in code and in a
/// tool's view of a file.
#[test]
fn basic_auth_by_other_names_redis_clients_auth_and_noop_passwords_are_redacted() {
    let code = [
        r#"$response = Http::withBasicAuth('taylor@laravel.com', '@@')->get('http://example.com');"#,
        r#"WebClient.builder().defaultHeaders(h -> h.setBasicAuth("admin", "@@")).build();"#,
        r#"RestClient.builder().requestInterceptor(new BasicAuthenticationInterceptor("admin", "@@"))"#,
        r#"WebClient.builder().filter(ExchangeFilterFunctions.basicAuthentication("admin", "@@"))"#,
        r#"webClient.get().uri(url).headers(h -> h.basicAuth("admin", "@@"))"#,
        r#"given().auth().basic("admin", "@@").when().get("/api")"#,
        r#"given().auth().preemptive().basic("admin", "@@").get("/api");"#,
        "req.basic_auth 'admin', '@@'",
        r#"request.basic_auth "admin", "@@""#,
        r#"jedis.auth("@@");"#,
        "await redisClient.auth('@@');",
        r#"redis.auth("@@")"#,
        r#"UserDetails user = User.withUsername("admin").password("{noop}@@").roles("ADMIN").build();"#,
        r#"auth.inMemoryAuthentication().withUser("admin").password("{noop}@@").roles("USER");"#,
    ];
    let mut all: Vec<String> = code.iter().map(|c| c.to_string()).collect();
    all.extend(
        code.iter()
            .map(|c| tool_result(&read_view(&format!("import x\n{c}\n"), 1))),
    );
    each_redacted(&all);
    each_kept(&[
        "Http::withBasicAuth($user, $password)->get($url);",
        r#"h.setBasicAuth(user, password)"#,
        ".basicAuth(props.getUser(), props.getPassword())",
        "given().auth().basic(user, pass)",
        "req.basic_auth user, pass",
        "req.basic_auth ENV['USER'], ENV['PASSWORD']",
        "client.auth(password)",
        "client.auth(process.env.REDIS_PASSWORD)",
        "const auth = firebase.auth();",
        ".auth(token, { type: 'bearer' })",
        r#".password("{noop}" + password)"#,
        r#".password(encoder.encode(password))"#,
        r#"@Value("${app.password}") String password;"#,
    ]);
}

/// Azure's app settings as `az webapp config appsettings list` (and `az functionapp …`) prints
/// them: by default pretty-printed JSON, `"name"`, `"slotSetting": false`, `"value"` one member a
/// line, and with `-o table` a `Name  SlotSetting  Value` table; every setting's value went out
/// whole, the secrets' among them, raw and in a tool's result.
#[test]
fn azure_app_settings_values_are_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let json = format!(
        "[\n  {{\n    \"name\": \"WEBSITE_NODE_DEFAULT_VERSION\",\n    \"slotSetting\": false,\n    \"value\": \"~18\"\n  }},\n  {{\n    \"name\": \"DB_PASSWORD\",\n    \"slotSetting\": false,\n    \"value\": \"{secret}\"\n  }},\n  {{\n    \"name\": \"STRIPE_SECRET_KEY\",\n    \"slotSetting\": true,\n    \"value\": \"{secret}\"\n  }}\n]\n"
    );
    let table = format!(
        "Name                          SlotSetting    Value\n----------------------------  -------------  --------------\nWEBSITE_NODE_DEFAULT_VERSION  False          ~18\nDB_PASSWORD                   False          {secret}\nSTRIPE_SECRET_KEY             True           {secret}\n"
    );
    redacted_in_any_chunks(
        &[&json, &table, &tool_result(&json), &tool_result(&table)],
        secret,
        7,
    );
    // Settings that are no secret's keep their values.
    kept_raw_and_in_a_tool_result(&[
        "[\n  {\n    \"name\": \"REGION\",\n    \"slotSetting\": false,\n    \"value\": \"westeurope\"\n  }\n]\n",
        "Name    SlotSetting    Value\n------  -------------  ----------\nREGION  False          westeurope\n",
    ]);
}

/// A password (or a key or a token) under its label in another language, as Claude writes it to
/// someone who asked in that language and as localised tools print it: Spanish, Russian,
/// Japanese, Chinese, Korean, Polish, Turkish, Vietnamese, Swedish, Hungarian, Romanian, Greek,
/// Hebrew, Arabic, Hindi and Thai labels, after a colon (a full-width one too), `=`, or the
/// word or particle that says "is". No keyword literal is in any of them: every one went out
/// whole, raw and in Claude's text in stream-json.
#[test]
fn passwords_under_labels_in_other_languages_are_redacted() {
    let lines = [
        "Contraseña: @@",
        "**Contraseña:** `@@`",
        "- Usuario: admin\n- Contraseña: @@",
        "La contraseña es @@",
        "CONTRASEÑA=@@",
        "Пароль: @@",
        "пароль: @@",
        "Логин: admin, пароль: @@",
        "Токен: @@",
        "パスワード：@@",
        "パスワード: @@",
        "初期パスワードは @@ です",
        "トークン: @@",
        "密码：@@",
        "数据库密码是 @@",
        "密碼: @@",
        "API密钥：@@",
        "令牌: @@",
        "비밀번호: @@",
        "비밀번호는 @@입니다",
        "Hasło: @@",
        "Şifre: @@",
        "Mật khẩu: @@",
        "Lösenord: @@",
        "Jelszó: @@",
        "Parolă: @@",
        "Κωδικός: @@",
        "סיסמה: @@",
        "كلمة المرور: @@",
        "पासवर्ड: @@",
        "รหัสผ่าน: @@",
    ];
    let mut all: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for l in lines {
        all.push(assistant_text(&format!("Listo.\n{l}\n")));
        all.push(tool_result(&format!("ok\n{l}\n")));
    }
    each_redacted(&all);
    // In a line of megabytes, the label where the held-back part of the line starts.
    let secret = "Zq8wLmN3pX00vR";
    use common::redact::{MAX_MATCH, MAX_PENDING};
    for at in [MAX_PENDING - MAX_MATCH - 14, MAX_PENDING - 7, 300_000] {
        let line = format!(
            "{}Пароль: {secret} {}\n",
            "ж".repeat(at / 2),
            "x".repeat(400_000)
        );
        for chunk in [4096, 65_536, 1_000_003] {
            let chunks: Vec<&[u8]> = line.as_bytes().chunks(chunk).collect();
            let (out, _) = run(&rules_with(&[]), &chunks);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                line.replace(secret, REDACTED),
                "at {at}, chunks of {chunk}"
            );
        }
    }
    // The labels alone, what is said of a password, and values that are none.
    kept_raw_and_in_a_tool_result(&[
        "Пароль изменён.",
        "Введите пароль:",
        "パスワードを入力してください",
        "密码错误",
        "Contraseña incorrecta",
        "Contraseña: ********",
        "Пароль: не задан",
        "密码：无",
        "La contraseña es obligatoria",
        "비밀번호를 입력하세요",
        "Şifre: (boş)",
    ]);
}

/// Basic authentication's credentials encoded in code where they are given, the password in
/// a `user:password` literal: `'Basic ' + btoa('user:…')`, Node's `Buffer.from('user:…')
/// .toString('base64')`, Python's `base64.b64encode(b'user:…')`, Go's
/// `base64.StdEncoding.EncodeToString([]byte("user:…"))`, Java's
/// `Base64.getEncoder().encodeToString("user:…".getBytes())`, Ruby's `Base64.strict_encode64`,
/// PHP's `base64_encode`, C#'s `Convert.ToBase64String(Encoding.UTF8.GetBytes("user:…"))`,
/// and a shell's `$(echo -n user:… | base64)` in an `Authorization: Basic` header: each went
/// out whole after an `Authorization` or `auth` name.
#[test]
fn basic_credentials_encoded_where_they_are_given_are_redacted() {
    let code = [
        "headers: { Authorization: 'Basic ' + btoa('admin:@@') }",
        "const auth = 'Basic ' + Buffer.from('admin:@@').toString('base64');",
        "const authHeader = `Basic ${btoa('admin:@@')}`;",
        "'Authorization': 'Basic ' + base64.b64encode(b'admin:@@').decode()",
        r#"auth_header = base64.b64encode(b"admin:@@").decode("ascii")"#,
        r#"authHeader := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:@@"))"#,
        r#"String auth = Base64.getEncoder().encodeToString("admin:@@".getBytes());"#,
        "auth = Base64.strict_encode64('admin:@@')",
        "$auth = base64_encode('admin:@@');",
        r#"var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:@@"));"#,
        r#"curl -H "Authorization: Basic $(echo -n admin:@@ | base64)" https://api.example.com"#,
    ];
    let mut all: Vec<String> = code.iter().map(|c| c.to_string()).collect();
    all.extend(
        code.iter()
            .map(|c| tool_result(&read_view(&format!("import x\n{c}\n"), 1))),
    );
    each_redacted(&all);
    each_kept(&[
        "const auth = 'Basic ' + btoa(`${user}:${pass}`);",
        "const auth = 'Basic ' + btoa(user + ':' + pass);",
        r#"auth_header = base64.b64encode(f"{user}:{password}".encode())"#,
        "const auth = 'Basic ' + Buffer.from(credentials).toString('base64');",
        "headers: { Authorization: 'Basic ' + btoa('admin:') }",
        r#"curl -H "Authorization: Basic $(echo -n "$USER:$PASS" | base64)" https://x"#,
    ]);
}

/// More commands that print a secret's value alone, named by the command: WP-CLI's `wp config
/// get DB_PASSWORD`, Symfony's `secrets:reveal NAME`, python-dotenv's `dotenv get NAME`,
/// CyberArk Conjur's `conjur variable get -i …/password`, Akeyless' `get-secret-value`,
/// Berglas' `access`, and the same run on a Fly.io machine (`fly ssh console -C "printenv
/// NAME"`): each result, the bare value in Claude Code's stream-json, went out whole.
#[test]
fn more_commands_that_print_a_secret_alone_are_redacted() {
    let secret = "Zq8wLmN3pX07vR";
    for command in [
        "wp config get DB_PASSWORD",
        "wp config get AUTH_KEY --type=constant",
        "wp --path=/var/www/html config get DB_PASSWORD",
        "php bin/console secrets:reveal DATABASE_PASSWORD",
        "symfony console secrets:reveal STRIPE_SECRET_KEY",
        "dotenv get DB_PASSWORD",
        "dotenv -f .env.production get API_KEY",
        "conjur variable get -i prod/db/password",
        "akeyless get-secret-value -n /prod/db/password",
        "berglas access sm://my-project/api-token",
        "fly ssh console -C \"printenv DB_PASSWORD\"",
        "flyctl ssh console -a app -C 'printenv STRIPE_SECRET_KEY'",
    ] {
        let id = "toolu_01BbCdEfGhIjKlMnOpQrStUv";
        let text = format!(
            "{}\n{}\nthe value was {secret}\n",
            bash_call(id, command),
            bash_result(id, &format!("{secret}\n")),
        );
        for cut in [text.len(), 64, 7] {
            let (out, _) = red_in_chunks(&text, cut);
            assert!(
                !contains(out.as_bytes(), secret),
                "{command} in chunks of {cut}:\n{out}"
            );
        }
    }
    // Getters of what is no secret, and the same commands' other verbs, keep their results.
    for command in [
        "wp config get DB_NAME",
        "wp config set DB_HOST localhost",
        "php bin/console secrets:list",
        "dotenv get APP_ENV",
        "conjur variable get -i prod/db/host",
        "fly ssh console -C 'printenv HOSTNAME'",
    ] {
        let id = "toolu_01CbCdEfGhIjKlMnOpQrStUv";
        let text = format!(
            "{}\n{}\n",
            bash_call(id, command),
            bash_result(id, &format!("{secret}\n")),
        );
        assert_eq!(red(&text), text, "{command}");
    }
}

/// Claude's report of a password it used or changed: `I used the password '…' for …`, and both
/// values of `Changed the root password from `…` to `…``: the one used, and the old one of a
/// change, went out whole.
#[test]
fn a_password_used_and_both_sides_of_a_change_are_redacted() {
    each_redacted(&[
        "I used the password '@@' for the test account.",
        "I used the admin password `@@` to log in.",
        "Changed the root password to `@@`.",
    ]);
    let (old, new) = ("Qm3nB8vLp2Wx41", "Zq8wLmN3pX00vR");
    for line in [
        format!("Changed the root password from {old} to {new}."),
        format!("I changed the admin password from `{old}` to `{new}`."),
        format!("Updated the DB password from '{old}' to '{new}'"),
    ] {
        for text in [line.clone(), tool_result(&line)] {
            let out = red(&text);
            assert_eq!(
                out,
                text.replace(old, REDACTED).replace(new, REDACTED),
                "{text}"
            );
        }
    }
    each_kept(&[
        "I used the password field on the login form.",
        "We used the token budget from the config.",
        "Changed the password from optional to required.",
        "Changed the password policy from 8 to 12 characters.",
        "Changed the password from the default to a generated one.",
    ]);
}

/// AWS's parameter store in its other outputs: `get-parameter --with-decryption --output text`
/// (tab-separated, the value after its type `SecureString`), and parameters listed by path
/// with `--query 'Parameters[*].[Name,Value]' --output text` (a path that ends in a secret's
/// name, a tab, the value): both went out whole, raw and in a tool's result.
#[test]
fn parameter_store_values_in_text_output_are_redacted() {
    let secret = "Zq8wLmN3pX00vR";
    let text = format!(
        "PARAMETER\tarn:aws:ssm:us-east-1:123456789012:parameter/prod/stripe/live\t2024-01-01T00:00:00+00:00\t/prod/stripe/live\tSecureString\t{secret}\t1\n"
    );
    let listed = format!(
        "/prod/db/host\tdb.internal\n/prod/db/password\t{secret}\n/prod/api/token\t{secret}\n"
    );
    for text in [&text, &listed, &tool_result(&text), &tool_result(&listed)] {
        assert_eq!(red(text), text.replace(secret, REDACTED), "{text}");
    }
    kept_raw_and_in_a_tool_result(&[
        "PARAMETER\tarn:aws:ssm:us-east-1:123456789012:parameter/prod/region\t2024-01-01T00:00:00+00:00\t/prod/region\tString\teu-west-1\t1\n",
        "/prod/db/host\tdb.internal\n/prod/db/port\t5432\n",
        "src/auth/password.rs\t12\t3\n",
    ]);
}

/// Labels in other languages written in ASCII alone (Portuguese `Senha`, German `Kennwort`,
/// Dutch `wachtwoord`, Czech `heslo`, Finnish `salasana`, Danish `adgangskode`), in Claude's
/// text in stream-json, where the message around them holds the language's other letters:
/// the label's line there is the whole message, and it holds a byte that is not ASCII. (A
/// plain line of ASCII alone is not looked at for them: no keyword literal is in them.)
#[test]
fn ascii_labels_of_other_languages_in_a_message_are_redacted() {
    let lines = [
        "Pronto! O usuário foi criado. Senha: @@",
        "Configuração concluída. A senha é `@@`.",
        "Der Benutzer wurde angelegt. Kennwort: @@ (bitte ändern)",
        "Gebruiker aangemaakt, één wachtwoord: @@",
        "Uživatel vytvořen. Heslo: @@",
        "Käyttäjä luotu. Salasana: @@",
        "Brugeren er oprettet på serveren. Adgangskode: @@",
    ];
    let mut all = Vec::new();
    for l in lines {
        all.push(assistant_text(l));
        all.push(tool_result(l));
        all.push(l.to_string());
    }
    // Over two lines, the label's line of ASCII alone: one line in stream-json.
    let two = "Pronto! O usuário foi criado.\n- Senha: @@";
    all.push(assistant_text(two));
    all.push(tool_result(two));
    each_redacted(&all);
    kept_raw_and_in_a_tool_result(&[
        "Não foi possível enhance a senha: muito curta",
        "Geben Sie Ihr Kennwort ein: ",
        "Das Kennwort ist falsch, bitte prüfen",
        "O campo senha é obrigatório",
    ]);
}
