//! Export bundles: `modeltrail export` writes the log to a directory that `modeltrail verify`
//! checks offline; every change to the bundle behind its back is found (exit 1).

mod common;

use common::{lines, run, text};
use std::path::{Path, PathBuf};

/// A data directory with 30 events in three transactions, and its bundle.
fn exported() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.display().to_string();
    let out = run(
        &["init", "--data-dir", &d, "--origin", "bundle.test/log"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    for chunk in [0..10, 10..20, 20..30] {
        let out = run(&["append", "--data-dir", &d], &lines(chunk));
        assert!(out.status.success(), "{}", text(&out));
    }
    let bundle = dir.path().join("bundle");
    let out = run(
        &[
            "export",
            "--data-dir",
            &d,
            "--out",
            &bundle.display().to_string(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("tree size:  30"), "{}", text(&out));
    (dir, bundle)
}

fn verify(bundle: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let b = bundle.display().to_string();
    let mut args = vec!["verify", b.as_str()];
    args.extend_from_slice(extra);
    let out = run(&args, "");
    (out.status.code(), text(&out))
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let before = std::fs::read_to_string(path).unwrap();
    let after = f(before.clone());
    assert_ne!(before, after, "the edit changed nothing");
    std::fs::write(path, after).unwrap();
}

#[test]
fn a_bundle_verifies_offline_with_the_published_key() {
    let (dir, bundle) = exported();
    let (code, said) = verify(&bundle, &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("OK: tree size 30"), "{said}");
    assert!(said.contains("compare the key"), "{said}");
    // With the key from the log's owner, and nothing of the data directory beside it.
    let key = dir.path().join("data/verifier.key").display().to_string();
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&bundle, &moved).unwrap();
    std::fs::remove_file(dir.path().join("data/modeltrail.db")).unwrap();
    let (code, said) = verify(&moved, &["--public-key", &key]);
    assert_eq!(code, Some(0), "{said}");
    // Exporting over an existing directory is refused.
    let out = run(
        &[
            "export",
            "--data-dir",
            &dir.path().join("data").display().to_string(),
            "--out",
            &moved.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn every_change_to_a_bundle_is_found() {
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper, &str); 7] = [
        (
            "a changed byte in an event",
            |b| {
                edit(&b.join("events.jsonl"), |t| {
                    t.replacen("\"i\":7,", "\"i\":8,", 1)
                })
            },
            "DIVERGENCE",
        ),
        (
            "a removed event",
            |b| {
                edit(&b.join("events.jsonl"), |t| {
                    let mut lines: Vec<&str> = t.lines().collect();
                    lines.remove(12);
                    lines.join("\n") + "\n"
                })
            },
            "DIVERGENCE",
        ),
        (
            "two events swapped",
            |b| {
                edit(&b.join("events.jsonl"), |t| {
                    let mut lines: Vec<&str> = t.lines().collect();
                    lines.swap(3, 4);
                    lines.join("\n") + "\n"
                })
            },
            "DIVERGENCE",
        ),
        (
            "the log cut short with its checkpoints",
            |b| {
                edit(&b.join("events.jsonl"), |t| {
                    t.lines().take(20).map(|l| format!("{l}\n")).collect()
                });
                edit(&b.join("checkpoints.jsonl"), |t| {
                    t.lines().take(3).map(|l| format!("{l}\n")).collect()
                });
            },
            "DAMAGED BUNDLE",
        ),
        (
            "a checkpoint edited",
            |b| {
                edit(&b.join("checkpoints.jsonl"), |t| {
                    t.replacen("\\n30\\n", "\\n31\\n", 1)
                })
            },
            "DIVERGENCE",
        ),
        (
            "the manifest's root edited",
            |b| {
                edit(&b.join("manifest.json"), |t| {
                    let at = t.find("\"root\": \"").unwrap() + 9;
                    let flipped = if &t[at..at + 1] == "0" { "1" } else { "0" };
                    format!("{}{}{}", &t[..at], flipped, &t[at + 1..])
                })
            },
            "DAMAGED BUNDLE",
        ),
        (
            "a key of another log",
            |b| {
                let other = tempfile::tempdir().unwrap();
                let d = other.path().display().to_string();
                assert!(run(&["init", "--data-dir", &d], "").status.success());
                std::fs::copy(other.path().join("verifier.key"), b.join("verifier.key")).unwrap();
            },
            "DIVERGENCE",
        ),
    ];
    for (what, tamper, expected) in cases {
        let (_dir, bundle) = exported();
        tamper(&bundle);
        let (code, said) = verify(&bundle, &[]);
        assert_eq!(code, Some(1), "{what}: {said}");
        assert!(said.contains(expected), "{what}: {said}");
    }
}
