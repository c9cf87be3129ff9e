"""Users and groups in the admin: to read only.

Users, roles, passwords and activation change through ``accounts.api`` (the
People pages and ``/api/v1/users``), which validate and write the audit log;
Django's own user and group pages would change them with no record.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from coursepack.accounts.models import Account, ApiToken
from coursepack.readonly_admin import ReadOnlyAdmin


class ReadOnlyUserAdmin(ReadOnlyAdmin, UserAdmin):
    """Django's user list and detail, with every write refused."""


class ReadOnlyGroupAdmin(ReadOnlyAdmin, GroupAdmin):
    """Django's group list and detail, with every write refused."""


for model, model_admin in ((User, ReadOnlyUserAdmin), (Group, ReadOnlyGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "role", "username_key")
    search_fields = ("user__username",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
