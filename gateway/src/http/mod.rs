//! Request helpers every handler shares, below the handlers: bodies read within limits and slots,
//! JSON with the error shape, the run a path names, attachments, the client's address behind
//! trusted proxies, and the security headers every answer carries. Nothing here knows a route;
//! handlers (`crate::routes`) call it, never the other way round.

pub mod attachment;
pub mod body;
pub mod client;
pub mod compress;
pub mod edge;
pub mod headers;
pub mod paths;

pub use attachment::attachment;
pub use body::BodySlots;
pub(crate) use body::{parse_json, read_body, take_slot};
pub use client::TrustedProxies;
pub use paths::{run_id, stored_run};
