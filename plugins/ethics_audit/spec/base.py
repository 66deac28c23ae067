"""The spec's building blocks: the strict base model, shared field types, and thresholds.

Every spec model derives from ``Strict`` (unknown keys are errors, so a typo never silently
disables a check). ``ThresholdSpec`` and ``Thresholds`` say when a metric is a breach; each
family's threshold table derives from ``Thresholds``. Nothing heavy is imported here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    WrapSerializer,
    model_validator,
)

from ethics_audit import calendar_windows
from ethics_audit.results import Threshold
from ethics_audit.windows import parse_duration


class Strict(BaseModel):
    """Base of every spec model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    Field(json_schema_extra={"type": "string", "examples": ["7d", "6h", "P7D"]}),
]
ColumnName = Annotated[str, Field(min_length=1)]
# a fixed duration (7d) or a calendar period (1mo, 1q, P1M, P3M); spelled as written in specs in JSON
WindowSize = Annotated[
    timedelta | calendar_windows.CalendarPeriod,
    BeforeValidator(calendar_windows.parse_window_size),
    # durations keep pydantic's own spelling (P7D), so existing specs keep their hashes
    WrapSerializer(lambda v, default: str(v) if isinstance(v, calendar_windows.CalendarPeriod) else default(v)),
    WithJsonSchema({"type": "string", "examples": ["7d", "1d", "P7D", "1mo", "P1M", "1q", "P3M"]}),
]


def _bound_value(value: Any) -> Any:
    """A threshold bound: a number or a ``[low, high]`` band; one clear message otherwise."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return tuple(float(v) for v in value)
    raise ValueError(f"{value!r} is not a threshold: give a number, or a [low, high] band such as [0.8, 1.25]")


BoundValue = Annotated[float | tuple[float, float] | None, BeforeValidator(_bound_value)]
Scalar = str | int | float | bool


# --------------------------------------------------------------------------- thresholds


class ThresholdSpec(Strict):
    """When a metric is a breach. ``warn``/``critical`` are numbers, or ``[low, high]`` bands
    (a value outside the band is a breach). ``direction`` is inferred: a band means ``outside``,
    a number means the metric's usual direction (``above`` unless the metric says otherwise)."""

    warn: BoundValue = None
    critical: BoundValue = None
    direction: Literal["above", "below", "outside"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ThresholdSpec:
        banded = [isinstance(b, tuple) for b in (self.warn, self.critical) if b is not None]
        if banded and len(set(banded)) > 1:
            raise ValueError("warn and critical must both be numbers or both be [low, high] bands")
        if banded and banded[0] and self.direction not in (None, "outside"):
            raise ValueError("a [low, high] band goes with direction 'outside'")
        if banded and not banded[0] and self.direction == "outside":
            raise ValueError("direction 'outside' needs [low, high] bands for warn and critical")
        for bound in (self.warn, self.critical):
            if isinstance(bound, tuple) and bound[0] > bound[1]:
                raise ValueError(f"band [{bound[0]}, {bound[1]}] has low > high")
        return self

    @property
    def is_band(self) -> bool:
        return isinstance(self.warn, tuple) or isinstance(self.critical, tuple)

    def to_threshold(self, *, default_direction: str = "above", require_significance: bool = False) -> Threshold:
        banded = isinstance(self.warn, tuple) or isinstance(self.critical, tuple)
        direction = self.direction or ("outside" if banded else default_direction)
        return Threshold(
            warn=self.warn, critical=self.critical, direction=direction, require_significance=require_significance
        )


def _merge_threshold_defaults(cls: type[BaseModel], data: Any) -> Any:
    """Let a user override only ``warn`` of a metric and keep its default ``critical``."""
    if not isinstance(data, dict):
        return data
    merged = dict(data)
    for name, value in data.items():
        field = cls.model_fields.get(name)
        if field is None or not isinstance(value, dict) or not isinstance(field.default, ThresholdSpec):
            continue
        base = field.default.model_dump(exclude_none=True)
        new_bounds = [b for k in ("warn", "critical") if (b := value.get(k)) is not None]
        if new_bounds and isinstance(new_bounds[0], list | tuple) != field.default.is_band:
            # the user switched between a number and a band: the default's other bound and
            # direction no longer fit
            base = {}
        merged[name] = {**base, **value}
    return merged


class Thresholds(Strict):
    """Base of per-family threshold tables: each field is one judged metric."""

    @model_validator(mode="before")
    @classmethod
    def _merge(cls, data: Any) -> Any:
        return _merge_threshold_defaults(cls, data)

    def get(self, metric: str, *, require_significance: bool = False) -> Threshold:
        spec: ThresholdSpec = getattr(self, metric)
        default = type(self).model_fields[metric].default
        return spec.to_threshold(
            default_direction=(default.direction or "above"), require_significance=require_significance
        )


def _t(warn: Any, critical: Any, direction: str | None = None) -> ThresholdSpec:
    return ThresholdSpec(warn=warn, critical=critical, direction=direction)


# the bootstrap intervals of fairness, membership and transparency metrics
class BootstrapSpec(Strict):
    resamples: int = Field(200, ge=0, le=10000, description="0 turns intervals off")
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
