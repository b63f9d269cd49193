"""Operators' charts (server-rendered SVG) and worker health."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from service.api.deps import SessionDep, get_engine
from service.db.engine import read_snapshot
from service.db.types import utcnow
from service.web import svg
from service.web.chart_data import Cache, ChartData, chart_data
from service.web.deps import OpsDep, WebRoute, page
from service.web.health_data import worker_health

router = APIRouter(route_class=WebRoute, include_in_schema=False)
WINDOWS = (7, 14, 30, 90)
_SERIES = (("sent", "s-sent"), ("delivered", "s-delivered"), ("failed", "s-failed"))


def _cache(request: Request) -> Cache:
    cache: Cache | None = getattr(request.app.state, "web_chart_cache", None)
    if cache is None:
        cache = {}
        request.app.state.web_chart_cache = cache
    return cache


def charts_for(data: ChartData) -> dict[str, Markup]:
    labels = [d.strftime("%m-%d") for d in data.days]
    charts = {
        f"per_day_{channel}": svg.grouped_bars(
            title=f"{channel.upper()} sent, delivered and failed per day (UTC)",
            labels=labels,
            series=[svg.Series(name, css, values[name]) for name, css in _SERIES],
        )
        for channel, values in data.per_day.items()
    }
    charts["latency"] = svg.horizontal_bars(
        title="Delivery latency: time from sent to delivered", rows=data.latency
    )
    charts["failures"] = svg.horizontal_bars(
        title="Most common failure reasons", rows=data.failure_reasons, css="s-failed"
    )
    charts["replies"] = svg.horizontal_bars(
        title="Patient replies by triage label",
        rows=data.replies,
        css=[f"s-{label}" for label, _ in data.replies],
    )
    return charts


@router.get("/app/ops/charts")
def charts(request: Request, session: SessionDep, viewer: OpsDep, days: int = 14) -> Response:
    days = days if days in WINDOWS else 14
    session.commit()  # end the sign-in check's transaction: on SQLite it holds the write lock
    with read_snapshot(get_engine(request)) as snapshot:  # a long read must not block sending
        data = chart_data(snapshot, days=days, today=utcnow().date(), cache=_cache(request))
    return page(
        request, "ops_charts.html", viewer, data=data, charts=charts_for(data), days=days,
        windows=WINDOWS, series=_SERIES,
    )  # fmt: skip


@router.get("/app/ops/health")
def health(request: Request, session: SessionDep, viewer: OpsDep) -> Response:
    return page(request, "ops_health.html", viewer, h=worker_health(session, now=utcnow()))
