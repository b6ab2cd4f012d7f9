//! The shipped examples in `dist/`: the systemd unit passes `systemd-analyze verify` (with the
//! binary of this build as its `ExecStart`) and keeps its sandboxing; the container image builds
//! with a Rust at least the workspace's `rust-version` and sets only settings the gateway reads.
//! (No container engine runs here, so the image itself is not built by the tests.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

/// The values of `key=` lines of a unit or Containerfile-ish text.
fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_systemd_unit_is_sandboxed_and_verifies() {
    let unit = read("dist/gateway.service");
    for (key, want) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("StateDirectory", "claude-gateway"),
        ("StateDirectoryMode", "0700"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(values(&unit, key), [want], "{key}");
    }
    assert!(
        values(&unit, "Environment").contains(&"GATEWAY_DATA_DIR=/var/lib/claude-gateway"),
        "the data directory is the state directory, the one place it may write"
    );
    let example = read(".env.example");
    for env in values(&unit, "Environment") {
        let name = env.split('=').next().unwrap();
        assert!(
            example.contains(&format!("{name}=")),
            "{name} is a setting the gateway reads"
        );
    }

    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!(
            "SKIPPED: systemd-analyze is not installed; the unit was only read, not verified"
        );
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude-gateway.service");
    let ours = unit.replace(
        "ExecStart=/usr/local/bin/gateway",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_gateway")),
    );
    assert_ne!(ours, unit, "the unit starts /usr/local/bin/gateway");
    std::fs::write(&path, ours).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on a directive it cannot parse, with a warning: any line about our unit fails.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("claude-gateway"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}

#[test]
fn the_container_image_uses_a_rust_the_workspace_accepts() {
    let file = read("dist/Containerfile");
    let manifest = read("Cargo.toml");
    let wanted = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let image = file
        .lines()
        .find_map(|l| l.strip_prefix("FROM docker.io/library/rust:"))
        .expect("a Rust build stage");
    let version = image.split('-').next().unwrap();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(parse(version) >= parse(wanted), "rust:{version} < {wanted}");
    assert!(
        file.contains("USER gateway"),
        "the gateway does not run as root"
    );
    let example = read(".env.example");
    for name in ["GATEWAY_DATA_DIR", "GATEWAY_LISTEN"] {
        assert!(file.contains(&format!("{name}=")) && example.contains(&format!("{name}=")));
    }
    assert!(
        read(".dockerignore").lines().any(|l| l == "target"),
        "the build context leaves out target/"
    );
}
