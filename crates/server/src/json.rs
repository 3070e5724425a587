//! Reading request bodies: UTF-8 first, then JSON, then the request's own type, each failure a
//! 4xx that says where the body is wrong.

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON body into `T`; unknown fields are refused where `T` says so.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("the body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "the request needs a JSON body",
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let mut field = if path == "." { String::new() } else { path };
                // A missing or unknown field is named by the message, not the path.
                if let Some(name) = ["missing field `", "unknown field `"]
                    .iter()
                    .find_map(|p| message.strip_prefix(p))
                    .and_then(|rest| rest.split('`').next())
                {
                    if !field.ends_with(name) {
                        field = match field.is_empty() {
                            true => name.to_owned(),
                            false => format!("{field}.{name}"),
                        };
                    }
                }
                ApiError::invalid(field, message)
            }
            _ => ApiError::bad_request("malformed_json", format!("malformed JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request("malformed_json", format!("malformed JSON: {e}")))?;
    Ok(value)
}
