//! Backup and restore (EU GMP Annex 11 cl. 7.2), end to end with the real binary and a real
//! server on a loopback port: a checkpoint is pinned, `modeltrail backup` runs while the server
//! is taking writes, `modeltrail restore` brings the backup into a new data directory (and, for
//! PostgreSQL, a new database through pg_dump/pg_restore), `modeltrail verify` passes with the
//! pinned checkpoint trusted, the restored log's checkpoint is proved consistent with the
//! pinned one, and the restored server serves what was acknowledged before the backup.

mod common;

use common::{modeltrail, text};
use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_consistency;
use modeltrail_ledger::Hash;
use modeltrail_server::{start, Running, ServerConfig};
use modeltrail_store::StoreConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const DEV_PASSWORD: &str = "dev-second-password";
const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

struct Live {
    running: Running,
    base: String,
    http: reqwest::Client,
}

async fn serve(store: StoreConfig) -> Live {
    let mut config = ServerConfig::new(store);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let running = start(config).await.unwrap();
    Live {
        base: format!("http://{}", running.addr),
        running,
        http: reqwest::Client::new(),
    }
}

impl Live {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}/api/v1/{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.json(&body).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn login_as(&self, user: &str, password: &str) -> String {
        let answer = self
            .post(
                "auth/login",
                None,
                json!({"username": user, "password": password}),
            )
            .await;
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// A developer (who may write records), created by the administrator; their token.
    async fn developer(&self) -> String {
        let admin = self.login_as("admin", ADMIN_PASSWORD).await;
        self.post(
            "users",
            Some(&admin),
            json!({"id": "dev", "name": "Dee Developer", "role": "developer",
                   "password": "dev-first-password"}),
        )
        .await;
        let dev = self.login_as("dev", "dev-first-password").await;
        self.post(
            "auth/password",
            Some(&dev),
            json!({"current_password": "dev-first-password", "new_password": DEV_PASSWORD}),
        )
        .await;
        dev
    }

    async fn create_model(&self, token: &str, id: &str) -> reqwest::StatusCode {
        self.http
            .post(format!("{}/api/v1/records/model", self.base))
            .bearer_auth(token)
            .json(&json!({"id": id, "data": {
                "name": id, "owner": "dev",
                "intended_use": "Flags anomalous tablet batches for QA review.",
                "context_of_use": "Advisory.", "gamp_category": 5,
                "risk": {"model_influence": "low", "decision_consequence": "low"}}}))
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn get(&self, token: &str, path: &str) -> (reqwest::StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// A dataset version whose data is uploaded: a blob in the data directory. Its digest.
    async fn dataset_with_blob(&self, token: &str, id: &str) -> String {
        let csv = b"x,y\n1,2\n3,4\n".to_vec();
        let digest = hex::encode(Sha256::digest(&csv));
        let canonical = format!("{digest}  data.csv\n");
        let status = self
            .http
            .post(format!("{}/api/v1/records/dataset_version", self.base))
            .bearer_auth(token)
            .json(
                &json!({"id": id, "data": {"name": "reference", "version": "1",
                "source": "MES export",
                "content_digest": hex::encode(Sha256::digest(canonical.as_bytes())),
                "manifest": [{"path": "data.csv", "sha256": digest, "size_bytes": csv.len()}]}}),
            )
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let response = self
            .http
            .post(format!(
                "{}/api/v1/dataset-versions/{id}/data?path=data.csv",
                self.base
            ))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        digest
    }

    async fn public_text(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        response.text().await.unwrap()
    }

    async fn checkpoint(&self, verifier: &NoteVerifier) -> Checkpoint {
        let note = self.public_text("checkpoint").await;
        SignedCheckpoint::open(&note, verifier)
            .expect("the checkpoint verifies with the log's key")
            .into_parts()
            .0
    }

    async fn consistency(&self, token: &str, from: u64, to: u64) -> Vec<Hash> {
        let (status, body) = self
            .get(
                token,
                &format!("/api/v1/proofs/consistency?from={from}&to={to}"),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect()
    }
}

/// Runs the binary on a blocking thread so the in-process server keeps answering.
async fn cli(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        modeltrail()
            .args(&args)
            .env_remove("MODELTRAIL_DATA_DIR")
            .env_remove("MODELTRAIL_DATABASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Writes models as fast as the server takes them until stopped.
fn writer(live: &Live, token: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let http = live.http.clone();
    let base = live.base.clone();
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let id = format!("during-{i}");
            let status = http
                .post(format!("{base}/api/v1/records/model"))
                .bearer_auth(&token)
                .json(&json!({"id": id, "data": {
                    "name": id, "owner": "dev",
                    "intended_use": "Flags anomalous tablet batches for QA review.",
                    "context_of_use": "Advisory.", "gamp_category": 5,
                    "risk": {"model_influence": "low", "decision_consequence": "low"}}}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, reqwest::StatusCode::CREATED);
            i += 1;
        }
    })
}

/// What the restored store must show: verify passes with the pinned checkpoint trusted, its
/// server's checkpoint is consistent with the pinned one, and it serves the records
/// acknowledged before the backup and takes new ones.
async fn check_restored(
    restored: StoreConfig,
    verifier: &NoteVerifier,
    pinned: &Checkpoint,
    pinned_file: &Path,
    before: &[String],
    blob: &str,
) {
    let mut verify = args(&[
        "verify",
        &path(&restored.data_dir),
        "--trusted-checkpoint",
        &path(pinned_file),
    ]);
    if let Some(url) = &restored.database_url {
        verify.extend(args(&["--database", url]));
    }
    let out = cli(verify).await;
    assert!(
        out.status.success(),
        "verify of the restored store: {}",
        text(&out)
    );
    assert!(text(&out).contains("OK: tree size"), "{}", text(&out));
    let blob_path = restored
        .data_dir
        .join("blobs")
        .join(&blob[..2])
        .join(&blob[2..]);
    assert!(blob_path.exists(), "the uploaded blob was restored");

    let live = serve(restored).await;
    // The password hashes came back with the log.
    let token = live.login_as("dev", DEV_PASSWORD).await;
    assert_eq!(
        live.public_text("log/public-key").await.trim(),
        verifier.to_text(),
        "the restored server signs with the log's own key"
    );
    let now = live.checkpoint(verifier).await;
    assert!(now.size >= pinned.size, "{} < {}", now.size, pinned.size);
    let proof = live.consistency(&token, pinned.size, now.size).await;
    verify_consistency(pinned.size, now.size, &proof, &pinned.root, &now.root)
        .expect("the restored log continues the pinned one");
    for id in before {
        let (status, body) = live
            .get(&token, &format!("/api/v1/records/model/{id}"))
            .await;
        assert_eq!(
            status,
            reqwest::StatusCode::OK,
            "{id} was acknowledged: {body}"
        );
    }
    assert_eq!(
        live.create_model(&token, "after-restore").await,
        reqwest::StatusCode::CREATED,
        "the restored server takes new records"
    );
    let grown = live.checkpoint(verifier).await;
    assert!(grown.size > now.size);
    live.running.stop().await.unwrap();
}

/// Pins the server's checkpoint as a client would: the signed note, in a file.
async fn pin(live: &Live, dir: &Path, verifier: &NoteVerifier) -> (Checkpoint, PathBuf) {
    let note = live.public_text("checkpoint").await;
    let file = dir.join("pinned.checkpoint");
    std::fs::write(&file, &note).unwrap();
    let checkpoint = SignedCheckpoint::open(&note, verifier)
        .unwrap()
        .into_parts()
        .0;
    (checkpoint, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_backup_while_writing_restores_a_consistent_log() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let live = serve(StoreConfig {
        data_dir: data.clone(),
        database_url: None,
    })
    .await;
    let token = live.developer().await;
    let verifier =
        NoteVerifier::from_text(live.public_text("log/public-key").await.trim()).unwrap();
    let mut before = Vec::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        assert_eq!(
            live.create_model(&token, &id).await,
            reqwest::StatusCode::CREATED
        );
        before.push(id);
    }
    let blob = live.dataset_with_blob(&token, "reference-data").await;
    let (pinned, pinned_file) = pin(&live, work.path(), &verifier).await;

    // The secret keys kept apart, as the backup leaves them out.
    let key_safe = work.path().join("key-safe");
    std::fs::create_dir(&key_safe).unwrap();
    for key in ["signing.key", "webhook.key"] {
        std::fs::copy(data.join(key), key_safe.join(key)).unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(&live, token.clone(), stop.clone());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let size_at_start = live.checkpoint(&verifier).await.size;
    let backup = work.path().join("modeltrail.backup");
    let out = cli(args(&[
        "backup",
        "--data-dir",
        &path(&data),
        "--out",
        &path(&backup),
    ]))
    .await;
    assert!(out.status.success(), "backup: {}", text(&out));
    assert!(
        text(&out).contains("are not in this file"),
        "{}",
        text(&out)
    );
    let size_at_end = live.checkpoint(&verifier).await.size;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    writing.await.unwrap();
    assert!(
        size_at_start > pinned.size && size_at_end > size_at_start,
        "the server took writes before and during the backup ({} -> {} -> {})",
        pinned.size,
        size_at_start,
        size_at_end
    );

    // The file checks, and damage to it is found.
    let out = cli(args(&["restore", "--from", &path(&backup), "--check"])).await;
    assert!(out.status.success(), "restore --check: {}", text(&out));

    // Without the keys and without saying where they are, nothing is restored.
    let refused = work.path().join("refused");
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&refused),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("signing.key"), "{}", text(&out));
    assert!(!refused.exists(), "a refused restore leaves nothing behind");

    // Not over a data directory in use.
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&data),
        "--keys-from",
        &path(&key_safe),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is not empty"), "{}", text(&out));
    live.running.stop().await.unwrap();

    let restored = work.path().join("restored");
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&restored),
        "--keys-from",
        &path(&key_safe),
    ]))
    .await;
    assert!(out.status.success(), "restore: {}", text(&out));
    check_restored(
        StoreConfig {
            data_dir: restored,
            database_url: None,
        },
        &verifier,
        &pinned,
        &pinned_file,
        &before,
        &blob,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_is_refused_and_restores_nothing() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let live = serve(StoreConfig {
        data_dir: data.clone(),
        database_url: None,
    })
    .await;
    let token = live.developer().await;
    live.dataset_with_blob(&token, "reference-data").await;
    live.running.stop().await.unwrap();
    let backup = work.path().join("with-keys.backup");
    let out = cli(args(&[
        "backup",
        "--data-dir",
        &path(&data),
        "--out",
        &path(&backup),
        "--include-secret-keys",
    ]))
    .await;
    assert!(out.status.success(), "backup: {}", text(&out));
    assert!(text(&out).contains("are IN this file"), "{}", text(&out));
    let again = cli(args(&[
        "backup",
        "--data-dir",
        &path(&data),
        "--out",
        &path(&backup),
    ]))
    .await;
    assert_eq!(again.status.code(), Some(2), "a backup never overwrites");

    // One byte of the uploaded blob changed inside the archive.
    let archive = rusqlite::Connection::open(&backup).unwrap();
    let changed = archive
        .execute(
            "UPDATE sqlar SET data = CAST(replace(CAST(data AS TEXT), '3,4', '3,5') AS BLOB) \
             WHERE name LIKE 'blobs/%' AND instr(CAST(data AS TEXT), '3,4') > 0",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(archive);
    let out = cli(args(&["restore", "--from", &path(&backup), "--check"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    let target = work.path().join("restored");
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&target),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("blobs/"),
        "names the entry: {}",
        text(&out)
    );
    assert!(!target.exists(), "nothing restored from a damaged backup");
}

async fn pg_admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(PG_SERVER, tokio_postgres::NoTls)
        .await
        .expect("the local PostgreSQL answers");
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backup_restores_through_pg_dump_and_pg_restore() {
    let admin = pg_admin().await;
    let suffix = format!("{:016x}", rand::random::<u64>());
    let (source_db, target_db) = (format!("mt_src_{suffix}"), format!("mt_dst_{suffix}"));
    for db in [&source_db, &target_db] {
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
    }
    let url = |db: &str| format!("postgres://postgres@127.0.0.1:5432/{db}");
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let live = serve(StoreConfig {
        data_dir: data.clone(),
        database_url: Some(url(&source_db)),
    })
    .await;
    let token = live.developer().await;
    let verifier =
        NoteVerifier::from_text(live.public_text("log/public-key").await.trim()).unwrap();
    let mut before = Vec::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        assert_eq!(
            live.create_model(&token, &id).await,
            reqwest::StatusCode::CREATED
        );
        before.push(id);
    }
    let blob = live.dataset_with_blob(&token, "reference-data").await;
    let (pinned, pinned_file) = pin(&live, work.path(), &verifier).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(&live, token.clone(), stop.clone());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let backup = work.path().join("pg.backup");
    let out = cli(args(&[
        "backup",
        "--data-dir",
        &path(&data),
        "--database",
        &url(&source_db),
        "--out",
        &path(&backup),
        "--include-secret-keys",
    ]))
    .await;
    assert!(out.status.success(), "backup: {}", text(&out));
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    stop.store(true, Ordering::Relaxed);
    writing.await.unwrap();
    live.running.stop().await.unwrap();

    // A database that already holds a log is refused.
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&work.path().join("refused")),
        "--database",
        &url(&source_db),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already holds"), "{}", text(&out));

    let restored = work.path().join("restored");
    let out = cli(args(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&restored),
        "--database",
        &url(&target_db),
    ]))
    .await;
    assert!(out.status.success(), "restore: {}", text(&out));
    check_restored(
        StoreConfig {
            data_dir: restored,
            database_url: Some(url(&target_db)),
        },
        &verifier,
        &pinned,
        &pinned_file,
        &before,
        &blob,
    )
    .await;
    for db in [&source_db, &target_db] {
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .await
            .unwrap();
    }
}
