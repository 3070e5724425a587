//! Drift charts through the real server, on SQLite and PostgreSQL: after a quiet and a drifted
//! monitoring batch, a batch's chart of a feature has two bars per bin and says the verdict,
//! and the model version's chart over time has one point per tested batch in window order, the
//! drifted one marked, and the threshold. What is missing is a 404 naming it; a token is needed.

mod common;

use common::{server, Backend, TestServer};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(drift_charts_show_batches_and_their_verdicts);

const SITES: [&str; 3] = ["Basel", "Lyon", "Cork"];
/// An unseen site whose name is markup: it must reach the chart escaped.
const HOSTILE_SITE: &str = "Dublin <&\"> </svg>";

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

/// A model version, its profiled reference dataset and an approved monitoring plan of `age`
/// (numerical) and `site` (categorical); returns (developer, qa) tokens.
async fn setup(s: &TestServer) -> (String, String) {
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    s.model_version(&dev, "m1", "mv1", "1", 'c').await;
    s.model_version(&dev, "m1", "mv2", "2", 'd').await;
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
               "minimum_batch_rows": 50,
               "action_plan": "QA investigates within 5 working days.",
               "notify": ["qa"]}),
    )
    .await;
    s.approve(&qa, "monitoring_plan", "mp1", 1).await;
    (dev, qa)
}

/// A batch of `rows` rows like the reference, ages moved by `shift`, in the week ending `end`.
fn batch(id: &str, rows: u64, shift: f64, start: &str, end: &str) -> Value {
    let ages: Vec<Value> = (0..rows)
        .map(|i| json!(20.0 + ((i * 11) % 60) as f64 + shift))
        .collect();
    let sites: Vec<Value> = (0..rows)
        .map(|i| match shift > 0.0 && i % 50 == 3 {
            true => json!(HOSTILE_SITE),
            false => json!(SITES[(i % 3) as usize]),
        })
        .collect();
    json!({"id": id, "data": {"plan": "mp1", "window": {"start": start, "end": end}},
           "columns": {"age": ages, "site": sites}})
}

/// GETs `path`; the status, content type and body text.
async fn fetch(s: &TestServer, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = s.http.get(format!("{}{path}", s.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("read"))
}

/// An SVG chart answered with 200, parsed as XML.
async fn chart(s: &TestServer, path: &str, token: &str) -> String {
    let (status, content_type, text) = fetch(s, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    assert_eq!(content_type, "image/svg+xml; charset=utf-8", "{path}");
    if let Err(e) = roxmltree::Document::parse(&text) {
        panic!("{path} is not XML: {e}\n{text}");
    }
    text
}

/// The elements of `svg` whose class list has `class`.
fn count_class(svg: &str, class: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).expect("XML");
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|part| part == class))
        })
        .count()
}

/// The chart's `<title>`.
fn title(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).expect("XML");
    let root = doc.root_element();
    root.children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_owned()
}

/// The chart's `<desc>`.
fn desc(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).expect("XML");
    let root = doc.root_element();
    root.children()
        .find(|n| n.has_tag_name("desc"))
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_owned()
}

/// The texts of every element of `svg` with an element child or text (bar and point titles,
/// axis labels).
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("XML");
    doc.descendants()
        .filter(|n| n.is_element())
        .filter_map(|n| n.text())
        .map(str::to_owned)
        .collect()
}

async fn not_found(s: &TestServer, path: &str, token: &str, says: &str) {
    let (status, body) = s.get(path, token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{path}: {message}");
}

async fn drift_charts_show_batches_and_their_verdicts(backend: Backend) {
    let s = server(backend).await;
    let (dev, _qa) = setup(&s).await;
    let admin = s.admin().await;
    let viewer = s.person(&admin, "viewer", "viewer").await;

    // Before any batch: an empty chart over time that says so.
    let empty = chart(
        &s,
        "/api/v1/model-versions/mv1/drift-chart.svg?feature=age",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&empty, "point"), 0);
    assert!(title(&empty).ends_with("no batch"), "{}", title(&empty));

    // The drifted week is recorded first, the quiet week before it afterwards; then a batch
    // too small to test and one voided.
    for (body, breach) in [
        (
            batch(
                "b2",
                300,
                25.0,
                "2026-11-08T00:00:00Z",
                "2026-11-15T00:00:00Z",
            ),
            true,
        ),
        (
            batch(
                "b1",
                300,
                0.0,
                "2026-11-01T00:00:00Z",
                "2026-11-08T00:00:00Z",
            ),
            false,
        ),
        (
            batch(
                "b3",
                10,
                0.0,
                "2026-11-15T00:00:00Z",
                "2026-11-22T00:00:00Z",
            ),
            false,
        ),
        (
            batch(
                "b4",
                300,
                0.0,
                "2026-11-15T00:00:00Z",
                "2026-11-22T00:00:00Z",
            ),
            false,
        ),
    ] {
        let (status, answer) = s.post("/api/v1/monitoring-batches", &dev, body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["data"]["breach"], breach, "{answer}");
    }
    let (status, body) = s
        .post(
            "/api/v1/records/monitoring_batch/b4/void",
            &dev,
            json!({"version": 1, "reason": "uploaded twice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The drifted batch's age: Kolmogorov–Smirnov (600 reference rows), drawn over Evidently's
    // bins: Sturges over both sides' 900 values, ceil(log2(900) + 1) = 11 bins, two bars each.
    let age = chart(
        &s,
        "/api/v1/monitoring-batches/b2/chart.svg?feature=age",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&age, "bar"), 22, "{age}");
    assert_eq!(count_class(&age, "reference"), 11);
    assert_eq!(count_class(&age, "current"), 11);
    let heading = title(&age);
    assert!(
        heading.starts_with("Drift of age in monitoring_batch b2, window 2026-11-08T00:00:00Z"),
        "{heading}"
    );
    assert!(heading.ends_with(": drifted"), "{heading}");
    let described = desc(&age);
    assert!(
        described.contains("Test ks score") && described.contains("drift when score <= 0.05"),
        "{described}"
    );
    assert!(
        texts(&age)
            .iter()
            .any(|t| t.starts_with("reference: ") && t.contains(" of 600 rows")),
        "{age}"
    );
    // The quiet one says so; the same request gives the same bytes.
    let quiet = chart(
        &s,
        "/api/v1/monitoring-batches/b1/chart.svg?feature=age",
        &viewer,
    )
    .await;
    assert!(title(&quiet).ends_with(": no drift"), "{}", title(&quiet));
    assert_eq!(
        chart(
            &s,
            "/api/v1/monitoring-batches/b1/chart.svg?feature=age",
            &dev
        )
        .await,
        quiet
    );
    // A categorical feature: one bin per site, the unseen one's markup escaped.
    let site = chart(
        &s,
        "/api/v1/monitoring-batches/b2/chart.svg?feature=site",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&site, "bar"), 8, "{site}");
    assert!(texts(&site).iter().any(|t| t == HOSTILE_SITE), "{site}");
    assert_eq!(site.matches("</svg>").count(), 1, "escaped: {site}");
    assert!(title(&site).contains("chi_square") || desc(&site).contains("chi_square"));

    // Over time: the two tested batches in window order, the drifted one marked, the
    // threshold drawn; the untested and voided batches named as left out.
    let over_time = chart(
        &s,
        "/api/v1/model-versions/mv1/drift-chart.svg?feature=age",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&over_time, "point"), 2, "{over_time}");
    assert_eq!(count_class(&over_time, "drifted"), 1, "{over_time}");
    assert_eq!(count_class(&over_time, "threshold"), 1, "{over_time}");
    assert!(title(&over_time).contains("1 of 2 batches drifted"));
    let points: Vec<String> = texts(&over_time)
        .into_iter()
        .filter(|t| t.starts_with("b1 (") || t.starts_with("b2 ("))
        .collect();
    assert_eq!(points.len(), 2, "{points:?}");
    assert!(
        points[0].starts_with("b1 (2026-11-08T00:00:00Z)"),
        "{points:?}"
    );
    assert!(points[0].ends_with(": no drift"), "{points:?}");
    assert!(
        points[1].starts_with("b2 (2026-11-15T00:00:00Z)"),
        "{points:?}"
    );
    assert!(points[1].ends_with(": drifted"), "{points:?}");
    assert!(texts(&over_time)
        .iter()
        .any(|t| t == "threshold 0.05: drift when score <= 0.05"));
    let described = desc(&over_time);
    assert!(
        described.contains("Not charted: b3: not tested; b4: voided."),
        "{described}"
    );

    // The batches of one plan: here all of them.
    let of_plan = chart(
        &s,
        "/api/v1/model-versions/mv1/drift-chart.svg?feature=age&plan=mp1",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&of_plan, "point"), 2);
    assert!(title(&of_plan).contains("under monitoring_plan mp1"));

    // What is missing is named.
    not_found(
        &s,
        "/api/v1/monitoring-batches/b9/chart.svg?feature=age",
        &viewer,
        "no monitoring_batch record `b9`",
    )
    .await;
    not_found(
        &s,
        "/api/v1/monitoring-batches/b2/chart.svg?feature=weight",
        &viewer,
        "no drift result for feature `weight`; it has drift results for: `age`, `site`",
    )
    .await;
    not_found(
        &s,
        "/api/v1/monitoring-batches/b3/chart.svg?feature=age",
        &viewer,
        "`b3` was not tested",
    )
    .await;
    not_found(
        &s,
        "/api/v1/model-versions/mv9/drift-chart.svg?feature=age",
        &viewer,
        "no model_version record `mv9`",
    )
    .await;
    not_found(
        &s,
        "/api/v1/model-versions/mv1/drift-chart.svg?feature=weight",
        &viewer,
        "has a drift result for feature `weight`; they have drift results for: `age`, `site`",
    )
    .await;
    // Another model version has no batch: an empty chart.
    let other = chart(
        &s,
        "/api/v1/model-versions/mv2/drift-chart.svg?feature=age",
        &viewer,
    )
    .await;
    assert_eq!(count_class(&other, "point"), 0);
    // The feature is required.
    let (status, body) = s
        .get("/api/v1/monitoring-batches/b2/chart.svg", &viewer)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A token is needed, and a user who must change their password first gets nothing.
    for path in [
        "/api/v1/monitoring-batches/b2/chart.svg?feature=age",
        "/api/v1/model-versions/mv1/drift-chart.svg?feature=age",
    ] {
        let (status, _, text) = fetch(&s, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {text}");
        let (status, body) = s.get(path, "mts_not-a-session").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let (status, body) = s
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "newcomer", "name": "New Comer", "role": "viewer",
                   "password": "newcomer-first-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let newcomer = s.login("newcomer", "newcomer-first-password").await;
    let (status, body) = s
        .get(
            "/api/v1/monitoring-batches/b2/chart.svg?feature=age",
            &newcomer,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "password_change_required");
    s.stop().await;
}
