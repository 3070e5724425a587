//! The real `modeltrail serve` as a child process on SQLite or on its own PostgreSQL schema, a
//! mixed HTTP workload against it (record creates, electronic signatures, MLflow runs and
//! parameters) that remembers every write the server acknowledged, and the checks that each of
//! those writes is still there after whatever happened to the server. Shared by the crash suite
//! (`tests/crash.rs`) and the load bench (`benches/load.rs`).

#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "live-server-admin-password";
pub const QA_PASSWORD: &str = "live-server-qa-password";
/// The local PostgreSQL every test of the project uses.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Where the server keeps its log.
pub enum Backend {
    Sqlite,
    /// A schema of its own in the local PostgreSQL, dropped when the server is dropped.
    Postgres {
        schema: String,
        url: String,
    },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres { .. } => "PostgreSQL",
        }
    }

    /// A fresh schema in the local PostgreSQL.
    pub async fn postgres(prefix: &str) -> Backend {
        let schema = format!("{prefix}_{:016x}", rand::random::<u64>());
        postgres_admin()
            .await
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create a schema");
        let url = format!("{POSTGRES}?options=-csearch_path%3D{schema}");
        Backend::Postgres { schema, url }
    }
}

pub async fn postgres_admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect("the local PostgreSQL answers");
    tokio::spawn(conn);
    client
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// One server's data: its directory (keys, and the SQLite file), its backend, its port, and the
/// running child process if any.
pub struct Live {
    pub data: PathBuf,
    pub backend: Backend,
    pub port: u16,
    pub base: String,
    pub http: reqwest::Client,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Live {
    /// A server whose data directory is a fresh temporary directory.
    pub fn new(backend: Backend) -> Live {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut live = Live::at(data, backend);
        live._dir = Some(dir);
        live
    }

    /// A server whose data directory is `data` (created by the server if missing).
    pub fn at(data: PathBuf, backend: Backend) -> Live {
        let port = free_port();
        Live {
            data,
            backend,
            port,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .expect("an HTTP client"),
            child: None,
            _dir: None,
        }
    }

    /// Starts `modeltrail serve` and waits until it answers `/healthz`.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let mut command = Command::new(env!("CARGO_BIN_EXE_modeltrail"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("MODELTRAIL_DATA_DIR", &self.data)
            .env("MODELTRAIL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("MODELTRAIL_DATABASE_URL")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Backend::Postgres { url, .. } = &self.backend {
            command.env("MODELTRAIL_DATABASE_URL", url);
        }
        self.child = Some(command.spawn().expect("start modeltrail serve"));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the server exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not answer /healthz within 60 s");
    }

    /// SIGKILL: no chance to flush or clean up anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the child is still running (it has not crashed or panicked out).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `modeltrail verify` of this server's log, offline.
    pub fn verify(&self) -> Output {
        let mut args = vec!["verify".to_owned(), self.data.display().to_string()];
        if let Backend::Postgres { url, .. } = &self.backend {
            args.push("--database".to_owned());
            args.push(url.clone());
        }
        Command::new(env!("CARGO_BIN_EXE_modeltrail"))
            .args(&args)
            .env_remove("MODELTRAIL_DATA_DIR")
            .env_remove("MODELTRAIL_DATABASE_URL")
            .output()
            .expect("modeltrail verify runs")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        answer(request.send().await).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        answer(request.send().await).await
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login {user}: {body}");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// On a fresh log: a developer service account `pipeline` with an API token and a QA person
    /// `qa` whose first password is changed to `QA_PASSWORD`. Returns the pipeline's token.
    pub async fn setup_users(&self) -> String {
        let admin = self.login("admin", ADMIN_PASSWORD).await;
        let (status, body) = self
            .post(
                "/api/v1/users",
                Some(&admin),
                json!({"id": "pipeline", "name": "Pipeline", "role": "developer", "kind": "service"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, issued) = self
            .post(
                "/api/v1/users/pipeline/tokens",
                Some(&admin),
                json!({"label": "load"}),
            )
            .await;
        assert_eq!(status, 201, "{issued}");
        let first = "qa-first-password-1";
        let (status, body) = self
            .post(
                "/api/v1/users",
                Some(&admin),
                json!({"id": "qa", "name": "Quality Reviewer", "role": "qa", "password": first}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let qa = self.login("qa", first).await;
        let (status, body) = self
            .post(
                "/api/v1/auth/password",
                Some(&qa),
                json!({"current_password": first, "new_password": QA_PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        issued["token"].as_str().expect("a token").to_owned()
    }

    /// Every event of the log as seq -> leaf hash (hex), read through `/api/v1/events`.
    pub async fn leaves(&self, token: &str) -> HashMap<u64, String> {
        let mut leaves = HashMap::new();
        let mut from = 0u64;
        loop {
            let (status, page) = self
                .get(&format!("/api/v1/events?from={from}&limit=1000"), token)
                .await;
            assert_eq!(status, 200, "{page}");
            for event in page["events"].as_array().expect("events") {
                let seq = event["seq"].as_u64().expect("seq");
                let leaf = event["leaf"].as_str().expect("leaf").to_owned();
                leaves.insert(seq, leaf);
            }
            match page["next"].as_u64() {
                Some(next) if next > from => from = next,
                _ => return leaves,
            }
        }
    }

    /// Panics unless every acknowledged write is in the log as it was acknowledged: each event
    /// at its sequence number with the same leaf hash (so the same bytes), each MLflow parameter
    /// readable from its run.
    pub async fn check_acknowledged(&self, acks: &Acknowledged) {
        let admin = self.login("admin", ADMIN_PASSWORD).await;
        let leaves = self.leaves(&admin).await;
        for (seq, leaf) in &acks.events {
            match leaves.get(seq) {
                None => panic!("acknowledged event seq {seq} is missing"),
                Some(found) => {
                    assert_eq!(found, leaf, "seq {seq} differs from what was acknowledged")
                }
            }
        }
        let pipeline_reader = admin.clone();
        for (run_id, params) in &acks.params {
            let (status, run) = self
                .get(
                    &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
                    &pipeline_reader,
                )
                .await;
            assert_eq!(status, 200, "acknowledged run {run_id}: {run}");
            let stored: HashMap<&str, &str> = run["run"]["data"]["params"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| Some((p["key"].as_str()?, p["value"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            for (key, value) in params {
                assert_eq!(
                    stored.get(key.as_str()).copied(),
                    Some(value.as_str()),
                    "run {run_id}: acknowledged parameter {key} is missing or changed"
                );
            }
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.kill();
        if let Backend::Postgres { schema, .. } = &self.backend {
            // Best effort, on a thread of its own since Drop cannot await.
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let (client, conn) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
                        .await
                        .ok()?;
                    tokio::spawn(conn);
                    client.batch_execute(&sql).await.ok()
                })
            });
            let _ = dropped.join();
        }
    }
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> (u16, Value) {
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let bytes = r.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            (status, body)
        }
        // No answer at all (connection refused or reset, timeout): status 0.
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// What the server said it stored.
#[derive(Default, Clone)]
pub struct Acknowledged {
    /// Sequence number -> leaf hash, from the receipts of record creates and signatures.
    pub events: Vec<(u64, String)>,
    /// MLflow run id -> parameters (key, value) acknowledged with 200.
    pub params: HashMap<String, Vec<(String, String)>>,
}

impl Acknowledged {
    pub fn writes(&self) -> usize {
        self.events.len() + self.params.values().map(Vec::len).sum::<usize>()
    }
}

/// What kind of request a worker sends.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    RecordCreate,
    Sign,
    MlflowRun,
    MlflowParam,
    RecordRead,
    Proof,
}

/// Per-operation outcome counts and latencies of the successful ones.
#[derive(Default)]
pub struct Tally {
    pub ok: HashMap<Op, Vec<Duration>>,
    /// Answers with a status >= 500, by status.
    pub server_errors: HashMap<u16, u64>,
    /// The bodies of the first few of them.
    pub server_error_bodies: Vec<Value>,
    /// Answers with a status in 400..500 (a bug in the workload or the server).
    pub client_errors: Vec<String>,
    /// No answer at all (the server was gone).
    pub no_answer: u64,
}

/// Settings of a mixed workload.
#[derive(Clone)]
pub struct Workload {
    /// Unique prefix of record ids, run names and parameter keys.
    pub tag: String,
    pub record_writers: usize,
    pub mlflow_writers: usize,
    pub signers: usize,
    /// Workers reading records and fetching inclusion proofs.
    pub readers: usize,
}

/// A running workload: stop it with [`Running::stop`].
pub struct Running {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub acks: Arc<Mutex<Acknowledged>>,
    pub tally: Arc<Mutex<Tally>>,
    pub sent: Arc<AtomicU64>,
}

impl Running {
    /// Stops the workers and waits for them (in-flight requests finish or fail).
    pub async fn stop(self) -> (Acknowledged, Tally) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let acks = self.acks.lock().expect("acks").clone();
        let tally = std::mem::take(&mut *self.tally.lock().expect("tally"));
        (acks, tally)
    }
}

struct Worker {
    base: String,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Acknowledged>>,
    tally: Arc<Mutex<Tally>>,
    created: Arc<Mutex<Vec<String>>>,
    sent: Arc<AtomicU64>,
}

impl Worker {
    async fn call(&self, op: Op, request: reqwest::RequestBuilder, expect: u16) -> Option<Value> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let (status, body) = answer(request.send().await).await;
        let elapsed = started.elapsed();
        let mut tally = self.tally.lock().expect("tally");
        match status {
            s if s == expect => {
                tally.ok.entry(op).or_default().push(elapsed);
                return Some(body);
            }
            0 => tally.no_answer += 1,
            s if s >= 500 => {
                *tally.server_errors.entry(s).or_default() += 1;
                if tally.server_error_bodies.len() < 20 {
                    tally.server_error_bodies.push(body);
                }
            }
            s => tally.client_errors.push(format!("{op:?}: {s} {body}")),
        }
        None
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn ack_receipt(&self, body: &Value) {
        let receipt = &body["receipt"];
        let (Some(seqs), Some(leaves)) = (receipt["seq"].as_array(), receipt["leaf"].as_array())
        else {
            return;
        };
        let mut acks = self.acks.lock().expect("acks");
        for (seq, leaf) in seqs.iter().zip(leaves) {
            if let (Some(seq), Some(leaf)) = (seq.as_u64(), leaf.as_str()) {
                acks.events.push((seq, leaf.to_owned()));
            }
        }
    }
}

fn model(i: u64) -> Value {
    json!({
        "name": format!("model-{i}"), "owner": "pipeline",
        "intended_use": "Flags anomalous tablet batches for QA review before release.",
        "context_of_use": "Advisory; a QA reviewer examines every flagged batch.",
        "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "high", "model_risk": "high"}
    })
}

/// Starts `workload` against `live` with the pipeline's API `token`; QA signs as `qa`.
pub fn start_workload(live: &Live, token: &str, workload: &Workload) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Acknowledged::default()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let created = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let worker = || Worker {
        base: live.base.clone(),
        http: live.http.clone(),
        stop: stop.clone(),
        acks: acks.clone(),
        tally: tally.clone(),
        created: created.clone(),
        sent: sent.clone(),
    };
    let mut tasks = Vec::new();
    for w in 0..workload.record_writers {
        let (me, token, tag) = (worker(), token.to_owned(), workload.tag.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0u64.. {
                if me.stopped() {
                    break;
                }
                let id = format!("{tag}-w{w}-{i}");
                let request = me
                    .http
                    .post(format!("{}/api/v1/records/model", me.base))
                    .bearer_auth(&token)
                    .json(&json!({"id": id, "data": model(i)}));
                if let Some(body) = me.call(Op::RecordCreate, request, 201).await {
                    me.ack_receipt(&body);
                    me.created.lock().expect("created").push(id);
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for _ in 0..workload.signers {
        let me = worker();
        tasks.push(tokio::spawn(async move {
            let mut session: Option<String> = None;
            while !me.stopped() {
                let Some(token) = session.clone() else {
                    let request = me
                        .http
                        .post(format!("{}/api/v1/auth/login", me.base))
                        .json(&json!({"username": "qa", "password": QA_PASSWORD}));
                    match me.call(Op::Sign, request, 200).await {
                        Some(body) => session = body["token"].as_str().map(str::to_owned),
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    continue;
                };
                let next = me.created.lock().expect("created").pop();
                let Some(id) = next else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let request = me
                    .http
                    .post(format!(
                        "{}/api/v1/records/model/{id}/versions/1/signatures",
                        me.base
                    ))
                    .bearer_auth(&token)
                    .json(
                        &json!({"meaning": "reviewed", "username": "qa", "password": QA_PASSWORD}),
                    );
                if let Some(body) = me.call(Op::Sign, request, 201).await {
                    me.ack_receipt(&body);
                }
            }
        }));
    }
    for w in 0..workload.mlflow_writers {
        let (me, token, tag) = (worker(), token.to_owned(), workload.tag.clone());
        tasks.push(tokio::spawn(async move {
            let mut experiment: Option<String> = None;
            let mut run: Option<String> = None;
            let mut attempt = 0u64;
            for i in 0u64.. {
                if me.stopped() {
                    break;
                }
                let Some(exp) = experiment.clone() else {
                    attempt += 1;
                    let request = me
                        .http
                        .post(format!("{}/api/2.0/mlflow/experiments/create", me.base))
                        .bearer_auth(&token)
                        .json(&json!({"name": format!("{tag}-exp{w}-{attempt}")}));
                    match me.call(Op::MlflowRun, request, 200).await {
                        Some(body) => {
                            experiment = body["experiment_id"].as_str().map(str::to_owned)
                        }
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    continue;
                };
                let Some(run_id) = run.clone().filter(|_| i % 20 != 0) else {
                    let request = me
                        .http
                        .post(format!("{}/api/2.0/mlflow/runs/create", me.base))
                        .bearer_auth(&token)
                        .json(&json!({"experiment_id": exp, "run_name": format!("{tag}-{w}-{i}")}));
                    match me.call(Op::MlflowRun, request, 200).await {
                        Some(body) => {
                            run = body["run"]["info"]["run_id"].as_str().map(str::to_owned)
                        }
                        None => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                    continue;
                };
                let (key, value) = (format!("p{i}"), format!("{tag}-{i}"));
                let request = me
                    .http
                    .post(format!("{}/api/2.0/mlflow/runs/log-parameter", me.base))
                    .bearer_auth(&token)
                    .json(&json!({"run_id": run_id, "key": key, "value": value}));
                if me.call(Op::MlflowParam, request, 200).await.is_some() {
                    me.acks
                        .lock()
                        .expect("acks")
                        .params
                        .entry(run_id)
                        .or_default()
                        .push((key, value));
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for r in 0..workload.readers {
        let (me, token) = (worker(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in 0u64.. {
                if me.stopped() {
                    break;
                }
                let pick = {
                    let acks = me.acks.lock().expect("acks");
                    let n = acks.events.len();
                    (n > 0).then(|| acks.events[(i as usize * 7919 + r) % n].0)
                };
                let known = me.created.lock().expect("created").last().cloned();
                let request = if i % 2 == 0 {
                    let Some(id) = known else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    (Op::RecordRead, format!("/api/v1/records/model/{id}"))
                } else {
                    let Some(seq) = pick else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    (Op::Proof, format!("/api/v1/proofs/inclusion?index={seq}"))
                };
                let builder = me
                    .http
                    .get(format!("{}{}", me.base, request.1))
                    .bearer_auth(&token);
                if me.call(request.0, builder, 200).await.is_none() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    Running {
        stop,
        tasks,
        acks,
        tally,
        sent,
    }
}

/// Text of a process's output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The data directory of a server, for filesystem tests.
pub fn data_dir(live: &Live) -> &Path {
    &live.data
}
