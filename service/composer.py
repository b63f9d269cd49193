"""What replies and pages need from the outside: the templates and our public URL.

Inbound replies, alert pages and the replies inbox all render through one `Composer`,
built once by the entry point (webhook, worker job) and passed down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from service.db.models import Clinic, Patient
from service.logs import kv
from service.plans.model import Plan
from service.rendering import Renderer
from service.safety_net import TEAM, SignBookError, load_book, reply_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Composer:
    """What replies and pages need from the outside: templates and our public URL."""

    renderer: Renderer
    base_url: str

    def alert_link(self, alert_id: int | None) -> str:
        """The staff alert inbox, scrolled to this alert (the page needs a login)."""
        return f"{self.base_url.rstrip('/')}/app/alerts#alert-{alert_id}"

    def inbox_link(self) -> str:
        """The staff replies inbox (the page needs a login)."""
        return f"{self.base_url.rstrip('/')}/app/replies"

    def safety_net(
        self, *, plan: Plan | None, matches: Sequence[str], language: str
    ) -> dict[str, str]:
        """The safety-net reply's values for this plan and what was reported. The reply
        must go even when the warning-sign file is broken: it then names no general
        signs and gives the general emergency line."""
        try:
            book = load_book(self.renderer.messages_dir.parent)
            return reply_context(book, plan=plan, matches=matches, language=language)
        except (OSError, SignBookError):
            log.exception(kv("inbound.warning_signs_unreadable"))
            return {"route": TEAM, "reported_sign": "", "emergency_signs": "",
                    "clinic_now_signs": ""}  # fmt: skip


def clinic_context(clinic: Clinic, patient: Patient | None) -> dict[str, object]:
    return {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.contact_phone,
        "emergency_phone": clinic.emergency_phone,
        "patient_first_name": patient.first_name if patient else "",
    }
