"""replies inbox: reply items, candidates, clinic response times and page detail

Replies received before this revision are not put in the inbox: they were triaged and
acted on already, and entering them as unread would page every clinic for late replies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("received_at", service.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", service.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("overdue_alert_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", service.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("handled_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("assigned_at", service.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["overdue_alert_id"],
            ["alerts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_id", "clinic_id"),
    )
    with op.batch_alter_table("reply_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reply_items_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("handled_at IS NULL AND overdue_alert_id IS NULL"),
            sqlite_where=sa.text("handled_at IS NULL AND overdue_alert_id IS NULL"),
        )
        batch_op.create_index(batch_op.f("ix_reply_items_inbound_id"), ["inbound_id"], unique=False)
        batch_op.create_index(
            "ix_reply_items_inbox", ["clinic_id", "handled_at", "rank", "received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reply_items_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "reply_candidates",
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["reply_items.id"],
        ),
        sa.PrimaryKeyConstraint("reply_id", "patient_id"),
    )
    with op.batch_alter_table("reply_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reply_candidates_patient_id"), ["patient_id"], unique=False
        )

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reply_response_minutes", sa.Integer(), server_default="240", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "reply_day_start", sa.Time(), server_default=sa.text("'08:00:00'"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "reply_day_end", sa.Time(), server_default=sa.text("'20:00:00'"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "reply_night_due", sa.Time(), server_default=sa.text("'10:00:00'"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "page_detail",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                server_default="full",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("page_detail")
        batch_op.drop_column("reply_night_due")
        batch_op.drop_column("reply_day_end")
        batch_op.drop_column("reply_day_start")
        batch_op.drop_column("reply_response_minutes")

    with op.batch_alter_table("reply_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_candidates_patient_id"))

    op.drop_table("reply_candidates")
    with op.batch_alter_table("reply_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_items_patient_id"))
        batch_op.drop_index("ix_reply_items_inbox")
        batch_op.drop_index(batch_op.f("ix_reply_items_inbound_id"))
        batch_op.drop_index(
            "ix_reply_items_due",
            postgresql_where=sa.text("handled_at IS NULL AND overdue_alert_id IS NULL"),
            sqlite_where=sa.text("handled_at IS NULL AND overdue_alert_id IS NULL"),
        )

    op.drop_table("reply_items")
