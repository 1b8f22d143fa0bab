from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import admin_refunds  # noqa: F401 - registers refunds' and disputes' admin
