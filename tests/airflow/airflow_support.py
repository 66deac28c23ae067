"""Constants and builders shared by the Airflow tests (conftest.py holds the fixtures)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DEMO_SPEC = REPO / "audits" / "examples" / "ad_delivery.yaml"


def demo_spec_text(demo_root: Path, **replace: str) -> str:
    """The demo spec reading ``demo_root``; ``replace`` swaps whole lines' prefixes (e.g. ``id``)."""
    text = DEMO_SPEC.read_text().replace("${ETHICS_AUDIT_HOME}/demo", str(demo_root))
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        lines.append(f"{key}: {replace[key]}" if key in replace and not line.startswith(" ") else line)
    return "\n".join(lines) + "\n"


def airflow_uri(db_url: str) -> str:
    """The Airflow connection URI of a SQLAlchemy URL (Airflow spells PostgreSQL ``postgresql://``)."""
    return db_url.replace("postgresql+psycopg://", "postgresql://", 1)
