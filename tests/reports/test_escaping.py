"""User-controlled strings (model names, category values, column names, details) never become markup."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from history import SPEC

from ethics_audit.evaluate import judge_all
from ethics_audit.recording import record_window
from ethics_audit.reports import build_quarterly_report, render_run_report
from ethics_audit.results import MetricResult, Threshold

SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
STYLE = "</style><script>document.body.innerHTML=''</script>"
START = datetime(2026, 7, 6, tzinfo=timezone.utc)


def _hostile_history(store) -> list[int]:
    from helpers import make_spec

    spec = make_spec(
        {
            **SPEC,
            "model": {"name": f"ads {SCRIPT}", "version": IMG, "description": STYLE, "purpose": SCRIPT},
            "owners": {"people": [SCRIPT]},
            "columns": {**SPEC["columns"], "features": [SCRIPT]},
        }
    )
    gap = Threshold(warn=0.1, critical=0.2)
    run_ids = []
    for week in range(3):
        start = START + timedelta(weeks=week)
        results = [
            MetricResult("fairness", "count", 500, {"gender": SCRIPT}, n=500),
            MetricResult("fairness", "selection_rate", 0.3, {"gender": SCRIPT}, n=500),
            MetricResult("fairness", "count", 480, {"gender": IMG}, n=480),
            MetricResult("fairness", "selection_rate", 0.1, {"gender": IMG}, n=480),
            MetricResult(
                "fairness",
                "demographic_parity_difference",
                0.2 + week * 0.01,
                {"attribute": STYLE},
                0.15,
                0.3,
                n=980,
                threshold=gap,
            ),
            MetricResult(
                "fairness",
                "disparate_impact_ratio",
                0.33,
                {"gender": IMG, "reference": SCRIPT},
                threshold=Threshold(warn=(0.8, 1.25), critical=(0.6, 1.6), direction="outside"),
            ),
            MetricResult(
                "drift",
                "drift_score",
                0.001,
                {"column": SCRIPT},
                threshold=Threshold(warn=0.05, direction="below"),
                details={"method": IMG},
            ),
            MetricResult("drift", "drift_share", 0.6, n=5, threshold=Threshold(warn=0.25, critical=0.5)),
            MetricResult(
                "privacy",
                "email_share",
                0.01,
                {"column": IMG},
                threshold=Threshold(warn=0.0, critical=0.001),
                details={"examples": [SCRIPT, "j***@e***.com"], "entity_types": [IMG]},
            ),
            MetricResult(f"fam{SCRIPT}", f"metric{IMG}", 1.0, {SCRIPT: IMG}, threshold=Threshold(warn=0.5)),
        ]
        run_id = store.begin_run(spec, start, start + timedelta(days=7))
        record_window(
            store,
            run_id,
            spec,
            judge_all(results),
            status="succeeded",
            rows=980,
            reference_rows=None,
            timings={},
            summary={"checks": {"fairness": {"status": "error", "reason": SCRIPT}}},
        )
        run_ids.append(run_id)
    from ethics_audit.store.models import Incident

    with store.session() as s:
        s.add(
            Incident(
                audit_id=spec.id,
                key=SCRIPT,
                check="fairness",
                metric=SCRIPT,
                slice={"gender": SCRIPT},
                status="open",
                severity="critical",
                worst_severity="critical",
                first_window_start=START,
                last_window_start=START,
                occurrences=1,
                clean_streak=0,
                acknowledged_by=IMG,
                external={"jira": {"key": SCRIPT, "url": f"javascript:alert(1)//{IMG}"}},
            )
        )
    return run_ids


def _assert_inert(html: str) -> None:
    for payload in (SCRIPT, IMG, STYLE):
        assert payload not in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "javascript:" not in html
    assert html.lower().count("</style>") == 1  # only the report's own stylesheet ends


def test_run_report_escapes_everything(store) -> None:
    run_ids = _hostile_history(store)
    html = render_run_report(store, run_ids[0]).read_text()
    _assert_inert(html)
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html  # shown, as text
    assert "ads &lt;script&gt;" in html


def test_quarterly_report_escapes_everything(store, tmp_path: Path) -> None:
    _hostile_history(store)
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    internal = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=now)
    html = Path(internal["html"]).read_text()
    _assert_inert(html)
    assert html.count('data-chart="trend"') >= 2  # the hostile attribute's chart is drawn, its label escaped
    public = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=now, public=True, epsilon=0.5)
    _assert_inert(Path(public["html"]).read_text())
