"""The demo's ledger step: an ephemeral signing key, a final checkpoint, and its verification.

The demo has no key of its own to keep, so unless ``$ETHICS_AUDIT_LEDGER_KEY`` is set it
generates an Ed25519 key for this run only: it signs the quarterly report's checkpoint and a
final one, is held in memory, and is gone when the demo ends. It says so, plainly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ethics_audit.store import Store


def demo_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ethics_audit.ledger.checkpoint import signing_key

    configured = signing_key()
    return configured if configured is not None else Ed25519PrivateKey.generate()


def prove(store: Store, key: Any, report_html: str | None) -> dict[str, Any]:
    """Make the final checkpoint and verify the store (and the report) against the key."""
    from ethics_audit.ledger.checkpoint import KEY_ENV, make_checkpoint, public_hex, signature_problem, signing_key
    from ethics_audit.ledger.report import read_report, verify_report
    from ethics_audit.ledger.verify import verify_store
    from ethics_audit.reports.present import number

    cp = make_checkpoint(store, key=key, note="end of the demo")
    public = key.public_key()
    sealed = read_report(Path(report_html)) if report_html else None
    external = [("the quarterly report's checkpoint", sealed.checkpoint)] if sealed else []
    ephemeral = signing_key() is None
    # an earlier demo run signed its checkpoints with its own ephemeral key: the stored ones are
    # checked against the key each carries, this run's two against this run's key
    result = verify_store(store, external=external, public_key=None if ephemeral else public)
    for label, own in [("the final checkpoint", cp), *external]:
        problem = signature_problem(own, public)
        if problem is not None:
            result.add("checkpoint", label, "signature", "", problem)
    if sealed is not None:
        verify_report(store, sealed, result, number=number)
    return {
        "checkpoint": cp.to_dict(),
        "public_key": public_hex(public),
        "ephemeral_key": ephemeral,
        "key_note": (
            f"signed with an ephemeral demo key generated for this run only and not stored anywhere; "
            f"set {KEY_ENV} to sign with your own"
            if ephemeral
            else f"signed with the key from {KEY_ENV}"
        ),
        "verified": result.ok,
        "problems": [p.text() for p in result.problems],
        "checked": dict(result.checked),
    }


def print_proof(out: Console, proof: dict[str, Any]) -> None:
    from rich.markup import escape

    cp = proof["checkpoint"]
    verdict = "[green]verified[/green]" if proof["verified"] else "[bold red]NOT verified[/bold red]"
    out.print(
        f"results ledger:    {cp['tree_size']} entries, root {cp['root_hash'][:16]}..., key id {cp['key_id']}: {verdict}"
    )
    out.print(f"                   [dim]{escape(proof['key_note'])}[/dim]")
    for problem in proof["problems"]:
        out.print(f"  [red]{escape(problem)}[/red]")
