from django.contrib import admin

from coursepack.audit.models import AuditEvent
from coursepack.readonly_admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_label", "action", "target_type", "target_label", "notes"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_label", "notes"]
