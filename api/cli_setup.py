"""`svl init`, `svl demo`, `svl serve`, `svl db upgrade`: getting a database, keys and the demo in place."""

import typer

from api.cli_support import console, errors, opened_application
from infrastructure import migrations
from infrastructure.checkpoints import create_signing_key_file, load_signing_key
from infrastructure.database import create_schema, make_engine, schema_version
from infrastructure.keys import KeyError_, create_master_key_file
from infrastructure.settings import Settings

db = typer.Typer(help="The database schema: Alembic migrations for our tables; read models rebuilt from the log.",
                 no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(demo)
    app.command()(serve)
    app.add_typer(db, name="db")


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the latest schema revision (safe to repeat; stop the servers first)."""
    upgrade_database(Settings.from_env())


@db.command("version")
def db_version() -> None:
    """The schema revision the database is at, and the one this release needs."""
    engine = make_engine(Settings.from_env())
    try:
        current = schema_version(engine)
    finally:
        engine.dispose()
    head = migrations.head()
    console.print(f"schema {current or 'none (empty database)'}; this release needs {head}"
                  + ("" if current == head else " — run `svl db upgrade`"))


def upgrade_database(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        before, after = create_schema(engine, settings)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"schema: at {after} (the latest), nothing to migrate")
    else:
        console.print(f"schema: {before or 'empty database'} -> {after}")
    with opened_application(settings) as app:
        rebuilt = app.rebuilt_read_models
        replayed = app.read_models.catch_up()
    if rebuilt:
        console.print(f"read models: definitions changed, rebuilt from the event log: {', '.join(rebuilt)} "
                      f"({replayed} events replayed)")
    else:
        console.print("read models: current" + (f" ({replayed} new events projected)" if replayed else ""))


def init() -> None:
    """Create the local master key (if missing) and the database schema."""
    settings = Settings.from_env()
    if create_master_key_file(settings.master_key_file):
        errors.print(
            f"[bold yellow]warning:[/] created a LOCAL master key at {settings.master_key_file}. "
            "It protects every worker's data key: keep it out of backups of the database, "
            "and in production use a key from your key store (SVL_MASTER_KEY_FILE or SVL_MASTER_KEY)."
        )
    if create_signing_key_file(settings.signing_key_file, settings.organisation_origin):
        errors.print(
            f"[bold yellow]warning:[/] created the organisation's ledger SIGNING key at {settings.signing_key_file} "
            f"(mode 0600). It signs the checkpoints that prove the records were not altered: keep it secret, "
            f"outside the database and its backups. Its public verifier key is "
            f"{load_signing_key(settings.signing_key_file).vkey} — publish that one.", highlight=False)
    upgrade_database(settings)
    with opened_application(settings) as app:
        app.read_models.catch_up()
        where = settings.sqlite_path if settings.is_sqlite else f"PostgreSQL schema {settings.database_schema}"
        console.print(f"[green]ready:[/] {where}, policy pack {settings.policy_pack}")


def demo() -> None:
    """Load the BCP demo (once) and print fresh demo tokens: staff, ~70 records in every state, sessions,
    agreements, a transfer, a dispute, leavers at every point of the retention schedule."""
    from api.demo import load_demo

    with opened_application() as app:
        outcome = load_demo(app, progress=lambda msg: console.print(f"  {msg}"))
        signed = app.integrity.checkpoint()  # so `svl verify` and `svl export-bundle` have a signed tree at once
        console.print(f"  ledger checkpoint: {signed.checkpoint.tree_size} events"
                      + (f", published in {signed.published.parent}" if signed.published else ""))
    if outcome["loaded"]:
        console.print(f"[green]demo loaded:[/] {outcome['supervisors']} supervisors, {outcome['workers']} workers, "
                      f"{outcome['records']} records")
    else:
        console.print(f"demo not loaded again: {outcome['reason']}")


def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port to listen on"),
          root_path: str = typer.Option("", help="the prefix a reverse proxy serves this under, e.g. /svl "
                                                 "(the proxy strips it; links and /docs include it)"),
          ssl_certfile: str = typer.Option("", help="serve HTTPS with this certificate (PEM); usually TLS ends "
                                                    "at the proxy instead"),
          ssl_keyfile: str = typer.Option("", help="the certificate's private key (PEM)"),
          workers: int = typer.Option(1, min=1, max=64, help="server processes (PostgreSQL only above 1); one of "
                                                             "them projects the read models at a time"),
          keep_alive: int = typer.Option(5, "--keep-alive", min=1, max=3600,
                                         help="seconds an idle connection is kept open; behind a proxy that keeps "
                                              "connections to us, set it longer than the proxy's")) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.http import create_app
    from api.http_guards import server_log_config

    if bool(ssl_certfile) != bool(ssl_keyfile):
        errors.print("[bold red]error:[/] --ssl-certfile and --ssl-keyfile go together")
        raise typer.Exit(2)
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        errors.print("[bold red]error:[/] --root-path must start with / and not end with one, e.g. /svl")
        raise typer.Exit(2)
    try:
        settings = Settings.from_env()
        if workers > 1 and settings.is_sqlite:
            raise ValueError(f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time, so "
                             "several server processes would queue on its lock (and each would hold its own view "
                             "of the keys and read models). Serve SQLite with one process, or set "
                             "SVL_DATABASE_URL to a PostgreSQL database")
        # One process checks the keys and brings the schema up to date; several workers then open it ready.
        app = create_app(settings, background_projections=True) if workers == 1 else _prepared(settings)
    except (ValueError, KeyError_) as exc:  # a setting that makes no sense, or no key: say which, no traceback
        errors.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    scheme = "https" if ssl_certfile else "http"
    console.print(f"serving on {scheme}://{host}:{port}{root_path}  (health: /health, ready: /ready, API docs: "
                  f"/docs){f'; {workers} processes' if workers > 1 else ''}"
                  + (f"; trusting X-Forwarded-For from {', '.join(settings.trusted_proxies)}"
                     if settings.trusted_proxies else ""))
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1; the app decides
    # instead, from SVL_TRUSTED_PROXIES only (api/http_guards.py). The access log prints no query strings.
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", workers=workers, factory=workers > 1,
                    root_path=root_path, proxy_headers=False, forwarded_allow_ips="", log_config=server_log_config(),
                    ssl_certfile=ssl_certfile or None, ssl_keyfile=ssl_keyfile or None,
                    timeout_keep_alive=keep_alive)
    finally:
        _remove_metrics_directory()


_METRICS_DIRECTORY: list[str] = []


def _prepared(settings: Settings) -> str:
    """Before the workers start: the keys load, the schema is current, and the workers share a fresh
    directory for their metrics (prometheus-client's multi-process mode). Returns what uvicorn imports."""
    import os
    import tempfile

    from api.application import Storage

    storage = Storage.open(settings)
    storage.engine.dispose()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="svl-metrics-")
        _METRICS_DIRECTORY.append(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return "api.http:served_app"


def _remove_metrics_directory() -> None:
    import shutil

    for directory in _METRICS_DIRECTORY:
        shutil.rmtree(directory, ignore_errors=True)
