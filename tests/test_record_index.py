"""`svl records` lists without opening the application (api/record_index.py): the same rows and names as the
application's `readable_records` for every user it answers, and no answer (the application's turn) for every
case it cannot answer as the application would. Both backends, the world of tests/support/world.py."""

import base64
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from api.record_history import NameBook
from api.record_index import WORKER_JOINED_TOPIC, record_index
from domain.workers import Worker
from eventsourcing.utils import get_topic
from infrastructure.key_tombstones import KeyTombstones, Tombstone
from tests.support.acting import acting
from tests.support.world import USERS, World, world, write_master_key  # noqa: F401 (the shared fixture)


def _index(w: World, username: str, settings=None):  # noqa: ANN001, ANN202
    w.app.read_models.refresh()
    return record_index(settings or w.app.storage.settings, username, w.clock.now)


def _sql(settings, statement: str) -> None:  # noqa: ANN001
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            conn.execute(statement)
        return
    from tests.conftest import POSTGRES_URL

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{settings.database_schema}"')
        conn.execute(statement)


def test_every_user_it_answers_gets_the_applications_rows_and_names(world: World, settings, master_key) -> None:
    write_master_key(settings, master_key)
    answered = set()
    for username in USERS:
        index = _index(world, username)
        if index is None:
            continue
        answered.add(username)
        expected = world.app.access.readable_records(world.principal(username))
        assert index.rows == expected, username
        names = NameBook(world.app)
        for row in expected:
            for worker in (row["supervisee_id"], row["supervisor_id"]):
                assert index.name(worker) == names.name(worker), (username, worker)
    assert answered == set(USERS)  # grant holders (Ines, Ivo) too
    assert [r["record_id"] for r in _index(world, "alex").rows] == [world.records["W"]]
    assert {r["record_id"] for r in _index(world, "morgan").rows} == set(world.records.values())
    assert _index(world, "hana").rows == [] and _index(world, "quinn").rows == []


def test_it_leaves_to_the_application_what_it_cannot_answer_as_the_application_would(
        world: World, settings, master_key, tmp_path: Path) -> None:
    write_master_key(settings, master_key)
    assert _index(world, "alex") is not None
    assert _index(world, "nobody") is None and _index(world, "") is None
    world.app.people.users.disable("sam")
    assert _index(world, "sam") is None  # the application says the account is disabled
    # A published checkpoint this database never signed: the application compares it with the ledger.
    published = tmp_path / "published"
    published.mkdir()
    (published / "checkpoint").write_text(f"origin\n1\n{base64.b64encode(bytes(32)).decode()}\n\n— sig\n")
    assert _index(world, "alex", replace(settings, checkpoint_dir=published)) is None
    # A stuck read model: the application names it.
    _sql(settings, "UPDATE read_model_positions SET stuck_at = 1 WHERE name = 'access_log'")
    assert record_index(settings, "alex", world.clock.now) is None
    _sql(settings, "UPDATE read_model_positions SET stuck_at = NULL")
    assert _index(world, "alex") is not None
    # A read model behind the newest event: on PostgreSQL the application catches up first (here it is the
    # application's turn); on SQLite it reads what is projected, as the index does.
    expected = world.app.access.readable_records(world.principal("alex"))
    _sql(settings, "UPDATE read_model_positions SET position = position - 1 WHERE name = 'access_log'")
    behind = record_index(settings, "alex", world.clock.now)
    if settings.is_sqlite:
        assert behind is not None and behind.rows == expected
    else:
        assert behind is None
    _sql(settings, "UPDATE read_model_positions SET position = position + 1 WHERE name = 'access_log'")
    # Another master key: the application names it wrong.
    settings.master_key_file.write_text(base64.b64encode(bytes(32)).decode() + "\n")
    assert record_index(settings, "alex", world.clock.now) is None
    write_master_key(settings, master_key)
    # A key of a listed worker named in the destroyed-key list while the database still holds it (a restored
    # backup): the application destroys it again before anything is served.
    sam_key = world.app.storage.keyring.key_id_for(world.workers["W"])
    KeyTombstones(settings.tombstones_file, master_key).add([Tombstone(sam_key, "2026-03-01T00:00:00+00:00", "test")])
    assert record_index(settings, "alex", world.clock.now) is None
    assert record_index(settings, "jo", world.clock.now) is not None  # Jo's list names neither Sam nor Alex


def test_the_worker_topic_is_the_worker_aggregates() -> None:
    assert WORKER_JOINED_TOPIC == get_topic(Worker.Joined)


def test_the_schema_it_expects_is_the_migrations_head() -> None:
    from api.record_index import _head_migration
    from infrastructure import migrations

    assert _head_migration() == migrations.HEAD


def _same_as_the_application(w: World, username: str) -> list[str]:
    """The index answers `username`, with the application's rows and names; the record ids listed."""
    index = _index(w, username)
    assert index is not None, username
    expected = w.app.access.readable_records(w.principal(username))
    assert index.rows == expected, username
    names = NameBook(w.app)
    assert all(index.name(r[c]) == names.name(r[c]) for r in expected for c in ("supervisee_id", "supervisor_id"))
    return [r["record_id"] for r in index.rows]


def _grant(w: World, grantee: str, category: str, kind: str, scope: str, expires_at) -> str:  # noqa: ANN001
    return str(w.app.access.grant_access(grantor=w.principal("hana"), grantee=grantee, purpose=f"{category} test",
                                         category=category, scope_kind=kind, scope_id=scope, expires_at=expires_at).id)


def test_grant_holders_get_the_applications_listing_under_every_shape_of_grant(
        world: World, settings, master_key) -> None:
    write_master_key(settings, master_key)
    w, r, now = world, world.records, world.clock.now
    # The world's grants: a team (Alex's: Sam's record) and a worker's file (Xavier's).
    logged = len(w.log())
    assert _same_as_the_application(w, "ines") == [r["W"]]
    assert _same_as_the_application(w, "ivo") == [r["X"]]
    assert len(w.log()) == logged  # a listing is no read of content: neither path writes to the access log
    # A record's scope, a subject access request, a manager's own relationships beside a grant, two grants at once,
    # and one that expires within the hour.
    _grant(w, "quinn", "qa_audit", "record", r["T"], now + timedelta(days=30))
    _grant(w, "dana", "sar", "worker_file", w.workers["T"], now + timedelta(days=30))
    _grant(w, "morgan", "qa_audit", "worker_file", w.workers["X"], now + timedelta(days=30))
    soon = _grant(w, "ines", "inspection", "worker_file", w.workers["X"], now + timedelta(hours=1))
    assert _same_as_the_application(w, "quinn") == [r["T"]]
    assert _same_as_the_application(w, "dana") == [r["T"]]
    assert set(_same_as_the_application(w, "morgan")) == set(r.values())
    assert set(_same_as_the_application(w, "ines")) == {r["W"], r["X"]}
    # Expiry: past it, the grant lists nothing (the other still does).
    w.clock.set(now + timedelta(hours=2))
    assert _same_as_the_application(w, "ines") == [r["W"]]
    # Revocation: at once.
    w.app.access.revoke_grant(w.grants["ivo"], "investigation closed", actor=w.principal("hana"))
    assert _same_as_the_application(w, "ivo") == []
    w.app.access.revoke_grant(soon, "tidying up", actor=w.principal("hana"))  # an expired grant, revoked too
    assert _same_as_the_application(w, "ines") == [r["W"]]
    # A grant holder whose account has ended: the application names why, so it answers.
    w.app.people.users.disable("quinn")
    assert _index(w, "quinn") is None


def test_an_archived_file_under_a_grant_is_listed_here_only_where_the_pack_cannot_change_it(
        world: World, settings, master_key) -> None:
    write_master_key(settings, master_key)
    w, r, now = world, world.records, world.clock.now
    _grant(w, "dana", "sar", "worker_file", w.workers["W"], now + timedelta(days=30))
    _grant(w, "quinn", "qa_audit", "record", r["W"], now + timedelta(days=30))
    w.app.people.record_leaving(acting("hr"), w.workers["W"], now.date())
    w.app.retention.archive_leaver(acting("hr"), w.workers["W"])
    w.clock.set(now + timedelta(days=1))
    # A subject access request lists an archived file whatever the pack says: answered here.
    assert _same_as_the_application(w, "dana") == [r["W"]]
    # Sam's archived record is within Ines's team grant and Quinn's record grant: whether an inspector (bcp: yes)
    # or QA (bcp: no) lists it is the pack's archive_access, so the application answers both.
    assert _index(w, "ines") is None and _index(w, "quinn") is None
    assert [x["record_id"] for x in w.app.access.readable_records(w.principal("ines"))] == [r["W"]]
    assert w.app.access.readable_records(w.principal("quinn")) == []
    # Alex's own listing never shows an archived file, and needs no pack.
    assert _same_as_the_application(w, "alex") == []


def test_a_grant_holder_is_answered_here_only_once_the_grant_index_has_every_event(
        world: World, settings, master_key) -> None:
    """On SQLite too: the application reads each grant's aggregate, which a lagging index may not show revoked."""
    write_master_key(settings, master_key)
    assert _index(world, "ines") is not None
    _sql(settings, "UPDATE read_model_positions SET position = position - 1 WHERE name = 'access_log'")
    assert record_index(settings, "ines", world.clock.now) is None
    assert record_index(settings, "alex", world.clock.now) is not None or not settings.is_sqlite


def test_the_grants_key_is_the_organisations() -> None:
    from api.record_index import ORGANISATION_KEY_ID
    from infrastructure.keys import ORGANISATION_KEY_ID as sealing

    assert ORGANISATION_KEY_ID == sealing


def test_a_policy_pack_it_cannot_find_is_the_applications_to_name(world: World, settings, master_key,
                                                                   monkeypatch, tmp_path: Path) -> None:
    from api.record_index import _pack_file
    from infrastructure.policy_packs import _pack_path, default_directory

    write_master_key(settings, master_key)
    assert _pack_file(settings.policy_pack) == _pack_path(settings.policy_pack, default_directory())
    assert _index(world, "ines") is not None
    assert _index(world, "ines", replace(settings, policy_pack="nosuch")) is None
    assert _index(world, "alex", replace(settings, policy_pack="../bcp")) is None
    monkeypatch.setenv("SVL_POLICY_DIR", str(tmp_path))
    assert _pack_file(settings.policy_pack) == _pack_path(settings.policy_pack, default_directory())
    assert _index(world, "alex") is None
