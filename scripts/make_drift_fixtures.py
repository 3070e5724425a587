#!/usr/bin/env python3
"""Writes the drift and performance fixtures of crates/stats/tests/fixtures/drift/ with the real
scipy, Evidently and scikit-learn.

Each drift fixture holds a seeded data set (columns of a reference and a current table, numbers
with NaN and infinities written as the strings "nan", "inf" and "-inf", categories with missing
cells as null) and, for every column, what the reference implementations compute from it:

- scipy: `ks_2samp(ref, cur)` (method "auto": exact or asymptotic), `wasserstein_distance`;
- Evidently's own stattest functions (legacy/calculations/stattests): the normed Wasserstein
  distance, PSI and Jensen-Shannon with the bins of `get_binned_data` (shares, and the Sturges
  edges from numpy's `histogram_bin_edges` when the reference has more than 20 distinct values),
  chi-square and the two-proportion Z-test where they apply;
- Evidently's default test for the column (`get_stattest(..., None)`): its name, score, threshold
  and drift flag;
- Evidently's DataDriftPreset run as a Report: each column's ValueDrift (method, threshold,
  score) and the DriftedColumnsCount (count and share, dataset drift at share >= 0.5).

Columns are cleaned as Evidently's `get_one_column_drift` cleans them (infinities become NaN,
NaN dropped) before scipy is called. The performance fixtures hold labels, predictions, scores
and scikit-learn's accuracy, precision, recall, F1 and ROC AUC (binary) and MAE, RMSE and R2
(`zero_division=np.nan`, `force_finite=False`, and undefined results written as null).

crates/stats/tests/drift.rs and crates/stats/tests/performance.rs compare modeltrail's figures
with these. The fixtures are committed: the Rust tests need no Python. To regenerate them:

    python3 -m venv /tmp/venv-drift
    /tmp/venv-drift/bin/pip install evidently==0.7.23 scipy==1.17.1 scikit-learn==1.9.1 pandas==2.3.3 numpy==2.4.6
    /tmp/venv-drift/bin/python scripts/make_drift_fixtures.py

(Evidently 0.7.23 does not import with pandas 3.)

Requirements (pinned): evidently==0.7.23 scipy==1.17.1 scikit-learn==1.9.1 pandas==2.3.3 numpy==2.4.6
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
import sklearn.metrics as skm
from scipy import stats

import evidently
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.registry import get_stattest
from evidently.legacy.calculations.stattests.utils import get_binned_data
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
from evidently.legacy.core import ColumnType
from evidently.presets import DataDriftPreset

PINNED = {
    "evidently": "0.7.23",
    "scipy": "1.17.1",
    "scikit-learn": "1.9.1",
    "pandas": "2.3.3",
    "numpy": "2.4.6",
}
INSTALLED = {
    "evidently": evidently.__version__,
    "scipy": scipy.__version__,
    "scikit-learn": sklearn.__version__,
    "pandas": pd.__version__,
    "numpy": np.__version__,
}
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/stats/tests/fixtures/drift"


def number(value) -> float | None:
    """A float for JSON; NaN (undefined) as null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def cell(value):
    """A numeric cell for JSON: non-finite values as strings."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def plain(value):
    """The document for JSON: non-finite floats anywhere written as "nan", "inf" or "-inf"."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return cell(value)
    return value


def category(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def clean(series: pd.Series) -> pd.Series:
    """As Evidently's get_one_column_drift: infinities become NaN, NaN are dropped."""
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def attempt(function):
    """The result of a reference call, or the error it raised (written down, not hidden)."""
    try:
        return function(), None
    except Exception as error:  # noqa: BLE001 - every failure is recorded in the fixture
        return None, f"{type(error).__name__}: {error}"


def numeric_expected(ref: pd.Series, cur: pd.Series) -> dict:
    ref_c, cur_c = clean(ref), clean(cur)
    out: dict = {
        "reference_rows": int(ref_c.shape[0]),
        "current_rows": int(cur_c.shape[0]),
        "n_unique": int(pd.concat([ref_c, cur_c]).nunique()),
        "reference_n_unique": int(ref_c.nunique()),
    }
    ks = stats.ks_2samp(ref_c.to_numpy(), cur_c.to_numpy())
    n1, n2 = len(ref_c), len(cur_c)
    out["ks"] = {
        "statistic": float(ks.statistic),
        "p_value": float(ks.pvalue),
        "method": "exact" if max(n1, n2) <= 10000 else "asymptotic",
    }
    out["wasserstein"] = float(stats.wasserstein_distance(ref_c.to_numpy(), cur_c.to_numpy()))
    out["reference_std"] = float(np.std(ref_c))
    value, drifted = _wasserstein_distance_norm(ref_c, cur_c, ColumnType.Numerical, 0.1)
    out["wasserstein_norm"] = {"value": float(value), "drifted": bool(drifted)}
    out["bins"] = binned(ref_c, cur_c, ColumnType.Numerical)
    value, drifted = _psi(ref_c, cur_c, ColumnType.Numerical, 0.1)
    out["psi"] = {"value": float(value), "drifted": bool(drifted)}
    value, drifted = _jensenshannon(ref_c, cur_c, ColumnType.Numerical, 0.1)
    out["jensen_shannon"] = {"value": float(value), "drifted": bool(drifted)}
    if out["n_unique"] <= 5:
        discrete(out, ref_c, cur_c, ColumnType.Numerical)
    default(out, ref_c, cur_c, ColumnType.Numerical)
    return out


def categorical_expected(ref: pd.Series, cur: pd.Series) -> dict:
    ref_c, cur_c = clean(ref), clean(cur)
    out: dict = {
        "reference_rows": int(ref_c.shape[0]),
        "current_rows": int(cur_c.shape[0]),
        "n_unique": int(pd.concat([ref_c, cur_c]).nunique()),
        "reference_n_unique": int(ref_c.nunique()),
    }
    out["bins"] = binned(ref_c, cur_c, ColumnType.Categorical)
    value, drifted = _psi(ref_c, cur_c, ColumnType.Categorical, 0.1)
    out["psi"] = {"value": float(value), "drifted": bool(drifted)}
    value, drifted = _jensenshannon(ref_c, cur_c, ColumnType.Categorical, 0.1)
    out["jensen_shannon"] = {"value": float(value), "drifted": bool(drifted)}
    discrete(out, ref_c, cur_c, ColumnType.Categorical)
    default(out, ref_c, cur_c, ColumnType.Categorical)
    return out


def binned(ref: pd.Series, cur: pd.Series, kind: ColumnType) -> dict:
    """Evidently's bins: the shares of each side (before and after its zero fill) by bin key."""
    raw_ref, raw_cur = get_binned_data(ref, cur, kind, 30, False)
    filled_ref, filled_cur = get_binned_data(ref, cur, kind, 30, True)
    if kind == ColumnType.Numerical and ref.nunique() > 20:
        combined = np.asarray(pd.concat([ref, cur], axis=0).values)
        edges = np.histogram_bin_edges(combined, bins="sturges")
        return {
            "rule": "sturges",
            "edges": [float(e) for e in edges],
            "reference_shares": [float(v) for v in raw_ref],
            "current_shares": [float(v) for v in raw_cur],
            "reference_filled": [float(v) for v in filled_ref],
            "current_filled": [float(v) for v in filled_cur],
        }
    # One bin per value: Evidently's order is a set's; written here in sorted order.
    keys = list(set(ref.dropna().unique()) | set(cur.dropna().unique()))
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    key = (lambda k: float(k)) if kind == ColumnType.Numerical else (lambda k: str(k))
    return {
        "rule": "values",
        "keys": [key(keys[i]) for i in order],
        "reference_shares": [float(raw_ref[i]) for i in order],
        "current_shares": [float(raw_cur[i]) for i in order],
        "reference_filled": [float(filled_ref[i]) for i in order],
        "current_filled": [float(filled_cur[i]) for i in order],
    }


def discrete(out: dict, ref: pd.Series, cur: pd.Series, kind: ColumnType) -> None:
    result, error = attempt(lambda: _chi_stat_test(ref, cur, kind, 0.05))
    out["chi_square"] = (
        {"p_value": float(result[0]), "drifted": bool(result[1])} if error is None else {"error": error}
    )
    if out["n_unique"] <= 2:
        result, error = attempt(lambda: _z_stat_test(ref, cur, kind, 0.05))
        out["z"] = {"p_value": float(result[0]), "drifted": bool(result[1])} if error is None else {"error": error}


def default(out: dict, ref: pd.Series, cur: pd.Series, kind: ColumnType) -> None:
    test = get_stattest(ref, cur, kind, None)
    result = test(ref, cur, kind, None)
    out["default"] = {
        "test": test.name,
        "score": float(result.drift_score),
        "threshold": float(result.actual_threshold),
        "drifted": bool(result.drifted),
    }


def preset(reference: pd.DataFrame, current: pd.DataFrame, numerical: list, categorical: list) -> dict:
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    out: dict = {"columns": {}}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            out["drifted_columns"] = int(metric["value"]["count"])
            out["share"] = float(metric["value"]["share"])
            out["drift_share"] = float(config["drift_share"])
            out["dataset_drift"] = bool(metric["value"]["share"] >= config["drift_share"])
        elif config["type"].endswith("ValueDrift"):
            out["columns"][config["column"]] = {
                "method": config["method"],
                "threshold": float(config["threshold"]),
                "score": float(metric["value"]),
            }
    return out


def drift_fixture(name: str, description: str, reference: pd.DataFrame, current: pd.DataFrame,
                  numerical: list, categorical: list, run_preset: bool = True) -> None:
    columns = []
    for column in numerical:
        columns.append({
            "name": column,
            "kind": "numerical",
            "reference": [cell(v) for v in reference[column]],
            "current": [cell(v) for v in current[column]],
            "expected": numeric_expected(reference[column], current[column]),
        })
    for column in categorical:
        columns.append({
            "name": column,
            "kind": "categorical",
            "reference": [category(v) for v in reference[column]],
            "current": [category(v) for v in current[column]],
            "expected": categorical_expected(reference[column], current[column]),
        })
    document = {
        "description": description,
        "libraries": INSTALLED,
        "columns": columns,
        "preset": preset(reference, current, numerical, categorical) if run_preset else None,
    }
    text = json.dumps(plain(document), allow_nan=False, separators=(",", ":"))
    (OUT / f"{name}.json").write_text(text + "\n")
    print(f"{name}: {len(text) // 1024} KiB")


def normal(rng, n, loc=0.0, scale=1.0, decimals=4):
    return np.round(rng.normal(loc, scale, n), decimals)


def sprinkle(rng, values: np.ndarray, nan: int, pos_inf: int, neg_inf: int) -> np.ndarray:
    values = values.astype(float).copy()
    spots = rng.choice(len(values), nan + pos_inf + neg_inf, replace=False)
    values[spots[:nan]] = np.nan
    values[spots[nan:nan + pos_inf]] = np.inf
    values[spots[nan + pos_inf:]] = -np.inf
    return values


def drift_fixtures() -> None:
    # Small samples, sizes differ: exact KS (the inside method), chi-square and Z on categories.
    rng = np.random.default_rng(20250101)
    ref = pd.DataFrame({
        "glucose": normal(rng, 300, 5.5, 1.2),
        "glucose_shifted": normal(rng, 300, 5.5, 1.2),
        "arm": rng.choice(["placebo", "10 mg", "20 mg"], 300, p=[0.4, 0.3, 0.3]),
        "sex": rng.choice(["F", "M"], 300),
        "site": rng.choice(["A", "B", "C", "D"], 300),
    })
    cur = pd.DataFrame({
        "glucose": normal(rng, 200, 5.5, 1.2),
        "glucose_shifted": normal(rng, 200, 6.3, 1.2),
        "arm": rng.choice(["placebo", "10 mg", "20 mg"], 200, p=[0.2, 0.4, 0.4]),
        "sex": rng.choice(["F", "M"], 200, p=[0.7, 0.3]),
        "site": rng.choice(["A", "B", "C", "E"], 200),  # D gone, E new
    })
    drift_fixture("small_exact", "300 vs 200 rows: exact KS, chi-square, Z-test, a category on one side only",
                  ref, cur, ["glucose", "glucose_shifted"], ["arm", "sex", "site"])

    # Equal sizes and many ties: the exact KS for n1 == n2; few-valued numbers; NaN and infinities.
    rng = np.random.default_rng(20250202)
    ref = pd.DataFrame({
        "score": np.round(rng.normal(0, 1, 500), 1),
        "grade": rng.choice([1.0, 2.0, 3.0, 4.0], 500),
        "flag": rng.choice([0.0, 1.0], 500, p=[0.8, 0.2]),
        "dose": sprinkle(rng, np.round(rng.uniform(0, 50, 500), 2), 7, 3, 2),
        "constant": np.full(500, 7.0),
    })
    cur = pd.DataFrame({
        "score": np.round(rng.normal(0.05, 1, 500), 1),
        "grade": rng.choice([1.0, 2.0, 3.0, 5.0], 500),
        "flag": rng.choice([0.0, 1.0], 500, p=[0.7, 0.3]),
        "dose": sprinkle(rng, np.round(rng.uniform(0, 55, 500), 2), 5, 0, 4),
        "constant": np.full(500, 7.0),
    })
    drift_fixture("equal_sizes_ties", "500 vs 500 rows, rounded values (ties), 4- and 2-valued numbers, "
                  "NaN and infinities, a constant column", ref, cur,
                  ["score", "grade", "flag", "dose", "constant"], [])

    # Identical data on both sides.
    rng = np.random.default_rng(20250303)
    same = pd.DataFrame({
        "x": normal(rng, 400),
        "c": rng.choice(["a", "b", "c"], 400),
        "b": rng.choice(["yes", "no"], 400),
    })
    drift_fixture("identical", "the same 400 rows on both sides", same, same.copy(), ["x"], ["c", "b"])

    # Larger exact case: 1000 vs 9000 rows (sizes with a common divisor), strongly shifted too.
    rng = np.random.default_rng(20250404)
    ref = pd.DataFrame({"a": normal(rng, 1000, decimals=3), "b": normal(rng, 1000, decimals=3)})
    cur = pd.DataFrame({"a": normal(rng, 9000, 0.05, decimals=3), "b": normal(rng, 9000, 0.6, 1.3, decimals=3)})
    drift_fixture("exact_large", "1000 vs 9000 rows: exact KS with sizes sharing a divisor", ref, cur, ["a", "b"], [])

    # Asymptotic KS: the current side has more than 10,000 rows.
    rng = np.random.default_rng(20250505)
    ref = pd.DataFrame({
        "near": normal(rng, 900, decimals=3),
        "mild": normal(rng, 900, decimals=3),
        "far": normal(rng, 900, decimals=3),
    })
    cur = pd.DataFrame({
        "near": normal(rng, 12000, 0.02, decimals=3),
        "mild": normal(rng, 12000, 0.12, decimals=3),
        "far": normal(rng, 12000, 0.9, decimals=3),
    })
    drift_fixture("asymptotic", "900 vs 12000 rows: asymptotic KS (kstwo) at small, middling and large distances",
                  ref, cur, ["near", "mild", "far"], [])

    # Asymptotic KS with a small effective size (n <= 140): Durbin matrix, Pomeranz, Smirnov.
    rng = np.random.default_rng(20250606)
    ref = pd.DataFrame({f"v{i}": normal(rng, 120, decimals=3) for i in range(5)})
    cur = pd.DataFrame({
        f"v{i}": normal(rng, 10500, shift, decimals=3) for i, shift in enumerate([0.0, 0.08, 0.2, 0.35, 0.8])
    })
    drift_fixture("asymptotic_small_n", "120 vs 10500 rows: kstwo with n = 119 across its methods",
                  ref, cur, [f"v{i}" for i in range(5)], [])

    # Large reference (> 1000 rows): Wasserstein and Jensen-Shannon by default; Sturges bins;
    # value bins for a 12-valued number; categories missing on either side (PSI zero fill).
    rng = np.random.default_rng(20250707)
    ref = pd.DataFrame({
        "weight": normal(rng, 3000, 75, 12, decimals=2),
        "weight_shifted": normal(rng, 3000, 75, 12, decimals=2),
        "visits": rng.integers(0, 12, 3000).astype(float),
        "stage": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], 3000),
        "country": rng.choice(["DE", "FR", "IT", "ES", "PL"], 3000),
        "smoker": rng.choice(["yes", "no"], 3000, p=[0.25, 0.75]),
        "lab": sprinkle(rng, normal(rng, 3000, 1.0, 0.2), 30, 5, 5),
    })
    cur = pd.DataFrame({
        "weight": normal(rng, 2500, 75.5, 12, decimals=2),
        "weight_shifted": normal(rng, 2500, 80, 14, decimals=2),
        "visits": rng.integers(2, 14, 2500).astype(float),
        "stage": rng.choice([1.0, 2.0, 3.0, 4.0], 2500, p=[0.1, 0.2, 0.3, 0.4]),
        "country": rng.choice(["DE", "FR", "IT", "NL"], 2500),
        "smoker": rng.choice(["yes", "no"], 2500, p=[0.4, 0.6]),
        "lab": sprinkle(rng, normal(rng, 2500, 1.0, 0.2), 10, 0, 0),
    })
    drift_fixture("large_reference", "3000 vs 2500 rows: Wasserstein and Jensen-Shannon defaults, Sturges and "
                  "value bins, categories on one side only", ref, cur,
                  ["weight", "weight_shifted", "visits", "stage", "lab"], ["country", "smoker"])

    # Tiny shares: a category seen once in 20,000 reference rows (share 5e-5 <= 1e-4), so PSI
    # fills the other side's empty bins with the smallest share / 10^6.
    rng = np.random.default_rng(20250808)
    ref_codes = rng.choice(["common", "usual", "frequent"], 20000)
    ref_codes[123] = "rare"
    cur_codes = rng.choice(["common", "usual", "frequent", "novel"], 3000, p=[0.3, 0.3, 0.3999, 0.0001])
    cur_codes[7] = "novel"
    ref = pd.DataFrame({"code": ref_codes, "value": normal(rng, 20000, decimals=3)})
    cur = pd.DataFrame({"code": cur_codes, "value": normal(rng, 3000, 0.3, decimals=3)})
    drift_fixture("tiny_shares", "20000 vs 3000 rows: a category seen once (PSI's smallest-share fill)",
                  ref, cur, ["value"], ["code"])

    # A dataset whose share of drifted columns is exactly 0.5 (dataset drift, >=).
    rng = np.random.default_rng(20250909)
    ref = pd.DataFrame({
        "a": normal(rng, 600), "b": normal(rng, 600), "c": normal(rng, 600), "d": normal(rng, 600),
    })
    cur = pd.DataFrame({
        "a": normal(rng, 500, 1.0), "b": normal(rng, 500, 1.0), "c": normal(rng, 500), "d": normal(rng, 500),
    })
    drift_fixture("half_drifted", "four columns, two shifted: share 0.5 is dataset drift", ref, cur,
                  ["a", "b", "c", "d"], [])


def classification(name: str, y_true, y_pred, scores) -> dict:
    y_true, y_pred, scores = np.asarray(y_true), np.asarray(y_pred), np.asarray(scores, dtype=float)
    out = {
        "name": name,
        "labels": [bool(v) for v in y_true],
        "predictions": [bool(v) for v in y_pred],
        "scores": [float(v) for v in scores],
        "accuracy": number(skm.accuracy_score(y_true, y_pred)),
        "precision": number(skm.precision_score(y_true, y_pred, zero_division=np.nan)),
        "recall": number(skm.recall_score(y_true, y_pred, zero_division=np.nan)),
        "f1": number(skm.f1_score(y_true, y_pred, zero_division=np.nan)),
        "precision_default": number(skm.precision_score(y_true, y_pred)),
        "recall_default": number(skm.recall_score(y_true, y_pred)),
        "f1_default": number(skm.f1_score(y_true, y_pred)),
    }
    result, error = attempt(lambda: skm.roc_auc_score(y_true, scores))
    out["roc_auc"] = number(result)
    out["roc_auc_error"] = error
    return out


def regression(name: str, y_true, y_pred) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {
        "name": name,
        "labels": [float(v) for v in y_true],
        "predictions": [float(v) for v in y_pred],
        "mae": number(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": number(skm.root_mean_squared_error(y_true, y_pred)),
        "r2": number(skm.r2_score(y_true, y_pred, force_finite=False)),
        "r2_default": number(skm.r2_score(y_true, y_pred)),
    }


def performance_fixtures() -> None:
    rng = np.random.default_rng(20251010)
    n = 2000
    y = rng.random(n) < 0.3
    scores = np.clip(np.round(0.3 * y + rng.normal(0.35, 0.2, n), 2), 0, 1)  # rounded: many ties
    cases = [
        classification("typical_with_ties", y, scores >= 0.5, scores),
        classification("all_scores_tied", y[:50], y[:50], np.full(50, 0.5)),
        classification("no_predicted_positives", y[:100], np.zeros(100, bool), scores[:100]),
        classification("no_actual_positives", np.zeros(40, bool), rng.random(40) < 0.2, rng.random(40)),
        classification("perfect", y[:60], y[:60], y[:60].astype(float)),
        classification("inverted", y[:60], ~y[:60], 1.0 - y[:60].astype(float)),
        classification("nothing_positive", np.zeros(30, bool), np.zeros(30, bool), rng.random(30)),
    ]
    truth = np.round(rng.normal(10, 3, 1500), 3)
    regressions = [
        regression("typical", truth, np.round(truth + rng.normal(0.2, 1.5, 1500), 3)),
        regression("constant_truth_perfect", np.full(20, 4.0), np.full(20, 4.0)),
        regression("constant_truth_off", np.full(20, 4.0), np.round(4 + rng.normal(0, 1, 20), 3)),
        regression("one_row", [3.0], [2.5]),
        regression("large_values", truth * 1e6, np.round(truth + rng.normal(0, 0.01, 1500), 3) * 1e6),
    ]
    document = {"libraries": INSTALLED, "classification": cases, "regression": regressions}
    text = json.dumps(plain(document), allow_nan=False, separators=(",", ":"))
    (OUT / "performance.json").write_text(text + "\n")
    print(f"performance: {len(text) // 1024} KiB")


def main() -> None:
    if INSTALLED != PINNED:
        sys.exit(f"installed {INSTALLED}; the fixtures pin {PINNED}")
    warnings.simplefilter("ignore")
    OUT.mkdir(parents=True, exist_ok=True)
    drift_fixtures()
    performance_fixtures()


if __name__ == "__main__":
    main()
