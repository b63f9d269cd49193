"""Server-rendered web pages for clinic staff and operators (mounted under /app).

`router` gathers the page routers plus the static files (CSS and the small script
that refreshes the alert inbox), so app.py registers the whole web app with one line.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.web import (
    static,
    views_alerts,
    views_auth,
    views_charts,
    views_content,
    views_enrol,
    views_enrollments,
    views_import,
    views_media,
    views_oncall,
    views_ops,
    views_patients,
    views_plans,
    views_record,
    views_replies,
    views_settings,
    views_simulate,
    views_users,
)

router = APIRouter(include_in_schema=False)
_PAGES = (
    views_auth,
    views_patients,
    views_enrol,
    views_enrollments,
    views_import,
    views_oncall,
    views_settings,
    views_record,
    views_plans,
    views_content,
    views_alerts,
    views_replies,
    views_media,
    views_ops,
    views_charts,
    views_simulate,
    views_users,
    static,
)
for _module in _PAGES:
    router.include_router(_module.router)
