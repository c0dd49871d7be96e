"""`svl init`, `svl demo`, `svl serve`: getting a database, keys and the demo in place."""

import typer

from api.cli_support import console, errors, opened_ledger
from infrastructure.checkpoints import create_signing_key_file, load_signing_key
from infrastructure.keys import create_master_key_file
from infrastructure.settings import Settings


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(demo)
    app.command()(serve)


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
    with opened_ledger(settings) as app:
        app.read_models.catch_up()
        where = settings.sqlite_path if settings.is_sqlite else f"PostgreSQL schema {settings.database_schema}"
        console.print(f"[green]ready:[/] {where}, policy pack {settings.policy_pack}")


def demo() -> None:
    """Load the BCP demo (once) and print fresh demo tokens: staff, ~70 records in every state, sessions,
    agreements, a transfer, a dispute, leavers at every point of the retention schedule."""
    from api.demo import load_demo

    with opened_ledger() as app:
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
          port: int = typer.Option(8000, help="port to listen on")) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.http import create_app

    console.print(f"serving on http://{host}:{port}  (health: /health, API docs: /docs)")
    uvicorn.run(create_app(Settings.from_env(), background_projections=True), host=host, port=port,
                log_level="info")
