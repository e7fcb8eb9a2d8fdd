"""Lua scripts inside pipelines and transactions, without the hidden extra round trip.

redis-py's `Script` objects, queued on a pipeline, make every `execute()` send SCRIPT EXISTS first:
one more round trip per write, which profiling found on every POST and every worker batch. EVAL
with the script's body costs only its bytes (Redis keeps the compiled script, keyed by its SHA1),
and, unlike EVALSHA inside MULTI, cannot fail with NOSCRIPT after a Redis restart, which would
apply the rest of the transaction without the script.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis


def queue_script(pipe: redis.client.Pipeline, script: str, keys: Sequence[str], args: Sequence[object]) -> None:
    """Queue `script` on `pipe`; its reply comes with the pipeline's."""
    pipe.eval(script, len(keys), *keys, *args)
