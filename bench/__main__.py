"""`make bench`: the API and the workers against bare floor implementations, in one run.

    .venv/bin/python -m bench            the full run (about eight minutes)
    .venv/bin/python -m bench --smoke    seconds; `make test` runs it so the benchmark never rots

It starts its own Redis, embedded database (SecantusDB, --sync-on-commit) and stand-in for
Wikipedia on free ports, then measures:
1. the short list, what most users have: `GET /api/pets/` and the HTML page `/` with 100 pets,
   created through the API (then enriched by the consumers: the counts are the ones its writes
   keep) and inserted directly (the counts come from the database once), against the floor app;
2. throughput: `POST /api/pets/` and `GET /api/pets/?limit=100` at 1,000 pets of the API as
   production serves it (gunicorn.conf.py) and of a bare WSGI floor app doing the same work
   (bench/floor_app.py), with wrk; requests/s, p50/p99 latency, and CPU per request from /proc
   (psutil), the server's and the database's;
3. the enrichment pipeline: three consumers against three floor consumers
   (bench/floor_consumer.py), warm cache, until every task is finished (file, result record,
   outcome); tasks/s, CPU per task, the consumers' CPU share, Wikipedia requests, memory;
4. reads as the collection grows (every pet enriched): p50 of the list's first page, the page
   its `Link: rel="next"` points to, the HTML page, and the species and vaccinated filters.
Ratios are medians of several runs against the floor measured in the same run. It prints a table,
writes bench/results/<timestamp>.json and draws a PNG chart of latency against collection size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import requests
from bson import ObjectId

from bench.harness import ROOT, STARTUP_SECONDS, Stack, cpu_seconds, redis_cpu_seconds, wait_until
from bench.workload import (
    PET_BODY,
    SPECIES,
    create_pets_through_api,
    forget_pets,
    load_run,
    login,
    seed_pets,
    turns,
)
from contracts.results import RESULTS_COLLECTION
from contracts.tasks import NORMAL, PROCESSING_KEY_PREFIX, TASKS_KEY, WAKE_KEY, build_task, push_task

GOALS = {
    "short_list_rps_ratio_api_created": (">=", 0.6),
    "short_list_db_cpu_ratio_api_created": ("<=", 2.0),
    "short_list_rps_ratio_inserted": (">=", 0.6),
    "short_list_db_cpu_ratio_inserted": ("<=", 2.0),
    "page_cost_vs_list_api_created": ("<=", 2.0),
    "page_cost_vs_list_inserted": ("<=", 2.0),
    "post_rps_ratio": (">=", 0.6),
    "get_rps_ratio": (">=", 0.6),
    "post_cpu_ratio": ("<=", 1.6),
    "get_cpu_ratio": ("<=", 2.0),
    "pipeline_rate_ratio": (">=", 0.7),
    "pipeline_cpu_ratio": ("<=", 1.3),
}
SHORT_LIST = 100  # pets: the registry most users have


def medians_of(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Each numeric field's median over the runs; any other field as the first run has it (a
    median of lists fails for an even number of runs)."""
    return {key: {field: statistics.median(run[field] for run in values) if isinstance(first, int | float) else first
                  for field, first in values[0].items()}
            for key, values in runs.items()}  # fmt: skip


def measure_short_list(stack: Stack, args: argparse.Namespace, work: Path) -> dict:
    """The list and the page with 100 pets, against the floor's list, runs taking turns.

    `cost` is the CPU a request takes, the server's and the database's: the page's is compared
    with the list's (it reads the same pets, plus their results and states, and renders HTML)."""
    api, api_url = stack.start_api(args.workers)
    floor, floor_url = stack.start_floor_api(args.floor_workers)
    token = login(api_url)
    by_origin: dict[str, dict] = {}
    for origin in ("api_created", "inserted"):
        forget_pets(stack)
        if origin == "api_created":
            create_pets_through_api(api_url, token, SHORT_LIST)
            enrich_queued_pets(stack, work, SHORT_LIST)
        else:
            seed_pets(stack, SHORT_LIST)
        runs: dict[str, list[dict]] = {}
        targets = [("api_list", api, f"{api_url}/api/pets/", token),
                   ("floor_list", floor, f"{floor_url}/api/pets/", token),
                   ("api_page", api, f"{api_url}/", None)]  # fmt: skip
        for turn in range(args.throughput_runs):
            for name, service, url, auth in turns(targets, turn):
                run = load_run(stack, service, url, token=auth, seconds=args.seconds,
                               connections=args.connections, body=None)  # fmt: skip
                runs.setdefault(name, []).append(run | {"cost_ms": run["cpu_ms"] + run["db_cpu_ms"]})
        medians = medians_of(runs)
        api_list, floor_list, page = medians["api_list"], medians["floor_list"], medians["api_page"]
        by_origin[origin] = {"medians": medians, "runs": runs}
        print(f"  {origin}: list {api_list['requests_per_second']:.0f} req/s (floor "
              f"{floor_list['requests_per_second']:.0f}), page {page['requests_per_second']:.0f} req/s")  # fmt: skip
    stack.stop([api, floor])
    forget_pets(stack)
    ratios = {}
    for origin, measured in by_origin.items():
        api_list, floor_list, page = (measured["medians"][key] for key in ("api_list", "floor_list", "api_page"))
        ratios[f"short_list_rps_ratio_{origin}"] = api_list["requests_per_second"] / floor_list["requests_per_second"]
        ratios[f"short_list_db_cpu_ratio_{origin}"] = api_list["db_cpu_ms"] / max(floor_list["db_cpu_ms"], 1e-9)
        ratios[f"short_list_api_cpu_ratio_{origin}"] = api_list["cpu_ms"] / max(floor_list["cpu_ms"], 1e-9)
        ratios[f"page_cost_vs_list_{origin}"] = page["cost_ms"] / api_list["cost_ms"]
    return {"pets": SHORT_LIST, "by_origin": by_origin, "ratios": ratios}


def enrich_queued_pets(stack: Stack, work: Path, count: int) -> None:
    """Let the consumers enrich what the API queued, then the outbox relay clear the staged tasks:
    the pets as a running deployment holds them."""
    consumers = stack.start_consumers(False, work / f"short-list-{time.monotonic_ns()}")
    wait_until(lambda: stack.db[RESULTS_COLLECTION].count_documents({}) >= count, timeout=120, what="enrichment")
    stack.stop(consumers)
    stack.relay_outbox_once()


def measure_throughput(stack: Stack, args: argparse.Namespace) -> dict:
    api, api_url = stack.start_api(args.workers)
    floor, floor_url = stack.start_floor_api(args.floor_workers)
    token = login(api_url)
    runs: dict[str, list] = {}
    seed_pets(stack, args.seeded)
    # Every GET run before any POST run: the reads see the seeded collection, untouched.
    for method, body, path in (("get", None, "/api/pets/?limit=100"), ("post", PET_BODY, "/api/pets/")):
        for turn in range(args.throughput_runs):
            for name, url, service in turns([("api", api_url, api), ("floor", floor_url, floor)], turn):
                run = load_run(stack, service, url + path, token=token, seconds=args.seconds,
                               connections=args.connections, body=body)  # fmt: skip
                runs.setdefault(f"{name}_{method}", []).append(run)
    stack.stop([api, floor])
    medians = medians_of(runs)
    ratios = {}
    for method in ("post", "get"):
        ratios[f"{method}_rps_ratio"] = medians[f"api_{method}"]["requests_per_second"] / max(
            medians[f"floor_{method}"]["requests_per_second"], 1e-9
        )
        ratios[f"{method}_cpu_ratio"] = medians[f"api_{method}"]["cpu_ms"] / max(
            medians[f"floor_{method}"]["cpu_ms"], 1e-9
        )
    return {"medians": medians, "runs": runs, "ratios": ratios}


def run_pipeline(stack: Stack, *, floor: bool, tasks: int, work: Path, checkout: Path = ROOT) -> dict:
    """`tasks` tasks through three consumers (of `checkout`) or three floor consumers, warm cache."""
    processed = work / f"{'floor' if floor else 'api'}-{time.monotonic_ns()}"
    # Start cold and empty: no task left by a load test, no summary cached by an earlier run.
    stack.redis.delete(TASKS_KEY, WAKE_KEY, *stack.redis.keys("pets:wikipedia:*"))
    consumers = stack.start_consumers(floor, processed, checkout)
    wikipedia_before = stack.wikipedia.requests
    for species in SPECIES:  # warm the cache: one task per species first
        push_tasks(stack, 1, species)
    wait_until(lambda: count_files(processed) >= len(SPECIES), timeout=STARTUP_SECONDS, what="warm-up files")
    warm_titles = stack.wikipedia.titles[wikipedia_before:]
    warm_requests = len(warm_titles)
    wait_until(partial(all_finished, stack, floor), timeout=STARTUP_SECONDS, what="warm-up tasks finished")
    memory_before = sum(memory_mb(service) for service in consumers)
    cpu_before, db_cpu_before = cpu_seconds(consumers), cpu_seconds([stack.mongo])
    redis_cpu_before = redis_cpu_seconds(stack.redis)
    started = time.monotonic()
    push_tasks(stack, tasks)
    wait_until(lambda: count_files(processed) >= len(SPECIES) + tasks, timeout=600, what="pipeline files")
    # Finished means everything a task writes: its result record and its outcome too, not only its file.
    wait_until(partial(all_finished, stack, floor), timeout=600, what="pipeline tasks finished", interval=0.01)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(consumers) - cpu_before
    result = {
        "tasks": tasks,
        "tasks_per_second": tasks / elapsed,
        "cpu_ms_per_task": cpu / tasks * 1000,
        "cpu_share_cores": cpu / elapsed,  # of the machine's cores, all consumers together
        "db_cpu_ms_per_task": (cpu_seconds([stack.mongo]) - db_cpu_before) / tasks * 1000,
        "redis_cpu_ms_per_task": (redis_cpu_seconds(stack.redis) - redis_cpu_before) / tasks * 1000,
        "wikipedia_requests_for_warm_up": warm_requests,
        "wikipedia_titles_for_warm_up": warm_titles,
        "memory_mb_before": memory_before,
        "memory_mb_after": sum(memory_mb(service) for service in consumers),
    }
    stack.stop(consumers)
    return result


def all_finished(stack: Stack, floor: bool) -> bool:
    """Nothing queued or held by a consumer (a task leaves its processing list only once its file,
    result record and outcome are written)."""
    held = stack.redis.keys("pets:floor-processing:*" if floor else PROCESSING_KEY_PREFIX + "*")  # floor_consumer.py's
    return not any(stack.redis.llen(key) for key in [TASKS_KEY, *held])


def memory_mb(service) -> float:  # noqa: ANN001
    import psutil

    return psutil.Process(service.popen.pid).memory_info().rss / 2**20


def push_tasks(stack: Stack, count: int, species: str | None = None) -> None:
    with stack.redis.pipeline(transaction=False) as pipe:
        for number in range(count):
            kind = species or SPECIES[number % len(SPECIES)]
            task = build_task(pet_id=str(ObjectId()), name=f"Pet {number}", species=kind, age=number % 15,
                              owner="Bench", vaccinated=number % 2 == 0, reason="created")  # fmt: skip
            push_task(pipe, task.to_json(), NORMAL)  # as the API does (the floor consumer reads pets:tasks)
        pipe.execute()


def count_files(directory: Path) -> int:
    return sum(1 for entry in directory.iterdir() if entry.suffix == ".json") if directory.exists() else 0


def measure_pipeline(stack: Stack, args: argparse.Namespace, work: Path) -> dict:
    runs: dict[str, list] = {"api": [], "floor": []}
    for turn in range(args.runs):
        for name in turns(["api", "floor"], turn):
            runs[name].append(run_pipeline(stack, floor=name == "floor", tasks=args.tasks, work=work))
    medians = medians_of(runs)
    ratios = {
        "pipeline_rate_ratio": medians["api"]["tasks_per_second"] / medians["floor"]["tasks_per_second"],
        "pipeline_cpu_ratio": medians["api"]["cpu_ms_per_task"] / medians["floor"]["cpu_ms_per_task"],
    }
    return {"medians": medians, "runs": runs, "ratios": ratios,
            "wikipedia_requests_first_run": runs["api"][0]["wikipedia_requests_for_warm_up"]}  # fmt: skip


def p50s_ms(urls: dict[str, str], token: str, repeats: int) -> dict[str, float]:
    """The median latency of each URL (the HTML page without the token), in `repeats` rounds that
    take each URL in turn: a slow spell of a shared machine then falls on all of them alike, not on
    whichever was being measured."""
    session = requests.Session()
    headers = {name: {} if name == "html_page" else {"Authorization": f"Bearer {token}"} for name in urls}
    for name, url in urls.items():
        session.get(url, headers=headers[name], timeout=60).raise_for_status()  # warm
    times: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(repeats):
        for name, url in urls.items():
            started = time.perf_counter()
            session.get(url, headers=headers[name], timeout=60).raise_for_status()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def next_link(url: str, token: str) -> str:
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return response.links["next"]["url"]


def measure_reads(stack: Stack, args: argparse.Namespace) -> dict:
    stack.db.pet.delete_many({})
    api, url = stack.start_api(args.workers)
    token = login(url)
    by_size, seeded = {}, 0
    for size in args.sizes:
        seed_pets(stack, size - seeded, start=seeded)
        seeded = size
        first = f"{url}/api/pets/?limit=100"
        urls = {
            "first_page": first,
            "next_page": next_link(first, token),
            "html_page": f"{url}/",
            "species_filter": f"{url}/api/pets/?limit=100&species=cat",
            "vaccinated_filter": f"{url}/api/pets/?limit=100&vaccinated=true",
        }
        by_size[size] = p50s_ms(urls, token, args.repeats)
        print(f"  {size:>7} pets: " + ", ".join(f"{k} {v:.1f} ms" for k, v in by_size[size].items()), flush=True)
    stack.stop([api])
    low, high = min(args.sizes), max(s for s in args.sizes if s <= args.flat_at)
    flatness = {f"{name}_p50_ratio_{high}_vs_{low}": by_size[high][name] / by_size[low][name] for name in by_size[low]}
    return {"p50_ms_by_size": by_size, "flatness": flatness}


def draw_chart(reads: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(reads["p50_ms_by_size"])
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name in reads["p50_ms_by_size"][sizes[0]]:
        axes.plot(sizes, [reads["p50_ms_by_size"][size][name] for size in sizes], marker="o", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("pets in the collection (all enriched)")
    axes.set_ylabel("p50 latency (ms)")
    axes.set_ylim(bottom=0)
    axes.set_title("Pet App reads against collection size (embedded database)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def check(value: float, goal: tuple[str, float]) -> bool:
    op, limit = goal
    return value >= limit if op == ">=" else value <= limit


def report(results: dict) -> list[tuple[str, float, str, bool]]:
    """The goals of the sections that ran: (measure, value, target, met)."""
    ratios = {key: value for section in SECTIONS if section in results for key, value in
              results[section].get("ratios", {}).items()}  # fmt: skip
    rows = [(key, ratios[key], f"{goal[0]} {goal[1]}", check(ratios[key], goal))
            for key, goal in GOALS.items() if key in ratios]  # fmt: skip
    for key, value in results.get("reads", {}).get("flatness", {}).items():
        rows.append((key, value, "<= 1.5", value <= 1.5))
    if "pipeline" in results:
        species = results["pipeline"]["wikipedia_requests_first_run"]
        rows.append(("wikipedia_requests_per_distinct_species", species / len(SPECIES), "== 1",
                     species == len(SPECIES)))  # fmt: skip
        memory = results["pipeline"]["medians"]["api"]
        growth = memory["memory_mb_after"] / memory["memory_mb_before"]
        rows.append((f"consumer_memory_growth_over_{memory['tasks']}_tasks", growth, "<= 1.1", growth <= 1.1))
    return rows


SECTIONS = ("short_list", "throughput", "pipeline", "reads")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a run of seconds, to check the benchmark works")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--only", type=lambda text: text.split(","), default=list(SECTIONS),
                        help=f"some of the sections, e.g. short_list,pipeline (all: {','.join(SECTIONS)})")  # fmt: skip
    parser.add_argument("--wikipedia-latency", type=float, default=0.05, help="seconds per Wikipedia answer")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")], help="e.g. 1000,5000,20000")
    parser.add_argument("--runs", type=int, help="runs of each throughput (5) and pipeline (3) measure")
    parser.add_argument("--tasks", type=int, help="tasks per pipeline run")
    parser.add_argument("--floor-workers", type=int, default=2,
                        help="sync workers of the floor app: 2, as many as the API's, the stronger floor on 2 "
                             "cores (the default); 4, two per core, as a sync app is usually deployed")  # fmt: skip
    args = parser.parse_args()
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}: choose among {', '.join(SECTIONS)}")
    smoke = args.smoke
    args.workers = 2
    # CPU per request varies by a quarter from one 5-second run to the next on a shared 2-core
    # machine (the same code, minutes apart): five throughput runs make a steadier median.
    args.throughput_runs = args.runs or (1 if smoke else 5)
    args.runs = args.runs or (1 if smoke else 3)
    args.seconds = 1 if smoke else 5
    args.connections = 8 if smoke else 16
    args.seeded = 100 if smoke else 1_000
    args.tasks = args.tasks or (60 if smoke else 10_000)
    args.sizes = args.sizes or ([200, 400] if smoke else [1_000, 5_000, 20_000, 100_000])
    args.flat_at = max(s for s in args.sizes if s <= (400 if smoke else 20_000))
    args.repeats = 3 if smoke else 21
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: dict = {"when": stamp, "smoke": smoke, "settings": {k: v for k, v in vars(args).items() if k != "out"}
                     | {"out": str(args.out)}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pets-bench-") as work_dir:
        work = Path(work_dir)
        stack = Stack(work, args.wikipedia_latency)
        try:
            if "short_list" in args.only:
                print(f"the short list ({SHORT_LIST} pets, wrk)...", flush=True)
                results["short_list"] = measure_short_list(stack, args, work)
            if "throughput" in args.only:
                print(f"throughput at {args.seeded} pets (wrk)...", flush=True)
                results["throughput"] = measure_throughput(stack, args)
            if "pipeline" in args.only:
                print("pipeline (3 consumers, warm cache)...", flush=True)
                results["pipeline"] = measure_pipeline(stack, args, work)
            if "reads" in args.only:
                print("reads against collection size...", flush=True)
                results["reads"] = measure_reads(stack, args)
        finally:
            stack.close()
    rows = report(results)
    results["goals"] = [{"measure": m, "value": v, "goal": g, "met": ok} for m, v, g, ok in rows]
    (args.out / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    print_table(results, rows)
    print(f"\nresults: {args.out / f'{stamp}.json'}")
    if "reads" in results:
        chart = args.out / f"{stamp}.png"
        draw_chart(results["reads"], chart)
        print(f"chart:   {chart}")
    return 0


def print_table(results: dict, rows: list) -> None:
    print("\n| measure | API | floor |\n|---|---|---|")
    for origin, measured in results.get("short_list", {}).get("by_origin", {}).items():
        api, floor, page = (measured["medians"][key] for key in ("api_list", "floor_list", "api_page"))
        label = f"{SHORT_LIST} pets {origin.replace('_', ' ')}"
        print(f"| list, {label}: req/s | {api['requests_per_second']:.0f} | {floor['requests_per_second']:.0f} |")
        print(f"| list, {label}: API / database CPU ms per request | {api['cpu_ms']:.2f} / {api['db_cpu_ms']:.2f} | "
              f"{floor['cpu_ms']:.2f} / {floor['db_cpu_ms']:.2f} |")  # fmt: skip
        print(f"| page `/`, {label}: req/s; API / database CPU ms | {page['requests_per_second']:.0f}; "
              f"{page['cpu_ms']:.2f} / {page['db_cpu_ms']:.2f} | |")  # fmt: skip
    for method in ("post", "get") if "throughput" in results else ():
        api, floor = (results["throughput"]["medians"][f"{name}_{method}"] for name in ("api", "floor"))
        label = "POST" if method == "post" else f"GET ?limit=100 at {results['settings']['seeded']} pets"
        print(f"| {label} req/s | {api['requests_per_second']:.0f} | {floor['requests_per_second']:.0f} |")
        print(f"| {label} p50 / p99 ms | {api['p50_ms']:.1f} / {api['p99_ms']:.1f} | "
              f"{floor['p50_ms']:.1f} / {floor['p99_ms']:.1f} |")  # fmt: skip
        print(f"| {label} API / database CPU ms per request | {api['cpu_ms']:.2f} / {api['db_cpu_ms']:.2f} | "
              f"{floor['cpu_ms']:.2f} / {floor['db_cpu_ms']:.2f} |")  # fmt: skip
    if "pipeline" in results:
        api, floor = (results["pipeline"]["medians"][name] for name in ("api", "floor"))
        print(f"| pipeline tasks/s | {api['tasks_per_second']:.0f} | {floor['tasks_per_second']:.0f} |")
        print(f"| pipeline consumer CPU ms per task | {api['cpu_ms_per_task']:.2f} | {floor['cpu_ms_per_task']:.2f} |")
        print(f"| pipeline consumers' CPU share (cores of {os.cpu_count()}) | {api['cpu_share_cores']:.2f} | "
              f"{floor['cpu_share_cores']:.2f} |")  # fmt: skip
        print(f"| pipeline database CPU ms per task | {api['db_cpu_ms_per_task']:.2f} | "
              f"{floor['db_cpu_ms_per_task']:.2f} |")  # fmt: skip
        print(f"| pipeline Redis CPU ms per task | {api.get('redis_cpu_ms_per_task', 0):.3f} | "
              f"{floor.get('redis_cpu_ms_per_task', 0):.3f} |")  # fmt: skip
    print("\n| goal | value | target | met |\n|---|---|---|---|")
    for measure, value, goal, ok in rows:
        print(f"| {measure} | {value:.2f} | {goal} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    raise SystemExit(main())
