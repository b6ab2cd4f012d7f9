//! A real load balancer in front of gateway replicas: Debian's HAProxy in TCP mode, TLS passed
//! through to the replicas (which serve one certificate), its configuration written here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it.
pub const HAPROXY: &str = "/usr/sbin/haproxy";

/// A running HAProxy, killed on drop.
#[derive(Debug)]
pub struct Haproxy {
    child: Child,
    pub port: u16,
    pub config: PathBuf,
}

impl Haproxy {
    /// `None` when HAProxy is not installed.
    pub fn installed() -> bool {
        Path::new(HAPROXY).exists()
    }

    /// Balance TCP connections on a free loopback port over `backends` (ports on 127.0.0.1)
    /// with HAProxy's `balance` algorithm `balance` (`first`: every new connection goes to the
    /// first replica that is up, so killing it moves every client to the next; `roundrobin`:
    /// connections spread). Health checks every 200 ms take a dead replica out after one
    /// failure.
    pub fn start(dir: &Path, backends: &[u16], balance: &str) -> Self {
        let port = free_port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(n, p)| {
                format!("    server r{n} 127.0.0.1:{p} check inter 200ms fall 1 rise 2\n")
            })
            .collect();
        let config = dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n    maxconn 4096\n\
                 defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 120s\n    \
                 timeout server 120s\n    retries 3\n    option redispatch\n\
                 frontend gateways\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
                 backend replicas\n    balance {balance}\n{servers}"
            ),
        )
        .expect("write haproxy.cfg");
        let log = std::fs::File::create(dir.join("haproxy.log")).expect("haproxy log");
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn haproxy");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "haproxy did not listen within 10 s: {}",
                std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            config,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
