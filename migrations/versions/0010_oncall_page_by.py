"""oncall_recipients.page_by: how each on-call person is paged (sms, email or both)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing people keep being paged as before: on every address they gave.
    with op.batch_alter_table("oncall_recipients") as batch:
        batch.add_column(
            sa.Column(
                "page_by",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                server_default="both",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("oncall_recipients") as batch:
        batch.drop_column("page_by")
