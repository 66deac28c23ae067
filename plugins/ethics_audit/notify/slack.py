"""Slack through slack-sdk's ``WebClient``: one Block Kit message per alert, updates in its thread.

The first notification of an alert posts a message (what breached, value against threshold
with its interval, the trend, owners, links to the run report and the ticket) and keeps its
``ts``; updates and the resolution are replies in that thread, and the parent message is
edited to show the alert's state. The token comes from ``SLACK_BOT_TOKEN`` or the Airflow
connection ``slack_api_default`` (password, as in Airflow's Slack provider);
``SLACK_API_URL`` (or the connection's ``base_url`` extra) points at another endpoint.

Slack has no idempotency keys, so every message carries a marker (the ``block_id`` of its
first block, derived from the outbox key). After a call that may have gone through (a
timeout), the retry first reads the channel or thread and does not post again if the marker
is there. HTTP 429 becomes a retry after Retry-After; slack-sdk's own retries are off, because
a blind retry after a timeout is exactly what would post twice.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import NotificationError, OutcomeUnknown
from ethics_audit.notify import reconcile, render
from ethics_audit.notify.base import (
    Channel,
    DeliveryContext,
    DeliverySettings,
    Sent,
    connection,
    hide_in_logs,
    marker,
    require,
)
from ethics_audit.notify.slack_blocks import message_blocks, parent_blocks

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from ethics_audit.store.outbox import OutboxItem

AUTH_ERRORS = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope")
SERVER_ERRORS = ("internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited")
CREDENTIALS = "SLACK_BOT_TOKEN (or the Airflow connection slack_api_default)"


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, *, settings: DeliverySettings):
        conn = None if os.environ.get("SLACK_BOT_TOKEN") else connection("slack_api_default")
        extra = (conn.extra or {}) if conn is not None else {}
        self.token = require(
            os.environ.get("SLACK_BOT_TOKEN") or (conn.password if conn is not None else None),
            "slack: no bot token; set SLACK_BOT_TOKEN or the Airflow connection slack_api_default "
            "(its password is the bot token)",
        )
        base_url = (
            os.environ.get("SLACK_API_URL")
            or extra.get("base_url")
            or extra.get("extra__slack__base_url")
            or "https://slack.com/api/"
        )
        self.base_url = base_url.rstrip("/") + "/"
        hide_in_logs(self.token)
        self.timeout = settings.timeout
        self._channel_ids: dict[str, str] = {}

    def secrets(self) -> list[str]:
        return [self.token]

    @cached_property
    def client(self) -> WebClient:
        from slack_sdk import WebClient

        return WebClient(
            token=self.token,
            base_url=self.base_url,
            timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes fractions of a second
            retry_handlers=[],
        )

    # ------------------------------------------------------------------ sending

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        payload = item.payload
        # plain messages may name their channel themselves (the quarterly report job does)
        target = (payload.get("owners") or {}).get("slack_channel") or payload.get("slack_channel")
        thread = item.alert_refs.get("slack") or {}
        mark = marker(item.idempotency_key)
        text = render.title(payload)
        blocks = message_blocks(item, ctx, mark)
        if render.is_message(payload) or not thread.get("ts"):
            # the alert's first message (or a later one whose parent never made it): a new thread
            channel = require(target, "slack: the spec has no owners.slack_channel to post to")
            found = self._find_posted(channel, mark, item.created_at) if retry else None
            response = found or self._call("chat.postMessage", channel=channel, text=text, blocks=blocks)
            ref = {"channel": response["channel"], "ts": response["ts"]}
            if not render.is_message(payload):
                self._remedy_reply(item, ctx, ref, retry=retry)
            tracked = reconcile.tracked_ref({**ref, "mark": mark}, item, self.name)
            sent = reconcile.recorded({**ref, **({"found": True} if found else {})}, [], self.name, item)
            return Sent(ref=sent, alert_refs={} if render.is_message(payload) else {"slack": tracked})
        duplicates = reconcile.delete_slack_duplicates(self, thread) if reconcile.unsettled(item, self.name) else []
        found = self._find_reply(thread, mark) if retry else None
        response = found or self._call(
            "chat.postMessage",
            channel=thread["channel"],
            thread_ts=thread["ts"],
            text=text,
            blocks=blocks,
            reply_broadcast=payload.get("kind") == "reopened" or bool(payload.get("escalated")),
        )
        if payload.get("kind") == "reopened":
            self._remedy_reply(item, ctx, thread, retry=retry)
        if payload.get("kind") in ("resolved", "reopened") or payload.get("escalated"):
            self._call(
                "chat.update",
                channel=thread["channel"],
                ts=thread["ts"],
                text=text,
                blocks=parent_blocks(item, marker(f"{item.alert_id}:parent")),
            )
        ref = {"channel": thread["channel"], "ts": response["ts"], "thread_ts": thread["ts"]}
        if reconcile.unknown_since(item) and not thread.get("unsettled"):
            # this reply's post went unanswered: the thread is watched for its copy from now on
            return Sent(
                ref=reconcile.recorded(ref, duplicates, self.name, item),
                alert_refs={"slack": {**thread, "unsettled": True}},
            )
        return Sent(ref=reconcile.recorded(ref, duplicates, self.name, item))

    def _remedy_reply(self, item: OutboxItem, ctx: DeliveryContext, thread: dict[str, Any], *, retry: bool) -> None:
        """The alert's "what drives it / what would fix it" section, as the thread's next reply."""
        section = item.payload.get("remedy")
        if not section:
            return
        from ethics_audit.remedies.render import TITLE, slack_blocks

        why = marker(f"{item.idempotency_key}:remedy")
        if retry and self._find_reply(thread, why):
            return
        blocks = slack_blocks(section, link=ctx.links(item).get("run report"))
        blocks[0]["block_id"] = why
        self._call(
            "chat.postMessage",
            channel=thread["channel"],
            thread_ts=thread["ts"],
            text=f"{TITLE}: {section.get('headline', '')}"[:3000],
            blocks=blocks,
        )

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            if method == "chat.postMessage":
                response = self.client.chat_postMessage(**kwargs)
            elif method == "chat.update":
                response = self.client.chat_update(**kwargs)
            elif method == "conversations.history":
                response = self.client.conversations_history(**kwargs)
            elif method == "conversations.replies":
                response = self.client.conversations_replies(**kwargs)
            elif method == "conversations.list":
                response = self.client.conversations_list(**kwargs)
            elif method == "chat.delete":
                response = self.client.chat_delete(**kwargs)
            else:
                response = self.client.api_call(method, http_verb="GET", params=kwargs)
        except SlackApiError as exc:
            raise _slack_error(method, exc) from None
        except TimeoutError:
            if method == "chat.postMessage":
                raise OutcomeUnknown(
                    f"slack: outcome unknown: {method} was sent but not answered within {self.timeout:g} s; "
                    "the next attempt looks for the message's marker before posting again"
                ) from None
            raise NotificationError(f"slack: no answer to {method} within {self.timeout:g} s") from None
        except OSError as exc:  # URLError and connection errors
            if method == "chat.postMessage" and _dropped(exc):
                raise OutcomeUnknown(
                    f"slack: outcome unknown: {method} was sent but the connection dropped ({_reason(exc)}); "
                    "the next attempt looks for the message's marker before posting again"
                ) from None
            raise NotificationError(f"slack: cannot reach {self.base_url} for {method} ({_reason(exc)})") from None
        return response.data  # type: ignore[return-value]

    def check(self) -> dict[str, Any]:
        """``auth.test``: who the token belongs to (for ``ethics-audit notify check``)."""
        data = self._call("auth.test")
        return {"team": data.get("team"), "user": data.get("user")}

    # ------------------------------------------------------------------ finding what a lost call posted

    def _channel_id(self, channel: str) -> str:
        if not channel.startswith("#"):
            return channel  # already an id (C0123...)
        name = channel[1:]
        if name not in self._channel_ids:
            cursor = None
            while True:
                data = self._call(
                    "conversations.list",
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor,
                )
                for conv in data.get("channels", []):
                    self._channel_ids[conv.get("name", "")] = conv["id"]
                cursor = (data.get("response_metadata") or {}).get("next_cursor")
                if name in self._channel_ids or not cursor:
                    break
        found = self._channel_ids.get(name)
        if found is None:
            raise NotificationError(
                f"slack: channel {channel} not found (or the bot is not in it)", retryable=False, channel_down=False
            )
        return found

    def _find_posted(self, channel: str, mark: str, since: datetime) -> dict[str, Any] | None:
        channel_id = self._channel_id(channel)
        oldest = (since - timedelta(minutes=5)).timestamp()
        data = self._call("conversations.history", channel=channel_id, oldest=f"{oldest:.6f}", limit=200)
        for message in data.get("messages", []):
            if _has_marker(message, mark):
                return {"channel": channel_id, "ts": message["ts"]}
        return None

    def _find_reply(self, thread: dict[str, Any], mark: str) -> dict[str, Any] | None:
        data = self._call("conversations.replies", channel=thread["channel"], ts=thread["ts"], limit=200)
        for message in data.get("messages", []):
            if _has_marker(message, mark):
                return {"channel": thread["channel"], "ts": message["ts"]}
        return None


def _has_marker(message: dict[str, Any], mark: str) -> bool:
    return any(block.get("block_id") == mark for block in message.get("blocks") or [])


def _dropped(exc: OSError) -> bool:
    """The request went out and the connection closed without an answer (not: never connected)."""
    reason = getattr(exc, "reason", exc)  # urllib wraps the socket error in a URLError
    return isinstance(reason, TimeoutError | ConnectionResetError | BrokenPipeError)


def _reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    return type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__


def _slack_error(method: str, exc: Any) -> NotificationError:
    response = exc.response
    status = getattr(response, "status_code", None)
    code = (response.data or {}).get("error", "") if isinstance(getattr(response, "data", None), dict) else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        from ethics_audit.notify.base import retry_after

        wait = retry_after(response.headers)
        return NotificationError(f"slack: rate limited on {method} (retry after {wait} s)", retry_after=wait)
    if code in AUTH_ERRORS:
        return NotificationError(
            f"slack: the token was rejected on {method} ({code}); check {CREDENTIALS}",
            retryable=False,
            channel_down=True,
        )
    if (status or 0) >= 500 or code in SERVER_ERRORS:
        return NotificationError(f"slack: server error on {method} (HTTP {status}{', ' + code if code else ''})")
    return NotificationError(
        f"slack: {method} failed ({code or f'HTTP {status}'})", retryable=False, channel_down=False
    )
