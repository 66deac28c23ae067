"""Run a check family as independent parts, so one broken input does not hide the others' results.

A part whose input is wrong (a column that is not there, a ledger with unknown values) yields
one ``check_error`` result naming the part and the fix, and the other parts still run: a broken
consent ledger must not hide a PII leak, a broken appeals ledger must not hide missing
explanations. An unexpected exception is reported by type and place, never by its message,
which could quote a data value.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.results import MetricResult, Status

if TYPE_CHECKING:
    from ethics_audit.data import AuditData

log = logging.getLogger(__name__)

Part = Callable[[Any, "AuditData"], list[MetricResult]]


def safe_internal_error(check: str, part: str, exc: Exception) -> str:
    """Type and place of an unexpected exception, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}"
        ours = [f for f in frames[:-1] if "ethics_audit" in f.filename]
        if ours and "ethics_audit" not in frames[-1].filename:
            where += f" (called from {Path(ours[-1].filename).name}:{ours[-1].lineno})"
    return (
        f"internal error in the {check} check ({part}): {type(exc).__name__}{where}; the message is withheld "
        "because it may quote data values. This is a bug in ethics-audit: please report it"
    )


def run_parts(check: str, parts: list[tuple[str, Part]], config: Any, data: AuditData) -> list[MetricResult]:
    """Each part in turn; a failing part becomes a ``check_error`` result sliced by ``part``."""
    results: list[MetricResult] = []
    for part, compute in parts:
        try:
            results += compute(config, data)
        except AuditError as exc:
            results.append(
                MetricResult(check, "check_error", None, slice={"part": part}, status=Status.ERROR,
                             details={"error": str(exc), "part": part})
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported as a result, without a message that may hold PII
            from ethics_audit.engine import out_of_memory

            message = out_of_memory(f"the {check} check ({part})", exc)  # logged there
            if message is None:
                message = safe_internal_error(check, part, exc)
                log.error(message)
            results.append(
                MetricResult(check, "check_error", None, slice={"part": part}, status=Status.ERROR,
                             details={"error": message, "part": part})
            )  # fmt: skip
    return results
