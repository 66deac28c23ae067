"""Differentially private group counts and selection rates for the publishable quarterly report.

The store holds, per window and group, the group's row count and its positive decisions (the
``selected`` count the fairness check records with the selection rate); summed over the
quarter's windows they give each group's count ``n`` and positive decisions ``k``. OpenDP
releases them with calibrated discrete Laplace noise in two steps, each spending half of the
audit's epsilon:

1. counts through ``make_laplace_threshold``: a group is published only when its noisy count
   reaches the threshold (the spec's ``dp_min_count``, raised if needed so that the chance of a
   tiny group slipping through stays below ``dp_delta``); groups below it are not mentioned;
2. positives of the published groups through ``make_laplace``; the rate is their ratio.

The unit of privacy is one prediction row, times ``dp_contributions_per_entity`` rows per
person; every row falls in one group of each attribute set (e.g. gender, age band, and their
intersection), which sets the sensitivity. Each published number comes with its 95% accuracy:
the count's from OpenDP's ``discrete_laplacian_scale_to_accuracy``, the rate's from a union
bound, ``(a_k + a_n) / noisy n`` with both at 97.5%, which holds whatever the true rate. The
budget is charged to the ledger, per audit and calendar year of the data, before any noise is
drawn; a release that would exceed ``reports.dp_yearly_epsilon`` is refused.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.reports.model import WindowView
    from ethics_audit.store import Store

ALPHA = 0.05  # published accuracies are 95% half-widths
DEFAULTS = {"dp_yearly_epsilon": 1.0, "dp_delta": 1e-7, "dp_min_count": 50, "dp_contributions_per_entity": 1}


@dataclass(frozen=True)
class GroupTotal:
    """A group's count and positive decisions over the quarter (``positives`` None: not known for every window)."""

    slice: tuple[tuple[str, str], ...]
    n: int
    positives: int | None

    @property
    def attribute_set(self) -> str:
        return " × ".join(k for k, _ in self.slice)

    @property
    def key(self) -> str:
        return "|".join(f"{k}={v}" for k, v in self.slice)


@dataclass(frozen=True)
class Plan:
    epsilon: float
    delta: float
    attribute_sets: int
    contributions: int
    count_scale: float
    positive_scale: float
    threshold: int
    min_count: int

    @property
    def count_accuracy(self) -> float:
        return accuracy(self.count_scale, ALPHA)


@dataclass
class Published:
    attribute_set: str
    label: str
    count: int
    count_accuracy: float
    rate: float | None
    rate_accuracy: float | None


@dataclass
class Release:
    plan: Plan
    groups: list[Published] = field(default_factory=list)

    def by_attribute_set(self) -> dict[str, list[Published]]:
        out: dict[str, list[Published]] = defaultdict(list)
        for g in self.groups:
            out[g.attribute_set].append(g)
        return dict(out)

    def gaps(self) -> dict[str, float]:
        """Highest minus lowest published rate per attribute set (post-processing: no extra budget)."""
        out = {}
        for name, groups in self.by_attribute_set().items():
            rates = [g.rate for g in groups if g.rate is not None]
            if len(rates) >= 2:
                out[name] = max(rates) - min(rates)
        return out


def _dp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError:
        raise AuditError(
            "the public report needs OpenDP: pip install opendp==0.16.0 (it is in requirements.txt)"
        ) from None
    dp.enable_features("contrib")
    return dp


def accuracy(scale: float, alpha: float) -> float:
    return float(_dp().discrete_laplacian_scale_to_accuracy(scale, alpha))


def group_totals(windows: list[WindowView]) -> list[GroupTotal]:
    """Sum each group's rows and positive decisions over the audited windows (``WindowView.group_counts``).

    The counts are the fairness check's own, exact; a group whose positives are unknown in any
    window (its selection rate was not computed there) has ``positives`` None for the quarter.
    """
    n: dict[tuple, int] = defaultdict(int)
    positives: dict[tuple, int | None] = {}
    for w in windows:
        for group in w.group_counts():
            key = group.slice
            n[key] += group.rows
            if group.positives is None or (key in positives and positives[key] is None):
                positives[key] = None
            else:
                positives[key] = (positives.get(key) or 0) + group.positives
    return [GroupTotal(key, n[key], positives.get(key)) for key in sorted(n)]


def settings(spec: dict[str, Any] | None) -> dict[str, Any]:
    stored = ((spec or {}).get("reports") or {}) if isinstance(spec, dict) else {}
    return {k: stored.get(k, default) for k, default in DEFAULTS.items()}


def make_plan(totals: list[GroupTotal], epsilon: float, *, delta: float, min_count: int, contributions: int) -> Plan:
    """Noise scales and the publication threshold that spend exactly ``epsilon`` with at most ``delta``."""
    dp = _dp()
    sets = max(1, len({t.attribute_set for t in totals}))
    d_counts = (sets * contributions, sets * contributions, contributions)
    d_positives = sets * contributions
    half = epsilon / 2
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=dp.i64))
    metric = dp.l01inf_distance(dp.absolute_distance(T=dp.i64))

    def counts(scale: float, threshold: int) -> Any:
        return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)

    huge = 2**30  # fits the i32 search OpenDP runs for integers
    count_scale = dp.binary_search(lambda s: counts(s, huge).map(d_counts)[0] <= half, bounds=(1e-6, 1e9))
    needed = dp.binary_search(
        lambda t: counts(count_scale, t).map(d_counts)[1] <= delta, bounds=(contributions, huge), T=int
    )
    positives_space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64)
    positive_scale = dp.binary_search(
        lambda s: dp.m.make_laplace(*positives_space, scale=s).map(d_positives) <= half, bounds=(1e-6, 1e9)
    )
    return Plan(
        epsilon=epsilon,
        delta=delta,
        attribute_sets=sets,
        contributions=contributions,
        count_scale=float(count_scale),
        positive_scale=float(positive_scale),
        threshold=max(int(needed), min_count),
        min_count=min_count,
    )


def spent(plan: Plan) -> tuple[float, float]:
    """(epsilon, delta) the two measurements of ``plan`` spend together, as OpenDP's privacy maps say."""
    dp = _dp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=dp.i64))
    metric = dp.l01inf_distance(dp.absolute_distance(T=dp.i64))
    sets, c = plan.attribute_sets, plan.contributions
    eps1, delta = dp.m.make_laplace_threshold(domain, metric, scale=plan.count_scale, threshold=plan.threshold).map(
        (sets * c, sets * c, c)
    )
    eps2 = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64), scale=plan.positive_scale
    ).map(sets * c)
    return float(eps1 + eps2), float(delta)


def release(totals: list[GroupTotal], plan: Plan) -> Release:
    """Draw the noise (OpenDP's own secure sampler: it cannot be seeded, on purpose)."""
    dp = _dp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=dp.i64))
    metric = dp.l01inf_distance(dp.absolute_distance(T=dp.i64))
    counts = dp.m.make_laplace_threshold(domain, metric, scale=plan.count_scale, threshold=plan.threshold)
    by_key = {t.key: t for t in totals}
    noisy_counts = counts({t.key: int(t.n) for t in totals}) if totals else {}
    kept = [by_key[k] for k in sorted(noisy_counts)]
    known = [t for t in kept if t.positives is not None]
    noisy_positives: dict[str, int] = {}
    if known:
        laplace = dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64), scale=plan.positive_scale
        )
        noisy_positives = dict(zip([t.key for t in known], laplace([int(t.positives) for t in known]), strict=True))  # type: ignore[arg-type]
    count_acc = accuracy(plan.count_scale, ALPHA)
    rate_parts = accuracy(plan.count_scale, ALPHA / 2) + accuracy(plan.positive_scale, ALPHA / 2)
    out = Release(plan)
    for t in kept:
        noisy_n = int(noisy_counts[t.key])
        rate = rate_acc = None
        if t.key in noisy_positives and noisy_n > 0:
            rate = min(1.0, max(0.0, noisy_positives[t.key] / noisy_n))
            rate_acc = rate_parts / noisy_n
        label = ", ".join(f"{k} = {v}" for k, v in t.slice)
        out.groups.append(Published(t.attribute_set, label, noisy_n, count_acc, rate, rate_acc))
    return out


def publish(
    store: Store,
    audits: list[dict[str, Any]],
    windows_by_audit: dict[str, list[WindowView]],
    *,
    quarter: str,
    year: int,
    epsilon: float,
) -> dict[str, Any]:
    """Charge every audit's budget (all or none), then release each audit's noisy groups into ``audit["dp"]``."""
    from ethics_audit.store import BudgetSpend

    _dp()
    plans: dict[str, tuple[Plan, list[GroupTotal], dict[str, Any]]] = {}
    spends = []
    for audit in audits:
        totals = group_totals(windows_by_audit.get(audit["audit_id"], []))
        if not totals:
            continue
        config = settings(audit["versions"][-1]["spec"] if audit["versions"] else None)
        plan = make_plan(
            totals,
            epsilon,
            delta=config["dp_delta"],
            min_count=config["dp_min_count"],
            contributions=config["dp_contributions_per_entity"],
        )
        eps, delta = spent(plan)
        plans[audit["audit_id"]] = (plan, totals, config)
        spends.append(
            BudgetSpend(
                audit_id=audit["audit_id"],
                year=year,
                epsilon=eps,
                yearly_budget=float(config["dp_yearly_epsilon"]),
                purpose=f"public quarterly report {quarter}",
                details={
                    "quarter": quarter,
                    "delta": delta,
                    "mechanisms": ["opendp.make_laplace_threshold (counts)", "opendp.make_laplace (positives)"],
                    "count_scale": plan.count_scale,
                    "positive_scale": plan.positive_scale,
                    "threshold": plan.threshold,
                    "attribute_sets": plan.attribute_sets,
                    "contributions_per_entity": plan.contributions,
                },
            )
        )
    if not spends:
        return {"ledger": [], "entries": []}
    store.spend_privacy_budget(spends)
    for audit in audits:
        if audit["audit_id"] in plans:
            plan, totals, config = plans[audit["audit_id"]]
            audit["dp"] = release(totals, plan)
            audit["dp_settings"] = config
    ledger = []
    for spend in spends:
        used = store.privacy_budget_spent(spend.audit_id, year)
        ledger.append(
            {
                "audit_id": spend.audit_id,
                "year": year,
                "epsilon": spend.epsilon,
                "spent_this_year": used,
                "yearly_budget": spend.yearly_budget,
                "left": max(0.0, spend.yearly_budget - used),
            }
        )
    return {"ledger": ledger, "entries": store.privacy_budget_entries()}
