"""Small builders for test data, so tests state only what matters to them."""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import Session

from service import accounts
from service.db.models import Clinic, Enrollment, Patient, User
from service.domain import Role


class Factory:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def clinic(self, **overrides: object) -> Clinic:
        n = self._next()
        values: dict[str, object] = {
            "name": f"Clinic {n}",
            "slug": f"clinic-{n}",
            "contact_phone": "+14155550100",
            "timezone": "America/New_York",
            "quiet_start": time(20, 0),
            "quiet_end": time(8, 0),
        }
        values.update(overrides)
        clinic = accounts.create_clinic(self.session, **values)  # type: ignore[arg-type]
        self.session.commit()
        return clinic

    def user(self, clinic: Clinic | None, role: Role = Role.STAFF, **overrides: object) -> User:
        n = self._next()
        values: dict[str, object] = {
            "email": f"user{n}@example.test",
            "role": role,
            "clinic_id": clinic.id if clinic else None,
            "name": f"User {n}",
        }
        values.update(overrides)
        user = accounts.create_user(self.session, **values)  # type: ignore[arg-type]
        self.session.commit()
        return user

    def api_key(self, user: User) -> str:
        _, key = accounts.create_api_key(self.session, user=user)
        self.session.commit()
        return key

    def patient(self, clinic: Clinic, **overrides: object) -> Patient:
        n = self._next()
        values: dict[str, object] = {
            "clinic_id": clinic.id,
            "first_name": f"Pat{n}",
            "last_name": "Example",
            "phone": f"+1415555{n:04d}",
            "email": f"patient{n}@example.test",
            "timezone": clinic.timezone,
            "language": "en",
        }
        values.update(overrides)
        patient = Patient(**values)  # type: ignore[arg-type]
        self.session.add(patient)
        self.session.commit()
        return patient

    def enrol(
        self, clinic: Clinic, patient: Patient, *, procedure_at: datetime, now: datetime,
        plan: str = "botox",
    ) -> Enrollment:  # fmt: skip
        """`patient` enrolled in a shipped plan through the real use case (committed)."""
        from service.config import DEFAULT_TEMPLATES_DIR
        from service.enrollment import enrol
        from service.plans.catalog import load_catalog

        result = enrol(self.session, clinic=clinic, patient=patient, now=now, actor="test",
                       plan=load_catalog(DEFAULT_TEMPLATES_DIR).get(plan),
                       procedure_at=procedure_at)  # fmt: skip
        self.session.commit()
        return result.enrollment
