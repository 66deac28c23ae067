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
from typing import Any

from ethics_audit.errors import NotificationError
from ethics_audit.notify import reconcile, render
from ethics_audit.notify.base import DeliverySettings, Http, connection, require, retry_after
from ethics_audit.notify.tickets import TicketChannel

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


class GitHubChannel(TicketChannel):
    name = "github"
    noun = "issue"
    id_key = "number"
    body_limit = BODY_LIMIT
    close_verb = "close"

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

    def where(self, payload: dict[str, Any]) -> str:
        owners = payload.get("owners") or {}
        repo = require(
            owners.get("github_repo") or owners.get("ticket_project"), "github: the spec has no owners.github_repo"
        )
        if "/" not in repo:
            raise NotificationError(f"github: {repo!r} is not org/repo; set owners.github_repo", retryable=False)
        return repo

    def marked(self, body: str, mark: str) -> str:
        return f"{body}\n\n<!-- ethics-audit:{mark} -->"

    def _issues(self, repo: str) -> str:
        return f"{self.api}/repos/{repo}/issues"

    def ref(self, where: str, ticket: int) -> dict[str, Any]:
        web = "https://github.com" if self.api == "https://api.github.com" else self.api.removesuffix("/api/v3")
        return {"number": ticket, "url": f"{web}/{where}/issues/{ticket}"}

    def find_open(self, where: str, label: str) -> list[int]:
        return self._find_open(self._issues(where), label)

    def create(self, where: str, label: str, payload: dict[str, Any], body: str) -> dict[str, Any]:
        response = self.http.request(
            "POST",
            self._issues(where),
            what="creating the issue",
            json={"title": render.title(payload)[:250], "body": body, "labels": ["ethics-audit", label]},
        )
        created = response.json()
        return {"number": created["number"], "url": created.get("html_url")}

    def close_duplicates(self, where: str, keep: int, duplicates: list[int]) -> list[int]:
        return reconcile.close_github_duplicates(self, self._issues(where), keep, duplicates)

    def comment(self, where: str, ticket: int, body: str, mark: str, *, check_first: bool) -> None:
        self._comment(f"{self._issues(where)}/{ticket}/comments", body, mark, check_first=check_first)

    def set_done(self, where: str, ticket: int, *, done: bool) -> None:
        state = {"state": "closed", "state_reason": "completed"} if done else {"state": "open"}
        self.http.request("PATCH", f"{self._issues(where)}/{ticket}", what=f"updating issue #{ticket}", json=state)

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
