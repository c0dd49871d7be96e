"""The web interface's calls into the application for sessions and supervision agreements, in the same sequence
as the HTTP API's handlers (api/http_scheduling.py), with the same request models (so the same limits apply).
As in api/web/commands.py, the rules are the application's and the domain's: every call takes the acting
Principal."""

from datetime import date
from uuid import UUID

from api.access_service import Via
from api.application import SupervisionApplication
from api.errors import NotFound
from api.http_scheduling import AgreementIn, CancelIn, HoldIn, RebookIn, ReviewIn, ScheduleIn, _utc
from domain.agreements import SupervisionAgreement
from domain.authorisation import Decision
from domain.sessions import SupervisionSession
from infrastructure.users import Principal


# -- sessions ---------------------------------------------------------------------------------------------------

def sessions(app: SupervisionApplication, who: Principal) -> list[dict]:
    """As GET /api/v1/sessions: dates, minutes and states (supervisees their own, supervisors their team's)."""
    return app.scheduling.sessions_visible_to(who)


def session(app: SupervisionApplication, who: Principal, session_id: UUID) -> tuple[SupervisionSession, date | None]:
    """One of the sessions `who` may see (as GET /api/v1/sessions lists them), with its rebooking deadline."""
    if not any(s["session_id"] == str(session_id) for s in app.scheduling.sessions_visible_to(who)):
        raise NotFound(f"no session {session_id} that you can see")
    found = app.scheduling.get_session(session_id)
    return found, app.scheduling.rebook_by(found)


def next_session(app: SupervisionApplication, who: Principal) -> dict | None:
    return app.scheduling.next_session_of(who)


def schedule(app: SupervisionApplication, who: Principal, fields: dict) -> UUID:
    """As POST /api/v1/sessions."""
    body = ScheduleIn.model_validate(fields)
    return app.scheduling.schedule_session(who, supervisee_id=body.supervisee_id, starts_at=_utc(body.starts_at),
                                           planned_minutes=body.planned_minutes).id


def hold(app: SupervisionApplication, who: Principal, session_id: UUID, fields: dict) -> None:
    body = HoldIn.model_validate(fields)
    app.scheduling.hold_session(who, session_id, actual_minutes=body.actual_minutes, held_on=body.held_on)


def cancel(app: SupervisionApplication, who: Principal, session_id: UUID, fields: dict) -> None:
    body = CancelIn.model_validate(fields)
    app.scheduling.cancel_session(who, session_id, body.reason)


def rebook(app: SupervisionApplication, who: Principal, session_id: UUID, fields: dict) -> UUID:
    body = RebookIn.model_validate(fields)
    return app.scheduling.rebook_session(who, session_id, starts_at=_utc(body.starts_at),
                                         planned_minutes=body.planned_minutes).id


# -- agreements -------------------------------------------------------------------------------------------------

def agreements(app: SupervisionApplication, who: Principal) -> list[dict]:
    """The agreements `who` is a party to (dates and signatures; the terms are a logged read)."""
    return app.scheduling.agreements_visible_to(who)


def agreements_to_sign(app: SupervisionApplication, who: Principal) -> list[dict]:
    """Agreements still being drafted that wait for `who`'s own signature (the domain decides when they sign)."""
    if not who.worker_id:
        return []
    return [a for a in app.scheduling.agreements_visible_to(who) if a["lapsed_on"] is None
            and not a["supervisee_signed_on" if a["worker_id"] == who.worker_id else "supervisor_signed_on"]]


def agreement(app: SupervisionApplication, who: Principal, via: Via, agreement_id: UUID
              ) -> tuple[SupervisionAgreement, Decision, date | None]:
    """The agreement with its terms: decided and written to the access log before anything is shown."""
    found, decision = app.scheduling.read_agreement(who, agreement_id, via=via)
    return found, decision, app.scheduling.agreement_review_due(found)


def draft_agreement(app: SupervisionApplication, who: Principal, fields: dict) -> UUID:
    """As POST /api/v1/agreements."""
    body = AgreementIn.model_validate(fields)
    return app.scheduling.draft_agreement(who, supervisee_id=body.supervisee_id,
                                          terms=body.terms.model_dump(exclude_none=True)).id


def sign_agreement(app: SupervisionApplication, who: Principal, agreement_id: UUID) -> None:
    app.scheduling.sign_agreement(who, agreement_id)


def review_agreement(app: SupervisionApplication, who: Principal, agreement_id: UUID, fields: dict) -> None:
    body = ReviewIn.model_validate(fields)
    app.scheduling.review_agreement(who, agreement_id, reviewed_on=body.reviewed_on, notes=body.notes)
