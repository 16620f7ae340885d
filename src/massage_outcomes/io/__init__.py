"""Readers: every source becomes a validated :class:`massage_outcomes.Dataset`.

``read`` handles CSV/TSV, Excel, Parquet, SPSS, Stata, SAS transport and folders of tables; ``read_redcap``
and ``read_adam`` translate REDCap exports and CDISC ADaM datasets; ``load_sample`` opens the bundled samples;
``validate`` reports every problem of a file or frame without raising.
Readers only translate: they compute no statistics and execute nothing in a file.
"""

from __future__ import annotations

from massage_outcomes.io._read import read
from massage_outcomes.io._validate import validate
from massage_outcomes.io.adam import read_adam
from massage_outcomes.io.describe import describe
from massage_outcomes.io.plan import ReadPlan, load_plan
from massage_outcomes.io.redcap import read_redcap
from massage_outcomes.io.sample import load_sample

__all__ = ["read", "read_redcap", "read_adam", "load_sample", "validate", "describe", "ReadPlan", "load_plan"]
