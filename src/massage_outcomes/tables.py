"""Summary tables for a trial or clinic dataset, and renderers to CSV, Markdown, HTML and LaTeX.

:func:`summary_tables` runs the library's analyses on a :class:`~massage_outcomes.Dataset` and gathers their
results into named DataFrames (Table 1 of baseline characteristics, effect sizes, responders, trajectory
contrasts, MMRM results). It computes no inferential statistic itself: effect sizes, responder rates, models and
contrasts come from :mod:`massage_outcomes.effects` and :mod:`massage_outcomes.trajectories`. Table 1 is
descriptive only (counts, means, SDs), without significance tests, as CONSORT asks. Each section is guarded: when an
analysis fails (or is not installed) its table becomes a one-row note saying why, and the other sections still run.

The returned frames keep full precision; rounding happens only in the renderers (:func:`to_csv`,
:func:`to_markdown`, :func:`to_html`, :func:`to_latex`), which format every number with a fixed number of decimals
so that regenerated files diff cleanly. CSV text cells beginning with ``= + - @`` (or a tab or carriage return) are
prefixed with a single quote so that spreadsheets do not run them as formulas.

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes import tables
>>> t = pd.DataFrame({"contrast": ["a - b"], "estimate": [-1.23456], "p_value": [0.000012], "n": [40]})
>>> print(tables.to_csv(t), end="")
contrast,estimate,p_value,n
a - b,-1.235,0.0000,40
>>> print(tables.to_markdown(t), end="")
| contrast | estimate | p_value |   n |
|:---------|---------:|--------:|----:|
| a - b    |   -1.235 | <0.0001 |  40 |
"""

from __future__ import annotations

import difflib
import html
import re
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from massage_outcomes import multiplicity as _mt
from massage_outcomes.errors import ArgumentError, DataValidationError, SmallSampleWarning
from massage_outcomes.frames import AnalysisFrames
from massage_outcomes.groups import group_order, levels_in_order
from massage_outcomes.narrative import interval_words

__all__ = [
    "summary_tables",
    "baseline_table",
    "default_primary_visit",
    "primary_visit",
    "primary_visit_info",
    "STUDY_FILE",
    "format_frame",
    "escape_formula",
    "to_csv",
    "to_markdown",
    "to_html",
    "to_latex",
    "render",
    "write_tables",
    "check_tables",
    "note_frame",
    "is_note",
    "FORMATS",
]

FORMATS: dict[str, str] = {"csv": ".csv", "md": ".md", "html": ".html", "tex": ".tex"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------------------------ formatting
def _is_p_column(name: str) -> bool:
    n = name.lower()
    return n in {"p", "pval", "p_value", "p_adjusted", "p_adj", "q_p", "p_q"} or n.startswith("p_") or n.endswith("_p") \
        or n.endswith("_p_value") or n.endswith("_pvalue")


def _is_count_column(name: str) -> bool:
    n = name.lower()
    return n in {"n", "k", "nobs", "n_obs", "n_subjects", "n_studies", "count", "events"} or n.startswith("n_") \
        or n.endswith("_n") or n.startswith("events_")


def _is_df_column(name: str) -> bool:
    n = name.lower()
    return n in {"df", "edf", "ddf", "df_resid"} or n.endswith("_df")


def _fmt_float(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:  # no "-0.000": it would flip with the last bit of an estimator
        s = s[1:]
    return s


def format_frame(
    frame: pd.DataFrame,
    *,
    digits: int = 3,
    p_digits: int = 4,
    style: Literal["csv", "display"] = "csv",
    missing: str | None = None,
) -> pd.DataFrame:
    """Every cell as text with fixed rounding: the one place numbers are rounded.

    Parameters
    ----------
    frame : any result table.
    digits : decimals for floating-point columns.
    p_digits : decimals for p-value columns (``p_value``, ``p_adjusted``, ``p_*``, ``*_p``); in the "display"
        style values below ``10**-p_digits`` are shown as ``<0.0001``.
    style : "csv" (machine-readable: plain fixed decimals, missing as an empty cell) or "display".
    missing : text for missing values (default "" for csv, "–" for display).

    Returns
    -------
    pandas.DataFrame
        Same shape and column names, every cell a ``str``. Count columns (``n``, ``n_*``, ``*_n``) holding whole
        numbers are printed without decimals, degrees of freedom (``df``, ``edf``, ``*_df``) with one decimal;
        ``-0.000`` is printed as ``0.000``.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import format_frame
    >>> format_frame(pd.DataFrame({"x": [1.23456, -0.0001], "n_1": [3.0, 4.0]})).to_dict("list")
    {'x': ['1.235', '0.000'], 'n_1': ['3', '4']}
    """
    na = ("" if style == "csv" else "–") if missing is None else missing
    out = {}
    for col in frame.columns:
        s = frame[col]
        name = str(col)
        if pd.api.types.is_bool_dtype(s):
            out[name] = s.map(lambda v: na if pd.isna(v) else ("yes" if v else "no")).astype(object)
        elif pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            vals = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
            finite = vals[np.isfinite(vals)]
            integral = finite.size > 0 and bool(np.all(finite == np.round(finite)))
            if pd.api.types.is_integer_dtype(s) or (integral and _is_count_column(name)):
                cells = [na if not np.isfinite(v) else str(int(v)) for v in vals]
            elif _is_df_column(name):  # degrees of freedom: one decimal, as usually reported
                cells = [na if not np.isfinite(v) else _fmt_float(v, 1) for v in vals]
            elif _is_p_column(name):
                floor = 10.0 ** (-p_digits)
                cells = [na if not np.isfinite(v) else
                         (f"<{floor:.{p_digits}f}" if style == "display" and v < floor else _fmt_float(v, p_digits))
                         for v in vals]
            else:
                cells = [na if not np.isfinite(v) else _fmt_float(v, digits) for v in vals]
                cells = [c if c not in ("inf", "-inf") else c for c in cells]
            out[name] = pd.Series(cells, index=s.index, dtype=object)
        else:
            out[name] = s.astype(object).map(lambda v: na if _isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index).astype(object)


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def escape_formula(text: str) -> str:
    """Prefix a text cell that a spreadsheet would run as a formula (starts with ``= + - @``, tab or CR) with '.

    Examples
    --------
    >>> from massage_outcomes.tables import escape_formula
    >>> escape_formula("=HYPERLINK(1)"), escape_formula("therapeutic - relaxation")
    ("'=HYPERLINK(1)", 'therapeutic - relaxation')
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns
            if not (pd.api.types.is_numeric_dtype(frame[c]) and not isinstance(frame[c].dtype, pd.CategoricalDtype))
            and not pd.api.types.is_bool_dtype(frame[c])]


def to_csv(frame: pd.DataFrame, path: str | Path | None = None, *, digits: int = 3, p_digits: int = 4) -> str:
    """CSV text with fixed rounding and formula escaping of text cells; written to ``path`` when given.

    Numeric columns are never escaped (``-1.2`` is a number); text cells starting with ``= + - @``, tab or CR get
    a leading ``'`` (the OWASP recommendation for CSV injection). Lines end with ``\\n`` on every platform.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import to_csv
    >>> print(to_csv(pd.DataFrame({"label": ["=1+1", "ok"], "estimate": [-0.5, 1/3]})), end="")
    label,estimate
    '=1+1,-0.500
    ok,0.333
    """
    cells = format_frame(frame, digits=digits, p_digits=p_digits, style="csv")
    for col in _text_columns(frame):
        cells[col] = cells[col].map(escape_formula)
    text = cells.to_csv(index=False, lineterminator="\n")
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _is_numeric_col(frame: pd.DataFrame, col: Any) -> bool:
    s = frame[col]
    return pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype) \
        and not pd.api.types.is_bool_dtype(s)


# what could open markup in a GFM table cell: emphasis, code, links and images, strikethrough, the cell rule; an
# underscore only at a word's edge (intraword ones are literal in GFM); "<" only before a tag's first character;
# "&" only where it would start an entity
_MD_SPECIAL = re.compile(r"([\\`*\[\]!|~>])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|<(?=[A-Za-z/!?])|&(?=#?\w+;)")


def _md_escape(value: Any) -> str:
    """A cell as Markdown shows it literally: punctuation that could open emphasis, code, a link, an image,
    raw HTML or an entity is backslash-escaped; line breaks become spaces."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def to_markdown(frame: pd.DataFrame, *, digits: int = 3, p_digits: int = 4, caption: str | None = None) -> str:
    """A GitHub-flavoured Markdown pipe table (numbers right-aligned, ``|`` in cells escaped).

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import to_markdown
    >>> print(to_markdown(pd.DataFrame({"a": ["x|y"], "b": [1.5]}), digits=1), end="")
    | a    |   b |
    |:-----|----:|
    | x\\|y | 1.5 |
    """
    cells = format_frame(frame, digits=digits, p_digits=p_digits, style="display")
    cols = [str(c) for c in frame.columns]
    body = [[_md_escape(v) for v in row] for row in cells.itertuples(index=False)]
    heads = [_md_escape(c) for c in cols]
    widths = [max([len(h), 3, *(len(r[j]) for r in body)]) for j, h in enumerate(heads)]
    right = [_is_numeric_col(frame, c) for c in frame.columns]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)) + " |"

    rule = "|" + "|".join((("-" * (w + 1)) + ":") if r else (":" + "-" * (w + 1)) for w, r in zip(widths, right, strict=True)) + "|"
    lines = ([f"**{_md_escape(caption)}**", ""] if caption else []) + [line(heads), rule, *(line(r) for r in body)]
    return "\n".join(lines) + "\n"


def to_html(frame: pd.DataFrame, *, digits: int = 3, p_digits: int = 4, caption: str | None = None) -> str:
    """An HTML ``<table>`` (cells escaped, numbers right-aligned, class ``mo-table``).

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import to_html
    >>> "<td class=\\"num\\">1.50</td>" in to_html(pd.DataFrame({"a": ["<b>"], "b": [1.5]}), digits=2)
    True
    """
    cells = format_frame(frame, digits=digits, p_digits=p_digits, style="display")
    numeric = [_is_numeric_col(frame, c) for c in frame.columns]
    out = ['<table class="mo-table">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(
        "<th" + (_NUM if n else "") + f">{html.escape(str(c))}</th>" for c, n in zip(frame.columns, numeric, strict=True)
    ) + "</tr></thead>")
    out.append("<tbody>")
    for row in cells.itertuples(index=False):
        out.append("<tr>" + "".join(
            "<td" + (_NUM if n else "") + f">{html.escape(str(v))}</td>" for v, n in zip(row, numeric, strict=True)
        ) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"


_NUM = ' class="num"'
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "–": "--", "−": "$-$"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def _latex_escape(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


def to_latex(frame: pd.DataFrame, *, digits: int = 3, p_digits: int = 4, caption: str | None = None,
             label: str | None = None) -> str:
    r"""A booktabs LaTeX table (``\usepackage{booktabs}``), special characters escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import to_latex
    >>> print(to_latex(pd.DataFrame({"arm": ["usual_care"], "n": [10]})), end="")
    \begin{tabular}{lr}
    \toprule
    arm & n \\
    \midrule
    usual\_care & 10 \\
    \bottomrule
    \end{tabular}
    """
    cells = format_frame(frame, digits=digits, p_digits=p_digits, style="display")
    align = "".join("r" if _is_numeric_col(frame, c) else "l" for c in frame.columns)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(_latex_escape(str(c)) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(str(v)).replace("\n", " ") for v in row) + r" \\"
              for row in cells.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption or label:
        head = [r"\begin{table}[htbp]", r"\centering"]
        if caption:
            head.append(rf"\caption{{{_latex_escape(caption)}}}")
        if label:
            head.append(rf"\label{{{label}}}")
        lines = head + lines + [r"\end{table}"]
    return "\n".join(lines) + "\n"


def render(frame: pd.DataFrame, fmt: str, *, digits: int = 3, p_digits: int = 4, caption: str | None = None) -> str:
    """Render one table as "csv", "md", "html" or "tex" text.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.tables import render
    >>> render(pd.DataFrame({"a": [1]}), "csv")
    'a\\n1\\n'
    """
    if fmt == "csv":
        return to_csv(frame, digits=digits, p_digits=p_digits)
    if fmt == "md":
        return to_markdown(frame, digits=digits, p_digits=p_digits, caption=caption)
    if fmt == "html":
        return to_html(frame, digits=digits, p_digits=p_digits, caption=caption)
    if fmt == "tex":
        return to_latex(frame, digits=digits, p_digits=p_digits, caption=caption)
    raise ArgumentError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _rendered(tables: Mapping[str, pd.DataFrame], formats: Iterable[str], digits: int) -> dict[str, str]:
    files: dict[str, str] = {}
    for name, frame in tables.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ArgumentError(f"table name {name!r} is not a safe file name (letters, digits, _ . - only)")
        for fmt in formats:
            if fmt not in FORMATS:
                raise ArgumentError(f"unknown table format {fmt!r}; choose from {', '.join(FORMATS)}")
            files[name + FORMATS[fmt]] = render(frame, fmt, digits=digits)
    return files


def write_tables(tables: Mapping[str, pd.DataFrame], out: str | Path, *, formats: Sequence[str] = ("csv",),
                 digits: int = 3) -> list[Path]:
    """Write every table in every format to directory ``out`` (created if needed); returns the paths written.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> from massage_outcomes.tables import write_tables
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in write_tables({"t": pd.DataFrame({"a": [1]})}, d, formats=["csv", "md"])]
    ['t.csv', 't.md']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fname, text in _rendered(tables, formats, digits).items():
        path = out / fname
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths


def check_tables(tables: Mapping[str, pd.DataFrame], out: str | Path, *, formats: Sequence[str] = ("csv",),
                 digits: int = 3) -> list[str]:
    """Compare freshly rendered tables with the files in ``out``; returns unified diffs (empty list = identical).

    A file that is missing on disk is reported as a diff against an empty file; a table file on disk (with one of
    ``formats``' extensions) that the tables no longer produce is reported as stale.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> from massage_outcomes.tables import write_tables, check_tables
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = write_tables({"t": pd.DataFrame({"a": [1]})}, d)
    ...     print(check_tables({"t": pd.DataFrame({"a": [2]})}, d)[0], end="")
    --- .../t.csv (on disk)
    +++ .../t.csv (regenerated)
    @@ -1,2 +1,2 @@
     a
    -1
    +2
    """
    out = Path(out)
    diffs = []
    files = _rendered(tables, formats, digits)
    for fname, text in files.items():
        path = out / fname
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old != text:
            diff = difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                        fromfile=f".../{fname} (on disk)" if path.exists() else f".../{fname} (missing)",
                                        tofile=f".../{fname} (regenerated)")
            diffs.append("".join(d if d.endswith("\n") else d + "\n" for d in diff))
    if out.is_dir():
        exts = {FORMATS[f] for f in formats}
        for path in sorted(out.iterdir()):
            if path.suffix in exts and path.name not in files and path.name != "README.md":
                diffs.append(f"stale file {path.name}: on disk but no longer produced (delete it or regenerate)\n")
    return diffs


# --------------------------------------------------------------------------------------------- guarded sections
def note_frame(section: str, message: str) -> pd.DataFrame:
    """The one-row table that stands in for a section whose analysis could not run.

    Examples
    --------
    >>> from massage_outcomes.tables import note_frame, is_note
    >>> is_note(note_frame("mmrm", "not available"))
    True
    """
    return pd.DataFrame({"section": [section], "note": [message]})


def is_note(frame: pd.DataFrame) -> bool:
    """True when ``frame`` is a :func:`note_frame` placeholder rather than results."""
    return list(frame.columns) == ["section", "note"]


def _describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # no memory addresses or file paths: committed tables must be the same on every machine
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    text = re.sub(r"\s*\((unknown location|[A-Za-z]?:?[/\\][^)]*)\)", "", text)
    if isinstance(exc, (ImportError, AttributeError)) and "massage_outcomes" in text:
        return f"not available yet in this version of massage_outcomes ({text})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _guard(section: str, fn: Callable[[], pd.DataFrame], problems: dict[str, str]) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            # the effect tables carry the reason in their `note` column; no need to repeat it on stderr
            warnings.simplefilter("ignore", category=SmallSampleWarning)
            result = fn()
    except Exception as exc:  # noqa: BLE001 - one failing analysis must not sink the others
        message = _describe_error(exc)
        problems[section] = message + "\n" + "".join(traceback.format_exception(exc)[-3:])
        return note_frame(section, f"{section} could not be computed: {message}")
    if result is None or (isinstance(result, pd.DataFrame) and result.empty):
        return note_frame(section, f"{section}: no rows (the data have nothing to compare for this section)")
    return result.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------- Table 1
def _mean_sd(x: pd.Series) -> str:
    x = pd.to_numeric(x, errors="coerce").dropna()
    if len(x) == 0:
        return "–"
    sd = x.std(ddof=1) if len(x) > 1 else float("nan")
    return f"{x.mean():.1f} ({sd:.1f})" if np.isfinite(sd) else f"{x.mean():.1f}"


def _median_iqr(x: pd.Series) -> str:
    x = pd.to_numeric(x, errors="coerce").dropna()
    if len(x) == 0:
        return "–"
    q1, med, q3 = np.quantile(x.to_numpy(dtype=float), [0.25, 0.5, 0.75])
    return f"{med:.0f} [{q1:.0f}, {q3:.0f}]" if np.allclose([q1, med, q3], np.round([q1, med, q3])) else \
        f"{med:.1f} [{q1:.1f}, {q3:.1f}]"


def _n_pct(mask: pd.Series, denom: int) -> str:
    k = int(mask.sum())
    return f"{k} ({100.0 * k / denom:.1f}%)" if denom else "0"


def _cell_mean_sd(s: pd.Series, m: pd.Series) -> str:
    return _mean_sd(s[m])


def _cell_missing(s: pd.Series, m: pd.Series) -> str:
    return _n_pct(s[m].isna(), int(m.sum()))


def _cell_measured(s: pd.Series, m: pd.Series) -> str:
    return _n_pct(s[m].notna(), int(m.sum()))


def _cell_distinct(s: pd.Series, m: pd.Series) -> str:
    return str(int(s[m].nunique()))


def _cell_level(s: pd.Series, level: Any, m: pd.Series) -> str:
    return _n_pct(s[m].astype(object) == level, int(m.sum()))


_SKIP_SUBJECT_COLUMNS = {"study", "subject"}


def _group_column(subjects: pd.DataFrame, by: str | None) -> str:
    if by is not None:
        if by not in subjects.columns:
            raise ArgumentError(f"by={by!r} is not a subject column; subjects have {list(subjects.columns)}")
        return by
    for cand in ("arm", "intent", "condition"):
        if cand in subjects.columns and subjects[cand].notna().any() and subjects[cand].nunique() >= 1:
            return cand
    raise DataValidationError("no arm, intent or condition column to split Table 1 by; pass by=<subject column>")


#: Table 1 labels of the canonical subject columns (a plan's or the caller's ``labels=`` win)
TABLE1_LABELS = {"age": "age", "sex": "sex", "condition": "condition", "technique": "allocated technique",
                 "intent": "intent", "clinic": "clinic"}
TABLE1_UNITS: dict[str, str] = {}  # covariate units come from the study's plan or ``units=``


def _table1_label(col: str, labels: Mapping[str, str], units: Mapping[str, str]) -> str:
    label = labels.get(col) or TABLE1_LABELS.get(col) or str(col).replace("_", " ")
    unit = units.get(col) if col in units else TABLE1_UNITS.get(col)
    return f"{label}, {unit}" if unit else label


def baseline_table(ds: Any, *, by: str | None = None, instruments: Sequence[str] | None = None,
                   max_levels: int = 12, smd: bool = False, labels: Mapping[str, str] | None = None,
                   units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Table 1: baseline characteristics per arm (and overall), descriptive only, with no significance tests.

    Rows: participants (N), each subject covariate (numeric: mean (SD); categorical with at most ``max_levels``
    levels: n (%) per level, plus "missing" when any are missing), each instrument's baseline score (mean (SD),
    with the number measured), and treatment sessions attended per participant (median [IQR]) when the dataset
    has sessions.

    Parameters
    ----------
    ds : a :class:`~massage_outcomes.Dataset`.
    by : subject column to split by (default: "arm", else "intent", else "condition").
    instruments : instruments whose baseline score to show (default: every instrument with baseline ratings).
    max_levels : categorical covariates with more levels (e.g. clinic in a large registry) are summarised by their
        number of levels only.
    smd : add the column ``SMD``: the standardized mean difference between the groups on each characteristic's
        first row (R tableone's convention, the average over pairs of groups with more than two; see
        :func:`massage_outcomes.paper.standardized_differences`), as display text with two decimals.
    labels, units : ``{column: label}`` and ``{column: unit}`` for the characteristics (``units={"age": "years"}``
        prints "age, years");
        default: a plan's ``labels``/``units`` kept in ``ds.source`` when the reader stored them, then the library's
        names for its canonical columns; instruments are named and ranged from the registry.

    Returns
    -------
    pandas.DataFrame
        Columns ``characteristic``, ``level``, one column per group (in the vocabulary's order) and ``overall``
        (and ``SMD`` with ``smd=True``); every cell is display text ("45.2 (11.0)", "31 (25.8%)").

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.tables import baseline_table
    >>> t1 = baseline_table(mo.simulate_trial(n_per_arm=20, seed=1))  # doctest: +SKIP
    >>> list(t1.columns)  # doctest: +SKIP
    ['characteristic', 'level', 'therapeutic', 'relaxation', 'usual_care', 'overall']
    """
    subjects = ds.subjects.reset_index(drop=True) if "subject" in ds.subjects.columns else ds.subjects.reset_index()
    group = _group_column(subjects, by)
    groups = group_order(subjects, group)
    cols: list[tuple[str, pd.Series]] = [(str(g), subjects[group].astype(object) == g) for g in groups]
    cols.append(("overall", pd.Series(True, index=subjects.index)))
    rows: list[dict[str, str]] = []
    variable: list[str] = []  # the subject column or instrument of each row (for the SMD column)
    source = getattr(ds, "source", None) or {}
    labels = {**dict(source.get("labels") or {}), **dict(labels or {})}
    units = {**dict(source.get("units") or {}), **dict(units or {})}

    def add(characteristic: str, level: str, fn: Callable[[pd.Series], str]) -> None:
        rows.append({"characteristic": characteristic, "level": level, **{name: fn(mask) for name, mask in cols}})
        variable.append(current)

    current = ""
    add("participants", "N", lambda m: str(int(m.sum())))
    for col in subjects.columns:
        if col in _SKIP_SUBJECT_COLUMNS or col == group:
            continue
        s = subjects[col]
        if s.isna().all():
            continue
        current = str(col)
        label = _table1_label(str(col), labels, units)
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype) \
                and not pd.api.types.is_bool_dtype(s):
            add(label, "mean (SD)", partial(_cell_mean_sd, s))
            if s.isna().any():
                add(label, "missing", partial(_cell_missing, s))
            continue
        levels = levels_in_order(s)
        if len(levels) <= 1 and col in ("study", "condition", "technique", "intent") and not s.isna().any():
            if len(levels) == 1:
                rows.append({"characteristic": label, "level": str(levels[0]).replace("_", " "),
                             **{name: ("all" if m.any() else "–") for name, m in cols}})
                variable.append("")
            continue
        if len(levels) > max_levels:
            add(label, "distinct values", partial(_cell_distinct, s))
            continue
        for lv in levels:
            add(label, str(lv).replace("_", " "), partial(_cell_level, s, lv))
        if s.isna().any():
            add(label, "missing", partial(_cell_missing, s))

    outcomes = ds.outcomes
    if "timing" in outcomes.columns:
        base = outcomes[outcomes["timing"].astype(object) == "baseline"]
        keys = instruments if instruments is not None else levels_in_order(base["instrument"])
        for key in keys:
            b = base[base["instrument"].astype(object) == key]
            # one baseline value per subject (the first, if a source recorded two)
            b = b.sort_values("day").drop_duplicates(["study", "subject"])
            merged = subjects[["study", "subject"]].merge(b[["study", "subject", "value"]], how="left",
                                                          on=["study", "subject"])
            vals = pd.Series(merged["value"].to_numpy(dtype=float), index=subjects.index)
            current = str(key)
            try:
                from massage_outcomes import instruments as _inst

                inst = _inst.get(str(key))
                arrow = "lower is better" if inst.direction == "lower" else "higher is better"
                label = f"{inst.name} at baseline ({inst.min:g}–{inst.max:g} {inst.unit}, {arrow})"
            except Exception:  # noqa: BLE001 - unregistered instrument: keep its key
                label = f"{key} at baseline"
            add(label, "mean (SD)", partial(_cell_mean_sd, vals))
            add(label, "measured", partial(_cell_measured, vals))
    current = ""
    sessions = getattr(ds, "sessions", None)
    if sessions is not None and len(sessions):
        counts = sessions.groupby(["study", "subject"], observed=True).size().rename("k").reset_index()
        merged = subjects[["study", "subject"]].merge(counts, how="left", on=["study", "subject"])
        k = pd.Series(merged["k"].fillna(0).to_numpy(dtype=float), index=subjects.index)
        add("sessions attended", "median [IQR]", lambda m: _median_iqr(k[m]))
        if "therapist" in sessions.columns and sessions["therapist"].notna().any():
            th = sessions[["study", "subject", "therapist"]].dropna()
            per = subjects[["study", "subject"]].reset_index().merge(th, on=["study", "subject"])
            add("therapists", "number", lambda m: str(int(per.loc[per["index"].isin(m[m].index), "therapist"].nunique())))
    table = pd.DataFrame(rows)
    if smd:
        table["SMD"] = _smd_column(ds, group, variable)
    table.attrs["by"] = group  # the report's title names it: "by arm", "by condition"
    return table


def _smd_column(ds: Any, group: str, variable: Sequence[str]) -> list[str]:
    """The SMD of each row's variable on its first row ("" elsewhere, and for rows without a variable)."""
    from massage_outcomes.paper import standardized_differences

    design = {"technique", "intent"} if group == "arm" else set()  # fixed by the allocation: no balance to show
    wanted = [v for v in dict.fromkeys(variable) if v and v not in design]
    subj_vars = [v for v in wanted if v in ds.subjects.columns]
    inst_vars = [v for v in wanted if v not in ds.subjects.columns]
    try:
        table = standardized_differences(ds, by=group, variables=subj_vars, instruments=inst_vars)
    except DataValidationError:  # fewer than two groups: no SMD to show
        return [""] * len(variable)
    smd = dict(zip(table["variable"], table["smd"], strict=True))
    out, seen = [], set()
    for v in variable:
        first = bool(v) and v not in seen
        seen.add(v)
        out.append(_fmt_float(float(smd[v]), 2) if first and v in smd and np.isfinite(smd[v]) else "")
    return out


# ---------------------------------------------------------------------------------------------- summary tables
def _arms(ds: Any) -> list[str]:
    subjects = ds.subjects
    if "arm" not in subjects.columns or subjects["arm"].isna().all():
        return []
    return [str(a) for a in group_order(subjects, "arm")]


def _instruments_with(ds: Any, timing: str) -> list[str]:
    out = ds.outcomes
    sub = out[out["timing"].astype(object) == timing]
    return [str(k) for k in levels_in_order(sub["instrument"])]


def _visits(ds: Any) -> list[str]:
    out = ds.outcomes
    if "visit" not in out.columns or out["visit"].isna().all():
        return []
    return [str(v) for v in levels_in_order(out["visit"])]


#: the file beside a study's data that states its design facts (primary visit, primary instrument)
STUDY_FILE = "study.json"


def _declared_primary_visit(ds: Any) -> tuple[str | None, str]:
    """The primary visit the data declare, and where: the read plan (``ds.source["primary_visit"]`` or the
    plan's ``primary_visit`` key), else ``study.json`` beside the data file."""
    source = getattr(ds, "source", None) or {}
    if source.get("primary_visit"):
        return str(source["primary_visit"]), "the read plan"
    plan = source.get("plan") or source.get("mapping")
    if isinstance(plan, Mapping) and plan.get("primary_visit"):
        return str(plan["primary_visit"]), "the read plan"
    files = source.get("file") or source.get("files")
    first = files[0] if isinstance(files, list | tuple) and files else files
    if isinstance(first, str | Path) and str(first):
        study = Path(first).parent / STUDY_FILE
        if study.is_file():
            import json

            try:
                facts = json.loads(study.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataValidationError(f"{study}: not a readable JSON file ({exc}).") from exc
            if isinstance(facts, Mapping) and facts.get("primary_visit"):
                return str(facts["primary_visit"]), f"{STUDY_FILE} beside the data"
    return None, ""


def primary_visit_info(ds: Any, primary_visit: str | None = None) -> tuple[str | None, str]:
    """The primary visit and where it comes from: the one rule the report, the tables and the notebooks use.

    In order: ``primary_visit`` when given; the visit the data declare (the read plan's ``primary_visit``, or
    ``study.json`` beside the data file, as the bundled sample trial has); else the last follow-up visit
    (stated as a default). None when the data have no visits.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> primary_visit_info(mo.load_sample("trial"))
    ('week_10', 'study.json beside the data')
    """
    from massage_outcomes.errors import option

    visits = _visits(ds)
    if primary_visit is not None:
        if primary_visit not in visits:
            raise DataValidationError(
                f"{option('primary_visit', primary_visit)} is not a visit of this dataset; visits: "
                f"{', '.join(visits) or 'none'}.")
        return primary_visit, "chosen by the user"
    declared, where = _declared_primary_visit(ds)
    if declared is not None:
        if declared not in visits:
            raise DataValidationError(f"{where} names the primary visit {declared!r}, which is not a visit of this "
                                      f"dataset; visits: {', '.join(visits) or 'none'}. Correct {where}.")
        return declared, where
    followup = [v for v in visits if v.lower() not in ("baseline", "screening", "week 0")]
    if not followup:
        return None, ""
    return followup[-1], "the last follow-up visit (no primary visit declared: add primary_visit to the read plan)"


def primary_visit(ds: Any, primary_visit: str | None = None) -> str | None:
    """The primary visit (see :func:`primary_visit_info`, which also says where it comes from).

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> primary_visit(mo.load_sample("trial"))
    'week_10'
    """
    return primary_visit_info(ds, primary_visit)[0]


def _n_levels(ds: Any, column: str) -> int:
    """Distinct non-missing values of ``column`` among subjects (or sessions for technique)."""
    n = 0
    for table in (ds.subjects, getattr(ds, "sessions", None)):
        if table is not None and column in table.columns:
            n = max(n, int(table[column].dropna().nunique()))
    return n


def default_primary_visit(ds: Any) -> str | None:
    """The visit :func:`summary_tables` compares arms at by default (:func:`primary_visit` without a choice)."""
    return primary_visit(ds)


def _pairs(levels: Sequence[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(levels) for b in levels[i + 1:]]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _front(frame: pd.DataFrame, first: Sequence[str]) -> pd.DataFrame:
    cols = [c for c in first if c in frame.columns]
    return frame[cols + [c for c in frame.columns if c not in cols]]


def summary_tables(
    ds: Any,
    *,
    instruments: Sequence[str] | None = None,
    primary_visit: str | None = None,
    measure: str = "hedges_g",
    thresholds: Sequence[Any] = ("mcid", 0.3, 0.5),
    level: float = 0.95,
    adjust: str = "holm",
    trajectory_options: Mapping[str, Any] | None = None,
    mmrm_options: Mapping[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    methods: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    mcids: Mapping[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the library's analyses on a dataset and gather their results as named tables.

    Sections (each guarded: a failing analysis gives a one-row note naming the error, never a crash):

    - ``table1_baseline``: :func:`baseline_table` (descriptive, no significance tests).
    - ``effects_between_arms``: for each pair of arms ``a - b`` (in the arms' order) and instrument,
      :func:`~massage_outcomes.effect_sizes` at ``primary_visit`` on the baseline-adjusted ("ancova") and change
      scales, standardized (``measure``) and raw.
    - ``effects_by_condition`` / ``effects_by_technique``: within-subject effects (baseline → primary visit for
      trial data, pre → post session for clinic data) per condition and per technique, multiplicity-adjusted.
    - ``responders``: :func:`~massage_outcomes.responders` at each threshold for each pair of arms (rates per arm,
      RD, RR, NNT with CIs).
    - ``trajectory_contrasts``: :func:`~massage_outcomes.fit_trajectories` (categorical visit by default) then
      ``contrasts("pairwise", adjust=adjust)`` per visit, with standardized effect sizes.
    - ``mmrm``: :func:`~massage_outcomes.fit_mmrm` (unstructured, baseline-adjusted), pairwise contrasts per visit.

    Sections that do not apply to the data (no arms) are omitted.

    Parameters
    ----------
    ds : a :class:`~massage_outcomes.Dataset`.
    instruments : instruments to analyse (default: every instrument with baseline ratings).
    primary_visit : the visit of the primary comparison (default: the last follow-up visit).
    measure : standardized effect measure passed to ``effect_sizes``.
    thresholds : responder thresholds ("mcid", proportions, or points).
    adjust : multiplicity adjustment for families of contrasts and effects ("holm", "fdr_bh", ...).
    trajectory_options, mmrm_options : extra keyword options for ``fit_trajectories`` / ``fit_mmrm``.
    problems : a dict that receives, per failed section, the error and the end of its traceback.
    methods : a dict that receives, per section that ran, one sentence naming the model and options used (the
        report's methods section is built from it, so it cannot disagree with what was run).
    progress : called with each section's name before it runs (the CLI uses it for its progress bar).
    mcids : instrument key → MCID in points for the responder analyses, where the registry has none for the
        data's condition (``responders(mcid=)``).

    Returns
    -------
    dict[str, pandas.DataFrame]
        Insertion-ordered as listed above; full precision (round when rendering).

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> tabs = mo.tables.summary_tables(mo.simulate_trial(n_per_arm=30, seed=2))  # doctest: +SKIP
    >>> list(tabs)  # doctest: +SKIP
    ['table1_baseline', 'effects_between_arms', 'effects_by_condition', 'effects_by_technique', 'responders',
     'trajectory_contrasts', 'mmrm']
    """
    run = _Run(ds=ds, keys=[], arms=_arms(ds), end="last", measure=measure, level=level,
               adjust=_mt.normalize_method(adjust), es_adjust=None, thresholds=thresholds, mcids=mcids or {},
               frame_of=AnalysisFrames(ds), problems={} if problems is None else problems,
               methods={} if methods is None else methods, tick=progress or (lambda _name: None))
    if run.adjust != "none":
        run.es_adjust = run.adjust
    if run.adjust == "tukey":  # Tukey is for pairwise contrasts of one model's means; effect-size tables get Šidák
        run.es_adjust = "sidak"
        warnings.warn("adjust='tukey' applies to the model contrasts; the effect-size tables use 'sidak' (Tukey's "
                      "studentized range needs pairwise contrasts of one model's means).", UserWarning, stacklevel=2)
    result: dict[str, pd.DataFrame] = {}
    _table1_section(run, result, instruments)
    try:
        run.keys = list(instruments) if instruments is not None else _instruments_with(ds, "baseline")
    except Exception:  # noqa: BLE001
        run.keys = list(instruments or [])
    primary, primary_source = primary_visit_info(ds, primary_visit)
    run.end = primary if primary is not None else "last"
    if primary is not None:
        run.methods["primary_visit"] = f"Primary visit: {primary} ({primary_source})."
    if len(run.arms) >= 2:
        run.section(result, "effects_between_arms", lambda: _between_arms(run))
    n_cond, n_tech = _n_levels(ds, "condition"), _n_levels(ds, "technique")
    for by in ("condition", "technique"):
        run.section(result, f"effects_by_{by}", partial(_within_subjects, run, [by], n_cond > 1 and n_tech > 1))
    if n_cond > 1 and n_tech > 1:
        run.section(result, "effects_condition_technique",
                    partial(_within_subjects, run, ["condition", "technique"], True))
    if len(run.arms) >= 2:
        run.section(result, "responders", lambda: _responders_section(run))
        _model_sections(run, result, trajectory_options or {}, mmrm_options or {})
    return result


@dataclass
class _Run:
    """What every section of :func:`summary_tables` shares: the data, its options, and where notes go."""

    ds: Any
    keys: list[str]
    arms: list[str]
    end: Any
    measure: str
    level: float
    adjust: str
    es_adjust: str | None
    thresholds: Sequence[Any]
    mcids: Mapping[str, float]
    frame_of: AnalysisFrames
    problems: dict[str, str]
    methods: dict[str, str]
    tick: Callable[[str], None]

    def section(self, result: dict[str, pd.DataFrame], name: str, fn: Callable[[], pd.DataFrame]) -> None:
        """Run one section, guarded (a failure becomes a one-row note), after telling the progress bar."""
        self.tick(name)
        result[name] = _guard(name, fn, self.problems)


def _table1_section(run: _Run, result: dict[str, pd.DataFrame], instruments: Sequence[str] | None) -> None:
    with_smd = len(run.arms) >= 2
    run.section(result, "table1_baseline", lambda: baseline_table(run.ds, instruments=instruments, smd=with_smd))
    try:
        by_col = _group_column(run.ds.subjects.reset_index(drop=True), None)
    except Exception:  # noqa: BLE001 - Table 1's own note says why
        by_col = "arm"
    run.methods["table1_baseline"] = (
        f"Baseline characteristics by {by_col.replace('_', ' ')} (Table 1): counts with percentages, means with "
        "SDs, sessions attended as median [IQR]; no significance tests (CONSORT)"
        + ("; balance as standardized mean differences (R tableone's convention: the average over pairs of "
           "arms)." if with_smd else "."))


def _between_arms(run: _Run) -> pd.DataFrame:
    from massage_outcomes.effects import effect_sizes

    frames = []
    for key in run.keys:
        for a, b in _pairs(run.arms):
            for on in ("ancova", "change"):
                for meas in (run.measure, "mean_diff"):
                    f = effect_sizes(run.frame_of(key), instrument=key, compare=("arm", a, b), on=on,
                                     start="baseline", end=run.end, measure=meas, ci="exact", level=run.level)
                    frames.append(f.assign(instrument=key, contrast=f"{a} - {b}", on=on))
    run.methods["effects_between_arms"] = (
        f"Between-arm effects per pair of arms (a − b) from baseline to {run.end} (effect_sizes, "
        f"compare=('arm', a, b)): baseline-adjusted (ANCOVA) and change-score differences, as {run.measure} "
        f"and as raw mean differences, with exact {run.level:.0%} intervals (unadjusted; 'favours' names an arm "
        "only when the interval excludes no difference).")
    return _front(_concat(frames), ["instrument", "contrast", "on", "measure"])


def _within_subjects(run: _Run, by: list[str], crossed: bool) -> pd.DataFrame:
    from massage_outcomes.effects import effect_sizes

    ds = run.ds
    pre_post = _instruments_with(ds, "pre") if "timing" in ds.outcomes.columns else []
    pp_keys = [k for k in pre_post if k in _instruments_with(ds, "post")]
    frames = []
    for key in run.keys:
        f = effect_sizes(run.frame_of(key), instrument=key, by=by, start="baseline", end=run.end,
                         measure=run.measure, ci="exact", level=run.level, adjust=run.es_adjust)
        frames.append(f.assign(instrument=key, period="course of care"))
    for key in pp_keys:
        f = effect_sizes(run.frame_of(key), instrument=key, by=by, start="pre", end="post", measure=run.measure,
                         ci="exact", level=run.level, adjust=run.es_adjust)
        frames.append(f.assign(instrument=key, period="within session (pre to post)"))
    run.methods["effects_within"] = (
        f"Within-subject effects ({run.measure}, exact intervals; {interval_words(run.es_adjust, run.level)}, a "
        f"family being one table) from baseline to {run.end} (course of care) and, where sessions were rated, from "
        "pre- to post-session (immediate effect), per condition, per technique"
        + (" and per condition × technique." if crossed else "."))
    return _front(_concat(frames), ["instrument", "period", *by])


def _responders_section(run: _Run) -> pd.DataFrame:
    from massage_outcomes.effects import responders

    frames = []
    for key in run.keys:
        for thr in run.thresholds:
            for a, b in _pairs(run.arms):
                try:
                    f = responders(run.frame_of(key), instrument=key, threshold=thr, compare=("arm", a, b),
                                   end=run.end, mcid=run.mcids.get(key))
                except DataValidationError as exc:  # e.g. no published MCID for this instrument
                    f = pd.DataFrame({"note": [_describe_error(exc)]})
                frames.append(f.assign(instrument=key, threshold_spec=str(thr), contrast=f"{a} - {b}"))
    run.methods["responders"] = (
        f"Responders at {run.end} by direction-aware improvement from baseline at thresholds "
        f"{', '.join(map(str, run.thresholds))} (responders): rates per arm with Wilson intervals, risk "
        "difference (Newcombe interval), risk ratio and NNT (from the risk-difference interval, with the "
        "benefit/harm form when it crosses zero).")
    return _front(_concat(frames), ["instrument", "threshold_spec", "contrast"])


def _model_sections(run: _Run, result: dict[str, pd.DataFrame], trajectory_options: Mapping[str, Any],
                    mmrm_options: Mapping[str, Any]) -> None:
    """The LMM and the MMRM per instrument: pairwise arm contrasts per visit, and their marginal means."""
    visits = _visits(run.ds)
    spec = [f"{a} - {b}" for a, b in _pairs(run.arms)]  # in the arms' order: "therapeutic - relaxation", ...
    fits: dict[str, dict[str, pd.DataFrame]] = {"trajectory": {}, "mmrm": {}}

    def model_section(kind: str, name: str, fit_one: Callable[[str], Any]) -> pd.DataFrame:
        """Fit one model per instrument; its arm contrasts (returned) and marginal means (kept in ``fits``)."""
        frames, means = [], []
        for key in run.keys:
            fit = fit_one(key)
            c = fit.contrasts(spec, adjust=cast(Any, run.adjust), level=run.level)
            conv = bool(getattr(fit, "converged", True))
            frames.append(c.assign(instrument=key, model=name, converged=conv))
            means.append(fit.emmeans(level=run.level).assign(instrument=key, model=name, converged=conv))
        fits[kind]["means"] = _front(_concat(means), ["instrument", "model"])
        return _front(_concat(frames), ["instrument", "model", "contrast"])

    def traj() -> pd.DataFrame:
        from massage_outcomes.trajectories import fit_trajectories

        opts: dict[str, Any] = ({"time": "visit", "visit_as_factor": True, "random": "intercept"} if visits
                                else {"time": "week", "random": "slope"})
        opts.update(trajectory_options)
        name = f"LMM (time={opts['time']}, random={opts['random']}, REML)"
        contrasts = model_section(
            "trajectory", name, lambda key: fit_trajectories(run.ds, instrument=key, group="arm", **opts))
        run.methods["trajectory_contrasts"] = (
            f"Linear mixed model per instrument (fit_trajectories: value ~ arm × {opts['time']}, random "
            f"{opts['random']} per subject, REML); marginal means and pairwise contrasts between arms at each "
            f"{opts['time']} with Satterthwaite df; {interval_words(run.adjust, run.level)}, a family being the "
            "contrasts at one visit (trajectories.marginal).")
        return contrasts

    def mmrm() -> pd.DataFrame:
        from massage_outcomes.trajectories import fit_mmrm

        opts: dict[str, Any] = {"visit": "visit", "adjust_baseline": True, "covariance": "unstructured"}
        opts.update(mmrm_options)
        name = f"MMRM ({opts['covariance']}{', baseline-adjusted' if opts.get('adjust_baseline') else ''}, REML)"
        contrasts = model_section("mmrm", name, lambda key: fit_mmrm(run.ds, instrument=key, group="arm", **opts))
        run.methods["mmrm"] = (
            f"MMRM per instrument (fit_mmrm: post-baseline visits, {opts['covariance']} residual covariance"
            f"{', adjusted for the baseline score' if opts.get('adjust_baseline') else ''}, REML, valid under "
            f"missing at random); pairwise contrasts between arms at each visit with Satterthwaite df; "
            f"{interval_words(run.adjust, run.level)}, a family being the contrasts at one visit.")
        return contrasts

    run.section(result, "trajectory_contrasts", traj)
    if "means" in fits["trajectory"]:
        result["trajectory_means"] = fits["trajectory"]["means"]
    run.section(result, "mmrm", mmrm)
    if "means" in fits["mmrm"]:
        result["mmrm_means"] = fits["mmrm"]["means"]
