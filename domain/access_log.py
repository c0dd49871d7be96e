"""One access-log entry: who asked to read (or change) what, on what basis, and whether it was allowed.

Each entry is its own aggregate with a single event, so logging never contends with other writers on a
shared aggregate and never needs a replay. It holds ids and reasons only, never record content, so it
is sealed with the organisation's key and outlives a worker's destroyed key.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.authorisation import Decision, Reader
from domain.timestamps import require_utc


@dataclass(frozen=True)
class AccessAttempt:
    """What the edge knows about one request when it decides."""

    action: str  # e.g. read_record, read_history, read_as_of, read_file, sign
    worker_id: str  # whose file
    record_id: str | None
    record_version: int | None
    file_state: str
    channel: str  # http | cli
    client: str  # where from: an address, or the CLI's host and process
    stated_purpose: str = ""


class AccessLogEntry(Aggregate):
    @event("AccessLogged")
    def __init__(self, reader_user_id: str, reader_username: str, reader_role: str, reader_worker_id: str | None,
                 action: str, worker_id: str, record_id: str | None, record_version: int | None, file_state: str,
                 outcome: str, basis: str, grant_id: str | None, category: str | None, purpose: str,
                 stated_purpose: str, refusal: str | None, reason: str, channel: str, client: str,
                 timestamp: datetime) -> None:
        self.__dict__.update({k: v for k, v in locals().items() if k not in ("self", "timestamp")})

    @classmethod
    def record(cls, reader: Reader, username: str, attempt: AccessAttempt, decision: Decision,
               timestamp: datetime) -> "AccessLogEntry":
        require_utc(timestamp)
        return cls(
            reader_user_id=reader.user_id, reader_username=username, reader_role=reader.role.value,
            reader_worker_id=reader.worker_id, **asdict(attempt),
            outcome="allowed" if decision.allowed else "denied", basis=decision.basis,
            grant_id=decision.grant_id, category=decision.category, purpose=decision.purpose,
            refusal=decision.refusal.value if decision.refusal else None, reason=decision.reason,
            timestamp=timestamp,
        )
