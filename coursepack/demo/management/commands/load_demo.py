"""Load a small, realistic demo data set once (idempotent).

The history is replayed on a clock that starts three months ago: the catalog is
built, v1 published, people enrolled, completions recorded and v2 published on
the days a real organisation would have done them, so every enrolment comes
before the completions it counts and transcripts as of any past date read true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.catalog import api as catalog
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package

DEMO_ADMIN = ("admin", "coursepack-admin")
DEMO_LEARNERS = [
    ("alice", "Alice", "Nguyen"),
    ("bob", "Bob", "Okafor"),
    ("carol", "Carol", "Schmidt"),
    ("dave", "Dave", "Martinez"),
    ("erin", "Erin", "Kowalski"),
    ("frank", "Frank", "Oduya"),
]
DEMO_LEARNER_PASSWORD = "coursepack-learner"
MARKER_PACKAGE = "2024 Cybersecurity Training"

COURSES = [
    ("SEC-101-EN", "Cybersecurity Essentials (English)", 45),
    ("SEC-101-ES", "Cybersecurity Essentials (Spanish)", 45),
    ("SEC-110", "Phishing Awareness", 20),
    ("SEC-120", "Password Security", 15),
    ("SEC-130", "Social Engineering Defense", 30),
    ("PRV-200", "Data Protection Basics", 40),
    ("PRV-210", "GDPR Overview", 35),
    ("PRV-220", "Records Retention", 25),
    ("PRV-230", "Handling Customer Data", 30),
    ("SAF-300", "Workplace Safety Basics", 30),
    ("SAF-310", "First Aid Basics", 60),
    ("SAF-320", "Fire Safety", 40),
    ("HR-400", "Code of Conduct", 30),
    ("HR-410", "Anti-Harassment", 45),
    ("HR-420", "Diversity and Inclusion", 40),
]


@contextmanager
def _replayed_clock() -> Iterator[Callable[..., datetime]]:
    """Run the block on a clock the caller sets: ``at(days=40)`` means 40 days ago.

    The services stamp what they write with ``timezone.now()``; replaying the
    history through them (rather than writing rows by hand) keeps every record,
    the audit chain included, exactly as the services would have written it on
    that day. The clock is Django's, replaced for the duration of the load (a
    management command, before any request is served) and restored after.
    """
    real_now = timezone.now
    end = real_now()
    current = [end]

    def at(*, days: float = 0, hours: float = 0) -> datetime:
        moment = end - timedelta(days=days, hours=hours)
        # Never backwards: the audit log is in time order.
        current[0] = max(current[0], moment) if current[0] != end else moment
        return current[0]

    timezone.now = lambda: current[0]
    try:
        yield at
    finally:
        timezone.now = real_now


class Command(BaseCommand):
    help = "Load Coursepack's demo data (once; does nothing if it is already there)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if Package.objects.filter(name=MARKER_PACKAGE).exists():
            self.stdout.write("Demo data already loaded.")
        else:
            with transaction.atomic(), _replayed_clock() as at:
                self._load(User, at)
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(
            f"Demo logins: admin {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}; learners "
            f"{', '.join(u for u, _, _ in DEMO_LEARNERS)} / {DEMO_LEARNER_PASSWORD}"
        )

    def _load(self, User: Any, at: Callable[..., datetime]) -> None:
        at(days=90)
        admin = User.objects.filter(username=DEMO_ADMIN[0]).first()
        if admin is None:
            admin = User.objects.create_superuser(
                DEMO_ADMIN[0],
                "admin@example.com",
                DEMO_ADMIN[1],
                first_name="Jordan",
                last_name="Admin",
            )
        learners = {}
        for username, first, last in DEMO_LEARNERS:
            learner = User.objects.filter(username=username).first()
            if learner is None:
                learner = accounts.create_user(
                    actor=admin,
                    username=username,
                    email=f"{username}@example.com",
                    password=DEMO_LEARNER_PASSWORD,
                    first_name=first,
                    last_name=last,
                )
            learners[username] = learner
        c = {}
        for code, name, minutes in COURSES:
            c[code] = catalog.create_course(
                actor=admin,
                code=code,
                name=name,
                duration_minutes=minutes,
                description=f"{name}: part of the annual compliance curriculum.",
            )

        def group(
            name: str, kind: str, entries: list[tuple[str, bool]], min_count: int | None = None
        ) -> int:
            gv = packaging.create_group(actor=admin, name=name, kind=kind, min_count=min_count)
            for ref, required in entries:
                if ref in c:
                    packaging.add_group_item(
                        actor=admin, group_version_id=gv.pk, course_id=c[ref].pk, required=required
                    )
                else:
                    packaging.add_group_item(
                        actor=admin, group_version_id=gv.pk, group_id=int(ref), required=required
                    )
            packaging.publish_group_version(
                actor=admin, group_version_id=gv.pk, change_notes="Initial rule"
            )
            return gv.group_id

        language = group(
            "Cybersecurity Essentials — language",
            "family",
            [("SEC-101-EN", False), ("SEC-101-ES", False)],
        )
        emergency = group("Emergency Procedures", "series", [("SAF-310", True), ("SAF-320", True)])
        privacy = group(
            "Data Protection Electives",
            "choice",
            [("PRV-200", True), ("PRV-210", False), ("PRV-220", False), ("PRV-230", False)],
            min_count=2,
        )
        respect = group(
            "Respect at Work", "choice", [("HR-410", False), ("HR-420", False)], min_count=1
        )
        group(
            "Leadership Compliance Tracks",
            "choice",
            [(str(privacy), False), (str(emergency), False), (str(respect), False)],
            min_count=2,
        )

        # 2024 Cybersecurity Training: v1 (archived), v2 (active), v3 (draft).
        at(days=62)
        v1 = packaging.create_package(
            actor=admin,
            name=MARKER_PACKAGE,
            category="Security",
            description="Annual cybersecurity training for all employees.",
        )
        packaging.add_item(actor=admin, version_id=v1.pk, group_id=language)
        packaging.add_item(actor=admin, version_id=v1.pk, course_id=c["SEC-120"].pk)
        packaging.add_item(actor=admin, version_id=v1.pk, course_id=c["PRV-210"].pk, required=False)
        packaging.publish_version(
            actor=admin,
            version_id=v1.pk,
            change_notes="Initial release of 2024 cybersecurity training.",
        )
        now = timezone.now() + timedelta(days=62)  # the end of the replayed history
        at(days=60)
        for username in ["alice", "bob", "carol"]:
            learning.enroll(actor=admin, learner_id=learners[username].pk, package_id=v1.package_id)
        at(days=38)  # the LMS export of both of Alice's courses, imported together
        learning.record_completion(
            actor=admin,
            learner_id=learners["alice"].pk,
            course_id=c["SEC-101-EN"].pk,
            occurred_at=now - timedelta(days=40),
            source="import",
            evidence_note="LMS export 2024-03",
        )
        learning.record_completion(
            actor=admin,
            learner_id=learners["alice"].pk,
            course_id=c["SEC-120"].pk,
            occurred_at=now - timedelta(days=39),
            source="import",
        )
        at(days=30, hours=-3)
        learning.record_completion(
            actor=admin,
            learner_id=learners["bob"].pk,
            course_id=c["SEC-101-ES"].pk,
            occurred_at=now - timedelta(days=30),
            source="manual",
        )
        at(days=22)
        v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
        packaging.add_item(actor=admin, version_id=v2.pk, course_id=c["SEC-110"].pk, position=1)
        packaging.add_item(actor=admin, version_id=v2.pk, course_id=c["SEC-130"].pk, required=False)
        gdpr = v2.items.get(course=c["PRV-210"])
        packaging.set_item_required(actor=admin, version_id=v2.pk, item_id=gdpr.pk, required=True)
        at(days=20)
        packaging.publish_version(
            actor=admin,
            version_id=v2.pk,
            change_notes="Added phishing awareness course. GDPR Overview is now required.",
        )
        at(days=19)
        for username in ["dave", "erin"]:
            learning.enroll(actor=admin, learner_id=learners[username].pk, package_id=v1.package_id)
        # HR Compliance: one active version with every kind of group.
        at(days=16)
        hr = packaging.create_package(
            actor=admin,
            name="HR Compliance Package",
            category="HR Compliance",
            description="Conduct, respect and data handling for every employee.",
        )
        packaging.add_item(actor=admin, version_id=hr.pk, course_id=c["HR-400"].pk)
        packaging.add_item(actor=admin, version_id=hr.pk, group_id=respect)
        packaging.add_item(actor=admin, version_id=hr.pk, group_id=privacy)
        packaging.add_item(actor=admin, version_id=hr.pk, group_id=emergency, required=False)
        at(days=15)
        packaging.publish_version(actor=admin, version_id=hr.pk, change_notes="Initial release.")
        at(days=14)
        for username in ["alice", "bob", "frank"]:
            learning.enroll(actor=admin, learner_id=learners[username].pk, package_id=hr.package_id)
        for code, days in [("HR-400", 10), ("HR-420", 9), ("PRV-200", 8), ("PRV-230", 7)]:
            at(days=days, hours=-2)  # recorded by hand two hours after the course
            learning.record_completion(
                actor=admin,
                learner_id=learners["alice"].pk,
                course_id=c[code].pk,
                occurred_at=now - timedelta(days=days),
                source="manual",
            )
        at(days=5, hours=-0.1)
        learning.record_completion(
            actor=admin,
            learner_id=learners["frank"].pk,
            course_id=c["HR-400"].pk,
            kind="failed",
            occurred_at=now - timedelta(days=5),
            source="api",
        )
        at(days=4, hours=-1)
        mistaken = learning.record_completion(
            actor=admin,
            learner_id=learners["bob"].pk,
            course_id=c["HR-400"].pk,
            occurred_at=now - timedelta(days=4),
            source="manual",
        )
        at(days=3)
        learning.void_event(
            actor=admin, event_id=mistaken.event.pk, reason="Recorded for the wrong learner."
        )
        at(days=2, hours=-0.1)
        learning.record_completion(
            actor=admin,
            learner_id=learners["dave"].pk,
            course_id=c["SEC-110"].pk,
            occurred_at=now - timedelta(days=2),
            source="api",
            external_id="demo-dave-sec110",
        )
        at(days=1)
        v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)
        packaging.add_item(actor=admin, version_id=v3.pk, group_id=privacy, required=False)
        packaging.update_draft(
            actor=admin,
            version_id=v3.pk,
            description="2025 refresh: adds data protection electives.",
        )

        # Q1 2024 Safety Training: a draft only.
        safety = packaging.create_package(
            actor=admin,
            name="Q1 2024 Safety Training",
            category="Safety",
            description="Quarterly safety training for all employees.",
        )
        packaging.add_item(actor=admin, version_id=safety.pk, course_id=c["SAF-300"].pk)
        packaging.add_item(actor=admin, version_id=safety.pk, group_id=emergency)
