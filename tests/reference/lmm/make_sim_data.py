"""Write the simulated data the R references fit (run from this directory with the project venv).

trial.csv: mo.simulate_trial(n_per_arm=100, seed=1), RMDQ at baseline and follow-up visits (MAR dropout).
levels.csv: a numpy simulation with subjects in three arms, treated by 9 therapists working across 3 clinics
(crossed therapist x clinic random intercepts) plus correlated subject intercepts and slopes, 6 visits.
"""

import numpy as np
import pandas as pd

import massage_outcomes as mo

ds = mo.simulate_trial(n_per_arm=100, seed=1)
fr = ds.analysis_frame("rmdq")
fr = fr.loc[fr["timing"].astype(str).isin(["baseline", "followup"])]
fr[["subject", "arm", "visit", "week", "value"]].to_csv("trial.csv", index=False)

rng = np.random.default_rng(20261127)
n = 240
arm = np.array(["relaxation", "therapeutic", "usual_care"])[np.arange(n) % 3]
therapist = rng.integers(0, 9, n)
clinic_of_subject = rng.integers(0, 3, n)
weeks = np.array([0.0, 2, 4, 6, 10, 26])
subj = np.repeat(np.arange(n), len(weeks))
week = np.tile(weeks, n)
G = np.array([[4.0, -0.05], [-0.05, 0.01]])
b = rng.multivariate_normal([0, 0], G, n)
t_eff = rng.normal(0, 0.8, 9)
c_eff = rng.normal(0, 1.0, 3)
slope = {"relaxation": -0.15, "therapeutic": -0.3, "usual_care": -0.05}
mu = 12 + np.array([slope[a] for a in arm])[subj] * week
y = mu + b[subj, 0] + b[subj, 1] * week + t_eff[therapist[subj]] + c_eff[clinic_of_subject[subj]]
y = y + rng.normal(0, 1.5, len(y))
keep = rng.random(len(y)) > 0.1 * (week > 0)
pd.DataFrame(
    {
        "subject": [f"P{i:03d}" for i in subj[keep]],
        "arm": arm[subj[keep]],
        "therapist": [f"T{i}" for i in therapist[subj[keep]]],
        "clinic": [f"C{i}" for i in clinic_of_subject[subj[keep]]],
        "week": week[keep],
        "value": np.round(y[keep], 6),
    }
).to_csv("levels.csv", index=False)
