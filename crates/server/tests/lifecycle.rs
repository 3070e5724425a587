//! The model lifecycle through the real server, on SQLite and PostgreSQL: the server computes
//! model risk, refuses validation results against unapproved protocols, evaluates acceptance
//! criteria itself, and the release gate refuses production with every unmet condition named.

mod common;

use common::{server, Backend};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    the_gate_names_what_is_missing_and_the_server_evaluates_criteria,
    one_model_walks_from_intended_use_to_production,
);

fn unmet_codes(body: &Value) -> Vec<String> {
    body["error"]["details"]["unmet"]
        .as_array()
        .map(|u| {
            u.iter()
                .map(|c| c["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn the_gate_names_what_is_missing_and_the_server_evaluates_criteria(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;

    // The server computes the model risk, and refuses one that contradicts its factors.
    let mut model = json!({
        "name": "tablet-anomaly", "owner": "dev",
        "intended_use": "Flags anomalous tablet batches for QA review.",
        "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
        "risk": {"model_influence": "high", "decision_consequence": "low", "model_risk": "low"}
    });
    let (status, body) = s
        .post(
            "/api/v1/records/model",
            &dev,
            json!({"id": "m1", "data": model}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "data/risk/model_risk");
    model["risk"]
        .as_object_mut()
        .expect("risk")
        .remove("model_risk");
    let created = s.create(&dev, "model", "m1", model).await;
    assert_eq!(created["data"]["risk"]["model_risk"], "medium");

    s.create(&dev,
        "dataset_version",
        "train",
        json!({"name": "batches", "version": "1", "content_digest": "a".repeat(64), "source": "MES"}),
    )
    .await;
    s.create(&dev,
        "dataset_version",
        "holdout",
        json!({"name": "batches-holdout", "version": "1", "content_digest": "b".repeat(64), "source": "MES"}),
    )
    .await;
    s.create(
        &dev,
        "model_version",
        "mv1",
        json!({"model": "m1", "version": "1",
               "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}],
               "lineage": {"dataset_versions": ["train"]}}),
    )
    .await;

    // A draft: the gate refuses production and names every missing piece.
    let (status, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "draft");
    assert_eq!(ready["ready"], false);
    let deploy = json!({"environment": "production", "target": "site-basel"});
    let size = s.tree_size().await;
    let (status, refused) = s
        .post(
            "/api/v1/model-versions/mv1/deployments",
            &dev,
            deploy.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "release_refused");
    let codes = unmet_codes(&refused);
    for code in [
        "intended_use_approved",
        "datasets_ready",
        "protocol_approved_before_results",
        "validation_criteria_passed",
        "test_data_independent",
        "fairness_passed",
        "explanation_recorded",
        "monitoring_plan_approved",
        "qa_release_signature",
    ] {
        assert!(codes.contains(&code.to_owned()), "{code} in {codes:?}");
    }
    let message = refused["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("model m1 version 1: an approved signature"),
        "{message}"
    );
    assert_eq!(
        s.tree_size().await,
        size,
        "a refused release writes nothing"
    );
    // Other environments need no gate.
    let (status, staged) = s
        .post(
            "/api/v1/model-versions/mv1/deployments",
            &dev,
            json!({"environment": "staging", "target": "qa-cluster"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{staged}");

    // Approving the intended use meets that condition.
    s.approve(&qa, "model", "m1", 1).await;
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    let intended = ready["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["code"] == "intended_use_approved"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(intended["met"], true, "{ready}");

    // A protocol whose criterion does not parse is refused with the position.
    let mut protocol = json!({"model": "m1", "model_version": "mv1", "title": "VP-1",
        "objective": "Show the model finds anomalous batches.", "test_datasets": ["holdout"],
        "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= and sensitivity >= 0.9"}]});
    let (status, body) = s
        .post(
            "/api/v1/records/validation_protocol",
            &dev,
            json!({"id": "vp1", "data": protocol}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["field"],
        "data/acceptance_criteria/0/criterion"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("column"),
        "{body}"
    );
    protocol["acceptance_criteria"] = json!([
        {"id": "AC-1", "criterion": "auc >= 0.85 and sensitivity >= 0.9"},
        {"id": "AC-2", "criterion": "auc[site=\"Basel 2\"] >= 0.85"}
    ]);
    s.create(&dev, "validation_protocol", "vp1", protocol).await;

    // No result against an unapproved protocol; none stating its own verdict.
    let result = json!({"protocol": "vp1", "model_version": "mv1", "metrics": [
        {"metric": "auc", "value": 0.91}, {"metric": "sensitivity", "value": 0.93},
        {"metric": "auc", "value": 0.84, "subgroup": [{"attribute": "site", "value": "Basel 2"}]}
    ]});
    let (status, body) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"data": result.clone()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "protocol_not_approved");
    s.approve(&qa, "validation_protocol", "vp1", 1).await;
    let mut stated = result.clone();
    stated["passed"] = json!(true);
    let (status, body) = s
        .post("/api/v1/validation-results", &dev, json!({"data": stated}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "data/passed");
    let (status, body) = s
        .post(
            "/api/v1/records/validation_result",
            &dev,
            json!({"data": {"protocol": "vp1", "model_version": "mv1",
                   "metrics": [{"metric": "auc", "value": 1.0}], "passed": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let mut lacking = result.clone();
    lacking["metrics"] = json!([{"metric": "auc", "value": 0.91}]);
    let (status, body) = s
        .post("/api/v1/validation-results", &dev, json!({"data": lacking}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("sensitivity") && message.contains("auc[site=\"Basel 2\"]"),
        "{message}"
    );

    // The server evaluates: the subgroup criterion fails, with the value it used.
    let (status, recorded) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"id": "vr1", "data": result}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let data = &recorded["data"];
    assert_eq!(data["passed"], false);
    assert_eq!(data["criteria_results"][0]["passed"], true);
    assert_eq!(data["criteria_results"][1]["passed"], false);
    assert_eq!(data["criteria_results"][1]["values"][0]["value"], 0.84);
    assert_eq!(data["independence"]["independent"], true, "{data}");
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    assert_eq!(ready["status"], "in_validation");
    let codes: Vec<&str> = ready["conditions"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["met"] == false)
                .filter_map(|c| c["code"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(codes.contains(&"validation_criteria_passed"), "{codes:?}");
    assert!(
        !codes.contains(&"protocol_approved_before_results"),
        "{codes:?}"
    );
    s.stop().await;
}

/// A CSV of `rows` rows whose ids start at `first` (so two such files share no row).
fn csv(first: u64, rows: u64) -> Vec<u8> {
    let mut text = String::from("id,age,site,outcome\n");
    for i in first..first + rows {
        let site = ["Basel", "Lyon", "Cork"][(i % 3) as usize];
        text.push_str(&format!("{i},{},{site},{}\n", 20 + i % 50, i % 2));
    }
    text.into_bytes()
}

/// Registers a dataset version for `bytes`, uploads them (the server profiles them and
/// evaluates the readiness checks) and has QA approve the readiness assessment.
async fn ready_dataset(s: &common::TestServer, dev: &str, qa: &str, id: &str, bytes: Vec<u8>) {
    let digest = hex::encode(Sha256::digest(&bytes));
    s.create(
        dev,
        "dataset_version",
        id,
        json!({"name": id, "version": "1", "content_digest": digest, "source": "MES export",
               "quality_checks": [
                   {"name": "enough rows", "criterion": "rows >= 1000"},
                   {"name": "age complete", "criterion": "missing_rate(age) <= 0.01"}]}),
    )
    .await;
    let (status, profiled) = s
        .raw(
            Method::POST,
            &format!("/api/v1/dataset-versions/{id}/data?path={id}.csv"),
            Some(dev),
            bytes,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profiled}");
    assert_eq!(profiled["version"], 2);
    assert_eq!(profiled["data"]["profile"]["rows"], 1200);
    assert_eq!(profiled["data"]["quality_checks"][0]["passed"], true);
    assert_eq!(
        profiled["data"]["quality_checks"][1]["values"][0]["value"],
        0.0
    );
    s.approve(qa, "dataset_version", id, 2).await;
}

/// Production is refused, naming `code` among the unmet conditions; returns them all.
async fn refused_naming(s: &common::TestServer, dev: &str, code: &str) -> Vec<String> {
    let (status, body) = s
        .post(
            "/api/v1/model-versions/mv1/deployments",
            dev,
            json!({"environment": "production", "target": "site-basel"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let codes = unmet_codes(&body);
    assert!(codes.contains(&code.to_owned()), "{code} in {codes:?}");
    codes
}

async fn one_model_walks_from_intended_use_to_production(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;

    let model = json!({
        "name": "tablet-anomaly", "owner": "dev",
        "intended_use": "Flags anomalous tablet batches for QA review.",
        "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "medium"}
    });
    s.create(&dev, "model", "m1", model).await;
    s.create(
        &dev,
        "model_version",
        "mv1",
        json!({"model": "m1", "version": "1",
               "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}],
               "lineage": {"dataset_versions": ["train"]}}),
    )
    .await;
    let everything = refused_naming(&s, &dev, "intended_use_approved").await;
    assert_eq!(
        everything.len(),
        9,
        "all but model_version_current: {everything:?}"
    );

    // Each step, in order: before it the gate names it; after it, that condition is met.
    let mut remaining = everything.clone();
    let mut steps_done = |codes: &[&str], now: Vec<String>| {
        remaining.retain(|c| !codes.contains(&c.as_str()));
        assert_eq!(now, remaining, "after {codes:?}");
    };

    s.approve(&qa, "model", "m1", 1).await;
    ready_dataset(&s, &dev, &qa, "train", csv(0, 1200)).await;
    ready_dataset(&s, &dev, &qa, "holdout", csv(5000, 1200)).await;
    let now = refused_naming(&s, &dev, "protocol_approved_before_results").await;
    steps_done(&["intended_use_approved", "datasets_ready"], now);

    s.create(&dev,
        "validation_protocol",
        "vp1",
        json!({"model": "m1", "model_version": "mv1", "title": "VP-1",
               "objective": "Show the model finds anomalous batches.",
               "test_datasets": ["holdout"],
               "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= 0.85 and sensitivity >= 0.9"}]}),
    )
    .await;
    s.approve(&qa, "validation_protocol", "vp1", 1).await;
    let (status, result) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"id": "vr1", "data": {"protocol": "vp1", "model_version": "mv1", "metrics": [
                {"metric": "auc", "value": 0.91}, {"metric": "sensitivity", "value": 0.93}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
    assert_eq!(result["data"]["passed"], true);
    let independence = &result["data"]["independence"];
    assert_eq!(independence["independent"], true, "{independence}");
    assert_eq!(independence["shared_rows"], 0, "row digests compared");
    let now = refused_naming(&s, &dev, "fairness_passed").await;
    steps_done(
        &[
            "protocol_approved_before_results",
            "validation_criteria_passed",
            "test_data_independent",
        ],
        now,
    );

    // Fairness, computed by the server from labels, predictions and groups.
    let sites: Vec<&str> = (0..400).map(|i| ["Basel", "Lyon"][(i / 4) % 2]).collect();
    let labels: Vec<u8> = (0..400).map(|i| u8::from(i % 4 < 2)).collect();
    let predictions: Vec<u8> = (0..400).map(|i| u8::from(i % 4 != 1)).collect();
    let (status, fairness) = s
        .post(
            "/api/v1/fairness-assessments",
            &dev,
            json!({"id": "fa1",
                   "data": {"model_version": "mv1", "sensitive_attributes": ["site"],
                            "positive_label": 1,
                            "criteria": [{"criterion": "demographic_parity_difference[attribute=site] <= 0.1"},
                                         {"metric": "disparate_impact", "attribute": "site", "op": ">=", "threshold": 0.8}]},
                   "labels": labels, "predictions": predictions, "sensitive": {"site": sites}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fairness}");
    assert_eq!(fairness["data"]["passed"], true, "{fairness}");
    assert_eq!(fairness["data"]["rows"], 400);
    let now = refused_naming(&s, &dev, "explanation_recorded").await;
    steps_done(&["fairness_passed"], now);

    let (status, explanation) = s
        .post(
            "/api/v1/explanations",
            &dev,
            json!({"id": "ex1",
                   "data": {"model_version": "mv1", "method": "shap", "feature_names": ["age", "site"]},
                   "attributions": [[0.2, -0.1], [0.4, 0.3], [-0.6, 0.1]],
                   "base_values": 0.5, "outputs": [0.6, 1.2, 0.0], "local_rows": [1]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{explanation}");
    assert_eq!(
        explanation["data"]["global_importance"][0]["feature"],
        "age"
    );
    let now = refused_naming(&s, &dev, "monitoring_plan_approved").await;
    steps_done(&["explanation_recorded"], now);

    s.create(&dev,
        "monitoring_plan",
        "mp1",
        json!({"model_version": "mv1", "reference_dataset": "train",
               "features": [{"name": "age", "type": "numerical"}], "action_plan": "Investigate any drift within a day."}),
    )
    .await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    let now = refused_naming(&s, &dev, "qa_release_signature").await;
    steps_done(&["monitoring_plan_approved"], now);

    // The release itself: QA signs, and production is recorded.
    s.approve(&qa, "model_version", "mv1", 1).await;
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["status"], "approved");
    let (status, deployed) = s
        .post(
            "/api/v1/model-versions/mv1/deployments",
            &dev,
            json!({"environment": "production", "target": "site-basel"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deployed}");
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    assert_eq!(ready["status"], "released");
    s.stop().await;
}
