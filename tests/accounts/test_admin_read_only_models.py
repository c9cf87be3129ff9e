"""Django admin can look but not touch: every registered model is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.test import RequestFactory

from coursepack.readonly_admin import ReadOnlyAdmin

# auth.User and auth.Group are made read-only by the user-management work
# (issue 11), which replaces them with audited services.
OWNED_ELSEWHERE = {"auth.user", "auth.group"}


def test_every_model_in_the_admin_refuses_add_change_and_delete() -> None:
    request = RequestFactory().get("/admin/")
    writable = [
        model._meta.label_lower
        for model, model_admin in admin.site._registry.items()
        if model._meta.label_lower not in OWNED_ELSEWHERE
        and (
            not isinstance(model_admin, ReadOnlyAdmin)
            or model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        )
    ]

    assert writable == []
    assert "django_tasks_database.dbtaskresult" in {
        m._meta.label_lower for m in admin.site._registry
    }
