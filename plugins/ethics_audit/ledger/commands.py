"""The ``ethics-audit verify`` and ``ethics-audit checkpoint`` commands (registered by cli/ledger.py).

``verify`` exits 0 when everything verifies, 1 when anything was tampered with (each problem
is printed: table, row, field, window, what differs), 2 for usage errors (unreadable files,
conflicting options). ``checkpoint`` signs and keeps a tree head, optionally writes it to a
file and sends it to witness channels through the outbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ethics_audit.errors import AuditError

EXIT_TAMPERED = 1
EXIT_USAGE = 2


def register(app: typer.Typer, *, console: Any, escape: Any, print_json: Any, store: Any) -> None:
    def usage(message: str) -> None:
        console(stderr=True).print(f"[red]usage:[/red] {escape(message)}")
        raise typer.Exit(EXIT_USAGE)

    @app.command()
    def verify(
        audit: Annotated[
            str | None,
            typer.Option("--audit", help="Check only this audit's entries (the chain is always checked whole)."),
        ] = None,
        checkpoint: Annotated[
            list[Path] | None,
            typer.Option("--checkpoint", help="A checkpoint file to prove today's ledger extends (repeatable)."),
        ] = None,
        since_report: Annotated[
            Path | None,
            typer.Option(
                "--since-report", help="A quarterly report HTML: prove nothing before its checkpoint changed."
            ),
        ] = None,
        report: Annotated[
            Path | None,
            typer.Option("--report", help="A quarterly report HTML: prove every number it prints is the ledger's."),
        ] = None,
        public_key: Annotated[
            str | None,
            typer.Option(
                "--public-key",
                help="The publisher's Ed25519 public key (hex, base64, PEM or a file); default $ETHICS_AUDIT_LEDGER_PUBLIC_KEY.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    ) -> None:
        """Recompute every ledger entry from the stored rows; check the chain, the tree, the checkpoints, a report."""
        import os

        from ethics_audit.ledger import checkpoint as cpmod
        from ethics_audit.ledger.report import read_report, verify_report
        from ethics_audit.ledger.verify import verify_store
        from ethics_audit.reports.present import number

        if since_report is not None and report is not None and since_report != report:
            usage("give --since-report or --report, not both (--report also checks its checkpoint)")
        try:
            pinned_text = public_key or os.environ.get(cpmod.PUBLIC_KEY_ENV)
            pinned = cpmod.public_key_from_text(pinned_text, "--public-key") if pinned_text else None
            external = [(f"checkpoint file {p}", cpmod.load_file(p)) for p in checkpoint or []]
            sealed = None
            if since_report is not None or report is not None:
                path = report or since_report
                sealed = read_report(path)  # type: ignore[arg-type]
                external.append((f"the checkpoint printed in {path}", sealed.checkpoint))
        except AuditError as exc:
            usage(str(exc))
        opened = store()
        result = verify_store(opened, audit_id=audit, external=external, public_key=pinned)
        if report is not None and sealed is not None:
            verify_report(opened, sealed, result, number=number)
        if as_json:
            print_json(result.to_dict())
        else:
            out = console()
            for problem in result.problems:
                out.print(f"[red]tampered:[/red] {escape(problem.text())}")
            for note in result.notes:
                out.print(f"[yellow]note:[/yellow] {escape(note)}")
            counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in result.checked.items())
            head = f"{result.entries} entries, root {result.root_hash[:16]}..."
            if result.ok:
                out.print(f"[green]verified[/green]: {head} ({counts})")
            else:
                out.print(f"[bold red]NOT verified[/bold red]: {len(result.problems)} problems; {head} ({counts})")
        if not result.ok:
            raise typer.Exit(EXIT_TAMPERED)

    @app.command("checkpoint")
    def make_checkpoint(
        out: Annotated[Path | None, typer.Option("--out", help="Also write the checkpoint to this JSON file.")] = None,
        note: Annotated[str, typer.Option("--note", help="Why it was made (kept with it).")] = "",
        witness: Annotated[
            list[str] | None,
            typer.Option("--witness", help="Send it through the outbox to this channel (slack, webhook; repeatable)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    ) -> None:
        """Sign the ledger's tree head with $ETHICS_AUDIT_LEDGER_KEY and keep it; optionally hand it to witnesses."""
        import json

        from ethics_audit.ledger import checkpoint as cpmod
        from ethics_audit.ledger.witness import WITNESS_CHANNELS, send_to_witnesses

        unknown = [c for c in witness or [] if c not in WITNESS_CHANNELS]
        if unknown:
            usage(f"--witness {unknown[0]!r} is not a witness channel; use one of {', '.join(WITNESS_CHANNELS)}")
        try:
            key = cpmod.signing_key()
        except AuditError as exc:
            usage(str(exc))
        if key is None:
            usage(
                f"no signing key: set ${cpmod.KEY_ENV} (64 hex digits, base64 or PEM of an Ed25519 private key) "
                f"or the password of the Airflow connection {cpmod.KEY_CONN_ID!r}"
            )
        s = store()
        cp = cpmod.make_checkpoint(s, key=key, note=note)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(cp.to_dict(), indent=2) + "\n")
        queued = send_to_witnesses(s, cp, list(witness or []))
        if as_json:
            print_json({**cp.to_dict(), "file": str(out) if out else None, "witnesses": queued})
            return
        console().print(
            f"checkpoint: tree size {cp.tree_size}, root {cp.root_hash}, key id {cp.key_id}"
            + (f"\nfile: {escape(str(out))}" if out else "")
            + (f"\nsent to: {', '.join(queued)}" if queued else "")
        )
