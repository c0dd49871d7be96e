"""How fast `svl` starts: `svl --help`, and commands that read (`svl records`, `svl due`, `svl access-log`) against
the BCP demo, wall and CPU time against `python -c pass` and `python -c "import typer"` measured in the same run
(median of --runs each, the commands taken in turn so that a change in the machine's load falls on all of them).
Goal: at most 1.5x `import typer`, and under 0.5 s wall.

    uv run python benchmarks/cli.py [--runs 7] [--checkout DIR ...] [--postgresql] [--only records]

The demo is loaded once by `svl init` and `svl demo` into a scratch SQLite database, and with --postgresql into a
scratch schema of the PostgreSQL server too (SVL_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/
test), where `svl records` reads with psycopg instead of sqlite3. `--only WORD` times only the commands whose name
holds WORD (beside the baselines and `svl --help`). `--checkout DIR` also times the same commands run from another
checkout of the code (e.g. `git worktree add /tmp/before main`), against the same databases and in the same rounds:
a before/after comparison on equal terms. Bytecode is compiled first in every checkout, as `make setup` does (these
machines set PYTHONDONTWRITEBYTECODE). The load average (`uptime`) is printed before and after.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

POSTGRES_URL = os.environ.get("SVL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
HELP = ("svl --help", ["--help"])
READS = [HELP,
         ("svl records --as daniel", ["records", "--as", "daniel"]),  # a supervisor: 33 records
         ("svl records --as hr", ["records", "--as", "hr"]),
         # an inspector under a grant (answered without the application unless the pack's archive rule matters)
         ("svl records --as ofsted", ["records", "--as", "ofsted"]),
         ("svl due --as priya", ["due", "--as", "priya"]),
         ("svl access-log --as dpo", ["access-log", "--as", "dpo"])]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of the command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkout", type=Path, action="append", default=[],
                        help="another checkout whose `svl` is timed too (repeatable)")
    parser.add_argument("--postgresql", action="store_true", help="time the reads on PostgreSQL too")
    parser.add_argument("--only", default="", help="only the commands whose name holds this (and --help)")
    args = parser.parse_args()
    python = sys.executable
    checkouts = [REPO, *[c.resolve() for c in args.checkout]]
    print(f"before: {uptime()}")
    for checkout in checkouts:
        subprocess.run([python, "-m", "compileall", "-q", "api", "domain", "projections", "infrastructure"],
                       cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    reads = [(n, a) for n, a in READS if (n, a) == HELP or args.only in n]
    schema = f"svl_bench_cli_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as scratch:
        files = {"SVL_MASTER_KEY_FILE": f"{scratch}/keys/master.key",
                 "SVL_SIGNING_KEY_FILE": f"{scratch}/keys/signing.key",
                 "SVL_CHECKPOINT_DIR": f"{scratch}/checkpoints", "SVL_CERTIFICATE_DIR": f"{scratch}/certificates"}
        backends = {"sqlite": {**os.environ, **files, "SVL_DATABASE_URL": f"sqlite:///{scratch}/data/svl.db"}}
        if args.postgresql:
            pg_files = {k: v.replace(scratch, f"{scratch}/pg") for k, v in files.items()}
            backends["postgresql"] = {**os.environ, **pg_files, "SVL_DATABASE_URL": POSTGRES_URL,
                                      "SVL_DATABASE_SCHEMA": schema}
        svl = [python, "-m", "api.cli"]
        try:
            for env in backends.values():
                subprocess.run(svl + ["init"], env=env, cwd=REPO, check=True, capture_output=True)
                subprocess.run(svl + ["demo"], env=env, cwd=REPO, check=True, capture_output=True)
            sqlite_env = backends["sqlite"]
            rows: list[tuple[str, list[str], Path, dict[str, str]]] = [
                ("python -c pass", [python, "-c", "pass"], REPO, sqlite_env),
                ('python -c "import typer"', [python, "-c", "import typer"], REPO, sqlite_env)]
            for checkout in checkouts:
                label = "" if checkout == REPO else f"  [{checkout}]"
                for backend, env in backends.items():
                    rows += [(f"{name}{'' if backend == 'sqlite' else ' (PostgreSQL)'}{label}", svl + argv,
                              checkout, env)
                             for name, argv in reads if backend == "sqlite" or (name, argv) != HELP]
            for _, command, cwd, env in rows:  # warm the file cache
                timed(command, env, cwd)
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _, _ in rows}
            for _ in range(args.runs):
                for name, command, cwd, env in rows:
                    samples[name].append(timed(command, env, cwd))
        finally:
            if args.postgresql:
                import psycopg

                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    wall = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    cpu = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
    typer_wall, typer_cpu = wall['python -c "import typer"'], cpu['python -c "import typer"']
    print(f"median of {args.runs} runs (goal: <= 1.5x import typer, and under 0.5 s wall)")
    print(f"  {'':50} {'wall':>7} {'x typer':>8} {'cpu':>7} {'x typer':>8}")
    for name in samples:
        print(f"  {name:50} {wall[name]:6.3f}s {wall[name] / typer_wall:7.2f}x {cpu[name]:6.3f}s "
              f"{cpu[name] / typer_cpu:7.2f}x")
    print(f"after: {uptime()}")


if __name__ == "__main__":
    main()
