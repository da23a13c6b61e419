from datetime import datetime

from cloudassist.mongodb.counting import fast_count
from notifications.models import Delivery, Notification


def notified_since(*, kind: str, provision_request, since: datetime) -> bool:
    """Was a notification of ``kind`` about ``provision_request`` written since ``since``?"""
    return Notification.objects.filter(kind=kind, provision_request=provision_request, created_at__gte=since).exists()


def attach_deliveries(notifications) -> None:
    """Load the deliveries of a page of notifications in one query (no prefetch_related on MongoDB)."""
    notifications = list(notifications or [])
    by_id = {notification.pk: notification for notification in notifications}
    for notification in notifications:
        notification.delivery_list = []
    if not by_id:
        return
    for delivery in Delivery.objects.filter(notification_id__in=list(by_id)).order_by("created_at", "pk"):
        by_id[delivery.notification_id].delivery_list.append(delivery)


def unread_count(*, user) -> int:
    """The user's unread notifications: one ``countDocuments`` on the ``notification_unread`` index."""
    if user is None or not user.is_authenticated:
        return 0
    return fast_count(Notification.objects.filter(recipient=user, read_at=None))


def notifications_for(*, user):
    """The user's notifications, newest first (on the ``notification_recipient`` index)."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
