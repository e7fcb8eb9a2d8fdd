"""Health checks, for orchestrators (compose, Kubernetes): is the process up, can it serve."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from pets import selectors
from pets.producer import redis_ping


def health_live(request: HttpRequest) -> JsonResponse:
    """`GET /health/`: the process answers (container health checks)."""
    return JsonResponse({"status": "ok"})


def health_ready(request: HttpRequest) -> JsonResponse:
    """`GET /health/ready/`: MongoDB and Redis both answer; 503 naming what does not."""
    checks = {"mongodb": selectors.database_ping(), "redis": redis_ping()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": {k: "ok" if v else "down" for k, v in checks.items()}}
    return JsonResponse(body, status=200 if ready else 503)
