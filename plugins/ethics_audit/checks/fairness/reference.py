"""The labelled reference rows the score estimates check calibration on, as the check reads them.

The check reads per group a ``Summary``: rows, score range, and per equal-width bin and per
score decile the rows, positive labels and sum of scores. The Hosmer-Lemeshow test splits each
group's scores into deciles by a *stable* sort, so rows tied on a score fall into a decile by
their order in the reference. From a frame in memory (``Reference``) each row's score, label and
attribute codes are kept and a group's summary is summed from its rows in their stable order;
from a reference left on an engine (``OnEngine``) the engine numbers each group's rows in the same
order with a window function and hands back only the sums per group, decile and bin (no rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.engine import Rows


@dataclass
class Reference:
    score: np.ndarray  # (rows,) float64, labelled rows with a score only
    label: np.ndarray  # (rows,) float64: 1.0 where the label is the positive label
    codes: dict[str, tuple[np.ndarray, list[Any]]]  # attribute -> (code per row, -1 missing; values)
    order: np.ndarray = field(init=False)  # the stable ascending order of ``score``
    _masks: dict[tuple[str, Any], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.order = np.argsort(self.score, kind="stable")

    def __len__(self) -> int:
        return len(self.score)

    def rows_with(self, attribute: str, value: Any) -> np.ndarray:
        """Where ``attribute`` is ``value`` (missing for None), as ``column == value`` says."""
        if (attribute, value) not in self._masks:
            codes, values = self.codes[attribute]
            if value is None:
                self._masks[attribute, value] = codes < 0
            else:
                self._masks[attribute, value] = np.isin(codes, [i for i, u in enumerate(values) if u == value])
        return self._masks[attribute, value]

    def groups(self, slices: list[dict[str, Any]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``group`` for every group of one attribute set at once, without a pass over all rows per group.

        The rows are sorted (stably) by their group's code twice: as they are (each group's rows in
        row order) and in score order (each group's rows in its stable score order)."""
        names = sorted(slices[0]) if slices else []
        radix, gid = 1, np.zeros(len(self), dtype=np.int64)
        wanted: list[list[int]] = [[0] for _ in slices]
        for name in names:
            codes, values = self.codes[name]
            gid += (codes + 1) * radix
            for g, base in enumerate(slices):
                value = base[name]
                hits = [0] if value is None else [i + 1 for i, u in enumerate(values) if u == value]
                if len(hits) != 1:  # a value equal to two codes (1 and 1.0): the per-group masks say it
                    return [self.group(self._mask(base)) for base in slices]
                wanted[g] = [w + hits[0] * radix for w in wanted[g]]
            radix *= len(values) + 1
        # 16-bit codes sort by radix (linear); wider ones by merge sort
        gid = gid.astype(np.int16 if radix < 2**15 else np.int32 if radix < 2**31 else np.int64)
        by_row = np.argsort(gid, kind="stable")
        by_score = self.order[np.argsort(gid[self.order], kind="stable")]
        sorted_gid = gid[by_row]
        starts = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]]) if len(gid) else np.zeros(0, int)
        # each row's position among its group's rows (in row order)
        rank = np.empty(len(gid), dtype=np.int64)
        rank[by_row] = np.arange(len(gid)) - np.repeat(starts, np.diff(np.r_[starts, len(gid)]))
        out = []
        for target in wanted:
            lo, hi = np.searchsorted(sorted_gid, [target[0], target[0] + 1])
            rows = by_row[lo:hi]
            out.append((self.score[rows], self.label[rows], rank[by_score[lo:hi]]))
        return out

    def _mask(self, base: dict[str, Any]) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        for attribute, value in base.items():
            mask &= self.rows_with(attribute, value)
        return mask

    def group(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A group's scores and labels (in row order) and their stable order by score.

        Restricting the whole reference's stable order to the group gives the group's own stable
        order (ties stay in row order), so no group is sorted again."""
        position = np.cumsum(mask) - 1
        return self.score[mask], self.label[mask], position[self.order[mask[self.order]]]

    def summaries(self, slices: list[dict[str, Any]], bins: int) -> list[Summary]:
        """Each group's ``Summary`` (as ``OnEngine.summaries`` gives it)."""
        return [summarise(score, label, bins, order) for score, label, order in self.groups(slices)]


def from_frame(frame: pd.DataFrame, score: str, label: str, attributes: list[str], positive: Any) -> Reference:
    """``frame``: the reference's labelled rows with a score (NaN already dropped)."""
    import pandas as pd

    codes = {}
    for name in attributes:
        code, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        codes[name] = (code, list(uniques))
    return Reference(
        frame[score].to_numpy(dtype=np.float64), (frame[label] == positive).to_numpy(dtype=np.float64), codes
    )


# an attribute with more distinct values is partitioned on as it is, not coded as an integer
MAX_CODED = 1000
# score bins of the first pass of ``OnEngine.summaries`` (per group at most this many rows come back)
FINE_BINS = 1024
# while all attributes' groups together are at most this many, one first pass serves every set
FUSED_GROUPS = 256


@dataclass
class Summary:
    """What the calibration check reads of one group's reference rows: their number and score
    range, and per equal-width score bin and per score decile (``np.array_split`` of the group's
    stable score order into ``min(10, n)`` parts) the rows, positive labels and sum of scores."""

    n: int
    low: float
    high: float
    bins: tuple[np.ndarray, np.ndarray, np.ndarray]  # (rows, positives, score sum) per bin
    deciles: tuple[np.ndarray, np.ndarray, np.ndarray]  # (rows, positives, score sum) per decile


def summarise(score: np.ndarray, label: np.ndarray, bins: int, order: np.ndarray) -> Summary:
    """A group's summary from its rows (``order``: their stable ascending order by score)."""
    edges = np.clip((np.clip(score, 0.0, 1.0) * bins).astype(int), 0, bins - 1)
    parts = np.array_split(order, min(10, len(score))) if len(score) else []
    return Summary(
        len(score),
        float(score.min()) if len(score) else float("nan"),
        float(score.max()) if len(score) else float("nan"),
        (np.bincount(edges, minlength=bins), np.bincount(edges, label, bins), np.bincount(edges, score, bins)),
        (
            np.array([len(g) for g in parts]),
            np.array([label[g].sum() for g in parts]),
            np.array([score[g].sum() for g in parts]),
        ),
    )


def from_rows(rows: Rows, score: str, label: str, attributes: list[str], positive: Any) -> OnEngine:
    """The same from a reference on an engine: its rows stay there (see ``OnEngine``)."""
    return OnEngine(rows, score, label, attributes, positive)


class OnEngine:
    """A labelled reference left on an engine. Per attribute set one query comes back: a GROUP BY
    of the groups x deciles x bins (at most 10 x ``bins`` rows a group, whatever the reference's
    size), from which every group's ``Summary`` is summed.

    The deciles are the in-memory path's exactly: each group's rows are numbered by a window
    function ordered by score, then by the row's position in the reference (``ROW_NUMBER() OVER
    ()``: the scan's order, which is the order the rows would come back in, so rows tied on a score
    split across deciles as a stable sort splits them), and row ``p`` of ``n`` falls in the decile
    ``np.array_split`` gives it (on Spark, which has no row order, tied rows are ordered by
    label instead). Counts are exact; sums of scores differ from numpy's only by the
    order of the additions (about 1e-15 relative)."""

    def __init__(self, rows: Rows, score: str, label: str, attributes: list[str], positive: Any):
        import ibis

        t = rows.table
        s = t[score]
        keep = s.notnull() & t[label].notnull()
        if s.type().is_floating():
            keep = keep & ~s.isnan()
        picked = {"s": s.cast("float64"), "y": ibis.cases((t[label] == positive, 1), else_=0)}
        self.names = {}
        for i, name in enumerate(attributes):
            value = t[name]
            if value.type().is_floating():  # NaN is missing, as in pandas
                value = ibis.cases((value.isnan(), ibis.null(value.type())), else_=value)
            picked[f"a{i}"] = value
            self.names[name] = f"a{i}"
        self.rows = rows
        self.kept = t.filter(keep).select(**picked)
        self.n = int(rows.execute(self.kept.count()))
        self._coded: dict[str, list[Any] | None] = {}
        self._fused: dict[int, pd.DataFrame] = {}  # ``_fine``'s table of every attribute, by bins

    def __len__(self) -> int:
        return self.n

    def _values(self, key: str) -> list[Any] | None:
        """An attribute's distinct values (missing left out), or None past ``MAX_CODED`` of them."""
        if key not in self._coded:
            found = self.rows.execute(self.kept.select(key).distinct().limit(MAX_CODED + 2))[key]
            values = [v for v in found if not _missing(v)]
            self._coded[key] = values if len(values) <= MAX_CODED else None
        return self._coded[key]

    def _group_id(self, keys: list[str]) -> tuple[Any, list[list[Any]]] | None:
        """One integer per group (0 for missing, else 1 + the value's index, mixed radix): the
        engine partitions and sorts on it far faster than on the attributes' text."""
        import ibis

        gid, radix, coded = ibis.literal(0, "int64"), 1, []
        for key in keys:
            values = self._values(key)
            if values is None or radix * (len(values) + 1) >= 2**62:
                return None
            column = self.kept[key]
            code = ibis.cases(*((column == v, i + 1) for i, v in enumerate(values)), else_=0) if values else 0
            gid = gid + ibis.literal(radix, "int64") * code
            radix *= len(values) + 1
            coded.append(values)
        return gid, coded

    def summaries(self, slices: list[dict[str, Any]], bins: int) -> list[Summary]:
        if not slices:
            return []
        names = sorted(slices[0])
        keys = [self.names[name] for name in names]
        coded = self._group_id(keys)
        if coded is not None and math.prod(len(v) + 1 for v in coded[1]) * FINE_BINS >= 2**62:
            coded = None  # a group x fine bin key would not fit in 64 bits
        if coded is None:
            found = self._sorted(keys, bins)
            key_columns = [list(found[c]) for c in keys]
        else:
            found = self._binned(coded[0], bins, keys)
            ids, radix = found["g"].to_numpy(np.int64), 1
            key_columns = []
            for values in coded[1]:
                code = (ids // radix) % (len(values) + 1)
                key_columns.append([None if c == 0 else values[c - 1] for c in code])
                radix *= len(values) + 1
        index: dict[tuple, list[int]] = {}
        for i, key in enumerate(zip(*key_columns, strict=True) if keys else [()] * len(found)):
            index.setdefault(tuple(None if _missing(v) else v for v in key), []).append(i)
        out = []
        for base in slices:
            wanted = tuple(base[name] for name in names)
            hits = [i for key, at in index.items() if _same_group(key, wanted) for i in at]
            out.append(_summary(found.iloc[hits], bins))
        return out

    def _scored(self, gid: Any, bins: int) -> Any:
        """The labelled rows' score, label and group (``gid``), with their fine bin and bin."""
        import ibis

        t = self.kept.mutate(g=gid).select("s", "y", "g")
        clamped = ibis.greatest(ibis.least(t.s, 1.0), 0.0)
        return t.mutate(
            f=ibis.least((clamped * FINE_BINS).floor(), FINE_BINS - 1).cast("int64"),
            b=ibis.least((clamped * bins).floor(), bins - 1).cast("int64"),
        )

    def _fine(self, t: Any, keys: list[str], bins: int) -> pd.DataFrame:
        """``_binned``'s first pass: rows, positives, score sums and range per group of ``keys``, fine
        bin and bin. Up to ``FUSED_GROUPS``, one GROUP BY of every attribute serves every set (a
        set's group is a union of those groups, its sums added up from them); else ``t`` grouped."""
        every = list(self.names.values())
        coded = [self._values(key) for key in every]
        if any(v is None for v in coded) or math.prod(len(v) + 1 for v in coded) > FUSED_GROUPS:
            return self._sums(t)
        if bins not in self._fused:
            self._fused[bins] = self._sums(self._scored(self._group_id(every)[0], bins))
        whole = self._fused[bins]
        ids, radix, code = whole["g"].to_numpy(np.int64), 1, {}
        for key, values in zip(every, coded, strict=True):
            code[key], radix = (ids // radix) % (len(values) + 1), radix * (len(values) + 1)
        gid, radix = np.zeros(len(whole), np.int64), 1
        for key in keys:  # the set's own ``_group_id``
            gid, radix = gid + radix * code[key], radix * (len(self._values(key) or []) + 1)
        sums = {k: (k, "min" if k == "lo" else "max" if k == "hi" else "sum") for k in ("n", "y", "total", "lo", "hi")}
        return whole.assign(g=gid).groupby(["g", "f", "b"], as_index=False, sort=False).agg(**sums)

    def _sums(self, t: Any) -> pd.DataFrame:
        sums = {"n": t.count(), "y": t.y.sum(), "total": t.s.sum(), "lo": t.s.min(), "hi": t.s.max()}
        return self.rows.execute(t.group_by(["g", "f", "b"]).agg(**sums))

    def _binned(self, gid: Any, bins: int, keys: list[str]) -> pd.DataFrame:
        """The sums per group, decile and bin without sorting the reference: a GROUP BY of the
        groups x ``FINE_BINS`` score bins (fine bins are in score order, so a group's cumulative
        counts say which decile each fine bin's rows fall in), then the few rows of the fine bins
        a decile edge falls inside, numbered in the stable order by a window function there only.
        At 10M reference rows the full sort took 2.9 s an attribute set, these two scans 0.9 to 1.2 s."""
        import ibis
        import pandas as pd

        t = self._scored(gid, bins)
        fine = self._fine(t, keys, bins).sort_values(["g", "f", "b"])
        fine = fine.astype({"g": np.int64, "f": np.int64, "b": np.int64, "n": np.int64})
        # per (group, fine bin): its rows' first position in the group's score order
        per_bin = fine.groupby(["g", "f"], sort=True)["n"].sum()
        group_of = per_bin.index.get_level_values("g").to_numpy(np.int64)
        counts = per_bin.to_numpy(np.int64)
        totals = per_bin.groupby(level="g").transform("sum").to_numpy(np.int64)
        first = np.cumsum(counts) - counts
        first -= np.maximum.accumulate(np.where(np.r_[True, group_of[1:] != group_of[:-1]], first, 0))
        low, high = _decile(first, totals), _decile(first + counts - 1, totals)
        edges = pd.DataFrame({"g": group_of, "f": per_bin.index.get_level_values("f"), "start": first,
                              "gn": totals, "d": np.where(low == high, low, -1)})  # fmt: skip
        fine = fine.merge(edges[["g", "f", "d"]], on=["g", "f"])
        whole = fine[fine.d >= 0].drop(columns="f")
        split = edges[edges.d < 0]
        if not len(split):
            return whole.reset_index(drop=True)
        # the fine bins with a decile edge inside, picked by one IN list of (group, fine bin)
        # integers: their rows numbered in the stable order from the bin's first position (the
        # constants are this query's own counts, never the data's text)
        key = t.g * FINE_BINS + t.f
        wanted = [int(g) * FINE_BINS + int(f) for g, f in zip(split.g, split.f, strict=True)]
        # numbered after the filter: the rows' order among these rows is their order among all
        e = _numbered(t.filter(key.isin(wanted)), self.rows.engine)
        key = e.g * FINE_BINS + e.f
        start = ibis.cases(*((key == w, int(at)) for w, at in zip(wanted, split.start, strict=True)))
        gn = ibis.cases(*((e.g == int(g), int(n)) for g, n in split.groupby("g").gn.first().items()))
        e = e.mutate(start=start, gn=gn)
        e = e.mutate(gp=e.start + ibis.row_number().over(group_by=["g", "f"], order_by=[e.s, e.r]))
        e = e.mutate(d=_decile_of(e.gp, e.gn))
        found = self.rows.execute(
            e.group_by(["g", "d", "b"]).agg(n=e.count(), y=e.y.sum(), total=e.s.sum(), lo=e.s.min(), hi=e.s.max())
        )
        return pd.concat([whole, found[whole.columns]], ignore_index=True)

    def _sorted(self, keys: list[str], bins: int) -> pd.DataFrame:
        """The same sums with every group's rows numbered by one sort (groups of attributes with
        too many values to code as integers)."""
        import ibis

        t = _numbered(self.kept, self.rows.engine).select("s", "y", "r", *keys)  # only these are sorted
        t = t.mutate(
            gp=ibis.row_number().over(group_by=keys or None, order_by=[t.s, t.r]),
            gn=t.s.count().over(group_by=keys or None),
        )
        t = t.mutate(
            d=_decile_of(t.gp, t.gn), b=ibis.least((ibis.greatest(ibis.least(t.s, 1.0), 0.0) * bins).floor(), bins - 1)
        )
        return self.rows.execute(
            t.group_by([*keys, "d", "b"]).agg(n=t.count(), y=t.y.sum(), total=t.s.sum(), lo=t.s.min(), hi=t.s.max())
        )


def _numbered(table: Any, engine: str) -> Any:
    """``table`` with ``r``, the rows' order that breaks ties of a score: their order in the scan
    (``ROW_NUMBER() OVER ()``). Spark has no order of rows to number: there ties are split by
    label, negatives first."""
    import ibis

    return table.mutate(r=table.y if engine == "spark" else ibis.row_number().over())


def _decile(position: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The decile ``np.array_split`` puts row ``position`` of ``n`` in (``min(10, n)`` parts)."""
    k = np.minimum(n, 10)
    q, extra = n // k, n % k
    big = extra * (q + 1)  # the first ``extra`` deciles have one row more
    return np.where(position < big, position // (q + 1), extra + (position - big) // np.maximum(q, 1))


def _decile_of(position: Any, n: Any) -> Any:
    """``_decile`` as an engine's expression of the columns ``position`` and ``n``."""
    import ibis

    k = ibis.least(n, 10)
    q, extra = n // k, n % k
    big = extra * (q + 1)
    return ibis.ifelse(position < big, position // (q + 1), extra + (position - big) // q)


def _same_group(key: tuple, wanted: tuple) -> bool:
    """A group of the engine is the slice's when each value is equal (``==``), or both missing."""
    return all((w is None) if v is None else (w is not None and v == w) for v, w in zip(key, wanted, strict=True))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _summary(part: Any, bins: int) -> Summary:
    n = int(part["n"].sum())
    rows, y, total = (part[c].to_numpy(np.float64) for c in ("n", "y", "total"))
    at_bin, at_decile = part["b"].to_numpy(np.int64), part["d"].to_numpy(np.int64)

    def by(where: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = np.bincount(where, rows, size).astype(np.int64)
        return count, np.bincount(where, y, size), np.bincount(where, total, size)

    return Summary(
        n,
        float(part["lo"].min()) if n else float("nan"),
        float(part["hi"].max()) if n else float("nan"),
        by(at_bin, bins),
        by(at_decile, min(10, n)),
    )
