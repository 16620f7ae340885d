"""Simulate the data set of the rbmi references (seeded): two arms, baseline, four visits, monotone dropout with an
intercurrent event at the first missing visit, and a few intermittent (MAR) missing values.

Regenerate: cd tests/reference/rbmi && python make_data.py && R_LIBS=/work/Rlib Rscript rbmi_reference.R
"""

from __future__ import annotations

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261204)
N, T = 100, 4
visits = [f"week_{w}" for w in (2, 4, 8, 12)]
arm = np.repeat(["control", "massage"], N // 2)
base = rng.normal(14.0, 4.0, N).round(1)
S = 9.0 * np.array([[1.0, 0.6, 0.5, 0.4], [0.6, 1.0, 0.6, 0.5], [0.5, 0.6, 1.0, 0.6], [0.4, 0.5, 0.6, 1.0]])
effect = np.array([-0.5, -1.5, -2.5, -3.0])
y = 4.0 + 0.6 * base[:, None] - np.array([0.5, 1.0, 1.5, 2.0]) + (arm == "massage")[:, None] * effect
y = y + rng.multivariate_normal(np.zeros(T), S, N)
# dropout: more likely with a worse (higher) last value; the first missing visit is the intercurrent event
drop = np.full(N, T)
for t in range(1, T):  # visits (few)
    p = 1 / (1 + np.exp(-(-2.0 + 0.25 * (y[:, t - 1] - y[:, t - 1].mean()))))
    drop = np.where((drop == T) & (rng.random(N) < p), t, drop)
drop[rng.random(N) < 0.04] = 0  # a few subjects with no post-baseline value
value = np.where(np.arange(T)[None, :] < drop[:, None], y, np.nan)
inter = (rng.random((N, T)) < 0.04) & (np.arange(T)[None, :] < drop[:, None] - 1)  # intermittent, MAR
value[inter] = np.nan
subj = [f"P{i:03d}" for i in range(N)]
long = pd.DataFrame({"subject": np.repeat(subj, T), "arm": np.repeat(arm, T), "visit": np.tile(visits, N),
                     "baseline": np.repeat(base, T), "value": value.round(3).ravel()})
long.to_csv("data.csv", index=False, na_rep="NA")
# one event per dropout; strategies for the mixed scenario cycle through the four reference-based ones
ev = pd.DataFrame({"subject": np.asarray(subj)[drop < T], "visit": np.asarray(visits)[drop[drop < T]]})
ev["mixed"] = np.resize(["JR", "CR", "CIR", "LMCF", "MAR"], len(ev))
ev.loc[(ev["mixed"] == "LMCF") & (ev["visit"] == visits[0]), "mixed"] = "JR"
ev.to_csv("events.csv", index=False)
print(f"{N} subjects, {int((drop < T).sum())} events, {int(np.isnan(value).sum())} missing values")
