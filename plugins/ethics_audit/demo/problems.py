"""The demo's documented problems (``INJECTED``) and how each week's audit is held against them.

A week comes out as expected when the families that breached are exactly the ones injected
that week and the run succeeded; every other week is clean and must come out clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ethics_audit.checks import FAMILIES as CHECK_FAMILIES


@dataclass(frozen=True)
class Injected:
    week: int  # 1-based
    family: str
    what: str
    label: str  # a few words for the summary table


# The documented problems. Every other week is clean and must come out clean.
INJECTED = (
    Injected(2, "transparency", "an Android app release logs no explanations: ~45% of decisions unexplained",
             "no explanations"),
    Injected(4, "fairness", "auction pacing cuts delivery to women: selection rate f ~0.17 vs m ~0.30", "gender gap"),
    Injected(5, "fairness", "the pacing bug is still live (fixed before week 6)", "gender gap"),
    Injected(6, "transparency", "the ad server ignores 'personalised ads: off': those users get targeted ads",
             "setting ignored"),
    Injected(7, "transparency", "women's appeals are overturned twice as often as men's and answered past the "
             "7-day SLA", "appeals"),
    Injected(8, "drift", "android app logs minutes_per_day in seconds: feature and score drift", "logging bug"),
    Injected(8, "quality", "sessions_7d is null for 15% of rows; new device category 'smart_tv'", "logging bug"),
    Injected(9, "privacy", "emails, phone numbers and card numbers leak into post_text and profile_bio", "PII leak"),
    Injected(
        10, "privacy", "the consent filter is down: predictions for users who withdrew or asked for erasure", "consent"
    ),
)  # fmt: skip

# the summary table's columns: every family, in the order a window is checked
FAMILIES = tuple(CHECK_FAMILIES)


def family_cell(summary: dict[str, Any], family: str) -> tuple[str, str]:
    info = summary.get("checks", {}).get(family)
    if info is None:
        return "-", "dim"
    if info["status"] in ("error", "skipped"):
        return info["status"], "magenta"
    worst = info["worst"]
    if worst == "insufficient_data":
        return "ok, n/a", "dim"  # some metrics could not be judged (e.g. no labels yet); none breached
    style = {"critical": "bold red", "warn": "yellow", "ok": "green"}.get(worst, "")
    return worst, style


def week_row(week: int, outcome: Any) -> dict[str, Any]:
    """One week's outcome, and whether the families that breached are exactly the injected ones."""
    injected = [i for i in INJECTED if i.week == week]
    breaches = [f for f in outcome.findings if f.severity.is_breach]
    breached = sorted({f.result.check for f in breaches})
    return {
        "week": week,
        "window_start": outcome.window_start.date().isoformat(),
        "run_id": outcome.run_id,
        "rows": outcome.rows,
        "status": outcome.status,
        "checks": {f: family_cell(outcome.summary, f)[0] for f in FAMILIES},
        "breached": breached,
        "breaches": breach_counts(breaches),
        "injected": [f"{i.family}: {i.what}" for i in injected],
        "as_expected": breached == sorted({i.family for i in injected}) and outcome.status == "succeeded",
    }


def breach_counts(breaches: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in sorted(breaches, key=lambda f: -f.severity.rank):
        key = f"{finding.result.check}.{finding.result.metric}"
        counts[key] = counts.get(key, 0) + 1
    return counts
