"""A supervision record's life, told with the domain alone (no database)."""

from datetime import date, datetime, timedelta, timezone

import pytest

from domain.errors import DomainError, InvalidContent, NotPermitted, OutOfOrder, StaleVersion
from domain.record_content import check_case_reference
from domain.supervision_record import RecordState, SupervisionRecord

SUPERVISOR, SUPERVISEE, STRANGER = "sup-1", "worker-1", "someone-else"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def content(discussion: str = "Caseload reviewed; wellbeing discussed.") -> dict:
    return {
        "session_date": "2026-03-02",
        "attendees": ["Supervisor", "Worker"],
        "agenda": ["Wellbeing", "Caseload"],
        "discussion": discussion,
        "actions": [{"description": "Update plan", "owner": "Worker", "due": "2026-03-09"}],
        "case_discussions": [{"case_reference": "J.S.", "summary": "Visit due", "decision": "Visit weekly"}],
    }


def drafted() -> SupervisionRecord:
    return SupervisionRecord.draft(supervisee_id=SUPERVISEE, supervisor_id=SUPERVISOR, content=content(),
                                   actor=SUPERVISOR, timestamp=at(0))


def test_draft_share_sign_sign_locks_the_record_with_two_signatures_over_one_hash():
    record = drafted()
    record.share(actor=SUPERVISOR, timestamp=at(1))
    digest = record.content_sha256
    record.sign(digest, actor=SUPERVISEE, timestamp=at(2))
    record.sign(digest, actor=SUPERVISOR, timestamp=at(3))

    assert record.state == RecordState.LOCKED.value
    assert [(s["role"], s["signer"], s["content_sha256"]) for s in record.signatures] == [
        ("supervisee", SUPERVISEE, digest), ("supervisor", SUPERVISOR, digest)]
    assert record.signatures[0]["signed_at"] == at(2).isoformat()
    names = [type(e).__name__ for e in record.collect_events()]
    assert names == ["Drafted", "SharedWithSupervisee", "SignedBySupervisee", "SignedBySupervisor"]


def test_every_event_carries_actor_and_utc_timestamp():
    record = drafted()
    record.share(actor=SUPERVISOR, timestamp=at(1))
    for e in record.collect_events():
        assert e.actor == SUPERVISOR
        assert e.timestamp.utcoffset() == timedelta(0)


def test_amendment_requested_then_accepted_makes_a_new_version_the_supervisee_must_sign():
    record = drafted()
    record.share(actor=SUPERVISOR, timestamp=at(1))
    old_digest = record.content_sha256
    record.request_amendment("Say that I raised workload", based_on_version=1, actor=SUPERVISEE, timestamp=at(2))
    with pytest.raises(OutOfOrder, match="amendment request is still open"):
        record.sign(old_digest, actor=SUPERVISEE, timestamp=at(3))
    record.amend(content("Caseload reviewed; worker raised workload."), based_on_version=1,
                 actor=SUPERVISOR, timestamp=at(4))
    assert record.content_version == 2 and record.state == RecordState.SHARED.value
    assert record.amendments[0]["outcome"] == "accepted"
    with pytest.raises(StaleVersion, match="current version is 2"):
        record.sign(old_digest, actor=SUPERVISEE, timestamp=at(5))
    record.sign(record.content_sha256, actor=SUPERVISEE, timestamp=at(6))
    assert record.signatures[0]["content_version"] == 2


def test_declined_amendment_is_kept_as_an_area_of_disagreement():
    record = drafted()
    record.share(actor=SUPERVISOR, timestamp=at(1))
    record.request_amendment("Remove the comment on lateness", based_on_version=1, actor=SUPERVISEE,
                             timestamp=at(2))
    with pytest.raises(DomainError, match="rationale"):
        record.decline_amendment("  ", actor=SUPERVISOR, timestamp=at(3))
    record.decline_amendment("Lateness was observed on three visits", actor=SUPERVISOR, timestamp=at(3))
    assert record.state == RecordState.SHARED.value
    assert record.disagreements == [record.amendments[0]]
    assert record.disagreements[0]["text"] == "Remove the comment on lateness"
    assert record.disagreements[0]["rationale"] == "Lateness was observed on three visits"


@pytest.mark.parametrize("step", [
    lambda r: r.share(actor=SUPERVISEE, timestamp=at(1)),
    lambda r: r.amend(content("x y"), based_on_version=1, actor=STRANGER, timestamp=at(1)),
    lambda r: r.sign(r.content_sha256, actor=STRANGER, timestamp=at(1)),
])
def test_the_wrong_person_is_refused(step):
    record = drafted()
    with pytest.raises(NotPermitted):
        step(record)


def test_only_the_supervisor_drafts():
    with pytest.raises(NotPermitted):
        SupervisionRecord.draft(supervisee_id=SUPERVISEE, supervisor_id=SUPERVISOR, content=content(),
                                actor=SUPERVISEE, timestamp=at(0))


def test_steps_out_of_order_are_refused_with_a_clear_message():
    record = drafted()
    with pytest.raises(OutOfOrder, match="while the record is draft"):
        record.sign(record.content_sha256, actor=SUPERVISEE, timestamp=at(1))
    record.share(actor=SUPERVISOR, timestamp=at(1))
    with pytest.raises(OutOfOrder, match="supervisee signs first"):
        record.sign(record.content_sha256, actor=SUPERVISOR, timestamp=at(2))


def test_a_locked_record_cannot_be_amended_and_takes_signed_addenda():
    record = drafted()
    record.share(actor=SUPERVISOR, timestamp=at(1))
    record.sign(record.content_sha256, actor=SUPERVISEE, timestamp=at(2))
    record.sign(record.content_sha256, actor=SUPERVISOR, timestamp=at(3))
    original = dict(record.content)
    with pytest.raises(OutOfOrder, match="locked; add an addendum"):
        record.amend(content("changed"), based_on_version=1, actor=SUPERVISOR, timestamp=at(4))
    record.add_addendum("The visit date was 3 March, not 2 March", "date error", actor=SUPERVISOR,
                        timestamp=at(5))
    addendum = record.addenda[0]
    with pytest.raises(StaleVersion):
        record.countersign_addendum(1, "0" * 64, actor=SUPERVISEE, timestamp=at(6))
    record.countersign_addendum(1, addendum["sha256"], actor=SUPERVISEE, timestamp=at(6))
    assert [s["role"] for s in record.addenda[0]["signatures"]] == ["supervisor", "supervisee"]
    assert record.content == original


def test_time_never_runs_backwards_and_must_be_utc():
    record = drafted()
    with pytest.raises(DomainError, match="before the last recorded change"):
        record.share(actor=SUPERVISOR, timestamp=at(-5))
    with pytest.raises(DomainError, match="timezone-aware UTC"):
        record.share(actor=SUPERVISOR, timestamp=datetime(2026, 3, 3, 10, 0))


@pytest.mark.parametrize("ref", ["J.S.", "JS", "J S", "CN-10234", "104331", "LAC/2026/17"])
def test_case_references_by_initials_or_number_are_accepted(ref):
    assert check_case_reference(ref) == ref


@pytest.mark.parametrize("ref", ["John Smith", "Mary Jane Watson", "smith", "the Smith family"])
def test_case_references_that_look_like_names_are_refused(ref):
    with pytest.raises(InvalidContent):
        check_case_reference(ref)


def test_record_content_is_validated():
    bad = content()
    bad["case_discussions"] = [{"case_reference": "Jane Doe", "summary": "x"}]
    with pytest.raises(InvalidContent, match="looks like a full name"):
        SupervisionRecord.draft(supervisee_id=SUPERVISEE, supervisor_id=SUPERVISOR, content=bad,
                                actor=SUPERVISOR, timestamp=at(0))
    with pytest.raises(InvalidContent, match="session_date"):
        SupervisionRecord.draft(supervisee_id=SUPERVISEE, supervisor_id=SUPERVISOR,
                                content={**content(), "session_date": "2 March"}, actor=SUPERVISOR,
                                timestamp=at(0))
    assert date.fromisoformat(drafted().content["session_date"]) == date(2026, 3, 2)
