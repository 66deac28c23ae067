"""The demo's injected problems, explained: week 8's drift names the Android segment and
minutes_per_day, its quality section the failing expectations, week 9's privacy section the
columns and entity types, week 10's the consent filter. Through ``runner.run_family``, as an audit runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethics_audit import demo
from ethics_audit.runner import run_family

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from ethics_audit.sources import load_window
    from ethics_audit.spec import load_spec

    home = tmp_path_factory.mktemp("remedy-demo-weeks")
    demo.generate(home / "demo", weeks=10, rows_per_week=6000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ETHICS_AUDIT_HOME", str(home))
        spec = load_spec(REPO / demo.DEMO_SPEC)
        out = {}
        for week in (3, 8, 9, 10):
            start, end = demo.week_window(week)
            out[week] = load_window(spec, start, end, now=end + spec.window.lag)
    return out


def test_week_8_drift_section_names_the_android_segment_and_minutes_per_day(weeks: dict) -> None:
    section = run_family("drift", weeks[8]).remedy
    assert section is not None
    assert section["headline"].startswith("minutes_per_day drifted most")
    assert "device=android only (not ios, web)" in section["headline"]
    columns = section["facts"]["columns"]
    moved = columns["minutes_per_day"]["segments_drifted"]
    assert [s for s in moved if s.startswith("device=")] == ["device=android"]
    assert {"device=ios", "device=web"} <= set(columns["minutes_per_day"]["segments_stable"])
    assert columns["device"]["new_values"].keys() == {"smart_tv"}
    assert sum(c["share"] for c in columns.values()) == pytest.approx(1.0)
    assert any("device=android" in f and "minutes_per_day" in f for f in section["fixes"])


def test_week_8_quality_section_lists_the_failing_expectations_without_row_values(weeks: dict) -> None:
    section = run_family("quality", weeks[8]).remedy
    failing = {(f["expectation"], f["column"]) for f in section["facts"]["failing"]}
    assert failing == {
        ("expect_column_values_to_not_be_null", "sessions_7d"),
        ("expect_column_values_to_be_in_set", "device"),
    }
    assert "smart_tv" not in str(section)  # the unexpected value itself is a row value: counted, not shown
    assert any("checks.quality.allowed_categories.device" in f for f in section["fixes"])


def test_week_9_privacy_section_names_the_columns_and_entity_types(weeks: dict) -> None:
    section = run_family("privacy", weeks[9]).remedy
    assert section["facts"]["columns"] == {
        "post_text": ["card", "email", "phone"],
        "profile_bio": ["card", "email", "phone"],
    }
    assert "post_text" in section["headline"] and "profile_bio" in section["headline"]
    (table,) = section["tables"]
    assert {(r[0], r[1]) for r in table["rows"]} == {
        (c, e) for c in ("post_text", "profile_bio") for e in ("card", "email", "phone")
    }
    assert all("@example" not in r[4] and "4242 4242" not in r[4] for r in table["rows"])  # masked only
    assert any(f.startswith("post_text: redact card numbers") and "columns.text" in f for f in section["fixes"])
    assert section["facts"]["co_occurrence"] == [{"columns": ["post_text", "profile_bio"], "rows": 0}]


def test_week_10_privacy_section_says_restore_the_consent_filter(weeks: dict) -> None:
    section = run_family("privacy", weeks[10]).remedy
    assert section["headline"].startswith(tuple("123456789")) and "withdrew or objected" in section["headline"]
    assert any(f.startswith("Restore the consent filter") and "checks.privacy.consent" in f for f in section["fixes"])


def test_a_clean_week_has_no_section(weeks: dict) -> None:
    assert all(run_family(family, weeks[3]).remedy is None for family in ("fairness", "drift"))
    # at 6,000 rows a week the quasi-identifier classes are small, so k-anonymity (judged against
    # reidentification.k since issue 14) warns even in a clean week; nothing else is explained
    privacy = run_family("privacy", weeks[3]).remedy
    assert privacy is None or privacy["headline"].startswith("Re-identification risk")
