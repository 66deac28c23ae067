"""Stage one audit window on disk so separate processes (Airflow tasks) can share it.

Only on the memory engine (``stages_rows``): on any other engine the window's rows stay where
they are, ``save_audit_data(..., rows=False)`` writes the manifest alone (window, row counts,
fingerprint) and each family task opens the window on the engine itself.

``save_audit_data`` writes a window's ``AuditData`` as parquet (current rows, reference,
consent ledger, training manifest, the transparency ledgers) plus ``window.json`` (the window, the row-count history and
the row counts); ``load_audit_data`` reads it back into an equal ``AuditData``. Family outputs
travel the same way (``save_family_output`` / ``load_family_outputs``), with the files the
checks produced. A staged folder holds raw rows, so it lives under ``$ETHICS_AUDIT_HOME/staging``
only until ``prune`` removes it after the retention.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.data import AuditData, PendingArtifact
from ethics_audit.errors import DataError, SourceError
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.runner import FamilyOutput
    from ethics_audit.spec import AuditSpec

log = logging.getLogger(__name__)

MANIFEST = "window.json"
FRAMES = ("current", "reference", "consent", "training_members", "explanations", "controls", "appeals")
FORMAT_VERSION = 1


def staging_root() -> Path:
    from ethics_audit.settings import home

    return home() / "staging"


def window_folder(audit_id: str, window_start: datetime, window_end: datetime, run_id: int) -> Path:
    """``staging/<audit>/<start>--<end>/run-<id>``: one folder per attempt, so a retry never reads
    a half-written folder of another attempt."""
    span = f"{as_utc(window_start):%Y%m%dT%H%M%S}--{as_utc(window_end):%Y%m%dT%H%M%S}"
    return staging_root() / audit_id / span / f"run-{run_id}"


def _write_frame(frame: pd.DataFrame, path: Path, name: str) -> None:
    try:
        frame.reset_index(drop=True).to_parquet(path, index=False)
    except (TypeError, ValueError) as exc:  # pyarrow refuses e.g. a column mixing numbers and text
        raise DataError(
            f"cannot stage the {name} rows as parquet: {exc}; give each column one type in the source "
            "(e.g. cast the column in the query)"
        ) from None


def _write_rows(rows: Any, path: Path) -> int:
    import pyarrow.parquet as pq

    reader = rows.batches()
    count = 0
    with pq.ParquetWriter(str(path), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            count += batch.num_rows
    return count


def stages_rows(spec: AuditSpec) -> bool:
    """Whether a DAG run stages the window's rows here: only on the memory engine. On any other
    engine each family task opens the window on the engine itself and only outputs are staged."""
    return spec.engine.kind == "memory"


def save_audit_data(
    data: AuditData,
    folder: Path,
    *,
    run_id: int | None = None,
    rows: bool = True,
    fingerprint: dict[str, Any] | None = None,
) -> Path:
    """Write ``data`` under ``folder`` (created); returns the manifest path. ``rows=False`` writes
    the manifest only (the window, its row counts, ``fingerprint``): the rows stay on the engine."""
    folder.mkdir(parents=True, exist_ok=True)
    frames: dict[str, Any] = {}
    for name in FRAMES:
        if not rows:
            # counted, not written: ``load_audit_data(counts_only=True)`` gives frames of this length
            has = name == "current" or (name == "reference" and data.has_reference)
            frames[name] = (
                {"file": None, "rows": data.rows if name == "current" else data.reference_rows} if has else None
            )
            continue
        frame = getattr(data, name)
        if frame is None and name in data.tables:
            # rows left on the engine are written batch by batch, in bounded memory, never as one frame
            frames[name] = {
                "file": f"{name}.parquet",
                "rows": _write_rows(data.tables[name], folder / f"{name}.parquet"),
            }
            continue
        if frame is None:
            frames[name] = None
            continue
        _write_frame(frame, folder / f"{name}.parquet", name)
        frames[name] = {"file": f"{name}.parquet", "rows": len(frame)}
    manifest = {
        "format": FORMAT_VERSION,
        "audit_id": data.spec.id,
        "spec_hash": data.spec.spec_hash(),
        "run_id": run_id,
        "window_start": data.window_start.isoformat(),
        "window_end": data.window_end.isoformat(),
        "now": data.now.isoformat() if data.now else None,
        "row_count_history": list(data.row_count_history),
        "engine": data.spec.engine.kind,
        "rows_staged": rows,
        "fingerprint": fingerprint,
        "frames": frames,
        "staged_at": time.time(),
    }
    path = folder / MANIFEST
    # written last: a folder without a manifest is an attempt that did not finish staging
    path.write_text(json.dumps(manifest, indent=1))
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SourceError(
            f"{path}: the staged window cannot be read ({exc}); re-run the DAG run from its extract task"
        ) from None


def load_audit_data(spec: AuditSpec, folder: Path, *, counts_only: bool = False) -> AuditData:
    """Read a staged window back. ``counts_only`` reads no columns: frames of the right length,
    enough to record the window without loading its rows again."""
    import pandas as pd

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("audit_id") != spec.id:
        raise SourceError(f"{folder}: staged for audit {manifest.get('audit_id')!r}, not {spec.id!r}")
    if manifest.get("spec_hash") != spec.spec_hash():
        log.warning("%s: the spec of %s changed since the window was staged; using the current spec", folder, spec.id)
    frames: dict[str, pd.DataFrame | None] = {}
    for name in FRAMES:
        entry = manifest["frames"].get(name)  # a folder staged by an older version lacks the newer frames
        if entry is None:
            frames[name] = None
            continue
        if entry["file"] is None:  # the rows stayed on the engine: only their count was staged
            if not counts_only:
                raise SourceError(
                    f"{folder}: the {name} rows of this window stayed on the {manifest.get('engine')} engine and "
                    "were not staged; open the window on the engine (runner.loader_for) instead"
                )
            frames[name] = pd.DataFrame(index=pd.RangeIndex(entry["rows"]))
            continue
        path = folder / entry["file"]
        try:
            frames[name] = pd.read_parquet(path, columns=[] if counts_only else None)
        except OSError as exc:
            raise SourceError(f"{path}: the staged {name} rows cannot be read ({exc})") from None
        if len(frames[name]) != entry["rows"]:
            raise SourceError(f"{path}: {len(frames[name])} rows staged, the manifest says {entry['rows']}")
    now = manifest.get("now")
    return AuditData(
        spec=spec,
        window_start=datetime.fromisoformat(manifest["window_start"]),
        window_end=datetime.fromisoformat(manifest["window_end"]),
        **frames,  # type: ignore[arg-type]
        row_count_history=list(manifest.get("row_count_history", [])),
        now=datetime.fromisoformat(now) if now else None,
    )


# --------------------------------------------------------------------------- family outputs


def family_output_path(folder: Path, family: str) -> Path:
    return Path(folder) / f"family-{family}.json"


def save_family_output(output: FamilyOutput, folder: Path) -> Path:
    """Write one family's output and the files its checks produced; returns the JSON path."""
    folder = Path(folder)
    files = folder / "artifacts" / output.family
    artifacts = []
    for i, artifact in enumerate(output.artifacts):
        files.mkdir(parents=True, exist_ok=True)
        # the index keeps two artifacts with the same name apart
        target = files / f"{i:02d}-{Path(artifact.name).name}"
        content = artifact.content.encode() if isinstance(artifact.content, str) else artifact.content
        target.write_bytes(content)
        artifacts.append(
            {
                "kind": artifact.kind,
                "name": artifact.name,
                "file": str(target.relative_to(folder)),
                "text": isinstance(artifact.content, str),
                "details": artifact.details,
            }
        )
    data = output.to_dict() | {"artifacts": artifacts}
    path = family_output_path(folder, output.family)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # atomic: a reader sees the whole output or none
    return path


def load_family_output(path: Path) -> FamilyOutput:
    from ethics_audit.runner import FamilyOutput

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: the staged check output cannot be read ({exc})") from None
    output = FamilyOutput.from_dict(data)
    for entry in data.get("artifacts", []):
        raw = (path.parent / entry["file"]).read_bytes()
        content: str | bytes = raw.decode() if entry.get("text") else raw
        output.artifacts.append(PendingArtifact(entry["kind"], entry["name"], content, entry.get("details", {})))
    return output


def load_family_outputs(folder: Path, families: list[str]) -> list[FamilyOutput]:
    """The outputs of ``families``, in that order; a family without an output is an error."""
    outputs = []
    for family in families:
        path = family_output_path(folder, family)
        if not path.exists():
            raise SourceError(f"{path}: the {family} check left no output; re-run its task")
        outputs.append(load_family_output(path))
    return outputs


# --------------------------------------------------------------------------- housekeeping


@dataclass(frozen=True)
class Pruned:
    folders: int
    bytes: int


def _staged_at(folder: Path) -> float:
    try:
        return float(json.loads((folder / MANIFEST).read_text())["staged_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return folder.stat().st_mtime


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prune(retention: dict[str, timedelta], default: timedelta, *, now: float | None = None) -> Pruned:
    """Delete staged attempts older than their audit's retention (``default`` for audits not in
    ``retention``, e.g. specs that were removed). Empty window folders go too."""
    root = staging_root()
    if not root.is_dir():
        return Pruned(0, 0)
    now = time.time() if now is None else now
    folders = size = 0
    for audit in sorted(p for p in root.iterdir() if p.is_dir()):
        keep = retention.get(audit.name, default).total_seconds()
        for window in sorted(p for p in audit.iterdir() if p.is_dir()):
            for attempt in sorted(p for p in window.iterdir() if p.is_dir()):
                if now - _staged_at(attempt) > keep:
                    size += _size(attempt)
                    shutil.rmtree(attempt, ignore_errors=True)
                    folders += 1
            if not any(window.iterdir()):
                window.rmdir()
        if not any(audit.iterdir()):
            audit.rmdir()
    return Pruned(folders, size)
