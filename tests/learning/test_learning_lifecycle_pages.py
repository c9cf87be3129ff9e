"""The compliance standing page of a package: counts, the learners in one standing,
CSV and XLSX (through Django's test client; no browser test yet)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package, make_learner

pytestmark = pytest.mark.django_db


def test_the_standing_page_counts_lists_and_downloads(admin: Any) -> None:
    """Two learners: one current, one exempt; the page counts them, lists the chosen
    standing, and the downloads hold the same learners; learners may not see it."""
    course = make_course()
    draft = make_draft_package(items=[course])
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    done, exempt = make_learner(username="done-one"), make_learner(username="exempt-one")
    for person in (done, exempt):
        learning.enroll(actor=admin, learner_id=person.pk, package_id=draft.package_id)
    learning.record_completion(actor=admin, learner_id=done.pk, course_id=course.pk)
    exempt_enrollment = exempt.enrollments.get()
    learning.exempt(
        actor=admin, enrollment_ids=[exempt_enrollment.pk], reason="equivalent_outside_activity"
    )
    client = Client()
    client.force_login(admin)
    url = f"/packages/{draft.package_id}/standing/"
    page = client.get(url, {"standing": "current"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Compliance standing" in text and "done-one" in text and "exempt-one" not in text
    assert client.get(url, {"standing": "exempt"}).content.decode().count("exempt-one") >= 1
    csv = b"".join(
        client.get(f"/packages/{draft.package_id}/standing.csv", {"standing": "exempt"})
    ).decode()
    assert "exempt-one" in csv and "done-one" not in csv
    xlsx = client.get(f"/packages/{draft.package_id}/standing.xlsx", {"standing": "current"})
    sheet = load_workbook(BytesIO(b"".join(xlsx.streaming_content))).active
    assert any("done-one" in str(c.value) for row in sheet.iter_rows() for c in row)
    other = Client()
    other.force_login(done)
    assert other.get(url).status_code in (302, 403)


def test_a_learner_not_yet_due_shows_no_overdue_date(admin: Any) -> None:
    """The cache keeps the moment an enrollment will be overdue from (its due date);
    before that moment the page and the CSV say it is not overdue, not a future date."""
    course = make_course()
    draft = make_draft_package(items=[course])
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    waiting = make_learner(username="not-yet-due")
    learning.enroll(actor=admin, learner_id=waiting.pk, package_id=draft.package_id)
    enrollment = waiting.enrollments.get()
    assert enrollment.overdue_since == enrollment.due_in_force  # stored, in the future
    client = Client()
    client.force_login(admin)
    query = {"standing": "not_started"}
    page = client.get(f"/packages/{draft.package_id}/standing/", query).content.decode()
    due = f"{enrollment.due_in_force:%Y-%m-%d}"
    row = page[page.index("not-yet-due") :]
    row = row[: row.index("</tr>")]
    assert row.count(due) == 1  # the Due column only
    csv = b"".join(client.get(f"/packages/{draft.package_id}/standing.csv", query)).decode()
    line = next(line for line in csv.splitlines() if "not-yet-due" in line)
    assert line.count(due) == 1
