"""The FastAPI application factory: `create_app(settings)`."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import __version__, worker
from service.api.headers import SecurityHeaders
from service.api.limits import RequestLimits
from service.clock import Clock
from service.config import Settings
from service.db.engine import make_engine
from service.logs import kv
from service.web.deps import error_page

log = logging.getLogger(__name__)

# Explicit registry of routers: adding a resource is one file plus one line here.
ROUTERS = [
    "service.api.routers.health",
    "service.api.routers.webhooks_inbound",
    "service.api.routers.alerts",
    "service.api.routers.patients",
    "service.api.routers.enrollments",
    "service.api.routers.plans",
    "service.api.routers.clinic_content",
    "service.web",
    "service.api.routers.me",
    "service.api.routers.webhooks_status",
    "service.api.routers.unsubscribe",
    "service.api.routers.messages",
    "service.api.routers.docs",
    "service.api.routers.clinics",
    "service.api.routers.clinic_settings",
    "service.api.routers.replies",
    "service.api.routers.patient_messages",
]


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    owns_engine = engine is None
    engine = engine or make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _warm_up()
        stop = _start_background(settings, engine)
        try:
            yield
        finally:
            stop()
            if getattr(app.state, "receipts_writer", None) is not None:
                app.state.receipts_writer.close()
            if owns_engine:
                engine.dispose()

    app = FastAPI(
        title="Aftercare",
        version=__version__,
        description="Aftercare messaging for cosmetic and aesthetic clinics.",
        lifespan=lifespan,
        docs_url=None,  # /docs, /redoc and /openapi.json come from service.api.routers.docs
        redoc_url=None,  # (assets served by us, no CDN; signed in or a key in production)
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    if settings.clock_start is not None:  # a simulated day (service.clock); tests set their own
        app.state.clock = Clock.from_settings(settings).now
    for dotted in ROUTERS:
        app.include_router(importlib.import_module(dotted).router)
    app.add_middleware(RequestLimits)
    app.add_middleware(SecurityHeaders, settings=settings)  # outermost: every answer
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)
    return app


# Machine addresses: their errors are always JSON `{"detail": ...}` (the contract).
_MACHINE_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/metrics", "/openapi.json", "/_fake/")


def wants_page(request: Request) -> bool:
    """An error a person reaches gets a page: anything under /app/, and any other address
    a browser asks for (it accepts HTML) outside the REST API and the webhooks."""
    path = request.url.path
    if path.startswith("/app/") or path == "/app":
        return True
    if path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """JSON for the API and webhooks; a page for the web app and browsers."""
    if wants_page(request):
        response = error_page(request, exc.status_code, exc.detail)
        response.headers.update(exc.headers or {})
        return response
    return await http_exception_handler(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: a page saying so (or JSON), never a stack trace. The
    server logs the exception itself (Starlette re-raises it after this answer)."""
    if wants_page(request):
        return error_page(request, 500, "")
    return JSONResponse(status_code=500, content={"detail": "internal server error"})


def _warm_up() -> None:
    """Load the triage lexicon before the first request: built lazily, it made the first
    reply after a start wait about half a second longer for its page."""
    from service.triage import classify

    classify("warm up")


def _start_background(settings: Settings, engine: Engine) -> Callable[[], None]:
    """Start the scheduler in-process when enabled (the embedded default)."""
    if not settings.scheduler_enabled:
        return lambda: None
    runner = worker.start_in_process(settings, engine)
    log.info(kv("scheduler.started", mode="in_process"))
    return runner.stop


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each bad field: `{"detail": [{"field": "patient.phone", "msg": ...}]}`."""
    detail = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
        detail.append(
            {
                "field": ".".join(location) or "body",
                "msg": error["msg"],
                "type": error["type"],
                "loc": list(error["loc"]),
            }
        )
    if wants_page(request):
        return error_page(request, 422, detail)
    return JSONResponse(status_code=422, content={"detail": detail})
