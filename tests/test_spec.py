"""Audit specs: every problem reported as `file: field.path: message`, defaults, schema, examples."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from ethics_audit.errors import SpecError
from ethics_audit.results import Threshold
from ethics_audit.spec import json_schema, parse_spec, validate_paths
from helpers import BASE_SPEC, make_spec

REPO = Path(__file__).resolve().parents[1]


def problems_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as err:
        parse_spec(text, "audits/x.yaml")
    return [(p.field, p.message) for p in err.value.problems]


def spec_text(**overrides) -> str:
    data = dict(BASE_SPEC)
    data.update(overrides)
    return yaml.safe_dump(data, sort_keys=False)


def test_the_base_spec_is_valid_and_has_defaults() -> None:
    spec = make_spec()
    assert spec.window.size == timedelta(days=7) and spec.window.lag == timedelta(0)
    assert spec.schedule == "@weekly"
    assert spec.checks.enabled() == []
    assert len(spec.spec_hash()) == 16


def test_unknown_keys_are_errors_everywhere() -> None:
    found = problems_of(spec_text(colour="red", model={"name": "m", "version": "1", "ownr": "x"}))
    assert [f for f, _ in found] == ["model.ownr", "colour"]
    assert all(m.startswith("unknown key") for _, m in found)


def test_missing_required_fields_are_named() -> None:
    data = dict(BASE_SPEC)
    del data["columns"]
    data["window"] = {}
    found = problems_of(yaml.safe_dump(data))
    assert ("columns", "required field is missing") in found
    assert ("window.size", "required field is missing") in found


def test_a_threshold_of_the_wrong_type_is_named_with_its_path() -> None:
    text = spec_text(
        columns={"entity_id": "u", "timestamp": "ts", "prediction": "p", "sensitive": ["g"]},
        checks={"fairness": {"thresholds": {"demographic_parity_difference": {"warn": "high"}}}},
    )
    found = problems_of(text)
    assert len(found) == 1
    field, message = found[0]
    assert field == "checks.fairness.thresholds.demographic_parity_difference.warn"
    assert "'high' is not a threshold" in message


def test_a_column_mapped_twice_is_an_error() -> None:
    found = problems_of(spec_text(columns={"entity_id": "u", "timestamp": "ts", "score": "s", "label": "s"}))
    assert found == [("columns", "column 's' is mapped twice: as score and as label")]
    [(field, message)] = problems_of(
        spec_text(columns={"entity_id": "u", "timestamp": "ts", "features": ["a", "u", "a"]})
    )
    assert field == "columns"
    assert "column 'a' is listed twice in features" in message
    assert "column 'u' is mapped twice: as entity_id and in features" in message


def test_sensitive_attributes_may_also_be_quasi_identifiers_and_features() -> None:
    spec = make_spec({"columns": {"sensitive": ["gender"], "quasi_identifiers": ["gender"], "features": ["gender"]}})
    assert spec.columns.all() == ["user_id", "ts", "gender"]


@pytest.mark.parametrize("size", ["weekly", "7", "7 days", "P", "-1d"])
def test_a_window_that_is_not_a_duration(size: str) -> None:
    found = problems_of(spec_text(window={"size": size}))
    assert len(found) == 1 and found[0][0] == "window.size"
    assert "duration" in found[0][1] or "positive" in found[0][1]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("6h", timedelta(hours=6)),
        ("2w", timedelta(weeks=2)),
        ("P1DT12H", timedelta(hours=36)),
    ],
)
def test_durations(size: str, expected: timedelta) -> None:
    assert make_spec({"window": {"size": size}}).window.size == expected


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM p WHERE ts >= '{window_start}' AND ts < '{window_end}'",
        "SELECT * FROM p WHERE ts >= %(window_start)s AND ts < :window_end",
        "SELECT * FROM p WHERE ts >= '{{ data_interval_start }}' AND ts < :window_end",
        "SELECT * FROM p WHERE ts >= '2026-07-06' AND ts < :window_end",
        "SELECT * FROM p WHERE ts >= %s AND ts < %s",
        'SELECT * FROM p WHERE ts >= "2026-07-27" AND ts < :window_end AND ts >= :window_start',
        "SELECT * FROM p WHERE day >= '20260727' AND ts < :window_end AND ts >= :window_start",
        "SELECT * FROM p WHERE ts >= :window_start AND ts < :window_end AND day <> '2026/07/27'",
    ],
)
def test_sql_that_formats_the_window_into_the_string_is_rejected(query: str) -> None:
    found = problems_of(spec_text(source={"query": query, "url": "sqlite:///x.db"}))
    assert found[0][0] == "source.query"
    assert "bind the window instead" in found[0][1]


def test_sql_must_bind_both_window_parameters() -> None:
    found = problems_of(spec_text(source={"query": "SELECT * FROM p WHERE ts >= :window_start", "url": "sqlite://"}))
    assert found == [("source", "the query must bind :window_end, e.g. WHERE ts >= :window_start AND ts < :window_end")]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM p WHERE ts >= :window_start -- AND ts < :window_end",
        "SELECT * FROM p /* ts < :window_end */ WHERE ts >= :window_start",
        "SELECT ':window_end' AS note, * FROM p WHERE ts >= :window_start",
        "SELECT * FROM p WHERE ts >= :window_start AND ts < :window_end_day",
    ],
)
def test_a_bind_in_a_comment_or_a_string_binds_nothing(query: str) -> None:
    found = problems_of(spec_text(source={"query": query, "url": "sqlite://"}))
    assert found == [("source", "the query must bind :window_end, e.g. WHERE ts >= :window_start AND ts < :window_end")]


def test_a_reference_group_must_be_keyed_by_a_sensitive_attribute() -> None:
    found = problems_of(
        spec_text(
            columns={"entity_id": "u", "timestamp": "ts", "prediction": "shown", "sensitive": ["gender"]},
            checks={"fairness": {"reference_group": {"region": "north", "gender": "m"}}},
        )
    )
    assert [f for f in found if f[0] == "checks.fairness.reference_group"] == [
        (
            "checks.fairness.reference_group",
            "names ['region'], which are not sensitive attributes (columns.sensitive: ['gender']); "
            "key each reference group by a sensitive attribute",
        )
    ]


def test_bound_sql_is_accepted_and_passwords_must_come_from_the_environment() -> None:
    ok = "SELECT * FROM p WHERE ts >= :window_start AND ts < :window_end"
    spec = make_spec({"source": {"path": None, "query": ok, "url": "postgresql+psycopg://u:${PGPASSWORD}@h/db"}})
    assert spec.source.kind == "sql"
    found = problems_of(spec_text(source={"query": ok, "url": "postgresql://u:hunter2@h/db"}))
    assert found[0][0] == "source.url" and "literal password" in found[0][1]


def test_every_problem_is_reported_with_file_field_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: Bad Id\nmodel: {name: m, version: '1'}\nwindow: {size: weekly}\n"
        "source: {path: x.parquet}\ncolumns: {entity_id: u, timestamp: ts}\nschedule: every monday\n"
    )
    (tmp_path / "good.yaml").write_text(spec_text())
    specs, problems = validate_paths([tmp_path])
    assert [s.id for s in specs] == ["test-model"]
    rendered = [str(p) for p in problems]
    assert rendered[0].startswith(f"{bad}: id: 'Bad Id' is not a valid id")
    assert rendered[0].endswith("(line 1)")
    assert any(r.startswith(f"{bad}: window.size:") and r.endswith("(line 3)") for r in rendered)
    assert any(r.startswith(f"{bad}: schedule:") for r in rendered)


def test_duplicate_keys_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(spec_text() + "id: test-model\n")
    (tmp_path / "b.yaml").write_text(spec_text())
    (tmp_path / "c.yaml").write_text(spec_text())
    _, problems = validate_paths([tmp_path])
    assert any(p.field == "id" and "duplicate key" in p.message for p in problems)
    assert any(p.file.endswith("c.yaml") and "already used by" in p.message for p in problems)


def test_cross_field_problems_name_their_field() -> None:
    found = problems_of(
        spec_text(
            columns={"entity_id": "u", "timestamp": "ts", "score": "s", "sensitive": ["g"]},
            checks={"fairness": {"intersections": [["g", "h"]]}, "drift": {}},
        )
    )
    assert ("checks.fairness.intersections[0]", "['h'] are not sensitive attributes") in found
    assert ("checks.fairness.decision_threshold", "is required when there is no columns.prediction") in found
    assert any(f == "checks.drift" and "reference" in m for f, m in found)


def test_threshold_overrides_keep_the_other_default_bound() -> None:
    spec = make_spec(
        {
            "columns": {"prediction": "p", "sensitive": ["g"]},
            "checks": {
                "fairness": {
                    "thresholds": {
                        "demographic_parity_difference": {"warn": 0.05},
                        "disparate_impact_ratio": {"warn": [0.9, 1.1]},
                    }
                }
            },
        }
    )
    thresholds = spec.checks.fairness.thresholds
    assert thresholds.get("demographic_parity_difference") == Threshold(warn=0.05, critical=0.2)
    assert thresholds.get("demographic_parity_ratio") == Threshold(warn=0.8, critical=0.6, direction="below")
    assert thresholds.get("disparate_impact_ratio") == Threshold(
        warn=(0.9, 1.1), critical=(0.6, 1 / 0.6), direction="outside"
    )
    assert thresholds.get("demographic_parity_difference", require_significance=True).require_significance


def test_json_schema_lists_the_keys_and_forbids_others() -> None:
    schema = json_schema()
    assert {"id", "model", "window", "source", "columns", "checks"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"id", "model", "window", "source", "columns"}
    assert schema["additionalProperties"] is False


def test_every_shipped_spec_is_valid() -> None:
    specs, problems = validate_paths([REPO / "audits"])
    assert problems == []
    assert "ad-delivery" in {s.id for s in specs}
