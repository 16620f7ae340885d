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
# # 02 · Conditions and techniques in clinic data
#
# **Question.** In the bundled practice data (seven conditions, five techniques, four clinics), how much does pain
# fall within a session (pre → post) and over a course of care (baseline → last follow-up), for each condition
# and technique, and how consistent are the effects across clinics?
#
# These are uncontrolled, within-person changes: they include regression to the mean, natural history and
# expectation, so they are not the causal effect of a technique. Many condition × technique cells are compared, so
# p-values are Holm-adjusted across each table (`p_adjusted`; the intervals stay unadjusted 95%). A row is read
# as a result only when its `reliable` column is true; `note` explains, and may inform on reliable rows too
# (e.g. how many clients had no follow-up). The data are simulated with known truth (`data/sample/clinic`); the
# conclusions at the end are computed from the tables above them.

# %%
import matplotlib.pyplot as plt
import numpy as np

import massage_outcomes as mo
from massage_outcomes import narrative, plot, tables

ds = mo.load_sample("clinic")
pain = ds.analysis_frame("pain_nrs")
print(f"{len(ds.subjects)} clients, {len(ds.sessions)} sessions, {pain['clinic'].nunique()} clinics, "
      f"{ds.sessions['therapist'].nunique()} therapists")
tables.baseline_table(ds, by="condition")

# %% [markdown]
# ## Immediate effect: pain before and after a session
# Within-subject Hedges' g (g_z: the mean pre→post change over the SD of the changes, each client's sessions
# averaged), exact intervals, per condition × technique. Negative = less pain after the session.

# %%
immediate = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition", "technique"], start="pre", end="post",
                            measure="hedges_g", adjust="holm")
immediate[["condition", "technique", "n_1", "mean_2", "mean_1", "estimate", "ci_low", "ci_high", "p_adjusted",
           "reliable", "note"]]

# %%
ax = plot.heatmap(immediate, row="condition", col="technique", value="estimate", n="n_1", instrument="pain_nrs",
                  value_label="Hedges' g (post − pre)", title="Immediate change in pain per session")
plt.show()

# %%
shown = immediate[immediate["reliable"]]
ax = plot.forest(shown.assign(label=shown["technique"]), group="condition", weight="n_1",
                 better="lower", favours=("less pain after", "more pain after"), interval=narrative.interval_label(),
                 xlabel="Hedges' g (post − pre), pain NRS", title="Immediate effect by condition and technique")
plt.show()

# %% [markdown]
# ## Course of care: baseline to the last follow-up
# Pain NRS from the first visit to each client's last follow-up, per condition and per allocated technique.

# %%
course = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition"], start="baseline", end="last",
                         measure="hedges_g", adjust="holm")
course[["condition", "n_1", "mean_2", "mean_1", "estimate", "ci_low", "ci_high", "p_adjusted", "reliable", "note"]]

# %% [markdown]
# ## Consistency across clinics: random-effects pooling within each condition
# The immediate effect is estimated per clinic within each condition, then pooled per condition with REML and
# Hartung–Knapp–Sidik–Jonkman intervals (recommended with few clinics); the prediction interval says where the
# effect in a new clinic would be expected to lie.

# %%
per_clinic = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition", "clinic"], start="pre", end="post",
                             measure="hedges_g")
per_clinic = per_clinic[per_clinic["reliable"]]
pooled = mo.pool(per_clinic, method="REML", test="knha", by="condition")
pooled[["condition", "k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "I2", "reliable", "note"]]

# %%
ax = plot.forest(per_clinic.assign(label=per_clinic["clinic"]), group="condition", weight="n_1",
                 pooled=pooled.assign(label="pooled (REML, HKSJ)"), better="lower", interval="95% CI; pooled: HKSJ 95% CI",
                 favours=("less pain after", "more pain after"), xlabel="Hedges' g (post − pre), pain NRS",
                 title="Immediate effect per clinic, pooled within condition")
plt.show()

# %% [markdown]
# ## Conclusions (computed from the tables above)
# Only rows with `reliable` true are counted or quoted; the sentences come from `massage_outcomes.narrative`,
# which refuses to write "0 of 0" or a missing number, and `tests/test_notebooks.py` checks them against tables
# it recomputes.

# %%
ok = immediate[immediate["reliable"]]
best = ok.loc[ok["estimate"].idxmin()]
worst = ok.loc[ok["estimate"].idxmax()]
n_sig = int((ok["p_adjusted"] < 0.05).sum())
lines = [
    f"- Immediate (pre → post) change was estimated reliably in {len(ok)} of {len(immediate)} condition × technique "
    f"cells; after Holm adjustment {narrative.count_text(n_sig, len(ok), 'cells')} show a change at the 5% level.",
    f"- Largest immediate reduction: {best['condition']} with {best['technique']}, g = "
    f"{narrative.ci_text(best['estimate'], best['ci_low'], best['ci_high'])}; smallest: {worst['condition']} with "
    f"{worst['technique']}, g = {narrative.ci_text(worst['estimate'], worst['ci_low'], worst['ci_high'])} "
    "(unadjusted 95% CIs).",
]
c_ok = course[course["reliable"]]
lines.append(
    f"- Over the course of care pain fell in {narrative.count_text(int((c_ok['ci_high'] < 0).sum()), len(c_ok), 'conditions')}"
    f" (unadjusted 95% interval below zero); g ranged {narrative.range_text(c_ok['estimate'])}.")
p_ok = pooled[pooled["reliable"]]
wide = p_ok[(p_ok["pi_high"] - p_ok["pi_low"]) > 2 * (p_ok["ci_high"] - p_ok["ci_low"])]
lines.append(
    f"- Pooled across clinics, {narrative.count_text(int((p_ok['ci_high'] < 0).sum()), len(p_ok), 'conditions')} show"
    f" an immediate reduction; median I² = {narrative.number(np.nanmedian(p_ok['I2']), 0)}%. "
    + (f"In {len(wide)} condition(s) ({', '.join(wide['condition'].astype(str))}) the prediction interval is more "
       "than twice as wide as the confidence interval: the effect differs between clinics there."
       if len(wide) else "In no condition is the prediction interval more than twice as wide as the confidence "
       "interval: the clinics gave similar effects."))
lines.append("- These are uncontrolled within-person changes: they describe what happened, not what the "
             "technique caused.")
print("\n".join(lines))
