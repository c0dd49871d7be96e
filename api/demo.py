"""Demo data for BCP: supervisors, a dozen workers, ~50 records in every state, a transfer, an
amendment dispute, an addendum and a leaver. Loaded once; running it again changes nothing."""

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from api import demo_cast as cast
from api.application import SupervisionApplication
from api.demo_timeline import DemoClock, run_in_time_order
from projections.schema import workers

HR = cast.HR

SUPERVISORS = [  # name, role, category, start date
    ("Priya Shah", "Head of Service", "manager", date(2012, 4, 2)),
    ("Daniel Okafor", "Team Manager, Assessment", "manager", date(2015, 9, 7)),
    ("Helen Marsh", "Team Manager, Children in Care", "manager", date(2016, 1, 11)),
    ("Tom Reeves", "Practice Supervisor, Family Support", "manager", date(2018, 6, 4)),
]

WORKERS = [  # name, role, category, start date, supervisor index
    ("Amira Hussain", "Social Worker (ASYE)", "nqsw_asye", date(2026, 9, 7), 1),
    ("Ben Carter", "Social Worker (ASYE)", "nqsw_asye", date(2026, 3, 2), 1),
    ("Chloe Evans", "Senior Social Worker", "experienced", date(2019, 2, 18), 1),
    ("Dev Patel", "Social Worker", "experienced", date(2021, 10, 4), 1),
    ("Ewa Nowak", "Social Worker", "overseas_recruited", date(2026, 6, 1), 2),
    ("Femi Adeyemi", "Social Worker", "returner", date(2026, 7, 13), 2),
    ("Grace Lindqvist", "Social Worker", "experienced", date(2017, 5, 22), 2),
    ("Harry Doyle", "Agency Social Worker", "agency", date(2026, 4, 20), 2),
    ("Isla Murray", "Family Support Worker", "family_support", date(2020, 11, 9), 3),
    ("Jack Turner", "Family Support Worker", "family_support", date(2023, 3, 13), 3),
    ("Kemi Bello", "Volunteer Mentor", "volunteer", date(2025, 1, 20), 3),
    ("Liam Walsh", "Social Worker", "experienced", date(2016, 8, 30), 2),
]

TOPICS = ["Caseload and workload", "Wellbeing and resilience", "Learning and development", "Court preparation",
          "Reflective discussion", "Team pressures", "Annual leave and TOIL"]
CASES = ["A.B.", "C.D.", "E.F.", "G.H.", "CN-10234", "CN-10871", "LAC/2026/17", "J.K.", "M.N.", "CP-5521"]


def load_demo(app: SupervisionApplication, progress: Callable[[str], None] = lambda _: None) -> dict:
    """The demo data once; demo users every time they are missing; fresh demo tokens on every run."""
    outcome = _load_once(app, progress)
    if outcome["loaded"]:
        _load_additions(app, progress)
    tokens = demo_users(app)
    progress("demo users, with fresh tokens (shown once; older demo tokens revoked):")
    for username, role, token in tokens:
        progress(f"{username} ({role}): {token}")
    progress("try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/me")
    return {**outcome, "tokens": tokens}


def _load_once(app: SupervisionApplication, progress: Callable[[str], None]) -> dict:
    with app.storage.reads.connect() as conn:
        existing = conn.execute(select(func.count()).select_from(workers)).scalar_one()
    if existing:
        return {"loaded": False, "reason": f"the database already holds {existing} workers"}
    clock = DemoClock(datetime(2026, 4, 1, 8, tzinfo=timezone.utc))
    original_clock, app.clock = app.clock, clock
    try:
        return _load(app, clock, progress)
    finally:
        app.clock = original_clock


def _load_additions(app: SupervisionApplication, progress: Callable[[str], None]) -> None:
    """Sessions, agreements and cases for the managers' view; files at every point of the retention schedule."""
    from api.demo_retention import load_retention_demo
    from api.demo_scheduling import load_scheduling_demo

    scheduling = load_scheduling_demo(app)
    progress(f"supervision sessions, agreements and cases: {scheduling}")
    names = _worker_ids_by_name(app)
    retention = load_retention_demo(app, supervisor_id=names["Helen Marsh"], recent_leaver_id=names["Liam Walsh"])
    progress(f"retention: migrated leavers {retention.get('migrated_leavers')} (one past retention, one on hold); "
             "Liam Walsh archived")
    from api.demo_case_records import load_case_records_demo

    if load_case_records_demo(app, names)["loaded"]:
        progress("case supervision records: two for Chloe Evans (one decision to put on the child's record, one "
                 "past its retention)")
    _load_allocation(app, names)
    progress("allocation: Helen Marsh is Amira Hussain's ASYE assessor/mentor; Chloe Evans's supervisor is at her "
             "level (a departure awaiting the exception of Sunita Rao, the Service Manager)")


SERVICE_MANAGER = ("Sunita Rao", "Service Manager, Children's Services", "manager", date(2014, 3, 3))

# Levels in the line management structure (1: the front line). Chloe Evans, a senior practitioner, is at Daniel
# Okafor's level: bcp asks for a supervisor a level higher, so the allocation page has one departure to show.
LEVELS = {"Priya Shah": 4, "Daniel Okafor": 3, "Helen Marsh": 3, "Tom Reeves": 3, "Chloe Evans": 3}


def _load_allocation(app: SupervisionApplication, names: dict[str, str]) -> None:
    # After the last change to any of these files, and no earlier than today: each file's changes stay in order
    # even where the clock is a test's fixed one, before the demo's own timeline ends.
    involved = [names[n] for n in (*LEVELS, "Amira Hussain")]
    latest = max(app.people.get_worker(w).modified_on for w in involved)
    # A millisecond a step, not the timeline's 37 seconds: these changes end (near) now, so that a command on
    # these files straight after `svl demo` (e.g. the Service Manager's exception) is not dated before them.
    clock = DemoClock(max(app.clock(), latest), step=timedelta(milliseconds=1))
    original_clock, app.clock = app.clock, clock
    try:
        for name, level in LEVELS.items():
            app.allocation.record_standing(HR, names[name], level=level, registered=True)
        app.allocation.allocate_second_supervisor(HR, names["Amira Hussain"], names["Helen Marsh"])
        # The role bcp names to agree a departure from the allocation rules ("agreed by the Service Manager").
        name, role, category, start = SERVICE_MANAGER
        manager = str(app.people.join_worker(HR, name=name, role=role, category=category, start_date=start).id)
        app.allocation.allocate_supervisor(HR, manager, names["Priya Shah"])
    finally:
        app.clock = original_clock


# username, role, the demo worker they are (by name), and a grant: (category, scope kind, scope worker, purpose)
DEMO_USERS: list[tuple[str, str, str | None, tuple[str, str, str, str] | None]] = [
    ("hr", "administrator", None, None),
    ("priya", "manager", "Priya Shah", None),
    ("sunita", "manager", "Sunita Rao", None),
    ("daniel", "supervisor", "Daniel Okafor", None),
    ("helen", "supervisor", "Helen Marsh", None),
    ("amira", "supervisee", "Amira Hussain", None),
    ("grace", "supervisee", "Grace Lindqvist", None),
    ("ofsted", "inspector", None, ("inspection", "team", "Daniel Okafor", "Ofsted ILACS inspection: assessment team")),
    ("io", "investigating_officer", None,
     ("investigation", "worker_file", "Grace Lindqvist", "Grievance investigation ref GRV-2026-014")),
    ("qa", "qa", None, ("qa_audit", "team", "Helen Marsh", "Quarterly supervision audit, children in care team")),
    ("dpo", "dpo", None, ("sar", "worker_file", "Liam Walsh", "Subject access request SAR-2026-031")),
]
DEMO_TOKEN_LABEL = "demo"


def demo_users(app: SupervisionApplication) -> list[tuple[str, str, str]]:
    """Creates the demo users (and their grants) if missing; revokes earlier demo tokens and issues new ones."""
    by_name = _worker_ids_by_name(app)
    directory = app.people.users
    # A member of staff a demo loaded by an earlier version does not hold (e.g. the Service Manager) gets no account.
    cast = [u for u in DEMO_USERS if u[2] is None or u[2] in by_name]
    for username, role, worker_name, _ in cast:
        if directory.find(username) is None:
            directory.add_user(username, role, worker_id=by_name.get(worker_name or ""), created_by=HR.actor)
    administrator = directory.principal("hr", via="demo")
    for username, _, _, grant in cast:
        if grant and not app.access.list_grants(directory.require(username)["user_id"]) and grant[2] in by_name:
            category, scope_kind, scope_worker, purpose = grant
            app.access.grant_access(grantor=administrator, grantee=username, purpose=purpose, category=category,
                                    scope_kind=scope_kind, scope_id=by_name[scope_worker],
                                    expires_at=app.clock() + timedelta(days=90))
    directory.revoke_tokens_labelled(DEMO_TOKEN_LABEL)
    return [(u, r, directory.issue_token(u, days=7, label=DEMO_TOKEN_LABEL).token) for u, r, _, _ in cast]


def _worker_ids_by_name(app: SupervisionApplication) -> dict[str, str]:
    with app.storage.reads.connect() as conn:
        ids = conn.execute(select(workers.c.worker_id)).scalars().all()
    return {app.people.get_worker(wid).name: wid for wid in ids}


def _load(app: SupervisionApplication, clock: DemoClock, progress: Callable[[str], None]) -> dict:
    rng = random.Random(20261124)
    sup_ids = [str(app.people.join_worker(HR, name=n, role=r, category=c, start_date=s).id) for n, r, c,
               s in SUPERVISORS]
    for sid in sup_ids[1:]:
        app.allocation.allocate_supervisor(HR, sid, sup_ids[0])
    worker_ids = []
    for name, role, category, start, sup in WORKERS:
        wid = str(app.people.join_worker(HR, name=name, role=role, category=category, start_date=start).id)
        app.allocation.allocate_supervisor(HR, wid, sup_ids[sup])
        worker_ids.append(wid)
    progress(f"{len(sup_ids) + len(worker_ids)} staff joined")

    grace, liam = worker_ids[6], worker_ids[11]
    transfer_day, leaving_day = date(2026, 9, 1), date(2026, 9, 30)
    sessions = sorted(
        (date(2026, month, min(28, 3 + 2 * i)), wid, i)
        for month in range(6, 12) for i, wid in enumerate(worker_ids)
        if date(2026, month, 28) >= WORKERS[i][3] and not (month == 11 and i % 2)
        and not (wid == liam and date(2026, month, 1) > leaving_day)
    )
    steps: list[Iterator[datetime]] = [
        _transfer(app, grace, sup_ids[1], transfer_day),
        _leaving(app, liam, leaving_day),
    ]
    for n, (day, wid, i) in enumerate(sessions):
        supervisor = sup_ids[1] if wid == grace and day >= transfer_day else sup_ids[WORKERS[i][4]]
        steps.append(_session(app, rng, day, wid, supervisor, _stage(n, len(sessions))))
    run_in_time_order(clock, steps)
    progress(f"{len(sessions)} supervision records written")
    return {"loaded": True, "workers": len(worker_ids), "supervisors": len(sup_ids), "records": len(sessions)}


def _moment(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def _transfer(app: SupervisionApplication, worker: str, new_supervisor: str, day: date) -> Iterator[datetime]:
    yield _moment(day, 8)  # Grace moves from Helen Marsh to Daniel Okafor: her records move with her.
    app.allocation.transfer_worker(HR, worker, new_supervisor, "caseload rebalancing between teams")


def _leaving(app: SupervisionApplication, worker: str, day: date) -> Iterator[datetime]:
    yield _moment(day + timedelta(days=1), 8)
    app.people.record_leaving(HR, worker, day)


def _session(app: SupervisionApplication, rng: random.Random, day: date, wid: str, sid: str,
             stage: str) -> Iterator[datetime]:
    yield _moment(day, 15)
    content = {
        "session_date": day.isoformat(),
        "attendees": [app.people.get_worker(sid).name, app.people.get_worker(wid).name],
        "agenda": rng.sample(TOPICS, 3),
        "discussion": rng.choice([
            "Reviewed caseload of 14; two cases ready to step down. Worker reports feeling settled.",
            "Reflective discussion on a difficult home visit; agreed debrief with the team.",
            "Worker raised workload concerns; agreed to pause new allocations for two weeks.",
            "Discussed court timetable and statement drafting; shadowing arranged.",
            "Wellbeing check-in after a period of sickness; phased return agreed.",
        ]),
        "actions": [{"description": "Update chronology", "owner": "Worker",
                     "due": (day + timedelta(days=7)).isoformat()}],
        "case_discussions": [{"case_reference": c, "summary": "Plan reviewed", "decision": "Continue current plan"}
                             for c in rng.sample(CASES, 2)],
    }
    rid = str(app.records.draft_record(cast.supervisor(sid), supervisee_id=wid, content=content).id)
    if stage == "draft":
        return
    yield _moment(day + timedelta(days=1), 10)
    app.records.share_record(cast.supervisor(sid), rid)
    if stage == "shared":
        return
    if stage in ("dispute", "amendment_requested", "amended"):
        yield _moment(day + timedelta(days=1), 14)
        app.records.request_amendment(cast.supervisee(wid), rid,
                                      "Please record that I asked for extra time for court work.",
                                      based_on_version=1)
        if stage == "amendment_requested":
            return
        yield _moment(day + timedelta(days=2), 11)
        if stage == "dispute":
            app.records.decline_amendment(cast.supervisor(sid), rid,
                                          "Extra time was not requested in the session; noted as a disagreement.")
        else:
            app.records.amend_record(cast.supervisor(sid), rid, {**content, "discussion": content["discussion"]
                                   + " Worker asked for extra time for court work; agreed."},
                                     based_on_version=1)
    yield _moment(day + timedelta(days=3), 9)
    digest = app.records.get_record(rid).content_sha256
    app.records.sign_record(cast.supervisee(wid), rid, digest)
    if stage == "signed_by_supervisee":
        return
    yield _moment(day + timedelta(days=3), 16)
    app.records.sign_record(cast.supervisor(sid), rid, digest)
    if stage == "addendum":
        yield _moment(day + timedelta(days=10), 9)
        app.records.add_addendum(cast.supervisor(sid), rid, "The court date discussed was 14th, not 4th.",
                                 "date recorded wrongly")


def _stage(n: int, total: int) -> str:
    """Older sessions are settled; the newest ones are still in progress, so every state shows."""
    remaining = total - n
    recent = {1: "draft", 2: "shared", 3: "amendment_requested", 4: "signed_by_supervisee", 5: "draft",
              6: "shared", 7: "signed_by_supervisee"}
    if remaining in recent:
        return recent[remaining]
    return {0: "dispute", 1: "amended", 2: "addendum"}.get(n % 11, "locked")
