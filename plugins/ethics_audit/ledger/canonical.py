"""The ledger's canonical serialisation: the exact bytes that are hashed (docs/ledger.md).

JSON, UTF-8 and ASCII-only (``\\uXXXX`` escapes), object keys sorted, no whitespace (``,`` and
``:`` separators). Floats are written as the shortest decimal that reads back to the same
IEEE-754 double (Python's ``repr``: ``0.1``, ``1.0``, ``1e-05``), except inside the JSON
columns (slice, threshold, details), where whole numbers are written as integers; NaN is written as ``null``
(SQLite stores NaN as NULL, so that is what a verifier reads back), -0.0 as ``0.0``, and infinities as the
strings ``"Infinity"`` / ``"-Infinity"``. Datetimes are UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
A metric result row is one object of fixed fields; a window's results are the sorted list of
their serialisations, so the digest does not depend on row order or on the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timezone
from typing import Any

FORMAT_VERSION = 1
GENESIS = "0" * 64  # the previous hash of the first entry
# the metric_results columns a result's digest covers, in the order the verifier reports them
RESULT_FIELDS = (
    "audit_id",
    "window_start",
    "window_end",
    "check",
    "metric",
    "slice",
    "slice_key",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "threshold",
    "severity",
    "reason",
    "details",
)


def _no_default(value: Any) -> Any:
    raise TypeError(f"the ledger cannot serialise a {type(value).__name__}")


# json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False), built once:
# json.dumps builds its C encoder again on every call, which dominates for small values
_encoder = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _no_default, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, False
    )
    if json.encoder.c_make_encoder is not None
    else None
)  # type: ignore[attr-defined]
_slow_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode


def _dumps(value: Any) -> str:
    if isinstance(value, str) or _encoder is None:
        return _slow_dumps(value)
    return "".join(_encoder(value, 0))


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _float(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def normalise(value: Any) -> Any:
    """``value`` as plain JSON data: non-finite floats replaced, tuples as lists, keys as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, datetime):
        return timestamp(value)
    if hasattr(value, "item"):  # a numpy scalar
        return normalise(value.item())
    raise TypeError(f"the ledger cannot serialise a {type(value).__name__}")


def json_field(value: Any) -> Any:
    """A JSON column's value as the ledger serialises it: whole-number floats become integers.

    PostgreSQL's JSONB gives ``1e+20`` back as ``100000000000000000000`` and some drivers give
    ``2.0`` back as ``2``; writing every whole number as an integer makes both backends agree.
    """
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return _float(value)
    if isinstance(value, dict):
        return {str(k): json_field(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_field(v) for v in value]
    return normalise(value)


def _plain_finite(value: Any) -> bool:
    """True when ``value`` is already canonical JSON data (the common case, checked fast)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_finite(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int))


def dumps(value: Any) -> str:
    """The canonical serialisation of ``value``."""
    if not _plain_finite(value):
        value = normalise(value)
    return _dumps(value)


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def entry_hash(prev_hash: str, payload: str) -> str:
    """SHA-256 over the previous entry's hash (32 raw bytes) followed by this entry's payload."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + payload.encode()).hexdigest()


_string = encode_string = json.encoder.encode_basestring_ascii  # the C encoder json.dumps itself uses


def number_text(value: Any) -> str:
    """A float column's value, serialised."""
    if value is None:
        return "null"
    value = float(value)
    if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
        return float.__repr__(value) if value else "0.0"  # SQLite gives -0.0 back as 0.0
    return "null" if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')


# how a whole-number float looks in repr (2.0, -3.0 or, from 1e16 on, 1e+16): such text needs json_field
_WHOLE_FLOAT = re.compile(r"\.0(?:[,\]}]|$)|e\+")


def json_text(value: Any) -> str:
    """A JSON column's value, serialised (``json_field`` applied).

    Most values hold no whole-number or non-finite float: those are encoded in one C call, and
    only the rest (or text that merely looks like one) take the walk through ``json_field``.
    """
    try:
        text = _dumps(value)
    except (TypeError, ValueError):  # NaN or infinity, a numpy scalar, mixed key types
        return _dumps(json_field(value))
    return _dumps(json_field(value)) if _WHOLE_FLOAT.search(text) else text


def result_row(
    *,
    audit_id: str,
    window_start: datetime,
    window_end: datetime,
    check: str,
    metric: str,
    slice: dict | None,
    slice_key: str,
    value: Any,
    ci_low: Any,
    ci_high: Any,
    n: Any,
    threshold: dict | None,
    severity: str,
    reason: str | None,
    details: dict | None,
    window_text: tuple[str, str] | None = None,
    run_id: Any = None,
) -> str:
    """One metric result as the ledger serialises it (numbers typed as their columns store them).

    ``run_id`` is accepted and left out: the entry that holds the digest names the run.
    """
    start, end = window_text or (timestamp(window_start), timestamp(window_end))
    return row_text(
        audit_id,
        start or "",
        end or "",
        check,
        metric,
        json_text(slice or {}),
        slice_key,
        value,
        ci_low,
        ci_high,
        n,
        json_text(threshold),
        severity,
        reason,
        json_text(details or {}),
    )


def row_text(
    audit_id: str,
    start: str,
    end: str,
    check: str,
    metric: str,
    slice_text: str,
    slice_key: str,
    value: Any,
    ci_low: Any,
    ci_high: Any,
    n: Any,
    threshold_text: str,
    severity: str,
    reason: str | None,
    details_text: str,
) -> str:
    """The object ``dumps`` would write for these fields, assembled directly (keys in sorted order).

    Verifying a year of results serialises millions of rows; assembling the string from its
    already-serialised parts is several times faster than building a dict to encode, and
    tests/ledger/test_canonical.py proves it byte-identical to ``dumps``.
    """
    num, enc = number_text, _string
    return (
        f'{{"audit_id":{enc(audit_id)},"check":{enc(check)},"ci_high":{num(ci_high)},"ci_low":{num(ci_low)},'
        f'"details":{details_text},"metric":{enc(metric)},"n":{"null" if n is None else int(n)},'
        f'"reason":{enc(reason or "")},"severity":{enc(severity)},"slice":{slice_text},"slice_key":{enc(slice_key)},'
        f'"threshold":{threshold_text},"value":{num(value)},"window_end":{enc(end)},"window_start":{enc(start)}}}'
    )


def _rememberable(value: dict[Any, Any]) -> bool:
    """Can every value equal to this flat dict share its text? Then it may be remembered.

    Equal keys must mean equal text: str keys, and values that are str, None or numbers
    other than 0 and 1 (``True == 1`` and ``False == 0`` but they are written ``true`` and
    ``false``; ``1.0 == 1`` is fine, both are written ``1``).
    """
    for k, v in value.items():
        if type(k) is not str:
            return False
        if v is None or type(v) is str:
            continue
        if type(v) not in (int, float) or v == 0 or v == 1:
            return False
    return True


def _memo_json_text(memo: dict[Any, str], value: Any) -> str:
    """``json_text(value)``, remembered per distinct value (results repeat their slices and
    thresholds, so a window serialises each distinct one once)."""
    if value is None:
        return "null"
    try:
        key = tuple(value.items())
        text = memo.get(key)
    except (TypeError, AttributeError):  # unhashable (nested lists, dicts), or not a dict
        return json_text(value)
    if text is None:
        text = json_text(value)
        if _rememberable(value):
            memo[key] = text
    return text


def row_texts(rows: list[dict[str, Any]], start: str, end: str) -> list[str]:
    """``row_text`` of each metric_results row dict of one window (its timestamps serialised).

    The same bytes as ``result_row``, assembled with the window's constant parts and each
    distinct JSON value serialised once: this runs for every result ``record_window`` commits.
    """
    num, enc, memo_text = number_text, _string, _memo_json_text
    memo: dict[Any, str] = {}
    get = memo.get
    heads: dict[str, str] = {}
    tail = f',"window_end":{enc(end)},"window_start":{enc(start)}}}'
    out = []
    for r in rows:
        head = heads.get(r["audit_id"])
        if head is None:
            head = heads[r["audit_id"]] = f'{{"audit_id":{enc(r["audit_id"])},"check":'
        value, low, high, n = r["value"], r["ci_low"], r["ci_high"], r["n"]
        slice_, threshold, details = r["slice"] or {}, r["threshold"], r["details"] or {}
        try:  # the common case, inlined: flat dicts already remembered
            slice_text = get(tuple(slice_.items())) or memo_text(memo, slice_)
            details_text = get(tuple(details.items())) or memo_text(memo, details)
            threshold_text = (
                "null" if threshold is None else get(tuple(threshold.items())) or memo_text(memo, threshold)
            )
        except (TypeError, AttributeError):
            slice_text, details_text = memo_text(memo, slice_), memo_text(memo, details)
            threshold_text = memo_text(memo, threshold)
        out.append(
            f'{head}{enc(r["check"])},"ci_high":{"null" if high is None else num(high)},'
            f'"ci_low":{"null" if low is None else num(low)},"details":{details_text},'
            f'"metric":{enc(r["metric"])},"n":{"null" if n is None else int(n)},"reason":{enc(r["reason"] or "")},'
            f'"severity":{enc(r["severity"])},"slice":{slice_text},"slice_key":{enc(r["slice_key"])},'
            f'"threshold":{threshold_text},"value":{"null" if value is None else num(value)}{tail}'
        )
    return out


def results_document(rows: list[str]) -> str:
    """A window's results: the JSON array of its serialised rows, sorted as strings."""
    return "[" + ",".join(sorted(rows)) + "]"


def spec_hash_of(spec: dict[str, Any]) -> str:
    """The spec hash ``AuditSpec.spec_hash`` gives, recomputed from a stored snapshot."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
