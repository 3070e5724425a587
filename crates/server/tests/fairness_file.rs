//! Fairness assessments from a data file through the real server, on SQLite and PostgreSQL: a
//! CSV file sent as `multipart/form-data` gives the figures the JSON upload gives on the same
//! data, and the record traces them to the file (name, SHA-256, columns; the file kept as a
//! blob). Each bad input is a 4xx whose message names the problem, and nothing is written: not
//! the log, not the record list, not the blob store.

mod common;

use common::{server, Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    the_file_gives_the_figures_the_json_upload_gives,
    each_bad_input_is_refused_by_name_and_nothing_is_written,
);

const FILE_PATH: &str = "/api/v1/fairness-assessments/file";

use common::{file_part, form, record_part, Part, BOUNDARY};
async fn send(
    s: &TestServer,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = s
        .http
        .post(format!("{}{FILE_PATH}", s.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let text = response.text().await.expect("response read");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn upload(s: &TestServer, token: &str, parts: &[Part<'_>]) -> (StatusCode, Value) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    send(s, token, &content_type, form(parts)).await
}

/// A model and its version to assess; returns a developer's token.
async fn setup(s: &TestServer) -> String {
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    for (kind, data) in [
        (
            "model",
            json!({"name": "tablet-anomaly", "owner": "dev",
                   "intended_use": "Flags anomalous tablet batches for QA review.",
                   "context_of_use": "Advisory.", "gamp_category": 5,
                   "risk": {"model_influence": "low", "decision_consequence": "low",
                            "model_risk": "low"}}),
        ),
        (
            "model_version",
            json!({"model": "m1", "version": "1",
                   "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]}),
        ),
    ] {
        let id = if kind == "model" { "m1" } else { "mv1" };
        let (status, body) = s
            .post(
                &format!("/api/v1/records/{kind}"),
                &dev,
                json!({"id": id, "data": data}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {body}");
    }
    dev
}

/// 200 rows over two sites and two sexes, with different rates per group.
struct Data {
    labels: Vec<u8>,
    predictions: Vec<u8>,
    site: Vec<&'static str>,
    sex: Vec<&'static str>,
}

fn data() -> Data {
    let rows = 0..200usize;
    Data {
        labels: rows.clone().map(|i| u8::from(i % 4 < 2)).collect(),
        predictions: rows
            .clone()
            .map(|i| u8::from(i % 4 != 1 && i % 7 != 0))
            .collect(),
        site: rows
            .clone()
            .map(|i| ["Basel", "Lyon"][(i / 4) % 2])
            .collect(),
        sex: rows.map(|i| ["F", "M"][(i / 3) % 2]).collect(),
    }
}

/// The data as a CSV file, with a column the assessment does not use.
fn csv(data: &Data) -> Vec<u8> {
    let mut text = String::from("batch,y_true,y_pred,site,sex\n");
    for i in 0..data.labels.len() {
        text.push_str(&format!(
            "B{i:04},{},{},{},{}\n",
            data.labels[i], data.predictions[i], data.site[i], data.sex[i]
        ));
    }
    text.into_bytes()
}

fn assessment() -> Value {
    json!({"model_version": "mv1", "sensitive_attributes": ["site", "sex"],
           "positive_label": 1,
           "criteria": [{"criterion": "demographic_parity_difference[attribute=site] <= 0.1"},
                        {"metric": "disparate_impact", "attribute": "sex", "op": ">=",
                         "threshold": 0.8}]})
}

fn file_record(id: &str) -> Value {
    json!({"id": id, "data": assessment(),
           "columns": {"labels": "y_true", "predictions": "y_pred", "sensitive": ["site", "sex"]},
           "reason": "Bias test on the holdout predictions."})
}

fn blob_count(s: &TestServer) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| match e.path().is_dir() {
                        true => count(&e.path()),
                        false => 1,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(s.config.store.blobs().dir())
}

async fn the_file_gives_the_figures_the_json_upload_gives(backend: Backend) {
    let s = server(backend).await;
    let dev = setup(&s).await;
    let data = data();
    let (status, from_json) = s
        .post(
            "/api/v1/fairness-assessments",
            &dev,
            json!({"id": "fa-json", "data": assessment(),
                   "labels": data.labels, "predictions": data.predictions,
                   "sensitive": {"site": data.site, "sex": data.sex}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{from_json}");

    let file = csv(&data);
    let (status, from_file) = upload(
        &s,
        &dev,
        &[
            record_part(&file_record("fa-file")),
            file_part("holdout-predictions.csv", &file),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{from_file}");

    let (json_data, file_data) = (&from_json["data"], &from_file["data"]);
    for field in [
        "rows",
        "groups",
        "disparities",
        "criteria_results",
        "passed",
    ] {
        assert_eq!(json_data[field], file_data[field], "{field}");
    }
    assert_eq!(file_data["rows"], 200);
    assert!(
        file_data["groups"].as_array().is_some_and(|g| g.len() == 4),
        "{file_data}"
    );
    // The two criteria were evaluated, with the figures they used.
    let results = file_data["criteria_results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{file_data}");
    assert!(results
        .iter()
        .all(|r| r["values"].as_array().is_some_and(|v| !v.is_empty())));

    // The record traces the figures to the file, which is kept.
    let digest = hex::encode(Sha256::digest(&file));
    let source = &file_data["data"]["source"];
    assert_eq!(source["name"], "holdout-predictions.csv");
    assert_eq!(source["sha256"], digest.as_str());
    assert_eq!(file_data["data"]["inputs"], digest.as_str());
    assert_eq!(source["bytes"], file.len());
    assert_eq!(source["format"], "csv");
    assert_eq!(source["rows"], 200);
    assert_eq!(
        source["columns"],
        json!({"labels": "y_true", "predictions": "y_pred", "sensitive": ["site", "sex"]})
    );
    let kept = s
        .config
        .store
        .blobs()
        .get(&digest)
        .expect("blob store readable");
    assert_eq!(kept.as_deref(), Some(file.as_slice()), "the file is kept");
    let full_report = |data: &Value| -> Value {
        let digest = data["data"]["report"].as_str().expect("report digest");
        let bytes = s
            .config
            .store
            .blobs()
            .get(digest)
            .expect("blob store readable");
        serde_json::from_slice(&bytes.expect("the report is kept")).expect("report JSON")
    };
    assert_eq!(
        full_report(file_data),
        full_report(json_data),
        "the same full report as the JSON upload"
    );
    assert_eq!(
        file_data["data"]["report"], json_data["data"]["report"],
        "the same report, the same blob"
    );

    // It is a record like any other, in the log.
    let (status, read) = s
        .get("/api/v1/records/fairness_assessment/fa-file", &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["data"]["data"]["source"]["sha256"], digest.as_str());

    // The sensitive columns default to the attributes; a second upload of the same file
    // records the same digest.
    let mut record = file_record("fa-file-2");
    record["columns"] = json!({"labels": "y_true", "predictions": "y_pred"});
    let (status, again) = upload(
        &s,
        &dev,
        &[record_part(&record), file_part("same.csv", &file)],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["data"]["groups"], file_data["groups"]);
    assert_eq!(again["data"]["data"]["source"]["sha256"], digest.as_str());
    s.stop().await;
}

/// One bad input: what it is, the form, the status and words the message must hold.
struct Bad {
    what: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    says: &'static [&'static str],
    field: Option<&'static str>,
}

fn bad_inputs() -> Vec<Bad> {
    let good = csv(&data());
    let good_text = String::from_utf8(good.clone()).expect("text");
    let with_record =
        |record: Value, file: &[u8]| form(&[record_part(&record), file_part("data.csv", file)]);
    let record = file_record("fa-bad");
    let mut lines: Vec<String> = good_text.lines().map(str::to_owned).collect();
    lines[3] = "B0002,1,NA,Basel,F".into();
    let missing_cell = (lines.join("\n") + "\n").into_bytes();
    lines[3] = "B0002,1,2,Basel,F".into();
    let not_binary = (lines.join("\n") + "\n").into_bytes();
    lines[3] = "B0002,1,1,,F".into();
    let missing_group = (lines.join("\n") + "\n").into_bytes();

    let mut missing_column = record.clone();
    missing_column["columns"]["labels"] = json!("outcome");
    let mut unknown_field = record.clone();
    unknown_field["labels"] = json!([1, 0]);
    let mut unknown_column_field = record.clone();
    unknown_column_field["columns"]["weights"] = json!("w");
    let mut extra_sensitive = record.clone();
    extra_sensitive["columns"]["sensitive"] = json!(["site", "sex", "batch"]);
    let mut unknown_group = record.clone();
    unknown_group["data"]["criteria"] = json!([{"criterion": "selection_rate[site=Paris] >= 0.5"}]);
    let mut wrong_kind = record.clone();
    wrong_kind["data"]["positive_label"] = json!("yes");
    let mut no_model = record.clone();
    no_model["data"]["model_version"] = json!("mv-none");
    let mut stated_verdict = record.clone();
    stated_verdict["data"]["passed"] = json!(true);

    vec![
        Bad {
            what: "a column not in the file",
            content_type: None,
            body: with_record(missing_column, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["outcome", "y_true", "batch"],
            field: Some("columns/labels"),
        },
        Bad {
            what: "a file that is not CSV or Parquet",
            content_type: None,
            body: with_record(record.clone(), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["not CSV or Parquet"],
            field: Some("file"),
        },
        Bad {
            what: "an empty file",
            content_type: None,
            body: with_record(record.clone(), b""),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["empty"],
            field: Some("file"),
        },
        Bad {
            what: "a header without rows",
            content_type: None,
            body: with_record(record.clone(), b"batch,y_true,y_pred,site,sex\n"),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["no rows"],
            field: Some("file"),
        },
        Bad {
            what: "a label that is not binary",
            content_type: None,
            body: with_record(record.clone(), &not_binary),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["more than two distinct values", "y_pred"],
            field: Some("file"),
        },
        Bad {
            what: "a missing prediction",
            content_type: None,
            body: with_record(record.clone(), &missing_cell),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["y_pred", "row 3", "NA"],
            field: Some("file"),
        },
        Bad {
            what: "a missing group",
            content_type: None,
            body: with_record(record.clone(), &missing_group),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["site", "row 3"],
            field: Some("file"),
        },
        Bad {
            what: "labels of another kind than the positive label",
            content_type: None,
            body: with_record(wrong_kind, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["y_true", "a number", "a string"],
            field: Some("file"),
        },
        Bad {
            what: "a criterion naming an unknown group",
            content_type: None,
            body: with_record(unknown_group, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["Paris"],
            field: Some("data/criteria"),
        },
        Bad {
            what: "an unknown field in the record",
            content_type: None,
            body: with_record(unknown_field, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["unknown field", "labels"],
            field: None,
        },
        Bad {
            what: "an unknown field in the columns",
            content_type: None,
            body: with_record(unknown_column_field, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["unknown field", "weights"],
            field: None,
        },
        Bad {
            what: "a sensitive column that is not an attribute",
            content_type: None,
            body: with_record(extra_sensitive, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["batch", "sensitive_attributes"],
            field: Some("columns/sensitive"),
        },
        Bad {
            what: "a computed field stated",
            content_type: None,
            body: with_record(stated_verdict, &good),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["computed by the server"],
            field: Some("data/passed"),
        },
        Bad {
            what: "a model version that does not exist",
            content_type: None,
            body: with_record(no_model, &good),
            status: StatusCode::NOT_FOUND,
            says: &["mv-none"],
            field: Some("data/model_version"),
        },
        Bad {
            what: "no file part",
            content_type: None,
            body: form(&[record_part(&record)]),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["no `file` part"],
            field: Some("file"),
        },
        Bad {
            what: "no record part",
            content_type: None,
            body: form(&[file_part("data.csv", &good)]),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["no `record` part"],
            field: Some("record"),
        },
        Bad {
            what: "an unknown part",
            content_type: None,
            body: form(&[
                record_part(&record),
                file_part("data.csv", &good),
                Part {
                    name: "labels",
                    file_name: None,
                    bytes: b"[1]".to_vec(),
                },
            ]),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["unknown part", "labels"],
            field: Some("labels"),
        },
        Bad {
            what: "the file twice",
            content_type: None,
            body: form(&[
                record_part(&record),
                file_part("a.csv", &good),
                file_part("b.csv", &good),
            ]),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: &["more than once"],
            field: Some("file"),
        },
        Bad {
            what: "a record that is not JSON",
            content_type: None,
            body: form(&[
                Part {
                    name: "record",
                    file_name: None,
                    bytes: b"{\"id\": ".to_vec(),
                },
                file_part("data.csv", &good),
            ]),
            status: StatusCode::BAD_REQUEST,
            says: &["malformed JSON"],
            field: None,
        },
        Bad {
            what: "a JSON body instead of a form",
            content_type: Some("application/json"),
            body: record.to_string().into_bytes(),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            says: &["multipart/form-data"],
            field: None,
        },
        Bad {
            what: "a form cut short",
            content_type: None,
            body: form(&[record_part(&record), file_part("data.csv", &good)])[..200].to_vec(),
            status: StatusCode::BAD_REQUEST,
            says: &["multipart"],
            field: None,
        },
    ]
}

async fn each_bad_input_is_refused_by_name_and_nothing_is_written(backend: Backend) {
    let s = server(backend).await;
    let dev = setup(&s).await;
    let size = s.tree_size().await;
    let blobs = blob_count(&s);
    let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
    for bad in bad_inputs() {
        let content_type = bad.content_type.unwrap_or(&multipart);
        let (status, answer) = send(&s, &dev, content_type, bad.body).await;
        let what = bad.what;
        assert_eq!(status, bad.status, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        for words in bad.says {
            assert!(message.contains(words), "{what}: {words:?} in {message:?}");
        }
        if let Some(field) = bad.field {
            assert_eq!(answer["error"]["field"], field, "{what}: {answer}");
        }
        assert_eq!(s.tree_size().await, size, "{what}: the log is unchanged");
        assert_eq!(blob_count(&s), blobs, "{what}: no blob is written");
    }
    let (status, list) = s.get("/api/v1/records/fairness_assessment", &dev).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list["records"].as_array().map(Vec::len),
        Some(0),
        "no assessment is recorded: {list}"
    );
    s.stop().await;
}
