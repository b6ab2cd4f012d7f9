//! claude-runner: runs the Claude Code CLI, redacts its output, streams it to a gateway.
//!
//! `main.rs` parses the command line and calls [`start::run`], [`connection::check`] or prints
//! [`config::Settings::report`]. The data path of `start` is child → [`pipeline::read_stream`]
//! (redact, frame) → [`pipeline::sequence`] (number, `claude.log`, [`spool`] on disk) →
//! [`pipeline::send_loop`] (signed batches read back from the spool). [`flush`] delivers a spool
//! left behind.

pub mod agent;
pub mod allowlist;
pub mod archive;
pub mod artifacts;
pub mod assist;
pub mod child;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod connection;
pub mod delivery;
pub mod exit;
pub mod flush;
pub mod frame;
pub mod git;
pub mod host;
pub mod outbox;
pub mod permission;
pub mod pipeline;
pub mod reaper;
pub mod session;
pub mod spool;
pub mod start;
pub mod tls;
pub mod workspace;
