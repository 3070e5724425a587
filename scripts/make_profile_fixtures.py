#!/usr/bin/env python3
"""Writes the data-profile test fixtures of crates/stats/tests/fixtures/ with pandas and pyarrow.

One small clinical-looking dataset is written twice, as CSV (pandas' `to_csv`) and as
Snappy-compressed Parquet (pyarrow, small row groups), and pandas' own figures for it go to
profile_expected.json: what `modeltrail_stats::profile` must reproduce to 1e-9. The figures are
pandas' reading of the CSV file (`pd.read_csv` with its defaults), so they are what pandas says
about exactly the bytes the tests read. Two more Parquet files are made to be refused: one
Zstandard-compressed, one with a list column.

Run from the repository root (needs pandas and pyarrow, e.g. in a virtualenv):

    python3 -m venv /tmp/venv-fixtures
    /tmp/venv-fixtures/bin/pip install pandas pyarrow
    /tmp/venv-fixtures/bin/python scripts/make_profile_fixtures.py
"""

import datetime
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas._libs.parsers import STR_NA_VALUES

FIXTURES = Path(__file__).resolve().parent.parent / "crates" / "stats" / "tests" / "fixtures"
ROWS = 240
QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
TOP_CATEGORIES = 20

# The type modeltrail must report for each column (pandas' dtypes differ where values are missing:
# it reads an integer column with gaps as float64, a boolean one with gaps as object).
EXPECTED_TYPES = {
    "subject_id": "integer",
    "age": "integer",
    "weight_kg": "number",
    "lab_value": "number",
    "score32": "number",
    "site": "string",
    "arm": "string",
    "smoker": "boolean",
    "visit_date": "string",
    "visit_time": "string",
    "enrolled": "string",
    "dosed_at": "string",
    "recorded_utc": "string",
    "dose_time": "string",
}


def with_gaps(values, rng, rate):
    """The values with about `rate` of them replaced by None."""
    return [None if rng.random() < rate else value for value in values]


def make_frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240131)
    sites = [f"site-{n:02d}" for n in range(1, 26)]
    # Uneven site weights so that some counts tie and the top 20 of 25 is a real cut.
    weights = np.array([8, 8, 7, 7, 7, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1])
    arms = ["placebo", "drug, 10 mg", 'drug "A"', "drug B\nhigh dose"]
    start = datetime.date(2023, 1, 1)
    frame = pd.DataFrame(
        {
            "subject_id": np.arange(1, ROWS + 1, dtype="int64"),
            "age": pd.array(with_gaps(rng.integers(18, 91, ROWS).tolist(), rng, 0.05), dtype="Int64"),
            "weight_kg": with_gaps(np.round(rng.normal(78, 14, ROWS), 1).tolist(), rng, 0.04),
            "lab_value": with_gaps(rng.lognormal(0.2, 0.9, ROWS).tolist(), rng, 0.03),
            "score32": np.round(rng.uniform(0, 1, ROWS), 3).astype("float32"),
            "site": with_gaps(rng.choice(sites, ROWS, p=weights / weights.sum()).tolist(), rng, 0.05),
            "arm": rng.choice(arms, ROWS).tolist(),
            "smoker": pd.array(with_gaps(rng.random(ROWS) < 0.3, rng, 0.1), dtype="boolean"),
            "visit_date": [start + datetime.timedelta(days=int(d)) for d in rng.integers(0, 400, ROWS)],
            "visit_time": pd.to_datetime("2023-01-01 08:00:00")
            + pd.to_timedelta(rng.integers(0, 400 * 86400, ROWS), unit="s"),
            # Timestamps all at midnight: pandas writes the dates alone.
            "enrolled": pd.to_datetime("2022-06-01") + pd.to_timedelta(rng.integers(0, 200, ROWS), unit="D"),
            # Quarter seconds: pandas writes three fraction digits on every value.
            "dosed_at": pd.to_datetime("2023-02-01 09:00:00")
            + pd.to_timedelta(rng.integers(0, 4 * 86400 * 30, ROWS) * 250, unit="ms"),
            "recorded_utc": (
                pd.to_datetime("2023-03-01") + pd.to_timedelta(rng.integers(0, 86400 * 90, ROWS), unit="s")
            ).tz_localize("UTC"),
            "dose_time": [
                datetime.time(int(s) // 3600, int(s) // 60 % 60, int(s) % 60, 500000 * int(h))
                for s, h in zip(rng.integers(0, 86400, ROWS), rng.integers(0, 2, ROWS))
            ],
        }
    )
    frame["weight_kg"] = frame["weight_kg"].astype("float64")
    frame["lab_value"] = frame["lab_value"].astype("float64")
    # Exact duplicates of earlier rows: row 3 twice more, rows 10, 11 and 50 once more.
    duplicates = frame.iloc[[3, 3, 10, 11, 50]]
    return pd.concat([frame, duplicates], ignore_index=True)


def finite(value) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite figure, got {value}")
    return value


def numeric_figures(series: pd.Series) -> dict:
    values = series.dropna().astype("float64")
    figures = {
        "count": int(values.count()),
        "min": finite(values.min()),
        "max": finite(values.max()),
        "mean": finite(values.mean()),
        "std": finite(values.std(ddof=1)),
    }
    for name, q in QUANTILES.items():
        figures[name] = finite(values.quantile(q))
    return figures


def category_label(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def category_figures(series: pd.Series) -> dict:
    counts = series.dropna().map(category_label).value_counts()
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    top = [{"value": value, "count": int(count)} for value, count in ordered[:TOP_CATEGORIES]]
    other = int(counts.sum()) - sum(entry["count"] for entry in top)
    return {"top": top, "other": other}


def expected_profile(frame: pd.DataFrame) -> dict:
    rows = len(frame)
    columns = []
    for name in frame.columns:
        series = frame[name]
        kind = EXPECTED_TYPES[name]
        column = {
            "name": name,
            "type": kind,
            "missing": int(series.isna().sum()),
            "missing_rate": float(series.isna().sum()) / rows,
            "distinct": int(series.nunique(dropna=True)),
        }
        if kind in ("integer", "number"):
            column["numeric"] = numeric_figures(series)
        else:
            column["categories"] = category_figures(series)
        columns.append(column)
    return {
        "rows": rows,
        "duplicate_rows": int(frame.duplicated().sum()),
        "columns": columns,
    }


def write_refused_parquet() -> None:
    small = pa.table({"x": [1, 2, 3]})
    pq.write_table(small, FIXTURES / "profile_zstd.parquet", compression="zstd")
    nested = pa.table({"id": [1, 2], "doses": [[1.0, 2.0], [3.0]]})
    pq.write_table(nested, FIXTURES / "profile_nested.parquet", compression="snappy")


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    frame = make_frame()
    csv_path = FIXTURES / "profile_data.csv"
    parquet_path = FIXTURES / "profile_data.parquet"
    frame.to_csv(csv_path, index=False, lineterminator="\n")
    frame.to_parquet(
        parquet_path, engine="pyarrow", compression="snappy", index=False, row_group_size=100
    )
    as_read = pd.read_csv(csv_path)
    expected = expected_profile(as_read)
    expected["pandas_version"] = pd.__version__
    expected["na_spellings"] = sorted(STR_NA_VALUES)
    with open(FIXTURES / "profile_expected.json", "w", encoding="utf-8") as out:
        json.dump(expected, out, indent=1, ensure_ascii=False)
        out.write("\n")
    write_refused_parquet()
    print(f"wrote {len(frame)} rows to {csv_path.name} and {parquet_path.name}")


if __name__ == "__main__":
    main()
