"""Two or more versions of the API side by side, against the floor, in one run: what a change buys.

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.compare /tmp/before .            # POST, 3 runs each
    .venv/bin/python -m bench.compare --method get /tmp/before .        # ?limit=100 of 1,000 pets
    .venv/bin/python -m bench.compare --method short-list /tmp/before .  # all of 100 pets
    .venv/bin/python -m bench.compare --method page /tmp/before .        # the HTML page, 100 pets
    .venv/bin/python -m bench.compare --method pipeline /tmp/before .    # 3 consumers, 5,000 tasks

CPU per request moves by up to a quarter from one run of `make bench` to the next on a shared
machine, more than most single changes buy: comparing versions across runs says little. Here every
version is served (gunicorn.conf.py, 2 workers, each from its own checkout, this virtualenv) beside
the floor app against the same Redis and database, and the runs take turns, so each version's
median meets the same conditions. Prints req/s and CPU per request (the server's and the
database's), and each as a ratio to the floor (whose list stands in for the page).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.harness import ROOT, Service, Stack
from bench.workload import PET_BODY, load_run, login, seed_pets, turns

PATHS = {"post": "/api/pets/", "get": "/api/pets/?limit=100", "short-list": "/api/pets/", "page": "/"}
SEEDED = {"post": 1_000, "get": 1_000, "short-list": 100, "page": 100}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path, help="directories holding a checkout of this project")
    parser.add_argument("--method", choices=[*sorted(PATHS), "pipeline"], default="post")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    checkouts = [checkout.resolve() for checkout in args.checkouts]
    missing = [str(checkout) for checkout in checkouts if not (checkout / "gunicorn.conf.py").is_file()]
    if missing:
        parser.error(f"not a checkout of this project (no gunicorn.conf.py): {', '.join(missing)}")
    if args.method == "pipeline":
        return compare_pipelines(checkouts, args.runs)
    body = PET_BODY if args.method == "post" else None
    with tempfile.TemporaryDirectory(prefix="pets-compare-") as work_dir:
        stack = Stack(Path(work_dir), wikipedia_latency=0.0)
        try:
            targets: list[tuple[str, Service, str]] = [
                (str(checkout), *stack.start_api(2, checkout=checkout)) for checkout in checkouts
            ]
            targets.append(("floor", *stack.start_floor_api(2)))
            token = login(targets[0][2])
            seed_pets(stack, SEEDED[args.method])
            runs: dict[str, list[tuple[float, ...]]] = {name: [] for name, _, _ in targets}
            for turn in range(args.runs):
                for name, service, url in turns(targets, turn):
                    path = "/api/pets/" if name == "floor" and args.method == "page" else PATHS[args.method]
                    auth = None if path == "/" else token
                    run = load_run(stack, service, url + path, token=auth, seconds=args.seconds,
                                   connections=16, body=body)  # fmt: skip
                    measures = ("requests_per_second", "cpu_ms", "db_cpu_ms", "redis_cpu_ms")
                    runs[name].append(tuple(run[measure] for measure in measures))
        finally:
            stack.close()
    medians = {name: tuple(statistics.median(run[i] for run in values) for i in range(4))
               for name, values in runs.items()}  # fmt: skip
    floor_rps, floor_cpu, floor_db, _ = medians["floor"]
    print(f"\n{args.method} {PATHS[args.method]} ({SEEDED[args.method]} pets), median of {args.runs} runs "
          f"of {args.seconds} s\n")  # fmt: skip
    print("| version | req/s | API / database / Redis CPU ms per request | req/s vs floor "
          "| API / database CPU vs floor |\n|---|---|---|---|---|")  # fmt: skip
    for name, (rps, cpu, db, redis_cpu) in medians.items():
        print(f"| {name} | {rps:.0f} | {cpu:.2f} / {db:.2f} / {redis_cpu:.3f} | {rps / floor_rps:.0%} | "
              f"{cpu / floor_cpu:.2f}× / {db / max(floor_db, 1e-9):.2f}× |")  # fmt: skip
    return 0


def compare_pipelines(checkouts: list[Path], runs: int, tasks: int = 5_000) -> int:
    """Each checkout's three consumers and the three floor consumers, taking turns."""
    from bench.__main__ import run_pipeline

    names = [str(checkout) for checkout in checkouts] + ["floor"]
    results: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="pets-compare-") as work_dir:
        stack = Stack(Path(work_dir), wikipedia_latency=0.0)
        try:
            for turn in range(runs):
                for checkout in turns([*checkouts, None], turn):
                    name = "floor" if checkout is None else str(checkout)
                    results[name].append(run_pipeline(stack, floor=checkout is None, tasks=tasks, work=Path(work_dir),
                                                      checkout=checkout or ROOT))  # fmt: skip
        finally:
            stack.close()
    fields = ("tasks_per_second", "cpu_ms_per_task", "cpu_share_cores", "db_cpu_ms_per_task", "redis_cpu_ms_per_task")
    medians = {name: {field: statistics.median(run[field] for run in values) for field in fields}
               for name, values in results.items()}  # fmt: skip
    floor = medians["floor"]
    print(f"\npipeline, {tasks} tasks through 3 consumers, median of {runs} runs\n")
    print("| version | tasks/s | consumer CPU ms per task | consumers' CPU share (cores) | database / Redis CPU ms "
          "per task | tasks/s vs floor | CPU vs floor |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for name, m in medians.items():
        print(f"| {name} | {m['tasks_per_second']:.0f} | {m['cpu_ms_per_task']:.2f} | {m['cpu_share_cores']:.2f} | "
              f"{m['db_cpu_ms_per_task']:.2f} / {m['redis_cpu_ms_per_task']:.3f} | "
              f"{m['tasks_per_second'] / floor['tasks_per_second']:.0%} | "
              f"{m['cpu_ms_per_task'] / floor['cpu_ms_per_task']:.2f}× |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
