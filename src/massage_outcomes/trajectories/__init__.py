"""Pain trajectories: linear mixed models (:func:`fit_trajectories`) and MMRM (:func:`fit_mmrm`), with marginal
means, contrasts and predictions. Both fits are :class:`~.fit.ModelFit` dataclasses meeting the marginal-means
contract :class:`~.marginal.MarginalModel`."""

from __future__ import annotations

from massage_outcomes.trajectories.fit import ModelFit
from massage_outcomes.trajectories.lmm import TrajectoryFit, fit_trajectories
from massage_outcomes.trajectories.marginal import MarginalModel
from massage_outcomes.trajectories.mmrm import MMRMFit, fit_mmrm

__all__ = ["MMRMFit", "MarginalModel", "ModelFit", "TrajectoryFit", "fit_mmrm", "fit_trajectories"]
