//! The build's git commit for `gateway --version` and `GET /api/version`, when there is one.
//!
//! `GATEWAY_BUILD_COMMIT` in the build's environment wins (a container or package build from a
//! tarball passes it). Otherwise `git` is asked, only if this crate's workspace is itself the top
//! of a git work tree (a tarball unpacked inside some other repository must not take that
//! repository's commit). No git, no repository, any failure: no commit, and the build goes on.

use std::path::Path;
use std::process::Command;

fn main() {
    // Without these, cargo would run this again whenever any file of the crate changes.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=GATEWAY_BUILD_COMMIT");
    let commit = std::env::var("GATEWAY_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(from_git);
    if let Some(commit) = commit {
        println!("cargo::rustc-env=GATEWAY_GIT_COMMIT={commit}");
    }
}

fn git(args: &[&str]) -> Option<String> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let out = Command::new("git")
        .arg("-C")
        .arg(&manifest)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn from_git() -> Option<String> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let workspace = Path::new(&manifest).parent()?.canonicalize().ok()?;
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != workspace {
        return None;
    }
    // Build again when HEAD moves: HEAD itself (a branch switch) and the branch's ref, loose or
    // packed (a commit).
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let common_dir = git(&["rev-parse", "--git-common-dir"])
        .map(|d| Path::new(&manifest).join(d))
        .unwrap_or_else(|| git_dir.clone().into());
    let mut watched = vec![
        Path::new(&git_dir).join("HEAD"),
        common_dir.join("packed-refs"),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(branch));
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}
