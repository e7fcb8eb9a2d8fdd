"""Wikipedia REST summaries of a species, cached in Redis for all consumers.

A 404 or a disambiguation page is an answer ("no article"), cached like an article. A 5xx, a
timeout or a connection error is `WikipediaUnavailable`: nothing is cached and the caller decides.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from urllib.parse import quote

import redis
import requests

from contracts.queue import WIKIPEDIA_CACHE_PREFIX

log = logging.getLogger(__name__)

FOUND = "found"
NOT_FOUND = "not_found"
DISAMBIGUATION = "disambiguation"
UNAVAILABLE = "unavailable"


class WikipediaUnavailable(Exception):
    """Wikipedia could not answer now (5xx, 429, timeout, network): worth trying again later."""


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
            raise WikipediaUnavailable(f"HTTP {response.status_code} from {url}")
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


class CachedWikipedia:
    """Summaries cached per species in Redis; a short lock makes one consumer ask for all."""

    LOCK_SECONDS = 30

    def __init__(self, client: WikipediaClient, redis_client: redis.Redis, ttl_seconds: int) -> None:
        self.client = client
        self.redis = redis_client
        self.ttl_seconds = ttl_seconds

    def summary(self, species: str) -> Summary:
        title = normalise_title(species)
        cache_key = WIKIPEDIA_CACHE_PREFIX + title.lower()
        lock = self.redis.lock(cache_key + ":lock", timeout=self.LOCK_SECONDS)
        deadline = time.monotonic() + self.client.timeout_seconds + self.LOCK_SECONDS
        while True:
            cached = self.redis.get(cache_key)
            if cached is not None:
                return Summary(**json.loads(cached))
            if lock.acquire(blocking=False):
                try:
                    cached = self.redis.get(cache_key)  # filled while we were waiting?
                    if cached is not None:
                        return Summary(**json.loads(cached))
                    summary = self.client.fetch(title)
                    if self.ttl_seconds > 0:
                        self.redis.set(cache_key, json.dumps(asdict(summary)), ex=self.ttl_seconds)
                    return summary
                finally:
                    try:
                        lock.release()
                    except redis.exceptions.LockError:
                        pass  # it expired during a slow fetch; another consumer may hold it now
            if time.monotonic() > deadline:
                # The holder is stuck or gone: ask ourselves rather than wait forever.
                return self.client.fetch(title)
            time.sleep(0.05)
