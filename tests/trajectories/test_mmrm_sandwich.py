"""fit_mmrm(vcov=...) sandwich covariances against R's mmrm 0.3.18 (tests/reference/mmrm/sandwich_reference.R on
fev_like.csv: 199 subjects, 4 visits, MAR dropout and gaps).

Per structure (us, toep, ar1, cs), sandwich (mmrm's "Empirical" CR0, "Empirical-Bias-Reduced" CR2,
"Empirical-Jackknife" CR3) and df method (mmrm's "Satterthwaite", Bell-McCaffrey for a sandwich; "Residual",
n_obs - p). Tolerances, with what was measured:

- coefficients within 1e-3 of their SE (measured at most 2e-4: the same REML optimum as test_mmrm_r_mmrm.py);
- sandwich SEs and Bell-McCaffrey df within 1e-4 relative, for coefficients and for emmeans' TRT - PBO per visit
  (measured at most 1.1e-5 for SEs and 2.2e-5 for df). CR2 SEs exceed CR0's by 0.56-1.9% and CR3's exceed CR2's
  by at least 0.56% on these data (us), so the tolerance tells the three apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from massage_outcomes.errors import ArgumentError
from massage_outcomes.trajectories.mmrm import MMRMFit, _example_frame, fit_mmrm

HERE = Path(__file__).parents[1] / "reference" / "mmrm"
R = json.loads((HERE / "sandwich_reference.json").read_text())
STRUCTURES = {"us": ("unstructured", True), "toep": ("toeplitz", False), "ar1": ("ar1", False),
              "cs": ("cs", False)}
VCOVS = ("empirical", "empirical-bias-reduced", "empirical-jackknife")
DDFS = ("satterthwaite", "residual")


def _norm(name: str) -> str:
    name = "(Intercept)" if name == "Intercept" else name
    name = re.sub(r"(\w+)\[T\.([^\]]+)\]", r"\1\2", name)
    return ":".join(sorted(name.split(":")))


@pytest.fixture(scope="module")
def fits() -> dict[tuple[str, str, str], MMRMFit]:
    d = pd.read_csv(HERE / "fev_like.csv")
    d["visit"] = pd.Categorical(d["visit"], categories=[f"VIS{j}" for j in range(1, 5)])
    return {(s, v, m): fit_mmrm(d, covariance=kind, heterogeneous=het, covariates=["race", "sex"],  # type: ignore[arg-type]
                                vcov=v, ddf=m)  # type: ignore[arg-type]
            for s, (kind, het) in STRUCTURES.items() for v in VCOVS for m in DDFS}


CASES = [(s, v, m) for s in STRUCTURES for v in VCOVS for m in DDFS]


@pytest.mark.parametrize(("structure", "vcov", "ddf"), CASES)
def test_sandwich_matches_mmrm(fits: dict, structure: str, vcov: str, ddf: str) -> None:
    fit, ref = fits[structure, vcov, ddf], R[structure][vcov][ddf]
    assert fit.vcov == vcov and fit.n_obs == R["n_obs"]
    fe = fit.fixed_effects
    fe.index = [_norm(t) for t in fe["term"]]
    fe = fe.loc[[_norm(t) for t in ref["names"]]]
    se = np.asarray(ref["se"])
    np.testing.assert_array_less(np.abs(fe["estimate"].to_numpy() - ref["coef"]) / se, 1e-3)
    np.testing.assert_allclose(fe["se"], se, rtol=1e-4)
    np.testing.assert_allclose(fe["df"], ref["df"], rtol=1e-4)
    c, rc = fit.contrasts("TRT - PBO", adjust="none", effect_size=False), ref["contrast"]
    assert c["visit"].astype(str).tolist() == rc["visit"]
    np.testing.assert_allclose(c["se"], rc["se"], rtol=1e-4)
    np.testing.assert_allclose(c["df"], rc["df"], rtol=1e-4)


def test_sandwiches_differ_and_order() -> None:
    """CR0 < CR2 < CR3 in SE (the bias corrections inflate), all differing from the model-based SE."""
    d = _example_frame()
    se = {v: fit_mmrm(d, vcov=v).fixed_effects["se"].to_numpy() for v in ("model", *VCOVS)}  # type: ignore[arg-type]
    assert np.all(se["empirical"] < se["empirical-bias-reduced"])
    assert np.all(se["empirical-bias-reduced"] < se["empirical-jackknife"])
    assert not np.allclose(se["model"], se["empirical"], rtol=1e-3)


def test_sandwich_option_errors() -> None:
    d = _example_frame()
    with pytest.raises(ArgumentError, match="vcov="):
        fit_mmrm(d, vcov="HC3")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="Kenward-Roger adjusts"):
        fit_mmrm(d, vcov="empirical", ddf="kenward-roger")
    with pytest.raises(ArgumentError, match="cluster"):
        fit_mmrm(d.assign(site=d["subject"].str[-1]), vcov="empirical", cluster="site")
