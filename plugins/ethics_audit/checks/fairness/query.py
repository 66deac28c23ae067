"""The fairness family's statistics on an engine: two aggregate queries, never the rows.

The first query (one scan) bounds what the second may group by: the distinct values of each
sensitive attribute and of the label and decision columns, and the scores' range. The second is
one GROUP BY over the attributes, the raw decision and label values, and the score's *band*
(how many of the spec's cut-offs it reaches; a score-derived decision for cut-off ``j`` is band
> ``j``), returning rows, scored rows, and the sums of the score and of score x (1 - score). The
few hundred rows that come back are validated as ``inputs`` validates a frame (same messages)
and coded into ``cells.Cells``. Both queries are Ibis expressions, so they run unchanged on
DuckDB, PostgreSQL or Spark; nothing here needs engine-specific SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.fairness.cells import MAX_GROUPS_PER_ATTRIBUTE, UNLABELLED, Cells, Rule, sort_key

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.spec import FairnessConfig

BAND = "__fairness_band"


def _arrow(rows: Rows, expr: Any) -> dict[str, list[Any]]:
    """A small result as Python values (ints stay ints, nulls are None), whatever the engine."""
    from ethics_audit.engine import MAX_RESULT_ROWS

    table = rows.backend.to_pyarrow(expr)
    if table.num_rows > MAX_RESULT_ROWS:
        raise RuntimeError(f"an aggregate returned {table.num_rows:,} rows: a statistic must stay small")
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _present_score(t: Any, column: str) -> Any:
    """The score as float64, null where it is missing (NaN counts as missing, as in pandas)."""
    import ibis

    s = t[column]
    from ethics_audit.errors import DataError

    kind = s.type()
    if not kind.is_numeric() or kind.is_boolean():
        raise DataError(
            f"checks.fairness: column {column!r} (columns.score) is not numeric ({kind}); "
            "map columns.score to the model's score in [0, 1]"
        )
    s = s.cast("float64")
    return ibis.ifelse(s.isnan(), ibis.null("float64"), s) if kind.is_floating() else s


def from_rows(config: FairnessConfig, data: AuditData, rows: Rows) -> Cells:
    """The window's ``Cells`` from its rows on an engine; raises ``DataError`` as ``inputs.prepare`` does."""
    import ibis

    from ethics_audit.checks.fairness.inputs import audited, check_binary, check_column, check_cut, json_scalar

    t = rows.table
    columns, positive = data.columns, config.positive_label
    field, attributes = audited(config, data)
    for name in attributes:
        check_column(t.columns, name, field, f"fix {field} or the source")
    binary = {}  # spec field -> column
    if columns.prediction is not None:
        check_column(
            t.columns, columns.prediction, "columns.prediction", "map columns.prediction to the decision column"
        )
        binary["columns.prediction"] = columns.prediction
    if columns.label is not None:
        fix = "map columns.label to the outcome column, or add a labels source that provides it"
        check_column(t.columns, columns.label, "columns.label", fix)
        binary["columns.label"] = columns.label
    score = _present_score(t, columns.score) if columns.score is not None and columns.score in t.columns else None

    # query 1: how many groups each key column has, and the scores' range
    stats = {f"n{i}": t[a].nunique() for i, a in enumerate(attributes)}
    stats |= {f"b_{f}": t[c].nunique() for f, c in binary.items()}
    if score is not None:
        stats |= {"lo": score.min(), "hi": score.max()}
    first = {k: v[0] for k, v in _arrow(rows, t.aggregate(**stats)).items()}
    for i, name in enumerate(attributes):
        if first[f"n{i}"] > MAX_GROUPS_PER_ATTRIBUTE:
            from ethics_audit.checks.fairness.cells import check_groups

            check_groups(name, list(range(first[f"n{i}"])), field)
    for spec_field, column in binary.items():
        if first[f"b_{spec_field}"] > 2:  # not binary: show a few of its values, as inputs does
            sample = _arrow(rows, t.select(column).filter(t[column].notnull()).distinct().limit(6))[column]
            check_binary(sample, positive, column, spec_field)
    span = None if score is None or first["lo"] is None else (float(first["lo"]), float(first["hi"]))

    # the decision rules: the spec's column or cut-off first, then the extra cut-offs
    cuts = list(config.extra_decision_thresholds)
    if columns.prediction is not None:
        rules = [Rule(None, f"column {columns.prediction!r}")]
        if config.decision_threshold is not None:
            cuts.insert(0, config.decision_threshold)
    elif config.decision_threshold is None:
        from ethics_audit.errors import DataError

        raise DataError(
            "checks.fairness: there is no decision: map columns.prediction, or columns.score "
            "with checks.fairness.decision_threshold"
        )
    else:
        check_cut(columns.score, score is not None, span, "checks.fairness.decision_threshold")
        rules = [Rule(None, f"{columns.score} >= {config.decision_threshold:g}")]
    for cut in cuts:
        check_cut(columns.score, score is not None, span, "checks.fairness.extra_decision_thresholds")
        rules.append(Rule(cut, f"{columns.score} >= {cut:g}"))
    primary_cut = config.decision_threshold if columns.prediction is None else None
    edges = sorted({c for c in [primary_cut, *cuts] if c is not None})

    # query 2: the GROUP BY
    keys = {f"a{i}": t[a] for i, a in enumerate(attributes)}
    keys |= {f"k_{f}": t[c] for f, c in binary.items()}
    if edges:
        # no boolean cast to bigint: PostgreSQL refuses it
        band = sum(ibis.ifelse(score >= e, 1, 0).cast("int64") for e in edges)
        keys[BAND] = ibis.ifelse(score.isnull(), ibis.null("int64"), band)
    aggregates = {"n": t.count()}
    if score is not None:
        aggregates |= {"scored": score.count(), "s": score.sum(), "v": (score * (1 - score)).sum()}
    grouped = _arrow(rows, t.group_by(**keys).aggregate(**aggregates))
    for spec_field, column in binary.items():
        check_binary([v for v in set(grouped[f"k_{spec_field}"]) if v is not None], positive, column, spec_field)

    def positive_of(values: list[Any]) -> np.ndarray:
        return np.array([-1 if v is None else int(v == positive) for v in values], dtype=np.int64)

    n_rows = len(grouped["n"])
    cell_keys = list(zip(*[[json_scalar(v) for v in grouped[f"a{i}"]] for i in range(len(attributes))], strict=True))
    state = positive_of(grouped["k_columns.label"]) if "columns.label" in binary else np.full(n_rows, -1)
    state = np.where(state < 0, UNLABELLED, state)
    band = np.array([-1 if b is None else b for b in grouped.get(BAND, [None] * n_rows)], dtype=np.int64)
    decisions = [positive_of(grouped["k_columns.prediction"])] if columns.prediction is not None else []
    for rule in rules[len(decisions) :]:
        cut = primary_cut if rule.threshold is None else rule.threshold
        decisions.append(np.where(band < 0, -1, band > edges.index(cut)))
    return _cells(config, attributes, cell_keys, grouped, decisions, state, rules, score is not None, span, binary)


def _cells(config, attributes, cell_keys, grouped, decisions, state, rules, has_score, span, binary) -> Cells:
    """Sum the grouped rows into per-cell arrays (cells in canonical order)."""
    from ethics_audit.checks.fairness.inputs import attribute_field, group_sets

    keys = sorted(set(cell_keys), key=sort_key(cell_keys))
    where = {key: i for i, key in enumerate(keys)}
    cell = np.array([where[k] for k in cell_keys], dtype=np.int64)
    n_cells = len(keys)
    n = np.asarray(grouped["n"], dtype=np.int64)
    tables = np.zeros((len(rules), n_cells, 6), dtype=np.int64)
    for r, d in enumerate(decisions):
        has = d >= 0
        np.add.at(tables[r], (cell[has], d[has] * 3 + state[has]), n[has])
    scores = np.zeros((n_cells, 2))
    known = np.zeros((n_cells, 6), dtype=np.int64)
    guess = np.zeros((2, n_cells, 2, 3))
    if has_score:
        scored = np.asarray(grouped["scored"], dtype=np.int64)
        s = np.array([0.0 if x is None else x for x in grouped["s"]])
        v = np.array([0.0 if x is None else x for x in grouped["v"]])
        np.add.at(scores, (cell, 0), s)
        np.add.at(scores, (cell, 1), scored)
        d0 = decisions[0]
        has = d0 >= 0
        labelled = has & (state != UNLABELLED)
        np.add.at(known, (cell[labelled], d0[labelled] * 3 + state[labelled]), scored[labelled])
        for u, use in enumerate((has & ~labelled, has)):
            for k, x in enumerate((scored, s, v)):
                np.add.at(guess[u], (cell[use], d0[use], k), x[use])
    out = Cells(
        attributes, keys, tables, scores, known, guess, int(n.sum()), rules,
        "columns.label" in binary, has_score, span, group_sets(attributes, config.intersections),
    )  # fmt: skip
    out.validate(attribute_field(config))
    return out
