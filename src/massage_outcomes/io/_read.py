"""``massage_outcomes.read``: any supported file or folder to a validated Dataset."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes.coerce import as_text, category_to_str
from massage_outcomes.dataset import Dataset
from massage_outcomes.errors import DataValidationError, ReadAssumptionWarning
from massage_outcomes.groups import first_positions
from massage_outcomes.io._csv import TextTable, read_text_table
from massage_outcomes.io._formats import read_excel, read_parquet, read_stat
from massage_outcomes.io._mapping import apply_mapping, canonical_names, rename_note, resolve_column
from massage_outcomes.io._wide import detect_measure_columns, wide_to_long
from massage_outcomes.io.plan import (
    ReadPlan,
    is_plan,
    load_plan,
    plan_mapping,
    prepare_frame,
    read_options,
    register_study_instruments,
)
from massage_outcomes.schema import (
    CANONICAL_LONG,
    DERIVED_COLUMNS,
    Problem,
    ValidationReport,
    check_option,
    error_message,
    fatal_error,
)

logger = logging.getLogger("massage_outcomes.io")

Layout = Literal["auto", "long", "wide"]

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
STAT_SUFFIXES = {".sav": "sav", ".zsav": "zsav", ".dta": "dta", ".xpt": "xpt", ".sas7bdat": "sas7bdat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
TABLE_NAMES = ("subjects", "sessions", "outcomes")


def read(path: str | Path | pd.DataFrame, *, mapping: Mapping[str, Any] | None = None, layout: Layout = "auto",
         wide: Any = None, on_error: Literal["raise", "quarantine"] = "raise", encoding: str | None = None,
         sheet: str | int | None = None, study: str | None = None, delimiter: str | None = None,
         decimal: str | None = None, covariates: Sequence[str] | None = None,
         time_varying: Sequence[str] | None = None) -> Dataset:
    """Read a study's data file (or folder) into a validated :class:`~massage_outcomes.Dataset`.

    Parameters
    ----------
    path : str, Path or DataFrame
        A CSV/TSV/TXT file, an Excel workbook (.xlsx), Parquet, SPSS (.sav), Stata (.dta), SAS transport (.xpt)
        or SAS7BDAT file; or a folder holding ``subjects``, ``sessions`` and ``outcomes`` tables (CSV or
        Parquet), such as one written by :meth:`Dataset.to_parquet`; or a DataFrame (rows numbered by its
        integer index in problems).
    mapping : ReadPlan, path of a plan (.yaml/.json), or dict, optional
        A read plan (see :mod:`massage_outcomes.io.plan`; :func:`massage_outcomes.describe` proposes one): its
        choices override the keyword arguments below, and a plan with unanswered TODOs raises naming each.
        Or, as a plain dict, renames and recodes for sources that do not use the canonical names:
        ``{"PatientID": "subject", "Group": ("arm", {"A": "therapeutic", "B": "relaxation"})}``; a dict value
        recodes a column's values (``{"technique": {"DT": "deep_tissue"}}``).
    layout : {"auto", "long", "wide"}
        ``"long"``: one row per measurement with a ``value`` column; ``"wide"``: one column per visit or per
        session pre/post; ``"auto"``: long when there is a ``value`` column, else wide.
    wide : dict or str, optional
        How wide columns map to measurements: ``{"rmdq_bl": ("rmdq", "baseline", "baseline", 0), ...}`` or a
        pattern ``"{instrument}_{visit}"``; by default the patterns of :mod:`massage_outcomes.io._wide`.
    on_error : {"raise", "quarantine"}
        ``"raise"``: any broken rule raises :class:`~massage_outcomes.errors.DataValidationError` listing every
        problem (file, row, column, value, rule). ``"quarantine"``: keep the good rows and put the bad ones in
        ``ds.rejected`` with their reasons. Problems of the whole file (empty, a required column missing)
        raise either way.
    encoding : str, optional
        Text encoding; by default UTF-8 (with or without BOM), falling back to Windows-1252/Latin-1.
    sheet : str or int, optional
        Excel sheet (default: the first).
    study : str, optional
        Study name when the data have no ``study`` column (default ``"study"``).
    delimiter, decimal : str, optional
        Override the sniffed delimiter (``,``, ``;``, tab, ``|``) and decimal mark (``.`` or ``,``).
    covariates : list of str, optional
        Extra columns to keep as subject covariates (default: every non-canonical column that is constant
        within each subject).
    time_varying : list of str, optional
        Extra columns kept with each measurement in ``ds.outcomes`` (age at visit, the other items of a
        questionnaire). By default, every extra column whose values change within a subject (recorded in
        ``ds.source["time_varying"]`` and ``ds.source["assumed"]``); such a column never rejects a row.

    Returns
    -------
    Dataset
        ``ds.source`` records the file, format, encoding, delimiter, decimal mark, layout, the engine,
        ``rows_read``/``rows_kept``/``rows_rejected`` (``rows_read == rows_kept + rows_rejected``), what was
        assumed, and the :class:`~massage_outcomes.schema.ValidationReport`.

    Raises
    ------
    DataValidationError
        When the data break a rule (see :mod:`massage_outcomes.validation`); ``err.report`` holds every problem.

    Notes
    -----
    Nothing in a file is executed: Excel formulas are read as their stored values, nothing is unpickled.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import massage_outcomes as mo
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "trial.csv").write_text(
    ...     "subject;arm;instrument;visit;day;value\\n"
    ...     "1;therapeutic;pain_vas;baseline;0;65,5\\n1;therapeutic;pain_vas;week 4;28;40\\n", encoding="utf-8")
    >>> ds = mo.read(d / "trial.csv")
    >>> ds.source["delimiter"], ds.source["decimal"], ds.outcomes["value"].tolist()
    (';', ',', [65.5, 40.0])
    """
    plan, given = None, mapping
    if mapping is not None and is_plan(mapping):
        plan = load_plan(mapping)
        plan.check(where=f"the read plan {mapping}" if isinstance(mapping, (str, Path)) else "the read plan")
        opts = read_options(plan)
        layout, wide = opts.get("layout", layout), opts.get("wide", wide)
        covariates, time_varying = opts.get("covariates", covariates), opts.get("time_varying", time_varying)
        study, encoding, sheet = opts.get("study", study), opts.get("encoding", encoding), opts.get("sheet", sheet)
        delimiter, decimal = opts.get("delimiter", delimiter), opts.get("decimal", decimal)
        mapping = plan_mapping(plan) or None
        register_study_instruments(plan)
    if isinstance(path, pd.DataFrame):
        table = frame_table(path)
        name = "the DataFrame"
    else:
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
        if p.is_dir():
            return read_folder(p, mapping=mapping, on_error=on_error, study=study, encoding=encoding)
        table = read_table(p, encoding=encoding, sheet=sheet, delimiter=delimiter, decimal=decimal)
        name = p.name
    ds = table_to_dataset(table, mapping=mapping, layout=layout, wide=wide, on_error=on_error, study=study,
                          covariates=covariates, name=name, time_varying=time_varying, plan=plan)
    if plan is not None:
        ds.source["plan"] = str(given) if isinstance(given, (str, Path)) else "the read plan"
        if plan.get("primary_visit") is not None:
            ds.source["primary_visit"] = plan["primary_visit"]
        if plan.get("instruments"):
            ds.source["study_instruments"] = sorted(map(str, plan["instruments"]))
    return ds


def frame_table(frame: pd.DataFrame) -> TextTable:
    """A DataFrame as a raw table: its own copy, rows numbered by an integer index (else from 0)."""
    rows = frame.index.to_numpy() if pd.api.types.is_integer_dtype(frame.index.dtype) else np.arange(len(frame))
    out = frame.reset_index(drop=True).copy()
    out.columns = [str(c) for c in out.columns]
    return TextTable(out, np.asarray(rows), {"file": "the DataFrame", "format": "dataframe", "assumed": []})


def read_table(p: Path, *, encoding: str | None = None, sheet: str | int | None = None,
               delimiter: str | None = None, decimal: str | None = None) -> TextTable:
    """Read one file into raw columns with the reader its suffix (or its first bytes) calls for."""
    suffix = p.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return read_excel(p, sheet=sheet)
    if suffix == ".xls":
        raise fatal_error(p.name, "unsupported_format",
                          "old Excel .xls files are not read (they need xlrd): save the sheet as .xlsx or CSV")
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(p)
    if suffix in STAT_SUFFIXES:
        return read_stat(p, STAT_SUFFIXES[suffix])
    if suffix not in TEXT_SUFFIXES:
        with p.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(b"PK\x03\x04"):
            return read_excel(p, sheet=sheet)
        if head.startswith(b"PAR1"):
            return read_parquet(p)
    return read_text_table(p, encoding=encoding, delimiter=delimiter, decimal=decimal)


def _announce(info: dict[str, Any]) -> None:
    assumed = info.get("assumed") or []
    if assumed:
        text = f"{Path(str(info.get('file', ''))).name}: assumed " + "; ".join(assumed)
        logger.info(text)
        notable = [a for a in assumed if not a.startswith(("delimiter", "value labels"))]
        if notable:
            warnings.warn(text + " (see ds.source)", ReadAssumptionWarning, stacklevel=4)


def table_to_dataset(table: TextTable, *, mapping: Mapping[str, Any] | None, layout: str, wide: Any,
                     on_error: str, study: str | None, covariates: Sequence[str] | None, name: str,
                     time_varying: Sequence[str] | None = None, plan: ReadPlan | None = None) -> Dataset:
    """Map, reshape and validate a raw table into a Dataset (shared by every format)."""
    check_option("on_error", on_error, ("raise", "quarantine"))
    check_option("layout", layout, ("auto", "long", "wide"))
    info = dict(table.info)
    _announce(info)
    frame = table.frame
    table.frame = pd.DataFrame()  # ownership passes on (see Dataset.from_long(_consume=True) below)
    renamed: dict[str, str] = {}
    if plan is not None:
        frame = prepare_frame(plan, frame, renamed)
    if mapping:
        try:
            frame = apply_mapping(frame, mapping, record=renamed)
        except KeyError as err:
            raise fatal_error(name, "mapping", str(err.args[0])) from None
    keep = [resolve_column(k, list(frame.columns)) for k in wide] if isinstance(wide, Mapping) else []
    frame = canonical_names(frame, record=renamed, keep=[k for k in keep if k is not None],
                            wide=layout == "wide" or wide is not None, derived=True)
    if renamed:
        info["renamed"] = dict(renamed)
        info["assumed"] = [*info.get("assumed", []), *rename_note(renamed)]
        logger.info("%s: %s", name, "; ".join(rename_note(renamed)))
    if info.get("value_label_sets"):
        frame = apply_value_labels(frame, info, renamed, wide=wide if use_wide_hint(layout, wide, frame) else False)
    rows = table.rows
    use_wide = layout == "wide" or (layout == "auto" and (wide is not None or (
        "value" not in frame.columns and len(frame.columns) > 0 and len(frame) > 0)))
    value_columns = None
    raw = frame
    info["file_rows"] = len(frame)
    if use_wide:
        try:
            long, rows = wide_to_long(frame, wide=wide, rows=rows)
        except DataValidationError as err:
            if layout == "wide" or wide is not None:
                raise
            long = frame  # let the long rules name the missing columns
            info["layout"] = "long"
            del err
        else:
            value_columns = long.pop("_column").to_numpy()
            info["layout"] = "wide"
            info["empty_cells"] = long.attrs.get("empty_cells", 0)
            info["measure_columns"] = long.attrs.get("measure_columns", [])
            if wide is None:
                info["assumed"] = [*info.get("assumed", []), wide_note(long.attrs.get("measure_specs", {}))]
            raw = long.assign(column=value_columns)
            frame = long
    else:
        info["layout"] = "long"
    info["rows_read"] = len(frame)
    extra = ValidationReport(table.problems, file=name) if table.problems else None
    decimal_comma = info.get("decimal") == ","
    if covariates is not None:  # the user's names, as renamed
        covariates = [renamed.get(str(c), str(c)) for c in covariates]
    varying = [renamed.get(str(c), str(c)) for c in time_varying] if time_varying is not None else \
        varying_columns(frame, covariates)
    if varying and time_varying is None:
        info["assumed"] = [*info.get("assumed", []), "time-varying columns (their values change within a "
                           "subject, so they are kept with each measurement): " + ", ".join(map(str, varying))]
    try:
        ds = Dataset.from_long(frame, on_error=on_error, study=study, covariates=covariates, source=info,
                               rows=rows, raw=raw, extra_problems=extra, decimal_comma=decimal_comma, file=name,
                               value_columns=value_columns, time_varying=varying, _consume=raw is frame)
    except DataValidationError as err:
        err = in_user_names(err, renamed)
        if plan is None and err.report is not None and "required_column" in err.report.rules().index:
            err = DataValidationError(f"{err}\n{describe_hint(str(info.get('file') or name))}", report=err.report)
        raise err from None
    if renamed:
        ds.source["report"] = ds.source["report"].renamed(_inverse(renamed))
        ds.rejected = ds.rejected.rename(columns=_inverse(renamed))
    return ds


def use_wide_hint(layout: str, wide: Any, frame: pd.DataFrame) -> bool:
    """Whether the frame will be read as wide (the same test as :func:`table_to_dataset`)."""
    return layout == "wide" or (layout == "auto" and (wide is not None or "value" not in frame.columns))


def apply_value_labels(frame: pd.DataFrame, info: dict[str, Any], renamed: Mapping[str, str], *,
                       wide: Any) -> pd.DataFrame:
    """SPSS/Stata value labels: codes become labels in categorical columns (arm, sex), never in measurements.

    A measurement (``value``, or a wide layout's measurement columns) keeps its numeric codes: on a 0-10 scale
    with labelled anchors ("0 = no pain", "10 = worst pain") the anchors are scores. Recorded in
    ``info["value_labels_applied"]`` and ``info["value_labels_kept_as_codes"]``.
    """
    sets = {renamed.get(c, c): v for c, v in info["value_label_sets"].items()}
    measure = {"value"}
    if wide is not False:
        measure |= set(detect_measure_columns([str(c) for c in frame.columns], wide))
    applied, kept = [], []
    out = frame.copy()
    for col, labels in sets.items():
        if col not in out.columns:
            continue
        if col in measure:
            kept.append(col)
            continue
        codes = out[col]
        keyed = {float(k) if isinstance(k, (int, float)) else k: v for k, v in labels.items()}
        out[col] = codes.map(lambda v, keyed=keyed: keyed.get(v, v) if not pd.isna(v) else None).astype(object)
        applied.append(col)
    info["value_labels_applied"] = sorted(map(str, applied))
    info["value_labels_kept_as_codes"] = sorted(map(str, kept))
    if applied:
        info["assumed"] = [*info.get("assumed", []), f"value labels applied to {', '.join(info['value_labels_applied'])}"]
    if kept:
        info["assumed"] = [*info.get("assumed", []), "value labels not applied to measurements (numeric codes "
                           f"kept): {', '.join(info['value_labels_kept_as_codes'])}"]
    return out


def varying_columns(frame: pd.DataFrame, covariates: Sequence[str] | None = None) -> list[str]:
    """Extra (non-canonical) columns whose non-missing values differ within a subject: time-varying covariates.

    Columns named in ``covariates`` stay subject-level (a disagreement there is an error).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"subject": ["a", "a"], "age_at_visit": [40, 41], "sex": ["f", "f"], "value": [1, 2]})
    >>> varying_columns(f)
    ['age_at_visit']
    """
    if "subject" not in frame.columns or not len(frame):
        return []
    fixed = set(CANONICAL_LONG) | set(DERIVED_COLUMNS) | set(covariates or ())
    extra = [c for c in frame.columns if c not in fixed and not str(c).startswith("_")]
    if not extra:
        return []
    keys = [c for c in ("study", "subject") if c in frame.columns]
    unit = _codes(frame[keys[0]])
    for k in keys[1:]:
        other = _codes(frame[k])
        unit = np.where((unit >= 0) & (other >= 0), pd.factorize(unit * (int(other.max()) + 1) + other)[0], -1)
    n_units = int(unit.max()) + 1
    # one pass per column on integer codes (a groupby nunique on object values took 2.9 s of a 5M-row read)
    varying = []
    for c in extra:
        codes = _codes(frame[c])
        first = first_positions(unit, n_units, codes >= 0)
        ref = np.where(unit >= 0, first[np.maximum(unit, 0)], -1)
        has = (codes >= 0) & (ref >= 0)
        if (codes[has] != codes[ref[has]]).any():
            varying.append(str(c))
    return varying


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's values, equal values equal codes (−1 where missing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64)
    return pd.factorize(values, use_na_sentinel=True)[0].astype(np.int64, copy=False)


def wide_note(specs: Mapping[str, Mapping[str, Any]]) -> str:
    """``"wide layout (no 'value' column): 'rmdq_bl' -> rmdq at bl, ..."`` for ``ds.source["assumed"]``."""
    def one(col: str, spec: Mapping[str, Any]) -> str:
        parts = [str(spec.get("instrument", "?"))]
        for key, word in (("visit", "at"), ("timing", ""), ("session", "session")):
            if spec.get(key) is not None:
                parts.append(f"{word} {spec[key]}".strip())
        return f"{col!r} -> " + " ".join(parts)

    shown = [one(c, sp) for c, sp in list(specs.items())[:12]]
    more = f", ... ({len(specs)} columns)" if len(specs) > 12 else ""
    return "wide layout (no 'value' column): " + ", ".join(shown) + more


def describe_hint(file: str) -> str:
    """What to run when a file is not in the library's long layout (a wide file, a study's own export)."""
    shown = file if file != "the DataFrame" else "export.csv"
    return (f"If this is a wide file (one column per visit) or a study's own export, let describe propose a read "
            f"plan: run `massage-outcomes describe {shown} > plan.yaml` (or mo.describe(...).to_yaml('plan.yaml')), "
            f"review it and answer its TODOs, then read with mapping='plan.yaml' (the command line: --mapping "
            "plan.yaml); or pass layout='wide' with wide={column: (instrument, visit, timing, day)}.")


def _inverse(renamed: Mapping[str, str]) -> dict[str, str]:
    """{name now: the user's column} from {the user's column: name now}."""
    return {new: old for old, new in renamed.items()}


_FOUND = re.compile(r"(Columns found: )([^.]*)(\.| \.\.\.)")


def in_user_names(err: DataValidationError, renamed: Mapping[str, str]) -> DataValidationError:
    """The same error, its problems' columns and its "Columns found" lists in the user's own column names."""
    report = err.report
    if not renamed or report is None:
        return err
    inverse = _inverse(renamed)
    new = report.renamed(inverse)
    message = str(err)
    for before, after in zip(report.problems, new.problems, strict=True):
        message = message.replace(str(before), str(after), 1)

    def _names(m: re.Match[str]) -> str:
        names = [inverse.get(n.strip(), n.strip()) for n in m.group(2).split(",")]
        return m.group(1) + ", ".join(names) + m.group(3)

    message = _FOUND.sub(_names, message)
    out = DataValidationError(message, report=new)
    return out


# -----------------------------------------------------------------------------------------------------------
# a folder holding the three tables
# -----------------------------------------------------------------------------------------------------------
def _find_table(folder: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".pq", ".csv", ".tsv", ".txt", ".xlsx"):
        p = folder / f"{name}{suffix}"
        if p.exists():
            return p
    return None


def read_folder(folder: Path, *, mapping: Mapping[str, Any] | None = None, on_error: str = "raise",
                study: str | None = None, encoding: str | None = None) -> Dataset:
    """Read a folder with ``subjects``, ``sessions`` (optional) and ``outcomes`` tables (CSV or Parquet).

    A folder written by :meth:`Dataset.to_parquet` (it has ``dataset.json``) is read back exactly. Otherwise
    the outcomes are joined to the subject and session attributes and validated as one long frame, with each
    problem reported at its row in ``outcomes``; problems in ``subjects``/``sessions`` (duplicate keys, unknown
    terms) are reported at their own rows.
    """
    if (folder / "dataset.json").exists():
        return Dataset.from_parquet(folder)
    paths = {n: _find_table(folder, n) for n in TABLE_NAMES}
    missing = [n for n in ("subjects", "outcomes") if paths[n] is None]
    if missing:
        report = ValidationReport([Problem(str(folder), None, None, None, "required_table",
                                           f"the folder has no {n} table ({n}.csv or {n}.parquet)") for n in missing])
        raise DataValidationError(error_message(report, what=str(folder), quarantine_hint=False), report=report)
    tables: dict[str, TextTable] = {}
    for n, p in paths.items():
        if p is None:
            continue
        t = read_table(p, encoding=encoding)
        frame = apply_mapping(t.frame, mapping) if mapping else t.frame
        t.frame = canonical_names(frame)
        tables[n] = t
    subj, outc = tables["subjects"], tables["outcomes"]
    sess = tables.get("sessions")
    problems: list[Problem] = []
    checks: list[tuple[TextTable | None, list[str]]] = [(subj, ["study", "subject"]),
                                                         (sess, ["study", "subject", "session"])]
    for maybe, key in checks:
        if maybe is None:
            continue
        t = maybe
        f = t.frame
        k = [c for c in key if c in f.columns]
        if "subject" not in f.columns:
            problems.append(Problem(Path(t.info["file"]).name, None, "subject", None, "required_column",
                                    "required column 'subject' is missing"))
            continue
        keyframe = f[k].astype("str")
        dup = keyframe.duplicated(keep=False).to_numpy()
        if dup.any():
            first = keyframe.groupby(k, sort=False).cumcount().to_numpy()
            firstrow = pd.Series(t.rows).groupby([keyframe[c] for c in k], sort=False).transform("min").to_numpy()
            for i in np.flatnonzero(dup & (first > 0)):
                problems.append(Problem(Path(t.info["file"]).name, int(t.rows[i]), "subject", str(f["subject"].iloc[i]),
                                        "duplicate_key", f"duplicate key {tuple(keyframe.iloc[i])}: same as row "
                                                         f"{int(firstrow[i])}"))
    if problems:
        # subjects/sessions must be clean: quarantine applies to outcome rows only
        report = ValidationReport(problems)
        raise DataValidationError(error_message(report, what=str(folder), quarantine_hint=False), report=report)
    s = subj.frame.copy()
    long = outc.frame.copy()
    for key_col in ("study", "subject"):
        if key_col in long.columns:
            long[key_col] = _key_text(long[key_col])
        if key_col in s.columns:
            s[key_col] = _key_text(s[key_col])
    on = [c for c in ("study", "subject") if c in long.columns and c in s.columns]
    overlap = [c for c in s.columns if c in long.columns and c not in on]
    long = long.merge(s.drop(columns=overlap), on=on, how="left", sort=False, indicator=True)
    orphan = (long["_merge"] == "left_only").to_numpy()
    long = long.drop(columns=["_merge"])
    se = None
    no_session = np.zeros(len(long), dtype=bool)
    if sess is not None:
        se = sess.frame.copy()
        for key_col in ("study", "subject", "session"):
            if key_col in se.columns:
                se[key_col] = _key_text(se[key_col])
        if "session" in long.columns:
            lk = long.assign(session=_key_text(long["session"]))
            keys = [c for c in ("study", "subject", "session") if c in se.columns and c in lk.columns]
            sess_attr = se[[c for c in se.columns if c in keys or c not in long.columns and c != "day"]]
            merged = lk.merge(sess_attr, on=keys, how="left", sort=False, indicator=True)
            no_session = long["session"].notna().to_numpy() & (merged["_merge"] == "left_only").to_numpy()
            long = merged.drop(columns=["_merge"])
            long["session"] = outc.frame["session"].to_numpy()
    oname = Path(outc.info["file"]).name
    extra = [Problem(oname, int(outc.rows[i]), "subject", str(long["subject"].iloc[i]), "unknown_subject",
                     "this subject is not in the subjects table: add it there or fix the id")
             for i in np.flatnonzero(orphan)]
    extra += [Problem(oname, int(outc.rows[i]), "session", str(long["session"].iloc[i]), "session_missing",
                      "this rating's session is not in the sessions table") for i in np.flatnonzero(no_session)]
    info = {"file": str(folder), "format": "folder", "tables": {n: str(p) for n, p in paths.items() if p},
            "layout": "tables", "rows_read": len(long), "assumed": []}
    checked = Dataset.from_long(long, on_error=on_error, study=study, source=info, rows=outc.rows,
                                raw=outc.frame, extra_problems=ValidationReport(extra, file=oname) if extra else None,
                                file=oname)
    # the subjects and sessions tables themselves (so subjects without outcomes and sessions without ratings stay)
    for table in (s, se):
        if table is None:
            continue
        for c in table.columns:
            if isinstance(table[c].dtype, pd.CategoricalDtype):  # pyarrow dictionary-encoded text
                table[c] = category_to_str(table[c])
    try:
        subjects = s if "study" in s.columns or "study" not in long.columns else s.assign(study=study or "study")
        if study and "study" not in s.columns:
            subjects = s.assign(study=study)
        sessions = se
        if sessions is not None and study and "study" not in sessions.columns:
            sessions = sessions.assign(study=study)
        ds = Dataset(subjects, sessions, checked.outcomes, rejected=checked.rejected, source=checked.source)
    except DataValidationError as err:
        raise DataValidationError(f"{folder}: {err}", report=err.report) from None
    return ds


def _key_text(s: pd.Series) -> pd.Series:
    """Key column as text, whole floats without '.0' (so 3 and 3.0 join)."""
    return as_text(s)
