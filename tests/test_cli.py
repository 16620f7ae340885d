"""The command line: exit codes, plain messages for bad paths, options and data, tables --check, report."""

from pathlib import Path

import pandas as pd
import pytest

from massage_outcomes import cli

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "trial" / "trial.csv"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def small_trial(tmp_path_factory):
    """A small long CSV: the bundled trial's first 12 subjects per arm (visits only, both instruments)."""
    if not SAMPLE.exists():
        pytest.skip("bundled sample trial not present")
    frame = pd.read_csv(SAMPLE, dtype={"subject": str})
    keep = frame.drop_duplicates("subject").groupby("arm").head(12)["subject"]
    frame = frame[frame["subject"].isin(keep)]
    path = tmp_path_factory.mktemp("data") / "small_trial.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("subject,instrument,day,timing,value\na,rmdq,0,baseline,14\na,rmdq,70,followup,31\n")
    return path


# ------------------------------------------------------------------------------------------------ usage
def test_help_lists_commands_and_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("report", "tables", "validate", "examples:", "--check"):
        assert word in out


@pytest.mark.parametrize("command", ["report", "tables", "validate"])
def test_each_command_has_help_with_examples(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "examples:" in out and "DATA" in out


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == 2 and "usage" in err


def test_unknown_command_and_option_are_usage_errors(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err and "Traceback" not in err
    code, _, err = run(capsys, "validate", "x.csv", "--colour")
    assert code == 2 and "unrecognized arguments" in err


def test_missing_data_path_is_a_plain_message(capsys, tmp_path):
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "does not exist" in err and "Traceback" not in err


def test_unknown_sample_name_lists_the_samples(capsys):
    code, _, err = run(capsys, "validate", "sample:nope")
    assert code == 2 and "sample:trial" in err


def test_bundled_sample_by_name_validates(capsys):
    code, out, _ = run(capsys, "validate", "sample:trial")
    assert code == 0 and "no problems" in out


def test_missing_data_path_suggests_a_close_name(capsys, tmp_path):
    (tmp_path / "trial.csv").write_text("a\n1\n")
    code, _, err = run(capsys, "tables", str(tmp_path / "trail.csv"), "--out", str(tmp_path / "o"))
    assert code == 2 and "Did you mean" in err and "trial.csv" in err


def test_out_that_is_a_file_is_refused(capsys, tmp_path, small_trial):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(target))
    assert code == 2 and "is a file" in err


def test_bad_formats_and_instrument_are_usage_errors(capsys, tmp_path, small_trial):
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path), "--formats", "csv,docx")
    assert code == 2 and "docx" in err
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path), "--instrument", "rmqd")
    assert code == 2 and "rmdq" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ validate
def test_validate_reports_problems_with_exit_code_1(capsys, bad_csv):
    code, out, err = run(capsys, "validate", str(bad_csv))
    assert code == 1
    assert "31" in out and "rmdq" in out and "Traceback" not in out + err


def test_validate_clean_file_exits_0(capsys, small_trial):
    code, out, _ = run(capsys, "validate", str(small_trial))
    assert code == 0 and "no problems" in out


def test_unreadable_data_gives_a_plain_message(capsys, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_text("nothing,useful\n1,2\n")
    code, _, err = run(capsys, "tables", str(path), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "Traceback" not in err and "junk.csv" in err


def test_bad_rows_stop_the_run_unless_quarantined(capsys, tmp_path, small_trial, fake_summary):
    bad = tmp_path / "bad_trial.csv"
    text = small_trial.read_text().splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("value")] = "99"  # outside every instrument's range here
    bad.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")
    code, _, err = run(capsys, "tables", str(bad), "--out", str(tmp_path / "o"))
    assert code == 1 and "outside" in err and "--on-error quarantine" in err and "Traceback" not in err
    code, out, err = run(capsys, "tables", str(bad), "--out", str(tmp_path / "o"), "--on-error", "quarantine")
    assert code == 0, err


def test_internal_errors_say_so_without_a_traceback(capsys, monkeypatch, small_trial, tmp_path):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(cli, "_summary", broken)
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path))
    assert code == 3 and "internal error" in err and "--debug" in err and "Traceback" not in err
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path), "--debug")
    assert code == 3 and "Traceback" in err


# ------------------------------------------------------------------------------------------------ tables
@pytest.fixture
def fake_summary(monkeypatch):
    state = {"estimate": 0.25}

    def summary(ds, args, problems, methods=None, progress=None):
        return {"effects": pd.DataFrame({"contrast": ["a - b"], "estimate": [state["estimate"]]}),
                "notes": pd.DataFrame({"section": ["mmrm"], "note": ["mmrm could not be computed"]})}

    monkeypatch.setattr(cli, "_summary", summary)
    return state


def test_tables_write_then_check(capsys, tmp_path, small_trial, fake_summary):
    out = tmp_path / "tables"
    code, stdout, _ = run(capsys, "tables", str(small_trial), "--out", str(out))
    assert code == 0 and "wrote 2" in stdout
    assert (out / "effects.csv").read_text() == "contrast,estimate\na - b,0.250\n"
    code, stdout, _ = run(capsys, "tables", str(small_trial), "--out", str(out), "--check")
    assert code == 0 and "up to date" in stdout


def test_tables_check_fails_with_a_unified_diff_when_a_table_moves(capsys, tmp_path, small_trial, fake_summary):
    out = tmp_path / "tables"
    run(capsys, "tables", str(small_trial), "--out", str(out))
    fake_summary["estimate"] = 0.3
    code, stdout, err = run(capsys, "tables", str(small_trial), "--out", str(out), "--check")
    assert code == 1
    assert "--- .../effects.csv (on disk)" in stdout and "-a - b,0.250" in stdout and "+a - b,0.300" in stdout
    assert "differ" in err
    assert (out / "effects.csv").read_text().endswith("0.250\n")  # --check writes nothing


def test_tables_check_without_the_directory_fails_plainly(capsys, tmp_path, small_trial, fake_summary):
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path / "none"), "--check")
    assert code == 1 and "does not exist" in err


def test_no_progress_bar_when_not_a_terminal(capsys, tmp_path, small_trial, fake_summary):
    run(capsys, "tables", str(small_trial), "--out", str(tmp_path))
    _, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path))
    assert "it/s" not in err and "step/s" not in err and "%|" not in err


# ------------------------------------------------------------------------------------------------ report
def test_report_writes_html_tables_and_figures(capsys, tmp_path, small_trial):
    out = tmp_path / "results"
    code, stdout, err = run(capsys, "report", str(small_trial), "--out", str(out), "--instrument", "rmdq",
                            "--primary-visit", "week_10")
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert "<html" in html and "Methods" in html and "Table 1" in html
    assert "data:image/png;base64," in html  # figures are embedded: the page is self-contained
    assert 'src="http' not in html and "<script" not in html
    assert "pandas" in html and "numpy" in html  # package versions named
    assert (out / "tables" / "table1_baseline.csv").exists()
    assert (out / "tables" / "table1_baseline.md").exists()
    pngs = list((out / "figures").glob("*.png"))
    assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert "report.html" in stdout


# ------------------------------------------------------------------------------- issue 14 and issue 17.6-17.8
def test_every_adjust_the_cli_offers_is_the_library_vocabulary():
    from massage_outcomes.multiplicity import METHODS

    action = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices["tables"]._actions
                  if a.dest == "adjust")
    assert list(action.choices) == list(METHODS)


def test_adjust_fdr_bh_computes_every_table(capsys, tmp_path, small_trial):
    """issue 14: --adjust fdr_bh silently turned two tables into "could not be computed", exit code 0."""
    out = tmp_path / "t"
    code, stdout, err = run(capsys, "tables", str(small_trial), "--out", str(out), "--adjust", "fdr_bh",
                            "--instrument", "rmdq")
    assert code == 0, err
    assert "could not be computed" not in err
    files = sorted(p.name for p in out.glob("*.csv"))
    assert "mmrm.csv" in files and "trajectory_contrasts.csv" in files and len(files) == 9
    mmrm = pd.read_csv(out / "mmrm.csv")
    assert set(mmrm["adjust"]) == {"fdr_bh"} and "sci_low" not in mmrm.columns


def test_a_failed_section_is_exit_code_1_with_the_rest_written(capsys, tmp_path, small_trial, monkeypatch):
    import massage_outcomes.trajectories as traj

    def broken(*args, **kwargs):
        raise RuntimeError("no MMRM today")

    monkeypatch.setattr(traj, "fit_mmrm", broken)
    monkeypatch.setattr(traj, "fit_trajectories", broken)  # (two failing sections; and a faster test)
    out = tmp_path / "t"
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(out), "--instrument", "rmdq")
    assert code == 1 and "'mmrm' could not be computed" in err and "no MMRM today" in err
    assert "2 section(s) could not be computed" in err
    assert (out / "effects_between_arms.csv").exists() and (out / "mmrm.csv").exists()


def _renamed_export(small_trial: Path, tmp_path: Path) -> Path:
    frame = pd.read_csv(small_trial, dtype={"subject": str})
    frame = frame.rename(columns={"subject": "PatientID", "arm": "Treatment", "value": "Score"})
    frame["Treatment"] = frame["Treatment"].map({"therapeutic": "A", "relaxation": "B", "usual_care": "C"})
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_mapping_reads_the_study_through_its_plan(capsys, tmp_path, small_trial, fake_summary, suffix):
    """issue 17.6: errors said "pass mapping=..." but the command line had no option for it."""
    export = _renamed_export(small_trial, tmp_path)
    code, _, err = run(capsys, "tables", str(export), "--out", str(tmp_path / "o"))
    assert code == 1 and "--mapping PLAN" in err and "mapping=" not in err
    plan = {"PatientID": "subject", "Score": "value",
            "Treatment": ["arm", {"A": "therapeutic", "B": "relaxation", "C": "usual_care"}]}
    path = tmp_path / f"plan{suffix}"
    if suffix == ".json":
        import json

        path.write_text(json.dumps(plan))
    else:
        import yaml

        path.write_text(yaml.safe_dump(plan))
    captured = {}

    def summary(ds, args, problems, methods=None, progress=None):
        captured["arms"] = sorted(ds.subjects["arm"].astype(str).unique())
        return {"effects": pd.DataFrame({"contrast": ["a - b"], "estimate": [0.25]})}

    cli._summary, old = summary, cli._summary
    try:
        code, _, err = run(capsys, "tables", str(export), "--out", str(tmp_path / "o"), "--mapping", str(path))
    finally:
        cli._summary = old
    assert code == 0, err
    assert captured["arms"] == ["relaxation", "therapeutic", "usual_care"]


def test_bad_plans_are_usage_errors(capsys, tmp_path, small_trial):
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path / "o"), "--mapping",
                       str(tmp_path / "nope.yaml"))
    assert code == 2 and "--mapping" in err and "no such file" in err
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path / "o"), "--mapping", str(bad))
    assert code == 2 and "could not be read as JSON" in err


def test_errors_under_the_cli_name_the_cli_options(capsys, tmp_path, small_trial):
    code, _, err = run(capsys, "tables", str(small_trial), "--out", str(tmp_path / "o"), "--primary-visit",
                       "week_99", "--instrument", "rmdq")
    assert code == 2 and "--primary-visit week_99" in err and "primary_visit" not in err
    frame = pd.read_csv(small_trial, dtype={"subject": str})
    frame["condition"] = "whiplash"
    path = tmp_path / "whiplash.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    code, _, err = run(capsys, "tables", str(path), "--out", str(tmp_path / "o"))
    assert code == 1 and "whiplash" in err and "--mapping PLAN" in err and "mapping=" not in err
    assert "on_error" not in err


def test_cli_wording_translates_python_arguments():
    assert cli.cli_wording("pass on_error='quarantine' to keep going") == "pass --on-error quarantine to keep going"
    assert cli.cli_wording("map it with mapping={'instruments': {'f': 'rmdq'}} first") == \
        "map it with --mapping PLAN first"
    assert cli.cli_wording("pass encoding= if that is wrong") == \
        "pass `encoding:` in the read plan (--mapping PLAN) if that is wrong"
    assert cli.cli_wording("primary_visit='week_9' is not a visit") == "--primary-visit week_9 is not a visit"


def test_a_failed_run_leaves_no_out_folder(capsys, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("nothing,useful\n1,2\n")
    for command in ("report", "tables"):
        out = tmp_path / "new" / "results"
        code, _, _ = run(capsys, command, str(junk), "--out", str(out))
        assert code == 1 and not out.exists() and not (tmp_path / "new").exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    run(capsys, "report", str(junk), "--out", str(existing))
    assert existing.is_dir()  # a folder the user had is never removed


def test_progress_names_each_step_on_a_terminal():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream, old = Tty(), cli.sys.stderr
    cli.sys.stderr = stream
    try:
        steps = cli._progress(3, "report")
        for name in ("reading data", "effects_between_arms", "drawing figures"):
            steps(name)
        steps.close()
    finally:
        cli.sys.stderr = old
    text = stream.getvalue()
    assert "report" in text and "effects between arms" in text and "drawing figures" in text


def test_importing_report_keeps_the_users_matplotlib_backend():
    """issue 14: importing massage_outcomes.report switched a backend the user had chosen to Agg."""
    import os
    import subprocess
    import sys

    code = "import matplotlib; matplotlib.use('svg'); import massage_outcomes.report; print(matplotlib.get_backend())"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "svg"
