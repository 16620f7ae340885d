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
# # 01 · Therapeutic versus relaxation massage in the sample trial
#
# **Question.** In the bundled three-arm trial (chronic low back pain; therapeutic, relaxation or usual care),
# does therapeutic massage reduce back-related disability (Roland-Morris, RMDQ, 0–24, lower is better) more than
# relaxation massage at the end of treatment (week 10, the trial's primary visit), and do both beat usual care?
#
# **The prior.** The strongest head-to-head trial, Cherkin et al. 2011 (Ann Intern Med 155:1–9), found no
# clinically meaningful difference between structural (therapeutic) and relaxation massage: at 10 weeks both
# improved RMDQ over usual care by similar amounts (relaxation − usual care −2.9 [−4.0, −1.8], structural − usual
# care −2.5 [−3.5, −1.4] points; their pre-specified meaningful between-group difference was 2 points). We do not
# assume therapeutic massage is better; the analysis below is read against that prior.
#
# The sample data are simulated (`data/sample/trial`, seeded, with known truth); every conclusion at the end is
# computed from the results above it, by the sentence functions of `massage_outcomes.narrative`.
#
# **Intervals.** Every interval here is an unadjusted 95% confidence interval unless it says otherwise: the
# p-value beside it agrees with it. Where several contrasts are tested together, Holm-adjusted p-values are shown
# beside them (Holm has no simultaneous interval; notebook 07 shows the simultaneous ones). Whether a difference
# is within the ±2-point margin is a two-one-sided-tests (TOST) question at the 5% level, which reads the **90%**
# interval.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import massage_outcomes as mo
from massage_outcomes import narrative, plot, tables

INSTRUMENT = "rmdq"
ARMS = ["therapeutic", "relaxation", "usual_care"]
CONTRASTS = ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"]
MID = 2.0  # Cherkin 2011's pre-specified clinically meaningful between-group difference (RMDQ points)
ds = mo.load_sample("trial")
PRIMARY, PRIMARY_SOURCE = tables.primary_visit_info(ds)  # week_10, from the sample's study.json
frame = ds.analysis_frame(INSTRUMENT)
print(f"Primary visit: {PRIMARY} ({PRIMARY_SOURCE})")
ds

# %% [markdown]
# ## Table 1: baseline characteristics by arm
# Descriptive only; no significance tests (CONSORT).

# %%
t1 = tables.baseline_table(ds)
t1

# %% [markdown]
# ## Trajectories per arm
# A linear mixed model with visit as a factor (one mean per arm and visit, random intercept per participant)
# gives the marginal means; faint lines are individual participants.

# %%
lmm = mo.fit_trajectories(ds, instrument=INSTRUMENT, time="visit", visit_as_factor=True, group="arm",
                          random="intercept")
means = lmm.emmeans()
visits_frame = frame[frame["timing"].astype(str).isin(["baseline", "followup"])]
ax = plot.trajectories(means, group="arm", time="visit", individual=visits_frame, instrument=INSTRUMENT,
                       title="RMDQ by arm: mixed-model marginal means")
plt.show()

# %% [markdown]
# ## Mixed model and MMRM: contrasts between arms at each visit
# The mixed model uses every measurement including baseline; the MMRM (unstructured covariance over the
# post-baseline visits, adjusted for the baseline score, REML) is the usual primary analysis of such trials.
# Both are valid under missing at random. Estimates with unadjusted 95% intervals and p-values; `p_adjusted` is
# Holm within each visit (three contrasts).

# %%
lmm_c = lmm.contrasts(CONTRASTS, adjust="holm")
mmrm = mo.fit_mmrm(ds, instrument=INSTRUMENT, visit="visit", group="arm", adjust_baseline=True,
                   covariance="unstructured")
mmrm_c = mmrm.contrasts(CONTRASTS, adjust="holm")
cols = ["contrast", "visit", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "effect_size", "reliable"]
print(f"Mixed model ({narrative.interval_words('holm')})")
print(tables.to_markdown(lmm_c[cols], digits=2))
print(f"MMRM ({narrative.interval_words('holm')})")
print(tables.to_markdown(mmrm_c[cols], digits=2))

# %% [markdown]
# For the margin question the MMRM contrasts are computed again at the 90% level without adjustment: each is one
# TOST at 5% against ±2 points.

# %%
mmrm_90 = mmrm.contrasts(CONTRASTS, adjust="none", level=0.90, effect_size=False)
mmrm_90[mmrm_90["visit"].astype(str) == PRIMARY][["contrast", "visit", "estimate", "ci_low", "ci_high", "level"]]

# %% [markdown]
# ## Baseline-adjusted effect sizes at week 10
# ANCOVA of the week-10 score on baseline and arm, for each pair of arms: raw adjusted mean difference and
# Hedges' g (pooled follow-up SD), with exact, unadjusted 95% intervals. `favours` names an arm only when the
# interval excludes no difference.

# %%
pairs = [tuple(c.split(" - ")) for c in CONTRASTS]
es = pd.concat([
    mo.effect_sizes(frame, instrument=INSTRUMENT, compare=("arm", a, b), on="ancova", end=PRIMARY, measure=m)
    for a, b in pairs for m in ("mean_diff", "hedges_g")
], ignore_index=True)
es_show = es[["contrast", "measure", "n_1", "n_2", "estimate", "ci_low", "ci_high", "p_value", "favours", "reliable"]]
es_show

# %%
g = es[es["measure"].str.contains("hedges_g")]
ax = plot.forest(g[g["reliable"]], label="contrast", weight=None, instrument=INSTRUMENT,
                 compare=("the first-named arm", "the second-named arm"), interval=narrative.interval_label(),
                 xlabel="Hedges' g, baseline-adjusted (a − b)", title="RMDQ at week 10: standardized differences")
plt.show()

# %% [markdown]
# ## Responders and NNT
# Improvement from baseline to week 10 of at least the MCID (the registry's for low back pain, the sample's
# condition: 5 points), 30% and 50% (direction-aware); rates with Wilson intervals, risk difference (Newcombe),
# risk ratio, and NNT from the risk-difference interval (all unadjusted 95%).

# %%
resp = pd.concat([
    mo.responders(frame, instrument=INSTRUMENT, threshold=thr, compare=("arm", a, b), end=PRIMARY)
    for thr in ("mcid", 0.3, 0.5) for a, b in pairs
], ignore_index=True)
resp["contrast"] = resp["arm_1"].astype(str) + " - " + resp["arm_2"].astype(str)
resp_show = resp[["threshold_value", "threshold_unit", "contrast", "rate_1", "rate_2", "risk_diff", "risk_diff_ci_low",
                  "risk_diff_ci_high", "risk_ratio", "nnt_label", "favours", "reliable"]]
resp_show

# %%
rates = pd.concat([
    resp[["threshold_value", "threshold_unit", f"arm_{i}", f"rate_{i}", f"rate_{i}_ci_low", f"rate_{i}_ci_high"]]
    .set_axis(["value", "unit", "arm", "rate", "ci_low", "ci_high"], axis=1) for i in (1, 2)
]).drop_duplicates(["value", "unit", "arm"])
rates["threshold"] = [f"≥{v:g}%" if u == "percent" else f"MCID ({v:g} points)" for v, u in zip(rates["value"], rates["unit"], strict=True)]
ax = plot.responders(rates, group="arm", instrument=INSTRUMENT, title="Responders at week 10")
plt.show()

# %% [markdown]
# ## Estimation plot: therapeutic versus relaxation
# Every participant's change to week 10, and the bootstrap distribution (BCa, 2,000 resamples, seeded) of the
# difference in mean change.

# %%
boot, draws = mo.effect_sizes(frame, instrument=INSTRUMENT, compare=("arm", "therapeutic", "relaxation"),
                              on="change", end=PRIMARY, measure="mean_diff", ci="bca", n_resamples=2000,
                              rng=20110705, return_draws=True)
raw = frame[(frame["visit"].astype(str) == PRIMARY) & frame["arm"].isin(["therapeutic", "relaxation"])]
fig = plot.estimation(raw.dropna(subset=["change"]), group="arm", value="change",
                      compare=("therapeutic", "relaxation"), draws=np.asarray(draws)[:, 0],
                      estimate=float(boot["estimate"].iloc[0]),
                      ci=(float(boot["ci_low"].iloc[0]), float(boot["ci_high"].iloc[0])), instrument=INSTRUMENT,
                      title="Change in RMDQ to week 10")
plt.show()

# %% [markdown]
# ## Our estimates beside the published prior
# Cherkin 2011 used the 23-item RMDQ and adjusted for baseline; ours are MMRM contrasts on the simulated
# 24-item scale. Shown together for orientation only.

# %%
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "published").is_dir())
pub = pd.read_csv(ROOT / "data" / "published" / "published_evidence.csv")
prior = pub[(pub["study"] == "Cherkin2011") & (pub["outcome"] == "rmdq")].assign(
    source="Cherkin 2011", label=lambda d: "Cherkin 2011: " + d["contrast"].str.replace("structural", "therapeutic"))
ours = mmrm_c[mmrm_c["visit"].astype(str) == PRIMARY].assign(source="sample trial (MMRM)",
                                                              label=lambda d: "sample trial: " + d["contrast"])
both = pd.concat([prior[["source", "label", "estimate", "ci_low", "ci_high"]],
                  ours[["source", "label", "estimate", "ci_low", "ci_high"]]], ignore_index=True)
ax = plot.forest(both, group="source", weight=None, instrument=INSTRUMENT,
                 compare=("the first-named arm", "the second-named arm"), interval=narrative.interval_label(),
                 xlabel="Difference in RMDQ at 10 weeks (points)", title="Published prior and this sample")
plt.show()

# %% [markdown]
# ## Conclusions (computed from the results above)
# Each line is written by a function of `massage_outcomes.narrative` from one row of the tables above (only rows
# with `reliable` true are stated); `tests/test_notebooks.py` checks every number against tables it recomputes.

# %%
def at_primary(table):
    return table[table["visit"].astype(str) == PRIMARY].set_index("contrast")


primary, primary_90, lmm_primary = at_primary(mmrm_c), at_primary(mmrm_90), at_primary(lmm_c)
lmm_baseline = lmm_c[lmm_c["visit"].astype(str) == "baseline"].set_index("contrast")
g_rows = g.set_index("contrast")
mcid_rows = resp[resp["threshold"].astype(str).str.startswith("MCID")].set_index("contrast")
lines = [f"- MMRM at {PRIMARY}: " + narrative.contrast_sentence(primary.loc[c], label=c.replace(" - ", " − "))
         for c in CONTRASTS if primary.loc[c, "reliable"]]
tr_90 = primary_90.loc["therapeutic - relaxation"]
lines.append(f"- Therapeutic − relaxation against the ±{MID:g}-point margin: "
             + narrative.margin_verdict(tr_90, MID) + ".")
tr_lmm, tr_base = lmm_primary.loc["therapeutic - relaxation"], lmm_baseline.loc["therapeutic - relaxation"]
same_sign = np.sign(tr_lmm["estimate"]) == np.sign(primary.loc["therapeutic - relaxation", "estimate"])
lines.append(
    f"- The mixed model (not adjusted for baseline) gives therapeutic − relaxation "
    f"{narrative.ci_text(tr_lmm['estimate'], tr_lmm['ci_low'], tr_lmm['ci_high'], digits=1)} at {PRIMARY}; at "
    f"baseline the same contrast was {narrative.ci_text(tr_base['estimate'], tr_base['ci_low'], tr_base['ci_high'], digits=1)}"
    ", so the two analyses " + ("agree in sign." if same_sign else "differ in sign: the MMRM adjusts for that "
                                "baseline difference, the mixed model of raw scores does not."))
for contrast in CONTRASTS:
    if g_rows.loc[contrast, "reliable"]:
        lines.append("- Baseline-adjusted " + narrative.effect_sentence(g_rows.loc[contrast], measure="Hedges' g",
                                                                        label=contrast) + ".")
for contrast in ("therapeutic - usual_care", "relaxation - usual_care"):
    r = mcid_rows.loc[contrast]
    if r["reliable"]:
        lines.append("- " + narrative.responder_sentence(r, threshold=f"≥{r['threshold_value']:g} points, the MCID")
                     + ".")
equivalent = narrative.margin_verdict(tr_90, MID).startswith("equivalent")
lines.append(
    "- Against the prior: Cherkin 2011 found no meaningful difference between structural and relaxation massage; "
    + (f"this sample agrees (by TOST the therapeutic − relaxation 90% interval lies within ±{MID:g} points)."
       if equivalent else f"this sample's therapeutic − relaxation 90% interval is not within ±{MID:g} points, so "
       "it neither confirms nor rules out a meaningful difference."))
print("\n".join(lines))
