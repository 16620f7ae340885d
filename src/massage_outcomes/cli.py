"""The ``massage-outcomes`` command line: report, tables and validate.

Exit codes: 0 success; 1 the data have problems (``validate``), the committed tables differ (``tables --check``)
or the data could not be read as a dataset; 2 a usage mistake (wrong path, unknown option); 3 an internal error
(a bug: the message says how to get the traceback with ``--debug``). A user mistake never prints a bare traceback.

Examples
--------
>>> from massage_outcomes.cli import main
>>> main(["validate", "no/such/file.csv"])  # doctest: +SKIP
massage-outcomes: error: DATA 'no/such/file.csv' does not exist ...
2
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "load_data", "UsageError"]

PROG = "massage-outcomes"
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

_EPILOG = """\
examples:
  massage-outcomes validate data/sample/trial
  massage-outcomes tables data/sample/trial --out tables
  massage-outcomes tables data/sample/trial --out tables --check     # CI: fail when a table changed
  massage-outcomes report data/sample/trial --out results/
  massage-outcomes report my_trial.csv --out results/ --instrument rmdq --primary-visit week_10
  massage-outcomes report sample:clinic --out results/clinic          # a bundled sample by name

DATA is anything massage_outcomes.read() accepts (CSV/TSV, Excel, Parquet, SPSS, Stata, a sample directory),
or sample:NAME for a dataset bundled with the package.
"""


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

    parser = _Parser(prog=PROG, description="Outcomes research for therapeutic massage: validate a dataset, "
                     "regenerate its summary tables, or write a full report (tables, figures, HTML).",
                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("data", metavar="DATA", help="data file or directory, or sample:NAME")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    analysis = _Parser(add_help=False)
    analysis.add_argument("--instrument", action="append", metavar="KEY",
                          help="instrument to analyse (repeatable; default: every instrument with baseline ratings)")
    analysis.add_argument("--primary-visit", metavar="VISIT",
                          help="visit of the primary comparison (default: the last follow-up visit)")
    analysis.add_argument("--adjust", default="holm", choices=["holm", "bonferroni", "fdr_bh", "none"],
                          help="multiplicity adjustment for families of contrasts (default: holm)")
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
            import difflib

            close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir()], n=1)
            if close:
                hint = f" Did you mean {str(parent / close[0])!r}?"
        elif str(parent) not in ("", "."):
            hint = f" (the directory {str(parent)!r} does not exist either)"
        raise UsageError(f"DATA {spec!r} does not exist.{hint} Give a data file or directory, or sample:NAME for "
                         "a bundled sample.")
    return spec, path


def load_data(spec: str, *, on_error: str = "raise") -> Any:
    """Read DATA into a Dataset: ``sample:NAME`` via :func:`~massage_outcomes.load_sample`, else
    :func:`~massage_outcomes.read`. Raises UsageError (bad path) or DataProblem (unreadable data) in plain words."""
    import massage_outcomes as mo
    from massage_outcomes.errors import MassageOutcomesError

    name, path = _resolve(spec)
    try:
        if path is None:
            return mo.load_sample(name, on_error=on_error)
        if path.is_dir():
            sample_root = (Path(mo.__file__).parent / "_sample").resolve()
            if path.resolve().parent == sample_root:  # a bundled sample folder: load it with its truth tables
                return mo.load_sample(path.resolve().name, on_error=on_error)
            inner = _single_file(path)
            if inner is not None:
                return mo.read(inner, on_error=on_error)
        return mo.read(path, on_error=on_error)
    except (UsageError, DataProblem):
        raise
    except MassageOutcomesError as exc:
        hint = ("\n(on the command line: --on-error quarantine)" if "quarantine" in str(exc) and on_error == "raise"
                else "")
        raise DataProblem(f"could not read {spec}: {exc}{hint}") from exc
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
        raise DataProblem(f"could not read {spec} as massage-outcomes data: {type(exc).__name__}: {exc}") from exc


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


def _out_dir(text: str, *, create: bool) -> Path:
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text!r} is a file; give a directory")
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --out directory {text!r}: {exc.strerror or exc}") from exc
    return out


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar on a terminal, a silent stand-in otherwise (CI logs stay clean)."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr)
        except ImportError:  # pragma: no cover - tqdm is a dependency
            pass

    class _Silent:
        def update(self, n: int = 1) -> None: ...
        def set_postfix_str(self, s: str) -> None: ...
        def close(self) -> None: ...

    return _Silent()


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
    return opts


def _summary(ds: Any, args: argparse.Namespace, problems: dict[str, str],
             methods: dict[str, str] | None = None) -> dict[str, Any]:
    from massage_outcomes import tables as _tables

    opts = _analysis_options(args)
    bar = _progress(7, "analyses")

    def tick(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    try:
        return _tables.summary_tables(ds, problems=problems, methods=methods, progress=tick, **opts)
    except ValueError as exc:  # e.g. a primary visit the data do not have
        raise UsageError(str(exc)) from exc
    finally:
        bar.close()


def _report_problems(problems: dict[str, str], debug: bool) -> None:
    for section, text in problems.items():
        first = text.splitlines()[0] if text else ""
        _say(f"note: section {section!r} could not be computed: {first}")
        if debug:
            _say(text)


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
    try:
        report = mo.validate(path)
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
        _say(f"{PROG}: {args.data}: could not be checked: {exc}")
        return EXIT_PROBLEMS
    print(report.summary(limit=50) if hasattr(report, "summary") else report)
    return EXIT_OK if getattr(report, "ok", not bool(report)) else EXIT_PROBLEMS


def cmd_tables(args: argparse.Namespace) -> int:
    from massage_outcomes import tables as _tables

    fmts = _formats(args.formats)
    out = _out_dir(args.out, create=not args.check)
    ds = load_data(args.data, on_error=args.on_error)
    problems: dict[str, str] = {}
    tabs = _summary(ds, args, problems)
    _report_problems(problems, getattr(args, "debug", False))
    if args.check:
        if not out.is_dir():
            _say(f"{PROG}: --check: directory {args.out!r} does not exist; generate it first with "
                 f"'{PROG} tables {args.data} --out {args.out}'")
            return EXIT_PROBLEMS
        diffs = _tables.check_tables(tabs, out, formats=fmts)
        if diffs:
            sys.stdout.write("".join(diffs))
            _say(f"{PROG}: {len(diffs)} table file(s) in {args.out} differ from the regenerated tables. If the "
                 f"change is intended, regenerate with '{PROG} tables {args.data} --out {args.out}' and commit.")
            return EXIT_PROBLEMS
        print(f"{len(tabs) * len(fmts)} table file(s) in {args.out} are up to date")
        return EXIT_OK
    paths = _tables.write_tables(tabs, out, formats=fmts)
    print(f"wrote {len(paths)} table file(s) to {out}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from massage_outcomes import report as _report

    fmts = _formats(args.formats, report=True)
    out = _out_dir(args.out, create=True)
    import massage_outcomes as mo

    name, path = _resolve(args.data)
    validation = None
    if path is not None:
        try:
            validation = mo.validate(_single_file(path) or path if path.is_dir() else path)
        except Exception as exc:  # noqa: BLE001 - the read below gives the plain message
            validation = None
            _say(f"note: validation could not run: {type(exc).__name__}: {exc}")
    ds = load_data(args.data, on_error=args.on_error)
    problems: dict[str, str] = {}
    methods: dict[str, str] = {}
    tabs = _summary(ds, args, problems, methods)
    _report_problems(problems, getattr(args, "debug", False))
    result = _report.write_report(ds, out, tables=tabs, formats=fmts, validation=validation, problems=problems,
                                  methods=methods, primary_visit=args.primary_visit,
                                  title=args.title or f"massage-outcomes report: {args.data}",
                                  source=args.data, options=_analysis_options(args))
    print(f"wrote {result['html']} ({len(result['tables'])} table files, {len(result['figures'])} figures)"
          + (f" and {result['docx']}" if result.get("docx") else ""))
    return EXIT_OK


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    _say(f"{PROG}: warning: {message}")


_COMMANDS = {"validate": cmd_validate, "tables": cmd_tables, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``massage-outcomes``; returns the exit code (see the module docstring)."""
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
    try:
        with warnings.catch_warnings():
            if not debug:  # a warning is a plain line for the user, not a source location
                warnings.showwarning = _show_warning
            return _COMMANDS[args.command](args)
    except UsageError as exc:
        _say(f"{PROG}: error: {exc}")
        return EXIT_USAGE
    except DataProblem as exc:
        _say(f"{PROG}: {exc}")
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
