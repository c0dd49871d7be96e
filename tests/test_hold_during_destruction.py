"""A legal hold placed on a file at the same instant as the retention run that destroys it: two applications on
one database (as the server and `svl retention run` in another process would be), each command in its own thread,
released together by a barrier. Whichever wins, exactly one of these is true afterwards: the hold was refused
(the file is being destroyed) and the file is destroyed, or the hold is stored and the run left the file alone.
Never a stored hold on a destroyed file."""

import threading
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.application import Storage, SupervisionApplication
from api.errors import Destroyed
from api.errors import Conflict
from domain.errors import OutOfOrder
from domain.retention import LegalHold
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.keys import KeyDestroyed
from tests.support.acting import acting

ROUNDS = 6


@pytest.fixture(autouse=True)
def signing_key(settings):  # noqa: ANN001, ANN201
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)


def archived_leaver(app: SupervisionApplication, n: int) -> str:
    worker = str(app.people.join_worker(acting("hr"), name=f"Lee Vaughan {n}", role="Social worker",
                                        category="experienced", start_date=date(2012, 5, 1)).id)
    app.people.record_leaving(acting("hr"), worker, date(2019, 6, 30))
    app.retention.archive_leaver(acting("hr"), worker)
    return worker


def together(*steps: Any) -> list[tuple[str, Any]]:
    """Runs each step in its own thread, all released at once; what each returned or raised."""
    barrier = threading.Barrier(len(steps))
    results: list[tuple[str, Any]] = [("unfinished", None)] * len(steps)

    def run(n: int, step: Any) -> None:
        barrier.wait()
        try:
            results[n] = ("returned", step())
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test judges
            results[n] = ("raised", exc)

    threads = [threading.Thread(target=run, args=(n, step)) for n, step in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_hold_racing_the_destruction_of_its_file_never_leaves_both(settings, master_key, clock) -> None:  # noqa: ANN001
    holding = SupervisionApplication(Storage.open(settings, master_key), clock)
    destroying = SupervisionApplication(Storage.open(settings, master_key), clock)
    outcomes = {"held": 0, "destroyed": 0}
    try:
        for n in range(ROUNDS):
            worker = archived_leaver(destroying, n)
            proposal = destroying.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
            assert proposal.item_ids == [worker]
            destroying.retention.approve_destruction(acting("hr"), proposal.id,
                                                     rationale="checked against the schedule")
            hold, run = together(
                lambda: holding.retention.place_hold(acting("io:jones"), worker, kind="investigation",
                                                     reason="LADO referral",
                                                     reference=f"LADO-{n}"),
                lambda: destroying.retention.run_retention(acting("dpo"), proposal.id))
            assert run[0] == "returned", run  # a run that meets a hold skips the file; it does not fail
            [ran] = run[1]
            stored = [h for h in destroying.retention.holds(worker) if h["released_at"] is None]
            destroyed = ran.status == "destroyed"
            assert ran.status in ("destroyed", "skipped_on_hold"), ran
            if destroyed:
                assert hold[0] == "raised" and isinstance(hold[1], OutOfOrder | Conflict), hold
                assert stored == [], f"round {n}: a hold is stored on a destroyed file"
                with pytest.raises(Destroyed):
                    destroying.people.get_worker(worker)
                outcomes["destroyed"] += 1
            else:
                assert hold[0] == "returned", hold
                assert [h["hold_id"] for h in stored] == [str(hold[1].id)]
                assert holding.people.get_worker(worker).leaving_date == date(2019, 6, 30)  # still readable
                outcomes["held"] += 1  # and held: the next round's proposal leaves it out
    finally:
        for app in (holding, destroying):
            app.close()
            app.storage.engine.dispose()
    print(f"\n{settings.database_url.split(':')[0]}: {outcomes}")
    assert sum(outcomes.values()) == ROUNDS


@pytest.fixture
def two_apps(settings, master_key, clock):  # noqa: ANN001, ANN201
    """The application placing the hold and the one running retention, on one database."""
    holding = SupervisionApplication(Storage.open(settings, master_key), clock)
    destroying = SupervisionApplication(Storage.open(settings, master_key), clock)
    try:
        yield holding, destroying
    finally:
        for app in (holding, destroying):
            app.close()
            app.storage.engine.dispose()


def approved_leaver(app: SupervisionApplication) -> tuple[str, Any]:
    worker = archived_leaver(app, 0)
    proposal = app.retention.propose_destruction(acting("dpo"), as_of=date(2026, 3, 1))
    app.retention.approve_destruction(acting("hr"), proposal.id, rationale="checked against the schedule")
    return worker, proposal


def test_a_hold_stored_after_the_run_judged_the_file_due_keeps_the_file(two_apps) -> None:  # noqa: ANN001
    """The hold lands in the run's widest window: after it read the schedule and the file, before it starts the
    destruction (the checkpoint signed first). The run's transaction conflicts on the file, it judges again and
    leaves the file."""
    holding, destroying = two_apps
    worker, proposal = approved_leaver(destroying)
    sign_checkpoint, placed = destroying.integrity.checkpoint, []

    def checkpoint_then_a_hold(*args: Any, **kwargs: Any) -> Any:
        signed = sign_checkpoint(*args, **kwargs)
        if not placed:
            placed.append(holding.retention.place_hold(acting("io:jones"), worker, kind="investigation",
                                                       reason="LADO referral",
                                                       reference="LADO-1"))
        return signed

    destroying.integrity.checkpoint = checkpoint_then_a_hold
    [ran] = destroying.retention.run_retention(acting("dpo"), proposal.id)
    assert ran.status == "skipped_on_hold" and placed
    assert [h["hold_id"] for h in destroying.retention.holds(worker)] == [str(placed[0].id)]
    assert destroying.people.get_worker(worker).leaving_date == date(2019, 6, 30)
    assert destroying.retention.get_proposal(proposal.id).status == "executed"


class RunStopped(Exception):
    """Stands for a run killed after it started its destructions, before any key went."""


@pytest.mark.parametrize("read_first, run_ends", [(False, "destroyed"), (True, "destroyed"), (True, "started")],
                         ids=["destroyed-before-the-file-is-read", "destroyed-after", "started-after"])
def test_a_hold_whose_file_is_destroyed_before_it_is_stored_is_refused(two_apps, read_first: bool,
                                                                        run_ends: str) -> None:  # noqa: ANN001
    """The hold judged the file not destroyed, then a run happens before the hold is stored: whole, before or
    after the hold read the file, or only as far as starting the destruction (the store's check refuses it)."""
    holding, destroying = two_apps
    worker, proposal = approved_leaver(destroying)
    read_worker, add_tombstones, ran = holding.retention.get_worker, destroying.storage.tombstones.add, []

    def stop_after_starting(*args: Any, **kwargs: Any) -> None:
        raise RunStopped

    def the_run_meanwhile(*args: Any, **kwargs: Any) -> Any:
        read = read_worker(*args, **kwargs) if read_first else None
        if run_ends == "started":
            destroying.storage.tombstones.add = stop_after_starting
            with pytest.raises(RunStopped):
                destroying.retention.run_retention(acting("dpo"), proposal.id)
            destroying.storage.tombstones.add = add_tombstones
        else:
            ran.extend(destroying.retention.run_retention(acting("dpo"), proposal.id))
        return read if read_first else read_worker(*args, **kwargs)

    holding.retention.get_worker = the_run_meanwhile
    with pytest.raises(OutOfOrder, match="can no longer be held"):
        holding.retention.place_hold(acting("io:jones"), worker, kind="investigation", reason="LADO referral",
                                     reference="LADO-2")
    if run_ends == "started":  # the next run finishes what the stopped one started
        ran.extend(destroying.retention.run_retention(acting("dpo")))
    assert [(o.worker_id, o.status) for o in ran] == [
        (worker, "resumed_and_destroyed" if run_ends == "started" else "destroyed")]
    assert destroying.retention.holds(worker) == []


def test_a_change_sealed_with_a_key_destroyed_meanwhile_is_refused_and_nothing_is_stored(two_apps) -> None:  # noqa: ANN001
    """One process loaded a leaver's file, so holds its key in memory; another destroys the file; then the first
    stores a change to it. The event store refuses it in the write's own transaction, so no content sealed with a
    destroyed key reaches the log, and none is projected into the read models after the destruction removed it."""
    holding, destroying = two_apps
    # The window is short (a process looks again by itself within a second): held open here, however slow the machine.
    holding.storage.keyring.EPOCH_CHECK_SECONDS = float("inf")
    worker, proposal = approved_leaver(destroying)
    file = holding.repository.get(UUID(worker))
    [ran] = destroying.retention.run_retention(acting("dpo"), proposal.id)
    assert ran.status == "destroyed"
    file.note_hold(str(uuid4()), actor="io:jones", timestamp=holding.clock())
    stored_before = holding.recorder.max_notification_id()
    with pytest.raises(KeyDestroyed, match="destroyed under a retention rule while this change was being made"):
        holding.save_and_project(file)
    assert holding.recorder.max_notification_id() == stored_before
    with pytest.raises(Destroyed):
        holding.retention.get_worker(worker)


def test_a_new_aggregate_sealed_with_a_destroyed_files_key_is_refused(two_apps) -> None:  # noqa: ANN001
    """The same for an aggregate this very write creates, whose key assignment is inserted in the same transaction
    (on PostgreSQL the check runs before the inserts, so it looks among the staged assignments)."""
    holding, destroying = two_apps
    holding.storage.keyring.EPOCH_CHECK_SECONDS = float("inf")
    worker, proposal = approved_leaver(destroying)
    holding.repository.get(UUID(worker))  # the file's key is now held in memory here
    key_id = holding.storage.keyring.key_id_for(worker)
    [ran] = destroying.retention.run_retention(acting("dpo"), proposal.id)
    assert ran.status == "destroyed"
    hold = LegalHold.place(worker_id=worker, kind="investigation", reason="LADO referral", reference="LADO-3",
                           actor="io:jones", timestamp=holding.clock())
    stored_before = holding.recorder.max_notification_id()
    with pytest.raises(KeyDestroyed, match="destroyed under a retention rule while this change was being made"):
        holding.save_and_project(hold, keys=holding.storage.keyring.stage_assignment(hold.id, key_id))
    assert holding.recorder.max_notification_id() == stored_before
