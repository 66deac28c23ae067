"""The fairness check on hand-built data: known gaps, severities, minimums, late labels,
decisions from scores, bootstrap intervals and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairness_helpers import frame_from, get, run, spec_for

from ethics_audit.errors import DataError
from ethics_audit.results import Severity, Status

POINT = {"bootstrap": {"resamples": 0}}


def gap_frame(scale: int = 1):
    """The issue's example: selection rates f 0.18 (54 of 300) vs m 0.30 (60 of 200)."""
    return frame_from(
        [
            ({"gender": "f"}, 1, None, 54 * scale),
            ({"gender": "f"}, 0, None, 246 * scale),
            ({"gender": "m"}, 1, None, 60 * scale),
            ({"gender": "m"}, 0, None, 140 * scale),
        ]
    )


# --------------------------------------------------------------------------- known values


def test_hand_computed_selection_gap_and_its_severities():
    spec = spec_for(
        {
            **POINT,
            "reference_group": {"gender": "m"},
            "thresholds": {
                "demographic_parity_ratio": {"warn": 0.8, "critical": 0.5},
                "disparate_impact_ratio": {"warn": [0.8, 1.25], "critical": [0.5, 2.0]},
            },
        },
        label=None,
    )
    found = run(spec, gap_frame())

    assert get(found, "selection_rate", gender="f").result.value == pytest.approx(0.18, abs=1e-12)
    assert get(found, "selection_rate", gender="m").result.value == pytest.approx(0.30, abs=1e-12)
    assert get(found, "count", gender="f").result.value == 300
    assert get(found, "selection_rate").result.value == pytest.approx(114 / 500, abs=1e-12)

    dpd = get(found, "demographic_parity_difference", attribute="gender")
    assert dpd.result.value == pytest.approx(0.12, abs=1e-12)
    assert dpd.severity is Severity.WARN  # default thresholds: warn 0.1, critical 0.2
    assert dpd.result.details["max_group"] == {"gender": "m"} and dpd.result.details["min_group"] == {"gender": "f"}
    assert dpd.result.n == 500

    dpr = get(found, "demographic_parity_ratio", attribute="gender")
    assert dpr.result.value == pytest.approx(0.6, abs=1e-12)
    assert dpr.severity is Severity.WARN

    # against the named reference group; it gets no ratio of its own
    di = get(found, "disparate_impact_ratio", gender="f", reference="m")
    assert di.result.value == pytest.approx(0.6, abs=1e-12)
    assert di.severity is Severity.WARN
    assert ("disparate_impact_ratio", '{"gender":"m","reference":"m"}') not in found
    # no label column: no label metric at all
    assert not [k for k in found if k[0] in ("true_positive_rate", "equalized_odds_difference")]


def test_a_larger_gap_is_critical_and_the_reference_group_can_be_named():
    frame = frame_from(
        [
            ({"gender": "f"}, 1, None, 5),
            ({"gender": "f"}, 0, None, 95),
            ({"gender": "m"}, 1, None, 30),
            ({"gender": "m"}, 0, None, 70),
            ({"gender": "x"}, 1, None, 12),
            ({"gender": "x"}, 0, None, 28),
        ]
    )
    found = run(spec_for({**POINT, "reference_group": {"gender": "x"}}, label=None), frame)
    dpd = get(found, "demographic_parity_difference", attribute="gender")
    assert dpd.result.value == pytest.approx(0.25, abs=1e-12)
    assert dpd.severity is Severity.CRITICAL
    # ratios against x (0.30): f 0.05/0.3 is far outside the four-fifths band, m equals x
    f = get(found, "disparate_impact_ratio", gender="f", reference="x")
    assert f.result.value == pytest.approx(1 / 6, abs=1e-12) and f.severity is Severity.CRITICAL
    m = get(found, "disparate_impact_ratio", gender="m", reference="x")
    assert m.result.value == pytest.approx(1.0, abs=1e-12) and m.severity is Severity.OK


def test_hand_computed_label_metrics():
    # group a: TP 3, FN 1, FP 2, TN 4; group b: TP 1, FN 3, FP 1, TN 5 (each x10 rows)
    frame = frame_from(
        [
            ({"gender": "a"}, 1, 1, 30),
            ({"gender": "a"}, 0, 1, 10),
            ({"gender": "a"}, 1, 0, 20),
            ({"gender": "a"}, 0, 0, 40),
            ({"gender": "b"}, 1, 1, 10),
            ({"gender": "b"}, 0, 1, 30),
            ({"gender": "b"}, 1, 0, 10),
            ({"gender": "b"}, 0, 0, 50),
        ]
    )
    found = run(spec_for(POINT), frame)
    expected = {
        "a": {"true_positive_rate": 0.75, "false_positive_rate": 1 / 3, "false_negative_rate": 0.25},
        "b": {"true_positive_rate": 0.25, "false_positive_rate": 1 / 6, "false_negative_rate": 0.75},
    }
    expected["a"] |= {"precision": 0.6, "accuracy": 0.7, "base_rate": 0.4, "selection_rate": 0.5}
    expected["b"] |= {"precision": 0.5, "accuracy": 0.6, "base_rate": 0.4, "selection_rate": 0.2}
    for group, metrics in expected.items():
        for metric, value in metrics.items():
            assert get(found, metric, gender=group).result.value == pytest.approx(value, abs=1e-12), (group, metric)
    assert get(found, "true_positive_rate", gender="a").result.n == 40  # the denominator: positives

    assert get(found, "equal_opportunity_difference", attribute="gender").result.value == pytest.approx(0.5)
    eod = get(found, "equalized_odds_difference", attribute="gender")
    assert eod.result.value == pytest.approx(0.5)
    assert eod.result.details["false_positive_rate_difference"] == pytest.approx(1 / 6)
    assert eod.severity is Severity.CRITICAL
    eor = get(found, "equalized_odds_ratio", attribute="gender")
    assert eor.result.value == pytest.approx(1 / 3)  # min(TPR ratio 1/3, FPR ratio 1/2)
    assert eor.severity is Severity.CRITICAL


def test_intersections_get_group_and_disparity_slices():
    rows = []
    for gender, age, n, selected in [
        ("f", "young", 60, 30),
        ("f", "old", 40, 8),
        ("m", "young", 50, 20),
        ("m", "old", 50, 20),
    ]:
        rows += [
            ({"gender": gender, "age": age}, 1, None, selected),
            ({"gender": gender, "age": age}, 0, None, n - selected),
        ]
    spec = spec_for({**POINT, "intersections": [["gender", "age"]]}, label=None, sensitive=["gender", "age"])
    found = run(spec, frame_from(rows))
    assert get(found, "selection_rate", gender="f", age="old").result.value == pytest.approx(0.2)
    assert get(found, "selection_rate", age="old").result.value == pytest.approx(28 / 90)
    dpd = get(found, "demographic_parity_difference", attribute="age+gender")
    assert dpd.result.value == pytest.approx(0.3)
    assert dpd.result.details["groups"] == 4
    # the reference of an intersection is its largest cell, named in the slice
    di = get(found, "disparate_impact_ratio", gender="f", age="old", reference="age=young, gender=f")
    assert di.result.value == pytest.approx(0.4)


# --------------------------------------------------------------------------- minimums


def test_small_groups_are_insufficient_never_judged_and_counted():
    frame = frame_from(
        [
            ({"gender": "f"}, 1, 1, 20),
            ({"gender": "f"}, 0, 0, 20),
            ({"gender": "m"}, 1, 1, 10),
            ({"gender": "m"}, 0, 1, 10),
            ({"gender": "m"}, 0, 0, 20),
            ({"gender": "x"}, 0, 1, 6),  # 12 rows, never selected: would be a huge gap if judged
            ({"gender": "x"}, 0, 0, 6),
            ({"gender": "y"}, 1, 1, 3),  # 40 rows but only 3 positives
            ({"gender": "y"}, 1, 0, 17),
            ({"gender": "y"}, 0, 0, 20),
        ]
    )
    found = run(spec_for(POINT), frame)
    for metric in ("selection_rate", "true_positive_rate", "accuracy", "mean_score"):
        if (metric, '{"gender":"x"}') in found:
            small = get(found, metric, gender="x")
            assert small.severity is Severity.INSUFFICIENT_DATA
            assert small.result.status is Status.INSUFFICIENT_DATA
    assert "12 rows, fewer than min_group_size 30" in get(found, "selection_rate", gender="x").reason
    di = get(found, "disparate_impact_ratio", gender="x", reference="f")
    assert di.severity is Severity.INSUFFICIENT_DATA and di.result.value is None

    tpr = get(found, "true_positive_rate", gender="y")
    assert tpr.severity is Severity.INSUFFICIENT_DATA and "3 positive labels, fewer than min_positives 5" in tpr.reason
    assert get(found, "false_positive_rate", gender="y").result.value == pytest.approx(17 / 37)

    # disparities over the groups that meet the minimums only: selection f 0.5, m 0.25, y 0.5
    dpd = get(found, "demographic_parity_difference", attribute="gender")
    assert dpd.result.value == pytest.approx(0.25)
    assert dpd.result.details["groups"] == 3 and dpd.result.details["excluded_groups"] == 1
    # TPR: f 1.0, m 0.5 (y has too few positives, x too few rows)
    assert get(found, "equal_opportunity_difference", attribute="gender").result.value == pytest.approx(0.5)

    summary = get(found, "suppressed_groups")
    assert summary.result.value == 1
    assert summary.result.details["by_attribute_set"] == {"gender": 1}
    assert summary.result.details["label_rates_suppressed"] == 2  # y: TPR and FNR (3 positives)
    assert summary.severity is Severity.OK


def test_fewer_than_two_groups_meeting_the_minimums_is_insufficient():
    frame = frame_from([({"gender": "f"}, 1, None, 40), ({"gender": "m"}, 1, None, 10)])
    found = run(spec_for(POINT, label=None), frame)
    dpd = get(found, "demographic_parity_difference", attribute="gender")
    assert dpd.severity is Severity.INSUFFICIENT_DATA
    assert "1 of 2 groups meet the minimums" in dpd.reason


# --------------------------------------------------------------------------- labels arrive late


def test_label_free_metrics_use_every_row_and_label_metrics_only_labelled_rows():
    frame = frame_from(
        [
            ({"gender": "f"}, 1, 1, 20),
            ({"gender": "f"}, 0, 0, 30),
            ({"gender": "f"}, 1, None, 50),  # not labelled yet
            ({"gender": "m"}, 1, 1, 10),
            ({"gender": "m"}, 0, 1, 10),
            ({"gender": "m"}, 0, 0, 30),
            ({"gender": "m"}, 0, None, 50),
        ]
    )
    found = run(spec_for(POINT), frame)
    assert get(found, "selection_rate", gender="f").result.value == pytest.approx(0.7)
    assert get(found, "selection_rate", gender="m").result.value == pytest.approx(0.1)
    assert get(found, "true_positive_rate", gender="m").result.value == pytest.approx(0.5)
    assert get(found, "accuracy", gender="f").result.n == 50
    share = get(found, "labelled_share")
    assert share.result.value == pytest.approx(100 / 200)


def test_a_window_without_labels_yet_has_label_free_results_only():
    frame = frame_from([({"gender": "f"}, 1, None, 40), ({"gender": "m"}, 0, None, 60), ({"gender": "m"}, 1, None, 20)])
    found = run(spec_for(POINT), frame)
    assert get(found, "demographic_parity_difference", attribute="gender").result.value == pytest.approx(0.75)
    for metric in ("equal_opportunity_difference", "equalized_odds_difference", "equalized_odds_ratio"):
        finding = get(found, metric, attribute="gender")
        assert finding.severity is Severity.INSUFFICIENT_DATA
        assert "no labels have arrived" in finding.reason
    assert get(found, "true_positive_rate", gender="f").severity is Severity.INSUFFICIENT_DATA
    assert get(found, "labelled_share").result.value == 0
    # missing labels are not "suppressed by the minimums"
    assert get(found, "suppressed_groups").result.details["label_rates_suppressed"] == 0


def test_a_string_positive_label():
    frame = frame_from(
        [
            ({"gender": "f"}, "yes", "yes", 30),
            ({"gender": "f"}, "no", "yes", 10),
            ({"gender": "f"}, "no", "no", 40),
            ({"gender": "m"}, "yes", "yes", 20),
            ({"gender": "m"}, "no", "yes", 20),
            ({"gender": "m"}, "yes", "no", 10),
            ({"gender": "m"}, "no", "no", 30),
        ]
    )
    found = run(spec_for({**POINT, "positive_label": "yes"}), frame)
    assert get(found, "true_positive_rate", gender="f").result.value == pytest.approx(0.75)
    assert get(found, "selection_rate", gender="m").result.value == pytest.approx(30 / 80)


# --------------------------------------------------------------------------- decisions from scores


def scored_frame():
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "ts": pd.Timestamp("2026-07-07", tz="UTC"),
            "gender": rng.choice(["f", "m"], n),
            "score": rng.random(n).round(3),
            "label": rng.integers(0, 2, n),
        }
    )
    return frame


def test_a_score_threshold_makes_the_decisions_and_extra_thresholds_get_their_own_slices():
    frame = scored_frame()
    spec = spec_for(
        {**POINT, "decision_threshold": 0.5, "extra_decision_thresholds": [0.3]}, prediction=None, score="score"
    )
    found = run(spec, frame)
    for gender in ("f", "m"):
        scores = frame.loc[frame["gender"] == gender, "score"]
        assert get(found, "selection_rate", gender=gender).result.value == pytest.approx((scores >= 0.5).mean())
        at = get(found, "selection_rate", gender=gender, decision_threshold=0.3)
        assert at.result.value == pytest.approx((scores >= 0.3).mean())
        assert get(found, "mean_score", gender=gender).result.value == pytest.approx(scores.mean())
    assert ("demographic_parity_difference", '{"attribute":"gender","decision_threshold":0.3}') in found
    assert get(found, "suppressed_groups").result.details["decision"] == "score >= 0.5"


def test_with_a_prediction_column_the_decision_threshold_is_an_extra_threshold():
    frame = scored_frame()
    frame["pred"] = (frame["score"] >= 0.8).astype(int)
    spec = spec_for({**POINT, "decision_threshold": 0.5}, score="score")
    found = run(spec, frame)
    f = frame[frame["gender"] == "f"]
    assert get(found, "selection_rate", gender="f").result.value == pytest.approx(f["pred"].mean())
    assert get(found, "selection_rate", gender="f", decision_threshold=0.5).result.value == pytest.approx(
        (f["score"] >= 0.5).mean()
    )


# --------------------------------------------------------------------------- uncertainty


def test_bootstrap_intervals_are_seeded_and_judge_significance():
    significance = {"bootstrap": {"resamples": 200, "seed": 1}, "require_significance": True}
    spec = spec_for({**significance, "reference_group": {"gender": "m"}}, label=None)
    small = run(spec, gap_frame())
    dpd = get(small, "demographic_parity_difference", attribute="gender")
    assert dpd.result.ci_low <= 0.12 <= dpd.result.ci_high
    assert dpd.result.ci_low < 0.1  # 500 rows cannot show the 0.12 gap is beyond 0.1
    assert dpd.severity is Severity.OK and "not significantly" in dpd.reason

    again = get(run(spec, gap_frame()), "demographic_parity_difference", attribute="gender")
    assert (again.result.ci_low, again.result.ci_high) == (dpd.result.ci_low, dpd.result.ci_high)
    other = spec_for({**significance, "bootstrap": {"resamples": 200, "seed": 2}}, label=None)
    moved = get(run(other, gap_frame()), "demographic_parity_difference", attribute="gender")
    assert (moved.result.ci_low, moved.result.ci_high) != (dpd.result.ci_low, dpd.result.ci_high)

    large = get(run(spec, gap_frame(scale=20)), "demographic_parity_difference", attribute="gender")
    assert large.result.value == pytest.approx(0.12)
    assert 0.1 < large.result.ci_low < 0.12 < large.result.ci_high < 0.2
    assert large.severity is Severity.WARN

    di = get(run(spec, gap_frame(scale=20)), "disparate_impact_ratio", gender="f", reference="m")
    assert di.result.ci_low < 0.6 < di.result.ci_high < 0.8
    assert di.severity is Severity.WARN


def test_resampling_counts_per_cell_has_the_spread_of_the_row_bootstrap():
    from ethics_audit.checks.fairness import counts

    # one cell of 400 rows, 100 selected: a row bootstrap's selection rate has sd sqrt(p(1-p)/n)
    table = np.array([[300, 0, 0, 100, 0, 0]])
    boot = counts.resample_cells(table, 4000, seed=0)
    assert (boot.sum(axis=-1) == 400).all()
    rate = counts.rates(boot)["selection_rate"][:, 0]
    assert rate.mean() == pytest.approx(0.25, abs=0.003)
    assert rate.std() == pytest.approx(np.sqrt(0.25 * 0.75 / 400), rel=0.06)


def test_significant_breaches_are_rare_without_a_gap_and_sure_with_one():
    """50 windows of 15 unequal, partly small groups with equal rates: percentile intervals of
    max - min would flag most of them; the simultaneous band keeps false breaches rare."""
    rng = np.random.default_rng(11)
    sizes = [2000, 1500, 1200, 900, 600, 400, 300, 200, 150, 120, 90, 70, 50, 40, 35]
    spec = spec_for({"bootstrap": {"resamples": 200}, "require_significance": True}, label=None)
    false_breaches = 0
    for trial in range(50):
        cells = []
        for g, size in enumerate(sizes):
            selected = int(rng.binomial(size, 0.3))
            cells += [({"gender": f"g{g:02d}"}, 1, None, selected), ({"gender": f"g{g:02d}"}, 0, None, size - selected)]
        found = run(spec, frame_from(cells, seed=trial))
        false_breaches += any(
            f.severity.is_breach for (metric, _), f in found.items() if metric.startswith("demographic_parity")
        )
    assert false_breaches <= 3

    cells = []
    for g, size in enumerate(sizes):
        rate = 0.15 if g == 0 else 0.3
        cells += [
            ({"gender": f"g{g:02d}"}, 1, None, int(size * rate)),
            ({"gender": f"g{g:02d}"}, 0, None, size - int(size * rate)),
        ]
    found = run(spec, frame_from(cells))
    assert get(found, "demographic_parity_difference", attribute="gender").severity.is_breach
    # g00 is the largest group, so the reference: every other group is selected twice as often
    assert get(found, "disparate_impact_ratio", gender="g01", reference="g00").severity is Severity.CRITICAL


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "spec_kwargs", "message"),
    [
        (
            lambda f: f.drop(columns="gender"),
            {},
            "checks.fairness: columns.sensitive names 'gender', which is not a column",
        ),
        (
            lambda f: f.assign(label=f["label"].where(f.index > 5, 2)),
            {},
            "column 'label' (columns.label) has values other than 0/1, e.g. [2]",
        ),
        (lambda f: f.assign(label="clicked"), {}, "(columns.label) has values other than 0/1"),
        (lambda f: f.assign(pred=3), {}, "column 'pred' (columns.prediction) has values other than 0/1"),
        (lambda f: f.assign(gender="f"), {}, "every row of the window has gender='f'"),
        (lambda f: f.assign(gender=np.arange(len(f))), {}, "has 2000 distinct values"),
    ],
)
def test_bad_input_names_the_field_and_the_column(change, spec_kwargs, message):
    frame = frame_from([({"gender": "f"}, 1, 1, 1000), ({"gender": "m"}, 0, 0, 1000)])
    with pytest.raises(DataError) as err:
        run(spec_for(POINT, **spec_kwargs), change(frame))
    assert message in str(err.value)


def test_scores_outside_0_1_are_an_error_when_a_threshold_cuts_them():
    frame = scored_frame().assign(score=lambda f: f["score"] * 100)
    spec = spec_for({**POINT, "decision_threshold": 0.5}, prediction=None, score="score")
    with pytest.raises(DataError, match=r"column 'score' \(columns.score\) has values outside \[0, 1\]"):
        run(spec, frame)
    # without a threshold the scores only feed mean_score: no error
    spec = spec_for(POINT, score="score")
    frame["pred"] = 1
    assert get(run(spec, frame), "mean_score").result.value == pytest.approx(frame["score"].mean())


def test_a_reference_group_missing_from_the_window_leaves_only_the_impact_ratios_insufficient():
    frame = frame_from([({"gender": "f"}, 1, None, 50), ({"gender": "m"}, 0, None, 50)])
    found = run(spec_for({**POINT, "reference_group": {"gender": "w"}}, label=None), frame)
    di = get(found, "disparate_impact_ratio", gender="f", reference="w")
    assert di.severity is Severity.INSUFFICIENT_DATA
    assert (
        "gender='w' has no rows in this window (groups: 'f', 'm'); check checks.fairness.reference_group" in di.reason
    )
    assert get(found, "demographic_parity_difference", attribute="gender").result.value == 1


def test_a_string_label_that_is_not_binary_is_an_error():
    frame = frame_from(
        [({"gender": "f"}, "yes", "yes", 50), ({"gender": "m"}, "no", "no", 50), ({"gender": "m"}, "no", "maybe", 5)]
    )
    spec = spec_for({**POINT, "positive_label": "yes"})
    with pytest.raises(DataError, match=r"'label' \(columns.label\) is not binary: besides positive_label 'yes'"):
        run(spec, frame)


def test_missing_attribute_values_form_their_own_group():
    frame = frame_from(
        [({"gender": "f"}, 1, None, 40), ({"gender": None}, 0, None, 40), ({"gender": "m"}, 1, None, 40)]
    )
    found = run(spec_for(POINT, label=None), frame)
    assert get(found, "selection_rate", gender=None).result.value == 0
    assert get(found, "demographic_parity_difference", attribute="gender").result.value == 1


# --------------------------------------------------------------------------- spec


@pytest.mark.parametrize(
    ("fairness", "message"),
    [
        ({"intersections": [["gender", "age"], ["age", "gender"]]}, "is listed twice"),
        ({"extra_decision_thresholds": [0.3, 0.3]}, "lists a threshold twice"),
        ({"decision_threshold": 0.5, "extra_decision_thresholds": [0.5]}, "repeats decision_threshold 0.5"),
        ({"attributes": ["gender"], "reference_group": {"age": "old"}}, "reference_group names ['age']"),
        ({"attributes": ["reference"]}, "names a key of fairness slices"),
    ],
)
def test_spec_rejects_inconsistent_fairness_settings(fairness, message):
    from ethics_audit.errors import SpecError

    with pytest.raises(SpecError) as err:
        spec_for(fairness, sensitive=["gender", "age"])
    assert message in str(err.value)


@pytest.mark.parametrize("paired_limit", [64, 100])
def test_many_groups_get_a_valid_interval_with_pairs_or_per_group_bands(monkeypatch, paired_limit):
    from ethics_audit.checks.fairness import counts

    monkeypatch.setattr(counts, "MAX_PAIRED_GROUPS", paired_limit)  # 80 groups: bands at 64, pairs at 100
    cells = []
    for g in range(80):
        selected = 50 if g == 0 else 300
        cells += [({"gender": f"g{g:02d}"}, 1, None, selected), ({"gender": f"g{g:02d}"}, 0, None, 1000 - selected)]
    spec = spec_for({"bootstrap": {"resamples": 200}, "require_significance": True}, label=None)
    found = run(spec, frame_from(cells))
    dpd = get(found, "demographic_parity_difference", attribute="gender")
    assert dpd.result.value == pytest.approx(0.25)
    assert 0.1 < dpd.result.ci_low < 0.25 < dpd.result.ci_high < 0.4
    expected = Severity.CRITICAL if dpd.result.ci_low > 0.2 else Severity.WARN
    assert dpd.severity is expected
    dpr = get(found, "demographic_parity_ratio", attribute="gender")
    assert dpr.result.ci_low < 1 / 6 < dpr.result.ci_high < 0.5
