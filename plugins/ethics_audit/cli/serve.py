"""``serve``: Slack's interactivity endpoint (buttons on alerts) as a small server, without Airflow."""

from __future__ import annotations

from typing import Annotated

import typer

from ethics_audit.cli.app import app, console


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
) -> None:
    """Serve Slack's interactivity URL (POST /ethics-audit/slack/actions) without Airflow."""
    from ethics_audit.web.serve import serve as run_server

    console(stderr=True).print(f"Slack interactivity URL: http://{host}:{port}/ethics-audit/slack/actions")
    run_server(host, port)
