"""Drift of one column by Evidently's registered stat tests, judged exactly as Evidently judges it.

``resolve`` reads the test and threshold the spec names for a column, ``default_stattest`` is
the test Evidently would choose, ``column_drift`` runs it on the cleaned columns, and
``drift_threshold`` turns Evidently's verdict rule into a ``Threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ethics_audit.checks.drift.columns import _nunique_above
from ethics_audit.errors import DataError
from ethics_audit.results import Threshold

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.spec import DriftConfig

# How each registered Evidently stat test decides "drifted" from (score, threshold), read from
# evidently/legacy/calculations/stattests/*.py; tests/checks/test_drift.py checks every entry
# against Evidently's own verdict at the threshold's exact value.
DRIFTED_WHEN: dict[str, str] = {
    "TVD": "<",
    "anderson": "<",
    "chisquare": "<",
    "cramer_von_mises": "<=",
    "ed": ">",
    "empirical_mmd": "<",
    "es": "<",
    "fisher_exact": "<",
    "g_test": "<",
    "hellinger": ">=",
    "jensenshannon": ">=",
    "kl_div": ">=",
    "ks": "<=",
    "mannw": "<",
    "psi": ">=",
    "t_test": "<",
    "wasserstein": ">=",
    "z": "<",
}
# Mises): their inputs are passed sorted, which makes those sorts much cheaper; the scores agree
# with unsorted input to rounding (the reference's standard deviation is summed in another order).
_ORDER_FREE = frozenset({"wasserstein", "ks", "ed", "anderson", "cramer_von_mises"})
# Tests that seed and draw from NumPy's global random state (permutation tests): never concurrently
_GLOBAL_RANDOM = frozenset({"TVD", "empirical_mmd"})
_UNSEEDED = frozenset({"empirical_mmd"})


@dataclass(frozen=True)
class ColumnDrift:
    """What Evidently's stat test said about one column."""

    method: str
    method_display: str
    score: float
    drifted: bool
    threshold: float
    reference_n: int
    current_n: int
    chosen_by: str  # "default" (Evidently's choice) or "spec"


def default_stattest(reference: pd.Series, current: pd.Series, kind: str) -> str:
    """The test Evidently 0.7 picks when none is named (legacy/calculations/stattests/registry.py
    ``_get_default_stattest``), from the cleaned columns."""
    import pandas as pd

    both = pd.concat([reference, current], ignore_index=True)
    if len(reference) <= 1000:
        if kind == "numerical" and _nunique_above(both, 5):
            return "ks"
        return "chisquare" if _nunique_above(both, 2) else "z"
    if kind == "numerical":
        return "wasserstein" if _nunique_above(both, 5) else "jensenshannon"
    return "jensenshannon"


def resolve(config: DriftConfig, column: str, kind: str) -> tuple[str | None, float | None, str]:
    """(stattest, threshold, spec field) from the spec: per column, else per type, else for all
    columns, each of the two independently, as Evidently's ``resolve_stattest_threshold`` does."""
    method = threshold = None
    field = "checks.drift.stattest"
    for where, spec in (
        ("checks.drift.stattest", config.stattest),
        (f"checks.drift.per_type.{kind}", config.per_type.get(kind)),
        (f"checks.drift.per_column.{column}", config.per_column.get(column)),
    ):
        if spec is None:
            continue
        if spec.stattest is not None:
            method, field = spec.stattest, where
        if spec.threshold is not None:
            threshold = spec.threshold
    return method, threshold, field


def drift_threshold(method: str, threshold: float, severity: str) -> Threshold:
    """A ``Threshold`` whose strict comparison is exactly Evidently's verdict for ``method``."""
    op = DRIFTED_WHEN[method]
    if op in ("<", "<="):
        bound = threshold if op == "<" else math.nextafter(threshold, math.inf)
        return Threshold(**{severity: bound}, direction="below")
    bound = threshold if op == ">" else math.nextafter(threshold, -math.inf)
    return Threshold(**{severity: bound}, direction="above")


def column_drift(
    reference: pd.Series,
    current: pd.Series,
    kind: str,
    *,
    method: str | None = None,
    threshold: float | None = None,
    field: str = "checks.drift.stattest",
) -> ColumnDrift:
    """Drift of one column with Evidently's stat test: ``method`` or Evidently's default choice.

    ``reference`` and ``current`` must already be cleaned (see ``prepare``) and non-empty.
    """
    import numpy as np
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import (
        StatTestInvalidFeatureTypeError,
        _registered_stat_tests,
        get_registered_stattest,
    )
    from evidently.legacy.core import ColumnType

    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    if kind == "numerical" and not (
        pd.api.types.is_numeric_dtype(reference) and pd.api.types.is_numeric_dtype(current)
    ):
        raise DataError(
            f"checks.drift: column {reference.name!r} is treated as numerical but holds non-numbers; "
            f"set checks.drift.column_types.{reference.name}: categorical, or fix the data"
        )
    if method is None:
        # Evidently's own choice is not held to the test's declared column types (it picks
        # chi-square for a numerical column of at most 5 values): take the test as it does
        name, chosen_by = default_stattest(reference, current, kind), "default"
        stattest = next(iter(_registered_stat_tests[name].values()))
    else:
        name, chosen_by = method, "spec"
        try:
            stattest = get_registered_stattest(name, column_type)
        except StatTestInvalidFeatureTypeError:
            raise DataError(
                f"{field}: Evidently's {name!r} does not apply to {kind} column {reference.name!r}; "
                f"choose a {kind} test in checks.drift.per_column.{reference.name}, or set its column_types"
            ) from None
    if name in _ORDER_FREE:
        reference = pd.Series(np.sort(reference.to_numpy()), name=reference.name)
        current = pd.Series(np.sort(current.to_numpy()), name=current.name)
    if name in _UNSEEDED:
        # Evidently's MMD permutes with NumPy's global random state without seeding it; seed it
        # as Evidently's permutation tests do, so a re-run of a window gives the same p-value
        np.random.seed(0)
    try:
        result = stattest(reference, current, column_type, threshold)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        message = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise DataError(
            f"{field}: Evidently's {name!r} test failed on column {reference.name!r}: {message}; "
            f"choose another test in checks.drift.per_column.{reference.name}"
        ) from None
    return ColumnDrift(
        method=name,
        method_display=stattest.display_name,
        score=float(result.drift_score),
        drifted=bool(result.drifted),
        threshold=float(result.actual_threshold),
        reference_n=len(reference),
        current_n=len(current),
        chosen_by=chosen_by,
    )
