"""The events feed: everything that changed, in commit order, read by cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel

from coursepack.http import cursors
from coursepack.http.auth import READERS, require
from coursepack.http.problems import LINK_NEXT, response_headers, responses
from coursepack.integrations import selectors
from coursepack.integrations.selectors import FEED_PAGE_MAX

router = Router()

FEED = "events"


class SubjectOut(BaseModel):
    type: str = Field(
        description=(
            "What changed: user, course, package, version, group, group_version, "
            "enrollment, completion, … (an audit record's kind of target)."
        )
    )
    id: str = Field(description="Its id (a number for every kind this API serves).")
    label: str = Field(description="Its name when the change was made, for people.")


class EventOut(BaseModel):
    id: int = Field(description="The event's number; later events have higher numbers.")
    cursor: str = Field(description="Pass as `after` to read the events after this one.")
    type: str = Field(
        description=(
            "What happened, e.g. `completion.recorded`, `completion.voided`, "
            "`enrollment.created`, `enrollment.bulk_created`, `enrollment.withdrawn`, "
            "`enrollment.status_changed`, `version.published`, `group.published`, "
            "`account.created`, `account.role_set`, `account.deactivated`."
        ),
        examples=["completion.recorded"],
    )
    occurred_at: datetime = Field(
        description="When the change was committed (its transaction's time)."
    )
    actor: str = Field(description="Who made it (username), or `system`.")
    subject: SubjectOut = Field(description="What changed.")
    package_id: int | None = Field(description="The package it concerns, if any.")
    before: dict[str, Any] | None = Field(description="The fields that changed, before.")
    data: dict[str, Any] | None = Field(
        description="The event's facts: the fields after the change, or what a bulk change did."
    )
    notes: str = Field(description="The reason or notes given with the change.")


class EventPage(BaseModel):
    items: list[EventOut] = Field(description="Up to `limit` events, oldest first.")
    next: str = Field(
        description=(
            "The cursor to read on from: pass it as `after`. Given on every page, also "
            "the last (where new events will appear); keep it between polls."
        )
    )
    more: bool = Field(description="Whether more events follow now (read on at once if so).")


class FeedQuery(Schema):
    after: str | None = Field(
        None,
        max_length=200,
        description="A `next` (or an event's `cursor`) from an earlier page; absent: from the start.",
    )
    limit: int = Field(100, ge=1, le=FEED_PAGE_MAX, description="How many events (1-1000).")
    types: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^[a-z_.,]*$",
        description="Only these event types, comma-separated, e.g. `completion.recorded,completion.voided`.",
        examples=["completion.recorded,completion.voided"],
    )


def feed_page(after: str | None, limit: int, types: str | None) -> dict[str, Any]:
    """Return one page of the feed after cursor ``after``, as the API sends it."""
    after_id = int(cursors.decode(FEED, after)[0]) if after else 0
    wanted = [t for t in (types or "").split(",") if t]
    items = selectors.feed_items(
        after_id, wanted or None, limit + 1, cursor=cursors.id_encoder(FEED)
    )
    more = len(items) > limit
    del items[limit:]
    last = items[-1]["id"] if items else after_id
    return {"items": items, "next": cursors.encode_id(FEED, last), "more": more}


@router.get(
    "/events",
    response=responses({200: EventPage}),
    tags=["events"],
    openapi_extra=response_headers(200, Link=LINK_NEXT),
)
def list_events(request: HttpRequest, response: HttpResponse, query: Query[FeedQuery]) -> Any:
    """Read everything that changed — enrolments, completions, voids, status changes,
    publishes, people — oldest first, in the order the changes were committed.

    Read on with `after=<next>` until `more` is false; keep `next` and poll with it
    later. No committed event is ever skipped, even while others write (admins
    and auditors)."""
    require(request, *READERS)
    page = feed_page(query.after, query.limit, query.types)
    cursors.link_next(request, response, "after", page["next"])
    return page
