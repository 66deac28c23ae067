"""The demo: week 9 leaks PII, week 10 scores users who withdrew or asked for erasure, the other weeks are clean.

Week 10's count of predictions after a withdrawal is compared with an independent computation
from the consent ledger.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import demo
from ethics_audit.checks import privacy
from ethics_audit.checks.privacy import membership
from ethics_audit.evaluate import judge_all
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
ROWS = 6000
GRACE = pd.Timedelta(days=1)  # the example spec's consent.grace_period


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("privacy_demo")
    demo.generate(home / "demo", weeks=12, rows_per_week=ROWS)
    return home


def stopped_consenting(
    home: Path, events: tuple[str, ...] = ("withdrawn", "objected", "erasure_requested")
) -> pd.Series:
    """When each user first had one of ``events`` for the demo's purpose (no one re-grants in the demo)."""
    ledger = pd.read_parquet(home / "demo" / "consent.parquet")
    stopped = ledger[(ledger["purpose"] == demo.PURPOSE) & ledger["event"].isin(events)]
    return stopped.groupby("entity_id")["timestamp"].min()


def _breaches(data) -> dict[tuple[str, str], str]:
    findings = judge_all(privacy.run(data.spec.checks.privacy, data))
    # at a third of the demo's rows the smallest look-alike class sometimes has fewer than k = 5
    # people, and k-anonymity rightly warns; the full demo's classes hold 16 or more (test_demo)
    for f in findings:
        if f.result.metric == "k_anonymity":
            assert f.severity.is_breach == (f.result.value < 5), f.result
    return {
        (f.result.metric, f.result.slice.get("column", "")): f.severity.value
        for f in findings
        if f.severity.is_breach and f.result.metric != "k_anonymity"
    }


@pytest.fixture(scope="module")
def weeks(demo_home: Path) -> dict[int, object]:
    mp = pytest.MonkeyPatch()
    mp.setenv("ETHICS_AUDIT_HOME", str(demo_home))
    try:
        spec = load_spec(REPO / demo.DEMO_SPEC)
        out = {}
        for week in range(1, 13):
            start, end = demo.week_window(week)
            # a fixed audit time: retention (400d) must not depend on the day the test runs
            out[week] = load_window(spec, start, end, now=end + pd.Timedelta(days=1))
        return out
    finally:
        mp.undo()


def test_injected_weeks_are_critical_and_clean_weeks_clean(demo_home: Path, weeks: dict[int, object]) -> None:
    for week, data in weeks.items():
        breaches = _breaches(data)
        if week == 9:
            assert {
                ("email_share", "post_text"): "critical",
                ("phone_share", "post_text"): "critical",
                ("card_count", "post_text"): "critical",
                ("card_count", "profile_bio"): "critical",
            }.items() <= breaches.items()
            assert {m for m, _ in breaches} <= {"email_share", "phone_share", "card_count"}
        elif week == 10:
            assert breaches == {
                ("predictions_after_withdrawal", ""): "critical",
                ("entities_past_erasure_deadline", ""): "critical",
            }
        else:
            assert breaches == {}, f"week {week}"


def test_post_withdrawal_count_matches_an_independent_computation(demo_home: Path, weeks: dict[int, object]) -> None:
    stopped = stopped_consenting(demo_home, ("withdrawn", "objected"))  # erasure has its own 30-day deadline
    for week in (1, 10):
        data = weeks[week]
        result = next(
            r for r in privacy.run(data.spec.checks.privacy, data) if r.metric == "predictions_after_withdrawal"
        )
        frame = data.current
        expected = (frame["ts"] > frame["user_id"].map(stopped) + GRACE).sum()
        assert result.value == expected
        assert (expected > 0) == (week == 10)


def test_no_membership_leak_is_seen_where_none_was_injected(weeks: dict[int, object]) -> None:
    for data in weeks.values():
        aucs = [r for r in membership.run(data.spec.checks.privacy, data) if r.metric == "attack_auc" and r.value]
        assert aucs and all(abs(r.value - 0.5) < 0.05 and r.ci_low < 0.6 for r in aucs)
