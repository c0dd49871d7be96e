"""Worked examples of the allocation rows of the rule register, on the domain alone: who may supervise whom
(bcp's allocation.*), departures agreed by the role the pack names, and whose turn the next session is where a
policy names a second supervisor (bcp's ASYE assessor/mentor, school-trust's outside provider)."""

from datetime import date, datetime, timezone

import pytest

from domain.allocation import (
    Standing, allocation_breaches, check_exception, check_second_supervisor, next_supervisor, ratio_breach,
    uncovered,
)
from domain.authorisation import Reader, RecordParties, Relationships, Role, decide_draft, decide_read, decide_write
from domain.errors import DomainError, NotPermitted
from infrastructure.policy_packs import load_all_packs

PACKS = load_all_packs()
BCP = PACKS["bcp"]
ON = date(2026, 3, 2)


def test_supervisor_level_worked_example() -> None:
    # bcp: "All supervision should occur by a supervisor who is at least one level higher than them in the line
    # management structure." An NQSW (level 1) made supervisor of a senior social worker (level 2) departs from it.
    senior = Standing("sam", "experienced", level=2)
    nqsw = Standing("nia", "nqsw_asye", level=1)
    [breach] = allocation_breaches(BCP, senior, nqsw, ON)
    assert breach.rule == "supervisor_level" and "at least 1 level higher" in breach.text and "(bcp" not in breach.text
    assert "level 1, the supervisee at level 2: bcp asks" in breach.text
    assert allocation_breaches(BCP, senior, Standing("tm", "manager", level=2), ON)[0].rule == "supervisor_level"
    assert allocation_breaches(BCP, senior, Standing("tm", "manager", level=3), ON) == []
    # A level HR has not recorded is not guessed: the rule cannot be checked, so nothing is claimed.
    assert allocation_breaches(BCP, Standing("x", "experienced"), nqsw, ON) == []
    # Policies that set no allocation rules (hull, darlington, bury, school-trust) find no departure.
    for name in ("hull", "darlington", "bury", "school-trust"):
        assert allocation_breaches(PACKS[name], senior, nqsw, ON) == [], name


def test_registration_worked_example() -> None:
    # bcp: "Within statutory social work the supervisor must have HCPC registration."
    unregistered = Standing("atm", "manager", level=3, registered=False)
    [breach] = allocation_breaches(BCP, Standing("sam", "experienced", level=1), unregistered, ON)
    assert breach.rule == "registration" and "bcp requires it within statutory social work" in breach.text
    # Family support workers are not statutory social work: no registration needed to supervise them.
    assert allocation_breaches(BCP, Standing("f", "family_support", level=1), unregistered, ON) == []
    registered = Standing("tm", "manager", level=3, registered=True)
    assert allocation_breaches(BCP, Standing("sam", "experienced", level=1), registered, ON) == []


def test_experience_worked_example() -> None:
    # bcp: "New practitioners should not be supervised by newly promoted or inexperienced supervisors, however
    # extensive their experience is." The policy gives no length: 12 months is bcp's own setting, cited as such.
    promoted = Standing("tm", "manager", level=3, supervising_since=date(2025, 9, 1))
    nqsw = Standing("nia", "nqsw_asye", level=1)
    [breach] = allocation_breaches(BCP, nqsw, promoted, ON)
    assert breach.rule == "experience" and "bcp's own setting" in breach.text and "01 Sep 2025" in breach.text
    assert allocation_breaches(BCP, nqsw, promoted, date(2026, 9, 1)) == []  # a year on, no longer newly promoted
    assert allocation_breaches(BCP, Standing("sam", "experienced", level=1), promoted, ON) == []  # not new


def test_ratio_worked_example() -> None:
    # bcp: "It is expected that the supervisory workload ratio should be 5 to 7 supervisees per supervisor."
    assert ratio_breach(BCP, "tm", [f"w{n}" for n in range(7)]) is None
    twelve = [f"w{n}" for n in range(12)]
    breach = ratio_breach(BCP, "tm", twelve)
    assert breach is not None and breach.text == "supervises 12 people: bcp expects 5 to 7 supervisees per supervisor"
    # Each supervisee beyond the seventh needs a recorded departure: five exceptions cover twelve.
    assert ratio_breach(BCP, "tm", twelve, covered=twelve[:4]) is not None
    assert ratio_breach(BCP, "tm", twelve, covered=twelve[:5]) is None
    assert ratio_breach(PACKS["hull"], "tm", twelve) is None  # hull sets no ratio


def test_allocation_exception_worked_example() -> None:
    # bcp: "In the event that the allocation aspect of the supervision policy is not followed, this should be
    # clearly recorded in the individual's supervision file and agreed by the Service Manager."
    assert BCP.allocation.on_breach == "flag" and BCP.allocation.exception_agreed_by == "service_manager"
    assert check_exception(BCP, ["supervisor_level", " ratio", "ratio"], "Service Manager", "Cover for a vacancy") \
        == ("supervisor_level", "ratio")
    with pytest.raises(NotPermitted, match="agreed by the service manager .* you are 'Team Manager'"):
        check_exception(BCP, ["supervisor_level"], "Team Manager", "Cover")
    with pytest.raises(DomainError, match="give the reason"):
        check_exception(BCP, ["supervisor_level"], "Service Manager", " ")
    with pytest.raises(DomainError, match="not an allocation rule of bcp"):
        check_exception(BCP, ["frequency"], "Service Manager", "Cover")
    with pytest.raises(DomainError, match="no allocation rules"):
        check_exception(PACKS["hull"], ["ratio"], "Service Manager", "Cover")
    level = allocation_breaches(BCP, Standing("sam", "experienced", level=2), Standing("nia", "nqsw_asye", level=1), ON)
    assert uncovered(level, {("sam", "nia"): frozenset({"ratio"})}) == level  # an exception covers only its rules
    assert uncovered(level, {("sam", "nia"): frozenset({"supervisor_level"})}) == []
    assert uncovered(level, {("sam", "someone else"): frozenset({"supervisor_level"})}) == level


def test_second_supervisor_worked_example() -> None:
    # bcp: "weekly for the first six weeks of practice, alternated between their line manager and their allocated
    # ASYE assessor/mentor. ... At the conclusion of the ASYE assessor/mentor period the formal supervision
    # decreases to monthly and is facilitated by the line manager."
    assert check_second_supervisor(BCP, "nqsw_asye").title == "ASYE assessor/mentor"
    with pytest.raises(DomainError, match="only to nqsw_asye workers"):
        check_second_supervisor(BCP, "experienced")
    start = date(2026, 1, 5)
    turn = lambda last, on=ON: next_supervisor(BCP, category="nqsw_asye", start_date=start, line_manager="lm",  # noqa: E731
                                                second="asye", last_held_by=last, on=on)
    assert turn(None).supervisor_id == "lm"  # starting with the line manager
    assert turn("lm").supervisor_id == "asye" and "ASYE assessor/mentor (bcp: alternating" in turn("lm").text
    assert turn("asye").supervisor_id == "lm"
    after = turn("lm", date(2027, 1, 5))  # twelve months on: the line manager alone
    assert after.supervisor_id == "lm" and "period ended 05 Jan 2027" in after.text
    assert next_supervisor(BCP, category="nqsw_asye", start_date=start, line_manager="lm", second=None,
                           last_held_by="lm", on=ON) is None
    # school-trust: "The Trust uses a third party provider - Create Safer Organisations ... CSO as the Supervisor is
    # responsible for": either may hold a session; the policy sets no turn.
    trust = PACKS["school-trust"]
    assert check_second_supervisor(trust, "volunteer").title.startswith("external supervisor")
    either = next_supervisor(trust, category="volunteer", start_date=start, line_manager="lm", second="cso",
                             last_held_by="cso", on=ON)
    assert either.supervisor_id is None and "either may hold it" in either.text
    with pytest.raises(DomainError, match="one supervisor per worker"):
        check_second_supervisor(PACKS["hull"], "nqsw_asye")


def test_a_second_supervisor_drafts_reads_and_signs_their_own_records_only() -> None:
    rel = Relationships("nia", "lm", "sm", (), "active", second_supervisor_id="asye")
    assessor, manager = Reader("u1", Role.SUPERVISOR, "asye"), Reader("u2", Role.SUPERVISOR, "lm")
    assert decide_draft(assessor, rel).allowed and decide_draft(manager, rel).allowed
    assert not decide_draft(Reader("u3", Role.SUPERVISOR, "other"), rel).allowed
    assert decide_read(assessor, rel, [], datetime(2026, 3, 2, tzinfo=timezone.utc)).basis == "second supervisor"
    own, theirs = RecordParties("r1", "nia", "asye"), RecordParties("r2", "nia", "lm")
    assert decide_write(assessor, rel, own, "supervisor").allowed
    refused = decide_write(assessor, rel, theirs, "supervisor")
    assert not refused.allowed and "drafted by the worker's other supervisor" in refused.reason
    assert decide_write(manager, rel, theirs, "supervisor").allowed
    # The assessor's own record is not "frozen at a transfer" for the line manager either: only its author signs.
    assert not decide_write(manager, rel, own, "supervisor").allowed
    assert not decide_draft(assessor, Relationships("nia", "lm", None, (), "archived", "asye")).allowed
