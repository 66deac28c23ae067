"""What Jira and GitHub tickets share: one ticket per alert, found again by the alert's label.

The first notification of an alert creates the ticket; later ones comment on it, and a
resolution or a reopening also changes its state. Before creating, the channel searches for an
open ticket with the alert's label, so a create whose answer was lost (a timeout) never makes a
second ticket; a retried comment looks for its marker among the ticket's comments first; a lost
create that landed late is closed as a duplicate. Subclasses say how their service does each step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ethics_audit.errors import NotificationError
from ethics_audit.notify import reconcile, render
from ethics_audit.notify.base import Channel, DeliveryContext, Sent, marker, ticket_label

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem


class TicketChannel(Channel):
    """``send`` for a ticket service; ``where`` is the project or repository, ``ticket`` its id."""

    noun: ClassVar[str] = "ticket"  # what the service calls one, in messages
    id_key: ClassVar[str] = "key"  # the ticket's id in the outbox row's ref and the alert's refs
    style: ClassVar[str] = "markdown"  # how ``render.with_remedy`` writes the remedy section
    body_limit: ClassVar[int] = 32_000

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        payload = item.payload
        if render.is_message(payload):
            raise NotificationError(
                f"{self.name}: plain messages are not {self.noun}s; route them to a chat channel", retryable=False
            )
        where = self.where(payload)
        label = ticket_label(payload["alert"]["key"])
        mark = marker(item.idempotency_key)
        kind = payload["kind"]
        links = {name: url for name, url in ctx.links(item).items() if name != f"{self.name} ticket"}
        summary = render.summary_text(payload, links=links)
        body = render.with_remedy(
            summary, payload, limit=self.body_limit, link=links.get("run report"), style=self.style
        )
        body = self.marked(body, mark)
        ticket = (item.alert_refs.get(self.name) or {}).get(self.id_key)
        duplicates: list[Any] = []
        if ticket is None:
            found = self.find_open(where, label)
            if not found:
                if kind == "resolved":
                    return Sent(ref={"skipped": f"no open {self.noun} to {self.close_verb}"})
                created = self.create(where, label, payload, body)
                ref = reconcile.recorded({self.id_key: created[self.id_key], "created": True}, [], self.name, item)
                return Sent(ref=ref, alert_refs={self.name: reconcile.tracked_ref(created, item, self.name)})
            ticket = found[0]  # the oldest: the first create, whose answer was lost
            duplicates = self.close_duplicates(where, ticket, found[1:])
            if kind == "opened":  # a lost response: the ticket was created by the earlier call
                ref = reconcile.recorded({self.id_key: ticket, "found": True}, duplicates, self.name, item)
                return Sent(ref=ref, alert_refs={self.name: self.tracked(where, ticket, item)})
        elif reconcile.unsettled(item, self.name):  # a lost create may have landed since
            extra = [other for other in self.find_open(where, label) if other != ticket]
            duplicates = self.close_duplicates(where, ticket, extra)
        self.comment(where, ticket, body, mark, check_first=retry)
        if kind in ("resolved", "reopened"):
            self.set_done(where, ticket, done=kind == "resolved")
        ref = reconcile.recorded({self.id_key: ticket}, duplicates, self.name, item)
        return Sent(ref=ref, alert_refs={self.name: self.tracked(where, ticket, item)})

    def tracked(self, where: str, ticket: Any, item: OutboxItem) -> dict[str, Any]:
        return reconcile.tracked_ref(self.ref(where, ticket), item, self.name)

    # ------------------------------------------------------------------ what each service does

    close_verb: ClassVar[str] = "resolve"

    def where(self, payload: dict[str, Any]) -> str:
        raise NotImplementedError

    def marked(self, body: str, mark: str) -> str:
        raise NotImplementedError

    def ref(self, where: str, ticket: Any) -> dict[str, Any]:
        """The id and web URL of a ticket, as kept in the alert's refs."""
        raise NotImplementedError

    def find_open(self, where: str, label: str) -> list[Any]:
        """Open tickets with the alert's label, oldest first."""
        raise NotImplementedError

    def create(self, where: str, label: str, payload: dict[str, Any], body: str) -> dict[str, Any]:
        """Create the ticket; its ``ref``."""
        raise NotImplementedError

    def close_duplicates(self, where: str, keep: Any, duplicates: list[Any]) -> list[Any]:
        raise NotImplementedError

    def comment(self, where: str, ticket: Any, body: str, mark: str, *, check_first: bool) -> None:
        raise NotImplementedError

    def set_done(self, where: str, ticket: Any, *, done: bool) -> None:
        raise NotImplementedError
