"""Issue 14, part 1: breaches need significance by default, and a disparity with a missing half
(no negatives, no positives, too few groups for one rate) is insufficient_data, never judged."""

from __future__ import annotations

import pytest
from fairness_helpers import frame_from, get, run, spec_for

from ethics_audit.results import Severity
from ethics_audit.spec import FairnessConfig


def small_gap():
    """Selection rates f 0.18 vs m 0.30 on 500 rows: beyond warn 0.1, but not significantly."""
    return frame_from(
        [
            ({"gender": "f"}, 1, None, 54),
            ({"gender": "f"}, 0, None, 246),
            ({"gender": "m"}, 1, None, 60),
            ({"gender": "m"}, 0, None, 140),
        ]
    )


def test_significance_is_required_by_default():
    assert FairnessConfig().require_significance is True
    found = run(spec_for({"bootstrap": {"resamples": 200}}, label=None), small_gap())
    dpd = get(found, "demographic_parity_difference", attribute="gender")
    # the point estimate is still reported, with its interval, but is not a breach
    assert dpd.result.value == pytest.approx(0.12)
    assert dpd.result.ci_low < 0.1 < dpd.result.value
    assert dpd.severity is Severity.OK and "not significantly" in dpd.reason
    assert dpd.result.threshold.require_significance


def test_a_spec_can_turn_significance_off():
    found = run(spec_for({"bootstrap": {"resamples": 200}, "require_significance": False}, label=None), small_gap())
    assert get(found, "demographic_parity_difference", attribute="gender").severity is Severity.WARN


def labelled(no_negatives: bool):
    """Two groups whose TPRs differ widely (0.9 vs 0.3); with ``no_negatives`` every label is 1."""
    cells = [
        ({"gender": "f"}, 1, 1, 90),
        ({"gender": "f"}, 0, 1, 10),
        ({"gender": "m"}, 1, 1, 30),
        ({"gender": "m"}, 0, 1, 70),
    ]
    if not no_negatives:
        cells += [({"gender": "f"}, 0, 0, 50), ({"gender": "m"}, 0, 0, 50)]
    return frame_from(cells)


def test_a_window_with_no_negatives_does_not_judge_equalized_odds_on_its_tpr_half():
    found = run(spec_for({"bootstrap": {"resamples": 100}}), labelled(no_negatives=True))
    for metric in ("equalized_odds_difference", "equalized_odds_ratio"):
        finding = get(found, metric, attribute="gender")
        assert finding.severity is Severity.INSUFFICIENT_DATA, metric
        assert finding.result.value is None
        assert "no negative labels" in finding.reason and "false positive rate half" in finding.reason
    # the TPR gap itself is a metric of its own and is judged
    eopp = get(found, "equal_opportunity_difference", attribute="gender")
    assert eopp.result.value == pytest.approx(0.6) and eopp.severity is Severity.CRITICAL
    assert get(found, "false_positive_rate", gender="f").severity is Severity.INSUFFICIENT_DATA


def test_equalized_odds_with_both_halves_is_judged():
    found = run(spec_for({"bootstrap": {"resamples": 100}}), labelled(no_negatives=False))
    eod = get(found, "equalized_odds_difference", attribute="gender")
    assert eod.result.value == pytest.approx(0.6) and eod.severity is Severity.CRITICAL


def test_too_few_groups_with_enough_negatives_is_a_missing_half():
    frame = labelled(no_negatives=True)
    extra = frame_from([({"gender": "f"}, 0, 0, 3), ({"gender": "m"}, 0, 0, 40)], seed=1)
    found = run(spec_for({"bootstrap": {"resamples": 0}}), _concat(frame, extra))
    eod = get(found, "equalized_odds_difference", attribute="gender")
    assert eod.severity is Severity.INSUFFICIENT_DATA
    assert "only 1 of 2 groups have 5 or more negative labels (min_negatives)" in eod.reason


def _concat(a, b):
    import pandas as pd

    out = pd.concat([a, b], ignore_index=True)
    out["user_id"] = [f"u{i}" for i in range(len(out))]
    return out
