"""Re-identification risk: exact k, shares and l-diversity on hand-made data; agreement with pandas group-bys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks.privacy import reidentification
from ethics_audit.errors import DataError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity, Status
from helpers import make_data, make_spec

CLASSES = [  # (gender, age_band, zip) -> diagnosis values and labels of the entities in the class
    (("f", "20-29", "N"), ["a", "a", "b", "c", "a"], [0, 1, 0, 1, 1]),
    (("m", "20-29", "N"), ["a", "a", "a"], [1, 0, 1]),
    (("f", "30-39", "S"), ["b", None], [0, 1]),
    (("m", "30-39", "S"), ["c"], [1]),
    (("x", "40-49", "N"), [None], [0]),
]


def _spec(**reid):
    return make_spec(
        {
            "columns": {
                "label": "label",
                "sensitive": ["gender", "diagnosis"],
                "quasi_identifiers": ["gender", "age_band", "zip"],
            },
            "checks": {"privacy": {"reidentification": reid}},
        }
    )


def _hand_frame() -> pd.DataFrame:
    rows = []
    entity = 0
    for (gender, age, zip_), diagnoses, labels in CLASSES:
        for diagnosis, label in zip(diagnoses, labels, strict=True):
            rows.append((entity, 10 + entity, gender, age, zip_, diagnosis, label))
            entity += 1
    # older rows with other values: the latest row of each entity must win
    rows.append((0, 1, "m", "50-59", "W", "z", 0))
    rows.append((3, 2, "x", "60+", "E", "z", 0))
    rows.append((None, 3, "x", "60+", "E", "z", 0))  # no entity id: dropped
    frame = pd.DataFrame(rows, columns=["user_id", "second", "gender", "age_band", "zip", "diagnosis", "label"])
    frame["ts"] = pd.Timestamp("2026-07-06", tz="UTC") + pd.to_timedelta(frame.pop("second"), unit="s")
    return frame.sample(frac=1, random_state=1).reset_index(drop=True)  # order must not matter


def _by(results, metric: str, **slice_):
    return next(r for r in results if r.metric == metric and r.slice == slice_)


def test_hand_computed_k_shares_and_l_diversity() -> None:
    spec = _spec()
    results = reidentification.run(spec.checks.privacy, make_data(spec, _hand_frame()))
    k = _by(results, "k_anonymity")
    assert (k.value, k.n) == (1, 12)
    assert k.details["classes"] == 5
    assert k.details["l_diversity_skipped"] == {"gender": "also a quasi-identifier, so always 1 within a class"}
    below = _by(results, "share_below_k")
    assert below.value == pytest.approx(7 / 12)  # classes of 3, 2, 1 and 1 entities are below k = 5
    assert judge(below).severity is Severity.CRITICAL
    assert _by(results, "sample_uniqueness").value == pytest.approx(2 / 12)
    diagnosis = _by(results, "l_diversity", attribute="diagnosis")
    assert (diagnosis.value, diagnosis.n) == (1, 10)  # two entities have no diagnosis
    assert diagnosis.details["classes"] == 4  # the class whose only entity has none is left out
    assert diagnosis.details["classes_with_one_value"] == 3
    assert diagnosis.details["share_in_classes_with_one_value"] == pytest.approx(5 / 10)
    label = _by(results, "l_diversity", attribute="label")
    assert (label.value, label.n, label.details["role"]) == (1, 12, "label")
    assert {r.metric for r in results} == {"k_anonymity", "share_below_k", "sample_uniqueness", "l_diversity"}


def test_k_is_configurable() -> None:
    spec = _spec(k=3)
    results = reidentification.run(spec.checks.privacy, make_data(spec, _hand_frame()))
    assert _by(results, "share_below_k").value == pytest.approx(4 / 12)


def test_missing_values_form_their_own_class() -> None:
    spec = _spec()
    frame = pd.DataFrame(
        {
            "user_id": range(6),
            "ts": pd.Timestamp("2026-07-06", tz="UTC"),
            "gender": ["f"] * 6,
            "age_band": ["20-29"] * 6,
            "zip": ["N", "N", "N", None, None, np.nan],
            "diagnosis": "a",
            "label": 1,
        }
    )
    results = reidentification.run(spec.checks.privacy, make_data(spec, frame))
    assert _by(results, "k_anonymity").value == 3
    assert _by(results, "k_anonymity").details["classes"] == 2


def test_agrees_with_pandas_groupby_on_random_data() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 6000, n),
            "ts": pd.Timestamp("2026-07-06", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "gender": rng.choice(["f", "m", "x"], n, p=[0.49, 0.49, 0.02]),
            "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"], n),
            "zip": rng.choice([f"z{i}" for i in range(40)], n),
            "diagnosis": rng.choice(["a", "b", "c", None], n),
            "label": rng.choice([0.0, 1.0, np.nan], n),
        }
    )
    spec = _spec()
    results = reidentification.run(spec.checks.privacy, make_data(spec, frame))
    latest = frame.sort_values("ts", kind="stable").groupby("user_id").tail(1)
    sizes = latest.groupby(["gender", "age_band", "zip"]).size()
    assert _by(results, "k_anonymity").value == sizes.min()
    assert _by(results, "share_below_k").value == pytest.approx(sizes[sizes < 5].sum() / len(latest))
    assert _by(results, "sample_uniqueness").value == pytest.approx((sizes == 1).sum() / len(latest))
    for attribute in ("diagnosis", "label"):
        distinct = latest.dropna(subset=[attribute]).groupby(["gender", "age_band", "zip"])[attribute].nunique()
        assert _by(results, "l_diversity", attribute=attribute).value == distinct.min()


def test_quasi_identifier_that_is_not_a_column_is_an_error() -> None:
    spec = _spec()
    frame = _hand_frame().drop(columns="zip")
    with pytest.raises(
        DataError, match=r"'zip' \(columns.quasi_identifiers\) is not a column .*fix columns.quasi_identifiers"
    ):
        reidentification.run(spec.checks.privacy, make_data(spec, frame))


def test_no_quasi_identifiers_or_disabled_means_no_results() -> None:
    spec = make_spec({"checks": {"privacy": {}}})
    assert reidentification.run(spec.checks.privacy, make_data(spec, _hand_frame())) == []
    spec = _spec(enabled=False)
    assert reidentification.run(spec.checks.privacy, make_data(spec, _hand_frame())) == []


def test_unlabelled_window_gives_insufficient_data_for_the_label() -> None:
    spec = _spec()
    frame = _hand_frame().assign(label=np.nan)
    result = _by(reidentification.run(spec.checks.privacy, make_data(spec, frame)), "l_diversity", attribute="label")
    assert result.status is Status.INSUFFICIENT_DATA and "no entity" in result.details["reason"]
