"""Consent, erasure and retention on an engine: the ledger stays in memory, the window is aggregated.

The consent ledger is small next to the window (events per person, not per prediction), so it
is read into memory (``data.consent``, or the ``consent`` table fetched once) and reduced there
exactly as in memory (``consent.read_ledger``, ``blocked_since``, ``overdue_codes``). The window
side never leaves the engine: its distinct entity ids are joined with the ledger's, the as-of
join of predictions with the blocking events (``engine.asof``: DuckDB's and PostgreSQL's own,
portable parts on Spark) comes back as counts by event; erasure and retention are filtered counts. Events at one
instant of one entity are first reduced to the one the in-memory ``merge_asof`` picks (the last
in ``blocked_since``'s order), so the engine's join has no ties to break. Timestamps compare to
the microsecond (Ibis's timestamp type); ids are aligned as in memory when one side stores them
as numbers and the other as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.privacy import consent as pure
from ethics_audit.checks.privacy.aggregates import is_timestamp, window, window_rows
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import PrivacyConfig

# pandas values standing for an engine column's type, for ``consent._aligned_ids``
_SAMPLE = {"integer": 0, "floating": 0.5, "boolean": True, "string": "x"}


def utc_time(rows: Rows, column: str) -> tuple[Any, bool]:
    """The column as an Ibis timestamp and whether it is zone-aware (a naive one is read as UTC)."""
    value = rows.table[column]
    dtype = value.type()
    if is_timestamp(dtype):
        aware = (dtype.is_unknown() and "TZ" in str(dtype).upper()) or getattr(dtype, "timezone", None) is not None
        return value.cast("timestamp('UTC')" if aware else "timestamp"), aware
    return value.cast("timestamp('UTC')"), True  # text: parsed by the engine


def instants(ns: Any, aware: bool) -> pd.Series:
    """Nanoseconds since the epoch as timestamps of the window column's kind (microseconds)."""
    import pandas as pd

    out = pd.to_datetime(pd.Series(ns, dtype="int64") // 1000, unit="us", utc=True).astype("datetime64[us, UTC]")
    return out if aware else out.dt.tz_localize(None)


def aligned_ids(rows: Rows, column: str, ledger_ids: pd.Series) -> tuple[Any, pd.Series]:
    """The window's id column and the ledger's ids, made comparable as ``consent._aligned_ids`` does."""
    import ibis
    import pandas as pd

    value = rows.table[column]
    dtype = value.type()
    kind = next((k for k in _SAMPLE if getattr(dtype, f"is_{k}")()), "string")
    led, _ = pure._aligned_ids(ledger_ids, pd.Series([_SAMPLE[kind]], dtype=object if kind == "string" else None))
    if led is ledger_ids:
        return value, led
    if dtype.is_floating():
        value = ibis.cases((value == value.floor(), value.cast("int64").cast("string")), else_=value.cast("string"))
    elif not dtype.is_string():
        value = value.cast("string")
    return value, led


def ledger_of(data: AuditData) -> pd.DataFrame | None:
    """The raw consent ledger in memory (fetched from its engine table when it was not loaded)."""
    if data.consent is not None:
        return data.consent
    from ethics_audit.engine import rows_of

    table = rows_of(data, "consent")
    return None if table is None else table.backend.execute(table.table)


def _ids_table(ids: Any) -> Any:
    import ibis
    import pandas as pd

    return ibis.memtable(pd.DataFrame({"lid": pd.Series(ids).to_numpy()}))


def window_entities(rows: Rows, data: AuditData, ledger: pd.DataFrame) -> tuple[Any, int, pd.DataFrame, Any]:
    """The window's id expression, its number of entities, the ledger events of those entities
    (with their code in ``code``) and the ids by code."""
    import numpy as np
    import pandas as pd

    wid, led = aligned_ids(rows, data.columns.entity_id, ledger["entity"])
    count = int(rows.execute(wid.nunique()))
    known = _ids_table(led.dropna().unique())
    seen = rows.table.select(wid=wid).filter(lambda t: t.wid.notnull()).distinct()
    present = rows.execute(seen.join(known, seen.wid == known.lid).select("lid"))["lid"]
    ids = pd.Index(pd.unique(present.to_numpy()))
    codes = ids.get_indexer(led)
    kept = ledger.assign(code=codes, ts_ns=pure._ns(ledger["ts"]))[codes >= 0].reset_index(drop=True)
    return wid, count, kept, np.asarray(ids)


def withdrawals(rows: Rows, data: AuditData, config: PrivacyConfig, ledger: pd.DataFrame, wid: Any, ids: Any):
    """(rows made while blocked, their entities, rows by blocking event) by an as-of join on the engine."""
    spec = config.consent
    assert spec is not None
    _, state = pure.purpose_events(config, data, ledger)
    events = pure.blocked_since(state)
    return made_while_blocked(rows, data, events, ids, wid, spec.grace_period)


def made_while_blocked(
    rows: Rows, data: AuditData, events: pd.DataFrame, ids: Any, wid: Any, grace_period: Any, where: Any = None
) -> tuple[int, int, dict[str, int]]:
    """``consent.made_while_blocked`` on the engine: (rows made while blocked, their entities, rows
    by blocking event), for the window's rows where ``where`` holds (default: all).

    ``events``: ``blocked_since``'s output for the window's entities (``code``, ``ts_ns``, ...),
    ``ids``/``wid``: ``window_entities``'."""
    import ibis
    import pandas as pd

    from ethics_audit.engine.asof import latest_at_or_before

    blocked = events.loc[events["blocking"], "code"].unique()
    events = events[events["code"].isin(blocked)].drop_duplicates(["code", "ts_ns"], keep="last")
    if not len(events):
        return 0, 0, {}
    ts, aware = utc_time(rows, data.columns.timestamp)
    grace = int(grace_period.total_seconds() * 1e9)
    right = ibis.memtable(
        pd.DataFrame(
            {
                "eid": ids[events["code"].to_numpy()],
                "ets": instants(events["ts_ns"].to_numpy(), aware).to_numpy(),
                "event": events["event"].astype(str).to_numpy(),
                "blocking": events["blocking"].to_numpy(bool),
                "after": instants(events["since"].to_numpy().astype("int64") + grace, aware).to_numpy(),
            }
        )
    )
    left = rows.table.select(wid=wid, wts=ts).filter(lambda t: t.wts.notnull())
    if where is not None:
        left = rows.table.select(wid=wid, wts=ts, ok=where).filter(lambda t: t.wts.notnull() & t.ok).drop("ok")
    left = left.filter(left.wid.isin(_ids_table(ids[blocked]).lid))
    joined = latest_at_or_before(left, right, key=("wid", "eid"), instant=("wts", "ets"), engine=rows.engine)
    late = joined.filter(joined.blocking & (joined.wts > joined.after))
    by_event = rows.execute(late.group_by("event").agg(n=ibis._.count(), entities=late.wid.nunique()))
    entities = int(rows.execute(late.wid.nunique())) if len(by_event) else 0
    counts = {str(e): int(n) for e, n in zip(by_event["event"], by_event["n"], strict=True) if n}
    return sum(counts.values()), entities, dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    if config.consent is None:
        return []
    rows = window(data)
    ledger = pure.read_ledger(config.consent, data, ledger_of(data))
    wid, count, ledger, ids = window_entities(rows, data, ledger)
    purpose, state = pure.purpose_events(config, data, ledger)
    violating, entities, by_event = withdrawals(rows, data, config, ledger, wid, ids)
    results = pure.withdrawal_results(
        config,
        purpose=purpose,
        rows=window_rows(data, rows),
        count=count,
        violating=violating,
        entities=entities,
        by_event=by_event,
        granted=len(pure.granted_codes(state)),
    )
    overdue = pure.overdue_codes(config, data, ledger)
    in_window = 0
    if len(overdue):
        in_window = int(rows.execute(rows.table.filter(wid.isin(_ids_table(ids[overdue]).lid)).count()))
    return results + [pure.erasure_result(config, overdue=len(overdue), count=count, rows=in_window)]


def run_retention(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    """Rows older than ``retention`` at the audit time: one filtered count and the oldest timestamp."""
    import pandas as pd

    if config.retention is None:
        return []
    rows = window(data)
    column = data.columns.timestamp
    if column not in rows:
        raise DataError(f"columns.timestamp: {column!r} is not a column of the window; fix columns.timestamp")
    ts, aware = utc_time(rows, column)
    now = pure.audit_time(data)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    cutoff = now - config.retention
    out = rows.execute(
        rows.table.aggregate(old=(ts < (cutoff if aware else cutoff.tz_localize(None))).sum(), oldest=ts.min())
    )
    oldest = out["oldest"].iloc[0]
    if pd.notna(oldest):
        oldest = pd.Timestamp(oldest)
        oldest = oldest.tz_localize("UTC") if oldest.tzinfo is None else oldest
    else:
        oldest = None
    old = out["old"].iloc[0]
    return [
        pure.retention_result(
            config, rows=window_rows(data, rows), old=int(old) if pd.notna(old) else 0, oldest=oldest, now=now
        )
    ]
