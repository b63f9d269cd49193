"""Plans REST: the plans staff can enrol patients in (the current version of each)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from service.api import errors
from service.api.deps import ReaderDep
from service.plans.catalog import PlanCatalog, load_catalog
from service.plans.model import Plan
from service.rendering import Renderer

router = APIRouter(prefix="/api/v1/plans", tags=["plans"], responses=errors.AUTHENTICATED)


def get_catalog(request: Request) -> PlanCatalog:
    """Plans are loaded once per app from the settings' templates directory."""
    catalog: PlanCatalog | None = getattr(request.app.state, "plan_catalog", None)
    if catalog is None:
        catalog = load_catalog(request.app.state.settings.templates_dir)
        request.app.state.plan_catalog = catalog
    return catalog


def get_renderer(request: Request) -> Renderer:
    renderer: Renderer | None = getattr(request.app.state, "renderer", None)
    if renderer is None:
        renderer = Renderer(request.app.state.settings.templates_dir)
        request.app.state.renderer = renderer
    return renderer


CatalogDep = Annotated[PlanCatalog, Depends(get_catalog)]
RendererDep = Annotated[Renderer, Depends(get_renderer)]


class StepPublic(BaseModel):
    key: str
    title: str
    offset: str
    valid_for_hours: float
    channels: list[str]
    fallback: str | None
    priority: str
    repeat_every: str | None
    repeat_until: str | None
    condition: str | None
    expects_reply: bool
    true_until: str | None = None  # the text's advice is only true until then


class PlanPublic(BaseModel):
    key: str
    version: int
    title: str
    procedure: str
    languages: list[str]
    steps: list[StepPublic]

    @classmethod
    def of(cls, plan: Plan) -> PlanPublic:
        steps = [
            StepPublic(
                key=s.key,
                title=s.title,
                offset=str(s.offset),
                valid_for_hours=s.valid_for.total_seconds() / 3600,
                channels=[c.value for c in s.channels],
                fallback=s.fallback.value if s.fallback else None,
                priority=s.priority.value,
                repeat_every=str(s.repeat_every) if s.repeat_every else None,
                repeat_until=str(s.repeat_until) if s.repeat_until else None,
                condition=s.condition,
                expects_reply=s.expects_reply,
                true_until=str(s.true_until) if s.true_until else None,
            )
            for s in plan.steps
        ]
        return cls(
            key=plan.key,
            version=plan.version,
            title=plan.title,
            procedure=plan.procedure,
            languages=list(plan.languages),
            steps=steps,
        )


@router.get("", response_model=list[PlanPublic])
def list_plans(_principal: ReaderDep, catalog: CatalogDep) -> list[PlanPublic]:
    return [PlanPublic.of(plan) for plan in catalog.all()]
