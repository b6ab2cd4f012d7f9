//! A fake Anthropic Messages API on loopback, so tests drive the real Claude Code CLI offline.
//!
//! It answers `POST /v1/messages` with the streaming SSE sequence the CLI expects, choosing the
//! answer from the last user message:
//! * a `tool_result` → text `Tool said: <result>`, or `Tool refused: <result>` when it is an
//!   error (a denied permission: the result is the denial's message);
//! * `RUN: <command>` in the prompt → a `tool_use` of `Bash` with that command;
//! * `RUN TWICE: <command>` → that `tool_use`, and after its result the same call once more
//!   (then the text answer to the second result);
//! * `WRITE: <path> <content…>` → a `tool_use` of `Write`;
//! * `SLOW` → a text answer streamed over about 20 s (for interrupt tests);
//! * `LATE` → the same, but the response itself (its status line) only comes after 20 s: a
//!   model that takes long to start answering;
//! * anything else → text `ECHO(<n> msgs): <prompt>`.
//!
//! Every request body is kept for assertions (`requests()`), and `answers_streaming()` counts
//! the answers whose first text has been written to the CLI.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<Value>>,
    counter: Mutex<u64>,
    streaming: std::sync::atomic::AtomicU64,
}

/// A running fake API.
#[derive(Debug)]
pub struct FakeAnthropic {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeAnthropic {
    /// Serve on `127.0.0.1:0` in the current tokio runtime.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .fallback(|req: axum::extract::Request| async move {
                eprintln!("fake-anthropic: unexpected {} {}", req.method(), req.uri());
                StatusCode::NOT_FOUND
            })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake API");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// `ANTHROPIC_BASE_URL` for the CLI.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request body received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// How many answers have had their first text written to the connection.
    pub fn answers_streaming(&self) -> u64 {
        self.shared
            .streaming
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The pinned Claude Code CLI; `tests/run` installs it with `npm ci --prefix tests/claude`.
pub fn claude_cli() -> std::path::PathBuf {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("claude/node_modules/.bin/claude");
    assert!(
        path.exists(),
        "the Claude Code CLI is not installed at {}: run `npm ci --prefix tests/claude` (tests/run does)",
        path.display()
    );
    path
}

/// The environment that makes the CLI talk only to this fake, with a throwaway home.
pub fn claude_env(base_url: &str, home: &std::path::Path) -> Vec<(String, String)> {
    let tmp = home.join("tmp");
    let _ = std::fs::create_dir_all(&tmp);
    [
        ("ANTHROPIC_BASE_URL", base_url.to_string()),
        (
            "ANTHROPIC_API_KEY",
            "sk-ant-api03-fake-key-for-tests-only".to_string(),
        ),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
        ("HOME", home.display().to_string()),
        (
            "CLAUDE_CONFIG_DIR",
            home.join(".claude").display().to_string(),
        ),
        ("TMPDIR", tmp.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The last prompt (a user text that is not a tool result) and how many tool results came
/// after it.
fn prompt_and_results(body: &Value) -> (String, usize) {
    let users: Vec<&Value> = body["messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["role"] == "user").collect())
        .unwrap_or_default();
    let mut results = 0;
    for m in users.iter().rev() {
        let (text, tool) = user_content(m);
        if tool.is_some() {
            results += 1;
        } else if !text.is_empty() {
            return (text, results);
        }
    }
    (String::new(), results)
}

/// The text of the last user message and whether it carries a tool result (with its error
/// flag).
fn last_user(body: &Value) -> (String, Option<(String, bool)>) {
    let Some(msg) = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
    else {
        return (String::new(), None);
    };
    user_content(msg)
}

fn user_content(msg: &Value) -> (String, Option<(String, bool)>) {
    match &msg["content"] {
        Value::String(s) => (s.clone(), None),
        Value::Array(blocks) => {
            let tool = blocks.iter().find(|b| b["type"] == "tool_result").map(|b| {
                let text = match &b["content"] {
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join(""),
                    other => other.to_string(),
                };
                (text, b["is_error"] == true)
            });
            // The prompt is the last text block that is not a system reminder.
            let text = blocks
                .iter()
                .rev()
                .filter_map(|b| b["text"].as_str())
                .find(|t| !t.trim_start().starts_with("<system-reminder>"))
                .unwrap_or_default()
                .to_string();
            (text, tool)
        }
        _ => (String::new(), None),
    }
}

fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

async fn messages(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().expect("lock").push(req.clone());
    let n = {
        let mut c = shared.counter.lock().expect("lock");
        *c += 1;
        *c
    };
    let model = req["model"].as_str().unwrap_or("claude-fake").to_string();
    let n_msgs = req["messages"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["role"] != "system").count());
    let (prompt, tool_result) = last_user(&req);
    let late = tool_result.is_none() && prompt.contains("LATE");
    let (first_prompt, results) = prompt_and_results(&req);
    let twice = first_prompt
        .split("RUN TWICE: ")
        .nth(1)
        .map(|c| c.lines().next().unwrap_or_default().trim().to_string());

    enum Plan {
        Text(String, Duration),
        Tool(&'static str, Value),
    }
    let plan = if let (Some(cmd), 1) = (&twice, results) {
        Plan::Tool(
            "Bash",
            json!({"command": cmd, "description": "run it again"}),
        )
    } else if let Some((result, is_error)) = tool_result {
        let said = if is_error {
            "Tool refused"
        } else {
            "Tool said"
        };
        Plan::Text(format!("{said}: {}", result.trim()), Duration::ZERO)
    } else if let Some(cmd) = &twice {
        Plan::Tool("Bash", json!({"command": cmd, "description": "run it"}))
    } else if let Some(cmd) = prompt.split("RUN: ").nth(1) {
        Plan::Tool(
            "Bash",
            json!({"command": cmd.lines().next().unwrap_or_default().trim(), "description": "run it"}),
        )
    } else if let Some(rest) = prompt.split("WRITE: ").nth(1) {
        let rest = rest.lines().next().unwrap_or_default().trim();
        let (path, content) = rest.split_once(' ').unwrap_or((rest, ""));
        Plan::Tool("Write", json!({"file_path": path, "content": content}))
    } else if prompt.contains("SLOW") || prompt.contains("LATE") {
        Plan::Text("slow answer ".repeat(40), Duration::from_millis(500))
    } else {
        Plan::Text(
            format!("ECHO({n_msgs} msgs): {}", prompt.trim()),
            Duration::ZERO,
        )
    };

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let counted = shared.clone();
    tokio::spawn(async move {
        let usage = json!({"input_tokens": 100, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
        let start = json!({"type": "message_start", "message": {"id": format!("msg_fake_{n}"), "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}});
        let _ = tx.send(Ok(sse("message_start", &start))).await;
        let stop_reason = match plan {
            Plan::Text(text, pause) => {
                let _ = tx.send(Ok(sse("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})))).await;
                let words: Vec<&str> = text.split_inclusive(' ').collect();
                let chunk = if pause.is_zero() {
                    words.len().max(1)
                } else {
                    1
                };
                for (i, piece) in words.chunks(chunk).enumerate() {
                    let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece.concat()}});
                    if tx
                        .send(Ok(sse("content_block_delta", &delta)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if i == 0 && !pause.is_zero() {
                        // Taken by the body once the channel holds it: give the body a moment
                        // to write it before counting the answer as streaming.
                        while tx.capacity() < tx.max_capacity() {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        counted
                            .streaming
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
                "end_turn"
            }
            Plan::Tool(name, input) => {
                let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": name, "input": {}}});
                let _ = tx.send(Ok(sse("content_block_start", &start))).await;
                let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}});
                let _ = tx.send(Ok(sse("content_block_delta", &delta))).await;
                "tool_use"
            }
        };
        let _ = tx
            .send(Ok(sse(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": 0}),
            )))
            .await;
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 12}});
        let _ = tx.send(Ok(sse("message_delta", &delta))).await;
        let _ = tx
            .send(Ok(sse("message_stop", &json!({"type": "message_stop"}))))
            .await;
    });
    if late {
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    let stream = RecvStream(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("request-id", format!("req_fake_{n}"))
        .body(Body::from_stream(stream))
        .expect("response")
}

/// The receiver as a `Stream` (futures-core is already in the tree through axum).
struct RecvStream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for RecvStream {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
