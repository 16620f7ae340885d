# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Interpreting the intervals
#
# **Question.** A results table of the sample trial shows, for each contrast between arms, an estimate, an
# interval and one or two p-values. Which interval is which, when do they disagree, and which one answers which
# question?
#
# The library follows one convention in every table (DESIGN.md, "Result tables"):
#
# - `estimate`, `ci_low`, `ci_high` are the **unadjusted** interval at `level` (95%), and `p_value` agrees with
#   it: p < 0.05 exactly when the interval excludes 0.
# - When a family of contrasts is adjusted, `p_adjusted`, `adjust` (the method) and `family_size` are added, and,
#   for the methods that have one (Bonferroni, Šidák, Tukey), the **simultaneous** interval `sci_low`, `sci_high`:
#   all intervals of the family cover their true values together with 95% probability. Holm and the FDR methods
#   adjust p-values only; they have no interval.
# - A question about a margin ("is the difference smaller than 2 points?") is two one-sided tests at 5%, which
#   reads the **90%** interval.
#
# Everything below is computed from the bundled sample trial (`data/sample/trial`); the conclusions at the end are
# written from the tables by `massage_outcomes.narrative` and checked against recomputed tables in the tests.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import massage_outcomes as mo
from massage_outcomes import narrative, plot, tables

INSTRUMENT = "rmdq"
MID = 2.0  # Cherkin 2011's pre-specified meaningful between-group difference (RMDQ points)
ds = mo.load_sample("trial")
PRIMARY = tables.primary_visit(ds)
mmrm = mo.fit_mmrm(ds, instrument=INSTRUMENT, visit="visit", group="arm", adjust_baseline=True)
print(f"MMRM of {INSTRUMENT} (unstructured, baseline-adjusted); primary visit {PRIMARY}")

# %% [markdown]
# ## One family, three adjustments
# The three pairwise contrasts between arms at each visit form one family. The same contrasts, adjusted by Tukey
# (the studentized range: made for all pairwise comparisons), by Bonferroni, and by Holm:

# %%
tukey = mmrm.contrasts("pairwise", adjust="tukey", effect_size=False)
bonf = mmrm.contrasts("pairwise", adjust="bonferroni", effect_size=False)
holm = mmrm.contrasts("pairwise", adjust="holm", effect_size=False)
keys = ["contrast", "visit"]
side = tukey[[*keys, "estimate", "ci_low", "ci_high", "p_value", "sci_low", "sci_high", "p_adjusted", "reliable"]]
side = side.rename(columns={"sci_low": "tukey_low", "sci_high": "tukey_high", "p_adjusted": "p_tukey"})
side = side.merge(bonf[[*keys, "sci_low", "sci_high"]].rename(columns={"sci_low": "bonf_low", "sci_high": "bonf_high"}),
                  on=keys).merge(holm[[*keys, "p_adjusted"]].rename(columns={"p_adjusted": "p_holm"}), on=keys)
at_primary = side[side["visit"].astype(str) == PRIMARY].reset_index(drop=True)
print(tables.to_markdown(at_primary.drop(columns="reliable"), digits=2))

# %% [markdown]
# Read across a row: the estimate is the same everywhere; the unadjusted interval is the narrowest; Tukey's
# simultaneous interval is wider, Bonferroni's slightly wider still (it ignores that the three contrasts share
# arms). `p_value` belongs to the unadjusted interval, `p_tukey` to Tukey's; Holm's p-value is smaller than
# Bonferroni's would be, but Holm has no interval to show beside it.

# %%
long = pd.concat([
    at_primary.assign(interval=label, ci_low=at_primary[lo], ci_high=at_primary[hi])
    for label, lo, hi in (
        (narrative.interval_label(), "ci_low", "ci_high"),
        (narrative.interval_label(simultaneous="tukey"), "tukey_low", "tukey_high"),
        (narrative.interval_label(simultaneous="bonferroni"), "bonf_low", "bonf_high"),
    )
], ignore_index=True).sort_values(["contrast"], kind="stable")
ax = plot.forest(long, label="interval", group="contrast", weight=None, instrument=INSTRUMENT,
                 compare=("the first-named arm", "the second-named arm"),
                 xlabel=f"Difference in RMDQ at {PRIMARY} (points); bars: the interval named on the left",
                 title="Unadjusted and simultaneous 95% intervals of the same contrasts")
plt.show()

# %% [markdown]
# ## Effect sizes: the same convention
# Within-person change by technique over the course of care (every arm that had sessions), Bonferroni-adjusted
# across the techniques: `ci_low`/`ci_high` stay the unadjusted exact intervals; `sci_low`/`sci_high` are the
# same exact interval method at the per-row level 1 − 0.05/k, so that the k intervals are simultaneous.

# %%
by_tech = mo.effect_sizes(ds, instrument=INSTRUMENT, by="technique", end=PRIMARY, adjust="bonferroni")
by_tech[["technique", "n_1", "estimate", "ci_low", "ci_high", "sci_low", "sci_high", "p_value", "p_adjusted",
         "family_size", "reliable"]]

# %% [markdown]
# ## A margin is a 90% question
# "Is therapeutic massage within 2 RMDQ points of relaxation massage?" is answered by two one-sided tests at 5%:
# both `difference > −2` and `difference < 2` must be shown, which is the same as the 90% interval lying within
# ±2. Reading the 95% interval would test at 2.5% on each side; reading a simultaneous interval would answer a
# different question (all contrasts at once).

# %%
ninety = mmrm.contrasts("therapeutic - relaxation", adjust="none", level=0.90, effect_size=False)
tr_90 = ninety[ninety["visit"].astype(str) == PRIMARY].iloc[0]
tr_95 = at_primary[at_primary["contrast"] == "relaxation - therapeutic"].iloc[0]
ninety[["contrast", "visit", "estimate", "ci_low", "ci_high", "level"]]

# %% [markdown]
# ## Conclusions (computed from the tables above)

# %%
ok = at_primary[at_primary["reliable"]]
n_unadj = int(((ok["ci_low"] > 0) | (ok["ci_high"] < 0)).sum())
n_tukey = int(((ok["tukey_low"] > 0) | (ok["tukey_high"] < 0)).sum())
n_bonf = int(((ok["bonf_low"] > 0) | (ok["bonf_high"] < 0)).sum())
ratio = ((ok["tukey_high"] - ok["tukey_low"]) / (ok["ci_high"] - ok["ci_low"])).mean()
lines = [
    f"- At {PRIMARY} the unadjusted 95% interval excludes zero for "
    f"{narrative.count_text(n_unadj, len(ok), 'pairwise contrasts')}; Tukey's simultaneous 95% interval for {n_tukey}, "
    f"Bonferroni's for {n_bonf}.",
    f"- Tukey's simultaneous intervals are on average {narrative.number(ratio)} times as wide as the unadjusted "
    "ones here (three contrasts).",
]
for _, row in ok.iterrows():
    lines.append(
        f"- {row['contrast'].replace(' - ', ' − ')}: {narrative.ci_text(row['estimate'], row['ci_low'], row['ci_high'], digits=1)}"
        f" unadjusted ({narrative.p_text(row['p_value'])}), "
        f"[{narrative.number(row['tukey_low'], 1)}, {narrative.number(row['tukey_high'], 1)}] Tukey "
        f"({narrative.p_text(row['p_tukey'], label='Tukey-adjusted p')}); "
        f"{narrative.p_text(row['p_holm'], label='Holm-adjusted p')} (no interval).")
lines.append(
    f"- Therapeutic − relaxation against ±{MID:g} points: {narrative.margin_verdict(tr_90, MID)}; its 95% interval "
    f"(relaxation − therapeutic {narrative.ci_text(tr_95['estimate'], tr_95['ci_low'], tr_95['ci_high'])}, the "
    "same contrast with the sign turned) is wider and is not the one a TOST reads.")
print("\n".join(lines))
