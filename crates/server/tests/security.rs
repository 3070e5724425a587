//! The security suite, through the real server: every operation of the server's own OpenAPI
//! document refuses a request without credentials (401) but health, the login and the public
//! checkpoint and key; sessions end at once on logout and on a lock; the password policy and
//! the refusal of the current password as the new one; path traversal in MLflow artifact paths;
//! SQL metacharacters in every query parameter of every documented read; oversize bodies.
//! The role-by-endpoint matrix is `roles.rs`; lockout after failed logins, revoked API tokens,
//! expired passwords and idle sessions are in `api.rs`; hostile bodies in `hostile.rs`.
//! CSRF on forms belongs with the web UI and is not tested here.

mod common;

use common::{password_of, server, server_with, Backend, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    revoked_tokens_and_locked_accounts_are_refused_at_once,
    passwords_follow_the_policy_and_are_not_reused,
    sql_metacharacters_in_every_query_parameter_change_nothing,
    oversize_bodies_are_refused_and_change_nothing,
);

/// What anyone may call without credentials.
const OPEN: &[&str] = &[
    "/healthz",
    "/api/v1/auth/login",
    "/api/v1/checkpoint",
    "/api/v1/log/public-key",
];

async fn document(s: &TestServer, token: &str) -> Value {
    let (status, doc) = s.get("/api/v1/openapi.json", token).await;
    assert_eq!(status, StatusCode::OK);
    doc
}

/// Every (method, path template, operation) of the document.
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                "patch" => Method::PATCH,
                _ => continue,
            };
            found.push((method, path.clone(), operation.clone()));
        }
    }
    assert!(
        found.len() > 40,
        "only {} operations documented",
        found.len()
    );
    found
}

/// A path template with every `{parameter}` filled with `value`.
fn fill(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_needs_credentials() {
    let s = server(Backend::Sqlite).await;
    let admin = s.admin().await;
    let viewer = s.person(&admin, "viewer", "viewer").await;
    let doc = document(&s, &admin).await;
    let mut refused = 0;
    for (method, template, _) in operations(&doc) {
        let path = fill(&template, "m-1");
        let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
        let (status, answer) = s.call(method.clone(), &path, None, body.clone()).await;
        if OPEN.contains(&template.as_str()) {
            assert!(!status.is_server_error(), "{method} {path}: {answer}");
            continue;
        }
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without credentials: {answer}"
        );
        let code = answer["error"]["code"]
            .as_str()
            .or(answer["error_code"].as_str())
            .unwrap_or_default();
        assert!(
            code == "unauthenticated" || code == "UNAUTHENTICATED",
            "{method} {path}: {answer}"
        );
        refused += 1;
        // A token that is not one, and a token from another server's format: 401 as well.
        for bad in ["mts_not-a-session", "Bearer", "' OR '1'='1"] {
            let (status, answer) = s.call(method.clone(), &path, Some(bad), body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with token {bad:?}: {answer}"
            );
        }
        // The least privileged person gets an answer, never a server error.
        let (status, answer) = s.call(method.clone(), &path, Some(&viewer), body).await;
        assert!(
            !status.is_server_error(),
            "{method} {path} as viewer: {status} {answer}"
        );
    }
    assert!(refused > 40, "only {refused} operations checked");
    s.stop().await;
}

async fn revoked_tokens_and_locked_accounts_are_refused_at_once(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let second = s.login("dev", &password_of("dev")).await;
    let (status, _) = s.get("/api/v1/auth/me", &dev).await;
    assert_eq!(status, StatusCode::OK);
    // Logging out ends that session only.
    let (status, _) = s
        .call(Method::POST, "/api/v1/auth/logout", Some(&dev), None)
        .await;
    assert!(status.is_success(), "{status}");
    let (status, body) = s.get("/api/v1/auth/me", &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
    let (status, _) = s.get("/api/v1/auth/me", &second).await;
    assert_eq!(status, StatusCode::OK);
    // A lock ends every session of the user at once, and refuses the right password.
    let (status, body) = s
        .post(
            "/api/v1/users/dev/lock",
            &admin,
            json!({"reason": "laptop lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s.get("/api/v1/auth/me", &second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = s
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "dev", "password": password_of("dev")})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "account_locked");
    // A service account's token, revoked, is refused on its next use.
    let (status, _) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "svc", "name": "Pipeline", "role": "developer", "kind": "service"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, issued) = s
        .post("/api/v1/users/svc/tokens", &admin, json!({"label": "ci"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap().to_owned();
    let (status, _) = s.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .post(
            &format!(
                "/api/v1/users/svc/tokens/{}/revoke",
                issued["token_id"].as_str().unwrap()
            ),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Each of these is in the log.
    for action in ["auth.logout", "user.lock", "token.revoke"] {
        let (_, events) = s
            .get(&format!("/api/v1/events?action={action}"), &admin)
            .await;
        assert_eq!(
            events["events"].as_array().unwrap().len(),
            1,
            "{action}: {events}"
        );
    }
    s.stop().await;
}

async fn passwords_follow_the_policy_and_are_not_reused(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let current = password_of("dev");
    let change = |current: String, new: String| {
        let s = &s;
        let dev = dev.clone();
        async move {
            s.post(
                "/api/v1/auth/password",
                &dev,
                json!({"current_password": current, "new_password": new}),
            )
            .await
        }
    };
    for (new, why) in [
        ("short-pw", "at least 12 characters"),
        ("dev", "at least 12 characters"),
        (current.as_str(), "differ from the current one"),
    ] {
        let (status, body) = change(current.clone(), new.to_owned()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{new}: {body}");
        assert_eq!(body["error"]["field"], "new_password", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{new}: {message}");
        assert!(
            !message.contains(new),
            "the message repeats the password: {message}"
        );
    }
    // The wrong current password is refused, whatever the new one.
    let (status, body) = change("not-the-password".into(), "a-good-new-password".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "wrong_password");
    // A good change: the old password no longer logs in, the new one does.
    let (status, body) = change(current.clone(), "a-good-new-password".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "dev", "password": current})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.login("dev", "a-good-new-password").await;
    // An administrator's temporary password follows the policy too.
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "weak", "name": "Weak", "role": "viewer", "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Password hashes never leave the server.
    let (_, users) = s.get("/api/v1/users", &admin).await;
    let (_, events) = s.get("/api/v1/events?limit=1000", &admin).await;
    for text in [users.to_string(), events.to_string()] {
        assert!(!text.contains("$argon2"), "a password hash is served");
        assert!(!text.contains("a-good-new-password"));
        assert!(!text.contains(ADMIN_PASSWORD));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_paths_cannot_leave_their_run() {
    let s = server(Backend::Sqlite).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let before = s.tree_size().await;
    // (`%2e%2e`, `.` and `\` segments are not here: the client's URL parser resolves them
    // before sending, as browsers do, so they never reach the server as such.)
    let hostile = [
        "0/run/../../../../etc/passwd",
        "0/run/..%2f..%2fetc%2fpasswd",
        "..",
        "0//run/model.pkl",
        "0/run/%00model.pkl",
    ];
    for path in hostile {
        let url = format!("/api/2.0/mlflow-artifacts/artifacts/{path}");
        let (status, answer) = s
            .raw(Method::PUT, &url, Some(&dev), b"payload".to_vec())
            .await;
        assert!(status.is_client_error(), "PUT {path}: {status} {answer}");
        let (status, answer) = s.get(&url, &dev).await;
        assert!(status.is_client_error(), "GET {path}: {status} {answer}");
        assert!(!answer.to_string().contains("root:"), "{answer}");
        let (status, answer) = s
            .get(
                &format!("/api/2.0/mlflow-artifacts/artifacts?path={path}"),
                &dev,
            )
            .await;
        assert!(!status.is_server_error(), "list {path}: {status} {answer}");
    }
    // A plain path is taken, so the refusals above were about the paths.
    let (status, answer) = s
        .raw(
            Method::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/0/run/model.pkl",
            Some(&dev),
            b"payload".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, events) = s
        .get("/api/v1/events?action=mlflow.artifact.put", &admin)
        .await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        1,
        "only the plain path was recorded: {events}"
    );
    assert!(s.tree_size().await > before);
    s.stop().await;
}

/// Values with SQL's quoting, comment, wildcard and statement characters.
const SQL_VALUES: &[&str] = &[
    "' OR '1'='1",
    "1; DROP TABLE events; --",
    "\" OR 1=1 --",
    "x' UNION SELECT password_hash FROM credentials --",
    "%",
    "_",
    "\\",
    "');DELETE FROM record_heads;--",
    "1 OR 1=1",
    "$1",
];

/// Words an answer must never contain: database errors and stored secrets.
const LEAKS: &[&str] = &[
    "syntax error",
    "SQLITE",
    "sqlite",
    "postgres",
    "PostgreSQL",
    "$argon2",
    "near \"",
];

async fn sql_metacharacters_in_every_query_parameter_change_nothing(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    s.model_version(&dev, "m-1", "mv-1", "1", 'a').await;
    let doc = document(&s, &admin).await;
    let size_before = s.tree_size().await;
    let (_, heads_before) = s.get("/api/v1/records/model", &admin).await;
    let mut sent = 0;
    for (method, template, operation) in operations(&doc) {
        if method != Method::GET {
            continue;
        }
        let parameters: Vec<String> = operation["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let path_params = template.contains('{');
        for value in SQL_VALUES {
            let encoded: String = url_encode(value);
            let mut urls = Vec::new();
            for name in &parameters {
                urls.push(format!("{}?{name}={encoded}", fill(&template, "m-1")));
            }
            if path_params {
                urls.push(fill(&template, &encoded));
            }
            for url in urls {
                let (status, answer) = s.get(&url, &admin).await;
                assert!(!status.is_server_error(), "GET {url}: {status} {answer}");
                let text = answer.to_string();
                for leak in LEAKS {
                    assert!(!text.contains(leak), "GET {url} leaks {leak:?}: {text}");
                }
                sent += 1;
            }
        }
    }
    assert!(sent > 100, "only {sent} requests");
    // Nothing was changed or removed: the records are as they were, and the log only holds
    // more (refusals are logged), never less.
    let (_, heads_after) = s.get("/api/v1/records/model", &admin).await;
    assert_eq!(heads_before, heads_after);
    assert!(s.tree_size().await >= size_before);
    let (status, _) = s.get("/api/v1/records/model_version/mv-1", &admin).await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn oversize_bodies_are_refused_and_change_nothing(backend: Backend) {
    let s = server_with(backend, |c| {
        c.body_limit = 64 * 1024;
        c.upload_limit = 256 * 1024;
    })
    .await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let size = s.tree_size().await;
    let padding = "x".repeat(100 * 1024);
    let (status, body) = s
        .post(
            "/api/v1/records/model",
            &dev,
            json!({"id": "big", "data": {"name": padding}}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    let (status, _) = s
        .raw(
            Method::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/0/run/big.bin",
            Some(&dev),
            vec![b'z'; 512 * 1024],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = s.get("/api/v1/records/model/big", &dev).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The refusals wrote nothing but, at most, their own log entries.
    let (_, events) = s.get("/api/v1/events?limit=1000", &admin).await;
    let added: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_u64().unwrap() >= size)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        added
            .iter()
            .all(|a| !a.starts_with("record.") && !a.starts_with("mlflow.")),
        "{added:?}"
    );
    s.stop().await;
}
