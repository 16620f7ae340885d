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
# # 05 · Bringing your own data
#
# **Question.** A trial's spreadsheet arrives as its authors kept it: one row per participant, columns named in
# words ("NDI 6 weeks", "Neck pain end of treatment"), the arm as "Massage" / "Usual care", a date of birth, and
# a pain score that is in no registry. How does it become a Dataset without writing study-specific pandas code,
# and what is the first effect size?
#
# The path is always the same: `mo.describe` proposes a **read plan**, the researcher reviews it and answers its
# TODOs, the plan is kept as a YAML file beside the data, and `mo.read(file, mapping="plan.yaml")` reads with it.
# The file is `tests/data/real_like/wide_trial.csv`, written by `tests/data/real_like/make_corpus.py` (simulated
# values in the shape of a published trial's spreadsheet).

# %%
import tempfile
from pathlib import Path

import pandas as pd

import massage_outcomes as mo
from massage_outcomes import narrative

# the notebook runs from notebooks/ (Jupyter) or from the repository root (python notebooks/05_...py)
DATA = next(p for p in (Path("..") / "tests" / "data" / "real_like" / "wide_trial.csv",
                        Path("tests") / "data" / "real_like" / "wide_trial.csv") if p.exists())
pd.read_csv(DATA).head()

# %% [markdown]
# ## 1. Describe: the proposed plan
#
# `describe` decides what it can (the subject key, the arm column, which columns are measurements and at which
# day, which columns identify a person and are dropped) and leaves a TODO wherever only the researcher knows.

# %%
plan = mo.describe(DATA)
print(plan.to_yaml())

# %%
plan.todos()

# %% [markdown]
# ## 2. Review: answer the TODOs
#
# Three questions are open. The neck-pain score is not in the registry: it becomes a *study instrument*, whose
# range describe could only take from the observed values (0-9); the questionnaire is a 0-10 scale on which lower
# is better. "End of treatment" is a visit whose day the label does not say: the protocol puts it at week 10
# (day 70). "Massage" names no technique, so its intent is the researcher's call: therapeutic.

# %%
plan["instruments"]["neck_pain"]["range"] = [0, 10]
plan["instruments"]["neck_pain"]["direction"] = "lower"
plan["measurements"]["Neck pain end of treatment"]["day"] = 70
plan["arm"]["intent"]["Massage"] = "therapeutic"
plan["primary_visit"] = "week_6"
assert plan.todos() == []

folder = Path(tempfile.mkdtemp())
plan_file = folder / "plan.yaml"
plan.to_yaml(plan_file)  # keep this file beside the data, under version control
print(plan_file.read_text()[:600])

# %% [markdown]
# ## 3. Read with the plan, and check that nothing was lost
#
# A wide file's accounting is by cell: every measurement cell is either a kept measurement, a rejected one, or
# empty. `ds.source` records it, with every rename and assumption; `ds.summary()` prints them above its table.

# %%
ds = mo.read(DATA, mapping=plan_file)
src = ds.source
cells = len(pd.read_csv(DATA)) * len(plan["measurements"])
print(f"cells: {cells} = kept {src['rows_kept']} + rejected {src['rows_rejected']} + empty {src['empty_cells']}")
assert cells == src["rows_kept"] + src["rows_rejected"] + src["empty_cells"]
ds.summary()

# %% [markdown]
# ## 4. A first effect size
#
# Change in the Neck Disability Index from baseline to week 6, massage against usual care (Hedges' g with its
# exact 95% interval; a negative change is an improvement on the NDI).

# %%
effect = mo.effect_sizes(ds, instrument="ndi", compare=("arm", "Massage", "Usual care"), end=plan["primary_visit"])
effect

# %% [markdown]
# ## Conclusions (computed from the tables above)

# %%
row = effect.full.iloc[0]
lines = [
    f"- The plan read {src['rows_kept']} measurements from {cells} cells ({src['empty_cells']} empty, "
    f"{src['rows_rejected']} rejected) of {len(ds.subjects)} participants; the date of birth was dropped.",
    f"- NDI change to {plan['primary_visit']}, massage − usual care: Hedges' g "
    f"{narrative.ci_text(row['estimate'], row['ci_low'], row['ci_high'])} (95% interval, "
    f"{narrative.p_text(row['p_value'])}; n = {int(row['n_1'])} and {int(row['n_2'])}): {row['favours']}.",
]
print("\n".join(lines))
