"""Evidently's own HTML drift report, rendered on a sample when the spec asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ethics_audit.data import PendingArtifact

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.checks.drift.columns import DriftColumn
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import DriftConfig


def _sample(frame: pd.DataFrame, columns: list[str], size: int) -> pd.DataFrame:
    part = frame[columns]
    return part if len(part) <= size else part.sample(n=size, random_state=0)


def html_report(
    config: DriftConfig,
    data: AuditData,
    columns: list[DriftColumn],
    computed: list[MetricResult],
    samples: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    totals: tuple[int, int] | None = None,
) -> PendingArtifact:
    """Evidently's drift report on a sample, with the methods the full-data check used.

    ``samples`` (window, reference) are drawn on the engine when the rows live there
    (``engine_path.sample``), with the sides' row counts in ``totals``; else from the frames."""
    import html

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    used = {r.slice["column"]: r.details for r in computed}
    names = [c.name for c in columns if c.name in used]
    size = config.html_report.sample_size
    definition = DataDefinition(
        numerical_columns=[c.name for c in columns if c.name in used and c.kind == "numerical"],
        categorical_columns=[c.name for c in columns if c.name in used and c.kind == "categorical"],
    )
    if samples is None:
        assert data.reference is not None
        current, reference = _sample(data.current, names, size), _sample(data.reference, names, size)
        totals = (data.rows, data.reference_rows)
    else:
        current, reference = samples
    assert totals is not None
    report = Report(
        [
            DataDriftPreset(
                columns=names,
                per_column_method={n: used[n]["method"] for n in names},
                per_column_threshold={n: used[n]["threshold"] for n in names},
            )
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    page = snapshot.get_html_str(as_iframe=False)
    note = (
        '<div style="background:#fff3cd;border:1px solid #e0c36a;padding:10px 14px;margin:8px;'
        'font:14px sans-serif">'
        f"<b>Sampled report.</b> Evidently computed this report on a random sample of {len(current):,} of the "
        f"window's {totals[0]:,} rows and {len(reference):,} of the reference's {totals[1]:,} rows "
        f"({html.escape(data.window_start.isoformat())} to {html.escape(data.window_end.isoformat())}). "
        "Its scores differ from the audit's drift results, which ethics-audit computed on all rows with the "
        "same tests and thresholds.</div>"
    )
    at = page.find("<body")
    at = page.find(">", at) + 1 if at >= 0 else 0
    page = page[:at] + note + page[at:]
    return PendingArtifact(
        "evidently_drift_html",
        "drift.html",
        page,
        details={"sampled": True, "current_rows": len(current), "reference_rows": len(reference)},
    )
