"""The public HTML page, for browsers: the pet list with each pet's enrichment, and its live rows.

No token: it shows every pet's public fields. Only this app's own scripts and styles
run on it (PAGE_CSP).
"""

from __future__ import annotations

import threading

from bson import ObjectId
from cachetools import LRUCache, cached
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template
from markupsafe import Markup
from pymongo.errors import ConnectionFailure

from pets import producer, selectors
from pets.errors import DATABASE_UNAVAILABLE
from pets.selectors import PetRow
from pets.serializers import PetListQuerySerializer

PAGE_SIZE = 100
ROWS_KEPT = 2_000  # rendered rows per process, ~1.5 KB each


@cached(LRUCache(maxsize=ROWS_KEPT), key=lambda row: row.key, lock=threading.Lock())
def rendered_row(row: PetRow) -> Markup:
    """A row's HTML, rendered once per process for as long as what it shows stays the same
    (`PetRow.key`): a page reloaded or polled renders only the rows that changed."""
    return Markup(get_template("pets/_pet_row.html").render({"row": row}))  # noqa: S704 (autoescaped)


def pets_page(request: HttpRequest) -> HttpResponse:
    """The public HTML list of pets, with each pet's enrichment state and result.

    Pages by cursor, like the API (`?cursor=` from the "Older" link); `?offset=` still works.
    """
    query = PetListQuerySerializer(data={k: v for k, v in request.GET.items() if k in ("offset", "cursor")})
    if not query.is_valid():
        return JsonResponse({"error": "Invalid input", "fields": query.errors}, status=400)
    cursor = query.validated_data.get("cursor")
    # Read before the rows: the page follows live events from here, so a change made while it
    # renders is replayed to it rather than lost (pets/live.py).
    events_after = producer.newest_event_seen()
    try:
        page = selectors.pet_page(limit=PAGE_SIZE, cursor=cursor, offset=query.validated_data["offset"])
        rows = selectors.pet_rows(page.pets)
    except ConnectionFailure:
        return with_content_security_policy(
            render(request, "pets/pets_list.html", {"database_error": DATABASE_UNAVAILABLE}, status=503)
        )
    context = {
        "rows": [rendered_row(row) for row in rows],
        "total": page.total,
        "paged": bool(cursor or query.validated_data["offset"]),
        "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
        "events_after": events_after,
    }
    return with_content_security_policy(render(request, "pets/pets_list.html", context))


MAX_ROWS_PER_POLL = PAGE_SIZE


def pet_rows(request: HttpRequest) -> JsonResponse:
    """`GET /rows/?ids=a,b`: the page's rows for these pets, rendered, for the page to update in place.

    The page polls it for the rows whose enrichment is not final yet (visible rows only, so at
    most one page's worth). Public, like the page: it shows nothing the page does not.
    """
    ids = [pet_id for pet_id in request.GET.get("ids", "").split(",") if pet_id]
    if not ids or len(ids) > MAX_ROWS_PER_POLL or not all(ObjectId.is_valid(pet_id) for pet_id in ids):
        return JsonResponse({"error": f"ids must be 1 to {MAX_ROWS_PER_POLL} comma-separated pet ids"}, status=400)
    try:
        pets = selectors.pets_by_ids(ids)
        rows = {row.pet["id"]: row for row in selectors.pet_rows(list(pets.values()))}
    except ConnectionFailure:
        return JsonResponse({"error": DATABASE_UNAVAILABLE}, status=503)
    body = []
    for pet_id in ids:
        row = rows.get(pet_id)
        if row is None:
            body.append({"id": pet_id, "deleted": True})
        else:
            html = str(rendered_row(row))
            body.append({"id": pet_id, "state": row.state, "final": row.final, "version": row.version, "html": html})
    return JsonResponse({"rows": body})


# Only this app's own scripts and styles run on the page; images may come from Wikimedia.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://upload.wikimedia.org; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def with_content_security_policy(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = PAGE_CSP
    return response
