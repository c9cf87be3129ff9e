"""The project's URLs and one more: a signed-in response with nothing in it.

The reports benchmark (``bench/reports.py``) times it to show the least any page of
Coursepack costs on this machine: the whole middleware stack, the session, the user
and their role, and an empty response (no template, no read of its own). Only the
benchmark uses this URL configuration (``override_settings``); the server never
routes to it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from coursepack.web.access import PEOPLE_READERS, role_required

BARE_URL = "/bench/signed-in-nothing/"


@role_required(*PEOPLE_READERS)
def signed_in_nothing(request: HttpRequest) -> HttpResponse:
    """An empty page for a signed-in admin, auditor or manager."""
    return HttpResponse(b"", content_type="text/plain")


urlpatterns = [
    path(BARE_URL.strip("/") + "/", signed_in_nothing),
    path("", include("coursepack.urls")),
]
