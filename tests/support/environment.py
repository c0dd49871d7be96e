"""The environment a test gives `svl` (CliRunner or a process of its own) to reach the fixture's storage."""

import os

from infrastructure.settings import Settings


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    """The process's environment with the fixture's database, keys and files, and no master key of its own."""
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CHECKPOINT_DIR": str(settings.checkpoint_dir or ""), "SVL_DESTROYED_KEYS_FILE": str(settings.tombstones_file),
           "SVL_CERTIFICATE_DIR": str(settings.certificate_dir), "SVL_USER": "", "COLUMNS": "200", **extra}
    env.pop("SVL_MASTER_KEY", None)
    return env
