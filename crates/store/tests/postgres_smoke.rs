//! Smoke test of the PostgreSQL store against the local server, each test in its own schema.

use modeltrail_ledger::tree::{range_nodes, Frontier, NodeId};
use modeltrail_ledger::{leaf_hash, Timestamp};
use modeltrail_store::postgres::{drop_schema, PgStore};
use modeltrail_store::{
    Batch, LogIdentity, LogStore, NewEntry, RecordHead, StoreError, StoredCheckpoint, StoredEntry,
};
use rand::Rng;

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn random_schema() -> String {
    format!("t_{:016x}", rand::thread_rng().gen::<u64>())
}

fn identity() -> LogIdentity {
    LogIdentity {
        origin: "example.com/log".into(),
        verifier_key: "example.com/log+01234567+AAAA".into(),
    }
}

/// Builds the next `count` entries, every third one a new version of record ("model", "m").
fn make_batch(frontier: &mut Frontier, count: u64, all: &mut Vec<StoredEntry>) -> Batch {
    let mut entries = Vec::new();
    for _ in 0..count {
        let seq = frontier.size();
        let body = format!("{{\"event\":{seq}}}").into_bytes();
        let leaf = leaf_hash(&body);
        let hashes = frontier.append(leaf);
        let record = (seq % 3 == 0).then(|| RecordHead {
            kind: "model".into(),
            id: "m".into(),
            version: seq / 3 + 1,
            leaf,
            seq,
        });
        all.push(StoredEntry {
            seq,
            body: body.clone(),
            hashes: hashes.iter().flat_map(|h| h.as_bytes().to_vec()).collect(),
        });
        entries.push(NewEntry {
            seq,
            timestamp: Timestamp::from_micros(1_700_000_000_000_000 + seq as i64),
            body,
            hashes,
            record,
        });
    }
    Batch {
        entries,
        checkpoint: StoredCheckpoint {
            size: frontier.size(),
            text: format!(
                "example.com/log\n{}\n{}\n",
                frontier.size(),
                frontier.root()
            ),
        },
        checkpoint_time: Timestamp::from_micros(1_700_000_001_000_000),
    }
}

/// A plain client on the same schema, for raw SQL.
async fn raw_client(schema: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = URL.parse().expect("test URL");
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect raw client");
    tokio::spawn(connection);
    client
}

async fn exercise(schema: &str) {
    let store = PgStore::connect(URL, Some(schema)).await.expect("connect");
    assert_eq!(store.schema(), Some(schema));
    // A second connect to the same schema finds everything in place.
    let again = PgStore::connect(URL, Some(schema))
        .await
        .expect("reconnect");

    // Empty log.
    assert_eq!(store.size().await.unwrap(), 0);
    assert_eq!(store.identity().await.unwrap(), None);
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    assert!(store.entries(0, 10).await.unwrap().is_empty());
    assert!(matches!(
        store.nodes(&[NodeId::new(0, 0)]).await,
        Err(StoreError::MissingNode(id)) if id == NodeId::new(0, 0)
    ));

    // Identity: set once, same afterwards, a different one refused.
    let id = identity();
    assert_eq!(store.init_identity(&id).await.unwrap(), id);
    assert_eq!(again.init_identity(&id).await.unwrap(), id);
    assert_eq!(store.identity().await.unwrap(), Some(id.clone()));
    let other = LogIdentity {
        origin: "other.example/log".into(),
        ..id.clone()
    };
    assert!(matches!(
        store.init_identity(&other).await,
        Err(StoreError::WrongLog { .. })
    ));
    assert_eq!(store.identity().await.unwrap(), Some(id.clone()));

    // Two batches.
    let mut frontier = Frontier::new();
    let mut all = Vec::new();
    let first = make_batch(&mut frontier, 5, &mut all);
    store.append(&first).await.expect("first append");
    assert_eq!(store.size().await.unwrap(), 5);
    let second = make_batch(&mut frontier, 8, &mut all);
    again.append(&second).await.expect("second append");
    let size = frontier.size();
    assert_eq!(store.size().await.unwrap(), size);

    // Entries, whole and paged.
    assert_eq!(store.entries(0, 100).await.unwrap(), all);
    assert_eq!(store.entries(0, usize::MAX).await.unwrap(), all);
    assert_eq!(store.entries(4, 3).await.unwrap(), all[4..7].to_vec());
    assert!(store.entries(size, 10).await.unwrap().is_empty());

    // Every node of every prefix, checked against the frontier's roots.
    let mut check = Frontier::new();
    for n in 1..=size {
        check.append(leaf_hash(&all[(n - 1) as usize].body));
        let ids: Vec<NodeId> = range_nodes(0, n).collect();
        let hashes = store.nodes(&ids).await.unwrap();
        let rebuilt = Frontier::from_nodes(n, hashes).unwrap();
        assert_eq!(rebuilt.root(), check.root(), "root at size {n}");
    }
    // Repeated ids come back in the order asked.
    let ids = [NodeId::new(3, 0), NodeId::new(0, 2), NodeId::new(3, 0)];
    let hashes = store.nodes(&ids).await.unwrap();
    assert_eq!(hashes[0], hashes[2]);
    assert_eq!(hashes[1], leaf_hash(&all[2].body));
    // A node beyond the log is missing.
    assert!(matches!(
        store.nodes(&[NodeId::new(0, 1), NodeId::new(2, 3)]).await,
        Err(StoreError::MissingNode(id)) if id == NodeId::new(2, 3)
    ));

    // Checkpoints.
    let checkpoints = store.checkpoints().await.unwrap();
    assert_eq!(
        checkpoints,
        vec![first.checkpoint.clone(), second.checkpoint.clone()]
    );
    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(second.checkpoint.clone())
    );

    // Record head: the last version written (seq 12, in the second batch which also wrote 6, 9).
    let head = store.record_head("model", "m").await.unwrap().unwrap();
    assert_eq!(head.seq, 12);
    assert_eq!(head.version, 5);
    assert_eq!(head.leaf, leaf_hash(&all[12].body));
    assert_eq!(store.record_head("model", "nope").await.unwrap(), None);

    // Out of order: refused, nothing written.
    let mut stale_frontier = Frontier::new();
    let stale = make_batch(&mut stale_frontier, 2, &mut Vec::new());
    assert!(matches!(
        store.append(&stale).await,
        Err(StoreError::OutOfOrder { size: s, first: 0 }) if s == size
    ));
    let mut ahead = make_batch(&mut frontier.clone(), 1, &mut Vec::new());
    ahead.entries[0].seq += 1;
    assert!(matches!(
        store.append(&ahead).await,
        Err(StoreError::OutOfOrder { .. })
    ));
    // A batch whose checkpoint is not for the size it reaches is refused before anything is written.
    let mut dup = make_batch(&mut frontier.clone(), 1, &mut Vec::new());
    dup.checkpoint = second.checkpoint.clone();
    assert!(matches!(
        store.append(&dup).await,
        Err(StoreError::MalformedBatch(_))
    ));
    assert_eq!(store.size().await.unwrap(), size);
    assert_eq!(store.entries(0, 100).await.unwrap(), all);
    assert_eq!(store.checkpoints().await.unwrap(), checkpoints);
    assert_eq!(
        store.record_head("model", "m").await.unwrap(),
        Some(head.clone())
    );
    // The writer still works after a failed transaction.
    let next = make_batch(&mut frontier, 1, &mut all);
    store.append(&next).await.expect("append after failures");
    assert_eq!(store.size().await.unwrap(), size + 1);
    assert_eq!(store.record_head("model", "m").await.unwrap(), Some(head));

    // Raw SQL cannot change the log.
    let raw = raw_client(schema).await;
    let refused = [
        (
            "UPDATE events SET body = '\\x00'::bytea WHERE seq = 0",
            "the event log is append-only: UPDATE refused",
        ),
        (
            "DELETE FROM events",
            "the event log is append-only: DELETE refused",
        ),
        (
            "TRUNCATE events",
            "the event log is append-only: TRUNCATE refused",
        ),
        (
            "UPDATE checkpoints SET note = 'x'",
            "checkpoints are append-only: UPDATE refused",
        ),
        (
            "DELETE FROM checkpoints",
            "checkpoints are append-only: DELETE refused",
        ),
        (
            "TRUNCATE checkpoints",
            "checkpoints are append-only: TRUNCATE refused",
        ),
        (
            "UPDATE log_identity SET value = 'x'",
            "the log identity is fixed: UPDATE refused",
        ),
        (
            "DELETE FROM log_identity",
            "the log identity is fixed: DELETE refused",
        ),
        (
            "TRUNCATE log_identity CASCADE",
            "the log identity is fixed: TRUNCATE refused",
        ),
    ];
    for (sql, message) in refused {
        let err = raw.batch_execute(sql).await.expect_err(sql);
        let db = err.as_db_error().expect("a database error");
        assert_eq!(db.message(), message, "{sql}");
    }
    assert_eq!(store.size().await.unwrap(), size + 1);
    assert_eq!(store.entries(0, 100).await.unwrap(), all);
    assert_eq!(store.identity().await.unwrap(), Some(id));
}

#[tokio::test]
async fn postgres_store_round_trip_and_append_only() {
    let schema = random_schema();
    // Run in a task so the schema is dropped even when an assertion fails.
    let run = tokio::spawn({
        let schema = schema.clone();
        async move { exercise(&schema).await }
    })
    .await;
    drop_schema(URL, &schema).await.expect("drop schema");
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn concurrent_connects_to_a_new_schema() {
    let schema = random_schema();
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let schema = schema.clone();
            tokio::spawn(async move { PgStore::connect(URL, Some(&schema)).await.map(|_| ()) })
        })
        .collect();
    let mut results = Vec::new();
    for c in connects {
        results.push(c.await);
    }
    drop_schema(URL, &schema).await.expect("drop schema");
    for r in results {
        r.expect("task").expect("connect");
    }
}

#[tokio::test]
async fn bad_schema_names_are_refused() {
    for name in ["", "1abc", "Abc", "a-b", "a\"b", "pg_temp", &"a".repeat(64)] {
        assert!(
            matches!(
                PgStore::connect(URL, Some(name)).await,
                Err(StoreError::Config(_))
            ),
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn no_schema_uses_the_urls_search_path() {
    let schema = random_schema();
    let run = tokio::spawn({
        let schema = schema.clone();
        async move {
            let raw = raw_client("public").await;
            raw.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
            let url = format!("{URL}?options=-c%20search_path%3D{schema}");
            let store = PgStore::connect(&url, None).await.expect("connect");
            assert_eq!(store.schema(), None);
            let mut frontier = Frontier::new();
            let batch = make_batch(&mut frontier, 3, &mut Vec::new());
            store.append(&batch).await.unwrap();
            let row = raw
                .query_one(
                    "SELECT string_agg(table_name, ',' ORDER BY table_name) \
                     FROM information_schema.tables WHERE table_schema = $1",
                    &[&schema],
                )
                .await
                .unwrap();
            assert_eq!(
                row.get::<_, String>(0),
                "checkpoints,credentials,events,log_identity,record_heads"
            );
            let scoped = raw_client(&schema).await;
            let row = scoped
                .query_one("SELECT count(*) FROM events", &[])
                .await
                .unwrap();
            assert_eq!(row.get::<_, i64>(0), 3);
        }
    })
    .await;
    drop_schema(URL, &schema).await.expect("drop schema");
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn racing_writers_one_wins_the_other_is_out_of_order() {
    let schema = random_schema();
    let run = tokio::spawn({
        let schema = schema.clone();
        async move {
            let a = PgStore::connect(URL, Some(&schema)).await.unwrap();
            let b = PgStore::connect(URL, Some(&schema)).await.unwrap();
            for round in 0..20 {
                let size = a.size().await.unwrap();
                let mut frontier = Frontier::new();
                let mut sink = Vec::new();
                let _ = make_batch(&mut frontier, size, &mut sink);
                let batch = make_batch(&mut frontier, 3, &mut sink);
                let (ra, rb) = tokio::join!(a.append(&batch), b.append(&batch));
                let oks = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
                assert_eq!(oks, 1, "round {round}: {ra:?} {rb:?}");
                assert!(
                    [ra, rb]
                        .into_iter()
                        .any(|r| matches!(r, Err(StoreError::OutOfOrder { .. }))),
                    "round {round}"
                );
                assert_eq!(b.size().await.unwrap(), size + 3);
            }
        }
    })
    .await;
    drop_schema(URL, &schema).await.expect("drop schema");
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
