"""Sessions, agreements and case supervision as pure aggregates: no database, time passed in."""

from datetime import date, datetime, timedelta, timezone

import pytest

from domain.agreements import SupervisionAgreement
from domain.case_supervision import CaseSupervision
from domain.errors import DomainError, NotPermitted, OutOfOrder
from domain.sessions import SupervisionSession
from infrastructure.policy_packs import load_all_packs

PACKS = load_all_packs()
SUP, WORKER, HOS = "supervisor-1", "worker-1", "head-of-service"
T0 = datetime(2026, 5, 18, 9, tzinfo=timezone.utc)  # Monday


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def booked(day: date = date(2026, 5, 22), minutes: int = 90) -> SupervisionSession:
    return SupervisionSession.schedule(supervisee_id=WORKER, supervisor_id=SUP, starts_at=at(day, 10),
                                       planned_minutes=minutes, actor=SUP, timestamp=T0)


# -- sessions -------------------------------------------------------------------------------------------------


def test_only_the_supervisor_schedules_and_holds():
    with pytest.raises(NotPermitted, match="only the supervisor schedules"):
        SupervisionSession.schedule(supervisee_id=WORKER, supervisor_id=SUP, starts_at=at(date(2026, 5, 22)),
                                    planned_minutes=90, actor=WORKER, timestamp=T0)
    session = booked()
    with pytest.raises(NotPermitted, match="only the supervisor can record"):
        session.hold(actual_minutes=90, pack=PACKS["bury"], actor=WORKER, timestamp=at(date(2026, 5, 22)))


def test_a_short_session_is_kept_with_its_shortfall_not_refused():
    # bury: "A one to one planned supervision session should take place every month and last for at least one
    # and a half hours"
    session = booked()
    session.hold(actual_minutes=75, pack=PACKS["bury"], actor=SUP, timestamp=at(date(2026, 5, 22), 16))
    assert (session.state, session.actual_minutes, session.shortfall_minutes) == ("held", 75, 15)
    held = session.collect_events()[-1]
    assert (held.minimum_minutes, held.pack) == (90, "bury")
    other = booked()
    other.hold(actual_minutes=75, pack=PACKS["bcp"], actor=SUP, timestamp=at(date(2026, 5, 22), 16))
    assert other.shortfall_minutes == 0  # bcp: "policy silent: duration is agreed in the Individual Supervision Agreement"


def test_a_session_cannot_be_recorded_as_held_in_the_future_or_twice():
    session = booked()
    with pytest.raises(DomainError, match="in the future"):
        session.hold(actual_minutes=90, pack=PACKS["hull"], actor=SUP, timestamp=at(date(2026, 5, 21)))
    session.hold(actual_minutes=90, pack=PACKS["hull"], actor=SUP, timestamp=at(date(2026, 5, 22)))
    with pytest.raises(OutOfOrder, match="already held"):
        session.cancel("leave", actor=WORKER, timestamp=at(date(2026, 5, 22), 13))


def test_cancelled_by_either_party_with_a_reason_from_the_list():
    session = booked()
    with pytest.raises(DomainError, match="not one of: sickness, leave, operational"):
        session.cancel("traffic", actor=WORKER, timestamp=T0)
    with pytest.raises(NotPermitted):
        session.cancel("leave", actor="someone-else", timestamp=T0)
    session.cancel("leave", actor=WORKER, timestamp=T0)
    assert session.cancellation["cancelled_by"] == "supervisee"


def test_hull_rebooking_deadline_is_five_working_days_across_the_late_may_bank_holiday():
    # hull: "If for whatever reason supervision has to be cancelled, it should be re-scheduled to take place
    # within 5 working days."  Fri 22 May 2026 + 5 working days, Mon 25 May being a bank holiday = Mon 1 Jun.
    session = booked(date(2026, 5, 22))
    session.cancel("operational", actor=SUP, timestamp=T0)
    assert session.rebook_by(PACKS["hull"]) == date(2026, 6, 1)
    assert session.rebook_by(PACKS["bcp"]) is None  # "policy silent: no rebooking deadline"


def test_after_sickness_the_clock_starts_on_the_return_to_work():
    # hull: "If the cancellation is due to sickness leave, then the session should be arranged to take place
    # within 5 days of the individual's return to work."
    session = booked(date(2026, 5, 22))
    session.cancel("sickness", actor=WORKER, timestamp=T0)
    assert session.rebook_by(PACKS["hull"]) is None  # not known until they are back
    with pytest.raises(DomainError, match="in the future"):
        session.record_return_to_work(date(2026, 6, 8), actor=WORKER, timestamp=at(date(2026, 6, 7)))
    session.record_return_to_work(date(2026, 6, 8), actor=WORKER, timestamp=at(date(2026, 6, 8)))
    assert session.rebook_by(PACKS["hull"]) == date(2026, 6, 13)
    with pytest.raises(OutOfOrder, match="already recorded"):
        session.record_return_to_work(date(2026, 6, 9), actor=WORKER, timestamp=at(date(2026, 6, 9)))


def test_a_return_to_work_only_follows_a_sickness_cancellation():
    session = booked()
    session.cancel("leave", actor=WORKER, timestamp=T0)
    with pytest.raises(OutOfOrder, match="only for a session cancelled because of sickness"):
        session.record_return_to_work(date(2026, 5, 25), actor=WORKER, timestamp=at(date(2026, 5, 25)))


def test_rebooking_links_the_cancelled_session_once():
    session = booked()
    with pytest.raises(OutOfOrder, match="only a cancelled session"):
        session.mark_rebooked("new", actor=SUP, timestamp=T0)
    session.cancel("operational", actor=SUP, timestamp=T0)
    session.mark_rebooked("new", actor=SUP, timestamp=T0 + timedelta(minutes=1))
    with pytest.raises(OutOfOrder, match="already rebooked"):
        session.mark_rebooked("newer", actor=SUP, timestamp=T0 + timedelta(minutes=2))


@pytest.mark.parametrize("minutes", [0, -5, 481, True])
def test_planned_length_must_be_plausible(minutes):
    with pytest.raises(DomainError, match="between 1 and 480 minutes"):
        booked(minutes=minutes)


# -- agreements ------------------------------------------------------------------------------------------------


def drafted() -> SupervisionAgreement:
    return SupervisionAgreement.draft(supervisee_id=WORKER, supervisor_id=SUP, actor=SUP, timestamp=T0,
                                      terms={"frequency": "fortnightly", "session_minutes": 90})


def test_an_agreement_is_in_force_once_both_have_signed_in_either_order():
    agreement = drafted()
    agreement.sign(actor=WORKER, timestamp=T0)
    assert agreement.state == "draft" and agreement.awaiting == ["supervisor"]
    with pytest.raises(OutOfOrder, match="already signed"):
        agreement.sign(actor=WORKER, timestamp=T0)
    agreement.sign(actor=SUP, timestamp=T0 + timedelta(days=1))
    assert (agreement.state, agreement.in_force_on) == ("in_force", date(2026, 5, 19))


def test_only_the_supervisor_drafts_and_only_the_parties_sign():
    with pytest.raises(NotPermitted, match="only the supervisor drafts"):
        SupervisionAgreement.draft(supervisee_id=WORKER, supervisor_id=SUP, actor=WORKER, timestamp=T0,
                                   terms={"frequency": "monthly"})
    with pytest.raises(NotPermitted):
        drafted().sign(actor="someone-else", timestamp=T0)


@pytest.mark.parametrize(("terms", "message"), [
    ({}, "at least one term"), ({"colour": "blue"}, "unknown agreement terms: colour"),
    ({"session_minutes": 0}, "session_minutes must be"), ({"frequency": "x" * 5000}, "longer than"),
])
def test_terms_are_checked(terms, message):
    with pytest.raises(DomainError, match=message):
        SupervisionAgreement.draft(supervisee_id=WORKER, supervisor_id=SUP, actor=SUP, timestamp=T0, terms=terms)


def test_reviews_are_dated_after_the_agreement_and_not_in_the_future():
    agreement = drafted()
    with pytest.raises(OutOfOrder, match="only an agreement in force"):
        agreement.review(reviewed_on=date(2026, 5, 18), actor=SUP, timestamp=T0)
    agreement.sign(actor=WORKER, timestamp=T0)
    agreement.sign(actor=SUP, timestamp=T0)
    with pytest.raises(DomainError, match="before 2026-05-18"):
        agreement.review(reviewed_on=date(2026, 5, 1), actor=SUP, timestamp=at(date(2027, 5, 1)))
    with pytest.raises(DomainError, match="in the future"):
        agreement.review(reviewed_on=date(2027, 5, 2), actor=SUP, timestamp=at(date(2027, 5, 1)))
    agreement.review(reviewed_on=date(2027, 4, 30), actor=WORKER, timestamp=at(date(2027, 5, 1)))
    assert agreement.last_reviewed_on == date(2027, 4, 30)


def test_a_paper_agreement_is_in_force_from_the_day_it_was_signed_and_lapses_once():
    agreement = SupervisionAgreement.from_paper(supervisee_id=WORKER, supervisor_id=SUP, signed_on=date(2025, 3, 3),
                                                terms={"frequency": "monthly"}, actor="hr", timestamp=T0)
    assert (agreement.state, agreement.in_force_on) == ("in_force", date(2025, 3, 3))
    assert all(s["on_paper"] for s in agreement.signatures.values())
    agreement.lapse("supervisor_changed", lapsed_on=date(2026, 5, 18), actor="hr", timestamp=T0)
    with pytest.raises(OutOfOrder, match="already lapsed"):
        agreement.lapse("worker_left", lapsed_on=date(2026, 5, 19), actor="hr", timestamp=T0)
    with pytest.raises(OutOfOrder, match="lapsed"):
        agreement.review(reviewed_on=date(2026, 5, 18), actor=SUP, timestamp=T0)


def test_a_paper_agreement_cannot_be_signed_in_the_future():
    with pytest.raises(DomainError, match="in the future"):
        SupervisionAgreement.from_paper(supervisee_id=WORKER, supervisor_id=SUP, signed_on=date(2026, 5, 19),
                                        terms={"frequency": "monthly"}, actor="hr", timestamp=T0)


# -- case supervision --------------------------------------------------------------------------------------------


def case(reference: str = "J.S.") -> CaseSupervision:
    return CaseSupervision.open(worker_id=WORKER, supervisor_id=SUP, case_reference=reference, actor=SUP, timestamp=T0)


def test_a_case_is_named_by_initials_or_number_never_by_name():
    # bury: "use initials or unique numbers rather than full names"
    with pytest.raises(DomainError, match="looks like a full name"):
        case("John Smith")
    assert case("CN-10234").case_reference == "CN-10234"


def test_darlington_green_needs_the_head_of_service_approval_recorded():
    # darlington: "If a case is Green the Head of Service will need to approve this status on Liquid logic."
    darlington = PACKS["darlington"]
    c = case()
    with pytest.raises(NotPermitted, match="needs the approval of the head of service"):
        c.rate("Green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0)
    with pytest.raises(NotPermitted, match="someone other than the supervisor"):
        c.rate("green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=SUP,
               approved_on=date(2026, 5, 18))
    c.rate("Green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
           approved_on=date(2026, 5, 18), approver_role="Head of Service")
    assert c.rating == "green" and c.approval == {"role": "head_of_service", "by": HOS, "on": date(2026, 5, 18)}
    c.rate("amber", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0)  # "Amber Bi monthly"
    assert c.rating == "amber" and c.approval is None


def test_darlington_green_approval_by_anyone_but_the_head_of_service_is_refused():
    # darlington: "If a case is Green the Head of Service will need to approve this status on Liquid logic."
    darlington = PACKS["darlington"]
    for title in ("ASYE Social Worker", "Service Manager", "Assistant Head of Service", "Team Manager"):
        with pytest.raises(NotPermitted, match=f"needs the approval of the head of service .*'{title}'"):
            case().rate("green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
                        approved_on=date(2026, 5, 18), approver_role=title)
    with pytest.raises(NotPermitted, match="give the approver's role"):
        case().rate("green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
                    approved_on=date(2026, 5, 18))
    # the Lead Officer's own title in darlington's document control is a Head of Service
    c = case()
    c.rate("green", pack=darlington, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
           approved_on=date(2026, 5, 18), approver_role="Head of Service – Care Planning")
    assert c.approval == {"role": "head_of_service", "by": HOS, "on": date(2026, 5, 18)}


def test_bury_settled_rating_is_agreed_by_the_supervisee_not_a_third_person():
    # bury: "A settled case ... must be agreed between supervisor and supervisee and the rationale recorded"
    bury = PACKS["bury"]
    with pytest.raises(NotPermitted, match="needs the approval of the supervisor and supervisee"):
        case().rate("settled", pack=bury, actor=SUP, supervisor_now=SUP, timestamp=T0)
    with pytest.raises(NotPermitted, match="the supervisee agrees it"):
        case().rate("settled", pack=bury, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
                    approved_on=date(2026, 5, 18))
    c = case()
    c.rate("settled", pack=bury, actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=WORKER,
           approved_on=date(2026, 5, 18), rationale="Stable placement; risk managed")
    assert c.approval == {"role": "supervisor_and_supervisee", "by": WORKER, "on": date(2026, 5, 18),
                          "rationale": "Stable placement; risk managed"}


def test_a_rating_must_be_one_of_the_packs():
    with pytest.raises(DomainError, match="known ratings: amber, green, green_cwd, red"):
        case().rate("purple", pack=PACKS["darlington"], actor=SUP, supervisor_now=SUP, timestamp=T0)
    with pytest.raises(DomainError, match="needs no approval"):
        case().rate("red", pack=PACKS["darlington"], actor=SUP, supervisor_now=SUP, timestamp=T0, approved_by=HOS,
                    approved_on=date(2026, 5, 1))


def test_only_the_current_supervisor_records_discussions_and_a_closed_case_is_done():
    c = case()
    with pytest.raises(NotPermitted, match="current supervisor"):
        c.record_discussion(date(2026, 5, 18), actor=SUP, supervisor_now="new-supervisor", timestamp=T0)
    c.record_discussion(date(2026, 5, 18), actor=SUP, supervisor_now=SUP, timestamp=T0)
    with pytest.raises(DomainError, match="already discussed later"):
        c.record_discussion(date(2026, 5, 1), actor=SUP, supervisor_now=SUP, timestamp=T0)
    c.close(actor=SUP, supervisor_now=SUP, timestamp=T0)
    with pytest.raises(OutOfOrder, match="closed"):
        c.record_discussion(date(2026, 5, 18), actor=SUP, supervisor_now=SUP, timestamp=T0)
