#!/usr/bin/env python3
"""The reference side of the drift benchmark against Evidently's report (run by
scripts/bench_drift_report, which then runs crates/stats/benches/drift_vs_reference.rs on the same
data and prints the comparison).

1. Draws ROWS x FEATURES reference and current numerical columns with numpy (fixed seed; normal
   features, the current ones of some features shifted in location, some in scale) and writes them
   once to DIR as raw little-endian f64, column after column: reference.f64 and current.f64.
2. Times Evidently's real data drift report, end to end, once per method: for each of "ks",
   "wasserstein" (normed), "psi" and "jensenshannon", `Report([ValueDrift(column=c, method=m)
   for every column c])`, from `Dataset.from_pandas` of both tables to `report.run(current,
   reference)` returning (the report computes each column's score and renders its widgets). The
   report gives one figure per column and method: the K-S p-value, the normed Wasserstein
   distance, PSI and the Jensen-Shannon distance.
3. Times scipy directly per feature, `ks_2samp(ref, cur)` (statistic and p-value: the report keeps
   only the p-value) and `wasserstein_distance(ref, cur)` (the raw distance), and takes numpy's
   population std of the reference (Evidently's divisor).
4. Writes DIR/reference.json: the layout of the binary files, the library versions, the times
   (wall: perf_counter; CPU: process_time, every thread of the process), the machine's 1-minute
   load average before and after the timed part, and every value, as Python's shortest
   round-trip repr of the float64.

    .venv-drift/bin/python scripts/bench_drift_report.py --dir DIR [--rows N] [--features F]

Requirements (pinned as scripts/make_drift_fixtures.py): evidently==0.7.23 scipy==1.17.1 pandas==2.3.3 numpy==2.4.6
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from scipy import stats

import evidently
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift

PINNED = {"evidently": "0.7.23", "scipy": "1.17.1", "pandas": "2.3.3", "numpy": "2.4.6"}
INSTALLED = {
    "evidently": evidently.__version__,
    "scipy": scipy.__version__,
    "pandas": pd.__version__,
    "numpy": np.__version__,
}
METHODS = ["ks", "wasserstein", "psi", "jensenshannon"]
SEED = 20250101


def draw(rows: int, features: int) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Normal features; the current side of feature f shifted by 0.01 * (f % 4) standard
    deviations and, for every fifth feature, its scale 1% wider."""
    rng = np.random.default_rng(SEED)
    names = [f"f{f:02d}" for f in range(features)]
    reference = pd.DataFrame({name: rng.normal(0.0, 1.0, rows) for name in names})
    current = pd.DataFrame(
        {
            name: rng.normal(0.01 * (f % 4), 1.01 if f % 5 == 4 else 1.0, rows)
            for f, name in enumerate(names)
        }
    )
    return names, reference, current


def write_columns(path: Path, frame: pd.DataFrame, names: list[str]) -> None:
    """Column after column, little-endian f64, no header."""
    with open(path, "wb") as out:
        for name in names:
            out.write(np.ascontiguousarray(frame[name].to_numpy(), dtype="<f8").tobytes())


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> dict:
    wall, cpu = clock()
    return {"wall": wall - start[0], "cpu": cpu - start[1]}


def evidently_report(method: str, names: list[str], reference: pd.DataFrame, current: pd.DataFrame):
    """One report, one method, every column; timed end to end."""
    start = clock()
    definition = DataDefinition(numerical_columns=names)
    snapshot = Report([ValueDrift(column=name, method=method) for name in names]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    timing = since(start)
    values = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        if config["method"] != method:
            raise SystemExit(f"the report ran {config['method']} for {config['column']}, not {method}")
        values[config["column"]] = float(metric["value"])
    if sorted(values) != sorted(names):
        raise SystemExit(f"the {method} report holds {sorted(values)}, not every column")
    return timing, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="where the data and reference.json go")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if INSTALLED != PINNED:
        raise SystemExit(f"installed {INSTALLED}, pinned {PINNED}")
    args.dir.mkdir(parents=True, exist_ok=True)

    start = clock()
    names, reference, current = draw(args.rows, args.features)
    write_columns(args.dir / "reference.f64", reference, names)
    write_columns(args.dir / "current.f64", current, names)
    print(
        f"== {args.rows} rows x {args.features} features drawn and written to {args.dir} "
        f"({since(start)['wall']:.1f} s)",
        flush=True,
    )

    document: dict = {
        "rows": args.rows,
        "features": args.features,
        "columns": names,
        "seed": SEED,
        "files": {"reference": "reference.f64", "current": "current.f64"},
        "layout": "each file: the columns one after the other, rows little-endian float64",
        "libraries": INSTALLED,
        "python": platform.python_version(),
        "evidently": {
            "report": "Report([ValueDrift(column=c, method=m) for c in columns]).run(current, reference), "
            "Dataset.from_pandas of both tables included",
            "times": {},
            "values": {},
        },
    }
    document["load_average_1min"] = {"before": os.getloadavg()[0]}
    for method in METHODS:
        timing, values = evidently_report(method, names, reference, current)
        document["evidently"]["times"][method] = timing
        document["evidently"]["values"][method] = values
        print(f"== Evidently report, {method}: {timing['wall']:.1f} s wall, {timing['cpu']:.1f} s CPU", flush=True)

    scipy_values: dict = {"ks_statistic": {}, "ks_p_value": {}, "wasserstein_distance": {}, "reference_std": {}}
    scipy_times = {"ks_2samp": {"wall": 0.0, "cpu": 0.0}, "wasserstein_distance": {"wall": 0.0, "cpu": 0.0}}
    for name in names:
        ref, cur = reference[name].to_numpy(), current[name].to_numpy()
        start = clock()
        ks = stats.ks_2samp(ref, cur)
        for key, value in since(start).items():
            scipy_times["ks_2samp"][key] += value
        start = clock()
        distance = stats.wasserstein_distance(ref, cur)
        for key, value in since(start).items():
            scipy_times["wasserstein_distance"][key] += value
        scipy_values["ks_statistic"][name] = float(ks.statistic)
        scipy_values["ks_p_value"][name] = float(ks.pvalue)
        scipy_values["wasserstein_distance"][name] = float(distance)
        scipy_values["reference_std"][name] = float(np.std(ref))
    document["scipy"] = {"times": scipy_times, "values": scipy_values}
    document["load_average_1min"]["after"] = os.getloadavg()[0]
    print(
        f"== scipy ks_2samp {scipy_times['ks_2samp']['wall']:.1f} s, wasserstein_distance "
        f"{scipy_times['wasserstein_distance']['wall']:.1f} s wall",
        flush=True,
    )

    path = args.dir / "reference.json"
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    print(f"== {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
