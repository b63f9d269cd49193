"""plan sign-offs; clinics declare a 24-hour line

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone_24h", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "plan_signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("signer_role", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("recorded_at", service.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_signoffs_plan", "plan_signoffs", ["plan_key", "plan_version"])


def downgrade() -> None:
    op.drop_index("ix_plan_signoffs_plan", table_name="plan_signoffs")
    op.drop_table("plan_signoffs")
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("phone_24h")
