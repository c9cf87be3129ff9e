"""Catalog, course groups, packages and versions: the content routes of the API.

One router for all of them, registered in this order (courses, groups,
packages, versions), so paths, operation ids and the schema stay as they were
when this was one module (``CoursepackAPI.get_openapi_operation_id`` keeps the
``coursepack_http_content_*`` ids).
"""

from __future__ import annotations

from coursepack.http.content import courses, groups, packages, versions
from coursepack.http.content._shared import IF_MATCH, router

__all__ = ["IF_MATCH", "courses", "groups", "packages", "router", "versions"]
