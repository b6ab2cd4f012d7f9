//! Artifacts: the runner uploads redacted files (signed, size-limited); people list and download
//! them as attachments that a browser will neither render nor sniff.
//!
//! Names are untrusted: they are checked to be plain file names with an allowed ending and only
//! ever used as keys in the [`crate::store::Store`], never as paths.

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::sign::AuthReason;
use common::wire::{self, ArtifactInfo};
use serde::Deserialize;

use crate::auth::{Authorized, BodyKind, Key, ReadRuns, SignedRoute, SignedUpload};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// The endings an artifact name may have.
pub const ALLOWED_ENDINGS: &[&str] = &[".log", ".txt", ".json", ".diff", ".patch", ".md"];
/// Longest artifact name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// The artifact routes, merged into [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/ingest/artifact", post(upload))
        .route("/api/runs/{id}/artifacts", get(list))
        .route("/api/runs/{id}/artifacts/{name}", get(download))
}

/// Check that `name` is a plain file name with an allowed ending; the error says what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the artifact name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the artifact name is longer than {MAX_NAME_BYTES} bytes"
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(format!(
            "the artifact name {name:?} contains a path separator; send a plain file name"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the artifact name contains a control character".into());
    }
    if name.starts_with('.') {
        return Err(format!(
            "the artifact name {name:?} starts with a dot; send a plain file name"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the artifact name {name:?} contains {c:?}; use letters, digits, '.', '_' and '-'"
        ));
    }
    if !ALLOWED_ENDINGS.iter().any(|e| name.ends_with(e)) {
        return Err(format!(
            "the artifact name {name:?} does not end in one of {}",
            ALLOWED_ENDINGS.join(" ")
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    run_id: Option<String>,
    name: Option<String>,
}

/// `POST /api/ingest/artifact?run_id=&name=`: signed with the run's key; the name and the run
/// in the query are checked before the body is read.
#[derive(Debug)]
struct Upload;

impl SignedRoute for Upload {
    const KEY: Key = Key::Run;
    // Read as a stream by `SignedUpload`, not by the extractor.
    const BODY: BodyKind = BodyKind::Empty;

    fn precheck(parts: &Parts, run: Option<&str>) -> Result<(), ApiError> {
        let q = upload_query(parts)?;
        check_name(&q.name.unwrap_or_default())
            .map_err(|m| ApiError::bad_request("invalid_name", m))?;
        if q.run_id.as_deref() != run {
            return Err(ApiError::bad_request(
                "run_mismatch",
                "run_id in the query differs from X-Runner-Run",
            ));
        }
        Ok(())
    }
}

fn upload_query(parts: &Parts) -> Result<UploadQuery, ApiError> {
    Query::<UploadQuery>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))
}

/// Runner: `POST /api/ingest/artifact?run_id=&name=`, the raw (already redacted) bytes, read
/// as a stream into the artifact bodies' place (`crate::artifacts`) and kept only once the
/// signature over their hash verified.
async fn upload(
    State(state): State<AppState>,
    Query(q): Query<UploadQuery>,
    mut signed: SignedUpload<Upload>,
) -> Result<(StatusCode, Json<ArtifactInfo>), ApiError> {
    let run_id = signed
        .run_id()
        .ok_or(ApiError::Unauthorized(AuthReason::UnknownRun))?
        .to_string();
    let name = q.name.unwrap_or_default();
    let received = state
        .artifact_bodies
        .receive(
            signed.take_body(),
            state.limits.max_artifact_bytes,
            &run_id,
            &name,
        )
        .await?;
    let _slot = match signed.verify(&state, &received.sha256).await {
        Ok(slot) => slot,
        Err(e) => {
            received.discard().await;
            return Err(e);
        }
    };
    let info = received
        .keep(state.store.as_ref(), run_id.clone(), name, now_ms())
        .await?;
    tracing::info!(run = %run_id, artifact = %info.name, size = info.size, "artifact stored");
    Ok((StatusCode::CREATED, Json(info)))
}

/// Admin: `GET /api/runs/:id/artifacts`, the run's artifacts by name.
async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<Vec<ArtifactInfo>>, ApiError> {
    crate::http::stored_run(state.store.as_ref(), &id).await?;
    Ok(Json(state.store.list_artifacts(id).await?))
}

/// Admin: `GET /api/runs/:id/artifacts/:name`, the bytes as an attachment.
async fn download(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    if !wire::valid_run_id(&id) || check_name(&name).is_err() {
        return Err(ApiError::NotFound("no such artifact"));
    }
    let (info, body) = state
        .artifact_bodies
        .open(state.store.as_ref(), id, name)
        .await?
        .ok_or(ApiError::NotFound("no such artifact"))?;
    let content_type = if info.name.ends_with(".json") {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut resp = crate::http::attachment(body, content_type, &info.name)?;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.sha256) {
        h.insert("x-artifact-sha256", v);
    }
    // A streamed body that breaks off short of this is seen as cut, not as the whole artifact.
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "claude.log",
            "latest.diff",
            "a.txt",
            "r.json",
            "x.patch",
            "README.md",
            "a..b.log",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("../x.log", "separator"),
            ("/etc/passwd.log", "separator"),
            ("a\\b.log", "separator"),
            ("a\nb.log", "control"),
            ("..log", "dot"),
            (".log", "dot"),
            ("x.exe", "does not end"),
            ("x.log.exe", "does not end"),
            ("x log.txt", "contains ' '"),
            ("x\"y.txt", "contains"),
            ("é.txt", "contains"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(check_name(&format!("{}.log", "a".repeat(200))).is_err());
    }
}
