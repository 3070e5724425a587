//! Webhook notifications through the real server and a real receiver on a loopback port, on
//! SQLite and PostgreSQL: administrators subscribe; exceptions, security alerts, signature
//! requests and overdue CAPA actions are POSTed signed with HMAC-SHA256; failures are retried
//! with backoff and every attempt is visible; a delivery pending when the server stops is made
//! after it starts again; a receiver that never answers is given up on, recorded as failed.

mod common;

use common::receiver::Receiver;
use common::{server_with, Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    notifications_reach_subscribers_signed_retried_and_recorded,
    a_delivery_pending_at_shutdown_is_made_after_restart,
);

fn quick(config: &mut modeltrail_server::ServerConfig) {
    config.webhooks.first_retry = Duration::from_millis(100);
    config.webhooks.max_retry = Duration::from_millis(400);
    config.webhooks.overdue_check = Duration::from_millis(200);
}

fn exception(title: &str) -> Value {
    json!({"title": title, "description": "Out-of-trend assay predictions.",
           "category": "deviation", "severity": "major",
           "detected_by": {"kind": "person", "id": "dev"}})
}

async fn subscribe(s: &TestServer, admin: &str, id: &str, url: &str, events: Value) -> Value {
    let (status, body) = s
        .post(
            "/api/v1/webhooks",
            admin,
            json!({"id": id, "url": url, "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn deliveries(s: &TestServer, admin: &str, id: &str) -> Vec<Value> {
    let (status, body) = s.get(&format!("/api/v1/webhooks/{id}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits (up to 30 s) until the subscription's deliveries satisfy `done`.
async fn until(
    s: &TestServer,
    admin: &str,
    id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..600 {
        let d = deliveries(s, admin, id).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries of {id}: {:?}", deliveries(s, admin, id).await);
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .map(|a| a.iter().map(|t| t["status"].clone()).collect())
        .unwrap_or_default()
}

async fn notifications_reach_subscribers_signed_retried_and_recorded(backend: Backend) {
    let s = server_with(backend, quick).await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let hook = Receiver::start().await;

    // Administrators only; the URL and the kinds are checked by name.
    let (status, body) = s
        .post(
            "/api/v1/webhooks",
            &dev,
            json!({"url": hook.url, "events": ["exception_raised"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for (request, field) in [
        (
            json!({"url": "ftp://example.org/x", "events": ["exception_raised"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["exception_raised"]}),
            "url",
        ),
        (json!({"url": hook.url, "events": []}), "events"),
        (
            json!({"url": hook.url, "events": ["coffee_ready"]}),
            "events",
        ),
        (
            json!({"id": "a b", "url": hook.url, "events": ["security_alert"]}),
            "id",
        ),
    ] {
        let size = s.tree_size().await;
        let (status, body) = s.post("/api/v1/webhooks", &admin, request).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["field"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{field}: {body}"
        );
        assert_eq!(s.tree_size().await, size, "nothing written");
    }
    let events = json!([
        "exception_raised",
        "security_alert",
        "signature_requested",
        "capa_overdue"
    ]);
    let subscribed = subscribe(&s, &admin, "ops", &hook.url, events.clone()).await;
    let secret = subscribed["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{subscribed}");
    assert_eq!(subscribed["subscription"]["url"], hook.url);
    let (status, body) = s
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"id": "ops", "url": hook.url, "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // An exception: refused twice by the receiver, then delivered; every attempt recorded.
    hook.answer(&[500, 503]);
    let created = s
        .create(&dev, "exception", "ex1", exception("Assay drift"))
        .await;
    let seq = created["receipt"]["seq"][0].as_u64().expect("seq");
    let seen = hook.wait_for(3).await;
    for (i, request) in seen.iter().enumerate() {
        assert_eq!(
            request.header("x-modeltrail-delivery"),
            format!("ops/{seq}")
        );
        assert_eq!(request.header("x-modeltrail-attempt"), (i + 1).to_string());
        assert_eq!(request.header("x-modeltrail-event"), "exception_raised");
        assert!(request.signed_with(&secret), "attempt {i} is signed");
        assert!(!request.signed_with("whsec_wrong"));
        assert_eq!(request.body, seen[0].body, "the same body on every attempt");
    }
    let body = seen[0].json();
    assert_eq!(body["kind"], "exception_raised");
    assert_eq!(body["seq"], seq);
    assert_eq!(body["record"]["id"], "ex1");
    assert_eq!(body["details"]["severity"], "major");
    assert_eq!(body["actor"]["id"], "dev");
    let d = until(&s, &admin, "ops", |d| {
        d.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(statuses(&d[0]), [json!(500), json!(503), json!(204)]);
    let attempts = d[0]["attempts"].as_array().expect("attempts");
    assert!(attempts[0]["next_attempt_at"].is_string(), "{d:?}");
    assert!(attempts[1]["next_attempt_at"].as_str() > attempts[0]["next_attempt_at"].as_str());
    assert_eq!(
        attempts[0]["error"],
        "the receiver answered 500 Internal Server Error"
    );
    assert!(
        attempts[2].get("next_attempt_at").is_none() || attempts[2]["next_attempt_at"].is_null()
    );
    // Each attempt is an event of the log, by the system.
    let attempt_seq = attempts[2]["seq"].as_u64().expect("seq");
    let (status, events_page) = s
        .get(
            &format!("/api/v1/events?from={attempt_seq}&limit=1"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events_page}");
    let event = &events_page["events"][0];
    assert_eq!(event["action"], "webhook.attempt", "{events_page}");
    assert_eq!(event["actor"]["id"], "system");
    assert_eq!(event["payload"]["delivered"], true);

    // A security alert: an account locked by failed logins.
    s.person(&admin, "eve", "viewer").await;
    for _ in 0..5 {
        let (status, _) = s
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "eve", "password": "not-her-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let seen = hook.wait_for(4).await;
    let alert = seen[3].json();
    assert_eq!(alert["kind"], "security_alert", "{alert}");
    assert_eq!(alert["details"]["username"], "eve");

    // A signature request names the signer, the version and the meaning.
    let path = "/api/v1/records/exception/ex1/versions/1/signature-requests";
    let (status, body) = s
        .post(
            path,
            &dev,
            json!({"signer": "qa", "meaning": "approved", "comment": "please"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["request"]["signer"], "qa");
    let seen = hook.wait_for(5).await;
    let request = seen[4].json();
    assert_eq!(request["kind"], "signature_requested");
    assert_eq!(request["details"]["signer"], "qa");
    assert_eq!(request["record"]["version"], 1);
    let (_, record) = s.get("/api/v1/records/exception/ex1", &qa).await;
    assert_eq!(
        record["signature_requests"][0]["meaning"], "approved",
        "{record}"
    );
    for (body, field) in [
        (json!({"signer": "nobody", "meaning": "approved"}), "signer"),
        (json!({"signer": "eve", "meaning": "approved"}), "signer"),
        (json!({"signer": "qa", "meaning": "liked"}), "meaning"),
    ] {
        let (status, answer) = s.post(path, &dev, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(
            answer["error"]["field"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{answer}"
        );
    }
    let (status, answer) = s
        .post(
            "/api/v1/records/exception/ex1/versions/2/signature-requests",
            &dev,
            json!({"signer": "qa", "meaning": "approved"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    // A CAPA action past its due date is reported once, however often the sweep runs.
    s.create(
        &dev,
        "capa",
        "capa1",
        json!({"title": "Recalibrate", "exceptions": ["ex1"],
               "actions": [
                   {"id": "CA-1", "type": "corrective", "description": "Recalibrate the assay.",
                    "owner": "dev", "due_date": "2020-01-01"},
                   {"id": "PA-1", "type": "preventive", "description": "Monthly checks.",
                    "owner": "qa", "due_date": "2999-01-01"}],
               "effectiveness_criteria": "No out-of-trend results for a quarter."}),
    )
    .await;
    let seen = hook.wait_for(6).await;
    let overdue = seen[5].json();
    assert_eq!(overdue["kind"], "capa_overdue", "{overdue}");
    assert_eq!(overdue["details"]["action"], "CA-1");
    assert_eq!(overdue["details"]["owner"], "dev");
    assert_eq!(overdue["record"]["id"], "capa1");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let overdue_count = hook
        .seen()
        .iter()
        .filter(|r| r.header("x-modeltrail-event") == "capa_overdue")
        .count();
    assert_eq!(overdue_count, 1);

    let (status, list) = s.get("/api/v1/webhooks", &admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list["subscriptions"][0]["deliveries"]["delivered"], 4,
        "{list}"
    );
    let (status, _) = s.get("/api/v1/webhooks", &dev).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Unsubscribed: nothing more is sent.
    let (status, body) = s
        .post(
            "/api/v1/webhooks/ops/unsubscribe",
            &admin,
            json!({"reason": "moved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s
        .post("/api/v1/webhooks/ops/unsubscribe", &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    s.create(&dev, "exception", "ex2", exception("Another"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.seen().len(), 6);
    s.stop().await;
}

async fn a_delivery_pending_at_shutdown_is_made_after_restart(backend: Backend) {
    let mut s = server_with(backend, |c| {
        quick(c);
        c.webhooks.first_retry = Duration::from_millis(1500);
        c.webhooks.max_attempts = 2;
    })
    .await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let hook = Receiver::start().await;
    let dead = Receiver::start().await;
    dead.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let secret = subscribe(&s, &admin, "ops", &hook.url, json!(["exception_raised"])).await
        ["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    subscribe(&s, &admin, "dead", &dead.url, json!(["exception_raised"])).await;

    hook.answer(&[500]);
    let created = s
        .create(&dev, "exception", "ex1", exception("Assay drift"))
        .await;
    let seq = created["receipt"]["seq"][0].as_u64().expect("seq");
    hook.wait_for(1).await;
    until(&s, &admin, "ops", |d| {
        d.first()
            .is_some_and(|d| d["attempts"].as_array().is_some_and(|a| a.len() == 1))
    })
    .await;
    // Stopped with the retry pending; started again, it is made.
    s.restart().await;
    let admin = s.admin().await;
    let seen = hook.wait_for(2).await;
    assert_eq!(seen[1].header("x-modeltrail-attempt"), "2");
    assert_eq!(
        seen[1].header("x-modeltrail-delivery"),
        format!("ops/{seq}")
    );
    assert!(
        seen[1].signed_with(&secret),
        "the secret survives the restart"
    );
    let d = until(&s, &admin, "ops", |d| {
        d.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(statuses(&d[0]), [json!(500), json!(204)]);

    // Nobody listening: tried max_attempts times, then recorded as failed.
    let d = until(&s, &admin, "dead", |d| {
        d.first().is_some_and(|d| d["state"] == "failed")
    })
    .await;
    let attempts = d[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{d:?}");
    assert_eq!(attempts[1]["error"], "could not connect to the receiver");
    assert!(attempts[1]["status"].is_null());
    assert!(d[0]["due_at"].is_null());
    s.stop().await;
}
