"""Simulate a trial with therapists (subjects nested in therapists, therapists nested in arms), four visits, a
baseline and MAR dropout, for the therapist random intercept + residual covariance reference (therapist_reference.R);
the CSV is committed.

    /work/venv/bin/python tests/reference/mmrm/make_therapist.py     (writes therapist.csv)
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def simulate(n_therapists: int = 24, per_therapist: int = 10, seed: int = 27) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_therapists * per_therapist
    therapist = np.repeat(np.arange(n_therapists), per_therapist)
    arm = np.where(therapist % 2 == 0, "massage", "usual_care")
    u = rng.normal(0.0, 1.2, n_therapists)[therapist]  # therapist effect
    baseline = rng.normal(12.0, 3.0, n)
    T = 4
    sd = np.array([3.0, 3.4, 3.8, 4.2])
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    corr = 0.6**lag
    err = rng.multivariate_normal(np.zeros(T), corr * np.outer(sd, sd), n)
    effect = (arm == "massage")[:, None] * np.array([-1.0, -2.0, -2.5, -2.0])
    mean = 4.0 + 0.6 * baseline[:, None] - np.arange(T) * 0.5 + effect
    y = mean + u[:, None] + err
    keep = np.ones((n, T), dtype=bool)
    for j in range(1, T):
        keep[:, j] = keep[:, j - 1] & (rng.random(n) > 0.1 / (1.0 + np.exp(-(y[:, j - 1] - 10.0) / 2.0)))
    frame = pd.DataFrame({
        "subject": np.repeat([f"P{i:03d}" for i in range(n)], T), "therapist": np.repeat([f"T{t:02d}" for t in therapist], T),
        "arm": np.repeat(arm, T), "visit": np.tile([f"week_{w}" for w in (2, 4, 8, 12)], n),
        "visit_index": np.tile(np.arange(1, T + 1), n), "baseline": np.round(np.repeat(baseline, T), 4),
        "value": np.round(y.reshape(-1), 4),
    })
    return frame[keep.reshape(-1)].reset_index(drop=True)


if __name__ == "__main__":
    d = simulate()
    d.to_csv(HERE / "therapist.csv", index=False)
    print(len(d), "rows,", d["subject"].nunique(), "subjects,", d["therapist"].nunique(), "therapists")
