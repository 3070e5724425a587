//! The validation dossier report through the real server, on SQLite and PostgreSQL: a model
//! version with real records (datasets profiled from data, an approved protocol and a passing
//! result, fairness and explanation computed by the server, an approved monitoring plan and a
//! drifted batch with the exception and CAPA it led to, signatures) drawn as HTML and as PDF.
//! The PDF is parsed back: every page carries the header and "Page X of Y", and the signature
//! manifestations are there; record text is escaped in the HTML; each report is an event of
//! the log naming its SHA-256; unknown versions are 404, no token 401, a refused caller 403.

mod common;

use common::{server, Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    the_dossier_shows_every_record_in_html_and_pdf,
    reports_are_refused_without_the_right_to_read,
);

const HOSTILE: &str = "<script>alert(\"x\")</script> & <img src=x onerror=alert(1)>";

/// A CSV of `rows` rows whose ids start at `first` (two such files share no row).
fn csv(first: u64, rows: u64) -> Vec<u8> {
    let mut text = String::from("id,age,site\n");
    for i in first..first + rows {
        let site = ["Basel", "Lyon", "Cork"][(i % 3) as usize];
        text.push_str(&format!("{i},{},{site}\n", 20 + (i * 7) % 60));
    }
    text.into_bytes()
}

/// The answer's status, headers and bytes.
async fn fetch(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = s.http.get(format!("{}{path}", s.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Builds the model version `mv1` with real evidence; returns (dev, qa, exception id).
async fn evidence(s: &TestServer) -> (String, String, String) {
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let long_limitations = "Not validated for tablets of a new press line. ".repeat(60);
    s.create(
        &dev,
        "model",
        "m1",
        json!({"name": "tablet-anomaly", "owner": "dev",
               "intended_use": format!("Flags anomalous tablet batches for QA review. {HOSTILE}"),
               "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
               "limitations": long_limitations,
               "risk": {"model_influence": "medium", "decision_consequence": "medium",
                        "rationale": "QA reviews every flag before release decisions."}}),
    )
    .await;
    s.approve(&qa, "model", "m1", 1).await;
    for (id, first) in [("train", 0), ("holdout", 5000)] {
        s.csv_dataset(&dev, id, &format!("{id}.csv"), csv(first, 600))
            .await;
        s.approve(&qa, "dataset_version", id, 2).await;
    }
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
               "acceptance_criteria": [{"id": "AC-1", "criterion": "auc >= 0.85 and sensitivity >= 0.9"}]}),
    )
    .await;
    s.approve(&qa, "validation_protocol", "vp1", 1).await;
    let (status, result) = s
        .post(
            "/api/v1/validation-results",
            &dev,
            json!({"id": "vr1", "data": {"protocol": "vp1", "model_version": "mv1",
                   "conclusion": HOSTILE, "metrics": [
                {"metric": "auc", "value": 0.91}, {"metric": "sensitivity", "value": 0.93}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
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
                            "criteria": [{"criterion": "demographic_parity_difference[attribute=site] <= 0.1"}]},
                   "labels": labels, "predictions": predictions, "sensitive": {"site": sites}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fairness}");
    let (status, explanation) = s
        .post(
            "/api/v1/explanations",
            &dev,
            json!({"id": "ex1",
                   "data": {"model_version": "mv1", "method": "shap", "feature_names": ["age", "site"]},
                   "attributions": [[0.2, -0.1], [0.4, 0.3], [-0.6, 0.1]],
                   "base_values": 0.5, "outputs": [0.6, 1.2, 0.0]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{explanation}");
    s.create(
        &dev,
        "monitoring_plan",
        "mp1",
        json!({"model_version": "mv1", "reference_dataset": "train",
               "features": [{"name": "age", "type": "numerical"},
                            {"name": "site", "type": "categorical"}],
               "minimum_batch_rows": 50,
               "action_plan": "QA investigates any drift within 5 working days."}),
    )
    .await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    s.approve(&qa, "model_version", "mv1", 1).await;
    // A drifted batch: ages moved up by 25.
    let ages: Vec<Value> = (0..300)
        .map(|i| json!(45.0 + ((i * 11) % 60) as f64))
        .collect();
    let sites: Vec<Value> = (0..300)
        .map(|i| json!(["Basel", "Lyon", "Cork"][i % 3]))
        .collect();
    let (status, batch) = s
        .post(
            "/api/v1/monitoring-batches",
            &dev,
            json!({"id": "b1", "data": {"plan": "mp1",
                   "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"}},
                   "columns": {"age": ages, "site": sites}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["data"]["breach"], true, "{batch}");
    let exception = batch["data"]["exception"].as_str().unwrap().to_owned();
    s.create(
        &dev,
        "capa",
        "capa1",
        json!({"title": "Retrain on the new press line", "exceptions": [exception],
               "actions": [{"type": "corrective", "description": "Retrain with November data.",
                            "owner": "dev", "due_date": "2026-12-31"}],
               "effectiveness_criteria": "No drift in the next four weekly batches."}),
    )
    .await;
    let (status, current) = s
        .get(&format!("/api/v1/records/exception/{exception}"), &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{current}");
    let mut data = current["data"].clone();
    data["investigation"] = json!("The press line changed in October.");
    data["root_cause"] = json!("New press line: heavier tablets.");
    data["capa"] = json!(["capa1"]);
    let (status, updated) = s
        .put(
            &format!("/api/v1/records/exception/{exception}"),
            &dev,
            json!({"version": current["version"], "reason": "investigated", "data": data}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    (dev, qa, exception)
}

/// The text of each page of a PDF, and the document's page count.
fn pdf_pages(bytes: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(bytes).expect("a PDF lopdf reads");
    let pages = document.get_pages();
    pages
        .keys()
        .map(|n| document.extract_text(&[*n]).expect("the page's text"))
        .collect()
}

async fn the_dossier_shows_every_record_in_html_and_pdf(backend: Backend) {
    let s = server(backend).await;
    let (_dev, qa, exception) = evidence(&s).await;
    let admin = s.admin().await;
    let viewer = s.person(&admin, "vic", "viewer").await;

    // HTML, for a viewer (read-only).
    let size_before = s.tree_size().await;
    let (status, headers, body) =
        fetch(&s, "/api/v1/model-versions/mv1/dossier.html", Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert!(header(&headers, "content-security-policy").contains("default-src 'none'"));
    let html = String::from_utf8(body.clone()).unwrap();
    let html_id = header(&headers, "x-modeltrail-report-id");
    assert_eq!(
        header(&headers, "x-modeltrail-report-sha256"),
        hex::encode(Sha256::digest(&body))
    );
    assert!(html.contains(&html_id), "the id is printed");
    // Record text is escaped, never markup.
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    for expected in [
        "Model and intended use",
        "Release-readiness checklist",
        "intended_use_approved",
        "validation_protocol vp1 version 1 (approved by qa Example)",
        "Validation results against acceptance criteria",
        "auc &gt;= 0.85 and sensitivity &gt;= 0.9",
        "Fairness",
        "demographic_parity_difference",
        "Explanation (global importance)",
        "Monitoring and drift",
        "b1 v1",
        &exception,
        "CAPA: capa capa1",
        "Retrain with November data.",
        "Lineage",
        "Signature manifestations",
        "qa Example",
        "Verifying this report",
        "modeltrail verify BUNDLE",
    ] {
        assert!(html.contains(expected), "{expected:?} in the HTML");
    }
    // The breach put the version under re-validation: the report says so.
    assert!(html.contains("revalidation_required"), "status shown");
    assert!(
        html.contains("<td class=\"bad\">unmet</td>"),
        "unmet conditions marked"
    );

    // The report is an event of the log: its id, digest and checkpoint.
    let (status, events) = s.get("/api/v1/events?action=report.generated", &qa).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let recorded = &events["events"][0];
    assert_eq!(recorded["actor"]["id"], "vic");
    let payload = &recorded["payload"];
    assert_eq!(payload["report_id"], html_id.as_str());
    assert_eq!(payload["format"], "html");
    assert_eq!(payload["model_version"], "mv1");
    assert_eq!(payload["sha256"], hex::encode(Sha256::digest(&body)));
    assert_eq!(payload["bytes"], body.len());
    let drawn_at = payload["checkpoint_size"].as_u64().unwrap();
    assert!(
        drawn_at >= size_before && drawn_at <= recorded["seq"].as_u64().unwrap(),
        "{payload}"
    );
    assert_eq!(
        header(&headers, "x-modeltrail-report-seq"),
        recorded["seq"].to_string()
    );
    let root = payload["checkpoint_root"].as_str().unwrap().to_owned();
    assert!(
        html.contains(&format!("size {drawn_at}, root {root}")),
        "header names the checkpoint"
    );

    // PDF, for QA.
    let (status, headers, pdf) =
        fetch(&s, "/api/v1/model-versions/mv1/dossier.pdf", Some(&qa)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(header(&headers, "content-type"), "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let pdf_id = header(&headers, "x-modeltrail-report-id");
    assert_ne!(pdf_id, html_id, "each report has its own id");
    let pages = pdf_pages(&pdf);
    let count = pages.len();
    assert!(count >= 3, "a multi-page dossier: {count} pages");
    let (_, events) = s.get("/api/v1/events?action=report.generated", &qa).await;
    let payload = &events["events"][1]["payload"];
    assert_eq!(payload["report_id"], pdf_id.as_str());
    assert_eq!(payload["pages"], count);
    assert_eq!(payload["sha256"], hex::encode(Sha256::digest(&pdf)));
    let size = payload["checkpoint_size"].as_u64().unwrap();
    let root = payload["checkpoint_root"].as_str().unwrap();
    for (i, text) in pages.iter().enumerate() {
        let flat = text.replace('\n', " ");
        for expected in [
            "Validation dossier".to_owned(),
            "tablet-anomaly (m1)".to_owned(),
            "mv1 (version 1)".to_owned(),
            format!("Report {pdf_id}"),
            format!("Checkpoint size {size} · root {root}"),
            format!("Page {} of {count}", i + 1),
        ] {
            assert!(
                flat.contains(&expected),
                "page {}: {expected:?} in {flat}",
                i + 1
            );
        }
        assert!(
            flat.contains("generated 20"),
            "page {}: generation time",
            i + 1
        );
    }
    let all: String = pages.join("\n").replace('\n', " ");
    let manifestations = all
        .find("Signature manifestations")
        .expect("the signature section");
    let verification = all
        .find("Verifying this report")
        .expect("the verification section");
    assert!(
        manifestations < verification,
        "signatures, then how to verify, at the end"
    );
    let signatures = &all[manifestations..verification];
    for expected in [
        "qa Example",
        "(qa, qa)",
        "approved",
        "UTC",
        "model m1",
        "model_version mv1",
        "1 (current)",
    ] {
        assert!(
            signatures.contains(expected),
            "{expected:?} in {signatures}"
        );
    }
    // Record text is drawn as text, whole.
    assert!(
        all.contains("alert(\"x\")"),
        "the hostile text is printed literally"
    );
    assert!(
        all.contains("--trusted-checkpoint"),
        "verification instructions"
    );

    // An unknown version: 404 naming it, and nothing recorded.
    let size = s.tree_size().await;
    let (status, _, body) = fetch(&s, "/api/v1/model-versions/nope/dossier.pdf", Some(&qa)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        error["error"]["message"].as_str().unwrap().contains("nope"),
        "{error}"
    );
    assert_eq!(s.tree_size().await, size, "a refused report writes nothing");
    s.stop().await;
}

async fn reports_are_refused_without_the_right_to_read(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    s.model_version(&dev, "m1", "mv1", "1", 'c').await;
    for format in ["html", "pdf"] {
        let path = format!("/api/v1/model-versions/mv1/dossier.{format}");
        let (status, _, _) = fetch(&s, &path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = fetch(&s, &path, Some("mts_not-a-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Someone who has not yet changed a temporary password may read nothing: 403, logged.
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "newbie", "name": "New Bie", "role": "viewer", "password": "temporary-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let newbie = s.login("newbie", "temporary-password-1").await;
    let (status, _, body) =
        fetch(&s, "/api/v1/model-versions/mv1/dossier.pdf", Some(&newbie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "password_change_required");
    let (_, events) = s
        .get("/api/v1/events?action=access.denied&actor=newbie", &admin)
        .await;
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
    let (_, events) = s
        .get("/api/v1/events?action=report.generated", &admin)
        .await;
    assert_eq!(events["events"], json!([]), "no report was made");

    // A model version with nearly nothing recorded still reads: every condition unmet.
    let (status, _, pdf) = fetch(&s, "/api/v1/model-versions/mv1/dossier.pdf", Some(&dev)).await;
    assert_eq!(status, StatusCode::OK);
    let pages = pdf_pages(&pdf);
    assert!(pages.concat().contains("not ready"), "{pages:?}");
    s.stop().await;
}
