"""Per-group helpers on integer group codes, for every layer: the first row and the first value of each group.

A low module (numpy and pandas only; it imports nothing from the package), so the data layer (``dataset``,
``validation``) and the analyses (``effects``, ``trajectories``) can share it without an import cycle. Group
codes are integers 0..G−1 per row, −1 for rows in no group (as
:func:`massage_outcomes.effects.summary.group_codes` and :func:`pandas.factorize` give them).

Examples
--------
>>> import numpy as np, pandas as pd
>>> codes = np.array([1, 0, 1, 0, -1])
>>> first_positions(codes, 2).tolist()
[1, 0]
>>> first_values(codes, pd.Series([None, None, "b", "a", "z"]), 2).tolist()
['a', 'b']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["first_positions", "first_values", "take_or_missing", "levels_in_order", "group_order", "INTENT_RANK"]


def first_positions(codes: np.ndarray, n_groups: int, present: np.ndarray | None = None) -> np.ndarray:
    """Per group (codes 0..n_groups−1): the position of its first row, among the rows where ``present`` is True
    when given; −1 where the group has none. One pass, no sort."""
    codes = np.asarray(codes)
    ok = codes >= 0 if present is None else (codes >= 0) & np.asarray(present, dtype=bool)
    pos = np.flatnonzero(ok)
    first = np.full(int(n_groups), -1, dtype=np.int64)
    if len(pos):
        first[codes[pos][::-1]] = pos[::-1]  # the last write wins: the earliest row, written last
    return first


def first_values(codes: np.ndarray, values: pd.Series, n_groups: int) -> pd.Series:
    """Per group: its first non-missing value (missing where it has none), as ``groupby(codes).first()`` gives
    for the groups it lists; a Categorical stays one. Indexed 0..n_groups−1."""
    pos = first_positions(codes, n_groups, values.notna().to_numpy())
    if not len(values) and not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Series([None] * int(n_groups), dtype=values.dtype)
    return take_or_missing(values, pos)


def take_or_missing(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions``; missing where the position is −1 (Categoricals stay Categoricals)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.append(values.cat.codes.to_numpy(), -1)[positions]  # −1 picks the trailing missing code
        return pd.Series(pd.Categorical.from_codes(codes, dtype=values.dtype))
    out = values.iloc[np.maximum(positions, 0)].reset_index(drop=True) if len(values) else \
        values.reset_index(drop=True)
    return out.where(positions >= 0) if (positions < 0).any() else out


def levels_in_order(values: pd.Series) -> list[Any]:
    """The levels present in ``values``: a categorical's own order, otherwise sorted as text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().astype(object))
        return [c for c in values.cat.categories if c in present]
    return sorted(pd.unique(values.dropna()).tolist(), key=str)


#: arms sorted by their intent: therapeutic, relaxation, then control
INTENT_RANK = {"therapeutic": 0, "relaxation": 1, "control": 2}


def group_order(subjects: pd.DataFrame, column: str) -> list[Any]:
    """Levels of a grouping column; arms are ordered therapeutic, relaxation, then control (by the arm's intent),
    so that contrasts read "massage − control" and "therapeutic − relaxation"."""
    levels = levels_in_order(subjects[column])
    if column != "arm" or "intent" not in subjects.columns:
        return levels

    def rank(level: Any) -> tuple[int, str]:
        intents = subjects.loc[subjects[column].astype(object) == level, "intent"].dropna().astype(str)
        top = intents.mode().iloc[0] if len(intents) else ""
        return (INTENT_RANK.get(top, 1 if top else 3), str(level))

    return sorted(levels, key=rank)
