//! The types of the store's agent calls: enrolled agents, the queue of runs and what a claim
//! hands out. The rules a backend applies (who may take which run) are `common::agents::admits`
//! and [`claimable`]; each backend runs them inside its claim transaction.

use std::fmt;

use common::agents::{AgentProfile, AgentSummary, RunRequest};

use super::NewRun;

/// An agent to store at enrollment.
#[derive(Clone)]
pub struct NewAgent {
    pub id: String,
    pub name: String,
    /// The agent's own signing key.
    pub key: [u8; 32],
    pub profile: AgentProfile,
    /// Unix ms; also when the enrollment token is checked for expiry.
    pub created_at: i64,
}

impl fmt::Debug for NewAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAgent")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key", &"********")
            .field("profile", &self.profile)
            .finish()
    }
}

/// A stored agent with its signing key.
#[derive(Clone, PartialEq)]
pub struct AgentRecord {
    pub summary: AgentSummary,
    pub key: [u8; 32],
}

impl fmt::Debug for AgentRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRecord")
            .field("summary", &self.summary)
            .field("key", &"********")
            .finish()
    }
}

/// A run to queue: the run (stored in status `queued`) and what it asks of an agent.
#[derive(Debug)]
pub struct QueuedRun {
    pub run: NewRun,
    pub request: RunRequest,
}

/// A queued run an agent has taken: now `pending` and assigned to it.
#[derive(Clone, PartialEq)]
pub struct Claimed {
    pub run_id: String,
    pub name: Option<String>,
    pub key: [u8; 32],
    pub request: RunRequest,
}

impl fmt::Debug for Claimed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claimed")
            .field("run_id", &self.run_id)
            .field("key", &"********")
            .field("request", &self.request)
            .finish()
    }
}

/// Whether an agent may take a run now at all, before any run is looked at: enrolled, not
/// revoked, online, neither draining nor asked to drain, and with a free slot.
pub fn claimable(agent: &AgentSummary) -> bool {
    !agent.revoked
        && agent.online
        && !agent.profile.draining
        && !agent.drain_requested
        && agent.running < agent.profile.capacity
}
