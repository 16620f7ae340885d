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
# # 04 · What the published trials and reviews say
#
# **Question.** What do the published estimates for massage (collected in `data/published/published_evidence.csv`)
# say per outcome type, which of them may be pooled, and how far can they be trusted?
#
# The file is a copy of the team's reference table with its provenance kept: `P` = read in the primary source,
# `S` = a second-hand summary, `U` = unverified, plus the source file's hash. Every number below is read from it;
# the conclusions at the end are computed from the tables above them.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import massage_outcomes as mo
from massage_outcomes import narrative, plot, tables

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "published").is_dir())
pub = pd.read_csv(ROOT / "data" / "published" / "published_evidence.csv", dtype={"source_sha256": str})
pub[["study", "outcome", "timepoint", "contrast", "estimate", "ci_low", "ci_high", "measure", "provenance"]]

# %% [markdown]
# ## Provenance
# How many estimates come from each kind of source, and which have no confidence interval.

# %%
prov = pub.groupby(["provenance", "provenance_meaning"]).size().rename("estimates").reset_index()
no_ci = pub[pub["ci_low"].isna() | pub["ci_high"].isna()]
print(tables.to_markdown(prov))
print(f"{len(no_ci)} estimates without a confidence interval: {', '.join(sorted(set(no_ci['study'])))}")

# %% [markdown]
# ## One forest plot per outcome type
# Estimates on different scales are never drawn on one axis: adjusted mean differences (in each instrument's own
# points), standardized mean differences, and risk ratios of responders are separate figures. For differences,
# negative favours massage (all these scales are lower-is-better); for responder risk ratios, above 1 favours
# massage.

# %%
pub["label"] = pub["study"] + ": " + pub["contrast"] + ", " + pub["timepoint"]
md = pub[pub["measure"] == "adjusted_mean_difference"]
ax = plot.forest(md, group="outcome", weight=None, better="lower", compare=("the first-named arm", "the comparator"),
                 xlabel="Adjusted mean difference (instrument points)",
                 title="Adjusted mean differences (each in its own instrument's points)")
plt.show()

# %%
smd = pub[pub["measure"] == "SMD"]
ax = plot.forest(smd, group="outcome", weight=None, better="lower", compare=("massage", "comparator"),
                 xlabel="Standardized mean difference", title="Standardized mean differences")
plt.show()

# %%
rr = pub[pub["measure"] == "risk_ratio"]
ax = plot.forest(rr, group="outcome", weight=None, log=True, better="higher", compare=("massage", "comparator"),
                 xlabel="Risk ratio of responding", title="Responder risk ratios")
plt.show()

# %% [markdown]
# ## Which estimates may be pooled?
# Pooling needs estimates of the same outcome, measure, time point and kind of comparator, from independent
# groups of patients. Two contrasts from one trial that share a control arm (Cherkin 2011: relaxation − usual care
# and structural − usual care) are not independent, and pooling them would count the usual-care patients twice.
# Review-level estimates for different populations (Furlan 2015: acute versus subacute/chronic pain, from
# different trials) are independent, but they are already pooled, second-hand numbers.

# %%
pub["comparator"] = pub["contrast"].str.split(" - ").str[1].str.replace(r"\s*\(.*\)", "", regex=True).str.strip()
pub["population"] = pub["contrast"].str.extract(r"\((.*)\)")[0].fillna("")
pub["has_ci"] = pub["ci_low"].notna() & pub["ci_high"].notna()
keys = ["outcome", "timepoint", "measure", "comparator"]
rows = []
for key, grp in pub[pub["has_ci"]].groupby(keys, sort=False):
    shared_control = grp.duplicated(["study", "population"]).any()
    rows.append({**dict(zip(keys, key, strict=True)), "k": len(grp), "studies": ", ".join(grp["study"]),
                 "shared_control": shared_control, "poolable": len(grp) >= 2 and not shared_control})
candidates = pd.DataFrame(rows)
candidates

# %%
poolable = candidates[candidates["poolable"]]
pooled_parts, inputs = [], []
for _, cand in poolable.iterrows():
    grp = pub[pub["has_ci"]].merge(cand[keys].to_frame().T, on=keys)
    inputs.append(grp)
    res = mo.pool(grp, method="REML", test="knha", se=None, ci_low="ci_low", ci_high="ci_high", measure="measure")
    pooled_parts.append(res.assign(**{k: cand[k] for k in keys}))
pooled = pd.concat(pooled_parts, ignore_index=True) if pooled_parts else pd.DataFrame()
if len(pooled):
    print(tables.to_markdown(pooled[[*keys, "k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "I2",
                                     "reliable"]], digits=2))

# %%
if len(pooled):
    both = pd.concat(inputs, ignore_index=True)
    both["label"] = both["study"] + " (" + both["population"] + ")"
    pooled_rows = pooled.assign(label="Random-effects pool (REML, HKSJ)")
    ax = plot.forest(both, group="outcome", pooled=pooled_rows, weight=None, better="lower",
                     compare=("massage", "inactive control"), xlabel="Standardized mean difference",
                     title="Pooled where comparable: massage versus inactive control, short term")
    plt.show()

# %% [markdown]
# ## Conclusions (computed from the tables above)
# Written by `massage_outcomes.narrative` from the tables above (pooled rows only where `reliable`);
# `tests/test_notebooks.py` checks the numbers.

# %%
n_total = len(pub)
n_p = int((pub["provenance"] == "P").sum())
n_s = int((pub["provenance"] == "S").sum())
lines = [f"- The file holds {n_total} published estimates from {pub['study'].nunique()} studies: {n_p} read in the "
         f"primary source, {n_s} second-hand; {len(no_ci)} have no confidence interval and cannot be pooled."]
cherkin = pub[(pub["study"] == "Cherkin2011") & (pub["outcome"] == "rmdq")].set_index("contrast")
if len(cherkin) == 2:
    r, s = cherkin.loc["relaxation - usual_care"], cherkin.loc["structural - usual_care"]
    overlap = max(r["ci_low"], s["ci_low"]) <= min(r["ci_high"], s["ci_high"])
    lines.append(
        f"- Cherkin 2011 (RMDQ, 10 weeks): relaxation − usual care "
        f"{narrative.ci_text(r['estimate'], r['ci_low'], r['ci_high'], digits=1, signed=True)} and structural − usual "
        f"care {narrative.ci_text(s['estimate'], s['ci_low'], s['ci_high'], digits=1, signed=True)} points (95% CIs as "
        f"published); the intervals {'overlap' if overlap else 'do not overlap'}, and the two contrasts share the "
        "usual-care arm, so they were not pooled.")
for _, row in (pooled[pooled["reliable"]] if len(pooled) else pooled).iterrows():
    k_studies = int(row["k"])
    excludes_zero = row["ci_high"] < 0 or row["ci_low"] > 0
    lines.append(
        f"- {row['outcome'].capitalize()}, {row['timepoint']}, massage versus {row['comparator']} control: pooled SMD "
        f"{narrative.ci_text(row['estimate'], row['ci_low'], row['ci_high'])} (HKSJ 95% CI) from {k_studies} "
        f"independent review-level estimates (I² = {narrative.number(row['I2'], 0)}%); the interval "
        f"{'excludes' if excludes_zero else 'includes'} zero. With k = {k_studies} the HKSJ interval is wide and "
        "the inputs are already pooled second-hand numbers: read this as a summary, not new evidence.")
not_pooled = candidates[~candidates["poolable"]]
lines.append(f"- {len(not_pooled)} outcome/time/comparator groups were left unpooled: "
             f"{int((not_pooled['k'] < 2).sum())} have a single estimate and "
             f"{int(not_pooled['shared_control'].sum())} share a control arm.")
print("\n".join(lines))
