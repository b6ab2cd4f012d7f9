//! Who may call what. Runners sign their requests (`runner.rs`: headers, window, key; then the
//! signature over the bytes received), and the extractor [`Signed`] is the only way a handler of
//! a signed route gets its caller and body (`signed.rs`); every verified nonce is recorded once
//! (`replay.rs`). People and scripts present the admin token or a session cookie (`people.rs`),
//! kept as hashes (`tokens.rs`).

pub mod people;
pub mod replay;
pub mod runner;
pub mod signed;
pub mod tokens;

pub use people::require_admin;
pub use runner::Caller;
pub use signed::{BodyKind, Key, Signed, SignedRoute};
pub use tokens::token_hash;
