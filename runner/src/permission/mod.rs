//! Approvals: Claude asks, a person decides, the runner answers.
//!
//! Claude Code in headless mode cannot ask anyone about a tool call outside `--allowedTools`;
//! with `--permission-prompt-tool mcp__claude-runner__approve` and an `--mcp-config` naming a
//! stdio MCP server it calls that server's tool instead, and runs or refuses the call as the
//! answer says. The runner is that server: Claude spawns `claude-runner mcp-permission` ([`mcp`]),
//! which forwards each call over a private Unix socket to the runner that started the turn,
//! where the [`broker::Broker`] applies the run's [`policy`], publishes a `permission_request`
//! marker ([`request`]) and waits for a `permission` command carrying a person's decision (or
//! for its time to run out, or for the turn to be stopped).
//!
//! The socket and the MCP configuration live in a fresh 0700 directory under the temporary
//! directory (a Unix socket path must fit in 108 bytes, which a data directory need not); the
//! configuration (0600) gives the MCP server a random per-run token that the broker compares in
//! constant time, so only the MCP server this run configured can ask.

pub mod broker;
pub mod mcp;
pub mod policy;
pub mod request;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The MCP server's name in the configuration Claude reads.
pub const SERVER_NAME: &str = "claude-runner";
/// The MCP server's one tool.
pub const TOOL_NAME: &str = "approve";
/// `--permission-prompt-tool`: `mcp__<server>__<tool>`.
pub const PERMISSION_TOOL: &str = "mcp__claude-runner__approve";
/// The environment variable that carries the token to the MCP server.
pub const TOKEN_ENV: &str = "CLAUDE_RUNNER_PERMISSION_TOKEN";
/// Largest line either side of the socket (or the MCP server's stdin) takes: a tool input holds
/// whole files (Write).
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// How much longer than the runner's own time limit Claude waits for the MCP tool: the
/// runner's timeout decides, never Claude's.
const CLAUDE_TIMEOUT_MARGIN: Duration = Duration::from_secs(60);

/// One tool call the MCP server puts before the runner (one line on the socket).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub token: String,
    pub tool_name: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("token", &"********")
            .field("tool_name", &self.tool_name)
            .field("tool_use_id", &self.tool_use_id)
            .finish_non_exhaustive()
    }
}

/// The runner's answer, in the shape Claude Code reads from the permission-prompt tool's text
/// content: `{"behavior":"allow","updatedInput":{…}}` or `{"behavior":"deny","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "behavior", rename_all = "lowercase")]
pub enum Answer {
    Allow {
        #[serde(rename = "updatedInput")]
        updated_input: Value,
    },
    Deny {
        message: String,
    },
}

/// A line of at most `max` bytes (without its `\n`); `Ok(None)` at the end of input, an error
/// for a longer line (the rest of it is not read).
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a line is longer than {max} bytes"),
            ));
        }
        line.extend_from_slice(chunk);
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(line));
        }
    }
}

/// The approvals of one run: its broker, and when some tool asks, the endpoint its turns' MCP
/// servers reach it through.
#[derive(Debug)]
pub struct Approvals {
    pub broker: Arc<broker::Broker>,
    endpoint: Option<Endpoint>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Approvals {
    /// Set up for a run whose events go to `tx`.
    pub fn start(
        options: &crate::agent::ClaudeOptions,
        timeout: Duration,
        scope: request::Scope,
        tx: tokio::sync::mpsc::Sender<crate::pipeline::Frame>,
    ) -> anyhow::Result<Self> {
        let policy = policy::Policy::new(options);
        if !policy.asks() {
            // Nobody can reach it: decisions that come anyway are reported as not waiting.
            let token = Secret::new(crate::client::random_b64(32));
            let broker = broker::Broker::new(policy, timeout, scope, tx, token);
            return Ok(Self {
                broker,
                endpoint: None,
                server: None,
            });
        }
        let exe = std::env::current_exe().context("find the claude-runner executable")?;
        let (endpoint, listener) = Endpoint::create(&exe, timeout)?;
        let broker = broker::Broker::new(policy, timeout, scope, tx, endpoint.token.clone());
        let server = tokio::spawn(broker.clone().serve(listener));
        Ok(Self {
            broker,
            endpoint: Some(endpoint),
            server: Some(server),
        })
    }

    /// `--mcp-config` for the turns, when some tool asks.
    pub fn mcp_config(&self) -> Option<PathBuf> {
        self.endpoint.as_ref().map(|e| e.config.clone())
    }

    /// The run is over: deny what still waits, stop listening, remove the endpoint.
    pub async fn close(self) {
        self.broker.cancel_all("the run ended").await;
        if let Some(server) = self.server {
            server.abort();
        }
        drop(self.endpoint);
    }
}

/// The socket, the MCP configuration and the token of one run; the directory goes on drop.
pub struct Endpoint {
    dir: PathBuf,
    /// `--mcp-config`.
    pub config: PathBuf,
    pub socket: PathBuf,
    pub token: Secret,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Make the private directory, bind the socket in it and write the MCP configuration that
    /// starts `exe mcp-permission --socket <socket>`.
    pub fn create(
        exe: &Path,
        timeout: Duration,
    ) -> anyhow::Result<(Self, tokio::net::UnixListener)> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = std::env::temp_dir().join(format!(
            "claude-runner-ask-{}",
            crate::client::random_b64(9)
        ));
        // Fails if the name exists: never a directory someone else made.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("create {}", dir.display()))?;
        let endpoint = Self {
            config: dir.join("mcp.json"),
            socket: dir.join("ask.sock"),
            token: Secret::new(crate::client::random_b64(32)),
            dir,
        };
        let listener = tokio::net::UnixListener::bind(&endpoint.socket)
            .with_context(|| format!("listen on {}", endpoint.socket.display()))?;
        let wait_ms = (timeout + CLAUDE_TIMEOUT_MARGIN)
            .as_millis()
            .min(i32::MAX as u128) as u64;
        let config = json!({"mcpServers": {SERVER_NAME: {
            "type": "stdio",
            "command": exe,
            "args": ["mcp-permission", "--socket", endpoint.socket],
            "env": {TOKEN_ENV: endpoint.token.expose()},
            "timeout": wait_ms,
        }}});
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&endpoint.config)
            .with_context(|| format!("create {}", endpoint.config.display()))?;
        std::io::Write::write_all(&mut file, config.to_string().as_bytes())
            .with_context(|| format!("write {}", endpoint.config.display()))?;
        Ok((endpoint, listener))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded() {
        let mut r = tokio::io::BufReader::with_capacity(4, &b"ab\ncdefgh\nlast"[..]);
        assert_eq!(read_line(&mut r, 8).await.unwrap().unwrap(), b"ab");
        assert_eq!(read_line(&mut r, 8).await.unwrap().unwrap(), b"cdefgh");
        assert_eq!(read_line(&mut r, 8).await.unwrap().unwrap(), b"last");
        assert_eq!(read_line(&mut r, 8).await.unwrap(), None);
        let mut r = tokio::io::BufReader::new(&b"0123456789\n"[..]);
        assert!(read_line(&mut r, 8).await.is_err());
    }

    #[test]
    fn answers_have_the_shape_claude_reads() {
        let allow = Answer::Allow {
            updated_input: json!({"command": "ls"}),
        };
        assert_eq!(
            serde_json::to_value(&allow).unwrap(),
            json!({"behavior": "allow", "updatedInput": {"command": "ls"}})
        );
        let deny = Answer::Deny {
            message: "no".into(),
        };
        assert_eq!(
            serde_json::to_value(&deny).unwrap(),
            json!({"behavior": "deny", "message": "no"})
        );
        let ask = Ask {
            token: String::from("t0ken-value"),
            tool_name: "Bash".into(),
            input: json!({}),
            tool_use_id: None,
        };
        assert!(!format!("{ask:?}").contains("t0ken-value"));
    }

    #[tokio::test]
    async fn the_endpoint_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let (e, _listener) =
            Endpoint::create(Path::new("/bin/claude-runner"), Duration::from_secs(5)).unwrap();
        let dir = e.config.parent().unwrap().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&e.config)), (0o700, 0o600));
        let cfg: Value = serde_json::from_slice(&std::fs::read(&e.config).unwrap()).unwrap();
        let server = &cfg["mcpServers"][SERVER_NAME];
        assert_eq!(server["args"][2], e.socket.to_str().unwrap());
        assert_eq!(server["env"][TOKEN_ENV], e.token.expose());
        assert_eq!(server["timeout"], 65_000);
        assert!(PERMISSION_TOOL.ends_with(&format!("{SERVER_NAME}__{TOOL_NAME}")));
        drop(e);
        assert!(!dir.exists());
    }
}
