//! The run a request path names: checked to be a run id before it is looked up, so a malformed
//! segment (`..%2Fx`, a 10 KB string) answers 404 without reaching the store.

use common::wire;

use crate::error::ApiError;
use crate::store::{RunRecord, Store};

/// A run id from a path: well-formed, else `404 no such run`.
pub fn run_id(id: &str) -> Result<(), ApiError> {
    if wire::valid_run_id(id) {
        Ok(())
    } else {
        Err(ApiError::NotFound("no such run"))
    }
}

/// The stored run a path names; `404 no such run` when the id is malformed or nothing is stored
/// under it.
pub async fn stored_run(store: &dyn Store, id: &str) -> Result<RunRecord, ApiError> {
    run_id(id)?;
    store
        .run(id.to_string())
        .await?
        .ok_or(ApiError::NotFound("no such run"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_ids_pass() {
        assert!(run_id("r_abcDEF123").is_ok());
        for bad in ["", "../x", "r_a/b", "x".repeat(200).as_str()] {
            assert!(
                matches!(run_id(bad), Err(ApiError::NotFound("no such run"))),
                "{bad:?}"
            );
        }
    }
}
