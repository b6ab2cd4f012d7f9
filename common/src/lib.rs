//! Shared by `claude-runner` and `gateway`: wire types, request signing, the secret redactor and
//! configuration helpers.
//!
//! This crate is pure on purpose: no async runtime, no sockets, no files. Everything here is a
//! function of its inputs, so both binaries (and a runner written in another language, through
//! `PROTOCOL.md`) agree on exactly the same bytes.

pub mod agents;
pub mod canonical;
pub mod claude;
pub mod digest;
pub mod redact;
pub mod secret;
pub mod settings;
pub mod sign;
pub mod terminal;
pub mod wire;

pub use secret::Secret;
