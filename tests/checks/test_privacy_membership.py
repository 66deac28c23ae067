"""Membership inference: AUC, advantage and TPR at 1% FPR against scikit-learn, bootstrap, gap, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from ethics_audit.checks.privacy import membership
from ethics_audit.errors import DataError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity, Status
from helpers import make_data, make_spec


def _spec(columns: dict | None = None, **member):
    member = {"column": "member", **member}
    return make_spec(
        {
            "columns": {"score": "score", "label": "label", "prediction": "pred", **(columns or {})},
            "checks": {"privacy": {"membership": member}},
        }
    )


def _frame(score, member, label=None, pred=None) -> pd.DataFrame:
    n = len(score)
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "ts": pd.Timestamp("2026-07-06", tz="UTC"),
            "score": score,
            "member": member,
            "label": np.full(n, np.nan) if label is None else label,
            "pred": (np.asarray(score) >= 0.5).astype(int) if pred is None else pred,
        }
    )


def _run(spec, frame, **kwargs):
    return membership.run(spec.checks.privacy, make_data(spec, frame, **kwargs))


def _confidence(score) -> np.ndarray:
    return np.round(np.maximum(score, 1 - score), 10)  # 1 - 0.3 and 0.7 are a tie


def _by(results, metric: str, **slice_):
    return next(r for r in results if r.metric == metric and r.slice == slice_)


def _random(n: int, seed: int, leak: float = 0.0):
    rng = np.random.default_rng(seed)
    member = rng.random(n) < 0.3
    score = np.clip(rng.beta(2, 3, n) + leak * member * rng.random(n), 0.01, 0.99).round(2)  # rounding: ties
    label = (rng.random(n) < score).astype(float)
    label[rng.random(n) < 0.2] = np.nan
    return score, member, label


def test_hand_computed_auc_advantage_and_tpr() -> None:
    spec = _spec(min_group_size=3, bootstrap={"resamples": 0})
    frame = _frame([0.9, 0.8, 0.7, 0.6, 0.8, 0.5], [True, True, True, False, False, False])
    results = _run(spec, frame)
    auc = _by(results, "attack_auc", signal="confidence")
    assert auc.value == pytest.approx(7.5 / 9)  # 3 + 2.5 (a tie counts half) + 2 wins of 9 pairs
    assert (auc.ci_low, auc.ci_high, auc.n) == (None, None, 6)
    assert _by(results, "attacker_advantage", signal="confidence").value == pytest.approx(2 / 3)
    assert _by(results, "tpr_at_1pct_fpr", signal="confidence").value == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_learn_on_random_data(seed: int) -> None:
    score, member, label = _random(5000, seed, leak=0.1 * seed)
    results = _run(_spec(), _frame(score, member, label))
    confidence = _confidence(score)
    fpr, tpr, _ = roc_curve(member, confidence, drop_intermediate=False)
    assert _by(results, "attack_auc", signal="confidence").value == pytest.approx(roc_auc_score(member, confidence))
    assert _by(results, "attacker_advantage", signal="confidence").value == pytest.approx(np.max(tpr - fpr))
    assert _by(results, "tpr_at_1pct_fpr", signal="confidence").value == pytest.approx(tpr[fpr <= 0.01].max())
    labelled = ~np.isnan(label)
    y, p, m = label[labelled], score[labelled], member[labelled]
    log_loss = np.round(-(y * np.log(p) + (1 - y) * np.log(1 - p)), 10)
    loss = _by(results, "attack_auc", signal="loss")
    assert loss.value == pytest.approx(roc_auc_score(m, -log_loss))
    assert loss.n == labelled.sum()
    fpr, tpr, _ = roc_curve(m, -log_loss, drop_intermediate=False)
    assert _by(results, "attacker_advantage", signal="loss").value == pytest.approx(np.max(tpr - fpr))


def test_bootstrap_interval_is_seeded_and_covers_the_estimate() -> None:
    score, member, label = _random(4000, 7)
    first = _by(_run(_spec(), _frame(score, member, label)), "attack_auc", signal="confidence")
    again = _by(_run(_spec(), _frame(score, member, label)), "attack_auc", signal="confidence")
    other = _by(_run(_spec(bootstrap={"seed": 1}), _frame(score, member, label)), "attack_auc", signal="confidence")
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
    assert first.ci_low < first.value < first.ci_high
    assert 0.02 < first.ci_high - first.ci_low < 0.08  # about 2 * 1.96 * 0.012 for 1200 vs 2800 rows


def test_pooled_bins_give_the_same_interval_as_exact_scores() -> None:
    rng = np.random.default_rng(3)
    member = rng.random(20_000) < 0.4
    coarse = rng.integers(0, 1000, 20_000) / 1000  # 1000 distinct values: no pooling
    fine = coarse + rng.random(20_000) * 1e-6  # 20,000 distinct values: pooled into 2048 bins
    exact = membership.bootstrap_auc(
        *membership.score_histogram(coarse, member)[1:], resamples=400, confidence=0.95, seed=0
    )
    pooled = membership.bootstrap_auc(
        *membership.score_histogram(fine, member)[1:], resamples=400, confidence=0.95, seed=0
    )
    assert exact == pytest.approx(pooled, abs=0.003)


def test_the_lower_bound_is_judged() -> None:
    rng = np.random.default_rng(4)
    member = rng.random(6000) < 0.3
    score = np.where(member, rng.beta(8, 1, 6000), rng.beta(2, 2, 6000))  # members: confident predictions
    result = _by(_run(_spec(), _frame(score, member)), "attack_auc", signal="confidence")
    assert result.ci_low > 0.7 and judge(result).severity is Severity.CRITICAL
    # a small sample: the estimate is above 0.6 but the interval is not, so it is not a breach
    rng = np.random.default_rng(1)
    member = np.r_[np.ones(40, bool), np.zeros(40, bool)]
    score = np.r_[rng.uniform(0.6, 1, 40), rng.uniform(0.5, 0.9, 40)]
    small = _by(_run(_spec(), _frame(score, member)), "attack_auc", signal="confidence")
    assert small.value > 0.6 and small.ci_low < 0.6
    assert judge(small).severity is Severity.OK
    point = _by(_run(_spec(require_significance=False), _frame(score, member)), "attack_auc", signal="confidence")
    assert judge(point).severity in (Severity.WARN, Severity.CRITICAL)


def test_generalisation_gap_by_hand() -> None:
    spec = _spec(min_group_size=4, bootstrap={"resamples": 0})
    frame = _frame(
        score=[0.9, 0.2, 0.8, 0.1, 0.9, 0.2, 0.8, 0.1, 0.5],
        member=[True] * 4 + [False] * 4 + [True],
        label=[1, 0, 1, 0, 0, 0, 1, 1, np.nan],  # members all right, non-members half
    )
    gap = _by(_run(spec, frame), "generalisation_gap")
    assert gap.value == pytest.approx(1.0 - 0.5)
    assert (gap.n, gap.details["accuracy_members"], gap.details["accuracy_non_members"]) == (8, 1.0, 0.5)
    assert gap.details["predicted"] == "columns.prediction (pred)"


def test_manifest_marks_members_by_entity_id() -> None:
    score, member, label = _random(3000, 5, leak=0.3)
    frame = _frame(score, member, label)
    manifest = pd.DataFrame({"uid": frame.loc[member, "user_id"].astype(str)})  # text ids, numeric window ids
    spec = make_spec(
        {
            "columns": {"score": "score", "label": "label"},
            "checks": {"privacy": {"membership": {"source": {"path": "m.parquet"}, "manifest_entity_column": "uid"}}},
        }
    )
    results = _run(spec, frame.drop(columns="member"), training_members=manifest)
    auc = _by(results, "attack_auc", signal="confidence")
    assert auc.value == pytest.approx(roc_auc_score(member, _confidence(score)))
    assert auc.details["membership_from"] == "manifest"


def test_training_member_column_role_is_used_without_a_membership_section() -> None:
    score, member, _ = _random(500, 6)
    spec = make_spec({"columns": {"score": "score", "training_member": "member"}, "checks": {"privacy": {}}})
    results = _run(spec, _frame(score, member))
    assert _by(results, "attack_auc", signal="confidence").value == pytest.approx(
        roc_auc_score(member, _confidence(score))
    )


def test_unknown_membership_rows_are_left_out() -> None:
    score, member, _ = _random(1000, 8)
    flags = pd.Series(member, dtype=object)
    flags[::10] = None
    auc = _by(_run(_spec(), _frame(score, flags)), "attack_auc", signal="confidence")
    known = np.arange(1000) % 10 != 0
    assert auc.n == known.sum() and auc.details["rows_with_unknown_membership"] == 100
    assert auc.value == pytest.approx(roc_auc_score(member[known], _confidence(score)[known]))


@pytest.mark.parametrize("flags", [["yes", "no"] * 50, [0, 1, 2, 1] * 25, ["True", "False"] * 50, [0.5, 1.0] * 50])
def test_non_boolean_membership_is_an_error(flags) -> None:
    with pytest.raises(DataError, match=r"checks.privacy.membership.column: column 'member' is not boolean"):
        _run(_spec(), _frame(np.full(100, 0.5), flags))


def test_zero_one_integers_are_boolean_enough() -> None:
    score, member, _ = _random(400, 9)
    ints = _by(_run(_spec(), _frame(score, member.astype(int))), "attack_auc", signal="confidence")
    bools = _by(_run(_spec(), _frame(score, member)), "attack_auc", signal="confidence")
    assert ints.value == bools.value


def test_missing_columns_and_bad_scores() -> None:
    with pytest.raises(DataError, match=r"checks.privacy.membership.column: 'member' is not a column"):
        _run(_spec(), _frame([0.5], [True]).drop(columns="member"))
    with pytest.raises(DataError, match=r"columns.score: 'score' has values outside \[0, 1\]"):
        _run(_spec(), _frame([0.5, 1.5], [True, False]))
    spec = _spec(columns={"score": None})
    results = _run(spec, _frame([0.5] * 100, [True, False] * 50))
    assert {r.status for r in results if r.metric == "attack_auc"} == {Status.INSUFFICIENT_DATA}


def test_too_few_members_is_insufficient_data() -> None:
    score, member, label = _random(200, 10)
    member[:] = False
    member[:5] = True
    results = _run(_spec(), _frame(score, member, label))
    auc = _by(results, "attack_auc", signal="confidence")
    assert auc.status is Status.INSUFFICIENT_DATA and "got 5 and 195" in auc.details["reason"]
    assert _by(results, "generalisation_gap").status is Status.INSUFFICIENT_DATA
