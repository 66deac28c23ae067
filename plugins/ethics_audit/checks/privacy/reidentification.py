"""Re-identification risk over the quasi-identifiers: k-anonymity, records in small classes, uniqueness, l-diversity.

The window is first reduced to one row per entity (``columns.entity_id``), keeping each
entity's latest row by ``columns.timestamp``, because a person who appears in many predictions
is still one person. Entities are grouped into equivalence classes by the combination of their
``columns.quasi_identifiers`` (a missing value is a value of its own). From the class sizes:
k-anonymity (the smallest class), the share of entities in classes smaller than ``k``, and the
share of entities alone in their class (sample uniqueness). Distinct l-diversity of each
sensitive attribute and of the label is the smallest number of distinct values in a class.
Everything is integer codes and bincounts: no group-by over strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import PrivacyConfig

CHECK = "privacy"
ROW_KEPT = "the latest row of each entity by columns.timestamp (the later row on ties)"


def timestamps_ns(series: pd.Series) -> np.ndarray | None:
    """Nanoseconds since the epoch (UTC) as int64, or None when the column holds no timestamps."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series):
        return None
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ns]").to_numpy().view("int64")


def one_row_per_entity(frame: pd.DataFrame, entity: str, timestamp: str | None) -> np.ndarray:
    """Row positions of each entity's latest row (rows without an entity id are dropped)."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(frame[entity], use_na_sentinel=True)
    ts = timestamps_ns(frame[timestamp]) if timestamp and timestamp in frame.columns else None
    # rank rows by time (ties: row order), then keep the highest-ranked row of each entity
    order = np.argsort(ts, kind="stable") if ts is not None else np.arange(len(frame))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(len(frame))
    present = codes >= 0
    best = np.full(len(uniques), -1, dtype=np.int64)
    np.maximum.at(best, codes[present], rank[present])
    return np.sort(order[best[best >= 0]])


def equivalence_classes(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Class id of each row and the size of each class, for the combination of ``columns``."""
    import numpy as np
    import pandas as pd

    key = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes
        key, _ = pd.factorize(key)  # keep the combined key small: at most one code per row
    sizes = np.bincount(key) if len(key) else np.zeros(0, np.int64)
    return key.astype(np.int64), sizes


def distinct_per_class(class_id: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Number of distinct non-missing values of ``values`` in each class, and the rows that have one."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    present = codes >= 0
    pairs = np.unique(class_id[present] * (len(uniques) + 1) + codes[present])
    n_classes = int(class_id.max()) + 1 if len(class_id) else 0
    return np.bincount(pairs // (len(uniques) + 1), minlength=n_classes), present


def _missing(columns: list[str], names: list[str], where: str) -> None:
    for name in names:
        if name not in columns:
            raise DataError(
                f"checks.privacy.reidentification: {name!r} ({where}) is not a column of the window "
                f"(columns: {columns_withheld(columns)}); fix {where}"
            )


def judged_against(threshold: Threshold, setting: int | None) -> Threshold | None:
    """The spec's bounds when it set any; else warn below the configured ``k`` (or ``l``)."""
    if threshold.warn is not None or threshold.critical is not None:
        return threshold
    if setting is None:
        return threshold
    return Threshold(warn=float(setting), direction="below")


@dataclass
class ClassSizes:
    """Per equivalence class: its size and, per attribute, its distinct values and entities with one.

    The classes are keyed by the quasi-identifiers' values where they are computed; tables of
    several partitions of *entities* merge by adding sizes and counts of equal keys (distinct
    counts add only when an attribute's values do not repeat across partitions).
    """

    sizes: np.ndarray
    distinct: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self, k: int) -> ClassSummary:
        out = ClassSummary(
            len(self.sizes), int(self.sizes.sum()), int(self.sizes.min()), int((self.sizes < k).sum()),
            int(self.sizes[self.sizes < k].sum()), int((self.sizes == 1).sum()),
        )  # fmt: skip
        for attribute, distinct in self.distinct.items():
            present, populated = self.present[attribute], distinct > 0
            single = distinct == 1
            lowest = int(distinct[populated].min()) if populated.any() else 0
            out.attributes[attribute] = (
                int(populated.sum()),
                lowest,
                int(single.sum()),
                int(present[single].sum()),
                int(present.sum()),
            )
        return out


@dataclass
class ClassSummary:
    """What the results read of the classes: counts of classes and entities, whatever their number.

    ``attributes``: per attribute (classes with a value, the fewest distinct values among them,
    classes with one value, entities with a value in those, entities with a value)."""

    classes: int
    entities: int
    smallest: int
    classes_below_k: int
    entities_below_k: int
    unique: int
    attributes: dict[str, tuple[int, int, int, int, int]] = field(default_factory=dict)


def attributes_of(data: AuditData, columns: list[str]) -> list[str]:
    """The attributes whose l-diversity is measured: the sensitive ones and the label, not QIs."""
    qi = list(data.columns.quasi_identifiers)
    names = data.columns
    _missing(columns, qi, "columns.quasi_identifiers")
    _missing(columns, names.sensitive, "columns.sensitive")
    attributes = [a for a in names.sensitive if a not in qi]
    if names.label and names.label in columns and names.label not in qi:
        attributes.append(names.label)
    return attributes


def class_sizes(entities: pd.DataFrame, qi: list[str], attributes: list[str]) -> ClassSizes:
    """Classes of one-row-per-entity rows in memory."""
    import numpy as np

    class_id, sizes = equivalence_classes(entities, qi)
    out = ClassSizes(sizes)
    for attribute in attributes:
        distinct, present = distinct_per_class(class_id, entities[attribute].reset_index(drop=True))
        out.distinct[attribute] = distinct
        out.present[attribute] = np.bincount(class_id[present], minlength=len(sizes))
    return out


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.reidentification
    columns = data.columns
    qi = list(columns.quasi_identifiers)
    if not spec.enabled or not qi:
        return []
    frame = data.current
    attributes = attributes_of(data, list(frame.columns))
    kept = one_row_per_entity(frame, columns.entity_id, columns.timestamp)
    entities = frame[list(dict.fromkeys(qi + attributes))].iloc[kept]
    return class_results(config, data, class_sizes(entities, qi, attributes) if len(entities) else None)


def class_results(
    config: PrivacyConfig, data: AuditData, classes: ClassSizes | ClassSummary | None
) -> list[MetricResult]:
    """k-anonymity, share below k, uniqueness and l-diversity from the classes (None: no entity)."""
    spec = config.reidentification
    columns = data.columns
    qi = list(columns.quasi_identifiers)
    if isinstance(classes, ClassSizes):
        classes = classes.summary(spec.k) if len(classes.sizes) else None
    n = classes.entities if classes is not None else 0
    t = spec.thresholds
    base = {"quasi_identifiers": qi, "row_kept": ROW_KEPT, "entities": n}
    if n == 0 or classes is None:
        reason = {"reason": "no rows with an entity id in the window"}
        return [
            MetricResult(CHECK, m, None, n=0, status=Status.INSUFFICIENT_DATA, details=reason)
            for m in ("k_anonymity", "share_below_k", "sample_uniqueness")
        ]
    skipped = {a: "also a quasi-identifier, so always 1 within a class" for a in columns.sensitive if a in qi}
    results = [
        MetricResult(
            CHECK,
            "k_anonymity",
            classes.smallest,
            n=n,
            threshold=judged_against(t.get("k_anonymity"), spec.k),
            details={**base, "k": spec.k, "classes": classes.classes, "l_diversity_skipped": skipped},
        ),
        MetricResult(
            CHECK,
            "share_below_k",
            float(classes.entities_below_k) / n,
            n=n,
            threshold=t.get("share_below_k"),
            details={
                **base,
                "k": spec.k,
                "classes_below_k": classes.classes_below_k,
                "entities_below_k": classes.entities_below_k,
            },
        ),
        MetricResult(
            CHECK,
            "sample_uniqueness",
            float(classes.unique) / n,
            n=n,
            threshold=t.get("sample_uniqueness"),
            details={**base, "unique_entities": classes.unique},
        ),
    ]
    for attribute, (populated, lowest, single, in_single, present) in classes.attributes.items():
        role = "label" if attribute == columns.label else "sensitive"
        if populated == 0:
            results.append(
                MetricResult(
                    CHECK,
                    "l_diversity",
                    None,
                    slice={"attribute": attribute},
                    n=0,
                    status=Status.INSUFFICIENT_DATA,
                    details={"role": role, "reason": f"no entity in the window has a value of {attribute!r}"},
                )
            )
            continue
        results.append(
            MetricResult(
                CHECK,
                "l_diversity",
                lowest,
                slice={"attribute": attribute},
                n=present,
                threshold=judged_against(t.get("l_diversity"), spec.l),
                details={
                    "l": spec.l,
                    "role": role,
                    "quasi_identifiers": qi,
                    "classes": populated,
                    "classes_with_one_value": single,
                    "share_in_classes_with_one_value": float(in_single) / float(present),
                },
            )
        )
    return results
