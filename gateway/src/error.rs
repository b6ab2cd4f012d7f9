//! The error boundary: every failure becomes a JSON answer with a stable code; internal causes
//! are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::sign::AuthReason;
use common::wire::{ErrorBody, GapError, GapTag};

use crate::store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    /// 401 with the reason code of a refused signature or credential.
    Unauthorized(AuthReason),
    /// 401 for the admin API: missing or wrong admin token.
    AdminRequired,
    /// 401 for an API token that exists but is refused: `token_expired`, `token_revoked`,
    /// `person_disabled` (its person was disabled or removed).
    TokenRefused {
        reason: &'static str,
        message: &'static str,
    },
    /// 401 from the web UI's sign-in: the password was wrong.
    BadPassword,
    /// 401 from the web UI: no live session.
    SignedOut,
    /// 403 with a reason code (`cross_site`, `csrf`) and a sentence.
    Forbidden {
        reason: &'static str,
        message: &'static str,
    },
    /// 429: too many failed sign-ins; try again after `retry_after` seconds.
    RateLimited { retry_after: u64 },
    /// 400 with a machine-readable code and a sentence.
    BadRequest { code: &'static str, message: String },
    /// 404.
    NotFound(&'static str),
    /// 409: the batch would leave a gap; resend from `expected`.
    Gap { expected: u64 },
    /// 408: the client took longer than the read timeout to send its body.
    BodyTimeout,
    /// 413: the body is larger than `limit` bytes.
    TooLarge { limit: usize },
    /// 503: a bounded resource is full (`reason` names it); try again after `retry_after`
    /// seconds.
    Busy {
        reason: &'static str,
        message: String,
        retry_after: u64,
    },
    /// 500: the cause is logged, the client gets a generic sentence.
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("no such run"),
            StoreError::Gap { expected } => ApiError::Gap { expected },
            StoreError::RunFinished => ApiError::Unauthorized(AuthReason::RunFinished),
            StoreError::Replayed => ApiError::Unauthorized(AuthReason::ReplayedNonce),
            StoreError::Conflict => ApiError::bad_request("conflict", "already exists"),
            StoreError::Invalid(why) => ApiError::bad_request("invalid_event", why),
            StoreError::Backend(cause) => ApiError::Internal(cause),
        }
    }
}

fn body(error: &str, reason: Option<&str>, message: String) -> axum::Json<ErrorBody> {
    axum::Json(ErrorBody {
        error: error.to_string(),
        reason: reason.map(String::from),
        message,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthorized(reason) => refusal(reason.code(), &reason.to_string()),
            ApiError::AdminRequired => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    body(
                        "unauthorized",
                        Some("admin_required"),
                        "send the admin token as Authorization: Bearer <token>".into(),
                    ),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r.extensions_mut()
                    .insert(crate::metrics::Refusal("admin_required"));
                r
            }
            ApiError::TokenRefused { reason, message } => {
                let mut r = refusal(reason, message);
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            ApiError::BadPassword => refusal("bad_password", "wrong password"),
            ApiError::SignedOut => refusal("signed_out", "sign in first"),
            ApiError::Forbidden { reason, message } => (
                StatusCode::FORBIDDEN,
                body("forbidden", Some(reason), message.into()),
            )
                .into_response(),
            ApiError::RateLimited { retry_after } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    body(
                        "rate_limited",
                        Some("too_many_attempts"),
                        "too many sign-in attempts; wait a minute".into(),
                    ),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            ApiError::BadRequest { code, message } => (
                StatusCode::BAD_REQUEST,
                body("bad_request", Some(code), message),
            )
                .into_response(),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                body("not_found", None, what.to_string()),
            )
                .into_response(),
            ApiError::Gap { expected } => (
                StatusCode::CONFLICT,
                axum::Json(GapError {
                    error: GapTag::SequenceGap,
                    expected,
                }),
            )
                .into_response(),
            ApiError::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                body(
                    "request_timeout",
                    None,
                    "the body took too long to arrive".into(),
                ),
            )
                .into_response(),
            ApiError::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body(
                    "payload_too_large",
                    None,
                    format!("the body exceeds {limit} bytes"),
                ),
            )
                .into_response(),
            ApiError::Busy {
                reason,
                message,
                retry_after,
            } => {
                let mut r = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body("busy", Some(reason), message),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                let mut r = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    body(
                        "internal",
                        None,
                        "internal error; see the gateway log".into(),
                    ),
                )
                    .into_response();
                r.extensions_mut().insert(crate::metrics::InternalError);
                r
            }
        }
    }
}

/// A 401 counted under `reason` by the metrics.
fn refusal(reason: &'static str, message: &str) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        body("unauthorized", Some(reason), message.into()),
    )
        .into_response();
    r.extensions_mut().insert(crate::metrics::Refusal(reason));
    r
}

/// Axum's own extractor rejections (a malformed `?query`, a bad path segment, a wrong content
/// type) answer in plain text; give them the JSON error shape of every other answer.
pub async fn json_rejections(resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if !plain || !(status.is_client_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message: String = String::from_utf8_lossy(&text).chars().take(300).collect();
    let json = serde_json::to_vec(&ErrorBody {
        error: if status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "bad_request"
        }
        .into(),
        reason: Some("invalid_request".into()),
        message,
    })
    .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}
