"""Every Redis script of the project: one `.lua` file each in infra/lua/, loaded here, called one way.

A script's header comments say what it needs and takes:

    -- uses: wake, add_event        pieces from infra/lua/lib/, put before its body, each once
    -- KEYS: task_list, wake, ...   its keys, in order
    -- ARGV: payload, ...           its arguments

and `$NAME` in its text (or in a piece's) is a constant its owner passes when loading it
(`redis_script("push_task", WAKE_TOKENS_KEPT=64)`), so a number such as how many wake tokens to
keep has one definition, in Python, beside the key it belongs to.

Called one way, EVALSHA (40 bytes, not the script's text):
- `script(client, keys, args)` runs it now; a Redis that does not know it (restarted, flushed)
  answers NOSCRIPT, and the script is loaded and run again.
- `script.queue(pipe, keys, args)` queues it on a pipeline, where it runs atomically with the
  caller's other commands. There a NOSCRIPT would come too late (inside MULTI the other commands
  would apply without it), so the script must already be in Redis: every connection that
  infra/redis_url.py makes loads all scripts as it connects (`load_all_on_connect`: after a
  restart or a failover, the new connections bring them back), and a script is loaded once per
  connection pool by this process before it is first queued there (for any other client).
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import redis
from redis.connection import AbstractConnection, ConnectionPool
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT

LUA_DIR = Path(__file__).with_name("lua")

_registry: dict[str, RedisScript] = {}
_loaded: weakref.WeakKeyDictionary[ConnectionPool, set[str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@dataclass(frozen=True)
class RedisScript:
    name: str
    source: str  # the assembled text Redis runs: pieces, then the body, constants filled in
    sha: str
    keys: str  # the header's KEYS line: what the caller passes, in order

    def __call__(self, client: redis.Redis, keys: Sequence[KeyT], args: Sequence[EncodableT] = ()) -> Any:  # noqa: ANN401 (a script's reply)
        """Run the script now and return its reply."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: redis.client.Pipeline, keys: Sequence[KeyT], args: Sequence[EncodableT] = ()) -> None:
        """Queue the script on `pipe`; its reply comes with the pipeline's."""
        _ensure_loaded(pipe.connection_pool, self)
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def redis_script(name: str, **constants: object) -> RedisScript:
    """The script in infra/lua/<name>.lua, assembled with its pieces and `constants`; loaded from
    disk once per process."""
    with _lock:
        if name in _registry:
            return _registry[name]
        body = (LUA_DIR / f"{name}.lua").read_text()
        uses = _header(body, "uses")
        pieces = [(LUA_DIR / "lib" / f"{piece.strip()}.lua").read_text() for piece in uses.split(",") if uses]
        try:
            source = Template("".join(pieces) + body).substitute({key: str(value) for key, value in constants.items()})
        except KeyError as missing:
            raise ValueError(f"infra/lua/{name}.lua needs the constant {missing.args[0]}") from None
        script = RedisScript(name, source, hashlib.sha1(source.encode()).hexdigest(), _header(body, "KEYS"))
        _registry[name] = script
        return script


def load_all_on_connect(connection: AbstractConnection) -> None:
    """redis-py's `redis_connect_func`: the usual handshake, then every script loaded so far sent
    to Redis (pipelined), so what a pipeline queues is always there."""
    connection.on_connect()
    with _lock:
        scripts = list(_registry.values())
    for script in scripts:
        connection.send_command("SCRIPT", "LOAD", script.source)
    for _ in scripts:
        connection.read_response()


def _ensure_loaded(pool: ConnectionPool, script: RedisScript) -> None:
    with _lock:
        loaded = _loaded.setdefault(pool, set())
        if script.sha in loaded:
            return
    redis.Redis(connection_pool=pool).script_load(script.source)
    with _lock:
        loaded.add(script.sha)


def _header(body: str, field: str) -> str:
    """What a header line says (`-- uses: a, b` gives "a, b"); empty when there is none."""
    found = re.search(rf"^-- {field}: (.*)$", body, re.M)
    return found.group(1).strip() if found else ""
