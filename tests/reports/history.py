"""A realistic quarter of audit history, written through the store like the runner writes it.

The check families live in other branches, so this builds ``MetricResult``s shaped like theirs
(fairness groups and gaps with bootstrap intervals and small groups; drift per column and
``drift_share``; privacy shares with entity types and masked examples; consent counts; quality
null shares) for 12 weekly windows from Monday 2026-07-06, with the demo's problems injected:
a gender gap in weeks 4-5, drift and nulls in week 8, PII in week 9, post-withdrawal
predictions in weeks 10 and 12 (the consent filter failed again, so that problem is still
open at the end of the quarter). Incidents and alerts come from the real lifecycle
(``recording.record_window``), each window recorded an hour after it ends; with ``handled=True``
the owners then acknowledge, resolve and file tickets as ``HANDLING`` and ``TICKETS`` say,
through the store's own commands, at known times.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import numpy as np

from ethics_audit.recording import apply_action, record_window
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
CONSENT_WEEKS = (10, 12)
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
        # with the exact positive decisions, as the fairness check records them
        out.append(
            MetricResult("fairness", "selection_rate", positives / n, slice_, n=n, details={"selected": positives})
        )
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
    withdrawn = float(rng.integers(600, 900)) if week in CONSENT_WEEKS else 0.0
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


def recorded_at(week: int) -> datetime:
    """When the scheduler records a week: an hour after the window ends."""
    return week_window(week)[1] + timedelta(hours=1)


@contextmanager
def clock(at: datetime) -> Iterator[None]:
    """The store's clock reads ``at``: the lifecycle stamps what it does (opened, resolved,
    acknowledged) with ``utcnow``, and a history built in a second needs the times it would have had."""
    with mock.patch("ethics_audit.store.models.utcnow", lambda: at):
        yield


def build_history(
    store: Any, *, spec_overrides: dict | None = None, weeks: int = WEEKS, seed: int = 7, handled: bool = False
) -> Built:
    """Record ``weeks`` weekly windows through ``Store.begin_run``/``record_window``.

    With ``handled``, the owners' actions of ``HANDLING`` and the tickets of ``TICKETS`` happen
    between the windows, at their times.
    """
    from ethics_audit.evaluate import judge_all
    from ethics_audit.runner import FamilyOutput, summarize
    from helpers import make_spec

    overrides = {**SPEC, **(spec_overrides or {})}
    spec = make_spec(overrides)
    rng = np.random.default_rng(seed)
    run_ids, starts, truth = [], [], {}
    actions = sorted(HANDLING, key=lambda a: recorded_at(a.week) + a.after) if handled else []
    for week in range(1, weeks + 1):
        start, end = week_window(week)
        while actions and recorded_at(actions[0].week) + actions[0].after < recorded_at(week):
            _act(store, actions.pop(0))
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
        with clock(recorded_at(week)):
            run_id = store.begin_run(spec, start, end, trigger="test")
            record_window(
                store,
                run_id,
                spec,
                findings,
                status="succeeded",
                rows=rows,
                reference_rows=20000,
                timings={},
                summary=summarize(outputs, findings),
            )
        if handled:
            _file_tickets(store, week)
        run_ids.append(run_id)
        starts.append(start)
    for action in actions:
        _act(store, action)
    return Built(spec, run_ids, starts, truth)


@dataclass(frozen=True)
class Action:
    """Someone acts on the incidents of the problem (alert) of ``check`` that opened in ``week``,
    ``after`` it opened; ``metrics`` picks some of its incidents (all when empty)."""

    week: int
    check: str
    kind: str  # acknowledge | resolve
    after: timedelta
    metrics: tuple[str, ...] = ()


HANDLING = (
    # the gender gap: the four-fifths rule is acknowledged first, the parity gaps 3 h later
    Action(4, "fairness", "acknowledge", timedelta(hours=5), ("disparate_impact_ratio",)),
    Action(4, "fairness", "acknowledge", timedelta(hours=8), ("demographic_parity_difference",)),
    Action(8, "drift", "acknowledge", timedelta(hours=30)),
    # the share of drifted columns is closed by hand; the columns' incidents resolve after clean weeks
    Action(8, "drift", "resolve", timedelta(days=2), ("drift_share",)),
    # the missing values (quality, week 8) are never acknowledged: they resolve by themselves
    Action(9, "privacy", "acknowledge", timedelta(minutes=40)),
    Action(10, "privacy", "acknowledge", timedelta(days=2)),
)
# the ticket the Jira channel filed for the problem of (week opened, check)
TICKETS = {(4, "fairness"): "ADSML-12", (9, "privacy"): "ADSML-17", (10, "privacy"): "ADSML-19"}


def _alert_of(store: Any, week: int, check: str) -> dict[str, Any]:
    opened = week_window(week)[0].isoformat()
    return next(a for a in store.alerts() if a["check"] == check and a["opened_window_start"] == opened)


def _act(store: Any, action: Action) -> None:
    alert = _alert_of(store, action.week, action.check)
    ids = [
        i["id"]
        for i in store.incidents(statuses=["open", "acknowledged"])
        if i["id"] in alert["incidents"] and (not action.metrics or i["metric"] in action.metrics)
    ]
    assert ids, f"nothing to {action.kind} in {alert['key']}"
    with clock(recorded_at(action.week) + action.after):
        if action.kind == "acknowledge":
            apply_action(store, "acknowledge", ids, actor="tom.okafor")
        else:
            apply_action(store, "resolve", ids, actor="priya.raman", note="fixed the Android logging")


def _file_tickets(store: Any, week: int) -> None:
    """As the Jira channel does after creating a ticket: the alert (and its incidents) keep its key."""
    for (opened, check), key in TICKETS.items():
        if opened != week:
            continue
        alert = _alert_of(store, week, check)
        notification = next(n for n in store.notifications(limit=1000) if n.alert_id == alert["id"])
        store.notification_sent(
            notification.id,
            now=recorded_at(week),
            ref={"key": key},
            alert_refs={"jira": {"key": key, "url": f"https://jira.example.com/browse/{key}"}},
        )
