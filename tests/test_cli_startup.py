"""`svl` lists its commands without importing them; each runs from its own module (speed: benchmarks/cli.py)."""

import importlib
import subprocess
import sys
from pathlib import Path

import typer

from api.cli import COMMANDS

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
