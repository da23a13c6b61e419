from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from cloudassist import roles
from cloudassist.services import ensure_roles
from conftest import PASSWORD
from quotas.models import DiskPrice, InstancePrice, ServicePrice

LISTS = ["/admin/quotas/instanceprice/", "/admin/quotas/diskprice/", "/admin/quotas/serviceprice/"]


@pytest.fixture
def browser_for(client, make_user):
    def login(*role_names: str):
        user = make_user(f"user-{'-'.join(role_names)}", *role_names)
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return login


@pytest.mark.django_db
def test_roles_carry_the_pricing_permissions():
    ensure_roles()
    devops = set(Group.objects.get(name=roles.DEVOPS).permissions.values_list("codename", flat=True))
    admins = set(Group.objects.get(name=roles.ADMIN).permissions.values_list("codename", flat=True))
    views = {"view_instanceprice", "view_diskprice", "view_serviceprice"}
    edits = {
        f"{verb}_{model}" for verb in ("add", "change") for model in ("instanceprice", "diskprice", "serviceprice")
    }
    assert views <= devops
    assert not edits & devops
    assert views | edits <= admins
    assert not {code for code in admins if code.startswith("delete_") and code.endswith("price")}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.DEVOPS, roles.ADMIN])
def test_pricing_lists_filters_and_search_load(pricing, browser_for, role):
    browser = browser_for(role)
    for url in LISTS:
        assert browser.get(url).status_code == 200
    page = browser.get(LISTS[0], {"region": "eu-west-1", "family": "m5"}).content.decode()
    assert "m5.large" in page
    assert "$0.1070" in page  # the price, in dollars
    assert "$78.11" in page  # USD per month: 0.107 x 730
    assert "t3.medium" not in page
    assert "instance family" in page
    searched = browser.get(LISTS[0], {"q": "r5.2xlarge"}).content.decode()
    assert "7 instance prices" in searched  # one per region
    assert "gp3" in browser.get(LISTS[1], {"disk_type": "gp3", "source": "seed"}).content.decode()
    assert "eks-control-plane" in browser.get(LISTS[2], {"q": "eks"}).content.decode()


@pytest.mark.django_db
def test_devops_view_but_cannot_change_prices(pricing, browser_for):
    browser = browser_for(roles.DEVOPS)
    price = InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1")
    url = f"/admin/quotas/instanceprice/{price.pk}/change/"
    assert browser.get(url).status_code == 200  # read-only view
    response = browser.post(url, _instance_form(price, usd_per_hour="0.01"))
    assert response.status_code == 403
    assert browser.get("/admin/quotas/instanceprice/add/").status_code == 403
    assert InstancePrice.objects.get(pk=price.pk).usd_per_hour == Decimal("0.0416")


@pytest.mark.django_db
def test_developers_cannot_reach_the_admin(pricing, browser_for):
    browser = browser_for(roles.DEV)
    assert browser.get(LISTS[0]).status_code == 302  # to the login page: developers are not staff


def _instance_form(price: InstancePrice, **overrides) -> dict:
    data = {
        "instance_type": price.instance_type,
        "region": price.region,
        "pricing_model": price.pricing_model,
        "operating_system": price.operating_system,
        "usd_per_hour": str(price.usd_per_hour),
        "vcpus": str(price.vcpus),
        "memory_gib": str(price.memory_gib),
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_admins_correct_a_price_which_marks_it_as_edited(pricing, browser_for):
    browser = browser_for(roles.ADMIN)
    price = InstancePrice.objects.get(instance_type="m5.large", region="us-east-1")
    url = f"/admin/quotas/instanceprice/{price.pk}/change/"
    assert browser.get(url).status_code == 200
    assert browser.post(url, _instance_form(price, usd_per_hour="0.097")).status_code == 302
    price.refresh_from_db()
    assert (price.usd_per_hour, price.source) == (Decimal("0.097"), "admin")

    disk = DiskPrice.objects.get(disk_type="gp2", region="us-east-1")
    form = {"disk_type": "gp2", "region": "us-east-1", "usd_per_gb_month": "0.10"}
    assert browser.post(f"/admin/quotas/diskprice/{disk.pk}/change/", form).status_code == 302
    disk.refresh_from_db()
    assert disk.source == "seed"  # nothing changed, so it is still the seed price


@pytest.mark.django_db
def test_admins_add_prices_and_duplicates_are_refused(pricing, browser_for):
    browser = browser_for(roles.ADMIN)
    form = {"service": "eks-control-plane", "region": "sa-east-1", "usd_per_hour": "0.10"}
    assert browser.post("/admin/quotas/serviceprice/add/", form).status_code == 302
    added = ServicePrice.objects.get(service="eks-control-plane", region="sa-east-1")
    assert (added.usd_per_hour, added.source) == (Decimal("0.1"), "admin")
    duplicate = browser.post("/admin/quotas/serviceprice/add/", {**form, "region": "us-east-1"})
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()
    negative = browser.post("/admin/quotas/serviceprice/add/", {**form, "region": "ca-central-1", "usd_per_hour": "-1"})
    assert negative.status_code == 200
    assert not ServicePrice.objects.filter(region="ca-central-1").exists()
    assert browser.get("/admin/quotas/instanceprice/add/").status_code == 200
