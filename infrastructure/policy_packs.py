"""Loading policy packs from TOML files, with errors a person can act on.

Every error names the file, the key path inside it (e.g.
``retention.years_after_employment_ends``) and the reason; TOML syntax errors
carry the line and column that tomllib reports.

A pack file may end with ``[[versions]]`` entries: each has ``effective_from = YYYY-MM-DD`` and only the
settings that change from that day, written as in the pack itself (``[versions.frequency.experienced]``).
A table named in a version is merged key by key into the version before it; any other value (a list of
phases, a number) replaces the earlier one. Each version is validated as a whole pack.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from domain.pack_history import PackHistory, PackVersion
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


def _read(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyPackError(path, [("(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyPackError(path, [("(file)", f"not UTF-8 text: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)"
        raise PolicyPackError(path, [("(syntax)", f"TOML syntax error: {exc}")]) from exc


def _validate(path: Path, data: dict, where: str = "") -> PolicyPack:
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        # a version's problem is named under the version that brought it in: versions.2.frequency...
        raise PolicyPackError(path, [(f"{where}{key}", reason) for key, reason in _problems(exc)]) from exc


def _merged(earlier: dict, change: dict) -> dict:
    merged = dict(earlier)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_history(path: str | Path) -> PackHistory:
    """Every version of the pack in a file, each validated whole; a file without ``[[versions]]`` is a
    history of one version."""
    path = Path(path)
    data = _read(path)
    changes = data.pop("versions", [])
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise PolicyPackError(path, [("versions", "must be a list of [[versions]] tables")])
    base = _validate(path, data)
    versions = [PackVersion(None, base)]
    current, previous_day = data, None
    for n, raw_change in enumerate(changes, start=1):
        where = f"versions.{n}."
        change = dict(raw_change)
        effective = change.pop("effective_from", None)
        if effective is None:
            raise PolicyPackError(path, [(f"{where}effective_from", "required key is missing: the day this "
                                                                   "version takes effect, e.g. 2027-04-01")])
        if not isinstance(effective, date) or isinstance(effective, datetime):
            raise PolicyPackError(path, [(f"{where}effective_from",
                                          f"must be a date written YYYY-MM-DD without quotes (got {effective!r})")])
        if previous_day is not None and effective == previous_day:
            raise PolicyPackError(path, [(f"{where}effective_from",
                                          f"{effective} is also the day of version {n - 1}: one version a day")])
        if previous_day is not None and effective < previous_day:
            raise PolicyPackError(path, [(f"{where}effective_from", f"{effective} is before version {n - 1}'s "
                                          f"{previous_day}: list versions in date order")])
        if "organisation" in change:
            raise PolicyPackError(path, [(f"{where}organisation", "a version may not change the organisation; "
                                                                 "a new organisation is a new pack")])
        if not change:
            raise PolicyPackError(path, [(where.rstrip("."), "changes nothing: name the settings that change")])
        change.setdefault("version", current["version"] + 1)
        if isinstance(change["version"], int) and change["version"] <= current["version"]:
            raise PolicyPackError(path, [(f"{where}version", f"must be above the version before it "
                                          f"({current['version']}), got {change['version']}")])
        current = _merged(current, change)
        versions.append(PackVersion(effective, _validate(path, current, where)))
        previous_day = effective
    return PackHistory(versions)


def load_pack(path: str | Path) -> PolicyPack:
    """The pack's first version (the file's top level), as before versions existed."""
    path = Path(path)
    data = _read(path)
    data.pop("versions", None)
    return _validate(path, data)


def _pack_path(name: str, directory: Path) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PolicyPackError(directory / f"{name}.toml", [("(name)", f"not a policy pack name: {name!r}")])
    return directory / f"{name}.toml"


def _named_path(name: str, directory: str | Path | None) -> Path:
    folder = Path(directory) if directory is not None else default_directory()
    path = _pack_path(name, folder)
    if not path.is_file():
        known = ", ".join(available_packs(folder)) or "none"
        raise PolicyPackError(path, [("(file)", f"no policy pack named {name!r}; available: {known}")])
    return path


def _check_name(path: Path, pack: PolicyPack, name: str) -> None:
    if pack.short_name != name:
        raise PolicyPackError(
            path,
            [("organisation.short_name", f"is {pack.short_name!r} but the file is named {name!r}; they must match")],
        )


def load_pack_by_name(name: str, directory: str | Path | None = None) -> PolicyPack:
    """Load ``<directory>/<name>.toml``; the file's ``organisation.short_name`` must equal ``name``."""
    path = _named_path(name, directory)
    pack = load_pack(path)
    _check_name(path, pack, name)
    return pack


def load_history_by_name(name: str, directory: str | Path | None = None) -> PackHistory:
    """Every version of ``<directory>/<name>.toml``."""
    path = _named_path(name, directory)
    history = load_history(path)
    _check_name(path, history.versions[0].pack, name)
    return history


def available_packs(directory: str | Path | None = None) -> list[str]:
    """Names of the packs in the directory (file stems), sorted."""
    folder = Path(directory) if directory is not None else default_directory()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if p.is_file())


def load_all_packs(directory: str | Path | None = None) -> dict[str, PolicyPack]:
    folder = Path(directory) if directory is not None else default_directory()
    return {name: load_pack_by_name(name, folder) for name in available_packs(folder)}


def load_all_histories(directory: str | Path | None = None) -> dict[str, PackHistory]:
    folder = Path(directory) if directory is not None else default_directory()
    return {name: load_history_by_name(name, folder) for name in available_packs(folder)}
