"""Consent as of each prediction, grace periods, re-grants, other purposes, erasure deadlines, retention, bad ledgers."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from ethics_audit.checks.privacy import consent
from ethics_audit.errors import DataError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

T0 = pd.Timestamp(WINDOW_START)
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)
GRANTED = pd.Timestamp("2025-01-01", tz="UTC")


def _spec(**consent_spec):
    return make_spec(
        {
            "model": {"purpose": "ads"},
            "checks": {
                "privacy": {"consent": {"source": {"path": "consent.parquet"}, "grace_period": "1h", **consent_spec}}
            },
        }
    )


def _ledger(events: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(events, columns=["entity_id", "purpose", "event", "timestamp"])


LEDGER = _ledger(
    [(u, "ads", "granted", GRANTED) for u in ("u1", "u2", "u3", "u4", "u5", "u9")]
    + [
        ("u1", "ads", "withdrawn", T0 + D),
        ("u2", "ads", "withdrawn", T0 + D),
        ("u2", "ads", "granted", T0 + 2 * D),  # re-granted
        ("u3", "analytics", "withdrawn", T0),  # another purpose: does not count
        ("u4", "ads", "objected", T0 + D / 2),
        ("u5", "ads", "withdrawn", T0 + D),
        ("u5", "ads", "withdrawn", T0 + D + 50 * pd.Timedelta(minutes=1)),  # repeated: consent stopped at the first
        ("u9", "ads", "erasure_requested", pd.Timestamp("2026-06-01", tz="UTC")),  # older than 30 days: overdue
        ("u10", "ads", "erasure_requested", pd.Timestamp("2026-07-01", tz="UTC")),  # 12 days: not yet
        ("u11", "ads", "erasure_requested", pd.Timestamp("2026-05-01", tz="UTC")),
        ("u11", "ads", "granted", pd.Timestamp("2026-05-20", tz="UTC")),  # came back: request superseded
        ("u12", "ads", "erasure_requested", pd.Timestamp("2026-05-01", tz="UTC")),  # not in the window
        ("u1", "ads", "granted", pd.Timestamp("2026-07-20", tz="UTC")),  # after the window end: ignored
    ]
)
PREDICTIONS = [
    ("u1", T0 + D + 30 * pd.Timedelta(minutes=1)),  # within the grace period
    ("u1", T0 + D + 2 * H),  # violation
    ("u1", T0 + 3 * D),  # violation
    ("u2", T0 + D + 3 * H),  # violation
    ("u2", T0 + 2 * D + H),  # after the re-grant
    ("u3", T0 + 2 * D),
    ("u4", T0 + D),  # violation (objection)
    ("u5", T0 + D + 90 * pd.Timedelta(minutes=1)),  # violation: 90 min after the first withdrawal
    ("u8", T0 + D),  # no ledger entry at all
    ("u9", T0 + H),
    ("u9", T0 + 2 * H),
    ("u10", T0 + H),
    ("u11", T0 + H),
]


def _frame(rows=PREDICTIONS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "ts"]).sample(frac=1, random_state=2).reset_index(drop=True)


def _results(spec=None, frame=None, ledger=LEDGER, **kwargs):
    spec = spec or _spec()
    data = make_data(spec, _frame() if frame is None else frame, consent=ledger, **kwargs)
    return {r.metric: r for r in consent.run(spec.checks.privacy, data)}


def test_predictions_after_withdrawal_as_of_each_prediction() -> None:
    result = _results()["predictions_after_withdrawal"]
    assert (result.value, result.n) == (5, len(PREDICTIONS))
    assert result.details["entities"] == 4
    assert result.details["by_event"] == {"withdrawn": 4, "objected": 1}
    assert result.details["grace_period"] == "1h" and result.details["purpose"] == "ads"
    assert judge(result).severity is Severity.CRITICAL


def test_grace_period_and_consent_purpose_override() -> None:
    assert _results(_spec(grace_period="4d"))["predictions_after_withdrawal"].value == 0
    assert _results(_spec(grace_period="0s"))["predictions_after_withdrawal"].value == 6
    # judged against another purpose, only u3's analytics withdrawal counts
    assert _results(_spec(purpose="analytics"))["predictions_after_withdrawal"].value == 1


def test_a_prediction_at_the_instant_of_withdrawal_is_not_after_it() -> None:
    ledger = _ledger([("a", "ads", "granted", GRANTED), ("a", "ads", "withdrawn", T0 + D)])
    frame = pd.DataFrame({"user_id": ["a", "a"], "ts": [T0 + D, T0 + D + pd.Timedelta(seconds=1)]})
    assert _results(_spec(grace_period="0s"), frame, ledger)["predictions_after_withdrawal"].value == 1


def test_a_grant_and_a_withdrawal_at_the_same_instant_mean_withdrawn() -> None:
    ledger = _ledger([("a", "ads", "withdrawn", T0), ("a", "ads", "granted", T0)])
    frame = pd.DataFrame({"user_id": ["a"], "ts": [T0 + D]})
    assert _results(frame=frame, ledger=ledger)["predictions_after_withdrawal"].value == 1


def test_entities_without_a_grant() -> None:
    result = _results()["entities_without_grant"]
    assert (result.value, result.n) == (2, 9)  # u8 and u10 have no grant for ads before the window end
    assert judge(result).severity is Severity.OK


def test_erasure_requests_older_than_the_deadline() -> None:
    result = _results()["entities_past_erasure_deadline"]
    assert (result.value, result.details["rows"]) == (1, 2)  # u9, in two rows
    assert judge(result).severity is Severity.CRITICAL
    assert _results(_spec(erasure_deadline="5d"))["entities_past_erasure_deadline"].value == 2  # u10 too


def test_numeric_ids_match_text_ids_and_event_names_are_normalised() -> None:
    ledger = _ledger(
        [("1", "ads", " Granted", GRANTED), ("1", "ads", "WITHDRAWN ", T0), ("2", "ads", "granted", GRANTED)]
    )
    frame = pd.DataFrame({"user_id": [1, 2, 1], "ts": [T0 + D, T0 + D, T0 + 2 * D]})
    results = _results(frame=frame, ledger=ledger)
    assert results["predictions_after_withdrawal"].value == 2
    assert results["entities_without_grant"].value == 0


def test_custom_ledger_columns_and_text_timestamps() -> None:
    spec = _spec(columns={"entity_id": "uid", "purpose": "why", "event": "what", "timestamp": "at"})
    ledger = LEDGER.rename(columns={"entity_id": "uid", "purpose": "why", "event": "what", "timestamp": "at"})
    ledger["at"] = ledger["at"].map(lambda t: t.isoformat())
    assert _results(spec, ledger=ledger)["predictions_after_withdrawal"].value == 5


def test_no_id_is_reported() -> None:
    text = repr([r.to_dict() for r in _results().values()])
    for uid in ("u1", "u2", "u4", "u5", "u9"):
        assert f"'{uid}'" not in text


@pytest.mark.parametrize(
    ("ledger", "message"),
    [
        (LEDGER.assign(event=LEDGER["event"].replace("withdrawn", "revoked")),
         r"checks.privacy.consent.columns.event: the consent ledger has unknown event names \('revoked'\)"),
        (LEDGER.assign(timestamp=LEDGER["timestamp"].where(LEDGER.index % 4 != 0)),
         r"checks.privacy.consent.columns.timestamp: 5 consent events have no timestamp"),
        (LEDGER.assign(timestamp="yesterday"), r"checks.privacy.consent.columns.timestamp: .*not timestamps"),
        (LEDGER.drop(columns="purpose"), r"checks.privacy.consent.columns.purpose: 'purpose' is not a column"),
        (LEDGER.assign(event=None), r"consent events have no event name"),
        (None, r"checks.privacy.consent.source: the consent ledger was not loaded"),
    ],
)  # fmt: skip
def test_bad_ledgers_are_errors_naming_the_field(ledger, message: str) -> None:
    with pytest.raises(DataError, match=message):
        _results(ledger=ledger)


def test_retention_counts_rows_older_than_the_period_at_now() -> None:
    spec = make_spec({"checks": {"privacy": {"retention": "30d"}}})
    frame = pd.DataFrame({"user_id": range(4), "ts": [T0, T0 + D, T0 + 2 * D, T0 + 3 * D]})
    now = datetime(2026, 8, 7, 12, tzinfo=timezone.utc)  # cutoff 2026-07-08 12:00
    [result] = consent.run_retention(spec.checks.privacy, make_data(spec, frame, now=now))
    assert (result.metric, result.value, result.n) == ("rows_past_retention", 3, 4)
    assert result.details["oldest_row_age_days"] == pytest.approx(32.5)
    assert judge(result).severity is Severity.WARN
    assert consent.run_retention(spec.checks.privacy, make_data(spec, frame, now=WINDOW_END))[0].value == 0


def test_nothing_configured_means_no_results() -> None:
    spec = make_spec({"checks": {"privacy": {}}})
    data = make_data(spec, _frame(), consent=LEDGER)
    assert consent.run(spec.checks.privacy, data) == [] and consent.run_retention(spec.checks.privacy, data) == []
