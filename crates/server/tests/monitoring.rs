//! Drift monitoring through the real server, on SQLite and PostgreSQL: batches are evaluated
//! only under an approved plan, against the reference dataset's uploaded data; a batch like
//! the reference records no breach; a drifted one raises, in one transaction, an exception
//! detected by the system and a draft change request, and the model version requires
//! re-validation. Bad input is refused by name and writes nothing; NaN, infinities, missing
//! features and small batches have recorded outcomes.

mod common;

use common::receiver::Receiver;
use common::{file_part, form, record_part, server, Backend, TestServer, BOUNDARY};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    a_drifted_batch_raises_an_exception_and_a_change_request,
    bad_batches_are_refused_by_name_and_write_nothing,
    the_exception_closes_through_capa_and_the_gate_names_revalidation,
    a_batch_file_is_read_by_column_and_traced,
);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const SITES: [&str; 3] = ["Basel", "Lyon", "Cork"];

/// 600 reference rows: ages 20..79 spread evenly, three sites in turn.
fn reference_csv() -> Vec<u8> {
    let mut text = String::from("id,age,site\n");
    for i in 0..600u64 {
        text.push_str(&format!(
            "{i},{},{}\n",
            20 + (i * 7) % 60,
            SITES[(i % 3) as usize]
        ));
    }
    text.into_bytes()
}

/// `rows` batch rows like the reference, ages moved by `shift`.
fn batch(rows: u64, shift: f64) -> (Vec<Value>, Vec<Value>) {
    let ages = (0..rows)
        .map(|i| json!(20.0 + ((i * 11) % 60) as f64 + shift))
        .collect();
    let sites = (0..rows).map(|i| json!(SITES[(i % 3) as usize])).collect();
    (ages, sites)
}

/// Equal as JSON values, numbers compared by value (the log keeps 1.0 as 1).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn window() -> Value {
    json!({"start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"})
}

/// A model, its version, a profiled reference dataset and a monitoring plan (not approved);
/// returns (developer, qa) tokens.
async fn setup(s: &TestServer) -> (String, String) {
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    s.model_version(&dev, "m1", "mv1", "1", 'c').await;
    s.csv_dataset(&dev, "ref", "reference.csv", reference_csv())
        .await;
    s.create(
        &dev,
        "monitoring_plan",
        "mp1",
        json!({"model_version": "mv1", "reference_dataset": "ref",
               "features": [{"name": "age", "type": "numerical"},
                            {"name": "site", "type": "categorical"}],
               "drift": {"drift_share": 0.5},
               "performance_metrics": [{"metric": "accuracy", "op": ">=", "threshold": 0.8}],
               "minimum_batch_rows": 50,
               "action_plan": "QA investigates within 5 working days; the model is withdrawn \
                               if accuracy stays below 0.8.",
               "notify": ["qa"]}),
    )
    .await;
    (dev, qa)
}

async fn post_batch(s: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    s.post("/api/v1/monitoring-batches", token, body).await
}

async fn status_of(s: &TestServer, token: &str) -> String {
    let (status, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", token)
        .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    ready["status"].as_str().unwrap_or_default().to_owned()
}

async fn a_drifted_batch_raises_an_exception_and_a_change_request(backend: Backend) {
    let s = server(backend).await;
    let (dev, qa) = setup(&s).await;
    let hook = Receiver::start().await;
    let admin = s.admin().await;
    let (status, body) = s
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": hook.url, "events": ["drift_breach", "exception_raised"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (ages, sites) = batch(300, 0.0);
    let body = |id: &str, ages: Vec<Value>, sites: Vec<Value>| {
        json!({"id": id, "data": {"plan": "mp1", "window": window()},
               "columns": {"age": ages, "site": sites}})
    };

    // Only under an approved plan.
    let size = s.tree_size().await;
    let (status, refused) = post_batch(&s, &dev, body("b0", ages.clone(), sites.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "plan_not_approved");
    assert_eq!(s.tree_size().await, size, "nothing written");
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;

    // Like the reference: tested, no drift, no breach; the plan's model version filled in.
    let (status, quiet) = post_batch(&s, &dev, body("b1", ages.clone(), sites.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{quiet}");
    let data = &quiet["data"];
    assert_eq!(data["model_version"], "mv1");
    assert_eq!(data["rows"], 300);
    assert_eq!(data["tested"], true);
    assert_eq!(data["breach"], false, "{data}");
    assert_eq!(quiet["raised"], json!({}));
    let features = data["drift"]["features"].as_array().expect("features");
    assert_eq!(features.len(), 2);
    // Evidently's defaults for 600 reference rows: KS for ages, chi-square for three sites.
    assert_eq!(features[0]["feature"], "age");
    assert_eq!(features[0]["test"], "ks");
    assert_eq!(features[0]["comparison"], "<=");
    assert_eq!(features[1]["test"], "chi_square");
    assert!(features.iter().all(|f| f["drifted"] == false), "{data}");
    assert_eq!(data["drift"]["report"].as_str().map(str::len), Some(64));
    assert_eq!(quiet["receipt"]["seq"].as_array().map(Vec::len), Some(1));
    assert_eq!(status_of(&s, &qa).await, "draft");

    // Ages moved up by 25, an unseen site, NaN and infinities, poor accuracy: a breach.
    let (mut ages, mut sites) = batch(300, 25.0);
    ages[0] = json!("NaN");
    ages[1] = json!(null);
    ages[2] = json!("Infinity");
    sites[3] = json!("Dublin");
    sites[4] = json!("Dublin");
    sites[5] = json!("Dublin");
    sites[6] = json!("Dublin");
    let predictions: Vec<Value> = (0..300).map(|i| json!(i % 2 == 0)).collect();
    let labels: Vec<Value> = (0..300).map(|i| json!(i % 3 == 0)).collect();
    let mut drifted = body("b2", ages, sites);
    drifted["predictions"] = json!(predictions);
    drifted["labels"] = json!(labels);
    drifted["data"]["prediction_errors"] = json!({"count": 6, "sample": ["timeout"]});
    let (status, breach) = post_batch(&s, &dev, drifted).await;
    assert_eq!(status, StatusCode::CREATED, "{breach}");
    let data = &breach["data"];
    assert_eq!(data["breach"], true, "{data}");
    let age = &data["drift"]["features"][0];
    assert_eq!(age["drifted"], true, "{data}");
    assert_eq!(
        age["dropped"],
        json!({"missing": 2, "positive_infinity": 1, "negative_infinity": 0}),
        "NaN and infinities are counted: {age}"
    );
    assert_eq!(age["current_rows"], 297);
    let anomaly = |name: &str| {
        data["anomalies"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["anomaly"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} anomaly: {data}"))
    };
    assert_eq!(
        anomaly("unseen_category_share")["examples"],
        json!(["Dublin"])
    );
    // Dublin was never in the reference: chi-square's statistic is infinite, its p-value 0.
    let site = &data["drift"]["features"][1];
    assert_eq!(site["statistic"], Value::Null, "{site}");
    assert_eq!(site["p_value"], 0.0);
    assert_eq!(anomaly("unseen_category_share")["breached"], true);
    assert_eq!(anomaly("prediction_error_rate")["value"], 0.02);
    let accuracy = &data["performance"][0];
    assert_eq!(accuracy["metric"], "accuracy");
    assert_eq!(accuracy["passed"], false, "{data}");
    let breaches: Vec<&str> = data["breaches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(breaches[0].starts_with("data drift"), "{breaches:?}");
    assert!(breaches
        .iter()
        .any(|b| b.starts_with("performance: accuracy")));

    // One transaction: the batch, the exception and the change request.
    assert_eq!(breach["receipt"]["seq"].as_array().map(Vec::len), Some(3));
    let exception_id = breach["raised"]["exception"].as_str().expect("exception");
    let request_id = breach["raised"]["change_request"].as_str().expect("change");
    assert_eq!(data["exception"], exception_id);
    // Subscribers are told of the breach and of the exception it raised.
    let told = hook.wait_for(2).await;
    let mut kinds: Vec<Value> = told.iter().map(|r| r.json()["kind"].clone()).collect();
    kinds.sort_by_key(|k| k.to_string());
    assert_eq!(kinds, [json!("drift_breach"), json!("exception_raised")]);
    let breach_told = told
        .iter()
        .map(|r| r.json())
        .find(|b| b["kind"] == "drift_breach")
        .expect("breach");
    assert_eq!(breach_told["details"]["exception"], exception_id);
    assert_eq!(breach_told["details"]["model_version"], "mv1");
    assert_eq!(breach_told["record"]["id"], "b2");
    let (status, exception) = s
        .get(&format!("/api/v1/records/exception/{exception_id}"), &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{exception}");
    assert_eq!(exception["data"]["category"], "drift");
    assert_eq!(exception["data"]["detected_by"]["kind"], "system");
    assert_eq!(exception["data"]["source"], "b2");
    assert_eq!(exception["data"]["affected_model_versions"], json!(["mv1"]));
    assert_eq!(exception["data"]["notified_stakeholders"], json!(["qa"]));
    let (status, change) = s
        .get(&format!("/api/v1/records/change_request/{request_id}"), &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(change["workflow_state"], "draft");
    assert_eq!(change["data"]["raised_by"], exception_id);
    assert_eq!(change["data"]["model"], "m1");
    assert_eq!(status_of(&s, &qa).await, "revalidation_required");

    // A batch smaller than the plan's minimum is recorded, untested.
    let (ages, sites) = batch(10, 40.0);
    let (status, small) = post_batch(&s, &dev, body("b3", ages, sites)).await;
    assert_eq!(status, StatusCode::CREATED, "{small}");
    assert_eq!(small["data"]["tested"], false);
    assert_eq!(small["data"]["breach"], false);

    // A feature the batch lacks is a breach of its own.
    let (ages, _) = batch(100, 0.0);
    let (status, missing) = post_batch(
        &s,
        &dev,
        json!({"id": "b4", "data": {"plan": "mp1", "window": window()},
               "columns": {"age": ages}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{missing}");
    assert_eq!(missing["data"]["breach"], true);
    assert!(missing["data"]["breaches"][0]
        .as_str()
        .unwrap_or_default()
        .contains("missing_feature of site"));

    // Everything survives a restart, and the records read back as written.
    let mut s = s;
    s.restart().await;
    let qa = s.login("qa", &common::password_of("qa")).await;
    let (status, read) = s.get("/api/v1/records/monitoring_batch/b2", &qa).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert!(
        same(&read["data"], &breach["data"]),
        "{read} against {breach}"
    );
    s.stop().await;
}

async fn bad_batches_are_refused_by_name_and_write_nothing(backend: Backend) {
    let s = server(backend).await;
    let (dev, qa) = setup(&s).await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    let (ages, sites) = batch(100, 0.0);
    let good = json!({"data": {"plan": "mp1", "window": window()},
                      "columns": {"age": ages, "site": sites}});
    let size = s.tree_size().await;
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            {
                let mut b = good.clone();
                b["columns"]["weight"] = json!([1.0]);
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "columns/weight",
            "not a feature of the monitoring plan",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"]["site"] = json!(["Basel"]);
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "columns/site",
            "one value per row",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"]["age"][3] = json!("old");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "columns/age/3",
            "numerical feature takes numbers",
        ),
        (
            {
                let mut b = good.clone();
                b["data"]["window"]["end"] = json!("2026-10-01T00:00:00Z");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "data/window/end",
            "ends before it starts",
        ),
        (
            {
                let mut b = good.clone();
                b["data"]["breach"] = json!(false);
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "data/breach",
            "computed by the server",
        ),
        (
            {
                let mut b = good.clone();
                b["data"]["model_version"] = json!("mv9");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "data/model_version",
            "monitors `mv1`",
        ),
        (
            {
                let mut b = good.clone();
                b["data"]["plan"] = json!("mp9");
                b
            },
            StatusCode::NOT_FOUND,
            "data/plan",
            "mp9",
        ),
        (
            {
                let mut b = good.clone();
                b["labels"] = json!([true]);
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "labels",
            "one value per row",
        ),
    ];
    for (body, status, field, says) in cases {
        let (got, answer) = post_batch(&s, &dev, body).await;
        assert_eq!(got, status, "{field}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{field}: {message}");
    }
    // A batch stated through the generic endpoint may not carry computed figures.
    let (status, answer) = s
        .post(
            "/api/v1/records/monitoring_batch",
            &dev,
            json!({"data": {"plan": "mp1", "window": window(), "breach": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(s.tree_size().await, size, "nothing written");
    let (status, list) = s.get("/api/v1/records/monitoring_batch", &qa).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(0), "{list}");
    s.stop().await;
}

async fn step(
    s: &TestServer,
    token: &str,
    kind: &str,
    id: &str,
    version: u64,
    to: &str,
) -> (StatusCode, Value) {
    s.post(
        &format!("/api/v1/records/{kind}/{id}/transitions"),
        token,
        json!({"to": to, "version": version, "reason": format!("moving to {to}")}),
    )
    .await
}

async fn stepped(s: &TestServer, token: &str, kind: &str, id: &str, version: u64, to: &str) {
    let (status, body) = step(s, token, kind, id, version, to).await;
    assert_eq!(status, StatusCode::OK, "{kind} {id} to {to}: {body}");
}

fn unmet(body: &Value) -> Vec<String> {
    body["error"]["details"]["unmet"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn update(s: &TestServer, token: &str, kind: &str, id: &str, version: u64, data: Value) {
    let (status, body) = s
        .put(
            &format!("/api/v1/records/{kind}/{id}"),
            token,
            json!({"version": version, "reason": "findings recorded", "data": data}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{kind} {id}: {body}");
}

async fn the_exception_closes_through_capa_and_the_gate_names_revalidation(backend: Backend) {
    let s = server(backend).await;
    let (dev, qa) = setup(&s).await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    let (ages, sites) = batch(300, 25.0);
    let (status, breach) = post_batch(
        &s,
        &dev,
        json!({"id": "b1", "data": {"plan": "mp1", "window": window()},
               "columns": {"age": ages, "site": sites}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{breach}");
    let exception_id = breach["raised"]["exception"]
        .as_str()
        .expect("exception")
        .to_owned();

    // The gate names re-validation, with both things it still needs.
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    let revalidated = ready["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["code"] == "revalidated"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(revalidated["met"], false, "{ready}");
    let missing = revalidated["missing"].to_string();
    assert!(
        missing.contains("an approved change_request for model_version mv1"),
        "{missing}"
    );
    assert!(
        missing.contains("a passing validation_result for model_version mv1"),
        "{missing}"
    );

    // The exception's workflow: illegal steps named, needs checked.
    let (status, body) = step(&s, &qa, "exception", &exception_id, 1, "closed").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "illegal_transition");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("`investigating`, `cancelled`"));
    stepped(&s, &dev, "exception", &exception_id, 1, "investigating").await;
    let (status, body) = step(&s, &dev, "exception", &exception_id, 1, "capa_planned").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(unmet(&body), ["findings_recorded", "capa_named"], "{body}");

    s.create(
        &dev,
        "capa",
        "capa1",
        json!({"title": "Retrain on recent batches", "exceptions": [exception_id],
               "actions": [{"type": "corrective", "description": "Retrain on 2026 data.",
                            "owner": "dev", "due_date": "2026-12-20"}],
               "effectiveness_criteria": "No drift over the next four weekly batches."}),
    )
    .await;
    let (_, current) = s
        .get(&format!("/api/v1/records/exception/{exception_id}"), &dev)
        .await;
    let mut findings = current["data"].clone();
    findings["investigation"] = json!("A new supplier's tablets are heavier.");
    findings["root_cause"] = json!("Raw material change not covered by the training data.");
    findings["capa"] = json!(["capa1"]);
    update(&s, &dev, "exception", &exception_id, 1, findings).await;
    stepped(&s, &dev, "exception", &exception_id, 2, "capa_planned").await;
    stepped(&s, &dev, "exception", &exception_id, 2, "capa_in_progress").await;
    let (status, body) = step(
        &s,
        &dev,
        "exception",
        &exception_id,
        2,
        "effectiveness_check",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(unmet(&body), ["capa_checked"]);

    // The CAPA closes only with an effective check and QA's approval; only QA closes it.
    stepped(&s, &dev, "capa", "capa1", 1, "in_progress").await;
    stepped(&s, &dev, "capa", "capa1", 1, "effectiveness_check").await;
    let (status, body) = step(&s, &dev, "capa", "capa1", 1, "closed").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = step(&s, &qa, "capa", "capa1", 1, "closed").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(unmet(&body), ["effectiveness_confirmed", "qa_approved"]);
    let (_, capa) = s.get("/api/v1/records/capa/capa1", &dev).await;
    let mut checked = capa["data"].clone();
    checked["effectiveness_check"] = json!({"performed_on": "2026-12-30", "performed_by": "dev",
        "effective": true, "summary": "Four weekly batches without drift."});
    update(&s, &dev, "capa", "capa1", 1, checked).await;
    s.approve(&qa, "capa", "capa1", 2).await;
    stepped(&s, &qa, "capa", "capa1", 2, "closed").await;

    stepped(
        &s,
        &dev,
        "exception",
        &exception_id,
        2,
        "effectiveness_check",
    )
    .await;
    let (status, body) = step(&s, &qa, "exception", &exception_id, 2, "closed").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(unmet(&body), ["qa_approved"]);
    s.approve(&qa, "exception", &exception_id, 2).await;
    stepped(&s, &qa, "exception", &exception_id, 2, "closed").await;

    // Closed: the model version is no longer under re-validation.
    let (_, ready) = s
        .get("/api/v1/model-versions/mv1/release-readiness", &qa)
        .await;
    assert_ne!(ready["status"], "revalidation_required", "{ready}");
    let revalidated = ready["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["code"] == "revalidated"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(revalidated["met"], true, "{ready}");
    s.stop().await;
}

async fn post_file(
    s: &TestServer,
    token: &str,
    record: &Value,
    file: &[u8],
) -> (StatusCode, Value) {
    let body = form(&[record_part(record), file_part("week-45.csv", file)]);
    let response = s
        .http
        .post(format!("{}/api/v1/monitoring-batches/file", s.base))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let text = response.text().await.expect("read");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A batch as CSV: an id column the plan does not use, the features, predictions and labels.
fn batch_csv(rows: u64, shift: u64) -> Vec<u8> {
    let mut text = String::from("request,age,site,y_pred,y_true\n");
    for i in 0..rows {
        text.push_str(&format!(
            "r{i},{},{},{},{}\n",
            20 + (i * 11) % 60 + shift,
            SITES[(i % 3) as usize],
            u8::from(i % 2 == 0),
            u8::from(i % 2 == 0 || i % 5 == 0)
        ));
    }
    text.into_bytes()
}

async fn a_batch_file_is_read_by_column_and_traced(backend: Backend) {
    let s = server(backend).await;
    let (dev, qa) = setup(&s).await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    let record = |id: &str| {
        json!({"id": id, "data": {"plan": "mp1", "window": window()},
               "columns": {"predictions": "y_pred", "labels": "y_true"},
               "reason": "weekly batch"})
    };
    let csv = batch_csv(300, 30);
    let (status, answer) = post_file(&s, &dev, &record("f1"), &csv).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["rows"], 300);
    assert_eq!(
        data["source"],
        json!({"name": "week-45.csv", "sha256": sha256_hex(&csv), "bytes": csv.len(),
               "format": "csv"})
    );
    assert_eq!(data["inputs"], sha256_hex(&csv));
    assert_eq!(data["drift"]["features"][0]["drifted"], true, "{data}");
    // 10 of the 150 odd rows are labelled positive but predicted negative.
    let accuracy = data["performance"][0]["value"].as_f64().unwrap_or_default();
    assert!((accuracy - 270.0 / 300.0).abs() < 1e-12, "{data}");
    assert_eq!(data["breach"], true);
    assert!(answer["raised"]["exception"].is_string());

    // The same data as JSON gives the same figures.
    let (ages, sites): (Vec<Value>, Vec<Value>) = (0..300u64)
        .map(|i| {
            (
                json!(20 + (i * 11) % 60 + 30),
                json!(SITES[(i % 3) as usize]),
            )
        })
        .unzip();
    let (status, from_json) = post_batch(
        &s,
        &dev,
        json!({"id": "j1", "data": {"plan": "mp1", "window": window()},
               "columns": {"age": ages, "site": sites},
               "predictions": (0..300).map(|i| json!(u8::from(i % 2 == 0))).collect::<Vec<_>>(),
               "labels": (0..300).map(|i| json!(u8::from(i % 2 == 0 || i % 5 == 0))).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{from_json}");
    assert!(same(
        &from_json["data"]["drift"]["features"],
        &data["drift"]["features"]
    ));
    assert!(same(
        &from_json["data"]["performance"],
        &data["performance"]
    ));

    // Bad files are refused by name, and nothing is written.
    let size = s.tree_size().await;
    let mut no_labels = record("f2");
    no_labels["columns"]["labels"] = json!("label");
    for (record, file, field, says) in [
        (no_labels, csv.clone(), "file/label", "no column \"label\""),
        (
            record("f3"),
            b"request,age,site,y_pred,y_true\nr1,old,Basel,1,1\n".to_vec(),
            "file/age",
            "row 1 holds \"old\"",
        ),
        (record("f4"), Vec::new(), "file", "empty"),
        (record("f5"), b"\x00\x01binary".to_vec(), "file", "CSV"),
    ] {
        let (status, body) = post_file(&s, &dev, &record, &file).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{field}: {message}");
    }
    assert_eq!(s.tree_size().await, size, "nothing written");
    s.stop().await;
}
