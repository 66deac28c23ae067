"""The results store, on SQLite and PostgreSQL: migrations, idempotent windows, failures keep results."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ethics_audit.data import PendingArtifact
from ethics_audit.evaluate import judge_all
from ethics_audit.recording import record_window
from ethics_audit.results import MetricResult, Severity, Status, Threshold
from ethics_audit.store import Store, safe_url
from helpers import WINDOW_END, WINDOW_START, make_spec


def _findings(value: float) -> list:
    return judge_all(
        [
            MetricResult(
                "fairness",
                "demographic_parity_difference",
                value,
                slice={"attribute": "gender"},
                ci_low=value - 0.01,
                ci_high=value + 0.01,
                n=1000,
                threshold=Threshold(warn=0.1, critical=0.2),
            ),
            MetricResult("fairness", "selection_rate", 0.3, slice={"gender": "f"}, n=500),
            MetricResult(
                "fairness", "selection_rate", None, slice={"gender": "x"}, n=3, status=Status.INSUFFICIENT_DATA
            ),
        ]
    )


def _record(store: Store, spec, value: float, start=WINDOW_START, end=WINDOW_END) -> int:
    run_id = store.begin_run(spec, start, end)
    record_window(
        store,
        run_id,
        spec,
        _findings(value),
        status="succeeded",
        rows=1000,
        reference_rows=None,
        timings={},
        summary={},
    )
    return run_id


def test_migrates_on_first_use_and_reopens(db_url: str) -> None:
    first = Store(db_url)
    tables = set(sa.inspect(first.engine).get_table_names())
    assert {"audit_runs", "audit_windows", "metric_results", "incidents", "notifications", "artifacts"} <= tables
    assert "ethics_audit_version" in tables
    first.dispose()
    second = Store(db_url)  # the fast path: already at head
    assert set(sa.inspect(second.engine).get_table_names()) == tables
    second.dispose()


def test_record_and_read_back_round_trips_every_field(store: Store) -> None:
    spec = make_spec()
    run_id = _record(store, spec, 0.15)
    findings = store.findings(run_id)
    assert [(f.result.metric, f.severity) for f in findings] == [
        ("demographic_parity_difference", Severity.WARN),
        ("selection_rate", Severity.OK),
        ("selection_rate", Severity.INSUFFICIENT_DATA),
    ]
    dp = findings[0].result
    assert dp.value == pytest.approx(0.15)
    assert (dp.ci_low, dp.ci_high, dp.n) == (pytest.approx(0.14), pytest.approx(0.16), 1000)
    assert dp.slice == {"attribute": "gender"}
    assert dp.threshold == Threshold(warn=0.1, critical=0.2)
    assert findings[2].result.status is Status.INSUFFICIENT_DATA
    record = store.get_run(run_id)
    assert record is not None and record.is_current and record.status == "succeeded"
    assert record.window_start == WINDOW_START  # timezone-aware UTC on every backend


def test_rerunning_a_window_three_times_leaves_one_set_of_results(store: Store) -> None:
    spec = make_spec()
    run_ids = [_record(store, spec, value) for value in (0.15, 0.25, 0.05)]
    with store.session() as s:
        counts = s.execute(sa.text("SELECT run_id, COUNT(*) FROM metric_results GROUP BY run_id")).all()
        windows = s.execute(sa.text("SELECT COUNT(*) FROM audit_windows")).scalar_one()
    assert counts == [(run_ids[-1], 3)]
    assert windows == 1
    current = store.current_findings(spec.id, WINDOW_START, WINDOW_END)
    assert current[0].result.value == pytest.approx(0.05) and current[0].severity is Severity.OK
    history = store.history(spec.id)
    assert [r.run_id for r in history] == [run_ids[-1]]
    assert [r.run_id for r in store.history(spec.id, attempts=True)] == list(reversed(run_ids))


def test_failed_attempt_keeps_previous_results(store: Store) -> None:
    spec = make_spec()
    good = _record(store, spec, 0.25)
    failed = store.begin_run(spec, WINDOW_START, WINDOW_END)
    store.fail_run(failed, "source unreadable")
    assert next(f.result.value for f in store.current_findings(spec.id, WINDOW_START, WINDOW_END)) == pytest.approx(
        0.25
    )
    attempts = {r.run_id: r for r in store.history(spec.id, attempts=True)}
    assert attempts[failed].status == "failed" and attempts[failed].error == "source unreadable"
    assert attempts[good].is_current and not attempts[failed].is_current


def test_a_write_that_fails_midway_rolls_back_completely(store: Store) -> None:
    spec = make_spec()
    _record(store, spec, 0.25)
    run_id = store.begin_run(spec, WINDOW_START, WINDOW_END)
    broken = _findings(0.05) + [object()]  # not a Finding: the insert blows up after the delete
    with pytest.raises(AttributeError):
        record_window(
            store, run_id, spec, broken, status="succeeded", rows=1, reference_rows=None, timings={}, summary={}
        )
    current = store.current_findings(spec.id, WINDOW_START, WINDOW_END)
    assert len(current) == 3 and current[0].result.value == pytest.approx(0.25)


def test_row_counts_before_uses_current_runs_oldest_first(store: Store) -> None:
    spec = make_spec()
    for week, rows in enumerate([100, 200, 300]):
        start = WINDOW_START + timedelta(weeks=week)
        run_id = store.begin_run(spec, start, start + timedelta(weeks=1))
        record_window(
            store, run_id, spec, [], status="succeeded", rows=rows, reference_rows=None, timings={}, summary={}
        )
    assert store.row_counts_before(spec.id, WINDOW_START + timedelta(weeks=3), 2) == [200, 300]
    assert store.row_counts_before(spec.id, WINDOW_START, 4) == []


def test_artifacts_are_written_and_recorded(store: Store) -> None:
    spec = make_spec()
    run_id = store.begin_run(spec, WINDOW_START, WINDOW_END)
    artifact = PendingArtifact("gx_validation_json", "../../escape.json", '{"success": true}')
    record_window(
        store,
        run_id,
        spec,
        [],
        status="succeeded",
        rows=1,
        reference_rows=None,
        timings={},
        summary={},
        artifacts=[artifact],
    )
    with store.session() as s:
        kind, uri, size = s.execute(sa.text("SELECT kind, uri, bytes FROM artifacts")).one()
    assert kind == "gx_validation_json" and size == len('{"success": true}')
    assert uri.endswith(f"run-{run_id}/escape.json")  # a name cannot climb out of the run folder
    with open(uri) as f:
        assert f.read() == '{"success": true}'


def test_spec_snapshot_is_kept_once_per_version(store: Store) -> None:
    spec = make_spec()
    _record(store, spec, 0.1)
    _record(store, spec, 0.1)
    other = make_spec({"model": {"version": "2"}})
    _record(store, other, 0.1)
    with store.session() as s:
        hashes = s.execute(sa.text("SELECT spec_hash FROM spec_snapshots ORDER BY spec_hash")).scalars().all()
    assert sorted(hashes) == sorted({spec.spec_hash(), other.spec_hash()})


def test_bad_database_url_is_a_clear_error_without_password() -> None:
    from ethics_audit.errors import StoreError

    with pytest.raises(StoreError) as err:
        Store("postgresql+psycopg://auditor:s3cret-pw@127.0.0.1:1/nowhere")
    assert "s3cret-pw" not in str(err.value)
    assert "ETHICS_AUDIT_DB_URL" in str(err.value)
    assert "***" in safe_url("postgresql+psycopg://auditor:s3cret-pw@host/db")
