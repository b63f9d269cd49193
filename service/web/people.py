"""Turning actor labels ("user:3", "api_key:7", "system") into names staff recognise."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from service.db.models import ApiKey, User


def names_for(session: Session, labels: Iterable[str | None]) -> dict[str, str]:
    wanted = {label for label in labels if label}
    user_ids = _ids(wanted, "user:")
    key_ids = _ids(wanted, "api_key:")
    names: dict[str, str] = {}
    if user_ids:
        for user in session.exec(select(User).where(col(User.id).in_(user_ids))):
            names[f"user:{user.id}"] = user.name or user.email
    if key_ids:
        for key in session.exec(select(ApiKey).where(col(ApiKey.id).in_(key_ids))):
            names[f"api_key:{key.id}"] = f"API key {key.name or key.prefix}"
    return names


def _ids(labels: set[str], prefix: str) -> list[int]:
    return [
        int(x[len(prefix) :]) for x in labels if x.startswith(prefix) and x[len(prefix) :].isdigit()
    ]
