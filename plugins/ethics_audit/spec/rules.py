"""Rules across several fields of a spec, which no single field's validator can check.

``cross_field_problems`` lists what involves several parts of a spec, e.g. a fairness
``reference_group`` keyed by a column that is not a sensitive attribute, an intersection of
attributes that are not sensitive, or a channel whose owners field is missing; ``loading``
reports each with its line. The rules of a source's SQL text are in ``query_rules``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ethics_audit import calendar_windows

if TYPE_CHECKING:
    from ethics_audit.spec.audit import AuditSpec


def cross_field_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Problems that involve several parts of a spec, as (field path, message)."""
    problems = []
    if spec.engine.kind == "postgres" and spec.source.kind != "sql":
        problems.append(
            ("engine.kind", "postgres runs the statistics inside a SQL source; this source is files (use duckdb)")
        )
    fairness = spec.checks.fairness
    if fairness and fairness.enabled:
        attributes = fairness.attributes or spec.columns.sensitive
        if not attributes:
            problems.append(("checks.fairness", "needs sensitive attributes: list them in columns.sensitive"))
        unknown = sorted(set(fairness.reference_group) - set(attributes or []))
        if unknown and fairness.attributes is None:
            problems.append(
                (
                    "checks.fairness.reference_group",
                    f"names {unknown}, which are not sensitive attributes (columns.sensitive: {attributes}); "
                    "key each reference group by a sensitive attribute",
                )
            )
        for name in sorted(set(fairness.legitimate_factors) & set(attributes)):
            problems.append(("checks.fairness.legitimate_factors", f"{name!r} is a sensitive attribute"))
        for i, combo in enumerate(fairness.intersections):
            missing = [a for a in combo if a not in attributes]
            if missing:
                problems.append((f"checks.fairness.intersections[{i}]", f"{missing} are not sensitive attributes"))
        if spec.columns.prediction is None and spec.columns.score is None:
            problems.append(("checks.fairness", "needs columns.prediction, or columns.score with decision_threshold"))
        elif spec.columns.prediction is None and fairness.decision_threshold is None:
            problems.append(("checks.fairness.decision_threshold", "is required when there is no columns.prediction"))
    drift = spec.checks.drift
    if drift and drift.enabled and spec.reference is None:
        problems.append(("checks.drift", "needs a reference: set reference.baseline or reference.previous_windows"))
    privacy = spec.checks.privacy
    if privacy and privacy.consent and not (privacy.consent.purpose or spec.model.purpose):
        problems.append(("checks.privacy.consent.purpose", "is required (or set model.purpose)"))
    problems += transparency_problems(spec)
    problems += _route_problems(spec) + _calendar_problems(spec)
    return problems


def _calendar_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Calendar windows run at each window's end: a schedule of their own would audit other windows."""
    size = spec.window.size
    if not isinstance(size, calendar_windows.CalendarPeriod):
        return []
    problems = []
    presets = {1: "@monthly", 3: "@quarterly", 12: "@yearly"}
    fits = {calendar_windows.cron_of(size), presets.get(size.months)}
    if "schedule" in spec.model_fields_set and spec.schedule not in fits:
        problems.append(
            (
                "schedule",
                f"{spec.schedule!r} does not fit {size} windows, which are audited when each one ends; "
                f"remove schedule or write {presets.get(size.months) or calendar_windows.cron_of(size)!r}",
            )
        )
    start = spec.window.start
    if start is not None and not calendar_windows.is_boundary(start, size, spec.timezone):
        first = calendar_windows.window_containing(start, size, spec.timezone)[1]
        problems.append(
            (
                "window.start",
                f"{start.isoformat()} is not the start of a {size} window in {spec.timezone}; "
                f"write e.g. {first.isoformat()}",
            )
        )
    return problems


def _route_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Channels that cannot know where to send: say which owners field they need."""
    owners, problems = spec.owners, []
    routed = {channel: i for i, route in enumerate(spec.notifications.routes) for channel in route.channels}
    if "slack" in routed and not owners.slack_channel:
        problems.append(("owners.slack_channel", "is required by the slack channel in notifications.routes"))
    if "jira" in routed and not (owners.ticket_project and re.fullmatch(r"[A-Z][A-Z0-9_]+", owners.ticket_project)):
        problems.append(("owners.ticket_project", "must be a Jira project key such as ADS for the jira channel"))
    github_repo = owners.github_repo or owners.ticket_project
    if "github" in routed and not (github_repo and re.fullmatch(r"[\w.-]+/[\w.-]+", github_repo)):
        problems.append(("owners.github_repo", "must be org/repo for the github channel (or set ticket_project to it)"))
    if "pagerduty" in routed and not owners.oncall_routing_key_env:
        problems.append(
            ("owners.oncall_routing_key_env", "names the environment variable with the PagerDuty routing key")
        )
    return problems


def transparency_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Problems across the transparency config and the rest of the spec."""
    config = spec.checks.transparency
    if config is None or not config.enabled:
        return []
    columns = spec.columns
    where = "checks.transparency"
    problems = []
    fairness = spec.checks.fairness
    attributes = config.attributes or (fairness.attributes if fairness else None) or columns.sensitive
    if not attributes:
        problems.append((where, "needs sensitive attributes: list them in columns.sensitive or in attributes"))
    for i, combo in enumerate(config.intersections or []):
        missing = [a for a in combo if a not in attributes]
        if missing:
            problems.append((f"{where}.intersections[{i}]", f"{missing} are not among the attributes {attributes}"))
    if config.appeals and columns.prediction is None:
        problems.append((f"{where}.appeals", "needs columns.prediction: appeal rates are per adverse decision"))
    if config.appeals and config.appeals.join_on == "prediction_id" and columns.prediction_id is None:
        problems.append((f"{where}.appeals.join_on", "prediction_id needs columns.prediction_id"))
    if config.explanations and config.explanations.source and columns.prediction_id is None:
        problems.append((f"{where}.explanations.source", "a separate explanation log needs columns.prediction_id"))
    return problems
