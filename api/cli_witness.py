"""`svl witness init / key / serve / show`: run a witness for another organisation's ledger.

A witness needs nothing of the organisation but its verifier key: no database, no master key. Its
state (the latest checkpoint it cosigned for each log, and the log-signed checkpoints it refused) is
its own SQLite file.
"""

import sys
from pathlib import Path

import typer
from rich.markup import escape

from api.cli_support import console, errors, fail, print_json
from infrastructure.svl_verify import VerificationError
from infrastructure.witness import (
    Witness,
    WitnessKey,
    WitnessKeyError,
    WitnessState,
    create_witness_key_file,
    load_witness_key,
)

witness_cli = typer.Typer(help="Run a witness that cosigns another organisation's checkpoints (C2SP tlog-witness).",
                          no_args_is_help=True)
KEY = typer.Option(..., "--key", help="the witness's signing key file (from `svl witness init`)")
STATE = typer.Option(..., "--state", help="the witness's own SQLite state file (created if missing)")


def register(app: typer.Typer) -> None:
    app.add_typer(witness_cli, name="witness")


@witness_cli.command("init")
def init(key: Path = KEY, name: str = typer.Option(..., "--name", help="the witness's name, e.g. "
                                                   "witness.inspectorate.example/w1 (no spaces or '+')")) -> None:
    """Create the witness's key (mode 0600) and print its verifier key, which the organisation configures."""
    if key.exists():
        fail(f"{key} exists: a witness keeps its key (a new key is a new witness)")
    try:
        created = create_witness_key_file(key, name)
    except ValueError as exc:
        fail(str(exc))
    errors.print(f"[bold yellow]created[/] the witness key {escape(str(key))} (mode 0600): keep it secret.")
    sys.stdout.write(created.vkey + "\n")  # verbatim: a wrapped key would not parse


@witness_cli.command("key")
def key_(key: Path = KEY) -> None:
    """Print the witness's verifier key (public)."""
    sys.stdout.write(_key(key).vkey + "\n")


@witness_cli.command("serve")
def serve(state: Path = STATE, key: Path = KEY,
          log_key: list[str] = typer.Option(..., "--log-key", help="the verifier key of a log to witness (text or "
                                            "file; repeatable); its name is the log's origin"),
          host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8080, help="port to listen on")) -> None:
    """Serve POST /add-checkpoint: cosign a log's checkpoint only if it is signed by the log and extends
    (by a verified consistency proof) the last one this witness cosigned."""
    import uvicorn

    from infrastructure.witness_http import create_witness_app

    witness = _witness(state, key, log_key)
    console.print(f"witness {witness.key.name} for {', '.join(sorted(witness.logs))} on http://{host}:{port}",
                  markup=False, highlight=False)
    sys.stdout.write(f"verifier key: {witness.key.vkey}\n")
    sys.stdout.flush()
    try:
        uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="info")
    finally:
        witness.state.close()


@witness_cli.command("show")
def show(state: Path = STATE, as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """What the witness holds: the latest size and root it cosigned per log, and what it refused."""
    if not state.is_file():
        fail(f"{state} does not exist: no witness state there")
    held = WitnessState(state)
    try:
        logs, refused = held.logs(), held.refusals()
    finally:
        held.close()
    if as_json:
        print_json({"logs": [{"origin": c.origin, "tree_size": c.tree_size, "root_hash": c.root_hash.hex(),
                              "cosigned_at": c.timestamp} for c in logs],
                    "refused": [{"origin": o, "tree_size": n, "old_size": old, "reason": why, "checkpoint": note,
                                 "received_at": at} for o, n, old, why, note, at in refused]})
        return
    for c in logs:
        console.print(f"{c.origin}: cosigned {c.tree_size:,} events, root {c.root_hash.hex()}", markup=False,
                      highlight=False, soft_wrap=True)
    for origin, size, old, why, _, _ in refused:
        errors.print(f"REFUSED {origin} size {size} (old {old}): {why}", markup=False, highlight=False)
    if not logs and not refused:
        console.print("nothing cosigned yet")


def _key(path: Path) -> WitnessKey:
    try:
        return load_witness_key(path)
    except WitnessKeyError as exc:
        fail(str(exc))
    raise AssertionError  # fail() exits


def _witness(state: Path, key: Path, log_keys: list[str]) -> Witness:
    texts = [Path(k).read_text().strip() if Path(k).is_file() else k.strip() for k in log_keys]
    try:
        return Witness(load_witness_key(key), WitnessState(state), texts)
    except (WitnessKeyError, VerificationError) as exc:
        fail(str(exc))
    raise AssertionError
