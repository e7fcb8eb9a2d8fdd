"""Fuzz the API from its own OpenAPI schema (schemathesis): no 5xx, every answer as documented.

Two runs, authenticated and not, of generated valid and invalid requests against the real API.
The number of generated test cases is printed from schemathesis' summary.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.processes import VENV_BIN

pytestmark = pytest.mark.fuzz

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    ]
)


def run_schemathesis(api_server, *headers: str, max_examples: int) -> subprocess.CompletedProcess:
    args = [
        str(VENV_BIN / "schemathesis"), "run", f"{api_server.base_url}/api/schema/",
        "--url", api_server.base_url,
        "--checks", CHECKS,
        "--max-examples", str(max_examples),
        "--seed", "20261129",
        "--workers", "2",
        "--request-timeout", "10",
        "--generation-deterministic",
    ]  # fmt: skip
    for header in headers:
        args += ["--header", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=400)


@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "without-token"])
def test_fuzzed_requests_never_fail_the_server_or_the_schema(api_server, api, authenticated):
    api.create_pet()
    headers = [f"Authorization: {api.session.headers['Authorization']}"] if authenticated else []
    # Without a token nearly every answer is the same 401: fewer examples find as much there.
    result = run_schemathesis(api_server, *headers, max_examples=60 if authenticated else 30)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    print("\n" + "\n".join(line for line in lines if re.search(r"\d+ generated|mismatch|^\s+- ", line)))
    assert result.returncode == 0, "\n".join(lines)[-4000:]
