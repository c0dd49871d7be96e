"""Which processes hold the master key in memory: a master key may be rotated only where no other one does.

Every other process that opened the database holds the old key: it would read nothing wrapped under the new
one, and a data key it created afterwards would be wrapped under a key that no longer exists. So a rotation
inside a running service (a retention run) first counts the other holders, and refuses while there are any.
PostgreSQL: each process names its connections `svl:<schema digest>:<pid>` (application_name), so live
connections from other machines count too. SQLite (one machine): each process that opens the database leaves a
file named by its pid in a folder beside it; a file whose process is gone is ignored and removed.
"""

import hashlib
import os
from pathlib import Path

from sqlalchemy import Engine, text

from infrastructure.settings import Settings


def application_name(schema: str) -> str:
    return f"{_prefix(schema)}{os.getpid()}"


def note_holder(settings: Settings) -> None:
    """SQLite: marks this process as one that holds the master key (PostgreSQL names its connections)."""
    if settings.is_sqlite:
        folder = _folder(settings)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(os.getpid())).touch()


def forget_holder(settings: Settings) -> None:
    """SQLite: this process has closed the database (a process killed leaves its file, ignored once it is gone)."""
    if settings.is_sqlite:
        (_folder(settings) / str(os.getpid())).unlink(missing_ok=True)


def other_holders(engine: Engine, settings: Settings) -> int:
    """How many other processes hold the master key of this database now."""
    if not settings.is_sqlite:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE :prefix AND application_name <> :mine"),
                {"prefix": _prefix(settings.database_schema) + "%",
                 "mine": application_name(settings.database_schema)}).scalar() or 0
    others = 0
    folder = _folder(settings)
    for marker in folder.iterdir() if folder.exists() else []:
        if not marker.name.isdigit() or int(marker.name) == os.getpid():
            continue
        if _alive(int(marker.name)):
            others += 1
        else:
            marker.unlink(missing_ok=True)
    return others


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prefix(schema: str) -> str:
    # application_name keeps 63 bytes: the schema's digest, not its name.
    return f"svl:{hashlib.sha256(schema.encode()).hexdigest()[:12]}:"


def _folder(settings: Settings) -> Path:
    # Not named like the database (`svl.db*`): it is no file of the database's, and is never copied with it.
    return settings.sqlite_path.with_name(f".{settings.sqlite_path.name}-key-holders")
