"""Outside production, a "simulate a reply" form on the patient page: it posts a signed
inbound SMS from the patient's number to this service's own webhook, as Twilio would
(the same path as `aftercare simulate reply`), so triage, alerts and pages can be tried
without a phone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from service.api.deps import SessionDep, SettingsDep
from service.channels.twilio_webhooks import SimulationError, post_simulated_sms
from service.db.models import Clinic, Patient
from service.web.access import visible
from service.web.deps import CsrfDep, NotFound, StaffDep, WebError, WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


class SimulationFailed(WebError):
    status_code = 502
    title = "The simulated text did not get through"


@router.post("/app/patients/{patient_id}/simulate-reply", dependencies=[CsrfDep])
def simulate_reply(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: StaffDep,
    patient_id: int,
    text: Annotated[str, Form(max_length=1600)],
) -> Response:
    if settings.environment == "production":
        raise NotFound("There is no such page.")
    patient = visible(session, viewer, Patient, patient_id)
    clinic = session.get(Clinic, patient.clinic_id)
    back = f"/app/patients/{patient_id}"
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not token or not patient.phone:
        raise SimulationFailed(
            "Set TWILIO_AUTH_TOKEN (any value in development) and restart the service."
            if not token else "This patient has no phone number.",
            back=back,
        )  # fmt: skip
    # End this request's transaction first: on SQLite it holds the write lock the webhook
    # needs to record the reply.
    session.commit()
    to = (clinic.sms_from if clinic else None) or settings.twilio_from or ""
    try:
        post_simulated_sms(base_url=settings.public_base_url, auth_token=token,
                           sender=patient.phone, to=to, body=text)  # fmt: skip
    except SimulationError as exc:
        raise SimulationFailed(
            f"{exc}. PUBLIC_BASE_URL must reach this service.", back=back
        ) from None
    return RedirectResponse(f"{back}?done=simulated#tl-h", status_code=303)
