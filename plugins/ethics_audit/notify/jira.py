"""Jira remediation tickets over REST: one issue per alert in the owners' project.

The first notification creates an issue (labelled ``ethics-audit`` and with the alert's label);
updates are comments; the resolution comments and moves the issue to a *done* status; a
reopened alert moves it back. Before creating, it searches for an open issue with the alert's
label, so a create whose response was lost (a timeout) never makes a second ticket; a retried
comment checks the issue's comments for its marker first.

Credentials: ``JIRA_URL`` + ``JIRA_USER`` + ``JIRA_API_TOKEN`` (Jira Cloud: e-mail and API
token, basic auth; Data Center: leave ``JIRA_USER`` empty and give a personal access token),
or the Airflow connection ``jira_default`` (host, login, password). ``JIRA_ISSUE_TYPE``
(default ``Task``). Search uses ``/rest/api/3/search/jql`` (Jira Cloud) and falls back to
``/rest/api/2/search`` (Data Center); everything else is REST v2, which both accept.
"""

from __future__ import annotations

import os
from typing import Any

from ethics_audit.errors import NotificationError
from ethics_audit.notify import reconcile, render
from ethics_audit.notify.base import DeliverySettings, Http, connection, require
from ethics_audit.notify.tickets import TicketChannel

# Jira refuses a description or comment over 32,767 characters; the reference line needs the rest
BODY_LIMIT = 32_000
CREDENTIALS = "JIRA_URL, JIRA_USER and JIRA_API_TOKEN (or the Airflow connection jira_default)"


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraChannel(TicketChannel):
    name = "jira"
    style = "jira"
    body_limit = BODY_LIMIT

    def __init__(self, *, settings: DeliverySettings):
        conn = None if os.environ.get("JIRA_API_TOKEN") else connection("jira_default")
        url = os.environ.get("JIRA_URL") or (conn.host if conn is not None else None)
        self.url = require(url, f"jira: no Jira URL; set {CREDENTIALS}").rstrip("/")
        if not self.url.startswith("http"):
            self.url = f"https://{self.url}"
        self.user = os.environ.get("JIRA_USER") or (conn.login if conn is not None else None)
        self.token = require(
            os.environ.get("JIRA_API_TOKEN") or (conn.password if conn is not None else None),
            f"jira: no API token; set {CREDENTIALS}",
        )
        self.issue_type = os.environ.get("JIRA_ISSUE_TYPE", "Task")
        headers = {"Accept": "application/json"}
        if not self.user:
            headers["Authorization"] = f"Bearer {self.token}"
        self.http = Http(
            "jira",
            timeout=settings.timeout,
            secrets=[self.token],
            credentials_hint=CREDENTIALS,
            headers=headers,
            auth=(self.user, self.token) if self.user else None,
        )

    def secrets(self) -> list[str]:
        return [self.token]

    def where(self, payload: dict[str, Any]) -> str:
        return require(
            (payload.get("owners") or {}).get("ticket_project"), "jira: the spec has no owners.ticket_project"
        )

    def marked(self, body: str, mark: str) -> str:
        return f"{body}\n\n(ethics-audit ref {mark})"

    def ref(self, where: str, ticket: str) -> dict[str, Any]:
        return {"key": ticket, "url": f"{self.url}/browse/{ticket}"}

    def find_open(self, where: str, label: str) -> list[str]:
        return self._find_open(where, label)

    def create(self, where: str, label: str, payload: dict[str, Any], body: str) -> dict[str, Any]:
        return self.ref(where, self._create(where, label, payload, body))

    def close_duplicates(self, where: str, keep: str, duplicates: list[str]) -> list[str]:
        return reconcile.close_jira_duplicates(self, keep, duplicates)

    def comment(self, where: str, ticket: str, body: str, mark: str, *, check_first: bool) -> None:
        self._comment(ticket, body, mark, check_first=check_first)

    def set_done(self, where: str, ticket: str, *, done: bool) -> None:
        self._transition(ticket, to_done=done)

    def _find_open(self, project: str, label: str) -> list[str]:
        """Open issues with the alert's label, oldest first."""
        jql = (
            f"project = {_jql_string(project)} AND labels = {_jql_string(label)} "
            "AND statusCategory != Done ORDER BY created DESC"
        )
        params = {"jql": jql, "fields": "summary,status", "maxResults": 20}
        try:
            response = self.http.request(
                "GET", f"{self.url}/rest/api/3/search/jql", what="the search for an open ticket", params=params
            )
        except NotificationError as exc:
            if "HTTP 404" not in str(exc):
                raise
            # Jira Data Center has no /search/jql yet
            response = self.http.request(
                "GET", f"{self.url}/rest/api/2/search", what="the search for an open ticket", params=params
            )
        issues = response.json().get("issues", [])
        return [i["key"] for i in sorted(issues, key=lambda i: int(i.get("id") or 0))]

    def _create(self, project: str, label: str, payload: dict[str, Any], body: str) -> str:
        fields = {
            "project": {"key": project},
            "summary": render.title(payload)[:250],
            "description": body,
            "issuetype": {"name": self.issue_type},
            "labels": ["ethics-audit", label],
        }
        response = self.http.request(
            "POST", f"{self.url}/rest/api/2/issue", what="creating the ticket", json={"fields": fields}
        )
        return response.json()["key"]

    def _comment(self, issue: str, body: str, mark: str, *, check_first: bool) -> None:
        url = f"{self.url}/rest/api/2/issue/{issue}/comment"
        if check_first:
            existing = self.http.request(
                "GET", url, what="reading the ticket's comments", params={"orderBy": "-created", "maxResults": 100}
            )
            if any(mark in (c.get("body") or "") for c in existing.json().get("comments", [])):
                return
        self.http.request("POST", url, what=f"commenting on {issue}", json={"body": body})

    def _transition(self, issue: str, *, to_done: bool) -> None:
        url = f"{self.url}/rest/api/2/issue/{issue}/transitions"
        options = (
            self.http.request("GET", url, what=f"reading the transitions of {issue}").json().get("transitions", [])
        )
        wanted = [t for t in options if ((t.get("to") or {}).get("statusCategory") or {}).get("key") == "done"]
        if not to_done:
            wanted = [
                t
                for t in options
                if ((t.get("to") or {}).get("statusCategory") or {}).get("key") in ("new", "indeterminate")
            ]
        if wanted:  # already there, or a workflow without such a step: the comment says it all
            self.http.request("POST", url, what=f"moving {issue}", json={"transition": {"id": wanted[0]["id"]}})
