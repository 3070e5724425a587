//! The release gate and the lifecycle status, on dossiers built by hand: a complete dossier
//! passes; taking away any one piece of evidence makes exactly that condition fail and name it.

use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::lifecycle::{status, Status};
use modeltrail_domain::signature::{Manifestation, Meaning};
use modeltrail_ledger::{Hash, Timestamp};
use serde_json::{json, Value};

fn signature(signer: &str, role: &str, meaning: Meaning, version: u64, seq: u64) -> Manifestation {
    Manifestation {
        signer: signer.into(),
        name: signer.to_uppercase(),
        role: role.into(),
        meaning,
        signed_at: Timestamp::now(),
        version,
        leaf: Hash([0; 32]),
        seq,
        comment: None,
    }
}

fn doc(kind: &str, id: &str, seq: u64, data: Value) -> Doc {
    Doc {
        kind: kind.into(),
        id: id.into(),
        version: 1,
        seq,
        created_seq: seq,
        voided: false,
        state: None,
        data,
        signatures: Vec::new(),
    }
}

fn approved(mut d: Doc, role: &str, seq: u64) -> Doc {
    d.signatures.push(signature(
        "approver",
        role,
        Meaning::Approved,
        d.version,
        seq,
    ));
    d
}

/// A medium-risk model version with every piece of evidence the gate asks for.
fn complete() -> Dossier {
    let model = approved(
        doc(
            "model",
            "m1",
            1,
            json!({"name": "m", "risk": {"model_influence": "medium", "decision_consequence": "medium", "model_risk": "medium"}}),
        ),
        "qa",
        2,
    );
    let mut dataset = doc(
        "dataset_version",
        "train",
        3,
        json!({"profile": {"rows": 10, "columns": []}, "quality_checks": [{"name": "rows", "passed": true}]}),
    );
    dataset = approved(dataset, "qa", 4);
    let protocol = approved(
        doc(
            "validation_protocol",
            "vp1",
            5,
            json!({"model": "m1", "model_version": "mv1"}),
        ),
        "qa",
        6,
    );
    let result = doc(
        "validation_result",
        "vr1",
        7,
        json!({"protocol": "vp1", "model_version": "mv1", "passed": true,
               "independence": {"independent": true}}),
    );
    let fairness = doc(
        "fairness_assessment",
        "fa1",
        8,
        json!({"model_version": "mv1", "passed": true}),
    );
    let explanation = doc("explanation", "ex1", 9, json!({"model_version": "mv1"}));
    let plan = approved(
        doc(
            "monitoring_plan",
            "mp1",
            10,
            json!({"model_version": "mv1"}),
        ),
        "qa",
        11,
    );
    let mv = approved(
        doc(
            "model_version",
            "mv1",
            12,
            json!({"model": "m1", "lineage": {"dataset_versions": ["train"]}}),
        ),
        "qa",
        13,
    );
    Dossier {
        model_version: mv,
        model: Some(model),
        related: vec![dataset, protocol, result, fairness, explanation, plan],
    }
}

fn unmet(d: &Dossier) -> Vec<&'static str> {
    release_checklist(d).unmet().map(|c| c.code).collect()
}

fn related_mut<'a>(d: &'a mut Dossier, kind: &str) -> &'a mut Doc {
    d.related
        .iter_mut()
        .find(|r| r.kind == kind)
        .expect("in the dossier")
}

#[test]
fn a_complete_dossier_passes_and_the_version_is_approved() {
    let d = complete();
    let checklist = release_checklist(&d);
    assert!(checklist.ready, "{checklist:#?}");
    assert_eq!(checklist.conditions.len(), 12);
    assert_eq!(status(&d), Status::Approved);
}

#[test]
fn each_missing_piece_fails_its_own_condition_and_names_what_is_missing() {
    type Break = fn(&mut Dossier);
    let cases: Vec<(&str, Break, &str)> = vec![
        (
            "intended_use_approved",
            |d| d.model.as_mut().expect("model").signatures.clear(),
            "model m1 version 1: an approved signature",
        ),
        (
            "datasets_ready",
            |d| related_mut(d, "dataset_version").signatures.clear(),
            "dataset_version train version 1: an approved readiness assessment",
        ),
        (
            "datasets_ready",
            |d| {
                related_mut(d, "dataset_version").data["quality_checks"][0]["passed"] = json!(false)
            },
            "readiness checks not passed: rows",
        ),
        (
            "protocol_approved_before_results",
            |d| related_mut(d, "validation_protocol").signatures[0].seq = 99,
            "validation_result vr1: recorded before validation_protocol vp1 was approved",
        ),
        (
            "validation_criteria_passed",
            |d| related_mut(d, "validation_result").data["passed"] = json!(false),
            "validation_result vr1: criteria not all passed",
        ),
        (
            "fairness_passed",
            |d| related_mut(d, "fairness_assessment").data["passed"] = json!(false),
            "fairness_assessment fa1: failed",
        ),
        (
            "explanation_recorded",
            |d| related_mut(d, "explanation").voided = true,
            "an explanation of model_version mv1",
        ),
        (
            "monitoring_plan_approved",
            |d| related_mut(d, "monitoring_plan").signatures.clear(),
            "monitoring_plan mp1 version 1: an approved signature",
        ),
        (
            "change_verified",
            |d| {
                let mut change = doc(
                    "change_request",
                    "cr1",
                    90,
                    json!({"proposed_model_version": "mv1"}),
                );
                change.state = Some("approved".into());
                d.related.push(change);
            },
            "change_request cr1 is `approved`",
        ),
        (
            "qa_release_signature",
            |d| d.model_version.signatures[0].role = "developer".into(),
            "an approved signature by QA",
        ),
    ];
    for (code, break_it, names) in cases {
        let mut d = complete();
        break_it(&mut d);
        let failing = unmet(&d);
        if code == "protocol_approved_before_results" {
            // A result recorded before its protocol's approval does not count at all.
            assert_eq!(
                failing,
                vec![code, "validation_criteria_passed", "test_data_independent"]
            );
        } else if code == "validation_criteria_passed" {
            // Independence is read from the passing result, and there is none.
            assert_eq!(failing, vec![code, "test_data_independent"]);
        } else {
            assert_eq!(failing, vec![code], "breaking {code}");
        }
        let checklist = release_checklist(&d);
        let condition = checklist.unmet().next().expect("one unmet");
        assert!(
            condition.missing.iter().any(|m| m.contains(names)),
            "{code}: {:?} should name {names:?}",
            condition.missing
        );
    }
}

#[test]
fn test_data_must_be_checked_independent() {
    let mut d = complete();
    related_mut(&mut d, "validation_result").data["independence"] = json!({"independent": false});
    assert_eq!(unmet(&d), vec!["test_data_independent"]);
}

#[test]
fn an_approved_deviation_covers_a_failed_fairness_assessment() {
    let mut d = complete();
    related_mut(&mut d, "fairness_assessment").data["passed"] = json!(false);
    let deviation = doc(
        "exception",
        "dev1",
        20,
        json!({"category": "deviation", "source": "fa1"}),
    );
    d.related.push(deviation.clone());
    assert_eq!(unmet(&d), vec!["fairness_passed"], "not yet approved");
    *d.related.last_mut().expect("pushed") = approved(deviation, "qa", 21);
    assert!(release_checklist(&d).ready);
}

#[test]
fn low_risk_does_not_demand_fairness_or_explanation() {
    let mut d = complete();
    d.model.as_mut().expect("model").data["risk"]["model_risk"] = json!("low");
    d.related
        .retain(|r| r.kind != "fairness_assessment" && r.kind != "explanation");
    let checklist = release_checklist(&d);
    assert!(checklist.ready, "{checklist:#?}");
    assert_eq!(checklist.conditions.len(), 10);
    // Without a risk assessment everything is demanded.
    d.model.as_mut().expect("model").data = json!({"name": "m"});
    assert!(unmet(&d).contains(&"explanation_recorded"));
}

#[test]
fn the_status_follows_the_evidence() {
    let mut d = complete();
    d.model_version.signatures.clear();
    assert_eq!(status(&d), Status::Validated);
    related_mut(&mut d, "validation_result").data["passed"] = json!(false);
    assert_eq!(status(&d), Status::InValidation);
    d.related.retain(|r| r.kind != "validation_result");
    related_mut(&mut d, "validation_protocol")
        .signatures
        .clear();
    assert_eq!(status(&d), Status::Draft);

    let mut d = complete();
    d.related.push(doc(
        "deployment",
        "dep1",
        30,
        json!({"model_version": "mv1", "environment": "production", "action": "deploy"}),
    ));
    assert_eq!(status(&d), Status::Released);
    d.related.push(doc(
        "exception",
        "drift1",
        31,
        json!({"category": "drift", "severity": "major", "affected_model_versions": ["mv1"]}),
    ));
    assert_eq!(status(&d), Status::RevalidationRequired);
    d.related.push(doc(
        "exception",
        "crit1",
        32,
        json!({"category": "incident", "severity": "critical", "affected_model_versions": ["mv1"]}),
    ));
    assert_eq!(status(&d), Status::Suspended);
    d.model_version.voided = true;
    assert_eq!(status(&d), Status::Retired);

    // A change after QA's approval asks for re-validation.
    let mut d = complete();
    d.model_version.version = 2;
    assert_eq!(status(&d), Status::RevalidationRequired);
}
