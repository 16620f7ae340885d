"""Tables for the paper: standardized differences for Table 1, the outcomes table, the sensitivity table.

- :func:`standardized_differences`: baseline balance between arms as standardized mean differences in R
  tableone's convention (Yang & Dalton 2012): per pair of arms, and their average, for numeric and categorical
  characteristics and baseline scores.
- :func:`outcomes_table`: per instrument and visit, mean (SD) and n per arm, the adjusted difference [CI] between
  arms from the primary model's contrasts, and responders per arm with RR and NNT from the responder analysis.
- :func:`sensitivity_table`: any set of analyses given as one tidy frame (``estimate, se, ci_low, ci_high, df,
  p_value`` per analysis, contrast and visit) side by side with the primary analysis.

They compose results the analyses returned (and the Dataset's own descriptive summary); they fit no model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import DataValidationError
from massage_outcomes.groups import group_order

__all__ = ["standardized_differences", "outcomes_table", "sensitivity_table", "SENSITIVITY_COLUMNS",
           "format_interval"]

#: the columns :func:`sensitivity_table` needs (``instrument``, ``note`` and ``reliable`` are used when present)
SENSITIVITY_COLUMNS = ("analysis", "contrast", "visit", "estimate", "se", "ci_low", "ci_high", "df", "p_value")
_MINUS = "\u2212"


def _num(x: float, digits: int) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", _MINUS)


def format_interval(est: float, lo: float, hi: float, digits: int = 2) -> str:
    """``"−2.13 [−3.40, −0.86]"`` (typographic minus; "–" for a missing number)."""
    return f"{_num(est, digits)} [{_num(lo, digits)}, {_num(hi, digits)}]"


def _p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# ------------------------------------------------------------------------------------ standardized differences
def _smd_numeric(x: np.ndarray, groups: list[np.ndarray]) -> list[float]:
    """|m_i − m_j| / sqrt((s_i² + s_j²) / 2) for the pairs (2,1), (3,1), (3,2), ... (tableone's order)."""
    means = [np.nanmean(x[g]) if np.isfinite(x[g]).any() else np.nan for g in groups]
    var = [np.nanvar(x[g], ddof=1) if np.isfinite(x[g]).sum() > 1 else np.nan for g in groups]
    out = []
    for j in range(len(groups)):
        for i in range(j + 1, len(groups)):
            denom = np.sqrt((var[i] + var[j]) / 2.0)
            out.append(float(abs(means[i] - means[j]) / denom) if denom > 0 else
                       (0.0 if means[i] == means[j] else float("inf")))
    return out


def _smd_categorical(values: pd.Series, groups: list[np.ndarray]) -> list[float]:
    """Yang & Dalton's multinomial SMD: sqrt(d' S⁻ d) over the levels after the first, with d the difference in
    level proportions and S the mean of the two multinomial covariance matrices (generalized inverse, as in
    tableone)."""
    present = values.notna().to_numpy()
    levels = [lv for lv in pd.unique(values.dropna())]
    levels = sorted(levels, key=str) if not isinstance(values.dtype, pd.CategoricalDtype) else \
        [c for c in values.cat.categories if c in set(levels)]
    obj = values.astype(object).to_numpy()
    props = []
    for g in groups:
        m = g & present
        n = m.sum()
        props.append(np.array([(obj[m] == lv).sum() / n if n else np.nan for lv in levels], dtype=float))
    out = []
    for j in range(len(groups)):
        for i in range(j + 1, len(groups)):
            p1, p2 = props[i][1:], props[j][1:]
            if len(levels) < 2:
                out.append(0.0)
                continue
            s = ((np.diag(p1) - np.outer(p1, p1)) + (np.diag(p2) - np.outer(p2, p2))) / 2.0
            d = p1 - p2
            out.append(float(np.sqrt(max(d @ np.linalg.pinv(s) @ d, 0.0))))
    return out


def standardized_differences(ds: Any, *, by: str = "arm", variables: Sequence[str] | None = None,
                             instruments: Sequence[str] | None = None) -> pd.DataFrame:
    """Standardized mean differences between groups at baseline (R tableone's ``ExtractSmd`` convention).

    Parameters
    ----------
    ds : Dataset
        Subjects give the characteristics; baseline outcome rows give each instrument's baseline score.
    by : str
        The subject column defining the groups (default ``"arm"``), in the library's arm order.
    variables : list of str, optional
        Subject columns (default: the covariates, and ``technique``/``condition``/``clinic`` when they vary).
    instruments : list of str, optional
        Instruments whose baseline score to include (default: every instrument with baseline ratings).

    Returns
    -------
    DataFrame
        One row per variable: ``variable``, ``kind`` ("numeric"/"categorical"), one ``smd_<a>_vs_<b>`` column per
        pair of groups (order (2,1), (3,1), (3,2), ... as in tableone) and ``smd`` (their average, tableone's
        printed SMD for more than two groups).

    Notes
    -----
    Numeric: :math:`|\\bar x_a - \\bar x_b| / \\sqrt{(s_a^2 + s_b^2)/2}`. Categorical with levels
    :math:`1..k`: :math:`\\sqrt{d^\\top S^{-} d}` with :math:`d = p_a - p_b` over levels :math:`2..k` and
    :math:`S = (S_a + S_b)/2`, :math:`S_g = \\mathrm{diag}(p_g) - p_g p_g^\\top`; for two levels this is
    :math:`|p_a - p_b| / \\sqrt{(p_a(1-p_a) + p_b(1-p_b))/2}`. Missing values are left out (tableone's default,
    ``includeNA = FALSE``).

    References
    ----------
    Yang D, Dalton JE. A unified approach to measuring the effect size between two groups using SAS. SAS Global
    Forum 2012, paper 335. Yoshida K, Bartel A. tableone: Create 'Table 1' to Describe Baseline Characteristics
    (R package), ``ExtractSmd``.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.paper import standardized_differences
    >>> smd = standardized_differences(mo.load_sample("trial"))
    >>> list(smd["variable"])
    ['age', 'sex', 'pain_nrs', 'rmdq']
    """

    subjects = ds.subjects.reset_index(drop=True)
    if by not in subjects.columns:
        raise ValueError(f"by={by!r} is not a subject column; subjects have {list(subjects.columns)}")
    levels = [g for g in group_order(subjects, by)]
    if len(levels) < 2:
        raise DataValidationError(f"standardized differences need at least two groups in {by!r}; found {levels}")
    grp = subjects[by].astype(object).to_numpy()
    masks = [grp == g for g in levels]
    if variables is None:
        variables = [c for c in subjects.columns if c not in ("study", "subject", by, "intent")
                     and subjects[c].notna().any() and subjects[c].nunique() > 1
                     and not (c == "technique" and by == "arm")]
    rows: list[dict[str, Any]] = []
    pairs = [f"smd_{levels[i]}_vs_{levels[j]}" for j in range(len(levels)) for i in range(j + 1, len(levels))]

    def add(name: str, kind: str, values: list[float]) -> None:
        rows.append({"variable": name, "kind": kind, **dict(zip(pairs, values, strict=True)),
                     "smd": float(np.mean(values)) if values else np.nan})

    for col in variables:
        s = subjects[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
                and not isinstance(s.dtype, pd.CategoricalDtype):
            add(str(col), "numeric", _smd_numeric(s.to_numpy(dtype=float), masks))
        else:
            add(str(col), "categorical", _smd_categorical(s, masks))
    o = ds.outcomes
    base = o[o["timing"].astype(str) == "baseline"]
    keys = list(instruments) if instruments is not None else sorted(pd.unique(base["instrument"].astype(str)))
    for key in keys:
        b = base[base["instrument"].astype(str) == key].sort_values("day").drop_duplicates(["study", "subject"])
        vals = subjects[["study", "subject"]].merge(b[["study", "subject", "value"]], how="left",
                                                    on=["study", "subject"])["value"].to_numpy(dtype=float)
        add(str(key), "numeric", _smd_numeric(vals, masks))
    return pd.DataFrame(rows, columns=["variable", "kind", *pairs, "smd"])


# -------------------------------------------------------------------------------------------- outcomes table
def _arm_label(arm: str) -> str:
    return str(arm).replace("_", " ")


def _contrast_arms(contrast: str) -> tuple[str, str] | None:
    parts = [p.strip() for p in str(contrast).split(" - ")]
    return (parts[0], parts[1]) if len(parts) == 2 else None


def outcomes_table(
    ds: Any,
    *,
    contrasts: pd.DataFrame | None,
    responders: pd.DataFrame | None = None,
    instrument: str,
    arms: Sequence[str] | None = None,
    visits: Sequence[str] | None = None,
    threshold: str = "mcid",
    digits: int = 1,
    diff_digits: int = 2,
) -> pd.DataFrame:
    """The outcomes table of one instrument: per visit, mean (SD) and n per arm, adjusted differences [CI].

    Parameters
    ----------
    ds : Dataset
        Its descriptive summary (:meth:`Dataset.summary`) gives mean, SD and n per arm and visit.
    contrasts : DataFrame or None
        The primary model's between-arm contrasts (e.g. the ``mmrm`` table of
        :func:`~massage_outcomes.tables.summary_tables`, or ``fit_mmrm(...).contrasts(...)``): columns
        ``instrument`` (optional), ``contrast`` ("a - b"), ``visit``, ``estimate``, ``ci_low``, ``ci_high`` and
        optionally ``p_value``/``p_adjusted``.
    responders : DataFrame, optional
        The ``responders`` table (``instrument``, ``threshold_spec``, ``arm_1``, ``arm_2``, ``responders_k``,
        ``n_k``, ``rate_k``, ``risk_ratio`` with its CI, ``nnt_label``): adds responder rows at its visit.
    instrument : str
        The instrument.
    arms, visits : list of str, optional
        Arms in order (default: the library's order) and post-baseline visits (default: those in ``contrasts``).
    threshold : str
        Which responder threshold (``threshold_spec``) to show.

    Returns
    -------
    DataFrame
        Display text with two-level columns: ``("", "visit")``, per arm ``(arm, "mean (SD)")`` and
        ``(arm, "n")``, per contrast ``("difference [95% CI]", "a − b")``. The baseline row has no differences;
        responder rows (``visit`` "responders ...") show n/N (%) per arm and "RR [CI]; NNT" per contrast.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.paper import outcomes_table
    >>> ds = mo.load_sample("trial")
    >>> fit = mo.fit_mmrm(ds, instrument="rmdq", visit="visit", group="arm", adjust_baseline=True)
    >>> spec = ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"]
    >>> t = outcomes_table(ds, contrasts=fit.contrasts(spec), instrument="rmdq")
    >>> t.iloc[:, 0].tolist()
    ['baseline', 'week 4', 'week 10', 'week 26']
    """

    summ = ds.summary()
    summ = summ[(summ["instrument"].astype(str) == instrument) & summ["visit"].notna()
                & summ["timing"].astype(str).isin(["baseline", "followup"])]
    arms = list(arms) if arms is not None else [str(a) for a in group_order(ds.subjects, "arm")]
    c = contrasts if contrasts is not None else pd.DataFrame(columns=["contrast", "visit", "estimate"])
    if "instrument" in c.columns:
        c = c[c["instrument"].astype(str) == instrument]
    level = float(c["level"].iloc[0]) if "level" in c.columns and len(c) else 0.95
    order = [str(v) for v in ds.outcomes["visit"].cat.categories] if hasattr(ds.outcomes["visit"], "cat") else []
    all_visits = [v for v in order if v in set(summ["visit"].astype(str))]
    if visits is None:
        visits = all_visits
    pairs = list(dict.fromkeys(str(x) for x in c["contrast"])) if len(c) else []
    head_diff = f"difference [{level:.0%} CI]"
    cols: list[tuple[str, str]] = [("", "visit")]
    for a in arms:
        cols += [(_arm_label(a), "mean (SD)"), (_arm_label(a), "n")]
    cols += [(head_diff, p.replace(" - ", f" {_MINUS} ").replace("_", " ")) for p in pairs]
    rows = []
    for v in visits:
        row: list[str] = [_arm_label(v)]
        for a in arms:
            s = summ[(summ["visit"].astype(str) == v) & (summ["arm"].astype(str) == a)]
            if len(s):
                row += [f"{_num(float(s['mean'].iloc[0]), digits)} ({_num(float(s['sd'].iloc[0]), digits)})",
                        str(int(s["n_subjects"].iloc[0]))]
            else:
                row += ["–", "0"]
        for p in pairs:
            r = c[(c["contrast"].astype(str) == p) & (c["visit"].astype(str) == v)]
            row.append(format_interval(float(r["estimate"].iloc[0]), float(r["ci_low"].iloc[0]),
                                       float(r["ci_high"].iloc[0]), diff_digits) if len(r) else "")
        rows.append(row)
    if responders is not None and len(responders):
        rows += _responder_rows(responders, instrument, arms, pairs, threshold)
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(cols))


def _responder_rows(resp: pd.DataFrame, instrument: str, arms: Sequence[str], pairs: Sequence[str],
                    threshold: str) -> list[list[str]]:
    r = resp
    if "instrument" in r.columns:
        r = r[r["instrument"].astype(str) == instrument]
    if "threshold_spec" in r.columns:
        r = r[r["threshold_spec"].astype(str) == str(threshold)]
    if r.empty or "arm_1" not in r.columns:
        return []
    q0 = r.iloc[0]
    if "threshold_value" in r.columns and "threshold_unit" in r.columns:
        unit = "%" if str(q0["threshold_unit"]) == "percent" else " points"
        label = f"≥{float(q0['threshold_value']):g}{unit}" + (" (MCID)" if str(threshold).lower() == "mcid" else "")
    else:
        label = str(threshold)
    row: list[str] = [f"responders {label}"]
    for a in arms:
        hit = None
        for k in (1, 2):
            m = r[r[f"arm_{k}"].astype(str) == a]
            if len(m):
                hit = m.iloc[0]
                x, n = int(hit[f"responders_{k}"]), int(hit[f"n_{k}"])
                row += [f"{x}/{n} ({100 * x / n:.0f}%)" if n else "–", str(n)]
                break
        if hit is None:
            row += ["–", "0"]
    for p in pairs:
        ab = _contrast_arms(p)
        m = r[(r["arm_1"].astype(str) == ab[0]) & (r["arm_2"].astype(str) == ab[1])] if ab else r.iloc[:0]
        if len(m):
            q = m.iloc[0]
            rr = format_interval(float(q["risk_ratio"]), float(q["risk_ratio_ci_low"]), float(q["risk_ratio_ci_high"]), 2) \
                if "risk_ratio" in q.index else "–"
            nnt = str(q["nnt_label"]) if "nnt_label" in q.index else ""
            nnt = nnt if nnt.startswith("NNT") else f"NNT {nnt}"
            row.append(f"RR {rr}; {nnt}" if "nnt_label" in q.index else f"RR {rr}")
        else:
            row.append("")
    return [row]


# ----------------------------------------------------------------------------------------- sensitivity table
def sensitivity_table(results: pd.DataFrame, *, primary: pd.DataFrame | None = None,
                      primary_name: str = "primary analysis", digits: int = 2) -> pd.DataFrame:
    """Sensitivity analyses side by side: one row per instrument, contrast, visit and analysis.

    Parameters
    ----------
    results : DataFrame
        The sensitivity analyses in one tidy frame with the columns :data:`SENSITIVITY_COLUMNS` (``analysis``
        names each: "reference-based MI (J2R)", "tipping point δ = 2", "per protocol", ...); ``instrument``,
        ``reliable`` and ``note`` are used when present.
    primary : DataFrame, optional
        The primary analysis' contrasts (same columns but ``analysis`` and ``se`` optional): shown first in each
        group.

    Returns
    -------
    DataFrame
        Display text: ``instrument`` (when given), ``contrast``, ``visit``, ``analysis``, ``difference [95% CI]``,
        ``SE``, ``df``, ``p``, ``note``.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.paper import sensitivity_table
    >>> res = pd.DataFrame({"analysis": ["J2R"], "contrast": ["therapeutic - usual_care"], "visit": ["week_26"],
    ...                     "estimate": [-2.0], "se": [0.8], "ci_low": [-3.6], "ci_high": [-0.4], "df": [140.0],
    ...                     "p_value": [0.014]})
    >>> sensitivity_table(res).iloc[0].tolist()
    ['therapeutic − usual care', 'week 26', 'J2R', '−2.00 [−3.60, −0.40]', '0.80', '140.0', '0.014', '']
    """
    missing = [c for c in SENSITIVITY_COLUMNS if c not in results.columns]
    if missing:
        raise DataValidationError(
            f"sensitivity_table needs the columns {list(SENSITIVITY_COLUMNS)}; missing {missing} "
            f"(it has {list(results.columns)})")
    frames = []
    if primary is not None and len(primary):
        p = primary.copy()
        p["analysis"] = primary_name
        for col in ("se", "df", "p_value"):
            if col not in p.columns:
                p[col] = np.nan
        frames.append(p.assign(_first=0))
    frames.append(results.assign(_first=1))
    allr = pd.concat(frames, ignore_index=True, sort=False)
    keys = [k for k in ("instrument", "contrast", "visit") if k in allr.columns]
    if "instrument" in allr.columns:
        allr = allr[allr["instrument"].notna() | (allr["_first"] == 1)]
    allr = allr.assign(_key=allr[keys].astype(str).agg("|".join, axis=1))
    order = {k: i for i, k in enumerate(dict.fromkeys(allr.loc[allr["_first"] == 1, "_key"]))}
    allr = allr[allr["_key"].isin(order)]
    allr = allr.assign(_o=allr["_key"].map(order)).sort_values(["_o", "_first"], kind="stable")
    level = float(allr["level"].dropna().iloc[0]) if "level" in allr.columns and allr["level"].notna().any() else 0.95
    out = pd.DataFrame({
        **({"instrument": allr["instrument"].astype(str)} if "instrument" in allr.columns else {}),
        "contrast": allr["contrast"].astype(str).str.replace(" - ", f" {_MINUS} ").str.replace("_", " "),
        "visit": allr["visit"].astype(str).str.replace("_", " "),
        "analysis": allr["analysis"].astype(str),
        f"difference [{level:.0%} CI]": [format_interval(e, lo, hi, digits) for e, lo, hi in
                                          zip(allr["estimate"], allr["ci_low"], allr["ci_high"], strict=True)],
        "SE": [_num(float(x), digits) for x in allr["se"]],
        "df": [_num(float(x), 1) for x in allr["df"]],
        "p": [_p(float(x)) for x in allr["p_value"]],
        "note": allr["note"].fillna("").astype(str) if "note" in allr.columns else "",
    })
    return out.reset_index(drop=True)


def instrument_footnote(key: str, *, thresholds: Mapping[str, Any] | None = None) -> str:
    """One line naming an instrument, its range, units and direction (for table footnotes and figure captions)."""
    from massage_outcomes import instruments

    try:
        inst = instruments.get(key)
    except Exception:  # noqa: BLE001 - unregistered: its key
        return str(key)
    arrow = "lower is better" if inst.direction == "lower" else "higher is better"
    return f"{inst.name}: {inst.min:g}–{inst.max:g} {inst.unit}, {arrow}."
