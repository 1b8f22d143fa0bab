"""Domain errors of the inventory app."""

from datetime import date

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
        message = (
            f"Cluster {cluster_id} has {free_servers} server(s) free from {start} to {end}; "
            f"{requested} requested."
        )
        super().__init__(
            message,
            details={
                "non_field_errors": [message],
                "cluster": [str(cluster_id)],
                "free_servers": [str(free_servers)],
            },
        )


class OutageLocked(DomainError):
    code = "outage_locked"
    status = 409
