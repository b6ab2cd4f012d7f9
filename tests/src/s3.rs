//! A real S3-compatible server for the artifact-store tests: `s3s-fs` from crates.io
//! (`cargo install s3s-fs --version 0.14.1 --features binary --locked`; `.ci/run` installs it),
//! started by the test itself on a loopback port over a temporary root directory, with
//! authentication on. Each bucket is a directory of the root, each object a file in it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The credentials the server is started with.
pub const ACCESS_KEY: &str = "e2e-access";
pub const SECRET_KEY: &str = "e2e-s3s-password-not-real";
/// The bucket every test uses.
pub const BUCKET: &str = "artifacts";

/// The `s3s-fs` binary: on `PATH` or in `~/.cargo/bin`; `None` (after a loud `SKIP` line on
/// stderr naming `test`) when it is not installed.
pub fn binary(test: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    let found = dirs
        .into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "SKIP {test}: s3s-fs is not installed, so the object-storage tests did not run \
             (cargo install s3s-fs --version 0.14.1 --features binary --locked; .ci/run does)"
        );
    }
    found
}

/// A running `s3s-fs`.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    binary: PathBuf,
    pub root: PathBuf,
    pub port: u16,
}

impl S3Server {
    /// Start over `root` (created, with the bucket) on any free loopback port, and wait until
    /// it says it listens.
    pub fn start(binary: &Path, root: &Path) -> Self {
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket directory");
        Self::launch(binary, root, 0)
    }

    fn launch(binary: &Path, root: &Path, port: u16) -> Self {
        let mut child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => panic!("s3s-fs exited before it listened"),
            };
            if let Some(rest) = line.split("server is running at http://").nth(1) {
                break rest
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port in s3s-fs's banner");
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            binary: binary.to_path_buf(),
            root: root.to_path_buf(),
            port,
        }
    }

    /// Kill it (SIGKILL): the server goes away mid-request.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again over the same root on the same port, after [`Self::kill`].
    pub fn restart(&mut self) {
        let again = Self::launch(&self.binary, &self.root, self.port);
        let old = std::mem::replace(self, again);
        drop(old);
    }

    /// The gateway's environment for this server: `ARTIFACT_STORE` with `prefix` and the AWS
    /// variables.
    pub fn env(&self, prefix: &str) -> Vec<(String, String)> {
        [
            ("ARTIFACT_STORE", format!("s3://{BUCKET}/{prefix}")),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The objects in the bucket (files under its directory), as keys, sorted.
    pub fn objects(&self) -> Vec<String> {
        let bucket = self.root.join(BUCKET);
        let mut keys = Vec::new();
        let mut dirs = vec![bucket.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(key) = path.strip_prefix(&bucket) {
                    keys.push(key.to_string_lossy().into_owned());
                }
            }
        }
        keys.sort();
        keys
    }

    /// Whether a multipart upload has parts on the server (its files in the root).
    pub fn has_upload_parts(&self) -> bool {
        std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".upload_id-"))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
