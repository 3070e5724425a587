//! The one error shape every endpoint answers with: `{"error": {"code", "message", "field"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error as the client sees it. Messages name the problem and never carry a secret.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Structured detail for errors that carry a list, such as a refused release's unmet
    /// conditions.
    pub details: Option<serde_json::Value>,
}

/// The body of every error response.
// The OpenAPI document's `ErrorBody` schema is derived from this very type, so the two cannot
// differ.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct Body<'a> {
    error: Inner<'a>,
}

/// The name the OpenAPI annotations use for [`Body`].
pub(crate) type ErrorBody = Body<'static>;

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(crate) struct Inner<'a> {
    /// A stable, machine-readable code such as `invalid`, `not_found` or `stale_version`.
    code: &'a str,
    /// What is wrong, for people; never carries a secret.
    message: &'a str,
    /// The request field at fault (a JSON path for nested fields), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<&'a str>,
    /// Structured detail where the error carries a list: a refused release's `unmet`
    /// conditions, each naming the record or signature missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// A failure of ours: the detail goes to the log, the client gets a plain message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; the log is unchanged unless a sequence \
             number was returned",
        )
    }

    pub fn unavailable(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "the log is unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the log cannot be written just now; try again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                details: self.details.as_ref(),
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<modeltrail_store::AppendError> for ApiError {
    fn from(e: modeltrail_store::AppendError) -> ApiError {
        use modeltrail_store::AppendError::*;
        match e {
            Conflict { record, problem } => ApiError::conflict(
                "stale_version",
                format!("record {record} {problem}; read it again and retry"),
            ),
            Invalid { source, .. } => ApiError::invalid("", source.to_string()),
            Empty => ApiError::bad_request("empty", "nothing to append"),
            Unavailable(detail) => ApiError::unavailable(detail),
            Closed => ApiError::unavailable("the sequencer has stopped"),
        }
    }
}

impl From<modeltrail_store::StoreError> for ApiError {
    fn from(e: modeltrail_store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}
