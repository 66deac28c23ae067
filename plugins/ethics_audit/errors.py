"""The one exception family of ethics-audit.

Every error a user can act on is an ``AuditError``: its message names the file, the field or
the column, and says what to do. The CLI prints these without a traceback; anything else that
escapes is a bug in ethics-audit and is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass


class AuditError(Exception):
    """An error the user can act on. ``str(err)`` is the whole, human-readable message."""


@dataclass(frozen=True)
class SpecProblem:
    """One problem found in one audit spec file."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        field = self.field or "(top level)"
        return f"{self.file}: {field}: {self.message}{where}"


class SpecError(AuditError):
    """A spec file that does not validate. Carries every problem, not just the first."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceError(AuditError):
    """A data source that cannot be read (missing file, bad SQL, unreachable database)."""


class DataError(AuditError):
    """Data that was read but cannot be audited as configured (missing column, bad values)."""


class StoreError(AuditError):
    """The results database cannot be opened or migrated."""


class InternalError(AuditError):
    """A bug, raised in place of the original error where a host logs what escapes (an Airflow
    task's log): ``str(err)`` names the error's type and place; its own message, which may quote
    a row value, is withheld (``ETHICS_AUDIT_DEBUG=1`` raises the original instead)."""


class NotificationError(AuditError):
    """A notification that could not be delivered. ``retryable``: worth trying again soon (timeouts,
    5xx, 429); ``retry_after``: seconds the service asked us to wait; ``channel_down``: the whole
    channel is unusable for now (auth, connectivity), so its other rows wait too. The message
    never contains a token, a webhook URL or a routing key."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        channel_down: bool | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.channel_down = retryable if channel_down is None else channel_down


class OutcomeUnknown(NotificationError):
    """A create or post that was sent but not answered (a timeout, a connection reset): the
    service may have done it. It is never simply sent again: the row waits for the service's
    search to catch up, and the next attempt first looks for what this one may have made."""


def columns_withheld(columns: object) -> str:
    """How an error describes the columns a source has: by count only. Column names are read from
    the data (a CSV's first line), and no message may quote what a file holds."""
    try:
        n = len(columns)  # type: ignore[arg-type]
    except TypeError:
        n = 0
    return f"{n} column{'s' if n != 1 else ''}, names not shown because they are read from the data"
