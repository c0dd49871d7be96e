"""Read models on SQLite and PostgreSQL: every table rebuilt from zero equals what was projected live, after the
whole BCP demo, holds, a transfer and a lawful destruction; and one failing event stops one read model, loudly."""

import threading
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, text

from api.access_service import AccessDenied, Via
from api.demo import load_demo
from domain.authorisation import Role
from domain.errors import DomainError
from domain.labels import ACTOR_LENGTH, USERNAME_LENGTH
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.users import Principal, UserError
from projections.retention_schedule import legal_holds
from projections.runner import NAMES, ReadModelStuck
from projections.schema import current_records, read_model_positions, read_models, supervision_periods, workers
from projections.supervision_compliance import compliance_record_dates
from tests.support.acting import acting
from tests.support.retention import destroy_due, leaver_with_a_signed_record
from tests.support.world import content, world  # noqa: F401  (the shared fixture)
from tests.support.cli import run  # noqa: F401  (svl against the fixture's database)

TABLES = [t for t in read_models.sorted_tables if t is not read_model_positions]


def snapshot(app) -> dict[str, list[tuple]]:
    with app.storage.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in TABLES}


def count(app, table, *where) -> int:
    with app.storage.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def names(app) -> dict[str, str]:
    with app.storage.engine.connect() as conn:
        ids = conn.execute(select(workers.c.worker_id)).scalars().all()
    return {name: wid for wid, name in app.people.worker_names(ids).items()}


def test_every_read_model_rebuilds_from_zero_to_the_same_rows_after_the_demo_holds_a_transfer_and_a_destruction(
        application, settings, clock):
    app = application
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    assert load_demo(app)["loaded"] is True  # the `svl demo` path: records, scheduling and retention demos
    clock.set(datetime(2026, 11, 25, 9, tzinfo=timezone.utc))
    people = names(app)
    chloe, dev, helen = people["Chloe Evans"], people["Dev Patel"], people["Helen Marsh"]
    io, dpo, hr = (app.people.users.principal(u, via="test") for u in ("io", "dpo", "hr"))
    kept = app.retention.place_hold(io, chloe, kind="investigation", reason="Complaint under review",
                                    reference="INV-7").id
    released = app.retention.place_hold(dpo, dev, kind="litigation", reason="Claim expected", reference="LIT-2").id
    app.retention.release_hold(dpo, released, reason="Claim withdrawn")
    app.allocation.transfer_worker(hr, dev, helen, "Team restructure")
    nora = people["Nora Quinn"]  # migrated leaver, past BCP's six years
    assert count(app, workers, workers.c.worker_id == nora) == 1
    assert count(app, current_records, current_records.c.supervisee_id == nora) == 3
    assert count(app, compliance_record_dates, compliance_record_dates.c.worker_id == nora) == 3
    amira = app.people.users.principal("amira", via="test")
    with app.storage.engine.connect() as conn:
        own = conn.execute(select(current_records.c.record_id)
                           .where(current_records.c.supervisee_id == amira.worker_id)).scalars().first()
        noras = conn.execute(select(current_records.c.record_id)
                             .where(current_records.c.supervisee_id == nora)).scalars().first()
    app.access.read_record_content(amira, own, action="read", via=Via("cli", "test"))
    with pytest.raises(AccessDenied):  # refused, and logged: the log entry outlives the file
        app.access.read_record_content(app.people.users.principal("io", via="test"), noras, action="read",
                                       via=Via("cli", "test"))
    [done] = destroy_due(app, date(2026, 11, 25))
    assert done.worker_id == nora

    before = snapshot(app)
    # The destroyed leaver is gone from every table that held their file; the retention schedule keeps the
    # destruction itself, and the access log keeps who read what (organisation-sealed, content-free).
    for table in TABLES:
        if "worker_id" in table.c and table.name not in ("retention_files", "legal_holds", "access_log"):
            assert count(app, table, table.c.worker_id == nora) == 0, table.name
    assert count(app, current_records, current_records.c.supervisee_id == nora) == 0
    assert count(app, supervision_periods, supervision_periods.c.worker_id == nora) == 0
    assert count(app, legal_holds, legal_holds.c.hold_id == str(kept)) == 1
    assert {t: len(rows) for t, rows in before.items() if rows}.keys() >= {
        "workers", "supervision_periods", "current_records", "access_log", "access_grants", "retention_files",
        "legal_holds", "compliance_sessions", "compliance_record_dates", "compliance_agreements",
        "compliance_agreement_reviews", "compliance_cases", "compliance_case_ratings", "compliance_case_discussions"}

    processed = app.read_models.rebuild()
    with app.storage.engine.connect() as conn:
        events = conn.execute(text(f"SELECT count(*) FROM {app.recorder.events_table_name}")).scalar_one()
    assert processed == events
    after = snapshot(app)
    for table in TABLES:
        assert after[table.name] == before[table.name], table.name
    assert app.read_models.catch_up() == 0  # idempotent: nothing left to do
    assert {s.name: s.position for s in app.read_models.states()} == {name: app.recorder.max_notification_id()
                                                                      for name in NAMES}


def test_rebuilding_one_read_model_leaves_the_others_untouched(application, clock):
    app = application
    manager = app.people.join_worker(acting("hr"), name="Morgan Manager", role="Service manager", category="manager",
                                     start_date=date(2015, 1, 5)).id
    worker = app.people.join_worker(acting("hr"), name="Sam Worker", role="Social worker", category="experienced",
                                    start_date=date(2020, 1, 6)).id
    app.allocation.allocate_supervisor(acting("hr"), worker, manager)
    before = snapshot(app)
    with pytest.raises(ValueError, match="no read model nonsense"):
        app.read_models.rebuild(["nonsense"])
    assert app.read_models.rebuild(["worker_files"]) == app.recorder.max_notification_id()
    assert snapshot(app) == before


def test_files_destroyed_together_leave_the_rows_their_destructions_projected_one_at_a_time_leave(
        application, settings):
    """A run's destructions are projected together (a statement per table for all its files): exactly what each
    read model's one-event handler, applied to them one by one, leaves."""
    app = application
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    people = [leaver_with_a_signed_record(app) for _ in range(3)]
    for _, leaver, _ in people:
        app.retention.archive_leaver(acting("hr"), leaver)
    done = destroy_due(app, date(2026, 3, 1))
    assert sorted(d.worker_id for d in done) == sorted(leaver for _, leaver, _ in people)

    together = snapshot(app)
    for _, leaver, stayer in people:
        for table in TABLES:
            if "worker_id" in table.c and table.name not in ("retention_files", "legal_holds", "access_log"):
                assert count(app, table, table.c.worker_id == leaver) == 0, table.name
        assert count(app, current_records, current_records.c.supervisee_id == leaver) == 0
        assert count(app, current_records, current_records.c.supervisee_id == stayer) == 1
        assert count(app, compliance_record_dates, compliance_record_dates.c.worker_id == stayer) == 1
        assert count(app, supervision_periods, supervision_periods.c.worker_id == stayer) == 1
    assert {f.worker_id: f.state for f in app.retention.retention_schedule(date(2026, 3, 1))
            if f.worker_id in {d.worker_id for d in done}} == {d.worker_id: "destroyed" for d in done}

    runner = app.read_models
    batched = runner.batch_handlers
    runner.batch_handlers = {name: {} for name in batched}  # every event through its one-event handler
    try:
        runner.rebuild()
        assert snapshot(app) == together
    finally:
        runner.batch_handlers = batched
    runner.rebuild()
    assert snapshot(app) == together


# -- one failing event stops one read model, loudly --------------------------------------------------------------


def test_an_event_that_fails_in_one_read_model_stops_only_that_one_and_health_names_it(world, run):  # noqa: F811
    app, xavier = world.app, world.workers["X"]
    # Underneath the application, the hold read model's table loses the column its insert writes.
    with app.storage.engine.begin() as conn:
        conn.execute(text("ALTER TABLE legal_holds RENAME COLUMN placed_by TO placed_by_gone"))
    before = app.recorder.max_notification_id()
    hold = app.retention.place_hold(world.principal("ivo"), xavier, kind="investigation", reason="Grievance GRV-17",
                                    reference="GRV-17").id  # stored: the event is in the log whatever a read model does
    [stuck] = app.read_models.stuck()
    assert stuck.name == "retention_schedule" and stuck.stuck_event == "LegalHold.LegalHoldPlaced"
    # The hold's event, then its note on the worker's file (Worker.HoldNoted), are the last two stored.
    hold_at = before + 1
    assert app.recorder.max_notification_id() == before + 2
    assert stuck.stuck_at == hold_at and stuck.position == before
    assert "placed_by" in stuck.stuck_error and "Grievance" not in stuck.stuck_error
    assert "GRV-17" not in stuck.stuck_error and "user:ivo" not in stuck.stuck_error  # no content, no values

    # The others keep up with later events.
    newcomer = app.people.join_worker(world.principal("hana"), name="Nell New", role="Social worker",
                                      category="experienced", start_date=date(2026, 3, 2)).id
    app.allocation.allocate_supervisor(world.principal("hana"), newcomer, world.workers["S1"])
    record = app.records.draft_record(world.principal("alex"), supervisee_id=str(newcomer), content=content()).id
    assert count(app, workers, workers.c.worker_id == str(newcomer)) == 1
    assert count(app, current_records, current_records.c.record_id == str(record)) == 1
    last = app.recorder.max_notification_id()
    positions = {s.name: s.position for s in app.read_models.states()}
    assert positions == {**{n: last for n in NAMES}, "retention_schedule": hold_at - 1}

    health = world.client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    named = {m["name"]: m for m in health.json()["read_models"]}
    assert named["retention_schedule"]["stuck_at"] == hold_at
    assert named["retention_schedule"]["stuck_event"] == "LegalHold.LegalHoldPlaced"
    assert "placed_by" in named["retention_schedule"]["stuck_error"]
    assert named["current_records"]["stuck_at"] is None and named["current_records"]["position"] == last

    # What needs the stuck read model says why (503); what does not keeps working.
    schedule = world.get("dana", "/retention/schedule")
    assert schedule.status_code == 503, schedule.text
    assert schedule.json()["read_model"] == "retention_schedule"
    assert "stuck at notification" in schedule.json()["detail"] and "svl rebuild retention_schedule" in \
        schedule.json()["detail"]
    with pytest.raises(ReadModelStuck):
        app.retention.holds(xavier)
    assert world.get("sam", "/records").status_code == 200
    assert world.get("sam", "/me").status_code == 200
    assert world.get("hana", "/grants").status_code == 200
    assert world.get("dana", "/access-log").status_code == 200

    checked = run("rebuild", "--check", code=1)
    assert f"STUCK at notification {hold_at} (LegalHold.LegalHoldPlaced)" in checked
    assert "svl rebuild retention_schedule" in checked and "Grievance" not in checked

    # Fixed underneath, the stuck read model is rebuilt alone (by another process) and serves again.
    with app.storage.engine.begin() as conn:
        conn.execute(text("ALTER TABLE legal_holds RENAME COLUMN placed_by_gone TO placed_by"))
    assert "rebuilt retention_schedule" in run("rebuild", "retention_schedule")
    assert "STUCK" not in run("rebuild", "--check")
    assert [h["hold_id"] for h in app.retention.holds(xavier)] == [str(hold)]  # this process learns it at its next read
    assert world.get("dana", "/retention/schedule").status_code == 200
    assert world.client.get("/health").json()["status"] == "ok"
    assert app.read_models.stuck() == []


def test_a_user_with_the_longest_username_places_a_hold_and_every_read_model_keeps_up(world, settings):  # noqa: F811
    app, xavier = world.app, world.workers["X"]
    longest = "investigating.officer." + "x" * (USERNAME_LENGTH - len("investigating.officer."))
    assert len(longest) == USERNAME_LENGTH and len(f"user:{longest}") > 64  # overflowed VARCHAR(64) before
    with pytest.raises(UserError, match=f"1 to {USERNAME_LENGTH} characters"):
        app.people.users.add_user(longest + "y", "investigating_officer", created_by="test")  # bounded at creation
    app.people.users.add_user(longest, "investigating_officer", created_by="test")
    token = app.people.users.issue_token(longest, days=30).token
    placed = world.client.post(f"/api/v1/workers/{xavier}/holds", headers={"Authorization": f"Bearer {token}"},
                               json={"kind": "investigation", "reason": "Allegation AL-9", "reference": "AL-9"})
    assert placed.status_code in (200, 201, 503), placed.text  # the answer itself is another engineer's item
    assert app.read_models.stuck() == []
    [hold] = app.retention.holds(xavier)
    assert hold["placed_by"] == f"user:{longest}"
    for username, path in (("dana", "/access-log"), ("hana", "/grants"), ("sam", "/me"),
                           ("dana", "/retention/schedule")):
        assert world.get(username, path).status_code == 200, path
    # The domain refuses what no read model could hold, before anything is stored.
    events = app.recorder.max_notification_id()
    with pytest.raises(DomainError, match=f"actor must be at most {ACTOR_LENGTH} characters"):
        app.retention.place_hold(Principal("too-long", "z" * ACTOR_LENGTH, Role.INVESTIGATING_OFFICER, None, "test"),
                                 xavier,
                                 kind="investigation", reason="r", reference="x")
    assert app.recorder.max_notification_id() == events


def test_the_servers_projector_projects_what_commands_stored_as_they_stored_it_to_the_rows_a_rebuild_gives(
        settings, master_key, clock):
    """Background mode: a command hands what it stored to the projector thread, which projects it without reading
    it back and decrypting it; the rows are those a rebuild from the log gives."""
    from api import demo_cast as cast
    from api.application import Storage, SupervisionApplication

    storage = Storage.open(settings, master_key=master_key)
    app = SupervisionApplication(storage, clock, background_projections=True)
    try:
        assert load_demo(app)["loaded"] is True
        supervisor = str(app.people.join_worker(cast.HR, name="S", role="Team manager", category="manager",
                                                start_date=date(2020, 1, 1)).id)
        worker = str(app.people.join_worker(cast.HR, name="W", role="Social worker", category="experienced",
                                            start_date=date(2021, 1, 1)).id)
        app.allocation.allocate_supervisor(cast.HR, worker, supervisor)
        projected_up_to(app, app.recorder.max_notification_id())
        decoded_by_projector = []
        decode = app.read_models.decode

        def counted(notification):
            if threading.current_thread().name == "svl-projector":
                decoded_by_projector.append(notification.id)
            return decode(notification)

        app.read_models.decode = counted
        first = app.recorder.max_notification_id() + 1
        for _ in range(10):
            rid = app.records.draft_record(cast.supervisor(supervisor), supervisee_id=worker, content=content()).id
            digest = app.records.share_record(cast.supervisor(supervisor), rid).content_sha256
            app.records.sign_record(cast.supervisee(worker), rid, digest)
            app.records.sign_record(cast.supervisor(supervisor), rid, digest)
        newest = app.recorder.max_notification_id()
        projected_up_to(app, newest)
        # Read back only where a command's commit raced the projector's look at the log (before its poke).
        assert len(decoded_by_projector) < (newest - first + 1) / 2
        with app.storage.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(current_records)
                                .where(current_records.c.supervisee_id == worker,
                                       current_records.c.state == "locked")).scalar_one() == 10
        live = snapshot(app)
        app.read_models.decode = decode
        app.read_models.rebuild()
        assert snapshot(app) == live
    finally:
        app.close()
        storage.engine.dispose()


def projected_up_to(app, target: int) -> None:
    """Waits for the projector thread to reach `target` (its condition, polled: nothing else to wait on)."""
    pause = threading.Event()
    while app.read_models.position() < target:
        pause.wait(0.01)
