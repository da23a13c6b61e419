"""The MongoDB commands of the notifications' hot paths: the list and its unread count, and the
delivery sweep (shapes and index use, no timing). The expiry warnings' sweep is provisioning's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cloudassist.testing.mongo import (
    assert_no_joins,
    assert_page_pipeline,
    assert_sorted_by_index,
    assert_uses_index,
    stage_names,
)
from notifications import services
from notifications.choices import Kind
from notifications.models import Delivery, Notification

URL = "/api/v1/notifications/"
NOTIFICATIONS = "notifications_notification"


@pytest.fixture
def inbox(dev_user, other_dev):
    for index in range(5):
        services.notify(recipients=[dev_user, other_dev], kind=Kind.EXPIRED, title=f"t{index}", body="b")
    services.notify(recipients=[dev_user], kind=Kind.PURGED, title="purged", body="b")
    for notification in Notification.objects.filter(recipient=dev_user, title__in=["t0", "t1", "t2"]):
        services.mark_read(user=dev_user, notification=notification)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{}, {"unread": "true"}, {"unread": "false"}, {"kind": "expired"}, {"ordering": "created_at"}]
)
def test_list_and_count_use_the_recipients_index(inbox, dev_client, mongo_commands, query):
    with mongo_commands() as seen:
        response = dev_client.get(URL, {**query, "page_size": 2})
    assert response.status_code == 200
    count, page = seen.named("aggregate", NOTIFICATIONS)
    assert_page_pipeline(page["pipeline"])
    assert stage_names(page["pipeline"]) == ["$match", "$sort", "$limit"]
    descending = -1 if query.get("ordering") != "created_at" else 1
    assert page["pipeline"][1] == {"$sort": {"created_at": descending, "_id": descending}}
    assert_uses_index(page)
    assert_uses_index(count)
    if "kind" not in query:
        assert_sorted_by_index(page)
    deliveries = seen.one("aggregate", "notifications_delivery")
    assert_uses_index(deliveries)
    assert stage_names(count["pipeline"])[0] == "$match"  # the same filter, counted on its index
    for command in (page, deliveries):
        assert_no_joins(command["pipeline"])
    assert len(seen.commands) == 3  # count, page, the page's deliveries


@pytest.mark.django_db
def test_unread_count_is_an_indexed_count(inbox, dev_client, dev_user, mongo_commands):
    services.mark_read(user=dev_user)
    services.notify(recipients=[dev_user], kind=Kind.EXPIRED, title="new", body="b")
    with mongo_commands() as seen:
        body = dev_client.get(URL, {"unread": "true"}).json()
    assert body["count"] == 1
    assert [row["title"] for row in body["results"]] == ["new"]
    count, page = seen.named("aggregate", NOTIFICATIONS)
    assert page["pipeline"][0] == {"$match": {"$and": [{"recipient_id": dev_user.pk}, {"read_at": None}]}}
    assert stage_names(count["pipeline"])[0] == "$match"
    assert_uses_index(count)
    assert_sorted_by_index(page)


@pytest.mark.django_db
def test_delivery_sweep_reads_the_due_index(inbox, mongo_commands):
    later = timezone.now() + timedelta(minutes=5)
    first = Notification.objects.filter(title="t0").values_list("pk", flat=True)
    Delivery.objects.filter(notification_id__in=list(first)).update(next_attempt_at=later + timedelta(hours=1))
    with mongo_commands() as seen:
        due = services.due_deliveries(now=later)
    assert len(due) == Delivery.objects.count() - 2
    query = seen.one("aggregate", "notifications_delivery")
    assert "$sort" not in stage_names(query["pipeline"])
    assert_no_joins(query["pipeline"])
    assert_uses_index(query)


@pytest.mark.django_db
def test_devops_users_without_join_or_distinct(devops_user, make_user, mongo_commands):
    make_user("ops2", "devops", is_active=False)
    with mongo_commands() as seen:
        assert [user.username for user in services.devops_users()] == ["ops1"]
    for command in seen.commands:
        assert_no_joins(command["pipeline"])


@pytest.mark.django_db
def test_a_review_queue_item_is_found_on_the_unread_index_and_rewritten_in_place(dev_user, other_dev, mongo_commands):
    services.notify_queue(recipients=[dev_user, other_dev], kind=Kind.REVIEW_REQUEST, title="1 waiting", body="a")
    with mongo_commands() as seen:
        rewritten = services.notify_queue(
            recipients=[dev_user, other_dev], kind=Kind.REVIEW_REQUEST, title="2 waiting", body="b"
        )
    assert rewritten == 2
    assert sorted(Notification.objects.values_list("title", flat=True)) == ["2 waiting", "2 waiting"]
    found = seen.named("aggregate", NOTIFICATIONS)
    assert len(found) == 2  # one look-up per reviewer, no scan
    for command in found:
        assert_no_joins(command["pipeline"])
        assert_uses_index(command)
    assert not seen.named("insert", NOTIFICATIONS)
