//! Dataset versions of several data files through the real server, on SQLite and PostgreSQL:
//! each upload adds a file and the profile covers every file uploaded so far (readiness checks
//! evaluated on the whole), a file already profiled is refused, a file whose columns differ is
//! refused naming them with nothing written, and independence of test data considers the rows
//! of every training file.

mod common;

use common::{server, Backend};
use modeltrail_stats::profile::profile_parts;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    parts_are_profiled_as_one_table,
    a_part_with_other_columns_is_refused_and_nothing_is_written,
    a_row_of_a_second_training_part_breaks_independence,
);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// CSV rows `first..first + rows`; every `missing_every`th row (if any) has no age.
fn csv(first: u64, rows: u64, missing_every: Option<u64>) -> Vec<u8> {
    let mut text = String::from("id,age,site\n");
    for i in first..first + rows {
        let site = ["Basel", "Lyon", "Cork"][(i % 3) as usize];
        let age = match missing_every {
            Some(every) if i % every == 0 => String::new(),
            _ => (20 + i % 50).to_string(),
        };
        text.push_str(&format!("{i},{age},{site}\n"));
    }
    text.into_bytes()
}

/// The manifest and content digest of files, as `modeltrail dataset register` writes them.
fn manifest(files: &[(&str, &[u8])]) -> (Value, String) {
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by_key(|(path, _)| *path);
    let canonical: String = sorted
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", sha256_hex(bytes)))
        .collect();
    let entries = sorted
        .iter()
        .map(|(path, bytes)| {
            json!({"path": path, "sha256": sha256_hex(bytes), "size_bytes": bytes.len()})
        })
        .collect();
    (Value::Array(entries), sha256_hex(canonical.as_bytes()))
}

async fn register(s: &common::TestServer, dev: &str, id: &str, files: &[(&str, &[u8])]) {
    let (manifest, digest) = manifest(files);
    s.create(
        dev,
        "dataset_version",
        id,
        json!({"name": id, "version": "1", "content_digest": digest, "source": "MES export",
               "manifest": manifest,
               "quality_checks": [
                   {"name": "enough rows", "criterion": "rows >= 1000"},
                   {"name": "age complete", "criterion": "missing_rate(age) <= 0.01"}]}),
    )
    .await;
}

async fn upload(
    s: &common::TestServer,
    dev: &str,
    id: &str,
    path: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    s.raw(
        Method::POST,
        &format!("/api/v1/dataset-versions/{id}/data?path={path}"),
        Some(dev),
        bytes.to_vec(),
    )
    .await
}

async fn uploaded(s: &common::TestServer, dev: &str, id: &str, path: &str, bytes: &[u8]) -> Value {
    let (status, body) = upload(s, dev, id, path, bytes).await;
    assert_eq!(status, StatusCode::OK, "uploading {path}: {body}");
    body
}

/// The profile without what the server adds (the files and the digest-set blob).
fn figures(profile: &Value) -> Value {
    let mut figures = profile.clone();
    if let Some(object) = figures.as_object_mut() {
        object.remove("source");
        object.remove("row_digests");
    }
    figures
}

async fn parts_are_profiled_as_one_table(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let first = csv(0, 600, None);
    // 9 of its 600 rows have no age; its last row repeats the first part's first row.
    let mut second = csv(600, 599, Some(67));
    second.extend_from_slice(b"0,20,Basel\n");
    let files: [(&str, &[u8]); 2] = [("part-000.csv", &first), ("part-001.csv", &second)];
    register(&s, &dev, "train", &files).await;

    // Uploaded out of order: the profile lists the files in manifest order all the same.
    let one = uploaded(&s, &dev, "train", "part-001.csv", &second).await;
    assert_eq!(one["version"], 2);
    let profile = &one["data"]["profile"];
    assert_eq!(profile["rows"], 600);
    assert_eq!(profile["source"].as_array().map(Vec::len), Some(1));
    assert_eq!(profile["source"][0]["path"], "part-001.csv");
    let checks = &one["data"]["quality_checks"];
    assert_eq!(checks[0]["passed"], false, "600 rows: {checks}");
    assert_eq!(
        checks[1]["passed"], false,
        "9 of 600 ages missing: {checks}"
    );
    assert_eq!(checks[1]["values"][0]["value"], 0.015);

    let both = uploaded(&s, &dev, "train", "part-000.csv", &first).await;
    assert_eq!(both["version"], 3);
    let profile = &both["data"]["profile"];
    let expected = profile_parts(files).expect("the parts profile");
    assert_eq!(figures(profile), json!(expected.profile));
    assert_eq!(profile["rows"], 1200);
    assert_eq!(profile["duplicate_rows"], 1, "a row repeated across files");
    assert_eq!(profile["format"], "csv");
    assert_eq!(
        profile["source"],
        json!([
            {"path": "part-000.csv", "sha256": sha256_hex(&first), "bytes": first.len()},
            {"path": "part-001.csv", "sha256": sha256_hex(&second), "bytes": second.len()}
        ])
    );
    assert_eq!(
        profile["row_digests"],
        sha256_hex(&expected.digests.to_bytes()),
        "one digest-set blob for the rows of both files"
    );
    let checks = &both["data"]["quality_checks"];
    assert_eq!(checks[0]["passed"], true, "{checks}");
    assert_eq!(checks[0]["values"][0]["value"], 1200.0);
    assert_eq!(checks[1]["passed"], true, "{checks}");
    assert_eq!(checks[1]["values"][0]["value"], 0.0075);

    let size = s.tree_size().await;
    let (status, body) = upload(&s, &dev, "train", "part-000.csv", &first).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_profiled", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("part-000.csv"), "{message}");

    let (status, body) = upload(&s, &dev, "train", "part-002.csv", &first).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = upload(&s, &dev, "train", "part-000.csv", &second).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(s.tree_size().await, size, "refused uploads write nothing");
    s.stop().await;
}

async fn a_part_with_other_columns_is_refused_and_nothing_is_written(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let first = csv(0, 10, None);
    let other = b"id,weight,site\n10,70,Basel\n".to_vec();
    register(&s, &dev, "wide", &[("a.csv", &first), ("b.csv", &other)]).await;
    uploaded(&s, &dev, "wide", "a.csv", &first).await;
    let size = s.tree_size().await;

    let (status, body) = upload(&s, &dev, "wide", "b.csv", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("b.csv"), "{message}");
    assert!(message.contains("age, weight"), "{message}");
    assert_eq!(s.tree_size().await, size, "nothing written");
    let digest = sha256_hex(&other);
    let blob = s
        .config
        .store
        .data_dir
        .join("blobs")
        .join(&digest[..2])
        .join(&digest[2..]);
    assert!(
        !blob.exists(),
        "the refused file is not kept: {}",
        blob.display()
    );
    let kept = sha256_hex(&first);
    let blob = s
        .config
        .store
        .data_dir
        .join("blobs")
        .join(&kept[..2])
        .join(&kept[2..]);
    assert!(
        blob.exists(),
        "the blob check looks where blobs are: {}",
        blob.display()
    );
    let (status, record) = s.get("/api/v1/records/dataset_version/wide", &dev).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["data"]["profile"]["rows"], 10, "{record}");
    assert_eq!(
        record["data"]["profile"]["source"].as_array().map(Vec::len),
        Some(1),
        "{record}"
    );
    s.stop().await;
}

async fn a_row_of_a_second_training_part_breaks_independence(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let train_a = csv(0, 100, None);
    let train_b = csv(100, 100, None);
    register(
        &s,
        &dev,
        "train",
        &[("a.csv", &train_a), ("b.csv", &train_b)],
    )
    .await;
    uploaded(&s, &dev, "train", "a.csv", &train_a).await;
    uploaded(&s, &dev, "train", "b.csv", &train_b).await;
    // The test data's second file holds one row of the training data's second file.
    let test_a = csv(5000, 50, None);
    let mut test_b = csv(6000, 49, None);
    test_b.extend_from_slice(b"150,20,Basel\n");
    register(
        &s,
        &dev,
        "holdout",
        &[("a.csv", &test_a), ("b.csv", &test_b)],
    )
    .await;
    uploaded(&s, &dev, "holdout", "a.csv", &test_a).await;
    uploaded(&s, &dev, "holdout", "b.csv", &test_b).await;

    s.create(
        &dev,
        "model",
        "m1",
        json!({"name": "tablet-anomaly", "owner": "dev",
               "intended_use": "Flags anomalous tablet batches for QA review.",
               "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
               "risk": {"model_influence": "medium", "decision_consequence": "medium"}}),
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
    s.create(
        &dev,
        "validation_protocol",
        "vp1",
        json!({"model": "m1", "model_version": "mv1", "title": "VP-1",
               "objective": "Show the model finds anomalous batches.",
               "test_datasets": ["holdout"],
               "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= 0.85"}]}),
    )
    .await;
    s.approve(&qa, "validation_protocol", "vp1", 1).await;
    let (status, result) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"id": "vr1", "data": {"protocol": "vp1", "model_version": "mv1",
                   "metrics": [{"metric": "auc", "value": 0.91}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
    let independence = &result["data"]["independence"];
    assert_eq!(independence["shared_rows"], 1, "{independence}");
    assert_eq!(independence["independent"], false, "{independence}");
    assert_eq!(independence["shared_files"], json!([]), "{independence}");
    s.stop().await;
}
