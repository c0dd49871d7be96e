"""Web sessions (api/web/sessions.py): expiry after idleness and after their lifetime, sign-out, and CSRF
tokens compared in constant time. The clock is the test's own."""

from api.web.sessions import SessionStore, csrf_matches


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_idleness_after_its_lifetime_and_at_sign_out() -> None:
    clock = Clock()
    store = SessionStore(idle_seconds=60, lifetime_seconds=300, now=clock)
    cookie, session = store.open("user-1")
    clock.now += 59
    assert store.find(cookie) is session  # in use: each request keeps it alive
    clock.now += 59
    assert store.find(cookie) is session
    clock.now += 61
    assert store.find(cookie) is None  # idle too long
    assert store.find(cookie) is None

    cookie, session = store.open("user-1")
    for _ in range(5):
        clock.now += 59
        assert store.find(cookie) is session
    clock.now += 59
    assert store.find(cookie) is None  # past its lifetime, however busy

    cookie, _ = store.open("user-1")
    store.close(cookie)
    assert store.find(cookie) is None


def test_only_the_cookie_finds_its_session_and_a_disabled_user_loses_all_theirs() -> None:
    store = SessionStore()
    first, a = store.open("user-1")
    second, b = store.open("user-1")
    other, c = store.open("user-2")
    assert a.csrf != b.csrf and first != second
    assert store.find(first + "x") is None and store.find("") is None and store.find(None) is None
    assert store.find("x" * 500) is None
    store.close_all_for("user-1")
    assert store.find(first) is None and store.find(second) is None and store.find(other) is c


def test_csrf_tokens_must_match_exactly() -> None:
    store = SessionStore()
    _, session = store.open()
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, session.csrf[:-1])
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, None)


def test_a_full_store_makes_room_by_dropping_expired_then_the_oldest_anonymous_sessions() -> None:
    clock = Clock()
    store = SessionStore(idle_seconds=60, now=clock, max_sessions=10)
    signed_in, _ = store.open("user-1")
    anonymous = [store.open()[0] for _ in range(9)]
    clock.now += 1
    newest, _ = store.open()
    assert store.find(signed_in) is not None and store.find(newest) is not None
    assert store.find(anonymous[0]) is None  # the oldest visitor without a sign-in made room
