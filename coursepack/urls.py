"""Coursepack's URL map."""

from django.contrib import admin
from django.urls import include, path

from coursepack.http.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("coursepack.web.urls")),
]

# A locked database becomes 503 + Retry-After; under /api/ every error is problem+json.
handler500 = "coursepack.http.middleware.server_error"
