"""Notifications' Prometheus metrics (conventions in cloudassist/metrics.py); imported by
NotificationsConfig.ready()."""

from cloudassist.metrics import Counter

NOTIFICATION_DELIVERIES = Counter(
    "cloudassist_notification_deliveries_total",
    "Email and webhook delivery attempts, by channel and outcome sent|failed|retry.",
    ["channel", "outcome"],
)


def delivery(*, channel: str, outcome: str) -> None:
    NOTIFICATION_DELIVERIES.labels(channel=channel, outcome=outcome).inc()
