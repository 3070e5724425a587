//! A real server on a loopback port over a real database, and a small HTTP client for stories.
#![allow(dead_code)]

pub mod receiver;

use modeltrail_server::{start, Running, ServerConfig};
use modeltrail_store::StoreConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Where the server keeps its log in a test.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub config: ServerConfig,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

/// A server with the first administrator's password set, on `backend`.
pub async fn server(backend: Backend) -> TestServer {
    server_with(backend, |_| {}).await
}

pub async fn server_with(backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, schema) = match backend {
        Backend::Sqlite => (None, None),
        Backend::Postgres => {
            let schema = format!("srv_{}", hex_id());
            let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
            (
                Some(format!("{PG_URL}?options=-c%20search_path%3D{schema}")),
                Some(schema),
            )
        }
    };
    let mut config = ServerConfig::new(StoreConfig {
        data_dir: dir.path().join("data"),
        database_url,
    });
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    adjust(&mut config);
    let running = start(config.clone()).await.unwrap();
    TestServer {
        base: format!("http://{}", running.addr),
        running: Some(running),
        http: reqwest::Client::new(),
        config,
        dir,
        schema,
    }
}

fn hex_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

impl TestServer {
    /// Sends a request; returns the status and the JSON body (or the text as a JSON string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// Creates record `kind` `id`; panics unless it is created. The record as answered.
    pub async fn create(&self, token: &str, kind: &str, id: &str, data: Value) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/v1/records/{kind}"),
                token,
                json!({"id": id, "data": data}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{kind} {id}: {body}");
        body
    }

    /// `user` (whose password is `password_of(user)`) signs `version` of a record with
    /// `meaning`; panics unless the signature is recorded.
    pub async fn sign(
        &self,
        token: &str,
        user: &str,
        kind: &str,
        id: &str,
        version: u64,
        meaning: &str,
    ) {
        let (status, body) = self
            .post(
                &format!("/api/v1/records/{kind}/{id}/versions/{version}/signatures"),
                token,
                json!({"meaning": meaning, "username": user, "password": password_of(user)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{meaning} {kind} {id}: {body}");
    }

    /// The user `qa` approves `version` of a record.
    pub async fn approve(&self, qa: &str, kind: &str, id: &str, version: u64) {
        self.sign(qa, "qa", kind, id, version, "approved").await;
    }

    /// Logs in; panics unless it succeeds.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": user, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {user}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a person with a role and logs them in with a changed password; returns the token.
    pub async fn person(&self, admin: &str, id: &str, role: &str) -> String {
        let first = format!("{id}-first-password");
        let (status, body) = self
            .post(
                "/api/v1/users",
                admin,
                json!({"id": id, "name": format!("{id} Example"), "role": role, "password": first}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = self.login(id, &first).await;
        let (status, body) = self
            .post(
                "/api/v1/auth/password",
                &token,
                json!({"current_password": first, "new_password": password_of(id)}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        token
    }

    /// A model record `model` ("tablet-anomaly") and its version `version_id` (version
    /// `number`, one artifact whose SHA-256 is `digit` repeated), by `token`.
    pub async fn model_version(
        &self,
        token: &str,
        model: &str,
        version_id: &str,
        number: &str,
        digit: char,
    ) {
        if self
            .get(&format!("/api/v1/records/model/{model}"), token)
            .await
            .0
            != StatusCode::OK
        {
            self.create(
                token,
                "model",
                model,
                json!({"name": "tablet-anomaly", "owner": "dev",
                       "intended_use": "Flags anomalous tablet batches for QA review.",
                       "context_of_use": "Advisory.", "gamp_category": 5,
                       "risk": {"model_influence": "low", "decision_consequence": "low"}}),
            )
            .await;
        }
        self.create(
            token,
            "model_version",
            version_id,
            json!({"model": model, "version": number,
                   "artifacts": [{"path": "model.pkl", "sha256": digit.to_string().repeat(64)}]}),
        )
        .await;
    }

    /// A dataset version `id` of one CSV file `file` (its manifest and content digest), whose
    /// data is uploaded and profiled, by `token`.
    pub async fn csv_dataset(&self, token: &str, id: &str, file: &str, csv: Vec<u8>) {
        use sha2::{Digest, Sha256};
        let hex_of = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
        let canonical = format!("{}  {file}\n", hex_of(&csv));
        self.create(
            token,
            "dataset_version",
            id,
            json!({"name": "reference", "version": "1", "source": "MES export",
                   "content_digest": hex_of(canonical.as_bytes()),
                   "manifest": [{"path": file, "sha256": hex_of(&csv), "size_bytes": csv.len()}]}),
        )
        .await;
        let (status, body) = self
            .raw(
                Method::POST,
                &format!("/api/v1/dataset-versions/{id}/data?path={file}"),
                Some(token),
                csv,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The log's size from the public checkpoint.
    pub async fn tree_size(&self) -> u64 {
        let (status, text) = self
            .call(Method::GET, "/api/v1/checkpoint", None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        text.as_str()
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
        if let Some(schema) = &self.schema {
            modeltrail_store::postgres::drop_schema(PG_URL, schema)
                .await
                .unwrap();
        }
    }

    /// Stops the server and starts it again over the same data.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
        let running = start(self.config.clone()).await.unwrap();
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }
}

/// A multipart form's boundary in tests.
pub const BOUNDARY: &str = "modeltrail-test-boundary-7f3a";

/// One part of a form: its name, file name, and bytes.
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub bytes: Vec<u8>,
}

pub fn record_part(record: &Value) -> Part<'static> {
    Part {
        name: "record",
        file_name: None,
        bytes: record.to_string().into_bytes(),
    }
}

pub fn file_part<'a>(file_name: &'a str, bytes: &[u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        bytes: bytes.to_vec(),
    }
}

pub fn form(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match part.file_name {
            Some(file) => format!("form-data; name=\"{}\"; filename=\"{file}\"", part.name),
            None => format!("form-data; name=\"{}\"", part.name),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(&part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The password a test person has after their first login.
pub fn password_of(id: &str) -> String {
    format!("{id}-signing-password")
}

/// Runs each story on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                super::$story($crate::common::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                super::$story($crate::common::Backend::Postgres).await;
            })*
        }
    };
}
