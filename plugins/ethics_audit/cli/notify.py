"""``notify flush|list``: the notification outbox (deliver what waits now, list what was sent where)."""

from __future__ import annotations

from typing import Annotated

import typer

from ethics_audit.cli.app import EXIT_FAILED, JsonOpt, app, console, escape, open_store, print_delivery, print_json

notify_app = typer.Typer(
    help="The notification outbox: deliver what is waiting, list what was sent.", no_args_is_help=True
)
app.add_typer(notify_app, name="notify")


@notify_app.command("flush")
def notify_flush(
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit's notifications.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Give notifications that gave up a fresh set of attempts.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deliver every pending notification now (waiting retries included). Exit 1 if some failed."""
    from ethics_audit import jobs

    result = jobs.flush_outbox(open_store(), audit_id=audit, include_not_due=True, retry_failed=retry_failed)
    if as_json:
        print_json(result)
    else:
        print_delivery({audit or "all audits": result})
        if result["waiting"]:
            console().print(
                f"  {result['waiting']} waiting for an earlier message of their thread or a channel that is down"
            )
        for claim in result.get("claimed", []):
            console().print(
                f"  notification {claim['id']} ({claim['channel']}) is held by another sender (or one that was "
                f"killed) until {claim['until'][:19]} UTC; flush again after that"
            )
    if result["errors"]:
        raise typer.Exit(EXIT_FAILED)


@notify_app.command("list")
def notify_list(
    status: Annotated[str | None, typer.Option("--status", help="pending, sent or failed.")] = None,
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The outbox, newest first: what was sent where, what waits and why."""
    from rich.table import Table

    rows = open_store().notifications(audit_id=audit, status=status, limit=limit)
    if as_json:
        print_json({"notifications": [r.to_dict() for r in rows]})
        return
    table = Table(header_style="bold")
    for column in ("id", "audit", "channel", "kind", "status", "attempts", "created", "sent / last error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        info = r.to_dict()
        table.add_row(
            str(r.id),
            escape(r.audit_id),
            r.channel,
            r.kind,
            r.status,
            str(r.attempts),
            info["created_at"][:19],
            escape((info["sent_at"] or "")[:19] or (r.last_error or "")),
        )
    console().print(table)
