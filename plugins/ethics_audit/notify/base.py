"""What every channel shares: the channel contract, credentials, an HTTP helper, secret redaction.

Credentials come from environment variables or Airflow connections only, never from the spec
or the outbox payload. Every error a channel raises is a ``NotificationError`` whose message
names the service, the HTTP status and the variable to check, and never the secret itself:
``redact`` scrubs each known secret from any text before it reaches a log or the database.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from ethics_audit.errors import NotificationError, OutcomeUnknown

if TYPE_CHECKING:
    import requests

    from ethics_audit.store import Store
    from ethics_audit.store.outbox import OutboxItem


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise NotificationError(f"{name}={raw!r} is not a number", retryable=False) from None


@dataclass(frozen=True)
class DeliverySettings:
    """How hard delivery tries. Inside one pass: ``tries`` calls with ``backoff`` * 2**k seconds
    between them (or the service's Retry-After, up to ``max_wait``). Across passes: the row waits
    ``retry_base`` * 2**(attempts - 1), at most ``retry_cap``, and fails after ``max_attempts``."""

    timeout: float = 10.0
    tries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0
    retry_base: timedelta = timedelta(minutes=1)
    retry_cap: timedelta = timedelta(hours=6)
    max_attempts: int = 10
    lease: timedelta = timedelta(minutes=5)
    # after an unanswered create: how long the next attempt waits before it searches for what the
    # lost call may have made (Jira's and GitHub's search lag seconds behind a create)
    settle: timedelta = timedelta(minutes=1)

    @classmethod
    def from_env(cls) -> DeliverySettings:
        return cls(
            timeout=_env_float("ETHICS_AUDIT_NOTIFY_TIMEOUT", cls.timeout),
            tries=max(1, int(_env_float("ETHICS_AUDIT_NOTIFY_TRIES", cls.tries))),
            backoff=_env_float("ETHICS_AUDIT_NOTIFY_BACKOFF", cls.backoff),
            max_wait=_env_float("ETHICS_AUDIT_NOTIFY_MAX_WAIT", cls.max_wait),
            max_attempts=max(1, int(_env_float("ETHICS_AUDIT_NOTIFY_MAX_ATTEMPTS", cls.max_attempts))),
            retry_base=timedelta(seconds=_env_float("ETHICS_AUDIT_NOTIFY_RETRY_BASE", cls.retry_base.total_seconds())),
            settle=timedelta(seconds=_env_float("ETHICS_AUDIT_NOTIFY_SETTLE", cls.settle.total_seconds())),
        )

    def next_attempt_in(self, attempts: int) -> timedelta:
        return min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))


@dataclass
class Sent:
    """What a delivery created: ``ref`` is kept on the outbox row; ``alert_refs`` is merged into
    the alert so later rows reply in the same thread or comment on the same ticket."""

    ref: dict[str, Any] = field(default_factory=dict)
    alert_refs: dict[str, Any] = field(default_factory=dict)


# the artifact kind of a run's HTML report (``reports/run_report.py`` records it; notify only reads it)
RUN_REPORT_ARTIFACT = "run_report"
# channels that name the command that renders the run report instead of linking the HTML file
NAMES_REPORT_COMMAND = ("console",)


def links_run_report(item: OutboxItem) -> bool:
    """Whether delivering this row links its run's HTML report, which must then exist: the runner
    renders it after the commit, before delivery, for exactly these rows."""
    return bool(item.payload.get("run_id")) and "alert" in item.payload and item.channel not in NAMES_REPORT_COMMAND


class DeliveryContext:
    """Per-pass helpers for channels: settings and links to run reports (looked up once per run)."""

    def __init__(self, store: Store | None, settings: DeliverySettings):
        self.store = store
        self.settings = settings
        self._reports: dict[int, str | None] = {}

    def report_link(self, run_id: int | None) -> str | None:
        """A URL (``ETHICS_AUDIT_REPORT_BASE_URL`` + the path under ``ETHICS_AUDIT_HOME``) or the
        local path of the run's HTML report, as recorded in the store; None if it was not rendered."""
        if run_id is None or self.store is None:
            return None
        if run_id not in self._reports:
            self._reports[run_id] = self._recorded(run_id)
        return self._reports[run_id]

    def _recorded(self, run_id: int) -> str | None:
        from pathlib import Path

        from ethics_audit import settings

        assert self.store is not None
        found = [a["uri"] for a in self.store.artifacts(run_id) if a["kind"] == RUN_REPORT_ARTIFACT]
        if not found:
            return None
        path = Path(found[-1])
        base = settings.report_base_url()
        if not base:
            return str(path)
        try:
            relative = path.resolve().relative_to(settings.home()).as_posix()
        except ValueError:
            relative = path.name
        return f"{base.rstrip('/')}/{relative}"

    def links(self, item: OutboxItem, *, report: bool = True) -> dict[str, str]:
        """Run report (unless ``report`` is False) and ticket links, by name."""
        out: dict[str, str] = {}
        link = self.report_link(item.payload.get("run_id")) if report else None
        if link:
            out["run report"] = link
        for name in ("jira", "github"):
            ref = item.alert_refs.get(name) or {}
            if ref.get("url"):
                out[f"{name} ticket"] = ref["url"]
        return out


class Channel:
    """A destination. ``send`` delivers one outbox row or raises ``NotificationError``.

    ``retry`` is True when an earlier call for this row may have gone through (a timeout, a
    crash): the channel must then look for what that call created before creating it again.
    """

    name: ClassVar[str] = ""
    # True when the service folds a repeated call with the same idempotency key (PagerDuty's
    # dedup_key): an unanswered call may then be retried at once instead of reconciled
    folds_repeats: ClassVar[bool] = False

    def secrets(self) -> list[str]:
        return []

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        raise NotImplementedError


def marker(idempotency_key: str) -> str:
    """The mark a notification carries (Slack's block_id, a ticket's hidden line), derived from
    its outbox key, so a retry can find what a lost call made."""
    import hashlib

    return "ea-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def ticket_label(alert_key: str) -> str:
    """The label that marks an alert's ticket (Jira and GitHub): readable when it fits GitHub's
    50 characters, a hash otherwise. Derived from the alert key, so it survives a rebuilt database."""
    import hashlib
    import re

    readable = "ea-" + re.sub(r"[^a-z0-9_.-]+", "-", alert_key.lower())
    return readable if len(readable) <= 50 else "ea-" + hashlib.sha256(alert_key.encode()).hexdigest()[:20]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _Redactor(logging.Filter):
    """Scrubs known secrets from log records of the HTTP libraries (urllib3 logs request paths at
    DEBUG, and a webhook URL's path is its secret)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, sorted(self.secrets, key=len, reverse=True))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()
HTTP_LOGGERS = ("urllib3.connectionpool", "slack_sdk.web.base_client", "requests")


def hide_in_logs(*secrets: str) -> None:
    """From now on, these values never appear in what the HTTP libraries log. For a URL, its path
    too: urllib3 logs the path alone, and a webhook URL carries its secret there."""
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        _REDACTOR.secrets.add(secret)
        if secret.startswith(("http://", "https://")):
            path = urlsplit(secret).path
            if len(path) > 1:
                _REDACTOR.secrets.add(path)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def connection(conn_id: str) -> Any:
    """An Airflow connection's fields (``AIRFLOW_CONN_<ID>`` or Airflow itself), or None."""
    from ethics_audit.connections import get_connection

    try:
        return get_connection(conn_id)
    except Exception:  # noqa: BLE001 - a malformed AIRFLOW_CONN_ value is reported as "not configured"
        return None


def require(value: str | None, message: str) -> str:
    if not value:
        raise NotificationError(message, retryable=False, channel_down=True)
    return value


def host_of(url: str) -> str:
    """Scheme and host only: webhook URLs carry their secret in the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None


class Http:
    """A requests session for one service: timeouts, and HTTP failures as NotificationErrors."""

    def __init__(
        self,
        service: str,
        *,
        timeout: float,
        secrets: list[str],
        credentials_hint: str,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        classify: Any = None,
    ):
        import requests

        hide_in_logs(*secrets)
        self.classify = classify  # service-specific errors first (e.g. GitHub's 403 rate limit)
        self.service = service
        self.timeout = timeout
        self.secrets = secrets
        self.credentials_hint = credentials_hint
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "ethics-audit", **(headers or {})})
        if auth is not None:
            self.session.auth = auth

    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        import requests

        from ethics_audit.notify.reconcile import sent_but_unanswered

        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            if method == "POST" and sent_but_unanswered(exc):
                why = (
                    f"no answer within {self.timeout:g} s" if isinstance(exc, requests.Timeout) else "connection reset"
                )
                raise OutcomeUnknown(
                    f"{self.service}: outcome unknown: {what} was sent but not answered ({why}); "
                    "the next attempt looks for what it may have made before sending again"
                ) from None
            if isinstance(exc, requests.Timeout):
                raise NotificationError(f"{self.service}: no answer to {what} within {self.timeout:g} s") from None
            raise NotificationError(
                f"{self.service}: cannot reach {host_of(url)} for {what} ({type(exc).__name__})"
            ) from None
        if response.status_code < 400:
            return response
        raise self.error(response, what)

    def error(self, response: requests.Response, what: str) -> NotificationError:
        special = self.classify(response, what) if self.classify is not None else None
        if special is not None:
            return special
        status = response.status_code
        detail = redact(_error_detail(response), self.secrets)
        if status in (401, 403):
            return NotificationError(
                f"{self.service}: the credentials were rejected for {what} (HTTP {status}{detail}); "
                f"check {self.credentials_hint}",
                retryable=False,
                channel_down=True,
            )
        if status == 429:
            wait = retry_after(response.headers)
            return NotificationError(
                f"{self.service}: rate limited on {what} (HTTP 429, retry after {wait if wait is not None else '?'} s)",
                retry_after=wait,
            )
        if status >= 500:
            return NotificationError(f"{self.service}: server error on {what} (HTTP {status}{detail})")
        return NotificationError(
            f"{self.service}: {what} was refused (HTTP {status}{detail})", retryable=False, channel_down=False
        )


def _error_detail(response: Any) -> str:
    """A short, safe summary of an error body: the service's own error messages, nothing else."""
    try:
        body = response.json()
    except ValueError:
        return ""
    messages: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "error", "errorMessages", "errors"):
            value = body.get(key)
            if isinstance(value, str):
                messages.append(value)
            elif isinstance(value, list):
                messages += [str(v) for v in value[:3]]
            elif isinstance(value, dict):
                messages += [f"{k}: {v}" for k, v in list(value.items())[:3]]
    text = "; ".join(messages)[:300]
    return f": {text}" if text else ""


def sleep(seconds: float) -> None:
    """Indirection so tests can count waits without waiting."""
    time.sleep(seconds)
