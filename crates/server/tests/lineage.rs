//! OpenLineage ingest through the real server, on SQLite and PostgreSQL: RunEvents (plain and
//! gzip) are logged by the caller and add up to runs, jobs and datasets linked to training runs
//! and dataset versions; events that break the 2-0-2 spec are refused naming the field, and
//! nothing is written.

mod common;

use common::{server, Backend};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;

on_both_backends!(
    run_events_build_linked_lineage,
    events_that_break_the_spec_are_refused_by_field,
);

const RUN: &str = "0192c6a4-8f3e-7c2d-9a51-3b7e2f10c4d8";
const SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

fn facet() -> Value {
    json!({"_producer": "https://example.org/pipelines/assay",
           "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
           "fields": [{"name": "potency", "type": "double"}]})
}

fn run_event(kind: &str, time: &str) -> Value {
    json!({
        "eventType": kind,
        "eventTime": time,
        "run": {"runId": RUN, "facets": {}},
        "job": {"namespace": "assay-ml", "name": "train_potency_model", "facets": {}},
        "inputs": [{"namespace": "s3://gxp-lake", "name": "assay/2026-11.csv",
                    "facets": {"schema": facet()}, "inputFacets": {}}],
        "outputs": [],
        "producer": "https://example.org/pipelines/assay",
        "schemaURL": SCHEMA,
    })
}

async fn post_raw(
    s: &common::TestServer,
    token: &str,
    body: Vec<u8>,
    gzip: bool,
) -> (StatusCode, Value) {
    let mut request = s
        .http
        .post(format!("{}/api/v1/lineage", s.base))
        .bearer_auth(token)
        .header("content-type", "application/json");
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    let response = request.body(body).send().await.expect("sent");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

async fn run_events_build_linked_lineage(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let viewer = s.person(&admin, "vera", "viewer").await;
    s.create(
        &dev,
        "dataset_version",
        "assay-2026-11",
        json!({"name": "assay", "version": "2026-11", "content_digest": "c".repeat(64),
               "source": "LIMS export",
               "openlineage": {"namespace": "s3://gxp-lake", "name": "assay/2026-11.csv"}}),
    )
    .await;
    s.create(
        &dev,
        "training_run",
        "tr1",
        json!({"name": "potency model training", "openlineage_run_id": RUN.to_uppercase()}),
    )
    .await;

    // START, plain JSON; COMPLETE, gzip as the HTTP transport sends it, with an output.
    let (status, started) = s
        .post(
            "/api/v1/lineage",
            &dev,
            run_event("START", "2026-12-04T09:00:00.000Z"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["run"]["state"], "START");
    assert_eq!(started["receipt"]["seq"].as_array().map(Vec::len), Some(1));
    let mut complete = run_event("COMPLETE", "2026-12-04T09:30:00.000+00:00");
    complete["outputs"] = json!([{"namespace": "models", "name": "potency-model/3",
                                  "facets": {}, "outputFacets": {}}]);
    let (status, completed) =
        post_raw(&s, &dev, gzipped(complete.to_string().as_bytes()), true).await;
    assert_eq!(status, StatusCode::CREATED, "{completed}");
    // A late RUNNING (earlier eventTime) does not undo COMPLETE.
    let (status, _) = s
        .post(
            "/api/v1/lineage",
            &dev,
            run_event("RUNNING", "2026-12-04T09:10:00Z"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, run) = s.get(&format!("/api/v1/lineage/runs/{RUN}"), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["state"], "COMPLETE", "{run}");
    assert_eq!(
        run["job"],
        json!({"namespace": "assay-ml", "name": "train_potency_model"})
    );
    assert_eq!(run["events"].as_array().map(Vec::len), Some(3));
    assert_eq!(run["events"][1]["actor"], "dev");
    assert_eq!(
        run["inputs"][0]["dataset_versions"],
        json!(["assay-2026-11"])
    );
    assert_eq!(run["outputs"][0]["name"], "potency-model/3");
    assert_eq!(run["training_runs"], json!(["tr1"]));

    let (status, dataset) = s
        .get(
            "/api/v1/lineage/datasets?namespace=s3%3A%2F%2Fgxp-lake&name=assay%2F2026-11.csv",
            &viewer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dataset}");
    assert_eq!(dataset["read_by"], json!([RUN]));
    assert_eq!(dataset["dataset_versions"], json!(["assay-2026-11"]));
    let (status, _) = s
        .get("/api/v1/lineage/datasets?namespace=x&name=y", &viewer)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, jobs) = s.get("/api/v1/lineage/jobs", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["jobs"][0]["runs"], json!([RUN]));

    // The event is in the log as it was sent, by the caller.
    let seq = started["receipt"]["seq"][0].as_u64().expect("seq");
    let (_, events) = s
        .get(&format!("/api/v1/events?from={seq}&limit=1"), &admin)
        .await;
    let logged = &events["events"][0];
    assert_eq!(logged["action"], "lineage.run_event");
    assert_eq!(logged["actor"]["id"], "dev");
    assert_eq!(
        logged["payload"]["inputs"][0]["facets"]["schema"]["fields"][0]["name"],
        "potency"
    );

    // Viewers read; they do not write. After a restart the lineage is rebuilt from the log.
    let (status, _) = s
        .post(
            "/api/v1/lineage",
            &viewer,
            run_event("OTHER", "2026-12-04T10:00:00Z"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut s = s;
    s.restart().await;
    let viewer = s.login("vera", &common::password_of("vera")).await;
    let (_, again) = s.get(&format!("/api/v1/lineage/runs/{RUN}"), &viewer).await;
    assert_eq!(again, run);
    s.stop().await;
}

async fn events_that_break_the_spec_are_refused_by_field(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let good = run_event("START", "2026-12-04T09:00:00Z");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"eventType": "BEGIN"}), "eventType"),
        (json!({"eventTime": "04/12/2026"}), "eventTime"),
        (json!({"producer": "assay pipeline"}), "producer"),
        (
            json!({"schemaURL": "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent"}),
            "schemaURL",
        ),
        (json!({"run": {"runId": "run-42"}}), "run.runId"),
        (json!({"run": null}), "run"),
        (json!({"job": {"namespace": "assay-ml"}}), "job.name"),
        (json!({"inputs": [{"name": "x"}]}), "inputs[0].namespace"),
        (
            json!({"outputs": [{"namespace": "m", "name": "x", "facets": {"schema": {"fields": []}}}]}),
            "outputs[0].facets.schema._producer",
        ),
    ];
    for (change, field) in cases {
        let mut body = good.clone();
        for (key, value) in change.as_object().expect("object") {
            body[key] = value.clone();
        }
        let size = s.tree_size().await;
        let (status, answer) = s.post("/api/v1/lineage", &dev, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert_eq!(s.tree_size().await, size, "nothing written for {field}");
    }
    let (status, answer) = post_raw(&s, &dev, b"\x1f\x8b not gzip".to_vec(), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_encoding");
    let (status, answer) = post_raw(&s, &dev, b"{\"eventTime\":".to_vec(), false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = s
        .call(Method::POST, "/api/v1/lineage", None, Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, answer) = s
        .get(
            "/api/v1/lineage/runs/0192c6a4-0000-7c2d-9a51-3b7e2f10c4d8",
            &dev,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    s.stop().await;
}
