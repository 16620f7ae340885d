"""Simulate a data set shaped like mmrm's ``fev_data`` (two arms, four visits, race and sex, a baseline, MAR
dropout and intermittent gaps) for the mmrm 0.3.18 references; the CSV is committed. Nothing is taken from
mmrm's own data: the numbers come from this seeded simulation.

    /work/venv/bin/python tests/reference/mmrm/make_fev_like.py     (writes fev_like.csv)
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def simulate(n_subjects: int = 200, n_visits: int = 4, seed: int = 20261204) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visits = [f"VIS{j + 1}" for j in range(n_visits)]
    arm = rng.choice(["PBO", "TRT"], n_subjects)
    race = rng.choice(["Asian", "Black", "White"], n_subjects, p=[0.3, 0.3, 0.4])
    sex = rng.choice(["Female", "Male"], n_subjects)
    baseline = rng.normal(40.0, 8.0, n_subjects)
    sd = np.linspace(6.0, 9.0, n_visits)
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    corr = 0.35 + 0.4 * 0.7**lag  # neither CS nor AR(1): every structure is an approximation but us
    np.fill_diagonal(corr, 1.0)
    err = rng.multivariate_normal(np.zeros(n_visits), corr * np.outer(sd, sd), n_subjects)
    trend = np.arange(n_visits) * 1.5
    effect = (arm == "TRT")[:, None] * np.linspace(1.0, 4.0, n_visits)
    mean = (10.0 + 0.5 * baseline[:, None] + trend + effect + (race == "Black")[:, None] * 2.0
            - (race == "White")[:, None] * 1.5 + (sex == "Male")[:, None] * 1.0)
    y = mean + err
    # MAR dropout after a low previous value, plus 8% intermittent missing values
    keep = np.ones_like(y, dtype=bool)
    for j in range(1, n_visits):
        p_drop = 0.12 / (1.0 + np.exp((y[:, j - 1] - mean[:, j - 1].mean()) / 4.0))
        keep[:, j] = keep[:, j - 1] & (rng.random(n_subjects) > p_drop)
    keep &= rng.random(y.shape) > 0.08
    subj = np.repeat([f"PT{i + 1:03d}" for i in range(n_subjects)], n_visits)
    frame = pd.DataFrame({
        "subject": subj, "arm": np.repeat(arm, n_visits), "race": np.repeat(race, n_visits),
        "sex": np.repeat(sex, n_visits), "visit": np.tile(visits, n_subjects),
        "baseline": np.round(np.repeat(baseline, n_visits), 4), "value": np.round(y.reshape(-1), 4),
    })
    return frame[keep.reshape(-1)].reset_index(drop=True)


if __name__ == "__main__":
    d = simulate()
    d.to_csv(HERE / "fev_like.csv", index=False)
    print(len(d), "rows,", d["subject"].nunique(), "subjects")
