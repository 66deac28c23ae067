"""The privacy family's part of an audit spec: PII, re-identification, consent, membership."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from ethics_audit.spec.base import BootstrapSpec, ColumnName, Duration, Strict, Thresholds, ThresholdSpec, _t
from ethics_audit.spec.sources import SourceSpec

PII_ENTITIES = ("email", "phone", "card", "iban", "ssn", "ipv4", "ipv6", "dob")
CONSENT_EVENTS = ("granted", "withdrawn", "objected", "erasure_requested")


class PiiThresholds(Thresholds):
    pii_share: ThresholdSpec = _t(None, None)
    email_share: ThresholdSpec = _t(0.0, 0.001)
    phone_share: ThresholdSpec = _t(0.0, 0.001)
    card_count: ThresholdSpec = _t(None, 0.0)
    iban_count: ThresholdSpec = _t(None, 0.0)
    ssn_count: ThresholdSpec = _t(None, 0.0)
    ip_share: ThresholdSpec = _t(0.0, 0.01)
    dob_share: ThresholdSpec = _t(0.0, 0.01)
    identifier_column_names: ThresholdSpec = _t(0.0, None)
    name_share: ThresholdSpec = _t(0.0, 0.001)


class PiiSpec(Strict):
    enabled: bool = True
    columns: list[ColumnName] | None = Field(None, description="default: every string column")
    exclude_columns: list[ColumnName] = Field(default_factory=list)
    entities: list[Literal[PII_ENTITIES]] = Field(default_factory=lambda: list(PII_ENTITIES))  # type: ignore[valid-type]
    examples: int = Field(3, ge=0, le=10, description="masked examples per column and entity (0: none)")
    identifier_names: dict[str, list[str]] = Field(
        default_factory=dict,
        description="more column names per identifier kind (name, email, phone, address, dob, national_id, payment, "
        "ip, or a kind of your own), shell patterns such as '*_vorname'; added to the built-in list",
    )
    name_columns: list[ColumnName] = Field(
        default_factory=list, description="columns that hold personal names: read for name-shaped values"
    )
    thresholds: PiiThresholds = PiiThresholds()


class ReidentificationThresholds(Thresholds):
    k_anonymity: ThresholdSpec = _t(None, None, "below")
    share_below_k: ThresholdSpec = _t(0.01, 0.05)
    sample_uniqueness: ThresholdSpec = _t(0.01, 0.05)
    l_diversity: ThresholdSpec = _t(None, None, "below")


class ReidentificationSpec(Strict):
    enabled: bool = True
    k: int = Field(5, ge=2, description="k-anonymity below k warns (unless thresholds.k_anonymity sets bounds)")
    l: int | None = Field(  # noqa: E741 - the l of l-diversity
        None,
        ge=2,
        description="l-diversity below l warns (unless thresholds.l_diversity sets bounds); unset: reported only",
    )
    thresholds: ReidentificationThresholds = ReidentificationThresholds()


class ConsentColumns(Strict):
    entity_id: ColumnName = "entity_id"
    purpose: ColumnName = "purpose"
    event: ColumnName = "event"
    timestamp: ColumnName = "timestamp"


class ConsentThresholds(Thresholds):
    predictions_after_withdrawal: ThresholdSpec = _t(None, 0.0)
    rows_past_retention: ThresholdSpec = _t(0.0, None)
    entities_past_erasure_deadline: ThresholdSpec = _t(None, 0.0)
    entities_without_grant: ThresholdSpec = _t(None, None)


class ConsentSpec(Strict):
    source: SourceSpec = Field(description="consent ledger: entity id, purpose, event, timestamp")
    columns: ConsentColumns = ConsentColumns()
    purpose: str | None = Field(None, description="default: model.purpose")
    grace_period: Duration = timedelta(0)
    erasure_deadline: Duration = timedelta(days=30)
    thresholds: ConsentThresholds = ConsentThresholds()


class MembershipThresholds(Thresholds):
    attack_auc: ThresholdSpec = _t(0.6, 0.7)
    attacker_advantage: ThresholdSpec = _t(None, None)
    tpr_at_1pct_fpr: ThresholdSpec = _t(None, None)
    generalisation_gap: ThresholdSpec = _t(None, None)


class MembershipSpec(Strict):
    column: ColumnName | None = Field(None, description="boolean column: the entity was a training member")
    source: SourceSpec | None = Field(None, description="manifest of training entity ids")
    manifest_entity_column: ColumnName = "entity_id"
    min_group_size: int = Field(30, ge=1, description="fewer members or non-members: insufficient data")
    bootstrap: BootstrapSpec = BootstrapSpec()
    require_significance: bool = Field(True, description="judge attack_auc by the lower end of its interval")
    thresholds: MembershipThresholds = MembershipThresholds()

    @model_validator(mode="after")
    def _one(self) -> MembershipSpec:
        if (self.column is None) == (self.source is None):
            raise ValueError("give exactly one of column (in the predictions) or source (a manifest)")
        return self


class PrivacyConfig(Strict):
    enabled: bool = True
    pii: PiiSpec = PiiSpec()
    reidentification: ReidentificationSpec = ReidentificationSpec()
    consent: ConsentSpec | None = None
    retention: Duration | None = Field(None, description="rows older than this must not be kept")
    membership: MembershipSpec | None = None
