"""`svl` lists its commands without importing them; each runs from its own module (speed: benchmarks/cli.py)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import typer

from api.cli import COMMANDS
from tests.support.cli import cli, cli_environment, populated  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parent.parent


def test_the_command_table_is_what_the_modules_register() -> None:
    for module, names in COMMANDS.items():
        group = typer.Typer()
        importlib.import_module(module).register(group)
        assert set(typer.main.get_group(group).commands) == set(names), module


def test_svl_help_imports_nothing_of_the_application() -> None:
    probe = ("import sys\nsys.argv = ['svl', '--help']\nfrom api.cli import app\ntry:\n    app()\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('api', 'domain', 'infrastructure', 'projections', 'sqlalchemy', 'eventsourcing', 'fastapi')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert "records" in done.stdout and "retention" in done.stdout  # the help lists every command
    assert done.stdout.strip().splitlines()[-1] == "['api', 'api.cli']"


# What `svl records` may not import: the application's libraries, psycopg 3 among them (it reads PostgreSQL with
# psycopg2, which imports a fifth as much: infrastructure/plain_reads.py); the key derivation of a destroyed-key
# list where there is no list.
_HEAVY = ("api.application", "sqlalchemy", "eventsourcing", "pydantic", "rich", "fastapi", "psycopg",
          "cryptography.hazmat.primitives.kdf")


def test_svl_records_lists_without_importing_the_application(populated, settings, tmp_path) -> None:
    _, rid = populated
    probe = ("import sys\nsys.argv = ['svl', 'records', '--as', 'sam']\nfrom api.cli import app\ntry:\n    app()\n"
             "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
             f"print(sorted(m for m in sys.modules if m in {_HEAVY!r} or m.split('.')[0] in {_HEAVY!r}))")
    env = {**os.environ, **cli_environment(settings, tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]", lines[-1]
    assert lines[-2] == "1 records"
    assert any(line.startswith(str(rid)[:8]) and "Worker" in line for line in lines)  # the names, not ids


def test_svl_records_prints_the_same_whichever_path_answers(cli, populated, monkeypatch) -> None:
    quick = cli("records", "--as", "sam")
    as_json = cli("records", "--as", "sam", "--json")
    monkeypatch.setattr("api.cli_records.record_index", lambda *args, **kwargs: None)  # the application answers
    assert cli("records", "--as", "sam") == quick
    assert cli("records", "--as", "sam", "--json") == as_json
    assert "1 records" in quick
    assert "say who you are" in cli("records", code=2)


def test_svl_records_help_imports_no_pydantic() -> None:
    probe = ("import sys\nsys.argv = ['svl', 'records', '--help']\nfrom api.cli import app\ntry:\n    app()\n"
             "except SystemExit:\n    pass\nprint('pydantic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert "--as" in done.stdout and done.stdout.strip().splitlines()[-1] == "False"
