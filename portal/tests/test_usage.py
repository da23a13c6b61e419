import pytest

from quotas.models import Quota


@pytest.mark.django_db
def test_usage_bars_and_spend_chart(dev, dev_user, make_request, deploy):
    Quota.objects.create(user=dev_user, quota_type="PERMANENT", usd_budget=500, max_live_environments=3)
    request = deploy(make_request())
    html = dev.get("/portal/usage/").content.decode()
    assert 'data-dimension="usd"' in html
    assert 'data-dimension="live_environments"' in html
    assert 'data-dimension="machine_hours"' in html
    assert 'role="progressbar"' in html
    assert "of $500.00" in html
    assert "<svg" in html
    assert f'data-request="{request.pk}"' in html  # this month's spend per request


@pytest.mark.django_db
def test_usage_without_spend_says_so(dev):
    html = dev.get("/portal/usage/").content.decode()
    assert "Nothing spent this month yet." in html


@pytest.mark.django_db
def test_usage_rows_are_named_by_description_and_reserved_is_apart_from_used(dev, dev_user, make_request, deploy):
    Quota.objects.create(user=dev_user, quota_type="PERMANENT", usd_budget=500, max_live_environments=3)
    first = deploy(make_request(description="Ingress trial"))
    second = deploy(make_request())
    html = dev.get("/portal/usage/").content.decode()
    assert ">Ingress trial</text>" in html
    assert f">basic-eks-cluster ({str(second.pk)[-6:]})</text>" in html  # no description: told apart by id
    assert f'data-request="{first.pk}"' in html
    assert "machine-hours reserved" in html
    assert "machine-hours used so far" in html
    assert "reserved of $500.00" in html
    assert "Consumed so far by what is outstanding" not in html
