//! A run's Claude transcript, derived from its stored events by `common::claude` (the one module
//! that knows Claude's stream-json). Served as JSON and as downloads by `routes/transcript.rs`.

use common::claude::Transcript;

use crate::error::ApiError;
use crate::store::Store;

/// Events read per store call while building a transcript.
const PAGE: usize = 5_000;

/// Read every event of a run and build its transcript; `404 no such run` for a run that does
/// not exist.
pub async fn build(store: &dyn Store, run_id: &str) -> Result<Transcript, ApiError> {
    crate::http::stored_run(store, run_id).await?;
    let mut transcript = Transcript::default();
    let mut after = 0;
    loop {
        let events = store.events(run_id.to_string(), after, PAGE).await?;
        let Some(last) = events.last() else { break };
        after = last.sequence;
        for e in &events {
            transcript.push_event(&e.parsed());
        }
        if events.len() < PAGE {
            break;
        }
    }
    Ok(transcript)
}
