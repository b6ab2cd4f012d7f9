//! The fake Messages API (`e2e::fake_anthropic`) as a program, for the browser tests: serves on
//! `127.0.0.1:0`, prints `listening http://127.0.0.1:<port>` and serves until stdin closes.

use std::io::Read;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let fake = e2e::fake_anthropic::FakeAnthropic::start().await;
    println!("listening {}", fake.base_url());
    // Ends with the test that started it: its stdin pipe closes when the test's process goes.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
}
