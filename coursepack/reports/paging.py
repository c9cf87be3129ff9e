"""Summary reads for one page of a report table (issue 19, ADR 0027 amended).

``reports.summary_reads`` answers a whole table; a page shows a few dozen rows of it,
so it reads only theirs here.
"""

from __future__ import annotations

from coursepack.learning.models import CourseCount
from coursepack.reports.exact import CourseCounts

__all__ = ["course_counts_of"]


def course_counts_of(course_ids: list[int]) -> CourseCounts:
    """Return the all-time counts of ``course_ids``, from their summary rows (one each)."""
    if not course_ids:
        return {}
    return {
        course_id: (learners, failed, voided)
        for course_id, learners, failed, voided in CourseCount.objects.filter(
            course_id__in=course_ids
        ).values_list("course_id", "learners", "failed", "voided")
    }
