"""The second pass: write the plan through the services, all or nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.audit.api import Actor
from coursepack.catalog import api as catalog
from coursepack.catalog.models import Course
from coursepack.interchange.errors import UnplacedAnomalies
from coursepack.interchange.legacy.plan import Plan, existing_usernames, migrated_keys, walk
from coursepack.interchange.legacy.report import WRITE_TABLES, Report
from coursepack.interchange.legacy.source import (
    CHANGE_NOTES,
    MIGRATION_ACTOR,
    LegacySource,
    ProgressFn,
    course_code,
    event_key,
    start_evidence,
    username,
)
from coursepack.interchange.models import LegacyKey
from coursepack.learning import api as learning
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import api as packaging

# --- the migration ------------------------------------------------------------------


def migration_actor() -> Any:
    """Return the account migrated records are attributed to, creating it if needed."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user = User.objects.filter(username=MIGRATION_ACTOR).first()
    if user is None:
        user = accounts.create_user(
            actor=None, username=MIGRATION_ACTOR, role="admin", first_name="Legacy migration"
        )
    return user


def _remember(table: str, key: str, object_id: int, now: datetime) -> None:
    LegacyKey.objects.create(table=table, legacy_key=key, object_id=object_id, migrated_at=now)


def migrate(
    source: LegacySource,
    plan: Plan,
    *,
    progress: ProgressFn | None = None,
) -> Report:
    """Write the plan, all or nothing, through the services; return the report with
    what was written.

    Refuses (``UnplacedAnomalies``) while the plan's report has anomalies that
    block and the caller did not say to skip orphans.
    """
    report = plan.report
    blocking = report.unplaced()
    if blocking:
        raise UnplacedAnomalies(
            "The legacy data has rows the migration cannot place; fix them in the legacy "
            "database, or run again with --skip-orphans to leave them out (the report lists "
            "every row):",
            problems=[f"{a.title}: {len(a.rows)}" for a in blocking],
        )
    written = dict.fromkeys(WRITE_TABLES, 0)
    # Deferred (ADR 0037): millions of events and enrollments in one transaction add to
    # the same summary rows; the import folds every so many events, the end the rest.
    with transaction.atomic(), learning.deferred_summaries():
        actor = migration_actor()
        now = timezone.now()
        course_ids = _migrate_courses(actor, plan, written)
        package_ids = _migrate_packages(actor, plan, course_ids, written, now)
        learner_ids = _migrate_learners(actor, plan, written)
        enrollments: dict[int, dict[int, datetime]] = defaultdict(dict)

        def completions() -> Iterator[learning.ImportedCompletion]:
            for rows in walk(source, plan, None, progress):
                for row in rows.enrollments:
                    assert rows.user_id is not None and row[2] is not None
                    package = plan.packages[row[2]].legacy
                    when = row[3] or package.created_at or now
                    enrollments[row[2]][learner_ids[rows.user_id]] = when
                for cid, course, kind, at, started in rows.completions:
                    assert rows.user_id is not None
                    yield learning.ImportedCompletion(
                        learner_id=learner_ids[rows.user_id],
                        course_id=course_ids[course],
                        kind=kind,
                        occurred_at=at,
                        external_id=event_key(cid),
                        evidence_note=start_evidence(started),
                    )

        result = learning.import_completions(
            actor=actor, completions=completions(), notes=CHANGE_NOTES
        )
        written["completion_events"] = result.created
        # The reads that enrol each package's learners (their events, their open
        # enrollments) are planned with what this transaction wrote: sample it now, and
        # the enrollments again each time they have doubled.
        learning.refresh_statistics()
        enrolled = learning.Resampler(("learning_enrollment",), at_least=10_000)
        for legacy_id, times in enrollments.items():
            package_id = package_ids[legacy_id]
            taken = learning_selectors.open_enrollment_learner_ids(package_id)
            new = {learner: at for learner, at in times.items() if learner not in taken}
            if not new:
                continue
            outcome = learning.bulk_enroll(
                actor=actor,
                package_id=package_id,
                learner_ids=sorted(new),
                enrolled_at=new,
                notes=CHANGE_NOTES,
            )
            written["enrollments"] += outcome.enrolled
            enrolled.wrote(written["enrollments"])
            if progress is not None:
                progress("enrollments", outcome.enrolled)
    report.written = written
    return report


def _migrate_courses(actor: Actor, plan: Plan, written: dict[str, int]) -> dict[int, int]:
    codes = {course_code(c.id): c for c in plan.courses}
    before = Course.objects.filter(code__in=list(codes)).count()
    ids = catalog.create_courses(
        actor=actor,
        courses=(
            catalog.NewCourse(code=code, name=c.name or code, description=c.description)
            for code, c in codes.items()
        ),
    )
    written["courses"] += len(codes) - before
    return {course.id: ids[code] for code, course in codes.items()}


def _migrate_packages(
    actor: Actor,
    plan: Plan,
    course_ids: dict[int, int],
    written: dict[str, int],
    now: datetime,
) -> dict[int, int]:
    packages = migrated_keys("package")
    groups = migrated_keys("group")
    result: dict[int, int] = {}
    for legacy_id, planned in plan.packages.items():
        key = str(legacy_id)
        if key in packages:
            result[legacy_id] = packages[key]
            continue
        p = planned.legacy
        published_at = p.created_at or now
        version = packaging.create_package(
            actor=actor,
            name=p.name or f"Legacy package {legacy_id}",
            description=p.description,
            category=p.category,
            created_at=published_at,
        )
        for item in planned.items:
            if item.group is None:
                assert item.course is not None
                packaging.add_item(
                    actor=actor,
                    version_id=version.pk,
                    course_id=course_ids[item.course],
                    required=item.required,
                )
                continue
            g = item.group
            if g.name not in groups:
                gv = packaging.create_group(
                    actor=actor,
                    name=g.name,
                    kind=str(g.kind),
                    min_count=g.min_count,
                    description=g.description,
                )
                for course in g.courses:
                    packaging.add_group_item(
                        actor=actor,
                        group_version_id=gv.pk,
                        course_id=course_ids[course],
                        required=course in g.required_courses,
                    )
                packaging.publish_group_version(
                    actor=actor,
                    group_version_id=gv.pk,
                    change_notes=CHANGE_NOTES,
                    published_at=published_at,
                )
                groups[g.name] = gv.group_id
                _remember("group", g.name, gv.group_id, now)
                written["course_groups"] += 1
            packaging.add_item(
                actor=actor, version_id=version.pk, group_id=groups[g.name], required=item.required
            )
        packaging.publish_version(
            actor=actor,
            version_id=version.pk,
            change_notes=CHANGE_NOTES,
            published_at=published_at,
        )
        _remember("package", key, version.package_id, now)
        result[legacy_id] = version.package_id
        written["packages"] += 1
    return result


def _migrate_learners(actor: Actor, plan: Plan, written: dict[str, int]) -> dict[int, int]:
    users = plan.users or {}

    def learners() -> Iterator[accounts.NewLearner]:
        for legacy_id in sorted(plan.learners):
            user = users.get(legacy_id)
            yield accounts.NewLearner(
                username=username(legacy_id),
                first_name=user.first_name[:150] if user else "",
                last_name=user.last_name[:150] if user else "",
                email=user.email[:254] if user else "",
            )

    before = existing_usernames([username(u) for u in plan.learners])
    ids = accounts.create_learners(actor=actor, learners=learners(), notes=CHANGE_NOTES)
    written["learners"] = len(plan.learners) - before
    return {legacy_id: ids[username(legacy_id)] for legacy_id in plan.learners}
