"""The results ledger: append-only entries and signed checkpoints (docs/ledger.md).

Both tables refuse UPDATE and DELETE by trigger, on SQLite and PostgreSQL alike. On
PostgreSQL, with ``ETHICS_AUDIT_APP_ROLE`` set, the migration also grants that role what the
application needs and only INSERT/SELECT on the ledger (``store.ledger.grant_app_role``).

Revision ID: 0004_ledger
Revises: 0003_slack_actions
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0004_ledger"
down_revision = "0003_slack_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("audit_id", sa.String(length=100), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("entry_hash"),
    )
    op.create_index("ix_ledger_entries_window", "ledger_entries", ["audit_id", "window_start", "window_end"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    from ethics_audit.store.ledger import append_only_triggers, grant_app_role

    conn = op.get_bind()
    for statement in append_only_triggers(conn.dialect.name):
        op.execute(statement)
    role = os.environ.get("ETHICS_AUDIT_APP_ROLE")
    if role and conn.dialect.name == "postgresql":
        grant_app_role(conn, role)


def downgrade() -> None:
    from ethics_audit.store.ledger import drop_append_only_triggers

    for statement in drop_append_only_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_entries_window", table_name="ledger_entries")
    op.drop_table("ledger_entries")
