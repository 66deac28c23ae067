"""GitHub Issues as remediation tickets: create, comment, close and reopen, with labels.

One issue per alert in ``owners.github_repo`` (or ``owners.ticket_project`` when it is
``org/repo``), labelled ``ethics-audit`` and with the alert's label. Before creating, it lists
the repository's open issues with that label, so a lost response never makes a second issue;
a retried comment looks for its hidden marker (an HTML comment) first.

Credentials: ``GITHUB_TOKEN`` or the Airflow connection ``github_default`` (password; its host
is the API URL for GitHub Enterprise). ``GITHUB_API_URL`` overrides the API endpoint.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import NotificationError
from ethics_audit.notify import reconcile, render
from ethics_audit.notify.base import (
    Channel,
    DeliveryContext,
    DeliverySettings,
    Http,
    Sent,
    connection,
    require,
    retry_after,
    ticket_label,
)
from ethics_audit.notify.slack import marker

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem

# GitHub refuses an issue or comment body over 65,536 characters; the marker needs the rest
BODY_LIMIT = 65_000
CREDENTIALS = "GITHUB_TOKEN (or the Airflow connection github_default)"


def _rate_limited(response: Any, what: str) -> NotificationError | None:
    """GitHub answers a spent rate limit with 403 (not 429) and says when it resets."""
    if response.status_code not in (403, 429):
        return None
    wait = retry_after(response.headers)
    if wait is None and response.headers.get("X-RateLimit-Remaining") == "0":
        import time

        try:
            wait = max(0.0, float(response.headers.get("X-RateLimit-Reset", "0")) - time.time())
        except ValueError:
            wait = 60.0
    if wait is None:
        return None
    return NotificationError(f"github: rate limited on {what} (retry after {wait:.0f} s)", retry_after=wait)


class GitHubChannel(Channel):
    name = "github"

    def __init__(self, *, settings: DeliverySettings):
        conn = None if os.environ.get("GITHUB_TOKEN") else connection("github_default")
        self.token = require(
            os.environ.get("GITHUB_TOKEN") or (conn.password if conn is not None else None),
            f"github: no token; set {CREDENTIALS}",
        )
        api = os.environ.get("GITHUB_API_URL") or (conn.host if conn is not None and conn.host else None)
        self.api = (api or "https://api.github.com").rstrip("/")
        self.http = Http(
            "github",
            timeout=settings.timeout,
            secrets=[self.token],
            credentials_hint=CREDENTIALS,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            classify=_rate_limited,
        )

    def secrets(self) -> list[str]:
        return [self.token]

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        payload = item.payload
        if render.is_message(payload):
            raise NotificationError(
                "github: plain messages are not issues; route them to a chat channel", retryable=False
            )
        owners = payload.get("owners") or {}
        repo = require(
            owners.get("github_repo") or owners.get("ticket_project"), "github: the spec has no owners.github_repo"
        )
        if "/" not in repo:
            raise NotificationError(f"github: {repo!r} is not org/repo; set owners.github_repo", retryable=False)
        label = ticket_label(payload["alert"]["key"])
        mark = marker(item.idempotency_key)
        kind = payload["kind"]
        links = {name: url for name, url in ctx.links(item).items() if name != "github ticket"}
        summary = render.summary_text(payload, links=links)
        body = render.with_remedy(summary, payload, limit=BODY_LIMIT, link=links.get("run report"), style="markdown")
        body = f"{body}\n\n<!-- ethics-audit:{mark} -->"
        base = f"{self.api}/repos/{repo}/issues"
        number = (item.alert_refs.get("github") or {}).get("number")
        duplicates: list[int] = []
        if number is None:
            found = self._find_open(base, label)
            if not found:
                if kind == "resolved":
                    return Sent(ref={"skipped": "no open issue to close"})
                response = self.http.request(
                    "POST",
                    base,
                    what="creating the issue",
                    json={"title": render.title(payload)[:250], "body": body, "labels": ["ethics-audit", label]},
                )
                created = response.json()
                ref = reconcile.recorded({"number": created["number"], "created": True}, [], self.name, item)
                return Sent(ref=ref, alert_refs={"github": reconcile.tracked_ref(_ref(created), item, self.name)})
            number = found[0]  # the oldest: the first create, whose answer was lost
            duplicates = reconcile.close_github_duplicates(self, base, number, found[1:])
            if kind == "opened":  # a lost response: the issue was created by the earlier call
                ref = reconcile.recorded({"number": number, "found": True}, duplicates, self.name, item)
                return Sent(ref=ref, alert_refs={"github": self._ref(repo, number, item)})
        elif reconcile.unsettled(item, self.name):  # a lost create may have landed since
            extra = [n for n in self._find_open(base, label) if n != number]
            duplicates = reconcile.close_github_duplicates(self, base, number, extra)
        self._comment(f"{base}/{number}/comments", body, mark, check_first=retry)
        if kind in ("resolved", "reopened"):
            state = {"state": "closed", "state_reason": "completed"} if kind == "resolved" else {"state": "open"}
            self.http.request("PATCH", f"{base}/{number}", what=f"updating issue #{number}", json=state)
        ref = reconcile.recorded({"number": number}, duplicates, self.name, item)
        return Sent(ref=ref, alert_refs={"github": self._ref(repo, number, item)})

    def _ref(self, repo: str, number: int, item: OutboxItem | None = None) -> dict[str, Any]:
        web = "https://github.com" if self.api == "https://api.github.com" else self.api.removesuffix("/api/v3")
        ref = {"number": number, "url": f"{web}/{repo}/issues/{number}"}
        return reconcile.tracked_ref(ref, item, self.name) if item is not None else ref

    def _find_open(self, base: str, label: str) -> list[int]:
        """Open issues with the alert's label, oldest first."""
        response = self.http.request(
            "GET", base, what="the search for an open issue", params={"labels": label, "state": "open", "per_page": 30}
        )
        return sorted(i["number"] for i in response.json() if "pull_request" not in i)

    def _comment(self, url: str, body: str, mark: str, *, check_first: bool) -> None:
        if check_first:
            existing = self.http.request("GET", url, what="reading the issue's comments", params={"per_page": 100})
            if any(mark in (c.get("body") or "") for c in existing.json()):
                return
        self.http.request("POST", url, what="commenting on the issue", json={"body": body})


def _ref(issue: dict[str, Any]) -> dict[str, Any]:
    return {"number": issue["number"], "url": issue.get("html_url")}
