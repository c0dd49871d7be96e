"""The web interface's calls into the application for sessions and supervision agreements, in the same sequence
as the HTTP API's handlers (api/http_scheduling.py), with the same request models (so the same limits apply).
As in api/web/commands.py, the rules are the application's and the domain's: every call takes the acting
Principal."""

from datetime import date
from uuid import UUID

from api.access_service import Via
from api.application import NotFound, SupervisionLedger
from api.http_scheduling import AgreementIn, CancelIn, HoldIn, RebookIn, ReviewIn, ScheduleIn, _utc
from domain.agreements import SupervisionAgreement
from domain.authorisation import Decision
from domain.sessions import SupervisionSession
from infrastructure.users import Principal


# -- sessions ---------------------------------------------------------------------------------------------------

def sessions(app: SupervisionLedger, who: Principal) -> list[dict]:
    """As GET /api/v1/sessions: dates, minutes and states (supervisees their own, supervisors their team's)."""
    return app.sessions_visible_to(who)


def session(app: SupervisionLedger, who: Principal, session_id: UUID) -> tuple[SupervisionSession, date | None]:
    """One of the sessions `who` may see (as GET /api/v1/sessions lists them), with its rebooking deadline."""
    if not any(s["session_id"] == str(session_id) for s in app.sessions_visible_to(who)):
        raise NotFound(f"no session {session_id} that you can see")
    found = app.get_session(session_id)
    return found, app.rebook_by(found)


def next_session(app: SupervisionLedger, who: Principal) -> dict | None:
    return app.next_session_of(who)


def schedule(app: SupervisionLedger, who: Principal, fields: dict) -> UUID:
    """As POST /api/v1/sessions."""
    body = ScheduleIn.model_validate(fields)
    return app.schedule_session(who, supervisee_id=body.supervisee_id, starts_at=_utc(body.starts_at),
                                planned_minutes=body.planned_minutes).id


def hold(app: SupervisionLedger, who: Principal, session_id: UUID, fields: dict) -> None:
    body = HoldIn.model_validate(fields)
    app.hold_session(who, session_id, actual_minutes=body.actual_minutes, held_on=body.held_on)


def cancel(app: SupervisionLedger, who: Principal, session_id: UUID, fields: dict) -> None:
    body = CancelIn.model_validate(fields)
    app.cancel_session(who, session_id, body.reason)


def rebook(app: SupervisionLedger, who: Principal, session_id: UUID, fields: dict) -> UUID:
    body = RebookIn.model_validate(fields)
    return app.rebook_session(who, session_id, starts_at=_utc(body.starts_at),
                              planned_minutes=body.planned_minutes).id


# -- agreements -------------------------------------------------------------------------------------------------

def agreements(app: SupervisionLedger, who: Principal) -> list[dict]:
    """The agreements `who` is a party to (dates and signatures; the terms are a logged read)."""
    return app.agreements_visible_to(who)


def agreements_to_sign(app: SupervisionLedger, who: Principal) -> list[dict]:
    """Agreements still being drafted that wait for `who`'s own signature (the domain decides when they sign)."""
    if not who.worker_id:
        return []
    return [a for a in app.agreements_visible_to(who) if a["lapsed_on"] is None
            and not a["supervisee_signed_on" if a["worker_id"] == who.worker_id else "supervisor_signed_on"]]


def agreement(app: SupervisionLedger, who: Principal, via: Via, agreement_id: UUID
              ) -> tuple[SupervisionAgreement, Decision, date | None]:
    """The agreement with its terms: decided and written to the access log before anything is shown."""
    found, decision = app.read_agreement(who, agreement_id, via=via)
    return found, decision, app.agreement_review_due(found)


def draft_agreement(app: SupervisionLedger, who: Principal, fields: dict) -> UUID:
    """As POST /api/v1/agreements."""
    body = AgreementIn.model_validate(fields)
    return app.draft_agreement(who, supervisee_id=body.supervisee_id,
                               terms=body.terms.model_dump(exclude_none=True)).id


def sign_agreement(app: SupervisionLedger, who: Principal, agreement_id: UUID) -> None:
    app.sign_agreement(who, agreement_id)


def review_agreement(app: SupervisionLedger, who: Principal, agreement_id: UUID, fields: dict) -> None:
    body = ReviewIn.model_validate(fields)
    app.review_agreement(who, agreement_id, reviewed_on=body.reviewed_on, notes=body.notes)
