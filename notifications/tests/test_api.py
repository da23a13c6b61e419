import pytest

from notifications import services
from notifications.choices import Kind
from notifications.models import Notification

URL = "/api/v1/notifications/"
SETTINGS_URL = "/api/v1/users/me/notification-settings/"


def _notify(user, kind=Kind.EXPIRED, title="t"):
    (notification,) = services.notify(recipients=[user], kind=kind, title=title, body="b")
    return notification


@pytest.mark.django_db
def test_own_notifications_only_unread_filter_and_marking_read(dev_client, dev_user, other_dev):
    first, second = _notify(dev_user, title="first"), _notify(dev_user, title="second")
    _notify(other_dev, title="not yours")
    listed = dev_client.get(URL).json()
    assert [row["title"] for row in listed["results"]] == ["second", "first"]
    assert listed["results"][0]["deliveries"] == [
        {"channel": "email", "status": "PENDING", "attempts": 0, "last_error": "", "sent_at": None}
    ]
    theirs = Notification.objects.get(title="not yours")
    assert dev_client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert dev_client.post(f"{URL}{theirs.pk}/read/").status_code == 404

    read = dev_client.post(f"{URL}{first.pk}/read/").json()
    assert read["read"] is True
    assert [row["title"] for row in dev_client.get(URL, {"unread": "true"}).json()["results"]] == ["second"]
    assert dev_client.post(f"{URL}read-all/").json() == {"marked": 1}
    assert dev_client.get(URL, {"unread": "true"}).json()["count"] == 0
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert second.read_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 8])
def test_list_query_count_does_not_grow(dev_client, dev_user, rows, django_assert_num_queries):
    for _ in range(rows):
        _notify(dev_user)
    with django_assert_num_queries(3):  # count, page, its deliveries
        assert len(dev_client.get(URL).json()["results"]) == rows


@pytest.mark.django_db
def test_notification_settings(dev_client, dev_user, anon_client):
    assert anon_client.get(SETTINGS_URL).status_code == 401
    initial = dev_client.get(SETTINGS_URL).json()
    assert initial["channels"] == {}
    assert initial["defaults"] == ["email", "in_app"]
    assert "expiry_warning" in initial["kinds"]
    changed = dev_client.patch(
        SETTINGS_URL,
        {"channels": {"expiry_warning": ["webhook", "email"]}, "webhook_url": "https://hooks.example.com/T/B/x"},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    merged = dev_client.patch(SETTINGS_URL, {"channels": {"purged": []}}, format="json").json()
    assert merged["channels"] == {"expiry_warning": ["webhook", "email"], "purged": []}
    assert services.channels_for(dev_user, Kind.PURGED) == []
    assert services.channels_for(dev_user, Kind.EXPIRED) == ["email", "in_app"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channels": {"nonsense": ["email"]}}, "channels.nonsense"),
        ({"channels": {"expired": ["pigeon"]}}, "channels.expired"),
        ({"channels": {"expired": "email"}}, "channels.expired"),
        ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_name_the_field(dev_client, body, field):
    response = dev_client.patch(SETTINGS_URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9302/metrics", "is a loopback"),
        ("http://localhost:8000/api/v1/", "resolves to a loopback"),
        ("http://[::1]/hook", "is a loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "is a loopback"),
        ("http://2130706433/hook", None),  # Django's URL validator already refuses these forms
        ("http://0177.0.0.1/hook", None),
        ("http://10.0.0.8/hook", "is a private"),
        ("http://192.168.1.1/hook", "is a private"),
        ("http://169.254.169.254/latest/meta-data/", "is a cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "is a cloud metadata"),
        ("http://100.64.1.1/hook", "is a shared (CGNAT)"),
    ],
)
def test_a_webhook_url_to_an_internal_address_is_a_400_when_saved(dev_client, dev_user, url, kind):
    response = dev_client.patch(SETTINGS_URL, {"webhook_url": url}, format="json")
    assert response.status_code == 400, response.json()
    (message,) = response.json()["fields"]["webhook_url"]
    if kind is not None:
        assert kind in message
        assert message.startswith("Address not allowed for webhooks: ")
    assert dev_client.get(SETTINGS_URL).json()["webhook_url"] == ""


@pytest.mark.django_db
def test_the_allow_list_lets_an_internal_webhook_url_be_saved(dev_client, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    settings.WEBHOOK_ALLOWED_HOSTS = [".hooks.internal"]
    for url in ["http://10.20.3.4/hook", "http://chat.hooks.internal/hook", "https://hooks.example.com/T/B/x"]:
        response = dev_client.patch(SETTINGS_URL, {"webhook_url": url}, format="json")
        assert response.status_code == 200, response.json()  # a name that does not resolve now: checked at send
    assert dev_client.patch(SETTINGS_URL, {"webhook_url": "http://10.21.0.1/"}, format="json").status_code == 400


@pytest.mark.django_db
def test_the_admin_refuses_a_role_webhook_to_the_metadata_service(client, admin_user):
    from django.contrib.auth.models import Group

    from conftest import PASSWORD
    from notifications.models import RoleWebhook

    assert client.login(username=admin_user.username, password=PASSWORD)
    role = Group.objects.get(name="dev")
    add = "/admin/notifications/rolewebhook/add/"
    response = client.post(add, {"role": str(role.pk), "url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 200
    assert "Address not allowed for webhooks" in response.content.decode()
    assert not RoleWebhook.objects.exists()
    response = client.post(add, {"role": str(role.pk), "url": "https://hooks.example.com/T/B/x"})
    assert response.status_code == 302
    assert RoleWebhook.objects.get().url == "https://hooks.example.com/T/B/x"


@pytest.mark.django_db
def test_admin_resends_a_failed_delivery(client, devops_user, dev_user):
    from conftest import PASSWORD
    from notifications.choices import DeliveryStatus
    from notifications.models import Delivery

    notification = _notify(dev_user)
    delivery = Delivery.objects.get(notification=notification)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8, last_error="boom")
    assert client.login(username=devops_user.username, password=PASSWORD)
    assert client.get("/admin/notifications/notification/").status_code == 200
    assert client.get(f"/admin/notifications/notification/{notification.pk}/change/").status_code == 200
    response = client.post(
        "/admin/notifications/delivery/",
        {"action": "resend_selected", "_selected_action": [str(delivery.pk)]},
        follow=True,
    )
    assert "1 delivery queued again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.PENDING, 0, "")


@pytest.mark.django_db
def test_a_slow_dns_server_does_not_hold_a_save(dev_client, monkeypatch):
    import socket
    import threading

    release = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def slow_getaddrinfo(host, *args, **kwargs):
        if host == "slow.hooks.test":
            release.wait(30)  # a resolver that never answers in time
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    try:
        response = dev_client.patch(SETTINGS_URL, {"webhook_url": "https://slow.hooks.test/x"}, format="json")
    finally:
        release.set()
    assert response.status_code == 200, response.json()  # saved: the send-time check decides
