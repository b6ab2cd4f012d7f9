//! Serve the fake Messages API on loopback until Ctrl-C (for trying the CLI by hand).
#[tokio::main]
async fn main() {
    let fake = e2e::fake_anthropic::FakeAnthropic::start().await;
    println!("{}", fake.base_url());
    let _ = tokio::signal::ctrl_c().await;
    for r in fake.requests() {
        eprintln!(
            "{}",
            serde_json::to_string(&r["messages"])
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
}
