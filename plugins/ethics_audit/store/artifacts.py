"""Files a run leaves (reports, charts): written under ``$ETHICS_AUDIT_HOME/artifacts``, one row each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import StoreError
from ethics_audit.store.engine import StoreBase, safe_url

if TYPE_CHECKING:
    from ethics_audit.data import PendingArtifact


class ArtifactsStore(StoreBase):
    """A run's files."""

    def artifacts(self, run_id: int) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ethics_audit.store.models import Artifact

        with self.session() as s:
            rows = s.execute(select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.id)).scalars()
            return [
                {"kind": a.kind, "uri": a.uri, "bytes": a.bytes, "created_at": a.created_at, "details": a.details or {}}
                for a in rows
            ]

    def add_artifact(self, run_id: int, kind: str, path: Path, *, details: dict[str, Any] | None = None) -> None:
        """Record a file made after the run (e.g. its HTML report); one row per run and kind."""
        from sqlalchemy import delete

        from ethics_audit.store.models import Artifact, AuditRun

        with self.session() as s:
            run = s.get(AuditRun, run_id)
            if run is None:
                raise StoreError(f"run {run_id} does not exist in {safe_url(self.url)}")
            s.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
            s.add(
                Artifact(
                    run_id=run_id,
                    audit_id=run.audit_id,
                    kind=kind,
                    uri=str(path),
                    bytes=path.stat().st_size,
                    details=details or {},
                )
            )


def artifact_dir(audit_id: str, window_start: datetime, run_id: int) -> Path:
    from ethics_audit.settings import home

    return home() / "artifacts" / audit_id / window_start.strftime("%Y-%m-%dT%H%M") / f"run-{run_id}"


def write_artifact(run: Any, artifact: PendingArtifact) -> Any:
    """Write the file (before the commit: a rolled-back run leaves an orphan file, never a dangling row)."""
    from ethics_audit.store.models import Artifact

    folder = artifact_dir(run.audit_id, run.window_start, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(artifact.name).name
    content = artifact.content.encode() if isinstance(artifact.content, str) else artifact.content
    path.write_bytes(content)
    return Artifact(
        run_id=run.id,
        audit_id=run.audit_id,
        kind=artifact.kind,
        uri=str(path),
        bytes=len(content),
        details=artifact.details,
    )
