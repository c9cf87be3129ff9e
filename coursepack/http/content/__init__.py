"""Catalog, course groups, packages and versions: the content routes of the API.

One router for all of them, registered in this order (courses, groups,
packages, versions), so paths and the schema's order stay as they were when this
was one module. Operation ids are the view names (``create_course``).
"""

from __future__ import annotations

from coursepack.http.content import courses, groups, packages, versions
from coursepack.http.content._shared import IF_MATCH, router

__all__ = ["IF_MATCH", "courses", "groups", "packages", "router", "versions"]
