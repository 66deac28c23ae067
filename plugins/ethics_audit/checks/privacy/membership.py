"""Membership-inference risk: can an attacker tell training-set members from the model's outputs?

Members are marked by a boolean column (``checks.privacy.membership.column``, or
``columns.training_member``) or by a manifest of training entity ids. Two threshold attacks are
scored per prediction row: on the model's confidence, ``max(score, 1 - score)``, and, on
labelled rows, on the loss (the probability the model gave the true label, which orders rows
exactly as the negative log-loss does); signals equal to 10 decimals are ties. For each: the attack AUC (the probability that a random
member scores above a random non-member, ties counting half), a Poisson-bootstrap interval
(seeded) over a histogram of at most 2048 score bins, the attacker advantage (max TPR - FPR
over thresholds) and the TPR at 1% FPR. The generalisation gap is the accuracy on members minus
the accuracy on non-members (labelled rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import MembershipSpec, PrivacyConfig

CHECK = "privacy"
WHERE = "checks.privacy.membership"
MAX_BINS = 2048
LOW_FPR = 0.01
# signals equal to this many decimals are ties (1 - 0.3 and 0.7 differ in the last bit)
DECIMALS = 10
ATTACK_METRICS = ("attack_auc", "attacker_advantage", "tpr_at_1pct_fpr")


# --------------------------------------------------------------------------- the statistics


def score_histogram(signal: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct signal values (ascending) with the number of members and non-members at each."""
    import numpy as np

    order = np.argsort(signal)
    ordered = signal[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, np.int64)
    totals = np.diff(np.r_[starts, len(ordered)])
    members = np.add.reduceat(member[order].astype(np.int64), starts) if len(starts) else np.zeros(0, np.int64)
    return ordered[starts], members.astype(float), (totals - members).astype(float)


def auc_from_histogram(members: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC from counts per ascending score bin; works row-wise on 2-D inputs."""
    import numpy as np

    below = np.cumsum(others, axis=-1) - others
    wins = (members * (below + 0.5 * others)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (members.sum(axis=-1) * others.sum(axis=-1))


def roc_points(members: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR at every threshold, from the highest score down (starting at 0, 0)."""
    import numpy as np

    tpr = np.r_[0.0, np.cumsum(members[::-1]) / members.sum()]
    fpr = np.r_[0.0, np.cumsum(others[::-1]) / others.sum()]
    return fpr, tpr


def bootstrap_auc(
    members: np.ndarray, others: np.ndarray, *, resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile interval of the AUC under the Poisson bootstrap of rows.

    Each row gets a Poisson(1) weight; a bin of c rows then gets a Poisson(c) total, so a
    resample costs one draw per bin, not per row. Above ``MAX_BINS`` distinct scores,
    neighbouring scores are pooled into equal-count bins (pairs inside a bin count as ties:
    the interval moves by at most 1/(2 * MAX_BINS)).
    """
    import numpy as np

    total = members + others
    if len(total) > MAX_BINS:
        before = np.cumsum(total) - total
        bins = np.minimum((before * MAX_BINS / total.sum()).astype(np.int64), MAX_BINS - 1)
        members = np.bincount(bins, weights=members, minlength=MAX_BINS)
        others = np.bincount(bins, weights=others, minlength=MAX_BINS)
    rng = np.random.default_rng(seed)
    aucs = []
    for start in range(0, resamples, 256):
        size = (min(256, resamples - start), len(members))
        aucs.append(auc_from_histogram(rng.poisson(members, size), rng.poisson(others, size)))
    values = np.concatenate(aucs)
    values = values[np.isfinite(values)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


# --------------------------------------------------------------------------- reading the inputs


def membership_spec(config: PrivacyConfig, data: AuditData) -> MembershipSpec | None:
    """The configured membership spec, or one built from ``columns.training_member``."""
    from ethics_audit.spec import MembershipSpec

    if config.membership is not None:
        return config.membership
    if data.columns.training_member:
        return MembershipSpec(column=data.columns.training_member)
    return None


def _boolean(series: pd.Series, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(is member, is known) from a boolean-like column; anything else is an error."""
    import numpy as np
    import pandas as pd

    known = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.fillna(False).to_numpy(dtype=bool), known
    values = series[known]
    if pd.api.types.is_numeric_dtype(series.dtype):
        ok = values.isin((0, 1)).all()
    else:
        ok = values.map(lambda v: isinstance(v, bool | np.bool_)).all()
    if not ok:
        raise DataError(
            f"{field}: column {series.name!r} is not boolean (dtype {series.dtype}, "
            f"{values.nunique()} distinct values); it must say True/False (or 1/0) for each row: "
            "store a boolean membership flag, or give a manifest of training ids as membership.source"
        )
    return series.where(known, 0).astype(bool).to_numpy(), known


def score_range_error(score_column: str) -> DataError:
    return DataError(
        f"columns.score: {score_column!r} has values outside [0, 1]; membership inference reads it "
        "as the probability of the positive class: map a probability column"
    )


def no_score_results() -> list[MetricResult]:
    """The confidence attack's metrics when the window has no score to attack."""
    reason = {"reason": "needs columns.score (the model's probability) for the attack"}
    return [
        MetricResult(CHECK, m, None, slice={"signal": "confidence"}, status=Status.INSUFFICIENT_DATA, details=reason)
        for m in ATTACK_METRICS
    ]


def manifest_ids(spec: MembershipSpec, data: AuditData) -> pd.Series:
    """The training manifest's entity ids, or an error naming the field to fix."""
    manifest = data.training_members
    if manifest is None:
        raise DataError(f"{WHERE}.source: the training manifest was not loaded; check the source")
    column = spec.manifest_entity_column
    if column not in manifest.columns:
        raise DataError(
            f"{WHERE}.manifest_entity_column: {column!r} is not a column of the training manifest "
            f"(columns: {columns_withheld(manifest.columns)}); fix {WHERE}.manifest_entity_column"
        )
    return manifest[column]


def members_of(spec: MembershipSpec, data: AuditData) -> tuple[np.ndarray, np.ndarray, str]:
    """Membership per window row, which rows are known, and where membership came from."""
    import numpy as np

    frame = data.current
    if spec.source is not None:
        members = manifest_ids(spec, data)
        from ethics_audit.checks.privacy.consent import _aligned_ids

        ids, window_ids = _aligned_ids(members, frame[data.columns.entity_id])
        member = window_ids.isin(ids.dropna()).to_numpy()
        return member, window_ids.notna().to_numpy(), "manifest"
    assert spec.column is not None
    field = (
        f"{WHERE}.column"
        if data.spec.checks.privacy and data.spec.checks.privacy.membership
        else "columns.training_member"
    )
    if spec.column not in frame.columns:
        raise DataError(
            f"{field}: {spec.column!r} is not a column of the window "
            f"(columns: {columns_withheld(frame.columns)}); fix {field}"
        )
    member, known = _boolean(frame[spec.column], field)
    return np.asarray(member, dtype=bool), np.asarray(known, dtype=bool), "column"


def _binary(series: pd.Series) -> np.ndarray | None:
    """0/1 values as floats (NaN where missing), or None when the column is not binary."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(series, errors="coerce") if series.dtype == object else series
    if not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
        return None
    out = values.astype("float64").to_numpy()
    present = out[~np.isnan(out)]
    if series.notna().sum() != len(present) or not np.isin(present, (0.0, 1.0)).all():
        return None
    return out


# --------------------------------------------------------------------------- results


@dataclass
class AttackCounts:
    """What the attack's results need from the score histogram of members and non-members.

    ``auc``, ``advantage`` and ``tpr_low`` are computed where the histogram is (in memory from
    the rows, on an engine by window functions over the distinct scores); ``members_by_bin`` and
    ``others_by_bin`` are the histogram itself or, above ``MAX_BINS`` distinct scores, its
    ``MAX_BINS`` equal-count pools (all the bootstrap reads). The histogram (counts per distinct
    score) is the mergeable aggregate: histograms of chunks add.
    """

    rows: int
    members: int
    others: int
    auc: float = 0.0
    advantage: float = 0.0
    tpr_low: float = 0.0
    members_by_bin: np.ndarray | None = None
    others_by_bin: np.ndarray | None = None


def attack_counts(signal: np.ndarray, member: np.ndarray) -> AttackCounts:
    """The attack's counts from the rows' signals in memory."""
    import numpy as np

    out = AttackCounts(len(signal), int(member.sum()), int((~member).sum()))
    if min(out.members, out.others) == 0:
        return out
    _, in_members, in_others = score_histogram(signal, member)
    fpr, tpr = roc_points(in_members, in_others)
    out.auc = float(auc_from_histogram(in_members, in_others))
    out.advantage = float(np.max(tpr - fpr))
    out.tpr_low = float(tpr[fpr <= LOW_FPR].max())
    out.members_by_bin, out.others_by_bin = in_members, in_others
    return out


def attack_results(spec: MembershipSpec, counts: AttackCounts, name: str, extra: dict[str, Any]) -> list[MetricResult]:
    t = spec.thresholds
    n_members, n_others = counts.members, counts.others
    base = {"signal": name}
    details = {"members": n_members, "non_members": n_others, **extra}
    if min(n_members, n_others) < spec.min_group_size:
        reason = (
            f"needs at least {spec.min_group_size} members and non-members with a {name} signal; "
            f"got {n_members} and {n_others}"
        )
        return [
            MetricResult(CHECK, m, None, slice=base, n=counts.rows, status=Status.INSUFFICIENT_DATA,
                         details={**details, "reason": reason})
            for m in ATTACK_METRICS
        ]  # fmt: skip
    low = high = None
    if spec.bootstrap.resamples:
        assert counts.members_by_bin is not None and counts.others_by_bin is not None
        low, high = bootstrap_auc(
            counts.members_by_bin,
            counts.others_by_bin,
            resamples=spec.bootstrap.resamples,
            confidence=spec.bootstrap.confidence,
            seed=spec.bootstrap.seed,
        )
    n = counts.rows
    return [
        MetricResult(
            CHECK,
            "attack_auc",
            counts.auc,
            slice=base,
            ci_low=low,
            ci_high=high,
            n=n,
            threshold=t.get("attack_auc", require_significance=spec.require_significance),
            details={**details, "confidence": spec.bootstrap.confidence, "resamples": spec.bootstrap.resamples},
        ),
        MetricResult(
            CHECK, "attacker_advantage", counts.advantage, slice=base, n=n,
            threshold=t.get("attacker_advantage"), details=details,
        ),
        MetricResult(
            CHECK, "tpr_at_1pct_fpr", counts.tpr_low, slice=base, n=n,
            threshold=t.get("tpr_at_1pct_fpr"), details=details,
        ),
    ]  # fmt: skip


def _attack(
    spec: MembershipSpec, signal: np.ndarray, member: np.ndarray, name: str, extra: dict[str, Any]
) -> list[MetricResult]:
    return attack_results(spec, attack_counts(signal, member), name, extra)


def gap_result(
    spec: MembershipSpec, predicted_from: str | None, members: tuple[int, int], others: tuple[int, int]
) -> MetricResult:
    """The generalisation gap from (usable, correct) counts of labelled members and non-members;
    ``predicted_from`` None: there is no binary prediction to judge."""
    if predicted_from is None:
        return MetricResult(
            CHECK, "generalisation_gap", None, n=0, status=Status.INSUFFICIENT_DATA,
            details={"reason": "needs a binary columns.prediction or columns.score"},
        )  # fmt: skip
    usable = members[0] + others[0]
    details = {"members": members[0], "non_members": others[0], "predicted": predicted_from}
    if min(members[0], others[0]) < spec.min_group_size:
        details["reason"] = f"needs at least {spec.min_group_size} labelled members and non-members"
        return MetricResult(
            CHECK, "generalisation_gap", None, n=usable, status=Status.INSUFFICIENT_DATA, details=details
        )
    accuracy_members = members[1] / members[0]
    accuracy_others = others[1] / others[0]
    return MetricResult(
        CHECK,
        "generalisation_gap",
        accuracy_members - accuracy_others,
        n=usable,
        threshold=spec.thresholds.get("generalisation_gap"),
        details={**details, "accuracy_members": accuracy_members, "accuracy_non_members": accuracy_others},
    )


def _generalisation_gap(
    spec: MembershipSpec, data: AuditData, labels: np.ndarray, member: np.ndarray, score: np.ndarray | None
) -> MetricResult:
    import numpy as np

    columns = data.columns
    frame = data.current
    predicted_from: str | None = f"columns.prediction ({columns.prediction})"
    predicted = None
    if columns.prediction and columns.prediction in frame.columns:
        predicted = _binary(frame[columns.prediction])
    if predicted is None and score is not None:
        predicted, predicted_from = np.where(np.isnan(score), np.nan, (score >= 0.5).astype(float)), "score >= 0.5"
    if predicted is None:
        return gap_result(spec, None, (0, 0), (0, 0))
    usable = ~np.isnan(labels) & ~np.isnan(predicted)
    correct = predicted == labels
    in_members, in_others = usable & member, usable & ~member
    return gap_result(
        spec,
        predicted_from,
        (int(in_members.sum()), int(correct[in_members].sum())),
        (int(in_others.sum()), int(correct[in_others].sum())),
    )


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    import numpy as np
    import pandas as pd

    spec = membership_spec(config, data)
    if spec is None:
        return []
    member, known, source = members_of(spec, data)
    columns = data.columns
    frame = data.current
    extra = {"membership_from": source, "rows_with_unknown_membership": int((~known).sum())}
    score = None
    results: list[MetricResult] = []
    if columns.score and columns.score in frame.columns:
        score = pd.to_numeric(frame[columns.score], errors="coerce").astype("float64").to_numpy()
        present = score[~np.isnan(score)]
        if len(present) and (present.min() < 0 or present.max() > 1):
            raise score_range_error(columns.score)
        usable = known & ~np.isnan(score)
        confidence = np.round(np.maximum(score[usable], 1 - score[usable]), DECIMALS)
        results += _attack(spec, confidence, member[usable], "confidence", extra)
    else:
        results += no_score_results()
    labels = _binary(frame[columns.label]) if columns.label and columns.label in frame.columns else None
    if labels is not None and score is not None:
        usable = known & ~np.isnan(score) & ~np.isnan(labels)
        true_class = np.round(np.where(labels[usable] == 1, score[usable], 1 - score[usable]), DECIMALS)
        results += _attack(spec, true_class, member[usable], "loss", extra)
    if labels is not None:
        # rows with unknown membership count in neither group
        results.append(_generalisation_gap(spec, data, np.where(known, labels, np.nan), member, score))
    return results
