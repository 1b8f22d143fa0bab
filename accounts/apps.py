from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and organisations"

    def ready(self) -> None:
        from accounts import (
            outbox_admin,  # noqa: F401 - registers the task outbox's admin
            readcache,
        )

        readcache.install()
