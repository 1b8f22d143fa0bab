from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import fapiao_admin  # noqa: F401 - registers the fapiao requests' admin
