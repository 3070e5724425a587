//! Escalating feedback into an exception through the real server, on SQLite and PostgreSQL:
//! the exception (detected by the person, its source the feedback) and the feedback's triage
//! are written together; a second escalation, a stale version, an empty rationale or a
//! severity outside the exception's values are refused and write nothing.

mod common;

use common::{server, Backend};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(feedback_escalates_into_an_exception_once);

async fn feedback_escalates_into_an_exception_once(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let viewer = s.person(&admin, "vera", "viewer").await;
    s.create(
        &dev,
        "feedback",
        "fb1",
        json!({"model_version": "mv1", "category": "incorrect_output", "severity": "high",
               "description": "Batch 7 flagged out of trend; the assay was in specification.",
               "model_output": "reject", "expected_output": "accept", "prediction": "req-77"}),
    )
    .await;
    let path = "/api/v1/feedback/fb1/escalate";

    for (body, status, field_or_code) in [
        (
            json!({"version": 1, "rationale": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "rationale",
        ),
        (
            json!({"version": 2, "rationale": "x"}),
            StatusCode::CONFLICT,
            "stale_version",
        ),
        (
            json!({"version": 1, "rationale": "x", "severity": "huge"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "severity",
        ),
    ] {
        let size = s.tree_size().await;
        let (got, answer) = s.post(path, &qa, body).await;
        assert_eq!(got, status, "{answer}");
        let error = &answer["error"];
        assert!(
            error["field"] == field_or_code || error["code"] == field_or_code,
            "{field_or_code}: {answer}"
        );
        assert_eq!(s.tree_size().await, size, "nothing written");
    }
    let (status, _) = s
        .post(path, &viewer, json!({"version": 1, "rationale": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, escalated) = s
        .post(
            path,
            &qa,
            json!({"version": 1, "rationale": "Second report this week."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{escalated}");
    assert_eq!(
        escalated["receipt"]["seq"].as_array().map(Vec::len),
        Some(2)
    );
    let exception_id = escalated["exception"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, exception) = s
        .get(&format!("/api/v1/records/exception/{exception_id}"), &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{exception}");
    let data = &exception["data"];
    assert_eq!(data["source"], "fb1");
    assert_eq!(data["severity"], "major");
    assert_eq!(data["category"], "deviation");
    assert_eq!(data["detected_by"], json!({"kind": "person", "id": "qa"}));
    assert_eq!(data["affected_model_versions"], json!(["mv1"]));
    assert!(data["description"]
        .as_str()
        .unwrap()
        .contains("Prediction: req-77"));
    assert_eq!(exception["workflow_state"], "open");
    assert_eq!(exception["changed"]["by"], "qa");

    let (_, feedback) = s.get("/api/v1/records/feedback/fb1", &dev).await;
    assert_eq!(feedback["version"], 2);
    assert_eq!(
        feedback["data"]["triage"],
        json!({"decision": "exception_raised", "rationale": "Second report this week.",
               "exception": exception_id})
    );
    assert_eq!(feedback["changed"]["reason"], "Second report this week.");

    let size = s.tree_size().await;
    let (status, again) = s
        .post(path, &qa, json!({"version": 2, "rationale": "again"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_escalated");
    assert!(again["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&exception_id));
    assert_eq!(s.tree_size().await, size);
    let (status, _) = s
        .post(
            "/api/v1/feedback/nope/escalate",
            &qa,
            json!({"version": 1, "rationale": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.stop().await;
}
