"""The application's story on real storage (SQLite file and PostgreSQL): workers join, records are
drafted, disputed, signed and locked, a worker is transferred; all of it sealed and projected."""

import threading
from datetime import date

import pytest
from sqlalchemy import select, text

from api.application import SupervisionApplication
from api.core import copy_of
from api.errors import Conflict, NotFound
from domain.errors import DomainError, NotPermitted
from projections.schema import current_records, supervision_periods, workers
from tests.support.acting import acting
from tests.support.staff import SECRET, content, staff


def row(app: SupervisionApplication, record_id) -> dict:
    with app.storage.engine.connect() as conn:
        return dict(conn.execute(select(current_records).where(
            current_records.c.record_id == str(record_id))).one()._mapping)


def test_a_record_is_drafted_disputed_signed_and_locked(application):
    app = application
    _, supervisor, worker = staff(app)
    record_id = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.records.share_record(acting(supervisor), record_id)
    app.records.request_amendment(acting(worker), record_id, "Please remove the household name", based_on_version=1)
    assert row(app, record_id)["state"] == "amendment_requested"
    app.records.decline_amendment(acting(supervisor), record_id, "Case referenced by initials only; name is a street")
    record = app.records.get_record(record_id)
    app.records.sign_record(acting(worker), record_id, record.content_sha256)
    app.records.sign_record(acting(supervisor), record_id, record.content_sha256)

    projected = row(app, record_id)
    assert projected["state"] == "locked"
    assert projected["disagreements"] == 1
    assert projected["content_sha256"] == record.content_sha256
    assert projected["supervisee_signed_at"] is not None and projected["supervisor_signed_at"] is not None
    assert app.records.get_record(record_id).is_locked
    with pytest.raises(DomainError, match="locked"):
        app.records.amend_record(acting(supervisor), record_id, content("rewritten"), based_on_version=1)


def test_only_the_current_supervisor_drafts(application):
    app = application
    manager, _, worker = staff(app)
    with pytest.raises(DomainError, match="current supervisor"):
        app.records.draft_record(acting(manager), supervisee_id=worker, content=content())


def test_transfer_moves_records_to_previous_supervision_and_names_the_old_supervisor(application):
    app = application
    manager, supervisor, worker = staff(app)
    new_supervisor = str(app.people.join_worker(acting("hr"), name="Jo New", role="Team manager", category="manager",
                                                start_date=date(2017, 5, 1)).id)
    app.allocation.allocate_supervisor(acting("hr"), new_supervisor, manager)
    first = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.allocation.transfer_worker(acting("hr"), worker, new_supervisor, "team restructure")

    assert app.people.get_worker(worker).previous_supervisors[0]["supervisor_id"] == supervisor
    assert row(app, first)["file_section"] == "previous"
    with pytest.raises(DomainError, match="current supervisor"):
        app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    second = app.records.draft_record(acting(new_supervisor), supervisee_id=worker,
                                      content=content(session_date="2026-04-01")).id
    assert row(app, second)["file_section"] == "current"
    with app.storage.engine.connect() as conn:
        periods = conn.execute(select(supervision_periods.c.supervisor_id, supervision_periods.c.ended_by)
                               .where(supervision_periods.c.worker_id == worker)
                               .order_by(supervision_periods.c.started_version)).all()
    assert [tuple(p) for p in periods] == [(supervisor, "transfer"), (new_supervisor, None)]


def test_stale_expected_version_is_a_conflict_and_writes_nothing(application):
    app = application
    _, supervisor, worker = staff(app)
    record_id = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.records.share_record(acting(supervisor), record_id, expected_version=1)
    with pytest.raises(Conflict) as caught:
        app.records.request_amendment(acting(worker), record_id, "x", based_on_version=1, expected_version=1)
    assert caught.value.current_version == 2
    assert app.records.get_record(record_id).version == 2


def test_two_concurrent_writers_one_wins_the_other_gets_a_conflict(application, settings, master_key, clock):
    from api.application import Storage

    app = application
    _, supervisor, worker = staff(app)
    record_id = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.records.share_record(acting(supervisor), record_id)
    other = SupervisionApplication(Storage.open(settings, master_key=master_key), clock)
    try:
        # Both load version 2, then both try to write version 3.
        mine, theirs = app.records.get_record(record_id), other.records.get_record(record_id)
        mine.request_amendment("first", based_on_version=1, actor=worker, timestamp=clock())
        theirs.request_amendment("second", based_on_version=1, actor=worker, timestamp=clock())
        results: list[str] = []

        def save(application, aggregate):
            try:
                application.save_and_project(aggregate)
                results.append("saved")
            except Conflict:
                results.append("conflict")

        threads = [threading.Thread(target=save, args=pair) for pair in ((app, mine), (other, theirs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["conflict", "saved"]
        events = app.records.record_events(record_id)
        assert [type(e).__name__ for e in events] == ["Drafted", "SharedWithSupervisee", "AmendmentRequested"]
        with app.storage.engine.connect() as conn:
            leaves = conn.execute(text("SELECT COUNT(*) FROM ledger_leaves")).scalar()
        assert leaves == app.recorder.max_notification_id() or leaves == _count_events(app)
    finally:
        other.close()
        other.storage.engine.dispose()


def _count_events(app: SupervisionApplication) -> int:
    with app.storage.engine.connect() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {app.recorder.events_table_name}")).scalar()


def test_a_commands_copy_out_of_the_cache_is_its_own_and_whole(application):
    """What a failed command did to its copy never reaches the cached aggregate (or the next command): the copy
    equals the cached one, shares none of its containers, keeps the state's own shared parts shared, and
    deep-copies what is not JSON-shaped."""
    app = application
    _, supervisor, worker = staff(app)
    record = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content())
    app.records.share_record(acting(supervisor), record.id)
    cached = app.repository.cache.get(record.id)
    cached.notes = {"shared": (shared := ["a", {"b": 1}]), "again": shared, "kept": {frozenset({"x"}): {1, 2}}}
    try:
        copied = app.repository.get(record.id)
        assert type(copied) is type(cached) and vars(copied) == vars(cached)
        assert copied.content is not cached.content and copied.signatures is not cached.signatures
        assert copied.notes["shared"] is copied.notes["again"] and copied.notes["shared"] is not shared
        assert copied.notes["shared"][1] is not shared[1]
        (kept,) = copied.notes["kept"].values()
        assert kept == {1, 2} and kept is not next(iter(cached.notes["kept"].values()))
        copied.content["discussion"] = "changed by a command that then failed"
        copied.signatures.append({"role": "nobody"})
        assert app.repository.get(record.id).content == cached.content and not cached.signatures
        assert vars(copy_of(cached)) == vars(cached)
    finally:
        del cached.notes


def test_unknown_ids_are_not_found(application):
    import uuid

    with pytest.raises(NotFound):
        application.records.get_record(uuid.uuid4())
    with pytest.raises(NotFound):
        application.records.share_record(acting("x"), uuid.uuid4())


def test_wrong_person_refused_through_the_application(application):
    app = application
    manager, supervisor, worker = staff(app)
    record_id = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    with pytest.raises(NotPermitted):
        app.records.share_record(acting(manager), record_id)


def test_projections_rebuild_from_zero_to_the_same_rows(application):
    app = application
    _, supervisor, worker = staff(app)
    for day in range(1, 4):
        rid = app.records.draft_record(acting(supervisor), supervisee_id=worker,
                                       content=content(session_date=f"2026-03-0{day}")).id
        app.records.share_record(acting(supervisor), rid)

    def snapshot():
        with app.storage.engine.connect() as conn:
            return (sorted(map(tuple, conn.execute(select(current_records)).all())),
                    sorted(map(tuple, conn.execute(select(workers)).all())))

    before = snapshot()
    processed = app.read_models.rebuild()
    assert processed == _count_events(app)
    assert snapshot() == before
    assert app.read_models.catch_up() == 0  # idempotent: nothing left to do


def test_no_plaintext_of_a_record_or_a_name_is_stored(application, settings):
    app = application
    _, supervisor, worker = staff(app)
    record_id = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.records.share_record(acting(supervisor), record_id)
    assert app.records.get_record(record_id).content["discussion"] == SECRET  # readable through the application
    stored = _everything_stored(app, settings)
    for needle in (b"Zarquon", b"bereavement", b"Sam Worker", b"Alex Supervisor", b"Book visit", b"Drafted",
                   b"SupervisionRecord"):
        assert needle not in stored, needle


def _everything_stored(app: SupervisionApplication, settings) -> bytes:
    """The raw bytes the database holds: the SQLite files themselves, or every row of every table."""
    app.close()
    if settings.is_sqlite:
        path = settings.sqlite_path
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    chunks = []
    with app.storage.engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
        for table in list(tables):
            for r in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in r)
    return b"\n".join(chunks)
