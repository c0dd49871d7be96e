"""What a checkpoint costs, so the unsigned window can be seconds: one save then one checkpoint, repeated, on
SQLite and PostgreSQL, against the save alone in the same run. Publishing is on (two fsync'd files).
Optionally with a real witness process on 127.0.0.1 (`--witness`): the round trip it adds.

    uv run python benchmarks/checkpoint.py [--backend sqlite] [--rounds 200] [--witness]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import demo_cast as cast  # noqa: E402
from api.application import Storage, SupervisionApplication  # noqa: E402
from benchmarks.common import FastClock, chosen_backends, master_key, scratch_settings  # noqa: E402
from infrastructure.checkpoints import create_signing_key_file, load_signing_key  # noqa: E402
from infrastructure.witness import create_witness_key_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def start_witness(tmp: Path, log_vkey: str) -> tuple[subprocess.Popen, str, str]:
    import socket

    key = create_witness_key_file(tmp / "witness.key", "bench.example/witness")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "witness", "serve", "--state", str(tmp / "w.db"),
                                "--key", str(tmp / "witness.key"), "--log-key", log_vkey, "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).close()
            return process, url, key.vkey
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the witness did not start") from None
            time.sleep(0.05)


def run(backend: str, rounds: int, with_witness: bool) -> None:
    with scratch_settings(backend) as base, tempfile.TemporaryDirectory() as tmp:
        create_signing_key_file(base.signing_key_file, base.organisation_origin)
        settings = replace(base, checkpoint_dir=Path(tmp) / "published", checkpoint_every_events=0,
                           checkpoint_every_seconds=0)
        witness = None
        if with_witness:
            witness, url, vkey = start_witness(Path(tmp), load_signing_key(settings.signing_key_file).vkey)
            settings = replace(settings, witnesses=f"bench={url}={vkey}")
        app = SupervisionApplication(Storage.open(settings, master_key()), FastClock())
        try:
            def save() -> None:
                app.people.join_worker(cast.HR, name="Bench Worker", role="r", category="experienced",
                                       start_date=date(2024, 1, 1))

            for _ in range(20):
                save()
                app.integrity.checkpoint()
            saves, checkpoints = [], []
            for _ in range(rounds):  # interleaved, so load on the machine hits both alike
                started = time.perf_counter()
                save()
                middle = time.perf_counter()
                outcome = app.integrity.checkpoint()
                checkpoints.append(time.perf_counter() - middle)
                saves.append(middle - started)
                assert outcome.created and (not with_witness or outcome.witnesses[0].cosigned)
        finally:
            app.close()
            app.storage.engine.dispose()
            if witness is not None:
                witness.terminate()
                witness.wait()
        save_ms, cp_ms = statistics.median(saves) * 1000, statistics.median(checkpoints) * 1000
        label = "checkpoint + witness" if with_witness else "checkpoint"
        print(f"{backend:10s} save (baseline) median {save_ms:6.2f} ms | {label} median {cp_ms:6.2f} ms "
              f"(p90 {sorted(checkpoints)[int(len(checkpoints) * 0.9)] * 1000:.2f} ms) = {cp_ms / save_ms:.2f}x a save")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--witness", action="store_true", help="also ask a real witness process each time")
    args = parser.parse_args()
    for backend in chosen_backends(args.backend):
        run(backend, args.rounds, with_witness=False)
        if args.witness:
            run(backend, args.rounds, with_witness=True)


if __name__ == "__main__":
    main()
