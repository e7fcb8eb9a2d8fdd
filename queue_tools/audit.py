"""The operators' audit trail: who did what to the queue, from the panel or from consumer.py.

Kept in Redis (`AUDIT_KEY`, the newest `AUDIT_KEPT` entries, newest first) so every API process
and every operator shell writes to one list, and logged on the `audit` logger as well.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import redis

from contracts.tasks import utc_now_iso

AUDIT_KEY = "pets:ops:audit"
AUDIT_KEPT = 1000
log = logging.getLogger("audit")


@dataclass(frozen=True)
class AuditEntry:
    at: str
    who: str  # "admin (panel)", "root@host (consumer.py)"
    action: str  # "requeue", "requeue matching", "purge"
    detail: str  # what it acted on and how many

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> AuditEntry | None:
        try:
            data = json.loads(raw)
            return cls(at=data["at"], who=data["who"], action=data["action"], detail=data["detail"])
        except (ValueError, KeyError, TypeError):
            return None


def record(client: redis.Redis, *, who: str, action: str, detail: str) -> AuditEntry:
    entry = AuditEntry(at=utc_now_iso(), who=who, action=action, detail=detail)
    log.warning("%s: %s (%s)", who, action, detail)
    with client.pipeline(transaction=True) as pipe:
        pipe.lpush(AUDIT_KEY, entry.to_json())
        pipe.ltrim(AUDIT_KEY, 0, AUDIT_KEPT - 1)
        pipe.execute()
    return entry


def recent(client: redis.Redis, limit: int = 20) -> list[AuditEntry]:
    entries = (AuditEntry.from_json(raw) for raw in client.lrange(AUDIT_KEY, 0, limit - 1))
    return [entry for entry in entries if entry is not None]
