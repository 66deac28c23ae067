"""Privacy remedy section: what leaked where, what travels with it, and the fix with its spec field.

From the privacy family's results (counts, entity types and masked examples, never a raw
value): per column and entity type, rows, share and masked examples. Where the values come
from: the flagged columns are scanned again, row by row, on a seeded sample of at most
``SAMPLE_ROWS`` rows, to find which of them leak in the same rows and which segment (a value
of a sensitive attribute, quasi-identifier or categorical feature) is over-represented among
the leaking rows. Each problem gets a concrete fix (mask, drop, hash, a retention setting, the
consent filter) and the spec field it belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ethics_audit.remedies import Section, Table

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import Finding
    from ethics_audit.spec import PrivacyConfig

PII_METRICS = ("email_share", "phone_share", "card_count", "iban_count", "ssn_count", "ip_share", "dob_share")
SAMPLE_ROWS = 20_000
MIN_LEAK_ROWS = 20  # fewer leaking rows say nothing about where they come from
MAX_SEGMENT_VALUES = 20
SEED = 0
FINANCIAL = {"card", "iban", "ssn"}
# metrics that share one fix: (metrics, what they are, the fix with its spec field)
GROUPED = (
    (
        ("k_anonymity", "share_below_k", "sample_uniqueness", "l_diversity"),
        "Re-identification risk",
        "Generalise the quasi-identifiers (coarser regions or age bands) or suppress rows of small classes; "
        "spec: columns.quasi_identifiers, checks.privacy.reidentification.k",
    ),
    (
        ("attack_auc", "attacker_advantage", "generalisation_gap"),
        "Membership inference",
        "The model memorises its training members: regularise, early-stop or train with differential "
        "privacy; spec: checks.privacy.membership",
    ),
)


def _fix_for_column(column: str, types: set[str], text_columns: list[str]) -> str:
    role = "columns.text" if column in text_columns else "checks.privacy.pii.columns"
    steps = []
    financial, other = sorted(types & FINANCIAL), sorted(types - FINANCIAL)
    if financial:
        steps.append(f"redact {', '.join(financial)} numbers (they must never be stored in clear)")
    if other:
        steps.append(f"mask {', '.join(other)} (replace them with tokens such as [{other[0]}])")
    drop = f", or drop {column} from the log if nothing downstream reads it" if financial else ""
    return (
        f"{column}: {' and '.join(steps)} in the step that writes {column} to the prediction log{drop}; "
        f"keep it audited (spec: {role})"
    )


def _leak_rows(data: AuditData, config: PrivacyConfig, columns: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Row positions of the sample and, per column, which sampled rows hold confirmed PII."""
    from ethics_audit.checks.privacy.pii import _entities_for, _strings, scan

    rows = data.rows
    rng = np.random.default_rng(SEED)
    sample = np.arange(rows) if rows <= SAMPLE_ROWS else np.sort(rng.choice(rows, SAMPLE_ROWS, replace=False))
    masks = {}
    for column in columns:
        series = pd.Series(data.current[column].to_numpy()[sample])
        series = series.where(series.isna(), series.astype(str))
        found = scan(_strings(series), _entities_for(column, list(config.pii.entities)))
        mask = np.zeros(len(sample), dtype=bool)
        for hit in found.values():
            mask[hit.value_idx] = True
        masks[column] = mask
    return sample, masks


def _segments(data: AuditData, sample: np.ndarray, leaking: np.ndarray) -> list[dict[str, Any]]:
    """Segments over-represented among leaking rows: share among them vs share of all rows."""
    columns = data.columns
    names = [
        n
        for n in dict.fromkeys(columns.sensitive + columns.quasi_identifiers + columns.features)
        if n in data.current.columns and data.current[n].dtype == object
    ]
    out = []
    for name in names:
        # a NumPy take of the sampled rows: copying the columns of a million-row frame costs more
        codes, uniques = pd.factorize(data.current[name].to_numpy()[sample])
        if len(uniques) > MAX_SEGMENT_VALUES:
            continue
        overall = np.bincount(codes[codes >= 0], minlength=len(uniques)) / max(1, (codes >= 0).sum())
        own = codes[leaking]
        among = np.bincount(own[own >= 0], minlength=len(uniques)) / max(1, (own >= 0).sum())
        for k, value in enumerate(uniques):
            if among[k] > 0:
                out.append(
                    {"segment": f"{name}={value}", "share": float(among[k]), "lift": float(among[k] / overall[k])}
                )
    return sorted(out, key=lambda s: -s["lift"])


def section(config: PrivacyConfig, data: AuditData, findings: list[Finding]) -> Section:
    breaches = [f for f in findings if f.severity.is_breach and f.result.check == "privacy"]
    section = Section("privacy", "", facts={})
    pii = [f for f in breaches if f.result.metric in PII_METRICS]
    by_column: dict[str, dict[str, Any]] = {}
    rows: list[list[Any]] = []
    for f in sorted(pii, key=lambda f: (f.result.slice.get("column", ""), f.result.metric)):
        column = f.result.slice.get("column", "")
        details = f.result.details
        types = details.get("entity_types", [])
        count = int(details.get("rows", 0))
        share = details.get("share", f.result.value if f.result.metric.endswith("_share") else None)
        entry = by_column.setdefault(column, {"types": set(), "rows": {}})
        entry["types"].update(types)
        for kind in types:
            entry["rows"][kind] = count
        rows.append(
            [
                column,
                ", ".join(types),
                count,
                "–" if share is None else f"{share:.2%}",
                ", ".join(details.get("examples", [])),
            ]
        )
    if pii:
        section.tables.append(
            Table("PII found (masked examples)", ["column", "entity", "rows", "share", "examples"], rows)
        )
        summary = "; ".join(
            f"{column}: " + ", ".join(f"{k} ({n} rows)" for k, n in sorted(info["rows"].items()))
            for column, info in by_column.items()
        )
        section.drivers.append(f"PII in {', '.join(by_column)}: {summary}.")
        sample, masks = _leak_rows(data, config, list(by_column))
        section.facts["columns"] = {c: sorted(i["types"]) for c, i in by_column.items()}
        any_leak = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(0, bool)
        names = list(masks)
        pairs = []
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = int((masks[a] & masks[b]).sum())
                pairs.append({"columns": [a, b], "rows": both})
        section.facts["co_occurrence"] = pairs
        where = f" (on a sample of {len(sample):,} rows)" if len(sample) < data.rows else ""
        together = [p for p in pairs if p["rows"] > 0]
        if len(names) > 1:
            if together:
                section.drivers.append(
                    "Leaks in the same rows"
                    + where
                    + ": "
                    + "; ".join(f"{p['columns'][0]} and {p['columns'][1]} in {p['rows']} rows" for p in together)
                    + " (one source writes both)."
                )
            else:
                section.drivers.append(
                    f"The columns leak in different rows{where}: {', '.join(names)} are written separately."
                )
        if int(any_leak.sum()) >= MIN_LEAK_ROWS:
            segments = [s for s in _segments(data, sample, any_leak) if s["lift"] >= 2 and s["share"] >= 0.2]
            section.facts["segments"] = segments[:5]
            if segments:
                section.drivers.append(
                    "Over-represented among leaking rows: "
                    + ", ".join(
                        f"{s['segment']} ({s['share']:.0%} of them, {s['lift']:.1f}x its share)" for s in segments[:3]
                    )
                    + "."
                )
            else:
                section.drivers.append("The leaking rows are spread evenly over the segments (no segment stands out).")
        for column, info in by_column.items():
            section.fixes.append(_fix_for_column(column, info["types"], list(data.columns.text)))
    _other_fixes(section, breaches, config)
    section.headline = " ".join(section.drivers[:1]) or (section.fixes[0] if section.fixes else "Privacy breach.")
    return section


def _other_fixes(section: Section, breaches: list[Finding], config: PrivacyConfig) -> None:
    for f in breaches:
        metric, details = f.result.metric, f.result.details
        if metric == "identifier_column_names":
            columns = details.get("columns", {})
            names = ", ".join(f"{c} ({k})" for c, k in columns.items())
            section.drivers.append(f"Columns named like direct identifiers: {names}.")
            section.fixes.append(
                f"Drop {', '.join(columns)} from the audited data, or hash them (salted SHA-256) if a join needs "
                "them; columns that are the entity id belong in columns.entity_id"
            )
        elif metric == "predictions_after_withdrawal":
            events = ", ".join(f"{k} {v}" for k, v in (details.get("by_event") or {}).items())
            section.drivers.append(
                f"{int(f.result.value or 0)} predictions for {details.get('entities')} people after they withdrew or "
                f"objected for {details.get('purpose')} ({events})."
            )
            section.fixes.append(
                "Restore the consent filter before scoring: drop entities whose latest consent event for "
                f"{details.get('purpose')} is a withdrawal or objection, within the grace period "
                f"({details.get('grace_period')}); spec: checks.privacy.consent (source, grace_period, purpose)"
            )
        elif metric == "entities_past_erasure_deadline":
            section.drivers.append(
                f"{int(f.result.value or 0)} people asked for erasure more than {details.get('erasure_deadline')} "
                f"ago and still appear ({details.get('rows')} rows)."
            )
            section.fixes.append(
                "Erase their data (the prediction log included) and exclude them from scoring; the deadline is "
                "checks.privacy.consent.erasure_deadline"
            )
        elif metric == "entities_without_grant":
            section.fixes.append(
                "Score only entities with a 'granted' event for the purpose; spec: checks.privacy.consent"
            )
        elif metric == "rows_past_retention":
            section.drivers.append(f"{int(f.result.value or 0)} rows are older than the retention period.")
            section.fixes.append(
                f"Delete rows older than {config.retention} from the source (a scheduled purge); the setting is "
                "checks.privacy.retention"
            )
        else:
            group = next((g for g in GROUPED if metric in g[0]), None)
            if group is not None and group[2] not in section.fixes:
                section.drivers.append(f"{group[1]}: {metric} = {f.result.value:.4g}.")
                section.fixes.append(group[2])
