//! Decision records through the real server, on SQLite and PostgreSQL: batches refused whole
//! with the line of the first bad record (nothing written), proofs by request id that verify
//! for a decision in the middle of a batch, the review queue and signed reviews, and the
//! override rate raising an exception.

mod common;

use common::{password_of, server, Backend, TestServer};
use modeltrail_ledger::checkpoint::SignedCheckpoint;
use modeltrail_ledger::event::Event;
use modeltrail_ledger::hash::leaf_hash;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_inclusion;
use modeltrail_ledger::Hash;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    a_bad_batch_is_refused_whole_with_its_line,
    a_batch_is_one_append_and_each_decision_proves_included,
    undecided_outputs_are_reviewed_with_signatures,
    a_high_override_rate_raises_an_exception,
);

struct Setup {
    s: TestServer,
    admin: String,
    dev: String,
    qa: String,
    svc: String,
}

/// A model version `mv-1` deployed to staging with the decision settings given, a developer,
/// a QA person and a service account `svc` with an API token.
async fn setup(backend: Backend, decisions: Value) -> Setup {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "svc", "name": "Serving system", "role": "developer", "kind": "service"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s
        .post(
            "/api/v1/users/svc/tokens",
            &admin,
            json!({"label": "serving"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let svc = body["token"].as_str().unwrap().to_owned();
    s.model_version(&dev, "m-1", "mv-1", "1", 'a').await;
    let (status, body) = s
        .post(
            "/api/v1/model-versions/mv-1/deployments",
            &dev,
            json!({"environment": "staging", "target": "line-3", "decisions": decisions}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Setup {
        s,
        admin,
        dev,
        qa,
        svc,
    }
}

fn decision(id: &str, confidence: f64) -> Value {
    json!({"request_id": id, "model_version": "mv-1", "environment": "staging",
           "predicted_at": "2026-12-04T10:00:00Z",
           "input": {"weight_mg": 251.5, "hardness": 7.1, "line": "3"},
           "output": {"label": "pass"}, "confidence": confidence,
           "attributions": [{"feature": "weight_mg", "value": 0.4}]})
}

fn lines(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&serde_json::to_vec(r).unwrap());
        out.push(b'\n');
    }
    out
}

async fn batch(s: &TestServer, token: &str, records: &[Value]) -> (StatusCode, Value) {
    s.raw(
        Method::POST,
        "/api/v1/decisions:batch",
        Some(token),
        lines(records),
    )
    .await
}

/// A change that makes one record of a batch wrong.
type Spoil = Box<dyn Fn(&mut Value)>;

async fn a_bad_batch_is_refused_whole_with_its_line(backend: Backend) {
    let Setup { s, dev, svc, .. } = setup(backend, json!({})).await;
    let good: Vec<Value> = (0..50).map(|i| decision(&format!("r-{i}"), 0.9)).collect();
    let before = s.tree_size().await;

    // Each kind of wrong record, on line 38: the whole batch is refused, naming line and field.
    let cases: Vec<(Spoil, &str, StatusCode)> = vec![
        (
            Box::new(|r| r["confidence"] = json!(1.2)),
            "confidence",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["confidence"] = json!("high")),
            "confidence",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["predicted_at"] = json!("today")),
            "predicted_at",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["environment"] = json!("production")),
            "model_version",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["model_version"] = json!("mv-404")),
            "model_version",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["request_id"] = json!("r-3")),
            "request_id",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| r["input_digest"] = json!("0".repeat(64))),
            "input_digest",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Box::new(|r| {
                r.as_object_mut().unwrap().remove("output");
            }),
            "output",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (spoil, field, status) in cases {
        let mut records = good.clone();
        spoil(&mut records[37]);
        let (got, body) = batch(&s, &svc, &records).await;
        assert_eq!(got, status, "{field}: {body}");
        assert_eq!(body["error"]["details"]["line"], 38, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("line 38:"), "{message}");
    }
    // A line that is not JSON at all, and an empty line.
    let mut bytes = lines(&good[..10]);
    bytes.extend_from_slice(b"{\"request_id\": \n");
    let (status, body) = s
        .raw(Method::POST, "/api/v1/decisions:batch", Some(&svc), bytes)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["line"], 11);
    let mut bytes = lines(&good[..3]);
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(&lines(&good[3..5]));
    let (_, body) = s
        .raw(Method::POST, "/api/v1/decisions:batch", Some(&svc), bytes)
        .await;
    assert_eq!(body["error"]["details"]["line"], 4, "{body}");
    assert_eq!(s.tree_size().await, before, "nothing was written");

    // A person cannot record decisions: the serving identity is a service account.
    let (status, body) = batch(&s, &dev, &good).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "service_account_required");

    // A request id already in the log: refused whole, naming its line; nothing written.
    let (status, body) = batch(&s, &svc, &good[..5]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let size = s.tree_size().await;
    let mut again: Vec<Value> = (100..120)
        .map(|i| decision(&format!("r-{i}"), 0.9))
        .collect();
    again[12] = decision("r-2", 0.9);
    let (status, body) = batch(&s, &svc, &again).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "decision_exists");
    assert_eq!(body["error"]["details"]["line"], 13, "{body}");
    assert_eq!(s.tree_size().await, size);
    let (status, _) = s.get("/api/v1/decisions/r-100", &dev).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.stop().await;
}

/// Verifies a proof answer against the log's public key: the leaf recomputed from the
/// event's canonical bytes, the inclusion proof against the signed checkpoint's root.
async fn verify_proof(s: &TestServer, token: &str, request_id: &str) -> u64 {
    let (status, key) = s
        .call(Method::GET, "/api/v1/log/public-key", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let verifier = NoteVerifier::from_text(key.as_str().unwrap().trim()).unwrap();
    let (status, answer) = s
        .get(&format!("/api/v1/decisions/{request_id}/proof"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let event: Event = serde_json::from_value(answer["event"].clone()).unwrap();
    assert_eq!(event.record.as_ref().unwrap().id, request_id);
    let leaf = leaf_hash(&event.to_canonical().unwrap());
    assert_eq!(json!(leaf), answer["leaf"]);
    let checkpoint =
        SignedCheckpoint::open(answer["checkpoint"].as_str().unwrap(), &verifier).unwrap();
    let proof: Vec<Hash> = serde_json::from_value(answer["proof"].clone()).unwrap();
    let index = answer["index"].as_u64().unwrap();
    verify_inclusion(
        &leaf,
        index,
        checkpoint.checkpoint().size,
        &proof,
        &checkpoint.checkpoint().root,
    )
    .unwrap();
    // A proof of another leaf at this index does not verify.
    let mut wrong = proof.clone();
    if let Some(first) = wrong.first_mut() {
        *first = leaf;
    }
    assert!(verify_inclusion(
        &leaf,
        index,
        checkpoint.checkpoint().size,
        &wrong,
        &checkpoint.checkpoint().root
    )
    .is_err());
    index
}

async fn a_batch_is_one_append_and_each_decision_proves_included(backend: Backend) {
    let Setup { s, dev, svc, .. } = setup(backend, json!({"confidence_threshold": 0.7})).await;
    let mut records: Vec<Value> = (0..1000)
        .map(|i| decision(&format!("req-{i:04}"), if i % 10 == 0 { 0.4 } else { 0.95 }))
        .collect();
    records[500]["keep_input"] = json!(true);
    let before = s.tree_size().await;
    let (status, body) = batch(&s, &svc, &records).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["count"], 1000);
    assert_eq!(body["undecided"], 100);
    assert_eq!(body["first_seq"], before);
    assert_eq!(body["last_seq"], before + 999);
    assert_eq!(body["tree_size"], before + 1000);
    // One checkpoint for the whole batch: the next checkpoint after `before` is its end.
    let text = body["checkpoint"].as_str().unwrap();
    assert_eq!(text.lines().nth(1).unwrap(), (before + 1000).to_string());
    // The event right before the batch's end is the batch's: all in one append.
    let (_, events) = s
        .get(
            &format!("/api/v1/events?from={before}&limit=1000&action=decision.record"),
            &s.admin().await,
        )
        .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1000);

    // A decision in the middle of the batch proves included in the latest checkpoint, and
    // at its own seq.
    assert_eq!(verify_proof(&s, &dev, "req-0500").await, before + 500);
    assert_eq!(verify_proof(&s, &dev, "req-0001").await, before + 1);
    let (status, _) = s.get("/api/v1/decisions/nope/proof", &dev).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The decision's content: the digest of the canonical input, the threshold's source, the
    // serving identity; the input kept as a blob when asked.
    let (status, read) = s.get("/api/v1/decisions/req-0500", &dev).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    use sha2::{Digest, Sha256};
    let canonical = br#"{"hardness":7.1,"line":"3","weight_mg":251.5}"#;
    assert_eq!(
        read["data"]["input_digest"],
        hex::encode(Sha256::digest(canonical))
    );
    assert_eq!(read["data"]["input_kept"], true);
    assert_eq!(read["data"]["threshold"], 0.7);
    assert_eq!(read["data"]["threshold_source"]["kind"], "deployment");
    assert_eq!(read["served_by"]["id"], "svc");
    assert_eq!(read["served_by"]["auth"], "api_token");
    assert_eq!(read["state"], "undecided", "confidence 0.4 is below 0.7");

    // A single decision, and one the log already has.
    let (status, one) = s
        .post("/api/v1/decisions", &svc, decision("single", 0.2))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{one}");
    assert_eq!(one["state"], "undecided");
    let (status, again) = s
        .post("/api/v1/decisions", &svc, decision("single", 0.2))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Queries: by model version with a cursor, by confidence band, by request id, by time.
    let mut seen = 0;
    let mut after: Option<u64> = None;
    loop {
        let path = match after {
            Some(a) => format!("/api/v1/decisions?model_version=mv-1&limit=300&after={a}"),
            None => "/api/v1/decisions?model_version=mv-1&limit=300".to_owned(),
        };
        let (status, page) = s.get(&path, &dev).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen += page["decisions"].as_array().unwrap().len();
        match page["next"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, 1001);
    let (_, band) = s
        .get(
            "/api/v1/decisions?min_confidence=0.3&max_confidence=0.5&limit=500",
            &dev,
        )
        .await;
    assert_eq!(band["decisions"].as_array().unwrap().len(), 100);
    let (_, by_id) = s.get("/api/v1/decisions?request_id=req-0007", &dev).await;
    assert_eq!(by_id["decisions"][0]["request_id"], "req-0007");
    let (_, later) = s
        .get("/api/v1/decisions?from=2026-12-05T00:00:00Z", &dev)
        .await;
    assert_eq!(later["decisions"].as_array().unwrap().len(), 0);
    let (status, bad) = s.get("/api/v1/decisions?review=maybe", &dev).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // Statistics: daily counts and the confidence histogram.
    let (status, stats) = s
        .get("/api/v1/model-versions/mv-1/decision-stats", &dev)
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total"], 1001);
    assert_eq!(stats["daily"][0]["day"], "2026-12-04");
    assert_eq!(stats["daily"][0]["undecided"], 101);
    assert_eq!(stats["histogram"][4], 100);
    assert_eq!(stats["histogram"][9], 900);
    assert_eq!(stats["histogram"][2], 1);

    // After a restart the fold is rebuilt from the log and the index answers the same.
    let mut s = s;
    s.restart().await;
    let dev = s.login("dev", &password_of("dev")).await;
    assert_eq!(verify_proof(&s, &dev, "req-0999").await, before + 999);
    let (_, stats) = s
        .get("/api/v1/model-versions/mv-1/decision-stats", &dev)
        .await;
    assert_eq!(stats["total"], 1001);
    s.stop().await;
}

async fn review(
    s: &TestServer,
    token: &str,
    user: &str,
    id: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut body = body;
    body["username"] = json!(user);
    body["password"] = json!(password_of(user));
    s.post(&format!("/api/v1/decisions/{id}/review"), token, body)
        .await
}

async fn undecided_outputs_are_reviewed_with_signatures(backend: Backend) {
    let Setup {
        s, qa, dev, svc, ..
    } = setup(backend, json!({"confidence_threshold": 0.6})).await;
    let records: Vec<Value> = (0..6)
        .map(|i| decision(&format!("d-{i}"), [0.9, 0.3, 0.55, 0.8, 0.1, 0.61][i]))
        .collect();
    let (status, body) = batch(&s, &svc, &records).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, queue) = s.get("/api/v1/decisions?review=undecided", &qa).await;
    let queued: Vec<&str> = queue["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(queued, ["d-1", "d-2", "d-4"]);

    // An override needs the output that replaces the model's, and every review a reason.
    let (status, body) = review(
        &s,
        &qa,
        "qa",
        "d-1",
        json!({"verdict": "override", "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "output");
    let (status, body) = review(
        &s,
        &qa,
        "qa",
        "d-1",
        json!({"verdict": "accept", "reason": " "}),
    )
    .await;
    assert_eq!(body["error"]["field"], "reason", "{status} {body}");
    // The password is checked; an API token cannot sign.
    let (status, body) = s
        .post(
            "/api/v1/decisions/d-1/review",
            &qa,
            json!({"verdict": "accept", "reason": "ok", "username": "qa", "password": "wrong"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "wrong_password");
    let (status, body) = review(
        &s,
        &svc,
        "svc",
        "d-1",
        json!({"verdict": "accept", "reason": "ok"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Accept one, override another: each a signature bound to the decision's leaf.
    let (status, body) = review(
        &s,
        &qa,
        "qa",
        "d-1",
        json!({"verdict": "accept", "reason": "Visual inspection agrees."}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "accepted");
    assert_eq!(body["review"]["name"], "qa Example");
    assert_eq!(body["review"]["meaning"], "reviewed");
    assert_eq!(body["review"]["reason"], "Visual inspection agrees.");
    let (_, proof) = s.get("/api/v1/decisions/d-1/proof", &qa).await;
    assert_eq!(body["review"]["leaf"], proof["leaf"]);
    let (status, body) = review(
        &s,
        &dev,
        "dev",
        "d-2",
        json!({"verdict": "override", "reason": "Hardness out of range.",
               "output": {"label": "reject"}, "meaning": "responsible"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "overridden");
    assert_eq!(body["review"]["output"]["label"], "reject");
    // Reviewed once only; decided outputs are not in the queue.
    let (status, body) = review(
        &s,
        &qa,
        "qa",
        "d-1",
        json!({"verdict": "accept", "reason": "again"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_undecided");
    let (status, _) = review(
        &s,
        &qa,
        "qa",
        "d-0",
        json!({"verdict": "accept", "reason": "r"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, queue) = s.get("/api/v1/decisions?review=undecided", &qa).await;
    assert_eq!(queue["decisions"].as_array().unwrap().len(), 1);
    let (_, overridden) = s.get("/api/v1/decisions?review=overridden", &qa).await;
    assert_eq!(overridden["decisions"][0]["request_id"], "d-2");
    // The review events are in the log, attesting to the decision's leaf.
    let (_, events) = s
        .get("/api/v1/events?action=decision.review", &s.admin().await)
        .await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["target"], proof["leaf"]);
    assert_eq!(events[0]["actor"]["auth"], "session");
    let (_, stats) = s
        .get("/api/v1/model-versions/mv-1/decision-stats", &qa)
        .await;
    assert_eq!(stats["reviews"], 2);
    assert_eq!(stats["overrides"], 1);
    assert_eq!(stats["override_rate"], 0.5);
    s.stop().await;
}

async fn a_high_override_rate_raises_an_exception(backend: Backend) {
    let Setup {
        s, qa, admin, svc, ..
    } = setup(
        backend,
        json!({"confidence_threshold": 0.9, "max_override_rate": 0.5, "min_reviews": 3}),
    )
    .await;
    let records: Vec<Value> = (0..6).map(|i| decision(&format!("o-{i}"), 0.2)).collect();
    let (status, _) = batch(&s, &svc, &records).await;
    assert_eq!(status, StatusCode::CREATED);
    let over = |i: usize| json!({"verdict": "override", "reason": format!("wrong {i}"), "output": {"label": "reject"}});
    // Two overrides: 2 of 2 is above 0.5, but too few reviews to judge.
    for i in 0..2 {
        let (status, body) = review(&s, &qa, "qa", &format!("o-{i}"), over(i)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["raised"].is_null(), "{body}");
    }
    // The third reaches min_reviews at 3 of 3: an exception is raised with the review.
    let (status, body) = review(&s, &qa, "qa", "o-2", over(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let exception = body["raised"]["exception"].as_str().unwrap().to_owned();
    assert_eq!(body["receipt"]["seq"].as_array().unwrap().len(), 2);
    let (status, record) = s
        .get(&format!("/api/v1/records/exception/{exception}"), &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["data"]["category"], "performance");
    assert_eq!(record["data"]["detected_by"]["kind"], "system");
    assert_eq!(record["data"]["affected_model_versions"], json!(["mv-1"]));
    assert_eq!(record["data"]["source"], "o-2");
    // While it is open, more overrides raise nothing more.
    let (_, body) = review(&s, &qa, "qa", "o-3", over(3)).await;
    assert!(body["raised"].is_null(), "{body}");
    let (_, list) = s.get("/api/v1/records/exception", &admin).await;
    assert_eq!(list["records"].as_array().unwrap().len(), 1, "{list}");
    // The model version now needs re-validation, as after a drift breach.
    let (_, readiness) = s
        .get("/api/v1/model-versions/mv-1/release-readiness", &qa)
        .await;
    assert_eq!(readiness["status"], "revalidation_required", "{readiness}");
    s.stop().await;
}
