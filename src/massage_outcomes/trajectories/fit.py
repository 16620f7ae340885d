"""The one kind of fit object the trajectory models return: :class:`ModelFit`.

``TrajectoryFit`` (:mod:`.lmm`) and ``MMRMFit`` (:mod:`.mmrm`) are dataclasses built on it, so the same thing
has the same name on both: ``beta_``, ``vcov_beta_``, ``fe_names_``, ``theta_`` (covariance parameters on the
optimizer's scale), ``loglik``, ``n_obs``, ``n_subjects``, ``converged``, ``messages``, ``method``, ``formula``,
``instrument``, ``group``, ``time``, ``time_kind`` and ``reference`` (the group's reference level). What differs
keeps a name that says what it is: a mixed model's residual SD is ``TrajectoryFit.sigma_`` (a float, lme4's
``sigma()``); an MMRM's covariance between visits is ``MMRMFit.covariance_`` (a matrix).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from massage_outcomes.trajectories.marginal import MarginalMeansMixin

__all__ = ["ModelFit"]


@dataclass(repr=False, eq=False, kw_only=True)
class ModelFit(MarginalMeansMixin):
    """Fields every fitted trajectory model has (see the module docstring); the marginal-means methods come
    from :class:`~.marginal.MarginalMeansMixin`, whose contract (:class:`~.marginal.MarginalModel`) a subclass
    completes."""

    instrument: str | None
    group: str | None
    time: str | None
    time_kind: str
    method: str
    formula: str
    reference: str | None
    beta_: np.ndarray
    vcov_beta_: np.ndarray
    fe_names_: list[str]
    theta_: np.ndarray
    loglik: float
    n_obs: int
    n_subjects: int
    converged: bool
    messages: list[str]

    @property
    def nobs(self) -> int:
        """Deprecated alias of :attr:`n_obs` (the name ``TrajectoryFit`` used before both fits shared one)."""
        warnings.warn("`fit.nobs` is deprecated; use `fit.n_obs`.", DeprecationWarning, stacklevel=2)
        return self.n_obs
