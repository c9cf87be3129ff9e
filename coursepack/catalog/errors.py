"""Typed errors of the course catalog."""

from coursepack.errors import DomainError, NotFound


class CourseNotFound(NotFound):
    code = "course_not_found"


class CourseCodeTaken(DomainError):
    code = "course_code_taken"


class CourseInUse(DomainError):
    code = "course_in_use"


class CourseRetired(DomainError):
    code = "course_retired"
