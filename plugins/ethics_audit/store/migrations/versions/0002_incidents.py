"""Incident lifecycle and outbox: alerts, per-window incident observations, delivery claims.

Revision ID: 0002_incidents
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_incidents"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("check_name", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("worst_severity", sa.String(length=20), nullable=False),
        sa.Column("opened_window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("external", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("audit_id", "key", name="uq_alerts_key"),
    )
    op.create_table(
        "incident_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "window_start", name="uq_incident_windows_window"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("episode", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("latest_window_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_run_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_ci_low", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("last_ci_high", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("threshold", JSON, nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_incidents_alert", "alerts", ["alert_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="message"))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_notifications_alert", "alerts", ["alert_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_alert", type_="foreignkey")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("kind")
        batch_op.drop_column("alert_id")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incidents_alert", type_="foreignkey")
        for column in (
            "updated_at",
            "reason",
            "threshold",
            "last_ci_high",
            "last_ci_low",
            "last_run_id",
            "latest_window_start",
            "episode",
            "alert_id",
        ):
            batch_op.drop_column(column)
    op.drop_table("incident_windows")
    op.drop_table("alerts")
