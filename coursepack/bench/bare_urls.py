"""The project's URLs and two more, for the reports benchmark (``bench/reports.py``):

* a signed-in response with nothing in it: the least any response of Coursepack costs
  on this machine (the whole middleware stack, the session, the user and their role; no
  template, no read of its own);
* a signed-in page with nothing in it: the same and the layout every page has (its
  navigation, its messages, its CSP nonce): a page's fixed cost.

Only the benchmark uses this URL configuration (``override_settings``); the server
never routes to it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

from coursepack.web.access import PEOPLE_READERS, role_required

BARE_URL = "/bench/signed-in-nothing/"
EMPTY_PAGE_URL = "/bench/signed-in-empty-page/"

_EMPTY_PAGE = engines["django"].from_string(
    '{% extends "web/base.html" %}{% block title %}Nothing{% endblock %}'
)


@role_required(*PEOPLE_READERS)
def signed_in_nothing(request: HttpRequest) -> HttpResponse:
    """An empty page for a signed-in admin, auditor or manager."""
    return HttpResponse(b"", content_type="text/plain")


@role_required(*PEOPLE_READERS)
def signed_in_empty_page(request: HttpRequest) -> HttpResponse:
    """The layout of every page with no content, for the same people."""
    return HttpResponse(_EMPTY_PAGE.render({}, request))


urlpatterns = [
    path(BARE_URL.strip("/") + "/", signed_in_nothing),
    path(EMPTY_PAGE_URL.strip("/") + "/", signed_in_empty_page),
    path("", include("coursepack.urls")),
]
