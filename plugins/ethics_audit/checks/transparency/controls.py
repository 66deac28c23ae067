"""Decisions that ignored a user's own choice (personalised ads off, a feed without profiling).

The controls ledger (entity id, control, value, timestamp; values compared as lower-case text,
with on/true/yes/1 and off/false/no/0 the same) is read as of each prediction with
the consent family's as-of join (``privacy.consent.blocked_since`` and
``made_while_blocked``): for each rule, a prediction ignores the control when the entity's
latest setting of it at or before the prediction is the rule's value, more than
``grace_period`` after the entity chose it, and the prediction is one the rule forbids (its
columns hold the forbidden values; every prediction when the rule lists none). Only counts of
rows and entities are reported, never an id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ethics_audit.checks.privacy.consent import _utc, blocked_since, made_while_blocked, window_entities
from ethics_audit.checks.transparency.groups import WHERE, Results, require_columns
from ethics_audit.errors import DataError
from ethics_audit.windows import format_duration

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import ControlRule, ControlsSpec, TransparencyConfig

PART = f"{WHERE}.controls"


# a setting written on/off, true/false, yes/no or 1/0 (YAML reads a bare off as false) is one setting
_SYNONYMS = {"false": "off", "no": "off", "0": "off", "true": "on", "yes": "on", "1": "on"}


def _normal(value: object) -> str:
    text = str(value).strip().lower()
    return _SYNONYMS.get(text, text)


def read_ledger(spec: ControlsSpec, data: AuditData) -> pd.DataFrame:
    """The ledger as entity, control, event (the value, lower case), ts (UTC), up to the window end."""
    if data.controls is None:
        raise DataError(f"{PART}.source: the controls ledger was not loaded; check the source and that it has rows")
    raw = data.controls
    roles = spec.columns.model_dump()
    source = spec.source.describe()
    require_columns(raw, roles, PART, "controls ledger", source)
    for role in ("control", "timestamp"):
        missing = int(raw[roles[role]].isna().sum())
        if missing:
            raise DataError(
                f"{PART}.columns.{role}: {missing} rows of the controls ledger ({source}) have no {role} "
                f"({roles[role]!r}); every row needs the control and when it was set: fix the ledger or filter them out"
            )
    values, names = pd.factorize(raw[roles["value"]], use_na_sentinel=True)
    normal = np.asarray([_normal(n) for n in names] + [""], dtype=object)
    ledger = pd.DataFrame(
        {
            "entity": raw[roles["entity_id"]].to_numpy(),
            "control": raw[roles["control"]].astype(str).str.strip().to_numpy(),
            "event": normal[np.where(values < 0, len(names), values)],
        }
    )
    ledger["ts"] = _utc(raw[roles["timestamp"]], f"{PART}.columns.timestamp", roles["timestamp"]).array
    return ledger[ledger["ts"] < pd.Timestamp(data.window_end)].reset_index(drop=True)


def missing_forbidden_column(index: int, column: str) -> DataError:
    return DataError(
        f"{PART}.rules[{index}].forbids: {column!r} is not a column of the window; name the prediction column that "
        "shows the forbidden treatment (e.g. targeting), or map it in the source"
    )


def _forbidden(rule: ControlRule, frame: pd.DataFrame, index: int) -> np.ndarray:
    """Rows the rule forbids: every listed column holds one of its listed values."""
    mask = np.ones(len(frame), dtype=bool)
    for column, values in rule.forbids.items():
        if column not in frame.columns:
            raise missing_forbidden_column(index, column)
        mask &= frame[column].isin(values).to_numpy()
    return mask


def rule_events(ledger: pd.DataFrame, rule: ControlRule) -> tuple[pd.DataFrame, np.ndarray]:
    """The ledger's events of the rule's control, and which of them set the rule's value."""
    events = ledger[ledger["control"] == rule.control]
    return events, (events["event"] == _normal(rule.value)).to_numpy()


def report_rule(results: Results, spec: ControlsSpec, rule: ControlRule, events: pd.DataFrame, blocking: np.ndarray,
                *, late: int, entities: int, rows: int, forbidden: int) -> None:  # fmt: skip
    """The rule's result: ``late`` decisions (of ``entities`` people) ignored the setting."""
    results.add(
        "decisions_ignoring_controls",
        late,
        {"control": rule.control},
        n=rows,
        threshold=results.threshold("decisions_ignoring_controls", interval=False),
        entities=entities,
        share=late / rows if rows else None,
        setting=_normal(rule.value),
        entities_who_chose_it=len(np.unique(events.loc[blocking, "code"])) if len(events) else 0,
        forbidden_decisions=forbidden,
        grace_period=format_duration(spec.grace_period),
        ledger_has_control=bool(len(events)),
    )


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.controls
    if spec is None:
        return []
    results = Results(config)
    ledger = read_ledger(spec, data)
    codes, count, ledger = window_entities(data, ledger)
    ts = data.columns.timestamp
    stamps = _utc(data.current[ts], "columns.timestamp", ts)
    for i, rule in enumerate(spec.rules):
        events, blocking = rule_events(ledger, rule)
        forbidden = np.flatnonzero(_forbidden(rule, data.current, i))
        late = made_while_blocked(blocked_since(events, blocking), codes, count, stamps, spec.grace_period, forbidden)
        rows = late["row"].to_numpy()
        report_rule(results, spec, rule, events, blocking, late=len(rows), entities=len(np.unique(codes[rows])),
                    rows=data.rows, forbidden=len(forbidden))  # fmt: skip
    return results.out
