from django.contrib import admin

from coursepack.catalog.models import Course
from coursepack.readonly_admin import ReadOnlyAdmin


@admin.register(Course)
class CourseAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "duration_minutes", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["code", "name"]
