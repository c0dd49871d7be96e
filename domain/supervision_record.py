"""A supervision record's life: drafted, shared, amended or disputed, signed by both, then locked.

Command methods check the rules and then trigger an event; the decorated `_event` methods only
apply state, because they run again on every replay.
"""

from datetime import datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, NotPermitted, OutOfOrder, StaleVersion
from domain.parties import party_of
from domain.anonymisation import Screening
from domain.record_content import RecordContent, addendum_sha256, content_sha256
from domain.timestamps import require_not_before, require_utc


class RecordState(str, Enum):
    DRAFT = "draft"
    SHARED = "shared"  # with the supervisee, awaiting their agreement or amendments
    AMENDMENT_REQUESTED = "amendment_requested"
    SIGNED_BY_SUPERVISEE = "signed_by_supervisee"
    LOCKED = "locked"  # both signed: unaltered from now on; corrections are addenda


class SupervisionRecord(Aggregate):
    @event("Drafted")
    def __init__(
        self,
        supervisee_id: str,
        supervisor_id: str,
        content: dict,
        actor: str,
        timestamp: datetime,
        anonymity_confirmed: bool = False,
    ) -> None:
        self.supervisee_id = supervisee_id
        self.supervisor_id = supervisor_id
        self.content = content
        # True when the pack let text that looks as if it names someone stand on the supervisor's word
        self.anonymity_confirmed = anonymity_confirmed
        self.content_version = 1
        self.state = RecordState.DRAFT.value
        self.open_amendment: dict | None = None
        self.amendments: list[dict] = []
        self.disagreements: list[dict] = []
        self.signatures: list[dict] = []
        self.addenda: list[dict] = []

    @classmethod
    def draft(
        cls,
        *,
        supervisee_id: str,
        supervisor_id: str,
        content: dict,
        actor: str,
        timestamp: datetime,
        screening: Screening | None = None,
        confirmed_anonymous: bool = False,
    ) -> "SupervisionRecord":
        """Drafted by the supervisor after a session.

        ``screening`` checks every free-text field for names and dates of birth under the pack's rule;
        where the pack asks for confirmation, ``confirmed_anonymous`` is the supervisor's, recorded in
        the event."""
        require_utc(timestamp)
        if actor != supervisor_id:
            raise NotPermitted("only the supervisor drafts the record of a supervision session")
        if supervisee_id == supervisor_id:
            raise DomainError("supervisee and supervisor must be different people")
        checked, confirmed = RecordContent.screened(content, screening, confirmed_anonymous)
        return cls(supervisee_id, supervisor_id, checked, actor, timestamp, confirmed)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def content_sha256(self) -> str:
        return content_sha256(str(self.id), self.content_version, self.content)

    @property
    def is_locked(self) -> bool:
        return self.state == RecordState.LOCKED.value

    def party(self, actor: str) -> str | None:
        return party_of(actor, supervisor_id=self.supervisor_id, supervisee_id=self.supervisee_id)

    # -- supervisor: share, amend, decline --------------------------------------------------------

    def share(self, *, actor: str, timestamp: datetime) -> None:
        self._check(actor, "supervisor", "share the record", timestamp)
        self._require_state("share", RecordState.DRAFT)
        self._shared(actor=actor, timestamp=timestamp)

    @event("SharedWithSupervisee")
    def _shared(self, actor: str, timestamp: datetime) -> None:
        self.state = RecordState.SHARED.value

    def amend(self, content: dict, *, based_on_version: int, actor: str, timestamp: datetime,
              screening: Screening | None = None, confirmed_anonymous: bool = False) -> None:
        """A new version of the text; accepts an open amendment request if there is one."""
        self._check(actor, "supervisor", "amend the record", timestamp)
        self._require_state("amend", RecordState.DRAFT, RecordState.SHARED, RecordState.AMENDMENT_REQUESTED)
        self._require_current(based_on_version)
        checked, confirmed = RecordContent.screened(content, screening, confirmed_anonymous)
        if checked == self.content:
            raise DomainError("the amended content is the same as the current version")
        self._amended(content=checked, actor=actor, timestamp=timestamp, anonymity_confirmed=confirmed)

    @event("Amended")
    def _amended(self, content: dict, actor: str, timestamp: datetime, anonymity_confirmed: bool = False) -> None:
        self.content = content
        self.anonymity_confirmed = anonymity_confirmed
        self.content_version += 1
        if self.open_amendment is not None:
            self.amendments.append({**self.open_amendment, "outcome": "accepted", "resolved_at": timestamp.isoformat()})
            self.open_amendment = None
            self.state = RecordState.SHARED.value

    def decline_amendment(self, rationale: str, *, actor: str, timestamp: datetime,
                          screening: Screening | None = None, confirmed_anonymous: bool = False) -> None:
        """Kept as an 'area of disagreement' with the supervisor's rationale."""
        self._check(actor, "supervisor", "decline an amendment", timestamp)
        self._require_state("decline an amendment", RecordState.AMENDMENT_REQUESTED)
        if not rationale.strip():
            raise DomainError("a declined amendment needs a rationale")
        confirmed = screening.check([("rationale", rationale)], confirmed_anonymous=confirmed_anonymous) \
            if screening is not None else False
        self._amendment_declined(rationale=rationale.strip(), actor=actor, timestamp=timestamp,
                                 anonymity_confirmed=confirmed)

    @event("AmendmentDeclined")
    def _amendment_declined(self, rationale: str, actor: str, timestamp: datetime,
                            anonymity_confirmed: bool = False) -> None:
        assert self.open_amendment is not None
        resolved = {**self.open_amendment, "outcome": "declined", "rationale": rationale,
                    "resolved_at": timestamp.isoformat()}
        self.amendments.append(resolved)
        self.disagreements.append(resolved)
        self.open_amendment = None
        self.state = RecordState.SHARED.value

    # -- supervisee: request amendment -------------------------------------------------------------

    def request_amendment(self, text: str, *, based_on_version: int, actor: str, timestamp: datetime,
                          screening: Screening | None = None, confirmed_anonymous: bool = False) -> None:
        """The supervisee's proposed change; under a ``confirm`` pack the supervisee confirms it is anonymous."""
        self._check(actor, "supervisee", "request an amendment", timestamp)
        self._require_state("request an amendment", RecordState.SHARED)
        self._require_current(based_on_version)
        if not text.strip():
            raise DomainError("an amendment request needs the text of what should change")
        confirmed = screening.check([("amendment request", text)], confirmed_anonymous=confirmed_anonymous) \
            if screening is not None else False
        self._amendment_requested(text=text.strip(), content_version=self.content_version,
                                  actor=actor, timestamp=timestamp, anonymity_confirmed=confirmed)

    @event("AmendmentRequested")
    def _amendment_requested(self, text: str, content_version: int, actor: str, timestamp: datetime,
                             anonymity_confirmed: bool = False) -> None:
        self.open_amendment = {"text": text, "on_version": content_version, "requested_at": timestamp.isoformat()}
        self.state = RecordState.AMENDMENT_REQUESTED.value

    # -- signatures ---------------------------------------------------------------------------------

    def sign(self, signed_sha256: str, *, actor: str, timestamp: datetime) -> None:
        """The supervisee signs first, then the supervisor; each signs the hash of the exact version."""
        party = self.party(actor)
        if party is None:
            raise NotPermitted("only the supervisee and the supervisor sign a supervision record")
        require_not_before(timestamp, self.modified_on)
        if signed_sha256 != self.content_sha256:
            raise StaleVersion(
                f"the signature is for a version that is not current: current version is "
                f"{self.content_version} with SHA-256 {self.content_sha256}"
            )
        if party == "supervisee":
            if self.state == RecordState.AMENDMENT_REQUESTED.value:
                raise OutOfOrder("an amendment request is still open: the supervisor must amend or decline it")
            self._require_state("sign as supervisee", RecordState.SHARED)
            self._signed_by_supervisee(content_sha256=signed_sha256, content_version=self.content_version,
                                       signer=actor, actor=actor, timestamp=timestamp)
        else:
            if self.state in (RecordState.DRAFT.value, RecordState.SHARED.value):
                raise OutOfOrder("the supervisee signs first")
            self._require_state("sign as supervisor", RecordState.SIGNED_BY_SUPERVISEE)
            self._signed_by_supervisor(content_sha256=signed_sha256, content_version=self.content_version,
                                       signer=actor, actor=actor, timestamp=timestamp)

    @event("SignedBySupervisee")
    def _signed_by_supervisee(self, content_sha256: str, content_version: int, signer: str, actor: str,
                              timestamp: datetime) -> None:
        self.signatures.append({"role": "supervisee", "signer": signer, "signed_at": timestamp.isoformat(),
                                "content_version": content_version, "content_sha256": content_sha256})
        self.state = RecordState.SIGNED_BY_SUPERVISEE.value

    @event("SignedBySupervisor")
    def _signed_by_supervisor(self, content_sha256: str, content_version: int, signer: str, actor: str,
                              timestamp: datetime) -> None:
        self.signatures.append({"role": "supervisor", "signer": signer, "signed_at": timestamp.isoformat(),
                                "content_version": content_version, "content_sha256": content_sha256})
        self.state = RecordState.LOCKED.value

    # -- after locking: addenda ------------------------------------------------------------------------

    def add_addendum(self, text: str, reason: str, *, actor: str, timestamp: datetime,
                     screening: Screening | None = None, confirmed_anonymous: bool = False) -> None:
        """A correction after signing is a new entry, signed by its author; the original stays as it was."""
        party = self.party(actor)
        if party is None:
            raise NotPermitted("only the supervisee or the supervisor can add an addendum")
        require_not_before(timestamp, self.modified_on)
        if not self.is_locked:
            raise OutOfOrder("addenda are for signed records: until both have signed, amend the record")
        if not text.strip() or not reason.strip():
            raise DomainError("an addendum needs its text and the reason for it")
        confirmed = False
        if screening is not None:
            confirmed = screening.check([("addendum.text", text), ("addendum.reason", reason)],
                                        confirmed_anonymous=confirmed_anonymous)
        number = len(self.addenda) + 1
        digest = addendum_sha256(str(self.id), number, text.strip(), reason.strip())
        self._addendum_added(number=number, text=text.strip(), reason=reason.strip(), sha256=digest,
                             author_role=party, actor=actor, timestamp=timestamp, anonymity_confirmed=confirmed)

    @event("AddendumAdded")
    def _addendum_added(self, number: int, text: str, reason: str, sha256: str, author_role: str,
                        actor: str, timestamp: datetime, anonymity_confirmed: bool = False) -> None:
        self.addenda.append({"number": number, "text": text, "reason": reason, "sha256": sha256,
                             "signatures": [{"role": author_role, "signer": actor,
                                             "signed_at": timestamp.isoformat()}]})
        if anonymity_confirmed:
            self.addenda[-1]["anonymity_confirmed"] = True

    def countersign_addendum(self, number: int, signed_sha256: str, *, actor: str, timestamp: datetime) -> None:
        party = self.party(actor)
        if party is None:
            raise NotPermitted("only the supervisee or the supervisor can countersign an addendum")
        require_not_before(timestamp, self.modified_on)
        if not 1 <= number <= len(self.addenda):
            raise DomainError(f"there is no addendum {number} on this record")
        addendum = self.addenda[number - 1]
        if any(s["role"] == party for s in addendum["signatures"]):
            raise OutOfOrder(f"the {party} has already signed addendum {number}")
        if signed_sha256 != addendum["sha256"]:
            raise StaleVersion(f"the signature does not match addendum {number} (SHA-256 {addendum['sha256']})")
        self._addendum_countersigned(number=number, sha256=signed_sha256, role=party, actor=actor,
                                     timestamp=timestamp)

    @event("AddendumCountersigned")
    def _addendum_countersigned(self, number: int, sha256: str, role: str, actor: str, timestamp: datetime) -> None:
        self.addenda[number - 1]["signatures"].append(
            {"role": role, "signer": actor, "signed_at": timestamp.isoformat()}
        )

    # -- rules shared by the commands -----------------------------------------------------------------

    def _check(self, actor: str, required_party: str, step: str, timestamp: datetime) -> None:
        if self.party(actor) != required_party:
            raise NotPermitted(f"only the {required_party} can {step}")
        require_not_before(timestamp, self.modified_on)

    def _require_state(self, step: str, *allowed: RecordState) -> None:
        if self.state not in {s.value for s in allowed}:
            if self.is_locked:
                raise OutOfOrder(f"cannot {step}: the record is signed by both and locked; add an addendum instead")
            raise OutOfOrder(f"cannot {step} while the record is {self.state.replace('_', ' ')}")

    def _require_current(self, based_on_version: int) -> None:
        if based_on_version != self.content_version:
            raise StaleVersion(
                f"you acted on version {based_on_version} but the record is at version {self.content_version}"
            )
