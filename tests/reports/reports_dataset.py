"""A hand-built history whose report numbers are known (beside tests/factories.py).

Named ``reports_dataset`` because test helper basenames must be unique across
tests/ (pytest's prepend import mode).

Courses A, B, C, D. "Safety" v1 requires A and B; v2 requires A, B and C.
"Privacy" v1 requires C. D is in no package. Times are noon UTC.

=====  ==================  ===============  =============================================
who    enrolled            in               events -> status
=====  ==================  ===============  =============================================
ann    2024-01-05          Safety v1        A 01-10, A again 03-05, B 02-10 -> completed 02-10
ann    2024-02-01          Privacy v1       C 03-20 -> completed 03-20
ben    2024-01-05          Safety v1        A 01-12 -> in progress
ben    2024-02-01          Privacy v1       nothing -> not started
cat    2024-01-05          Safety v1        nothing -> not started
dan    2024-01-05          Safety v1        A 01-15, B 01-20 voided -> in progress
eve    2024-01-05          Safety v1        A, B 01-25 -> completed, then withdrawn
fay    2023-12-20          Safety v1        A failed 03-01 -> in progress
gus    2023-12-15          Safety v1        A 2023-12-20, B passed 03-10 -> completed 03-10
hal    2024-04-02          Safety v2        A, B, C 04-15 -> completed 04-15
ivy    2024-04-03          Safety v2        nothing -> not started
=====  ==================  ===============  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model

from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_published_package, publish_new_version


def noon(year: int, month: int, day: int) -> datetime:
    """Return noon UTC of that day."""
    return datetime(year, month, day, 12, tzinfo=UTC)


@dataclass
class Dataset:
    """The ids a test needs to filter and to look rows up."""

    courses: dict[str, Course]
    learners: dict[str, Any]
    safety_v1: PackageVersion
    safety_v2: PackageVersion
    privacy_v1: PackageVersion

    @property
    def safety_id(self) -> int:
        return self.safety_v1.package_id

    @property
    def privacy_id(self) -> int:
        return self.privacy_v1.package_id


NAMES = {
    "ann": ("Ann", "Archer"),
    "ben": ("Ben", "Brook"),
    "cat": ("Cat", "Cole"),
    "dan": ("Dan", "Drake"),
    "eve": ("Eve", "Ellis"),
    "fay": ("Fay", "Frost"),
    "gus": ("Gus", "Grant"),
    "hal": ("Hal", "Hayes"),
    "ivy": ("Ivy", "Irwin"),
}


def build_dataset(actor: Any) -> Dataset:
    """Build the history in the module docstring through the real services."""
    User = get_user_model()
    learners = {
        username: User.objects.create_user(username=username, first_name=first, last_name=last)
        for username, (first, last) in NAMES.items()
    }
    courses = {
        code: make_course(actor=actor, code=f"RPT-{code}", name=f"Course {code}") for code in "ABCD"
    }
    safety_v1 = make_published_package(
        actor=actor, name="Safety", items=[courses["A"], courses["B"]]
    )
    privacy_v1 = make_published_package(actor=actor, name="Privacy", items=[courses["C"]])

    enrolled: dict[tuple[str, int], int] = {}
    # The services stamp enrollments with "now"; a history needs them in the past. An
    # enrollment is never complete before it existed, so set enrolled_at right after
    # enrolling, before any event is recorded (the cache is computed from it).
    enrolled_on = {
        "ann": noon(2024, 1, 5),
        "ben": noon(2024, 1, 5),
        "cat": noon(2024, 1, 5),
        "dan": noon(2024, 1, 5),
        "eve": noon(2024, 1, 5),
        "fay": noon(2023, 12, 20),
        "gus": noon(2023, 12, 15),
        "hal": noon(2024, 4, 2),
        "ivy": noon(2024, 4, 3),
    }

    def enroll(username: str, version: PackageVersion) -> None:
        enrollment = learning.enroll(
            actor=actor, learner_id=learners[username].pk, package_id=version.package_id
        )
        assert enrollment.version_id == version.pk
        enrolled[(username, version.package_id)] = enrollment.pk
        at = noon(2024, 2, 1) if version.pk == privacy_v1.pk else enrolled_on[username]
        Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_at=at)

    for username in ["ann", "ben", "cat", "dan", "eve", "fay", "gus"]:
        enroll(username, safety_v1)
    for username in ["ann", "ben"]:
        enroll(username, privacy_v1)

    def record(username: str, code: str, at: datetime, kind: str = "completed") -> int:
        result = learning.record_completion(
            actor=actor,
            learner_id=learners[username].pk,
            course_id=courses[code].pk,
            kind=kind,
            occurred_at=at,
        )
        return result.event.pk

    record("ann", "A", noon(2024, 1, 10))
    record("ann", "A", noon(2024, 3, 5))
    record("ann", "B", noon(2024, 2, 10))
    record("ann", "C", noon(2024, 3, 20))
    record("ben", "A", noon(2024, 1, 12))
    record("dan", "A", noon(2024, 1, 15))
    mistaken = record("dan", "B", noon(2024, 1, 20))
    learning.void_event(actor=actor, event_id=mistaken, reason="Recorded for the wrong learner.")
    record("eve", "A", noon(2024, 1, 25))
    record("eve", "B", noon(2024, 1, 25))
    learning.withdraw(actor=actor, enrollment_id=enrolled[("eve", safety_v1.package_id)])
    record("fay", "A", noon(2024, 3, 1), kind="failed")
    record("gus", "A", noon(2023, 12, 20))
    record("gus", "B", noon(2024, 3, 10), kind="passed")

    safety_v2 = publish_new_version(actor=actor, from_version=safety_v1, add=[courses["C"]])
    for username in ["hal", "ivy"]:
        enroll(username, safety_v2)
    for code in "ABC":
        record("hal", code, noon(2024, 4, 15))

    return Dataset(
        courses=courses,
        learners=learners,
        safety_v1=safety_v1,
        safety_v2=safety_v2,
        privacy_v1=privacy_v1,
    )
