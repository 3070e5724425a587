//! The whole role-by-endpoint matrix through the real server: each role gets exactly what its
//! permissions allow and 403 (logged) for the rest; no token gets 401; only health, the login
//! and the public checkpoint and key are open.

mod common;

use common::{password_of, server, Backend};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(every_role_gets_what_it_may_and_nothing_else);

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug)]
enum Need {
    Open,
    AnyUser,
    Roles(&'static [&'static str]),
}

const ADMIN: &[&str] = &["admin"];
const READERS: &[&str] = &["admin", "qa", "developer", "viewer", "auditor"];
const WRITERS: &[&str] = &["qa", "developer"];
const LOG_READERS: &[&str] = &["admin", "qa", "auditor"];

fn matrix(role: &str) -> Vec<(Method, String, Option<Value>, Need)> {
    use Need::*;
    let sign = json!({"meaning": "reviewed", "username": role, "password": password_of(role)});
    vec![
        (Method::GET, "/healthz".into(), None, Open),
        (Method::GET, "/api/v1/checkpoint".into(), None, Open),
        (Method::GET, "/api/v1/log/public-key".into(), None, Open),
        (Method::GET, "/api/v1/auth/me".into(), None, AnyUser),
        (Method::GET, "/api/v1/users".into(), None, Roles(ADMIN)),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"id": format!("new-{role}"), "name": "N", "role": "viewer"})),
            Roles(ADMIN),
        ),
        (
            Method::GET,
            "/api/v1/users/viewer".into(),
            None,
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/nobody/role".into(),
            Some(json!({"role": "qa", "reason": "r"})),
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/nobody/lock".into(),
            Some(json!({})),
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/nobody/unlock".into(),
            Some(json!({})),
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/nobody/password".into(),
            None,
            Roles(ADMIN),
        ),
        (
            Method::GET,
            "/api/v1/users/svc/tokens".into(),
            None,
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/svc/tokens".into(),
            Some(json!({"label": "t"})),
            Roles(ADMIN),
        ),
        (
            Method::POST,
            "/api/v1/users/svc/tokens/none/revoke".into(),
            None,
            Roles(ADMIN),
        ),
        (
            Method::GET,
            "/api/v1/security/alerts".into(),
            None,
            Roles(ADMIN),
        ),
        (Method::GET, "/metrics".into(), None, Roles(ADMIN)),
        (
            Method::GET,
            "/api/v1/record-types".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/record-types/model".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/records/model".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/v1/records/model".into(),
            Some(json!({"data": {}})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/v1/records/model/m-1".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::PUT,
            "/api/v1/records/model/m-1".into(),
            Some(json!({"version": 99, "reason": "r", "data": {}})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/records/model/m-1/void".into(),
            Some(json!({"version": 99, "reason": "r"})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/v1/records/model/m-1/versions".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/records/model/m-1/versions/1".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/records/model/m-1/diff?from=1&to=1".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/v1/records/model/nothing/versions/1/signatures".into(),
            Some(sign),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/records/change_request/nothing/transitions".into(),
            Some(json!({"to": "submitted", "version": 1, "reason": "r"})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/v1/records/change_request/nothing/workflow".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/model-versions/none/release-readiness".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/model-versions/none/drift-chart.svg?feature=age".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/model-versions/none/dossier.html".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/model-versions/none/dossier.pdf".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/monitoring-batches/none/chart.svg?feature=age".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/v1/model-versions/none/deployments".into(),
            Some(json!({"environment": "staging", "target": "t"})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/validation-results".into(),
            Some(json!({"data": {}})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/fairness-assessments".into(),
            Some(json!({})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/fairness-assessments/file".into(),
            Some(json!({})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/explanations".into(),
            Some(json!({})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/v1/dataset-versions/none/data".into(),
            Some(json!({})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/v1/events".into(),
            None,
            Roles(LOG_READERS),
        ),
        (
            Method::GET,
            "/api/v1/proofs/inclusion?index=0".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/api/v1/proofs/consistency?from=1".into(),
            None,
            Roles(READERS),
        ),
        // The MLflow API: reads for every role, writes for those that write records.
        (
            Method::GET,
            "/api/2.0/mlflow/experiments/get?experiment_id=0".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::GET,
            "/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=Default".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/experiments/create".into(),
            Some(json!({"name": format!("exp-{role}")})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/runs/search".into(),
            Some(json!({"experiment_ids": ["0"]})),
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/runs/create".into(),
            Some(json!({"experiment_id": "0"})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/runs/log-batch".into(),
            Some(json!({"run_id": "none", "metrics": []})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/2.0/mlflow/registered-models/search".into(),
            None,
            Roles(READERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/registered-models/create".into(),
            Some(json!({"name": format!("rm-{role}")})),
            Roles(WRITERS),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/model-versions/transition-stage".into(),
            Some(json!({"name": "none", "version": "1", "stage": "Production"})),
            Roles(WRITERS),
        ),
        (
            Method::PUT,
            format!("/api/2.0/mlflow-artifacts/artifacts/0/{role}/notes.json"),
            Some(json!({"notes": role})),
            Roles(WRITERS),
        ),
        (
            Method::GET,
            "/api/2.0/mlflow-artifacts/artifacts?path=0".into(),
            None,
            Roles(READERS),
        ),
    ]
}

/// The error code of an answer in either shape: the REST API's, or MLflow's on its paths.
fn code_of(path: &str, answer: &Value) -> (String, &'static str, &'static str) {
    match path.starts_with("/api/2.0/") || path.starts_with("/ajax-api/") {
        true => (
            answer["error_code"].as_str().unwrap_or_default().to_owned(),
            "PERMISSION_DENIED",
            "UNAUTHENTICATED",
        ),
        false => (
            answer["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            "forbidden",
            "unauthenticated",
        ),
    }
}

async fn every_role_gets_what_it_may_and_nothing_else(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let mut tokens = vec![("admin".to_string(), admin.clone())];
    for role in ["qa", "developer", "viewer", "auditor"] {
        tokens.push((role.to_string(), s.person(&admin, role, role).await));
    }
    let (status, _) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "svc", "name": "Pipeline", "role": "developer", "kind": "service"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let model = json!({
        "name": "m", "owner": "developer", "intended_use": "Flags batches.",
        "context_of_use": "Advisory.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low", "model_risk": "low"}
    });
    let (status, _) = s
        .post(
            "/api/v1/records/model",
            &tokens[2].1,
            json!({"id": "m-1", "data": model}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let mut denials = 0;
    for (role, token) in &tokens {
        for (method, path, body, need) in matrix(role) {
            let allowed = match need {
                Need::Open | Need::AnyUser => true,
                Need::Roles(roles) => roles.contains(&role.as_str()),
            };
            let (status, answer) = s
                .call(method.clone(), &path, Some(token), body.clone())
                .await;
            match allowed {
                true => assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} {method} {path}: allowed, got {status} {answer}"
                ),
                false => {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role} {method} {path}: {answer}"
                    );
                    let (code, forbidden, _) = code_of(&path, &answer);
                    assert_eq!(code, forbidden, "{answer}");
                    denials += 1;
                }
            }
            // Without credentials: 401, except what is open.
            let (status, answer) = s.call(method.clone(), &path, None, body).await;
            match need {
                Need::Open => assert_eq!(status, StatusCode::OK, "{method} {path}"),
                _ => {
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{method} {path}: {answer}"
                    );
                    let (code, _, unauthenticated) = code_of(&path, &answer);
                    assert_eq!(code, unauthenticated, "{answer}");
                }
            }
            let (status, _) = s
                .call(method.clone(), &path, Some("mts_not-a-session"), None)
                .await;
            if !matches!(need, Need::Open) {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with a bad token"
                );
            }
        }
    }
    // Every refusal is in the log, naming who was refused what.
    let (_, events) = s
        .get("/api/v1/events?action=access.denied&limit=1000", &admin)
        .await;
    let logged = events["events"].as_array().unwrap();
    assert_eq!(logged.len(), denials);
    assert!(logged
        .iter()
        .all(|e| e["payload"]["path"].as_str().unwrap().starts_with('/')));
    s.stop().await;
}
