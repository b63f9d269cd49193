"""FastAPI dependencies: settings, database session, the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.accounts import Principal, principal_for_key
from service.config import Settings
from service.db.engine import session_scope
from service.domain import Role

_bearer = HTTPBearer(auto_error=False, description="An API key from `aftercare apikeys create`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = principal_for_key(session, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 otherwise)."""

    def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(sorted(roles))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {allowed}"
            )
        return principal

    return _check


# Staff work on patients of their own clinic; admins may too. Operators only read delivery data.
ClinicalDep = Annotated[Principal, Depends(require_roles(Role.STAFF, Role.ADMIN))]
ReaderDep = Annotated[Principal, Depends(require_roles(Role.STAFF, Role.OPERATOR, Role.ADMIN))]


# The one answer for a record that is missing or belongs to another clinic.
NOT_FOUND = "not found"


def ensure_visible(principal: Principal, clinic_id: int | None) -> None:
    """Another clinic's record is reported as missing (404), never as forbidden."""
    if not principal.can_see_clinic(clinic_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
