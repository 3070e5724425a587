#!/usr/bin/env python3
"""Times the reference implementations on the drift benchmark's shape (crates/stats/benches/drift.rs):
1,000,000 reference and 1,000,000 current rows of normal features, scipy's ks_2samp and
wasserstein_distance and Evidently's own PSI and Jensen-Shannon stattest functions per feature.
The values are drawn with numpy (same distributions as the Rust benchmark, not the same numbers);
the times are per feature and extrapolated to FEATURES features.

    /tmp/venv-drift/bin/python scripts/bench_drift_reference.py [features_to_time]

Requirements (pinned as scripts/make_drift_fixtures.py): evidently==0.7.23 scipy==1.17.1 pandas==2.3.3 numpy==2.4.6
"""

import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.core import ColumnType

ROWS = 1_000_000
FEATURES = 20


def main() -> None:
    warnings.simplefilter("ignore")
    timed = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rng = np.random.default_rng(20250101)
    total = 0.0
    for feature in range(timed):
        ref = pd.Series(rng.normal(0, 1, ROWS))
        cur = pd.Series(rng.normal(0.01 * (feature % 4), 1, ROWS))
        start = time.perf_counter()
        stats.ks_2samp(ref.to_numpy(), cur.to_numpy())
        stats.wasserstein_distance(ref.to_numpy(), cur.to_numpy())
        _psi(ref, cur, ColumnType.Numerical, 0.1)
        _jensenshannon(ref, cur, ColumnType.Numerical, 0.1)
        elapsed = time.perf_counter() - start
        total += elapsed
        print(f"feature {feature}: {elapsed:.2f} s")
    print(f"per feature {total / timed:.2f} s; {FEATURES} features (extrapolated): {total / timed * FEATURES:.1f} s")


if __name__ == "__main__":
    main()
