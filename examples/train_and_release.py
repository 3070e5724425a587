#!/usr/bin/env python3
"""Train a model and take it to the release gate, with every step in modeltrail's audit trail.

A scikit-learn classifier of the breast-cancer dataset that ships with scikit-learn (no
download), logged through the unmodified MLflow client (pointed at modeltrail) and through the
modeltrail SDK:

 1. the model's intended use and risk (the server computes the model risk);
 2. the training and test data: files hashed here, registered as dataset versions, uploaded for
    the server to profile and to evaluate the readiness checks;
 3. the training run, its input dataset and the model, through MLflow; the registered model
    version becomes a `model_version` record with its artifacts' digests and lineage;
 4. a validation protocol (acceptance criteria), approved, then the result, which the server
    evaluates;
 5. a fairness assessment and an explanation, both computed by the server from uploaded data;
 6. a monitoring plan;
 7. the release: QA's approvals and release signature (when a QA user is given), then the
    release gate, whose answer is printed; production only when every condition is met.

Start a server (see the top-level README), create a developer and, optionally, a QA user, then:

    MODELTRAIL_PASSWORD=... MODELTRAIL_QA_PASSWORD=... \\
        python examples/train_and_release.py --user dana --qa-user quinn

Every record id carries a suffix (the time by default) so the example can run again.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import mlflow
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modeltrail import Client, ReleaseRefusedError

#: Features the monitoring plan watches for drift.
MONITORED = ["mean_radius", "mean_texture", "mean_smoothness", "worst_concavity"]


def arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=env("MODELTRAIL_URL", "http://127.0.0.1:8080"),
                   help="the modeltrail server (MODELTRAIL_URL)")
    p.add_argument("--user", default=env("MODELTRAIL_USER"), required=env("MODELTRAIL_USER") is None,
                   help="a developer's user id (MODELTRAIL_USER); the password from "
                        "MODELTRAIL_PASSWORD, else asked for")
    p.add_argument("--qa-user", default=env("MODELTRAIL_QA_USER"),
                   help="a QA user id (MODELTRAIL_QA_USER) who approves and signs the release; "
                        "the password from MODELTRAIL_QA_PASSWORD, else asked for. Without it "
                        "the gate lists what QA still has to approve")
    p.add_argument("--suffix", default=time.strftime("%Y%m%d-%H%M%S"),
                   help="appended to every record id and the model's name (default: the time)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the data files are written (default: a temporary directory)")
    p.add_argument("--pin-file", type=Path, default=None,
                   help="keep the pinned checkpoint here between runs")
    return p.parse_args(argv)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    args = arguments(argv)
    suffix = args.suffix
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modeltrail-example-"))
    workdir.mkdir(parents=True, exist_ok=True)

    step(f"log in to {args.url}")
    password = os.environ.get("MODELTRAIL_PASSWORD")
    dev = Client.login(args.url, args.user, password, pin_file=args.pin_file)
    qa: Optional[Client] = None
    qa_password = os.environ.get("MODELTRAIL_QA_PASSWORD")
    if args.qa_user:
        qa = Client.login(args.url, args.qa_user, qa_password)
    print(f"developer {args.user}; QA {args.qa_user or '(none: approvals are skipped)'}")
    print(f"log key {dev.public_key()}")

    def approve(kind: str, record_id: str, what: str) -> None:
        if qa is None:
            print(f"   (no QA user: {what} stays unapproved)")
            return
        latest = qa.get_record(kind, record_id)
        qa.sign(kind, record_id, latest.version, "approved", qa_password,
                comment=f"{what} reviewed")
        print(f"   QA approved {kind} {record_id} version {latest.version}")

    # -- 1. intended use and risk ----------------------------------------------------------
    step("1. the model: intended use, context of use, risk")
    name = f"breast-cancer-{suffix}"
    model = dev.create_record("model", {
        "name": name,
        "owner": args.user,
        "intended_use": "Prioritise fine-needle-aspirate samples for pathologist review by the "
                        "estimated probability of malignancy.",
        "context_of_use": "Advisory: a pathologist reviews every sample; the score only orders "
                          "the review queue.",
        "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "medium"},
    }, id=f"bc-model-{suffix}")
    print(f"   model {model.id}: risk {model.data['risk']['model_risk']} (computed by the server)")
    approve("model", model.id, "intended use and risk")

    # -- 2. data ---------------------------------------------------------------------------
    step("2. data: hashed here, registered, profiled by the server")
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["malignant"] = 1 - frame.pop("target")  # scikit-learn's target 1 is benign
    features = [c for c in frame.columns if c != "malignant"]
    train, test = train_test_split(frame, test_size=0.25, random_state=7,
                                   stratify=frame["malignant"])
    datasets: Dict[str, str] = {}
    checks = [
        {"name": "enough rows", "criterion": "rows >= 100"},
        {"name": "no missing radius", "criterion": "missing_rate(mean_radius) <= 0"},
        {"name": "labels present", "criterion": "missing_rate(malignant) <= 0"},
    ]
    for split, part in (("train", train), ("test", test)):
        folder = workdir / split
        folder.mkdir(exist_ok=True)
        part.to_csv(folder / f"{split}.csv", index=False)
        record = dev.register_dataset(
            [folder / f"{split}.csv"], name="wdbc-breast-cancer", version=f"{suffix}-{split}",
            source="scikit-learn load_breast_cancer (UCI Wisconsin Diagnostic Breast Cancer)",
            id=f"bc-{split}-{suffix}", quality_checks=checks,
            fields={"collection_procedure": "Public reference dataset; split 75/25 stratified, "
                                            "random_state 7.",
                    "suitability_statement": "Digitised FNA images' features with confirmed "
                                             "diagnoses; adequate to demonstrate the workflow."})
        datasets[split] = record.id
        verdicts = ", ".join(f"{c['name']}: {'pass' if c.get('passed') else 'FAIL'}"
                             for c in record.data["quality_checks"])
        print(f"   {record.id}: {record.data['profile']['rows']} rows, digest "
              f"{record.data['content_digest'][:16]}..., {verdicts}")
        approve("dataset_version", record.id, f"{split} data readiness")

    # -- 3. training, through MLflow -------------------------------------------------------
    step("3. train and log through MLflow (modeltrail speaks its API)")
    os.environ["MLFLOW_TRACKING_USERNAME"] = args.user
    if password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    mlflow.set_tracking_uri(args.url)
    mlflow.set_registry_uri(args.url)
    mlflow.set_experiment("breast-cancer")
    x_train, y_train = train[features], train["malignant"]
    x_test, y_test = test[features], test["malignant"]
    params = {"C": 0.5, "max_iter": 500}
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(**params))
    with mlflow.start_run(run_name=f"train-{suffix}") as run:
        mlflow.log_params(params)
        mlflow.log_input(mlflow.data.from_pandas(train, name=datasets["train"],
                                                 targets="malignant"), context="training")
        pipeline.fit(x_train, y_train)
        scores = pipeline.predict_proba(x_test)[:, 1]
        predictions = pipeline.predict(x_test)
        metrics = {
            "auc": float(roc_auc_score(y_test, scores)),
            "accuracy": float(accuracy_score(y_test, predictions)),
            "sensitivity": float(recall_score(y_test, predictions, pos_label=1)),
            "specificity": float(recall_score(y_test, predictions, pos_label=0)),
        }
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(pipeline, name="model", input_example=x_train.iloc[:2],
                                        serialization_format="cloudpickle")
    registered = mlflow.register_model(info.model_uri, name)
    model_version = f"mlflow:{name}:v{registered.version}"
    mv = dev.get_record("model_version", model_version)
    print(f"   run {run.info.run_id}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    print(f"   {model_version}: {len(mv.data['artifacts'])} artifacts by SHA-256, lineage "
          f"{mv.data.get('lineage')}")

    # -- 4. validation ---------------------------------------------------------------------
    step("4. validation: protocol (approved first), then the result the server evaluates")
    protocol = dev.create_record("validation_protocol", {
        "model": model.id, "model_version": model_version, "title": f"VP breast cancer {suffix}",
        "objective": "Show the classifier ranks malignant samples first on held-out data.",
        "test_datasets": [datasets["test"]],
        "acceptance_criteria": [
            {"id": "AC-1", "criterion": "auc >= 0.95"},
            {"id": "AC-2", "criterion": "sensitivity >= 0.9 and specificity >= 0.9"},
        ],
    }, id=f"bc-vp-{suffix}")
    approve("validation_protocol", protocol.id, "validation protocol")
    try:
        result = dev.record_validation_result({
            "protocol": protocol.id, "model_version": model_version,
            "test_datasets": [datasets["test"]],
            "metrics": [{"metric": k, "value": v} for k, v in metrics.items()],
        }, id=f"bc-vr-{suffix}")
        independence = result.data.get("independence", {})
        print(f"   result {result.id}: passed {result.data['passed']}; test data independent "
              f"{independence.get('independent')}")
    except Exception as refused:  # an unapproved protocol takes no results
        print(f"   result refused: {refused}")

    # -- 5. fairness and explanation -------------------------------------------------------
    step("5. fairness and explanation, computed by the server")
    # The public dataset has no demographic columns; the example assigns each sample a
    # collection site (by its row number) to show the assessment. Use real attributes in use.
    sites = np.array(["Basel", "Lyon", "Cork"])[np.asarray(x_test.index) % 3]
    fairness = dev.record_fairness_assessment({
        "model_version": model_version, "dataset_version": datasets["test"],
        "sensitive_attributes": ["site"], "positive_label": 1,
        "methodology": "Groups by collection site (simulated for the example); rates as "
                       "Fairlearn defines them. Equalized odds (true and false positive rates "
                       "alike across sites), not selection-rate parity: prevalence of "
                       "malignancy may differ between sites, and a diagnostic aid should "
                       "follow it.",
        "criteria": [
            {"id": "FA-1", "criterion": "equalized_odds_difference[attribute=site] <= 0.1"},
        ],
    }, labels=y_test, predictions=pd.Series(predictions), sensitive={"site": sites},
        id=f"bc-fa-{suffix}")
    print(f"   fairness {fairness.id}: passed {fairness.data['passed']} over "
          f"{fairness.data['rows']} rows")
    for result in fairness.data.get("criteria_results", []):
        values = ", ".join(f"{v.get('reference')} = {v.get('value'):.3f}"
                           for v in result.get("values", []) if v.get("value") is not None)
        print(f"     {result.get('id', '')} {'pass' if result.get('passed') else 'FAIL'}: {values}")

    # Exact attributions of a linear model on standardised inputs (what shap's
    # LinearExplainer gives with an independent masker): coefficient x (z - mean z).
    scaler, classifier = pipeline[0], pipeline[-1]
    z_test = scaler.transform(x_test)
    z_mean = scaler.transform(x_train).mean(axis=0)
    attributions = classifier.coef_[0] * (z_test - z_mean)
    base_value = float(classifier.intercept_[0] + classifier.coef_[0] @ z_mean)
    explanation = dev.record_explanation({
        "model_version": model_version, "dataset_version": datasets["test"], "method": "shap",
        "explainer": "exact linear attributions (as shap.LinearExplainer)",
        "output_space": "log_odds", "feature_names": features,
        "methodology": "Per-feature contribution to the log-odds relative to the training mean.",
    }, attributions=attributions, base_values=base_value,
        outputs=pipeline.decision_function(x_test), local_rows=[0, 1, 2],
        id=f"bc-ex-{suffix}")
    top = [g["feature"] for g in explanation.data["global_importance"][:3]]
    additivity = explanation.data.get("additivity") or {}
    print(f"   explanation {explanation.id}: most important {', '.join(top)}; attributions add "
          f"up to the outputs within {additivity.get('max_abs_deviation', float('nan')):.1e} "
          f"over {additivity.get('rows_checked', 0)} rows")

    # -- 6. monitoring plan ----------------------------------------------------------------
    step("6. monitoring plan")
    plan = dev.create_record("monitoring_plan", {
        "model_version": model_version, "reference_dataset": datasets["train"],
        "features": [{"name": f, "type": "numerical"} for f in MONITORED],
        "performance_metrics": [{"metric": "accuracy", "op": ">=", "threshold": 0.9}],
        "minimum_batch_rows": 50,
        "action_plan": "QA investigates any drift or accuracy breach within 5 working days; "
                       "the model is withdrawn if accuracy stays below 0.9.",
        "notify": [args.qa_user or args.user],
    }, id=f"bc-mp-{suffix}")
    print(f"   plan {plan.id}: {len(MONITORED)} features watched")
    approve("monitoring_plan", plan.id, "monitoring plan")

    # -- 7. release ------------------------------------------------------------------------
    step("7. release: QA's signature, then the gate")
    approve("model_version", model_version, "release")
    readiness = dev.release_readiness(model_version)
    print(f"   status {readiness.status}; ready {readiness.ready}")
    for condition in readiness.conditions:
        mark = "met  " if condition.get("met") else "UNMET"
        missing = "; ".join(condition.get("missing") or [])
        print(f"   [{mark}] {condition['code']}{': ' + missing if missing else ''}")
    released = False
    try:
        deployment = dev.deploy(model_version, environment="production", target="pathology-lab",
                                reason="released through the gate")
        released = True
        print(f"   deployed to production: deployment {deployment.id}")
    except ReleaseRefusedError as refused:
        print(f"   production refused: {len(refused.unmet)} condition(s) unmet")

    proof = dev.verify_inclusion(dev.get_record("model_version", model_version))
    pinned = dev.pinned_checkpoint
    print(f"\nverified: {model_version} is event {proof.seq} of the log; pinned checkpoint "
          f"size {pinned.size if pinned else '?'} root {pinned.root_hex if pinned else '?'}")
    print("RELEASED" if released else "NOT RELEASED (see the unmet conditions above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
