"""Small real checks for the demo's injected problems, so incident tests need no check family.

Each computes a few honest metrics on the demo data with the spec's thresholds where the spec
has them: quality (null share, unexpected categories), drift (standardised mean shift against
the baseline), fairness (selection-rate parity by gender), privacy (e-mail share and card
numbers in text, predictions for users who withdrew consent before the window). They are
test doubles for the real families, which live elsewhere and are far more thorough.
"""

from __future__ import annotations

import re
from typing import Any

from ethics_audit.results import MetricResult, Threshold

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
MIN_GROUP = 1000


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def quality(config: Any, data: Any) -> list[MetricResult]:
    frame = data.current
    null = config.thresholds.get("null_share")
    unexpected = config.thresholds.get("unexpected_category_share")
    out = [
        MetricResult(
            "quality", "null_share", float(frame[c].isna().mean()), slice={"column": c}, n=len(frame), threshold=null
        )
        for c in data.spec.columns.features
        if c in frame
    ]
    for column, allowed in config.allowed_categories.items():
        share = float((~frame[column].isin(allowed)).mean())
        out.append(
            MetricResult(
                "quality",
                "unexpected_category_share",
                share,
                slice={"column": column},
                n=len(frame),
                threshold=unexpected,
            )
        )
    return out


def drift(config: Any, data: Any) -> list[MetricResult]:
    out = []
    for column in [*data.spec.columns.features, data.spec.columns.score]:
        current, reference = data.current[column], data.reference[column]
        if current.dtype.kind not in "if":
            continue
        spread = float(reference.std()) or 1.0
        shift = abs(float(current.mean()) - float(reference.mean())) / spread
        out.append(
            MetricResult(
                "drift", "mean_shift", shift, slice={"column": column}, n=len(current), threshold=Threshold(0.3, 0.6)
            )
        )
    return out


def fairness(config: Any, data: Any) -> list[MetricResult]:
    frame = data.current
    decision = data.spec.columns.prediction
    groups = frame.groupby("gender")[decision].agg(["mean", "size"])
    groups = groups[groups["size"] >= MIN_GROUP]
    rates = groups["mean"]
    reference = rates.idxmax()  # the most favoured group: ratios stay at or below 1
    out = [
        MetricResult(
            "fairness",
            "demographic_parity_difference",
            float(rates.max() - rates.min()),
            slice={"attribute": "gender"},
            n=int(groups["size"].sum()),
            threshold=config.thresholds.get("demographic_parity_difference"),
        ),
        MetricResult(
            "fairness",
            "demographic_parity_ratio",
            float(rates.min() / rates.max()),
            slice={"attribute": "gender"},
            n=int(groups["size"].sum()),
            threshold=config.thresholds.get("demographic_parity_ratio"),
        ),
    ]
    for group, rate in rates.items():
        if group == reference:
            continue
        out.append(
            MetricResult(
                "fairness",
                "disparate_impact_ratio",
                float(rate / rates[reference]),
                slice={"gender": group},
                n=int(groups.loc[group, "size"]),
                threshold=config.thresholds.get("disparate_impact_ratio"),
            )
        )
    return out


def privacy(config: Any, data: Any) -> list[MetricResult]:
    import pandas as pd

    frame, columns = data.current, data.spec.columns
    out = []
    for column in columns.text:
        text = frame[column].fillna("")
        cards = text.map(lambda t: sum(_luhn(re.sub(r"\D", "", m)) for m in CARD.findall(t)))
        out += [
            MetricResult(
                "privacy",
                "email_share",
                float(text.str.contains(EMAIL).mean()),
                slice={"column": column},
                n=len(frame),
                threshold=config.pii.thresholds.get("email_share"),
            ),
            MetricResult(
                "privacy",
                "card_count",
                float(cards.sum()),
                slice={"column": column},
                n=len(frame),
                threshold=config.pii.thresholds.get("card_count"),
            ),
        ]
    ledger = data.consent
    purpose = config.consent.purpose or data.spec.model.purpose
    blocked = ledger[
        (ledger["purpose"] == purpose)
        & (ledger["event"] != "granted")
        & (ledger["timestamp"] < pd.Timestamp(data.window_start))
    ]
    share = float(frame[columns.entity_id].isin(set(blocked["entity_id"])).mean())
    out.append(
        MetricResult(
            "privacy",
            "predictions_after_withdrawal",
            share,
            n=len(frame),
            threshold=config.consent.thresholds.get("predictions_after_withdrawal"),
        )
    )
    return out


FAMILIES = {"QualityConfig": quality, "DriftConfig": drift, "FairnessConfig": fairness, "PrivacyConfig": privacy}


def run(config: Any, data: Any) -> list[MetricResult]:
    return FAMILIES[type(config).__name__](config, data)
