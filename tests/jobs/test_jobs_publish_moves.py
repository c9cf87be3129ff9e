"""Publishing with in-flight moves as a background job: the version and its publish log
commit at once; the learners move in committed, audited chunks, resumable and
idempotent, with progress on the job; until a learner's chunk runs they stay on
their version with an exact status there."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment, EnrollmentMove
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion, PublishRecord
from tests.factories import make_admin, make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db


class World:
    """v1 (courses A, B) active; 7 learners on it: 4 not started, 2 in progress, 1
    completed; a draft v2 ready to publish."""

    def __init__(self) -> None:
        self.admin = make_admin()
        self.a, self.b = make_course(), make_course()
        self.v1 = make_published_package(actor=self.admin, items=[self.a, self.b])
        self.learners = [make_learner() for _ in range(7)]
        self.enrollments = [
            learning.enroll(actor=self.admin, learner_id=u.pk, package_id=self.v1.package_id)
            for u in self.learners
        ]
        for learner in self.learners[4:6]:
            self.complete(learner, self.a)
        self.complete(self.learners[6], self.a)
        self.complete(self.learners[6], self.b)
        self.v2 = packaging.create_draft_from(actor=self.admin, version_id=self.v1.pk)

    def complete(self, learner: Any, course: Any) -> None:
        learning.record_completion(
            actor=self.admin, learner_id=learner.pk, course_id=course.pk, occurred_at=timezone.now()
        )

    def versions(self) -> dict[int, int]:
        """{enrollment id: version id} of the seven enrollments."""
        return dict(
            Enrollment.objects.filter(pk__in=[e.pk for e in self.enrollments]).values_list(
                "pk", "version_id"
            )
        )


@pytest.fixture
def world(settings: Any) -> World:
    settings.JOB_CHUNK_LEARNERS = 3
    settings.PUBLISH_MOVES_IN_BACKGROUND_OVER = 2
    return World()


def _publish(world: World, policy: str = "move_in_progress") -> jobs.PublishStarted:
    return jobs.start_publish(
        actor=world.admin,
        version_id=world.v2.pk,
        change_notes="Adds nothing; moves everyone.",
        inflight_policy=policy,  # type: ignore[arg-type]
    )


def test_the_publish_commits_at_once_and_learners_stay_on_their_version_until_moved(
    world: World,
) -> None:
    started = _publish(world)

    job = started.moves_job
    assert job is not None and (job.kind, job.status, job.total) == (
        "publish_with_moves",
        "queued",
        6,
    )
    world.v1.refresh_from_db()
    world.v2.refresh_from_db()
    assert (world.v1.status, world.v2.status) == ("archived", "published")
    record = PublishRecord.objects.get(version=world.v2, action="published")
    assert (record.inflight_policy, record.moved_enrollments) == ("move_in_progress", 0)
    # Nobody has moved yet: each learner is on v1, with the status they have there.
    assert set(world.versions().values()) == {world.v1.pk}
    assert Enrollment.objects.get(pk=world.enrollments[4].pk).status == "in_progress"
    # A new enrollment gets v2 at once.
    newcomer = learning.enroll(
        actor=world.admin, learner_id=make_learner().pk, package_id=world.v1.package_id
    )
    assert newcomer.version_id == world.v2.pk


def test_the_job_moves_learners_in_audited_chunks_and_never_moves_a_completion(
    world: World,
) -> None:
    started = _publish(world)
    assert started.moves_job is not None

    job = jobs.run_job(started.moves_job.pk)

    assert (job.status, job.done, job.result["moved"]) == ("succeeded", 6, 6)
    versions = world.versions()
    assert versions.pop(world.enrollments[6].pk) == world.v1.pk  # completed: stays
    assert set(versions.values()) == {world.v2.pk}
    chunks = AuditEvent.objects.filter(action="enrollment.bulk_moved").order_by("id")
    # Windows of 3 enrollments on v1: the last window holds the completed one.
    assert [len(c.after["enrollments"]) for c in chunks] == [3, 3]
    assert all(c.actor == world.admin and f"job {job.pk}" in c.notes for c in chunks)
    assert EnrollmentMove.objects.filter(to_version=world.v2).count() == 6
    # Credit is kept: the two in progress are still in progress on v2.
    assert Enrollment.objects.get(pk=world.enrollments[4].pk).status == "in_progress"
    assert audit.verify_chain().intact


def test_a_resumed_job_continues_after_its_cursor_and_moves_nobody_twice(world: World) -> None:
    started = _publish(world)
    assert started.moves_job is not None
    job = started.moves_job
    # The worker died after committing its first chunk (moves, record and cursor together).
    first = learning.move_inflight_chunk(
        actor=world.admin,
        from_version_id=world.v1.pk,
        to_version_id=world.v2.pk,
        policy="move_in_progress",
        after_id=0,
        limit=3,
    )
    assert first.last_id is not None
    Job.objects.filter(pk=job.pk).update(
        status="running", cursor=first.last_id, done=3, result={"moved": 3}
    )

    job = jobs.run_job(job.pk)

    assert (job.status, job.done) == ("succeeded", 6)
    assert EnrollmentMove.objects.filter(to_version=world.v2).count() == 6
    # Running a chunk again from the start moves nobody twice.
    again = learning.move_inflight_chunk(
        actor=world.admin,
        from_version_id=world.v1.pk,
        to_version_id=world.v2.pk,
        policy="move_in_progress",
        after_id=0,
        limit=10,
    )
    assert again.moved == []
    assert EnrollmentMove.objects.filter(to_version=world.v2).count() == 6


def test_a_learner_who_starts_before_their_chunk_is_judged_by_their_status_then(
    world: World,
) -> None:
    started = _publish(world, policy="move_not_started")
    assert started.moves_job is not None and started.moves_job.total == 4
    world.complete(world.learners[0], world.a)  # now in progress on v1

    job = jobs.run_job(started.moves_job.pk)

    assert job.done == 3
    versions = world.versions()
    assert versions[world.enrollments[0].pk] == world.v1.pk
    assert Enrollment.objects.get(pk=world.enrollments[0].pk).status == "in_progress"
    assert [versions[e.pk] for e in world.enrollments[1:4]] == [world.v2.pk] * 3


def test_moves_stop_when_a_newer_version_replaced_the_target(world: World) -> None:
    started = _publish(world)
    assert started.moves_job is not None
    v3 = packaging.create_draft_from(actor=world.admin, version_id=world.v2.pk)
    packaging.publish_version(actor=world.admin, version_id=v3.pk, change_notes="Again.")

    job = jobs.run_job(started.moves_job.pk)

    assert job.status == "succeeded" and job.done == 0
    assert "archived" in job.result["stopped"]
    assert set(world.versions().values()) == {world.v1.pk}


def test_few_moves_stay_in_the_publish_transaction(world: World, settings: Any) -> None:
    settings.PUBLISH_MOVES_IN_BACKGROUND_OVER = 100

    started = _publish(world)

    assert started.moves_job is None and started.outcome.moved_enrollments == 6
    assert PublishRecord.objects.get(version=world.v2, action="published").moved_enrollments == 6


def test_the_api_publish_endpoint_answers_with_the_moves_job(world: World) -> None:
    client = Client()
    client.force_login(world.admin)

    response = client.post(
        f"/api/v1/versions/{world.v2.pk}/publish",
        {"change_notes": "Moves.", "inflight_policy": "move_not_started"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["moved_enrollments"] == 0 and body["moves_job_id"] is not None
    job = client.get(f"/api/v1/jobs/{body['moves_job_id']}").json()
    assert (job["kind"], job["total"], job["kind_label"]) == (
        "publish_with_moves",
        4,
        "Publish with moves",
    )


def test_the_publish_page_sends_the_admin_to_the_job_page(world: World) -> None:
    client = Client()
    client.force_login(world.admin)

    response = client.post(
        f"/versions/{world.v2.pk}/publish/",
        {
            "change_notes": "Moves.",
            "effective": "now",
            "inflight_policy": "move_in_progress",
            "revision": str(world.v2.revision),
        },
        follow=True,
    )

    job = Job.objects.get(kind="publish_with_moves")
    assert response.redirect_chain[-1][0] == f"/jobs/{job.pk}/"
    text = response.content.decode()
    assert "Publish with moves" in text
    assert "in the background" in text and "stay on v1" in text


def test_the_command_publishes_and_follows_the_moves(world: World) -> None:
    out = StringIO()
    call_command(
        "start_job",
        "publish",
        "--draft",
        str(world.v2.pk),
        "--policy",
        "move_in_progress",
        "--notes",
        "From the command line.",
        "--detach",
        stdout=out,
    )
    job = Job.objects.get(kind="publish_with_moves")
    assert "is published" in out.getvalue() and f"Job {job.pk} queued" in out.getvalue()

    jobs.run_job(job.pk)
    err = StringIO()
    call_command("start_job", "--watch", str(job.pk), stdout=out, stderr=err)

    assert f"Job {job.pk} succeeded" in out.getvalue()
    assert PackageVersion.objects.get(pk=world.v2.pk).status == "published"
