//! `claude-runner mcp-permission`: the MCP server Claude Code spawns to ask about tool calls.
//!
//! MCP over stdio is JSON-RPC 2.0, one message a line. The server answers `initialize`, `ping`,
//! `tools/list` (one tool, `approve`) and `tools/call`; notifications get no answer
//! (`notifications/cancelled` drops the call it names); any other method, `server/discover`
//! among them (Claude Code 2.1 probes with it first), gets the JSON-RPC error "method not
//! found". A `tools/call` is forwarded to the runner over its socket (one connection a call,
//! calls in parallel) and answered with one text content block holding the runner's
//! [`Answer`]; a runner that cannot be reached means a denial, never an allowance.

use std::collections::HashMap;
use std::path::PathBuf;

use common::Secret;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{Answer, Ask, MAX_LINE_BYTES, SERVER_NAME, TOOL_NAME, read_line};

/// The protocol version answered to a client that names none.
const PROTOCOL_VERSION: &str = "2025-06-18";
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INVALID_REQUEST: i64 = -32600;
const PARSE_ERROR: i64 = -32700;

/// Serve MCP on `input`/`output` until `input` ends; calls go to the runner at `socket`.
pub async fn serve<R, W>(input: R, mut output: W, socket: PathBuf, token: Secret)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<Value>(64);
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let mut line = msg.to_string().into_bytes();
            line.push(b'\n');
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let mut calls: HashMap<String, AbortHandle> = HashMap::new();
    let mut reader = BufReader::new(input);
    loop {
        let line = match read_line(&mut reader, MAX_LINE_BYTES).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                // The rest of the oversized line is unreadable as JSON-RPC: give up on input.
                let _ = out_tx
                    .send(error(Value::Null, PARSE_ERROR, &e.to_string()))
                    .await;
                break;
            }
            Err(_) => break,
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let msg: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => {
                let _ = out_tx
                    .send(error(Value::Null, PARSE_ERROR, &e.to_string()))
                    .await;
                continue;
            }
        };
        let Some(method) = msg["method"].as_str() else {
            // A response from the client (we send no requests) or no message at all.
            if msg.get("id").is_some() && msg.get("result").is_none() && msg.get("error").is_none()
            {
                let _ = out_tx
                    .send(error(msg["id"].clone(), INVALID_REQUEST, "no method"))
                    .await;
            }
            continue;
        };
        let Some(id) = msg.get("id").cloned() else {
            if method == "notifications/cancelled"
                && let Some(call) = calls.remove(&msg["params"]["requestId"].to_string())
            {
                call.abort();
            }
            continue;
        };
        let reply = match method {
            "initialize" => ok(id, initialize(&msg["params"])),
            "ping" => ok(id, json!({})),
            "tools/list" => ok(id, json!({"tools": [tool()]})),
            "tools/call" => {
                calls.retain(|_, call| !call.is_finished());
                let key = id.to_string();
                let task = tokio::spawn(call(
                    id,
                    msg["params"].clone(),
                    socket.clone(),
                    token.clone(),
                    out_tx.clone(),
                ));
                calls.insert(key, task.abort_handle());
                continue;
            }
            other => error(id, METHOD_NOT_FOUND, &format!("method not found: {other}")),
        };
        if out_tx.send(reply).await.is_err() {
            break;
        }
    }
    // Claude closed our input: it is done with us. Calls still waiting are dropped, which
    // closes their connections, which tells the runner they were withdrawn.
    for (_, call) in calls {
        call.abort();
    }
    drop(out_tx);
    let _ = writer.await;
}

fn ok(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn initialize(params: &Value) -> Value {
    let version = params["protocolVersion"]
        .as_str()
        .unwrap_or(PROTOCOL_VERSION);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
    })
}

fn tool() -> Value {
    json!({
        "name": TOOL_NAME,
        "description": "Ask the person watching this claude-runner run whether a tool call may run.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "tool_name": {"type": "string"},
                "input": {"type": "object"},
                "tool_use_id": {"type": "string"},
            },
            "required": ["tool_name", "input"],
        },
    })
}

/// One `tools/call`: ask the runner, answer Claude.
async fn call(id: Value, params: Value, socket: PathBuf, token: Secret, out: mpsc::Sender<Value>) {
    let args = &params["arguments"];
    let reply = match (params["name"].as_str(), args["tool_name"].as_str()) {
        (Some(TOOL_NAME), Some(tool)) => {
            let ask = Ask {
                token: token.expose().to_string(),
                tool_name: tool.to_string(),
                input: args["input"].clone(),
                tool_use_id: args["tool_use_id"].as_str().map(String::from),
            };
            let answer = forward(&socket, &ask)
                .await
                .unwrap_or_else(|e| Answer::Deny {
                    message: format!("claude-runner could not be asked ({e}); the call is denied"),
                });
            let text = serde_json::to_string(&answer).unwrap_or_default();
            ok(id, json!({"content": [{"type": "text", "text": text}]}))
        }
        (Some(TOOL_NAME), None) => error(id, INVALID_PARAMS, "arguments.tool_name is missing"),
        (name, _) => error(
            id,
            INVALID_PARAMS,
            &format!("unknown tool {:?}", name.unwrap_or_default()),
        ),
    };
    let _ = out.send(reply).await;
}

/// Put one call before the runner and read its answer.
pub async fn forward(socket: &std::path::Path, ask: &Ask) -> std::io::Result<Answer> {
    let stream = UnixStream::connect(socket).await?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(ask)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut reader = BufReader::new(read);
    let answer = read_line(&mut reader, MAX_LINE_BYTES)
        .await?
        .ok_or_else(|| {
            std::io::Error::other("the runner closed the connection without an answer")
        })?;
    Ok(serde_json::from_slice(&answer)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, DuplexStream};

    /// A stand-in for the runner: answers each ask with `answer(ask)`, and records the asks.
    async fn fake_runner(
        dir: &std::path::Path,
        answer: fn(&Ask) -> Answer,
    ) -> (PathBuf, mpsc::Receiver<Ask>) {
        let path = dir.join("s.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (read, mut write) = stream.into_split();
                let line = read_line(&mut BufReader::new(read), 1 << 20)
                    .await
                    .unwrap()
                    .unwrap();
                let ask: Ask = serde_json::from_slice(&line).unwrap();
                let mut out = serde_json::to_vec(&answer(&ask)).unwrap();
                out.push(b'\n');
                write.write_all(&out).await.unwrap();
                tx.send(ask).await.unwrap();
            }
        });
        (path, rx)
    }

    struct Client {
        input: DuplexStream,
        output: tokio::io::Lines<BufReader<DuplexStream>>,
        server: tokio::task::JoinHandle<()>,
    }

    impl Client {
        fn start(socket: PathBuf) -> Self {
            let (input, server_in) = tokio::io::duplex(1 << 16);
            let (server_out, output) = tokio::io::duplex(1 << 16);
            let server = tokio::spawn(serve(
                server_in,
                server_out,
                socket,
                Secret::new("the-token"),
            ));
            Self {
                input,
                output: BufReader::new(output).lines(),
                server,
            }
        }

        async fn send(&mut self, line: &str) {
            self.input.write_all(line.as_bytes()).await.unwrap();
            self.input.write_all(b"\n").await.unwrap();
        }

        async fn recv(&mut self) -> Value {
            let line =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.output.next_line())
                    .await
                    .expect("an answer")
                    .unwrap()
                    .expect("a line");
            serde_json::from_str(&line).unwrap()
        }
    }

    #[tokio::test]
    async fn initialize_list_and_unknown_methods() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Client::start(dir.path().join("none.sock"));
        c.send(r#"{"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{}}"#).await;
        let r = c.recv().await;
        assert_eq!(r["id"], "server-discover-probe-1");
        assert_eq!(r["error"]["code"], METHOD_NOT_FOUND);
        c.send(r#"{"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}},"jsonrpc":"2.0","id":0}"#).await;
        let r = c.recv().await;
        assert_eq!(r["id"], 0);
        assert_eq!(r["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(r["result"]["serverInfo"]["name"], SERVER_NAME);
        assert!(r["result"]["capabilities"]["tools"].is_object());
        // A notification gets no answer: the next line answers the ping.
        c.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        c.send(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).await;
        assert_eq!(
            c.recv().await,
            json!({"jsonrpc": "2.0", "id": 7, "result": {}})
        );
        c.send(r#"{"method":"tools/list","jsonrpc":"2.0","id":1}"#)
            .await;
        let r = c.recv().await;
        let tools = r["result"]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["name"], TOOL_NAME);
        assert_eq!(
            tools[0]["inputSchema"]["required"],
            json!(["tool_name", "input"])
        );
        c.send("{not json").await;
        assert_eq!(c.recv().await["error"]["code"], PARSE_ERROR);
        c.send(r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#)
            .await;
        let r = c.recv().await;
        assert_eq!(
            (r["id"].clone(), r["error"]["code"].clone()),
            (json!(2), json!(METHOD_NOT_FOUND))
        );
        drop(c.input);
        tokio::time::timeout(std::time::Duration::from_secs(5), c.server)
            .await
            .expect("the server ends with its input")
            .unwrap();
    }

    #[tokio::test]
    async fn a_tool_call_is_forwarded_with_the_token_and_answered_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, mut asks) = fake_runner(dir.path(), |ask| {
            if ask.input["command"] == "rm -rf ~" {
                Answer::Deny {
                    message: "not that".into(),
                }
            } else {
                Answer::Allow {
                    updated_input: ask.input.clone(),
                }
            }
        })
        .await;
        let mut c = Client::start(socket);
        c.send(r#"{"method":"tools/call","params":{"name":"approve","arguments":{"tool_name":"Bash","input":{"command":"touch a"},"tool_use_id":"toolu_1"}},"jsonrpc":"2.0","id":2}"#).await;
        let r = c.recv().await;
        assert_eq!(r["id"], 2);
        let content = r["result"]["content"].as_array().unwrap();
        assert_eq!(
            (content.len(), content[0]["type"].as_str()),
            (1, Some("text"))
        );
        let answer: Value = serde_json::from_str(content[0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            answer,
            json!({"behavior": "allow", "updatedInput": {"command": "touch a"}})
        );
        let ask = asks.recv().await.unwrap();
        assert_eq!(
            (ask.token.as_str(), ask.tool_name.as_str()),
            ("the-token", "Bash")
        );
        assert_eq!(ask.tool_use_id.as_deref(), Some("toolu_1"));

        c.send(r#"{"method":"tools/call","params":{"name":"approve","arguments":{"tool_name":"Bash","input":{"command":"rm -rf ~"}}},"jsonrpc":"2.0","id":3}"#).await;
        let text = c.recv().await["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"behavior": "deny", "message": "not that"})
        );
        c.send(r#"{"method":"tools/call","params":{"name":"other","arguments":{}},"jsonrpc":"2.0","id":4}"#).await;
        assert_eq!(c.recv().await["error"]["code"], INVALID_PARAMS);
    }

    #[tokio::test]
    async fn an_unreachable_runner_means_deny() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Client::start(dir.path().join("gone.sock"));
        c.send(r#"{"method":"tools/call","params":{"name":"approve","arguments":{"tool_name":"Bash","input":{}}},"jsonrpc":"2.0","id":"x"}"#).await;
        let text = c.recv().await["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let answer: Answer = serde_json::from_str(&text).unwrap();
        assert!(
            matches!(&answer, Answer::Deny { message } if message.contains("could not be asked")),
            "{answer:?}"
        );
    }
}
