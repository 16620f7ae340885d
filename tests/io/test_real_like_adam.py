"""ADaM ADSL + BDS shaped like real submissions (issue 10 item 6): parameter selection, ATPT replicates,
screening records before the reference date and DTYPE-derived records are documented choices, every BDS
record is accounted for."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from real_like import write_corpus

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError

ARMS = {"arms": {"MASSAGE": "therapeutic", "USUAL CARE": "usual_care"}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("real_like"))


def _read(corpus, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return mo.read_adam(corpus / "adam_adsl.csv", corpus / "adam_bds.csv", mapping=ARMS, **kw)


def _accounted(ds):
    src = ds.source
    assert src["bds_records"] == src["rows_read"] + sum(src["skipped"].values())
    assert src["rows_read"] == src["rows_kept"] + src["rows_rejected"]


def test_params_selects_and_screening_is_skipped_not_rejected(corpus):
    ds = _read(corpus, params=["PAINNRS"])
    bds = pd.read_csv(corpus / "adam_bds.csv")
    pain = bds[(bds["PARAMCD"] == "PAINNRS") & bds["DTYPE"].isna() & (bds["ADY"] > 0)]
    assert len(ds.outcomes) == len(pain) and ds.source["rows_rejected"] == 0
    assert ds.source["skipped"]["screening"] == 6
    assert ds.source["skipped"]["params"] == int((bds["PARAMCD"] != "PAINNRS").sum())
    _accounted(ds)
    # spot value: subject 102-002 at week 4
    got = ds.outcomes.loc[(ds.outcomes["subject"] == "MT-102-002") & (ds.outcomes["visit"] == "week_4"), "value"]
    want = pain.loc[(pain["USUBJID"] == "MT-102-002") & (pain["AVISIT"] == "WEEK 4"), "AVAL"]
    assert got.tolist() == want.tolist()


def test_screening_can_still_be_rejected(corpus):
    with pytest.raises(DataValidationError, match="before baseline"):
        _read(corpus, params=["PAINNRS"], screening="reject")


def test_unknown_params_name_the_paramcds(corpus):
    with pytest.raises(DataValidationError, match="PARAMCDs: PAINNRS, ROM, SLEEPQ"):
        _read(corpus, params=["PAIN"])


def test_replicates_are_an_error_naming_atpt_or_the_first_reading(corpus):
    with pytest.raises(DataValidationError, match="replicates='first'"):
        _read(corpus, params=["ROM"])
    ds = _read(corpus, params=["ROM"], replicates="first")
    bds = pd.read_csv(corpus / "adam_bds.csv")
    first = bds[(bds["PARAMCD"] == "ROM") & (bds["ATPTN"] == 1)]
    assert sorted(ds.outcomes["value"].tolist()) == sorted(first["AVAL"].tolist())
    assert ds.source["skipped"]["replicates"] == 2 * len(first)
    _accounted(ds)


def test_derived_prefer_uses_averages_and_locf(corpus):
    ds = _read(corpus, params=["ROM", "PAINNRS"], derived="prefer")
    bds = pd.read_csv(corpus / "adam_bds.csv")
    avg = bds[(bds["PARAMCD"] == "ROM") & (bds["DTYPE"] == "AVERAGE")]
    rom = ds.outcomes[ds.outcomes["instrument"] == "rom"]
    assert sorted(rom["value"].tolist()) == sorted(avg["AVAL"].tolist())
    assert (rom.loc[rom["visit"] == "baseline", "timing"] == "baseline").all()
    assert ds.source["skipped"]["replaced"] == 3 * len(avg)
    pain = ds.outcomes[(ds.outcomes["instrument"] == "pain_nrs") & (ds.outcomes["subject"] == "MT-101-003")]
    assert "week_8" in pain["visit"].astype(str).tolist()  # the LOCF record
    _accounted(ds)
