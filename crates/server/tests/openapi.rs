//! The OpenAPI document through the real server: it is OpenAPI 3 JSON, it needs a token like the
//! rest of the API, its error schema is the one error shape, and every operation it documents is
//! answered by a real route with a status the document lists.

mod common;

use common::{server, Backend, TestServer};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DOCUMENT: &str = "/api/v1/openapi.json";

/// The document as the server serves it to `token`.
async fn document(s: &TestServer, token: &str) -> Value {
    let response = s
        .http
        .get(format!("{}{DOCUMENT}", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// A schema of the document's components.
fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let found = &doc["components"]["schemas"][name];
    assert!(found.is_object(), "schema {name} is not in the document");
    found
}

/// A schema, following a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => component(doc, r.strip_prefix("#/components/schemas/").unwrap()),
        None => schema,
    }
}

/// Is `body` an instance of the `ErrorBody` schema of `doc`: exactly its members, the required
/// ones present, every one a string?
fn assert_error_body(doc: &Value, body: &Value, context: &str) {
    let outer = component(doc, "ErrorBody");
    let members: BTreeSet<&String> = body.as_object().unwrap().keys().collect();
    let allowed: BTreeSet<&String> = outer["properties"].as_object().unwrap().keys().collect();
    assert_eq!(members, allowed, "{context}: {body}");
    let inner = resolve(doc, &outer["properties"]["error"]);
    let properties = inner["properties"].as_object().unwrap();
    let error = body["error"].as_object().unwrap();
    for (name, value) in error {
        assert!(
            properties.contains_key(name),
            "{context}: `{name}` in {body}"
        );
        match name.as_str() {
            "details" => assert!(value.is_object(), "{context}: `{name}` in {body}"),
            _ => assert!(value.is_string(), "{context}: `{name}` in {body}"),
        }
    }
    for required in inner["required"].as_array().unwrap() {
        assert!(
            error.contains_key(required.as_str().unwrap()),
            "{context}: {required} missing from {body}"
        );
    }
}

/// The router's own answer to a path or method it does not have.
fn is_fallback(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body["error"]["message"] == "no such endpoint")
}

/// One documented operation, made concrete: path parameters filled from their examples (or a
/// value of their type), required query parameters likewise, and `{}` for a body.
struct Call {
    method: Method,
    template: String,
    url: String,
    body: Option<Value>,
    secured: bool,
    operation: Value,
}

fn example(parameter: &Value) -> String {
    match &parameter["example"] {
        Value::String(s) => s.clone(),
        Value::Null => match parameter["schema"]["type"].as_str() {
            Some("integer") => "1".into(),
            _ => "x".into(),
        },
        other => other.to_string(),
    }
}

fn calls(doc: &Value) -> Vec<Call> {
    let mut calls = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let mut url = template.clone();
            let mut query = Vec::new();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                match parameter["in"].as_str().unwrap() {
                    "path" => url = url.replace(&format!("{{{name}}}"), &example(parameter)),
                    "query" if parameter["required"] == true => {
                        query.push(format!("{name}={}", example(parameter)))
                    }
                    _ => {}
                }
            }
            assert!(
                !url.contains('{'),
                "{method} {template}: a path parameter is undocumented"
            );
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            calls.push(Call {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                template: template.clone(),
                url,
                body: operation.get("requestBody").map(|_| json!({})),
                secured: operation["security"].is_array(),
                operation: operation.clone(),
            });
        }
    }
    calls
}

/// Sends a call; returns the status, the content type and the body (JSON, or the text).
async fn send(s: &TestServer, call: &Call, token: Option<&str>) -> (StatusCode, String, Value) {
    let mut request = s
        .http
        .request(call.method.clone(), format!("{}{}", s.base, call.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

/// The answer must come from a real route, with a status the operation documents, in the
/// documented media type, and an error must be an `ErrorBody`.
fn check_answer(doc: &Value, call: &Call, who: &str, answer: (StatusCode, String, Value)) {
    let (status, content_type, body) = answer;
    let context = format!("{} {} ({who}) -> {status}", call.method, call.url);
    assert!(!is_fallback(status, &body), "{context}: not routed: {body}");
    let response = &call.operation["responses"][status.as_str()];
    assert!(
        response.is_object(),
        "{context}: status not documented for {} {}: {body}",
        call.method,
        call.template
    );
    if let Some(content) = response["content"].as_object() {
        let essence = |t: &str| t.split(';').next().unwrap().trim().to_owned();
        let documented: BTreeSet<String> = content.keys().map(|t| essence(t)).collect();
        assert!(
            documented.contains(&essence(&content_type)),
            "{context}: answered {content_type}, documented {documented:?}"
        );
    }
    let mlflow = ["/api/2.0/", "/api/3.0/", "/ajax-api/"]
        .iter()
        .any(|prefix| call.template.starts_with(prefix));
    if (status.is_client_error() || status.is_server_error()) && mlflow {
        assert_mlflow_error_body(doc, &body, &context);
    } else if status.is_client_error() || status.is_server_error() {
        assert_error_body(doc, &body, &context);
    }
}

/// Is `body` an instance of the `MlflowErrorBody` schema: MLflow's `error_code` and `message`,
/// both strings, nothing else?
fn assert_mlflow_error_body(doc: &Value, body: &Value, context: &str) {
    let schema = component(doc, "MlflowErrorBody");
    let members: BTreeSet<&String> = body.as_object().unwrap().keys().collect();
    let allowed: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(members, allowed, "{context}: {body}");
    assert_eq!(schema["required"], json!(["error_code", "message"]));
    assert!(
        body["error_code"].is_string() && body["message"].is_string(),
        "{context}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_json_for_every_role() {
    let s = server(Backend::Sqlite).await;
    let admin = s.admin().await;
    let doc = document(&s, &admin).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "modeltrail");
    assert!(doc["info"]["version"].is_string());
    assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    assert!(doc["paths"][DOCUMENT]["get"].is_object());
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    // Every reference in the document resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let target = r.split('"').next().unwrap();
        component(&doc, target.strip_prefix("#/components/schemas/").unwrap());
    }
    // The least role reads it too.
    let viewer = s.person(&admin, "viewer", "viewer").await;
    assert_eq!(document(&s, &viewer).await, doc);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_needs_a_token() {
    let s = server(Backend::Sqlite).await;
    let (status, body) = s.call(Method::GET, DOCUMENT, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, body) = s
        .call(Method::GET, DOCUMENT, Some("mt_s_not-a-real-token"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_schema_is_code_message_field_and_details() {
    let s = server(Backend::Sqlite).await;
    let admin = s.admin().await;
    let doc = document(&s, &admin).await;
    let outer = component(&doc, "ErrorBody");
    assert_eq!(outer["required"], json!(["error"]));
    let inner = resolve(&doc, &outer["properties"]["error"]);
    let properties: BTreeSet<&str> = inner["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        properties,
        BTreeSet::from(["code", "message", "field", "details"])
    );
    assert_eq!(inner["required"], json!(["code", "message"]));

    // Real errors, with and without a field, are instances of it.
    let (status, body) = s.call(Method::GET, DOCUMENT, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_body(&doc, &body, "no token");
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "x", "name": "X", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "id");
    assert_error_body(&doc, &body, "bad user id");
    s.stop().await;
}

/// The document cannot drift from the router: each (method, path) it lists, with its
/// placeholders filled in, is answered by a real route (never the router's 404 for an unknown
/// path nor its 405), with a status the document lists for it, with and without a token; and
/// exactly the operations that declare the bearer scheme answer 401 without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let s = server(Backend::Sqlite).await;
    let mut admin = s.admin().await;
    let doc = document(&s, &admin).await;

    // What the router answers when it has no such route, so the check below has teeth.
    let (status, body) = s.get("/api/v1/no-such-thing", &admin).await;
    assert!(is_fallback(status, &body), "{status} {body}");
    let (status, body) = s.call(Method::DELETE, DOCUMENT, Some(&admin), None).await;
    assert!(is_fallback(status, &body), "{status} {body}");

    let calls = calls(&doc);
    assert!(
        calls.len() >= 30,
        "only {} operations documented",
        calls.len()
    );
    for call in &calls {
        let anonymous = send(&s, call, None).await;
        if call.secured {
            assert_eq!(
                anonymous.0,
                StatusCode::UNAUTHORIZED,
                "{} {} without a token: {}",
                call.method,
                call.url,
                anonymous.2
            );
        } else {
            assert_ne!(
                anonymous.0,
                StatusCode::UNAUTHORIZED,
                "{} {}",
                call.method,
                call.url
            );
        }
        check_answer(&doc, call, "no token", anonymous);

        let answer = send(&s, call, Some(&admin)).await;
        check_answer(&doc, call, "admin", answer);
        // A call may end the session (the logout): carry on with a new one.
        if s.get("/api/v1/auth/me", &admin).await.0 != StatusCode::OK {
            admin = s.admin().await;
        }
    }
    s.stop().await;
}
