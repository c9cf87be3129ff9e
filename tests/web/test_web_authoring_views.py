"""The authoring pages map every refusal of the services to where a person sees it:
an InvalidInput's problems at their fields with an error summary, a stale revision as
a conflict (412 to the editor's autosave), a missing thing as the styled 404, an
auditor's change as the styled 403. Nothing is written by a refused request."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit.models import AuditEvent
from coursepack.catalog.models import Course
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package, PackageVersion
from tests.factories import make_course, make_draft_package, make_group, make_published_package

pytestmark = pytest.mark.django_db
AUTOSAVE = {"HTTP_X_COURSEPACK_AUTOSAVE": "1"}
# An id no row has (PostgreSQL sequences are not rolled back, so small ones get used).
MISSING = 10**9


def test_a_course_form_shows_each_problem_at_its_field_and_in_a_summary(
    client_as_admin: Client,
) -> None:
    """An empty name and a taken code come back at their fields, listed in the error
    summary that links to them; nothing is added."""
    # Given a course with the code SEC-101
    make_course(code="SEC-101", name="Security basics")
    # When the admin adds another with the same code and no name
    response = client_as_admin.post(
        reverse("web:course-new"), {"code": "SEC-101", "name": "", "duration_minutes": "x"}
    )
    # Then the duration's problem is shown at its field, before the services are asked
    assert response.status_code == 422
    assert "Duration must be a whole number of minutes" in response.content.decode()
    # When the duration is fixed
    response = client_as_admin.post(
        reverse("web:course-new"), {"code": "SEC-101", "name": "", "duration_minutes": "30"}
    )
    page = response.content.decode()
    # Then the name's problem is at its field and in the summary, linked
    assert response.status_code == 422
    assert 'class="error-summary"' in page
    assert 'href="#id_name">Name is required' in page
    assert 'id="id_name-error"' in page
    assert Course.objects.count() == 1
    # When the name is given too, the taken code is reported at the code field
    response = client_as_admin.post(
        reverse("web:course-new"), {"code": "SEC-101", "name": "Again", "duration_minutes": "30"}
    )
    assert response.status_code == 422
    assert 'href="#id_code"' in response.content.decode()
    assert Course.objects.count() == 1


def test_a_stale_revision_is_a_conflict_and_changes_nothing(
    admin: Any, client_as_admin: Client
) -> None:
    """The editor's autosave gets 412 when the draft changed since it was read, and the
    draft keeps the other edit; the same post without JavaScript comes back to the
    editor with the conflict in a banner."""
    # Given a draft at revision r, then edited elsewhere (r + 1)
    draft = make_draft_package(actor=admin, name="Cyber")
    stale = draft.revision
    packaging.update_draft(actor=admin, version_id=draft.pk, name="Cyber (renamed elsewhere)")
    url = reverse("web:draft-details", args=["package", draft.pk])
    # When the editor autosaves with revision r
    response = client_as_admin.post(
        url, {"name": "Mine", "description": "", "revision": stale}, **AUTOSAVE
    )
    # Then it is refused as a conflict and the other edit stays
    assert response.status_code == 412
    assert "changed in another tab or by another admin" in response.content.decode()
    draft.refresh_from_db()
    assert draft.name == "Cyber (renamed elsewhere)"
    # When the same form is posted without JavaScript
    response = client_as_admin.post(url, {"name": "Mine", "revision": stale}, follow=True)
    # Then the editor comes back with the conflict said in a banner
    assert "changed in another tab" in response.content.decode()
    draft.refresh_from_db()
    assert draft.name == "Cyber (renamed elsewhere)"


def test_autosave_returns_the_items_and_the_new_revision(
    admin: Any, client_as_admin: Client
) -> None:
    """A saved edit answers the autosave with the refreshed item list and X-Revision."""
    course = make_course(name="Password Security")
    draft = make_draft_package(actor=admin, items=[course])
    item = draft.items.get()
    response = client_as_admin.post(
        reverse("web:draft-item", args=["package", draft.pk, item.pk]),
        {"op": "optional", "revision": draft.revision, "label": "Password Security"},
        **AUTOSAVE,
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert response["X-Revision"] == str(draft.revision)
    assert "Make required" in response.content.decode()
    assert draft.items.get().required is False


def test_publish_lists_every_problem_at_its_item_and_requires_notes(
    admin: Any, client_as_admin: Client
) -> None:
    """Publishing a broken draft lists every problem at once, each naming its item, and
    publishes nothing; change notes are required."""
    # Given a draft with two retired courses
    a, b = make_course(name="Phishing"), make_course(name="Passwords")
    draft = make_draft_package(actor=admin, items=[a, b])
    from coursepack.catalog import api as catalog

    catalog.retire_course(actor=admin, course_id=a.pk)
    catalog.retire_course(actor=admin, course_id=b.pk)
    url = reverse("web:publish", args=[draft.pk])
    # When the admin publishes without notes
    response = client_as_admin.post(url, {"change_notes": "", "effective": "now"})
    page = response.content.decode()
    # Then both problems are listed, pointing at items 1 and 2, and the notes are asked for
    assert response.status_code == 422
    assert "2 problems to fix before publishing" in page
    assert f"#item-{draft.items.get(course=a).pk}" in page
    assert f"#item-{draft.items.get(course=b).pk}" in page
    assert 'href="#id_change_notes"' in page
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_publish_in_the_past_is_refused_at_the_date_field(
    admin: Any, client_as_admin: Client
) -> None:
    """A back-dated effective date is the service's InvalidInput, shown at the date."""
    draft = make_draft_package(actor=admin)
    response = client_as_admin.post(
        reverse("web:publish", args=[draft.pk]),
        {
            "change_notes": "Initial",
            "effective": "later",
            "effective_at": "2001-01-01T09:00",
            "inflight_policy": "keep",
        },
    )
    assert response.status_code == 422
    assert 'href="#id_effective_at"' in response.content.decode()
    assert PackageVersion.objects.get(pk=draft.pk).status == "draft"


def test_a_missing_thing_is_the_styled_404(client_as_admin: Client) -> None:
    """Unknown packages, versions and drafts answer the styled 404 with a message."""
    for url in (
        reverse("web:package", args=[MISSING]),
        reverse("web:publish", args=[MISSING]),
        reverse("web:draft", args=["package", MISSING]),
        reverse("web:draft", args=["nonsense", 1]),
        reverse("web:compare", args=[MISSING]),
    ):
        response = client_as_admin.get(url)
        assert response.status_code == 404, url
        assert "Page not found" in response.content.decode()


def test_an_auditor_reads_but_cannot_change(db: None) -> None:
    """An auditor sees the catalog and packages but every change is the styled 403."""
    auditor = accounts.create_user(actor=None, username="audrey", role=Role.AUDITOR)
    v1 = make_published_package(name="Cyber")
    client = Client()
    client.force_login(auditor)
    assert client.get(reverse("web:catalog")).status_code == 200
    assert client.get(reverse("web:package", args=[v1.package_id])).status_code == 200
    before = AuditEvent.objects.count()
    for url, data in (
        (reverse("web:course-new"), {"code": "X-1", "name": "X"}),
        (reverse("web:package-status", args=[v1.package_id]), {"change": "retire"}),
        (reverse("web:new-version", args=[v1.package_id]), {}),
    ):
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "You cannot open this page" in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert Package.objects.get().status == "active"


def test_a_package_whose_only_draft_was_discarded_says_so(
    admin: Any, client_as_admin: Client
) -> None:
    """A package with no version left is listed with a message and a way out, not an
    empty box."""
    draft = make_draft_package(actor=admin, name="Abandoned")
    packaging.discard_draft(actor=admin, version_id=draft.pk)
    page = client_as_admin.get(reverse("web:home")).content.decode()
    assert "its only draft was discarded" in page
    page = client_as_admin.get(reverse("web:package", args=[draft.package_id])).content.decode()
    assert "its only draft was discarded" in page


def test_a_scheduled_version_says_when_it_takes_effect(admin: Any, client_as_admin: Client) -> None:
    """A scheduled version's own page says the moment it takes effect."""
    from datetime import timedelta

    from django.utils import timezone

    v1 = make_published_package(actor=admin, name="Cyber")
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    when = timezone.now() + timedelta(days=10)
    packaging.publish_version(
        actor=admin, version_id=v2.pk, change_notes="Later", effective_at=when
    )
    page = client_as_admin.get(
        reverse("web:package", args=[v1.package_id]) + "?v=2"
    ).content.decode()
    assert "Takes effect" in page
    assert timezone.localtime(when).strftime("%-d %b %Y") in page


def test_a_group_pinned_at_an_older_version_offers_the_newer_one(
    admin: Any, client_as_admin: Client
) -> None:
    """A draft pinning group v1 shows 'newer version available' with what changed, and
    takes v2 in one action."""
    a, b, c = make_course(name="English"), make_course(name="Spanish"), make_course(name="French")
    group = make_group(actor=admin, kind="family", name="Language", items=[a, b])
    draft = make_draft_package(actor=admin, items=[group])
    g2 = packaging.new_group_draft(actor=admin, group_id=group.group_id)
    packaging.add_group_item(actor=admin, group_version_id=g2.pk, course_id=c.pk)
    packaging.publish_group_version(actor=admin, group_version_id=g2.pk)
    page = client_as_admin.get(reverse("web:draft", args=["package", draft.pk])).content.decode()
    assert "Newer version available" in page
    assert "+ French" in page
    item = draft.items.get()
    draft.refresh_from_db()
    client_as_admin.post(
        reverse("web:draft-item", args=["package", draft.pk, item.pk]),
        {"op": "use_latest", "revision": draft.revision},
    )
    item.refresh_from_db()
    assert item.group_version_id == g2.pk


def test_the_500_page_is_styled_and_reads_nothing(django_assert_num_queries: Any) -> None:
    """The 500 page says what happened in plain words without touching the database
    (which may be what failed)."""
    from django.test import RequestFactory

    from coursepack.web.errors import server_error

    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.content.decode()


def test_publishing_for_a_later_date_schedules_it_and_says_what_that_means(
    admin: Any, client_as_admin: Client
) -> None:
    """A future effective date publishes the draft as scheduled; the banner says when it
    takes effect and that new enrollments get the active version until then."""
    from datetime import timedelta

    from django.utils import timezone

    v1 = make_published_package(actor=admin, name="Cyber")
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    when = timezone.localtime() + timedelta(days=7)
    response = client_as_admin.post(
        reverse("web:publish", args=[v2.pk]),
        {
            "change_notes": "From next week",
            "effective": "later",
            "effective_at": when.strftime("%Y-%m-%dT%H:%M"),
            "inflight_policy": "keep",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Version 2 is scheduled: it takes effect on" in page
    assert "Until then new enrollments get the active version." in page
    v2.refresh_from_db()
    assert v2.status == "scheduled"


def test_a_package_and_a_group_take_a_key_and_a_taken_key_is_shown_at_its_field(
    client_as_admin: Client,
) -> None:
    """The key integrations address a package or group by is set on creation (or made
    from the name); a taken or malformed key comes back at the key field, nothing added."""
    # When the admin creates a package with a key
    response = client_as_admin.post(
        reverse("web:package-new"), {"name": "Fire safety 2027", "key": "fire-safety-2027"}
    )
    # Then it has that key, shown on its page
    assert response.status_code == 302
    package = Package.objects.get(key="fire-safety-2027")
    page = client_as_admin.get(reverse("web:package", args=[package.pk])).content.decode()
    assert "<code>fire-safety-2027</code>" in page
    # When another package asks for the same key, or a malformed one
    for key, said in [
        ("fire-safety-2027", "Another package already has this key"),
        ("Fire Safety!", "Key must be lower-case letters and digits"),
    ]:
        response = client_as_admin.post(reverse("web:package-new"), {"name": "Again", "key": key})
        page = response.content.decode()
        # Then the problem is at the key field and in the summary; nothing is added
        assert response.status_code == 422, key
        assert 'href="#id_key">' + said in page
        assert 'id="id_key-error"' in page
    assert Package.objects.count() == 1
    # A package without a key gets one made from its name
    client_as_admin.post(reverse("web:package-new"), {"name": "Fire safety 2027", "key": ""})
    assert set(Package.objects.values_list("key", flat=True)) == {
        "fire-safety-2027",
        "fire-safety-2027-2",
    }
    # Groups the same way
    form = {"name": "Languages", "kind": "choice", "min_count": "1", "key": "languages"}
    assert client_as_admin.post(reverse("web:group-new"), form).status_code == 302
    response = client_as_admin.post(reverse("web:group-new"), form)
    assert response.status_code == 422
    assert 'href="#id_key">Another group already has this key' in response.content.decode()


def test_the_package_list_reads_as_much_for_six_drafts_as_for_two(
    admin: Any, client_as_admin: Client
) -> None:
    """Each draft card names the version it is based on, read with the versions the list
    reads anyway: six drafts cost the same queries as two (no query per card)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def drafts(count: int, prefix: str) -> None:
        for n in range(count):
            v1 = make_published_package(actor=admin, name=f"{prefix} {n}")
            v2 = packaging.publish_version(
                actor=admin,
                version_id=packaging.create_draft_from(actor=admin, version_id=v1.pk).pk,
                inflight_policy="keep",
            ).version
            packaging.create_draft_from(actor=admin, version_id=v2.pk)

    def list_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client_as_admin.get(reverse("web:home"))
        assert response.status_code == 200
        return len(queries.captured_queries), response.content.decode()

    drafts(2, "Alpha")
    few, page = list_queries()
    assert page.count("(based on v2)") == 2
    drafts(4, "Beta")
    many, page = list_queries()
    assert page.count("(based on v2)") == 6
    assert many == few, (few, many)
