"""Loading policy packs from TOML files, with errors a person can act on.

Every error names the file, the key path inside it (e.g.
``retention.years_after_employment_ends``) and the reason; TOML syntax errors
carry the line and column that tomllib reports.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from domain.policy import PolicyPack

ENV_POLICY_DIR = "SVL_POLICY_DIR"
_REPO_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"


class PolicyPackError(Exception):
    """A pack that cannot be used; ``problems`` lists (key path, reason) pairs."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: {key}: {reason}" for key, reason in problems]
        if len(lines) == 1:
            super().__init__(f"invalid policy pack: {lines[0]}")
        else:
            super().__init__("invalid policy pack\n" + "\n".join(lines))


def default_directory() -> Path:
    """``$SVL_POLICY_DIR`` if set, else the repository's ``policies/``."""
    configured = os.environ.get(ENV_POLICY_DIR)
    return Path(configured) if configured else _REPO_POLICY_DIR


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _reason(error: dict) -> str:
    message = error["msg"]
    # pydantic prefixes messages from our own validators; the prefix adds nothing here
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "extra_forbidden":
        return "unknown key (misspelt, or not part of a policy pack)"
    if error["type"] not in ("value_error", "assertion_error") and "input" in error:
        message = f"{message} (got {error['input']!r})"
    return message


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    return [(_key_path(e["loc"]), _reason(e)) for e in error.errors(include_url=False)]


def load_pack(path: str | Path) -> PolicyPack:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyPackError(path, [("(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyPackError(path, [("(file)", f"not UTF-8 text: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)"
        raise PolicyPackError(path, [("(syntax)", f"TOML syntax error: {exc}")]) from exc
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        raise PolicyPackError(path, _problems(exc)) from exc


def _pack_path(name: str, directory: Path) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PolicyPackError(directory / f"{name}.toml", [("(name)", f"not a policy pack name: {name!r}")])
    return directory / f"{name}.toml"


def load_pack_by_name(name: str, directory: str | Path | None = None) -> PolicyPack:
    """Load ``<directory>/<name>.toml``; the file's ``organisation.short_name`` must equal ``name``."""
    folder = Path(directory) if directory is not None else default_directory()
    path = _pack_path(name, folder)
    if not path.is_file():
        known = ", ".join(available_packs(folder)) or "none"
        raise PolicyPackError(path, [("(file)", f"no policy pack named {name!r}; available: {known}")])
    pack = load_pack(path)
    if pack.short_name != name:
        raise PolicyPackError(
            path,
            [("organisation.short_name", f"is {pack.short_name!r} but the file is named {name!r}; they must match")],
        )
    return pack


def available_packs(directory: str | Path | None = None) -> list[str]:
    """Names of the packs in the directory (file stems), sorted."""
    folder = Path(directory) if directory is not None else default_directory()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if p.is_file())


def load_all_packs(directory: str | Path | None = None) -> dict[str, PolicyPack]:
    folder = Path(directory) if directory is not None else default_directory()
    return {name: load_pack_by_name(name, folder) for name in available_packs(folder)}
