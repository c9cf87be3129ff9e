from django.contrib import admin

from coursepack.learning.models import CompletionEvent, Enrollment, EnrollmentMove
from coursepack.readonly_admin import ReadOnlyAdmin


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = [
        "learner",
        "package",
        "version",
        "status",
        "progress_done",
        "progress_needed",
        "completed_at",
        "withdrawn_at",
    ]
    list_filter = ["status"]
    search_fields = ["learner__username", "package__name"]


@admin.register(CompletionEvent)
class CompletionEventAdmin(ReadOnlyAdmin):
    list_display = ["learner", "course", "kind", "occurred_at", "source", "external_id", "voids"]
    list_filter = ["kind", "source"]
    search_fields = ["learner__username", "course__code", "external_id"]


@admin.register(EnrollmentMove)
class EnrollmentMoveAdmin(ReadOnlyAdmin):
    list_display = ["enrollment", "from_version", "to_version", "moved_at", "policy"]
