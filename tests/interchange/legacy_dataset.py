"""A legacy database with every anomaly the reconciliation report names, and its counts."""

from __future__ import annotations

from coursepack.interchange.legacy_example import LegacyData

T1 = "2024-01-10 10:00:00"
T2 = "2024-01-11 10:00:00"
T3 = "2024-01-12 10:00:00"


def every_anomaly() -> LegacyData:
    """Return legacy rows with each anomaly at a known count (see EXPECTED)."""
    packages = [
        (1, "Security", "", "2023-12-01 09:00:00", "2023-12-01 09:00:00"),
        (2, "Conduct", "", "2023-12-02 09:00:00", "2023-12-02 09:00:00"),
        (3, "Empty", "", "2023-12-03 09:00:00", "2023-12-03 09:00:00"),
    ]
    courses = [
        (1, "Phishing", "", 1),
        (2, "Passwords", "", 1),
        (3, "Code of Conduct", "", 2),
        (4, "Induction", "", None),  # no package
        (5, "Old Course", "", 77),  # a package that does not exist
    ]
    users = [(1, "Ada", "Lovelace", "ada@example.org"), (2, "Bob", "", ""), (3, "Cy", "", "")]
    enrollments = [
        (1, 1, 1, "2024-01-01 09:00:00", T2, "completed"),  # consistent
        (2, 1, 1, "2024-01-02 09:00:00", None, "in_progress"),  # duplicate of 1
        (3, 9, 1, "2024-01-01 09:00:00", None, "not_started"),  # unknown user
        (4, 2, 55, "2024-01-01 09:00:00", None, "not_started"),  # unknown package
        (5, 2, 3, "2024-01-01 09:00:00", None, "not_started"),  # package without courses
        (6, 2, 1, "2024-01-01 09:00:00", T1, "completed"),  # marked completed, is not
        (7, None, 2, "2024-01-01 09:00:00", None, "not_started"),  # no user
        (8, 3, 2, "2024-01-01 09:00:00", None, "in_progress"),  # consistent
    ]
    completions = [
        (1, 1, 1, 1, T1, T1, "completed"),
        (2, 1, 2, 1, T2, T2, "completed"),
        (3, 1, 2, 1, T2, T2, "completed"),  # duplicate of 2
        (4, 9, 1, None, T1, T1, "completed"),  # unknown user
        (5, 2, 88, 6, T1, T1, "completed"),  # unknown course
        (6, 2, 1, 6, T1, T1, "completed"),
        (7, 3, 3, 8, T1, None, "in_progress"),  # unfinished
        (8, 3, 5, None, T1, T1, "passed"),  # a course whose package is missing
        (9, 2, 2, 6, T3, T3, "failed"),  # a failed attempt: an event, not complete
        (10, 1, 1, 1, T3, T2, "passed"),  # started after it finished
        (11, 1, 2, 1, None, T3, "completed"),  # no start time
    ]
    return LegacyData(packages, courses, enrollments, completions, users)


EXPECTED_ANOMALIES = {
    "courses_without_package": 1,
    "courses_missing_package": 1,
    "packages_without_courses": 1,
    "enrollments_unknown_user": 2,
    "enrollments_unknown_package": 2,
    "duplicate_enrollments": 1,
    "duplicate_completions": 1,
    "completions_unknown_user": 1,
    "completions_unknown_course": 1,
    "unfinished_completions": 1,
    "started_after_finished": 1,
    "status_mismatches": 1,
}
EXPECTED_STARTS = {
    "events_with_start": 6,
    "events_without_start": 1,
    "unfinished_with_start": 1,
}
EXPECTED_READ = {
    "packages": 3,
    "courses": 5,
    "users": 3,
    "user_package_enrollments": 8,
    "user_course_completions": 11,
}
EXPECTED_WRITE = {
    "courses": 5,
    "course_groups": 0,
    "packages": 2,
    "learners": 3,
    "enrollments": 3,
    "completion_events": 7,
}
