"""The demo data through the drift and quality families: week 8's injected problems show up,
every other week is clean (weeks 4-5 change only the decision for women, which Evidently's
default test does not call drift), and the unlabelled last week is insufficient for the label."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethics_audit import demo
from ethics_audit.checks import drift, quality
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, list]]:
    """Each week's drift and quality results, with the row-count history the runner would give."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ETHICS_AUDIT_HOME", str(home))
        demo.generate(home / "demo", weeks=12, rows_per_week=4000)
        spec = load_spec(REPO / demo.DEMO_SPEC)
        out: dict[int, dict[str, list]] = {}
        history: list[int] = []
        for week in range(1, 13):
            data = load_window(spec, *demo.week_window(week), row_count_history=history[-4:])
            history.append(data.rows)
            out[week] = {
                "quality": quality.run(spec.checks.quality, data),
                "drift": drift.run(spec.checks.drift, data),
            }
    return out


def breaches(results) -> dict[tuple[str, str | None], Severity]:
    return {(r.metric, r.slice.get("column")): s for r in results if (s := judge(r).severity).is_breach}


def test_injected_weeks_are_documented() -> None:
    injected = {(i.week, i.family) for i in demo.INJECTED if i.family in ("drift", "quality")}
    assert injected == {(8, "drift"), (8, "quality")}


def test_week_8_shows_drift(weeks) -> None:
    found = breaches(weeks[8]["drift"])
    # android minutes logged in seconds: the feature and the score drift, and smart_tv moves device
    assert found == {
        ("column_drift", "minutes_per_day"): Severity.WARN,
        ("column_drift", "device"): Severity.WARN,
        ("column_drift", "score"): Severity.CRITICAL,
    }


def test_week_8_shows_quality_problems(weeks) -> None:
    found = breaches(weeks[8]["quality"])
    assert found == {
        ("null_share", "sessions_7d"): Severity.CRITICAL,
        ("unexpected_category_share", "device"): Severity.CRITICAL,
    }
    nulls = next(r for r in weeks[8]["quality"] if r.metric == "null_share" and r.slice == {"column": "sessions_7d"})
    assert 0.13 < nulls.value < 0.17
    category = next(r for r in weeks[8]["quality"] if r.slice == {"column": "device"} and r.metric.startswith("unexp"))
    assert category.details["unexpected_values"] == ["smart_tv"]


@pytest.mark.parametrize("week", [w for w in range(1, 13) if w != 8])
def test_other_weeks_are_clean(weeks, week: int) -> None:
    assert breaches(weeks[week]["drift"]) == {}
    assert breaches(weeks[week]["quality"]) == {}


def test_pacing_weeks_do_not_register_as_drift_of_the_decision(weeks) -> None:
    """Weeks 4-5 cut the selection rate of women only (overall ~0.30 -> ~0.24): Jensen-Shannon
    distance of `shown` rises from ~0.01 to ~0.05, under Evidently's 0.1. Fairness catches it."""
    for week in (4, 5):
        shown = next(r for r in weeks[week]["drift"] if r.slice == {"column": "shown"})
        assert shown.details["method"] == "jensenshannon"
        assert 0.03 < shown.value < 0.1
    clean = next(r for r in weeks[3]["drift"] if r.slice == {"column": "shown"})
    assert clean.value < 0.03


def test_late_labels(weeks) -> None:
    label = {w: next(r for r in weeks[w]["drift"] if r.slice == {"column": "clicked"}) for w in (10, 11, 12)}
    assert judge(label[10]).severity is Severity.OK
    assert label[11].n < label[10].n * 0.6  # half labelled: compared on the labelled half
    assert judge(label[12]).severity is Severity.INSUFFICIENT_DATA  # nothing labelled yet
    first = next(r for r in weeks[1]["quality"] if r.metric == "row_count_drop")
    assert judge(first).severity is Severity.INSUFFICIENT_DATA  # no history before week 1
