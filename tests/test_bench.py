"""`make bench` in miniature (seconds), so the benchmark never rots: it runs end to end and
writes its JSON and chart. It asserts no speed: the figures come from `make bench` itself."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import ROOT


def test_bench_smoke_run_writes_results_and_chart(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [report] = tmp_path.glob("*.json")
    [chart] = tmp_path.glob("*.png")
    data = json.loads(report.read_text())
    assert chart.read_bytes().startswith(b"\x89PNG")
    ratios = data["short_list"]["ratios"] | data["throughput"]["ratios"] | data["pipeline"]["ratios"]
    assert {"post_rps_ratio", "get_rps_ratio", "pipeline_rate_ratio", "short_list_rps_ratio_api_created",
            "short_list_db_cpu_ratio_inserted", "page_cost_vs_list_api_created"} <= set(ratios)  # fmt: skip
    for origin in ("api_created", "inserted"):  # the API's and the database's CPU, both measured
        measured = data["short_list"]["by_origin"][origin]["medians"]
        assert measured["api_list"]["errors"] == measured["api_page"]["errors"] == 0
        assert measured["api_list"]["db_cpu_ms"] > 0 and measured["api_page"]["cpu_ms"] > 0
    assert data["pipeline"]["medians"]["api"]["cpu_share_cores"] > 0
    assert data["throughput"]["medians"]["api_post"]["errors"] == 0
    assert data["throughput"]["medians"]["api_get"]["errors"] == 0
    assert data["pipeline"]["wikipedia_requests_first_run"] == 5  # one request per distinct species
    assert sorted(int(size) for size in data["reads"]["p50_ms_by_size"]) == [200, 400]
    assert "| goal | value | target | met |" in result.stdout


def test_compare_refuses_a_directory_that_is_not_a_checkout(tmp_path):
    """bench/compare.py serves each checkout's own gunicorn.conf.py: it says so before starting anything."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.compare", str(ROOT), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"not a checkout of this project (no gunicorn.conf.py): {tmp_path}" in result.stderr
