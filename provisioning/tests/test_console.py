"""The DevOps console at a glance: pending counts on the index, the pending list's columns, the
summary card on a request's page, stale note pages, labels and money."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from conftest import PASSWORD
from provisioning import services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from quotas.models import Quota

REQUESTS = "/admin/provisioning/provisionrequest/"
EXTENSIONS = "/admin/provisioning/extensionrequest/"


@pytest.fixture
def ops(client, devops_user):
    assert client.login(username=devops_user.username, password=PASSWORD)
    return client


def _count(page: str, label: str) -> int:
    row = re.search(rf">{label}</a></th>\s*<td[^>]*><a[^>]*><strong class=\"pending-count\">(\d+)</strong>", page)
    assert row, page.split('id="pending-reviews"', 1)[-1][:1000]
    return int(row.group(1))


@pytest.mark.django_db
def test_the_index_opens_with_the_pending_review_counts(ops, make_request, live_request, dev_user):
    make_request()
    make_request()
    make_request(status=RequestStatus.APPROVED)
    services.request_extension(actor=dev_user, request=live_request, reason="demo", extend_by_hours=2)
    page = ops.get("/admin/").content.decode()
    assert page.index('id="pending-reviews"') < page.index('class="app-provisioning')  # at the top
    assert _count(page, "Provision requests") == 2
    assert _count(page, "Extension requests") == 1


@pytest.mark.django_db
def test_labels_are_proper_english(ops, admin_user, client):
    assert client.login(username=admin_user.username, password=PASSWORD)
    page = client.get("/admin/").content.decode()
    assert "Deliveries" in page
    assert "Deliverys" not in page
    assert "Notification settings" in page
    assert "settingss" not in page


@pytest.mark.django_db
def test_the_pending_list_shows_description_cost_requester_age_and_approvals(ops, make_request):
    pending = make_request(description="Team A staging cluster")
    ProvisionRequest.objects.filter(pk=pending.pk).update(cost_estimate={"usd": "1234.5", "line_items": []})
    response = ops.get(REQUESTS)
    page = response.content.decode()
    headers = [str(field) for field in response.context["cl"].list_display]
    for column in ("description_short", "estimated_cost", "requested_by", "age", "approval_progress"):
        assert column in headers
    assert len(headers) <= 9  # fits 1440 px
    assert "Team A staging cluster" in page
    assert "$1,234.50" in page
    assert "0/1" in page
    assert "dev1" in page


@pytest.mark.django_db
def test_the_request_page_opens_with_a_summary_card(ops, make_request, dev_user):
    Quota.objects.create(user=dev_user, usd_budget=Decimal("500"))
    pending = make_request(description="demo")
    page = ops.get(f"{REQUESTS}{pending.pk}/change/").content.decode()
    card = page.split('id="summary-card"', 1)[1].split('<fieldset class="module aligned', 1)[0]
    pending.refresh_from_db()
    total = Decimal(pending.cost_estimate["usd"])
    assert f"${total:,.2f}" in card
    assert "USD budget:" in card
    assert "of $500.00" in card
    assert 'role="progressbar"' in card
    assert "Needs 1 approval from different reviewers; 0 so far." in card
    assert "Review by " in card
    assert '<table class="line-items"' in card
    assert re.search(r"\$\d+\.\d{4} per [a-z]+-hour", card)  # a rate: dollars per unit
    assert "per USD" not in card
    assert "Estimated $" in card  # the analysis, as sentences
    assert "headroom" not in card  # the live bar says it
    assert page.index('id="summary-card"') < page.index("Raw JSON")
    assert "<details><summary>Raw JSON</summary>" in page


@pytest.mark.django_db
def test_a_stale_note_page_does_not_offer_the_move(ops, make_request, devops_user, provisioning_queue):
    pending = make_request()
    fresh = make_request()
    services.approve_request(actor=devops_user, request=pending, note="")  # meanwhile, elsewhere
    page = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": [str(pending.pk)]}).content.decode()
    assert 'value="Approve"' not in page
    assert "No longer possible to approve" in page
    assert "Nothing left to approve." in page

    both = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": [str(pending.pk), str(fresh.pk)]})
    page = both.content.decode()
    assert 'value="Approve"' in page
    form = page.split('<form method="post">', 1)[1]
    assert f'value="{fresh.pk}"' in form
    assert f'value="{pending.pk}"' not in form


@pytest.mark.django_db
def test_quota_and_price_screens_show_dollars(client, admin_user, dev_user, templates):
    assert client.login(username=admin_user.username, password=PASSWORD)
    Quota.objects.create(user=dev_user, usd_budget=Decimal("50"))
    assert "$50.00" in client.get("/admin/quotas/quota/").content.decode()
    assert re.search(r"\$\d+\.\d{4}", client.get("/admin/quotas/instanceprice/").content.decode())


@pytest.mark.django_db
def test_the_summary_card_shows_what_the_request_creates_above_the_line_items(ops, make_request):
    from django.utils.html import escape

    pending = make_request(description="demo")
    summaries = [resource["summary"] for resource in pending.plan["resources"]]
    assert summaries
    page = ops.get(f"{REQUESTS}{pending.pk}/change/").content.decode()
    card = page.split('id="summary-card"', 1)[1].split('<fieldset class="module aligned', 1)[0]
    assert f"What it creates ({pending.plan['provider']})</h3>" in card
    plan = card.split('<ul class="plan"', 1)[1].split("</ul>", 1)[0]
    assert [f"<li>{escape(summary)}</li>" for summary in summaries] == [
        f"<li>{item.strip()}" for item in plan.split("<li>")[1:]
    ]
    if '<table class="line-items"' in card:
        assert card.index('<ul class="plan"') < card.index('<table class="line-items"')
