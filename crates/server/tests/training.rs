//! Stakeholder training records (21 CFR 11.10(i)) through the real server, on SQLite and
//! PostgreSQL: the trainee is a person of the directory, only the trainee acknowledges the
//! training, the trainee does not certify it, and a change takes the acknowledgement away.

mod common;

use common::{password_of, server, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(only_the_trainee_acknowledges_their_training);

fn record(trainee: &str) -> Value {
    json!({
        "trainee": trainee, "trainer": "qa", "model_version": "mv1",
        "trained_on": "2026-12-01", "topics": ["intended use", "limitations"],
        "limitations": "Not validated for paediatric samples.", "method": "classroom"
    })
}

async fn signature(
    s: &common::TestServer,
    token: &str,
    user: &str,
    version: u64,
    meaning: &str,
) -> (StatusCode, Value) {
    s.post(
        &format!("/api/v1/records/training_record/t1/versions/{version}/signatures"),
        token,
        json!({"meaning": meaning, "username": user, "password": password_of(user)}),
    )
    .await
}

async fn only_the_trainee_acknowledges_their_training(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "svc", "name": "Serving system", "role": "developer", "kind": "service"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let size = s.tree_size().await;

    // The trainee must be a person of the directory, with their printed name.
    for (data, field, says) in [
        (record("nobody"), "data/trainee", "`nobody` is not a user"),
        (record("svc"), "data/trainee", "service account"),
        (
            {
                let mut r = record("dev");
                r["trainee_name"] = json!("Someone Else");
                r
            },
            "data/trainee_name",
            "dev Example",
        ),
    ] {
        let (status, body) = s
            .post(
                "/api/v1/records/training_record",
                &qa,
                json!({"id": "t1", "data": data}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(s.tree_size().await, size, "a refused record writes nothing");

    let created = s.create(&qa, "training_record", "t1", record("dev")).await;
    assert_eq!(created["data"]["trainee_name"], "dev Example");
    assert_eq!(created["trainee_acknowledgement"], Value::Null);

    // Nobody but the trainee acknowledges; the trainee does not certify their own training.
    let (status, body) = signature(&s, &qa, "qa", 1, "reviewed").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_trainee");
    for meaning in ["approved", "verified"] {
        let (status, body) = signature(&s, &dev, "dev", 1, meaning).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "segregation_of_duties", "{body}");
    }
    let (status, body) = signature(&s, &dev, "dev", 1, "reviewed").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trainee_acknowledgement"]["by"], "dev");
    assert!(body["trainee_acknowledgement"]["manifestation"]
        .as_str()
        .unwrap_or_default()
        .contains("dev Example (dev)"));
    // The trainer authors and QA approves as usual.
    let (status, body) = signature(&s, &qa, "qa", 1, "authored").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A change of the record takes the acknowledgement off the current version.
    let mut changed = record("dev");
    changed["limitations"] = json!("Not validated for paediatric or geriatric samples.");
    let (status, body) = s
        .put(
            "/api/v1/records/training_record/t1",
            &qa,
            json!({"version": 1, "reason": "limitations widened", "data": changed}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trainee_acknowledgement"], Value::Null, "{body}");
    let (status, old) = s
        .get("/api/v1/records/training_record/t1/versions/1", &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(old["trainee_acknowledgement"], Value::Null);
    let (status, body) = signature(&s, &dev, "dev", 2, "reviewed").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trainee_acknowledgement"]["version"], 2);
    s.stop().await;
}
