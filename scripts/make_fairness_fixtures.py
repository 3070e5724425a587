#!/usr/bin/env python3
"""Writes the fairness fixtures of crates/stats/tests/fixtures/fairness/ with the real Fairlearn.

Each fixture holds a seeded data set (labels, predictions, sensitive attributes, positive label)
and every figure Fairlearn computes from it: MetricFrame.overall and .by_group (count, selection
rate, true and false positive rates, accuracy) for the intersection of all attributes and for
each attribute alone, demographic parity, equalized odds (agg="worst_case" and "mean"), equal
opportunity, the true/false positive rate differences and ratios (method="between_groups"), and
disparate impact derived from Fairlearn's per-group selection rates (the four-fifths rule decided
on exact fractions). crates/stats/tests/fairness.rs compares modeltrail's figures with these.

The fixtures are committed: the Rust tests need no Python. To regenerate them:

    python3 -m venv /tmp/venv-fairlearn
    /tmp/venv-fairlearn/bin/pip install fairlearn==0.15.0 scikit-learn==1.9.1 pandas==3.1.1 numpy==2.4.6
    /tmp/venv-fairlearn/bin/python scripts/make_fairness_fixtures.py

Requirements (pinned): fairlearn==0.15.0 scikit-learn==1.9.1 pandas==3.1.1 numpy==2.4.6
"""

from __future__ import annotations

import functools
import json
import math
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import sklearn.metrics as skm
import fairlearn
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

FAIRLEARN_VERSION = "0.15.0"
OUT = Path(__file__).resolve().parent.parent / "crates/stats/tests/fixtures/fairness"


def number(value) -> float | None:
    """A float for JSON, NaN as null (Fairlearn's undefined)."""
    value = float(value)
    return None if math.isnan(value) else value


def binarise(values, positive) -> np.ndarray:
    return (np.asarray(values, dtype=object) == positive).astype(int)


def disaggregation(y_true, y_pred, features: pd.DataFrame) -> dict:
    """Fairlearn's figures for the groups formed by all columns of `features`."""
    sensitive = features if features.shape[1] > 1 else features.iloc[:, 0]
    frame = MetricFrame(
        metrics={
            "count": count,
            "positives": lambda t, p: int(np.sum(t)),
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive,
    )
    by_group = frame.by_group
    empty = by_group["count"].isna()
    groups = []
    for key, row in by_group[~empty].iterrows():
        key = list(key) if isinstance(key, tuple) else [key]
        groups.append(
            {
                "group": [str(value) for value in key],
                "count": int(row["count"]),
                "positives": int(row["positives"]),
                "selection_rate": number(row["selection_rate"]),
                "true_positive_rate": number(row["true_positive_rate"]),
                "false_positive_rate": number(row["false_positive_rate"]),
                "accuracy": number(row["accuracy"]),
            }
        )

    kwargs = {"sensitive_features": sensitive}
    rates = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        **kwargs,
    )
    differences = rates.difference(method="between_groups")
    ratios = rates.ratio(method="between_groups")

    # Disparate impact from Fairlearn's per-group selection rates; the rule on exact fractions.
    selected = [Fraction(round(g["selection_rate"] * g["count"]), g["count"]) for g in groups]
    for fraction, g in zip(selected, groups):
        assert float(fraction) == g["selection_rate"], "selection rate is not selected/count"
    best = max(selected)
    reference = selected.index(best)
    impact_groups = []
    for fraction, g in zip(selected, groups):
        impact_groups.append(
            {
                "group": g["group"],
                "ratio_to_reference": None if best == 0 else g["selection_rate"] / groups[reference]["selection_rate"],
                "passes": None if best == 0 else fraction / best >= Fraction(4, 5),
            }
        )

    return {
        "attributes": [str(name) for name in features.columns],
        "groups": groups,
        "empty_intersections": int(empty.sum()),
        "demographic_parity_difference": number(demographic_parity_difference(y_true, y_pred, **kwargs)),
        "demographic_parity_ratio": number(demographic_parity_ratio(y_true, y_pred, **kwargs)),
        "equalized_odds_difference": number(equalized_odds_difference(y_true, y_pred, **kwargs)),
        "equalized_odds_ratio": number(equalized_odds_ratio(y_true, y_pred, **kwargs)),
        "equalized_odds_difference_mean": number(equalized_odds_difference(y_true, y_pred, agg="mean", **kwargs)),
        "equalized_odds_ratio_mean": number(equalized_odds_ratio(y_true, y_pred, agg="mean", **kwargs)),
        "equal_opportunity_difference": number(equal_opportunity_difference(y_true, y_pred, **kwargs)),
        "equal_opportunity_ratio": number(equal_opportunity_ratio(y_true, y_pred, **kwargs)),
        "true_positive_rate_difference": number(differences["tpr"]),
        "true_positive_rate_ratio": number(ratios["tpr"]),
        "false_positive_rate_difference": number(differences["fpr"]),
        "false_positive_rate_ratio": number(ratios["fpr"]),
        "disparate_impact": {
            "reference_group": groups[reference]["group"],
            "ratio": None if best == 0 else min(g["selection_rate"] for g in groups) / groups[reference]["selection_rate"],
            "passes_four_fifths_rule": None if best == 0 else min(selected) / best >= Fraction(4, 5),
            "groups": impact_groups,
        },
    }


def overall(y_true, y_pred) -> dict:
    frame = MetricFrame(
        metrics={
            "count": count,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=np.zeros(len(y_true)),
    ).overall
    return {name: number(frame[name]) for name in frame.index}


def check_raw_labels_agree(labels, predictions, positive, y_true, y_pred, features):
    """Fairlearn on the raw labels with pos_label gives what it gives on the binarised ones."""
    if all(isinstance(v, (bool, np.bool_)) for v in labels):
        return
    raw = MetricFrame(
        metrics={
            "selection_rate": functools.partial(selection_rate, pos_label=positive),
            "tpr": functools.partial(true_positive_rate, pos_label=positive),
            "fpr": functools.partial(false_positive_rate, pos_label=positive),
        },
        y_true=np.asarray(labels, dtype=object),
        y_pred=np.asarray(predictions, dtype=object),
        sensitive_features=features,
    ).by_group
    binary = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=features,
    ).by_group
    pd.testing.assert_frame_equal(raw.astype(float), binary.astype(float))


def fixture(name, description, labels, predictions, positive, sensitive: dict[str, list[str]]):
    y_true = binarise(labels, positive)
    y_pred = binarise(predictions, positive)
    features = pd.DataFrame({key: pd.Series(values, dtype=object) for key, values in sensitive.items()})
    check_raw_labels_agree(labels, predictions, positive, y_true, y_pred, features)
    expected = {
        "overall": overall(y_true, y_pred),
        "intersection": disaggregation(y_true, y_pred, features),
        "by_attribute": [disaggregation(y_true, y_pred, features[[column]]) for column in features.columns],
    }
    document = {
        "description": description,
        "generated_by": "scripts/make_fairness_fixtures.py",
        "fairlearn": fairlearn.__version__,
        "scikit_learn": sklearn.__version__,
        "positive_label": positive,
        "labels": list(labels),
        "predictions": list(predictions),
        "sensitive": [{"name": key, "values": list(values)} for key, values in sensitive.items()],
        "expected": expected,
    }
    text = json.dumps(to_plain(document), allow_nan=False, separators=(",", ":"))
    (OUT / f"{name}.json").write_text(text + "\n")
    print(f"{name}: {len(labels)} rows, {len(expected['intersection']['groups'])} intersection groups")


def to_plain(value):
    """numpy scalars to Python ones, for json."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def simulate(rng, groups, label_rate, selection_bias, accuracy):
    """Labels and predictions whose rates depend on the group."""
    labels = (rng.random(len(groups)) < np.vectorize(label_rate.get)(groups)).astype(int)
    flip = rng.random(len(groups)) >= np.vectorize(accuracy.get)(groups)
    predictions = np.where(flip, 1 - labels, labels)
    extra = rng.random(len(groups)) < np.vectorize(selection_bias.get)(groups)
    predictions = np.where(extra, 1, predictions)
    return labels, predictions


def main() -> None:
    if fairlearn.__version__ != FAIRLEARN_VERSION:
        sys.exit(f"fairlearn {fairlearn.__version__} installed; the fixtures pin {FAIRLEARN_VERSION}")
    warnings.simplefilter("ignore")
    OUT.mkdir(parents=True, exist_ok=True)

    # 1. One attribute, two groups, 0/1 numbers.
    rng = np.random.default_rng(20240101)
    sex = rng.choice(["F", "M"], size=3000, p=[0.45, 0.55])
    labels, predictions = simulate(
        rng, sex, {"F": 0.35, "M": 0.4}, {"F": 0.02, "M": 0.12}, {"F": 0.85, "M": 0.8}
    )
    fixture(
        "one_attribute_numbers",
        "3000 rows, 0/1 numbers, one attribute with two groups",
        [int(v) for v in labels],
        [int(v) for v in predictions],
        1,
        {"sex": list(sex)},
    )

    # 2. Two attributes (3 x 4 values, one combination never occurs), booleans.
    rng = np.random.default_rng(20240202)
    n = 4000
    age = rng.choice(["18-40", "41-65", "66+"], size=n, p=[0.4, 0.4, 0.2])
    site = rng.choice(["A", "B", "C", "D"], size=n)
    site = np.where((age == "66+") & (site == "D"), "C", site)
    combined = np.char.add(np.char.add(age.astype(str), "/"), site.astype(str))
    keys = sorted(set(combined))
    label_rate = {k: 0.2 + 0.05 * i for i, k in enumerate(keys)}
    bias = {k: 0.01 * (i % 5) for i, k in enumerate(keys)}
    accuracy = {k: 0.7 + 0.02 * (i % 7) for i, k in enumerate(keys)}
    labels, predictions = simulate(rng, combined, label_rate, bias, accuracy)
    fixture(
        "two_attributes_booleans",
        "4000 rows, booleans, attributes age_band (3 values) and site (4 values); 66+ never at site D",
        [bool(v) for v in labels],
        [bool(v) for v in predictions],
        True,
        {"age_band": list(age), "site": list(site)},
    )

    # 3. A group without positives (TPR undefined) and one without negatives (FPR undefined).
    rng = np.random.default_rng(20240303)
    n = 2000
    ethnicity = rng.choice(["group_a", "group_b", "group_c"], size=n, p=[0.5, 0.35, 0.15])
    region = rng.choice(["north", "south"], size=n)
    region = np.where(ethnicity == "group_c", "south", region)
    labels, predictions = simulate(
        rng,
        ethnicity,
        {"group_a": 0.3, "group_b": 0.5, "group_c": 0.0},
        {"group_a": 0.05, "group_b": 0.0, "group_c": 0.1},
        {"group_a": 0.8, "group_b": 0.75, "group_c": 0.9},
    )
    labels = np.where(region == "north", 1, labels)
    fixture(
        "undefined_rates",
        "2000 rows, 0/1 numbers; ethnicity group_c has no positives, region north no negatives",
        [int(v) for v in labels],
        [int(v) for v in predictions],
        1,
        {"ethnicity": list(ethnicity), "region": list(region)},
    )

    # 4. String labels, four groups, a second attribute.
    rng = np.random.default_rng(20240404)
    n = 2500
    country = rng.choice(["DE", "FR", "JP", "US"], size=n, p=[0.3, 0.2, 0.15, 0.35])
    sex = rng.choice(["female", "male"], size=n)
    labels, predictions = simulate(
        rng,
        country,
        {"DE": 0.3, "FR": 0.45, "JP": 0.25, "US": 0.4},
        {"DE": 0.05, "FR": 0.0, "JP": 0.15, "US": 0.08},
        {"DE": 0.9, "FR": 0.7, "JP": 0.8, "US": 0.85},
    )
    words = np.array(["rejected", "approved"])
    fixture(
        "string_labels",
        "2500 rows, labels approved/rejected (positive approved), attributes country (4) and sex (2)",
        list(words[labels]),
        list(words[predictions]),
        "approved",
        {"country": list(country), "sex": list(sex)},
    )

    # 5. No false positives anywhere: the FPR ratio is 0/0 (NaN) and equalized_odds_ratio is the
    #    TPR ratio (Fairlearn's min over [tpr, nan]).
    rng = np.random.default_rng(20240505)
    n = 600
    arm = rng.choice(["placebo", "treatment"], size=n)
    labels = (rng.random(n) < np.where(arm == "placebo", 0.3, 0.5)).astype(int)
    predictions = np.where(labels == 1, (rng.random(n) < np.where(arm == "placebo", 0.6, 0.9)), 0).astype(int)
    fixture(
        "no_false_positives",
        "600 rows, 0/1 numbers, no false positive in any group: FPR ratio undefined",
        [int(v) for v in labels],
        [int(v) for v in predictions],
        1,
        {"arm": list(arm)},
    )

    # 6. No true positives anywhere (TPR ratio 0/0: equalized_odds_ratio NaN), some false ones.
    rng = np.random.default_rng(20240606)
    n = 500
    arm = rng.choice(["placebo", "treatment"], size=n)
    labels = (rng.random(n) < 0.4).astype(int)
    predictions = np.where(labels == 0, (rng.random(n) < np.where(arm == "placebo", 0.1, 0.3)), 0).astype(int)
    fixture(
        "no_true_positives",
        "500 rows, 0/1 numbers, no true positive in any group: TPR and equalized odds ratios undefined",
        [int(v) for v in labels],
        [int(v) for v in predictions],
        1,
        {"arm": list(arm)},
    )

    # 7. Nobody selected: every selection-rate ratio is 0/0.
    rng = np.random.default_rng(20240707)
    n = 300
    site = rng.choice(["A", "B", "C"], size=n)
    labels = (rng.random(n) < 0.3).astype(int)
    fixture(
        "nobody_selected",
        "300 rows, predictions all 0: selection-rate ratios undefined",
        [int(v) for v in labels],
        [0] * n,
        1,
        {"site": list(site)},
    )

    # 8. A selection-rate ratio of exactly 4/5 whose floating-point value is just below 0.8.
    low, low_n, high, high_n = boundary_counts()
    rng = np.random.default_rng(20240808)
    group = ["low"] * low_n + ["high"] * high_n
    predictions = [1] * low + [0] * (low_n - low) + [1] * high + [0] * (high_n - high)
    labels = [int(v) for v in (rng.random(low_n + high_n) < 0.5)]
    fixture(
        "four_fifths_boundary",
        f"selection rates {low}/{low_n} and {high}/{high_n}: ratio exactly 4/5, below 0.8 in floating point",
        labels,
        predictions,
        1,
        {"group": group},
    )


def boundary_counts():
    """Counts whose rate ratio is exactly 4/5 but evaluates below 0.8 in floating point."""
    for high_n in range(20, 400):
        for high in range(5, high_n, 5):
            for low_n in range(high_n, high_n + 60):
                if (4 * high * low_n) % (5 * high_n):
                    continue
                low = 4 * high * low_n // (5 * high_n)
                if (low / low_n) / (high / high_n) < 0.8:
                    return low, low_n, high, high_n
    raise SystemExit("no boundary counts found")


if __name__ == "__main__":
    main()
