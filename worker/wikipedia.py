"""Wikipedia REST summaries of a species, cached in Redis for all consumers.

A 404 or a disambiguation page is an answer ("no article"), cached like an article. A 5xx, a 429,
a timeout or a connection error is `WikipediaUnavailable`: nothing is cached and the task is
retried later (worker/runner.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import redis
import requests

from contracts.queue import WIKIPEDIA_KEY_PREFIX

log = logging.getLogger(__name__)

FOUND = "found"
NOT_FOUND = "not_found"
DISAMBIGUATION = "disambiguation"


class WikipediaUnavailable(Exception):
    """Wikipedia could not answer now (5xx, 429, timeout, network): worth trying again later.

    `retry_after` is how long Wikipedia asked us to wait (a 429 or 503 `Retry-After`), if it did.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Summary:
    status: str
    title: str
    extract: str | None = None
    url: str | None = None
    thumbnail: str | None = None

    def as_enrichment(self) -> dict:
        """The `enriched_info.wikipedia` block of the result file."""
        return {
            "wikipedia_extract": self.extract,
            "wikipedia_url": self.url,
            "thumbnail": self.thumbnail,
            "status": self.status,
        }


def normalise_title(species: str) -> str:
    """Wikipedia's title form: first letter upper case, the rest lower ("CAT" -> "Cat")."""
    return " ".join(species.split()).lower().capitalize()


def summary_url(api_url: str, title: str) -> str:
    return f"{api_url}/page/summary/{quote(title.replace(' ', '_'), safe='')}"


class WikipediaClient:
    """One shared HTTP session, a descriptive User-Agent and a timeout on every call."""

    def __init__(self, api_url: str, user_agent: str, timeout_seconds: float) -> None:
        self.api_url = api_url
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def fetch(self, title: str) -> Summary:
        url = summary_url(self.api_url, title)
        try:
            response = self.session.get(url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            raise WikipediaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return Summary(NOT_FOUND, title)
        if response.status_code != 200:
            retry_after = None
            if response.status_code in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise WikipediaUnavailable(
                f"HTTP {response.status_code} from {url}", status=response.status_code, retry_after=retry_after
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise WikipediaUnavailable(f"invalid JSON from {url}") from exc
        if data.get("type") == "disambiguation":
            return Summary(DISAMBIGUATION, title)
        return Summary(
            FOUND,
            title,
            extract=data.get("extract"),
            url=(data.get("content_urls") or {}).get("desktop", {}).get("page"),
            thumbnail=(data.get("thumbnail") or {}).get("source"),
        )


class SharedRateLimit:
    """One request budget per second for all consumers together, and a shared pause after a 429.

    A fixed one-second window counted in Redis (INCR on a key per second): simple, shared by any
    number of processes, and strict enough to stay well under Wikimedia's published limits.
    """

    PAUSE_KEY = WIKIPEDIA_KEY_PREFIX + "paused"
    DEFAULT_PAUSE_SECONDS = 30.0

    def __init__(self, redis_client: redis.Redis, requests_per_second: int) -> None:
        self.redis = redis_client
        self.requests_per_second = requests_per_second

    def wait_turn(self) -> None:
        while True:
            now = time.time()
            window = int(now)
            key = f"{WIKIPEDIA_KEY_PREFIX}rate:{window}"
            with self.redis.pipeline(transaction=True) as pipe:
                count, _ = pipe.incr(key).expire(key, 5).execute()
            if count <= self.requests_per_second:
                return
            time.sleep(window + 1 - now)

    def pause_all(self, seconds: float | None) -> None:
        """Everyone stops asking for `seconds` (Wikipedia said 429)."""
        seconds = seconds if seconds and seconds > 0 else self.DEFAULT_PAUSE_SECONDS
        self.redis.set(self.PAUSE_KEY, "429", px=max(1, int(seconds * 1000)))

    def paused_for(self) -> float:
        remaining_ms = self.redis.pttl(self.PAUSE_KEY)
        return remaining_ms / 1000 if remaining_ms > 0 else 0.0


class CachedWikipedia:
    """Summaries cached per species in Redis; a short lock makes one consumer ask for all."""

    LOCK_MARGIN_SECONDS = 2  # the lock outlives one fetch by this much, then lapses

    def __init__(
        self, client: WikipediaClient, redis_client: redis.Redis, ttl_seconds: int, limit: SharedRateLimit
    ) -> None:
        self.client = client
        self.redis = redis_client
        self.ttl_seconds = ttl_seconds
        self.limit = limit

    def summary(self, species: str) -> Summary:
        title = normalise_title(species)
        if self.ttl_seconds <= 0:
            return self._fetch(title)
        cache_key = f"{WIKIPEDIA_KEY_PREFIX}summary:{title.lower()}"
        lock_seconds = self.client.timeout_seconds + self.LOCK_MARGIN_SECONDS
        lock = self.redis.lock(cache_key + ":lock", timeout=lock_seconds)
        deadline = time.monotonic() + lock_seconds
        while True:
            cached = self.redis.get(cache_key)
            if cached is not None:
                return Summary(**json.loads(cached))
            if lock.acquire(blocking=False):
                try:
                    cached = self.redis.get(cache_key)  # filled while we were waiting?
                    if cached is not None:
                        return Summary(**json.loads(cached))
                    summary = self._fetch(title)
                    self.redis.set(cache_key, json.dumps(asdict(summary)), ex=self.ttl_seconds)
                    return summary
                finally:
                    try:
                        lock.release()
                    except redis.exceptions.LockError:
                        pass  # it expired during a slow fetch; another consumer may hold it now
            if time.monotonic() > deadline:
                # The holder is stuck or gone: ask ourselves rather than wait forever.
                return self._fetch(title)
            time.sleep(0.05)

    def _fetch(self, title: str) -> Summary:
        """Ask Wikipedia within the shared budget; a 429 pauses every consumer."""
        paused = self.limit.paused_for()
        if paused:
            raise WikipediaUnavailable("paused after a 429 from Wikipedia", status=429, retry_after=paused)
        self.limit.wait_turn()
        try:
            return self.client.fetch(title)
        except WikipediaUnavailable as exc:
            if exc.status == 429:
                self.limit.pause_all(exc.retry_after)
            raise
