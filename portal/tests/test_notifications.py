import pytest

from notifications import services
from notifications.choices import Kind
from notifications.models import Notification

URL = "/portal/notifications/"


@pytest.fixture
def inbox(dev_user, make_request):
    request = make_request()
    services.notify(recipients=[dev_user], kind=Kind.EXPIRED, title="first", body="b", provision_request=request)
    services.notify(recipients=[dev_user], kind=Kind.EXPIRED, title="second", body="b")
    return request


@pytest.mark.django_db
def test_bell_shows_the_unread_count_on_every_page(dev, inbox):
    for page in ("/portal/environments/", URL, "/portal/usage/", f"/portal/requests/{inbox.pk}/"):
        assert 'data-unread="2"' in dev.get(page).content.decode(), page


@pytest.mark.django_db
def test_list_links_to_the_request_and_mark_read(dev, dev_user, inbox):
    html = dev.get(URL).content.decode()
    assert "first" in html
    assert "second" in html
    assert f'href="/portal/requests/{inbox.pk}/"' in html
    first = Notification.objects.get(title="first")
    assert dev.post(f"/portal/notifications/{first.pk}/read/")["Location"] == URL
    first.refresh_from_db()
    assert first.read_at is not None
    assert 'data-unread="1"' in dev.get(URL).content.decode()
    response = dev.post("/portal/notifications/read-all/", follow=True)
    assert "Marked 1 notification read" in response.content.decode()
    assert not Notification.objects.filter(recipient=dev_user, read_at=None).exists()
    assert "data-unread" not in response.content.decode()


@pytest.mark.django_db
def test_someone_elses_notification_is_a_404(login, other_dev, inbox):
    first = Notification.objects.get(title="first")
    assert login(other_dev).post(f"/portal/notifications/{first.pk}/read/").status_code == 404
    assert login(other_dev).post("/portal/notifications/nope/read/").status_code == 404
    first.refresh_from_db()
    assert first.read_at is None
    assert "first" not in login(other_dev).get(URL).content.decode()


@pytest.mark.django_db
def test_unread_count_is_one_indexed_count(dev, inbox, mongo_commands):
    with mongo_commands() as seen:
        dev.get("/portal/usage/")
    counts = list(seen.on("notifications_notification"))
    assert len(counts) == 1
    assert counts[0]["name"] in ("count", "aggregate")
    assert "$lookup" not in str(counts[0]["command"])


@pytest.mark.django_db
@pytest.mark.parametrize("page", [str(10**25), "1000000000000000000", "2", "0", "-1", "x"])
def test_a_page_that_is_no_page_is_a_404(dev, inbox, page):
    assert dev.get(URL, {"page": page}).status_code == 404


@pytest.mark.django_db
def test_the_second_page_exists_when_there_are_rows_for_it(dev, dev_user, monkeypatch):
    from portal.views import notifications as view

    monkeypatch.setattr(view, "PAGE_SIZE", 1)
    for title in ("a", "b"):
        services.notify(recipients=[dev_user], kind=Kind.EXPIRED, title=title, body="b")
    second = dev.get(URL, {"page": "2"})
    assert second.status_code == 200
    assert '<a href="?page=1">' in second.content.decode()
    assert dev.get(URL, {"page": "3"}).status_code == 404
