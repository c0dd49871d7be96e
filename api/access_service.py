"""Commands and queries of the access area, a service of the application (api/application.py).

Every read of record content goes through `read_record_content`: decide (domain/authorisation.py),
append an `AccessLogged` entry, and only then hand the content back. If the entry cannot be written the
read fails with `AccessLogUnavailable` and nothing is served. Refusals are logged too.
"""

import csv
import io
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, TypeVar, overload
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent
from sqlalchemy import Select, and_, or_, select, text

from api.core import Core, Service
from api.policy_service import PolicyService
from api.errors import AccessDenied, Conflict, Destroyed, NotFound
from api.ids import as_uuid

from domain.access import AccessGrant
from domain.access_log import AccessAttempt, AccessLogEntry
from domain.authorisation import (SUPERVISING_ROLES, ArchiveRule, Decision, GrantTerms, RecordParties,
                                  Refusal, Relationships, Role, decide_file_metadata, decide_read, decide_role,
                                  listing_scopes)
from domain.supervision_record import SupervisionRecord
from infrastructure.database import database_errors
from infrastructure.file_events import stored_events
from infrastructure.keys import ORGANISATION_KEY_ID, StagedKeys
from infrastructure.sealed_mapper import EventDestroyed
from infrastructure.users import Principal
from projections.access_log import access_grants, access_log
from projections.record_listing import listing_query
from projections.schema import current_records, supervision_periods

log = logging.getLogger(__name__)
T = TypeVar("T")


class AccessLogUnavailable(Exception):
    """The access log could not be written, so nothing is served (the edge answers 503)."""


@dataclass(frozen=True)
class Via:
    """Where a request came from, for the log."""

    channel: str  # http | cli
    client: str
    stated_purpose: str = ""


@dataclass(frozen=True)
class AccessLogFilter:
    record_id: str | None = None
    worker_id: str | None = None
    reader: str | None = None  # username or user id
    grant_id: str | None = None
    purpose: str | None = None  # matches the grant's purpose or the reader's stated purpose
    category: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000
    offset: int = 0


EXPORT_COLUMNS = [c.name for c in access_log.columns]
ACCESS_LOG_READERS = frozenset({Role.DPO, Role.INSPECTOR})


class AccessService(Service):
    """Grants, every read of content (decided, then logged), and the access log. Uses the core and policy."""

    # Switched off only by benchmarks/api.py, to measure what logging costs. Never in the product.
    log_reads: bool = True
    # Earlier versions of records replayed from the hot standby (SVL_STANDBY_DATABASE_URL), in this process.
    records_read_from_standby: int = 0

    def __init__(self, core: Core, policy: PolicyService) -> None:
        super().__init__(core)
        self.policy = policy


    # -- access grants ---------------------------------------------------------------------------------

    def grant_access(self, *, grantor: Principal, grantee: str, purpose: str, category: str, scope_kind: str,
                     scope_id: str, expires_at: datetime) -> UUID:
        """An administrator lets a named person read within a scope, for a stated purpose, until expiry."""
        self.require(grantor, decide_role(grantor.reader, {Role.ADMINISTRATOR}, "grant access"))
        person = self.users.require(grantee)
        self._require_scope_target(scope_kind, scope_id)
        grant = AccessGrant.grant(
            grantee_user_id=person["user_id"], grantee_username=person["username"], grantee_role=person["role"],
            purpose=purpose, category=category, scope_kind=scope_kind, scope_id=scope_id, expires_at=expires_at,
            granted_by_user_id=grantor.user_id, granted_by_role=grantor.role.value,
            timestamp=self.clock())
        keys = self.storage.keyring.stage_assignment(grant.id, ORGANISATION_KEY_ID)
        self.save_and_project(grant, keys=keys)
        return grant

    def revoke_grant(self, grant_id: UUID | str, reason: str, *, actor: Principal,
                     expected_version: int | None = None) -> AccessGrant:
        self.require(actor, decide_role(actor.reader, {Role.ADMINISTRATOR}, "revoke a grant"))
        grant = self.get_grant(grant_id)
        if expected_version is not None and grant.version != expected_version:
            raise Conflict(f"the grant is at version {grant.version}, not {expected_version}", grant.version)
        grant.revoke(reason, actor=actor.user_id, actor_role=actor.role.value,
                     timestamp=self.clock())
        self.save_and_project(grant)
        return grant

    def get_grant(self, grant_id: UUID | str) -> AccessGrant:
        try:
            grant = self.repository.get(as_uuid(grant_id, "access grant"))
        except AggregateNotFoundError:
            raise NotFound(f"no access grant {grant_id}") from None
        if not isinstance(grant, AccessGrant):
            raise NotFound(f"no access grant {grant_id}")
        return grant

    def grants_of(self, user_id: str) -> list[GrantTerms]:
        """The reader's grants as they stand now: the index finds them, each aggregate says if it is live."""
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            ids = conn.execute(select(access_grants.c.grant_id)
                               .where(access_grants.c.grantee_user_id == user_id)).scalars().all()
        return [self.get_grant(gid).terms() for gid in ids]

    def grants_visible_to(self, user: Principal) -> list[dict]:
        """Administrators see every grant; everyone else sees the grants made to them."""
        return self.list_grants(None if user.role is Role.ADMINISTRATOR else user.user_id)

    def list_grants(self, grantee_user_id: str | None = None) -> list[dict]:
        self.read_models.refresh()
        query = select(access_grants).order_by(access_grants.c.granted_at)
        if grantee_user_id is not None:
            query = query.where(access_grants.c.grantee_user_id == grantee_user_id)
        with self.storage.reads.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    @property
    def archive_rule(self) -> ArchiveRule:
        archive = self.policy.policy_pack.archive_access
        return ArchiveRule(frozenset(r.value for r in archive.roles), archive.purpose_required)

    # -- relationships, decided now ---------------------------------------------------------------------

    def relationships_of(self, worker_id: str) -> Relationships:
        """From the worker aggregates, not a read model: a transfer counts the moment it is recorded."""
        worker = self.get_worker(worker_id)
        line_manager = None
        if worker.supervisor_id is not None:
            line_manager = self.get_worker(worker.supervisor_id).supervisor_id
        previous = tuple(p["supervisor_id"] for p in worker.previous_supervisors)
        return Relationships(str(worker.id), worker.supervisor_id, line_manager, previous, worker.state,
                             worker.second_supervisor_id)

    # -- reads of content: decide, log, then serve --------------------------------------------------------

    @overload
    def read_record_content(self, who: Principal, record_id: UUID | str, *, action: str, via: Via,
                            version: int | None = None, as_of: datetime | None = None
                            ) -> tuple[SupervisionRecord, Decision]: ...

    @overload
    def read_record_content(self, who: Principal, record_id: UUID | str, *, action: str, via: Via,
                            version: int | None = None, as_of: datetime | None = None,
                            render: "Callable[[SupervisionRecord, Decision], T]") -> T: ...

    def read_record_content(self, who: Principal, record_id: UUID | str, *, action: str, via: Via,
                            version: int | None = None, as_of: datetime | None = None,
                            render: "Callable[[SupervisionRecord, Decision], Any] | None" = None) -> Any:
        """The record (current, at `version`, or as of a moment), once the read is allowed and logged. With
        `render`, the answer it makes of the record instead: made while the entry is being written (so the
        write's fsync overlaps it), and returned only once the entry is durable."""
        # Destroyed keys looked for once for the loads the decision rests on, as for a command's (_record_step).
        with self.storage.keyring.one_look():
            record = self.get_record(record_id)
            rel = self.relationships_of(record.supervisee_id)
        now = self.clock()
        decision = decide_read(who.reader, rel, self.grants_for(who, rel), now, _parties(record),
                               archive=self.archive_rule, stated_purpose=via.stated_purpose)
        target = self._version_to_read(record, version, as_of) if decision.allowed else record
        attempt = AccessAttempt(action, record.supervisee_id, str(record.id), target.version, rel.file_state,
                                via.channel, via.client, via.stated_purpose)
        pending = self._begin_logging(who, attempt, decision, now)
        if not decision.allowed or render is None:
            self._logged(pending, attempt)
            if not decision.allowed:
                raise AccessDenied(decision, logged=self.log_reads)
            return target, decision
        try:
            answer = render(target, decision)
        finally:  # whatever rendering did, nothing leaves before the entry is durable
            self._logged(pending, attempt)
        return answer

    def open_worker_file(self, who: Principal, worker_id: UUID | str, *, via: Via) -> dict:
        """The file's index: supervision periods and records (no content). Logged like a read."""
        worker = self.get_worker(worker_id)
        rel = self.relationships_of(str(worker.id))
        now = self.clock()
        decision = decide_file_metadata(who.reader, rel, self.grants_for(who, rel), now, self.archive_rule,
                                        via.stated_purpose)
        self.log_access(who, AccessAttempt("read_file", rel.worker_id, None, worker.version, rel.file_state,
                                           via.channel, via.client, via.stated_purpose), decision, now)
        if not decision.allowed:
            raise AccessDenied(decision, logged=self.log_reads)
        return {"worker": worker, "relationships": rel, "decision": decision,
                "records": self._file_records(rel.worker_id), "periods": self._file_periods(rel.worker_id)}

    def log_access(self, who: Principal, attempt: AccessAttempt, decision: Decision,
                   at: datetime | None = None) -> None:
        """Durable before anything is served: a failure here means the caller serves nothing."""
        self._logged(self._begin_logging(who, attempt, decision, at), attempt)

    def _begin_logging(self, who: Principal, attempt: AccessAttempt, decision: Decision,
                       at: datetime | None = None) -> "_Pending | None":
        """The entry is queued for writing; `_logged` waits until it is durable."""
        if not self.log_reads:
            return None
        entry = AccessLogEntry.record(who.reader, who.username, attempt, decision,
                                      at or self.clock())
        try:
            return self._log_writer.begin(entry)
        except Exception as exc:
            raise self._unavailable(attempt, exc) from exc

    def _logged(self, pending: "_Pending | None", attempt: AccessAttempt) -> None:
        if pending is None:
            return
        try:
            pending.wait()
        except Exception as exc:
            raise self._unavailable(attempt, exc) from exc

    @staticmethod
    def _unavailable(attempt: AccessAttempt, exc: Exception) -> AccessLogUnavailable:
        log.error("access log write failed: refusing to serve %s of %s", attempt.action,
                  attempt.record_id or attempt.worker_id, exc_info=exc)
        return AccessLogUnavailable("the access log cannot be written just now, so nothing is served; "
                                    "try again later")

    def close(self) -> None:
        if "_log_writer" in self.__dict__:
            self._log_writer.close()

    @cached_property
    def _log_writer(self) -> "GroupCommit":
        return GroupCommit(self._store_log_entries, then=self._after_log_entries)

    def _write_log_entries(self, entries: list[AccessLogEntry]) -> None:
        self._after_log_entries(self._store_log_entries(entries))

    def _store_log_entries(self, entries: list[AccessLogEntry]) -> list[Any]:
        """One transaction: the entries, their ledger leaves and their key assignments (organisation key)."""
        keyring = self.storage.keyring
        staged = StagedKeys(new_keys=[], assignments=[
            pair for entry in entries
            for pair in keyring.stage_assignment(entry.id, ORGANISATION_KEY_ID).assignments])
        try:
            recordings = self.save(*entries, svl_keys=staged)
        except Exception:
            keyring.unstage(staged)
            raise
        return recordings

    def _after_log_entries(self, recordings: list[Any]) -> None:
        """The entries are durable, and their readers already served: projecting them can wait for the next
        catch-up (queries catch up first), and an automatic checkpoint they make due is signed meanwhile."""
        try:
            if getattr(self, "background_projections", False):
                self.read_models.poke([(r.notification.id, r.domain_event) for r in recordings])
        except Exception:
            log.exception("waking the projector failed after access-log entries; the entries are stored")
        for hook in self.after_save:
            try:
                hook(recordings)
            except Exception:
                log.exception("after-save hook failed after access-log entries; the entries are stored")

    def readable_records(self, who: Principal) -> list[dict]:
        """Rows of the records `who` may read now (an index: each read is still decided and logged)."""
        self.see_own_writes()
        scopes = listing_scopes(who.reader, self.grants_of(who.user_id), self.clock(), lambda: self.archive_rule)
        if not scopes:
            return []
        sql, params = listing_query(scopes)
        with self.storage.reads.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql).columns(*current_records.c), params)]

    def unsigned_records_of(self, worker_id: str) -> list[dict]:
        """Records not yet signed by both: a transfer freezes these (see domain/authorisation.py)."""
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            rows = conn.execute(select(current_records.c.record_id, current_records.c.state,
                                       current_records.c.session_date, current_records.c.supervisor_id)
                                .where(current_records.c.supervisee_id == worker_id,
                                       current_records.c.state != "locked")
                                .order_by(current_records.c.session_date)).all()
        return [dict(r._mapping) for r in rows]

    # -- the access log ------------------------------------------------------------------------------------

    def access_log_entries(self, user: Principal, f: AccessLogFilter) -> list[dict]:
        self.require(user, decide_role(user.reader, ACCESS_LOG_READERS, "read the access log"))
        return self._log_entries(f)

    def _log_entries(self, f: AccessLogFilter) -> list[dict]:
        self.read_models.refresh()
        query = _filtered(select(access_log), f).order_by(access_log.c.at, access_log.c.entry_id)
        with self.storage.reads.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.limit(f.limit).offset(f.offset))]
        return [{**r, "at": aware(r["at"])} for r in rows]

    def access_log_for_worker(self, worker_id: str) -> list[dict]:
        """Who read this worker's records and file, and why (the supervisee's own view; SAR exports)."""
        return self._log_entries(AccessLogFilter(worker_id=worker_id, limit=100_000))

    def access_log_flags(self, user: Principal, since: datetime | None = None, until: datetime | None = None,
                         many_reads_per_day: int = 50) -> list[dict]:
        """What an inspector looks for: attempts outside a grant's scope or after its expiry or revocation,
        reads of a leaver's file, a former supervisor reading after a transfer, unusually many reads."""
        self.require(user, decide_role(user.reader, ACCESS_LOG_READERS, "read the access log"))
        self.read_models.refresh()
        f = AccessLogFilter(since=since, until=until)
        flagged = _filtered(select(access_log), f).where(or_(
            access_log.c.refusal.in_([r.value for r in _FLAGGED_REFUSALS]),
            and_(access_log.c.outcome == "allowed", access_log.c.file_state.in_(["left", "archived"])),
        )).order_by(access_log.c.at)
        with self.storage.reads.connect() as conn:
            flags = [_flag(dict(r._mapping)) for r in conn.execute(flagged)]
            flags += self._many_reads(conn, f, many_reads_per_day)
        return sorted(flags, key=lambda fl: (str(fl["at"]), fl["kind"]))

    # -- helpers ----------------------------------------------------------------------------------------------

    def grants_for(self, who: Principal, rel: Relationships) -> list[GrantTerms]:
        # Staff reading within their own relationship need no grant lookup.
        if who.role in SUPERVISING_ROLES or who.role is Role.SUPERVISEE:
            if who.worker_id in (rel.worker_id, rel.current_supervisor_id, rel.line_manager_id) \
                    and rel.file_state != "archived":
                return []
        return self.grants_of(who.user_id)

    def _version_to_read(self, record: SupervisionRecord, version: int | None,
                         as_of: datetime | None) -> SupervisionRecord:
        if as_of is not None:
            # The record exactly as it stood then: replayed up to the last event recorded by that moment.
            versions = [e.originator_version for e in self.record_events(record.id) if e.timestamp <= as_of]
            if not versions:
                raise NotFound(f"record {record.id} did not exist yet at {as_of.isoformat()}")
            if versions[-1] < record.version:
                return self._past_version(record.id, versions[-1])
            return self.get_record(record.id, version=versions[-1])
        if version is not None:
            if not 1 <= version <= record.version:
                raise NotFound(f"record {record.id} has versions 1 to {record.version}, not {version}")
            if version < record.version:
                return self._past_version(record.id, version)
            return self.get_record(record.id, version=version)
        return record

    def _past_version(self, record_id: UUID, version: int) -> SupervisionRecord:
        """An earlier version, replayed from the hot standby's copy of its events when the standby has replayed
        every one of them (stored events never change; a purge only empties what a destroyed key sealed), else
        from the primary. What is read from the standby is only sealed bytes: the keys that open them are the
        primary's (a file destroyed there stays unreadable, whatever the standby still holds), and so are the
        decision and the access-log entry, written before the record is returned (read_record_content)."""
        standby = self.integrity.standby
        if standby is not None:
            try:
                with standby[0].engine.connect() as conn:
                    rows = sorted((r for r in stored_events(conn, self.integrity.events, [str(record_id)])
                                   if r.version <= version), key=lambda r: r.version)
                if [r.version for r in rows] == list(range(1, version + 1)):
                    aggregate = None
                    for r in rows:
                        aggregate = self.mapper.to_domain_event(StoredEvent(
                            UUID(r.originator_id), r.version, r.topic, r.state)).mutate(aggregate)
                    if isinstance(aggregate, SupervisionRecord):
                        self.records_read_from_standby += 1
                        return aggregate
            except EventDestroyed:
                raise Destroyed(f"supervision record {record_id} was destroyed under the retention schedule") \
                    from None
            except database_errors() as exc:
                log.warning("the standby could not serve a past version (%s): the primary does", type(exc).__name__)
        return self.get_record(record_id, version=version)

    def _require_scope_target(self, scope_kind: str, scope_id: str) -> None:
        if scope_kind == "record":
            self.get_record(scope_id)
        elif scope_kind in ("worker_file", "team"):
            self.get_worker(scope_id)

    def _file_records(self, worker_id: str) -> list[dict]:
        with self.storage.reads.connect() as conn:
            rows = conn.execute(select(current_records).where(current_records.c.supervisee_id == worker_id)
                                .order_by(current_records.c.session_date, current_records.c.record_id)).all()
        return [dict(r._mapping) for r in rows]

    def _file_periods(self, worker_id: str) -> list[dict]:
        with self.storage.reads.connect() as conn:
            rows = conn.execute(select(supervision_periods).where(supervision_periods.c.worker_id == worker_id)
                                .order_by(supervision_periods.c.started_version)).all()
        return [dict(r._mapping) for r in rows]

    def _many_reads(self, conn: Any, f: AccessLogFilter, threshold: int) -> list[dict]:
        # Counted per UTC day here rather than in SQL, so both backends agree on where a day ends.
        query = (_filtered(select(access_log.c.reader_user_id, access_log.c.reader_username, access_log.c.at), f)
                 .where(access_log.c.outcome == "allowed", access_log.c.record_id.is_not(None)))
        days: dict[tuple[str, str, str], list[datetime]] = {}
        for r in conn.execute(query):
            at = aware(r.at)
            days.setdefault((r.reader_user_id, r.reader_username, at.date().isoformat()), []).append(at)
        return [{"kind": "many_reads", "at": min(ats), "reader_user_id": user_id, "reader_username": username,
                 "record_id": None, "worker_id": None, "entry_id": None, "grant_id": None,
                 "detail": f"{len(ats)} record reads on {day} (more than {threshold} in a day)"}
                for (user_id, username, day), ats in days.items() if len(ats) > threshold]


class GroupCommit:
    """Entries logged at the same moment by concurrent readers share one transaction (one fsync). A writer
    thread of its own writes whatever is queued, one batch at a time, so a reader goes on preparing its answer
    while its entry is written (`begin`), and hands the answer out only once its own entry is durable
    (`_Pending.wait`), or raises what the write raised. `then` gets what a successful write returned, once the
    batch's readers are released (what follows a write, e.g. a checkpoint, keeps no reader waiting). The thread
    ends when idle and starts again when needed."""

    def __init__(self, write: Callable[[list[Any]], Any], max_batch: int = 64, idle_seconds: float = 2.0,
                 then: Callable[[Any], None] | None = None) -> None:
        self.write = write
        self.then = then
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: list[_Pending] = []
        self._writer: threading.Thread | None = None
        self._closed = False
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # the writer waits here for entries
        self._done = threading.Condition(lock)  # readers wait here for their batch's outcome

    def submit(self, item: Any) -> None:
        self.begin(item).wait()

    def begin(self, item: Any) -> "_Pending":
        """Queues the item for the next write and returns at once; `wait()` on the result before serving."""
        pending = _Pending(item, self._done)
        with self._work:
            if self._closed:
                raise RuntimeError("the access log is closed")
            self._queue.append(pending)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_queued, name="access-log writer", daemon=True)
                self._writer.start()
            else:
                self._work.notify()
        return pending

    def close(self) -> None:
        """Writes what is queued, then stops the writer thread."""
        with self._work:
            self._closed = True
            self._work.notify()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def _write_queued(self) -> None:
        with self._work:
            while True:
                if not self._queue:
                    if self._closed or not self._work.wait(self.idle_seconds) and not self._queue:
                        self._writer = None
                        return
                    continue
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
                self._work.release()
                try:
                    error, written = self._write(batch)
                finally:
                    self._work.acquire()
                for pending in batch:
                    pending.finished, pending.error = True, error
                self._done.notify_all()
                if error is None and self.then is not None:
                    self._work.release()
                    try:
                        self.then(written)
                    except Exception:
                        log.exception("what follows an access-log write failed; the entries are stored")
                    finally:
                        self._work.acquire()

    def _write(self, batch: list["_Pending"]) -> tuple[BaseException | None, Any]:
        try:
            return None, self.write([p.item for p in batch])
        except BaseException as exc:  # even an interrupt must release the waiting readers
            return exc, None


class _Pending:
    __slots__ = ("item", "finished", "error", "_done")

    def __init__(self, item: Any, done: threading.Condition) -> None:
        self.item = item
        self.finished = False
        self.error: BaseException | None = None
        self._done = done

    def wait(self) -> None:
        """Returns once the item is durable; raises what its write raised."""
        with self._done:
            while not self.finished:
                self._done.wait()
        if self.error is not None:
            raise self.error


_FLAGGED_REFUSALS = (Refusal.OUTSIDE_GRANT_SCOPE, Refusal.GRANT_EXPIRED, Refusal.GRANT_REVOKED,
                     Refusal.FORMER_SUPERVISOR)
_FLAG_KINDS = {
    Refusal.OUTSIDE_GRANT_SCOPE.value: ("outside_grant_scope", "attempted a read outside the scope of their grants"),
    Refusal.GRANT_EXPIRED.value: ("after_grant_expiry", "attempted a read after their grant expired"),
    Refusal.GRANT_REVOKED.value: ("after_grant_revocation", "attempted a read after their grant was revoked"),
    Refusal.FORMER_SUPERVISOR.value: ("supervisor_after_transfer",
                                      "a former supervisor attempted to read after the worker's transfer"),
}


def _flag(row: dict) -> dict:
    kind, detail = _FLAG_KINDS.get(row["refusal"] or "", ("leaver_file_read",
                                                           f"read of a leaver's {row['file_state']} file"))
    return {"kind": kind, "at": aware(row["at"]), "reader_user_id": row["reader_user_id"],
            "reader_username": row["reader_username"], "record_id": row["record_id"], "worker_id": row["worker_id"],
            "entry_id": row["entry_id"], "grant_id": row["grant_id"], "detail": f"{detail} ({row['action']})"}


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _filtered(query: Select, f: AccessLogFilter) -> Select:
    c = access_log.c
    conditions = [
        (f.record_id, lambda v: c.record_id == v),
        (f.worker_id, lambda v: c.worker_id == v),
        (f.reader, lambda v: or_(c.reader_username == v, c.reader_user_id == v)),
        (f.grant_id, lambda v: c.grant_id == v),
        (f.purpose, lambda v: or_(c.purpose.contains(v, autoescape=True),
                                  c.stated_purpose.contains(v, autoescape=True))),
        (f.category, lambda v: c.category == v),
        (f.outcome, lambda v: c.outcome == v),
        (f.since, lambda v: c.at >= v),
        (f.until, lambda v: c.at < v),
    ]
    for value, condition in conditions:
        if value is not None:
            query = query.where(condition(value))
    return query


def _parties(record: SupervisionRecord) -> RecordParties:
    return RecordParties(str(record.id), record.supervisee_id, record.supervisor_id)


def to_csv(rows: Iterable[dict], columns: Sequence[str] = EXPORT_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # spreadsheet formula injection: an inspector opens this in a spreadsheet
    return value


__all__ = ["AccessDenied", "AccessLogFilter", "AccessLogUnavailable", "AccessService", "Via", "to_csv"]
