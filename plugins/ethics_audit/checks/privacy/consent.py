"""Consent, purpose, erasure and retention: was each prediction allowed when it was made?

The consent ledger (entity id, purpose, event, timestamp; events ``granted``, ``withdrawn``,
``objected``, ``erasure_requested``) is read as of each prediction's timestamp. A prediction
breaks consent when the entity's latest ``granted``/``withdrawn``/``objected`` event for the
model's purpose at or before the prediction is a withdrawal or objection, and the prediction
came more than ``grace_period`` after the entity stopped consenting (a later ``granted``
re-grants; other purposes do not count). Entities whose erasure request (any purpose, not
followed by a new ``granted``) is older than ``erasure_deadline`` at the window end and who
still appear are counted too, and so are rows older than ``retention``. Only counts of rows
and entities are reported, never an id.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult
from ethics_audit.spec import CONSENT_EVENTS
from ethics_audit.windows import format_duration

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import ConsentSpec, PrivacyConfig

CHECK = "privacy"
BLOCKING = ("withdrawn", "objected")
WHERE = "checks.privacy.consent"


def _utc(series: pd.Series, where: str, column: str) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    try:
        return pd.to_datetime(series, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        raise DataError(
            f"{where}: column {column!r} has values that are not timestamps; "
            "store ISO 8601 timestamps such as 2026-07-06T12:00:00Z"
        ) from None


def _ns(series: pd.Series) -> Any:
    return series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]").to_numpy().view("int64")


def _id_kind(ids: pd.Series) -> str:
    if ids.dtype != object:
        return ids.dtype.kind
    first = ids.dropna()
    return type(first.iloc[0]).__name__ if len(first) else "empty"


def _aligned_ids(ledger_ids: pd.Series, window_ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Make ids comparable when one side stores them as numbers and the other as text."""
    import pandas as pd

    if _id_kind(ledger_ids) == _id_kind(window_ids):
        return ledger_ids, window_ids

    def text(ids: pd.Series) -> pd.Series:
        if pd.api.types.is_float_dtype(ids) and (ids.dropna() % 1 == 0).all():
            ids = ids.astype("Int64")
        return ids.astype("string").astype(object)

    return text(ledger_ids), text(window_ids)


def read_ledger(spec: ConsentSpec, data: AuditData, raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger (``data.consent`` unless ``raw`` is given) with columns entity, purpose, event
    (lower case), ts (UTC), up to the window end."""
    import numpy as np
    import pandas as pd

    raw = data.consent if raw is None else raw
    if raw is None:
        raise DataError(f"{WHERE}.source: the consent ledger was not loaded; check the source and that it has rows")
    roles = spec.columns.model_dump()
    for role, column in roles.items():
        if column not in raw.columns:
            raise DataError(
                f"{WHERE}.columns.{role}: {column!r} is not a column of the consent ledger "
                f"(columns: {columns_withheld(raw.columns)}); fix {WHERE}.columns.{role}"
            )
    # event names are few: normalise the distinct ones, not every row
    event_codes, names = pd.factorize(raw[roles["event"]], use_na_sentinel=True)
    if (event_codes < 0).any():
        raise DataError(
            f"{WHERE}.columns.event: {int((event_codes < 0).sum())} consent events have no event name "
            f"({roles['event']!r}); every event must be one of {', '.join(CONSENT_EVENTS)}"
        )
    normalised = [str(name).strip().lower() for name in names]
    unknown = sorted({name for name in normalised if name not in CONSENT_EVENTS})
    if unknown:
        shown = ", ".join(repr(e[:40]) for e in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise DataError(
            f"{WHERE}.columns.event: the consent ledger has unknown event names ({shown}); "
            f"events must be one of {', '.join(CONSENT_EVENTS)}: map them in the ledger's source query"
        )
    ledger = pd.DataFrame(
        {
            "entity": raw[roles["entity_id"]].to_numpy(),
            "purpose": raw[roles["purpose"]].to_numpy(),
            "event": pd.Categorical.from_codes(
                np.asarray([CONSENT_EVENTS.index(n) for n in normalised], dtype=np.int8)[event_codes]
                if len(raw)
                else np.zeros(0, np.int8),
                categories=CONSENT_EVENTS,
            ),
        }
    )
    missing = int(raw[roles["timestamp"]].isna().sum())
    if missing:
        raise DataError(
            f"{WHERE}.columns.timestamp: {missing} consent events have no timestamp ({roles['timestamp']!r}); "
            "every event needs the time it happened: fix the ledger or filter those rows out in its source"
        )
    ledger["ts"] = _utc(raw[roles["timestamp"]], f"{WHERE}.columns.timestamp", roles["timestamp"]).array
    return ledger[ledger["ts"] < pd.Timestamp(data.window_end)].reset_index(drop=True)


def window_entities(data: AuditData, ledger: pd.DataFrame) -> tuple[np.ndarray, int, pd.DataFrame]:
    """Integer codes of the window's entities (-1: no id), how many there are, and the ledger
    events of those entities only, with their code in ``code``."""
    import pandas as pd

    led_ids, window_ids = _aligned_ids(ledger["entity"], data.current[data.columns.entity_id])
    codes, uniques = pd.factorize(window_ids)
    ledger_codes = pd.Index(uniques).get_indexer(led_ids)
    kept = ledger.assign(code=ledger_codes, ts_ns=_ns(ledger["ts"]))[ledger_codes >= 0]
    return codes, len(uniques), kept.reset_index(drop=True)


def _flags(codes: np.ndarray, count: int) -> np.ndarray:
    """A per-entity boolean table with a False slot at the end for code -1 (no entity id)."""
    import numpy as np

    table = np.zeros(count + 1, dtype=bool)
    table[codes] = True
    table[-1] = False
    return table


def blocked_since(events: pd.DataFrame, blocking: np.ndarray | None = None) -> pd.DataFrame:
    """Grant/withdraw/object events; for each blocking one, since when the entity stopped consenting.

    ``blocking`` marks the events that block (default: withdrawals and objections); the
    transparency family passes "the control is set to the restricting value".
    """
    import numpy as np

    if blocking is None:
        blocking = events["event"].isin(BLOCKING).to_numpy()
    # by entity, then time; at one instant a withdrawal outranks a grant, so it sorts after
    order = np.lexsort((blocking, events["ts_ns"].to_numpy(), events["code"].to_numpy()))
    events = events.iloc[order].reset_index(drop=True).assign(blocking=blocking[order])
    blocking = blocking[order]
    codes = events["code"].to_numpy()
    same_entity = np.r_[False, codes[1:] == codes[:-1]]
    # a run of blocking events starts at the first one after a grant (or the entity's first event)
    run_start = blocking & ~(np.r_[False, blocking[:-1]] & same_entity)
    latest_start = np.maximum.accumulate(np.where(run_start, np.arange(len(events)), 0))
    ts = events["ts_ns"].to_numpy()
    return events.assign(since=ts[latest_start])


def made_while_blocked(
    events: pd.DataFrame,
    codes: np.ndarray,
    count: int,
    stamps: pd.Series,
    grace_period: timedelta,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The as-of join: the rows made while their entity's latest event, as of the row's time,
    was blocking, more than ``grace_period`` after the block began.

    ``events``: ``blocked_since``'s output (``code``, ``ts_ns``, ``event``, ``blocking``,
    ``since``); ``codes``/``count``: ``window_entities``'; ``stamps``: each row's UTC time;
    ``rows``: the row positions to consider (default: all). Returns the matched rows with
    their position in ``row`` and the blocking event in ``event``.
    """
    import numpy as np
    import pandas as pd

    ever_blocked = _flags(events.loc[events["blocking"], "code"].to_numpy(), count)
    candidate = ever_blocked[codes] & stamps.notna().to_numpy()
    if rows is not None:
        keep = np.zeros(len(codes), dtype=bool)
        keep[rows] = True
        candidate &= keep
    positions = np.flatnonzero(candidate)
    if not len(positions):
        return pd.DataFrame({"row": np.zeros(0, np.int64), "event": pd.Series([], dtype=object)})
    predictions = pd.DataFrame({"code": codes[positions], "ts_ns": _ns(stamps.iloc[positions]), "row": positions})
    joined = pd.merge_asof(
        predictions.sort_values("ts_ns", kind="stable"),
        events[["code", "ts_ns", "event", "blocking", "since"]].sort_values("ts_ns", kind="stable"),
        on="ts_ns",
        by="code",
        direction="backward",
        allow_exact_matches=True,
    )
    grace = int(grace_period.total_seconds() * 1e9)
    matched = joined[joined["blocking"].eq(True)]
    late = matched["ts_ns"].to_numpy() > matched["since"].to_numpy().astype(np.int64) + grace
    return matched.loc[late, ["row", "event"]].reset_index(drop=True)


def purpose_events(config: PrivacyConfig, data: AuditData, ledger: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The model's purpose and the ledger's grant, withdrawal and objection events for it."""
    spec = config.consent
    assert spec is not None
    purpose = spec.purpose or data.spec.model.purpose
    return purpose, ledger[(ledger["purpose"] == purpose) & ledger["event"].isin(("granted", *BLOCKING))]


def granted_codes(state: pd.DataFrame) -> np.ndarray:
    import numpy as np

    return np.unique(state.loc[state["event"] == "granted", "code"].to_numpy())


def withdrawal_results(
    config: PrivacyConfig,
    *,
    purpose: str,
    rows: int,
    count: int,
    violating: int,
    entities: int,
    by_event: dict[str, int],
    granted: int,
) -> list[MetricResult]:
    """The consent results from counts: rows made while blocked, entities without a grant."""
    spec = config.consent
    assert spec is not None
    without_grant = count - granted
    return [
        MetricResult(
            CHECK,
            "predictions_after_withdrawal",
            violating,
            n=rows,
            threshold=spec.thresholds.get("predictions_after_withdrawal"),
            details={
                "entities": entities,
                "share": violating / rows if rows else None,
                "by_event": by_event,
                "purpose": purpose,
                "grace_period": format_duration(spec.grace_period),
            },
        ),
        MetricResult(
            CHECK,
            "entities_without_grant",
            without_grant,
            n=count,
            threshold=spec.thresholds.get("entities_without_grant"),
            details={"share": without_grant / count if count else None, "purpose": purpose},
        ),
    ]


def predictions_after_withdrawal(
    config: PrivacyConfig, data: AuditData, codes: np.ndarray, count: int, ledger: pd.DataFrame
) -> list[MetricResult]:
    import numpy as np

    spec = config.consent
    assert spec is not None
    columns = data.columns
    purpose, state = purpose_events(config, data, ledger)
    events = blocked_since(state)
    stamps = _utc(data.current[columns.timestamp], "columns.timestamp", columns.timestamp)
    late = made_while_blocked(events, codes, count, stamps, spec.grace_period)
    violating = late["row"].to_numpy()
    return withdrawal_results(
        config,
        purpose=purpose,
        rows=data.rows,
        count=count,
        violating=len(violating),
        entities=len(np.unique(codes[violating])),
        by_event={str(k): int(v) for k, v in late["event"].value_counts().items() if v},
        granted=len(granted_codes(state)),
    )


def overdue_codes(config: PrivacyConfig, data: AuditData, ledger: pd.DataFrame) -> np.ndarray:
    """Codes of the entities whose erasure request, not followed by a grant, is past the deadline."""
    import pandas as pd

    spec = config.consent
    assert spec is not None
    requested = ledger[ledger["event"] == "erasure_requested"].groupby("code", sort=False)["ts_ns"].max()
    regranted = ledger[ledger["event"] == "granted"].groupby("code", sort=False)["ts_ns"].max()
    later_grant = regranted.reindex(requested.index).fillna(-1).to_numpy() > requested.to_numpy()
    deadline = pd.Timestamp(data.window_end) - spec.erasure_deadline
    return requested.index.to_numpy()[~later_grant & (requested.to_numpy() <= deadline.value)]


def erasure_result(config: PrivacyConfig, *, overdue: int, count: int, rows: int) -> MetricResult:
    spec = config.consent
    assert spec is not None
    return MetricResult(
        CHECK,
        "entities_past_erasure_deadline",
        overdue,
        n=count,
        threshold=spec.thresholds.get("entities_past_erasure_deadline"),
        details={"rows": rows, "erasure_deadline": format_duration(spec.erasure_deadline)},
    )


def erasure_overdue(
    config: PrivacyConfig, data: AuditData, codes: np.ndarray, count: int, ledger: pd.DataFrame
) -> MetricResult:
    overdue = overdue_codes(config, data, ledger)
    present = _flags(overdue, count)[codes]
    return erasure_result(config, overdue=len(overdue), count=count, rows=int(present.sum()))


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    if config.consent is None:
        return []
    ledger = read_ledger(config.consent, data)
    codes, count, ledger = window_entities(data, ledger)
    return predictions_after_withdrawal(config, data, codes, count, ledger) + [
        erasure_overdue(config, data, codes, count, ledger)
    ]


def retention_result(
    config: PrivacyConfig, *, rows: int, old: int, oldest: pd.Timestamp | None, now: pd.Timestamp
) -> MetricResult:
    """Rows older than the retention period, from their count and the oldest timestamp."""
    import pandas as pd

    from ethics_audit.spec import ConsentThresholds

    assert config.retention is not None
    thresholds = config.consent.thresholds if config.consent else ConsentThresholds()
    return MetricResult(
        CHECK,
        "rows_past_retention",
        old,
        n=rows,
        threshold=thresholds.get("rows_past_retention"),
        details={
            "retention": format_duration(config.retention),
            "share": old / rows if rows else None,
            "oldest_row_age_days": round((now - oldest).total_seconds() / 86400, 1) if pd.notna(oldest) else None,
            "as_of": now.isoformat(),
        },
    )


def audit_time(data: AuditData) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(data.now or datetime.now(timezone.utc))


def run_retention(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    """Rows older than ``retention`` at ``data.now`` (default: the current UTC time)."""
    if config.retention is None:
        return []
    column = data.columns.timestamp
    if column not in data.current.columns:
        raise DataError(f"columns.timestamp: {column!r} is not a column of the window; fix columns.timestamp")
    ts = _utc(data.current[column], "columns.timestamp", column)
    now = audit_time(data)
    old = int((ts < now - config.retention).sum())
    return [retention_result(config, rows=data.rows, old=old, oldest=ts.min(), now=now)]
