//! The MLflow-compatible API through the real server, on SQLite and PostgreSQL: HTTP Basic is
//! a login (failures counted, lockout, must-change refused, one `auth.login` per remembered
//! credential); runs, metrics and write-once params, mirrored into `training_run` records and
//! rebuilt from the log after a restart; racing writes; and a registry transition to
//! Production that the release gate refuses until the model version is releasable, then
//! records as a deployment. (The real `mlflow` client is driven by `tests/python`.)

mod common;

use common::{password_of, server, server_with, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    basic_credentials_are_a_login,
    runs_are_ledgered_mirrored_and_rebuilt_after_a_restart,
    production_goes_through_the_release_gate,
);

const API: &str = "/api/2.0/mlflow";

/// How a call authenticates.
enum Auth<'a> {
    Basic(&'a str, &'a str),
    Bearer(&'a str),
    Nothing,
}

async fn mlflow(
    s: &TestServer,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = s.http.request(method, format!("{}{path}", s.base));
    request = match auth {
        Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Nothing => request,
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn events(s: &TestServer, admin: &str, query: &str) -> Vec<Value> {
    let (status, body) = s
        .get(&format!("/api/v1/events?limit=1000&{query}"), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().unwrap().clone()
}

async fn basic_credentials_are_a_login(backend: Backend) {
    let s = server_with(backend, |c| c.lockout_threshold = 3).await;
    let admin = s.admin().await;
    s.person(&admin, "dev", "developer").await;
    let password = password_of("dev");
    let get = format!("{API}/experiments/get?experiment_id=0");

    for _ in 0..3 {
        let (status, body) =
            mlflow(&s, Method::GET, &get, Auth::Basic("dev", &password), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["experiment"]["name"], "Default");
    }
    let logins = events(&s, &admin, "action=auth.login&actor=dev").await;
    let by_password: Vec<_> = logins
        .iter()
        .filter(|e| e["actor"]["auth"] == "password")
        .collect();
    assert_eq!(
        by_password.len(),
        1,
        "remembered after the first check: {logins:?}"
    );

    let (status, body) = mlflow(&s, Method::GET, &get, Auth::Nothing, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], "UNAUTHENTICATED", "{body}");
    // MLflow 3's capability check, read before artifact transfers.
    let info = "/api/3.0/mlflow/server-info";
    let (status, body) = mlflow(&s, Method::GET, info, Auth::Basic("dev", &password), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["artifact_serving_enabled"], true);
    assert_eq!(body["multipart_uploads_enabled"], false);
    let (status, body) = mlflow(&s, Method::GET, info, Auth::Nothing, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], "UNAUTHENTICATED", "{body}");
    let (status, _) = s
        .call(Method::GET, &get, Some("mts_not-a-session"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Wrong passwords count as failed logins and lock the account at the threshold; the
    // remembered good password then no longer opens it.
    for _ in 0..3 {
        let (status, body) = mlflow(
            &s,
            Method::GET,
            &get,
            Auth::Basic("dev", "wrong-password"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error_code"], "UNAUTHENTICATED");
        assert!(!body["message"].as_str().unwrap().contains("wrong-password"));
    }
    assert_eq!(
        events(&s, &admin, "action=auth.login_failed").await.len(),
        3
    );
    assert_eq!(events(&s, &admin, "action=user.lock").await.len(), 1);
    let (status, body) = mlflow(&s, Method::GET, &get, Auth::Basic("dev", &password), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "PERMISSION_DENIED");

    // A person who has not yet changed the first password may do nothing through MLflow.
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "new", "name": "New Person", "role": "developer",
                   "password": "new-first-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = mlflow(
        &s,
        Method::POST,
        &format!("{API}/experiments/create"),
        Auth::Basic("new", "new-first-password"),
        Some(json!({"name": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "PERMISSION_DENIED");
    assert_eq!(
        events(&s, &admin, "action=access.denied&actor=new")
            .await
            .len(),
        1
    );
    // An administrator reads but does not write.
    let (status, body) = mlflow(
        &s,
        Method::POST,
        &format!("{API}/experiments/create"),
        Auth::Bearer(&admin),
        Some(json!({"name": "admin-may-not"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    s.stop().await;
}

async fn runs_are_ledgered_mirrored_and_rebuilt_after_a_restart(backend: Backend) {
    let mut s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let call = |method: Method, path: &str, body: Option<Value>| {
        let path = format!("{API}{path}");
        let s = &s;
        let dev = dev.clone();
        async move { mlflow(s, method, &path, Auth::Bearer(&dev), body).await }
    };
    let (status, created) = call(
        Method::POST,
        "/experiments/create",
        Some(json!({"name": "exp", "tags": [{"key": "team"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let experiment = created["experiment_id"].as_str().unwrap().to_owned();
    let (status, again) = call(
        Method::POST,
        "/experiments/create",
        Some(json!({"name": "exp"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error_code"], "RESOURCE_ALREADY_EXISTS");

    let (status, run) = call(
        Method::POST,
        "/runs/create",
        Some(json!({"experiment_id": experiment, "run_name": "r1", "start_time": 1_700_000_000_000i64})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(run["run"]["info"]["user_id"], "dev");
    let metrics: Vec<Value> = (0..4)
        .map(|step| json!({"key": "loss", "value": 1.0 / (step as f64 + 1.0), "timestamp": 1_700_000_000_000i64 + step, "step": step}))
        .chain([json!({"key": "odd", "value": "NaN", "timestamp": "1700000000009", "step": "0"})])
        .collect();
    let (status, body) = call(
        Method::POST,
        "/runs/log-batch",
        Some(json!({"run_id": run_id, "metrics": metrics,
                    "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "t", "value": "v"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        Method::POST,
        "/runs/log-parameter",
        Some(json!({"run_id": run_id, "key": "lr", "value": "0.2"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE");

    // Racing writers of one parameter: exactly one value is kept.
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let request = s
            .http
            .post(format!("{}{API}/runs/log-parameter", s.base))
            .bearer_auth(&dev)
            .json(&json!({"run_id": run_id, "key": "seed", "value": i.to_string()}));
        racers.spawn(async move { request.send().await.unwrap().status() });
    }
    let results = racers.join_all().await;
    let ok = results.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");

    let (status, body) = call(
        Method::POST,
        "/runs/update",
        Some(json!({"run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_100_000i64})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, record) = s
        .get(
            &format!("/api/v1/records/training_run/mlflow-run-{run_id}"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["version"], 2);
    assert_eq!(record["data"]["status"], "finished");
    assert_eq!(
        record["data"]["metrics"].as_array().unwrap().len(),
        4,
        "NaN is not a number"
    );
    assert_eq!(record["changed"]["by"], "dev");
    let logged = events(&s, &admin, "action=mlflow.run.log&actor=dev").await;
    assert_eq!(
        logged.len(),
        2,
        "one event per call: the batch and the winning racer"
    );

    let search = json!({"experiment_ids": [experiment],
                        "filter": "metrics.loss < 0.3 and params.lr = '0.1' and attributes.status = 'FINISHED'"});
    let (status, found) = call(Method::POST, "/runs/search", Some(search.clone())).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["runs"].as_array().unwrap().len(), 1);
    let (_, before) = call(Method::GET, &format!("/runs/get?run_id={run_id}"), None).await;
    assert_eq!(
        before["run"]["data"]["metrics"].as_array().unwrap().len(),
        2
    );

    // Delete and restore change the lifecycle; nothing leaves the log.
    let (status, _) = call(
        Method::POST,
        "/runs/delete",
        Some(json!({"run_id": run_id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, hidden) = call(Method::POST, "/runs/search", Some(search.clone())).await;
    assert!(hidden.get("runs").is_none() || hidden["runs"].as_array().unwrap().is_empty());
    let (status, _) = call(
        Method::POST,
        "/runs/restore",
        Some(json!({"run_id": run_id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    s.restart().await;
    let dev = s.login("dev", &password_of("dev")).await;
    let (status, after) = mlflow(
        &s,
        Method::GET,
        &format!("{API}/runs/get?run_id={run_id}"),
        Auth::Bearer(&dev),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before, "the MLflow state is rebuilt from the log");
    let (_, history) = mlflow(
        &s,
        Method::GET,
        &format!("{API}/metrics/get-history?run_id={run_id}&metric_key=odd"),
        Auth::Bearer(&dev),
        None,
    )
    .await;
    assert_eq!(history["metrics"][0]["value"], "NaN");
    s.stop().await;
}

fn csv(start: u32, rows: u32) -> Vec<u8> {
    let mut text = String::from("batch,age,site,label\n");
    for i in start..start + rows {
        let site = ["Basel", "Lyon", "Cork"][(i % 3) as usize];
        text.push_str(&format!("{i},{},{site},{}\n", 20 + i % 50, i % 2));
    }
    text.into_bytes()
}

/// A dataset version whose data the server profiled and QA approved.
async fn ready_dataset(s: &TestServer, dev: &str, qa: &str, id: &str, bytes: Vec<u8>) {
    let digest = hex::encode(Sha256::digest(&bytes));
    s.create(
        dev,
        "dataset_version",
        id,
        json!({"name": id, "version": "1", "content_digest": digest, "source": "MES export",
               "quality_checks": [{"name": "enough rows", "criterion": "rows >= 1000"}]}),
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
    s.approve(qa, "dataset_version", id, 2).await;
}

async fn production_goes_through_the_release_gate(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let call = |method: Method, path: &str, body: Option<Value>| {
        let path = format!("{API}{path}");
        let s = &s;
        let dev = dev.clone();
        async move { mlflow(s, method, &path, Auth::Bearer(&dev), body).await }
    };
    s.create(
        &dev,
        "model",
        "m1",
        json!({"name": "tablets", "owner": "dev", "intended_use": "Flags batches for review.",
               "context_of_use": "Advisory; QA reviews.", "gamp_category": 5,
               "risk": {"model_influence": "low", "decision_consequence": "low"}}),
    )
    .await;
    s.approve(&qa, "model", "m1", 1).await;
    ready_dataset(&s, &dev, &qa, "train", csv(0, 1200)).await;
    ready_dataset(&s, &dev, &qa, "holdout", csv(5000, 1200)).await;

    // The run, its training data (logged under the dataset version's id) and its model file.
    let (_, run) = call(
        Method::POST,
        "/runs/create",
        Some(json!({"experiment_id": "0"})),
    )
    .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        Method::POST,
        "/runs/log-inputs",
        Some(json!({"run_id": run_id, "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": "training"}],
            "dataset": {"name": "train", "digest": "abc123", "source_type": "local", "source": "{}"}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let weights = b"model weights".to_vec();
    let (status, body) = s
        .raw(
            Method::PUT,
            &format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/model.pkl"),
            Some(&dev),
            weights.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        Method::POST,
        "/runs/update",
        Some(json!({"run_id": run_id, "status": "FINISHED"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = call(
        Method::POST,
        "/registered-models/create",
        Some(json!({"name": "tablets"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, version) = call(
        Method::POST,
        "/model-versions/create",
        Some(
            json!({"name": "tablets", "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version["model_version"]["version"], "1");
    let mv = "mlflow:tablets:v1";
    let (status, record) = s
        .get(&format!("/api/v1/records/model_version/{mv}"), &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["data"]["model"], "m1");
    assert_eq!(
        record["data"]["artifacts"],
        json!([{"path": "model.pkl", "sha256": hex::encode(Sha256::digest(&weights)), "size_bytes": weights.len()}])
    );
    assert_eq!(
        record["data"]["lineage"],
        json!({"training_run": format!("mlflow-run-{run_id}"), "dataset_versions": ["train"]})
    );

    let production = json!({"name": "tablets", "version": "1", "stage": "Production"});
    let (status, refused) = call(
        Method::POST,
        "/model-versions/transition-stage",
        Some(production.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error_code"], "RESOURCE_CONFLICT");
    let message = refused["message"].as_str().unwrap();
    for unmet in ["protocol_approved_before_results", "qa_release_signature"] {
        assert!(message.contains(unmet), "{unmet} in {message}");
    }
    let (_, got) = call(
        Method::GET,
        "/model-versions/get?name=tablets&version=1",
        None,
    )
    .await;
    assert_eq!(
        got["model_version"]["current_stage"], "None",
        "a refusal writes nothing"
    );

    s.create(
        &dev,
        "validation_protocol",
        "vp1",
        json!({"model": "m1", "model_version": mv, "title": "VP-1", "objective": "Finds bad batches.",
               "test_datasets": ["holdout"],
               "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= 0.85"}]}),
    )
    .await;
    s.approve(&qa, "validation_protocol", "vp1", 1).await;
    let (status, result) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"id": "vr1", "data": {"protocol": "vp1", "model_version": mv,
                   "metrics": [{"metric": "auc", "value": 0.91}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
    s.create(
        &dev,
        "monitoring_plan",
        "mp1",
        json!({"model_version": mv, "reference_dataset": "train",
               "features": [{"name": "age", "type": "numerical"}], "action_plan": "Investigate drift."}),
    )
    .await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    s.approve(&qa, "model_version", mv, 1).await;
    let (_, ready) = s
        .get(
            &format!("/api/v1/model-versions/{mv}/release-readiness"),
            &qa,
        )
        .await;
    assert_eq!(ready["ready"], true, "{ready}");

    let (status, moved) = call(
        Method::POST,
        "/model-versions/transition-stage",
        Some(production),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["model_version"]["current_stage"], "Production");
    let (_, ready) = s
        .get(
            &format!("/api/v1/model-versions/{mv}/release-readiness"),
            &qa,
        )
        .await;
    assert_eq!(ready["status"], "released", "{ready}");
    let deployments = events(&s, &admin, "action=record.create&record_type=deployment").await;
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["payload"]["model_version"], mv);
    assert_eq!(deployments[0]["actor"]["id"], "dev");
    s.stop().await;
}
