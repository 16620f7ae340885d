"""Issue 10 item 5: a non-outcome column that varies within a subject is kept with each measurement, never a
reason to reject the outcome on that row."""

from __future__ import annotations

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import Dataset
from massage_outcomes.errors import DataValidationError

TEXT = ("subject,arm,instrument,day,value,age_at_visit,sex,upload\n"
        "a,therapeutic,rmdq,0,12,40,f,scan1.pdf\n"
        "a,therapeutic,rmdq,70,7,41,f,NA\n"
        "b,relaxation,rmdq,0,15,55,m,scan2.pdf\n"
        "b,relaxation,rmdq,70,11,55,m,scan3.pdf\n")


def test_varying_columns_stay_with_each_measurement(tmp_path):
    p = tmp_path / "tv.csv"
    p.write_text(TEXT, encoding="utf-8")
    ds = mo.read(p)
    assert ds.source["rows_read"] == ds.source["rows_kept"] == 4 and ds.source["rows_rejected"] == 0
    assert ds.source["time_varying"] == ["age_at_visit", "upload"]
    assert ds.outcomes["age_at_visit"].tolist() == [40, 41, 55, 55]
    assert ds.outcomes["upload"].iloc[0] == "scan1.pdf" and pd.isna(ds.outcomes["upload"].iloc[1])
    assert ds.subjects["sex"].tolist() == ["f", "m"] and "age_at_visit" not in ds.subjects.columns
    frame = ds.analysis_frame("rmdq")
    assert frame["age_at_visit"].tolist() == [40, 41, 55, 55]
    assert any(a.startswith("time-varying columns") for a in ds.source["assumed"])


def test_a_declared_covariate_must_agree(tmp_path):
    p = tmp_path / "tv.csv"
    p.write_text(TEXT, encoding="utf-8")
    with pytest.raises(DataValidationError, match="age_at_visit"):
        mo.read(p, covariates=["age_at_visit", "sex"], time_varying=["upload"])


def test_from_long_takes_time_varying_explicitly():
    long = pd.DataFrame({"subject": ["a", "a"], "instrument": "rmdq", "day": [0, 70], "value": [10, 5],
                         "pain_item": [3, 1]})
    ds = Dataset.from_long(long, time_varying=["pain_item"])
    assert ds.outcomes["pain_item"].tolist() == [3.0, 1.0]
    with pytest.raises(DataValidationError, match="not columns"):
        Dataset.from_long(long, time_varying=["nope"])
