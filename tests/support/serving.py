"""A real `svl serve --workers N` on 127.0.0.1, started by a test, and a way to talk to one worker of it.

Which worker answers is the kernel's choice, so a test pins a connection to one worker: it stops the other workers
(SIGSTOP), opens a keep-alive connection (only the running worker can accept it), lets them go on (SIGCONT), and
then sends its requests over that connection. `/ready` on the same connection says which process answered.
"""

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infrastructure.settings import Settings
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SVL = str(Path(sys.executable).parent / "svl")
METRICS_TOKEN = "m" * 40


def server_env(settings: Settings, tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SVL_DATABASE_URL": settings.database_url, "SVL_DATABASE_SCHEMA": settings.database_schema,
           "SVL_MASTER_KEY_FILE": str(settings.master_key_file), "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "SVL_CHECKPOINT_DIR": str(tmp / "checkpoints"), "SVL_CERTIFICATE_DIR": str(tmp / "certificates"),
           "SVL_METRICS_TOKEN": METRICS_TOKEN, **extra}
    for name in ("SVL_MASTER_KEY", "PROMETHEUS_MULTIPROC_DIR", "SVL_USER"):
        env.pop(name, None)
    return env


@dataclass
class Served:
    """A running `svl serve --workers N`, with the worker processes it has started (as uvicorn logs them)."""

    process: subprocess.Popen
    base: str
    env: dict[str, str]
    started: list[int] = field(default_factory=list)
    ready: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def follow(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                if found := re.search(r"Started server process \[(\d+)\]", line):
                    self.started.append(int(found[1]))
                if "Application startup complete" in line:
                    self.ready += 1
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, condition) -> None:  # noqa: ANN001
        with self.changed:
            while not condition():
                if self.process.poll() is not None:
                    raise RuntimeError(f"svl serve exited with {self.process.returncode}")
                self.changed.wait(1)

    def live_workers(self) -> list[int]:
        return [pid for pid in self.started if _alive(pid)]

    @contextmanager
    def pinned(self, pid: int) -> Iterator[httpx.Client]:
        """A client whose keep-alive connection was accepted by worker `pid`."""
        others = [p for p in self.live_workers() if p != pid]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            client = httpx.Client(base_url=self.base, timeout=60, limits=httpx.Limits(keepalive_expiry=600))
            answered = client.get("/ready").json()["process"]
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)
        assert answered == pid
        try:
            yield client
        finally:
            client.close()

    def answered_by(self, client: httpx.Client) -> int:
        return client.get("/ready").json()["process"]

    def leader(self) -> int:
        for pid in self.live_workers():
            with self.pinned(pid) as client:
                if client.get("/ready").json()["projects"]:
                    return pid
        raise AssertionError("no worker projects")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed worker is a zombie until its parent reaps it
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def start_svl_serve(env: dict[str, str], workers: int, port: int | None = None) -> Served:
    port = port or free_port()
    # A long keep-alive: a pinned client's connection must outlive the slowest step of a test on a loaded machine.
    process = subprocess.Popen([SVL, "serve", "--workers", str(workers), "--port", str(port), "--keep-alive", "600"],
                               cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    served = Served(process, f"http://127.0.0.1:{port}", env)
    threading.Thread(target=served.follow, daemon=True).start()
    served.wait_for(lambda: served.ready >= workers)
    return served


def stop(served: Served) -> None:
    for pid in served.live_workers():
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    served.process.terminate()
    try:
        served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait(timeout=10)


def svl(env: dict[str, str], *args: str) -> str:
    """`svl ARGS` in a shell with these variables, as an IT team runs it; its output (it must succeed)."""
    done = subprocess.run([SVL, *args], cwd=ROOT, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"svl {' '.join(args)}: {done.stdout} {done.stderr}"
    return done.stdout
