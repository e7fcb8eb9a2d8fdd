"""Every script in infra/lua/, run against a real Redis: the keys each takes and what it leaves
there; and the registry's one call style (EVALSHA, NOSCRIPT reloaded, loaded on connect)."""

from __future__ import annotations

import json
import time

import pytest

from contracts import history
from contracts.events import EVENTS_KEY, EVENTS_MAX_LEN, TASK_CANCELLED, TASK_DONE
from contracts.tasks import DELAYED_KEY, QUEUE_KEYS, WAKE_KEY, WAKE_TOKENS_KEPT, push_task
from infra import redis_scripts, redis_url
from infra.redis_scripts import LUA_DIR, redis_script
from tests.support.processes import ROOT
from tests.support.servers import start_redis

HIGH, NORMAL, LOW = QUEUE_KEYS["high"], QUEUE_KEYS["normal"], QUEUE_KEYS["low"]
LISTS = [HIGH, NORMAL, LOW]
SCRIPTS = sorted(path.stem for path in LUA_DIR.glob("*.lua"))
CONSTANTS = {
    "WAKE_TOKENS_KEPT": WAKE_TOKENS_KEPT, "EVENTS_MAX_LEN": EVENTS_MAX_LEN, "TASK_DONE": TASK_DONE,
    "TASK_CANCELLED": TASK_CANCELLED, **history.SCRIPT_CONSTANTS,
}  # fmt: skip


def load(name: str) -> redis_scripts.RedisScript:
    return redis_script(name, **CONSTANTS)


def entry(task_id: str, state: str, **more: object) -> str:
    return json.dumps({"state": state, "task_id": task_id, **more})


def note(task_id: str, step: str, state: str | None = None, **more: object) -> str:
    """A history note as contracts/history.note makes one, for pet p-<task id>."""
    fields = {"task_id": task_id, "pet_id": f"p-{task_id}", "name": "Luna", "name_key": "luna", "species": "Cat",
              "species_key": "cat", "priority": "normal", "reason": "created", "score": 1000, "queued_at": "then",
              "at": "now", "event": step, "attempts": 0, **more}  # fmt: skip
    if state:
        fields["state"] = state
    return json.dumps(fields)


def history_of(redis_client, task_id: str) -> dict:
    return json.loads(redis_client.hget(history.HISTORY_KEY, task_id))


def test_every_script_file_is_loaded_by_its_owner_and_says_its_keys():
    """No script in a Python string, none unused: each .lua file is registered by one module."""
    registry = ROOT / "infra" / "redis_scripts.py"  # its docstring shows a call
    sources = [path for path in ROOT.glob("[a-z]*/*.py") if path.parts[-2] != "tests" and path != registry]
    code = "\n".join(path.read_text() for path in sources)
    for name in SCRIPTS:
        assert code.count(f'redis_script("{name}"') == 1, name
        assert "-- KEYS: " in (LUA_DIR / f"{name}.lua").read_text(), f"infra/lua/{name}.lua says no KEYS"
    assert "redis.call" not in code


def test_push_task_pushes_and_wakes_with_a_trimmed_token_list(redis_client):
    with redis_client.pipeline() as pipe:
        for number in range(WAKE_TOKENS_KEPT + 10):
            push_task(pipe, f"task {number}", "high")
        pipe.execute()
    assert redis_client.llen(HIGH) == WAKE_TOKENS_KEPT + 10
    assert redis_client.llen(WAKE_KEY) == WAKE_TOKENS_KEPT


def test_enqueue_pushes_marks_delivered_sets_the_state_adjusts_known_counts_and_announces(redis_client):
    redis_client.hset("counts", mapping={"|": 4})  # known; "cat|" unknown
    keys = [NORMAL, WAKE_KEY, "delivered", "status", "counts", EVENTS_KEY, "cancelled", history.HISTORY_KEY]
    counts = ["|", 1, "cat|", 1]
    queued = note("t1", "queued", "queued")
    arguments = ["payload", "t1", "p1", entry("t1", "queued"), "pet.created", "{}", queued, 100, *counts]
    assert load("enqueue")(redis_client, keys, arguments) == 1
    assert redis_client.lrange(NORMAL, 0, -1) == [b"payload"] and redis_client.llen(WAKE_KEY) == 1
    assert redis_client.zrange("delivered", 0, -1) == [b"t1"]  # scored with the server time
    assert json.loads(redis_client.hget("status", "p1"))["state"] == "queued"
    assert redis_client.hgetall("counts") == {b"|": b"5"}
    [(_, fields)] = redis_client.xrange(EVENTS_KEY)
    assert fields == {b"type": b"pet.created", b"data": b"{}"}
    assert history_of(redis_client, "t1")["state"] == "queued"
    load("enqueue")(
        redis_client, keys, ["payload 2", "t2", "p2", entry("t2", "queued"), "", "", note("t2", "queued"), 100]
    )
    assert redis_client.xlen(EVENTS_KEY) == 1  # no event type: no event
    redis_client.zadd("cancelled", {"t3": 1})  # cancelled before the relay sent it: only marked delivered
    assert (
        load("enqueue")(
            redis_client, keys, ["payload 3", "t3", "p3", entry("t3", "queued"), "", "", note("t3", "queued"), 100]
        )
        == 0
    )
    assert redis_client.llen(NORMAL) == 2 and redis_client.zscore("delivered", "t3") is not None
    assert not redis_client.hexists("status", "p3") and not redis_client.hexists(history.HISTORY_KEY, "t3")


def test_adjust_counts_changes_known_counts_only(redis_client):
    redis_client.hset("counts", mapping={"|": 10, "dog|true": 3})
    with redis_client.pipeline() as pipe:
        load("adjust_counts").queue(pipe, ["counts"], ["|", -1, "dog|true", -1, "cat|", 1])
        pipe.execute()
    assert redis_client.hgetall("counts") == {b"|": b"9", b"dog|true": b"2"}


def test_set_status_if_owner_never_overwrites_a_newer_tasks_state(redis_client):
    script = load("set_status_if_owner")
    assert script(redis_client, ["status"], ["p1", "t1", entry("t1", "processing")]) == 1
    assert script(redis_client, ["status"], ["p1", "t1", entry("t1", "done")]) == 1  # the owner itself
    redis_client.hset("status", "p1", entry("t2", "queued"))  # a newer task took the pet
    assert script(redis_client, ["status"], ["p1", "t1", entry("t1", "dead")]) == 0
    assert json.loads(redis_client.hget("status", "p1"))["task_id"] == "t2"


def test_promote_due_moves_due_retries_to_their_priority_lists_and_says_when_the_next_is_due(redis_client):
    now = time.time()
    redis_client.zadd(DELAYED_KEY, {json.dumps({"priority": "high"}): now - 5, "not json": now - 1,
                                    json.dumps({"priority": "low"}): now + 60})  # fmt: skip
    earliest = float(load("promote_due")(redis_client, [DELAYED_KEY, *LISTS, WAKE_KEY], [now, 100]))
    assert earliest == pytest.approx(now + 60)
    assert redis_client.llen(HIGH) == 1 and redis_client.lrange(NORMAL, 0, -1) == [b"not json"]
    assert redis_client.zcard(DELAYED_KEY) == 1 and redis_client.llen(WAKE_KEY) == 1
    redis_client.delete(DELAYED_KEY)
    assert load("promote_due")(redis_client, [DELAYED_KEY, *LISTS, WAKE_KEY], [now, 100]) == b"-1"


def test_take_many_takes_in_the_given_order_up_to_the_limit_and_drops_wake_tokens_when_empty(redis_client):
    redis_client.rpush(HIGH, "h1")
    redis_client.rpush(NORMAL, "n1", "n2")
    redis_client.rpush(WAKE_KEY, "1", "1")
    take = load("take_many")
    keys = [*LISTS, "processing", WAKE_KEY, "consumers"]
    assert take(redis_client, keys, [2, "C-1"]) == [b"h1", b"n1"]
    assert redis_client.llen(WAKE_KEY) == 2  # tasks may be left: the tokens stay
    assert take(redis_client, keys, [5, "C-1"]) == [b"n2"]
    assert redis_client.llen(WAKE_KEY) == 0
    assert redis_client.lrange("processing", 0, -1) == [b"n2", b"n1", b"h1"]
    assert take(redis_client, keys, [5, "C-2"]) == [] and redis_client.smembers("consumers") == {b"C-1"}


def test_requeue_puts_a_processing_list_back_at_the_heads_of_its_priority_lists(redis_client):
    redis_client.rpush("processing", json.dumps({"priority": "low"}), "plain", json.dumps({"priority": "high"}))
    redis_client.rpush(NORMAL, "waiting")
    load("note_task")(redis_client, [history.HISTORY_KEY], [note("t1", "taken", "processing"), 100])
    redis_client.rpush("processing", json.dumps({"task_id": "t1"}))
    redis_client.sadd("consumers", "Consumer-1")
    keys = ["processing", *LISTS, WAKE_KEY, history.HISTORY_KEY, "heartbeat", "consumers"]
    assert load("requeue")(redis_client, keys, ["now", "Consumer-2: Consumer-1's heartbeat lapsed", "Consumer-1"]) == 4
    assert not redis_client.exists("consumers")  # its heartbeat gone: out of the set with its list
    redis_client.sadd("consumers", "Consumer-1")
    redis_client.set("heartbeat", "{}")
    assert load("requeue")(redis_client, keys, ["now", "Consumer-1, at its start", "Consumer-1"]) == 0
    assert redis_client.smembers("consumers") == {b"Consumer-1"}  # alive: it stays
    requeued = history_of(redis_client, "t1")
    assert requeued["state"] == "queued" and requeued["events"][-1]["by"].startswith("Consumer-2")
    assert redis_client.lrange(NORMAL, 0, -1) == [b"plain", b'{"task_id": "t1"}', b"waiting"]
    assert redis_client.llen(LOW) == 1 and redis_client.llen(HIGH) == 1 and redis_client.llen(WAKE_KEY) == 1
    assert not redis_client.exists("processing")


def test_start_many_marks_processing_tells_redeliveries_and_drops_cancelled_tasks(redis_client):
    redis_client.set("done:t2", "file.json")
    redis_client.zadd("cancelled", {"t3": 1})
    redis_client.rpush("processing", "raw1", "raw2", "raw3")
    keys = ["status", "processing", "cancelled", EVENTS_KEY, history.HISTORY_KEY, "done:t1", "done:t2", "done:t3"]
    values = [100]
    for task in ("t1", "t2", "t3"):
        taken = note(task, "taken", "processing", consumer="C-1")
        values += [f"p-{task}", task, entry(task, "processing"), f"raw{task[1]}", taken]
    assert load("start_many")(redis_client, keys, values) == [0, 1, 2]
    assert json.loads(redis_client.hget("status", "p-t1"))["state"] == "processing"
    assert json.loads(redis_client.hget("status", "p-t3"))["state"] == "cancelled"
    assert redis_client.lrange("processing", 0, -1) == [b"raw1", b"raw2"]  # the cancelled one is out
    assert history_of(redis_client, "t1")["consumers"] == ["C-1"]
    assert redis_client.zrange(history.index_key("consumer", "C-1"), 0, -1) == [b"t1", b"t3"]
    assert history_of(redis_client, "t3")["state"] == "cancelled"
    assert history_of(redis_client, "t3")["events"][-1]["event"] == "dropped"
    assert [fields[b"type"] for _, fields in redis_client.xrange(EVENTS_KEY)] == [TASK_CANCELLED.encode()]


def test_commit_many_drops_what_was_cancelled_and_marks_the_rest_writing(redis_client):
    redis_client.zadd("cancelled", {"t2": 1})
    redis_client.rpush("processing", "raw1", "raw2")
    load("note_task")(redis_client, [history.HISTORY_KEY], [note("t2", "taken", "processing"), 100])
    keys = ["status", "processing", "cancelled", EVENTS_KEY, history.HISTORY_KEY]
    values = [100, "now", "C-1"]
    for task in ("t1", "t2"):
        values += [f"raw{task[1]}", f"p-{task}", task, entry(task, "processing", writing=True)]
    assert load("commit_many")(redis_client, keys, values) == [0, 1]
    assert json.loads(redis_client.hget("status", "p-t1"))["writing"] is True
    cancelled = json.loads(redis_client.hget("status", "p-t2"))
    assert cancelled["state"] == "cancelled" and "writing" not in cancelled
    assert redis_client.lrange("processing", 0, -1) == [b"raw1"]
    assert [step["event"] for step in history_of(redis_client, "t2")["events"]] == ["taken", "dropped"]
    assert history_of(redis_client, "t2")["state"] == "cancelled"


def test_cancel_task_cancels_what_waits_asks_what_runs_to_stop_and_refuses_the_rest(redis_client):
    keys = ["status", "cancelled", EVENTS_KEY, history.HISTORY_KEY, DELAYED_KEY, *LISTS]
    cancel = load("cancel_task")

    def run(pet_id: str, mode: str = "cancel", staged: str = "", only: str = "") -> list[bytes]:
        step = json.dumps({"at": "now", "event": "cancelled", "by": "ana"})
        return cancel(redis_client, keys, [pet_id, mode, "now", 3600, 100, step, staged, only])

    for pet, state in (("q", "queued"), ("r", "retrying"), ("p", "processing"), ("d", "done"), ("x", "dead"),
                       ("c", "cancelled")):  # fmt: skip
        redis_client.hset("status", pet, entry(f"t{pet}", state))
    redis_client.hset("status", "w", entry("tw", "processing", writing=True))
    # tq waits in the normal list, tr in the delayed set: their history knows their payloads
    redis_client.rpush(NORMAL, "before", '{"task_id": "tq"}', "after")
    redis_client.zadd(DELAYED_KEY, {'{"task_id": "tr", "priority": "high"}': 1})
    for task, payload in (("tq", '{"task_id": "tq"}'), ("tr", '{"task_id": "tr", "priority": "high"}')):
        queued = note(task, "queued", "queued", payload=payload)
        load("note_task")(redis_client, [history.HISTORY_KEY], [queued, 100])
    assert run("q", only="an-older-task") == [b"superseded", b"tq"]  # an operator named another task
    assert run("q") == [b"cancelled", b"tq"] and run("r") == [b"cancelled", b"tr"]
    assert redis_client.lrange(NORMAL, 0, -1) == [b"before", b"after"] and redis_client.zcard(DELAYED_KEY) == 0
    assert "payload" not in history_of(redis_client, "tq")  # kept only while the task waits
    assert run("p") == [b"cancelling", b"tp"]
    assert json.loads(redis_client.hget("status", "p"))["state"] == "processing"  # the consumer says when it stopped
    for pet, outcome in (("d", b"done"), ("x", b"dead"), ("c", b"cancelled_before"), ("w", b"writing"),
                         ("nobody", b"none")):  # fmt: skip
        assert run(pet)[0] == outcome
    assert {member.decode() for member in redis_client.zrange("cancelled", 0, -1)} == {"tq", "tr", "tp"}
    assert run("staged", staged="ts") == [b"cancelled", b"ts"]  # saved with the pet, not sent yet
    assert run("q", mode="delete")[0] == b"cancelled_before" and not redis_client.hexists("status", "q")
    assert [fields[b"type"] for _, fields in redis_client.xrange(EVENTS_KEY)] == [TASK_CANCELLED.encode()] * 3


def test_deleting_a_pet_cancels_every_pending_task_of_it(redis_client):
    """A pet created, then updated before its first task ran: both tasks wait; a delete takes both."""
    keys = ["status", "cancelled", EVENTS_KEY, history.HISTORY_KEY, DELAYED_KEY, *LISTS]
    for task in ("t1", "t2"):
        payload = json.dumps({"task_id": task})
        redis_client.rpush(NORMAL, payload)
        queued = json.loads(note(task, "queued", "queued", payload=payload)) | {"pet_id": "p"}
        load("note_task")(redis_client, [history.HISTORY_KEY], [json.dumps(queued), 100])
    redis_client.hset("status", "p", entry("t2", "queued"))
    step = json.dumps({"at": "now", "event": "cancelled", "by": "ana (pet deleted)"})
    assert load("cancel_task")(redis_client, keys, ["p", "delete", "now", 3600, 100, step, ""]) == [b"cancelled", b"t2"]
    assert redis_client.llen(NORMAL) == 0 and not redis_client.hexists("status", "p")
    assert {member.decode() for member in redis_client.zrange("cancelled", 0, -1)} == {"t1", "t2"}
    assert {history_of(redis_client, task)["state"] for task in ("t1", "t2")} == {"cancelled"}


def test_note_task_keeps_the_newest_tasks_and_forgets_the_oldest_everywhere(redis_client):
    script = load("note_task")
    for number in range(5):
        note_json = json.loads(note(f"t{number}", "queued", "queued", score=number))
        script(redis_client, [history.HISTORY_KEY], [json.dumps(note_json), 3])
    script(redis_client, [history.HISTORY_KEY], [note("t4", "taken", "processing", consumer="C-1"), 3])
    assert redis_client.zrange(history.ALL_INDEX, 0, -1) == [b"t2", b"t3", b"t4"]
    assert redis_client.hlen(history.HISTORY_KEY) == 3
    assert redis_client.zrange(history.index_key("state", "queued"), 0, -1) == [b"t2", b"t3"]
    assert redis_client.zrange(history.index_key("state", "processing"), 0, -1) == [b"t4"]
    assert redis_client.zcard(history.index_key("species", "cat")) == 3
    assert [step["event"] for step in history_of(redis_client, "t4")["events"]] == ["queued", "taken"]
    script(redis_client, [history.HISTORY_KEY], [json.dumps({"task_id": "unknown", "at": "now", "event": "x"}), 3])
    assert not redis_client.hexists(history.HISTORY_KEY, "unknown")  # nothing known of it: nothing noted


def test_complete_many_marks_done_acknowledges_records_and_announces_each_task(redis_client):
    redis_client.rpush("processing", "raw1", "raw2")
    load("complete_many")(
        redis_client, ["processing", "status", EVENTS_KEY, history.HISTORY_KEY, "done:t1", "done:t2"],
        [60, 100, "raw1", "f1.json", "p1", "t1", entry("t1", "done"), "{}", note("t1", "done", "done", file="f1.json"),
         "raw2", "f2.json", "p2", "t2", entry("t2", "done"), "{}", note("t2", "done", "done", file="f2.json")],
    )  # fmt: skip
    assert redis_client.get("done:t1") == b"f1.json" and 0 < redis_client.ttl("done:t2") <= 60
    assert not redis_client.exists("processing")
    assert {json.loads(redis_client.hget("status", pet))["state"] for pet in ("p1", "p2")} == {"done"}
    assert [fields[b"type"] for _, fields in redis_client.xrange(EVENTS_KEY)] == [TASK_DONE.encode()] * 2
    assert history_of(redis_client, "t2")["file"] == "f2.json"


def test_login_attempts_are_reserved_up_to_the_limit_and_released(redis_client):
    reserve, release = load("reserve_login_attempt"), load("release_login_attempt")
    keys = ["failures:client", "failures:user"]
    assert [reserve(redis_client, keys, [5, 2, 900]) for _ in range(3)] == [0, 0, 900]  # the user's limit is 2
    assert redis_client.get("failures:client") == b"2" and 0 < redis_client.ttl("failures:user") <= 900
    release(redis_client, keys)
    assert redis_client.get("failures:user") == b"1"
    assert reserve(redis_client, keys, [5, 2, 900]) == 0


def test_a_missing_constant_is_named():
    saved = redis_scripts._registry.pop("push_task")
    try:
        with pytest.raises(ValueError, match="needs the constant WAKE_TOKENS_KEPT"):
            redis_script("push_task")
    finally:
        redis_scripts._registry["push_task"] = saved


def test_scripts_survive_a_flushed_script_cache_called_or_queued(tmp_path, logs_dir):
    """A Redis that lost its scripts (restarted, or SCRIPT FLUSH): a direct call reloads on
    NOSCRIPT; the project's clients load every script on each new connection, so a pipeline finds
    them too. A server of this test's own: flushing the session's would pull scripts from under
    the other tests' open connections."""
    server = start_redis(tmp_path / "redis", logs_dir, "redis-scripts")
    try:
        raw = server.client()
        script = load("set_status_if_owner")
        assert script(raw, ["status"], ["p1", "t1", entry("t1", "queued")]) == 1
        raw.script_flush()
        assert script(raw, ["status"], ["p1", "t1", entry("t1", "done")]) == 1  # NOSCRIPT, reloaded
        raw.script_flush()
        project = redis_url.connect(server.url)
        assert project.ping()  # a new connection: every registered script loaded
        assert all(project.script_exists(*(s.sha for s in redis_scripts._registry.values())))
        with project.pipeline(transaction=True) as pipe:
            script.queue(pipe, ["status"], ["p2", "t2", entry("t2", "queued")])
            pipe.hset("other", "a", "b")
            assert pipe.execute() == [1, 1]
    finally:
        server.process.stop()
