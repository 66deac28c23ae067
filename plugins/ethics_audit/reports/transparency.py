"""What the quarterly report charts for the transparency family, and what each chart says.

Three trends per model: explanation coverage of the window's decisions, decisions that ignored
a user's setting (per control) and the overturn-rate gap between groups with its interval; each
drawn with its warning and critical levels like the other families' trends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HEADLINES: tuple[tuple[str, set[str] | None], ...] = (
    ("explanation_coverage", set()),
    ("decisions_ignoring_controls", {"control"}),
    ("overturn_rate_difference", {"attribute"}),
)
NOTES = {
    "explanation_coverage": "Share of the week's decisions that came with an explanation (GDPR Art. 22(3), AI Act Art. 86).",
    "decisions_ignoring_controls": "Decisions made against a setting the person chose (e.g. personalised ads off).",
    "overturn_rate_difference": (
        "Gap in the share of appeals decided in the person's favour between the groups with the highest and lowest "
        "rate; the band is its 95% interval."
    ),
}


def headlines(slices_of: Callable[..., list[dict[str, Any]]], windows: list[Any]) -> list[tuple[str, str, dict]]:
    """(family, metric, slice) of every transparency trend measured in ``windows``."""
    return [
        ("transparency", metric, slice_)
        for metric, keys in HEADLINES
        for slice_ in slices_of(windows, "transparency", metric, keys=keys)
    ]
