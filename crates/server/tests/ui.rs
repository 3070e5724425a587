//! The web UI through the real server with a cookie-keeping client: cookie flags, the forced
//! password change, CSRF refusals, stale forms refused with the diff, role refusals, signing
//! (and segregation of duties), the trail with its filters, proofs and exports, and the gate.

mod common;

use common::{password_of, server, Backend, TestServer};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both_backends!(
    login_sets_strict_http_only_cookies_and_forces_the_password_change,
    forms_without_the_session_csrf_token_are_refused_and_logged,
    a_stale_form_is_refused_with_the_changes_shown_and_nothing_written,
    roles_are_refused_in_the_ui_as_in_the_api,
    signing_in_the_ui_binds_the_version_and_explains_segregation_of_duties,
    the_trail_filters_proves_and_exports,
    the_gate_refusal_lists_every_unmet_condition,
);

/// A browser: keeps cookies, does not follow redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The CSRF token of the first form on the page.
    fn csrf(&self) -> String {
        let at = self
            .text
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    fn new(server: &TestServer) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            match text.contains("Max-Age=0") {
                true => self.cookies.remove(name),
                false => self.cookies.insert(name.to_owned(), value.to_owned()),
            };
        }
        let text = response.text().await.unwrap();
        Page {
            status,
            headers,
            text,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Logs in through the login form; returns the answer to the form.
    async fn login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        self.post(
            "/login",
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await
    }

    async fn logged_in(server: &TestServer, user: &str) -> Browser {
        let mut browser = Browser::new(server);
        let page = browser.login(user, &password_of(user)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
        assert_eq!(page.location(), "/");
        browser
    }
}

async fn people(server: &TestServer) -> (String, String, String) {
    let admin = server.admin().await;
    let dev = server.person(&admin, "dana", "developer").await;
    let qa = server.person(&admin, "quinn", "qa").await;
    server.person(&admin, "vic", "viewer").await;
    (admin, dev, qa)
}

fn model(name: &str) -> Value {
    json!({
        "name": name,
        "owner": "dana",
        "intended_use": "Flag tablets with coating defects for manual inspection.",
        "context_of_use": "In-process control, line 3.",
        "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "medium", "rationale": "A person reviews every flag."},
    })
}

async fn events_of(server: &TestServer, admin: &str, action: &str) -> Vec<Value> {
    let (status, body) = server
        .get(&format!("/api/v1/events?action={action}&limit=1000"), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().unwrap().clone()
}

async fn login_sets_strict_http_only_cookies_and_forces_the_password_change(backend: Backend) {
    let server = server(backend).await;
    let admin = server.admin().await;
    let (status, body) = server
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "nora", "name": "Nora New", "role": "qa", "password": "nora-first-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut browser = Browser::new(&server);

    // Not signed in: every page sends to the login.
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login");

    // The login form's own cookie, HttpOnly and SameSite=Strict, not Secure over plain HTTP.
    let form = browser.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("mt_login="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(
        form.text.contains("<label for=\"username\">"),
        "labelled inputs"
    );
    let csp = form
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    // A wrong password: the page says so, without telling whether the user exists.
    let page = browser.login("nora", "not-her-password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.text.contains("The user id or password is wrong"),
        "{}",
        page.text
    );
    let page = browser.login("nobody-here", "whatever-password").await;
    assert!(page.text.contains("The user id or password is wrong"));

    // The first login must change the password before anything else.
    let page = browser.login("nora", "nora-first-password").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/password");
    let session = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("mt_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Path=/"),
        "{session}"
    );
    let page = browser.get("/trail").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/password");

    // A new password breaking the policy is refused beside its field.
    let form = browser.get("/password").await;
    assert!(form.text.contains("must be changed"));
    let csrf = form.csrf();
    let page = browser
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current_password", "nora-first-password"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text.contains("id=\"new_password-error\""),
        "{}",
        page.text
    );
    let page = browser
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current_password", "nora-first-password"),
                ("new_password", "nora-second-password-ok"),
                ("confirm_password", "nora-second-password-ok"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Nora New"));

    // Logging out ends the session: the old cookie no longer opens a page.
    let old = browser.cookies.get("mt_session").unwrap().clone();
    let page = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    browser.cookies.insert("mt_session".into(), old);
    assert_eq!(browser.get("/").await.location(), "/login");

    // Lockout: the threshold's failures lock the account, and the page says so.
    for _ in 0..server.config.lockout_threshold {
        browser.login("nora", "wrong-password-again").await;
    }
    let page = browser.login("nora", "nora-second-password-ok").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.text.contains("This account is locked"),
        "{}",
        page.text
    );
}

async fn forms_without_the_session_csrf_token_are_refused_and_logged(backend: Backend) {
    let server = server(backend).await;
    let (admin, dev, _) = people(&server).await;
    server.create(&dev, "model", "m-1", model("coating")).await;
    let mut dana = Browser::logged_in(&server, "dana").await;
    let mut quinn = Browser::logged_in(&server, "quinn").await;
    let quinn_token = quinn.get("/records/model/m-1").await.csrf();
    let denied_before = events_of(&server, &admin, "access.denied").await.len();

    let update = json!(model("coating, renamed")).to_string();
    for csrf in ["", "0000", quinn_token.as_str()] {
        let page = dana
            .post(
                "/records/model/m-1/edit",
                &[
                    ("csrf", csrf),
                    ("version", "1"),
                    ("data", &update),
                    ("reason", "rename"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(page.text.contains("security token"), "{}", page.text);
    }
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(record["version"], 1, "nothing written");
    let denied = events_of(&server, &admin, "access.denied").await;
    assert_eq!(denied.len(), denied_before + 3);
    assert!(denied.last().unwrap()["payload"]["reason"]
        .as_str()
        .unwrap()
        .contains("security token"));

    // The login form needs its own cookie's token too.
    let mut fresh = Browser::new(&server);
    let page = fresh
        .post(
            "/login",
            &[
                ("csrf", "x"),
                ("username", "dana"),
                ("password", &password_of("dana")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("mt_session=")));

    // With the right token the same form goes through.
    let csrf = dana.get("/records/model/m-1/edit").await.csrf();
    let page = dana
        .post(
            "/records/model/m-1/edit",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("data", &update),
                ("reason", "rename"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(record["version"], 2);
}

async fn a_stale_form_is_refused_with_the_changes_shown_and_nothing_written(backend: Backend) {
    let server = server(backend).await;
    let (_, dev, _) = people(&server).await;
    server.create(&dev, "model", "m-1", model("coating")).await;
    let mut dana = Browser::logged_in(&server, "dana").await;
    let form = dana.get("/records/model/m-1/edit").await;
    let csrf = form.csrf();
    assert!(form.text.contains("name=\"version\" value=\"1\""));

    // Someone else changes the record meanwhile.
    let mut changed = model("coating");
    changed["context_of_use"] = json!("In-process control, lines 3 and 4.");
    let (status, body) = server
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 1, "reason": "second line", "data": changed}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mine = json!(model("coating, mine")).to_string();
    let page = dana
        .post(
            "/records/model/m-1/edit",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("data", &mine),
                ("reason", "my edit"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.text.contains("changed after you opened this form"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("/context_of_use"),
        "the diff names the field"
    );
    assert!(
        page.text.contains("lines 3 and 4"),
        "the diff shows the new value"
    );
    assert!(
        page.text.contains("coating, mine"),
        "what was typed is kept"
    );
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(record["version"], 2);
    assert_eq!(record["data"]["name"], "coating");

    // A sign form opened on version 1 is refused the same way.
    let page = dana
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", "authored"),
                ("username", "dana"),
                ("password", &password_of("dana")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.text.contains("/context_of_use"));
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(record["signatures"].as_array().unwrap().len(), 0);

    // Bad input is shown beside its field, and nothing is written.
    let page = dana
        .post(
            "/records/model/m-1/edit",
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("data", "{not json"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("id=\"data-error\""), "{}", page.text);
    assert!(page.text.contains("id=\"reason-error\""));
    let mut bad = model("coating");
    bad["gamp_category"] = json!("five");
    let page = dana
        .post(
            "/records/model/m-1/edit",
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("data", &bad.to_string()),
                ("reason", "typo"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("id=\"data-error\""));
    assert!(page.text.contains("gamp_category"), "{}", page.text);
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert_eq!(record["version"], 2);
}

async fn roles_are_refused_in_the_ui_as_in_the_api(backend: Backend) {
    let server = server(backend).await;
    let (admin, dev, _) = people(&server).await;
    server.create(&dev, "model", "m-1", model("coating")).await;
    let mut vic = Browser::logged_in(&server, "vic").await;
    let mut dana = Browser::logged_in(&server, "dana").await;
    let before = events_of(&server, &admin, "access.denied").await.len();

    // Viewers and developers do not read the log.
    for browser in [&mut vic, &mut dana] {
        for path in ["/trail", "/trail/0", "/trail/export.csv", "/review"] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert!(page.text.contains("may not do this"), "{}", page.text);
        }
    }
    // A viewer reads records but neither edits nor signs.
    let page = vic.get("/records/model/m-1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("/records/model/m-1/edit\""));
    let csrf = page.csrf();
    let data = json!(model("renamed")).to_string();
    let page = vic
        .post(
            "/records/model/m-1/edit",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("data", &data),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        vic.get("/records/model/m-1/sign").await.status,
        StatusCode::FORBIDDEN
    );
    let after = events_of(&server, &admin, "access.denied").await.len();
    assert_eq!(after, before + 10, "every refusal is logged");
}

async fn signing_in_the_ui_binds_the_version_and_explains_segregation_of_duties(backend: Backend) {
    let server = server(backend).await;
    let (_, dev, qa) = people(&server).await;
    server.create(&dev, "model", "m-1", model("coating")).await;
    let mut dana = Browser::logged_in(&server, "dana").await;

    // The dialog shows exactly what is signed.
    let form = dana.get("/records/model/m-1/sign").await;
    assert_eq!(form.status, StatusCode::OK);
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    assert!(
        form.text.contains(record["leaf"].as_str().unwrap()),
        "the version's leaf is shown"
    );
    assert!(form.text.contains("version 1"));
    assert!(
        form.text.contains("segregation of duties"),
        "the author is warned"
    );
    let csrf = form.csrf();

    // The author may not approve: refused, explained beside the meaning, logged.
    let page = dana
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", "approved"),
                ("username", "dana"),
                ("password", &password_of("dana")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text.contains("id=\"meaning-error\""));
    assert!(page.text.contains("Segregation of duties"), "{}", page.text);
    // A wrong password is refused beside the password.
    let page = dana
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", "authored"),
                ("username", "dana"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text.contains("id=\"password-error\""));
    // No meaning chosen: beside the meaning, nothing written.
    let page = dana
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", ""),
                ("username", "dana"),
                ("password", &password_of("dana")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("id=\"meaning-error\""));

    let page = dana
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", "authored"),
                ("username", "dana"),
                ("password", &password_of("dana")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    let mut quinn = Browser::logged_in(&server, "quinn").await;
    let csrf = quinn.get("/records/model/m-1/sign").await.csrf();
    let page = quinn
        .post(
            "/records/model/m-1/sign",
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("meaning", "approved"),
                ("username", "quinn"),
                ("password", &password_of("quinn")),
                ("comment", "fit for use"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    let (_, record) = server.get("/api/v1/records/model/m-1", &qa).await;
    let meanings: Vec<&str> = record["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["meaning"].as_str().unwrap())
        .collect();
    assert_eq!(meanings, ["authored", "approved"]);

    // After a change the signatures show as applying to the older version.
    let mut changed = model("coating");
    changed["limitations"] = json!("Not for uncoated tablets.");
    server
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 1, "reason": "limits", "data": changed}),
        )
        .await;
    let page = quinn.get("/records/model/m-1").await;
    assert!(page.text.contains("applies to an older version"));
    assert!(
        page.text.contains("quinn Example (quinn)"),
        "the manifestation names the signer"
    );
}

async fn the_trail_filters_proves_and_exports(backend: Backend) {
    let server = server(backend).await;
    let (_, dev, _) = people(&server).await;
    server.create(&dev, "model", "m-1", model("coating")).await;
    let mut changed = model("coating");
    changed["owner"] = json!("quinn");
    server
        .put(
            "/api/v1/records/model/m-1",
            &dev,
            json!({"version": 1, "reason": "new owner", "data": changed}),
        )
        .await;
    let mut quinn = Browser::logged_in(&server, "quinn").await;

    let page = quinn.get("/trail").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("auth.login"));
    let page = quinn.get("/trail?actor=dana&record_type=model").await;
    assert!(
        page.text.contains("record.update") && page.text.contains("record.create"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("auth.login"), "filtered out");
    // The update shows old and new values, the reason and the printed name.
    assert!(
        page.text.contains("/owner")
            && page.text.contains("new owner")
            && page.text.contains("dana Example")
    );
    // Newest first.
    assert!(page.text.find("record.update").unwrap() < page.text.find("record.create").unwrap());
    let page = quinn.get("/trail?since=not-a-time").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("f-since-error"));
    let page = quinn.get("/trail?since=2999-01-01T00:00").await;
    assert!(page.text.contains("No event matches"));

    // Cursor pagination: before=N shows only older events.
    let (_, record) = server.get("/api/v1/records/model/m-1", &dev).await;
    let seq = record["seq"].as_u64().unwrap();
    let page = quinn
        .get(&format!("/trail?before={seq}&action=record.update"))
        .await;
    assert!(!page.text.contains("new owner"));

    // The proof, checked by the server, and its raw form.
    let page = quinn.get(&format!("/trail/{seq}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Verified by the server"),
        "{}",
        page.text
    );
    let proof = quinn.get(&format!("/trail/{seq}/proof.json")).await;
    let proof: Value = serde_json::from_str(&proof.text).unwrap();
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["leaf"], record["leaf"]);
    assert_eq!(
        quinn.get("/trail/999999").await.status,
        StatusCode::NOT_FOUND
    );

    let csv = quinn
        .get("/trail/export.csv?actor=dana&record_type=model")
        .await;
    assert!(csv
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert!(lines[0].starts_with("seq,timestamp,actor_id,actor_name"));
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(lines[1].contains("record.update") && lines[2].contains("record.create"));
    let json_export = quinn
        .get("/trail/export.json?actor=dana&record_type=model")
        .await;
    let body: Value = serde_json::from_str(&json_export.text).unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    assert_eq!(body["events"][0]["leaf"], record["leaf"]);
}

async fn the_gate_refusal_lists_every_unmet_condition(backend: Backend) {
    let server = server(backend).await;
    let (_, dev, _) = people(&server).await;
    server
        .model_version(&dev, "tablet-anomaly", "mv-1", "1", 'a')
        .await;
    let mut dana = Browser::logged_in(&server, "dana").await;
    let page = dana.get("/model-versions/mv-1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Release-readiness checklist"));
    assert!(page.text.contains("intended_use_approved"));
    assert!(page
        .text
        .contains("href=\"/model-versions/mv-1/dossier.pdf\""));
    let csrf = page.csrf();
    let size = server.tree_size().await;
    let page = dana
        .post(
            "/model-versions/mv-1/deploy",
            &[
                ("csrf", &csrf),
                ("environment", "production"),
                ("target", "line-3"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.text.contains("Release refused"), "{}", page.text);
    assert!(page.text.contains("qa_release_signature"));
    assert_eq!(
        server.tree_size().await,
        size,
        "a refused release writes nothing"
    );
    // The target is required, beside its field.
    let page = dana
        .post(
            "/model-versions/mv-1/deploy",
            &[
                ("csrf", &csrf),
                ("environment", "production"),
                ("target", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("id=\"target-error\""));
}
