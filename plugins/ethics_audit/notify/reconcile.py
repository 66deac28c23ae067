"""Creates whose outcome is unknown: never sent twice blindly, and duplicates undone when found.

A create (a Jira ticket, a GitHub issue, a Slack message) that was sent but not answered, a
timeout or a connection reset, may have been done by the service, now or a while later. The
outbox records "outcome unknown" on the row and holds it for ``DeliverySettings.settle``; the
next attempt searches by the alert's label or the message's marker first and adopts what it
finds. A service that applies the lost create even later than that makes a second ticket or
message; the alert is then marked *unsettled*, and every later delivery for it looks again and
closes the duplicates (Jira and GitHub: a comment and a link to the tracked ticket, then closed;
Slack: deleted with ``chat.delete``). What was found and undone is kept on the outbox row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem

log = logging.getLogger(__name__)


def sent_but_unanswered(exc: BaseException) -> bool:
    """True for a requests error after the request went out: a read timeout or a dropped
    connection; False when the connection never opened (refused, DNS, connect timeout)."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.Timeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        return not any(s in text for s in ("NewConnectionError", "Failed to establish", "Name or service", "refused"))
    return False


def unknown_since(item: OutboxItem) -> dict[str, Any] | None:
    """The row's "outcome unknown" record, if an earlier attempt's create went unanswered."""
    return (item.external_ref or {}).get("outcome_unknown") if item.status == "pending" else None


def with_unknown_outcome(item: OutboxItem, settle: timedelta) -> OutboxItem:
    """The row as the next attempt in the same pass sees it: with its "outcome unknown" record."""
    from dataclasses import replace

    from ethics_audit.store.models import utcnow

    now = utcnow()
    record = {"first_at": now.isoformat(), "at": now.isoformat(), "until": (now + settle).isoformat(), "times": 1}
    return replace(item, external_ref={**(item.external_ref or {}), "outcome_unknown": record})


def settling(item: OutboxItem, now: datetime) -> bool:
    """True while a row with an unknown outcome waits for the service's search to catch up."""
    unknown = unknown_since(item)
    if not unknown:
        return False
    return datetime.fromisoformat(unknown["until"]) > now


def unsettled(item: OutboxItem, channel: str) -> bool:
    """Look for duplicates: this row's create went unanswered, or the alert's did earlier."""
    return bool(unknown_since(item)) or bool((item.alert_refs.get(channel) or {}).get("unsettled"))


def tracked_ref(ref: dict[str, Any], item: OutboxItem, channel: str) -> dict[str, Any]:
    """The alert's ref for ``channel``, keeping the unsettled mark once it is set."""
    return {**ref, "unsettled": True} if unsettled(item, channel) else ref


def recorded(what: dict[str, Any], duplicates: list[Any], channel: str, item: OutboxItem) -> dict[str, Any]:
    """The outbox ref, with the reconciliation's outcome (kept on the row: the event's record)."""
    if duplicates:
        log.warning(
            "notification %s (%s): %d duplicate(s) of a create whose answer was lost were undone: %s",
            item.id,
            channel,
            len(duplicates),
            duplicates,
        )
        what = {**what, "duplicates_undone": duplicates}
    if unknown_since(item):
        what = {**what, "after_outcome_unknown": unknown_since(item)}
    return what


# --------------------------------------------------------------------------- Jira


def close_jira_duplicates(channel: Any, keep: str, duplicates: list[str]) -> list[str]:
    """Link each duplicate to ``keep`` ("Duplicate"), say so in a comment and move it to done."""
    from ethics_audit.errors import NotificationError

    closed = []
    for key in duplicates:
        url = channel.url
        body = (
            f"Duplicate of {keep}: made twice because the answer to the first create was lost. Closed by ethics-audit."
        )
        try:
            channel.http.request(
                "POST",
                f"{url}/rest/api/2/issueLink",
                what=f"linking {key} to {keep}",
                json={"type": {"name": "Duplicate"}, "inwardIssue": {"key": key}, "outwardIssue": {"key": keep}},
            )
        except NotificationError as exc:  # a project without the Duplicate link type: the comment says it
            log.warning("jira: could not link %s to %s: %s", key, keep, exc)
        channel.http.request(
            "POST", f"{url}/rest/api/2/issue/{key}/comment", what=f"commenting on {key}", json={"body": body}
        )
        channel._transition(key, to_done=True)
        closed.append(key)
    return closed


# --------------------------------------------------------------------------- GitHub


def close_github_duplicates(channel: Any, base: str, keep: int, duplicates: list[int]) -> list[int]:
    """Comment "Duplicate of #N" on each duplicate and close it as a duplicate."""
    closed = []
    for number in duplicates:
        channel.http.request(
            "POST",
            f"{base}/{number}/comments",
            what=f"commenting on issue #{number}",
            json={"body": f"Duplicate of #{keep}: made twice because the answer to the first create was lost."},
        )
        channel.http.request(
            "PATCH",
            f"{base}/{number}",
            what=f"closing issue #{number}",
            json={"state": "closed", "state_reason": "duplicate"},
        )
        closed.append(number)
    return closed


# --------------------------------------------------------------------------- Slack


def delete_slack_duplicates(channel: Any, thread: dict[str, Any]) -> list[str]:
    """Delete second copies: of the thread's parent in the channel (same marker, another ts), and
    of each reply in the thread (same marker: the earliest copy stays)."""
    mark = thread.get("mark")
    deleted: list[str] = []
    if mark:
        oldest = float(thread["ts"]) - 3600
        history = channel._call("conversations.history", channel=thread["channel"], oldest=f"{oldest:.6f}", limit=200)
        for message in history.get("messages", []):
            if message.get("ts") != thread["ts"] and _first_block_id(message) == mark:
                channel._call("chat.delete", channel=thread["channel"], ts=message["ts"])
                deleted.append(message["ts"])
    replies = channel._call("conversations.replies", channel=thread["channel"], ts=thread["ts"], limit=200)
    seen: set[str] = set()
    for message in sorted(replies.get("messages", []), key=lambda m: float(m["ts"])):
        block = _first_block_id(message)
        if message.get("ts") == thread["ts"] or block is None:
            continue
        if block in seen:
            channel._call("chat.delete", channel=thread["channel"], ts=message["ts"])
            deleted.append(message["ts"])
        seen.add(block)
    return deleted


def _first_block_id(message: dict[str, Any]) -> str | None:
    for block in message.get("blocks") or []:
        if block.get("block_id", "").startswith("ea-"):
            return block["block_id"]
    return None
