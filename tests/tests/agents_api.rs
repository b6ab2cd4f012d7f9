//! The run API end to end with the real Claude Code CLI against the fake Messages API: a script
//! with an API token starts a one-shot run on one agent and waits for its messages; a second
//! call continues that session on a different agent (its own data directory and Claude config),
//! where Claude sees the earlier conversation and the file it wrote.

use std::time::Duration;

use common::wire::RunStatus;
use e2e::Gateway;
use e2e::agents::Agent;
use e2e::fake_anthropic::{FakeAnthropic, claude_env};
use serde_json::{Value, json};

async fn api(gw: &Gateway, token: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = gw
        .client()
        .post(format!("{}{path}", gw.url))
        .bearer_auth(token)
        .json(&body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn texts(answer: &Value, role: &str) -> Vec<String> {
    answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == role)
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn refs(env: &[(String, String)]) -> Vec<(&str, String)> {
    env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_by_the_api_continues_on_another_agent() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let fake = FakeAnthropic::start().await;
    let agent = |name: &str| {
        let mut env = claude_env(&fake.base_url(), &dir.path().join(name).join("home"));
        env.push((
            "CLAUDE_COMMAND".into(),
            e2e::claude::cli().display().to_string(),
        ));
        env
    };
    let env_one = agent("one");
    let env_two = agent("two");
    let one = Agent::start(
        &gw,
        dir.path(),
        "one",
        &["--label", "host=one"],
        &refs(&env_one),
    )
    .await;
    let two = Agent::start(
        &gw,
        dir.path(),
        "two",
        &["--label", "host=two"],
        &refs(&env_two),
    )
    .await;

    let (status, v) = gw
        .admin_post(
            "/api/tokens",
            json!({"name": "script", "scopes": ["create_runs", "read_runs"]}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();

    // One call: a one-shot run on agent one, answered when its turn has ended.
    let (status, first) = api(
        &gw,
        &token,
        "/api/runs",
        json!({"prompt": "WRITE: notes.txt remember-the-blue-door", "labels": {"host": "one"}, "wait": 90}),
    )
    .await;
    assert_eq!(status, 201, "{first}\n{}", one.log());
    let run1 = first["run_id"].as_str().unwrap().to_string();
    let session = first["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}\n{}", one.log()))
        .to_string();
    assert_eq!(
        texts(&first, "user"),
        ["WRITE: notes.txt remember-the-blue-door"]
    );
    assert!(!texts(&first, "assistant").is_empty(), "{first}");

    // A second call continues it on agent two, whose Claude has never seen this session.
    let (status, second) = api(
        &gw,
        &token,
        "/api/runs",
        json!({"prompt": "RUN: cat notes.txt", "labels": {"host": "two"}, "continue": run1, "wait": 90}),
    )
    .await;
    assert_eq!(status, 201, "{second}\n{}", two.log());
    let run2 = second["run_id"].as_str().unwrap().to_string();
    let r2 = gw.admin_get(&format!("/api/runs/{run2}")).await;
    assert_eq!(r2["agent"], "two", "{r2}");
    assert_eq!(
        second["session_id"].as_str(),
        Some(session.as_str()),
        "{second}\n{}",
        two.log()
    );
    let answers = texts(&second, "assistant").join("\n");
    assert!(
        answers.contains("remember-the-blue-door"),
        "the file Claude wrote on agent one is there on agent two: {second}\n{}",
        two.log()
    );
    // Claude on agent two was sent the earlier conversation.
    let resumed = fake
        .requests()
        .into_iter()
        .find(|r| r.to_string().contains("cat notes.txt"))
        .expect("a request of the second run");
    assert!(
        resumed["messages"]
            .to_string()
            .contains("WRITE: notes.txt remember-the-blue-door"),
        "{resumed}"
    );
    let done: common::wire::RunSummary =
        serde_json::from_value(gw.admin_get(&format!("/api/runs/{run1}")).await).unwrap();
    assert_eq!(done.status, RunStatus::Finished);
    assert!(
        !two.data_dir.join("runs").join(&run1).exists(),
        "run one never touched agent two"
    );
}
