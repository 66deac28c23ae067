"""``incidents list|show|ack|mute|resolve``: the breaches, one per (audit, check, metric, slice).

An action records the transition (who, when, why) and queues its notifications in one
transaction; then, unless ``--no-deliver``, the outbox of each audit it touched is flushed.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

import typer

from ethics_audit.cli.app import (
    SEVERITY_STYLE,
    JsonOpt,
    app,
    console,
    escape,
    open_store,
    parse_when,
    print_delivery,
    print_json,
)
from ethics_audit.errors import AuditError

incidents_app = typer.Typer(
    help="Breaches, one per (audit, check, metric, slice): list, show, acknowledge, mute, resolve.",
    no_args_is_help=True,
)
app.add_typer(incidents_app, name="incidents")

IdsArg = Annotated[list[int], typer.Argument(metavar="ID...", help="Incident ids (see `incidents list`).")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who is acting (default: $ETHICS_AUDIT_ACTOR or your user name).")
]
NoteOpt = Annotated[str, typer.Option("--note", help="Why; shown in the incident's history and its thread.")]
NoDeliverOpt = Annotated[
    bool, typer.Option("--no-deliver", help="Only record it; leave the notifications in the outbox.")
]
STATUS_SETS = {
    "active": ["open", "acknowledged", "muted"],
    "open": ["open"],
    "acknowledged": ["acknowledged"],
    "muted": ["muted"],
    "resolved": ["resolved"],
    "all": [],
}


def _actor(by: str | None) -> str:
    if by:
        return by
    import getpass

    return os.environ.get("ETHICS_AUDIT_ACTOR") or getpass.getuser()


def _value_text(item: dict[str, Any]) -> str:
    from ethics_audit.notify.render import interval_text, number

    return number(item.get("value")) + interval_text(item)


@incidents_app.command("list")
def incidents_list(
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit id.")] = None,
    status: Annotated[str, typer.Option("--status", help="active, open, acknowledged, muted, resolved or all.")] = (
        "active"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Incidents, newest breach first (active ones unless --status says otherwise)."""
    from rich.table import Table

    from ethics_audit.notify.render import slice_text

    if status not in STATUS_SETS:
        raise typer.BadParameter(f"choose one of {', '.join(STATUS_SETS)}", param_hint="--status")
    items = open_store().incidents(audit_id=audit, statuses=STATUS_SETS[status])
    if as_json:
        print_json({"incidents": items})
        return
    if not items:
        console().print(f"no {'' if status == 'all' else status + ' '}incidents" + (f" for {audit}" if audit else ""))
        return
    table = Table(header_style="bold")
    for column in (
        "id",
        "audit",
        "check",
        "metric (slice)",
        "status",
        "severity",
        "value",
        "windows",
        "since",
        "alert",
    ):
        table.add_column(column, overflow="fold")
    for i in items:
        style = SEVERITY_STYLE.get(i["severity"], "")
        where = f" ({slice_text(i['slice'])})" if i["slice"] else ""
        table.add_row(
            str(i["id"]),
            escape(i["audit_id"]),
            i["check"],
            escape(i["metric"] + where),
            i["status"],
            f"[{style}]{i['severity']}[/{style}]",
            _value_text(i),
            str(i["occurrences"]),
            i["first_window_start"][:10],
            "" if i["alert_id"] is None else str(i["alert_id"]),
        )
    console().print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident id.")],
    as_json: JsonOpt = False,
) -> None:
    """One incident: its state, every transition (when, who), and what each window said."""
    from rich.table import Table

    from ethics_audit.notify.render import slice_text, threshold_text

    item = open_store().incident(incident_id)
    if item is None:
        raise AuditError(
            f"incident {incident_id} does not exist; `ethics-audit incidents list --status all` lists them"
        )
    if as_json:
        print_json(item)
        return
    out = console()
    where = f" ({slice_text(item['slice'])})" if item["slice"] else ""
    out.print(
        f"[bold]#{item['id']} {escape(item['audit_id'])}: {item['check']} {escape(item['metric'] + where)}[/bold]"
    )
    out.print(
        f"  status {item['status']}, severity {item['severity']} (worst {item['worst_severity']}), "
        f"value {_value_text(item)} ({escape(threshold_text(item['threshold']))})"
    )
    out.print(
        f"  breached in {item['occurrences']} window(s) since {item['first_window_start'][:10]}, "
        f"last {item['last_window_start'][:10]}; episode {item['episode']}"
    )
    if item["alert"]:
        refs = ", ".join(
            f"{k}: {v.get('key') or v.get('number') or v.get('ts')}" for k, v in item["alert"]["external"].items()
        )
        out.print(
            f"  alert {item['alert']['id']} ({item['alert']['status']}) {escape(item['alert']['key'])} {escape(refs)}"
        )
    events = Table(title="transitions", header_style="bold")
    for column in ("at", "who", "transition", "window", "severity", "value", "note"):
        events.add_column(column, overflow="fold")
    for e in item["events"]:
        events.add_row(
            e["at"][:19],
            escape(e["actor"]),
            e["transition"],
            (e["window_start"] or "")[:10],
            e["severity"] or "",
            "" if e["value"] is None else f"{e['value']:.4g}",
            escape(e["note"]),
        )
    out.print(events)
    windows = Table(title="windows", header_style="bold")
    for column in ("window", "outcome", "severity", "value", "run"):
        windows.add_column(column)
    for x in item["windows"]:
        windows.add_row(
            x["window_start"][:10],
            x["outcome"],
            x["severity"],
            "" if x["value"] is None else f"{x['value']:.4g}",
            str(x["run_id"] or ""),
        )
    out.print(windows)


def _after_action(result: dict[str, Any], verb: str, as_json: bool, deliver: bool) -> None:
    from ethics_audit import jobs

    store = open_store()
    delivery = {}
    if deliver and result["notifications"]:
        for audit_id in sorted({i["audit_id"] for i in result["incidents"]}):
            delivery[audit_id] = jobs.flush_outbox(store, audit_id=audit_id)
    if as_json:
        print_json({**result, "delivery": delivery})
        return
    ids = ", ".join(f"#{i['id']}" for i in result["incidents"])
    console().print(f"{verb} {ids}; {result['notifications']} notification(s) queued")
    print_delivery(delivery)


def _transition(name: str, action: str, verb: str, doc: str) -> None:
    """Register ``incidents NAME``: ``recording.apply_action`` of ``action`` on the ids, then the outbox flush."""

    def command(
        ids: IdsArg, by: ByOpt = None, note: NoteOpt = "", no_deliver: NoDeliverOpt = False, as_json: JsonOpt = False
    ) -> None:
        from ethics_audit.recording import apply_action

        result = apply_action(open_store(), action, ids, actor=_actor(by), note=note)
        _after_action(result, verb, as_json, not no_deliver)

    command.__doc__ = doc
    incidents_app.command(name)(command)


# ack, mute, resolve: in this order in `incidents --help`
_transition(
    "ack",
    "acknowledge",
    "acknowledged",
    "Acknowledge: someone is on it (updates still arrive; PagerDuty stops paging).",
)


@incidents_app.command("mute")
def incidents_mute(
    ids: IdsArg,
    until: Annotated[str, typer.Option("--until", help="A date (2026-09-01) or a duration from now (7d, 12h).")],
    by: ByOpt = None,
    note: NoteOpt = "",
    no_deliver: NoDeliverOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Mute until a date: no updates are sent until then (a resolution still is)."""
    from datetime import timezone

    from ethics_audit.recording import apply_action
    from ethics_audit.windows import parse_duration

    try:
        when = datetime.now(timezone.utc) + parse_duration(until)
    except ValueError:
        when = parse_when(until, "--until")
    result = apply_action(open_store(), "mute", ids, until=when, actor=_actor(by), note=note)
    _after_action(result, f"muted until {when:%Y-%m-%d %H:%M} UTC:", as_json, not no_deliver)


_transition("resolve", "resolve", "resolved", "Resolve by hand; a breach in a later window reopens it.")
