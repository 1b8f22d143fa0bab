"""Domain errors of the inventory app. Messages are in the active language."""

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts.errors import DomainError


class CapacityUnavailable(DomainError):
    """Not enough servers free over the window. Says what *is* free."""

    code = "capacity_unavailable"
    status = 409

    def __init__(
        self, *, cluster_id: int, requested: int, free_servers: int, start: date, end: date
    ):
        self.cluster_id = cluster_id
        self.requested = requested
        self.free_servers = free_servers
        self.start = start
        self.end = end
        message = ngettext(
            "Cluster %(cluster)s has %(free)s server free from %(start)s until %(end)s; "
            "%(requested)s requested.",
            "Cluster %(cluster)s has %(free)s servers free from %(start)s until %(end)s; "
            "%(requested)s requested.",
            free_servers,
        ) % {
            "cluster": cluster_id,
            "free": free_servers,
            "start": date_format(start, "DATE_FORMAT"),
            "end": date_format(end, "DATE_FORMAT"),
            "requested": requested,
        }
        super().__init__(
            message,
            details={
                "non_field_errors": [message],
                "cluster": [str(cluster_id)],
                "free_servers": [str(free_servers)],
            },
        )

    @property
    def shortfall_message(self) -> str:
        """What a form beside the servers field says: the figure free, in words."""
        return ngettext(
            "Only %(free)s server is free from %(start)s until %(end)s; you asked for "
            "%(requested)s.",
            "Only %(free)s servers are free from %(start)s until %(end)s; you asked for "
            "%(requested)s.",
            self.free_servers,
        ) % {
            "free": self.free_servers,
            "start": date_format(self.start, "DATE_FORMAT"),
            "end": date_format(self.end, "DATE_FORMAT"),
            "requested": self.requested,
        }


class OutageLocked(DomainError):
    code = "outage_locked"
    status = 409

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or gettext(
                "This outage has been invoiced (SLA credits were issued); only a platform admin "
                "can correct it."
            )
        )


class ClusterStatusChangeRefused(DomainError):
    """A listing change the status table does not allow (e.g. delisted back to draft)."""

    code = "invalid_status_change"
    status = 409
