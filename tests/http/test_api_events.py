"""The events feed: everything that changed, in commit order, read by cursor."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where
from django.db import connection

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from tests.concurrency import at_once
from tests.factories import make_course, make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _read_all(caller: Caller, query: str = "", limit: int = 2) -> tuple[list[dict[str, Any]], str]:
    """Read the feed to its end, page by page; return the events and the last `next`."""
    events: list[dict[str, Any]] = []
    after = ""
    while True:
        response = caller.call("GET", f"/events?limit={limit}{query}{after}")
        assert response.status_code == 200, response.content
        page = response.json()
        events += page["items"]
        assert page["next"] in response["Link"] and 'rel="next"' in response["Link"]
        after = f"&after={page['next']}"
        if not page["more"]:
            return events, page["next"]


def test_the_feed_tells_every_change_in_order_and_no_secrets(admin: Caller) -> None:
    """A user created, enrolled, a completion recorded and voided: each appears once, in
    the order it was committed, with its facts; tokens and sign-ins never appear."""
    version = make_published_package()
    (course_id,) = {i.course_id for i in version.items.all()} or {make_course().pk}
    learner = admin.call("POST", "/users", {"username": "pat"}).json()["id"]
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    ).json()["id"]
    recorded = admin.call(
        "POST", "/completions", {"learner_id": learner, "course_id": course_id, "kind": "passed"}
    ).json()["event"]["id"]
    admin.call("POST", f"/completions/{recorded}/void", {"reason": "Wrong person"})
    admin.call("POST", "/tokens", {"name": "another"})

    events, _ = _read_all(admin)

    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    types = [e["type"] for e in events]
    assert not [t for t in types if t.startswith(("token.", "account.signed", "job."))]
    watched = {("user", str(learner)), ("enrollment", str(enrollment))}
    watched |= {("completion", str(recorded))}
    mine = [
        (e["type"], e["subject"]["type"], e["subject"]["id"])
        for e in events
        if (e["subject"]["type"], e["subject"]["id"]) in watched
        and e["type"] != "enrollment.status_changed"
    ]
    assert mine == [
        ("account.created", "user", str(learner)),
        ("enrollment.created", "enrollment", str(enrollment)),
        ("completion.recorded", "completion", str(recorded)),
        ("completion.voided", "completion", str(recorded)),
    ]
    completion = next(e for e in events if e["type"] == "completion.recorded")
    assert completion["data"]["learner"] == learner
    assert completion["data"]["kind"] == "passed"
    assert "enrollment.status_changed" in types
    assert "version.published" in types


def test_the_cursor_resumes_after_the_last_event_read(admin: Caller) -> None:
    """The last page's `next` is where new events will appear: polling with it later
    returns exactly what changed since, filtered by type when asked."""
    make_course(code="A-1")
    _, resume = _read_all(admin)
    course = make_course(code="B-1")
    learner = accounts.create_user(actor=admin.user, username="kim")
    learning.record_completion(
        actor=admin.user, learner_id=learner.pk, course_id=course.pk, kind="completed"
    )

    later, _ = _read_all(admin, f"&types=completion.recorded&after={resume}")
    assert [(e["type"], e["data"]["course"]) for e in later] == [("completion.recorded", course.pk)]
    everything, _ = _read_all(admin, f"&after={resume}", limit=100)
    assert [e["type"] for e in everything][:2] == ["course.created", "account.created"]


@pytest.mark.parametrize("cursor", ["nonsense", "WyJ1c2VycyIsMV0", "WyJldmVudHMiLHRydWVd", ""])
def test_a_cursor_we_did_not_issue_is_invalid_input(admin: Caller, cursor: str) -> None:
    """Garbage, another list's cursor or a forged one: 422 naming `after`."""
    response = admin.call("GET", f"/events?after={cursor}x")

    assert response.status_code == 422
    assert [where(e) for e in problem(response)["errors"]] == ["after"]


def test_concurrent_writers_never_make_the_feed_skip_an_event(
    transactional_db: None, postgresql_only: None
) -> None:
    """While four writers record completions, a reader polling by cursor sees every
    committed completion exactly once, and nothing it saw is missing later."""
    admin = make_caller(role="admin")
    course = make_course()
    learners = [accounts.create_user(actor=admin.user, username=f"w{i}") for i in range(4)]
    per_writer = 15
    done = threading.Event()
    seen: list[int] = []

    def write(learner_id: int) -> int:
        for _ in range(per_writer):
            learning.record_completion(
                actor=admin.user, learner_id=learner_id, course_id=course.pk, kind="completed"
            )
        return per_writer

    def read() -> int:
        after = ""
        while True:
            page = admin.call("GET", f"/events?types=completion.recorded&limit=7{after}").json()
            seen.extend(e["data"]["learner"] for e in page["items"])
            after = f"&after={page['next']}"
            if done.is_set() and not page["more"]:
                return len(seen)

    def writers() -> list[Any]:
        try:
            return at_once([lambda lid=learner.pk: write(lid) for learner in learners])
        finally:
            done.set()
            connection.close()

    results = at_once([writers, read])

    assert results[0] == [per_writer] * len(learners)
    assert sorted(seen) == sorted(lr.pk for lr in learners for _ in range(per_writer))
