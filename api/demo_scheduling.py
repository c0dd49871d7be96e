"""Scheduling demo, added to the BCP demo (api/demo.py): agreements, sessions held and cancelled, case ratings
and four more staff, so that `svl due` shows overdue and on-time workers under every rule on 24 Nov 2026.

Under the BCP pack, as of 24 Nov 2026:
  NQSW weekly phase         Nadia Rahman on time; Owen Price overdue (a cancelled session never rebooked)
  NQSW fortnightly phase    Amira Hussain on time; Ben Carter overdue (sickness cancellation, booked late)
  overseas-recruited        Ewa Nowak on time (3-weekly since her supervisor's step-down decision of 1 Sep,
                            after observing her practice on 24 Aug); Paulo Santos overdue (2-weekly), a
                            session without a record, and an agreement he never signed
  returner                  Rosa Quinn on time; Femi Adeyemi overdue (rebooked after the due date)
  experienced, monthly      Chloe Evans, Grace Lindqvist on time; Dev Patel overdue
  managers, monthly         Daniel Okafor, Tom Reeves on time; Helen Marsh overdue; Priya Shah (Head of
                            Service) has no supervisor in the ledger
  agreements                Chloe's review overdue, Dev's due soon; Grace's lapsed at her 1 Sep transfer
  records                   the BCP demo's unsigned records past the one-week deadline
  cases                     Dev's red case and Harry's unrated case overdue; Chloe's and Isla's on time
  observations              Ewa's practice (24 Aug, before the step down); Chloe's (10 Dec 2025, from the paper
                            file), so her annual observation of practice is due on 10 Dec
Loaded once: it does nothing if any session exists. Every step runs at its own moment on a demo clock.
"""

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select

from api import demo_cast as cast
from api.application import SupervisionApplication
from api.demo_timeline import DemoClock, run_in_time_order
from projections.schema import workers as workers_table
from projections.supervision_compliance import sessions_count

HR = cast.HR
GO_LIVE = datetime(2026, 4, 1, 10, tzinfo=timezone.utc)  # when the BCP demo's ledger started
LAST_DAY = date(2026, 11, 23)  # demo data ends here; "today" is 24 Nov 2026

NEW_STAFF = [  # name, role, category, start date, supervisor, joined the ledger on
    ("Nadia Rahman", "Social Worker (ASYE)", "nqsw_asye", date(2026, 11, 2), "Daniel Okafor", date(2026, 10, 26)),
    ("Owen Price", "Social Worker (ASYE)", "nqsw_asye", date(2026, 10, 19), "Helen Marsh", date(2026, 10, 12)),
    ("Paulo Santos", "Social Worker", "overseas_recruited", date(2026, 9, 14), "Helen Marsh", date(2026, 9, 7)),
    ("Rosa Quinn", "Social Worker", "returner", date(2026, 10, 5), "Daniel Okafor", date(2026, 9, 28)),
]

# Agreements signed on paper before the ledger: supervisee, supervisor, signed on, reviewed on, recorded at.
PAPER_AGREEMENTS = [
    ("Chloe Evans", "Daniel Okafor", date(2025, 11, 3), None, GO_LIVE),
    ("Dev Patel", "Daniel Okafor", date(2025, 12, 8), None, GO_LIVE),
    ("Ben Carter", "Daniel Okafor", date(2026, 3, 2), None, GO_LIVE),
    ("Isla Murray", "Tom Reeves", date(2025, 5, 12), date(2026, 3, 30), GO_LIVE),
    ("Jack Turner", "Tom Reeves", date(2025, 6, 16), date(2026, 3, 23), GO_LIVE),
    ("Kemi Bello", "Tom Reeves", date(2025, 2, 3), date(2026, 1, 26), GO_LIVE),
    ("Daniel Okafor", "Priya Shah", date(2025, 9, 15), date(2026, 9, 14), GO_LIVE),
    ("Helen Marsh", "Priya Shah", date(2025, 10, 6), None, GO_LIVE),
    ("Tom Reeves", "Priya Shah", date(2026, 2, 2), None, GO_LIVE),
    # Found in her file when she moved team: it lapsed at the transfer, and nobody has re-negotiated.
    ("Grace Lindqvist", "Helen Marsh", date(2025, 6, 2), None, datetime(2026, 9, 1, 9, tzinfo=timezone.utc)),
]

# Agreed in the ledger at the start: supervisee, supervisor, drafted on, signed by both (False: supervisee never did).
LEDGER_AGREEMENTS = [
    ("Harry Doyle", "Helen Marsh", date(2026, 4, 20), True),
    ("Ewa Nowak", "Helen Marsh", date(2026, 6, 1), True),
    ("Femi Adeyemi", "Helen Marsh", date(2026, 7, 13), True),
    ("Amira Hussain", "Daniel Okafor", date(2026, 9, 7), True),
    ("Paulo Santos", "Helen Marsh", date(2026, 9, 14), False),
    ("Rosa Quinn", "Daniel Okafor", date(2026, 10, 5), True),
    ("Owen Price", "Helen Marsh", date(2026, 10, 19), True),
    ("Nadia Rahman", "Daniel Okafor", date(2026, 11, 2), True),
]

# Sessions: supervisee, day, what happened. "held" has a record signed by both (if there was time before the
# demo's last day); "unrecorded" was held without a record; "cancel:<reason>:<by>[:returned YYYY-MM-DD]";
# "rebooked:<YYYY-MM-DD>" is a cancellation (operational, by the supervisor) rebooked for that day;
# "booked" is in the future; "short:<minutes>" held but short.
SESSIONS = [
    ("Nadia Rahman", date(2026, 11, 9), "held"), ("Nadia Rahman", date(2026, 11, 16), "held"),
    ("Nadia Rahman", date(2026, 11, 23), "held"), ("Nadia Rahman", date(2026, 11, 30), "booked"),
    ("Owen Price", date(2026, 10, 26), "held"), ("Owen Price", date(2026, 11, 2), "held"),
    ("Owen Price", date(2026, 11, 9), "held"), ("Owen Price", date(2026, 11, 16), "cancel:operational:supervisor"),
    ("Amira Hussain", date(2026, 11, 17), "held"), ("Amira Hussain", date(2026, 12, 1), "booked"),
    ("Ben Carter", date(2026, 11, 2), "cancel:sickness:supervisee:2026-11-09"),
    ("Ben Carter", date(2026, 11, 26), "booked"),
    ("Paulo Santos", date(2026, 9, 28), "held"), ("Paulo Santos", date(2026, 10, 12), "held"),
    ("Paulo Santos", date(2026, 10, 26), "unrecorded"), ("Paulo Santos", date(2026, 11, 9), "cancel:leave:supervisee"),
    ("Ewa Nowak", date(2026, 12, 2), "booked"),
    ("Rosa Quinn", date(2026, 10, 19), "held"), ("Rosa Quinn", date(2026, 11, 9), "held"),
    ("Femi Adeyemi", date(2026, 11, 10), "rebooked:2026-11-27"),
    ("Dev Patel", date(2026, 12, 1), "booked"),
    ("Daniel Okafor", date(2026, 10, 12), "held"), ("Daniel Okafor", date(2026, 11, 10), "held"),
    ("Tom Reeves", date(2026, 10, 14), "held"), ("Tom Reeves", date(2026, 11, 16), "short:45"),
    ("Helen Marsh", date(2026, 9, 1), "held"),
]

# Direct observations of practice and the step-down decisions resting on them: worker, observed on, decided on
# (bcp: "Direct observation of practice must take place before a decision is taken to reduce the frequency").
STEP_DOWNS = [
    ("Ewa Nowak", date(2026, 8, 24), date(2026, 9, 1)),
]

# Observations of practice copied from the paper file at go-live, with no decision resting on them: worker,
# observed on. Chloe's was last December, so the annual observation (bcp) is due within the month on 24 Nov.
OBSERVATIONS = [
    ("Chloe Evans", date(2025, 12, 10)),
]

# Cases: worker, reference, rating (None: unrated), last discussed.
CASES = [
    ("Chloe Evans", "CN-10234", "red", date(2026, 11, 7)),
    ("Dev Patel", "C.D.", "red", date(2026, 10, 9)),
    ("Harry Doyle", "LAC/2026/17", None, date(2026, 9, 17)),
    ("Isla Murray", "E.F.", "private_fostering_language_student", date(2026, 10, 19)),
]

Scenario = Iterator[datetime]


def load_scheduling_demo(app: SupervisionApplication, progress: Callable[[str], None] = lambda _: None) -> dict:
    with app.storage.reads.connect() as conn:
        if sessions_count(conn):
            return {"loaded": False, "reason": "the database already holds supervision sessions"}
        ids = conn.execute(select(workers_table.c.worker_id)).scalars().all()
    if not ids:
        return {"loaded": False, "reason": "load the BCP demo first (`svl demo`)"}
    clock = DemoClock(GO_LIVE)
    original_clock, app.clock = app.clock, clock
    try:
        return _load(app, clock, {name: wid for wid, name in app.people.worker_names(ids).items()}, progress)
    finally:
        app.clock = original_clock


def _load(app: SupervisionApplication, clock: DemoClock, people: dict[str, str], progress: Callable[[str], None]
          ) -> dict:
    scenarios: list[Scenario] = [_join(app, people, *staff) for staff in NEW_STAFF]
    scenarios += [_paper_agreement(app, people, *a) for a in PAPER_AGREEMENTS]
    scenarios += [_ledger_agreement(app, people, *a) for a in LEDGER_AGREEMENTS]
    scenarios += [_session(app, people, name, day, outcome) for name, day, outcome in SESSIONS]
    scenarios += [_case(app, people, *c) for c in CASES]
    scenarios += [_step_down(app, people, *d) for d in STEP_DOWNS]
    scenarios += [_observation(app, people, *o) for o in OBSERVATIONS]
    run_in_time_order(clock, scenarios)
    progress(f"{len(NEW_STAFF)} staff joined, {len(PAPER_AGREEMENTS) + len(LEDGER_AGREEMENTS)} agreements, "
             f"{len(SESSIONS)} sessions, {len(CASES)} cases")
    return {"loaded": True, "workers": len(NEW_STAFF), "agreements": len(PAPER_AGREEMENTS) + len(LEDGER_AGREEMENTS),
            "sessions": len(SESSIONS), "cases": len(CASES)}


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.utc)


def _join(app: SupervisionApplication, people: dict[str, str], name: str, role: str, category: str, start: date,
          supervisor: str, joined: date) -> Scenario:
    yield _at(joined, 8)
    wid = str(app.people.join_worker(HR, name=name, role=role, category=category, start_date=start).id)
    people[name] = wid
    app.allocation.allocate_supervisor(HR, wid, people[supervisor])


def _paper_agreement(app: SupervisionApplication, people: dict[str, str], name: str, supervisor: str, signed_on: date,
                     reviewed_on: date | None, recorded_at: datetime) -> Scenario:
    yield recorded_at
    agreement_id = app.scheduling.record_paper_agreement(
        HR, supervisee_id=people[name], supervisor_id=people[supervisor], signed_on=signed_on,
        terms={"frequency": "monthly, at least 90 minutes", "arrangements": "signed on paper; scanned to the file"}).id
    if reviewed_on is not None:
        yield max(recorded_at + timedelta(minutes=5), _at(reviewed_on, 14))
        app.scheduling.review_agreement(cast.supervisor(people[supervisor]), agreement_id, reviewed_on=reviewed_on,
                                        notes="reviewed together; no changes")


def _ledger_agreement(app: SupervisionApplication, people: dict[str, str], name: str, supervisor: str, day: date,
                      both_sign: bool) -> Scenario:
    yield _at(day, 11)
    sup = people[supervisor]
    agreement_id = app.scheduling.draft_agreement(cast.supervisor(sup), supervisee_id=people[name], terms={
        "frequency": "as the BCP policy sets for the role", "session_minutes": 90,
        "arrangements": "protected time, private room; supervisee brings the agenda"}).id
    yield _at(day, 16)
    app.scheduling.sign_agreement(cast.supervisor(sup), agreement_id)
    if both_sign:
        yield _at(day + timedelta(days=1), 9)
        app.scheduling.sign_agreement(cast.supervisee(people[name]), agreement_id)


def _session(app: SupervisionApplication, people: dict[str, str], name: str, day: date, outcome: str) -> Scenario:
    # New staff exist only once their join step has run; booking a week ahead always follows it.
    yield max(_at(day - timedelta(days=7), 10), _at(_joined_on(name), 9))
    worker = people[name]
    supervisor = app.people.get_worker(worker).supervisor_id
    assert supervisor is not None
    session_id = app.scheduling.schedule_session(cast.supervisor(supervisor), supervisee_id=worker,
                                                 starts_at=_at(day, 10),
                                                 planned_minutes=90).id
    kind, _, detail = outcome.partition(":")
    if kind == "booked":
        return
    if kind in ("cancel", "rebooked"):
        yield from _cancellation(app, session_id, worker, supervisor, day, kind, detail)
        return
    yield _at(day, 12)
    minutes = int(detail) if kind == "short" else 90
    app.scheduling.hold_session(cast.supervisor(supervisor), session_id, actual_minutes=minutes)
    if kind != "unrecorded":
        yield from _record(app, worker, supervisor, day)


def _joined_on(name: str) -> date:
    return next((joined for staff_name, *_, joined in NEW_STAFF if staff_name == name), date(2026, 4, 1))


def _cancellation(app: SupervisionApplication, session_id: Any, worker: str, supervisor: str, day: date, kind: str,
                  detail: str) -> Scenario:
    if kind == "rebooked":
        yield _at(day, 8)
        app.scheduling.cancel_session(cast.supervisor(supervisor), session_id, "operational")
        yield _at(day, 9)
        app.scheduling.rebook_session(cast.supervisor(supervisor), session_id,
                                      starts_at=_at(date.fromisoformat(detail), 10))
        return
    reason, by, *returned = detail.split(":")
    yield _at(day - timedelta(days=1), 17)
    app.scheduling.cancel_session((cast.supervisee(worker) if by == "supervisee" else cast.supervisor(supervisor)),
                                  session_id, reason)
    if returned:
        back = date.fromisoformat(returned[0])
        yield _at(back, 9)
        app.scheduling.record_return_to_work(cast.supervisee(worker), session_id, back)


def _record(app: SupervisionApplication, worker: str, supervisor: str, day: date) -> Scenario:
    yield _at(day, 15)
    content = {
        "session_date": day.isoformat(),
        "attendees": [app.people.get_worker(supervisor).name, app.people.get_worker(worker).name],
        "agenda": ["Caseload and workload", "Wellbeing and resilience", "Learning and development"],
        "discussion": "Reviewed caseload and progress against the plan; worker reports feeling supported.",
        "actions": [{"description": "Update chronology", "owner": "Worker", "due": (day + timedelta(days=7)).isoformat()}],
    }
    record_id = app.records.draft_record(cast.supervisor(supervisor), supervisee_id=worker, content=content).id
    if day + timedelta(days=2) > LAST_DAY:
        return  # still within its deadline on the demo's last day
    yield _at(day + timedelta(days=1), 10)
    app.records.share_record(cast.supervisor(supervisor), record_id)
    yield _at(day + timedelta(days=2), 9)
    digest = app.records.get_record(record_id).content_sha256
    app.records.sign_record(cast.supervisee(worker), record_id, digest)
    yield _at(day + timedelta(days=2), 16)
    app.records.sign_record(cast.supervisor(supervisor), record_id, digest)


def _case(app: SupervisionApplication, people: dict[str, str], name: str, reference: str, rating: str | None,
          discussed: date) -> Scenario:
    yield _at(discussed, 17)
    worker = people[name]
    supervisor = app.people.get_worker(worker).supervisor_id
    assert supervisor is not None
    app.scheduling.open_case(cast.supervisor(supervisor), worker_id=worker, case_reference=reference, rating=rating,
                             last_discussed_on=discussed)


def _observation(app: SupervisionApplication, people: dict[str, str], name: str, observed_on: date) -> Scenario:
    yield GO_LIVE + timedelta(days=1)
    worker = people[name]
    supervisor = app.people.get_worker(worker).supervisor_id
    assert supervisor is not None
    app.practice.record_observation(cast.supervisor(supervisor), subject_id=worker, observed="practice",
                                    observed_on=observed_on, outcome="meets_standard",
                                    feedback="Joint visit: well planned, clear explanation of the plan to the family; "
                                    "copied from the paper file.")


def _step_down(app: SupervisionApplication, people: dict[str, str], name: str, observed_on: date, decided_on: date
               ) -> Scenario:
    yield _at(observed_on, 17)
    worker = people[name]
    supervisor = app.people.get_worker(worker).supervisor_id
    assert supervisor is not None
    observation = app.practice.record_observation(cast.supervisor(supervisor), subject_id=worker, observed="practice",
                                                  observed_on=observed_on, outcome="meets_standard",
                                                  feedback="Home visit: clear purpose, child's views sought; good use of "
                                                  "scaling questions.")
    yield _at(decided_on, 16)
    app.practice.step_down_frequency(cast.supervisor(supervisor), worker, decided_on=decided_on,
                                     observation_id=observation.id,
                                     rationale="Observed practice meets the required standard; supervision reduced to every "
                                      "three weeks.")
