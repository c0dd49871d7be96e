"""Record classes on the domain alone, one worked example per rule, each with the policy's words: case supervision
kept apart from personal supervision (bcp, bury), its deadline for the decision to reach the child's record (bcp:
one week), its own retention (bcp: the organisation's setting; bury: none set), and how it names a child."""

from datetime import date, datetime, timezone

import pytest

from domain.anonymisation import NotAnonymous, Screening
from domain.destruction_proposal import DestructionProposal
from domain.case_supervision_record import (CaseSupervisionRecord, case_decision_status,
                                            case_record_destruction_date, case_record_status,
                                            check_child_record_number)
from domain.errors import DomainError, InvalidContent, NotPermitted, OutOfOrder
from domain.policy import PolicyIncomplete
from domain.record_classes import record_classes
from domain.schedule_rules import case_decision_deadline
from infrastructure.name_lexicon import default_lexicon
from infrastructure.policy_packs import load_all_packs

PACKS = load_all_packs()
D = date
T = datetime(2026, 4, 2, 15, tzinfo=timezone.utc)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def recorded(pack: str = "bcp", discussed_on: date = D(2026, 4, 2), **overrides) -> CaseSupervisionRecord:
    policy = PACKS[pack]
    fields = dict(pack=policy, worker_id="w", supervisor_id="s", case_reference="LCS 55821",
                  discussed_on=discussed_on, discussion="Reviewed the plan after the core group; worries about "
                  "school attendance", decisions="Strategy discussion to be requested; visit within 5 days",
                  decision_due=case_decision_deadline(policy, discussed_on), actor="s", timestamp=at(discussed_on, 15),
                  screening=Screening(default_lexicon(), policy.anonymisation.names))
    fields.update(overrides)
    return CaseSupervisionRecord.record(**fields)


def test_bcp_and_bury_keep_case_supervision_apart_as_a_record_class_worked_example() -> None:
    # bcp: "Records pertaining to personal supervision must be maintained separately from records of supervisory
    # discussion for professional case-work interventions."
    # bury: "Secondly case specific supervision records will be placed on the LCS (Liquidlogic Childrens System)
    # under case notes / supervision."
    for name in ("bcp", "bury"):
        assert [c.name for c in record_classes(PACKS[name])] == ["personal_supervision", "case_supervision"]
        record = recorded(name)
        assert (record.worker_id, record.case_reference, record.pack) == ("w", "LCS 55821", name)
    # hull, darlington and the school trust as shipped keep case discussions inside the personal record
    for name in ("hull", "darlington", "school-trust"):
        assert [c.name for c in record_classes(PACKS[name])] == ["personal_supervision"]
        with pytest.raises(DomainError, match="keeps no separate case supervision records"):
            recorded(name)
    # "The responsibility for recording unplanned and impromptu supervision rests with the supervisor."
    with pytest.raises(NotPermitted):
        recorded(actor="w")
    with pytest.raises(DomainError, match="in the future"):
        recorded(discussed_on=D(2026, 4, 3), timestamp=T)


def test_bcp_case_decision_on_the_childs_record_within_one_week_worked_example() -> None:
    # "All case work discussions, decisions and actions must be recorded on the child's record within a maximum
    # of one week." Discussed on Thursday 2 April 2026: on the child's record by Thursday 9 April.
    record = recorded("bcp", D(2026, 4, 2))
    assert record.decision_due == D(2026, 4, 9)
    assert record.status(D(2026, 4, 9)) == "due"
    assert record.status(D(2026, 4, 10)) == "overdue"
    [case] = [c for c in record_classes(PACKS["bcp"]) if c.name == "case_supervision"]
    assert case.deadlines[0].whose == "bcp" and "one week" in case.deadlines[0].words
    # confirmed with the reference of the entry on the child's record, in time
    record.confirm_on_childs_record("Case note 88123", recorded_on=D(2026, 4, 8), actor="s", supervisor_now="s",
                                    timestamp=at(D(2026, 4, 8)))
    assert record.status(D(2026, 4, 10)) == "recorded"
    assert record.on_childs_record == {"reference": "Case note 88123", "recorded_on": D(2026, 4, 8), "by": "s"}
    # a day late is kept as late, not as in time
    assert case_decision_status(decision_due=D(2026, 4, 9), recorded_on=D(2026, 4, 10), as_of=D(2026, 4, 30)) \
        == "recorded_late"


def test_bury_case_notes_on_lcs_have_no_timescale() -> None:
    # bury states no timescale for case notes on LCS (completion.case_decisions is left out of its pack)
    record = recorded("bury")
    assert record.decision_due is None and record.status(D(2027, 1, 1)) == "no_deadline"
    [case] = [c for c in record_classes(PACKS["bury"]) if c.name == "case_supervision"]
    assert case.deadlines == ()


def test_who_confirms_the_decision_is_on_the_childs_record() -> None:
    # bcp: "A supervisor may explicitly delegate the recording of the discussion and decision to the supervisee."
    record = recorded()
    with pytest.raises(NotPermitted):
        record.confirm_on_childs_record("WF 1", recorded_on=D(2026, 4, 3), actor="someone", supervisor_now="s",
                                        timestamp=at(D(2026, 4, 3)))
    with pytest.raises(DomainError, match="before the discussion"):
        record.confirm_on_childs_record("WF 1", recorded_on=D(2026, 4, 1), actor="w", supervisor_now="s",
                                        timestamp=at(D(2026, 4, 3)))
    with pytest.raises(InvalidContent, match="reference of the entry"):
        record.confirm_on_childs_record("on the file", recorded_on=D(2026, 4, 3), actor="w", supervisor_now="s",
                                        timestamp=at(D(2026, 4, 3)))
    record.confirm_on_childs_record("WF 1", recorded_on=D(2026, 4, 3), actor="w", supervisor_now="s",
                                    timestamp=at(D(2026, 4, 3)))
    with pytest.raises(OutOfOrder, match="already confirmed"):
        record.confirm_on_childs_record("WF 2", recorded_on=D(2026, 4, 3), actor="s", supervisor_now="s",
                                        timestamp=at(D(2026, 4, 3)))


def test_a_case_supervision_record_names_the_child_only_by_the_case_record_number() -> None:
    # bcp: "Case information recorded for this purpose must be anonymous and relevant." bury: "use initials or
    # unique numbers rather than full names of service users": the number finds the child's record.
    lexicon = default_lexicon()
    for good in ("LCS 55821", "CN-10234", "104331"):
        assert check_child_record_number(good, lexicon) == good
    for bad, why in (("J.S.", "not the number"), ("Child A", "not the number"), ("John Smith", "full name"),
                     ("Sibling 2", "not the number"), ("DOB 01/02/2015", "date")):
        with pytest.raises(InvalidContent, match=why) as refused:
            check_child_record_number(bad, lexicon)
        # the advice is this class's own: the record's number, never the initials a personal record may use
        assert "number of their case record (e.g. 'LCS 55821')" in str(refused.value)
        assert "initials" not in str(refused.value) and "pseudonym" not in str(refused.value)
    # the text passes the pack's anonymisation rule (bcp, bury: refuse)
    with pytest.raises(NotAnonymous):
        recorded(discussion="Talked about John Smith's mother Mary Smith")


def test_case_record_retention_worked_example() -> None:
    # bcp is silent on how long case supervision records are kept: six years after the discussion is the
    # organisation's own setting, never shown as the council's rule.
    assert case_record_destruction_date(PACKS["bcp"], D(2026, 4, 2)) == D(2032, 4, 2)
    assert case_record_destruction_date(PACKS["bcp"], D(2028, 2, 29)) == D(2034, 2, 28)
    [personal, case] = record_classes(PACKS["bcp"])
    assert personal.retention.whose == "bcp" and case.retention.whose == "bcp's own setting"
    assert case_record_status(destruction_date=D(2032, 4, 2), destroyed=False, as_of=D(2032, 4, 1)) == "retained"
    assert case_record_status(destruction_date=D(2032, 4, 2), destroyed=False, as_of=D(2032, 4, 2)) == "due"
    # bury: "Case specific supervision notes on LCS system form part of the service user's case file and are
    # retained as per the specific council policy on confidential data and records retention." That policy is
    # not in the seed: no period, so none is destroyed until the organisation sets one.
    with pytest.raises(PolicyIncomplete, match="years_after_discussion"):
        case_record_destruction_date(PACKS["bury"], D(2026, 4, 2))
    assert case_record_status(destruction_date=None, destroyed=False, as_of=D(2099, 1, 1)) == "no_period"
    retention = record_classes(PACKS["bury"])[1].retention
    assert retention.what.startswith("not set") and "specific council policy" in retention.words


def test_a_list_of_case_records_is_destroyed_only_after_a_second_person_approves_it() -> None:
    disposal = DestructionProposal.propose(record_class="case_supervision", as_of=D(2032, 4, 2),
                                           items=[{"record_id": "r1", "destruction_date": "2032-04-02"}],
                                           pack="bcp", rule="bcp's own setting: 6", actor="dpo", proposer_user="u1",
                                           timestamp=at(D(2032, 4, 2)))
    with pytest.raises(OutOfOrder, match="not yet approved"):
        disposal.record_execution(destroyed=["r1"], skipped=[], actor="dpo", timestamp=at(D(2032, 4, 2), 13))
    with pytest.raises(NotPermitted, match="second person"):
        disposal.approve("fine", actor="dpo", user="u1", timestamp=at(D(2032, 4, 2), 13))
    disposal.approve("Checked against the schedule", actor="hr", user="u2", timestamp=at(D(2032, 4, 2), 13))
    with pytest.raises(DomainError, match="outside the approved list"):
        disposal.record_execution(destroyed=["r2"], skipped=[], actor="dpo", timestamp=at(D(2032, 4, 2), 14))
    disposal.record_execution(destroyed=["r1"], skipped=[], actor="dpo", timestamp=at(D(2032, 4, 2), 14))
    assert disposal.destroyed == ["r1"] and disposal.status == "destroyed"
    with pytest.raises(OutOfOrder, match="already destroyed"):  # a list of case records is run once
        disposal.record_execution(destroyed=["r1"], skipped=[], actor="dpo", timestamp=at(D(2032, 4, 2), 15))
    with pytest.raises(DomainError, match="not due"):
        DestructionProposal.propose(record_class="case_supervision", as_of=D(2032, 4, 1),
                                    items=[{"record_id": "r1", "destruction_date": "2032-04-02"}], pack="bcp",
                                    rule="r", actor="dpo", proposer_user="u1", timestamp=at(D(2032, 4, 2)))