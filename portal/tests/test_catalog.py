"""The catalog, the request form drawn from the template's schema, its live estimate."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from provisioning.models import ProvisionRequest
from quotas import services as quota_services
from templates.models import Template

EKS_URL = "/portal/catalog/basic-eks-cluster/"
EKS_FORM = {
    "p-cluster_name": "team-a-dev",
    "p-region": "eu-west-1",
    "p-instance_type": "t3.medium",
    "p-desired_capacity": "2",
    "p-volume_size": "20",
    "description": "Try the new ingress",
    "request_type": "TEMPORARY",
    "lifetime_hours": "8",
}


@pytest.fixture
def dev(dev_user, templates):
    client = Client()
    client.force_login(dev_user)
    return client


def _budget(user, usd: str):
    return quota_services.create_quota(actor=None, user=user, usd_budget=Decimal(usd), max_live_environments=3)


def _field(html: str, name: str) -> str:
    """The markup of one field's block (label, input, help, errors)."""
    match = re.search(rf'<div class="field[^"]*" id="field-{re.escape(name)}">(.*?)\n</div>', html, re.S)
    assert match, f"no field {name}"
    return match.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/portal/catalog/", f"{EKS_URL}request/", f"{EKS_URL}estimate/"],
)
def test_anonymous_users_are_sent_to_the_login_page(url):
    response = Client().get(url) if "estimate" not in url else Client().post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={url}")


@pytest.mark.django_db
def test_the_catalog_lists_active_templates_with_typical_cost_and_lifetimes(dev, django_assert_max_num_queries):
    Template.objects.filter(pk="ec2-instance").update(is_active=False)
    with django_assert_max_num_queries(8):  # session, user, templates; prices: EKS 3, namespace 1, S3 none; the bell
        page = dev.get("/portal/catalog/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Basic EKS cluster" in html
    assert "Kubernetes cluster</span>" in html
    assert "EC2 instances" not in html  # inactive
    eks = html[html.index('id="template-basic-eks-cluster"') :]
    eks = eks[: eks.index("</section>")]
    assert re.search(r"\$\d+\.\d\d</strong>", eks), eks  # dollars with cents
    assert "8 hours by default, at most 168 hours" in eks
    assert f'href="{EKS_URL}request/"' in eks
    bucket = html[html.index('id="template-s3-bucket"') :]
    assert "not estimated in advance" in bucket[: bucket.index("</section>")]


@pytest.mark.django_db
def test_unavailable_templates_say_developer_words_and_devops_see_the_setting(dev, login, devops_user, settings):
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""

    def namespace_card(client) -> str:
        html = client.get("/portal/catalog/").content.decode()
        card = html[html.index('id="template-dev-namespace"') :]
        return card[: card.index("</section>")]

    namespace = namespace_card(dev)
    assert "Unavailable" in namespace
    assert "Not available yet; your platform team has been told." in namespace
    assert "SHARED_CLUSTER_KUBECONFIG" not in namespace
    assert "/portal/catalog/dev-namespace/request/" not in namespace
    assert "SHARED_CLUSTER_KUBECONFIG" in namespace_card(login(devops_user))


@pytest.mark.django_db
def test_the_form_is_drawn_from_the_schema(dev, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # session, user, template; the bell
        page = dev.get(f"{EKS_URL}request/")
    assert page.status_code == 200
    html = page.content.decode()
    region = _field(html, "p-region")
    assert "<select" in region
    assert '<option value="us-east-1" selected>' in region
    capacity = _field(html, "p-desired_capacity")
    assert 'type="number"' in capacity
    assert 'min="1"' in capacity
    assert 'max="10"' in capacity
    assert 'value="2"' in capacity
    name = _field(html, "p-cluster_name")
    assert 'class="required-mark"' in name
    assert "lower-case letters, digits and hyphens" in name
    lifetime = _field(html, "lifetime_hours")
    assert '<option value="8" selected>' in lifetime
    assert 'value="168"' in lifetime
    assert 'value="336"' not in lifetime
    assert f'hx-post="{EKS_URL}estimate/"' in html


@pytest.mark.django_db
def test_a_bad_value_is_refused_beside_its_field_then_a_good_one_is_submitted(dev, dev_user, provisioning_queue):
    bad_values = {**EKS_FORM, "p-cluster_name": "Bad_Name", "p-desired_capacity": "99"}
    bad = dev.post(
        f"{EKS_URL}request/",
        bad_values,
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert (
        "Cluster name must match the required format: lower-case letters, digits and hyphens, starting with a letter."
        in _field(html, "p-cluster_name")
    )
    assert "does not match" not in html
    assert "^[a-z]" not in html
    assert "Desired capacity must be at most 10." in _field(html, "p-desired_capacity")
    assert 'value="Bad_Name"' in html  # what was typed is kept
    assert not ProvisionRequest.objects.exists()

    before = timezone.now()
    good = dev.post(f"{EKS_URL}request/", EKS_FORM)
    assert good.status_code == 302, good.content.decode()
    created = ProvisionRequest.objects.get()
    assert good["Location"] == f"/portal/requests/{created.pk}/"
    assert created.requested_by_id == dev_user.pk
    assert created.parameters == {
        "cluster_name": "team-a-dev",
        "region": "eu-west-1",
        "instance_type": "t3.medium",
        "desired_capacity": 2,
        "volume_size": 20,
    }
    assert created.description == "Try the new ingress"
    assert (
        before + timedelta(hours=8) - timedelta(seconds=5) < created.expires_at <= timezone.now() + timedelta(hours=8)
    )


@pytest.mark.django_db
def test_a_missing_required_value_is_named_by_its_label(dev):
    response = dev.post(f"{EKS_URL}request/", {**EKS_FORM, "p-cluster_name": ""})
    assert response.status_code == 400
    assert "Cluster name is required." in _field(response.content.decode(), "p-cluster_name")
    assert "required property" not in response.content.decode()


@pytest.mark.django_db
def test_permanent_requests_need_no_lifetime(dev):
    response = dev.post(f"{EKS_URL}request/", {**EKS_FORM, "request_type": "PERMANENT"})
    assert response.status_code == 302
    assert ProvisionRequest.objects.get().expires_at is None


@pytest.mark.django_db
def test_over_quota_is_a_form_error_not_a_500(dev, dev_user):
    _budget(dev_user, "1.00")
    response = dev.post(f"{EKS_URL}request/", EKS_FORM)
    assert response.status_code == 400
    assert "This would exceed your quota" in response.content.decode()
    assert not ProvisionRequest.objects.exists()


@pytest.mark.django_db
def test_an_unavailable_template_says_why_and_creates_nothing(dev, settings):
    NAMESPACE_FORM = {"p-namespace": "team-a", "request_type": "TEMPORARY", "lifetime_hours": "24"}
    settings.SHARED_CLUSTER_KUBECONFIG_DATA = ""
    page = dev.get("/portal/catalog/dev-namespace/request/")
    assert page.status_code == 200
    assert "Not available yet; your platform team has been told." in page.content.decode()
    assert "SHARED_CLUSTER_KUBECONFIG" not in page.content.decode()
    response = dev.post(
        "/portal/catalog/dev-namespace/request/",
        NAMESPACE_FORM,
    )
    assert response.status_code == 400
    assert "cannot be requested now: Not available yet" in response.content.decode()
    assert "SHARED_CLUSTER_KUBECONFIG" not in response.content.decode()
    assert not ProvisionRequest.objects.exists()


@pytest.mark.django_db
def test_inactive_or_unknown_templates_are_not_found(dev):
    Template.objects.filter(pk="ec2-instance").update(is_active=False)
    assert dev.get("/portal/catalog/ec2-instance/request/").status_code == 404
    assert dev.post("/portal/catalog/ec2-instance/estimate/", {}).status_code == 404
    assert dev.get("/portal/catalog/nope/request/").status_code == 404


@pytest.mark.django_db
def test_reviewers_may_request_too(devops_user, templates, provisioning_queue):
    client = Client()
    client.force_login(devops_user)
    assert client.get("/portal/catalog/").status_code == 200
    assert client.post(f"{EKS_URL}request/", EKS_FORM).status_code == 302


# --- the live estimate ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_estimate_shows_line_items_total_and_what_the_quota_keeps(dev, dev_user, django_assert_max_num_queries):
    _budget(dev_user, "50")
    with django_assert_max_num_queries(11):
        response = dev.post(f"{EKS_URL}estimate/", EKS_FORM)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a partial
    assert re.search(r"EKS control plane [a-z0-9-]+ \(eu-west-1\)", html)
    assert "2 x t3.medium" in html
    total = re.search(r'<th class="num total">\$(\d+\.\d\d)</th>', html)
    assert total, html
    left = Decimal("50") - Decimal(total.group(1))
    assert f"${left:.2f} of your $50.00 left after this request" in html
    assert "would exceed your quota" not in html


@pytest.mark.django_db
def test_the_estimate_follows_the_values(dev):
    small = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-desired_capacity": "1"})
    large = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-desired_capacity": "5"})
    total = re.compile(r'<th class="num total">\$([\d,]+\.\d\d)</th>')
    assert Decimal(total.search(small.content.decode()).group(1)) < Decimal(
        total.search(large.content.decode()).group(1)
    )
    assert "No quota limits apply to you" in small.content.decode()


@pytest.mark.django_db
def test_the_estimate_warns_before_submitting_when_over_quota(dev, dev_user):
    _budget(dev_user, "1.00")
    html = dev.post(f"{EKS_URL}estimate/", EKS_FORM).content.decode()
    assert "This request would exceed your quota." in html
    assert re.search(r"\$\d+\.\d\d over your \$1\.00 with this request", html), html


@pytest.mark.django_db
def test_an_incomplete_form_is_priced_so_far_with_what_to_fix(dev):
    html = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-cluster_name": ""}).content.decode()
    # A required field not filled in yet is no error (it may not have been touched): only what is still needed.
    assert "The price of what is filled in so far; still needed: Cluster name." in html
    assert "errorlist" not in html
    assert "required" not in html
    assert re.search(r"EKS control plane [a-z0-9-]+ \(eu-west-1\)", html)
    assert "Not a number" not in html
    html = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-desired_capacity": "many"}).content.decode()
    assert "Fix these to see the price" in html
    assert "<li>Desired capacity: Enter a whole number.</li>" in html  # named by its label, not p-desired_capacity


@pytest.mark.django_db
def test_the_estimate_of_an_untouched_form_shows_no_errors(dev):
    html = dev.post(f"{EKS_URL}estimate/", {"request_type": "TEMPORARY", "lifetime_hours": "8"}).content.decode()
    assert "errorlist" not in html
    assert "cluster_name" not in html
    assert "still needed: Cluster name." in html


@pytest.mark.django_db
def test_the_estimate_of_a_bad_value_lists_what_to_fix(dev):
    html = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-desired_capacity": "99"}).content.decode()
    assert "The price of what is filled in so far. Fix these before submitting" in html
    assert "<li>Desired capacity must be at most 10.</li>" in html
    assert not ProvisionRequest.objects.exists()


@pytest.mark.django_db
def test_the_live_estimate_shows_what_the_request_would_create(dev, dev_user):
    from django.utils.html import escape

    from portal.forms.request import RequestForm
    from provisioning import services

    template = Template.objects.get(pk="basic-eks-cluster")
    form = RequestForm(template, EKS_FORM)
    assert form.is_valid()
    planned = services.estimate_request(actor=dev_user, **form.submission())["plan"]
    summaries = [resource["summary"] for resource in planned["resources"]]
    assert summaries

    html = dev.post(f"{EKS_URL}estimate/", EKS_FORM).content.decode()
    assert '<h3 id="plan-heading">What will be created</h3>' in html
    assert '<ul class="plan" aria-labelledby="plan-heading">' in html
    for summary in summaries:
        assert f">{escape(summary)}</li>" in html
    assert html.index('class="plan"') < html.index('class="line-items')  # beside the estimate, before its items

    # While some fields still need fixing, the plan of what is filled in so far.
    html = dev.post(f"{EKS_URL}estimate/", {**EKS_FORM, "p-desired_capacity": "99"}).content.decode()
    assert "Fix these before submitting" in html
    assert '<ul class="plan"' in html
