//! `claude-runner info`: every setting, its effective value (secrets masked) and its source.

use e2e::runner;

#[test]
fn prints_every_setting_with_value_and_source_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "HMAC_SECRET=from-dotenv-secret-123\nCLAUDE_COMMAND=dotenv-claude\n",
    )
    .unwrap();
    let out = runner(dir.path())
        .args(["--claude-command", "flag-claude", "info"])
        .env("GATEWAY_URL", "https://gw.example:8443")
        .env("EXTRA_ALLOWED_COMMANDS", "make check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row:\n{text}"))
            .to_string()
    };
    for name in [
        "GATEWAY_URL",
        "HMAC_SECRET",
        "GATEWAY_CA_FILE",
        "GATEWAY_CERT_SHA256",
        "ALLOW_SELF_SIGNED",
        "CLAUDE_COMMAND",
        "EXTRA_ALLOWED_COMMANDS",
        "RUNNER_DATA_DIR",
    ] {
        row(name);
    }
    assert!(
        row("GATEWAY_URL").contains("https://gw.example:8443")
            && row("GATEWAY_URL").ends_with("environment")
    );
    assert!(row("HMAC_SECRET").contains("********") && row("HMAC_SECRET").ends_with(".env"));
    assert!(
        row("CLAUDE_COMMAND").contains("flag-claude") && row("CLAUDE_COMMAND").ends_with("flag")
    );
    assert!(row("RUNNER_DATA_DIR").ends_with("default"));
    assert!(row("GATEWAY_CA_FILE").ends_with("unset"));
    assert!(text.contains("system roots"), "{text}");
    assert!(
        !text.contains("from-dotenv-secret-123"),
        "secrets are masked:\n{text}"
    );
}
