"""Commands and queries of allocation, a service of the application (api/application.py): a worker's standing,
a second supervisor where the pack names one, departures from the allocation rules agreed by the role the pack
names, and what the due view shows of them (breaches, and whose turn the next session is).

The rules are domain/allocation.py's; this module loads the copies they judge and saves what they allow.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from sqlalchemy import Connection, select

from api.access_service import AccessService
from api.core import Core, Service
from api.errors import AccessDenied
from api.policy_service import PolicyService
from domain.allocation import (
    Breach, Standing, Turn, allocation_breaches, check_exception, check_second_supervisor, next_supervisor,
    ratio_breach, uncovered,
)
from domain.authorisation import (Refusal, Role, SupervisorCandidate, decide_allocation, decide_allocation_exception,
                                  decide_role)
from domain.compliance import Issue, WorkerFacts
from domain.errors import DomainError
from domain.policy import PolicyPack
from domain.workers import Worker
from infrastructure.users import Principal
from projections.allocation import (AllocationFacts, allocation_exceptions, load_allocation,
                                   second_supervisees_of, supervisees_on)
from projections.schema import workers
from projections.supervision_compliance import Scope, active_workers, cutoff_for

HR = frozenset({Role.ADMINISTRATOR})
ALLOCATION_READERS = frozenset({Role.ADMINISTRATOR, Role.MANAGER})


@dataclass(frozen=True)
class Transfer:
    worker: Worker
    frozen_records: list[dict]


@dataclass(frozen=True)
class AgreedException:
    worker_id: str
    supervisor_id: str
    rules: tuple[str, ...]
    reason: str
    agreed_by: str  # the actor: the agreer's worker id
    agreed_at: str  # ISO 8601


@dataclass(frozen=True)
class AllocationView:
    """What the due view adds for allocation, per worker id."""

    facts: list[WorkerFacts]  # with records drafted by a second supervisor no longer taken as frozen
    issues: dict[str, list[Issue]]
    turns: dict[str, Turn]


class AllocationService(Service):
    """Supervisors, transfers, second supervisors, standing and agreed departures. Uses the core, access (a
    transfer answers with the records it froze) and policy (the allocation rules of the pack)."""

    def __init__(self, core: Core, access: AccessService, policy: PolicyService) -> None:
        super().__init__(core)
        self.access = access
        self.policy = policy


    # -- commands (HR) -----------------------------------------------------------------------------------

    def allocate_supervisor(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str, *,
                            expected_version: int | None = None) -> Worker:
        worker, supervisor = self._allocation(user, worker_id, supervisor_id, expected_version)
        worker.allocate_supervisor(str(supervisor.id), actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker, unchanged=(supervisor,))
        return worker

    def transfer_worker(self, user: Principal, worker_id: UUID | str, new_supervisor_id: UUID | str, reason: str, *,
                        expected_version: int | None = None) -> Transfer:
        """The records not yet signed by both are frozen as they are (domain/authorisation.py); the answer
        lists them, read before the transfer is stored so that the answer needs no read after it."""
        worker, supervisor = self._allocation(user, worker_id, new_supervisor_id, expected_version)
        worker.transfer(str(supervisor.id), reason, actor=user.actor, timestamp=self.clock())
        frozen = self.access.unsigned_records_of(str(worker.id))
        self.save_and_project(worker, unchanged=(supervisor,))
        return Transfer(worker, frozen)

    def _allocation(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str,
                    expected_version: int | None) -> tuple[Worker, Worker]:
        self.require(user, decide_role(user.reader, HR, "allocate or transfer supervisors"))
        worker = self.get_worker(worker_id, expected_version)
        supervisor = self.get_worker(supervisor_id)
        candidate = SupervisorCandidate(str(supervisor.id), supervisor.state, supervisor.supervisor_id,
                                        self.users.account_roles_of_worker(str(supervisor.id)))
        decision = decide_allocation(user.reader, str(worker.id), candidate)
        if not decision.allowed:
            raise DomainError(decision.reason) if decision.refusal is Refusal.ALLOCATION else AccessDenied(decision)
        self._check_allocation_rules(worker, supervisor)
        return worker, supervisor

    def supervisees_of(self, supervisor_id: str) -> list[str]:
        self.read_models.refresh()
        with self.storage.reads.connect() as conn:
            return list(conn.execute(select(workers.c.worker_id).where(workers.c.supervisor_id == supervisor_id))
                        .scalars())

    def record_standing(self, user: Principal, worker_id: UUID | str, *, level: int | None = None,
                        registered: bool | None = None, supervising_since: date | None = None,
                        expected_version: int | None = None) -> Worker:
        """HR records a person's level in the line management structure, registration and since when they
        supervise: what the pack's allocation rules are judged on."""
        self.require(user, decide_role(user.reader, HR, "record a member of staff's standing"))
        worker = self.get_worker(worker_id, expected_version)
        worker.record_standing(level=level, registered=registered, supervising_since=supervising_since,
                               actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker)
        return worker

    def allocate_second_supervisor(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str, *,
                                   expected_version: int | None = None) -> Worker:
        """The second supervisor the pack names (bcp: the ASYE assessor/mentor; school-trust: the outside
        provider): they hold and record sessions as the line manager does."""
        worker, supervisor = self._allocation(user, worker_id, supervisor_id, expected_version)
        rule = check_second_supervisor(self.policy.compliance_pack(), worker.category)
        worker.allocate_second_supervisor(str(supervisor.id), rule.title or "", actor=user.actor,
                                          timestamp=self.clock())
        self.save_and_project(worker, unchanged=(supervisor,))
        return worker

    def end_second_supervision(self, user: Principal, worker_id: UUID | str, reason: str, *,
                               expected_version: int | None = None) -> Worker:
        self.require(user, decide_role(user.reader, HR, "end a second supervision"))
        worker = self.get_worker(worker_id, expected_version)
        worker.end_second_supervision(reason, actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker)
        return worker

    # -- commands (the role the pack names: bcp's Service Manager) -------------------------------------------

    def agree_allocation_exception(self, user: Principal, worker_id: UUID | str, supervisor_id: UUID | str,
                                   rules: list[str], reason: str, *, expected_version: int | None = None) -> Worker:
        """A departure from the allocation rules, agreed by the person acting (whose job title must be the role
        the pack names) and recorded in the worker's file with the reason."""
        self.require(user, decide_allocation_exception(user.reader))
        pack = self.policy.compliance_pack()
        worker = self.get_worker(worker_id, expected_version)
        supervisor = self.get_worker(supervisor_id)
        agreer = self.get_worker(user.worker_id or "")
        agreed = check_exception(pack, rules, agreer.role if agreer.state == "active" else None, reason)
        worker.agree_allocation_exception(str(supervisor.id), agreed, reason.strip(),
                                          agreed_by_role=pack.allocation.exception_agreed_by or "",
                                          actor=user.actor, timestamp=self.clock())
        self.save_and_project(worker, unchanged=(agreer,))
        return worker

    # -- queries (HR, and managers: the role a pack names to agree departures is a manager's job title) ----------

    def current_allocation_breaches(self, user: Principal) -> list[Breach]:
        """Every allocation in force today (line manager and second supervisor) and what it departs from, no
        exception covering it: the list a departure is agreed from."""
        self.require(user, decide_role(user.reader, ALLOCATION_READERS, "see the allocation breaches"))
        self.see_own_writes()
        with self.storage.engine.connect() as conn:
            rows = conn.execute(select(workers.c.worker_id, workers.c.supervisor_id).where(
                workers.c.state == "active", workers.c.supervisor_id.is_not(None))).all()
        found: list[Breach] = []
        for worker_id, line_manager in rows:
            worker = self.get_worker(worker_id)
            found += self.allocation_departures(worker, self.get_worker(line_manager))
            if worker.second_supervisor_id:  # the ratio counts line management only, as the due view does
                found += [b for b in self.allocation_departures(worker, self.get_worker(worker.second_supervisor_id))
                          if b.rule != "ratio"]
        return found

    def agreed_allocation_exceptions(self, user: Principal) -> list[AgreedException]:
        """The departures agreed for allocations in force today (line manager or second supervisor), as recorded
        in each worker's file: the rules, the reason, who agreed it and when. The readers of the breaches."""
        self.require(user, decide_role(user.reader, ALLOCATION_READERS, "see the allocation exceptions"))
        self.see_own_writes()
        with self.storage.reads.connect() as conn:
            ids = conn.execute(select(allocation_exceptions.c.worker_id).distinct().join(
                workers, workers.c.worker_id == allocation_exceptions.c.worker_id).where(
                workers.c.state == "active").order_by(allocation_exceptions.c.worker_id)).scalars().all()
        agreed = []
        for worker_id in ids:
            worker = self.get_worker(worker_id)
            in_force = {worker.supervisor_id, worker.second_supervisor_id} - {None}
            agreed += [AgreedException(str(worker.id), e["supervisor_id"], tuple(e["rules"]), e["reason"],
                                       e["agreed_by"], e["agreed_at"])
                       for e in worker.allocation_exceptions if e["supervisor_id"] in in_force]
        return sorted(agreed, key=lambda e: e.agreed_at, reverse=True)

    # -- the rules at allocation ---------------------------------------------------------------------------------

    def allocation_departures(self, worker: Worker, supervisor: Worker) -> list[Breach]:
        """What making `supervisor` this worker's supervisor today would depart from, no exception covering it."""
        pack = self.policy.compliance_pack()
        today = self.clock().date()
        found = allocation_breaches(pack, standing_of(worker), standing_of(supervisor), today)
        with self.storage.reads.connect() as conn:
            team = set(conn.execute(select(workers.c.worker_id).where(
                workers.c.supervisor_id == str(supervisor.id), workers.c.state == "active")).scalars())
        ratio = ratio_breach(pack, str(supervisor.id), team | {str(worker.id)})
        if ratio is not None:
            found.append(replace(ratio, supervisee_id=str(worker.id)))
        return uncovered(found, {(str(worker.id), str(supervisor.id)): worker.excepted_rules(str(supervisor.id))})

    def _check_allocation_rules(self, worker: Worker, supervisor: Worker) -> None:
        """Where the pack refuses a departing allocation, it is refused unless an exception was agreed first."""
        pack = self.policy.compliance_pack()
        if pack.allocation.on_breach != "refuse":
            return  # "flag": allowed, and shown on the due view until an exception covers it
        departures = self.allocation_departures(worker, supervisor)
        if departures:
            who = (pack.allocation.exception_agreed_by or "").replace("_", " ")
            raise DomainError(f"{pack.short_name} refuses this allocation: " + "; ".join(b.text for b in departures)
                              + f". A departure needs an exception agreed by the {who} first")

    def second_supervisees_of(self, supervisor_id: str) -> list[str]:
        self.read_models.catch_up()
        with self.storage.reads.connect() as conn:
            return second_supervisees_of(conn, supervisor_id)



def allocation_view(conn: Connection, pack: PolicyPack, day: date, facts: list[WorkerFacts],
                    worker_names: Callable[[set[str]], dict[str, str]]) -> AllocationView:
    """What the due view adds for allocation: breaches of the pack's rules and whose turn it is, for the workers
    of `facts` (as supervisee or as supervisor)."""
    known = load_allocation(conn, day)
    involved = _involved(conn, day, facts, known)
    facts = [_unfrozen(f, known.second.get(f.worker_id)) for f in facts]
    standing = {w["worker_id"]: _standing(w, known) for w in involved}
    issues: dict[str, list[Issue]] = {}
    breaches: list[Breach] = []
    teams: dict[str, set[str]] = {}
    for w in involved:
        wid = w["worker_id"]
        for supervisor in (w["supervisor_id"], known.second.get(wid)):
            if supervisor in standing:
                breaches += allocation_breaches(pack, standing[wid], standing[supervisor], day)
        if w["supervisor_id"]:
            teams.setdefault(w["supervisor_id"], set()).add(wid)
    shown = {f.worker_id for f in facts}
    for supervisor, team in teams.items():
        if supervisor not in shown:
            continue  # only part of their team is involved
        covered = {wid for wid in team if "ratio" in known.exceptions.get((wid, supervisor), frozenset())}
        ratio = ratio_breach(pack, supervisor, team, covered)
        if ratio is not None:
            breaches.append(ratio)
    standing_breaches = [b for b in uncovered(breaches, known.exceptions)
                         if b.supervisee_id in shown or b.supervisor_id in shown]
    names = worker_names({p for b in standing_breaches for p in (b.supervisee_id, b.supervisor_id) if p})
    who = (pack.allocation.exception_agreed_by or "").replace("_", " ")
    needs = f"needs an exception agreed by the {who} ({pack.cite(pack.allocation)})"
    for b in standing_breaches:
        if b.supervisee_id:
            issues.setdefault(b.supervisee_id, []).append(Issue(
                "allocation_breach", "warning", f"allocation to {names.get(b.supervisor_id, '-')}: {b.text}; "
                                                f"{needs}", ref=b.supervisor_id))
            issues.setdefault(b.supervisor_id, []).append(Issue(
                "allocation_breach", "warning", f"as supervisor of {names.get(b.supervisee_id, '-')}: {b.text}; "
                                                f"{needs}", ref=b.supervisee_id))
        else:
            issues.setdefault(b.supervisor_id, []).append(Issue(
                "allocation_breach", "warning", f"{b.text}; {needs} for each supervisee beyond "
                                                f"{pack.allocation.ratio.most if pack.allocation.ratio else 0}"))
    turns = {}
    for w in involved:
        if w["worker_id"] not in shown:
            continue
        turn = next_supervisor(pack, category=w["category"], start_date=w["start_date"],
                               line_manager=w["supervisor_id"], second=known.second.get(w["worker_id"]),
                               last_held_by=known.last_held_by.get(w["worker_id"]), on=day)
        if turn is not None:
            turns[w["worker_id"]] = turn
            issues.setdefault(w["worker_id"], []).append(Issue("next_supervisor", "info", turn.text,
                                                               ref=turn.supervisor_id))
    return AllocationView(facts, issues, turns)


def _involved(conn: Connection, day: date, facts: list[WorkerFacts], known: AllocationFacts) -> list[dict]:
    """The workers of `facts` (in their order), then their supervisors and supervisees in post on the day: a
    team's view judges the pairings that involve the team, not the whole organisation's."""
    rows = {f.worker_id: {"worker_id": f.worker_id, "category": f.category, "start_date": f.start_date,
                          "supervisor_id": f.supervisor_id} for f in facts}
    end_of_day = cutoff_for(day)
    wanted = ({f.supervisor_id for f in facts} | {known.second.get(f.worker_id) for f in facts}
              | supervisees_on(conn, rows, end_of_day) | {w for w, s in known.second.items() if s in rows})
    missing = tuple(sorted(w for w in wanted if w is not None and w not in rows))
    return [*rows.values(), *(active_workers(conn, day, end_of_day, Scope(worker_ids=missing)) if missing else ())]


def standing_of(worker: Worker) -> Standing:
    return Standing(str(worker.id), worker.category, worker.level, worker.registered, worker.supervising_since)


def _standing(row: dict, known: AllocationFacts) -> Standing:
    level, registered, since = known.standing.get(row["worker_id"], (None, None, None))
    return Standing(row["worker_id"], row["category"], level, registered, since)


def _unfrozen(facts: WorkerFacts, second: str | None) -> WorkerFacts:
    """A record drafted by the worker's second supervisor is in hand, not frozen at a transfer."""
    if second is None or not any(r.frozen and r.drafted_by == second for r in facts.open_records):
        return facts
    return replace(facts, open_records=tuple(replace(r, frozen=False) if r.drafted_by == second else r
                                             for r in facts.open_records))


__all__ = ["AllocationService", "AllocationView", "standing_of"]
