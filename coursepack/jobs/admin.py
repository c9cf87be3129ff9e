from django.contrib import admin

from coursepack.jobs.models import Job
from coursepack.readonly_admin import ReadOnlyAdmin


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "actor_label", "done", "total", "created_at"]
    list_filter = ["kind", "status"]
