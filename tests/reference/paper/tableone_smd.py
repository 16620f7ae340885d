"""Reference SMDs for tests/test_paper.py from the Python port of R's tableone (PyPI ``tableone`` 0.9.6).

R's tableone is not installed on the project's machines (no CRAN access), so the reference is the Python
``tableone`` package, which implements the same ``ExtractSmd`` formulas (Yang & Dalton 2012; it reports signed
SMDs where R reports absolute values), and the hand computation in the test. Run once, outside the test suite:

    pip install --target /tmp/tbl tableone && PYTHONPATH=src:/tmp/tbl python tests/reference/paper/tableone_smd.py
"""

import numpy as np
import pandas as pd


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240611)
    n = 90
    arm = np.repeat(["therapeutic", "relaxation", "usual_care"], n // 3)
    age = np.round(rng.normal(45, 11, n) + (arm == "usual_care") * 3, 1)
    age[[3, 40]] = np.nan
    sex = rng.choice(["female", "male"], n, p=[0.6, 0.4])
    site = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2]).astype(object)
    site[[5, 6, 70]] = None
    return pd.DataFrame({"arm": arm, "age": age, "sex": sex, "site": site})


if __name__ == "__main__":
    from tableone import TableOne

    pd.set_option("display.precision", 12)
    pd.set_option("display.width", 200)
    f = frame()
    # Python tableone counts a missing category as a level; R's tableone (includeNA = FALSE) and
    # massage_outcomes leave missing values out, so site is given twice: complete cases, and "MISSING" as a level
    complete = f.dropna(subset=["site"])
    t = TableOne(complete, columns=["site"], categorical=["site"], groupby="arm", smd=True, pval=False)
    print("site, complete cases\n", t.smd_table.abs().to_string())
    t = TableOne(f, columns=["age", "sex", "site"], categorical=["sex", "site"], groupby="arm", smd=True, pval=False)
    print("age, sex; site with missing as a level\n", t.smd_table.abs().to_string())
