"""`svl backup`, `svl restore`, `svl keys rotate-master/rotate-signing`: what an IT team runs, holding the key files.

These act on the database and its keys as a whole, beneath the application's users: whoever runs
them holds the master key already, so they are not access-controlled here but by who holds the files.
"""

from pathlib import Path

import typer

from api.cli_support import console, fail
from infrastructure.settings import Settings

keys_app = typer.Typer(help="Key rotation: the master key, the ledger's signing key.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
    app.add_typer(keys_app, name="keys")


def backup(destination: Path = typer.Argument(..., help="a new file to write the snapshot to")) -> None:
    """A consistent snapshot of the database (SQLite online backup, or pg_dump). It never holds a key file."""
    from infrastructure.backup import BackupError, back_up

    try:
        snapshot = back_up(Settings.from_env(), destination)
    except BackupError as exc:
        fail(str(exc))
    console.print(f"[green]backed up:[/] {snapshot.backend} database to {snapshot.path} "
                  f"({snapshot.size_bytes:,} bytes; no key file is in it)")


def restore(source: Path = typer.Argument(..., help="a file written by `svl backup`"),
            backup_master_key_file: Path | None = typer.Option(
                None, help="the master key of the backup's time, if the key was rotated since (from escrow)"),
            yes: bool = typer.Option(False, "--yes", help="replace the current database without asking")) -> None:
    """Replace the database with a snapshot. Stop the service first. Files destroyed under retention since
    the snapshot stay destroyed: their keys are destroyed again and scrubbed before this returns."""
    from infrastructure.backup import BackupError, restore as restore_snapshot
    from infrastructure.keys import KeyError_, load_master_key

    settings = Settings.from_env()
    if not yes:
        typer.confirm(f"Replace the database at {_where(settings)} with {source}?", abort=True)
    try:
        current = load_master_key(settings.master_key_file)
        earlier = load_master_key(backup_master_key_file, env_value=None) if backup_master_key_file else None
        destroyed_again = restore_snapshot(settings, source, current, earlier)
    except (BackupError, KeyError_) as exc:
        fail(str(exc))
    console.print(f"[green]restored:[/] {source} into {_where(settings)}; "
                  f"{len(destroyed_again)} data key(s) destroyed since the backup were destroyed again")
    console.print("next: `svl verify --checkpoints DIR` to check the restored ledger against what was published")


@keys_app.command("rotate-master")
def rotate_master() -> None:
    """Rewrap every data key under a new master key and replace the key file. Stop the service first.
    Run it after a retention run, and destroy the old key (or keep it only in escrow): a backup from before
    then can no longer be unwrapped with the current key."""
    from infrastructure.database import make_engine
    from infrastructure.key_holders import other_holders
    from infrastructure.key_rotation import rotate_master_key
    from infrastructure.key_tombstones import KeyTombstones
    from infrastructure.keys import KeyError_, KeyRing, load_master_key

    settings = Settings.from_env()
    try:
        current = load_master_key(settings.master_key_file, env_value=_env_key())
        if _env_key() is not None:
            fail("the master key comes from SVL_MASTER_KEY: rotate it in your key store, not here")
        engine = make_engine(settings)
        try:
            others = other_holders(engine, settings)
            if others:
                fail(f"{others} other process(es) have this database open and hold the master key: stop the "
                     "service (and every other `svl` command) first")
            rotation = rotate_master_key(KeyRing(engine, current), KeyTombstones(settings.tombstones_file, current),
                                         settings.master_key_file)
        finally:
            engine.dispose()
    except KeyError_ as exc:
        fail(str(exc))
    console.print(f"[green]rotated:[/] {rotation.rewrapped} data key(s) rewrapped; the new master key is in "
                  f"{rotation.key_file}. Backups taken before now need the old key: destroy it, or keep it in escrow.")


@keys_app.command("rotate-signing")
def rotate_signing() -> None:
    """Replace the ledger's signing key. Stop the service first. The old key signs the tree as it stands and,
    with the new key, a statement that the new key takes over at that size (published beside the checkpoints);
    the new key replaces the old in SVL_SIGNING_KEY_FILE. Checkpoints and certificates signed before still
    verify with the old verifier key; whoever holds it can follow the statement to the new one."""
    from api.cli_support import opened_application
    from infrastructure.checkpoints import SigningKeyMissing
    from infrastructure.ledger import LedgerError

    with opened_application(automatic_checkpoints=False) as app:
        try:
            transition = app.integrity.rotate_signing_key()
        except (LedgerError, SigningKeyMissing) as exc:
            fail(str(exc))
    console.print(f"[green]rotated:[/] the signing key handed over at tree size {transition.tree_size}.",
                  highlight=False)
    console.print(f"  old verifier key: {transition.old}", markup=False, highlight=False)
    console.print(f"  new verifier key: {transition.new}", markup=False, highlight=False)
    console.print("Give the new verifier key to whoever checks your checkpoints; bundles exported from now on "
                  "carry the statement, so a holder of the old key can follow it.", highlight=False)


def _env_key() -> str | None:
    import os

    return os.environ.get("SVL_MASTER_KEY")


def _where(settings: Settings) -> str:
    return str(settings.sqlite_path) if settings.is_sqlite else f"PostgreSQL schema {settings.database_schema}"
