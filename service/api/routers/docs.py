"""`/docs` (Swagger UI) and `/redoc` (ReDoc), with their assets served by us, not a CDN.

The JavaScript and CSS come from the pinned `fastapi-offline` package, which ships
Swagger UI and ReDoc builds (FastAPI's "self-hosting the docs assets" recipe). The pages
work on a machine with no internet access. `create_app` turns FastAPI's own CDN-backed
pages off; each page here is a plain route so it can be wrapped.

In production the pages and `/openapi.json` need a signed-in admin (the web session) or
any valid API key, unless DOCS_PUBLIC opens them; the static assets stay public (they
are the Swagger UI and ReDoc builds, nothing of ours).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from service.accounts import principal_for_key
from service.api.deps import SessionDep, SettingsDep
from service.domain import Role
from service.web.deps import signed_in
from service.web.session import read_session

ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS_URL = "/docs/assets"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# A fixed list: only these files are served, so no path from the request reaches the disk.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}

# The pages load nothing from elsewhere. ReDoc's sidebar asks for Redocly's logo from
# their CDN; this policy stops the browser from making that request at all (the image
# hides itself when it cannot load). Inline script/style: the pages' own init code.
_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:"
)


def docs_access(request: Request, session: SessionDep, settings: SettingsDep) -> None:
    if settings.environment != "production" or settings.docs_public:
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and principal_for_key(session, key.strip()) is not None:
        return
    active = signed_in(session, read_session(request, settings), settings)
    if active is not None and active.user.role == Role.ADMIN:
        return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "the API documentation needs a signed-in admin or an API key",
        headers={"WWW-Authenticate": "Bearer"},
    )


router = APIRouter(include_in_schema=False)
gated = APIRouter(include_in_schema=False, dependencies=[Depends(docs_access)])


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = _POLICY
    return response


@gated.get(OPENAPI_URL)
def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@gated.get("/docs")
def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="Aftercare API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
    )
    return _page(page)


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@gated.get("/redoc")
def redoc() -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title="Aftercare API",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    return _page(page)


@router.get(ASSETS_URL + "/{name}")
def docs_asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        ASSETS_DIR / name,
        media_type=_ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


router.include_router(gated)
