"""Configuration by environment, read once at the edge and passed down."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from infrastructure.oidc_settings import OidcSettings

DEFAULT_DATABASE_URL = "sqlite:///data/svl.db"

# The newest published checkpoint, in SVL_CHECKPOINT_DIR (infrastructure/checkpoints.py writes it).
LATEST_FILE = "checkpoint"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL only: the schema that holds every table (tests give each run its own).
    database_schema: str = "public"
    # Keys live apart from the data folder, so that a copy of data/ (a backup) never carries them.
    master_key_file: Path = Path("keys/master.key")
    signing_key_file: Path = Path("keys/signing.key")
    # Destroyed data keys, listed outside the database (default: beside the master key file).
    destroyed_keys_file: Path | None = None
    policy_pack: str = "bcp"
    organisation_origin: str = "supervision-ledger.example/bcp"
    # Integrity ledger: where signed checkpoints are published as files (None: database only), and
    # how often one is signed automatically (every N events or T seconds after new events; 0 = never).
    # Every process also signs at start-up and at a clean shutdown when events are pending.
    checkpoint_dir: Path | None = None
    checkpoint_every_events: int = 256
    checkpoint_every_seconds: float = 5.0
    # Witnesses asked to cosign each checkpoint: "name=url=vkey,..." (see infrastructure/witness_client.py),
    # and how long to wait for each before publishing without its cosignature.
    witnesses: str = ""
    witness_timeout: float = 5.0
    # Where destruction certificates are written (handed to whoever must be shown the destruction).
    certificate_dir: Path = Path("data/certificates")
    # Bounded waits on the database, in seconds: to connect (and to wait for a pooled connection), for a lock
    # (PostgreSQL lock_timeout, SQLite's busy timeout) and for one statement (PostgreSQL; 0 = none). A request
    # that hits one answers 503 with Retry-After instead of hanging.
    database_connect_timeout: float = 3.0
    database_lock_timeout: float = 5.0
    database_statement_timeout: float = 30.0
    # SQLite: how long a write waits for its turn behind this process's other writers (infrastructure/
    # write_turns.py), then answers 503; SQLite's busy timeout, for other processes, is at least as long.
    database_write_wait: float = 30.0
    # Behind a reverse proxy: the proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or
    # networks; none by default), and the largest request body accepted (413 beyond it, before parsing).
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    # Several processes (PostgreSQL): how long a query waits for the leading process to project the read
    # models up to the newest event before it answers 503 naming the one that lags.
    read_model_wait: float = 5.0
    # Who may read /metrics: a bearer token of its own (none: /metrics is refused to everyone).
    metrics_token: str = ""
    # A PostgreSQL hot standby of the same database: integrity proofs are served from it when it has replayed
    # what they need (docs/SCALING.md); empty: none.
    standby_database_url: str = ""
    # Whether a retention run rotates the master key by default (SVL_RETENTION_ROTATES_MASTER_KEY=1): a backup
    # from before the run then cannot unwrap what it destroyed with the current key. Off by default because it
    # needs every other process that holds the key stopped (the run refuses otherwise); a run may ask for it.
    retention_rotates_master_key: bool = False
    # Single sign-on through the organisation's OpenID Connect provider (SVL_OIDC_*); None: off.
    oidc: OidcSettings | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("SVL_DATABASE_URL", DEFAULT_DATABASE_URL),
            database_schema=env.get("SVL_DATABASE_SCHEMA", "public"),
            master_key_file=Path(env.get("SVL_MASTER_KEY_FILE", "keys/master.key")),
            signing_key_file=Path(env.get("SVL_SIGNING_KEY_FILE", "keys/signing.key")),
            destroyed_keys_file=Path(env["SVL_DESTROYED_KEYS_FILE"]) if env.get("SVL_DESTROYED_KEYS_FILE") else None,
            policy_pack=env.get("SVL_POLICY_PACK", "bcp"),
            organisation_origin=env.get("SVL_LOG_ORIGIN", "supervision-ledger.example/bcp"),
            checkpoint_dir=Path(env.get("SVL_CHECKPOINT_DIR", "data/checkpoints")) if env.get(
                "SVL_CHECKPOINT_DIR", "data/checkpoints") else None,
            certificate_dir=Path(env.get("SVL_CERTIFICATE_DIR", "data/certificates")),
            checkpoint_every_events=int(env.get("SVL_CHECKPOINT_EVERY_EVENTS", "256")),
            checkpoint_every_seconds=float(env.get("SVL_CHECKPOINT_EVERY_SECONDS", "5")),
            witnesses=env.get("SVL_WITNESSES", ""),
            witness_timeout=float(env.get("SVL_WITNESS_TIMEOUT", "5")),
            database_connect_timeout=_seconds(env, "SVL_DB_CONNECT_TIMEOUT", 3.0, minimum=1.0),
            database_lock_timeout=_seconds(env, "SVL_DB_LOCK_TIMEOUT", 5.0, minimum=0.1),
            database_statement_timeout=_seconds(env, "SVL_DB_STATEMENT_TIMEOUT", 30.0, minimum=0.0),
            database_write_wait=_seconds(env, "SVL_DB_WRITE_WAIT", 30.0, minimum=0.1),
            trusted_proxies=tuple(p.strip() for p in env.get("SVL_TRUSTED_PROXIES", "").split(",") if p.strip()),
            max_body_bytes=_bytes(env, "SVL_MAX_BODY_BYTES", 1024 * 1024),
            read_model_wait=_seconds(env, "SVL_READ_MODEL_WAIT", 5.0, minimum=0.1),
            metrics_token=_metrics_token(env.get("SVL_METRICS_TOKEN", "")),
            standby_database_url=env.get("SVL_STANDBY_DATABASE_URL", "").strip(),
            retention_rotates_master_key=env.get("SVL_RETENTION_ROTATES_MASTER_KEY", "").strip().lower()
            in ("1", "true", "yes", "on"),
            oidc=OidcSettings.from_env(env),
        )

    @property
    def tombstones_file(self) -> Path:
        return self.destroyed_keys_file or self.master_key_file.parent / "destroyed-keys.json"

    @property
    def sqlite_busy_timeout(self) -> float:
        """SQLite's wait for another process's writer: never shorter than the wait for a turn in this one, so a
        writer of another process is not refused sooner than one queued here."""
        return max(self.database_lock_timeout, self.database_write_wait)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        """The file behind sqlite:///relative/or/absolute.db."""
        if not self.is_sqlite:
            raise ValueError("not an SQLite database URL")
        path = self.database_url.split(":///", 1)[1]
        if not path or path.startswith(":memory:"):
            raise ValueError("Supervision Ledger needs an SQLite file, not an in-memory database")
        return Path(path)


def postgres_timeouts(settings: "Settings") -> str:
    """libpq `options` bounding every wait for a lock and every statement of a session (milliseconds), and
    without JIT compilation: our statements are short, and on read models just rebuilt (no statistics yet) the
    server compiled for 322 ms a dashboard query that then ran in 3 ms (benchmarks/compliance.py)."""
    return (f"-clock_timeout={int(settings.database_lock_timeout * 1000)} "
            f"-cstatement_timeout={int(settings.database_statement_timeout * 1000)} -cjit=off")


def libpq_connect_timeout(settings: "Settings") -> int:
    # libpq takes whole seconds (and treats 1 as 2).
    return max(2, round(settings.database_connect_timeout))


def key_placement_problems(settings: "Settings") -> list[str]:
    """Key files kept inside the SQLite database's folder would be copied with every backup of it."""
    if not settings.is_sqlite:
        return []
    folder = settings.sqlite_path.resolve().parent
    files = {"master key": settings.master_key_file, "signing key": settings.signing_key_file,
             "destroyed-key list": settings.tombstones_file}
    return [f"the {what} {path} is inside {folder}, the folder that holds the database: a backup of that folder "
            f"would carry the key with the data. Keep keys elsewhere (the default is keys/; see "
            f"SVL_MASTER_KEY_FILE, SVL_SIGNING_KEY_FILE, SVL_DESTROYED_KEYS_FILE)"
            for what, path in files.items() if folder in path.resolve().parents]


def _seconds(env: "os._Environ[str] | dict[str, str]", name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum} seconds, got {raw!r}")
    return value


def _bytes(env: "os._Environ[str] | dict[str, str]", name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1024:
        raise ValueError(f"{name} must be a whole number of bytes, at least 1024, got {raw!r}")
    return int(raw)


def _metrics_token(raw: str) -> str:
    if raw and len(raw) < 32:
        raise ValueError("SVL_METRICS_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)")
    return raw
