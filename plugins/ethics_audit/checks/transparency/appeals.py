"""Appeals: can people contest a decision, and do they get a fair and timely answer, by group?

The appeals ledger (appeal id, prediction or entity id, filed, decided, outcome) is attributed
to the decisions it contests: by prediction id, or with ``join_on: entity_id`` to the entity's
latest adverse decision in the window before the appeal was filed (appeals filed in the
window). An appeal therefore counts toward the window of its decision, whenever it arrives, and
re-running the window replaces its results. Rows that repeat an appeal id are states of one
appeal (the last decided one wins), and a decision contested twice counts once, with its latest
appeal: nothing is counted twice. Per group: appeal rate (appealed / adverse decisions),
overturn rate (overturned / decided), their disparities with the fairness family's intervals,
median and 90th-percentile days to decide against the ``sla``, and the share decided past it;
for the window, the counts a DSA Art. 15 report needs and the open appeals already past the SLA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ethics_audit.checks.privacy.consent import _aligned_ids, _ns, _utc
from ethics_audit.checks.transparency.groups import (
    WHERE,
    GroupTable,
    Results,
    adverse_rows,
    cell_table,
    encode,
    require_columns,
    tables_of_cells,
)
from ethics_audit.errors import DataError
from ethics_audit.results import Threshold
from ethics_audit.spec import APPEAL_OUTCOMES
from ethics_audit.windows import format_duration

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Groups
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import AppealsSpec, TransparencyConfig

PART = f"{WHERE}.appeals"
# categories of a row: adverse and not appealed, appealed and pending, upheld, overturned; favourable
NOT_APPEALED, PENDING, UPHELD, OVERTURNED, FAVOURABLE = range(5)
DAY_NS = 86400 * 10**9


def read_ledger(spec: AppealsSpec, data: AuditData) -> pd.DataFrame:
    """The ledger as key (prediction or entity id), filed, decided (ns, -1 when not), outcome code;
    one row per appeal. Raises ``DataError`` naming the source, the column and the fix."""
    if data.appeals is None:
        raise DataError(f"{PART}.source: the appeals ledger was not loaded; check the source")
    raw = data.appeals
    source = spec.source.describe()
    cols = spec.columns
    roles = {
        "appeal_id": cols.appeal_id,
        spec.join_on: getattr(cols, spec.join_on),
        "filed_at": cols.filed_at,
        "decided_at": cols.decided_at,
        "outcome": cols.outcome,
    }
    require_columns(raw, roles, PART, "appeals ledger", source)

    def fail(column: str, problem: str, fix: str) -> DataError:
        return DataError(f"{PART}.columns.{column}: {problem} in the appeals ledger ({source}); {fix}")

    codes, names = pd.factorize(raw[cols.outcome], use_na_sentinel=True)
    if (codes < 0).any():
        raise fail("outcome", f"{int((codes < 0).sum())} appeals have no outcome ({cols.outcome!r})",
                   f"give every appeal one of {', '.join(APPEAL_OUTCOMES)} (pending while undecided)")  # fmt: skip
    normal = [str(n).strip().lower() for n in names]
    unknown = sorted({n for n in normal if n not in APPEAL_OUTCOMES})
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:5])
        raise fail("outcome", f"unknown outcomes ({shown}) in {cols.outcome!r}",
                   f"outcomes must be one of {', '.join(APPEAL_OUTCOMES)}: map them in the ledger's source query")  # fmt: skip
    outcome = np.asarray([APPEAL_OUTCOMES.index(n) for n in normal], dtype=np.int8)[codes] if len(raw) else np.zeros(0)
    for role in ("appeal_id", spec.join_on, "filed_at"):
        missing = int(raw[roles[role]].isna().sum())
        if missing:
            what = "an appeal for no decision" if role == spec.join_on else f"no {role}"
            raise fail(role, f"{missing} appeals have {what} ({roles[role]!r})",
                       "every appeal needs its id, the decision (or person) it contests and when it was filed")  # fmt: skip
    filed = _ns(_utc(raw[cols.filed_at], f"{PART}.columns.filed_at", cols.filed_at))
    decided_ts = _utc(raw[cols.decided_at], f"{PART}.columns.decided_at", cols.decided_at)
    has_decision = decided_ts.notna().to_numpy()
    decided = np.where(has_decision, _ns(decided_ts.fillna(pd.Timestamp(0, tz="UTC"))), -1)
    is_decided = outcome != APPEAL_OUTCOMES.index("pending")
    if (is_decided & ~has_decision).any():
        raise fail("decided_at", f"{int((is_decided & ~has_decision).sum())} overturned or upheld appeals have no "
                   f"decision time ({cols.decided_at!r})", "give decided_at, or mark the appeal pending")  # fmt: skip
    if (~is_decided & has_decision).any():
        raise fail("decided_at", f"{int((~is_decided & has_decision).sum())} pending appeals have a decision time",
                   "give the outcome of decided appeals (overturned or upheld), or clear decided_at")  # fmt: skip
    early = has_decision & (decided < filed)
    if early.any():
        raise fail("decided_at", f"{int(early.sum())} appeals were decided before they were filed ({cols.decided_at!r} "
                   f"< {cols.filed_at!r})", "check the two columns' time zones and order")  # fmt: skip
    ledger = pd.DataFrame(
        {"appeal": raw[cols.appeal_id].to_numpy(), "key": raw[roles[spec.join_on]].to_numpy(), "filed": filed,
         "decided": decided, "outcome": outcome}
    )  # fmt: skip
    # repeated appeal ids are states of one appeal: keep the decided (latest) state
    ledger = ledger.sort_values(["decided", "filed"], kind="stable")
    return ledger.drop_duplicates(subset="appeal", keep="last").reset_index(drop=True)


def filed_before(spec: AppealsSpec, count: int) -> DataError:
    return DataError(
        f"{PART}.columns.filed_at: {count} appeals were filed before the decision they contest was made "
        f"(appeals ledger, {spec.source.describe()}); check that {spec.columns.prediction_id!r} holds the "
        "contested prediction's id"
    )


def repeated_ids(count: int, column: str | None) -> DataError:
    return DataError(
        f"{PART}: {count} prediction ids repeat in the window (columns.prediction_id {column!r}); appeals need one "
        "id per decision"
    )


def attribute(spec: AppealsSpec, data: AuditData, ledger: pd.DataFrame, adverse: np.ndarray) -> pd.DataFrame:
    """Each appeal's window row (``row``); appeals for other windows' decisions are dropped."""
    frame = data.current
    stamps = _ns(_utc(frame[data.columns.timestamp], "columns.timestamp", data.columns.timestamp))
    if spec.join_on == "prediction_id":
        keys, window_ids = _aligned_ids(ledger["key"], frame[data.columns.prediction_id])
        index = pd.Index(window_ids)
        if not index.is_unique:
            raise repeated_ids(int(index.duplicated().sum()), data.columns.prediction_id)
        position = index.get_indexer(keys)
        matched = ledger.assign(row=position)[position >= 0]
        before = matched["filed"].to_numpy() < stamps[matched["row"].to_numpy()]
        if before.any():
            raise filed_before(spec, int(before.sum()))
    else:
        start, end = pd.Timestamp(data.window_start).value, pd.Timestamp(data.window_end).value
        filed = ledger[(ledger["filed"] >= start) & (ledger["filed"] < end)]
        keys, window_ids = _aligned_ids(filed["key"], frame[data.columns.entity_id])
        rows = np.flatnonzero(adverse)
        decisions = pd.DataFrame({"key": window_ids.to_numpy()[rows], "ts": stamps[rows], "row": rows})
        appeals = filed.assign(key=keys.to_numpy(), ts=filed["filed"].to_numpy())
        joined = pd.merge_asof(
            appeals.sort_values("ts", kind="stable"), decisions.sort_values("ts", kind="stable"), on="ts", by="key",
            direction="backward", allow_exact_matches=True,
        )  # fmt: skip
        matched = joined[joined["row"].notna()].astype({"row": np.int64})
    # a decision contested twice counts once, with its latest appeal
    return matched.sort_values("filed", kind="stable").drop_duplicates(subset="row", keep="last")


def _quantiles(days: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 90th percentile of ``days`` per group, and each group's count."""
    median, p90 = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    sizes = np.bincount(group, minlength=n_groups)
    order = np.argsort(group, kind="stable")
    for g, part in enumerate(np.split(days[order], np.cumsum(sizes)[:-1])):
        if len(part):
            median[g], p90[g] = np.quantile(part, [0.5, 0.9])
    return median, p90, sizes


def _times(results: Results, gt: GroupTable, group_of_row: np.ndarray, days: np.ndarray, sla_days: float) -> None:
    """Days to decide per group against the SLA: p90 beyond it warns, the median beyond it is critical."""
    config = results.config
    median, p90, sizes = _quantiles(days, group_of_row, len(gt.slices))
    late = np.bincount(group_of_row, weights=(days > sla_days).astype(float), minlength=len(gt.slices))
    for g, slice_ in enumerate(gt.slices):
        n = int(sizes[g])
        metrics = {
            "median_days_to_decide": (median[g], Threshold(critical=sla_days)),
            "p90_days_to_decide": (p90[g], Threshold(warn=sla_days)),
            "decided_past_sla_share": (
                late[g] / n if n else np.nan,
                results.threshold("decided_past_sla_share", interval=False),
            ),
        }
        for metric, (value, threshold) in metrics.items():
            if n < config.min_group_size:
                reason = f"{n} decided appeals, fewer than min_group_size {config.min_group_size}"
                results.insufficient(metric, slice_, reason, n=n, threshold=threshold)
            else:
                results.add(metric, round(float(value), 6), slice_, n=n, threshold=threshold, sla_days=sla_days)


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.appeals
    if spec is None:
        return []
    adverse = adverse_rows(config, data)
    if adverse is None:
        raise DataError(f"{PART}: needs columns.prediction, the decisions that people appeal")
    attributes, groups = encode(config, data)
    ledger = read_ledger(spec, data)
    matched = attribute(spec, data, ledger, adverse)
    rows = matched["row"].to_numpy()
    category = np.where(adverse, NOT_APPEALED, FAVOURABLE).astype(np.int64)
    on_favourable = int((~adverse[rows]).sum())
    code = outcome_category(matched["outcome"].to_numpy())
    category[rows] = np.where(adverse[rows], code, FAVOURABLE)
    decided = adverse[rows] & (code != PENDING)
    days = (matched["decided"].to_numpy() - matched["filed"].to_numpy()) / DAY_NS
    table = cell_table(groups, category, 5)
    cells = groups.cell_of_row[rows[decided]]
    return report(config, spec, data, attributes, groups, table, cells, days[decided], ledger, matched, on_favourable)


def outcome_category(outcome: np.ndarray) -> np.ndarray:
    """The row category of each appeal's ledger outcome code (pending, upheld or overturned)."""
    return np.select([outcome == APPEAL_OUTCOMES.index(o) for o in ("pending", "upheld", "overturned")],
                     [PENDING, UPHELD, OVERTURNED])  # fmt: skip


def report(
    config: TransparencyConfig,
    spec: AppealsSpec,
    data: AuditData,
    attributes: list[str],
    groups: Groups,
    table: np.ndarray,
    decided_cells: np.ndarray,
    days: np.ndarray,
    ledger: pd.DataFrame,
    matched: pd.DataFrame,
    on_favourable: int,
) -> list[MetricResult]:
    """The part's results from counts per (cell, category) and the decided appeals' cells and days:
    the same whether the rows were counted in memory or on an engine (``aggregates``)."""
    results = Results(config)
    sla_days = spec.sla.total_seconds() / 86400
    adverse_all = (NOT_APPEALED, PENDING, UPHELD, OVERTURNED)
    for gt in tables_of_cells(attributes, groups, table, config):
        appeal = results.rate("appeal_rate", gt, (PENDING, UPHELD, OVERTURNED), adverse_all, what="adverse decisions")
        overturn = results.rate("overturn_rate", gt, (OVERTURNED,), (UPHELD, OVERTURNED), what="decided appeals")
        _times(results, gt, _group_of_cells(gt, groups, attributes, decided_cells), days, sla_days)
        if gt.is_window:
            _window_counts(results, gt, spec, data, ledger, matched, days, on_favourable)
            continue
        results.disparity("appeal_rate_difference", "difference", gt, appeal, what="adverse decisions")
        results.disparity("overturn_rate_difference", "difference", gt, overturn, what="decided appeals")
        results.disparity("overturn_rate_ratio", "ratio", gt, overturn, what="decided appeals")
    return results.out


def _group_of_cells(gt: GroupTable, groups: Groups, attributes: list[str], cells: np.ndarray) -> np.ndarray:
    """The group (index into ``gt.slices``) of each given cell."""
    if gt.is_window:
        return np.zeros(len(cells), dtype=np.int64)
    from ethics_audit.checks.fairness import counts

    names = gt.name.split("+")
    positions = tuple(sorted(attributes.index(a) for a in names))
    group_of_cell, _ = counts.group_of_cells(groups.cell_codes, positions)
    return group_of_cell[cells]


def _window_counts(
    results: Results,
    gt: GroupTable,
    spec: AppealsSpec,
    data: AuditData,
    ledger: pd.DataFrame,
    matched: pd.DataFrame,
    days: np.ndarray,
    on_favourable: int,
) -> None:
    """The window's totals (what a DSA Art. 15 report counts) and the open appeals past the SLA."""
    t = gt.table[0]
    adverse = int(t[:4].sum())
    counts = {
        "adverse_decisions": adverse,
        "appeals_received": int(t[PENDING] + t[UPHELD] + t[OVERTURNED]),
        "appeals_decided": int(t[UPHELD] + t[OVERTURNED]),
        "appeals_overturned": int(t[OVERTURNED]),
        "appeals_pending": int(t[PENDING]),
    }
    hours = sorted(np.rint(days * 24).astype(np.int64).tolist())
    for metric, value in counts.items():
        details = {"appeals_of_favourable_decisions": on_favourable} if metric == "appeals_received" else {}
        if metric == "appeals_decided":
            details["hours_to_decide"] = hours  # durations only: lets a quarter's median be exact to the hour
        results.add(metric, value, {}, n=adverse, **details)
    now = pd.Timestamp(data.now or data.window_end).value
    pending = matched[matched["outcome"].to_numpy() == APPEAL_OUTCOMES.index("pending")]
    overdue = int(((now - pending["filed"].to_numpy()) > spec.sla.total_seconds() * 1e9).sum())
    results.add(
        "open_appeals_past_sla", overdue, {}, n=len(pending),
        threshold=results.threshold("open_appeals_past_sla", interval=False),
        sla=format_duration(spec.sla), as_of=pd.Timestamp(now, tz="UTC").isoformat(),
        ledger_appeals=len(ledger),
    )  # fmt: skip
