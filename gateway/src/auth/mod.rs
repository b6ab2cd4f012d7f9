//! Who may call what. Runners sign their requests (`runner.rs`: headers, window, key; then the
//! signature over the bytes received), and the extractor [`Signed`] is the only way a handler of
//! a signed route gets its caller and body (`signed.rs`); every verified nonce is recorded once
//! (`replay.rs`). People and scripts present a token or a session cookie: a handler of their
//! routes takes [`Authorized<R>`], whose requirement `R` says who may call it (`people.rs`);
//! tokens are a person's, scoped, kept as hashes (`tokens.rs`).

pub mod people;
pub mod replay;
pub mod run_keys;
pub mod runner;
pub mod signed;
pub mod tokens;

pub use crate::store::Role;
pub use people::{
    API_TOKEN_PREFIX, AdminOnly, Approve, Authorized, CreateRuns, ManageTokens, OperateRuns,
    Principal, ReadMetrics, ReadRuns, Requirement, SignedIn,
};
pub use runner::Caller;
pub use signed::{BodyKind, Key, Signed, SignedRoute, SignedUpload};
pub use tokens::{ADMIN_TOKEN_ID, Scope, Scopes, token_hash};
