"""Enrolling many learners at once: the service and ``manage.py enroll_learners``."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from learning_helpers import base_time, drift, make_learners, record, stored

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.learning.errors import NoActiveVersion, VersionNotEnrollable
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package, make_learner, make_published_package

pytestmark = pytest.mark.django_db


def test_bulk_enrol_reports_duplicates_unknown_and_already_enrolled(admin: Any) -> None:
    """Every known learner not yet enrolled is enrolled once; the others are reported."""
    # Given 30 learners, two of them already enrolled, one with a prior completion
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    ids = make_learners(30)
    for learner_id in ids[:2]:
        learning.enroll(actor=admin, learner_id=learner_id, package_id=version.package_id)
    learning.record_completion(actor=admin, learner_id=ids[5], course_id=course.pk, occurred_at=t)
    unknown = [max(ids) + 1, max(ids) + 2]
    wanted = [*ids, ids[3], ids[3], ids[10], *unknown]
    calls: list[int] = []

    # When they are bulk-enrolled in chunks of 7
    result = learning.bulk_enroll(
        actor=admin,
        package_id=version.package_id,
        learner_ids=iter(wanted),
        notes="all staff",
        progress=calls.append,
        chunk_size=7,
    )

    # Then the 28 others are enrolled exactly once, on the active version
    assert result.version == version
    assert result.enrolled == 28
    assert result.already_enrolled == ids[:2]
    assert result.unknown_learners == unknown
    assert Enrollment.objects.count() == 30
    assert Enrollment.objects.filter(version=version, withdrawn_at__isnull=True).count() == 30
    assert set(Enrollment.objects.values_list("learner_id", flat=True)) == set(ids)
    # And each says who enrolled it
    assert set(Enrollment.objects.values_list("enrolled_by_id", flat=True)) == {admin.pk}
    # And each is evaluated: the learner who had done the course is complete, since the
    # enrolment (training done before it counts; nobody completes before enrolling)
    done = Enrollment.objects.get(learner_id=ids[5])
    assert stored(done) == ("completed", 1, 1, done.enrolled_at)
    assert done.enrolled_at > t
    assert stored(Enrollment.objects.get(learner_id=ids[6])) == ("not_started", 0, 1, None)
    # And progress was reported chunk by chunk, for every id read
    assert calls == [7, 7, 7, 7, 7]
    assert sum(calls) == len(wanted)
    # And one audit event says what happened
    event = AuditEvent.objects.get(action="enrollment.bulk_created")
    assert (event.actor, event.package_id, event.notes) == (admin, version.package_id, "all staff")
    assert event.after is not None
    assert event.after["enrolled"] == 28
    assert sorted(event.after["learners"]) == sorted(ids[2:])
    assert event.after["already_enrolled"] == ids[:2]
    assert event.after["unknown_learners"] == unknown
    assert drift() == []


def test_bulk_enrol_reads_its_input_lazily(admin: Any) -> None:
    """The learner ids are consumed a chunk at a time, so a file can be streamed."""
    version = make_published_package()
    ids = make_learners(10)
    consumed: list[int] = []
    seen_at_progress: list[int] = []

    def stream() -> Iterator[int]:
        for learner_id in ids:
            consumed.append(learner_id)
            yield learner_id

    learning.bulk_enroll(
        actor=admin,
        package_id=version.package_id,
        learner_ids=stream(),
        progress=lambda n: seen_at_progress.append(len(consumed)),
        chunk_size=4,
    )
    assert seen_at_progress == [4, 8, 10]


@pytest.mark.parametrize("retire", [False, True])
def test_bulk_enrol_without_an_enrollable_version_writes_nothing(admin: Any, retire: bool) -> None:
    if retire:
        version = make_published_package()
        packaging.retire_package(actor=admin, package_id=version.package_id)
        error: type[Exception] = VersionNotEnrollable
    else:
        version = make_draft_package()
        error = NoActiveVersion
    ids = make_learners(3)
    audit_count = AuditEvent.objects.count()
    with pytest.raises(error):
        learning.bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=ids)
    assert Enrollment.objects.count() == 0
    assert AuditEvent.objects.count() == audit_count


# --- manage.py enroll_learners -------------------------------------------------


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("enroll_learners", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_enrols_the_learners_a_file_names(admin: Any, tmp_path: Path) -> None:
    """Usernames and ids, one per line; blanks and comments skipped; the summary says
    what was done and who is unknown; a progress bar goes to stderr."""
    # Given a file naming learners by username and by id, with noise
    version = make_published_package()
    alice, bob, carol, dave = (make_learner(username=n) for n in ("alice", "bob", "carol", "dave"))
    learning.enroll(actor=admin, learner_id=dave.pk, package_id=version.package_id)
    missing_id = dave.pk + 1000
    people = tmp_path / "people.txt"
    people.write_text(
        f"\ufeff# HR export\nalice\n\n{bob.pk}\n  carol  \nalice\nnobody\n{missing_id}\ndave\n",
        encoding="utf-8",
    )

    # When the command runs over it, in chunks of 2
    out, err = _run(
        "--package",
        str(version.package_id),
        "--learners-file",
        str(people),
        "--chunk-size",
        "2",
        "--actor",
        admin.username,
        "--notes",
        "HR import",
    )

    # Then alice, bob and carol are enrolled, once each
    assert set(
        Enrollment.objects.filter(withdrawn_at__isnull=True).values_list("learner_id", flat=True)
    ) == {alice.pk, bob.pk, carol.pk, dave.pk}
    assert Enrollment.objects.count() == 4
    # And the summary says so
    assert f"Enrolled 3 learner(s) in {version.name!r} v1." in out
    assert "Already enrolled: 1." in out
    assert f"Unknown learners: 2 (nobody, {missing_id})." in out
    # And the progress bar was drawn on stderr
    assert "Enrolling" in err
    assert "learner" in err
    # And the audit log names the actor and the notes
    event = AuditEvent.objects.get(action="enrollment.bulk_created")
    assert (event.actor, event.notes) == (admin, "HR import")


def test_command_enrols_all_learners(admin: Any) -> None:
    """--all-learners takes every active user whose role is learner."""
    version = make_published_package()
    ids = make_learners(11)
    inactive = make_learner()
    inactive.is_active = False
    inactive.save()
    auditor = accounts.create_user(actor=admin, username="auditor", role="auditor")
    named_learner = accounts.create_user(actor=admin, username="named", role="learner")
    ids.append(named_learner.pk)
    assert auditor.pk not in ids

    out, err = _run("--package", str(version.package_id), "--all-learners", "--chunk-size", "5")

    assert set(Enrollment.objects.values_list("learner_id", flat=True)) == set(ids)
    assert "Enrolled 12 learner(s)" in out
    assert "12/12" in err
    assert AuditEvent.objects.get(action="enrollment.bulk_created").actor_label == "system"


def test_command_reports_refusals_as_errors(admin: Any, tmp_path: Path) -> None:
    draft = make_draft_package()
    make_learners(2)
    with pytest.raises(CommandError, match="no published version"):
        _run("--package", str(draft.package_id), "--all-learners")
    with pytest.raises(CommandError, match="Cannot read"):
        _run("--package", str(draft.package_id), "--learners-file", str(tmp_path / "none.txt"))
    with pytest.raises(CommandError, match="no user 'ghost'"):
        _run("--package", str(draft.package_id), "--all-learners", "--actor", "ghost")
    with pytest.raises(CommandError):
        _run("--package", str(draft.package_id))
    assert Enrollment.objects.count() == 0


def test_command_with_prior_completions(admin: Any, tmp_path: Path) -> None:
    """Bulk-enrolled learners are evaluated like any enrollment."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    learner = make_learner(username="erin")
    record(learner, course, t)
    people = tmp_path / "people.txt"
    people.write_text("erin\n", encoding="utf-8")
    _run("--package", str(version.package_id), "--learners-file", str(people), "--no-progress")
    enrollment = Enrollment.objects.get(learner=learner)
    # Complete since enrolment: the training before it counts, never before it existed
    assert stored(enrollment) == ("completed", 1, 1, enrollment.enrolled_at)
