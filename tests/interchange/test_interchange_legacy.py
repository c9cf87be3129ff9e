"""The legacy migration: reconciliation report, refusal, all-or-nothing writes, repeatability."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from legacy_dataset import (
    EXPECTED_ANOMALIES,
    EXPECTED_READ,
    EXPECTED_STARTS,
    EXPECTED_WRITE,
    every_anomaly,
)

from coursepack.audit.models import AuditEvent
from coursepack.catalog.models import Course
from coursepack.interchange import legacy
from coursepack.interchange.errors import LegacySourceError, MappingInvalid, UnplacedAnomalies
from coursepack.interchange.legacy_example import example, example_mapping, write_legacy
from coursepack.interchange.models import LegacyKey
from coursepack.learning.errors import IdempotencyConflict
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupVersion,
    Package,
    PackageVersion,
    PublishRecord,
)

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    models: list[Any] = [
        Course,
        CourseGroup,
        CourseGroupVersion,
        Package,
        PackageVersion,
        PublishRecord,
        get_user_model(),
        Enrollment,
        CompletionEvent,
        AuditEvent,
        LegacyKey,
    ]
    return {m._meta.label: m.objects.count() for m in models}


def _analyse(url: str, mapping: legacy.Mapping | None = None, **kw: Any) -> legacy.Plan:
    with legacy.LegacySource(url) as source:
        return legacy.analyse(source, mapping=mapping, **kw)


def _migrate(url: str, mapping: legacy.Mapping | None = None) -> legacy.Report:
    with legacy.LegacySource(url) as source:
        plan = legacy.analyse(source, mapping=mapping, dry_run=False, skip_orphans=True)
        return legacy.migrate(source, plan)


def test_dry_run_reports_every_anomaly_with_exact_counts_and_writes_nothing(
    legacy_url: str,
) -> None:
    """Given a legacy database with every kind of anomaly, the dry run counts each
    exactly, says what it would write, and writes nothing."""
    write_legacy(legacy_url, every_anomaly())
    before = _row_counts()

    report = _analyse(legacy_url).report

    assert report.counts() == EXPECTED_ANOMALIES
    assert report.read == EXPECTED_READ
    assert report.would_write == EXPECTED_WRITE
    assert report.starts == EXPECTED_STARTS
    assert _row_counts() == before
    late_start = report.anomalies["started_after_finished"].rows[0]
    assert (late_start["completion_id"], late_start["started_at"]) == (
        10,
        datetime(2024, 1, 12, 10, tzinfo=UTC),
    )
    unfinished = report.anomalies["unfinished_completions"].rows[0]
    assert unfinished["started_at"] == datetime(2024, 1, 10, 10, tzinfo=UTC)
    mismatch = report.anomalies["status_mismatches"].rows[0]
    assert mismatch["enrollment_id"] == 6
    assert mismatch["computed_status"] == "in_progress"
    assert "Passwords" in mismatch["reason"]
    assert {r["enrollment_id"] for r in report.anomalies["enrollments_unknown_user"].rows} == {3, 7}
    blocking = {a.code for a in report.unplaced()}
    assert blocking == {
        "courses_missing_package",
        "packages_without_courses",
        "enrollments_unknown_user",
        "enrollments_unknown_package",
        "completions_unknown_user",
        "completions_unknown_course",
    }


def test_real_run_refuses_rows_it_cannot_place_unless_told(legacy_url: str) -> None:
    """Without --skip-orphans the migration refuses to start and writes nothing."""
    write_legacy(legacy_url, every_anomaly())
    before = _row_counts()
    with legacy.LegacySource(legacy_url) as source:
        plan = legacy.analyse(source, dry_run=False)
        with pytest.raises(UnplacedAnomalies) as refused:
            legacy.migrate(source, plan)
    assert "Completions of unknown courses: 1" in str(refused.value)
    assert _row_counts() == before


def test_migration_writes_what_the_dry_run_said_and_a_second_run_writes_nothing(
    legacy_url: str,
) -> None:
    """With --skip-orphans the placeable rows are written, exactly as counted; running
    again finds everything and writes nothing, not even an audit record."""
    write_legacy(legacy_url, every_anomaly())

    report = _migrate(legacy_url)

    assert report.written == EXPECTED_WRITE
    assert report.counts() == EXPECTED_ANOMALIES
    assert CompletionEvent.objects.filter(source="import").count() == 7
    assert set(CompletionEvent.objects.values_list("external_id", flat=True)) == {
        legacy.event_key(i) for i in (1, 2, 6, 8, 9, 10, 11)
    }
    # The legacy start time is kept as the event's evidence (none: no note).
    evidence = dict(CompletionEvent.objects.values_list("external_id", "evidence_note"))
    assert evidence[legacy.event_key(1)] == "Legacy attempt started 2024-01-10T10:00:00+00:00"
    assert evidence[legacy.event_key(10)] == "Legacy attempt started 2024-01-12T10:00:00+00:00"
    assert evidence[legacy.event_key(11)] == ""
    assert report.starts == EXPECTED_STARTS
    ada = get_user_model().objects.get(username="legacy-1")
    assert (ada.first_name, ada.email) == ("Ada", "ada@example.org")
    assert not ada.has_usable_password()
    # Course 5's package is missing: it is in the catalog, in no package.
    assert Course.objects.filter(code="legacy-5").exists()
    statuses = {
        (e.learner.username, e.package.name): e.status
        for e in Enrollment.objects.select_related("learner", "package")
    }
    assert statuses == {
        ("legacy-1", "Security"): "completed",
        ("legacy-2", "Security"): "in_progress",
        ("legacy-3", "Conduct"): "not_started",
    }
    after_first = _row_counts()

    again = _migrate(legacy_url)

    assert again.would_write == dict.fromkeys(EXPECTED_WRITE, 0)
    assert again.written == dict.fromkeys(EXPECTED_WRITE, 0)
    assert _row_counts() == after_first


def test_seed_example_migrates_with_its_language_family_and_legacy_statuses(
    legacy_url: str, tmp_path: Path
) -> None:
    """The seed's packages of courses, with the language family named in the mapping,
    migrate as published v1s (at the package's creation, by the migration actor,
    'Migrated from legacy system'), and every migrated status equals what the legacy
    system said wherever the legacy data is consistent."""
    write_legacy(legacy_url, example())
    mapping_file = tmp_path / "groups.yaml"
    mapping_file.write_text(example_mapping(), encoding="utf-8")
    mapping = legacy.load_mapping(mapping_file)

    report = _migrate(legacy_url, mapping)

    cyber = PackageVersion.objects.get(name="2024 Cybersecurity Training")
    assert cyber.status == "published"
    assert cyber.version_number == 1
    assert cyber.published_at == datetime(2023, 12, 1, 9, tzinfo=UTC)
    assert cyber.effective_from == cyber.published_at
    assert cyber.change_notes == legacy.CHANGE_NOTES
    assert cyber.published_by is not None
    assert cyber.published_by.username == legacy.MIGRATION_ACTOR
    items = list(cyber.items.order_by("position"))
    assert [i.course.code if i.course else i.group_version.name for i in items] == [
        "legacy-1",
        "legacy-2",
        "legacy-3",
        "Language Choice",
    ]
    family = items[3].group_version
    assert family.kind == "family"
    assert family.status == "published"
    assert [i.course.code for i in family.items.order_by("position")] == ["legacy-4", "legacy-5"]
    series = CourseGroupVersion.objects.get(name="Emergency Procedures")
    assert series.kind == "series"

    mismatched = {r["enrollment_id"] for r in report.anomalies["status_mismatches"].rows}
    assert mismatched == {8}
    with legacy.LegacySource(legacy_url) as source:
        legacy_rows = list(source.enrollments())
    packages = {
        int(key): pk
        for key, pk in LegacyKey.objects.filter(table="package").values_list(
            "legacy_key", "object_id"
        )
    }
    compared = 0
    for eid, user_id, package_id, enrolled_at, completed_at, status in legacy_rows:
        enrollment = Enrollment.objects.get(
            learner__username=legacy.username(user_id), package_id=packages[package_id]
        )
        assert enrollment.enrolled_at == enrolled_at
        if eid in mismatched:
            continue
        assert enrollment.status == status, eid
        assert enrollment.completed_at == completed_at, eid
        compared += 1
    assert compared == 7


def test_mapping_is_checked_against_the_legacy_data(tmp_path: Path) -> None:
    """A mapping naming a course that does not exist, or joining courses of two
    packages, is refused with every problem listed."""
    url = str(tmp_path / "legacy.sqlite3")
    write_legacy(url, example())
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "groups:\n"
        "  - {name: Mixed, kind: family, courses: [1, 6]}\n"
        "  - {name: Ghost, kind: choice, courses: [4, 404], min_count: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingInvalid) as refused:
        _analyse(url, legacy.load_mapping(mapping))
    problems = refused.value.problems
    assert any("Mixed" in p and "different legacy packages" in p for p in problems)
    assert any("no legacy course 404" in p for p in problems)

    mapping.write_text("groups:\n  - {name: Bad, kind: pair, courses: [1]}\n", encoding="utf-8")
    with pytest.raises(MappingInvalid) as invalid:
        legacy.load_mapping(mapping)
    assert any("kind" in p for p in invalid.value.problems)
    assert any("at least two courses" in p for p in invalid.value.problems)


def test_command_dry_run_prints_plan_and_report_and_real_run_writes_both_reports(
    tmp_path: Path,
) -> None:
    """The command's dry run prints the plan and the report and writes nothing; the
    real run writes the report as Markdown and JSON."""
    url = str(tmp_path / "legacy.sqlite3")
    write_legacy(url, example())
    (tmp_path / "groups.yaml").write_text(example_mapping(), encoding="utf-8")
    out = StringIO()
    before = _row_counts()
    call_command(
        "import_legacy",
        "--from",
        url,
        "--mapping",
        str(tmp_path / "groups.yaml"),
        "--dry-run",
        "--no-progress",
        stdout=out,
    )
    assert _row_counts() == before
    text = out.getvalue()
    assert "group 'Language Choice' (family, complete 1 of 2) required" in text
    assert "| Completions of unknown courses | 1 |" in text

    with pytest.raises(CommandError, match="--skip-orphans"):
        call_command(
            "import_legacy",
            "--from",
            url,
            "--report",
            str(tmp_path / "r"),
            "--no-progress",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert _row_counts() == before

    call_command(
        "import_legacy",
        "--from",
        f"sqlite:///{url}",
        "--mapping",
        str(tmp_path / "groups.yaml"),
        "--skip-orphans",
        "--report",
        str(tmp_path / "report"),
        "--no-progress",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["mode"] == "run"
    assert data["written"]["completion_events"] == 19
    assert {a["code"]: a["count"] for a in data["anomalies"]}["duplicate_completions"] == 1
    assert "| completion_events | 19 | 19 |" in (tmp_path / "report.md").read_text()


def test_a_database_without_the_legacy_schema_is_refused(tmp_path: Path) -> None:
    """A file that lacks the legacy tables is refused, naming what is missing."""
    import sqlite3

    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE packages (id INTEGER)").connection.commit()
    with pytest.raises(LegacySourceError) as refused:
        legacy.LegacySource(str(path))
    assert "table courses is missing" in refused.value.problems
    assert any("packages has no column name" in p for p in refused.value.problems)


def test_a_migration_that_fails_half_way_writes_nothing(tmp_path: Path, admin: Any) -> None:
    """All or nothing: when a write fails after courses, packages and learners were
    written (here an event key already used for another event), everything is rolled
    back, and the run can be started again once the cause is fixed."""
    url = str(tmp_path / "legacy.sqlite3")
    write_legacy(url, every_anomaly())
    from coursepack.learning import api as learning
    from tests.factories import make_course, make_learner

    clash = learning.record_completion(
        actor=admin,
        learner_id=make_learner().pk,
        course_id=make_course().pk,
        external_id=legacy.event_key(6),
    ).event
    before = _row_counts()

    with pytest.raises(IdempotencyConflict):
        _migrate(url)

    assert _row_counts() == before
    # Events are append-only, so the legacy side is fixed: the row gets a free key.
    import sqlite3

    with sqlite3.connect(url) as conn:
        conn.execute("UPDATE user_course_completions SET id = 60 WHERE id = 6")
    assert _migrate(url).written == EXPECTED_WRITE
    assert CompletionEvent.objects.get(pk=clash.pk).source == "manual"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL plans by statistics; SQLite does not"
)
def test_the_migration_samples_what_it_wrote_for_the_planner(legacy_url: str) -> None:
    """Inside its one transaction the migration analyses the tables it filled before it
    reads them back (else every chunk of learners' events is planned as a scan of every
    event): the planner's statistics of the events' learners exist once it has run."""

    def learner_stats() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'learning_completionevent' "
                "AND attname = 'learner_id'"
            )
            return int(cursor.fetchone()[0])

    with connection.cursor() as cursor:
        # Statistics written by earlier tests in this database go (rolled back after).
        cursor.execute(
            "DELETE FROM pg_statistic WHERE starelid = 'learning_completionevent'::regclass"
        )
    assert learner_stats() == 0
    write_legacy(legacy_url, every_anomaly())

    _migrate(legacy_url)

    assert learner_stats() == 1
