"""Coursepack's URL map."""

from django.contrib import admin
from django.urls import include, path

from coursepack.http.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("coursepack.web.urls")),
]

handler403 = "coursepack.web.errors.forbidden"
handler404 = "coursepack.web.errors.not_found"
handler500 = "coursepack.web.errors.server_error"
