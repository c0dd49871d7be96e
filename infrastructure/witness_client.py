"""The log's side of C2SP tlog-witness: asking the organisation's witnesses to cosign a checkpoint.

Configured by `SVL_WITNESSES`, a comma-separated list of `name=url=vkey`:

    SVL_WITNESSES="inspectorate=https://witness.example.org=witness.example.org/w1+1a2b3c4d+BF8...,auditor=..."

`name` is a label for messages, `url` the witness's submission prefix (the request goes to
`<url>/add-checkpoint`), `vkey` its cosignature/v1 verifier key (type 0x04). A witness that does not
answer within `SVL_WITNESS_TIMEOUT` seconds is skipped: the checkpoint is stored and published without
its cosignature, and the next checkpoint asks again.
"""

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from infrastructure.svl_verify import (
    CosignerKey,
    VerificationError,
    parse_checkpoint,
    parse_cosigner_key,
    parse_note,
    verify_cosignatures,
)
from infrastructure.witness import SIZE_CONTENT_TYPE, format_request

# (old size, new size) -> the consistency proof between them, from the ledger.
ProofSource = Callable[[int, int], list[bytes]]
_MAX_ANSWER_BYTES = 64 * 1024


class WitnessConfigError(ValueError):
    """SVL_WITNESSES is not a list of name=url=vkey."""


@dataclass(frozen=True)
class WitnessEndpoint:
    name: str
    url: str
    key: CosignerKey

    def holds_cosignature(self, note: str) -> bool:
        try:
            found, _ = verify_cosignatures(note, [self.key])
        except VerificationError:
            return False
        return bool(found)


@dataclass(frozen=True)
class WitnessResult:
    witness: str
    line: str | None  # the cosignature line, when cosigned
    message: str
    conflict: bool = False  # the witness holds another history: a split view or a rewritten log

    @property
    def cosigned(self) -> bool:
        return self.line is not None


def parse_witness_list(text: str) -> list[WitnessEndpoint]:
    endpoints = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, rest = item.partition("=")
        url, sep2, vkey = rest.rpartition("=")
        if not (sep and sep2 and name and url and vkey):
            raise WitnessConfigError(f"SVL_WITNESSES entry {item!r} is not name=url=vkey")
        if not url.startswith(("http://", "https://")):
            raise WitnessConfigError(f"SVL_WITNESSES entry {name!r}: the url must start with http:// or https://")
        try:
            key = parse_cosigner_key(vkey)
        except VerificationError as exc:
            raise WitnessConfigError(f"SVL_WITNESSES entry {name!r}: {exc}") from None
        endpoints.append(WitnessEndpoint(name, url.rstrip("/"), key))
    if len({e.name for e in endpoints}) != len(endpoints):
        raise WitnessConfigError("SVL_WITNESSES names a witness twice")
    return endpoints


class Cosigners:
    """Sends add-checkpoint to every configured witness at once, and keeps the lines that verify.

    A witness that did not answer is not asked again for `retry_after` seconds: a retention run signing
    hundreds of checkpoints must not wait a timeout for each while one witness is down."""

    def __init__(self, endpoints: Sequence[WitnessEndpoint], timeout: float, retry_after: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.retry_after = retry_after
        self._monotonic = monotonic
        self._down_until: dict[str, float] = {}

    def request(self, note: str, proof: ProofSource, previous: str | None = None,
                only: Sequence[WitnessEndpoint] | None = None) -> list[WitnessResult]:
        """`previous`: an earlier note of this log; a witness that cosigned it is asked from its size."""
        wanted = self.endpoints if only is None else list(only)
        if not wanted:
            return []
        with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="svl-witness") as pool:
            return list(pool.map(lambda e: self._ask(e, note, proof, previous), wanted))

    def _ask(self, endpoint: WitnessEndpoint, note: str, proof: ProofSource, previous: str | None) -> WitnessResult:
        if self._monotonic() < self._down_until.get(endpoint.name, 0.0):
            return WitnessResult(endpoint.name, None, f"not asked: it did not answer less than {self.retry_after:.0f} s "
                                 "ago")
        result = self._exchange(endpoint, note, proof, previous)
        if result.message.startswith("unreachable"):
            self._down_until[endpoint.name] = self._monotonic() + self.retry_after
        else:
            self._down_until.pop(endpoint.name, None)
        return result

    def _exchange(self, endpoint: WitnessEndpoint, note: str, proof: ProofSource,
                  previous: str | None) -> WitnessResult:
        cp = parse_checkpoint(note)
        old = 0
        if previous is not None and endpoint.holds_cosignature(previous):
            old = min(parse_checkpoint(previous).tree_size, cp.tree_size)
        for _ in range(2):  # a stale old size costs one more round trip: the witness says what it holds
            status, content_type, body = self._post(endpoint, old, proof(old, cp.tree_size) if old else [], note)
            if status == 409 and content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
                try:
                    held = int(body.strip())
                except ValueError:
                    return WitnessResult(endpoint.name, None, f"answered 409 with an unreadable size {body[:40]!r}")
                if held > cp.tree_size:
                    return WitnessResult(endpoint.name, None, f"already cosigned a larger tree ({held} events)")
                old = held
                continue
            return self._result(endpoint, note, status, body)
        return WitnessResult(endpoint.name, None, "the size it holds kept changing; asked twice")

    def _result(self, endpoint: WitnessEndpoint, note: str, status: int, body: str) -> WitnessResult:
        if status == 200:
            lines = [line + "\n" for line in body.split("\n") if line]
            try:
                found, problems = verify_cosignatures(note + "".join(lines), [endpoint.key])
            except VerificationError as exc:
                return WitnessResult(endpoint.name, None, f"answered with lines that are not signatures: {exc}")
            if not found:
                return WitnessResult(endpoint.name, None, "answered without a valid cosignature by its key"
                                     + (f" ({'; '.join(problems)})" if problems else ""))
            mine = [line for line in lines if _is_by(line, endpoint.key)]
            return WitnessResult(endpoint.name, mine[-1], "cosigned")
        text = body.strip()[:300]
        if status in (409, 422):
            return WitnessResult(endpoint.name, None, f"REFUSED ({status}): {text}", conflict=True)
        if status < 0:
            return WitnessResult(endpoint.name, None, f"unreachable: {text}")
        return WitnessResult(endpoint.name, None, f"refused ({status}): {text}")

    def _post(self, endpoint: WitnessEndpoint, old: int, proof: list[bytes], note: str) -> tuple[int, str, str]:
        request = urllib.request.Request(f"{endpoint.url}/add-checkpoint", data=format_request(old, proof, note),
                                         method="POST", headers={"Content-Type": "text/plain; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - configured url
                return answer.status, answer.headers.get("Content-Type", ""), _read(answer)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Content-Type", ""), _read(exc)
        except (OSError, ValueError) as exc:  # refused, timed out, no route, a bad url
            return -1, "", str(getattr(exc, "reason", exc))


def _read(answer: IO[bytes]) -> str:
    data = answer.read(_MAX_ANSWER_BYTES)
    return data.decode("utf-8", errors="replace")


def _is_by(line: str, key: CosignerKey) -> bool:
    try:
        signature = parse_note("x\n\n" + line).signatures[0]
    except VerificationError:
        return False
    return (signature.name, signature.key_id) == (key.name, key.key_id)


def merge_signatures(note: str, lines: Sequence[str]) -> str:
    """The note with the given signature lines added (those it already holds are not repeated)."""
    held = set(note[note.rfind("\n\n") + 2:].splitlines(keepends=True))
    return note + "".join(line for line in lines if line not in held)
