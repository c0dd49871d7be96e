"""The master key that wraps every data key: read from SVL_MASTER_KEY or its file, never from the database.
Apart from infrastructure/keys.py so that a reader without SQLAlchemy (`svl records`) loads it the same way."""

import base64
import os
from pathlib import Path


class KeyError_(Exception):
    """Base for key problems; named so it does not shadow the builtin KeyError."""


class MasterKeyMissing(KeyError_):
    pass


def master_key_from_environment() -> bool:
    """Whether the master key is given by SVL_MASTER_KEY (a key store's), not kept in this service's file: such a
    key is rotated in the key store, never by this service."""
    return os.environ.get("SVL_MASTER_KEY") is not None


def load_master_key(path: Path, env_value: str | None = None) -> bytes:
    """From SVL_MASTER_KEY (base64) if set, else from the key file. Never from the database."""
    raw = env_value if env_value is not None else os.environ.get("SVL_MASTER_KEY")
    if raw is None:
        if not path.exists():
            raise MasterKeyMissing(
                f"master key file {path} not found: run `svl init` to create one, "
                "or set SVL_MASTER_KEY_FILE / SVL_MASTER_KEY"
            )
        raw = path.read_text().strip()
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise MasterKeyMissing("the master key is not valid base64") from None
    if len(key) != 32:
        raise MasterKeyMissing(f"the master key must be 32 bytes (AES-256), found {len(key)}")
    return key
