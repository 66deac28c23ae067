"""Statistics pushed down into PostgreSQL: the window bound as parameters, and every family
(quality, drift, fairness, privacy) computed in the database with the memory path's results.
The privacy family on a window with PII, consent and membership: test_pushdown_privacy.py; 5M
rows: test_pushdown_scale.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bench.synthetic import frame, spec_dict, window

from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import sql as pushdown
from ethics_audit.engine import window as engine_window
from ethics_audit.errors import SourceError
from ethics_audit.sources import load_window
from ethics_audit.spec import AuditSpec
from helpers import close

pytestmark = pytest.mark.postgres
QUERY = "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end"


@pytest.fixture
def database(pg_url: str) -> str:
    engine = sa.create_engine(pg_url)
    start, _ = window()
    current = frame(4000, seed=1)
    current.loc[current.index % 17 == 0, "num_03"] = float("nan")  # gaps: null counts and drift's usable rows
    current.loc[current.index % 23 == 0, "cat_01"] = None
    earlier = frame(4000, seed=2, shift=0.4, start=start - (window()[1] - start))
    earlier["prediction_id"] += 10**7
    with engine.begin() as conn:
        for part in (current, earlier):
            part.to_sql("predictions", conn, if_exists="append", index=False)
    engine.dispose()
    return pg_url


def spec_for(url: str, kind: str = "postgres", *, checks: dict | None = None) -> AuditSpec:
    spec = spec_dict()
    spec["checks"].update(checks or {})
    spec["source"] = {"query": QUERY, "url": url}
    spec["reference"] = {"previous_windows": 1}
    spec["engine"] = {"kind": kind}
    return AuditSpec.model_validate(spec)


def test_the_window_and_its_reference_stay_in_the_database(database: str) -> None:
    start, end = window()
    memory = load_window(spec_for(database, "memory"), start, end)
    data = pushdown.load_window(spec_for(database), start, end)
    assert data.current is None and data.tables["current"].engine == "postgres"
    assert data.rows == memory.rows == 4000 and data.reference_rows == memory.reference_rows == 4000
    frame_back = engine_window.frame_of(data.tables["current"]).sort_values("prediction_id").reset_index(drop=True)
    expected = memory.current.sort_values("prediction_id").reset_index(drop=True)
    assert list(frame_back.columns) == list(expected.columns)
    assert (frame_back["ts"] == expected["ts"]).all() and str(frame_back["ts"].dt.tz) == "UTC"


@pytest.mark.parametrize("family", sorted(f.rsplit(".", 1)[1] for f in engine_window.PUSHED_DOWN))
def test_a_family_pushed_down_equals_the_memory_path(database: str, family: str) -> None:
    start, end = window()
    memory = load_window(spec_for(database, "memory"), start, end)
    data = pushdown.load_window(spec_for(database), start, end)
    expected, got = run_check(family, memory), run_check(family, data)
    assert data.current is None and "engine.loaded_for" not in data.derived
    assert [(r.metric, r.slice, r.status, r.n) for r in got] == [(r.metric, r.slice, r.status, r.n) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert close(a.value, b.value), (a.metric, a.slice, a.value, b.value)


def test_fairness_at_score_cuts_pushed_down_equals_the_memory_path(database: str) -> None:
    # the score bands of extra decision thresholds: booleans counted without a cast to bigint
    checks = {"fairness": {"intersections": [["gender", "age_band"]], "extra_decision_thresholds": [0.3, 0.7]}}
    start, end = window()
    memory = load_window(spec_for(database, "memory", checks=checks), start, end)
    data = pushdown.load_window(spec_for(database, checks=checks), start, end)
    expected, got = run_check("fairness", memory), run_check("fairness", data)
    assert {r.slice.get("decision_threshold") for r in expected} >= {0.3, 0.7}
    assert [(r.metric, r.slice, r.status, r.n) for r in got] == [(r.metric, r.slice, r.status, r.n) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert close(a.value, b.value), (a.metric, a.slice, a.value, b.value)


def test_a_baseline_query_on_the_same_database_runs_there(database: str) -> None:
    start, end = window()
    baseline = {"query": "SELECT * FROM predictions WHERE prediction_id >= 20000000", "url": database}
    specs = {}
    for kind in ("memory", "postgres"):
        spec = spec_for(database, kind).model_dump(mode="json", exclude_unset=True)
        specs[kind] = AuditSpec.model_validate({**spec, "reference": {"baseline": baseline}})
    memory = load_window(specs["memory"], start, end)
    data = pushdown.load_window(specs["postgres"], start, end)
    assert data.tables["reference"].table.get_name().startswith("ethics_audit_reference_baseline_")
    assert data.reference_rows == memory.reference_rows == 4000
    expected, got = run_check("drift", memory), run_check("drift", data)
    assert [(r.metric, r.slice, r.status, r.n) for r in got] == [(r.metric, r.slice, r.status, r.n) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert close(a.value, b.value), (a.metric, a.slice, a.value, b.value)


def test_a_value_in_the_query_text_is_never_formatted(database: str) -> None:
    # the bound names become psycopg placeholders; a % in the query stays a literal
    spec = spec_for(database).model_copy(
        update={
            "source": spec_for(database).source.model_copy(
                update={"query": QUERY + " AND comment NOT LIKE '%%zzz%%' AND ts::date IS NOT NULL"}
            )
        }
    )
    start, end = window()
    assert pushdown.load_window(spec, start, end).rows == 4000


def test_a_source_that_is_not_postgres_is_refused_by_name() -> None:
    spec = spec_for("sqlite:///x.db")
    with pytest.raises(SourceError, match=r"source: engine kind postgres runs the statistics inside a PostgreSQL"):
        pushdown.postgres_url(spec.source, spec, "source")


def test_every_family_is_pushed_down() -> None:
    from ethics_audit import checks

    assert {checks.CHECKS[f] for f in ("quality", "drift", "fairness", "privacy")} <= engine_window.PUSHED_DOWN
    assert engine_window.PUSHED_DOWN <= set(checks.CHECKS.values())


def test_the_runner_runs_every_family_in_the_database(database: str) -> None:
    from ethics_audit.runner import run_families

    start, end = window()
    memory = load_window(spec_for(database, "memory"), start, end)
    data = pushdown.load_window(spec_for(database), start, end)
    got = {o.family: o for o in run_families(data)}
    expected = {o.family: o for o in run_families(memory)}
    # no family loads the window; a breaching family's remedy section still reads frames
    assert all(who.endswith("remedy section") for who in data.derived.get("engine.loaded_for", []))
    for family, output in expected.items():
        assert [(r.metric, r.slice, r.status) for r in got[family].results] == [
            (r.metric, r.slice, r.status) for r in output.results
        ], family


def test_of_rows_streams_the_window_in_small_fetches(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # ``of_rows`` hashes every row in process, a fetch at a time: the sums are those of the whole
    # frame (the audit's own fingerprint on PostgreSQL is PostgreSQL's hash, test_fingerprint_pushdown)
    from ethics_audit import engine
    from ethics_audit.engine.fingerprint import of_rows
    from ethics_audit.ledger.fingerprint import of_frame

    monkeypatch.setattr(engine, "FETCH_ROWS", 700)
    start, end = window()
    memory = load_window(spec_for(database, "memory"), start, end)
    data = pushdown.load_window(spec_for(database), start, end)
    sizes = [b.num_rows for b in data.tables["current"].batches()]
    assert max(sizes) == 700 and sum(sizes) == 4000
    got = {name: of_rows(data.tables[name]) for name in ("current", "reference")}
    monkeypatch.setattr(engine, "FETCH_ROWS", 10**6)
    again = pushdown.load_window(spec_for(database), start, end)
    assert {name: of_rows(again.tables[name]) for name in ("current", "reference")} == got
    assert got == {"current": of_frame(memory.current), "reference": of_frame(memory.reference)}
    assert got["current"]["rows"] == got["reference"]["rows"] == 4000
