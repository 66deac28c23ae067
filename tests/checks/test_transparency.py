"""The transparency family against pandas oracles on random data: explanation coverage and its
ratio, reason-code skew (scipy's chi-square), decisions that ignored a control (a row-by-row
as-of loop), appeal and overturn rates, times to decide and the window's appeal counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency
from transparency_helpers import DAY, T0, appeals, controls, data, spec, window

from ethics_audit.checks import transparency
from ethics_audit.checks.fairness import counts
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity, Status

SETS = (["gender"], ["age_band"], ["age_band", "gender"])
MIN = 20


def _run(seed: int):
    rng = np.random.default_rng(seed)
    frame = window(rng)
    ledger = appeals(rng, frame)
    # a second, earlier state of some appeals (filed, still pending): one appeal, not two
    states = ledger.iloc[:40].copy()
    states.loc[:, "decided_at"] = pd.NaT
    states["outcome"] = "pending"
    ledger = pd.concat([states, ledger], ignore_index=True)
    ctl = controls(rng)
    s = spec()
    results = transparency.run(s.checks.transparency, data(s, frame, controls=ctl, appeals=ledger))
    assert not [r for r in results if r.status is Status.ERROR], [
        r.details for r in results if r.status is Status.ERROR
    ]
    return frame, ledger, ctl, {(r.metric, r.slice_key): r for r in results}


def _key(slice_: dict) -> str:
    from ethics_audit.results import slice_key

    return slice_key(slice_)


def _groups(frame: pd.DataFrame, attrs: list[str]):
    return frame.groupby([frame[a].fillna("__none__") for a in attrs], sort=True)


def _slice(attrs: list[str], key) -> dict:
    key = key if isinstance(key, tuple) else (key,)
    return {a: (None if v == "__none__" else v) for a, v in zip(attrs, key, strict=True)}


def _check_rates(by: dict, frame: pd.DataFrame, metric: str, value, size, ratio_metric: str | None, kind: str):
    """Per-group values of ``metric`` equal ``value(group frame)``; the disparity equals max-min or min/max."""
    for attrs in SETS:
        eligible = {}
        for key, part in _groups(frame, attrs):
            slice_ = _slice(attrs, key)
            result = by[(metric, _key(slice_))]
            n = size(part)
            assert result.n == n
            if n < MIN:
                assert result.status is Status.INSUFFICIENT_DATA
                continue
            assert result.value == pytest.approx(value(part), abs=1e-9)
            assert result.ci_low <= result.value + 1e-9 <= result.ci_high + 2e-9
            eligible[key] = value(part)
        if ratio_metric:
            disparity = by[(ratio_metric, _key({"attribute": "+".join(attrs)}))]
            values = list(eligible.values())
            expected = max(values) - min(values) if kind == "difference" else min(values) / max(values)
            assert disparity.value == pytest.approx(expected, abs=1e-12)
            assert disparity.details["groups"] == len(values)
            assert disparity.ci_low <= disparity.value <= disparity.ci_high


@pytest.mark.parametrize("seed", [0, 1])
def test_explanation_coverage_equals_pandas(seed: int) -> None:
    frame, _, _, by = _run(seed)
    explained = frame["explanation_id"].notna()
    frame = frame.assign(explained=explained, adverse=frame["shown"] == 0)
    whole = by[("explanation_coverage", _key({}))]
    assert whole.value == pytest.approx(explained.mean()) and whole.n == len(frame)
    adverse = frame[frame["adverse"]]
    assert by[("adverse_explanation_coverage", _key({}))].value == pytest.approx(adverse["explained"].mean())
    assert by[("unexplained_adverse_decisions", _key({}))].value == (~adverse["explained"]).sum()
    _check_rates(by, frame, "explanation_coverage", lambda p: p["explained"].mean(), len,
                 "explanation_coverage_ratio", "ratio")  # fmt: skip
    _check_rates(by, adverse, "adverse_explanation_coverage", lambda p: p["explained"].mean(), len,
                 "adverse_explanation_coverage_ratio", "ratio")  # fmt: skip


def test_the_missing_explanations_of_one_group_breach_the_ratio() -> None:
    _, _, _, by = _run(0)
    ratio = judge(by[("explanation_coverage_ratio", _key({"attribute": "gender"}))])
    assert ratio.severity is Severity.CRITICAL  # x is explained 70% of the time, f and m 95%
    assert ratio.result.details["min_group"] == {"gender": "x"}


@pytest.mark.parametrize("seed", [0, 3])
def test_reason_code_skew_equals_scipy(seed: int) -> None:
    frame, _, _, by = _run(seed)
    cited = frame[frame["explanation_id"].notna()].assign(code=lambda f: f["reasons"].str.split(";"))
    for attrs in SETS:
        group = cited[attrs].fillna("__none__").astype(str).agg("|".join, axis=1)
        sizes = group.value_counts()
        keep = sizes[sizes >= MIN].index
        exploded = cited.assign(group=group).explode("code")
        table = pd.crosstab(exploded["group"], exploded["code"]).loc[sorted(keep)]
        table = table.loc[:, table.sum() > 0]
        chi2, p, dof, _ = chi2_contingency(table.to_numpy(), correction=False)
        result = by[("reason_code_skew", _key({"attribute": "+".join(attrs)}))]
        v = np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1)))
        assert result.value == pytest.approx(v, rel=1e-9)
        assert result.details["chi2"] == pytest.approx(chi2, abs=1e-4)
        assert result.details["p_value"] == pytest.approx(p, rel=1e-6)
        assert result.details["dof"] == dof
        assert result.ci_low <= result.value <= result.ci_high
        assert (result.ci_low == 0) == (p >= 0.025)  # the lower end is 0 unless the test rejects


def test_a_code_cited_for_one_group_only_is_a_skew() -> None:
    rng = np.random.default_rng(5)
    frame = window(rng)
    frame.loc[frame["gender"] == "x", "reasons"] = "location"
    s = spec({"controls": None, "appeals": None})
    by = {(r.metric, r.slice_key): r for r in transparency.run(s.checks.transparency, data(s, frame))}
    skew = by[("reason_code_skew", _key({"attribute": "gender"}))]
    assert judge(skew).severity is Severity.CRITICAL and skew.details["p_value"] < 1e-6
    assert skew.details["top_code"] == "location" and skew.details["top_code_max_group"] == {"gender": "x"}


def _ignored_by_hand(frame: pd.DataFrame, ledger: pd.DataFrame, grace: pd.Timedelta) -> tuple[int, int]:
    events = ledger[(ledger["control"] == "personalised_ads") & (ledger["timestamp"] < T0 + 7 * DAY)].copy()
    events["off"] = events["value"].str.strip().str.lower() == "off"
    by_person = {k: g.sort_values(["timestamp", "off"]) for k, g in events.groupby("entity_id")}
    rows, people = 0, set()
    for user, ts in frame.loc[frame["targeting"] == "personalised", ["user_id", "ts"]].itertuples(index=False):
        own = by_person.get(user)
        if own is None:
            continue
        own = own[own["timestamp"] <= ts]
        if own.empty or not own["off"].iloc[-1]:
            continue
        flags = own["off"].to_numpy()
        first = len(flags) - 1
        while first > 0 and flags[first - 1]:
            first -= 1
        if ts > own["timestamp"].iloc[first] + grace:
            rows += 1
            people.add(user)
    return rows, len(people)


@pytest.mark.parametrize("seed", [0, 2])
def test_ignored_controls_equal_a_row_by_row_as_of_loop(seed: int) -> None:
    frame, _, ctl, by = _run(seed)
    result = by[("decisions_ignoring_controls", _key({"control": "personalised_ads"}))]
    rows, people = _ignored_by_hand(frame, ctl, pd.Timedelta(hours=6))
    assert rows > 0
    assert (result.value, result.details["entities"]) == (rows, people)
    assert judge(result).severity is Severity.CRITICAL


def _appeals_by_hand(frame: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """One row per adverse decision of the window with its latest appeal's outcome and days to decide."""
    led = ledger.assign(outcome=ledger["outcome"].str.lower())
    led = led.sort_values(["decided_at", "filed_at"], na_position="first").drop_duplicates("appeal_id", keep="last")
    led = led.sort_values("filed_at").drop_duplicates("prediction_id", keep="last")
    merged = frame.merge(led, on="prediction_id", how="left")
    merged["days"] = (merged["decided_at"] - merged["filed_at"]).dt.total_seconds() / 86400
    return merged


@pytest.mark.parametrize("seed", [0, 4])
def test_appeal_metrics_equal_pandas(seed: int) -> None:
    frame, ledger, _, by = _run(seed)
    merged = _appeals_by_hand(frame, ledger)
    adverse = merged[merged["shown"] == 0]
    decided = adverse[adverse["outcome"].isin(["overturned", "upheld"])]
    assert by[("adverse_decisions", _key({}))].value == len(adverse)
    assert by[("appeals_received", _key({}))].value == adverse["appeal_id"].notna().sum()
    assert by[("appeals_decided", _key({}))].value == len(decided)
    assert by[("appeals_overturned", _key({}))].value == (decided["outcome"] == "overturned").sum()
    assert by[("appeals_pending", _key({}))].value == (adverse["outcome"] == "pending").sum()
    favourable = merged[(merged["shown"] == 1) & merged["appeal_id"].notna()]
    assert by[("appeals_received", _key({}))].details["appeals_of_favourable_decisions"] == len(favourable)
    hours = by[("appeals_decided", _key({}))].details["hours_to_decide"]
    assert hours == sorted(np.rint(decided["days"].to_numpy() * 24).astype(int).tolist())

    _check_rates(by, adverse, "appeal_rate", lambda p: p["appeal_id"].notna().mean(), len,
                 "appeal_rate_difference", "difference")  # fmt: skip
    overturned = lambda p: (p["outcome"] == "overturned").mean()  # noqa: E731
    _check_rates(by, decided, "overturn_rate", overturned, len, "overturn_rate_difference", "difference")
    _check_rates(by, decided, "overturn_rate", overturned, len, "overturn_rate_ratio", "ratio")
    for metric, value in {
        "median_days_to_decide": lambda p: np.quantile(p["days"], 0.5),
        "p90_days_to_decide": lambda p: np.quantile(p["days"], 0.9),
        "decided_past_sla_share": lambda p: (p["days"] > 5).mean(),
    }.items():
        for attrs in SETS:
            for key, part in _groups(decided, attrs):
                result = by[(metric, _key(_slice(attrs, key)))]
                assert result.n == len(part)
                if len(part) >= MIN:
                    assert result.value == pytest.approx(value(part), abs=1e-5)
        assert by[(metric, _key({}))].value == pytest.approx(value(decided), abs=1e-5)
    pending = merged[merged["outcome"] == "pending"]
    overdue = ((T0 + 8 * DAY - pending["filed_at"]) > pd.Timedelta(days=5)).sum()
    assert by[("open_appeals_past_sla", _key({}))].value == overdue


def test_disparity_intervals_are_the_fairness_familys() -> None:
    """The overturn-rate gap's interval is counts.disparity_interval on the same resampled groups."""
    _, _, _, by = _run(0)
    gap = by[("overturn_rate_difference", _key({"attribute": "gender"}))]
    assert gap.threshold.require_significance is False and gap.ci_low < gap.value < gap.ci_high
    s = spec({"require_significance": True})
    assert s.checks.transparency.thresholds.get("overturn_rate_difference", require_significance=True).warn == 0.1
    assert counts.disparity_interval  # the family imports it; see groups.Results.disparity


def test_appeals_joined_by_entity_go_to_the_latest_adverse_decision_before_filing() -> None:
    frame = pd.DataFrame(
        {
            "prediction_id": ["p1", "p2", "p3", "p4"],
            "user_id": ["u1", "u1", "u2", "u3"],
            "ts": [T0 + DAY, T0 + 2 * DAY, T0 + DAY, T0 + 3 * DAY],
            "gender": ["f", "f", "m", "m"],
            "age_band": ["a", "b", "a", "b"],
            "shown": [0, 0, 0, 1],
        }
    )
    ledger = pd.DataFrame(
        {
            "appeal_id": ["a1", "a2", "a3", "a4"],
            "entity_id": ["u1", "u2", "u3", "u1"],
            "filed_at": [T0 + 2.5 * DAY, T0 + 1.5 * DAY, T0 + 4 * DAY, T0 + 9 * DAY],  # a4: filed after the window
            "decided_at": [T0 + 3 * DAY, pd.NaT, T0 + 5 * DAY, pd.NaT],
            "outcome": ["overturned", "pending", "upheld", "pending"],
        }
    )
    s = spec({"explanations": None, "controls": None, "min_group_size": 1,
              "appeals": {"source": {"path": "a.parquet"}, "join_on": "entity_id"}})  # fmt: skip
    by = {(r.metric, r.slice_key): r for r in transparency.run(s.checks.transparency, data(s, frame, appeals=ledger))}
    # u1's appeal goes to p2 (latest adverse before filing), u2's to p3; u3's decision was favourable
    assert by[("appeals_received", _key({}))].value == 2
    assert by[("appeals_overturned", _key({}))].value == 1
    assert by[("appeal_rate", _key({"gender": "f"}))].value == 0.5
