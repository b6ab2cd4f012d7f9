//! `claude-runner agent` processes for end-to-end tests: enrolled against a test [`Gateway`],
//! each in a data directory of its own, with the settings of `runner.env` but never its
//! `HMAC_SECRET`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Gateway, runner};

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    pub child: Child,
    pub name: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    /// Start an agent named `name` in `dir/<name>/` with `args` after `agent`; `env` is added to
    /// its environment (and so reaches its runs). Enrolls with a fresh token the first time.
    pub async fn start(
        gw: &Gateway,
        dir: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        let home = dir.join(name);
        let data_dir = home.join("data");
        std::fs::create_dir_all(&home).unwrap();
        let env_file = home.join("agent.env");
        let settings: String = std::fs::read_to_string(&gw.runner_env)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("HMAC_SECRET"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&env_file, settings).unwrap();
        let mut cmd = agent_command(&home, &env_file, &data_dir);
        cmd.args(["agent", "--heartbeat-secs", "1"]);
        if !data_dir.join("agent.json").exists() {
            let (status, v) = gw
                .admin_post("/api/agents/enrollments", serde_json::json!({}))
                .await;
            assert_eq!(status, 201, "{v}");
            cmd.args([
                "--enroll-token",
                v["token"].as_str().unwrap(),
                "--name",
                name,
            ]);
        }
        let log = home.join("agent.log");
        let child = cmd
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .expect("spawn the agent");
        Agent {
            child,
            name: name.into(),
            data_dir,
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The agent's exit code once it has exited, waiting at most `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// `claude-runner agent --drain` on this agent's data directory.
    pub fn drain(&self) -> std::process::Output {
        let home = self.data_dir.parent().unwrap();
        agent_command(home, &home.join("agent.env"), &self.data_dir)
            .args(["agent", "--drain"])
            .output()
            .unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_command(home: &Path, env_file: &Path, data_dir: &Path) -> Command {
    let mut cmd = runner(home);
    cmd.arg("--env-file")
        .arg(env_file)
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}
