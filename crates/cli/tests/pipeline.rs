//! The commands pipelines run, through the real `modeltrail` binary against a real server on a
//! loopback port: `code record` on git repositories made here (with the `git` program, in the
//! set-up only: the command reads them in-process), and `dataset register` on files made here,
//! checked against SHA-256 computed in the test and the documented canonical manifest form.
//!
//! The server runs on this test's multi-threaded runtime; the binary runs on a blocking thread,
//! so the server keeps answering while a test waits for the command.

use modeltrail_server::{start, Running, ServerConfig};
use modeltrail_store::StoreConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

struct Server {
    running: Option<Running>,
    base: String,
    _dir: TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(StoreConfig {
            data_dir: dir.path().join("data"),
            database_url: None,
        });
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.admin_password = Some(ADMIN_PASSWORD.into());
        let running = start(config).await.unwrap();
        Server {
            base: format!("http://{}", running.addr),
            running: Some(running),
            _dir: dir,
        }
    }

    /// Someone using the CLI with a configuration directory of their own.
    fn cli(&self) -> Cli {
        Cli {
            server: self.base.clone(),
            config: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A pipeline: a developer service account created by the administrator, using its API
    /// token (MODELTRAIL_TOKEN), as CI jobs do.
    async fn pipeline(&self) -> Cli {
        let admin = self.cli();
        admin
            .ok(
                &["login", "--user", "admin"],
                &[("MODELTRAIL_PASSWORD", ADMIN_PASSWORD)],
            )
            .await;
        admin
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
        let out = admin
            .ok(&["user", "token", "ci", "--label", "training"], &[])
            .await;
        let token = out
            .stdout
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("mtt_"))
            .unwrap_or_else(|| panic!("no token in {}", out.all()))
            .to_owned();
        let mut pipeline = self.cli();
        pipeline.env.push(("MODELTRAIL_TOKEN".into(), token));
        pipeline
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

struct Cli {
    server: String,
    config: TempDir,
    env: Vec<(String, String)>,
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

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.all()))
    }
}

impl Cli {
    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modeltrail"));
        command.args(args);
        for name in [
            "MODELTRAIL_TOKEN",
            "MODELTRAIL_PASSWORD",
            "MODELTRAIL_DATA_DIR",
            "MODELTRAIL_DATABASE_URL",
        ] {
            command.env_remove(name);
        }
        command
            .env("MODELTRAIL_CONFIG_DIR", self.config.path())
            .env("MODELTRAIL_SERVER", &self.server)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = format!("{args:?}");
        tokio::task::spawn_blocking(move || run_with_deadline(command, &name))
            .await
            .unwrap()
    }

    /// Runs and asserts exit 0.
    async fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.run(args, env).await;
        assert_eq!(out.code, 0, "{args:?}: {}", out.all());
        out
    }

    /// Runs and asserts exit 2 (cannot run) with an error message.
    async fn fails(&self, args: &[&str]) -> Run {
        let out = self.run(args, &[]).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert!(
            out.stderr.lines().any(|l| l.starts_with("error: ")),
            "{}",
            out.all()
        );
        out
    }
}

/// How long one command may take before the test fails (a hang is a failure, not a wait).
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// Runs `command` to its end, reading its output as it comes; kills it and fails the test when
/// it outlives `COMMAND_DEADLINE`.
fn run_with_deadline(mut command: Command, name: &str) -> Run {
    let mut child = command.spawn().expect("modeltrail runs");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut text).expect("read the output");
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for modeltrail") {
            break status;
        }
        if started.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} still ran after {COMMAND_DEADLINE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs the `git` program in `repo` (test set-up only), isolated from any user or system
/// configuration, with a fixed author, committer and date; its standard output.
fn git(repo: &Path, args: &[&str], date: &str) -> String {
    let output = Command::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", repo)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_NAME", "Build Bot")
        .env("GIT_COMMITTER_EMAIL", "bot@example.com")
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("the git program runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// A repository on `main` with two commits: the second changes `train.py`, adds `model/net.py`
/// and removes `data/old.txt`, and is tagged `v1.0`. Its origin URL carries a token.
fn two_commit_repository() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"], "2024-06-01T08:00:00Z");
    write(&repo.join("train.py"), b"print('train')\n");
    write(&repo.join("data/old.txt"), b"old\n");
    write(&repo.join("README.md"), b"# batch anomaly\n");
    git(repo, &["add", "-A"], "2024-06-01T08:00:00Z");
    git(
        repo,
        &["commit", "-q", "-m", "First model"],
        "2024-06-01T08:00:00+02:00",
    );
    write(&repo.join("train.py"), b"print('train with 300 trees')\n");
    write(&repo.join("model/net.py"), b"TREES = 300\n");
    std::fs::remove_file(repo.join("data/old.txt")).unwrap();
    git(repo, &["add", "-A"], "2024-06-03T11:15:00+02:00");
    git(
        repo,
        &[
            "commit",
            "-q",
            "-m",
            "Use 300 trees\n\nThe isolation forest was unstable with 100.",
        ],
        "2024-06-03T11:15:00+02:00",
    );
    git(
        repo,
        &["tag", "-a", "v1.0", "-m", "release 1.0"],
        "2024-06-03T11:20:00+02:00",
    );
    git(
        repo,
        &[
            "remote",
            "add",
            "origin",
            "https://x-access-token:ghs_secret@git.example.com/ml/batch-anomaly.git",
        ],
        "2024-06-03T11:20:00+02:00",
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_record_reads_the_checkout_and_records_a_code_version() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let checkout = two_commit_repository();
    let repo = checkout.path();
    let repo_arg = repo.to_str().unwrap();
    let head = git(repo, &["rev-parse", "HEAD"], "2024-06-03T11:20:00Z");
    assert_eq!(head.len(), 40);

    let out = pipeline
        .ok(&["code", "record", repo_arg, "--json"], &[])
        .await;
    let answer = out.json();
    assert_eq!(answer["id"], format!("git-{}", &head[..12]));
    assert_eq!(answer["version"], 1);
    let data = &answer["data"];
    assert_eq!(
        data["repository"], "https://git.example.com/ml/batch-anomaly.git",
        "the token in the origin URL is never recorded"
    );
    assert!(!out.all().contains("ghs_secret"));
    assert_eq!(data["commit"], head.as_str());
    assert_eq!(data["branch"], "main");
    assert_eq!(data["tag"], "v1.0");
    assert_eq!(data["author"], "Ada Lovelace <ada@example.com>");
    assert_eq!(data["committed_at"], "2024-06-03T09:15:00Z");
    assert_eq!(data["change_summary"], "Use 300 trees");
    assert_eq!(
        data["message"],
        "Use 300 trees\n\nThe isolation forest was unstable with 100."
    );
    assert_eq!(
        strings(&data["changed_paths"]),
        ["data/old.txt", "model/net.py", "train.py"]
    );
    assert_eq!(data["dirty"], false);

    // A change to a tracked file makes the checkout dirty; the human view shows the record.
    write(
        &repo.join("train.py"),
        b"print('an experiment not committed')\n",
    );
    let out = pipeline
        .ok(
            &[
                "code",
                "record",
                repo_arg,
                "--id",
                "dirty-run",
                "--change-summary",
                "Experiment on top of v1.0",
            ],
            &[],
        )
        .await;
    assert!(
        out.stdout.contains("code_version dirty-run: version 1"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("\"dirty\": true"), "{}", out.all());
    assert!(
        out.stdout
            .contains("\"change_summary\": \"Experiment on top of v1.0\""),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.all());

    // Undoing the change makes it clean again; an untracked file does not count.
    git(
        repo,
        &["checkout", "--", "train.py"],
        "2024-06-03T11:20:00Z",
    );
    write(&repo.join("notes.txt"), b"scratch\n");
    let out = pipeline
        .ok(
            &["code", "record", repo_arg, "--id", "clean-again", "--json"],
            &[],
        )
        .await;
    assert_eq!(out.json()["data"]["dirty"], false, "{}", out.all());

    // A detached first commit: no branch, no tag, every path changed; from a subdirectory.
    git(
        repo,
        &["checkout", "-q", "--detach", "HEAD~1"],
        "2024-06-03T11:20:00Z",
    );
    let first = git(repo, &["rev-parse", "HEAD"], "2024-06-03T11:20:00Z");
    let subdirectory = repo.join("data");
    let out = pipeline
        .ok(
            &[
                "code",
                "record",
                subdirectory.to_str().unwrap(),
                "--id",
                "first",
                "--json",
            ],
            &[],
        )
        .await;
    let data = &out.json()["data"];
    assert_eq!(data["commit"], first.as_str());
    assert_eq!(data.get("branch"), None, "{data}");
    assert_eq!(data.get("tag"), None, "{data}");
    assert_eq!(data["committed_at"], "2024-06-01T06:00:00Z");
    assert_eq!(
        strings(&data["changed_paths"]),
        ["README.md", "data/old.txt", "train.py"]
    );
    assert_eq!(data["dirty"], false);

    // The same commit again under the default id is refused by the server: ids are unique.
    git(repo, &["checkout", "-q", "main"], "2024-06-03T11:20:00Z");
    let out = pipeline.fails(&["code", "record", repo_arg]).await;
    assert!(out.stderr.contains("already exists"), "{}", out.all());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_record_names_a_path_that_is_not_a_repository() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let plain = tempfile::tempdir().unwrap();
    let plain_arg = plain.path().to_str().unwrap();
    let out = pipeline.fails(&["code", "record", plain_arg]).await;
    assert!(
        out.stderr
            .contains(&format!("{plain_arg} is not a git repository")),
        "{}",
        out.all()
    );

    let missing = plain.path().join("no-such-checkout");
    let out = pipeline
        .fails(&["code", "record", missing.to_str().unwrap()])
        .await;
    assert!(out.stderr.contains("does not exist"), "{}", out.all());

    let empty = tempfile::tempdir().unwrap();
    git(empty.path(), &["init", "-q"], "2024-06-01T08:00:00Z");
    let out = pipeline
        .fails(&["code", "record", empty.path().to_str().unwrap()])
        .await;
    assert!(out.stderr.contains("has no commits"), "{}", out.all());
    assert!(
        out.stderr.contains(empty.path().to_str().unwrap()),
        "{}",
        out.all()
    );

    // Nothing was recorded.
    let out = pipeline
        .ok(&["record", "list", "code_version", "--json"], &[])
        .await;
    assert_eq!(
        out.json()["records"],
        serde_json::json!([]),
        "{}",
        out.all()
    );
    s.stop().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The documented canonical form: `<sha256>  <path>\n` per file, sorted by path, hashed.
fn canonical_digest(files: &[(&str, &[u8])]) -> String {
    let mut sorted: Vec<_> = files.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let text: String = sorted
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", sha256_hex(bytes)))
        .collect();
    sha256_hex(text.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_register_hashes_every_file_into_the_manifest_and_content_digest() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tablets");
    // Larger than the read buffer, so a file is hashed in several reads.
    let large: Vec<u8> = (0..(5u32 << 19) + 7)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let files: [(&str, &[u8]); 3] = [
        ("train.csv", b"batch,hardness\n1,7.5\n2,7.1\n"),
        ("holdout/test.csv", b"batch,hardness\n3,6.9\n"),
        ("B-upper.csv", &large),
    ];
    for (path, bytes) in files {
        write(&root.join(path), bytes);
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("train.csv"), root.join("linked.csv")).unwrap();

    let root_arg = root.to_str().unwrap();
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                root_arg,
                "--name",
                "tablet-hardness",
                "--version",
                "2024-06",
                "--source",
                "MES batch records, site Basel",
                "--id",
                "ds-2024-06",
                "--json",
            ],
            &[],
        )
        .await;
    let answer = out.json();
    assert_eq!(answer["id"], "ds-2024-06");
    let data = &answer["data"];
    assert_eq!(data["name"], "tablet-hardness");
    assert_eq!(data["version"], "2024-06");
    assert_eq!(data["source"], "MES batch records, site Basel");
    assert_eq!(data["format"], "csv");
    let manifest = data["manifest"].as_array().unwrap();
    let listed: Vec<&str> = manifest
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["B-upper.csv", "holdout/test.csv", "train.csv"],
        "sorted by path in byte order; the symlink is not followed"
    );
    for entry in manifest {
        let path = entry["path"].as_str().unwrap();
        let (_, bytes) = files.iter().find(|(p, _)| *p == path).unwrap();
        assert_eq!(entry["sha256"], sha256_hex(bytes), "{path}");
        assert_eq!(entry["size_bytes"], bytes.len(), "{path}");
    }
    assert_eq!(data["content_digest"], canonical_digest(&files));

    // The documented shell check gives the same digest.
    #[cfg(unix)]
    {
        let shell = Command::new("sh")
            .arg("-c")
            .arg(
                "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum \
                 | sha256sum",
            )
            .current_dir(&root)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&shell.stdout);
        assert_eq!(
            printed.split_whitespace().next(),
            data["content_digest"].as_str(),
            "{printed}"
        );
    }

    // Several arguments: paths are relative to their common root; formats differ.
    write(&root.join("notes/readme.txt"), b"collected 2024-06\n");
    let test_csv = root.join("holdout/test.csv");
    let notes = root.join("notes");
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                test_csv.to_str().unwrap(),
                notes.to_str().unwrap(),
                "--name",
                "tablet-hardness",
                "--version",
                "2024-06-test",
                "--source",
                "MES",
            ],
            &[],
        )
        .await;
    assert!(
        out.stdout.contains("\"path\": \"holdout/test.csv\""),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("\"path\": \"notes/readme.txt\""),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("\"format\": \"mixed\""),
        "{}",
        out.all()
    );
    let expected = canonical_digest(&[
        ("holdout/test.csv", files[1].1),
        ("notes/readme.txt", b"collected 2024-06\n"),
    ]);
    assert!(out.stdout.contains(&expected), "{}", out.all());

    // Many small files, empty ones among them: far more files than buffers in flight.
    let many_dir = dir.path().join("many");
    let many: Vec<(String, Vec<u8>)> = (0..40u8)
        .map(|i| {
            (
                format!("part-{i:02}.csv"),
                vec![b'a' + i % 26; usize::from(i)],
            )
        })
        .collect();
    for (path, bytes) in &many {
        write(&many_dir.join(path), bytes);
    }
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                many_dir.to_str().unwrap(),
                "--name",
                "parts",
                "--version",
                "1",
                "--source",
                "MES",
                "--json",
            ],
            &[],
        )
        .await;
    let data = &out.json()["data"];
    let manifest = data["manifest"].as_array().unwrap();
    assert_eq!(manifest.len(), many.len());
    for (entry, (path, bytes)) in manifest.iter().zip(&many) {
        assert_eq!(entry["path"], path.as_str());
        assert_eq!(entry["sha256"], sha256_hex(bytes), "{path}");
        assert_eq!(entry["size_bytes"], bytes.len(), "{path}");
    }
    let pairs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    assert_eq!(data["content_digest"], canonical_digest(&pairs));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_register_names_a_missing_path_and_records_nothing() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("present.csv"), b"a\n1\n");
    let missing = dir.path().join("absent.csv");
    let out = pipeline
        .fails(&[
            "dataset",
            "register",
            dir.path().join("present.csv").to_str().unwrap(),
            missing.to_str().unwrap(),
            "--name",
            "n",
            "--version",
            "1",
            "--source",
            "s",
        ])
        .await;
    assert!(
        out.stderr
            .contains(&format!("{}: no such file or directory", missing.display())),
        "{}",
        out.all()
    );

    let empty = tempfile::tempdir().unwrap();
    let out = pipeline
        .fails(&[
            "dataset",
            "register",
            empty.path().to_str().unwrap(),
            "--name",
            "n",
            "--version",
            "1",
            "--source",
            "s",
        ])
        .await;
    assert!(out.stderr.contains("no files"), "{}", out.all());

    let out = pipeline
        .ok(&["record", "list", "dataset_version", "--json"], &[])
        .await;
    assert_eq!(
        out.json()["records"],
        serde_json::json!([]),
        "{}",
        out.all()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_register_with_upload_has_the_server_profile_the_data() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = b"batch,hardness,site\n1,7.5,A\n2,,B\n3,8.25,A\n3,8.25,A\n";
    write(&dir.path().join("train.csv"), csv);
    write(&dir.path().join("README.txt"), b"not data\n");
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                dir.path().to_str().unwrap(),
                "--name",
                "tablets",
                "--version",
                "2024-06",
                "--source",
                "MES",
                "--id",
                "ds-tablets",
                "--upload",
                "--json",
            ],
            &[],
        )
        .await;
    let answer = out.json();
    assert_eq!(answer["created"]["id"], "ds-tablets", "{}", out.all());
    let uploads = answer["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1, "only the CSV is uploaded: {}", out.all());
    assert_eq!(uploads[0]["path"], "train.csv");
    let profile = &uploads[0]["answer"]["data"]["profile"];
    assert_eq!(profile["rows"], 4, "{}", out.all());
    assert_eq!(profile["duplicate_rows"], 1, "{}", out.all());
    assert_eq!(
        profile["source"],
        json!([{"path": "train.csv", "sha256": sha256_hex(csv), "bytes": csv.len()}]),
        "{}",
        out.all()
    );

    // The server's copy is the record's latest version.
    let out = pipeline
        .ok(
            &["record", "get", "dataset_version", "ds-tablets", "--json"],
            &[],
        )
        .await;
    let shown = out.json();
    assert_eq!(shown["version"], 2, "{}", out.all());
    assert_eq!(shown["data"]["profile"]["rows"], 4, "{}", out.all());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_register_with_upload_of_two_parts_has_the_combined_profile() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("tablets");
    std::fs::create_dir(&parts).unwrap();
    let first = b"batch,hardness,site\n1,7.5,A\n2,,B\n".as_slice();
    let second = b"batch,hardness,site\n3,8.25,A\n1,7.5,A\n4,9,C\n".as_slice();
    write(&parts.join("part-000.csv"), first);
    write(&parts.join("part-001.csv"), second);
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                parts.to_str().unwrap(),
                "--name",
                "tablets",
                "--version",
                "2024-07",
                "--source",
                "MES",
                "--id",
                "ds-parts",
                "--upload",
                "--json",
            ],
            &[],
        )
        .await;
    let answer = out.json();
    let uploads = answer["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2, "both parts are uploaded: {}", out.all());
    assert_eq!(uploads[0]["answer"]["data"]["profile"]["rows"], 2);
    let profile = &uploads[1]["answer"]["data"]["profile"];
    assert_eq!(uploads[1]["answer"]["version"], 3, "{}", out.all());
    assert_eq!(profile["rows"], 5, "{}", out.all());
    assert_eq!(profile["duplicate_rows"], 1, "a row repeated across parts");
    let hardness = &profile["columns"][1];
    assert_eq!(hardness["missing"], 1, "{hardness}");
    assert_eq!(hardness["numeric"]["max"], 9.0, "{hardness}");
    assert_eq!(hardness["numeric"]["p50"], 7.875, "{hardness}");
    assert_eq!(
        profile["source"],
        json!([
            {"path": "part-000.csv", "sha256": sha256_hex(first), "bytes": first.len()},
            {"path": "part-001.csv", "sha256": sha256_hex(second), "bytes": second.len()}
        ]),
        "{}",
        out.all()
    );

    let out = pipeline
        .ok(
            &["record", "get", "dataset_version", "ds-parts", "--json"],
            &[],
        )
        .await;
    assert_eq!(out.json()["data"]["profile"]["rows"], 5, "{}", out.all());

    // Without --json each upload says what the profile now covers.
    let out = pipeline
        .ok(
            &[
                "dataset",
                "register",
                parts.to_str().unwrap(),
                "--name",
                "tablets",
                "--version",
                "2024-08",
                "--source",
                "MES",
                "--id",
                "ds-parts-again",
                "--upload",
            ],
            &[],
        )
        .await;
    let text = out.all();
    assert!(text.contains("profile: 2 rows from 1 file"), "{text}");
    assert!(text.contains("profile: 5 rows from 2 files"), "{text}");
    s.stop().await;
}

/// A CSV of labels, predictions and two sensitive attributes: 40 rows where site B is selected
/// far less often than site A.
fn fairness_csv() -> Vec<u8> {
    let mut text = String::from("id,y_true,y_pred,site,sex\n");
    for i in 0..40usize {
        let site = if i < 20 { "A" } else { "B" };
        let sex = if i % 2 == 0 { "F" } else { "M" };
        let label = u8::from(i % 3 != 0);
        let prediction = match site {
            "A" => u8::from(i % 4 != 0),
            _ => u8::from(i % 4 == 0),
        };
        text.push_str(&format!("r{i},{label},{prediction},{site},{sex}\n"));
    }
    text.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fairness_assess_sends_the_file_and_shows_the_server_verdicts() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let dir = tempfile::tempdir().unwrap();
    let model = json!({"name": "tablet-anomaly", "owner": "ci",
        "intended_use": "Flags anomalous tablet batches for QA review.",
        "context_of_use": "Advisory.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low"}});
    let version = json!({"model": "m1", "version": "1",
        "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]});
    write(&dir.path().join("model.json"), model.to_string().as_bytes());
    write(
        &dir.path().join("version.json"),
        version.to_string().as_bytes(),
    );
    let model_path = dir.path().join("model.json");
    let version_path = dir.path().join("version.json");
    for (kind, id, path) in [
        ("model", "m1", &model_path),
        ("model_version", "mv1", &version_path),
    ] {
        pipeline
            .ok(
                &[
                    "record",
                    "create",
                    kind,
                    "--id",
                    id,
                    "--data",
                    path.to_str().unwrap(),
                ],
                &[],
            )
            .await;
    }
    let csv = fairness_csv();
    let csv_path = dir.path().join("holdout-predictions.csv");
    write(&csv_path, &csv);
    let assessment = |threshold: f64| {
        json!({"model_version": "mv1", "sensitive_attributes": ["site", "sex"],
               "positive_label": 1,
               "criteria": [{"criterion":
                   format!("demographic_parity_difference[attribute=site] <= {threshold}")}]})
    };
    let strict = dir.path().join("strict.json");
    let lenient = dir.path().join("lenient.json");
    write(&strict, assessment(0.1).to_string().as_bytes());
    write(&lenient, assessment(0.9).to_string().as_bytes());
    let args = |id: &'static str, data: &std::path::Path| -> Vec<String> {
        [
            "fairness",
            "assess",
            csv_path.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--labels",
            "y_true",
            "--predictions",
            "y_pred",
            "--sensitive",
            "site",
            "--sensitive",
            "sex",
            "--id",
            id,
            "--reason",
            "bias test on the holdout",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };

    // Site A is selected at 0.75, site B at 0.25: a difference of 0.5 fails `<= 0.1`.
    let failing = args("fa-strict", &strict);
    let failing: Vec<&str> = failing.iter().map(String::as_str).collect();
    let out = pipeline.run(&failing, &[]).await;
    assert_eq!(out.code, 1, "a failed criterion exits 1: {}", out.all());
    assert!(out.stdout.contains("rows:     40"), "{}", out.all());
    assert!(
        out.stdout
            .contains("FAIL:     demographic_parity_difference[attribute=site] <= 0.1"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("verdict:  FAILED"), "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "holdout-predictions.csv (sha256 {})",
            sha256_hex(&csv)
        )),
        "{}",
        out.all()
    );

    let mut passing = args("fa-lenient", &lenient);
    passing.push("--json".into());
    let passing: Vec<&str> = passing.iter().map(String::as_str).collect();
    let answer = pipeline.ok(&passing, &[]).await.json();
    assert_eq!(answer["data"]["passed"], true, "{answer}");
    assert_eq!(answer["data"]["rows"], 40);
    let site = answer["data"]["disparities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["attribute"] == "site")
        .unwrap_or_else(|| panic!("no disparities for site: {answer}"));
    assert_eq!(site["demographic_parity_difference"], 0.5, "{answer}");
    assert_eq!(answer["data"]["data"]["source"]["sha256"], sha256_hex(&csv));

    // A column that is not in the file: the server's refusal names it, and exit 2.
    let mut wrong = args("fa-wrong", &lenient);
    wrong[6] = "label".into();
    let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();
    let out = pipeline.fails(&wrong).await;
    assert!(out.stderr.contains("label"), "{}", out.all());
    let out = pipeline
        .run(&["record", "get", "fairness_assessment", "fa-wrong"], &[])
        .await;
    assert_ne!(out.code, 0, "nothing recorded: {}", out.all());
    s.stop().await;
}

/// A call to the server's API in a test's set-up; panics unless it succeeds.
async fn api(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    path: &str,
    body: Value,
) -> Value {
    let mut request = http.post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// The arguments as the test runner takes them.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A person who has changed their first password; their token.
async fn person(http: &reqwest::Client, base: &str, admin: &str, id: &str, role: &str) -> String {
    let first = format!("{id}-first-password");
    api(
        http,
        base,
        Some(admin),
        "/api/v1/users",
        json!({"id": id, "name": format!("{id} Example"), "role": role, "password": first}),
    )
    .await;
    let token = api(
        http,
        base,
        None,
        "/api/v1/auth/login",
        json!({"username": id, "password": first}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    api(
        http,
        base,
        Some(&token),
        "/api/v1/auth/password",
        json!({"current_password": first, "new_password": format!("{id}-second-password")}),
    )
    .await;
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_upload_sends_a_window_and_exits_1_on_a_breach() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let http = reqwest::Client::new();
    let base = s.base.clone();
    let admin = api(
        &http,
        &base,
        None,
        "/api/v1/auth/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = person(&http, &base, &admin, "dev", "developer").await;
    let qa = person(&http, &base, &admin, "qa", "qa").await;
    let mut reference = String::from("age,site\n");
    for i in 0..400u64 {
        reference.push_str(&format!(
            "{},{}\n",
            20 + (i * 7) % 60,
            ["A", "B"][(i % 2) as usize]
        ));
    }
    let csv = reference.into_bytes();
    let canonical = format!("{}  reference.csv\n", sha256_hex(&csv));
    for (kind, id, data) in [
        (
            "model",
            "m1",
            json!({"name": "m", "owner": "dev", "intended_use": "Flags batches.",
            "context_of_use": "Advisory.", "gamp_category": 5,
            "risk": {"model_influence": "low", "decision_consequence": "low"}}),
        ),
        (
            "model_version",
            "mv1",
            json!({"model": "m1", "version": "1",
            "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]}),
        ),
        (
            "dataset_version",
            "ref",
            json!({"name": "reference", "version": "1", "source": "MES",
            "content_digest": sha256_hex(canonical.as_bytes()),
            "manifest": [{"path": "reference.csv", "sha256": sha256_hex(&csv),
                          "size_bytes": csv.len()}]}),
        ),
    ] {
        api(
            &http,
            &base,
            Some(&dev),
            &format!("/api/v1/records/{kind}"),
            json!({"id": id, "data": data}),
        )
        .await;
    }
    let response = http
        .post(format!(
            "{base}/api/v1/dataset-versions/ref/data?path=reference.csv"
        ))
        .bearer_auth(&dev)
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    // The plan from a file; a second run records version 2; QA approves it.
    let dir = tempfile::tempdir().unwrap();
    let mut plan = json!({"model_version": "mv1", "reference_dataset": "ref",
        "features": [{"name": "age", "type": "numerical"},
                     {"name": "site", "type": "categorical"}],
        "action_plan": "QA investigates."});
    let plan_file = dir.path().join("plan.json");
    write(&plan_file, plan.to_string().as_bytes());
    let plan_args = [
        "monitor",
        "plan",
        "--id",
        "mp1",
        plan_file.to_str().unwrap(),
    ];
    let out = pipeline.ok(&plan_args, &[]).await;
    assert!(
        out.stdout.contains("monitoring plan mp1 version 1"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("approved: NO"), "{}", out.all());
    plan["performance_metrics"] = json!([{"metric": "accuracy", "op": ">=", "threshold": 0.8}]);
    write(&plan_file, plan.to_string().as_bytes());
    let out = pipeline.fails(&plan_args).await;
    assert!(out.stderr.contains("needs --reason"), "{}", out.all());
    let mut with_reason = plan_args.to_vec();
    with_reason.extend(["--reason", "accuracy is watched too"]);
    let out = pipeline.ok(&with_reason, &[]).await;
    assert!(
        out.stdout.contains("monitoring plan mp1 version 2"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("metric  accuracy >= 0.8"),
        "{}",
        out.all()
    );
    api(
        &http,
        &base,
        Some(&qa),
        "/api/v1/records/monitoring_plan/mp1/versions/2/signatures",
        json!({"meaning": "approved", "username": "qa", "password": "qa-second-password"}),
    )
    .await;
    let out = pipeline.ok(&["monitor", "plan", "--id", "mp1"], &[]).await;
    assert!(out.stdout.contains("approved: "), "{}", out.all());
    assert!(!out.stdout.contains("approved: NO"), "{}", out.all());
    assert!(out.stdout.contains("feature site"), "{}", out.all());
    let out = pipeline.fails(&["monitor", "plan", "--id", "nope"]).await;
    assert!(
        out.stderr.contains("no monitoring_plan record `nope`"),
        "{}",
        out.all()
    );

    let window = |shift: u64, name: &str| {
        let mut text = String::from("request,age,site,y_pred,y_true\n");
        for i in 0..200u64 {
            text.push_str(&format!(
                "r{i},{},{},{},{}\n",
                20 + (i * 11) % 60 + shift,
                ["A", "B"][(i % 2) as usize],
                i % 2,
                i % 2
            ));
        }
        let path = dir.path().join(name);
        write(&path, text.as_bytes());
        path
    };
    let quiet = window(0, "week-44.csv");
    let drifted = window(35, "week-45.csv");
    let args = |path: &std::path::Path, id: &'static str| -> Vec<String> {
        [
            "monitor",
            "upload",
            path.to_str().unwrap(),
            "--plan",
            "mp1",
            "--start",
            "2026-11-01T00:00:00Z",
            "--end",
            "2026-11-08T00:00:00Z",
            "--predictions",
            "y_pred",
            "--labels",
            "y_true",
            "--id",
            id,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let out = pipeline.ok(&strs(&args(&quiet, "b1")), &[]).await;
    assert!(out.stdout.contains("verdict:  no breach"), "{}", out.all());
    assert!(
        out.stdout.contains("metric:   accuracy = 1.0"),
        "{}",
        out.all()
    );

    let out = pipeline.run(&strs(&args(&drifted, "b2")), &[]).await;
    assert_eq!(out.code, 1, "a breach exits 1: {}", out.all());
    assert!(out.stdout.contains("DRIFTED"), "{}", out.all());
    assert!(out.stdout.contains("BREACH:   data drift"), "{}", out.all());
    assert!(out.stdout.contains("raised:   exception "), "{}", out.all());

    let out = pipeline.ok(&["monitor", "status", "mv1"], &[]).await;
    assert!(
        out.stdout
            .contains("model_version mv1: revalidation_required"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("missing: an approved change_request"),
        "{}",
        out.all()
    );

    // The exception the breach raised, on the command line's board.
    let out = pipeline
        .ok(&["exception", "list", "--state", "open"], &[])
        .await;
    let exception = out
        .stdout
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no open exception: {}", out.all()))
        .to_owned();
    let out = pipeline.ok(&["exception", "show", &exception], &[]).await;
    assert!(
        out.stdout.contains(&format!("exception {exception}: open")),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("next: investigating (ready)"),
        "{}",
        out.all()
    );
    let out = pipeline
        .ok(
            &[
                "exception",
                "transition",
                &exception,
                "--to",
                "investigating",
                "--version",
                "1",
                "--reason",
                "QA starts the investigation",
            ],
            &[],
        )
        .await;
    assert!(out.stdout.contains("is now investigating"), "{}", out.all());
    let out = pipeline
        .fails(&[
            "exception",
            "transition",
            &exception,
            "--to",
            "closed",
            "--version",
            "1",
            "--reason",
            "too early",
        ])
        .await;
    assert!(
        out.stderr.contains("capa_planned"),
        "the legal steps are named: {}",
        out.all()
    );
    let out = pipeline
        .ok(&["change", "list", "--state", "draft"], &[])
        .await;
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.all());

    // A plan that does not exist: the server's refusal, exit 2, nothing recorded.
    let mut bad = args(&quiet, "b3");
    bad[4] = "mp9".into();
    let out = pipeline.fails(&strs(&bad)).await;
    assert!(out.stderr.contains("mp9"), "{}", out.all());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_queue_and_a_signed_review_from_the_command_line() {
    let s = Server::start().await;
    let pipeline = s.pipeline().await;
    let http = reqwest::Client::new();
    let base = s.base.clone();
    let admin = api(
        &http,
        &base,
        None,
        "/api/v1/auth/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = person(&http, &base, &admin, "dev", "developer").await;
    person(&http, &base, &admin, "qa", "qa").await;
    api(
        &http,
        &base,
        Some(&dev),
        "/api/v1/records/model",
        json!({"id": "m1", "data": {
        "name": "m", "owner": "dev", "intended_use": "Flags batches.",
        "context_of_use": "Advisory.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low"}}}),
    )
    .await;
    api(
        &http,
        &base,
        Some(&dev),
        "/api/v1/records/model_version",
        json!({"id": "mv1",
        "data": {"model": "m1", "version": "1",
                 "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]}}),
    )
    .await;
    api(
        &http,
        &base,
        Some(&dev),
        "/api/v1/model-versions/mv1/deployments",
        json!({"environment": "test", "target": "bench-1",
               "decisions": {"confidence_threshold": 0.8}}),
    )
    .await;
    // The pipeline's service account serves the model: three decisions, two below 0.8.
    let token = pipeline
        .env
        .iter()
        .find(|(k, _)| k == "MODELTRAIL_TOKEN")
        .map(|(_, v)| v.clone())
        .unwrap();
    let mut body = String::new();
    for (id, confidence) in [("c-1", 0.95), ("c-2", 0.42), ("c-3", 0.61)] {
        body.push_str(
            &json!({"request_id": id, "model_version": "mv1", "environment": "test",
                    "predicted_at": "2026-12-04T08:30:00Z", "input": {"x": confidence},
                    "output": {"label": "pass"}, "confidence": confidence})
            .to_string(),
        );
        body.push('\n');
    }
    let response = http
        .post(format!("{base}/api/v1/decisions:batch"))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        response.text().await.unwrap()
    );

    let qa = s.cli();
    qa.ok(
        &["login", "--user", "qa"],
        &[("MODELTRAIL_PASSWORD", "qa-second-password")],
    )
    .await;
    let out = qa.ok(&["decision", "queue"], &[]).await;
    assert!(
        out.stdout.contains("c-2") && out.stdout.contains("c-3"),
        "{}",
        out.all()
    );
    assert!(!out.stdout.contains("c-1"), "{}", out.all());
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output.json");
    std::fs::write(&output, br#"{"label": "reject"}"#).unwrap();
    let out = qa
        .ok(
            &[
                "decision",
                "review",
                "c-2",
                "--verdict",
                "override",
                "--reason",
                "Hardness re-tested out of range.",
                "--output",
                output.to_str().unwrap(),
            ],
            &[("MODELTRAIL_PASSWORD", "qa-second-password")],
        )
        .await;
    assert!(out.stdout.contains("decision c-2"), "{}", out.all());
    assert!(
        out.stdout.contains("overridden by qa Example (qa)"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("meaning reviewed"), "{}", out.all());
    // A wrong password signs nothing; a second review of the same decision is refused.
    let out = qa
        .run(
            &[
                "decision",
                "review",
                "c-3",
                "--verdict",
                "accept",
                "--reason",
                "ok",
            ],
            &[("MODELTRAIL_PASSWORD", "not-the-password")],
        )
        .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("password"), "{}", out.all());
    let out = qa
        .run(
            &[
                "decision",
                "review",
                "c-2",
                "--verdict",
                "accept",
                "--reason",
                "again",
            ],
            &[("MODELTRAIL_PASSWORD", "qa-second-password")],
        )
        .await;
    assert_eq!(out.code, 2, "{}", out.all());
    let out = qa.ok(&["decision", "queue"], &[]).await;
    assert!(
        out.stdout.contains("c-3") && !out.stdout.contains("c-2"),
        "{}",
        out.all()
    );
    let out = qa.ok(&["decision", "show", "c-2", "--json"], &[]).await;
    let shown = out.json();
    assert_eq!(shown["state"], "overridden");
    assert_eq!(shown["review"]["output"]["label"], "reject");
    let out = qa.ok(&["decision", "stats", "mv1"], &[]).await;
    assert!(out.stdout.contains("mv1: 3 decisions"), "{}", out.all());
    assert!(out.stdout.contains("2026-12-04"), "{}", out.all());
    assert!(out.stdout.contains("override rate: 1.0"), "{}", out.all());
    s.stop().await;
}
