//! The fake Messages API (`e2e::fake_anthropic`) as a process, for the browser tests in
//! `tests/ui/`: `fake_anthropic <home>` prints one JSON line, `{"base_url", "cli", "env"}` (the
//! pinned Claude Code CLI and the environment that makes it talk only to this fake, with a
//! throwaway home at `<home>`), then serves until its stdin closes.

use std::io::Read;

use e2e::fake_anthropic::{FakeAnthropic, claude_cli, claude_env};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let home = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .expect("usage: fake_anthropic <home directory>");
    let api = FakeAnthropic::start().await;
    let env: serde_json::Map<String, serde_json::Value> = claude_env(&api.base_url(), &home)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "base_url": api.base_url(),
            "cli": claude_cli().display().to_string(),
            "env": env,
        })
    );
    // Serve until the test closes our stdin (or ends).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    drop(api);
}
