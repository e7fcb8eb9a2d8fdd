"""Two or more versions of the API side by side, against the floor, in one run: what a change buys.

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.compare /tmp/before .            # POST, 3 runs each
    .venv/bin/python -m bench.compare --method get /tmp/before .

CPU per request moves by up to a quarter from one run of `make bench` to the next on a shared
machine, more than most single changes buy: comparing versions across runs says little. Here every
version is served (gunicorn.conf.py, 2 workers, each from its own checkout, this virtualenv) beside
the floor app against the same Redis and database, and the runs take turns, so each version's
median meets the same conditions. Prints req/s and CPU per request, and each as a ratio to the floor.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.harness import Service, Stack
from bench.workload import PET_BODY, load_run, login, seed_pets

PATHS = {"post": "/api/pets/", "get": "/api/pets/?limit=100"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path, help="directories holding a checkout of this project")
    parser.add_argument("--method", choices=sorted(PATHS), default="post")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    checkouts = [checkout.resolve() for checkout in args.checkouts]
    missing = [str(checkout) for checkout in checkouts if not (checkout / "gunicorn.conf.py").is_file()]
    if missing:
        parser.error(f"not a checkout of this project (no gunicorn.conf.py): {', '.join(missing)}")
    body = PET_BODY if args.method == "post" else None
    with tempfile.TemporaryDirectory(prefix="pets-compare-") as work_dir:
        stack = Stack(Path(work_dir), wikipedia_latency=0.0)
        try:
            targets: list[tuple[str, Service, str]] = [
                (str(checkout), *stack.start_api(2, checkout=checkout)) for checkout in checkouts
            ]
            targets.append(("floor", *stack.start_floor_api(2)))
            token = login(targets[0][2])
            seed_pets(stack, 1_000)
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in targets}
            for _ in range(args.runs):
                for name, service, url in targets:
                    run = load_run(stack, service, url + PATHS[args.method], token=token, seconds=args.seconds,
                                   connections=16, body=body)  # fmt: skip
                    runs[name].append((run["requests_per_second"], run["cpu_ms"]))
        finally:
            stack.close()
    medians = {name: (statistics.median(r for r, _ in values), statistics.median(c for _, c in values))
               for name, values in runs.items()}  # fmt: skip
    floor_rps, floor_cpu = medians["floor"]
    print(f"\n{args.method.upper()} {PATHS[args.method]}, median of {args.runs} runs of {args.seconds} s\n")
    print("| version | req/s | CPU ms per request | req/s vs floor | CPU vs floor |\n|---|---|---|---|---|")
    for name, (rps, cpu) in medians.items():
        print(f"| {name} | {rps:.0f} | {cpu:.2f} | {rps / floor_rps:.0%} | {cpu / floor_cpu:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
