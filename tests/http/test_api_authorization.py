"""Who may call what: every operation of the API, every role, own or someone else's data.

The matrix below has a row for every operation in the OpenAPI schema (a new
endpoint without a row fails ``test_the_matrix_covers_every_operation``). Per row:

- anonymous callers get 401 everywhere;
- ``ADMIN`` rows (writes): admins succeed; auditors and learners get 403;
- ``READERS`` rows: admins and auditors succeed; learners get 403;
- ``EVERYONE`` rows: every signed-in role succeeds (their own account and tokens);
- ``OWN`` rows (a learner's enrollment, progress, transcript, person; a user's token):
  admins and auditors read anyone's; a learner gets their own, and for someone
  else's the very 404 a non-existent id gets, so nothing tells them it exists;
- ``SCOPED`` rows (an org unit, a user): admins and auditors read any; learners get 403.
- ``REQUESTER`` rows (an export, ADR 0031): its requester (the manager) and admins
  read it; anyone else gets the very 404 a non-existent id gets.

Managers (ADR 0024) manage the unit the ``other`` learner is placed in, and not
the ``learner``'s: in ``OWN`` and ``SCOPED`` rows they read the other's (in scope)
and get the 404 of a missing id for the learner's (out of scope); ``ADMIN`` and
``READERS`` rows refuse them with 403, ``EVERYONE`` and ``MANAGERS`` rows let them in
(their lists, counts and reports then hold only their people and themselves).

Every refused call is checked to have changed nothing: the rows of every
Coursepack table (and users) are the same before and after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from api_helpers import API, Caller, make_caller, problem, send
from django.apps import apps
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account
from coursepack.audiences import api as audiences
from coursepack.audit.models import AuditEvent
from coursepack.http.api import api
from coursepack.integrations import webhooks
from coursepack.interchange import package_files
from coursepack.jobs import api as jobs
from coursepack.jobs import exports
from coursepack.learning import api as learning
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors as notification_selectors
from coursepack.organisation import api as organisation
from coursepack.packaging import api as packaging
from coursepack.reports.matrix import MatrixFilters
from tests.factories import make_course, make_group, make_published_package

ADMIN = "admin"
READERS = "readers"
EVERYONE = "everyone"
OWN = "own"
SCOPED = "scoped"
MANAGERS = "managers"
REQUESTER = "requester"

ROLES = ("anonymous", "learner", "manager", "auditor", "admin")
MISSING_ID = 987_654_321


@dataclass
class World:
    """One of everything, owned by two learners: ``learner`` (the caller) and ``other``."""

    admin: Caller
    auditor: Caller
    learner: Caller
    other: Caller
    manager: Caller
    ids: dict[str, int] = field(default_factory=dict)

    def caller(self, role: str) -> Caller | None:
        return None if role == "anonymous" else getattr(self, role)


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world, built once for this module; each test's changes are rolled back.

    Building it takes ~500 queries; each test runs inside a savepoint of this
    transaction (pytest-django's ``db``), so every test starts from the same state.
    Export files go to a temporary folder for the module's whole run.
    """
    exports_dir = tmp_path_factory.mktemp("exports")
    with (
        override_settings(EXPORTS_DIR=exports_dir),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


def build_world() -> World:
    admin = make_caller(role="admin")
    world = World(
        admin=admin,
        auditor=make_caller(role="auditor"),
        learner=make_caller(role="learner"),
        other=make_caller(role="learner"),
        manager=make_caller(role="manager"),
    )
    actor = admin.user
    # The manager manages "team", where the other learner works; the learner works
    # in "elsewhere", outside the manager's scope.
    company = organisation.create_unit(actor=actor, code="CO", name="Company")
    team = organisation.create_unit(actor=actor, code="TEAM", name="Team", parent_id=company.pk)
    elsewhere = organisation.create_unit(
        actor=actor, code="ELSE", name="Elsewhere", parent_id=company.pk
    )
    organisation.place_person(actor=actor, user_id=world.other.user.pk, org_unit_id=team.pk)
    organisation.place_person(actor=actor, user_id=world.learner.user.pk, org_unit_id=elsewhere.pk)
    organisation.set_unit_managers(actor=actor, unit_id=team.pk, user_ids=[world.manager.user.pk])
    spare_unit = organisation.create_unit(actor=actor, code="SPARE", name="Spare")
    retired_unit = organisation.create_unit(actor=actor, code="OLD", name="Old")
    organisation.deactivate_unit(actor=actor, unit_id=retired_unit.pk)
    third = accounts.create_user(actor=actor, username="third-learner")
    Account.objects.filter(user=third).update(external_id="4711")
    away = accounts.create_user(actor=actor, username="away-learner")
    accounts.deactivate_user(actor=actor, user_id=away.pk)

    c1 = make_course(actor=actor)
    c2 = make_course(actor=actor)
    unused = make_course(actor=actor, code="UNUSED-1")
    retired = make_course(actor=actor, retired=True)
    # A group published twice: packages built on v1 can take the newer v2.
    g1 = make_group(actor=actor, items=[(c1, True), c2])
    package_v1 = make_published_package(actor=actor, items=[c1, g1])
    g2 = packaging.new_group_draft(actor=actor, group_id=g1.group_id)
    packaging.publish_group_version(actor=actor, group_version_id=g2.pk)
    package_v2 = packaging.create_draft_from(actor=actor, version_id=package_v1.pk)
    items = list(package_v2.items.order_by("position"))
    # A second group with a draft to edit, and a third with no draft (to start one).
    other_group = make_group(actor=actor, items=[c1, c2], kind="choice", min_count=1)
    group_draft = packaging.new_group_draft(actor=actor, group_id=other_group.group_id)
    spare_group = make_group(actor=actor, items=[c2], name="Spare group")
    # A package with only an active version (to start a new draft from) ...
    settled = make_published_package(actor=actor, items=[c2])
    # ... one never published (to delete), one retired (to reinstate).
    unpublished = packaging.create_package(actor=actor, name="Never published")
    retired_package = packaging.create_package(actor=actor, name="Retired")
    packaging.retire_package(actor=actor, package_id=retired_package.package_id)

    ids = world.ids
    for name, caller in (("own", world.learner), ("other", world.other)):
        enrollment = learning.enroll(
            actor=actor, learner_id=caller.user.pk, package_id=package_v1.package_id
        )
        event = learning.record_completion(
            actor=actor, learner_id=caller.user.pk, course_id=c1.pk
        ).event
        ids[f"{name}_enrollment"] = enrollment.pk
        ids[f"{name}_event"] = event.pk
        ids[f"{name}_learner"] = caller.user.pk
        ids[f"{name}_person"] = caller.user.pk
        ids[f"{name}_user"] = caller.user.pk
        # An HR id, for the lookup by external id.
        ids[f"{name}_external_id"] = 5000 + caller.user.pk
        Account.objects.filter(user=caller.user).update(external_id=str(5000 + caller.user.pk))
    # Lifecycle facts: an exemption to revoke, an equivalence to end or apply.
    (exemption,) = learning.exempt(
        actor=actor,
        enrollment_ids=[ids["other_enrollment"]],
        course_id=c1.pk,
        reason="tested_out",
    )
    equivalence, _ = learning.create_equivalence(
        actor=actor,
        source_course_id=make_course(actor=actor).pk,
        target_course_id=make_course(actor=actor).pk,
    )
    ids.update(exemption=exemption.pk, equivalence=equivalence.pk)
    # The learner's too, outside the manager's scope: no exceptions list may show it.
    (own_exemption,) = learning.exempt(
        actor=actor, enrollment_ids=[ids["own_enrollment"]], course_id=c1.pk, reason="tested_out"
    )
    ids["own_exemption"] = own_exemption.pk
    # An audience of the spare unit, where nobody is placed (so saving changes nobody).
    audiences.save_audience(
        actor=actor,
        package_id=settled.package_id,
        rule=audiences.check_rule(org_unit_ids=[spare_unit.pk]),
    )
    ids.update(audience_unit=spare_unit.pk, audience_package=settled.package_id)
    for role in ROLES[1:]:
        ids[f"{role}_spare_token"] = accounts.issue_token(
            actor=world.caller(role).user,
            name="spare",  # type: ignore[union-attr]
        ).token.pk
    # A webhook subscription, and an event it has passed (to redeliver).
    ids["webhook_event"] = (
        AuditEvent.objects.filter(action="account.created").order_by("-id").first().pk  # type: ignore[union-attr]
    )
    ids["webhook"] = webhooks.create_subscription(
        actor=actor, url="https://hooks.example.com/coursepack"
    ).subscription.pk
    # The learner's "other" token is the other learner's.
    ids["other_spare_token"] = accounts.issue_token(actor=world.other.user, name="spare").token.pk
    ids.update(
        course=c1.pk,
        course2=c2.pk,
        unused_course=unused.pk,
        retired_course=retired.pk,
        group=g1.group_id,
        spare_group=spare_group.group_id,
        group_draft=group_draft.pk,
        group_draft_item=group_draft.items.order_by("position").first().pk,  # type: ignore[union-attr]
        package=package_v1.package_id,
        unpublished_package=unpublished.package_id,
        retired_package=retired_package.package_id,
        active_version=package_v1.pk,
        draft=package_v2.pk,
        draft_course_item=items[0].pk,
        draft_group_item=items[1].pk,
        settled_version=settled.pk,
        third_learner=third.pk,
        external_person=4711,
        job=jobs.start_rebuild(actor=actor).pk,
        deactivated_user=away.pk,
        reminder_run=jobs.start_reminder_run(actor=actor, dry_run=True).pk,
        own_unit=elsewhere.pk,
        other_unit=team.pk,
        spare_unit=spare_unit.pk,
        retired_unit=retired_unit.pk,
        company_unit=company.pk,
        people_sync=organisation.stage_people_sync(
            actor=actor,
            columns=["external_id", "username"],
            rows=[organisation.SyncRow(line=2, cells={"external_id": "HR-1", "username": "hr-1"})],
        )[0].pk,
    )
    # The manager's export of their matrix, written.
    export = exports.start_matrix_export(actor=world.manager.user, filters=MatrixFilters())
    jobs.run_job(export.pk)
    ids["manager_export"] = export.pk
    # One message to each learner (the "assigned" of their enrolment above).
    for name, caller in (("own", world.learner), ("other", world.other)):
        caller.user.email = f"{name}@example.org"
        caller.user.save(update_fields=["email"])
    notifications.claim_due(actor=actor, now=timezone.now())
    for name in ("own", "other"):
        (message,) = notification_selectors.messages(
            recipient_id=ids[f"{name}_learner"], kind="assigned"
        )
        ids[f"{name}_message"] = message.pk
    return world


Body = Callable[[dict[str, int]], Any] | None


@dataclass(frozen=True)
class Row:
    """How to call one operation, and who may."""

    access: str
    # The request path; {name} are world ids. In OWN rows, {own} is the caller's
    # own object (or the other learner's, or a missing id) of kind ``own``.
    path: str
    body: Body = None
    ok: int = 200
    own: str = ""


def _completion(ids: dict[str, int]) -> dict[str, Any]:
    return {"learner_id": ids["other_learner"], "course_id": ids["course2"]}


MATRIX: dict[str, Row] = {
    # accounts
    "GET /me": Row(EVERYONE, "/me"),
    "GET /users": Row(MANAGERS, "/users"),
    "POST /users": Row(ADMIN, "/users", lambda ids: {"username": "new-user"}, ok=201),
    "GET /users/{user_id}": Row(SCOPED, "/users/{own}", own="user"),
    "GET /users/by-external-id/{external_id}": Row(
        SCOPED, "/users/by-external-id/{own}", own="external_id"
    ),
    "PATCH /users/{user_id}": Row(
        ADMIN, "/users/{third_learner}", lambda ids: {"email": "third@example.com"}
    ),
    "POST /users/{user_id}/role": Row(
        ADMIN, "/users/{third_learner}/role", lambda ids: {"role": "auditor"}
    ),
    "POST /users/{user_id}/deactivate": Row(
        ADMIN, "/users/{third_learner}/deactivate", lambda ids: {"notes": "Left"}
    ),
    "POST /users/{user_id}/reactivate": Row(
        ADMIN, "/users/{deactivated_user}/reactivate", lambda ids: {}
    ),
    "POST /users/{user_id}/password-reset": Row(ADMIN, "/users/{third_learner}/password-reset"),
    "GET /users/{user_id}/tokens": Row(ADMIN, "/users/{other_learner}/tokens"),
    "POST /users/{user_id}/tokens": Row(
        ADMIN, "/users/{third_learner}/tokens", lambda ids: {"name": "service"}, ok=201
    ),
    "GET /tokens": Row(EVERYONE, "/tokens"),
    "POST /tokens": Row(EVERYONE, "/tokens", lambda ids: {"name": "another"}, ok=201),
    "DELETE /tokens/{token_id}": Row(OWN, "/tokens/{own}", ok=204, own="spare_token"),
    # catalog
    "GET /courses": Row(READERS, "/courses"),
    "POST /courses": Row(
        ADMIN, "/courses", lambda ids: {"code": "NEW-1", "name": "New course"}, ok=201
    ),
    "GET /courses/{course_id}": Row(READERS, "/courses/{course}"),
    "GET /courses/by-code/{code}": Row(READERS, "/courses/by-code/UNUSED-1"),
    "PATCH /courses/{course_id}": Row(ADMIN, "/courses/{course}", lambda ids: {"name": "Renamed"}),
    "DELETE /courses/{course_id}": Row(ADMIN, "/courses/{unused_course}", ok=204),
    "POST /courses/{course_id}/retire": Row(
        ADMIN, "/courses/{unused_course}/retire", lambda ids: {}
    ),
    "POST /courses/{course_id}/reactivate": Row(
        ADMIN, "/courses/{retired_course}/reactivate", lambda ids: {}
    ),
    # groups
    "GET /groups": Row(READERS, "/groups"),
    "POST /groups": Row(
        ADMIN, "/groups", lambda ids: {"name": "New group", "kind": "family"}, ok=201
    ),
    "GET /groups/{group_id}": Row(READERS, "/groups/{group}"),
    # Keys derived from the names the world gives them.
    "GET /groups/by-key/{key}": Row(READERS, "/groups/by-key/spare-group"),
    "POST /groups/{group_id}/drafts": Row(ADMIN, "/groups/{spare_group}/drafts", ok=201),
    "GET /group-versions/{group_version_id}": Row(READERS, "/group-versions/{group_draft}"),
    "PATCH /group-versions/{group_version_id}": Row(
        ADMIN, "/group-versions/{group_draft}", lambda ids: {"name": "Renamed group"}
    ),
    "DELETE /group-versions/{group_version_id}": Row(
        ADMIN, "/group-versions/{group_draft}", ok=204
    ),
    "POST /group-versions/{group_version_id}/items": Row(
        ADMIN,
        "/group-versions/{group_draft}/items",
        lambda ids: {"course_id": ids["unused_course"]},
        ok=201,
    ),
    "PATCH /group-versions/{group_version_id}/items/{item_id}": Row(
        ADMIN,
        "/group-versions/{group_draft}/items/{group_draft_item}",
        lambda ids: {"required": True},
    ),
    "DELETE /group-versions/{group_version_id}/items/{item_id}": Row(
        ADMIN, "/group-versions/{group_draft}/items/{group_draft_item}"
    ),
    "POST /group-versions/{group_version_id}/publish": Row(
        ADMIN, "/group-versions/{group_draft}/publish", lambda ids: {}
    ),
    # packages
    "GET /packages": Row(READERS, "/packages"),
    "POST /packages": Row(ADMIN, "/packages", lambda ids: {"name": "New package"}, ok=201),
    "GET /packages/{package_id}": Row(READERS, "/packages/{package}"),
    "GET /packages/by-key/{key}": Row(READERS, "/packages/by-key/never-published"),
    "PATCH /packages/{package_id}": Row(
        ADMIN, "/packages/{package}", lambda ids: {"name": "Renamed package"}
    ),
    "DELETE /packages/{package_id}": Row(ADMIN, "/packages/{unpublished_package}", ok=204),
    "POST /packages/{package_id}/retire": Row(ADMIN, "/packages/{package}/retire", lambda ids: {}),
    "POST /packages/{package_id}/reactivate": Row(
        ADMIN, "/packages/{retired_package}/reactivate", lambda ids: {}
    ),
    "GET /packages/{package_id}/versions": Row(READERS, "/packages/{package}/versions"),
    "GET /packages/{package_id}/publish-log": Row(READERS, "/packages/{package}/publish-log"),
    # versions
    "GET /versions/{version_id}": Row(READERS, "/versions/{draft}"),
    "PATCH /versions/{version_id}": Row(ADMIN, "/versions/{draft}", lambda ids: {"name": "v2"}),
    "DELETE /versions/{version_id}": Row(ADMIN, "/versions/{draft}", ok=204),
    "POST /versions/{version_id}/items": Row(
        ADMIN, "/versions/{draft}/items", lambda ids: {"course_id": ids["course2"]}, ok=201
    ),
    "PATCH /versions/{version_id}/items/{item_id}": Row(
        ADMIN, "/versions/{draft}/items/{draft_course_item}", lambda ids: {"position": 2}
    ),
    "DELETE /versions/{version_id}/items/{item_id}": Row(
        ADMIN, "/versions/{draft}/items/{draft_course_item}"
    ),
    "POST /versions/{version_id}/items/{item_id}/use-latest-group-version": Row(
        ADMIN, "/versions/{draft}/items/{draft_group_item}/use-latest-group-version"
    ),
    "GET /versions/{version_id}/publish-preview": Row(READERS, "/versions/{draft}/publish-preview"),
    "POST /versions/{version_id}/publish": Row(
        ADMIN, "/versions/{draft}/publish", lambda ids: {"change_notes": "Next"}
    ),
    "POST /versions/{version_id}/drafts": Row(
        ADMIN, "/versions/{settled_version}/drafts", lambda ids: {}, ok=201
    ),
    "GET /versions/{version_id}/diff": Row(
        READERS, "/versions/{draft}/diff?against={active_version}"
    ),
    # enrollments
    "GET /enrollments": Row(EVERYONE, "/enrollments"),
    "POST /enrollments": Row(
        ADMIN,
        "/enrollments",
        lambda ids: {"learner_id": ids["third_learner"], "package_id": ids["package"]},
        ok=201,
    ),
    "POST /enrollments/bulk": Row(
        ADMIN,
        "/enrollments/bulk",
        lambda ids: {"learner_ids": [ids["third_learner"]], "package_id": ids["package"]},
    ),
    "GET /enrollments/{enrollment_id}": Row(OWN, "/enrollments/{own}", own="enrollment"),
    "POST /enrollments/{enrollment_id}/withdraw": Row(
        ADMIN, "/enrollments/{other_enrollment}/withdraw", lambda ids: {}
    ),
    "GET /enrollments/{enrollment_id}/progress": Row(
        OWN, "/enrollments/{own}/progress", own="enrollment"
    ),
    # completions
    "POST /completions": Row(ADMIN, "/completions", _completion, ok=201),
    "GET /completions": Row(EVERYONE, "/completions"),
    "GET /completions/{event_id}": Row(OWN, "/completions/{own}", own="event"),
    "POST /completions/batch": Row(
        ADMIN, "/completions/batch", lambda ids: {"events": [_completion(ids)]}
    ),
    "POST /completions/{event_id}/void": Row(
        ADMIN, "/completions/{other_event}/void", lambda ids: {"reason": "Wrong learner"}, ok=201
    ),
    "GET /learners/{learner_id}/transcript": Row(OWN, "/learners/{own}/transcript", own="learner"),
    # lifecycle
    "GET /versions/{version_id}/lifecycle": Row(READERS, "/versions/{draft}/lifecycle"),
    "PUT /versions/{version_id}/lifecycle": Row(
        ADMIN,
        "/versions/{draft}/lifecycle",
        lambda ids: {"due_kind": "after_enrolment", "due_days": 30},
    ),
    "POST /due-extensions": Row(
        ADMIN,
        "/due-extensions",
        lambda ids: {
            "enrollment_ids": [ids["other_enrollment"]],
            "due_at": "2099-01-01T00:00:00Z",
            "reason": "Long leave",
        },
        ok=201,
    ),
    "POST /exemptions": Row(
        ADMIN,
        "/exemptions",
        lambda ids: {"enrollment_ids": [ids["other_enrollment"]], "reason": "administrative"},
        ok=201,
    ),
    "POST /exemptions/{exemption_id}/revoke": Row(
        ADMIN, "/exemptions/{exemption}/revoke", lambda ids: {"reason": "In error"}, ok=201
    ),
    "GET /equivalences": Row(READERS, "/equivalences"),
    "GET /equivalences/{equivalence_id}": Row(READERS, "/equivalences/{equivalence}"),
    "GET /equivalences/preview": Row(
        READERS, "/equivalences/preview?source_course_id={unused_course}&target_course_id={course2}"
    ),
    "POST /equivalences": Row(
        ADMIN,
        "/equivalences",
        lambda ids: {"source_course_id": ids["unused_course"], "target_course_id": ids["course2"]},
        ok=201,
    ),
    "POST /equivalences/{equivalence_id}/end": Row(
        ADMIN, "/equivalences/{equivalence}/end", lambda ids: {}
    ),
    "POST /equivalences/{equivalence_id}/apply-retroactively": Row(
        ADMIN, "/equivalences/{equivalence}/apply-retroactively", lambda ids: {}
    ),
    "GET /packages/{package_id}/standing": Row(MANAGERS, "/packages/{package}/standing"),
    "GET /packages/{package_id}/exceptions": Row(MANAGERS, "/packages/{package}/exceptions"),
    "GET /packages/{package_id}/standing/{standing}": Row(
        MANAGERS, "/packages/{package}/standing/not_started"
    ),
    "GET /enrollments/{enrollment_id}/lifecycle": Row(
        OWN, "/enrollments/{own}/lifecycle", own="enrollment"
    ),
    # reports
    "GET /reports/packages": Row(MANAGERS, "/reports/packages"),
    "GET /reports/courses": Row(MANAGERS, "/reports/courses"),
    "GET /reports/learners": Row(MANAGERS, "/reports/learners"),
    # background jobs
    "POST /jobs/bulk-enrollments": Row(
        ADMIN,
        "/jobs/bulk-enrollments",
        lambda ids: {"package_id": ids["package"], "learner_ids": [ids["third_learner"]]},
        ok=202,
    ),
    "POST /jobs/status-rebuilds": Row(ADMIN, "/jobs/status-rebuilds", ok=202),
    "POST /jobs/audit-verifications": Row(READERS, "/jobs/audit-verifications", ok=202),
    "GET /jobs/{job_id}": Row(READERS, "/jobs/{job}"),
    # audiences and the training matrix
    "GET /audiences": Row(READERS, "/audiences"),
    "GET /packages/{package_id}/audience": Row(READERS, "/packages/{audience_package}/audience"),
    "POST /packages/{package_id}/audience/preview": Row(
        ADMIN,
        "/packages/{package}/audience/preview",
        lambda ids: {"org_unit_ids": [ids["audience_unit"]]},
    ),
    "PUT /packages/{package_id}/audience": Row(
        ADMIN, "/packages/{package}/audience", lambda ids: {"org_unit_ids": [ids["audience_unit"]]}
    ),
    "DELETE /packages/{package_id}/audience": Row(
        ADMIN, "/packages/{audience_package}/audience", ok=204
    ),
    # A manager's matrix holds only their people (tests/http/test_api_audiences.py).
    "GET /matrix": Row(MANAGERS, "/matrix"),
    "GET /matrix/export": Row(MANAGERS, "/matrix/export"),
    # reminders and notifications
    "GET /notifications/schedules/{package_id}": Row(READERS, "/notifications/schedules/{package}"),
    "PUT /notifications/schedules/{package_id}": Row(
        ADMIN, "/notifications/schedules/{package}", lambda ids: {"due_soon_days": [10, 2]}
    ),
    "GET /notifications/templates": Row(READERS, "/notifications/templates"),
    "PUT /notifications/templates/{kind}": Row(
        ADMIN,
        "/notifications/templates/due_soon",
        lambda ids: {"subject": "Due: $package", "body_text": "Hello $first_name"},
    ),
    "DELETE /notifications/templates/{kind}": Row(ADMIN, "/notifications/templates/due_soon"),
    "POST /notifications/templates/{kind}/preview": Row(
        ADMIN, "/notifications/templates/overdue/preview", lambda ids: {"subject": "$package"}
    ),
    "POST /notifications/runs": Row(
        ADMIN, "/notifications/runs", lambda ids: {"dry_run": True}, ok=202
    ),
    "GET /notifications/runs": Row(READERS, "/notifications/runs"),
    "GET /notifications/runs/{job_id}": Row(READERS, "/notifications/runs/{reminder_run}"),
    "GET /notifications/messages": Row(EVERYONE, "/notifications/messages"),
    "GET /notifications/messages/{message_id}": Row(
        OWN, "/notifications/messages/{own}", own="message"
    ),
    # exports as background jobs
    "POST /exports": Row(MANAGERS, "/exports", lambda ids: {"kind": "matrix"}, ok=202),
    "GET /exports/{job_id}": Row(REQUESTER, "/exports/{own}"),
    "GET /exports/{job_id}/file": Row(REQUESTER, "/exports/{own}/file"),
    # the audit log
    "GET /audit/verification": Row(READERS, "/audit/verification"),
    "GET /events": Row(READERS, "/events?limit=5"),
    # webhooks
    "GET /webhooks": Row(READERS, "/webhooks"),
    "POST /webhooks": Row(
        ADMIN, "/webhooks", lambda ids: {"url": "https://hooks.example.com/new"}, ok=201
    ),
    "GET /webhooks/{webhook_id}": Row(READERS, "/webhooks/{webhook}"),
    "PATCH /webhooks/{webhook_id}": Row(
        ADMIN, "/webhooks/{webhook}", lambda ids: {"description": "HR system"}
    ),
    "DELETE /webhooks/{webhook_id}": Row(ADMIN, "/webhooks/{webhook}", ok=204),
    "POST /webhooks/{webhook_id}/secret": Row(ADMIN, "/webhooks/{webhook}/secret"),
    "GET /webhooks/{webhook_id}/attempts": Row(READERS, "/webhooks/{webhook}/attempts"),
    "POST /webhooks/{webhook_id}/redeliveries": Row(
        ADMIN,
        "/webhooks/{webhook}/redeliveries",
        lambda ids: {"event_id": ids["webhook_event"]},
        ok=202,
    ),
    "GET /audit/export": Row(READERS, "/audit/export"),
    # the organisation
    "GET /org-units": Row(MANAGERS, "/org-units"),
    "POST /org-units": Row(
        ADMIN,
        "/org-units",
        lambda ids: {"code": "NEW", "name": "New unit", "parent_id": ids["company_unit"]},
        ok=201,
    ),
    "GET /org-units/{unit_id}": Row(SCOPED, "/org-units/{own}", own="unit"),
    "PATCH /org-units/{unit_id}": Row(
        ADMIN, "/org-units/{spare_unit}", lambda ids: {"parent_id": ids["company_unit"]}
    ),
    "POST /org-units/{unit_id}/deactivate": Row(ADMIN, "/org-units/{spare_unit}/deactivate"),
    "POST /org-units/{unit_id}/reactivate": Row(ADMIN, "/org-units/{retired_unit}/reactivate"),
    "PUT /org-units/{unit_id}/managers": Row(
        ADMIN, "/org-units/{spare_unit}/managers", lambda ids: {"user_ids": [ids["third_learner"]]}
    ),
    "GET /people": Row(MANAGERS, "/people"),
    "GET /people/{person_id}": Row(OWN, "/people/{own}", own="person"),
    "PATCH /people/{person_id}": Row(
        ADMIN, "/people/{third_learner}", lambda ids: {"job_title": "Buyer"}
    ),
    "PUT /people/{person_id}/placement": Row(
        ADMIN, "/people/{third_learner}/placement", lambda ids: {"org_unit_id": ids["spare_unit"]}
    ),
    "POST /people-syncs": Row(
        ADMIN,
        "/people-syncs",
        lambda ids: {"people": [{"external_id": "HR-2", "username": "hr-2"}], "dry_run": True},
    ),
    "GET /people-syncs/{sync_id}": Row(READERS, "/people-syncs/{people_sync}"),
    "POST /people-syncs/{sync_id}/apply": Row(ADMIN, "/people-syncs/{people_sync}/apply", ok=202),
    # package files
    "GET /packages/{package_id}/export": Row(READERS, "/packages/{package}/export?history=true"),
    "POST /package-files": Row(
        ADMIN,
        "/package-files",
        lambda ids: package_files.export_package(package_id=ids["package"]),
        ok=201,
    ),
}


def _schema_operations() -> set[str]:
    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path.removeprefix(API)}"
        for path, operations in schema["paths"].items()
        for method in operations
    }


def test_the_matrix_covers_every_operation() -> None:
    """Every operation of the schema has a row, and every row is an operation."""
    operations = _schema_operations()
    assert sorted(operations - MATRIX.keys()) == [], "operations without a row in MATRIX"
    assert sorted(MATRIX.keys() - operations) == [], "rows for operations that do not exist"


# --- running one cell ------------------------------------------------------------------

_COURSEPACK_APPS = (
    "accounts",
    "catalog",
    "packaging",
    "learning",
    "audit",
    "interchange",
    "notifications",
    "organisation",
)
# Reading with a token stamps its last use; that is not a change made by the call.
_VOLATILE = {("accounts", "apitoken"): {"last_used_at"}}


def fingerprint() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Coursepack table and of users, by table (raw SQL: it runs often)."""
    models = [m for m in apps.get_models() if m._meta.app_label in _COURSEPACK_APPS]
    models.append(apps.get_model("auth", "User"))
    rows = {}
    with connection.cursor() as cursor:
        for model in models:
            skip = _VOLATILE.get((model._meta.app_label, model._meta.model_name), set())
            columns = ", ".join(
                connection.ops.quote_name(f.column)
                for f in model._meta.concrete_fields
                if f.name not in skip
            )
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr]
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY {pk}")
            rows[model._meta.label] = cursor.fetchall()
    return rows


def _send(world: World, role: str, operation: str, path: str) -> Any:
    caller = world.caller(role)
    client = caller.client if caller is not None else Client()
    body = MATRIX[operation].body
    return send(client, operation.split()[0], path, body(world.ids) if body else None)


def _path(row: Row, ids: dict[str, int], own: int | None = None) -> str:
    return row.path.format(**ids, own=own)


@dataclass(frozen=True)
class Cell:
    """One role calling one path, and what it must get: ``ok``, or a refusal."""

    role: str
    path: str
    status: int | None = None  # None: allowed
    code: str = ""


def cells(world: World, operation: str) -> list[Cell]:
    """The cells of one row of the matrix."""
    row = MATRIX[operation]
    ids = world.ids
    if row.access == SCOPED:
        own, other = ids[f"own_{row.own}"], ids[f"other_{row.own}"]
        missing = _not_found(row)
        return [
            Cell("anonymous", _path(row, ids, other), 401, "unauthenticated"),
            Cell("learner", _path(row, ids, other), 403, "permission_denied"),
            Cell("manager", _path(row, ids, MISSING_ID), 404, missing),
            # Outside the manager's scope: answered exactly like one that does not exist.
            Cell("manager", _path(row, ids, own), 404, missing),
            Cell("manager", _path(row, ids, other)),
            Cell("auditor", _path(row, ids, own)),
            Cell("admin", _path(row, ids, own)),
        ]
    if row.access == REQUESTER:
        export = ids["manager_export"]
        return [
            Cell("anonymous", _path(row, ids, export), 401, "unauthenticated"),
            Cell("learner", _path(row, ids, export), 404, "job_not_found"),
            # Not the requester: answered exactly like one that does not exist.
            Cell("auditor", _path(row, ids, MISSING_ID), 404, "job_not_found"),
            Cell("auditor", _path(row, ids, export), 404, "job_not_found"),
            Cell("manager", _path(row, ids, MISSING_ID), 404, "job_not_found"),
            Cell("manager", _path(row, ids, export)),
            Cell("admin", _path(row, ids, export)),
        ]
    if row.access != OWN:
        path = _path(row, ids)
        allowed = {
            ADMIN: ("admin",),
            READERS: ("auditor", "admin"),
            MANAGERS: ("manager", "auditor", "admin"),
            EVERYONE: ("learner", "manager", "auditor", "admin"),
        }[row.access]
        return [Cell("anonymous", path, 401, "unauthenticated")] + [
            Cell(role, path) if role in allowed else Cell(role, path, 403, "permission_denied")
            for role in ("learner", "manager", "auditor", "admin")
        ]
    kind = row.own
    own = ids[f"learner_{kind}"] if kind == "spare_token" else ids[f"own_{kind}"]
    other = ids[f"other_{kind}"]
    missing = _not_found(row)
    result = [
        Cell("anonymous", _path(row, ids, own), 401, "unauthenticated"),
        Cell("learner", _path(row, ids, MISSING_ID), 404, missing),
        # Someone else's: answered exactly like one that does not exist (checked below).
        Cell("learner", _path(row, ids, other), 404, missing),
        Cell("learner", _path(row, ids, own)),
    ]
    if kind == "spare_token":
        # Tokens are personal: an auditor revokes only their own, an admin anyone's.
        return [
            *result,
            Cell("manager", _path(row, ids, other), 404, missing),
            Cell("auditor", _path(row, ids, other), 404, missing),
            Cell("auditor", _path(row, ids, ids["auditor_spare_token"])),
            Cell("admin", _path(row, ids, other)),
        ]
    # A manager reads their people's (the other learner's), and not the learner's, which
    # is outside their scope; auditors and admins read every learner's.
    return [
        *result,
        Cell("manager", _path(row, ids, MISSING_ID), 404, missing),
        Cell("manager", _path(row, ids, own), 404, missing),
        Cell("manager", _path(row, ids, other)),
        Cell("auditor", _path(row, ids, other)),
        Cell("admin", _path(row, ids, other)),
    ]


def _same_not_found(a: dict[str, Any], a_id: int, b: dict[str, Any], b_id: int) -> None:
    """The two 404 bodies are the same but for the id asked for."""

    def scrub(body: dict[str, Any], ident: int) -> str:
        return re.sub(rf"\b{ident}\b", "<id>", json.dumps(body, sort_keys=True))

    assert scrub(a, a_id) == scrub(b, b_id)


@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_every_role_gets_what_the_matrix_says(world: World, db: None, operation: str) -> None:
    """Anonymous: 401. Forbidden roles: 403 (for others' data: the 404 of a missing
    id), and nothing changed. Allowed roles: the operation's success status."""
    row = MATRIX[operation]
    all_cells = cells(world, operation)
    refused = [c for c in all_cells if c.status is not None]
    # Every refusal first, each compared with the state before any of them.
    before = fingerprint()
    bodies = {}
    for cell in refused:
        response = _send(world, cell.role, operation, cell.path)
        assert response.status_code == cell.status, (cell, response.content)
        bodies[cell] = body = problem(response)
        assert body["code"] == cell.code, (cell, body)
        assert fingerprint() == before, f"{cell} was refused but changed something"
    if row.access in (OWN, SCOPED, REQUESTER):
        # Someone the caller may not read: the 404 of a missing id, word for word.
        hidden: dict[str, int] = {}
        if row.access == REQUESTER:
            hidden["auditor"] = world.ids["manager_export"]
        elif row.access == OWN:
            hidden["learner"] = world.ids[f"other_{row.own}"]
        if row.access != REQUESTER and row.own != "spare_token":
            hidden["manager"] = world.ids[f"own_{row.own}"]
        for role, hidden_id in hidden.items():
            by_path = {c.path: bodies[c] for c in refused if c.role == role}
            _same_not_found(
                by_path[_path(row, world.ids, hidden_id)],
                hidden_id,
                by_path[_path(row, world.ids, MISSING_ID)],
                MISSING_ID,
            )
    for cell in all_cells:
        if cell.status is None:
            response = _send(world, cell.role, operation, cell.path)
            assert response.status_code == row.ok, (cell, response.content)
            if response.status_code == 201:
                _location_reads_what_was_created(world, cell.role, response)
            if cell.role == "learner" and operation in LEARNER_LISTS:
                LEARNER_LISTS[operation](world, response.json())
            if cell.role == "manager" and operation in MANAGER_LISTS:
                MANAGER_LISTS[operation](world, response.json())


def _location_reads_what_was_created(world: World, role: str, response: Any) -> None:
    """Every 201 says where what it created is, and that URL answers (tokens can only be
    deleted, so their URL answers GET with 405)."""
    location = response["Location"]
    assert location.startswith("/api/v1/"), location
    caller = world.caller(role)
    assert caller is not None
    status = caller.client.get(location).status_code
    assert status == (405 if location.startswith("/api/v1/tokens/") else 200), location


def _not_found(row: Row) -> str:
    return {
        "enrollment": "enrollment_not_found",
        "event": "event_not_found",
        "learner": "learner_not_found",
        "spare_token": "token_not_found",
        "message": "message_not_found",
        "person": "person_not_found",
        "unit": "org_unit_not_found",
        "user": "user_not_found",
        "external_id": "user_not_found",
    }[row.own]


# --- what a learner's lists hold -------------------------------------------------------


def _only_own_enrollments(world: World, page: dict[str, Any]) -> None:
    assert {e["learner_id"] for e in page["items"]} == {world.learner.user.pk}
    assert world.ids["other_enrollment"] not in {e["id"] for e in page["items"]}
    assert page["count"] == 1


def _only_own_events(world: World, page: dict[str, Any]) -> None:
    assert {e["learner_id"] for e in page["items"]} == {world.learner.user.pk}
    assert world.ids["other_event"] not in {e["id"] for e in page["items"]}
    assert page["count"] == 1


def _only_own_tokens(world: World, page: dict[str, Any]) -> None:
    tokens = page["items"]
    mine = set(
        world.learner.user.api_tokens.values_list("pk", flat=True)
    )  # the auth token and the spare
    assert {t["id"] for t in tokens} == mine
    assert world.ids["other_spare_token"] not in mine


def _me(world: World, me: dict[str, Any]) -> None:
    assert me["id"] == world.learner.user.pk
    assert me["role"] == "learner"


def _only_own_messages(world: World, page: dict[str, Any]) -> None:
    assert {m["recipient_id"] for m in page["items"]} == {world.learner.user.pk}
    assert world.ids["other_message"] not in {m["id"] for m in page["items"]}
    assert world.ids["own_message"] in {m["id"] for m in page["items"]}


LEARNER_LISTS: dict[str, Callable[[World, Any], None]] = {
    "GET /notifications/messages": _only_own_messages,
    "GET /enrollments": _only_own_enrollments,
    "GET /completions": _only_own_events,
    "GET /tokens": _only_own_tokens,
    "GET /me": _me,
}


def _managers_enrollments(world: World, page: dict[str, Any]) -> None:
    # Their people's and their own: the other learner's, never the learner's.
    learners = {e["learner_id"] for e in page["items"]}
    assert world.ids["other_learner"] in learners
    assert learners <= {world.ids["other_learner"], world.manager.user.pk}
    assert page["count"] == len(page["items"])


def _managers_events(world: World, page: dict[str, Any]) -> None:
    learners = {e["learner_id"] for e in page["items"]}
    assert world.ids["other_learner"] in learners
    assert world.ids["own_learner"] not in learners
    assert page["count"] == len(page["items"])


def _managers_people(world: World, page: dict[str, Any]) -> None:
    assert {p["id"] for p in page["items"]} == {world.ids["other_learner"], world.manager.user.pk}
    assert page["count"] == 2


def _managers_units(world: World, page: dict[str, Any]) -> None:
    assert [u["id"] for u in page["items"]] == [world.ids["other_unit"]]
    assert page["count"] == 1


def _managers_standing(world: World, page: dict[str, Any]) -> None:
    learners = {e["learner_id"] for e in page["items"]}
    assert world.ids["own_learner"] not in learners
    assert learners <= {world.ids["other_learner"], world.manager.user.pk}
    assert page["count"] == len(page["items"])


def _managers_users(world: World, page: dict[str, Any]) -> None:
    assert {u["id"] for u in page["items"]} == {world.ids["other_learner"], world.manager.user.pk}
    assert page["count"] == 2


_DISJOINT = (
    "current",
    "due_for_recertification",
    "overdue",
    "expired",
    "exempt",
    "in_progress",
    "not_started",
)


def _managers_standing_counts(world: World, counts: dict[str, Any]) -> None:
    # Only the other learner's period: the learner's (outside the scope) is not counted.
    assert sum(counts["counts"][name] for name in _DISJOINT) == 1
    everyone = world.admin.call("GET", f"/packages/{world.ids['package']}/standing").json()
    assert sum(everyone["counts"][name] for name in _DISJOINT) == 2


def _managers_exceptions(world: World, found: dict[str, Any]) -> None:
    exemptions = {x["id"] for x in found["exemptions"]}
    assert exemptions == {world.ids["exemption"]}, found
    assert found["exemptions_count"] == 1


def _package_totals(world: World, report: dict[str, Any]) -> dict[str, int]:
    (package,) = [p for p in report["items"] if p["package_id"] == world.ids["package"]]
    return package["totals"]  # type: ignore[no-any-return]


def _managers_package_report(world: World, report: dict[str, Any]) -> None:
    # The other learner's enrollment only; the admin counts both learners'.
    assert _package_totals(world, report)["enrolled"] == 1
    everyone = world.admin.call("GET", "/reports/packages").json()
    assert _package_totals(world, everyone)["enrolled"] == 2


def _course_completed(world: World, report: dict[str, Any]) -> int:
    (course,) = [c for c in report["items"] if c["course_id"] == world.ids["course"]]
    return course["learners_completed"]  # type: ignore[no-any-return]


def _managers_course_report(world: World, report: dict[str, Any]) -> None:
    assert _course_completed(world, report) == 1
    assert _course_completed(world, world.admin.call("GET", "/reports/courses").json()) == 2


def _managers_learner_report(world: World, report: dict[str, Any]) -> None:
    assert [r["learner_id"] for r in report["items"]] == [world.ids["other_learner"]]
    assert report["count"] == 1


MANAGER_LISTS: dict[str, Callable[[World, Any], None]] = {
    "GET /reports/packages": _managers_package_report,
    "GET /reports/courses": _managers_course_report,
    "GET /reports/learners": _managers_learner_report,
    "GET /users": _managers_users,
    "GET /packages/{package_id}/standing": _managers_standing_counts,
    "GET /packages/{package_id}/exceptions": _managers_exceptions,
    "GET /packages/{package_id}/standing/{standing}": _managers_standing,
    "GET /enrollments": _managers_enrollments,
    "GET /completions": _managers_events,
    "GET /people": _managers_people,
    "GET /org-units": _managers_units,
}


def test_a_manager_filtering_for_someone_outside_their_scope_sees_nobody(
    world: World, db: None
) -> None:
    """?learner_id=<outside> narrows a manager's list to nothing; counts are scoped too."""
    outside = world.ids["own_learner"]
    for path in (
        f"/enrollments?learner_id={outside}",
        f"/completions?learner_id={outside}",
        f"/people?org_unit_id={world.ids['other_unit']}&active=true",
    ):
        page = world.manager.call("GET", path).json()
        assert outside not in {i.get("learner_id", i.get("id")) for i in page["items"]}, path
    response = world.manager.call("GET", f"/people?org_unit_id={world.ids['own_unit']}")
    assert response.status_code == 404
    assert problem(response)["code"] == "org_unit_not_found"


def test_a_learner_filtering_for_someone_else_still_sees_only_their_own(
    world: World, db: None
) -> None:
    """?learner_id=<other> narrows a learner's own list; it never widens it."""
    other = world.ids["other_learner"]
    for path in (f"/enrollments?learner_id={other}", f"/completions?learner_id={other}"):
        page = world.learner.call("GET", path).json()
        assert page["count"] == 0 and page["items"] == [], path


def test_a_learner_cannot_read_another_learners_progress_as_of_a_date(
    world: World, db: None
) -> None:
    """The as_of query changes nothing about whose progress a learner may read."""
    other = world.ids["other_enrollment"]
    response = world.learner.call(
        "GET", f"/enrollments/{other}/progress?as_of=2030-01-01T00:00:00Z"
    )
    assert response.status_code == 404
    assert problem(response)["code"] == "enrollment_not_found"
