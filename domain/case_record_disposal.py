"""The destruction of case supervision records at the end of their own retention period, reviewed first.

Case supervision records are kept for their own period (``record_classes.case_supervision.retention``), each
sealed with its own key, so they are destroyed on their own schedule, apart from any worker's personal file.
As for personal files, one authorised person proposes the records due on a day and a second approves the list
(``destruction_approval``) before a key is destroyed: the same reviewed list, ``domain.destruction_proposal``
(record class ``case_supervision``), kept under the organisation's key so it outlives the records it describes.
Each record's destruction, here, is started before its key goes and completed after, with its certificate, by the
same steps as a personal file's (``domain.retention.FileDestruction``, api/retention_service.py).
"""

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

# (Importing it also registers the topics the lists this module's CaseRecordDisposal stored are read under.)
from domain.destruction_proposal import CASE_SUPERVISION
from domain.errors import DomainError, OutOfOrder
from domain.labels import ACTOR_LENGTH, bounded
from domain.retention import require_due_and_approved
from domain.timestamps import require_not_before, require_utc


CASE_RECORD_CLASS = CASE_SUPERVISION.name


def case_record_destruction_id(record_id: str) -> UUID:
    """One destruction per record, derived from its id alone (svl-verify derives it the same way, so a certificate
    proves this record's own destruction event; a rerun after a crash finds it)."""
    return uuid5(NAMESPACE_URL, f"svl:case-supervision-destruction:{record_id}")


class CaseRecordDestruction(Aggregate):
    """One case supervision record's destruction under its class's own retention: started (with the checkpoint
    before and the review it was approved in) before its key is destroyed, completed (with its certificate's
    digest) after."""

    @event("CaseRecordDestructionStarted")
    def __init__(self, record_id: str, worker_id: str, key_id: str, event_count: int, rule: str, pack: str,
                 discussed_on: date, destruction_date: date, disposal_id: str, checkpoint_before: dict,
                 approval: dict, actor: str, timestamp: datetime) -> None:
        self.record_class = CASE_RECORD_CLASS
        self.record_id = record_id
        self.worker_id = worker_id
        self.key_id = key_id
        self.event_count = event_count
        self.rule = rule
        self.pack = pack
        self.discussed_on = discussed_on
        self.destruction_date = destruction_date
        self.disposal_id = disposal_id
        self.checkpoint_before = checkpoint_before
        self.approval = approval
        self.started_by = actor
        self.completed_at: datetime | None = None
        self.certificate_sha256: str | None = None

    @classmethod
    def start(cls, *, record_id: str, worker_id: str, key_id: str, event_count: int, rule: str, pack: str,
              discussed_on: date, destruction_date: date, as_of: date, disposal_id: str, checkpoint_before: dict,
              approval: dict, actor: str, timestamp: datetime) -> "CaseRecordDestruction":
        require_utc(timestamp)
        require_due_and_approved(f"case supervision record {record_id}", "a case supervision record", as_of,
                                 destruction_date, approval)
        return cls(record_id, worker_id, key_id, event_count, rule, pack, discussed_on, destruction_date, disposal_id,
                   checkpoint_before, approval, bounded(actor, ACTOR_LENGTH, "actor"), timestamp)

    @staticmethod
    def create_id(record_id: str) -> UUID:
        return case_record_destruction_id(record_id)

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    def complete(self, *, ciphertext_purged: bool, checkpoint_after: dict | None, certificate_sha256: str,
                 actor: str, timestamp: datetime) -> None:
        """The same step as a personal file's (FileDestruction.complete); case records' ciphertext is kept."""
        require_not_before(timestamp, self.modified_on)
        if self.is_complete:
            raise OutOfOrder("this destruction is already complete")
        if ciphertext_purged:
            raise DomainError("a case supervision record's ciphertext is kept (its leaf with it): only its key goes")
        self._completed(record_id=self.record_id, certificate_sha256=certificate_sha256, actor=actor,
                        timestamp=timestamp)

    @event("CaseRecordDestructionCompleted")
    def _completed(self, record_id: str, certificate_sha256: str, actor: str, timestamp: datetime) -> None:
        self.completed_at = timestamp
        self.certificate_sha256 = certificate_sha256


__all__ = ["CASE_RECORD_CLASS", "CaseRecordDestruction", "case_record_destruction_id"]
