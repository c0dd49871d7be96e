"""How fast `svl` starts: `svl --help` and `svl records`, wall time against `python -c pass` and
`python -c "import typer"` measured in the same run (median of --runs each). Goal: under 0.5 s wall.

    uv run python benchmarks/cli.py [--runs 7]

`svl records` runs against a scratch SQLite database made by `svl init`, as an administrator account.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wall(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "SVL_DATABASE_URL": f"sqlite:///{scratch}/data/svl.db",
               "SVL_MASTER_KEY_FILE": f"{scratch}/master.key", "SVL_SIGNING_KEY_FILE": f"{scratch}/signing.key",
               "SVL_CHECKPOINT_DIR": f"{scratch}/checkpoints", "SVL_CERTIFICATE_DIR": f"{scratch}/certificates"}
        svl = [python, "-m", "api.cli"]
        subprocess.run(svl + ["init"], env=env, cwd=REPO, check=True, capture_output=True)
        subprocess.run(svl + ["user", "add", "hr", "--role", "administrator"], env=env, cwd=REPO, check=True,
                       capture_output=True)
        baseline = wall([python, "-c", "pass"], env, args.runs)
        typer_only = wall([python, "-c", "import typer"], env, args.runs)
        rows = [("python -c pass", baseline), ('python -c "import typer"', typer_only),
                ("svl --help", wall(svl + ["--help"], env, args.runs)),
                ("svl records --as hr", wall(svl + ["records", "--as", "hr"], env, args.runs))]
    print(f"wall time, median of {args.runs} runs (goal: under 0.5 s)")
    for name, seconds in rows:
        print(f"  {name:28} {seconds:6.3f} s   {seconds / baseline:5.1f}x python -c pass   "
              f"{seconds / typer_only:5.2f}x import typer")


if __name__ == "__main__":
    main()
