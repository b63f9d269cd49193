"""messages: claim_count and call_started_at (attempts count provider calls); urgent claim index

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

URGENT = "status = 'scheduled' AND priority = 'urgent'"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claim_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("call_started_at", service.db.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Every claim so far counted as an attempt: it is the best count of claims there is.
    op.execute("UPDATE messages SET claim_count = attempts")
    # A row in `sending` now may have been handed to the provider: in doubt, never
    # released without asking it (a row without call_started_at would be).
    op.execute("UPDATE messages SET call_started_at = claimed_at WHERE status = 'sending'")
    op.create_index(
        "ix_messages_claim_urgent",
        "messages",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(URGENT),
        sqlite_where=sa.text(URGENT),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_messages_claim_urgent",
        table_name="messages",
        postgresql_where=sa.text(URGENT),
        sqlite_where=sa.text(URGENT),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("call_started_at")
        batch_op.drop_column("claim_count")
