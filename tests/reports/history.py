"""A realistic quarter of audit history, written through the store like the runner writes it.

The check families live in other branches, so this builds ``MetricResult``s shaped like theirs
(fairness groups and gaps with bootstrap intervals and small groups; drift per column and
``drift_share``; privacy shares with entity types and masked examples; consent counts; quality
null shares) for 12 weekly windows from Monday 2026-07-06, with the demo's problems injected:
a gender gap in weeks 4-5, drift and nulls in week 8, PII in week 9, post-withdrawal
predictions in week 10. Incidents and their events are inserted as the incidents code would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from ethics_audit.results import MetricResult, Status, Threshold

START = datetime(2026, 7, 6, tzinfo=timezone.utc)
WEEKS = 12
GENDERS = {"f": 0.47, "m": 0.47, "x": 0.06}
AGES = {"18-24": 0.2, "25-34": 0.27, "35-44": 0.22, "45-54": 0.17, "55+": 0.14}
COLUMNS = ["sessions_7d", "minutes_per_day", "ad_clicks_30d", "followers", "device", "score"]
DP = Threshold(warn=0.1, critical=0.2, direction="above", require_significance=True)
EO = Threshold(warn=0.1, critical=0.2, direction="above", require_significance=True)
DI = Threshold(warn=(0.8, 1.25), critical=(0.6, 1 / 0.6), direction="outside")
DRIFT_SHARE = Threshold(warn=0.25, critical=0.5)
EMAIL = Threshold(warn=0.0, critical=0.001)
CARD = Threshold(critical=0.0)
CONSENT = Threshold(critical=0.0)
NULLS = Threshold(warn=0.01, critical=0.05)
SPEC = {
    "id": "ad-delivery",
    "model": {"name": "job-ad-delivery", "version": "2026.06.1", "purpose": "ad_targeting"},
    "owners": {"people": ["Priya Raman (ML owner)", "Tom Okafor (ethics officer)"], "slack_channel": "#ads-ml-ethics"},
    "columns": {
        "entity_id": "user_id",
        "timestamp": "ts",
        "prediction": "shown",
        "score": "score",
        "sensitive": ["gender", "age_band"],
    },
    "reference": {"baseline": {"path": "baseline.parquet"}},
    "checks": {
        "fairness": {"intersections": [["gender", "age_band"]], "require_significance": True},
        "drift": {},
        "privacy": {},
        "quality": {},
    },
}


@dataclass
class Built:
    spec: Any
    run_ids: list[int]  # one per week, in order
    window_starts: list[datetime]
    truth: dict[tuple[int, str], dict[str, float]]  # (week, group slice key) -> {"n", "positives"}


def week_window(week: int) -> tuple[datetime, datetime]:
    start = START + timedelta(weeks=week - 1)
    return start, start + timedelta(weeks=1)


def fairness_results(rng: np.random.Generator, week: int, rows: int, truth: dict) -> list[MetricResult]:
    out: list[MetricResult] = []
    gap = week in (4, 5)
    rates: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for g, pg in GENDERS.items():
        for a, pa in AGES.items():
            n = int(rng.binomial(rows, pg * pa))
            if g == "x" and a == "55+":
                n = int(rng.integers(8, 25))  # always a small group
            base = 0.30 if not (gap and g == "f") else 0.17
            rate = float(np.clip(rng.normal(base, 0.01), 0, 1))
            counts[(g, a)] = n
            rates[(g, a)] = round(rate * n) / n if n else 0.0

    def group(slice_: dict[str, str], cells: list[tuple[str, str]]) -> None:
        n = sum(counts[c] for c in cells)
        positives = sum(round(rates[c] * counts[c]) for c in cells)
        key = ",".join(f"{k}={v}" for k, v in sorted(slice_.items()))
        truth[(week, key)] = {"n": n, "positives": positives}
        out.append(MetricResult("fairness", "count", n, slice_, n=n))
        if n < 30:
            for metric in ("selection_rate", "true_positive_rate"):
                out.append(
                    MetricResult(
                        "fairness",
                        metric,
                        None,
                        slice_,
                        n=n,
                        status=Status.INSUFFICIENT_DATA,
                        details={"reason": f"{n} rows, fewer than min_group_size 30"},
                    )
                )
            return
        out.append(MetricResult("fairness", "selection_rate", positives / n, slice_, n=n))
        tpr = float(np.clip(rng.normal(0.62, 0.02), 0, 1)) if week < 12 else None
        out.append(
            MetricResult(
                "fairness",
                "true_positive_rate",
                tpr,
                slice_,
                n=n,
                status=Status.COMPUTED if tpr is not None else Status.INSUFFICIENT_DATA,
                details={} if tpr is not None else {"reason": "no labels have arrived for this window"},
            )
        )

    for g in GENDERS:
        group({"gender": g}, [(g, a) for a in AGES])
    for a in AGES:
        group({"age_band": a}, [(g, a) for g in GENDERS])
    for g in GENDERS:
        for a in AGES:
            group({"age_band": a, "gender": g}, [(g, a)])

    def rate_of(slice_: dict[str, str]) -> float | None:
        for r in out:
            if r.metric == "selection_rate" and r.slice == slice_:
                return r.value
        return None

    for attribute, slices in (
        ("gender", [{"gender": g} for g in GENDERS]),
        ("age_band", [{"age_band": a} for a in AGES]),
        ("age_band+gender", [{"age_band": a, "gender": g} for g in GENDERS for a in AGES]),
    ):
        values = [v for s in slices if (v := rate_of(s)) is not None]
        gap_value = max(values) - min(values)
        width = 0.012 if attribute != "age_band+gender" else 0.04
        out.append(
            MetricResult(
                "fairness",
                "demographic_parity_difference",
                gap_value,
                {"attribute": attribute},
                gap_value - width,
                gap_value + width,
                n=rows,
                threshold=DP,
            )
        )
        if week == 12:
            out.append(
                MetricResult(
                    "fairness",
                    "equalized_odds_difference",
                    None,
                    {"attribute": attribute},
                    n=0,
                    threshold=EO,
                    status=Status.INSUFFICIENT_DATA,
                    details={"reason": "no labels have arrived for this window"},
                )
            )
        else:
            eo = abs(float(rng.normal(0.04, 0.01))) + (0.05 if gap else 0)
            out.append(
                MetricResult(
                    "fairness",
                    "equalized_odds_difference",
                    eo,
                    {"attribute": attribute},
                    eo - 0.03,
                    eo + 0.03,
                    n=rows,
                    threshold=EO,
                )
            )
    ratio = (rate_of({"gender": "f"}) or 0) / (rate_of({"gender": "m"}) or 1)
    out.append(
        MetricResult(
            "fairness",
            "disparate_impact_ratio",
            ratio,
            {"gender": "f", "reference": "m"},
            ratio - 0.03,
            ratio + 0.03,
            n=rows,
            threshold=DI,
        )
    )
    out.append(
        MetricResult(
            "fairness", "suppressed_groups", 1, {}, n=rows, details={"by_attribute_set": {"age_band+gender": 1}}
        )
    )
    return out


def drift_results(rng: np.random.Generator, week: int) -> list[MetricResult]:
    out = []
    drifted = 0
    for column in COLUMNS:
        shifted = week == 8 and column in ("minutes_per_day", "score", "device", "sessions_7d")
        p = float(rng.uniform(1e-9, 1e-6)) if shifted else float(rng.uniform(0.08, 0.9))
        method = "chisquare" if column == "device" else "ks"
        drifted += shifted
        out.append(
            MetricResult(
                "drift",
                "drift_score",
                p,
                {"column": column},
                n=20000,
                threshold=Threshold(warn=0.05, direction="below"),
                details={
                    "method": method,
                    "threshold": 0.05,
                    "drifted": shifted,
                    "column_type": "categorical" if column == "device" else "numerical",
                },
            )
        )
    out.append(MetricResult("drift", "drift_share", drifted / len(COLUMNS), {}, n=len(COLUMNS), threshold=DRIFT_SHARE))
    return out


def privacy_results(rng: np.random.Generator, week: int, rows: int) -> list[MetricResult]:
    out = []
    for column in ("post_text", "profile_bio"):
        leak = week == 9
        share = float(rng.uniform(0.006, 0.01)) if leak else 0.0
        out.append(
            MetricResult(
                "privacy",
                "email_share",
                share,
                {"column": column},
                n=rows,
                threshold=EMAIL,
                details={
                    "rows_with_match": round(share * rows),
                    "entity_types": ["email"],
                    "examples": ["j***@e***.com", "s***@e***.org"],
                }
                if leak
                else {},
            )
        )
        out.append(
            MetricResult(
                "privacy",
                "card_count",
                float(rng.integers(20, 60)) if leak else 0.0,
                {"column": column},
                n=rows,
                threshold=CARD,
                details={"entity_types": ["card"], "examples": ["**** **** **** 4242"]} if leak else {},
            )
        )
    withdrawn = float(rng.integers(600, 900)) if week == 10 else 0.0
    out.append(
        MetricResult(
            "privacy",
            "predictions_after_withdrawal",
            withdrawn,
            {},
            n=rows,
            threshold=CONSENT,
            details={"entities": int(withdrawn * 0.8)} if withdrawn else {},
        )
    )
    out.append(MetricResult("privacy", "k_anonymity", float(rng.integers(3, 9)), {}, n=rows))
    return out


def quality_results(rng: np.random.Generator, week: int) -> list[MetricResult]:
    share = float(rng.uniform(0.14, 0.16)) if week == 8 else 0.0
    return [MetricResult("quality", "null_share", share, {"column": "sessions_7d"}, n=20000, threshold=NULLS)]


def build_history(store: Any, *, spec_overrides: dict | None = None, weeks: int = WEEKS, seed: int = 7) -> Built:
    """Record ``weeks`` weekly windows through ``Store.begin_run``/``record_window``."""
    from ethics_audit.evaluate import judge_all
    from ethics_audit.runner import FamilyOutput, summarize
    from helpers import make_spec

    overrides = {**SPEC, **(spec_overrides or {})}
    spec = make_spec(overrides)
    rng = np.random.default_rng(seed)
    run_ids, starts, truth = [], [], {}
    for week in range(1, weeks + 1):
        start, end = week_window(week)
        rows = 20000 + int(rng.integers(-500, 500))
        outputs = [
            FamilyOutput("quality", quality_results(rng, week), 0.1, "ran"),
            FamilyOutput("drift", drift_results(rng, week), 0.2, "ran"),
            FamilyOutput("fairness", fairness_results(rng, week, rows, truth), 0.3, "ran"),
            FamilyOutput("privacy", privacy_results(rng, week, rows), 0.2, "ran"),
        ]
        window = [
            MetricResult("window", "row_count", rows, n=rows),
            MetricResult("window", "reference_row_count", 20000, n=20000),
        ]
        findings = judge_all(window + [r for o in outputs for r in o.results])
        run_id = store.begin_run(spec, start, end, trigger="test")
        store.record_window(
            run_id,
            spec,
            findings,
            status="succeeded",
            rows=rows,
            reference_rows=20000,
            timings={},
            summary=summarize(outputs, findings),
        )
        run_ids.append(run_id)
        starts.append(start)
    return Built(spec, run_ids, starts, truth)


INCIDENTS = (
    # key parts, first week, last breached week, resolved week (None: still open), ack after, ticket
    (
        "fairness",
        "demographic_parity_difference",
        {"attribute": "gender"},
        "warn",
        4,
        5,
        7,
        timedelta(hours=5),
        "ADSML-12",
    ),
    ("drift", "drift_share", {}, "critical", 8, 8, 10, timedelta(hours=30), None),
    ("privacy", "email_share", {"column": "post_text"}, "critical", 9, 9, 11, timedelta(minutes=40), "ADSML-17"),
    ("privacy", "predictions_after_withdrawal", {}, "critical", 10, 10, None, timedelta(days=2), "ADSML-19"),
)


def add_incidents(store: Any, audit_id: str = "ad-delivery") -> list[int]:
    """Curated incidents, opened at each window's end (+1 h), acknowledged and resolved at known times.

    ``build_history`` already opened incidents through the real lifecycle, all within the same
    second; these replace them so the report's times-to-acknowledge and tickets have known values.
    """
    from sqlalchemy import delete

    from ethics_audit.results import slice_key
    from ethics_audit.store.models import Alert, Incident, IncidentEvent, Notification

    ids = []
    with store.session() as s:
        s.execute(delete(Notification).where(Notification.audit_id == audit_id))
        s.execute(delete(Incident).where(Incident.audit_id == audit_id))
        s.execute(delete(Alert).where(Alert.audit_id == audit_id))
        for check, metric, slice_, sev, first, last, resolved, ack_after, ticket in INCIDENTS:
            opened = week_window(first)[1] + timedelta(hours=1)
            resolved_at = week_window(resolved)[1] + timedelta(hours=1) if resolved else None
            incident = Incident(
                audit_id=audit_id,
                key=f"{check}:{metric}:{slice_key(slice_)}",
                check=check,
                metric=metric,
                slice=slice_,
                status="resolved" if resolved else "acknowledged",
                severity=sev,
                worst_severity=sev,
                opened_at=opened,
                first_window_start=week_window(first)[0],
                last_window_start=week_window(last)[0],
                last_value=0.13,
                occurrences=last - first + 1,
                clean_streak=2 if resolved else 0,
                acknowledged_at=opened + ack_after,
                acknowledged_by="tom.okafor",
                resolved_at=resolved_at,
                resolved_by="auto" if resolved else None,
                external={"jira": {"key": ticket, "url": f"https://jira.example.com/browse/{ticket}"}}
                if ticket
                else {},
            )
            s.add(incident)
            s.flush()
            ids.append(incident.id)
            s.add(
                IncidentEvent(
                    incident_id=incident.id,
                    at=opened,
                    actor="audit",
                    transition="opened",
                    window_start=week_window(first)[0],
                    severity=sev,
                )
            )
            s.add(
                IncidentEvent(
                    incident_id=incident.id, at=opened + ack_after, actor="tom.okafor", transition="acknowledged"
                )
            )
            if resolved_at:
                s.add(
                    IncidentEvent(
                        incident_id=incident.id,
                        at=resolved_at,
                        actor="audit",
                        transition="resolved",
                        window_start=week_window(resolved)[0],
                    )
                )
    return ids
