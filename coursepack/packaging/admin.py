from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from coursepack.packaging.models import (
    CourseGroupItem,
    CourseGroupVersion,
    Package,
    PackageVersion,
    PackageVersionItem,
    PublishRecord,
)
from coursepack.readonly_admin import ReadOnlyAdmin


class PackageVersionItemInline(admin.TabularInline):
    model = PackageVersionItem
    fields = ["position", "course", "group_version", "required"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CourseGroupItemInline(PackageVersionItemInline):
    model = CourseGroupItem  # type: ignore[assignment]
    fk_name = "group_version"
    fields = ["position", "course", "child_version", "required"]


@admin.register(Package)
class PackageAdmin(ReadOnlyAdmin):
    list_display = ["name", "category", "status", "updated_at"]
    list_filter = ["status", "category"]
    search_fields = ["name"]


@admin.register(PackageVersion)
class PackageVersionAdmin(ReadOnlyAdmin):
    list_display = ["package", "version_number", "name", "status", "effective_from", "archived_at"]
    list_filter = ["status"]
    search_fields = ["name", "package__name"]
    inlines = [PackageVersionItemInline]


@admin.register(CourseGroupVersion)
class CourseGroupVersionAdmin(ReadOnlyAdmin):
    list_display = ["name", "version_number", "kind", "min_count", "status", "published_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    inlines = [CourseGroupItemInline]


@admin.register(PublishRecord)
class PublishRecordAdmin(ReadOnlyAdmin):
    list_display = ["package", "version", "action", "occurred_at", "actor", "inflight_policy"]
    list_filter = ["action"]
