"""Wikipedia REST summaries of a species, cached in Redis for all consumers.

A 404 or a disambiguation page is an answer ("no article"), cached like an article. A 5xx, a 429,
a timeout or a connection error is `WikipediaUnavailable`: nothing is cached and the task is
retried later (worker/runner.py). An answer the worker must not use (a redirect off the configured
API, an oversized body) is `WikipediaRefused`: the task is dead-lettered with the reason.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit

import redis
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from contracts.links import article_url, image_url
from contracts.tasks import WIKIPEDIA_KEY_PREFIX
from worker import metrics

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
    if value.isdecimal() and value.isascii():
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
    """The summary URL of `title`; every character that could change the path is escaped."""
    return f"{api_url}/page/summary/{quote(title.replace(' ', '_'), safe='')}"


def has_no_article(title: str) -> bool:
    """Titles that could only address another path ("." and ".."), never an article."""
    return not title.strip(". ")


class WikipediaRefused(Exception):
    """An answer the worker will not use, now or later (a redirect off Wikipedia, a huge body)."""


class _CuttableAdapter(HTTPAdapter):
    """Remembers the connection in use, so a watchdog can cut it when the deadline passes.

    Timeouts in requests apply to each socket read; a server that trickles a byte a second never
    trips them. Shutting the socket down from a timer thread ends any read at once.
    """

    def __init__(self) -> None:
        self.in_use: object | None = None
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        adapter = self

        def tracking(pool_class: type) -> type:
            class TrackingPool(pool_class):
                def _get_conn(self, timeout=None):  # noqa: ANN001, ANN202 (urllib3's signature)
                    connection = super()._get_conn(timeout)
                    adapter.in_use = connection
                    return connection

            return TrackingPool

        self.poolmanager.pool_classes_by_scheme = {
            "http": tracking(HTTPConnectionPool),
            "https": tracking(HTTPSConnectionPool),
        }

    def cut(self) -> None:
        sock = getattr(self.in_use, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class WikipediaClient:
    """One shared HTTP session with a descriptive User-Agent, hardened against a hostile upstream.

    - every request has a total deadline (`timeout_seconds`), however slowly the answer trickles;
    - bodies larger than `MAX_BODY_BYTES` are refused (a summary is a few KB);
    - redirects are followed only within the configured API (same scheme, host and path prefix);
    - a `Retry-After` is honoured up to `max_retry_after_seconds`, never longer.
    """

    MAX_BODY_BYTES = 512 * 1024
    MAX_REDIRECTS = 3

    def __init__(
        self, api_url: str, user_agent: str, timeout_seconds: float, max_retry_after_seconds: float = 300.0
    ) -> None:
        self.api_url = api_url
        self.timeout_seconds = timeout_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._adapter = _CuttableAdapter()
        self.session.mount("http://", self._adapter)
        self.session.mount("https://", self._adapter)
        api = urlsplit(api_url)
        self._origin = (api.scheme, api.netloc)
        self._summary_prefix = api.path.rstrip("/") + "/page/summary/"

    def fetch(self, title: str) -> Summary:
        if has_no_article(title):
            return Summary(NOT_FOUND, title)
        url = summary_url(self.api_url, title)
        deadline = threading.Timer(self.timeout_seconds, self._adapter.cut)
        deadline.daemon = True
        started = time.monotonic()
        deadline.start()
        try:
            for _ in range(self.MAX_REDIRECTS + 1):
                status, headers, body = self._get(url)
                metrics.WIKIPEDIA_REQUESTS.labels(str(status)).inc()
                if status not in (301, 302, 303, 307, 308):
                    return self._summary(title, url, status, headers, body)
                url = self._redirect_target(url, headers.get("Location"))
            raise WikipediaRefused(f"more than {self.MAX_REDIRECTS} redirects from {summary_url(self.api_url, title)}")
        except requests.RequestException as exc:
            metrics.WIKIPEDIA_REQUESTS.labels("error").inc()
            if time.monotonic() - started >= self.timeout_seconds:
                raise WikipediaUnavailable(f"no complete answer within {self.timeout_seconds:g}s from {url}") from exc
            raise WikipediaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            deadline.cancel()

    def _get(self, url: str) -> tuple[int, CaseInsensitiveDict, bytes]:
        with self.session.get(url, timeout=self.timeout_seconds, allow_redirects=False, stream=True) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.MAX_BODY_BYTES:
                raise WikipediaRefused(f"answer of {declared} bytes from {url} (limit {self.MAX_BODY_BYTES})")
            body = bytearray()
            for chunk in response.iter_content(16 * 1024):
                body += chunk
                if len(body) > self.MAX_BODY_BYTES:
                    raise WikipediaRefused(f"answer over {self.MAX_BODY_BYTES} bytes from {url}")
            return response.status_code, response.headers, bytes(body)

    def _redirect_target(self, url: str, location: str | None) -> str:
        """Where a redirect points, if it stays within the configured API; else refused."""
        target = urljoin(url, location or "")
        parts = urlsplit(target)
        if (parts.scheme, parts.netloc) != self._origin or not parts.path.startswith(self._summary_prefix):
            raise WikipediaRefused(f"redirect from {url} to {target!r} refused: outside {self.api_url}")
        return target

    def _summary(self, title: str, url: str, status: int, headers: CaseInsensitiveDict, body: bytes) -> Summary:
        if status == 404:
            return Summary(NOT_FOUND, title)
        if status != 200:
            retry_after = None
            if status in (429, 503):
                retry_after = self._capped_retry_after(headers.get("Retry-After"))
            raise WikipediaUnavailable(f"HTTP {status} from {url}", status=status, retry_after=retry_after)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise WikipediaUnavailable(f"invalid JSON from {url}") from exc
        if not isinstance(data, dict):
            raise WikipediaUnavailable(f"unexpected answer from {url}: not a JSON object")
        if data.get("type") == "disambiguation":
            return Summary(DISAMBIGUATION, title)
        extract = data.get("extract")
        content_urls = data.get("content_urls")
        desktop = content_urls.get("desktop") if isinstance(content_urls, dict) else None
        thumbnail = data.get("thumbnail")
        return Summary(
            FOUND,
            title,
            extract=extract if isinstance(extract, str) else None,
            url=article_url(desktop.get("page") if isinstance(desktop, dict) else None),
            thumbnail=image_url(thumbnail.get("source") if isinstance(thumbnail, dict) else None),
        )

    def _capped_retry_after(self, value: str | None) -> float | None:
        seconds = parse_retry_after(value)
        if seconds is not None and seconds > self.max_retry_after_seconds:
            log.warning(
                "Wikipedia asked to wait %.0fs (Retry-After); waiting %.0fs, the retry maximum",
                seconds,
                self.max_retry_after_seconds,
            )
            return self.max_retry_after_seconds
        return seconds


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
                pipe.incr(key)
                pipe.expire(key, 5)
                count, _ = pipe.execute()
            if count <= self.requests_per_second:
                return
            metrics.RATE_LIMIT_WAITS.inc()
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(window + 1 - now)
            time.sleep(window + 1 - now)

    def pause_all(self, seconds: float | None) -> None:
        """Everyone stops asking for `seconds` (Wikipedia said 429)."""
        seconds = seconds if seconds and seconds > 0 else self.DEFAULT_PAUSE_SECONDS
        self.redis.set(self.PAUSE_KEY, "429", px=max(1, int(seconds * 1000)))

    def paused_for(self) -> float:
        remaining_ms = self.redis.pttl(self.PAUSE_KEY)
        return remaining_ms / 1000 if remaining_ms > 0 else 0.0


class CachedWikipedia:
    """Summaries cached per species in Redis (a short lock makes one consumer ask for all), and for
    a minute in each consumer's memory, so a busy consumer does not ask Redis for every task."""

    LOCK_MARGIN_SECONDS = 2  # the lock outlives one fetch by this much, then lapses

    def __init__(
        self, client: WikipediaClient, redis_client: redis.Redis, ttl_seconds: int, limit: SharedRateLimit
    ) -> None:
        self.client = client
        self.redis = redis_client
        self.ttl_seconds = ttl_seconds
        self.limit = limit
        self._local: OrderedDict[str, tuple[Summary, float]] = OrderedDict()

    LOCAL_SECONDS = 60  # each consumer keeps what it read from Redis this long, in memory
    LOCAL_ENTRIES = 512  # at most this many species (least recently used go first)

    def summary(self, species: str) -> Summary:
        title = normalise_title(species)
        if self.ttl_seconds <= 0:
            return self._fetch(title)
        local = self._local.get(title)
        if local is not None and local[1] > time.monotonic():
            self._local.move_to_end(title)
            metrics.SUMMARIES.labels("memory").inc()
            return local[0]
        summary = self._shared_summary(title)
        self._local[title] = (summary, time.monotonic() + min(self.LOCAL_SECONDS, self.ttl_seconds))
        self._local.move_to_end(title)
        while len(self._local) > self.LOCAL_ENTRIES:
            self._local.popitem(last=False)
        return summary

    def _shared_summary(self, title: str) -> Summary:
        """From the Redis cache, or from Wikipedia by one consumer while the others wait."""
        cache_key = f"{WIKIPEDIA_KEY_PREFIX}summary:{title.lower()}"
        lock_seconds = self.client.timeout_seconds + self.LOCK_MARGIN_SECONDS
        lock = self.redis.lock(cache_key + ":lock", timeout=lock_seconds)
        deadline = time.monotonic() + lock_seconds
        while True:
            cached = self.redis.get(cache_key)
            if cached is not None:
                metrics.SUMMARIES.labels("redis").inc()
                return Summary(**json.loads(cached))
            if lock.acquire(blocking=False):
                try:
                    cached = self.redis.get(cache_key)  # filled while we were waiting?
                    if cached is not None:
                        metrics.SUMMARIES.labels("redis").inc()
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
        metrics.SUMMARIES.labels("wikipedia").inc()
        try:
            return self.client.fetch(title)
        except WikipediaUnavailable as exc:
            if exc.status == 429:
                self.limit.pause_all(exc.retry_after)
            raise
