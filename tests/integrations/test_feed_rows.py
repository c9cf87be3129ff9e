"""The feed reads its rows off the cursor with its own conversions: they must give what
the ORM gives, field for field, on both engines."""

from __future__ import annotations

import pytest

from coursepack.audit.models import AuditEvent
from coursepack.integrations import selectors
from coursepack.learning import api as learning
from tests.factories import make_admin, make_course, make_learner

pytestmark = pytest.mark.django_db


def test_every_event_of_the_feed_equals_its_audit_record_as_the_orm_reads_it() -> None:
    admin = make_admin()
    learner = make_learner(username="zoe-1")
    course = make_course(actor=admin)
    recorded = learning.record_completion(
        actor=admin, learner_id=learner.pk, course_id=course.pk
    ).event
    learning.void_event(actor=admin, event_id=recorded.pk, reason="Wrong person — “zoë”")

    events, more = selectors.events_after(0, limit=1000)

    assert not more and events
    records = {r.pk: r for r in AuditEvent.objects.filter(pk__in=[e.id for e in events])}
    for event in events:
        record = records[event.id]
        assert event.type == record.action
        assert event.occurred_at == record.occurred_at
        assert event.occurred_at.utcoffset() is not None
        assert (event.actor, event.subject_id, event.subject_label) == (
            record.actor_label,
            record.target_id,
            record.target_label,
        )
        assert (event.before, event.data, event.notes, event.package_id) == (
            record.before,
            record.after,
            record.notes,
            record.package_id,
        )
    assert {"completion.recorded", "completion.voided"} <= {e.type for e in events}
    # The API's page is built in one pass from the same rows: the same facts.
    items = selectors.feed_items(0, None, 1000, cursor=str)
    assert [
        (i["id"], i["cursor"], i["type"], i["occurred_at"], i["actor"], i["before"], i["data"])
        for i in items
    ] == [(e.id, str(e.id), e.type, e.occurred_at, e.actor, e.before, e.data) for e in events]
    assert [i["subject"] for i in items] == [
        {"type": e.subject_type, "id": e.subject_id, "label": e.subject_label} for e in events
    ]
    only, _ = selectors.events_after(0, types=["completion.voided"])
    assert [e.type for e in only] == ["completion.voided"]
    assert selectors.events_after(0, types=["token.issued"]) == ([], False)
