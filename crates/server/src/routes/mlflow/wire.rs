//! MLflow's wire format: the error body `{"error_code", "message"}` with the HTTP status MLflow
//! gives each code, request bodies read as MLflow's JSON (unknown fields ignored, as protobuf's
//! JSON reader does), GET parameters from the query string (repeated keys for lists), and
//! numbers as MLflow's client reads them (int64 as JSON numbers, NaN and infinities as strings).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::ApiError;

/// An error as an MLflow client reads it.
#[derive(Debug)]
pub struct MlflowError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl MlflowError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        MlflowError {
            status,
            code,
            message: message.into(),
        }
    }

    /// `INVALID_PARAMETER_VALUE` (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// `RESOURCE_DOES_NOT_EXIST` (404).
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// `RESOURCE_ALREADY_EXISTS` (400, as MLflow answers it).
    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
    }

    /// `BAD_REQUEST` (400): the body is not JSON.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// `RESOURCE_CONFLICT` (409): refused by the state of something else, such as the gate.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "RESOURCE_CONFLICT", message)
    }

    /// `ENDPOINT_NOT_FOUND` (404): a path this server does not serve.
    pub fn no_endpoint() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            "no such endpoint on this server",
        )
    }

    /// The MLflow form of a framework refusal or of the REST API's error.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "RESOURCE_DOES_NOT_EXIST",
            405 => "BAD_REQUEST",
            409 => "RESOURCE_CONFLICT",
            413 => "REQUEST_LIMIT_EXCEEDED",
            400 | 415 | 422 => "INVALID_PARAMETER_VALUE",
            503 => "TEMPORARILY_UNAVAILABLE",
            s if s >= 500 => "INTERNAL_ERROR",
            _ => "BAD_REQUEST",
        };
        let status = match status.as_u16() {
            415 | 422 => StatusCode::BAD_REQUEST,
            _ => status,
        };
        Self::new(status, code, message)
    }
}

impl From<ApiError> for MlflowError {
    fn from(e: ApiError) -> Self {
        MlflowError::from_status(e.status, e.message)
    }
}

impl From<modeltrail_store::AppendError> for MlflowError {
    fn from(e: modeltrail_store::AppendError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<modeltrail_store::StoreError> for MlflowError {
    fn from(e: modeltrail_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The body of every MLflow API error, as MLflow's server writes it.
// The OpenAPI document's `MlflowErrorBody` schema is derived from this very type.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct MlflowErrorBody<'a> {
    /// MLflow's error code, such as `RESOURCE_DOES_NOT_EXIST` or `INVALID_PARAMETER_VALUE`.
    error_code: &'a str,
    /// What is wrong, for people; never carries a secret.
    message: &'a str,
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let body = MlflowErrorBody {
            error_code: self.code,
            message: &self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type Answer = Result<axum::Json<Value>, MlflowError>;

/// Reads a JSON request body as MLflow's server does: fields the request does not know are
/// ignored, an empty body is an empty message.
pub fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, MlflowError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| MlflowError::malformed("the body is not valid UTF-8"))?;
    let text = match text.trim() {
        "" => "{}",
        t => t,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| MlflowError::malformed(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(MlflowError::malformed("the body must be a JSON object"));
    }
    message(value)
}

/// Reads a request message from a JSON object (a body, or the query's parameters). A field of
/// the wrong type is refused as MLflow words it: `Invalid value <json> for parameter '<name>'
/// supplied`.
pub fn message<T: DeserializeOwned>(value: Value) -> Result<T, MlflowError> {
    serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let path = e.path().to_string();
        let top = path.split(['.', '[']).next().unwrap_or_default();
        match value.get(top) {
            Some(v) if !top.is_empty() && !v.is_null() => invalid_value(top, v),
            _ if !top.is_empty() => {
                MlflowError::invalid(format!("Missing value for required parameter '{top}'."))
            }
            _ => MlflowError::invalid(e.into_inner().to_string()),
        }
    })
}

/// MLflow's refusal of a parameter's value.
pub fn invalid_value(name: &str, value: &Value) -> MlflowError {
    let shown = serde_json::to_string(value).unwrap_or_default();
    MlflowError::invalid(format!(
        "Invalid value {shown} for parameter '{name}' supplied"
    ))
}

/// The query string's parameters as a JSON object: a key given more than once is a list,
/// digits stay strings (each request type says what it wants).
pub fn query_object(pairs: &[(String, String)], lists: &[&str]) -> Value {
    let mut object = serde_json::Map::new();
    for (key, value) in pairs {
        let value = Value::String(value.clone());
        if lists.contains(&key.as_str()) {
            match object
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(value),
                other => *other = Value::Array(vec![value]),
            }
        } else {
            object.insert(key.clone(), value);
        }
    }
    Value::Object(object)
}

/// Reads a GET request's parameters; `lists` names the repeated ones.
pub fn query<T: DeserializeOwned>(
    pairs: &[(String, String)],
    lists: &[&str],
) -> Result<T, MlflowError> {
    message(query_object(pairs, lists))
}

/// A required string field: MLflow's "Missing value for required parameter".
pub fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, MlflowError> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(MlflowError::invalid(format!(
            "Missing value for required parameter '{name}'."
        ))),
    }
}

/// An integer that may come as a JSON number or a string (protobuf's JSON allows both for
/// int64, and query strings have only strings).
pub mod int64 {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(i64),
        F(f64),
        S(String),
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::N(n)) => Ok(Some(n)),
            Some(Either::F(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
            Some(Either::F(_)) => Err(serde::de::Error::custom("not an integer")),
            Some(Either::S(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("not an integer: {s:?}"))),
        }
    }
}

/// A boolean that may come as JSON or as the text of a query parameter.
pub mod boolean {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        B(bool),
        S(String),
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::B(b)) => Ok(Some(b)),
            Some(Either::S(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(serde::de::Error::custom(format!("not a boolean: {s:?}"))),
            },
        }
    }
}

/// A list of key/value pairs as MLflow writes params and tags.
pub fn key_values<'a>(items: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}
