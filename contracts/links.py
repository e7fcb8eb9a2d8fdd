"""Which links from Wikipedia may reach a result and the page: https, on Wikimedia's own hosts.

The worker drops any other link before writing a result, and the page checks again when it reads
one (a result file is data from outside), so a hostile or hijacked upstream can never put a
`javascript:` URL, an internal address or a tracking host in front of a user.
"""

from __future__ import annotations

from urllib.parse import urlsplit

ARTICLE_HOST_SUFFIX = ".wikipedia.org"
IMAGE_HOST = "upload.wikimedia.org"  # the page's Content-Security-Policy allows images from here only


def _https_host(url: object) -> str | None:
    if not isinstance(url, str) or any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL, or a port that is not a number
        return None
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        return None
    return (parts.hostname or "").lower()


def article_url(url: object) -> str | None:
    """`url` if it is an https link to a Wikipedia article, else None."""
    host = _https_host(url)
    return url if host and host.endswith(ARTICLE_HOST_SUFFIX) else None  # type: ignore[return-value]


def image_url(url: object) -> str | None:
    """`url` if it is an https link to an image on Wikimedia's upload host, else None."""
    return url if _https_host(url) == IMAGE_HOST else None  # type: ignore[return-value]
