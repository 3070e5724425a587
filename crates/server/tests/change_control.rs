//! Change control through the real server, on SQLite and PostgreSQL: a change request's
//! workflow refuses illegal steps and names what a step lacks; QA approves, verifies and
//! closes; a predetermined change control plan pre-approves bounded retraining and refuses
//! what falls outside it; the release gate holds back a model version whose change is not
//! verified.

mod common;

use common::{password_of, server, Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_change_request_walks_its_workflow_and_refuses_illegal_steps,
    a_plan_pre_approves_bounded_retraining_and_refuses_what_falls_outside,
);

async fn step(
    s: &TestServer,
    token: &str,
    id: &str,
    version: u64,
    to: &str,
) -> (StatusCode, Value) {
    s.post(
        &format!("/api/v1/records/change_request/{id}/transitions"),
        token,
        json!({"to": to, "version": version, "reason": format!("moving to {to}")}),
    )
    .await
}

async fn moved(s: &TestServer, token: &str, id: &str, version: u64, to: &str) -> Value {
    let (status, body) = step(s, token, id, version, to).await;
    assert_eq!(status, StatusCode::OK, "{id} to {to}: {body}");
    assert_eq!(body["workflow"]["state"], to, "{body}");
    body
}

/// The codes of the unmet conditions of a refused step, and all they name as missing.
fn refused(status: StatusCode, body: &Value) -> (Vec<String>, String) {
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "transition_refused", "{body}");
    let unmet = body["error"]["details"]["unmet"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let codes = unmet
        .iter()
        .map(|c| c["code"].as_str().unwrap_or("").to_owned())
        .collect();
    let missing = unmet
        .iter()
        .flat_map(|c| c["missing"].as_array().cloned().unwrap_or_default())
        .map(|m| m.as_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    (codes, missing)
}

fn model() -> Value {
    json!({
        "name": "tablet-anomaly", "owner": "dev",
        "intended_use": "Flags anomalous tablet batches for QA review.",
        "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low"}
    })
}

fn code_version(commit: char) -> Value {
    json!({"repository": "https://git.example.com/ml/tablets.git", "commit": commit.to_string().repeat(40),
           "author": "Dana Dev", "change_summary": "training code"})
}

fn model_version(version: &str, code: &str) -> Value {
    json!({"model": "m1", "version": version,
           "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}],
           "lineage": {"code_version": code}})
}

fn change(category: &str, proposed: Option<&str>) -> Value {
    let mut data = json!({
        "title": "Retrain on 2025 batches", "description": "Retrain the model on the 2025 batches.",
        "reason": "Drift in tablet hardness since the new press.", "category": category,
        "model": "m1", "affected_model_versions": ["mv1"],
        "impact_assessment": "Same intended use; new weights only.",
        "risk": {"level": "low", "assessment": "Re-validation against the approved protocol."},
        "revalidation": {"scope": "partial", "rationale": "Same code and features.", "protocols": ["vp1"]}
    });
    if let Some(mv) = proposed {
        data["proposed_model_version"] = json!(mv);
    }
    data
}

/// A model, two code versions (commits a and b), mv1 and an approved protocol `auc >= 0.8`.
async fn set_up(s: &TestServer, dev: &str, qa: &str) {
    s.create(dev, "model", "m1", model()).await;
    s.create(dev, "code_version", "cv-a", code_version('a'))
        .await;
    s.create(dev, "code_version", "cv-a2", code_version('a'))
        .await;
    s.create(dev, "code_version", "cv-b", code_version('b'))
        .await;
    s.create(dev, "model_version", "mv1", model_version("1", "cv-a"))
        .await;
    s.create(
        dev,
        "validation_protocol",
        "vp1",
        json!({"model": "m1", "title": "VP-1", "objective": "Finds anomalous batches.",
               "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= 0.8"}]}),
    )
    .await;
    s.sign(qa, "qa", "validation_protocol", "vp1", 1, "approved")
        .await;
}

async fn result(s: &TestServer, dev: &str, id: &str, mv: &str, auc: f64) {
    let (status, body) = s
        .post(
            "/api/v1/validation-results",
            dev,
            json!({"id": id, "data": {"protocol": "vp1", "model_version": mv,
                   "metrics": [{"metric": "auc", "value": auc}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_change_request_walks_its_workflow_and_refuses_illegal_steps(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    set_up(&s, &dev, &qa).await;

    let created = s
        .create(&dev, "change_request", "cr1", change("algorithm", None))
        .await;
    assert_eq!(created["workflow_state"], "draft", "{created}");

    // Illegal steps name the state and where it can go; nothing is written.
    let size = s.tree_size().await;
    let (status, body) = step(&s, &dev, "cr1", 1, "approved").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "illegal_transition");
    assert_eq!(body["error"]["details"]["state"], "draft");
    assert_eq!(
        body["error"]["details"]["allowed"],
        json!(["submitted", "cancelled"])
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("change_request is `draft` and cannot move to `approved`"),
        "{body}"
    );
    let (status, body) = step(&s, &dev, "cr1", 1, "done").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "to");
    let (status, body) = step(&s, &dev, "cr1", 2, "submitted").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "stale_version");
    let (status, body) = s
        .post(
            "/api/v1/records/change_request/cr1/transitions",
            &dev,
            json!({"to": "submitted", "version": 1, "reason": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = s
        .post(
            "/api/v1/records/model/m1/transitions",
            &dev,
            json!({"to": "submitted", "version": 1, "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "no_workflow");
    assert_eq!(s.tree_size().await, size, "refused steps write nothing");

    moved(&s, &dev, "cr1", 1, "submitted").await;

    // Approval needs QA's signature; the board says so before anyone tries.
    let (status, board) = s
        .get("/api/v1/records/change_request/cr1/workflow", &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(board["state"], "submitted");
    let approve_step = board["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|st| st["to"] == "approved"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(approve_step["ready"], false, "{board}");
    let (status, body) = step(&s, &dev, "cr1", 1, "approved").await;
    let (codes, missing) = refused(status, &body);
    assert_eq!(codes, ["change_approved"]);
    assert!(
        missing.contains("change_request cr1 version 1: an `approved` signature by qa"),
        "{missing}"
    );

    // Only QA rejects: a developer's attempt is denied and logged.
    let (status, body) = step(&s, &dev, "cr1", 1, "rejected").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("only qa may"),
        "{body}"
    );

    s.sign(&qa, "qa", "change_request", "cr1", 1, "approved")
        .await;
    moved(&s, &dev, "cr1", 1, "approved").await;
    moved(&s, &dev, "cr1", 1, "in_implementation").await;
    let (status, body) = step(&s, &dev, "cr1", 1, "implemented").await;
    let (codes, missing) = refused(status, &body);
    assert_eq!(codes, ["change_implemented"]);
    assert!(missing.contains("proposed_model_version"), "{missing}");

    s.create(&dev, "model_version", "mv2", model_version("2", "cv-b"))
        .await;
    let (status, body) = s
        .put(
            "/api/v1/records/change_request/cr1",
            &dev,
            json!({"version": 1, "reason": "mv2 implements it", "data": change("algorithm", Some("mv2"))}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["workflow_state"], "in_implementation");
    moved(&s, &dev, "cr1", 2, "implemented").await;

    // The gate holds back the implementing version until the change is verified.
    let (_, ready) = s
        .get("/api/v1/model-versions/mv2/release-readiness", &qa)
        .await;
    let change_condition = ready["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["code"] == "change_verified"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(change_condition["met"], false, "{ready}");
    assert!(change_condition["missing"][0]
        .as_str()
        .unwrap_or("")
        .contains("change_request cr1 is `implemented`"));

    let (status, body) = step(&s, &dev, "cr1", 2, "verified").await;
    let (codes, missing) = refused(status, &body);
    assert_eq!(codes, ["revalidation_passed", "change_verified"]);
    assert!(
        missing
            .contains("a validation_result of model_version mv2 against validation_protocol vp1"),
        "{missing}"
    );
    result(&s, &dev, "vr-fail", "mv2", 0.7).await;
    let (status, body) = step(&s, &dev, "cr1", 2, "verified").await;
    let (_, missing) = refused(status, &body);
    assert!(
        missing.contains("criteria failed on model_version mv2 (validation_result vr-fail)"),
        "{missing}"
    );
    result(&s, &dev, "vr-pass", "mv2", 0.9).await;
    s.sign(&qa, "qa", "change_request", "cr1", 2, "verified")
        .await;
    moved(&s, &dev, "cr1", 2, "verified").await;
    let (_, ready) = s
        .get("/api/v1/model-versions/mv2/release-readiness", &qa)
        .await;
    let change_condition = ready["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["code"] == "change_verified"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(change_condition["met"], true, "{ready}");

    // Only QA closes; a closed request neither moves nor changes.
    let (status, _) = step(&s, &dev, "cr1", 2, "closed").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let closed = moved(&s, &qa, "cr1", 2, "closed").await;
    assert_eq!(closed["workflow"]["closed"], true);
    let (status, body) = step(&s, &qa, "cr1", 2, "cancelled").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .ends_with("nothing: it is closed"));
    let (status, body) = s
        .put(
            "/api/v1/records/change_request/cr1",
            &dev,
            json!({"version": 2, "reason": "late edit", "data": change("code", Some("mv2"))}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "workflow_closed");

    // The history: every step with who, when, why and the version it was taken on.
    let (_, board) = s
        .get("/api/v1/records/change_request/cr1/workflow", &dev)
        .await;
    let steps: Vec<(String, u64, String)> = board["transitions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["to"].as_str().unwrap_or("").to_owned(),
                t["version"].as_u64().unwrap_or(0),
                t["actor"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, u64, String)> = [
        ("submitted", 1, "dev"),
        ("approved", 1, "dev"),
        ("in_implementation", 1, "dev"),
        ("implemented", 2, "dev"),
        ("verified", 2, "dev"),
        ("closed", 2, "qa"),
    ]
    .iter()
    .map(|(to, v, who)| (to.to_string(), *v, who.to_string()))
    .collect();
    assert_eq!(steps, expected, "{board}");
    assert_eq!(board["transitions"][5]["reason"], "moving to closed");

    // The state survives a restart: it is derived from the log.
    let mut s = s;
    s.restart().await;
    let qa = s.login("qa", &password_of("qa")).await;
    let (_, read) = s.get("/api/v1/records/change_request/cr1", &qa).await;
    assert_eq!(read["workflow_state"], "closed", "{read}");
    s.stop().await;
}

async fn a_plan_pre_approves_bounded_retraining_and_refuses_what_falls_outside(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    set_up(&s, &dev, &qa).await;
    s.create(&dev, "model_version", "mv2", model_version("2", "cv-a2"))
        .await;
    s.create(&dev, "model_version", "mv3", model_version("3", "cv-b"))
        .await;

    // The plan: retraining with the same code, AUC at least 0.85, approved by QA.
    let mut plan = change("retraining", None);
    plan["title"] = json!("PCCP: periodic retraining");
    plan["affected_model_versions"] = json!([]);
    plan["pccp"] = json!({"allowed_changes": ["retraining"], "same_code": true,
        "bounds": [{"metric": "auc", "op": ">=", "threshold": 0.85}], "valid_until": "2099-12-31"});
    s.create(&dev, "change_request", "plan", plan.clone()).await;

    // A covered request before the plan is in force: its approval names the gaps.
    let mut covered = change("retraining", Some("mv2"));
    covered["covered_by_pccp"] = json!("plan");
    s.create(&dev, "change_request", "cr-retrain", covered.clone())
        .await;
    moved(&s, &dev, "cr-retrain", 1, "submitted").await;
    let (status, body) = step(&s, &dev, "cr-retrain", 1, "approved").await;
    let (_, missing) = refused(status, &body);
    assert!(
        missing.contains("plan change_request plan: is `draft`, not approved"),
        "{missing}"
    );
    assert!(
        missing.contains("plan change_request plan: version 1: an `approved` signature by qa"),
        "{missing}"
    );

    moved(&s, &dev, "plan", 1, "submitted").await;
    s.sign(&qa, "qa", "change_request", "plan", 1, "approved")
        .await;
    moved(&s, &dev, "plan", 1, "approved").await;

    // In force, it pre-approves the retraining: no approval signature on the request itself.
    moved(&s, &dev, "cr-retrain", 1, "approved").await;
    moved(&s, &dev, "cr-retrain", 1, "in_implementation").await;
    moved(&s, &dev, "cr-retrain", 1, "implemented").await;
    result(&s, &dev, "vr-mv2", "mv2", 0.83).await;
    s.sign(&qa, "qa", "change_request", "cr-retrain", 1, "verified")
        .await;
    // The protocol's own criterion passes (0.83 >= 0.8) but the plan's bound does not.
    let (status, body) = step(&s, &dev, "cr-retrain", 1, "verified").await;
    let (codes, missing) = refused(status, &body);
    assert_eq!(codes, ["within_plan_bounds"], "{missing}");
    assert!(
        missing.contains(
            "validation_result vr-mv2: auc = 0.83 is outside the plan's bound auc >= 0.85"
        ),
        "{missing}"
    );
    let (status, body) = s
        .post(
            "/api/v1/records/validation_result/vr-mv2/void",
            &dev,
            json!({"version": 1, "reason": "run on the wrong split"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    result(&s, &dev, "vr-mv2b", "mv2", 0.9).await;
    moved(&s, &dev, "cr-retrain", 1, "verified").await;

    // A category the plan does not allow needs QA's own approval.
    let mut algorithm = change("algorithm", Some("mv3"));
    algorithm["covered_by_pccp"] = json!("plan");
    s.create(&dev, "change_request", "cr-algo", algorithm).await;
    moved(&s, &dev, "cr-algo", 1, "submitted").await;
    let (status, body) = step(&s, &dev, "cr-algo", 1, "approved").await;
    let (_, missing) = refused(status, &body);
    assert!(
        missing.contains(
            "plan change_request plan: does not allow algorithm changes (it allows retraining)"
        ),
        "{missing}"
    );

    // Retraining from other code falls outside a same-code plan.
    let mut other_code = change("retraining", Some("mv3"));
    other_code["covered_by_pccp"] = json!("plan");
    s.create(&dev, "change_request", "cr-code", other_code)
        .await;
    moved(&s, &dev, "cr-code", 1, "submitted").await;
    moved(&s, &dev, "cr-code", 1, "approved").await;
    moved(&s, &dev, "cr-code", 1, "in_implementation").await;
    moved(&s, &dev, "cr-code", 1, "implemented").await;
    result(&s, &dev, "vr-mv3", "mv3", 0.95).await;
    s.sign(&qa, "qa", "change_request", "cr-code", 1, "verified")
        .await;
    let (status, body) = step(&s, &dev, "cr-code", 1, "verified").await;
    let (codes, missing) = refused(status, &body);
    assert_eq!(codes, ["same_code"], "{missing}");
    assert!(
        missing.contains(&format!(
            "model_version mv3 is trained from https://git.example.com/ml/tablets.git {}",
            "b".repeat(40)
        )),
        "{missing}"
    );

    // An expired plan covers nothing.
    let mut expired = plan;
    expired["pccp"]["valid_until"] = json!("2020-01-01");
    s.create(&dev, "change_request", "plan-old", expired).await;
    moved(&s, &dev, "plan-old", 1, "submitted").await;
    s.sign(&qa, "qa", "change_request", "plan-old", 1, "approved")
        .await;
    moved(&s, &dev, "plan-old", 1, "approved").await;
    let mut late = change("retraining", Some("mv2"));
    late["covered_by_pccp"] = json!("plan-old");
    s.create(&dev, "change_request", "cr-late", late).await;
    moved(&s, &dev, "cr-late", 1, "submitted").await;
    let (status, body) = step(&s, &dev, "cr-late", 1, "approved").await;
    let (_, missing) = refused(status, &body);
    assert!(
        missing.contains("plan change_request plan-old: expired on 2020-01-01"),
        "{missing}"
    );

    // A plan changed after its approval is no longer in force.
    let mut widened = covered;
    widened["title"] = json!("plan, widened");
    let (_, plan_now) = s.get("/api/v1/records/change_request/plan", &dev).await;
    let mut plan_data = plan_now["data"].clone();
    plan_data["pccp"]["bounds"][0]["threshold"] = json!(0.5);
    let (status, body) = s
        .put(
            "/api/v1/records/change_request/plan",
            &dev,
            json!({"version": 1, "reason": "lower the bar", "data": plan_data}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    widened["proposed_model_version"] = json!("mv2");
    s.create(&dev, "change_request", "cr-after", widened).await;
    moved(&s, &dev, "cr-after", 1, "submitted").await;
    let (status, body) = step(&s, &dev, "cr-after", 1, "approved").await;
    let (_, missing) = refused(status, &body);
    assert!(
        missing.contains("plan change_request plan: version 2: an `approved` signature by qa"),
        "{missing}"
    );
    s.stop().await;
}
