from django.contrib import admin

from coursepack.jobs.models import Job
from coursepack.readonly_admin import ReadOnlyAdmin


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "actor_label", "done", "total", "created_at"]
    list_filter = ["kind", "status"]


# django-tasks' own results: read-only too (a task is changed only by the worker).
try:
    from django_tasks_db.admin import DBTaskResultAdmin
    from django_tasks_db.models import DBTaskResult
except ImportError:  # pragma: no cover - the backend is a locked dependency
    pass
else:
    if admin.site.is_registered(DBTaskResult):
        admin.site.unregister(DBTaskResult)

    @admin.register(DBTaskResult)
    class ReadOnlyTaskResultAdmin(ReadOnlyAdmin, DBTaskResultAdmin):
        actions = None
