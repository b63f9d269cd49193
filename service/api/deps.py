"""FastAPI dependencies: settings, database session, the authenticated caller."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, Field
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel

from service.accounts import Principal, principal_for_key
from service.api.limits import PRINCIPAL_KEY
from service.config import Settings
from service.domain import CLINICAL_ROLES, ID_MAX, Role
from service.logs import kv

log = logging.getLogger(__name__)
_Row = TypeVar("_Row", bound=SQLModel)
_bearer = HTTPBearer(auto_error=False, description="An API key from `aftercare apikeys create`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """The request's unit of work, committed before the response is sent.

    The dependency's scope is the route function (`SessionDep`): the commit runs when
    the view returns, before the answer leaves, so a failed commit is an error answer
    (409 conflict, 422 a value the database refused, 503 the database is unavailable),
    never a success for a change that was not stored. An error in the view rolls back.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        try:
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            raise not_saved(exc) from None


def not_saved(exc: DBAPIError) -> HTTPException:
    """The answer to a change the database did not store (never a success)."""
    log.warning(kv("request.commit_failed", error=type(exc.orig).__name__))
    if isinstance(exc, IntegrityError):
        return HTTPException(
            status.HTTP_409_CONFLICT,
            "not saved: this change conflicts with data saved meanwhile; reload and try again",
        )
    if isinstance(exc, DataError):
        return invalid("body", "not saved: a value is too long or not valid for storage")
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "not saved: the database is unavailable; try again",
        headers={"Retry-After": "5"},
    )


def invalid(field: str, message: str, *, prefix: str = "", where: str = "body") -> HTTPException:
    """A 422 shaped like the app's validation errors, naming the field."""
    return invalid_fields([(field, message)], prefix=prefix, where=where)


def invalid_fields(
    fields: list[tuple[str, str]], *, prefix: str = "", where: str = "body"
) -> HTTPException:
    """A 422 naming every bad field: (field, message) pairs."""
    detail = []
    for field, message in fields:
        name = f"{prefix}{field}"
        loc = [where, *name.split(".")]
        detail.append({"field": name, "msg": message, "type": "value_error", "loc": loc})
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # service.api.limits checked the key before the body was read: the same caller.
    checked = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    if isinstance(checked, Principal):
        return checked
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


# Staff and clinic admins work on patients of their own clinic; admins may too. Operators
# only read delivery data. A clinic's settings: its clinic admins, and admins.
ClinicalDep = Annotated[Principal, Depends(require_roles(*CLINICAL_ROLES))]
ReaderDep = Annotated[Principal, Depends(require_roles(*CLINICAL_ROLES, Role.OPERATOR))]
ClinicAdminDep = Annotated[Principal, Depends(require_roles(Role.CLINIC_ADMIN, Role.ADMIN))]


DbId = Annotated[int, Field(ge=1, le=ID_MAX)]
# Offsets stay within what PostgreSQL's OFFSET (a bigint) and a page count can mean.
OFFSET_MAX = ID_MAX


def _instant(value: datetime) -> datetime:
    """UTC; a date-time without an offset is read as UTC. One that cannot be expressed
    in UTC (0001-01-01T00:00+14:00 is in year 0) is refused by name, not a 500."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


Instant = Annotated[datetime, AfterValidator(_instant)]

# The one answer for a record that is missing or belongs to another clinic.
NOT_FOUND = "not found"


def ensure_visible(principal: Principal, clinic_id: int | None) -> None:
    """Another clinic's record is reported as missing (404), never as forbidden."""
    if not principal.can_see_clinic(clinic_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)


def visible_row(session: Session, principal: Principal, model: type[_Row], row_id: int) -> _Row:
    """A clinic's row by id: missing and another clinic's get the same 404 (no probing)."""
    row = session.get(model, row_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    ensure_visible(principal, getattr(row, "clinic_id", None))
    return row
