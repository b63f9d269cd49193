"""`aftercare users|apikeys create`: from nothing to an authenticated API call.

(`clinics ...` is in service.cli.clinics.)
"""

from __future__ import annotations

import typer

from service.cli.common import clinic_id_of, command_group, db_session, emit, fail, json_option
from service.domain import Role

users = command_group("Staff, clinic admin, operator and admin accounts.")
apikeys = command_group("API keys for the REST API.")


@users.command("create")
def create_user(
    email: str = typer.Option(..., help="Login email"),
    role: Role = typer.Option(Role.STAFF, help="staff, clinic_admin, operator or admin"),
    clinic: str | None = typer.Option(
        None, help="Clinic slug or id (required for staff and clinic_admin)"
    ),
    name: str = typer.Option("", help="Display name"),
    password: str | None = typer.Option(
        None,
        envvar="AFTERCARE_USER_PASSWORD",
        help="Web login password (or env AFTERCARE_USER_PASSWORD)",
    ),
    as_json: bool = json_option(),
) -> None:
    """Create a user."""
    from service import accounts

    with db_session() as session:
        clinic_id = clinic_id_of(session, clinic)
        try:
            user = accounts.create_user(
                session, email=email, role=role, clinic_id=clinic_id, name=name, password=password
            )
        except accounts.AccountError as exc:
            fail(str(exc))
        emit(
            {"id": user.id, "email": user.email, "role": user.role, "clinic_id": user.clinic_id},
            as_json=as_json,
        )


@apikeys.command("create")
def create_apikey(
    user: str = typer.Option(..., help="Email of the user the key acts as"),
    name: str = typer.Option("", help="What the key is for"),
    as_json: bool = json_option(),
) -> None:
    """Create an API key. The key is printed once and cannot be shown again."""
    from sqlmodel import select

    from service import accounts
    from service.db.models import User

    with db_session() as session:
        owner = session.exec(select(User).where(User.email == user.strip().lower())).first()
        if owner is None:
            fail(f"--user: no user {user!r}")
        row, key = accounts.create_api_key(session, user=owner, name=name)
        emit(
            {
                "id": row.id,
                "key": key,
                "user": owner.email,
                "role": owner.role,
                "clinic_id": owner.clinic_id,
            },
            as_json=as_json,
        )
