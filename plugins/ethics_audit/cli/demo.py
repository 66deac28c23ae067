"""``demo``: synthetic ad-delivery logs with injected problems, audited week by week (``ethics_audit.demo``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ethics_audit.cli.app import JsonOpt, app, console, print_json


@app.command()
def demo(
    weeks: Annotated[int, typer.Option(help="How many weekly windows to generate and audit (8 or more).")] = 12,
    rows_per_week: Annotated[int, typer.Option(help="Predictions per week.")] = 20000,
    as_json: JsonOpt = False,
) -> None:
    """Generate a synthetic ad-delivery model's logs with injected problems and audit every week."""
    from ethics_audit.demo import run_demo

    result = run_demo(weeks=weeks, rows_per_week=rows_per_week, out=None if as_json else console())
    if as_json:
        print_json(result)
