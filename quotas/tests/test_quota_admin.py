from decimal import Decimal

import pytest

from quotas.models import Quota, UsageLedger

QUOTAS = "/admin/quotas/quota/"


@pytest.fixture
def admin_browser(client, admin_user):
    from conftest import PASSWORD

    assert client.login(username=admin_user.username, password=PASSWORD)
    return client


def _form(**overrides):
    data = {
        "user": "",
        "role": "",
        "quota_type": "PERMANENT",
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "max_live_environments": "3",
        "usd_budget": "100.00",
        "machine_hours": "",
        "disk_gb_hours": "",
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_admin_allocates_updates_and_ends_quotas(admin_browser, dev_user):
    response = admin_browser.post(f"{QUOTAS}add/", _form(user=str(dev_user.pk)))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    quota = Quota.objects.get(user=dev_user)
    assert (quota.max_live_environments, quota.usd_budget, quota.created_by.username) == (3, Decimal("100"), "admin1")

    changed = admin_browser.post(f"{QUOTAS}{quota.pk}/change/", _form(user=str(dev_user.pk), usd_budget="50"))
    assert changed.status_code == 302
    quota.refresh_from_db()
    assert quota.usd_budget == Decimal("50")

    ended = admin_browser.post(QUOTAS, {"action": "end_selected", "_selected_action": [str(quota.pk)]}, follow=True)
    assert "Ended 1 quota(s)." in ended.content.decode()
    quota.refresh_from_db()
    assert quota.ended_at is not None
    assert admin_browser.get(f"{QUOTAS}{quota.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_admin_form_shows_the_quota_rules(admin_browser, dev_user):
    from django.contrib.auth.models import Group

    dev_role = Group.objects.get(name="dev")
    both = admin_browser.post(f"{QUOTAS}add/", _form(user=str(dev_user.pk), role=str(dev_role.pk)))
    assert "Give exactly one of user or role." in both.content.decode()
    no_window = admin_browser.post(f"{QUOTAS}add/", _form(user=str(dev_user.pk), quota_type="TEMPORARY"))
    assert "Required for a TEMPORARY quota." in no_window.content.decode()
    assert not Quota.objects.exists()


@pytest.mark.django_db
def test_usage_pages_for_devops(client, devops_user, make_request, dev_user):
    from conftest import PASSWORD

    Quota.objects.create(user=dev_user, max_live_environments=2)
    make_request()
    assert client.login(username=devops_user.username, password=PASSWORD)
    assert client.get(QUOTAS).status_code == 200
    assert client.get(f"{QUOTAS}add/").status_code == 403  # DevOps view quotas; admins allocate
    ledger = UsageLedger.objects.get(user=dev_user)
    listing = client.get("/admin/quotas/usageledger/").content.decode()
    assert "dev1" in listing
    page = client.get(f"/admin/quotas/usageledger/{ledger.pk}/change/").content.decode()
    assert "Quota from: user" in page
    assert "<td>live_environments</td><td>2</td><td>1</td><td>1</td>" in page
