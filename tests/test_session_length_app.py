"""Session length and the end of the record deadline change compliance as the pack says, through the application
on SQLite and PostgreSQL: a 10-minute session never silently counts as the month's session where the policy sets
a length.

bury: "A one to one planned supervision session should take place every month and last for at least one and a
half hours" and "This should be completed by the supervisor and returned to the supervisee within one week of
the supervision session." hull: "Social Workers in Training are required to have 1.5 hours of individual
supervision per week."
"""

from datetime import date

from infrastructure.policy_packs import load_all_packs
from tests.support.acting import acting
from tests.support.scheduling import at, held, new_worker, supervisors

PACKS = load_all_packs()
D = date


def row(board, worker: str):
    return next(r for r in board.rows if r.worker_id == worker)


def strict_bury():
    """bury as an organisation that does not count a short session at all."""
    rule = PACKS["bury"].minimum_session_minutes
    return PACKS["bury"].model_copy(update={"minimum_session_minutes": rule.model_copy(update={
        "short_session": rule.short_session.model_copy(update={"counts": "does_not_count"})})})


def test_a_ten_minute_session_needs_attention_or_does_not_count_as_the_pack_says(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    worker = new_worker(app, clock, supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5))
    held(app, clock, worker, supervisor, D(2026, 2, 9), minutes=95)
    held(app, clock, worker, supervisor, D(2026, 3, 10), minutes=10)
    clock.set(at(D(2026, 3, 10), 15))  # its record too: a record's day is a session day unless the pack says not
    app.records.draft_record(acting(supervisor), supervisee_id=worker, content={
        "session_date": "2026-03-10", "attendees": ["Alex Supervisor", "Sam Worker"], "discussion": "Brief"})

    # bury's own setting: the session counts, and its 80-minute shortfall needs attention
    status = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 11), pack="bury"), worker)
    [short] = [i for i in status.issues if i.kind == "session_short"]
    assert short.severity == "warning" and "80 min short of the bury minimum of 90 min: counted" in short.text
    assert status.needs_attention and status.frequency.due == D(2026, 4, 10)

    # an organisation that does not count it: the month's session is still owed, from 9 February
    strict = strict_bury()
    status = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 11), pack=strict), worker)
    assert (status.frequency.last_session, status.frequency.due, status.frequency.days_overdue) == \
        (D(2026, 2, 9), D(2026, 3, 9), 2)
    assert "not counted as a supervision session" in next(i.text for i in status.issues if i.kind == "session_short")
    march = {r.worker_id: r for r in app.scheduling.frequency_report("2026-03", as_of=D(2026, 3, 31), pack=strict).rows}
    assert (march[worker].held, march[worker].met, march[worker].short_sessions) == (0, False, 1)
    counted = {r.worker_id: r for r in app.scheduling.frequency_report("2026-03", as_of=D(2026, 3, 31),
                                                                       pack="bury").rows}
    assert (counted[worker].held, counted[worker].short_sessions) == (1, 1)

    # hull: "likely to last between one and 2 hours" - information only
    hull = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 11), pack="hull"), worker)
    assert next(i for i in hull.issues if i.kind == "session_short").severity == "info"


def test_the_bury_week_ends_when_the_record_is_returned_to_the_supervisee(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    shared = new_worker(app, clock, supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5))
    kept = new_worker(app, clock, supervisor, "experienced", D(2020, 1, 6), joined=D(2026, 1, 5), name="Kim Worker")
    records = {}
    for worker in (shared, kept):
        held(app, clock, worker, supervisor, D(2026, 3, 10))
        clock.set(at(D(2026, 3, 12), 15))
        records[worker] = app.records.draft_record(acting(supervisor), supervisee_id=worker, content={
            "session_date": "2026-03-10", "attendees": ["Alex Supervisor", "Sam Worker"], "discussion": "Caseload"}).id
    app.records.share_record(acting(supervisor), records[shared])  # 12 March: within the week, never signed

    bury = app.scheduling.compliance_dashboard(as_of=D(2026, 3, 25), pack="bury")
    assert "record_unsigned" not in {i.kind for i in row(bury, shared).issues}
    assert "shared with the supervisee 12 Mar" in next(i.text for i in row(bury, shared).issues
                                                       if i.kind == "record_awaiting_signatures")
    [late] = [i for i in row(bury, kept).issues if i.kind == "record_unsigned"]
    assert late.due == D(2026, 3, 17) and "not yet shared with the supervisee" in late.text
    # bcp's own setting: the week ends with both signatures, so the shared record is late too
    bcp = app.scheduling.compliance_dashboard(as_of=D(2026, 3, 25), pack="bcp")
    assert "record_unsigned" in {i.kind for i in row(bcp, shared).issues}


def test_a_hull_trainee_is_due_every_week_and_short_weeks_are_named(application, clock):
    app = application
    _, supervisor = supervisors(app, clock)
    trainee = new_worker(app, clock, supervisor, "trainee", D(2026, 2, 2))
    held(app, clock, trainee, supervisor, D(2026, 3, 3), minutes=40)
    board = row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 11), pack="hull"), trainee)
    assert board.frequency.due == D(2026, 3, 10) and board.frequency.status == "overdue"
    [week] = [i for i in board.issues if i.kind == "weekly_minutes"]
    assert week.severity == "overdue" and "week of 2 Mar: 40 min of formal supervision recorded" in week.text
    held(app, clock, trainee, supervisor, D(2026, 3, 12), minutes=60)
    [week] = [i for i in row(app.scheduling.compliance_dashboard(as_of=D(2026, 3, 16), pack="hull"), trainee).issues
              if i.kind == "weekly_minutes"]
    assert week.severity == "info" and "informal supervision may make up the other 30 min" in week.text
