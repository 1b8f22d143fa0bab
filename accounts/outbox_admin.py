"""Admin for the task outbox: operators see what waits for the broker (read-only).

Kept beside ``accounts.outbox`` rather than in ``accounts/admin.py`` while that file is being
reworked on another branch; ``AccountsConfig.ready`` imports it. Move it into admin.py freely.
"""

from django.contrib import admin

from accounts.models import OutboxTask


@admin.register(OutboxTask)
class OutboxTaskAdmin(admin.ModelAdmin):
    list_display = ["name", "task_id", "attempts", "created_at"]
    list_filter = ["name"]
    search_fields = ["name", "task_id"]
    readonly_fields = [
        "task_id",
        "name",
        "args",
        "kwargs",
        "options",
        "attempts",
        "last_error",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # rows come from tasks the broker refused, never by hand
