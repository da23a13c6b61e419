import re
from datetime import UTC

import pytest

from portal.tests.conftest import KUBECONFIG
from provisioning import services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest


def url(request, tail: str = "") -> str:
    return f"/portal/requests/{request.pk}/{tail}"


@pytest.mark.django_db
def test_request_page_shows_parameters_estimate_timeline_and_approvals(dev, make_request, deploy):
    request = deploy(make_request(description="team cluster"))
    html = dev.get(url(request)).content.decode()
    assert "team cluster" in html
    assert "team-a-dev" in html  # a parameter
    total = request.cost_estimate["usd"]
    assert f'<th class="total">${total}</th>' in html  # the estimate's total, dollars with cents
    assert html.count('<tr><td data-label="Item">') >= len(request.cost_estimate["line_items"])
    assert "ops1" in html  # who approved, in the timeline and the approvals
    assert "1 of 1 approval" in html
    assert "mark deployed" in html
    assert "APPROVED &rarr; INITIATED" in html
    assert url(request, "download/kubeconfig/") in html


@pytest.mark.django_db
def test_failure_reason_and_extension_state(dev, make_request, deploy):
    failed = make_request(status=RequestStatus.FAILED)
    ProvisionRequest.objects.filter(pk=failed.pk).update(failure_reason="quota of EC2 vCPUs")
    assert "quota of EC2 vCPUs" in dev.get(url(failed)).content.decode()
    live = deploy(make_request())
    services.request_extension(actor=live.requested_by, request=live, extend_by_hours=3, reason="demo tomorrow")
    html = dev.get(url(live)).content.decode()
    assert "An extension request is pending review" in html
    assert "demo tomorrow" in html
    assert "+3 hours" in html


@pytest.mark.django_db
def test_the_request_page_speaks_words(dev, make_request, deploy):
    """Issue 25: labels from the schema, local times with the exact one on hover, a rate's unit
    written once and its digits kept, plurals."""
    request = deploy(make_request(description="team cluster"))
    html = dev.get(url(request)).content.decode()
    assert '<dt>Cluster name</dt><dd data-parameter="cluster_name">' in html  # not cluster_name
    assert "<dt>Desired capacity</dt>" in html
    assert "<dt>cluster_name</dt>" not in html
    created = request.created_at.astimezone(UTC)
    assert f'<time datetime="{created.isoformat(timespec="seconds")}" title="{created:%A}' in html
    assert re.search(r'ops1 on <time datetime="[^"]+" title="[^"]+" data-local="true">\d+ \w{3}', html)
    assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:", re.sub(r'datetime="[^"]*"', "", html))  # no raw ISO times
    items = request.cost_estimate["line_items"]
    instance = next(item for item in items if item["rate_unit"] == "USD per instance-hour")
    assert f"${instance['usd_rate']} per instance-hour" in html  # all its digits: $0.0416, not $0.04
    assert "USD per" not in html
    assert " / " not in html
    assert "1 cluster \N{MULTIPLICATION SIGN} 8 hours" in html
    assert "1 clusters" not in html
    assert "Total for 8 hours" in html
    assert "Available: you may ask once for more time." in html
    assert '<script src="/static/portal/localtime.js" defer></script>' in html


@pytest.mark.django_db
def test_booleans_read_yes_or_no_and_a_bucket_is_billed_by_use(dev, make_request, templates):
    bucket = make_request(template=templates["s3-bucket"], parameters={"bucket": "team-data", "versioning": True})
    html = dev.get(url(bucket)).content.decode()
    assert '<dt>Versioning</dt><dd data-parameter="versioning">Yes</dd>' in html
    assert '<dt>Bucket name</dt><dd data-parameter="bucket">team-data</dd>' in html
    assert "billed by use" in html
    assert "No estimate." not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "says"),
    [
        (RequestStatus.REJECTED, "Not available: the request was rejected."),
        (RequestStatus.REQUESTED, "Not yet: an extension can be asked for once the request is approved."),
        (RequestStatus.PURGED, "Not available: the environment was purged."),
    ],
)
def test_the_extension_section_matches_the_status(dev, make_request, status, says):
    html = dev.get(url(make_request(status=status))).content.decode()
    assert says in html
    assert "<p>Available.</p>" not in html


@pytest.mark.django_db
def test_download_is_audited_and_only_for_those_who_may_see_it(
    dev, login, other_dev, devops_user, make_request, deploy
):
    request = deploy(make_request())
    response = dev.get(url(request, "download/kubeconfig/"))
    assert response.status_code == 200
    assert response.content.decode() == KUBECONFIG
    assert response["Cache-Control"] == "no-store"
    assert "attachment" in response["Content-Disposition"]
    assert request.events.filter(action="download_kubeconfig", actor_name="dev1").count() == 1
    assert login(other_dev).get(url(request, "download/kubeconfig/")).status_code == 404
    assert login(devops_user).get(url(request, "download/kubeconfig/")).status_code == 200  # as the API


@pytest.mark.django_db
def test_the_wrong_kind_or_no_secret_is_a_message(dev, make_request, deploy):
    request = deploy(make_request())
    response = dev.get(url(request, "download/credentials/"), follow=True)
    assert response.redirect_chain[-1][0] == url(request)
    assert "not a credentials" in response.content.decode()
    assert dev.get(url(request, "download/passwords/")).status_code == 404
    waiting = make_request()
    assert "No kubeconfig" in dev.get(url(waiting, "download/kubeconfig/"), follow=True).content.decode()


@pytest.mark.django_db
def test_reviewers_see_every_request_developers_only_their_own(login, devops_user, other_dev, make_request):
    request = make_request()
    assert login(devops_user).get(url(request)).status_code == 200
    assert login(other_dev).get(url(request)).status_code == 404


@pytest.mark.django_db
def test_action_buttons_on_the_page_and_next_stays_on_the_site(dev, make_request):
    request = make_request()
    html = dev.get(url(request)).content.decode()
    assert 'data-action="revoke"' in html
    response = dev.post(url(request, "revoke/"), {"next": "https://evil.example/", "confirmed": "yes"})
    assert response["Location"] == url(request)
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REVOKED
    assert dev.post(url(request, "explode/")).status_code == 404
    assert dev.get(url(request, "revoke/")).status_code == 405


@pytest.mark.django_db
def test_request_page_polls_while_working(dev, make_request):
    request = make_request(status=RequestStatus.INITIATED)
    assert 'hx-select="#request-status"' in dev.get(url(request)).content.decode()
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DEPLOYED)
    assert "hx-trigger" not in dev.get(url(request)).content.decode()


@pytest.mark.django_db
def test_request_page_shows_what_will_be_and_what_was_created(dev, make_request, deploy):
    from django.utils.html import escape

    request = make_request(description="team cluster")
    summaries = [resource["summary"] for resource in request.plan["resources"]]
    assert summaries
    html = dev.get(url(request)).content.decode()
    assert '<h2 id="plan-heading">What will be created</h2>' in html
    plan_section = html[html.index('id="plan-heading"') : html.index("</section>", html.index('id="plan-heading"'))]
    assert '<ul class="plan">' in plan_section
    for summary in summaries:
        assert f">{escape(summary)}</li>" in plan_section

    deploy(request)
    html = dev.get(url(request)).content.decode()
    assert '<h2 id="plan-heading">What was created</h2>' in html
    for summary in summaries:
        assert f">{escape(summary)}</li>" in html

    ProvisionRequest.objects.filter(pk=request.pk).update(plan=None)  # from before plans were kept
    assert "No plan was recorded for this request" in dev.get(url(request)).content.decode()


@pytest.mark.django_db
def test_a_request_halfway_through_four_eyes_says_it_waits_for_another_reviewer(dev, make_request, devops_user):
    request = make_request()
    ProvisionRequest.objects.filter(pk=request.pk).update(required_approvals=2)
    request.refresh_from_db()
    services.approve_request(actor=devops_user, request=request, note="one")
    html = dev.get(url(request)).content.decode()
    assert "Approval 1 of 2 recorded; waiting for another reviewer." in html
