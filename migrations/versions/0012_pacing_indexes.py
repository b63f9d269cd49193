"""pacing at send time: the claim's lane and channel indexes and the expiry index

The claim now takes each sender's due rows by clinic, priority and age
(`ix_messages_lane`), unpaced senders' by channel (`ix_messages_channel`), and a sweep
skips rows whose validity ended while they waited (`ix_messages_expiry`); the urgent
index is folded into the lane index. Twilio's magic test numbers (+1500555000N) reach
no carrier: 0008 made them long codes at 1/s, they are not paced.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCHEDULED = sa.text("status = 'scheduled'")


def _partial(name: str, *columns: str) -> None:
    op.create_index(
        name, "messages", list(columns), postgresql_where=_SCHEDULED, sqlite_where=_SCHEDULED
    )


def upgrade() -> None:
    _partial("ix_messages_lane", "clinic_id", "channel", "priority", "next_attempt_at", "id")
    _partial("ix_messages_channel", "channel", "priority", "next_attempt_at", "id")
    _partial("ix_messages_expiry", "valid_until")
    op.drop_index("ix_messages_claim_urgent", table_name="messages")
    op.execute(
        "UPDATE senders SET kind = 'test', rate_per_second = NULL"
        " WHERE channel = 'sms' AND kind = 'long_code' AND address LIKE '+1500555000_'"
    )


def downgrade() -> None:
    urgent = sa.text("status = 'scheduled' AND priority = 'urgent'")
    op.create_index(
        "ix_messages_claim_urgent", "messages", ["next_attempt_at"],
        postgresql_where=urgent, sqlite_where=urgent,
    )  # fmt: skip
    op.drop_index("ix_messages_expiry", table_name="messages")
    op.drop_index("ix_messages_channel", table_name="messages")
    op.drop_index("ix_messages_lane", table_name="messages")
