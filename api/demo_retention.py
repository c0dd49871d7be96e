"""Demo additions for data protection officers: files at every point of the retention schedule.

Paper records of two staff who left years ago were migrated in (so their events are recorded now,
while their sessions and leaving dates are in the past): one is past BCP's six years and due for
destruction; the other is past it too but on legal hold. The demo's recent leaver is archived.
"""

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from api import demo_cast as cast
from api.application import SupervisionApplication
from projections.retention_schedule import legal_holds, retention_files

HR = cast.HR
MIGRATED = [  # name, role, start, leaving date, session dates, hold
    ("Nora Quinn", "Social Worker", date(2011, 9, 5), date(2019, 6, 28),
     ["2019-03-04", "2019-04-08", "2019-05-13"], None),
    ("Oscar Price", "Senior Social Worker", date(2009, 2, 2), date(2018, 11, 30),
     ["2018-09-10", "2018-10-15"], ("investigation", "Employment tribunal claim ET/2026/0412 names this period",
                                    "ET-2026-0412")),
]


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=41)
        return self.now


def load_retention_demo(app: SupervisionApplication, supervisor_id: str,
                        recent_leaver_id: str | None = None) -> dict[str, Any]:
    """Idempotent: does nothing if the demo's legal hold already exists."""
    with app.storage.reads.connect() as conn:
        if conn.execute(select(func.count()).select_from(legal_holds)).scalar_one():
            return {"loaded": False}
        latest = conn.execute(select(func.max(retention_files.c.archived_at))).scalar()
    clock = _Clock(max(datetime(2026, 11, 23, 17, tzinfo=timezone.utc), _aware(latest)))
    original, app.clock = app.clock, clock
    try:
        loaded = [_migrate_leaver(app, supervisor_id, *spec) for spec in MIGRATED]
        if recent_leaver_id is not None and app.people.get_worker(recent_leaver_id).state == "left":
            app.retention.archive_leaver(HR, recent_leaver_id)
    finally:
        app.clock = original
    return {"loaded": True, "migrated_leavers": loaded}


def _migrate_leaver(app: SupervisionApplication, supervisor_id: str, name: str, role: str, start: date, left: date,
                    sessions: list[str], hold: tuple[str, str, str] | None) -> str:
    worker = str(app.people.join_worker(HR, name=name, role=role, category="experienced", start_date=start).id)
    app.allocation.allocate_supervisor(HR, worker, supervisor_id)
    supervisor_name = app.people.get_worker(supervisor_id).name
    for day in sessions:
        rid = app.records.draft_record(cast.supervisor(supervisor_id), supervisee_id=worker, content={
            "session_date": day, "attendees": [supervisor_name, name], "agenda": ["Caseload", "Wellbeing"],
            "discussion": "Migrated from the paper supervision file: caseload and wellbeing reviewed.",
            "case_discussions": [{"case_reference": "CN-20817", "summary": "Plan reviewed"}],
        }).id
        app.records.share_record(cast.supervisor(supervisor_id), rid)
        digest = app.records.get_record(rid).content_sha256
        app.records.sign_record(cast.supervisee(worker), rid, digest)
        app.records.sign_record(cast.supervisor(supervisor_id), rid, digest)
    app.people.record_leaving(HR, worker, left)
    app.retention.archive_leaver(HR, worker)
    if hold is not None:
        kind, reason, reference = hold
        app.retention.place_hold(cast.DPO, worker, kind=kind, reason=reason, reference=reference)
    return worker


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
