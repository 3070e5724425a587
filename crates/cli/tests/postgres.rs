//! The binary on PostgreSQL: init, append and verify through a database URL (the tables in a
//! schema of their own), and tampering behind the triggers found by verify.

mod common;

use common::{lines, run, text};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(SERVER, tokio_postgres::NoTls)
        .await
        .expect("the local PostgreSQL answers");
    tokio::spawn(conn);
    client
}

/// A new log: a schema of its own reached through the URL, and a data directory for its key.
struct Fresh {
    db: tokio_postgres::Client,
    schema: String,
    url: String,
    dir: tempfile::TempDir,
    d: String,
}

async fn fresh_log() -> Fresh {
    let schema = format!("cli_{:016x}", rand::random::<u64>());
    let db = admin().await;
    db.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = format!("{SERVER}?options=-csearch_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let out = run(&["init", "--data-dir", &d, "--database", &url], "");
    assert!(out.status.success(), "{}", text(&out));
    Fresh {
        db,
        schema,
        url,
        dir,
        d,
    }
}

#[tokio::test]
async fn a_log_in_postgres_verifies_and_tampering_is_found() {
    let Fresh {
        db,
        schema,
        url,
        dir,
        d,
    } = fresh_log().await;
    assert!(
        !dir.path().join("modeltrail.db").exists(),
        "no SQLite file when a URL is given"
    );
    for chunk in [0..15, 15..30] {
        let out = run(
            &["append", "--data-dir", &d, "--database", &url],
            &lines(chunk),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = run(&["verify", &d, "--database", &url], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("OK: tree size 30"), "{}", text(&out));

    // A superuser can switch the triggers off; the hashes still tell.
    db.batch_execute(&format!("ALTER TABLE {schema}.events DISABLE TRIGGER USER"))
        .await
        .unwrap();
    let changed = db
        .execute(
            &format!(
                "UPDATE {schema}.events SET body = convert_to(replace(convert_from(body, 'UTF8'), \
                 '0.91', '0.19'), 'UTF8') WHERE seq = 21 AND convert_from(body, 'UTF8') LIKE '%0.91%'"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1, "the tampering changed one row");
    let out = run(&["verify", &d, "--database", &url], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("seq 21"), "{}", text(&out));
    assert!(
        !text(&out).contains("postgres://"),
        "no URL in the output: {}",
        text(&out)
    );

    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_auditor_with_a_read_only_role_can_verify() {
    // The data directory (with the log's key) must live as long as the test.
    let Fresh {
        db,
        schema,
        url,
        dir: _dir,
        d,
    } = fresh_log().await;
    let role = format!("auditor_{:016x}", rand::random::<u64>());
    let out = run(
        &["append", "--data-dir", &d, "--database", &url],
        &lines(0..5),
    );
    assert!(out.status.success(), "{}", text(&out));
    db.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT USAGE ON SCHEMA {schema} TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};"
    ))
    .await
    .unwrap();
    let auditor = format!("postgres://{role}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}");
    let out = run(&["verify", &d, "--database", &auditor], "");
    let said = text(&out);
    db.batch_execute(&format!(
        "DROP SCHEMA {schema} CASCADE; DROP OWNED BY {role}; DROP ROLE {role};"
    ))
    .await
    .unwrap();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("OK: tree size 5"), "{said}");
}
