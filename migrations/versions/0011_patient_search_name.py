"""patients.search_name: the name folded for accent- and case-blind search

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 12:00:00.000000

Filled here for existing patients with the application's own folding (Python: the same
on PostgreSQL and SQLite, no `unaccent` extension needed), in batches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from service.words import search_name

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(
            sa.Column(
                "search_name",
                sqlmodel.sql.sqltypes.AutoString(length=210),
                server_default="",
                nullable=False,
            )
        )
    patients = sa.table(
        "patients",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("search_name", sa.String),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(patients.c.id, patients.c.first_name, patients.c.last_name)
            .where(patients.c.id > last)
            .order_by(patients.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            patients.update()
            .where(patients.c.id == sa.bindparam("pid"))
            .values(search_name=sa.bindparam("folded")),
            [{"pid": r.id, "folded": search_name(r.first_name, r.last_name or "")} for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("search_name")
