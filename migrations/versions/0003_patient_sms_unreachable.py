"""patients: when and why the carrier said the number cannot take texts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sms_unreachable_at", service.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "sms_unreachable_reason",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("sms_unreachable_reason")
        batch_op.drop_column("sms_unreachable_at")
