//! Stories through the real HTTP server on a loopback port, each run on SQLite and PostgreSQL:
//! log in, create, change and void records with reasons, sign them, and prove all of it.

mod common;

use common::{password_of, server, server_with, Backend, ADMIN_PASSWORD};
use modeltrail_ledger::checkpoint::SignedCheckpoint;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::{verify_consistency, verify_inclusion};
use modeltrail_ledger::Hash;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    records_are_versioned_signed_and_provable,
    stale_versions_and_bad_input_change_nothing,
    failed_logins_lock_the_account_and_alert_admins,
    service_accounts_use_revocable_tokens,
    the_first_password_must_be_changed_before_anything_else,
    state_survives_a_restart,
    metrics_count_requests_and_commits,
    expired_passwords_and_idle_sessions,
);

fn model(name: &str) -> Value {
    json!({
        "name": name,
        "owner": "dev",
        "intended_use": "Flags anomalous tablet batches for QA review before release.",
        "context_of_use": "Advisory; QA reviews every flagged batch.",
        "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "high", "model_risk": "high"}
    })
}

fn hash(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

async fn records_are_versioned_signed_and_provable(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;

    // Create: version 1, with the receipt of its event and a checkpoint that includes it.
    let (status, created) = s
        .post(
            "/api/v1/records/model",
            &dev,
            json!({"id": "m-1", "data": model("anomaly")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created"]["by"], "dev");
    let seq = created["receipt"]["seq"][0].as_u64().unwrap();
    assert_eq!(created["seq"].as_u64(), Some(seq));
    assert!(created["receipt"]["tree_size"].as_u64().unwrap() > seq);

    // Update with a reason: version 2, with the field-level change.
    let mut changed = model("anomaly");
    changed["risk"]["decision_consequence"] = json!("medium");
    changed["risk"]["model_risk"] = json!("medium");
    let (status, updated) = s
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 1, "reason": "risk re-assessed after SME review", "data": changed}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        updated["changes"],
        json!([
            {"field": "/risk/decision_consequence", "old": "high", "new": "medium"},
            {"field": "/risk/model_risk", "old": "high", "new": "medium"}
        ])
    );

    // The developer signs as author; approving their own version is refused and logged.
    let path = "/api/v1/records/model/m-1/versions/2/signatures";
    let (status, body) = s
        .post(
            path,
            &dev,
            json!({"meaning": "authored", "password": password_of("dev")}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "first signature needs the user id: {body}"
    );
    assert_eq!(body["error"]["field"], "username");
    let (status, body) = s
        .post(
            path,
            &dev,
            json!({"meaning": "authored", "username": "dev", "password": password_of("dev")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s
        .post(
            path,
            &dev,
            json!({"meaning": "approved", "password": password_of("dev")}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "segregation_of_duties");
    // A wrong password does not sign.
    let (status, _) = s
        .post(
            path,
            &qa,
            json!({"meaning": "approved", "username": "qa", "password": "not-the-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, signed) = s
        .post(
            path,
            &qa,
            json!({"meaning": "approved", "username": "qa", "password": password_of("qa"),
                   "comment": "fit for the intended use"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");
    let sigs = signed["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[1]["name"], "qa Example");
    assert_eq!(sigs[1]["meaning"], "approved");
    assert_eq!(
        sigs[1]["leaf"], updated["leaf"],
        "bound to version 2's leaf hash"
    );
    assert!(sigs[1]["signed_at"].as_str().unwrap().ends_with('Z'));
    let line = sigs[1]["manifestation"].as_str().unwrap();
    assert!(line.starts_with("qa Example (qa), 20"), "{line}");
    assert!(line.ends_with(" UTC, approved, version 2"), "{line}");

    // A later change shows the signatures as applying to the earlier version.
    let mut third = changed.clone();
    third["context_of_use"] = json!("Advisory; QA reviews every flagged batch; pilot site only.");
    let (status, v3) = s
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 2, "reason": "scope narrowed to the pilot", "data": third}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v3}");
    let (_, read) = s.get("/api/v1/records/model/m-1", &qa).await;
    assert_eq!(read["version"], 3);
    for sig in read["signatures"].as_array().unwrap() {
        assert_eq!(sig["version"], 2);
        assert_eq!(sig["applies_to_this_version"], false);
    }
    let (_, v1) = s.get("/api/v1/records/model/m-1/versions/1", &qa).await;
    assert_eq!(v1["data"]["risk"]["model_risk"], "high");

    // History: who, what, when, why, old and new values.
    let (status, history) = s.get("/api/v1/records/model/m-1/versions", &qa).await;
    assert_eq!(status, StatusCode::OK);
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[1]["reason"], "risk re-assessed after SME review");
    assert_eq!(versions[1]["by"], "dev");
    assert_eq!(versions[1]["changes"][0]["old"], "high");
    assert_eq!(versions[1]["signatures"].as_array().unwrap().len(), 2);
    let (_, d) = s
        .get("/api/v1/records/model/m-1/diff?from=1&to=3", &qa)
        .await;
    assert_eq!(d["changes"].as_array().unwrap().len(), 3);

    // Void with a reason: a new version; nothing is deleted; no further change.
    let (status, body) = s
        .post(
            "/api/v1/records/model/m-1/void",
            &dev,
            json!({"version": 3}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a void needs a reason: {body}"
    );
    let (status, voided) = s
        .post(
            "/api/v1/records/model/m-1/void",
            &dev,
            json!({"version": 3, "reason": "superseded by m-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "voided");
    assert_eq!(voided["version"], 4);
    let (status, _) = s
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 4, "reason": "again", "data": model("x")}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The events, filtered by record, and proofs of them against the public checkpoint.
    let (status, events) = s
        .get("/api/v1/events?record_type=model&record_id=m-1", &qa)
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let actions: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "record.create",
            "record.update",
            "record.sign",
            "record.sign",
            "record.update",
            "record.void"
        ]
    );
    let (_, key) = s
        .call(Method::GET, "/api/v1/log/public-key", None, None)
        .await;
    let verifier = NoteVerifier::from_text(key.as_str().unwrap().trim()).unwrap();
    let (_, text) = s.call(Method::GET, "/api/v1/checkpoint", None, None).await;
    let checkpoint = SignedCheckpoint::open(text.as_str().unwrap(), &verifier).unwrap();
    let size = checkpoint.checkpoint().size;
    let root = checkpoint.checkpoint().root;
    let sign_event = &events["events"][3];
    let index = sign_event["seq"].as_u64().unwrap();
    let (status, proof) = s
        .get(
            &format!("/api/v1/proofs/inclusion?index={index}&size={size}"),
            &qa,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let path: Vec<Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    verify_inclusion(&hash(&sign_event["leaf"]), index, size, &path, &root).unwrap();
    // The checkpoint the create returned is consistent with today's.
    let earlier = SignedCheckpoint::open(
        created["receipt"]["checkpoint"].as_str().unwrap(),
        &verifier,
    )
    .unwrap();
    let from = earlier.checkpoint().size;
    let (status, proof) = s
        .get(
            &format!("/api/v1/proofs/consistency?from={from}&to={size}"),
            &qa,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let path: Vec<Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    verify_consistency(from, size, &path, &earlier.checkpoint().root, &root).unwrap();
    s.stop().await;
}

async fn stale_versions_and_bad_input_change_nothing(backend: Backend) {
    let s = server_with(backend, |c| c.body_limit = 4096).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let (status, _) = s
        .post(
            "/api/v1/records/model",
            &dev,
            json!({"id": "m-1", "data": model("a")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let size = s.tree_size().await;
    let path = "/api/v1/records/model/m-1";
    let cases: Vec<(Method, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/v1/records/model",
            b"{\"data\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            b"{\"data\": \"\xff\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_utf8",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "empty_body",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            json!({"data": model("b"), "colour": 1})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            json!({"data": {"name": 7}}).to_string().into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::POST,
            "/api/v1/records/spaceship",
            json!({"data": {}}).to_string().into_bytes(),
            StatusCode::NOT_FOUND,
            "unknown_record_type",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            json!({"data": model(&"x".repeat(5000))})
                .to_string()
                .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            Method::PUT,
            path,
            json!({"version": 1, "data": model("c")})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::PUT,
            path,
            json!({"version": 1, "reason": " ", "data": model("c")})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::PUT,
            path,
            json!({"version": "1", "reason": "r", "data": model("c")})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::PUT,
            path,
            json!({"version": 7, "reason": "r", "data": model("c")})
                .to_string()
                .into_bytes(),
            StatusCode::CONFLICT,
            "stale_version",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            json!({"id": "m-1", "data": model("d")})
                .to_string()
                .into_bytes(),
            StatusCode::CONFLICT,
            "record_exists",
        ),
        (
            Method::POST,
            "/api/v1/records/model",
            json!({"id": "bad id!", "data": model("d")})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
    ];
    for (method, path, body, expected, code) in cases {
        let (status, answer) = s.raw(method.clone(), path, Some(&dev), body.clone()).await;
        assert_eq!(
            status,
            expected,
            "{method} {path} {}: {answer}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    // Field paths name the failing field.
    let (_, answer) = s
        .post("/api/v1/records/model", &dev, json!({"data": {"name": 7}}))
        .await;
    assert!(
        answer["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("data"),
        "{answer}"
    );
    let (_, answer) = s
        .put(path, &dev, json!({"version": 1, "data": model("c")}))
        .await;
    assert_eq!(answer["error"]["field"], "reason");
    assert_eq!(s.tree_size().await, size, "no bad request changed the log");
    // A stale writer loses to the one who read the latest version.
    let (status, _) = s
        .put(
            path,
            &dev,
            json!({"version": 1, "reason": "first", "data": model("e")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = s
        .put(
            path,
            &dev,
            json!({"version": 1, "reason": "second", "data": model("f")}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    s.stop().await;
}

async fn failed_logins_lock_the_account_and_alert_admins(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    s.person(&admin, "dev", "developer").await;
    for _ in 0..5 {
        let (status, body) = s
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "dev", "password": "wrong password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Locked: even the right password is refused.
    let (status, body) = s
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "dev", "password": password_of("dev")})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "account_locked");
    let (_, alerts) = s.get("/api/v1/security/alerts", &admin).await;
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["username"], "dev");
    // The failures are in the log with the user id as tried, verbatim.
    let tried = " Dev\u{1F600} ";
    let (status, _) = s
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": tried, "password": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, events) = s
        .get("/api/v1/events?action=auth.login_failed&limit=1000", &admin)
        .await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(events[6]["payload"]["username"], tried);
    assert_eq!(events[6]["actor"]["auth"], "unauthenticated");
    // An administrator unlocks.
    let (status, _) = s.post("/api/v1/users/dev/unlock", &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    s.login("dev", &password_of("dev")).await;
    s.stop().await;
}

async fn service_accounts_use_revocable_tokens(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "pipeline", "name": "Training pipeline", "role": "developer", "kind": "service"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, issued) = s
        .post(
            "/api/v1/users/pipeline/tokens",
            &admin,
            json!({"label": "nightly training"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap().to_owned();
    let (status, created) = s
        .post(
            "/api/v1/records/model",
            &token,
            json!({"id": "m-9", "data": model("p")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // A token cannot sign: signatures need a person's password.
    let (status, _) = s
        .post(
            "/api/v1/records/model/m-9/versions/1/signatures",
            &token,
            json!({"meaning": "authored", "username": "pipeline", "password": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The log holds the token's digest, never the token.
    let (_, events) = s.get("/api/v1/events?action=token.issue", &admin).await;
    let logged = events["events"].to_string();
    assert!(!logged.contains(&token));
    let token_id = issued["token_id"].as_str().unwrap();
    let (status, _) = s
        .post(
            &format!("/api/v1/users/pipeline/tokens/{token_id}/revoke"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.get("/api/v1/records/model/m-9", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    s.stop().await;
}

async fn the_first_password_must_be_changed_before_anything_else(backend: Backend) {
    let s = server(backend).await;
    let admin = s.admin().await;
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "qa", "name": "Quinn Assurance", "role": "qa"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let temporary = body["temporary_password"].as_str().unwrap().to_owned();
    let token = s.login("qa", &temporary).await;
    let (status, body) = s.get("/api/v1/records/model", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "password_change_required");
    for (new, field) in [("short", "new_password"), ("qa", "new_password")] {
        let (status, body) = s
            .post(
                "/api/v1/auth/password",
                &token,
                json!({"current_password": temporary, "new_password": new}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field);
    }
    let (status, _) = s
        .post(
            "/api/v1/auth/password",
            &token,
            json!({"current_password": temporary, "new_password": "a much longer passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get("/api/v1/records/model", &token).await;
    assert_eq!(status, StatusCode::OK);
    // Users are never reused.
    let (status, _) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "qa", "name": "Another", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Logging out ends the session.
    let (status, _) = s.post("/api/v1/auth/logout", &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get("/api/v1/records/model", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let _ = ADMIN_PASSWORD;
    s.stop().await;
}

async fn state_survives_a_restart(backend: Backend) {
    let mut s = server(backend).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let (status, _) = s
        .post(
            "/api/v1/records/model",
            &dev,
            json!({"id": "m-1", "data": model("a")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let size = s.tree_size().await;
    s.restart().await;
    assert_eq!(s.tree_size().await, size, "the restart appended nothing");
    // Sessions end with the server; users, passwords and records are rebuilt from the log.
    let (status, _) = s.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let dev = s.login("dev", &password_of("dev")).await;
    let (status, body) = s.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "a");
    s.stop().await;
}

async fn metrics_count_requests_and_commits(backend: Backend) {
    let s = server_with(backend, |c| c.metrics_token = Some("scrape-secret".into())).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    for i in 0..3 {
        let (status, _) = s
            .post(
                "/api/v1/records/model",
                &dev,
                json!({"id": format!("m-{i}"), "data": model("a")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, text) = s.get("/metrics", "scrape-secret").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            "modeltrail_http_requests_total{method=\"POST\",route=\"/api/v1/records/{kind}\",status=\"201\"} 3"
        ),
        "{text}"
    );
    let size = s.tree_size().await;
    assert!(
        text.contains(&format!("modeltrail_log_size {size}")),
        "{text}"
    );
    assert!(
        text.contains("modeltrail_commit_batch_events_count"),
        "{text}"
    );
    assert!(!text.contains("m-1"), "routes are templates, not paths");
    let (status, _) = s.get("/metrics", "wrong-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.get("/metrics", &dev).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    s.stop().await;
}

async fn expired_passwords_and_idle_sessions(backend: Backend) {
    let s = server_with(backend, |c| {
        c.password_policy.max_age_days = Some(0);
        c.session_idle = std::time::Duration::from_millis(600);
    })
    .await;
    // Every password is expired at once: the login works, but only to change it.
    let (status, body) = s
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["password_expired"], true);
    assert_eq!(body["must_change_password"], true);
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = s.get("/api/v1/users", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "password_change_required");
    // A session left idle ends.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let (status, body) = s.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
    s.stop().await;
}
