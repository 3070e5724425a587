//! Crash safety. `modeltrail append --stream` is killed with SIGKILL at random moments while
//! appending with many events in flight; so is the real server (`modeltrail serve`) on SQLite and
//! on PostgreSQL under a concurrent HTTP load of record creates, electronic signatures and MLflow
//! calls. After every kill, each write the program acknowledged is in the log at the same
//! sequence number with the same bytes, the whole log verifies, and the server serves again.
//! Also: the data directory's disk filling up, and PostgreSQL restarted under load, give clean
//! errors and lose or damage nothing.
//!
//! `CRASH_KILLS` (default 10) sets the server kills per backend, `CRASH_SEED` the random
//! moments (printed, so a failing run can be repeated).

mod common;
mod live;

use common::{event_line, modeltrail, run, text};
use rand::Rng;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

const KILLS: usize = 25;
/// Events offered every 5 ms: at most about 10,000 a second, so each round stays small.
const BURST: u64 = 50;

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let out = run(&["init", "--data-dir", &d], "");
    assert!(out.status.success(), "{}", text(&out));
    let mut rng = rand::thread_rng();
    let mut acknowledged: Vec<(u64, String)> = Vec::new();
    let mut next_event = 0u64;
    let mut killed_running = 0;
    for round in 0..KILLS {
        let mut child = modeltrail()
            .args(["append", "--stream", "--data-dir", &d])
            .env_remove("MODELTRAIL_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let first = next_event;
        // Feeds events at a steady pace until the pipe breaks when the child dies, so the child
        // is always busy when it is killed and each round adds a bounded number of events.
        let writer = std::thread::spawn(move || {
            for burst in 0.. {
                for i in 0..BURST {
                    if writeln!(stdin, "{}", event_line(first + burst * BURST + i)).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..300)));
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer.join().unwrap();
        let said = reader.join().unwrap();
        next_event += 1_000_000;
        let before = acknowledged.len();
        for line in said {
            // A line cut off by the kill is not an acknowledgement.
            let mut parts = line.split(' ');
            let (Some(seq), Some(leaf), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if let (Ok(seq), true) = (seq.parse::<u64>(), leaf.len() == 64) {
                acknowledged.push((seq, leaf.to_owned()));
            }
        }
        assert!(
            acknowledged.len() > before || round > 0,
            "the first round acknowledged nothing; the test would prove nothing"
        );
        check_present(dir.path(), &acknowledged);
        let out = run(&["verify", &d], "");
        assert!(
            out.status.success(),
            "round {round}: verify failed after SIGKILL: {}",
            text(&out)
        );
    }
    eprintln!(
        "{KILLS} kills, {killed_running} mid-append, {} acknowledgements checked",
        acknowledged.len()
    );
    assert!(
        killed_running >= 20,
        "only {killed_running} of {KILLS} kills hit a running append"
    );
    assert!(
        acknowledged.len() > 100,
        "only {} acknowledgements over {KILLS} kills",
        acknowledged.len()
    );
}

fn check_present(dir: &std::path::Path, acknowledged: &[(u64, String)]) {
    let conn = rusqlite::Connection::open(dir.join("modeltrail.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT body FROM events WHERE seq = ?1")
        .unwrap();
    for (seq, leaf) in acknowledged {
        let body: Vec<u8> = stmt
            .query_row([*seq as i64], |r| r.get(0))
            .unwrap_or_else(|e| panic!("acknowledged seq {seq} is missing: {e}"));
        assert_eq!(
            &modeltrail_ledger::leaf_hash(&body).to_hex(),
            leaf,
            "seq {seq} differs from what was acknowledged"
        );
    }
}

/// The server tests run one at a time: the PostgreSQL restart would fail the others' requests,
/// and two loads on two cores would make every request slow.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn crash_workload(tag: String) -> live::Workload {
    live::Workload {
        tag,
        record_writers: 6,
        mlflow_writers: 2,
        signers: 2,
        readers: 1,
    }
}

/// Kills the loaded server `CRASH_KILLS` times at random moments; after each kill the log
/// verifies offline, the server starts again and every acknowledged write is there as it was.
async fn server_survives_sigkill(backend: live::Backend) {
    use rand::{Rng, SeedableRng};
    let kills = env_number("CRASH_KILLS", 10);
    let seed = env_number("CRASH_SEED", rand::random::<u32>() as u64);
    let name = backend.name();
    eprintln!("{name}: {kills} kills, CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut server = live::Live::new(backend);
    server.start().await;
    let token = server.setup_users().await;
    let mut all = live::Acknowledged::default();
    let mut mid_load = 0;
    for round in 0..kills {
        let load = live::start_workload(&server, &token, &crash_workload(format!("r{round}")));
        tokio::time::sleep(Duration::from_millis(rng.gen_range(150..1500))).await;
        // The kill lands just after the workload sends its next request (waiting up to 2 s for
        // one), so a loaded machine's idle moments do not make it miss the load.
        let sent = || load.sent.load(std::sync::atomic::Ordering::Relaxed);
        let before = sent();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while sent() == before && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..5))).await;
        if sent() > before {
            mid_load += 1;
        }
        server.kill(); // SIGKILL with requests in flight
        let (acks, tally) = load.stop().await;
        assert!(
            tally.client_errors.is_empty(),
            "{name} round {round}: refused requests: {:?}",
            &tally.client_errors[..tally.client_errors.len().min(5)]
        );
        assert!(
            tally.server_errors.is_empty(),
            "{name} round {round}: server errors before the kill: {:?}",
            tally.server_error_bodies
        );
        all.events.extend(acks.events);
        for (run, params) in acks.params {
            all.params.entry(run).or_default().extend(params);
        }
        let out = server.verify();
        assert!(
            out.status.success(),
            "{name} round {round} (CRASH_SEED={seed}): verify failed after SIGKILL: {}",
            live::text(&out)
        );
        server.start().await;
        server.check_acknowledged(&all).await;
    }
    let signatures_and_creates = all.events.len();
    eprintln!(
        "{name}: {kills} kills ({mid_load} with requests in flight), {} acknowledged writes \
         checked ({signatures_and_creates} events, {} MLflow parameters in {} runs)",
        all.writes(),
        all.writes() - signatures_and_creates,
        all.params.len()
    );
    assert!(
        mid_load * 10 >= kills * 9,
        "{name}: only {mid_load} of {kills} kills hit the server under load"
    );
    assert!(
        all.events.len() as u64 >= 10 * kills && !all.params.is_empty(),
        "{name}: too little was acknowledged for the test to mean anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_on_sqlite_loses_no_acknowledged_write_to_sigkill() {
    let _serial = SERIAL.lock().await;
    server_survives_sigkill(live::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_on_postgres_loses_no_acknowledged_write_to_sigkill() {
    let _serial = SERIAL.lock().await;
    server_survives_sigkill(live::Backend::postgres("crash").await).await;
}

/// A small filesystem mounted for a data directory: tmpfs, or else a loop-mounted ext4 image;
/// unmounted when dropped. (Small, but not tiny: with 64 KiB pages SQLite's write-ahead log
/// grows by tens of MB between checkpoints.)
struct SmallDisk {
    mount: std::path::PathBuf,
    image: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u64) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).map_err(|e| e.to_string())?;
        let tmpfs = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&mount)
            .output();
        match tmpfs {
            Ok(out) if out.status.success() => {
                return Ok(SmallDisk {
                    mount,
                    image: None,
                    _dir: dir,
                })
            }
            Ok(out) => eprintln!("tmpfs mount refused: {}", common::text(&out)),
            Err(e) => eprintln!("no mount program: {e}"),
        }
        let image = dir.path().join("disk.img");
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(megabytes << 20).map_err(|e| e.to_string())?;
        let ok = |args: &[&str]| {
            std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
                .map_err(|e| format!("{}: {e}", args[0]))
                .and_then(|o| {
                    o.status
                        .success()
                        .then_some(())
                        .ok_or_else(|| format!("{}: {}", args.join(" "), common::text(&o)))
                })
        };
        let (img, mnt) = (image.display().to_string(), mount.display().to_string());
        ok(&["mkfs.ext4", "-q", &img])?;
        ok(&["mount", "-o", "loop", &img, &mnt])?;
        Ok(SmallDisk {
            mount,
            image: Some(image),
            _dir: dir,
        })
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.mount.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5au8; 64 << 10];
        while file.write_all(&chunk).and_then(|_| file.sync_all()).is_ok() {}
        // The last bytes that fit.
        while file.write_all(&chunk[..512]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .output();
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

/// Every error answer the server gave names what went wrong in the usual error body.
fn assert_clean_server_errors(tally: &live::Tally, context: &str) {
    for status in tally.server_errors.keys() {
        assert!(
            [500, 503, 507].contains(status),
            "{context}: unexpected status {status}"
        );
    }
    for body in &tally.server_error_bodies {
        // modeltrail's error body, or MLflow's on the MLflow endpoints.
        let (code, message) = match body.get("error_code") {
            Some(code) => (code, &body["message"]),
            None => (&body["error"]["code"], &body["error"]["message"]),
        };
        let message = message.as_str().unwrap_or_default();
        assert!(
            code.is_string() && !message.is_empty(),
            "{context}: an error answer without a code and message: {body}"
        );
        assert!(
            !message.contains("panicked"),
            "{context}: the server panicked: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_clean_errors_and_damages_nothing() {
    let _serial = SERIAL.lock().await;
    let disk = match SmallDisk::mount(160) {
        Ok(disk) => disk,
        Err(reason) => {
            eprintln!("SKIPPED: cannot mount a small filesystem here: {reason}");
            return;
        }
    };
    let mut server = live::Live::at(disk.mount.join("data"), live::Backend::Sqlite);
    server.start().await;
    let token = server.setup_users().await;
    let load = live::start_workload(&server, &token, &crash_workload("roomy".into()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut all, tally) = load.stop().await;
    assert!(
        tally.server_errors.is_empty() && tally.client_errors.is_empty() && !all.events.is_empty(),
        "before the disk filled: {:?} {:?} {} events",
        tally.server_error_bodies,
        tally.client_errors,
        all.events.len()
    );

    let filler = disk.fill();
    let load = live::start_workload(&server, &token, &crash_workload("full".into()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (acks, tally) = load.stop().await;
    assert!(server.running(), "the server died when the disk filled up");
    assert_eq!(tally.no_answer, 0, "the server stopped answering");
    assert!(
        tally.client_errors.is_empty(),
        "refused: {:?}",
        tally.client_errors
    );
    let refused: u64 = tally.server_errors.values().sum();
    eprintln!(
        "disk full: {refused} writes refused ({:?}), {} acknowledged, e.g. {}",
        tally.server_errors,
        acks.writes(),
        tally
            .server_error_bodies
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        refused > 0,
        "the disk never filled up: the test proves nothing"
    );
    assert_clean_server_errors(&tally, "disk full");
    all.events.extend(acks.events);
    all.params.extend(acks.params);

    std::fs::remove_file(&filler).unwrap();
    // With space again, the same server writes again by itself.
    let mut recovered = false;
    for attempt in 0..100 {
        let (status, body) = server
            .post(
                "/api/v1/records/model",
                Some(&token),
                serde_json::json!({"id": format!("after-{attempt}"), "data": {
                    "name": "after", "owner": "pipeline", "intended_use": "Flags batches.",
                    "context_of_use": "Advisory.", "gamp_category": 5,
                    "risk": {"model_influence": "low", "decision_consequence": "low",
                             "model_risk": "low"}}}),
            )
            .await;
        if status == 201 {
            recovered = true;
            all.events.push((
                body["seq"].as_u64().unwrap(),
                body["leaf"].as_str().unwrap().to_owned(),
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the server did not write again once space was freed"
    );
    server.check_acknowledged(&all).await;
    server.kill();
    let out = server.verify();
    assert!(out.status.success(), "{}", live::text(&out));
    server.start().await;
    server.check_acknowledged(&all).await;
    drop(server);
}

fn postgres_ready() -> bool {
    std::process::Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Restarts the local PostgreSQL cluster and waits until it answers again.
fn restart_postgres() {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
        .expect("a PostgreSQL version");
    let out = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .output()
        .expect("pg_ctlcluster runs");
    for _ in 0..300 {
        if postgres_ready() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        out.status.success() && postgres_ready(),
        "PostgreSQL did not come back: {}",
        common::text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_fails_cleanly_and_the_server_recovers() {
    let _serial = SERIAL.lock().await;
    let mut server = live::Live::new(live::Backend::postgres("pgrestart").await);
    server.start().await;
    let token = server.setup_users().await;
    let load = live::start_workload(&server, &token, &crash_workload("restart".into()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    tokio::task::spawn_blocking(restart_postgres).await.unwrap();
    // The load goes on while the server finds its connections gone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (mut all, tally) = load.stop().await;
    assert!(server.running(), "the server died with PostgreSQL");
    assert_eq!(tally.no_answer, 0, "the server stopped answering");
    assert!(
        tally.client_errors.is_empty(),
        "refused: {:?}",
        tally.client_errors
    );
    assert_clean_server_errors(&tally, "PostgreSQL restart");
    eprintln!(
        "PostgreSQL restart: {} acknowledged, failed cleanly: {:?}",
        all.writes(),
        tally.server_errors
    );
    // The server comes back by itself, without a restart of its own.
    let load = live::start_workload(&server, &token, &crash_workload("again".into()));
    let mut recovered = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if load.acks.lock().unwrap().events.len() > 20 {
            recovered = true;
            break;
        }
    }
    let (acks, _) = load.stop().await;
    assert!(
        recovered,
        "the server did not write again after PostgreSQL came back"
    );
    all.events.extend(acks.events);
    all.params.extend(acks.params);
    server.check_acknowledged(&all).await;
    server.kill();
    let out = server.verify();
    assert!(out.status.success(), "{}", live::text(&out));
}
