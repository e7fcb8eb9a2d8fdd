"""Limit/offset pagination over a MongoEngine queryset that fetches only the requested page.

The body stays a JSON array (as in the seed); the total and the neighbouring pages travel in
`X-Total-Count` and `Link` headers (RFC 8288), as GitHub's API does.
"""

from __future__ import annotations

from mongoengine.queryset import QuerySet
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param


def paginate(queryset: QuerySet, *, limit: int, offset: int) -> tuple[list, int]:
    """One page of `queryset` and the total count (two queries, whatever the collection size)."""
    total = queryset.count()
    return list(queryset.skip(offset).limit(limit)), total


def pagination_headers(request: Request, *, limit: int, offset: int, total: int) -> dict[str, str]:
    url = request.build_absolute_uri()
    links = []
    if offset + limit < total:
        next_url = replace_query_param(replace_query_param(url, "limit", limit), "offset", offset + limit)
        links.append(f'<{next_url}>; rel="next"')
    if offset > 0:
        # Past the end, "prev" is the last page that has pets, not another empty one.
        prev_offset = min(max(offset - limit, 0), max(total - limit, 0))
        prev_url = replace_query_param(url, "limit", limit)
        prev_url = (
            replace_query_param(prev_url, "offset", prev_offset)
            if prev_offset
            else remove_query_param(prev_url, "offset")
        )
        links.append(f'<{prev_url}>; rel="prev"')
    headers = {"X-Total-Count": str(total)}
    if links:
        headers["Link"] = ", ".join(links)
    return headers
