import pytest

from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest

URL = "/portal/environments/"
TABLE = "/portal/environments/table/"


@pytest.mark.django_db
def test_lists_only_my_requests_with_badge_time_left_and_cost(dev, make_request, other_dev, deploy):
    mine = deploy(make_request(description="my cluster"))
    make_request(description="someone else's", user=other_dev)
    page = dev.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "my cluster" in html
    assert "someone else" not in html
    assert 'class="badge ok" data-status="DEPLOYED"' in html
    assert f"/portal/requests/{mine.pk}/download/kubeconfig/" in html
    assert " h " in html or " d " in html  # time left
    assert "$0.0" in html  # cost so far in dollars with cents (just deployed)


@pytest.mark.django_db
def test_only_the_buttons_valid_now(dev, make_request, deploy):
    requested = make_request(description="waiting")
    html = dev.get(URL).content.decode()
    assert 'data-action="revoke"' in html
    assert 'data-action="purge"' not in html
    assert 'data-action="retry"' not in html
    deploy(requested)
    html = dev.get(URL).content.decode()
    assert 'data-action="revoke"' not in html
    assert 'data-action="purge"' in html
    assert 'data-action="extend"' in html
    ProvisionRequest.objects.filter(pk=requested.pk).update(status=RequestStatus.PURGED)
    html = dev.get(URL).content.decode()
    assert "data-action=" not in html
    assert "/download/" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["APPROVED", "INITIATED", "PURGE_INITIATED", "EXPIRED"])
def test_polls_while_something_is_working(dev, make_request, status):
    make_request(status=status)
    page = dev.get(URL).content.decode()
    assert 'hx-get="/portal/environments/table/"' in page
    assert 'hx-trigger="every 2s"' in page
    partial = dev.get(TABLE).content.decode()
    assert partial.startswith('<div id="environments-table" hx-get=')
    assert "<html" not in partial


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["REQUESTED", "DEPLOYED", "FAILED", "PURGED"])
def test_no_polling_when_nothing_is_working(dev, make_request, status):
    make_request(status=status)
    assert "hx-trigger" not in dev.get(URL).content.decode()
    partial = dev.get(TABLE).content.decode()  # the last poll swaps in a table that stops polling
    assert partial.startswith('<div id="environments-table">')
    assert "hx-get" not in partial


@pytest.mark.django_db
def test_revoke_from_the_list_comes_back_with_a_message(dev, make_request):
    request = make_request()
    response = dev.post(f"/portal/requests/{request.pk}/revoke/", {"next": URL, "confirmed": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REVOKED
    assert "Revoked: nothing will be created" in response.content.decode()


@pytest.mark.django_db
def test_purge_asks_first_naming_what_is_deleted_then_says_the_status_after(
    dev, make_request, deploy, provisioning_queue
):
    from django.utils.html import escape

    request = deploy(make_request(description="team cluster"))
    asked = dev.post(f"/portal/requests/{request.pk}/purge/", {"next": URL})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.DEPLOYED  # nothing done yet
    assert "Purge “team cluster”?" in page
    assert "deletes the cluster and its node groups" in page
    assert "cannot be undone" in page
    assert 'name="confirmed" value="yes"' in page
    assert f'href="{URL}"' in page  # "No, keep it" goes back where the button was
    for resource in request.plan["resources"]:
        assert escape(resource["summary"]) in page
    done = dev.post(f"/portal/requests/{request.pk}/purge/", {"next": URL, "confirmed": "yes"}, follow=True)
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.PURGE_INITIATED
    assert "Purging: the cluster and its node groups are being deleted." in done.content.decode()


@pytest.mark.django_db
def test_revoke_asks_first_and_retry_does_not(dev, make_request):
    request = make_request()
    page = dev.post(f"/portal/requests/{request.pk}/revoke/").content.decode()
    assert "Revoking withdraws the request" in page
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REQUESTED
    hostile = dev.post(f"/portal/requests/{request.pk}/revoke/", {"next": "javascript:alert(1)"}).content.decode()
    assert "javascript:" not in hostile


@pytest.mark.django_db
def test_a_refused_move_is_a_message_not_a_500(dev, make_request):
    request = make_request(status=RequestStatus.PURGED)
    response = dev.post(f"/portal/requests/{request.pk}/purge/", {"confirmed": "yes"}, follow=True)
    assert response.status_code == 200
    assert "Only" in response.content.decode() or "Cannot" in response.content.decode()
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.PURGED


@pytest.mark.django_db
def test_retry_when_the_policy_lets_the_requester(dev, make_request, provisioning_queue, settings):
    request = make_request(status=RequestStatus.FAILED)
    snapshot = request.template_snapshot
    snapshot.setdefault("policy", {})["requester_can_retry"] = False
    ProvisionRequest.objects.filter(pk=request.pk).update(template_snapshot=snapshot)
    assert 'data-action="retry"' not in dev.get(URL).content.decode()
    snapshot["policy"]["requester_can_retry"] = True
    ProvisionRequest.objects.filter(pk=request.pk).update(template_snapshot=snapshot)
    assert 'data-action="retry"' in dev.get(URL).content.decode()
    response = dev.post(f"/portal/requests/{request.pk}/retry/", follow=True)
    current = ProvisionRequest.objects.get(pk=request.pk).status
    if current != RequestStatus.APPROVED:  # refused (e.g. the provider is not configured): said so
        assert "Retrying cannot succeed" in response.content.decode()
    else:
        assert "Approved: provisioning starts now." in response.content.decode()


@pytest.mark.django_db
def test_extension_request(dev, make_request, deploy):
    request = deploy(make_request())
    response = dev.post(
        f"/portal/requests/{request.pk}/extension/", {"extend_by_hours": "2", "reason": "demo"}, follow=True
    )
    assert "Extension requested" in response.content.decode()
    request.refresh_from_db()
    assert request.extension_slot == "PENDING"
    assert 'data-action="extend"' not in dev.get(URL).content.decode()  # only the one
    bad = dev.post(f"/portal/requests/{request.pk}/extension/", {"extend_by_hours": "x", "reason": "r"}, follow=True)
    assert bad.status_code == 200
    assert "whole hours" in bad.content.decode()


@pytest.mark.django_db
def test_another_developers_request_is_a_404_for_every_action(login, other_dev, make_request, deploy):
    request = deploy(make_request())
    other = login(other_dev)
    for url in ("revoke/", "purge/", "retry/", "extension/"):
        assert other.post(f"/portal/requests/{request.pk}/{url}").status_code == 404
        assert other.post(f"/portal/requests/{request.pk}/{url}", {"confirmed": "yes"}).status_code == 404
    assert other.get(f"/portal/requests/{request.pk}/").status_code == 404
    assert other.get(f"/portal/requests/{request.pk}/download/kubeconfig/").status_code == 404
    assert other.get("/portal/requests/not-an-id/").status_code == 404
    assert not request.events.filter(action="download_kubeconfig").exists()


@pytest.mark.django_db
def test_list_query_count_does_not_grow(dev, make_request, deploy, django_assert_num_queries):
    for _ in range(2):
        deploy(make_request())
    make_request(status=RequestStatus.FAILED)
    # session, user, its roles (2), the page, its live intervals, its secrets' kinds, the unread count
    with django_assert_num_queries(8) as few:
        dev.get(URL)
    for _ in range(5):
        deploy(make_request())
        make_request(status=RequestStatus.INITIATED)
    with django_assert_num_queries(len(few.captured_queries)):
        dev.get(URL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page", [str(10**25), "99999999999999999999999", "1000000000000000000", "2", "0", "-1", "x", "1e3", "9" * 5000]
)
def test_a_page_that_is_no_page_is_a_404(dev, make_request, page):
    make_request()
    for url in (URL, TABLE):
        assert dev.get(url, {"page": page}).status_code == 404, url


@pytest.mark.django_db
def test_the_first_page_needs_no_number(dev, make_request):
    make_request()
    assert dev.get(URL).status_code == 200
    assert dev.get(URL, {"page": "1"}).status_code == 200
    assert dev.get(URL, {"page": ""}).status_code == 200
