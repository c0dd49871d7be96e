"""Several processes starting at once on a new database: each finds the schema whole, one organisation key is
made, and none fails. On PostgreSQL the first to arrive creates the tables while the others wait their turn
(infrastructure/database.py `start_up_turn`); without it, concurrent DDL failed with "tuple concurrently
updated" or a duplicate type. Threads stand in for processes: the race is in the database, not in Python."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from api.application import Storage, SupervisionApplication
from infrastructure.checkpoints import create_signing_key_file
from infrastructure.keys import ORGANISATION_KEY_ID, data_keys

STARTERS = 4


def test_four_starts_at_once_on_a_new_database_all_open_and_share_one_organisation_key(settings, master_key) -> None:
    create_signing_key_file(settings.signing_key_file, settings.organisation_origin)
    everyone_ready = threading.Barrier(STARTERS)
    opened: list[SupervisionApplication] = []
    failures: list[BaseException] = []

    def start() -> None:
        everyone_ready.wait()
        try:
            opened.append(SupervisionApplication(Storage.open(settings, master_key=master_key)))
        except BaseException as error:  # noqa: BLE001 - every failure is the finding
            failures.append(error)

    starters = [threading.Thread(target=start) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    try:
        assert failures == []
        assert len(opened) == STARTERS
        with opened[0].storage.engine.connect() as conn:
            keys = conn.execute(select(func.count()).select_from(data_keys)
                                .where(data_keys.c.key_id == ORGANISATION_KEY_ID)).scalar_one()
        assert keys == 1
        assert opened[0].integrity.verify().intact
    finally:
        for app in opened:
            app.close()
            app.storage.engine.dispose()
