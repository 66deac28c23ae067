"""Audit one window: load, run the check families, judge, record, render the run report, deliver.

``audit_window`` does it all in one process. Its steps are public too (``begin``, ``load``,
``run_family``, ``finish``, ``publish_report``) so an Airflow DAG can run them as separate
tasks. A window's results are replaced in one transaction at the end; if anything fails before
that, ``record_failure`` (the CLI's and the Airflow tasks' one failure path) records the attempt
as failed without the text of a library error, and the previous results stay current.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.attempt import attempt_head
from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import out_of_memory, parallel
from ethics_audit.engine.fingerprint import of_tables, started
from ethics_audit.engine.window import for_remedy, frames_for
from ethics_audit.errors import AuditError
from ethics_audit.evaluate import judge_all, worst
from ethics_audit.results import Finding, MetricResult, Severity, Status
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    from collections.abc import Callable

    from ethics_audit.data import AuditData, PendingArtifact
    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

log = logging.getLogger(__name__)


@dataclass
class FamilyOutput:
    """What one check family produced for a window."""

    family: str
    results: list[MetricResult]
    seconds: float
    status: str  # ran | error | skipped | empty
    reason: str = ""
    artifacts: list[PendingArtifact] = field(default_factory=list)
    remedy: dict[str, Any] | None = None  # the "what drives it / what would fix it" section, if it breached

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "results": [r.to_dict() for r in self.results],
            "seconds": self.seconds,
            "status": self.status,
            "reason": self.reason,
            "remedy": self.remedy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FamilyOutput:
        results = [MetricResult.from_dict(r) for r in data["results"]]
        status, reason = data["status"], data.get("reason", "")
        return cls(data["family"], results, data["seconds"], status, reason, remedy=data.get("remedy"))


@dataclass
class RunOutcome:
    run_id: int
    audit_id: str
    window_start: datetime
    window_end: datetime
    status: str
    rows: int | None
    reference_rows: int | None = None
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    delivery: dict[str, Any] | None = None  # what deliver() sent after the commit

    @property
    def worst(self) -> Severity:
        return worst(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            **attempt_head(self),
            "worst_severity": self.worst.value,
            "findings": [f.to_dict() for f in self.findings],
            "timings": self.timings,
            "summary": self.summary,
            "error": self.error,
            "delivery": self.delivery,
        }


def begin(
    store: Store, spec: AuditSpec, start: datetime, end: datetime, *, trigger: str = "cli", in_process: bool = False
) -> int:
    return store.begin_run(spec, as_utc(start), as_utc(end), trigger=trigger, in_process=in_process)


def load(store: Store, spec: AuditSpec, start: datetime, end: datetime, *, now: datetime | None = None) -> AuditData:
    """Read the window and everything the checks need, including the row-count history. With
    ``engine: {kind: duckdb}`` and a file source, the rows stay on DuckDB (``data.tables``)."""
    history_n = spec.checks.quality.row_count_history_windows if spec.checks.quality else 4
    history = store.row_counts_before(spec.id, as_utc(start), history_n)
    return loader_for(spec)(spec, start, end, row_count_history=history, now=now)


def loader_for(spec: AuditSpec) -> Callable[..., AuditData]:
    """Where a window is read (``loader(spec, start, end, *, row_count_history, now)``): the one
    choice, used by ``load`` and by the Airflow family tasks that open the window on the engine."""
    from ethics_audit.engine import window

    if window.uses_engine(spec):
        return window.load_window
    if spec.engine.kind == "postgres" and spec.source.kind == "sql":
        from ethics_audit.engine.sql import load_window as on_postgres

        return on_postgres
    from ethics_audit.sources import load_window

    return load_window


def blocking_reason(outputs: list[FamilyOutput]) -> str | None:
    """If quality found a blocking problem (e.g. a required column missing), say which, plainly."""
    reasons = []
    for output in outputs:
        if output.family != "quality":
            continue
        for finding in judge_all(output.results):
            result = finding.result
            if finding.severity is not Severity.CRITICAL or not result.details.get("blocking"):
                continue
            column = result.slice.get("column")
            if result.metric == "column_missing" and column:
                reasons.append(f"required column {column!r} is missing")
            else:
                where = f" on {column!r}" if column else ""
                reasons.append(f"{result.details.get('expectation', result.metric)}{where} failed ({finding.reason})")
    return f"quality: {'; '.join(reasons)}" if reasons else None


def run_family(family: str, data: AuditData, *, skip_reason: str | None = None) -> FamilyOutput:
    """Run one family; its failure becomes an ``error`` result, never a crash of the run."""
    if skip_reason:
        return FamilyOutput(family, [], 0.0, "skipped", skip_reason)
    if data.rows == 0 and family == "quality":
        from ethics_audit.checks.volume import EMPTY_REASON, empty_window

        return FamilyOutput(family, empty_window(data.spec.checks.quality, data), 0.0, "empty", EMPTY_REASON)
    if data.rows == 0:
        empty = MetricResult(
            family, "window_rows", 0, n=0, status=Status.INSUFFICIENT_DATA, details={"reason": "the window has no rows"}
        )
        return FamilyOutput(family, [empty], 0.0, "empty", "the window has no rows")
    started = time.perf_counter()
    before = len(data.artifacts)
    try:
        frames_for(family, data)
        results = run_check(family, data)
        status, reason = "ran", ""
    except AuditError as exc:
        results = [MetricResult(family, "check_error", None, status=Status.ERROR, details={"error": str(exc)})]
        status, reason = "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - one family's bug must not lose the others' results
        message = out_of_memory(f"the {family} check", exc) or internal_error(f"the {family} check", exc)
        results = [MetricResult(family, "check_error", None, status=Status.ERROR, details={"error": message})]
        status, reason = "error", message
    output = FamilyOutput(family, results, time.perf_counter() - started, status, reason)
    output.artifacts = data.artifacts[before:]
    if status == "ran":
        from ethics_audit import remedies

        view, note = data, None
        if data.current is None and family in remedies.FAMILIES and remedies.breaching(judge_all(results)):
            view, note = for_remedy(data, f"the {family} remedy section")
        output.remedy = remedies.explain(family, view, results)
        if output.remedy is not None and note:
            output.remedy.setdefault("notes", []).append(note)
    return output


def internal_error(what: str, exc: BaseException) -> str:
    """Describe a bug without its message: library errors often quote data values (PII)."""
    import traceback

    from ethics_audit import settings

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    log.error("internal error in %s: %s%s", what, type(exc).__name__, where)
    if settings.debug():
        log.debug("traceback of the internal error in %s", what, exc_info=exc)
        return f"internal error in {what}: {type(exc).__name__}{where}: {exc}"
    return (
        f"internal error in {what}: {type(exc).__name__}{where} (message withheld because it may quote "
        "data; rerun with ETHICS_AUDIT_DEBUG=1 to see it)"
    )


def record_failure(store: Store, run_id: int, exc: BaseException, *, timings: dict[str, float] | None = None) -> str:
    """Mark the attempt failed (its window's earlier results stay current) and return the words
    recorded. The one failure path of the CLI and the Airflow tasks: an ``AuditError`` keeps its
    message (ours name files, fields and columns, never row values); anything else is named by
    its type and place only, because a library's message may quote a row value (PII)."""
    message = str(exc) if isinstance(exc, AuditError) else internal_error("the audit run", exc)
    store.fail_run(run_id, message, timings=timings)
    return message


def summarize(outputs: list[FamilyOutput], findings: list[Finding]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
    families: dict[str, Any] = {}
    for output in outputs:
        own = [f for f in findings if f.result.check == output.family]
        status = output.status
        if status == "ran" and any(f.severity is Severity.ERROR for f in own):
            status = "partial"  # some parts of the family could not be computed
        families[output.family] = {
            "status": status,
            "reason": output.reason,
            "seconds": round(output.seconds, 4),
            "results": len(own),
            "worst": worst(own).value,
            "insufficient_data": sum(f.severity is Severity.INSUFFICIENT_DATA for f in own),
        }
        # groups a family left unjudged for being too small (fairness) are part of the run's story
        suppressed = [f.result.value for f in own if f.result.metric == "suppressed_groups" and not f.result.slice]
        if suppressed and suppressed[0] is not None:
            families[output.family]["suppressed_groups"] = int(suppressed[0])
    return {"worst_severity": worst(findings).value, "counts": counts, "checks": families}


def finish(
    store: Store,
    run_id: int,
    spec: AuditSpec,
    data: AuditData,
    outputs: list[FamilyOutput],
    *,
    timings: dict[str, float] | None = None,
    replace_empty: bool = False,
    fingerprint: dict[str, Any] | None = None,
) -> RunOutcome:
    """Judge every result and record the window in one transaction (an empty window keeps the earlier
    results of a window that had rows current, unless ``replace_empty``), ``fingerprint`` if taken."""
    window_results = [
        MetricResult("window", "row_count", data.rows, n=data.rows),
        MetricResult("window", "reference_row_count", data.reference_rows, n=data.reference_rows),
    ]
    results = window_results + [r for output in outputs for r in output.results]
    findings = judge_all(results)
    summary = summarize(outputs, findings)
    statuses = {info["status"] for info in summary["checks"].values()}
    if data.rows == 0:
        status = "empty"
    elif statuses & {"error", "skipped", "partial"}:
        status = "partial"
    else:
        status = "succeeded"
    timings = dict(timings or {})
    for output in outputs:
        timings[output.family] = round(output.seconds, 4)
    sections = remedy_sections(store, spec, data, outputs, findings, summary)
    if sections:
        summary["remedies"] = sections
        timings["remedies"] = round(sum(s.get("seconds", 0.0) for s in sections.values()), 4)
    artifacts = [a for output in outputs for a in output.artifacts]
    from ethics_audit.recording import record_window

    summary["incidents"] = record_window(
        store,
        run_id,
        spec,
        findings,
        artifacts=artifacts,
        status=status,
        rows=data.rows,
        reference_rows=data.reference_rows if data.has_reference else None,
        timings=timings,
        summary=summary,
        now=data.now,
        fingerprint=fingerprint or of_tables(data),
        replace_empty=replace_empty,
    )
    return RunOutcome(
        run_id=run_id,
        audit_id=spec.id,
        window_start=data.window_start,
        window_end=data.window_end,
        status=status,
        rows=data.rows,
        reference_rows=data.reference_rows if data.has_reference else None,
        findings=findings,
        timings=timings,
        summary=summary,
    )


def remedy_sections(
    store: Store, spec: AuditSpec, data: AuditData, outputs: list[FamilyOutput], findings: list[Finding], summary: dict
) -> dict[str, Any]:
    """The breaching families' remedy sections, completed with the other families and the history."""
    from ethics_audit import remedies

    sections = {o.family: o.remedy for o in outputs if o.remedy}
    if not sections:
        return {}
    history = store.breaches_before(spec.id, data.window_start, remedies.HISTORY_WINDOWS)
    return remedies.complete(sections, findings, summary["checks"], history, data.window_start)


def run_families(data: AuditData) -> list[FamilyOutput]:
    """Every enabled family in order; quality runs first and may block the others, which then run
    side by side on DuckDB where they can (``engine.parallel``)."""
    outputs: list[FamilyOutput] = []
    families = data.spec.checks.enabled()
    if data.rows == 0 and "quality" not in families:
        families = ["quality", *families]  # an empty window is a quality finding even when quality is off
    for i, family in enumerate(families):
        reason = blocking_reason(outputs)
        if family != "quality" and reason is None and parallel.eligible(data, families[i:]):
            return outputs + parallel.side_by_side(families[i:], data, run_family)
        outputs.append(run_family(family, data, skip_reason=reason))
    return outputs


def audit_window(
    spec: AuditSpec,
    start: datetime,
    end: datetime,
    *,
    store: Store,
    trigger: str = "cli",
    now: datetime | None = None,
    replace_empty: bool = False,
) -> RunOutcome:
    """Audit ``[start, end)``, record it, then deliver the notifications it caused. Raises
    ``AuditError`` if the data cannot be read (after recording the failed attempt)."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise AuditError(f"the window end ({end.isoformat()}) must be after its start ({start.isoformat()})")
    run_id = begin(store, spec, start, end, trigger=trigger, in_process=True)
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        data = load(store, spec, start, end, now=now)
        timings["load"] = round(time.perf_counter() - t0, 4)
        fingerprint = started(data)  # the ledger's fingerprint, taken while the families run
        outputs = run_families(data)
        t0 = time.perf_counter()
        outcome = finish(
            store, run_id, spec, data, outputs, timings=timings, replace_empty=replace_empty, fingerprint=fingerprint()
        )
        outcome.timings["record"] = round(time.perf_counter() - t0, 4)
    except BaseException as exc:
        record_failure(store, run_id, exc, timings=timings)
        raise
    publish_report(store, outcome.run_id, spec.id)
    outcome.delivery = deliver(store, spec.id)
    return outcome


def publish_report(store: Store, run_id: int, audit_id: str) -> Path | None:
    """Render the run's HTML report (recorded as its artifact) when a pending notification will
    link it, so delivery only reads the link. After the commit, before delivery; a report that
    fails to render never fails the run (the notifications then go out without the link)."""
    from ethics_audit.notify import links_run_report

    if not any(
        links_run_report(item) and item.payload.get("run_id") == run_id
        for item in store.pending_notifications(audit_id=audit_id)
    ):
        return None
    from ethics_audit.reports import render_run_report

    try:
        return render_run_report(store, run_id)
    except Exception as exc:  # noqa: BLE001 - the results are committed; the report is a courtesy here
        log.warning("run report for run %s failed: %s", run_id, type(exc).__name__)
        return None


def deliver(store: Store, audit_id: str) -> dict[str, Any]:
    """Send the audit's pending notifications; a failed delivery never fails the audit (it stays
    in the outbox for the next run, ``ethics-audit notify flush`` or the housekeeping DAG)."""
    from ethics_audit.notify import deliver_pending

    try:
        return deliver_pending(store, audit_id=audit_id)
    except Exception as exc:  # noqa: BLE001 - the results are committed; delivery is best effort here
        log.warning("notifications of %s were not delivered now: %s: %s", audit_id, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}
