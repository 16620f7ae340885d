"""Property tests for the readers (hypothesis).

* Random valid tidy frames survive write -> read unchanged in every supported format.
* Random corruptions are reported, never silently kept or dropped: quarantine rejects exactly the corrupted
  rows, raise names exactly them, and rows read == rows kept + rows rejected.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_writers import FORMATS, write_table

import massage_outcomes as mo
from massage_outcomes import instruments, vocab
from massage_outcomes.errors import DataValidationError

INSTRUMENTS = ["pain_nrs", "rmdq", "mouth_opening", "grc", "bctq_sss"]


@st.composite
def tidy_frames(draw, ascii_only=False):
    n_subjects = draw(st.integers(1, 4))
    prefix = draw(st.sampled_from(["s", "P-", "00", "id_"]))
    rows = []
    clinics = ["north", "south"] if ascii_only else ["north", "Malmö", "São Paulo"]
    for i in range(n_subjects):
        subject = f"{prefix}{i}"
        attrs = {
            "study": draw(st.sampled_from(["A", "trial-2"])),
            "subject": subject,
            "arm": draw(st.sampled_from(["therapeutic", "relaxation", "usual_care"])),
            "condition": draw(st.sampled_from(list(vocab.CONDITIONS))),
            "clinic": draw(st.sampled_from(clinics)),
            "age": float(draw(st.integers(18, 90))),
            "sex": draw(st.sampled_from(["female", "male"])),
        }
        inst = instruments.get(draw(st.sampled_from(INSTRUMENTS)))
        value = st.integers(int(2 * inst.min), int(2 * inst.max)).map(lambda v: v / 2)
        for k, (visit, day) in enumerate([("baseline", 0), ("week 4", 28), ("week 10", 70)][:draw(st.integers(1, 3))]):
            rows.append({**attrs, "instrument": inst.key, "visit": visit, "day": float(day),
                         "timing": "baseline" if k == 0 else "followup", "session": np.nan,
                         "technique": None, "therapist": None, "value": draw(value)})
        for s in range(1, draw(st.integers(0, 2)) + 1):
            tech = draw(st.sampled_from(["swedish", "deep_tissue", "sham"]))
            for timing in ("pre", "post"):
                rows.append({**attrs, "instrument": "pain_nrs", "visit": None, "day": float(7 * s),
                             "timing": timing, "session": float(s), "technique": tech,
                             "therapist": f"T{s}", "value": float(draw(st.integers(0, 10)))})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_valid_frames_survive_write_and_read(fmt, data, tmp_path_factory):
    frame = data.draw(tidy_frames(ascii_only=fmt == "xpt"))
    expected = mo.Dataset.from_long(frame)
    path = tmp_path_factory.mktemp(fmt) / f"data.{fmt}"
    write_table(fmt, frame, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = mo.read(path)
    for name in ("subjects", "sessions", "outcomes"):
        pd.testing.assert_frame_equal(getattr(ds, name), getattr(expected, name), obj=f"{fmt} {name}")
    assert ds.source["rows_read"] == len(frame) == ds.source["rows_kept"]


BAD_VALUES = ["seven", "7/10", "", "N/A", "1e9", "-1e9", "inf", "3,5,5"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=tidy_frames(), data=st.data())
def test_corruptions_are_reported_never_silently_kept_or_dropped(frame, data, tmp_path_factory):
    n = len(frame)
    bad_rows = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=max(1, n // 2))))
    raw = frame.astype(object)
    kinds = {}
    for r in bad_rows:
        kind = data.draw(st.sampled_from(["value", "instrument", "subject", "timing", "day"]))
        kinds[r] = kind
        if kind == "value":
            raw.loc[r, "value"] = data.draw(st.sampled_from(BAD_VALUES))
        elif kind == "instrument":
            raw.loc[r, "instrument"] = "not_an_instrument"
        elif kind == "subject":
            raw.loc[r, "subject"] = ""
        elif kind == "timing":
            raw.loc[r, "timing"] = "sometime"
        else:
            raw.loc[r, "day"] = "soon"
    path = tmp_path_factory.mktemp("corrupt") / "data.csv"
    raw.to_csv(path, index=False)
    file_rows = [r + 2 for r in bad_rows]  # header is line 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataValidationError) as info:
            mo.read(path)
        assert info.value.report.rows == file_rows
        ds = mo.read(path, on_error="quarantine")
    assert sorted(ds.rejected["row"].tolist()) == file_rows
    src = ds.source
    assert src["rows_read"] == n == src["rows_kept"] + src["rows_rejected"]
    assert src["rows_kept"] == len(ds.outcomes)
