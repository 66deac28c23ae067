"""The privacy check family: PII in the data, re-identification risk, consent and retention, membership inference.

``run`` calls each part in turn (``pii``, ``reidentification``, ``consent``, ``retention``,
``membership``) through ``checks.parts.run_parts``: a part whose input is wrong (a
quasi-identifier that is not a column, a consent ledger with unknown events) yields one
``check_error`` result naming the part and the fix, and the other parts still run. The auditor
must not leak either: results carry counts, entity types and masked examples only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ethics_audit.checks.parts import Part, run_parts

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import PrivacyConfig

METHODS: dict[str, str] = {
    "pii_share": (
        "Share of the window's rows whose value in the column holds at least one confirmed PII entity of any "
        "type; the entity types found are listed with their row counts."
    ),
    "email_share": (
        "Share of rows with an email address, found with an RE2 pattern and kept when the local part is "
        "well formed and the top-level domain is not a file extension."
    ),
    "phone_share": (
        "Share of rows with a phone number: international (+country code, 8 to 15 digits) or an explicitly "
        "formatted North American, UK or French national number (10 or 11 digits)."
    ),
    "card_count": (
        "Rows with a payment card number: 13 to 19 digits, optionally grouped, that pass the Luhn checksum and "
        "fall in a card issuer's number range with that issuer's length."
    ),
    "iban_count": (
        "Rows with an IBAN: a known country code, that country's IBAN length and the ISO 13616 mod-97 check."
    ),
    "ssn_count": (
        "Rows with a US social security number written 123-45-6789 (or with spaces) that meets the SSA rules: "
        "area not 000, 666 or 900-999, group not 00, serial not 0000, not a published example."
    ),
    "ip_share": (
        "Share of rows with an IPv4 or IPv6 address; version strings (v10.0.0.1, 1.2.3.4.5, columns named like "
        "a version), netmasks, loopback and unspecified addresses do not count."
    ),
    "dob_share": (
        "Share of rows with a date of birth: a plausible date after a cue such as 'DOB' or 'born on', or any "
        "date in a column named like a date of birth."
    ),
    "identifier_column_names": (
        "Number of columns whose names suggest a direct identifier (name, email, phone, address, date of birth, "
        "national id, payment or IP), from a list of spellings in several languages plus the spec's "
        "pii.identifier_names; columns mapped to a role such as entity_id are not counted."
    ),
    "name_share": (
        "Share of rows whose value is name-shaped (one to four words of letters, no digits) in a column the spec "
        "marks as holding names (pii.name_columns) or whose name says so; examples show first letters only."
    ),
    "k_anonymity": (
        "Size of the smallest equivalence class when entities (one row each, the latest) are grouped by the "
        "combination of their quasi-identifiers; below reidentification.k it warns."
    ),
    "share_below_k": "Share of entities whose equivalence class over the quasi-identifiers has fewer than k members.",
    "sample_uniqueness": "Share of entities that are alone in their equivalence class over the quasi-identifiers.",
    "l_diversity": (
        "Distinct l-diversity: the smallest number of distinct values of a sensitive attribute (or the label) "
        "within one equivalence class, over classes with a known value; below reidentification.l (when set) it warns."
    ),
    "predictions_after_withdrawal": (
        "Predictions made while the entity's latest consent event for the model's purpose, as of the prediction "
        "time, was a withdrawal or objection, and more than the grace period after consent stopped."
    ),
    "entities_without_grant": (
        "Entities in the window with no 'granted' event for the model's purpose in the consent ledger."
    ),
    "entities_past_erasure_deadline": (
        "Entities that still appear in the window although their erasure request, not followed by a new grant, "
        "is older than the erasure deadline at the window end."
    ),
    "rows_past_retention": "Rows whose timestamp is older than the retention period at the audit time.",
    "attack_auc": (
        "AUC of a threshold membership-inference attack on the model's confidence (or on the loss): the chance "
        "that a training member scores above a non-member; the interval is a seeded Poisson bootstrap of rows."
    ),
    "attacker_advantage": "The attack's largest true-positive rate minus false-positive rate over all thresholds.",
    "tpr_at_1pct_fpr": (
        "The attack's true-positive rate at the highest threshold whose false-positive rate is at most 1%."
    ),
    "generalisation_gap": (
        "Accuracy on labelled training members minus accuracy on labelled non-members (the prediction column, "
        "or score >= 0.5)."
    ),
    "check_error": "A part of the privacy check that could not run; details name the part and the fix.",
}


def _parts(data: AuditData | None = None) -> list[tuple[str, Part]]:
    """The parts, in memory when the window's frame is loaded, else on its engine (``aggregates``)."""
    from ethics_audit.checks.privacy.aggregates import on_engine

    if data is not None and on_engine(data):
        from ethics_audit.checks.privacy.aggregates import consent, membership, pii, reidentification
    else:
        from ethics_audit.checks.privacy import consent, membership, pii, reidentification  # type: ignore[no-redef]
    return [
        ("pii", pii.run),
        ("reidentification", reidentification.run),
        ("consent", consent.run),
        ("retention", consent.run_retention),
        ("membership", membership.run),
    ]


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    return run_parts("privacy", _parts(data), config, data)
