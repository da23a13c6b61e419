from notifications.models import Delivery


def attach_deliveries(notifications) -> None:
    """Load the deliveries of a page of notifications in one query (no prefetch_related on MongoDB)."""
    notifications = list(notifications or [])
    by_id = {notification.pk: notification for notification in notifications}
    for notification in notifications:
        notification.delivery_list = []
    if not by_id:
        return
    # Sorted here: an ORM order_by would put an $addFields before the $sort (over this page only, but still).
    deliveries = Delivery.objects.filter(notification_id__in=list(by_id)).order_by()
    for delivery in sorted(deliveries, key=lambda row: (row.created_at, row.pk)):
        by_id[delivery.notification_id].delivery_list.append(delivery)
