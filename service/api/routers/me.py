"""`GET /api/v1/me`: who the bearer key acts as. The first call a newcomer makes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.api import errors
from service.api.deps import PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=errors.AUTHENTICATED)


class MePublic(BaseModel):
    user_id: int
    role: str
    clinic_id: int | None


@router.get("/me", response_model=MePublic)
def me(principal: PrincipalDep) -> MePublic:
    return MePublic(user_id=principal.user_id, role=principal.role, clinic_id=principal.clinic_id)
