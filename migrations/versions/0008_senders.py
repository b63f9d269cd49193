"""senders: each number, Messaging Service or email address, its rate and pacing state

Every clinic's own SMS sender (its number, else its Messaging Service) gets a row with
the rate the clinic had (`clinics.sender_rate_per_second`, now dropped: the rate belongs
to the number, which clinics may share). A clinic left at the old default of 1/s takes
its number kind's default instead (toll-free 3/s); clinics sharing a number keep the
lowest rate any of them had. Email senders are made when first used (not paced).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00.000000
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)\d{7}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_OLD_DEFAULT = 1.0


def upgrade() -> None:
    senders = op.create_table(
        "senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=True),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("next_slot_at", service.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", service.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "address"),
    )
    op.bulk_insert(senders, _from_clinics())
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("sender_rate_per_second")


def _from_clinics() -> list[dict[str, object]]:
    rows = op.get_bind().execute(
        sa.text("SELECT sms_from, messaging_service_sid, sender_rate_per_second FROM clinics")
    )
    rates: dict[str, float] = {}
    for sms_from, service_sid, rate in rows:
        address = sms_from or service_sid
        if address:
            rates[address] = min(rate, rates.get(address, rate))
    now = datetime.now(UTC)
    made = []
    for address, rate in sorted(rates.items()):
        kind = _kind(address)
        if rate == _OLD_DEFAULT and kind == "toll_free":
            rate = 3.0
        made.append({"channel": "sms", "address": address, "kind": kind,
                     "rate_per_second": rate, "burst": max(1, int(rate)),
                     "created_at": now, "updated_at": now})  # fmt: skip
    return made


def _kind(address: str) -> str:
    if _SERVICE_SID.match(address):
        return "messaging_service"
    return "toll_free" if _TOLL_FREE.match(address) else "long_code"


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column("sender_rate_per_second", sa.Float(), nullable=False, server_default="1.0")
        )
    op.drop_table("senders")
