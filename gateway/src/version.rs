//! What this build is: its release and, when the build knew it, its git commit (`build.rs`).

use std::sync::OnceLock;

/// The release, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from: `GATEWAY_BUILD_COMMIT` at build time, else the
/// work tree's `HEAD`; `None` when built from a tarball without one.
pub const COMMIT: Option<&str> = option_env!("GATEWAY_GIT_COMMIT");

/// `0.1.0 (commit 1a2b3c4d5e6f)`, or the release alone; what `gateway --version` prints.
pub fn describe() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| match COMMIT {
        Some(commit) => format!("{VERSION} (commit {commit})"),
        None => VERSION.to_string(),
    })
}
