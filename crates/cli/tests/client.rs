//! The client commands against a real server on a loopback port, run as the real `modeltrail`
//! binary: each person has their own configuration directory (session and pinned checkpoint),
//! and passwords come from MODELTRAIL_PASSWORD or standard input as in automation.
//!
//! The server runs on this test's multi-threaded runtime; the binary runs on a blocking thread,
//! so the server keeps answering while a test waits for the command.

use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::Hash;
use modeltrail_server::{start, Running, ServerConfig, TlsFiles};
use modeltrail_store::StoreConfig;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

struct Server {
    running: Option<Running>,
    base: String,
    dir: TempDir,
}

impl Server {
    async fn start() -> Server {
        Server::start_with(|_, _| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut ServerConfig, &Path)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(StoreConfig {
            data_dir: dir.path().join("data"),
            database_url: None,
        });
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.admin_password = Some(ADMIN_PASSWORD.into());
        adjust(&mut config, dir.path());
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let running = start(config).await.unwrap();
        Server {
            base: format!("{scheme}://{}", running.addr),
            running: Some(running),
            dir,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Someone using the CLI with a configuration directory of their own.
    fn cli(&self) -> Cli {
        Cli {
            server: self.base.clone(),
            config: tempfile::tempdir().unwrap(),
        }
    }

    /// The administrator, logged in.
    async fn admin(&self) -> Cli {
        let admin = self.cli();
        admin
            .ok(
                &["login", "--user", "admin"],
                &[("MODELTRAIL_PASSWORD", ADMIN_PASSWORD)],
            )
            .await;
        admin
    }

    /// A person created by `admin`, logged in, with their temporary password changed.
    async fn person(&self, admin: &Cli, id: &str, role: &str) -> Cli {
        let name = format!("{} Example", id.to_uppercase());
        let out = admin
            .ok(&["user", "add", id, "--name", &name, "--role", role], &[])
            .await;
        let temporary = after_line(&out.stdout, "temporary password for");
        let person = self.cli();
        let out = person
            .ok(
                &["login", "--user", id],
                &[("MODELTRAIL_PASSWORD", &temporary)],
            )
            .await;
        assert!(out.stdout.contains("must be changed"), "{}", out.all());
        person
            .ok(
                &["password"],
                &[
                    ("MODELTRAIL_PASSWORD", &temporary),
                    ("MODELTRAIL_NEW_PASSWORD", &password_of(id)),
                ],
            )
            .await;
        person
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

fn password_of(id: &str) -> String {
    format!("{id}-signing-password")
}

/// The trimmed line after the first line containing `marker`.
fn after_line(text: &str, marker: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.contains(marker));
    lines
        .next()
        .unwrap_or_else(|| panic!("no {marker:?} in {text}"));
    lines.next().unwrap().trim().to_owned()
}

struct Cli {
    server: String,
    config: TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Cli {
    async fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modeltrail"));
        command.args(args);
        for name in [
            "MODELTRAIL_TOKEN",
            "MODELTRAIL_PASSWORD",
            "MODELTRAIL_NEW_PASSWORD",
            "MODELTRAIL_USER",
            "MODELTRAIL_DATA_DIR",
            "MODELTRAIL_DATABASE_URL",
        ] {
            command.env_remove(name);
        }
        command
            .env("MODELTRAIL_CONFIG_DIR", self.config.path())
            .env("MODELTRAIL_SERVER", &self.server)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let stdin = stdin.to_owned();
        let output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("modeltrail runs");
            let mut input = child.stdin.take().expect("stdin");
            input.write_all(stdin.as_bytes()).expect("write stdin");
            drop(input);
            child.wait_with_output().expect("modeltrail finishes")
        })
        .await
        .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_with(args, env, "").await
    }

    /// Runs and asserts exit 0.
    async fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.run(args, env).await;
        assert_eq!(out.code, 0, "{args:?}: {}", out.all());
        out
    }

    fn server_dir(&self) -> PathBuf {
        let servers = self.config.path().join("servers");
        let mut dirs: Vec<_> = std::fs::read_dir(&servers)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            dirs.len(),
            1,
            "one server directory in {}",
            servers.display()
        );
        dirs.pop().unwrap()
    }

    fn session_token(&self) -> String {
        let text = std::fs::read_to_string(self.server_dir().join("session.json")).unwrap();
        let session: Value = serde_json::from_str(&text).unwrap();
        session["token"].as_str().unwrap().to_owned()
    }

    fn pin_path(&self) -> PathBuf {
        self.server_dir().join("checkpoint.pin")
    }

    fn pin(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.pin_path()).unwrap()).unwrap()
    }

    fn pinned(&self) -> Checkpoint {
        let pin = self.pin();
        let key = NoteVerifier::from_text(pin["public_key"].as_str().unwrap()).unwrap();
        SignedCheckpoint::open(pin["checkpoint"].as_str().unwrap(), &key)
            .unwrap()
            .checkpoint()
            .clone()
    }

    fn set_pin(&self, key: &str, checkpoint: &str) {
        let mut pin = self.pin();
        pin["public_key"] = json!(key);
        pin["checkpoint"] = json!(checkpoint);
        std::fs::write(self.pin_path(), pin.to_string()).unwrap();
    }
}

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

fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_log_in_manage_users_and_create_read_and_sign_records() {
    let s = Server::start().await;
    let admin = s.admin().await;
    let token = admin.session_token();
    #[cfg(unix)]
    assert_eq!(mode(&admin.server_dir().join("session.json")), 0o600);

    let dev = s.person(&admin, "dev", "developer").await;
    let qa = s.person(&admin, "qa", "qa").await;
    let out = admin.ok(&["user", "list"], &[]).await;
    for expected in [
        "ID",
        "LAST LOGIN",
        "admin",
        "DEV Example",
        "qa",
        "developer",
    ] {
        assert!(out.stdout.contains(expected), "{expected}: {}", out.all());
    }
    let out = admin.ok(&["whoami"], &[]).await;
    assert!(out.stdout.contains("admin (Administrator), role admin"));

    // Errors are the server's message and field; exit 2.
    let out = dev
        .run(
            &["user", "add", "eve", "--name", "Eve", "--role", "qa"],
            &[],
        )
        .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .starts_with("error: role developer may not do this"),
        "{}",
        out.all()
    );
    let out = admin
        .run(&["user", "role", "dev", "qa", "--reason", " "], &[])
        .await;
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        "error: a reason is required (field reason)"
    );

    // Lock, unlock, reset a password (printed once), change a role.
    admin
        .ok(
            &[
                "user",
                "add",
                "vic",
                "--name",
                "Vic Viewer",
                "--role",
                "viewer",
            ],
            &[],
        )
        .await;
    let out = admin
        .ok(
            &["user", "lock", "vic", "--reason", "left the project"],
            &[],
        )
        .await;
    assert!(
        out.stdout.contains("locked vic (Vic Viewer)"),
        "{}",
        out.all()
    );
    let out = admin.ok(&["user", "list"], &[]).await;
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("vic") && l.contains("locked")),
        "{}",
        out.all()
    );
    admin.ok(&["user", "unlock", "vic"], &[]).await;
    let out = admin.ok(&["user", "reset-password", "vic"], &[]).await;
    let temporary = after_line(&out.stdout, "temporary password for vic");
    let vic = s.cli();
    let out = vic
        .run_with(
            &["login", "--user", "vic", "--password-stdin"],
            &[],
            &format!("{temporary}\n"),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let out = admin
        .ok(
            &["user", "role", "vic", "auditor", "--reason", "now inspects"],
            &[],
        )
        .await;
    assert!(out.stdout.contains("role auditor"), "{}", out.all());

    // Records: create from a file and from standard input, update with a reason.
    let files = tempfile::tempdir().unwrap();
    let first = write_json(files.path(), "m1.json", &model("anomaly"));
    let out = dev
        .ok(
            &["record", "create", "model", "--id", "m-1", "--data", &first],
            &[],
        )
        .await;
    assert!(
        out.stdout.contains("created model m-1 version 1"),
        "{}",
        out.all()
    );
    let out = dev
        .run_with(
            &["record", "create", "model", "--id", "m-2", "--data", "-"],
            &[],
            &model("other").to_string(),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let mut changed = model("anomaly");
    changed["risk"]["decision_consequence"] = json!("medium");
    changed["risk"]["model_risk"] = json!("medium");
    let second = write_json(files.path(), "m1-v2.json", &changed);
    let out = dev
        .ok(
            &[
                "record",
                "update",
                "model",
                "m-1",
                "--version",
                "1",
                "--reason",
                "risk re-assessed after SME review",
                "--data",
                &second,
            ],
            &[],
        )
        .await;
    assert!(out.stdout.contains("version 2"), "{}", out.all());
    assert!(
        out.stdout
            .contains(r#"/risk/model_risk: "high" → "medium""#),
        "{}",
        out.all()
    );
    let out = dev
        .run(
            &[
                "record",
                "update",
                "model",
                "m-1",
                "--version",
                "1",
                "--reason",
                "again",
                "--data",
                &second,
            ],
            &[],
        )
        .await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("(field version)"), "{}", out.all());

    // Signatures: the author signs with MODELTRAIL_PASSWORD, QA approves with stdin; a wrong
    // password and signing one's own version as approver are refused.
    let out = dev
        .ok(
            &[
                "sign",
                "model",
                "m-1",
                "--version",
                "2",
                "--meaning",
                "authored",
            ],
            &[("MODELTRAIL_PASSWORD", &password_of("dev"))],
        )
        .await;
    assert!(
        out.stdout.contains("DEV Example (dev), ") && out.stdout.contains(" UTC, authored"),
        "{}",
        out.all()
    );
    let out = dev
        .run(
            &[
                "sign",
                "model",
                "m-1",
                "--version",
                "2",
                "--meaning",
                "approved",
            ],
            &[("MODELTRAIL_PASSWORD", &password_of("dev"))],
        )
        .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("segregation of duties"),
        "{}",
        out.all()
    );
    let out = qa
        .run_with(
            &[
                "sign",
                "model",
                "m-1",
                "--version",
                "2",
                "--meaning",
                "approved",
                "--password-stdin",
            ],
            &[],
            "not-the-password\n",
        )
        .await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("(field password)"), "{}", out.all());
    let out = qa
        .run_with(
            &[
                "sign",
                "model",
                "m-1",
                "--version",
                "2",
                "--meaning",
                "approved",
                "--comment",
                "fit for the intended use",
                "--password-stdin",
            ],
            &[],
            &format!("{}\n", password_of("qa")),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("QA Example (qa), "), "{}", out.all());

    // A third version: the signatures now apply to version 2.
    let mut third = changed.clone();
    third["context_of_use"] = json!("Advisory; pilot site only.");
    let third = write_json(files.path(), "m1-v3.json", &third);
    dev.ok(
        &[
            "record",
            "update",
            "model",
            "m-1",
            "--version",
            "2",
            "--reason",
            "scope narrowed to the pilot",
            "--data",
            &third,
        ],
        &[],
    )
    .await;
    let out = qa.ok(&["record", "get", "model", "m-1"], &[]).await;
    let view = &out.stdout;
    assert!(
        view.starts_with("model m-1: version 3 of 3 (active)"),
        "{view}"
    );
    assert!(
        view.contains("reason:   scope narrowed to the pilot"),
        "{view}"
    );
    assert!(view.contains("signatures (2):"), "{view}");
    let approval = view
        .lines()
        .find(|l| l.contains("QA Example (qa)"))
        .unwrap_or_else(|| panic!("{view}"));
    assert!(approval.contains(" UTC, approved"), "{approval}");
    assert!(
        approval.contains("\"fit for the intended use\""),
        "{approval}"
    );
    assert!(approval.ends_with("(applies to version 2)"), "{approval}");
    assert!(view.contains("\"name\": \"anomaly\""), "{view}");
    let out = qa
        .ok(&["record", "get", "model", "m-1", "--version", "2"], &[])
        .await;
    assert!(out
        .stdout
        .contains("version 2 of 3 (active, not the latest)"));
    assert!(!out.stdout.contains("applies to version"), "{}", out.all());
    let out = qa
        .ok(
            &["record", "get", "model", "m-1", "--version", "1", "--json"],
            &[],
        )
        .await;
    let v1: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v1["data"]["risk"]["model_risk"], "high");

    // History: who, when, why, what changed from what to what, and the signatures.
    let out = qa.ok(&["record", "history", "model", "m-1"], &[]).await;
    let history = &out.stdout;
    assert!(
        history.starts_with("model m-1 (active): 3 versions"),
        "{history}"
    );
    assert!(
        history.contains("by dev (DEV Example), record.update"),
        "{history}"
    );
    assert!(
        history.contains("reason: risk re-assessed after SME review"),
        "{history}"
    );
    assert!(
        history.contains(r#"/risk/model_risk: "high" → "medium""#),
        "{history}"
    );
    assert!(
        history.contains(r#"/context_of_use: "Advisory; QA reviews every flagged batch." → "Advisory; pilot site only.""#),
        "{history}"
    );
    assert!(history.contains("signed: QA Example (qa)"), "{history}");
    let out = qa.ok(&["record", "list", "model"], &[]).await;
    assert!(out.stdout.contains("m-1") && out.stdout.contains("m-2"));

    // Log out: the session file goes, and the session no longer works.
    let out = dev.ok(&["logout"], &[]).await;
    assert!(out.stdout.contains("logged out"), "{}", out.all());
    assert!(!dev.server_dir().join("session.json").exists());
    let out = dev.run(&["record", "get", "model", "m-1"], &[]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not logged in"), "{}", out.all());

    // Neither a login nor a command prints the session token or the password.
    let out = admin
        .ok(
            &["login", "--user", "admin"],
            &[("MODELTRAIL_PASSWORD", ADMIN_PASSWORD)],
        )
        .await;
    let renewed = admin.session_token();
    assert_ne!(renewed, token);
    let listed = admin.ok(&["user", "list", "--json"], &[]).await;
    for out in [out, listed] {
        assert!(!out.all().contains(&renewed), "{}", out.all());
        assert!(!out.all().contains(ADMIN_PASSWORD), "{}", out.all());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_use_api_tokens_until_revoked() {
    let s = Server::start().await;
    let admin = s.admin().await;
    let out = admin
        .ok(
            &[
                "user",
                "add",
                "ci",
                "--name",
                "CI Pipeline",
                "--role",
                "developer",
                "--service",
            ],
            &[],
        )
        .await;
    assert!(!out.stdout.contains("temporary password"), "{}", out.all());
    let out = admin
        .ok(&["user", "token", "ci", "--label", "nightly training"], &[])
        .await;
    let token = after_line(&out.stdout, "shown once");
    assert!(token.starts_with("mtt_"), "{}", out.all());
    let out = admin.ok(&["user", "tokens", "ci"], &[]).await;
    assert!(!out.stdout.contains(&token), "the list never shows a token");
    let token_id = out
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let pipeline = s.cli();
    let files = tempfile::tempdir().unwrap();
    let data = write_json(files.path(), "m.json", &model("from ci"));
    let out = pipeline
        .ok(
            &["record", "create", "model", "--id", "ci-1", "--data", &data],
            &[("MODELTRAIL_TOKEN", &token)],
        )
        .await;
    assert!(out.stdout.contains("created model ci-1"), "{}", out.all());
    // API tokens cannot sign: the server says so.
    let out = pipeline
        .run(
            &[
                "sign",
                "model",
                "ci-1",
                "--version",
                "1",
                "--meaning",
                "authored",
            ],
            &[("MODELTRAIL_TOKEN", &token), ("MODELTRAIL_PASSWORD", "x")],
        )
        .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("API tokens cannot sign"),
        "{}",
        out.all()
    );

    admin
        .ok(&["user", "revoke-token", "ci", &token_id], &[])
        .await;
    let out = pipeline
        .run(
            &["record", "get", "model", "ci-1"],
            &[("MODELTRAIL_TOKEN", &token)],
        )
        .await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not valid"), "{}", out.all());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_moves_only_on_a_proof_that_the_log_grew() {
    let s = Server::start().await;
    let admin = s.admin().await;
    let dev = s.person(&admin, "dev", "developer").await;
    let auditor = s.person(&admin, "aud", "auditor").await;

    // First use: trust the key and the checkpoint as they are.
    let out = auditor.ok(&["checkpoint"], &[]).await;
    assert!(out.stdout.contains("trust on first use"), "{}", out.all());
    let first = auditor.pinned();
    assert!(first.size > 0);

    // The log grows; the new checkpoint is proved consistent and the pin moves.
    let files = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let data = write_json(files.path(), "m.json", &model(&format!("m{i}")));
        dev.ok(
            &[
                "record",
                "create",
                "model",
                "--id",
                &format!("m-{i}"),
                "--data",
                &data,
            ],
            &[],
        )
        .await;
    }
    let out = auditor.ok(&["checkpoint"], &[]).await;
    assert!(
        out.stdout.contains(&format!(
            "consistent with the pinned checkpoint of size {}",
            first.size
        )),
        "{}",
        out.all()
    );
    let second = auditor.pinned();
    assert!(second.size > first.size);
    assert!(out
        .stdout
        .contains(&format!("pin moved to size {}", second.size)));
    let out = auditor.ok(&["checkpoint"], &[]).await;
    assert!(out.stdout.contains("has not grown"), "{}", out.all());

    // Proofs reveal only hashes: a developer, who may not read the events, checks them too.
    let data = write_json(files.path(), "m.json", &model("more"));
    dev.ok(&["record", "create", "model", "--data", &data], &[])
        .await;
    let out = dev.run(&["checkpoint"], &[]).await;
    assert_eq!(out.code, 0, "first use needs no proof: {}", out.all());
    dev.ok(&["record", "create", "model", "--data", &data], &[])
        .await;
    let out = dev.run(&["checkpoint"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("pin moved to size"), "{}", out.all());

    let good_pin = std::fs::read_to_string(auditor.pin_path()).unwrap();
    let pin = auditor.pin();
    let key = pin["public_key"].as_str().unwrap().to_owned();
    let note = pin["checkpoint"].as_str().unwrap().to_owned();
    let refused = |out: &Run, needles: &[&str]| {
        assert_eq!(out.code, 1, "{}", out.all());
        for needle in needles {
            assert!(out.stderr.contains(needle), "{needle:?} in {}", out.all());
        }
        assert!(out.stderr.contains("the pin is unchanged"), "{}", out.all());
    };
    let mut other_root = second.root;
    other_root.0[0] ^= 1;

    // The pinned root edited in the pin file: the pin no longer verifies.
    let edited = note.replace(&second.root.to_base64(), &other_root.to_base64());
    assert_ne!(edited, note);
    auditor.set_pin(&key, &edited);
    let out = auditor.run(&["checkpoint"], &[]).await;
    refused(
        &out,
        &[
            "the pinned checkpoint does not verify with the pinned log key",
            "was altered",
        ],
    );
    assert_eq!(
        auditor.pin()["checkpoint"],
        json!(edited),
        "the pin is left as it was"
    );

    // A checkpoint of the same size but another root, signed by the log's key: a forked log.
    // The consistency proof from it to today's checkpoint fails and says where.
    let signer = modeltrail_store::keys::load_signer(&s.data_dir()).unwrap();
    let forged = |size: u64, root: Hash| {
        Checkpoint {
            origin: second.origin.clone(),
            size,
            root,
            timestamp: second.timestamp,
        }
        .sign(&signer)
        .unwrap()
        .text()
        .to_owned()
    };
    auditor.set_pin(&key, &forged(second.size, other_root));
    let out = auditor.run(&["checkpoint"], &[]).await;
    refused(
        &out,
        &[
            "not consistent with the pinned checkpoint",
            format!("pinned: size {}, root {other_root}", second.size).as_str(),
            format!("not to the expected {other_root}").as_str(),
        ],
    );

    // A pinned checkpoint larger than the log: the log would have shrunk.
    auditor.set_pin(&key, &forged(second.size + 100, other_root));
    let out = auditor.run(&["checkpoint"], &[]).await;
    refused(&out, &["the log is shorter than the pinned checkpoint"]);

    // Another key pinned: the server's key is not it.
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger =
        modeltrail_store::keys::load_or_create_signer(elsewhere.path(), "other.example/log")
            .unwrap();
    let strange = Checkpoint {
        origin: "other.example/log".into(),
        size: 1,
        root: other_root,
        timestamp: second.timestamp,
    }
    .sign(&stranger)
    .unwrap();
    auditor.set_pin(&stranger.verifier().to_text(), strange.text());
    let out = auditor.run(&["checkpoint"], &[]).await;
    refused(
        &out,
        &["the server's log key is not the pinned one", key.as_str()],
    );

    // --reset-pin pins afresh on purpose; the good pin verifies again too.
    let out = auditor.ok(&["checkpoint", "--reset-pin"], &[]).await;
    assert!(out.stdout.contains("pin reset"), "{}", out.all());
    assert_eq!(auditor.pin()["public_key"], json!(key));
    std::fs::write(auditor.pin_path(), good_pin).unwrap();
    auditor.ok(&["checkpoint"], &[]).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_server_is_trusted_with_its_ca_certificate() {
    let s = Server::start_with(|config, dir| {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        config.tls = Some(TlsFiles { cert, key });
    })
    .await;
    assert!(s.base.starts_with("https://"));
    let cli = s.cli();
    // A self-signed certificate is not trusted by default.
    let out = cli.run(&["checkpoint"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("cannot reach the server"),
        "{}",
        out.all()
    );
    let ca = s.dir.path().join("server.crt").display().to_string();
    let trusted = [("MODELTRAIL_CA_CERT", ca.as_str())];
    let out = cli.ok(&["checkpoint"], &trusted).await;
    assert!(out.stdout.contains("trust on first use"), "{}", out.all());
    cli.ok(
        &["login", "--user", "admin", "--ca-cert", &ca],
        &[("MODELTRAIL_PASSWORD", ADMIN_PASSWORD)],
    )
    .await;
    let out = cli.ok(&["checkpoint"], &trusted).await;
    assert!(out.stdout.contains("the log has not grown") || out.stdout.contains("consistent"));
    s.stop().await;
}
