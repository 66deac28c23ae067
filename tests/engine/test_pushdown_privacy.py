"""The privacy family pushed down into PostgreSQL gives the in-memory path's results: PII (its
RE2 scan patterns widened for PostgreSQL's regex and confirmed in process), re-identification,
consent with its as-of join, retention and membership inference, on a window with PII in it."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ethics_audit.checks import privacy
from ethics_audit.engine import Rows
from ethics_audit.engine import sql as pushdown
from ethics_audit.engine.files import in_utc
from ethics_audit.spec import AuditSpec
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))
from privacy_engine_helpers import comparable, consent_ledger, pii_frame

pytestmark = pytest.mark.postgres
QUERY = "SELECT * FROM notes WHERE ts >= :window_start AND ts < :window_end"
NOW = datetime(2026, 7, 15, tzinfo=timezone.utc)
# what RE2 and PostgreSQL's regex read differently: a word boundary next to a letter PostgreSQL's
# locale calls a word character, upper-case cues of the case-insensitive groups, and lookalikes
EDGES = [
    "é4242 4242 4242 4242",
    "ñ jane.doe@example.com",
    "VERSION 10.0.0.1 is out",
    "Release v10.0.0.1",
    "from 203.0.113.7.",
    "DOB: 12/03/1990",
    "BORN ON 3 MARCH 1990",
    "born on 3rd Mar. 1990",
    "ssn 536-22-1234",
    "ip fe80::1ff:fe23:4567:890a",
    "call (555) 010-1234 or 07700 900123",
    "tel +33 6 12 34 56 78",
    "GB82WEST12345698765432",
    "backspace\b4242 4242 4242 4242",
]


def window_frame(rows: int, seed: int) -> pd.DataFrame:
    frame = pii_frame(rows, seed)
    rng = np.random.default_rng(seed + 100)
    edges = rng.random(rows) < 0.15
    frame.loc[edges, "note"] = rng.choice(np.array(EDGES, dtype=object), int(edges.sum()))
    frame.loc[frame.index[::40], "ts"] = frame["ts"].iloc[0]  # timestamp ties within entities
    frame["score"] = np.round(np.clip(rng.normal(0.5, 0.2, rows) + 0.05 * frame["member"], 0, 1), 3)
    frame.loc[frame.index[::30], "score"] = None
    return frame


def spec_for(url: str, *, prediction: bool = True):
    spec = make_spec(
        {
            "model": {"purpose": "ads"},
            "columns": {
                "entity_id": "user_id",
                "prediction_id": "prediction_id",
                "timestamp": "ts",
                "text": ["note"],
                "quasi_identifiers": ["gender", "age_band", "zip"],
                "sensitive": ["diagnosis"],
                "label": "label",
                "prediction": "prediction",
                "score": "score",
            },
            "checks": {
                "privacy": {
                    "pii": {"name_columns": ["gender"]},
                    "consent": {"source": {"path": "consent.parquet"}, "grace_period": "1h", "erasure_deadline": "20d"},
                    "retention": "7d",
                    "membership": {"column": "member", "bootstrap": {"resamples": 200}},
                }
            },
        }
    ).model_dump(mode="json", exclude_unset=True)
    if not prediction:  # the generalisation gap then predicts from score >= 0.5
        del spec["columns"]["prediction"]
    return AuditSpec.model_validate({**spec, "source": {"query": QUERY, "url": url}, "engine": {"kind": "postgres"}})


def pushed_down(url: str, frame: pd.DataFrame, *, prediction: bool = True, **kwargs):
    """The window as the pushdown path holds it: the spec's query run into a temporary table."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        frame.to_sql("notes", conn, index=False)
    engine.dispose()
    spec = spec_for(url, prediction=prediction)
    backend = pushdown.connect(spec.source, spec, "source")
    table = pushdown.window_table(backend, spec.source, spec, "source", start=WINDOW_START, end=WINDOW_END)
    table = in_utc(table, "ts", "source", backend)
    return spec, make_data(spec, None, tables={"current": Rows(table, backend, "postgres")}, **kwargs)


def _strip_examples(results):
    return [replace(r, details={k: v for k, v in r.details.items() if k != "examples"}) for r in results]


@pytest.mark.parametrize(("seed", "prediction"), [(0, True), (1, False)])
def test_the_privacy_family_pushed_down_equals_the_memory_path(pg_url: str, seed: int, prediction: bool) -> None:
    frame = window_frame(4000, seed)
    if not prediction:  # and a boolean label, with gaps
        frame["label"] = frame["label"].astype(bool).astype(object).where(frame.index % 13 > 0, None)
    kwargs = {"consent": consent_ledger(frame, seed), "now": NOW}
    spec, data = pushed_down(pg_url, frame, prediction=prediction, **kwargs)
    memory = privacy.run(spec.checks.privacy, make_data(spec, frame, **kwargs))
    got = privacy.run(spec.checks.privacy, data)
    assert data.current is None
    assert not [r for r in memory + got if r.metric == "check_error"], [
        r.details for r in got if r.status.value == "error"
    ]
    assert len(got) == len(memory)
    for g, w in zip(comparable(_strip_examples(got)), comparable(_strip_examples(memory)), strict=True):
        if g["metric"] == "attack_auc" and w["value"] is not None:
            assert g.pop("value") == pytest.approx(w.pop("value"), rel=1e-12, abs=1e-12)
        assert g == w
    found = {(r.metric, r.slice.get("column")): r.value for r in memory}
    # the edge cases are found on both paths: a card after "é", an email after "ñ", a DOB in capitals
    for metric in ("card_count", "email_share", "dob_share", "ip_share", "ssn_count", "iban_count", "phone_share"):
        assert found[(metric, "note")] > 0, metric
    assert found[("predictions_after_withdrawal", None)] > 0
    gap = next(r for r in got if r.metric == "generalisation_gap")
    assert gap.value is not None and gap.details["predicted"] == (
        "columns.prediction (prediction)" if prediction else "score >= 0.5"
    )


def test_the_scan_patterns_for_postgres_match_everything_re2_matches(pg_url: str) -> None:
    import re

    from privacy_engine_helpers import CARDS, EMAILS, IBANS, OTHER, PLAIN

    from ethics_audit.checks.privacy.entities import ENTITIES
    from ethics_audit.checks.privacy.entities.patterns import DATE_VALUE
    from ethics_audit.engine.regex import for_engine

    texts = EDGES + CARDS + EMAILS + IBANS + OTHER + PLAIN + ["1990-03-12", " 3 March 1990 10:00Z ", "no\ndate"]
    patterns = [e.pattern for e in ENTITIES.values()] + [DATE_VALUE]
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        for pattern in patterns:
            widened = for_engine(pattern, "postgres")
            assert for_engine(pattern, "duckdb") == pattern
            for text in texts:
                if re.search(pattern, text, re.ASCII):
                    assert conn.execute(sa.text("SELECT :t ~ :p"), {"t": text, "p": widened}).scalar(), pattern
    engine.dispose()


@pytest.mark.parametrize(
    ("pattern", "widened"),
    [
        (r"\b[0-9]{3}[\- ][0-9]{2}\b", r"[0-9]{3}[\- ][0-9]{2}"),
        (r"(?i:dob|v)[ .:]*", r"(?:[dD][oO][bB]|[vV])[ .:]*"),
        (r"(?:a(b)\.)+", r"(?:a(b)\.)+"),
        (r"[]\-.]\d+\s$", r"[]\-.]\d+\s$"),
    ],
)
def test_a_pattern_is_widened_for_postgres(pattern: str, widened: str) -> None:
    from ethics_audit.engine.regex import postgres

    assert postgres(pattern) == widened


@pytest.mark.parametrize("pattern", [r"(?s:.)", r"(?P<m>x)", r"(?i:[a-z])", r"\Ax", r"(?=x)"])
def test_a_pattern_postgres_cannot_read_is_refused_by_name(pattern: str) -> None:
    from ethics_audit.engine.regex import postgres

    with pytest.raises(ValueError, match="PostgreSQL"):
        postgres(pattern)
