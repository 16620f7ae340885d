# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Building a model of pain trajectories
#
# **Question.** How does pain (NRS 0–10, lower is better) change over the 26 weeks of the sample trial in each
# arm, and which mixed model describes it: do participants need their own slopes, is the change linear, how much
# of the variation lies between therapists and clinics, and does an MMRM tell the same story?
#
# Steps: random intercept versus random intercept + slope (likelihood-ratio test); linear time versus a broken
# line with a knot at the end of treatment (week 10) and a natural spline; therapist (trial) and therapist + clinic
# (clinic sample) variance; individual predicted curves; the mixed model against the MMRM at each visit as a
# sensitivity analysis. The conclusions at the end are computed from the results above them.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import massage_outcomes as mo
from massage_outcomes import narrative, plot, tables

INSTRUMENT = "pain_nrs"
ds = mo.load_sample("trial")
pain = ds.analysis_frame(INSTRUMENT)
visits = pain[pain["timing"].astype(str).isin(["baseline", "followup"])]
visits.groupby(["arm", "visit"], observed=True)["value"].agg(["count", "mean", "std"]).round(2)

# %% [markdown]
# ## Random intercept or random slope?
# Both fitted by REML with the same fixed effects (arm × linear week), so their REML likelihoods compare. The
# p-value is conservative: the slope variance is tested on its boundary (zero).

# %%
f_int = mo.fit_trajectories(ds, instrument=INSTRUMENT, time="week", random="intercept")
f_slope = mo.fit_trajectories(ds, instrument=INSTRUMENT, time="week", random="slope")
lrt_random = f_int.lrt(f_slope)
lrt_random

# %% [markdown]
# ## Is the change linear in time?
# Treatment ends at week 10; a broken line (knot at week 10) lets pain fall during treatment and drift afterwards.
# Nested in it, the straight line is compared with a likelihood-ratio test (refitted by ML, since the fixed effects
# differ); a natural cubic spline is compared by AIC.

# %%
f_knot = mo.fit_trajectories(ds, instrument=INSTRUMENT, time="week", random="slope", time_basis=("piecewise", 10))
f_spline = mo.fit_trajectories(ds, instrument=INSTRUMENT, time="week", random="slope", time_basis="spline")
lrt_time = f_slope.lrt(f_knot)
aic = pd.DataFrame({"model": ["linear", "knot at week 10", "natural spline"],
                    "aic_ml": [f.refit(method="ML").aic for f in (f_slope, f_knot, f_spline)],
                    "converged": [f.converged for f in (f_slope, f_knot, f_spline)]})
print(tables.to_markdown(lrt_time, digits=2))
print(tables.to_markdown(aic, digits=1))

# %%
f_knot.fixed_effects

# %% [markdown]
# ## Therapists and clinics
# In the trial each massage participant saw one therapist (usual care saw none, coded as its own level "none");
# a random intercept per therapist measures how much of the variation lies between therapists. The clinic sample
# adds clinics (four) on top of therapists, with a random intercept per client, therapist and clinic.

# %%
with_therapist = visits.assign(therapist=visits["therapist"].astype(object).where(visits["therapist"].notna(), "none"))
f_ther = mo.fit_trajectories(with_therapist, instrument=INSTRUMENT, time="week", random="slope",
                             time_basis=("piecewise", 10), levels=("subject", "therapist"))
vc_trial = f_ther.variance_components
clinic = mo.load_sample("clinic")
f_clinic = mo.fit_trajectories(clinic, instrument=INSTRUMENT, time="week", group="condition", random="intercept",
                               levels=("subject", "therapist", "clinic"))
vc_clinic = f_clinic.variance_components
print("trial")
print(tables.to_markdown(vc_trial, digits=3))
print("clinic sample")
print(tables.to_markdown(vc_clinic, digits=3))

# %% [markdown]
# ## Population and individual predicted curves
# Population curves per arm (fixed effects, with 95% bands) over the subject-specific curves (fixed effects plus
# each participant's random intercept and slope) of a random sample of 20 participants per arm.

# %%
weeks = [0, 2, 4, 6, 8, 10, 14, 18, 22, 26]
pop = f_knot.population_curves(times=weeks).rename(columns={"group": "arm", "time": "week"})
rng = np.random.default_rng(3)
chosen = (ds.subjects.groupby("arm", observed=True)["subject"]
          .apply(lambda s: list(rng.choice(s.to_numpy(), size=min(20, len(s)), replace=False))).sum())
subj = f_knot.subject_curves(subjects=chosen, times=weeks).rename(columns={"group": "arm", "time": "week"})
ax = plot.trajectories(pop, group="arm", time="week", individual=subj, value="estimate", subject="subject",
                       individual_alpha=0.35,
                       instrument=INSTRUMENT, title="Pain: population curves over individual predictions")
plt.show()

# %% [markdown]
# ## Sensitivity analysis: mixed model versus MMRM
# The knot model's contrasts at weeks 4, 10 and 26 against the MMRM's (unstructured covariance, baseline-adjusted,
# visits as categories), each with its unadjusted 95% interval (the Holm-adjusted p-values are in `p_adjusted`).

# %%
CONTRASTS = ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"]
lmm_c = f_knot.contrasts(CONTRASTS, at={"week": [4, 10, 26]}, adjust="holm")
mmrm = mo.fit_mmrm(ds, instrument=INSTRUMENT, visit="visit", group="arm", adjust_baseline=True)
mmrm_c = mmrm.contrasts(CONTRASTS, adjust="holm")
week_of = {"week_4": 4.0, "week_10": 10.0, "week_26": 26.0}
side = lmm_c[["contrast", "week", "estimate", "ci_low", "ci_high"]].merge(
    mmrm_c.assign(week=mmrm_c["visit"].astype(str).map(week_of))[["contrast", "week", "estimate", "ci_low", "ci_high"]],
    on=["contrast", "week"], suffixes=("_lmm", "_mmrm"))
side

# %%
long = pd.concat([
    side[["contrast", "week", f"estimate_{m}", f"ci_low_{m}", f"ci_high_{m}"]]
    .set_axis(["contrast", "week", "estimate", "ci_low", "ci_high"], axis=1).assign(model=name)
    for m, name in (("lmm", "mixed model (knot)"), ("mmrm", "MMRM"))
], ignore_index=True)
long["label"] = long["model"] + ", week " + long["week"].map("{:g}".format)
long = long.sort_values(["contrast", "week", "model"], kind="stable")
ax = plot.forest(long, group="contrast", weight=None, instrument=INSTRUMENT, interval=narrative.interval_label(),
                 compare=("the first-named arm", "the second-named arm"), xlabel="Difference in pain NRS (points)",
                 title="Mixed model and MMRM contrasts")
plt.show()

# %% [markdown]
# ## Conclusions (computed from the results above)
# Written by `massage_outcomes.narrative` from the tables above; `tests/test_notebooks.py` checks the numbers.

# %%
p_slope = float(lrt_random["p_value"].iloc[1])
p_knot = float(lrt_time["p_value"].iloc[1])
best_time = aic.loc[aic["aic_ml"].idxmin(), "model"]
total = lambda vc: float(vc["variance"].sum())  # noqa: E731
ther_var = float(vc_trial.loc[vc_trial["group"] == "therapist", "variance"].sum())
cl = vc_clinic.set_index("group")["variance"]
reliable_side = side.merge(lmm_c[["contrast", "week", "reliable"]], on=["contrast", "week"])
reliable_side = reliable_side[reliable_side["reliable"]]
same_sign = int((np.sign(reliable_side["estimate_lmm"]) == np.sign(reliable_side["estimate_mmrm"])).sum())
max_gap = float((reliable_side["estimate_lmm"] - reliable_side["estimate_mmrm"]).abs().max())
lines = [
    f"- Random slopes: likelihood-ratio χ² = {narrative.number(lrt_random['chisq'].iloc[1])} on "
    f"{lrt_random['df'].iloc[1]:.0f} df, {narrative.p_text(p_slope)} (conservative): "
    + ("participants' slopes differ detectably." if p_slope < 0.05 else
       "no clear evidence that participants' slopes differ; the random slope is kept as a cautious default."),
    f"- Time: the broken line (knot at week 10) versus the straight line: χ² = "
    f"{narrative.number(lrt_time['chisq'].iloc[1], 1)} on {lrt_time['df'].iloc[1]:.0f} df, {narrative.p_text(p_knot)};"
    f" lowest AIC (ML): {best_time}.",
    f"- The therapist variance is {narrative.number(100 * ther_var / total(vc_trial), 1)}% of the summed variance "
    f"components of the trial model; in the clinic sample therapists "
    f"{narrative.number(100 * cl.get('therapist', 0) / cl.sum(), 1)}% and clinics "
    f"{narrative.number(100 * cl.get('clinic', 0) / cl.sum(), 1)}%.",
    f"- Mixed model and MMRM agree in sign for {narrative.count_text(same_sign, len(reliable_side), 'visit contrasts')};"
    f" the largest difference between their estimates is {narrative.number(max_gap)} points.",
]
print("\n".join(lines))
