"""Web sessions in the database (infrastructure/web_sessions.py), on both backends: expiry after idleness and after
their lifetime, sign-out, `seen` written at most once a minute, only the id's hash and sealed state in the table,
one session seen alike by two stores on their own engines (two processes), a pending sign-in taken once, a
disabled account's sessions gone, ended rows purged. The clock is the test's own."""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from api.application import Storage
from infrastructure.database import make_engine
from infrastructure.users import UserDirectory, web_sessions
from infrastructure.web_sessions import SessionStore, csrf_matches, digest_of


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def on(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def storage(settings, master_key) -> Iterator[Storage]:  # noqa: ANN001
    opened = Storage.open(settings, master_key=master_key)
    try:
        yield opened
    finally:
        opened.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def people(storage: Storage, clock: Clock) -> tuple[str, str]:
    users = UserDirectory(storage.engine, clock)
    return (users.add_user("ann", "administrator", created_by="test"),
            users.add_user("bob", "administrator", created_by="test"))


def store_of(storage: Storage, clock: Clock, **options: float) -> SessionStore:
    return SessionStore(storage.engine, storage.reads, now=clock, **options)


def rows(storage: Storage) -> list:
    with storage.reads.connect() as conn:
        return list(conn.execute(select(web_sessions)))


def test_a_session_ends_after_idleness_after_its_lifetime_and_at_sign_out(storage, clock, people) -> None:  # noqa: ANN001
    ann, _ = people
    store = store_of(storage, clock, idle_seconds=300, lifetime_seconds=1500)
    session = store.open(ann)
    for _ in range(4):
        clock.on(299)
        assert store.find(session.cookie).user_id == ann  # in use: each request keeps it alive
    clock.on(301)
    assert store.find(session.cookie) is None  # idle too long
    assert rows(storage) == []  # and its row is gone

    session = store.open(ann)
    for _ in range(5):
        clock.on(290)
        assert store.find(session.cookie) is not None
    clock.on(290)
    assert store.find(session.cookie) is None  # past its lifetime, however busy

    session = store.open(ann)
    store.close(session.cookie)
    assert store.find(session.cookie) is None and rows(storage) == []


def test_seen_is_written_only_when_older_than_a_minute(storage, clock, people) -> None:  # noqa: ANN001
    store = store_of(storage, clock)
    session = store.open(people[0])
    opened_at = clock.now
    clock.on(59)
    store.find(session.cookie)
    [row] = rows(storage)
    assert row.seen_at == opened_at  # a page within the minute wrote nothing
    clock.on(2)
    store.find(session.cookie)
    [row] = rows(storage)
    assert row.seen_at == clock.now


def test_the_table_holds_only_the_ids_hash_and_sealed_state(storage, clock, people) -> None:  # noqa: ANN001
    store = store_of(storage, clock)
    id_token = "eyJ-an-id-token-" + "x" * 40
    session = store.open(people[0], id_token=id_token)
    session.notices.append("You shared the record.")
    store.save(session)
    [row] = rows(storage)
    assert row.session_sha256 == digest_of(session.cookie) != session.cookie
    stored = repr(tuple(row))
    for secret in (session.cookie, session.csrf, id_token, "shared the record"):
        assert secret not in stored
    found = store.find(session.cookie)
    assert found.id_token == id_token and found.notices == ["You shared the record."]
    assert found.csrf == session.csrf
    # The sealed state belongs to its id: under another row's hash it opens to nothing.
    other = store.open(people[1])
    with storage.engine.begin() as conn:
        conn.execute(web_sessions.update().where(web_sessions.c.session_sha256 == other.digest)
                     .values(state=row.state))
    assert store.find(other.cookie).id_token is None


def test_two_processes_see_one_session_and_a_pending_sign_in_is_taken_once(settings, storage, clock, people) -> None:  # noqa: ANN001
    here = store_of(storage, clock)
    elsewhere_engine = make_engine(settings)  # another process's own engine and store
    try:
        elsewhere = SessionStore(elsewhere_engine, now=clock)
        visitor = here.visitor()
        assert rows(storage) == []  # someone not signed in writes nothing
        visitor.pending_sign_in = {"state": "s", "nonce": "n", "code_verifier": "v", "url": "https://idp/auth"}
        here.save(visitor)
        first, second = elsewhere.find(visitor.cookie), here.find(visitor.cookie)
        assert first.csrf == second.csrf == visitor.csrf
        assert first.pending_sign_in == visitor.pending_sign_in
        assert elsewhere.take_pending_sign_in(first) == visitor.pending_sign_in
        assert here.take_pending_sign_in(second) is None  # the other answer lost
        assert elsewhere.find(visitor.cookie).pending_sign_in is None

        # The same visitor's two requests at once (two tabs), each with something to keep: one row, no error.
        one = here.visitor()
        two = elsewhere.visitor(one.cookie)
        one.notices.append("first")
        two.notices.append("second")
        here.save(one)
        elsewhere.save(two)
        assert here.find(one.cookie).notices == ["second"]

        signed_in = here.open(people[0])
        assert elsewhere.find(signed_in.cookie).user_id == people[0]
        elsewhere.close(signed_in.cookie)  # sign-out there
        assert here.find(signed_in.cookie) is None
    finally:
        elsewhere_engine.dispose()


def test_csrf_tokens_are_per_session_and_must_match_exactly(storage, clock, people) -> None:  # noqa: ANN001
    store = store_of(storage, clock)
    session, other = store.open(people[0]), store.open(people[0])
    assert session.csrf != other.csrf and session.cookie != other.cookie
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, other.csrf)
    assert not csrf_matches(session, session.csrf[:-1])
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, None)


def test_only_its_own_cookie_finds_a_session(storage, clock, people) -> None:  # noqa: ANN001
    store = store_of(storage, clock)
    session = store.open(people[0])
    for wrong in (session.cookie[:-1] + ("A" if session.cookie[-1] != "A" else "B"), session.cookie + "x", "", None,
                  "x" * 500, digest_of(session.cookie)):
        assert store.find(wrong) is None
    # Someone not signed in keeps an id of ours (their form's CSRF token is derived from it), not anything else.
    assert store.visitor(session.cookie[:-1] + "Z").cookie == session.cookie[:-1] + "Z"
    assert store.visitor("not one of ours").cookie != "not one of ours"


def test_a_disabled_account_loses_every_session_at_once(storage, clock, people) -> None:  # noqa: ANN001
    ann, bob = people
    store = store_of(storage, clock)
    first, second, others = store.open(ann), store.open(ann), store.open(bob)
    users = UserDirectory(storage.engine, clock)
    users.disable("bob", at=clock.now + timedelta(days=7))  # a later end: caught by the check on each page
    assert store.find(others.cookie) is not None
    users.disable("ann")
    assert store.find(first.cookie) is None and store.find(second.cookie) is None
    assert {r.user_id for r in rows(storage)} == {bob}
    store.close_all_for(bob)
    assert rows(storage) == []


def test_ended_sessions_are_purged(storage, clock, people) -> None:  # noqa: ANN001
    store = store_of(storage, clock, idle_seconds=600, lifetime_seconds=3600)
    old = store.open(people[0])
    clock.on(601)
    kept = store.open(people[1])
    assert store.purge() == 1
    assert [r.session_sha256 for r in rows(storage)] == [kept.digest]
    assert store.find(old.cookie) is None and store.find(kept.cookie) is not None
