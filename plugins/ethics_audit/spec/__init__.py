"""Audit specs: what to audit, where the data is, who owns it, and what counts as a breach.

One YAML file per audited model. ``load_spec`` reads and validates one; ``validate_paths``
checks a whole tree and reports every problem as ``file: field.path: message (line N)``.
Unknown keys are errors everywhere, so a typo never silently disables a check. The models are
pure pydantic: nothing heavy is imported, so DAG files can parse specs quickly.

The package, in the order its modules depend on each other:

- ``base``: the strict base model, shared field types, thresholds
- ``rules``: SQL text rules and the problems across several fields
- ``sources``: SQL and file sources, the reference, late labels
- ``engine``: where a window's statistics are computed
- ``quality``, ``drift``, ``fairness``, ``privacy``, ``transparency``: one family's config each
- ``audit``: ``AuditSpec``, the root of a spec file
- ``loading``: YAML to a validated spec, problems with line numbers

Importers use the names re-exported here.
"""

from __future__ import annotations

from ethics_audit.spec.audit import (
    CHANNELS,
    SCHEDULE_PRESETS,
    AuditSpec,
    ChecksConfig,
    Columns,
    IncidentsSpec,
    ModelInfo,
    NotificationsSpec,
    Owners,
    ReportsSpec,
    Route,
    WindowSpec,
)
from ethics_audit.spec.base import (
    BootstrapSpec,
    BoundValue,
    ColumnName,
    Duration,
    Scalar,
    Strict,
    Thresholds,
    ThresholdSpec,
    WindowSize,
)
from ethics_audit.spec.drift import (
    EVIDENTLY_STATTESTS,
    STATTEST_TYPES,
    DriftConfig,
    DriftThresholds,
    HtmlReportSpec,
    StatTestSpec,
)
from ethics_audit.spec.engine import ENGINE_KINDS, EngineSpec
from ethics_audit.spec.fairness import EstimateSpec, FairnessConfig, FairnessThresholds
from ethics_audit.spec.loading import json_schema, load_spec, parse_spec, spec_files, validate_paths
from ethics_audit.spec.privacy import (
    CONSENT_EVENTS,
    PII_ENTITIES,
    ConsentColumns,
    ConsentSpec,
    ConsentThresholds,
    MembershipSpec,
    MembershipThresholds,
    PiiSpec,
    PiiThresholds,
    PrivacyConfig,
    ReidentificationSpec,
    ReidentificationThresholds,
)
from ethics_audit.spec.quality import QUALITY_TYPES, ExpectationSpec, QualityConfig, QualityThresholds
from ethics_audit.spec.rules import cross_field_problems
from ethics_audit.spec.sources import LabelSource, ReferenceSpec, SourceSpec, WindowedSourceSpec
from ethics_audit.spec.transparency import (
    APPEAL_OUTCOMES,
    AppealColumns,
    AppealsSpec,
    ControlColumns,
    ControlRule,
    ControlsSpec,
    ExplanationColumns,
    ExplanationsSpec,
    TransparencyConfig,
    TransparencyThresholds,
)

__all__ = [
    "APPEAL_OUTCOMES",
    "CHANNELS",
    "CONSENT_EVENTS",
    "ENGINE_KINDS",
    "EVIDENTLY_STATTESTS",
    "PII_ENTITIES",
    "QUALITY_TYPES",
    "SCHEDULE_PRESETS",
    "STATTEST_TYPES",
    "AppealColumns",
    "AppealsSpec",
    "AuditSpec",
    "BootstrapSpec",
    "BoundValue",
    "ChecksConfig",
    "ColumnName",
    "Columns",
    "ConsentColumns",
    "ConsentSpec",
    "ConsentThresholds",
    "ControlColumns",
    "ControlRule",
    "ControlsSpec",
    "DriftConfig",
    "DriftThresholds",
    "Duration",
    "EngineSpec",
    "EstimateSpec",
    "ExpectationSpec",
    "ExplanationColumns",
    "ExplanationsSpec",
    "FairnessConfig",
    "FairnessThresholds",
    "HtmlReportSpec",
    "IncidentsSpec",
    "LabelSource",
    "MembershipSpec",
    "MembershipThresholds",
    "ModelInfo",
    "NotificationsSpec",
    "Owners",
    "PiiSpec",
    "PiiThresholds",
    "PrivacyConfig",
    "QualityConfig",
    "QualityThresholds",
    "ReferenceSpec",
    "ReidentificationSpec",
    "ReidentificationThresholds",
    "ReportsSpec",
    "Route",
    "Scalar",
    "SourceSpec",
    "StatTestSpec",
    "Strict",
    "ThresholdSpec",
    "Thresholds",
    "TransparencyConfig",
    "TransparencyThresholds",
    "WindowSize",
    "WindowSpec",
    "WindowedSourceSpec",
    "cross_field_problems",
    "json_schema",
    "load_spec",
    "parse_spec",
    "spec_files",
    "validate_paths",
]
