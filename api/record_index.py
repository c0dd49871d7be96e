"""The index of records a user may list now (`svl records`), read without opening the application: the same
rule (domain/authorisation.py `listing_scopes`), the same query (projections/record_listing.py) and the same
sealed events for the names, with the database driver alone, so the command starts at once.

It answers only where its answer is the application's (`SupervisionApplication.readable_records` and the names the
CLI prints beside it). Anything else returns None and the caller opens the application, which answers (or
refuses, naming why) as it always has: no user, a disabled account, a stuck read model, on PostgreSQL a read
model behind the newest event (the application catches up first), a schema not at this code's migration, key
files beside the database, a database behind its published checkpoint (the application warns that it is
read-only), a key the destroyed-key list names or that cannot be unwrapped, a worker whose first event does not
open, no file for the organisation's policy pack (a pack that is there but invalid is found only when the
application opens: its checks need pydantic).

A user holding access grants is answered here too, by the same `listing_scopes` on the grants' terms as the grant
index (access_grants) holds them: it copies every term the rule reads (scope, category, expiry, revocation) from
the grant's only two events, so once the read models have every event (required here on SQLite too, where the
application reads each grant's aggregate while its index may lag) the index and the aggregates agree. Purpose
does not enter a listing (it is stated at each read of content). The one input not in the database is the
policy pack's `archive_access`, which says whether a live grant (other than a subject access request's) lists an
archived file too: the listing is computed both ways, and answered here only when both give the same rows (no
archived file within such a grant's scope); otherwise the application answers, with the pack.

A listing shows dates and states, no content, so like the application's it writes no access-log entry.
Not checked here: whether a read model's tables are as this code declares them (their fingerprint needs
SQLAlchemy to compute); a changed read model is rebuilt when the application next opens.
"""

import base64
import binascii
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from api.ids import is_id
from domain.authorisation import (PACK_ROLE_NAMES, ArchiveRule, GrantTerms, ListingScope, Reader, Role, ScopeKind,
                                  account_ended, listing_scopes)
from infrastructure.events_table import EventsTable
from infrastructure.master_key import KeyError_, load_master_key
from infrastructure.plain_reads import DatabaseMissing, PlainReader, plain_reader
from infrastructure.settings import LATEST_FILE, Settings, key_placement_problems
from projections.record_listing import listing_query

# The topic of a worker's first event (domain.workers.Worker.Joined), which alone carries the name.
WORKER_JOINED_TOPIC = "domain.workers:Worker.Joined"
# The key that seals the grants' events (infrastructure/keys.py): the application opens them to decide.
ORGANISATION_KEY_ID = "organisation"
# The archive rule both ways: every role the pack could name, and none.
_ARCHIVE_OPEN = ArchiveRule(frozenset().union(*PACK_ROLE_NAMES.values()))
_ARCHIVE_CLOSED = ArchiveRule(frozenset())
_MIGRATIONS = Path(__file__).resolve().parent.parent / "infrastructure" / "migrations" / "versions"
_POLICIES = Path(__file__).resolve().parent.parent / "policies"  # infrastructure/policy_packs.py's default


@dataclass(frozen=True)
class RecordIndex:
    rows: list[dict]
    names: dict[str, str]  # worker id -> name, for every supervisee and supervisor in rows

    def name(self, worker_id: str) -> str:
        return self.names.get(worker_id, worker_id)


class _Unanswered(Exception):
    """The application must answer this one (see the module's docstring)."""


def record_index(settings: Settings, username: str | None, now: datetime | None = None) -> RecordIndex | None:
    """The records `username` may list now with their workers' names, or None: ask the application."""
    if not username or key_placement_problems(settings):
        return None
    try:
        with plain_reader(settings) as db:
            return _index(db, settings, username, now or datetime.now(timezone.utc))
    except (_Unanswered, DatabaseMissing, KeyError_, *_driver_errors()):
        return None


def _index(db: PlainReader, settings: Settings, username: str, now: datetime) -> RecordIndex:
    state = _require_current(db, settings)
    found = db.rows("SELECT user_id, role, worker_id, disabled_at FROM users WHERE username = :u OR user_id = :u",
                    {"u": username}, table="users")
    if len(found) != 1 or account_ended(found[0]["disabled_at"], now):
        raise _Unanswered("the application names why this user may not act")
    user = found[0]
    if user["role"] not in {r.value for r in Role}:
        raise _Unanswered("the application names an account it cannot use")
    grants = _grants(db, user["user_id"])
    if grants and settings.is_sqlite:  # on PostgreSQL already required
        _require_caught_up(state)
        _open_key(db, settings, ORGANISATION_KEY_ID)
    reader = Reader(user["user_id"], Role(user["role"]), user["worker_id"])
    scopes = listing_scopes(reader, grants, now, archive=lambda: _ARCHIVE_CLOSED)
    rows = _listed(db, scopes)
    scopes_if_open = listing_scopes(reader, grants, now, archive=lambda: _ARCHIVE_OPEN)
    if scopes_if_open != scopes and _listed(db, scopes_if_open) != rows:
        raise _Unanswered("an archived file within a grant's scope: the policy pack's archive_access decides")
    ids = sorted({r[column] for r in rows for column in ("supervisee_id", "supervisor_id")})
    return RecordIndex(rows, _names(db, settings, ids))


def _listed(db: PlainReader, scopes: tuple[ListingScope, ...]) -> list[dict]:
    if not scopes:
        return []
    sql, params = listing_query(scopes)
    return db.rows(sql, params, table="current_records")


def _grants(db: PlainReader, user_id: str) -> list[GrantTerms]:
    """The user's grants with the terms their events gave them (projections/access_log.py copies each term)."""
    found = db.rows("SELECT grant_id, grantee_user_id, category, purpose, scope_kind, scope_id, expires_at, "
                    "revoked_at FROM access_grants WHERE grantee_user_id = :u", {"u": user_id}, table="access_grants")
    try:
        return [GrantTerms(g["grant_id"], g["grantee_user_id"], g["category"], g["purpose"],
                           ScopeKind(g["scope_kind"]), g["scope_id"], g["expires_at"], g["revoked_at"])
                for g in found]
    except ValueError:
        raise _Unanswered("a grant this code cannot read: the application reports it") from None


def _require_current(db: PlainReader, settings: Settings) -> dict:
    """As fresh as the application would be after catching up, and at the schema this code expects."""
    if not _pack_file(settings.policy_pack).is_file():
        raise _Unanswered("the application names a policy pack it cannot load")
    checkpoint = _published_checkpoint(settings)
    state = _state(db, settings, checkpoint)
    if state["schema_version"] != _head_migration():
        raise _Unanswered("the schema is migrated when the application opens")
    if not state["models"] or state["stuck"]:
        raise _Unanswered("a read model is stuck: the application names it")
    if not settings.is_sqlite:
        # On PostgreSQL the application first catches up with the newest event, whoever stored it; on SQLite it
        # reads what is projected, as here (SupervisionApplication.see_own_writes).
        _require_caught_up(state)
    if checkpoint is not None and not state["signed"]:
        raise _Unanswered("the application compares the ledger with the published checkpoint")
    return state


def _published_checkpoint(settings: Settings) -> dict | None:
    """The published checkpoint's size and root, if there is one. The application checks it against the ledger
    (and its signature) at start-up; here it is enough that the database signed this very checkpoint. Anything
    else: let it check."""
    latest = settings.checkpoint_dir / LATEST_FILE if settings.checkpoint_dir is not None else None
    if latest is None or not latest.is_file():
        return None
    try:
        lines = latest.read_text(encoding="utf-8").split("\n")
        return {"size": int(lines[1]), "root": base64.b64decode(lines[2], validate=True)}
    except (OSError, UnicodeDecodeError, IndexError, ValueError, binascii.Error):
        raise _Unanswered("the application names what is wrong with the published checkpoint") from None


def _state(db: PlainReader, settings: Settings, checkpoint: dict | None) -> dict:
    """The schema's version, the read models' positions, the newest event and whether the database signed the
    published checkpoint, in one query: on PostgreSQL each query is a round trip to the server."""
    events = EventsTable.of(settings)
    signed = ("(SELECT count(*) FROM ledger_checkpoints WHERE tree_size = :size AND root_hash = :root)"
              if checkpoint is not None else "NULL")
    return db.rows("SELECT (SELECT version_num FROM alembic_version) AS schema_version, "
                   "(SELECT count(*) FROM read_model_positions) AS models, "
                   "(SELECT count(*) FROM read_model_positions WHERE stuck_at IS NOT NULL) AS stuck, "
                   "(SELECT min(position) FROM read_model_positions) AS slowest, "
                   f"(SELECT max({events.nid}) FROM {events.qualified}) AS newest, {signed} AS signed",
                   checkpoint)[0]


def _require_caught_up(state: dict) -> None:
    if state["slowest"] < (state["newest"] or 0):
        raise _Unanswered("a read model is behind the newest event: the application catches up first")


def _pack_file(name: str) -> Path:
    """Where infrastructure/policy_packs.py looks for the organisation's pack (its checks need pydantic: here,
    only that there is such a file; the application validates it when it opens)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return _POLICIES / ".not-a-pack-name"
    return Path(os.environ.get("SVL_POLICY_DIR") or _POLICIES) / f"{name}.toml"


def _head_migration() -> str:
    return max(p.stem for p in _MIGRATIONS.glob("[0-9]*.py"))


def _names(db: PlainReader, settings: Settings, worker_ids: list[str]) -> dict[str, str]:
    """Each worker's name, from their first event opened as the application opens it."""
    if not worker_ids:
        return {}
    from infrastructure.sealing import key_id_of, unseal

    stored = [UUID(w).hex if settings.is_sqlite else w for w in worker_ids if is_id(w)]
    events = db.rows(f"SELECT originator_id, topic, state FROM {EventsTable.of(settings).qualified} WHERE "
                     "originator_version = 1 AND "
                     f"originator_id IN ({_marks('w', stored)})", _params('w', stored))
    aeads = _open_keys(db, settings, sorted({key_id_of(e["topic"]) for e in events}))
    names: dict[str, str] = {}
    for event in events:
        worker_id = str(UUID(str(event["originator_id"])))
        key_id = key_id_of(event["topic"])
        try:
            topic, state = unseal(aeads[key_id], worker_id, 1, key_id, bytes(event["state"]))
        except Exception:  # noqa: BLE001 - an event that does not open: the application reports it as it does
            raise _Unanswered("an event that does not decrypt") from None
        if topic == WORKER_JOINED_TOPIC:
            names[worker_id] = json.loads(state)["name"]
    return names


def _open_key(db: PlainReader, settings: Settings, key_id: str) -> None:
    _open_keys(db, settings, [key_id])


def _open_keys(db: PlainReader, settings: Settings, key_ids: list[str]) -> dict[str, Any]:
    """Each key unwrapped as the application unwraps it (key id -> AESGCM), or _Unanswered: a key destroyed, named
    in the destroyed-key list, missing, or not opened by this master key is the application's to report."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

    master_key = load_master_key(settings.master_key_file)
    destroyed = _destroyed_keys(settings, master_key) if settings.tombstones_file.exists() else set()
    wrapped = {k["key_id"]: k["wrapped_key"] for k in db.rows(
        f"SELECT key_id, wrapped_key FROM data_keys WHERE key_id IN ({_marks('k', key_ids)})", _params('k', key_ids))}
    aeads = {}
    for key_id in key_ids:
        if key_id in destroyed or wrapped.get(key_id) is None:
            raise _Unanswered("a destroyed (or missing) key: the application says what was destroyed")
        try:
            aeads[key_id] = AESGCM(aes_key_unwrap(master_key, bytes(wrapped[key_id])))
        except InvalidUnwrap:
            raise _Unanswered("the application names a wrong master key") from None
    return aeads


def _destroyed_keys(settings: Settings, master_key: bytes) -> set[str]:
    """The destroyed-key list, read only where there is one (no list: none destroyed, as it reads): its module
    imports what nothing else here needs (HKDF and hashes for its MAC key, tempfile), about as much CPU as AES-GCM."""
    from infrastructure.key_tombstones import KeyTombstones, TombstoneTampered

    try:
        return {stone.key_id for stone in KeyTombstones(settings.tombstones_file, master_key).read()}
    except (TombstoneTampered, OSError, ValueError):
        raise _Unanswered("the application names what is wrong with the destroyed-key list") from None


def _marks(prefix: str, values: list[str]) -> str:
    return ", ".join(f":{prefix}{n}" for n in range(len(values))) or "NULL"


def _params(prefix: str, values: list[str]) -> dict[str, str]:
    return {f"{prefix}{n}": value for n, value in enumerate(values)}



def _driver_errors() -> tuple[type[BaseException], ...]:
    """Whichever driver was loaded: a database that cannot be read here is left to the application to report."""
    kinds: list[type[BaseException]] = []
    for module, name in (("sqlite3", "Error"), ("psycopg2", "Error")):
        if module in sys.modules:
            kinds.append(getattr(sys.modules[module], name))
    return tuple(kinds)


__all__ = ["ORGANISATION_KEY_ID", "RecordIndex", "WORKER_JOINED_TOPIC", "record_index"]
