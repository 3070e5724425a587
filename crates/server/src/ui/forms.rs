//! Form bodies: `application/x-www-form-urlencoded` pairs, the CSRF check every state-changing
//! form passes first (a refusal is logged as `access.denied`), and the errors shown beside
//! the fields they name.

use axum::body::Bytes;
use axum::http::StatusCode;
use maud::{html, Markup};
use std::collections::BTreeMap;

use super::layout::UiError;
use super::session::{same_token, Viewer};
use crate::error::ApiError;
use crate::state::Shared;

/// A submitted form's fields, in order.
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn parse(body: &Bytes) -> Form {
        Form {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` as sent (not trimmed), or empty.
    pub fn raw(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Parses a state-changing form and checks its CSRF token against the viewer's session.
pub async fn checked(state: &Shared, viewer: &Viewer, body: &Bytes) -> Result<Form, UiError> {
    let form = Form::parse(body);
    let sent = form.get("csrf").unwrap_or_default();
    if same_token(sent, &viewer.csrf) {
        return Ok(form);
    }
    let refusal = ApiError::forbidden(
        "csrf",
        "the form's security token is missing or wrong; reload the page and submit it again",
    );
    let refusal = viewer.who.deny(state, refusal).await;
    Err(UiError::new(
        StatusCode::FORBIDDEN,
        refusal.code,
        refusal.message,
    ))
}

/// Errors by field name, shown beside each field; `""` holds the form's own error.
#[derive(Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An API error placed beside its field (`field` as the API names it, mapped through
    /// `fields`: API name to form name), or at the top of the form.
    pub fn from_api(e: &ApiError, fields: &[(&str, &str)]) -> FieldErrors {
        let mut errors = FieldErrors::default();
        let target = e.field.as_deref().and_then(|f| {
            fields
                .iter()
                .find(|(api, _)| f == *api || f.starts_with(&format!("{api}/")))
                .map(|(_, form)| *form)
        });
        let message = match &e.field {
            Some(f) if target.is_some() && f.contains('/') => format!("{}: {}", f, e.message),
            _ => e.message.clone(),
        };
        errors.add(target.unwrap_or(""), message);
        errors
    }

    /// The error beside field `name`, with the id its input names in `aria-describedby`.
    pub fn beside(&self, name: &str) -> Markup {
        html! {
            @if let Some(m) = self.0.get(name) {
                span.field-error id=(format!("{name}-error")) role="alert" { (m) }
            }
        }
    }

    /// The form's own error (not about one field), at the top.
    pub fn top(&self) -> Markup {
        self.beside("")
    }

    /// `aria-invalid` for field `name`.
    pub fn invalid(&self, name: &str) -> Option<&'static str> {
        self.0.contains_key(name).then_some("true")
    }

    /// `aria-describedby` for field `name` when it has an error.
    pub fn described(&self, name: &str) -> Option<String> {
        self.0.contains_key(name).then(|| format!("{name}-error"))
    }
}

/// A labelled text input with its error beside it.
pub fn text_field(
    errors: &FieldErrors,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    required: bool,
) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) value=(value) required[required]
                aria-invalid=[errors.invalid(name)] aria-describedby=[errors.described(name)];
            (errors.beside(name))
        }
    }
}

/// A labelled textarea with its error beside it.
pub fn text_area(
    errors: &FieldErrors,
    name: &str,
    label: &str,
    value: &str,
    rows: u32,
    required: bool,
) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            textarea id=(name) name=(name) rows=(rows) required[required]
                aria-invalid=[errors.invalid(name)] aria-describedby=[errors.described(name)] { (value) }
            (errors.beside(name))
        }
    }
}

/// The hidden CSRF field.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}
