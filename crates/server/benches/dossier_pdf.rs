//! How long a 20-page validation dossier takes to draw as PDF (target: under 1 s), and the
//! same dossier as HTML. The dossier is synthetic but shaped like a real one: a model and its
//! version, validation protocols and results with criteria, a fairness assessment with group
//! tables, an explanation with global importance, a monitoring plan and as many monitoring
//! batches as it takes to fill 20 pages, exceptions, and signatures on every record.
//!
//! `cargo bench -p modeltrail-server --bench dossier_pdf` (`DOSSIER_BENCH_PAGES`, default 20;
//! `DOSSIER_BENCH_RUNS`, default 10; `DOSSIER_BENCH_OUT=FILE` also writes the PDF). Prints the median and fastest wall time of the whole
//! draw (document, layout, PDF with subset fonts) and the PDF's size.

use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::lifecycle::status;
use modeltrail_domain::signature::{Manifestation, Meaning};
use modeltrail_ledger::{Hash, Timestamp};
use modeltrail_server::report::{
    dossier::REPORT, dossier_document, html, pdf, report_id, DossierReport, DrawnAt, Format,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(kind: &str, id: &str, seq: u64, data: Value) -> Doc {
    Doc {
        kind: kind.into(),
        id: id.into(),
        version: 1,
        seq,
        created_seq: seq,
        voided: false,
        state: None,
        data,
        signatures: vec![Manifestation {
            signer: "qa".into(),
            name: "Quinn Assurance".into(),
            role: "qa".into(),
            meaning: Meaning::Approved,
            signed_at: Timestamp::parse("2026-03-01T10:00:00.000000Z").expect("a timestamp"),
            version: 1,
            leaf: Hash([seq as u8; 32]),
            seq: seq + 1,
            comment: None,
        }],
    }
}

fn dossier(batches: usize) -> Dossier {
    let features: Vec<String> = (0..24).map(|i| format!("feature_{i:02}")).collect();
    let mut related = vec![
        record(
            "validation_protocol",
            "vp1",
            10,
            json!({"model": "m1", "model_version": "mv1", "title": "VP-1 performance",
                   "objective": "Show that the model finds anomalous batches on held-out data.",
                   "test_datasets": ["holdout"],
                   "acceptance_criteria": (0..8).map(|i| json!({"id": format!("AC-{i}"),
                       "criterion": format!("auc[site=\"S{i}\"] >= 0.8")})).collect::<Vec<_>>()}),
        ),
        record(
            "validation_result",
            "vr1",
            20,
            json!({"protocol": "vp1", "model_version": "mv1", "passed": true,
                   "metrics": (0..8).map(|i| json!({"metric": "auc", "value": 0.9,
                       "subgroup": [{"attribute": "site", "value": format!("S{i}")}]})).collect::<Vec<_>>(),
                   "criteria_results": (0..8).map(|i| json!({"id": format!("AC-{i}"),
                       "criterion": format!("auc[site=\"S{i}\"] >= 0.8"), "passed": true,
                       "values": [{"reference": format!("auc[site=\"S{i}\"]"), "value": 0.9}]})).collect::<Vec<_>>(),
                   "independence": {"independent": true, "test_datasets": ["holdout"],
                       "training_datasets": ["train"], "shared_files": [], "shared_rows": 0,
                       "method": "file and row digests"}}),
        ),
        record(
            "fairness_assessment",
            "fa1",
            30,
            json!({"model_version": "mv1", "sensitive_attributes": ["site", "sex"], "rows": 4000,
                   "passed": true,
                   "groups": (0..12).map(|i| json!({"attribute": "site", "group": format!("S{i}"),
                       "count": 300 + i, "selection_rate": 0.41, "tpr": 0.9, "fpr": 0.1,
                       "accuracy": 0.9})).collect::<Vec<_>>(),
                   "disparities": [{"attribute": "site", "demographic_parity_difference": 0.04,
                       "demographic_parity_ratio": 0.9, "equalized_odds_difference": 0.05,
                       "disparate_impact": 0.9, "four_fifths_rule_passed": true}]}),
        ),
        record(
            "explanation",
            "ex1",
            40,
            json!({"model_version": "mv1", "method": "shap", "feature_names": features,
                   "global_importance": features.iter().enumerate().map(|(i, f)|
                       json!({"feature": f, "importance": 1.0 / (i as f64 + 1.0)})).collect::<Vec<_>>()}),
        ),
        record(
            "monitoring_plan",
            "mp1",
            50,
            json!({"model_version": "mv1", "reference_dataset": "train",
                   "features": features.iter().map(|f| json!({"name": f, "type": "numerical"})).collect::<Vec<_>>(),
                   "action_plan": "Investigate any drift within one working day."}),
        ),
        record(
            "dataset_version",
            "train",
            5,
            json!({"name": "batches", "version": "1", "content_digest": "a".repeat(64),
                   "profile": {"rows": 120000}}),
        ),
    ];
    for b in 0..batches {
        let drifted = b % 5 == 4;
        related.push(record(
            "monitoring_batch",
            &format!("batch-{b:04}"),
            100 + 2 * b as u64,
            json!({"plan": "mp1", "model_version": "mv1", "rows": 5000, "tested": true,
                   "window": {"start": format!("2026-04-{:02}T00:00:00Z", 1 + b % 28),
                              "end": format!("2026-04-{:02}T23:59:59Z", 1 + b % 28)},
                   "drift": {"drifted_share": if drifted { 0.25 } else { 0.0 }, "dataset_drift": false,
                             "features": features.iter().enumerate().map(|(i, f)| json!({
                                 "feature": f, "test": "ks", "statistic": "p_value",
                                 "score": if drifted && i < 6 { 0.001 } else { 0.4 },
                                 "comparison": "below", "threshold": 0.05,
                                 "drifted": drifted && i < 6})).collect::<Vec<_>>()},
                   "performance": [{"metric": "accuracy", "value": 0.93, "op": ">=", "threshold": 0.9, "passed": true}],
                   "breach": false}),
        ));
    }
    Dossier {
        model_version: record(
            "model_version",
            "mv1",
            2,
            json!({"model": "m1", "version": "1",
                   "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}],
                   "lineage": {"dataset_versions": ["train"]}}),
        ),
        model: Some(record(
            "model",
            "m1",
            1,
            json!({"name": "tablet-anomaly", "owner": "dev",
                   "intended_use": "Flags anomalous tablet batches for QA review.",
                   "context_of_use": "Advisory; QA reviews every flagged batch.",
                   "gamp_category": 5,
                   "risk": {"model_influence": "medium", "decision_consequence": "medium",
                            "model_risk": "medium"}}),
        )),
        related,
    }
}

fn drawn() -> DrawnAt {
    DrawnAt {
        checkpoint_size: 100_000,
        checkpoint_root: Hash([9; 32]),
        checkpoint_text: "bench.example/log\n100000\nCQkJ\n\n— bench.example/log AAAA\n".into(),
        generated_at: Timestamp::now(),
    }
}

/// The dossier drawn as PDF from scratch: document, layout, PDF.
fn draw_pdf(dossier: &Dossier, drawn: &DrawnAt) -> pdf::Pdf {
    let checklist = release_checklist(dossier);
    let id = report_id(REPORT, "mv1", drawn, Format::Pdf);
    let document = dossier_document(&DossierReport {
        dossier,
        checklist: &checklist,
        status: status(dossier),
        capas: &[],
        drawn,
        report_id: &id,
        format: Format::Pdf,
    });
    pdf::render(&document).expect("the PDF")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let target_pages = env_number("DOSSIER_BENCH_PAGES", 20);
    let runs = env_number("DOSSIER_BENCH_RUNS", 10).max(1);
    let drawn = drawn();
    // As many monitoring batches as fill the pages asked for.
    let mut batches = 0;
    let (dossier, pages) = loop {
        let dossier = dossier(batches);
        let pages = draw_pdf(&dossier, &drawn).pages;
        if pages >= target_pages {
            break (dossier, pages);
        }
        batches += 10;
    };
    if let Ok(path) = std::env::var("DOSSIER_BENCH_OUT") {
        std::fs::write(&path, draw_pdf(&dossier, &drawn).bytes).expect("writing the PDF");
    }
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let pdf = draw_pdf(&dossier, &drawn);
        times.push(start.elapsed());
        size = pdf.bytes.len();
    }
    let mut html_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let checklist = release_checklist(&dossier);
        let document = dossier_document(&DossierReport {
            dossier: &dossier,
            checklist: &checklist,
            status: status(&dossier),
            capas: &[],
            drawn: &drawn,
            report_id: "R-bench",
            format: Format::Html,
        });
        let text = html::render(&document);
        html_times.push(start.elapsed());
        assert!(text.len() > 1000);
    }
    let fastest = times.iter().min().copied().unwrap_or_default();
    let median_pdf = median(times);
    println!(
        "dossier PDF: {pages} pages ({} records, {batches} monitoring batches), {:.1} KiB; \
         median {:.1} ms, fastest {:.1} ms over {runs} runs (target: under 1000 ms for 20 pages): {}",
        dossier.related.len() + 2,
        size as f64 / 1024.0,
        median_pdf.as_secs_f64() * 1e3,
        fastest.as_secs_f64() * 1e3,
        if median_pdf < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "dossier HTML of the same records: median {:.1} ms",
        median(html_times).as_secs_f64() * 1e3
    );
}
