"""Commands on supervision records: draft, share, request and make amendments, sign, addenda.

Part of the application (api/application.py): uses the core (api/core.py), access (to log a refused step on a
worker's file) and policy (the anonymisation check under the organisation's pack).
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from api.access_service import AccessService, Via
from api.core import Core, Service, require_version
from api.errors import AccessDenied, OutOfOrderConflict, StaleConflict
from api.ids import as_uuid
from api.policy_service import PolicyService
from domain.access_log import AccessAttempt
from domain.authorisation import RecordParties, Relationships, decide_draft, decide_either_party, decide_write
from domain.errors import DomainError, OutOfOrder, StaleVersion
from domain.supervision_record import SupervisionRecord
from domain.workers import Worker
from infrastructure.users import Principal


class RecordService(Service):
    """The steps of a supervision record. Uses the core, access (a refused step on a file is logged) and policy
    (the anonymisation check)."""

    def __init__(self, core: Core, access: AccessService, policy: PolicyService) -> None:
        super().__init__(core)
        self.access = access
        self.policy = policy

    def draft_record(self, user: Principal, *, supervisee_id: UUID | str, content: dict,
                     via: Via | None = None, confirmed_anonymous: bool = False) -> SupervisionRecord:
        """The supervisee's current supervisor drafts; the record is sealed with the supervisee's key."""
        supervisee_uuid = as_uuid(supervisee_id, "worker")
        with self.loads_of_one_command(supervisee_uuid):
            supervisee = self.get_worker(supervisee_uuid)
        decision = decide_draft(user.reader, relationships(supervisee))
        if not decision.allowed:
            self.access.log_access(user, AccessAttempt("draft", str(supervisee.id), None, None, supervisee.state,
                                                       *_via(user, via)), decision)
            raise AccessDenied(decision, logged=self.access.log_reads)
        if supervisee.state != "active":
            raise DomainError(f"cannot draft a record for a worker who is {supervisee.state}")
        record = SupervisionRecord.draft(supervisee_id=str(supervisee.id), supervisor_id=user.actor,
                                         content=content, actor=user.actor, timestamp=self.clock(),
                                         screening=self.policy.screening(), confirmed_anonymous=confirmed_anonymous)
        key_id = self.storage.keyring.key_id_for(supervisee.id)
        keys = self.storage.keyring.stage_assignment(record.id, key_id)
        self.save_and_project(record, keys=keys, unchanged=(supervisee,))
        self.cache_as_stored(record, key_id)  # it is shared next, as a rule: read ahead with the supervisee's file
        return record

    def share_record(self, user: Principal, record_id: UUID | str, *, expected_version: int | None = None,
                     via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "share", via,
                                 lambda r, a, t: r.share(actor=a, timestamp=t))

    def request_amendment(self, user: Principal, record_id: UUID | str, text: str, *, based_on_version: int,
                          expected_version: int | None = None, via: Via | None = None,
                          confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisee", "request_amendment", via,
                                 lambda r, a, t: r.request_amendment(
                                     text, based_on_version=based_on_version, actor=a, timestamp=t,
                                     screening=self.policy.screening(), confirmed_anonymous=confirmed_anonymous))

    def amend_record(self, user: Principal, record_id: UUID | str, content: dict, *, based_on_version: int,
                     expected_version: int | None = None, via: Via | None = None,
                     confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "amend", via,
                                 lambda r, a, t: r.amend(
                                     content, based_on_version=based_on_version, actor=a, timestamp=t,
                                     screening=self.policy.screening(), confirmed_anonymous=confirmed_anonymous))

    def decline_amendment(self, user: Principal, record_id: UUID | str, rationale: str, *,
                          expected_version: int | None = None, via: Via | None = None,
                          confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, "supervisor", "decline", via,
                                 lambda r, a, t: r.decline_amendment(
                                     rationale, actor=a, timestamp=t, screening=self.policy.screening(),
                                     confirmed_anonymous=confirmed_anonymous))

    def sign_record(self, user: Principal, record_id: UUID | str, content_sha256: str, *,
                    expected_version: int | None = None, via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "sign", via,
                                 lambda r, a, t: r.sign(content_sha256, actor=a, timestamp=t))

    def add_addendum(self, user: Principal, record_id: UUID | str, text: str, reason: str, *,
                     expected_version: int | None = None, via: Via | None = None,
                     confirmed_anonymous: bool = False) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "add_addendum", via,
                                 lambda r, a, t: r.add_addendum(text, reason, actor=a, timestamp=t,
                                                                screening=self.policy.screening(),
                                                                confirmed_anonymous=confirmed_anonymous))

    def countersign_addendum(self, user: Principal, record_id: UUID | str, number: int, sha256: str, *,
                             expected_version: int | None = None, via: Via | None = None) -> SupervisionRecord:
        return self._record_step(user, record_id, expected_version, None, "countersign_addendum", via,
                                 lambda r, a, t: r.countersign_addendum(number, sha256, actor=a, timestamp=t))
    # -- helpers ---------------------------------------------------------------------------------------------

    def _record_step(self, user: Principal, record_id: UUID | str, expected_version: int | None, party: str | None,
                     action: str, via: Via | None,
                     step: Callable[[SupervisionRecord, str, datetime], None]) -> SupervisionRecord:
        """One load of the record and of the supervisee's file; the decision and the step use those copies,
        and the save fails with a Conflict if the file changed in between (e.g. a transfer)."""
        rid = as_uuid(record_id, "supervision record")
        cached = self._cached(rid)
        # The supervisee's file is read ahead with the record when the record is cached (its supervisee never
        # changes); were it another's, the load below would just query for it.
        together = (as_uuid(cached.supervisee_id, "worker"),) if isinstance(cached, SupervisionRecord) else ()
        with self.loads_of_one_command(rid, *together):
            record = self._get(SupervisionRecord, rid, None)
            supervisee = self.get_worker(record.supervisee_id)
        rel = relationships(supervisee)
        parties = RecordParties(str(record.id), record.supervisee_id, record.supervisor_id)
        decision = (decide_either_party(user.reader, rel, parties) if party is None
                    else decide_write(user.reader, rel, parties, party))
        if not decision.allowed:
            self.access.log_access(user, AccessAttempt(action, record.supervisee_id, str(record.id), record.version,
                                                       rel.file_state, *_via(user, via)), decision)
            raise AccessDenied(decision, logged=self.access.log_reads)
        require_version(record, expected_version, "supervision record")
        try:
            step(record, user.actor, self.clock())
        except StaleVersion as exc:
            raise StaleConflict(str(exc), record.version, record.content_version, record.content_sha256) from None
        except OutOfOrder as exc:
            raise OutOfOrderConflict(str(exc), record.version, record.content_version,
                                     record.content_sha256) from None
        self.save_and_project(record, unchanged=(supervisee,))
        return record


def relationships(supervisee: Worker, line_manager_id: str | None = None) -> Relationships:
    previous = tuple(p["supervisor_id"] for p in supervisee.previous_supervisors)
    return Relationships(str(supervisee.id), supervisee.supervisor_id, line_manager_id, previous, supervisee.state,
                         supervisee.second_supervisor_id)


def _via(user: Principal, via: Via | None) -> tuple[str, str, str]:
    via = via or Via(user.via, "local")
    return via.channel, via.client, via.stated_purpose
