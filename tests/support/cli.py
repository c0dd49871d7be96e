"""Fixtures that run `svl` through typer's CliRunner against the fixture's database, configured only by
environment: `run` as is, `cli` after `svl init` (with published checkpoints), `populated` with staff and one
shared record written by the application itself."""

import base64

import pytest
from typer.testing import CliRunner

from api.application import Storage, SupervisionApplication
from api.cli import app as svl
from tests.support.acting import acting
from tests.support.staff import content, staff


def invoker(env: dict[str, str]):  # noqa: ANN202
    """svl's arguments -> its output, asserting its exit code (0 unless `code` says) and that no traceback shows."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(svl, list(args), env=env)
        assert result.exit_code == code, result.output + repr(result.exception)
        assert "Traceback" not in result.output
        return result.output
    return invoke


@pytest.fixture
def run(settings, master_key):
    settings.master_key_file.write_text(base64.b64encode(master_key).decode())
    env = {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_POLICY_PACK": "bcp", "COLUMNS": "220",
           # As the in-process application is set up: nothing published, certificates in the test's own folder
           # (the defaults are relative, and would write into the checkout's data/ folder).
           "SVL_CHECKPOINT_DIR": "", "SVL_CERTIFICATE_DIR": str(settings.certificate_dir)}
    return invoker(env)


def cli_environment(settings, tmp_path) -> dict[str, str]:  # noqa: ANN001
    """The environment the `cli` fixture runs `svl` in (also for `svl` run as a process of its own)."""
    return {"SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
            "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
            "SVL_CHECKPOINT_DIR": str(tmp_path / "published"), "SVL_DESTROYED_KEYS_FILE": str(tmp_path / "gone.json"),
            "SVL_USER": "", "COLUMNS": "200"}


@pytest.fixture
def cli(settings, master_key, tmp_path):
    settings.master_key_file.write_text(base64.b64encode(master_key).decode() + "\n")
    invoke = invoker(cli_environment(settings, tmp_path))
    invoke("init")
    return invoke


@pytest.fixture
def populated(cli, settings, master_key):
    """Staff and one shared record, written by the application itself; returns (app, record id)."""
    app = SupervisionApplication(Storage.open(settings, master_key=master_key))
    _, supervisor, worker = staff(app)
    rid = app.records.draft_record(acting(supervisor), supervisee_id=worker, content=content()).id
    app.records.share_record(acting(supervisor), rid)
    app.people.users.add_user("sam", "supervisee", worker_id=str(worker), created_by="test")
    yield app, rid
    app.close()
    app.storage.engine.dispose()
