from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import (
            admin_refunds,  # noqa: F401 - registers refunds' and disputes' admin
            fapiao_admin,  # noqa: F401 - registers the fapiao requests' admin
        )
