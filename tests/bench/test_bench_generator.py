"""The benchmark data generator: the same seed gives the same data, and its cache is exact."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction

from coursepack.audit import api as audit
from coursepack.bench.generate import generate
from coursepack.bench.scales import SCALES, Scale
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import PackageVersion

TINY = Scale(
    name="tiny",
    courses=24,
    packages=6,
    versions=2,
    groups=4,
    learners=30,
    enrollments=70,
    events=600,
    big=8,
)


def _fingerprint() -> dict[str, Any]:
    """Everything generated, by id where the generator chose the ids, else by name."""
    return {
        "learners": list(
            get_user_model()
            .objects.filter(username__startswith="bench-learner-")
            .order_by("pk")
            .values_list("pk", "username")
        ),
        "versions": list(
            PackageVersion.objects.order_by(
                "package__name", "version_number", "items__position"
            ).values_list(
                "package__name", "version_number", "status", "effective_from", "items__course__code"
            )
        ),
        "enrollments": list(
            Enrollment.objects.order_by("pk").values_list(
                "pk",
                "learner_id",
                "package__name",
                "version__version_number",
                "enrolled_at",
                "withdrawn_at",
                "status",
                "progress_done",
                "progress_needed",
                "completed_at",
            )
        ),
        "events": list(
            CompletionEvent.objects.order_by("pk").values_list(
                "pk", "learner_id", "course__code", "kind", "occurred_at", "voids_id"
            )
        ),
    }


def _rewind_id_sequences() -> None:
    """Let the next generation get the ids this one had.

    A rollback rewinds SQLite's AUTOINCREMENT counters, which are rows of a
    table; PostgreSQL's sequences are not transactional, so set them back to
    just after the rows that remain.
    """
    if connection.vendor != "postgresql":
        return
    models = [
        m
        for app in ("catalog", "packaging", "learning", "audit", "auth")
        for m in apps.get_app_config(app).get_models()
    ]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def _generate_and_rollback(scale: Scale, seed: int) -> tuple[dict[str, int], dict[str, Any]]:
    packaging_selectors.clear_caches()
    # Earlier tests advanced the sequences too: start every generation from the same place.
    _rewind_id_sequences()
    with transaction.atomic():
        report = generate(scale, seed=seed)
        found = (report.counts, _fingerprint())
        transaction.set_rollback(True)
    _rewind_id_sequences()
    return found


@pytest.mark.django_db
def test_the_same_seed_generates_the_same_rows_and_ids() -> None:
    """Given one seed twice, the counts, ids and contents are identical; another seed differs."""
    first = _generate_and_rollback(TINY, seed=7)
    second = _generate_and_rollback(TINY, seed=7)
    other = _generate_and_rollback(TINY, seed=8)

    assert first == second
    counts, rows = first
    assert counts["learners"] == len(rows["learners"]) == TINY.learners
    assert counts["enrollments"] == len(rows["enrollments"]) == TINY.enrollments
    assert counts["completion events"] == len(rows["events"]) == TINY.events
    assert other[1]["events"] != rows["events"]


@pytest.mark.django_db
def test_the_generated_status_cache_is_exact() -> None:
    """After generation a rebuild without fixing finds every enrollment as the engine says."""
    report = generate(TINY, seed=3)

    rebuild = learning.rebuild_statuses(actor=None, fix=False)

    assert rebuild.checked == TINY.enrollments
    assert rebuild.drifted == []
    statuses = {k: v for k, v in report.counts.items() if k.startswith("enrollments ")}
    assert sum(statuses.values()) == TINY.enrollments


@pytest.mark.django_db
def test_the_generated_rows_are_declared_on_the_audit_log() -> None:
    """The bulk-loaded rows have no records of their own: one record declares them, and
    verification names them (and passes) instead of finding them on no record."""
    generate(TINY, seed=4)

    report = audit.verify_chain()

    assert report.intact, report.reason
    loaded = dict(report.loaded_without_records)
    assert loaded["learning.completionevent"] == CompletionEvent.objects.count() == TINY.events
    assert loaded["learning.enrollment"] == Enrollment.objects.count() == TINY.enrollments
    assert loaded["auth.user"] == get_user_model().objects.count()
    assert len(report.declared_by) == 1


def test_every_named_scale_can_be_generated() -> None:
    """The named scales pass the generator's own checks."""
    assert {name: scale.problems() for name, scale in SCALES.items()} == {
        name: [] for name in SCALES
    }


@pytest.mark.django_db
def test_the_generator_refuses_a_database_that_is_not_empty() -> None:
    """Generated rows bypass the audited services: never into a database with real records."""
    from tests.factories import make_course

    make_course(code="REAL-1")

    with pytest.raises(ValueError, match="not empty"):
        generate(TINY, seed=1)
