"""The ``massage-outcomes`` command line: report, tables, validate and describe.

Exit codes: 0 success; 1 the data have problems (``validate``), the committed tables differ (``tables --check``),
the data could not be read as a dataset, or a section of the tables or report could not be computed (the other
sections are written, and each failure is named); 2 a usage mistake (wrong path, unknown option); 3 an internal
error (a bug: the message says how to get the traceback with ``--debug``). A user mistake never prints a bare
traceback, and every message names the command line's options (``--primary-visit``), never the Python arguments
behind them (:data:`OPTION_NAMES`, :func:`massage_outcomes.errors.option`). A run that fails leaves no ``--out``
folder behind that it created.

Examples
--------
>>> from massage_outcomes.cli import main
>>> main(["validate", "no/such/file.csv"])  # doctest: +SKIP
massage-outcomes: error: DATA 'no/such/file.csv' does not exist ...
2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "load_data", "load_plan", "UsageError", "OPTION_NAMES", "cli_wording"]

PROG = "massage-outcomes"
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

_EPILOG = """\
examples:
  massage-outcomes validate data/sample/trial
  massage-outcomes tables data/sample/trial --out tables
  massage-outcomes tables data/sample/trial --out tables --check     # CI: fail when a table changed
  massage-outcomes report data/sample/trial --out results/
  massage-outcomes report my_trial.csv --out results/ --instrument rmdq --primary-visit week_10
  massage-outcomes report export.csv --mapping plan.yaml --out results/  # a study's own names, via its read plan
  massage-outcomes report sample:clinic --out results/clinic          # a bundled sample by name
  massage-outcomes describe export.csv > plan.yaml                    # propose the read plan of a new file
  massage-outcomes describe records.csv --dictionary dictionary.csv > plan.yaml   # a REDCap export

DATA is anything massage_outcomes.read() accepts (CSV/TSV, Excel, Parquet, SPSS, Stata, a sample directory),
or sample:NAME for a dataset bundled with the package. PLAN is the read plan (YAML or JSON) that maps a study's
own column names, codes, visits and instruments to the library's (massage_outcomes.describe writes one).
"""

_PLAN = "the read plan (--mapping PLAN)"
#: how the command line spells each argument of the library it can set, for every message raised under it
OPTION_NAMES: dict[str, str] = {
    "mapping": "--mapping PLAN", "plan": "--mapping PLAN",
    "primary_visit": "--primary-visit", "adjust": "--adjust", "on_error": "--on-error",
    "instrument": "--instrument", "instruments": "--instrument", "mcid": "--mcid",
    "formats": "--formats", "out": "--out", "title": "--title",
    # reader arguments the command line takes through the read plan
    **{name: f"`{name}:` in {_PLAN}" for name in ("encoding", "decimal", "delimiter", "sheet", "layout", "wide",
                                                  "study", "covariates")},
}


class UsageError(Exception):
    """A mistake in how the command was called (path, option): reported in plain words, exit code 2."""


class DataProblem(Exception):
    """The data could not be turned into a dataset: reported in plain words, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own errors: usage line + message, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(run '{self.prog} --help' for examples)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from massage_outcomes import __version__
    from massage_outcomes.multiplicity import METHODS

    parser = _Parser(prog=PROG, description="Outcomes research for therapeutic massage: validate a dataset, "
                     "regenerate its summary tables, or write a full report (tables, figures, HTML).",
                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("data", metavar="DATA", help="data file or directory, or sample:NAME")
    common.add_argument("--mapping", metavar="PLAN", help="read plan (YAML or JSON) mapping the study's own column "
                        "names, codes, visits and instruments to the library's (see massage_outcomes.describe)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    analysis = _Parser(add_help=False)
    analysis.add_argument("--instrument", action="append", metavar="KEY",
                          help="instrument to analyse (repeatable; default: every instrument with baseline ratings)")
    analysis.add_argument("--primary-visit", metavar="VISIT",
                          help="visit of the primary comparison (default: the one the read plan or study.json "
                          "beside the data declares, else the last follow-up visit)")
    analysis.add_argument("--adjust", default="holm", choices=list(METHODS),
                          help="multiplicity adjustment for families of contrasts and effects (default: holm); "
                          "bonferroni, sidak and tukey add simultaneous intervals (sci_low, sci_high)")
    analysis.add_argument("--mcid", action="append", metavar="KEY=POINTS",
                          help="MCID for an instrument's responder analysis where the registry has none for the "
                          "data's condition, e.g. --mcid pain_nrs=1.5 (repeatable)")
    analysis.add_argument("--on-error", default="raise", choices=["raise", "quarantine"],
                          help="rows that break a rule: stop with the list of problems (default), or set them "
                          "aside and analyse the rest (the report lists how many were quarantined)")

    p = sub.add_parser("report", parents=[common, analysis], help="validate, analyse, write tables, figures and "
                       "a self-contained HTML report", epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Validate DATA, run the analyses, and write tables (CSV and Markdown), figures "
                       "(PNG) and report.html (self-contained) into --out.")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--formats", default="csv,md", help="table formats, comma-separated from csv,md,html,tex; "
                   "docx adds report.docx, the Word report (default: csv,md)")
    p.add_argument("--title", help="report title (default: derived from DATA)")
    p.add_argument("--sensitivity", metavar="REFERENCE_ARM",
                   help="add sensitivity analyses: each dropout handled as MAR, jump to reference, copy reference "
                   "and copy increments in reference (conditional mean imputation, jackknife), against this arm")

    t = sub.add_parser("tables", parents=[common, analysis], help="regenerate the summary tables (or --check them)",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Regenerate the summary tables of DATA into --out; with --check, write nothing "
                       "and exit 1 (showing a unified diff) when the files in --out differ.")
    t.add_argument("--out", required=True, metavar="DIR", help="directory of the table files")
    t.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    t.add_argument("--formats", default="csv", help="table formats, comma-separated from csv,md,html,tex "
                   "(default: csv)")

    sub.add_parser("validate", parents=[common], help="check DATA against every rule and print the problems",
                   epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                   description="Check DATA against every rule; print every problem (file, row, column, value, "
                   "rule); exit 1 when there is any problem.")
    d = sub.add_parser("describe", help="propose the read plan for a study's own file (print it as YAML)",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Inspect FILE and print the read plan that reads it (YAML, or JSON with "
                       "--json): review it, answer its TODOs, then pass it with --mapping PLAN.")
    d.add_argument("data", metavar="FILE", help="the data file (CSV/TSV, Excel, Parquet, SPSS, Stata, SAS)")
    d.add_argument("--json", action="store_true", help="print JSON instead of commented YAML")
    d.add_argument("--sheet", help="Excel sheet (default: the first)")
    d.add_argument("--dictionary", metavar="D", help="REDCap data dictionary: FILE is the records export")
    d.add_argument("--bds", metavar="B", help="ADaM BDS dataset (e.g. ADQS): FILE is the ADSL")
    return parser


# --------------------------------------------------------------------------------------------------- helpers
def _say(*args: Any) -> None:
    print(*args, file=sys.stderr)


def _resolve(spec: str) -> tuple[str, Path | None]:
    if spec.startswith("sample:"):
        name = spec[len("sample:"):]
        try:
            from massage_outcomes.io.sample import SAMPLES
        except ImportError:  # pragma: no cover - the loader checks the name itself
            return name, None
        if name not in SAMPLES:
            raise UsageError(f"DATA {spec!r}: no bundled sample {name!r}; the samples are "
                             + ", ".join(f"sample:{n}" for n in sorted(SAMPLES)))
        return name, None
    path = Path(spec).expanduser()
    if not path.exists():
        hint = ""
        parent = path.parent if str(path.parent) not in ("", ".") else Path(".")
        if parent.is_dir():
            from massage_outcomes.vocab import closest

            close = closest(path.name, [p.name for p in parent.iterdir()])
            if close:
                hint = f" Did you mean {str(parent / close)!r}?"
        elif str(parent) not in ("", "."):
            hint = f" (the directory {str(parent)!r} does not exist either)"
        raise UsageError(f"DATA {spec!r} does not exist.{hint} Give a data file or directory, or sample:NAME for "
                         "a bundled sample.")
    return spec, path


# ------------------------------------------------------------------------------------------------ read plans
#: reader keyword arguments a read plan may carry (the rest of a plan is the mapping of names and codes)
_READER_KEYS = ("layout", "wide", "encoding", "sheet", "study", "delimiter", "decimal", "covariates")


def _readers_take_plan_paths() -> bool:
    """True once the readers accept a plan path in ``mapping=`` themselves (the read-plan work, lane B1)."""
    import massage_outcomes.io as _io

    return hasattr(_io, "ReadPlan") or hasattr(_io, "load_plan")


def load_plan(text: str) -> dict[str, Any]:
    """The read plan at ``text`` (YAML or JSON) as a dict; raises UsageError naming --mapping when it cannot.

    (Until the readers take plan paths themselves, the command line loads the file and passes its contents:
    reader options such as ``layout`` or ``encoding`` as keywords, ``primary_visit`` to the analyses, the rest
    as the ``mapping`` of names and codes.)
    """
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(f"--mapping {text!r}: no such file (give the read plan, a .yaml or .json file).")
    suffix = path.suffix.lower()
    try:
        raw = path.read_text(encoding="utf-8")
        if suffix == ".json":
            import json

            plan = json.loads(raw)
        elif suffix in (".yaml", ".yml"):
            import yaml

            plan = yaml.safe_load(raw)
        else:
            raise UsageError(f"--mapping {text!r}: a read plan is a .yaml, .yml or .json file.")
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - JSON and YAML raise their own error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--mapping {text!r} could not be read as {suffix[1:].upper()}: {first}") from exc
    if plan is None:
        plan = {}
    if not isinstance(plan, dict):
        raise UsageError(f"--mapping {text!r}: a read plan is a mapping of keys to values, not a "
                         f"{type(plan).__name__}.")
    return plan


def _reader_arguments(plan: Mapping[str, Any] | None, plan_path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments for the reader, design facts such as the primary visit) from a plan."""
    if plan_path is None:
        return {}, {}
    if _readers_take_plan_paths():
        return {"mapping": plan_path}, {}
    plan = dict(plan or {})
    design = {k: plan.pop(k) for k in ("primary_visit",) if k in plan}
    kwargs = {k: plan.pop(k) for k in _READER_KEYS if k in plan}
    mapping = plan.pop("mapping", None)
    if isinstance(mapping, Mapping):
        plan = {**mapping, **plan}
    if plan:  # YAML and JSON have lists where the Python mapping has (name, recodes) tuples
        kwargs["mapping"] = {k: tuple(v) if isinstance(v, list) else v for k, v in plan.items()}
    return kwargs, design


def load_data(spec: str, *, on_error: str = "raise", mapping: str | None = None) -> Any:
    """Read DATA into a Dataset: ``sample:NAME`` via :func:`~massage_outcomes.load_sample`, else
    :func:`~massage_outcomes.read` (with the read plan ``mapping``, a path, when given). Raises UsageError (bad
    path or plan) or DataProblem (unreadable data) in plain words."""
    import massage_outcomes as mo
    from massage_outcomes.errors import MassageOutcomesError

    name, path = _resolve(spec)
    plan = load_plan(mapping) if mapping is not None else None
    kwargs, design = _reader_arguments(plan, mapping)
    try:
        if path is None or (path.is_dir() and _is_bundled(path)):
            if mapping is not None:
                raise UsageError(f"--mapping {mapping!r}: a bundled sample is read with its own plan; give "
                                 "--mapping only with your own data.")
            ds = mo.load_sample(name if path is None else path.resolve().name, on_error=on_error)
        elif path.is_dir() and _single_file(path) is not None:
            ds = mo.read(_single_file(path), on_error=on_error, **kwargs)
        else:
            ds = mo.read(path, on_error=on_error, **kwargs)
    except (UsageError, DataProblem):
        raise
    except MassageOutcomesError as exc:
        raise DataProblem(f"could not read {spec}: {cli_wording(str(exc))}") from exc
    except TypeError as exc:  # a plan entry of the wrong shape
        if mapping is None:
            raise
        raise UsageError(f"--mapping {mapping!r}: {cli_wording(str(exc))}") from exc
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
        raise DataProblem(f"could not read {spec} as massage-outcomes data: {type(exc).__name__}: "
                          f"{cli_wording(str(exc))}") from exc
    if design:
        ds.source.update(design)
    return ds


def _is_bundled(path: Path) -> bool:
    import massage_outcomes as mo

    sample_root = (Path(mo.__file__).parent / "_sample").resolve()
    return path.resolve().parent == sample_root


_DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".xlsx", ".sav", ".dta")


def _single_file(folder: Path) -> Path | None:
    """``folder/<folder name>.<ext>`` when a folder holds one long data file (as data/sample/trial does) and no
    subjects/outcomes tables (a Dataset folder, which read() takes as is)."""
    if any((folder / f"{t}{ext}").exists() for t in ("subjects", "outcomes") for ext in (".csv", ".parquet")):
        return None
    for ext in _DATA_SUFFIXES:
        candidate = folder / f"{folder.name}{ext}"
        if candidate.is_file():
            return candidate
    return None


def _formats(text: str, *, report: bool = False) -> list[str]:
    from massage_outcomes.tables import FORMATS

    fmts = [f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()]
    fmts = ["md" if f == "markdown" else "tex" if f == "latex" else "docx" if f == "word" else f for f in fmts]
    allowed = [*FORMATS, "docx"] if report else list(FORMATS)
    if "docx" in fmts and not report:
        raise UsageError(f"--formats {text!r}: docx is the Word report; write it with "
                         f"'{PROG} report DATA --out DIR --formats csv,docx'")
    bad = [f for f in fmts if f not in allowed]
    if bad or not fmts:
        raise UsageError(f"--formats {text!r}: unknown format(s) {bad}; choose from {', '.join(allowed)}")
    return fmts


class _Output:
    """The --out directory: checked first, created only when results are written, and removed again (with what
    this run wrote into it) when the run fails, if this run created it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.path = Path(text).expanduser()
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--out {text!r} is a file; give a directory")
        top = self.path
        while not top.parent.exists() and top.parent != top:
            top = top.parent
        self._created = None if self.path.exists() else top  # the highest directory this run would create

    def make(self) -> Path:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --out directory {self.text!r}: {exc.strerror or exc}") from exc
        return self.path

    def discard(self) -> None:
        if self._created is not None and self._created.exists():
            shutil.rmtree(self._created, ignore_errors=True)


class _Steps:
    """Progress over named steps: a tqdm bar on a terminal, silent otherwise (CI logs stay clean)."""

    def __init__(self, total: int, desc: str) -> None:
        self._bar: Any = None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr,
                                 bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {elapsed} {postfix}")
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self._bar = None
        self.done: list[str] = []

    def __call__(self, name: str) -> None:
        """Start step ``name`` (the previous one is complete)."""
        if self.done and self._bar is not None:
            self._bar.update(1)
        self.done.append(name)
        if self._bar is not None:
            if self._bar.total is not None and len(self.done) > self._bar.total:
                self._bar.total = len(self.done)
            self._bar.set_postfix_str(name.replace("_", " "))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(max(0, len(self.done) - self._bar.n))
            self._bar.close()


def _progress(total: int, desc: str) -> _Steps:
    return _Steps(total, desc)


def _mcids(values: Sequence[str] | None) -> dict[str, float]:
    from massage_outcomes import instruments as _inst
    from massage_outcomes.errors import DataValidationError

    out: dict[str, float] = {}
    for text in values or ():
        key, sep, number = text.partition("=")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not sep or not key.strip() or not value > 0:
            raise UsageError(f"--mcid {text!r}: write KEY=POINTS, e.g. --mcid pain_nrs=1.5")
        try:
            _inst.get(key.strip())
        except DataValidationError as exc:
            raise UsageError(f"--mcid {text!r}: {exc}") from exc
        out[key.strip()] = value
    return out


def _analysis_options(args: argparse.Namespace) -> dict[str, Any]:
    from massage_outcomes import instruments as _inst
    from massage_outcomes.errors import DataValidationError

    opts: dict[str, Any] = {"adjust": args.adjust}
    if args.instrument:
        for key in args.instrument:
            try:
                _inst.get(key)
            except DataValidationError as exc:
                raise UsageError(f"--instrument: {exc}") from exc
        opts["instruments"] = list(args.instrument)
    if args.primary_visit:
        opts["primary_visit"] = args.primary_visit
    mcids = _mcids(getattr(args, "mcid", None))
    if mcids:
        opts["mcids"] = mcids
    return opts


#: progress steps of the analyses (summary_tables' sections) besides reading the data
_SECTIONS = 8


def _summary(ds: Any, args: argparse.Namespace, problems: dict[str, str],
             methods: dict[str, str] | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from massage_outcomes import tables as _tables

    opts = _analysis_options(args)
    try:
        return _tables.summary_tables(ds, problems=problems, methods=methods, progress=progress, **opts)
    except ValueError as exc:  # e.g. a primary visit the data do not have
        raise UsageError(cli_wording(str(exc))) from exc


def _report_problems(problems: dict[str, str], debug: bool) -> None:
    for section, text in problems.items():
        first = text.splitlines()[0] if text else ""
        _say(f"note: section {section!r} could not be computed: {cli_wording(first)}")
        if debug:
            _say(text)


def _incomplete(problems: Mapping[str, str]) -> int:
    """The exit code of a run that wrote its results: 1 when any section could not be computed."""
    if not problems:
        return EXIT_OK
    _say(f"{PROG}: {len(problems)} section(s) could not be computed (named above); the others were written. "
         "Exit code 1.")
    return EXIT_PROBLEMS


# -------------------------------------------------------------------------------------------------- commands
def cmd_validate(args: argparse.Namespace) -> int:
    import massage_outcomes as mo

    name, path = _resolve(args.data)
    if path is None:
        ds = load_data(args.data)
        report = getattr(ds, "rejected_report", None) or getattr(ds, "report", None)
        print(f"{args.data}: bundled sample loaded and validated when it was built"
              + (f"\n{report}" if report is not None else ": no problems found"))
        return EXIT_OK if report is None or getattr(report, "ok", True) else EXIT_PROBLEMS
    if path.is_dir():
        path = _single_file(path) or path
    plan = load_plan(args.mapping) if args.mapping else None
    kwargs, _design = _reader_arguments(plan, args.mapping)
    kwargs = {k: v for k, v in kwargs.items() if k in ("mapping", "layout", "wide", "encoding", "sheet", "study")}
    try:
        report = mo.validate(path, **kwargs)
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
        _say(f"{PROG}: {args.data}: could not be checked: {cli_wording(str(exc))}")
        return EXIT_PROBLEMS
    text = report.summary(limit=50) if hasattr(report, "summary") else str(report)
    print(cli_wording(str(text)))
    return EXIT_OK if getattr(report, "ok", not bool(report)) else EXIT_PROBLEMS


def cmd_tables(args: argparse.Namespace) -> int:
    from massage_outcomes import tables as _tables

    fmts = _formats(args.formats)
    out = _Output(args.out)
    steps = _progress(1 + _SECTIONS + 1, "tables")
    try:
        steps("reading data")
        ds = load_data(args.data, on_error=args.on_error, mapping=args.mapping)
        problems: dict[str, str] = {}
        tabs = _summary(ds, args, problems, progress=steps)
        steps("writing tables")
    finally:
        steps.close()
    _report_problems(problems, getattr(args, "debug", False))
    if args.check:
        if not out.path.is_dir():
            _say(f"{PROG}: --check: directory {args.out!r} does not exist; generate it first with "
                 f"'{PROG} tables {args.data} --out {args.out}'")
            return EXIT_PROBLEMS
        diffs = _tables.check_tables(tabs, out.path, formats=fmts)
        if diffs:
            sys.stdout.write("".join(diffs))
            _say(f"{PROG}: {len(diffs)} table file(s) in {args.out} differ from the regenerated tables. If the "
                 f"change is intended, regenerate with '{PROG} tables {args.data} --out {args.out}' and commit.")
            return EXIT_PROBLEMS
        print(f"{len(tabs) * len(fmts)} table file(s) in {args.out} are up to date")
        return _incomplete(problems)
    try:
        paths = _tables.write_tables(tabs, out.make(), formats=fmts)
    except BaseException:
        out.discard()
        raise
    print(f"wrote {len(paths)} table file(s) to {out.path}")
    return _incomplete(problems)


def cmd_report(args: argparse.Namespace) -> int:
    import massage_outcomes as mo
    from massage_outcomes import report as _report

    fmts = _formats(args.formats, report=True)
    out = _Output(args.out)
    name, path = _resolve(args.data)
    steps = _progress(2 + _SECTIONS + 2, "report")
    try:
        validation = None
        steps("validating data")
        if path is not None and not (path.is_dir() and _is_bundled(path)):
            plan = load_plan(args.mapping) if args.mapping else None
            kwargs, _design = _reader_arguments(plan, args.mapping)
            kwargs = {k: v for k, v in kwargs.items() if k in ("mapping", "layout", "wide", "encoding", "sheet",
                                                               "study")}
            try:
                validation = mo.validate(_single_file(path) or path if path.is_dir() else path, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the read below gives the plain message
                validation = None
                _say(f"note: validation could not run: {type(exc).__name__}: {cli_wording(str(exc))}")
        steps("reading data")
        ds = load_data(args.data, on_error=args.on_error, mapping=args.mapping)
        problems: dict[str, str] = {}
        methods: dict[str, str] = {}
        tabs = _summary(ds, args, problems, methods, progress=steps)
        _report_problems(problems, getattr(args, "debug", False))
        options = _analysis_options(args)
        sens = _sensitivity(ds, args, problems, methods) if getattr(args, "sensitivity", None) else None
        result = _report.write_report(ds, out.make(), tables=tabs, formats=fmts, validation=validation,
                                      problems=problems, methods=methods, primary_visit=args.primary_visit,
                                      title=args.title or f"massage-outcomes report: {args.data}",
                                      source=args.data, options=options, progress=steps, sensitivity=sens)
    except BaseException:
        steps.close()
        out.discard()
        raise
    steps.close()
    print(f"wrote {result['html']} ({len(result['tables'])} table files, {len(result['figures'])} figures)"
          + (f" and {result['docx']}" if result.get("docx") else ""))
    return _incomplete(problems)


def _sensitivity(ds: Any, args: argparse.Namespace, problems: dict[str, str], methods: dict[str, str]) -> Any:
    """``--sensitivity ARM``: the reference-based analyses of every analysed instrument, stacked (or None)."""
    import pandas as pd

    from massage_outcomes.sensitivity import sensitivity_analyses

    keys = args.instrument or sorted(pd.unique(ds.outcomes["instrument"].astype(str)))
    frames = []
    for key in keys:  # instruments (few)
        try:
            frames.append(sensitivity_analyses(ds, instrument=key, reference=args.sensitivity))
        except Exception as exc:  # noqa: BLE001 - one instrument's failure must not sink the report
            problems[f"sensitivity {key}"] = f"{type(exc).__name__}: {cli_wording(str(exc))}"
    if not frames:
        return None
    methods["sensitivity"] = (
        "Sensitivity analyses: each subject's dropout was an intercurrent event from the first missing visit on; "
        "missing outcomes were imputed by conditional mean imputation from an unstructured-covariance MMRM "
        "(arm × visit, baseline × visit) under MAR, jump to reference, copy reference and copy increments in "
        f"reference (reference arm {args.sensitivity}), analysed by ANCOVA per visit with jackknife standard "
        "errors (Wolbers et al. 2022; as R's rbmi).")
    return pd.concat(frames, ignore_index=True)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    _say(f"{PROG}: warning: {cli_wording(str(message))}")


# ----------------------------------------------------------------------------------- options in messages
def _value_end(text: str, i: int) -> int:
    """End of the value written after ``name=`` at ``i``: a quoted string, a balanced {...}/[...], "..." or a
    bare token."""
    if i >= len(text):
        return i
    ch = text[i]
    if ch in "'\"":
        j = text.find(ch, i + 1)
        return len(text) if j < 0 else j + 1
    if ch in "{[":
        close = {"{": "}", "[": "]"}[ch]
        depth = 0
        for j in range(i, len(text)):
            if text[j] == ch:
                depth += 1
            elif text[j] == close:
                depth -= 1
                if depth == 0:
                    return j + 1
        return len(text)
    if text.startswith("...", i) or ch == "…":
        return i + (3 if ch == "." else 1)
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in "_-."):
        j += 1
    return j if j > i and text[j - 1] != "." else max(i, j - 1)


def cli_wording(text: str) -> str:
    """``text`` with every Python-style ``argument=value`` of :data:`OPTION_NAMES` written as the command line's
    option: the safety net for messages written before :func:`massage_outcomes.errors.option` existed.

    Examples
    --------
    >>> cli_wording("pass on_error='quarantine' or mapping={'subject': 'id'}")
    'pass --on-error quarantine or --mapping PLAN'
    """
    import re

    names = sorted(OPTION_NAMES, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, names)) + r")=")
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() < pos:
            continue
        end = _value_end(text, m.end())
        value = text[m.end():end].strip("'\"")
        spelled = OPTION_NAMES[m.group(1)]
        if not spelled.startswith("-"):
            replacement = spelled
        elif m.group(1) in ("mapping", "plan") or not value or value.startswith(("{", "[", "<")) or value in ("...", "…"):
            replacement = spelled
        else:
            replacement = f"{spelled.split()[0]} {value}"
        out.append(text[pos:m.start()] + replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def cmd_describe(args: argparse.Namespace) -> int:
    """Print the proposed read plan of FILE; the TODOs left are listed on stderr (exit 0 either way)."""
    from massage_outcomes.errors import MassageOutcomesError
    from massage_outcomes.io import describe

    path = Path(args.data).expanduser()
    if not path.is_file():
        raise UsageError(f"FILE {args.data!r} is not a file: describe reads one data file.")
    for option, extra in (("--dictionary", args.dictionary), ("--bds", args.bds)):
        if extra is not None and not Path(extra).expanduser().is_file():
            raise UsageError(f"{option} {extra!r} is not a file.")
    try:
        plan = describe(path, sheet=args.sheet, dictionary=args.dictionary, bds=args.bds)
    except MassageOutcomesError as exc:
        raise DataProblem(f"could not describe {args.data}: {cli_wording(str(exc))}") from exc
    print(plan.to_json() if args.json else plan.to_yaml(), end="")
    todos = plan.todos()
    if todos:
        _say(f"{PROG}: the plan has {len(todos)} TODO{'s' if len(todos) != 1 else ''} to answer before "
             "--mapping can read it:\n" + "\n".join(f"  - {t}" for t in todos))
    return EXIT_OK


_COMMANDS = {"validate": cmd_validate, "tables": cmd_tables, "report": cmd_report, "describe": cmd_describe}


def _pick_backend() -> None:
    """The command line draws into files: Agg, unless the user chose a backend (MPLBACKEND)."""
    if "MPLBACKEND" not in os.environ:
        import matplotlib

        matplotlib.use("Agg")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``massage-outcomes``; returns the exit code (see the module docstring)."""
    from massage_outcomes.errors import front_end_names

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, argparse errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    _pick_backend()
    try:
        with warnings.catch_warnings(), front_end_names(OPTION_NAMES):
            if not debug:  # a warning is a plain line for the user, not a source location
                warnings.showwarning = _show_warning
            return _COMMANDS[args.command](args)
    except UsageError as exc:
        _say(f"{PROG}: error: {cli_wording(str(exc))}")
        return EXIT_USAGE
    except DataProblem as exc:
        _say(f"{PROG}: {cli_wording(str(exc))}")
        if debug:
            traceback.print_exc()
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug: say so plainly, traceback only on --debug
        if debug:
            traceback.print_exc()
        _say(f"{PROG}: internal error ({type(exc).__name__}: {exc}). This is a bug in massage_outcomes, not in "
             f"your data; rerun with --debug for the traceback and report it.")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
