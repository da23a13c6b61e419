"""The DevOps approval console in the Django admin: lists, filters, view pages and review actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from cloudassist import roles
from cloudassist.seed import seed_demo
from conftest import PASSWORD
from provisioning import services
from provisioning.choices import ExtensionSlot, ExtensionStatus, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest

REQUESTS = "/admin/provisioning/provisionrequest/"
EXTENSIONS = "/admin/provisioning/extensionrequest/"
EVENTS = "/admin/provisioning/event/"


def change_url(obj) -> str:
    base = REQUESTS if isinstance(obj, ProvisionRequest) else EXTENSIONS
    return f"{base}{obj.pk}/change/"


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def listed_ids(response) -> set[str]:
    return {str(obj.pk) for obj in response.context["cl"].result_list}


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client, url, action, objects, *, note=None, apply=True, **extra):
    """Post the action as the changelist does; with ``apply``, post the note page's form too."""
    data = {"action": action, "_selected_action": [str(obj.pk) for obj in objects], "index": "0", **extra}
    first = client.post(url, data)
    if not apply:
        return first
    assert first.status_code == 200, first
    data = {"action": action, "_selected_action": [str(obj.pk) for obj in objects], "apply": "1", **extra}
    if note is not None:
        data["note"] = note
    return client.post(url, data)


@pytest.fixture
def ops(client, devops_user):
    return login(client, devops_user)


@pytest.fixture
def ops2(make_user):
    return make_user("ops2", roles.DEVOPS)


@pytest.fixture
def mixed(make_request, other_dev, templates):
    """Requests in several statuses, templates, requesters and ages."""
    namespace = templates["dev-namespace"]
    namespace.review_timeout_hours = 14 * 24  # the week-old request may still be reviewed
    namespace.save(update_fields=["review_timeout_hours"])
    fresh = make_request(description="Team A staging cluster")
    day_old = make_request(user=other_dev, description="load test")
    week_old = make_request(template=namespace, parameters={"namespace": "team-b"}, description="old namespace")
    approved = make_request(status=RequestStatus.APPROVED, description="already approved")
    rejected = make_request(status=RequestStatus.REJECTED, user=other_dev)
    now = timezone.now()
    ProvisionRequest.objects.filter(pk=day_old.pk).update(created_at=now - timedelta(hours=5))
    ProvisionRequest.objects.filter(pk=week_old.pk).update(created_at=now - timedelta(days=9))
    return {"fresh": fresh, "day_old": day_old, "week_old": week_old, "approved": approved, "rejected": rejected}


def ids(*objects) -> set[str]:
    return {str(obj.pk) for obj in objects}


# --- access ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["devops_user", "admin_user"])
def test_changelists_and_change_pages_load_for_reviewers(client, request, who, live_request, dev_user):
    login(client, request.getfixturevalue(who))
    extension = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=4, reason="demo")
    for url in (REQUESTS, EXTENSIONS, EVENTS, change_url(live_request), change_url(extension)):
        assert client.get(url).status_code == 200, url
    index = client.get("/admin/").content.decode()
    assert "Provision requests" in index
    assert "Extension requests" in index


@pytest.mark.django_db
def test_superuser_from_the_seed_reviews_in_the_console(client, make_request):
    seed_demo(password=PASSWORD)
    from django.contrib.auth import get_user_model

    bbb = get_user_model().objects.get(username="bbb")
    pending = make_request(user=bbb)
    assert client.login(username="aaa", password=PASSWORD)
    assert ids(pending) <= listed_ids(client.get(REQUESTS))
    response = run_action(client, REQUESTS, "approve_selected", [pending], note="fine")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == RequestStatus.APPROVED
    assert pending.reviewed_by.username == "aaa"


@pytest.mark.django_db
@pytest.mark.parametrize("url", [REQUESTS, EXTENSIONS, EVENTS])
def test_developers_cannot_reach_the_console(client, dev_user, make_request, url):
    pending = make_request()
    login(client, dev_user)
    for target in (url, change_url(pending)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    response = client.post(REQUESTS, {"action": "approve_selected", "_selected_action": [str(pending.pk)]})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert ProvisionRequest.objects.get(pk=pending.pk).status == RequestStatus.REQUESTED


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(REQUESTS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_nothing_is_added_changed_or_deleted(ops, make_request):
    pending = make_request(description="keep me")
    assert ops.get(f"{REQUESTS}add/").status_code == 403
    assert ops.get(f"{REQUESTS}{pending.pk}/delete/").status_code == 403
    page = ops.get(change_url(pending))
    assert not page.context["has_change_permission"]
    assert 'name="_save"' not in page.content.decode()
    ops.post(change_url(pending), {"description": "changed", "status": RequestStatus.APPROVED})
    pending.refresh_from_db()
    assert (pending.description, pending.status) == ("keep me", RequestStatus.REQUESTED)
    actions = dict(ops.get(REQUESTS).context["action_form"].fields["action"].choices)
    assert set(actions) == {"", "approve_selected", "reject_selected", "purge_selected", "retry_selected"} | {
        "mark_cleaned_up_selected"
    }


# --- changelist: default view, filters, search ----------------------------------------------


def status_choices(response) -> list[tuple[str, bool]]:
    cl = response.context["cl"]
    spec = next(spec for spec in cl.filter_specs if getattr(spec, "parameter_name", "") == "status")
    return [(choice["display"], choice["selected"]) for choice in spec.choices(cl)]


@pytest.mark.django_db
def test_changelist_shows_pending_review_by_default_and_all_on_request(ops, mixed):
    response = ops.get(REQUESTS)
    assert listed_ids(response) == ids(mixed["fresh"], mixed["day_old"], mixed["week_old"])
    choices = status_choices(response)
    assert [label for label, selected in choices if selected] == ["Requested (pending review)"]
    assert [label for label, _ in choices] == ["All", *(label for _, label in RequestStatus.choices)]
    assert '<li class="selected">\n    <a href="?status=REQUESTED"' in response.content.decode()

    everything = ops.get(REQUESTS, {"status": "all"})
    assert listed_ids(everything) == ids(*mixed.values())
    assert [label for label, selected in status_choices(everything) if selected] == ["All"]
    assert '<li class="selected">\n    <a href="?status=all"' in everything.content.decode()

    assert listed_ids(ops.get(REQUESTS, {"status": "APPROVED"})) == ids(mixed["approved"])
    assert listed_ids(ops.get(REQUESTS, {"status": "REJECTED"})) == ids(mixed["rejected"])
    assert ops.get(REQUESTS, {"status": "BOGUS"}).status_code == 302  # Django's "invalid lookup" redirect


@pytest.mark.django_db
def test_changelist_filters(ops, mixed, other_dev):
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "template__id__exact": "dev-namespace"})) == ids(
        mixed["week_old"]
    )
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "requested_by__id__exact": str(other_dev.pk)})) == ids(
        mixed["day_old"], mixed["rejected"]
    )
    recent = ids(mixed["fresh"], mixed["approved"], mixed["rejected"])
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "age": "hour"})) == recent
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "age": "day"})) == recent | ids(mixed["day_old"])
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "age": "week"})) == recent | ids(mixed["day_old"])
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "age": "older"})) == ids(mixed["week_old"])
    # Filters combine with the default status.
    assert listed_ids(ops.get(REQUESTS, {"requested_by__id__exact": str(other_dev.pk)})) == ids(mixed["day_old"])
    # The requester filter offers only people who made requests.
    cl = ops.get(REQUESTS).context["cl"]
    requester = next(spec for spec in cl.filter_specs if getattr(spec, "field_path", "") == "requested_by")
    assert {label for _, label in requester.lookup_choices} == {"dev1", "dev2"}


@pytest.mark.django_db
def test_changelist_search_by_requester_and_description(ops, mixed):
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "q": "dev2"})) == ids(mixed["day_old"], mixed["rejected"])
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "q": "STAGING"})) == ids(mixed["fresh"])
    assert listed_ids(ops.get(REQUESTS, {"q": "approved"})) == set()  # the default status still applies
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "q": "approved"})) == ids(mixed["approved"])
    assert listed_ids(ops.get(REQUESTS, {"status": "all", "q": "nobody-matches"})) == set()


@pytest.mark.django_db
def test_changelist_query_count_does_not_grow_with_rows(ops, make_request, django_assert_max_num_queries):
    make_request()
    with django_assert_max_num_queries(40) as few:
        assert ops.get(REQUESTS).status_code == 200
    for _ in range(4):
        make_request()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ops.get(REQUESTS).context["cl"].result_list) == 5


# --- change pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_change_page_shows_everything_escaped(ops, make_request):
    pending = make_request(description="<script>alert('x')</script> please")
    ProvisionRequest.objects.filter(pk=pending.pk).update(
        cost_estimate={"monthly_usd": 123.45}, analysis_remarks=[{"level": "warning", "text": "<b>big</b>"}]
    )
    page = ops.get(change_url(pending)).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; please" in page
    assert "<script>alert(" not in page
    assert "&quot;cluster_name&quot;: &quot;team-a-dev&quot;" in page
    assert "kind: ClusterConfig" in page
    assert "name: team-a-dev" in page
    assert "instanceType: t3.medium" in page
    assert "monthly_usd" in page
    assert "&lt;b&gt;big&lt;/b&gt;" in page
    assert "Audit events" in page
    assert "submit" in page
    # Pending review: the page offers approve and reject.
    assert 'value="approve_selected"' in page
    assert 'value="reject_selected"' in page


@pytest.mark.django_db
def test_request_change_page_without_estimate_and_with_a_broken_snapshot(ops, make_request):
    pending = make_request(status=RequestStatus.APPROVED)
    snapshot = {**pending.template_snapshot, "body": "name: {{ cluster_name }\n"}
    ProvisionRequest.objects.filter(pk=pending.pk).update(
        template_snapshot=snapshot, cost_estimate=None, analysis_remarks=[]
    )
    page = ops.get(change_url(pending)).content.decode()
    assert "Not estimated yet." in page
    assert "Not analysed yet." in page
    assert "The template snapshot does not render" in page
    assert "Template syntax error" in page
    assert 'value="approve_selected"' not in page  # not pending review any more


@pytest.mark.django_db
def test_request_change_page_lists_events_and_extensions(ops, live_request, dev_user, devops_user, ops2):
    extension = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=6, reason="demo day")
    services.approve_extension(actor=ops2, extension=extension, note="ok for the demo")
    response = ops.get(change_url(live_request))
    page = response.content.decode()
    assert change_url(extension) in page
    assert "demo day" in page
    events = [form.instance for form in response.context["inline_admin_formsets"][1].formset.forms]
    assert [event.action for event in events] == ["submit", "submit", "approve", "extend"]
    assert "ok for the demo" in page


@pytest.mark.django_db
def test_extension_change_page(ops, live_request, dev_user):
    extension = services.request_extension(
        actor=dev_user, request=live_request, extend_by_hours=6, reason="<i>demo</i>"
    )
    response = ops.get(change_url(extension))
    page = response.content.decode()
    assert "&lt;i&gt;demo&lt;/i&gt;" in page
    assert change_url(live_request) in page
    assert "An extension request is pending review" in page
    events = [form.instance for form in response.context["inline_admin_formsets"][0].formset.forms]
    assert [(event.action, event.to_status) for event in events] == [("submit", ExtensionStatus.REQUESTED)]
    assert 'value="approve_selected"' in page


# --- approve / reject -----------------------------------------------------------------------


@pytest.mark.django_db
def test_approve_asks_for_a_note_then_approves_several(ops, make_request, devops_user, provisioning_queue):
    first, second = make_request(), make_request()
    page = run_action(ops, REQUESTS, "approve_selected", [first, second], apply=False)
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="note"' in content
    assert 'name="apply"' in content
    assert "csrfmiddlewaretoken" in content
    assert content.count('name="_selected_action"') == 2
    assert ProvisionRequest.objects.filter(status=RequestStatus.APPROVED).count() == 0

    response = run_action(ops, REQUESTS, "approve_selected", [first, second], note="looks good")
    assert response.status_code == 302
    assert response["Location"] == REQUESTS
    assert "Approved 2 provision requests: provisioning starts now." in texts(response)
    for obj in (first, second):
        obj.refresh_from_db()
        assert obj.status == RequestStatus.APPROVED
        assert obj.reviewed_by == devops_user
        assert obj.review_note == "looks good"
        assert obj.reviewed_at is not None
        approvals = Event.objects.filter(provision_request=obj, action="approve")
        assert [(e.actor_name, e.from_status, e.to_status, e.note) for e in approvals] == [
            ("ops1", RequestStatus.REQUESTED, RequestStatus.APPROVED, "looks good")
        ]
    assert {job.id for job in provisioning_queue.jobs} == {f"provision-{first.pk}", f"provision-{second.pk}"}


@pytest.mark.django_db
def test_reject_requires_a_note(ops, make_request):
    pending = make_request()
    response = run_action(ops, REQUESTS, "reject_selected", [pending], note="   ")
    assert response.status_code == 200
    content = response.content.decode()
    assert "A note is required to reject." in content
    assert 'name="note"' in content
    pending.refresh_from_db()
    assert pending.status == RequestStatus.REQUESTED
    assert not Event.objects.filter(provision_request=pending, action="reject").exists()


@pytest.mark.django_db
def test_reject_with_a_note(ops, make_request, devops_user):
    pending = make_request()
    response = run_action(ops, REQUESTS, "reject_selected", [pending], note="too big; use a namespace")
    assert response.status_code == 302
    assert any(text.endswith(": Rejected: the requester is told why.") for text in texts(response))
    pending.refresh_from_db()
    assert pending.status == RequestStatus.REJECTED
    assert (pending.reviewed_by, pending.review_note) == (devops_user, "too big; use a namespace")
    event = Event.objects.get(provision_request=pending, action="reject")
    assert (event.actor, event.note) == (devops_user, "too big; use a namespace")


@pytest.mark.django_db
def test_nobody_approves_their_own_request(ops, make_request, devops_user, dev_user, provisioning_queue):
    own = make_request(user=devops_user)
    other = make_request(user=dev_user)
    response = run_action(ops, REQUESTS, "approve_selected", [own, other], note="")
    shown = texts(response)
    assert (
        f"Provision request {other.pk} (basic-eks-cluster for {other.requested_by}): Approved: provisioning starts now."
        in shown
    )
    assert any(str(own.pk) in text and "their own" in text for text in shown), shown
    own.refresh_from_db()
    assert own.status == RequestStatus.REQUESTED
    assert ProvisionRequest.objects.get(pk=other.pk).status == RequestStatus.APPROVED


@pytest.mark.django_db
def test_approving_an_approved_request_names_its_status(ops, make_request, provisioning_queue):
    approved = make_request(status=RequestStatus.APPROVED)
    events = Event.objects.count()
    # Posted from the default (pending review) list, where the row no longer shows: it is still found.
    response = run_action(ops, REQUESTS, "approve_selected", [approved], note="again")
    shown = texts(response)
    assert shown == [
        f"Could not approve provision request {approved.pk} (basic-eks-cluster for dev1): "
        "Cannot approve this provision request: it is APPROVED."
    ]
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_review_from_the_change_page_returns_there(ops, make_request, provisioning_queue):
    pending = make_request()
    back = change_url(pending)
    page = ops.post(REQUESTS, {"action": "reject_selected", "_selected_action": [str(pending.pk)], "next": back})
    assert page.status_code == 200
    assert f'name="next" value="{back}"' in page.content.decode()
    response = ops.post(
        REQUESTS,
        {"action": "reject_selected", "_selected_action": [str(pending.pk)], "next": back, "apply": "1", "note": "no"},
    )
    assert response.status_code == 302
    assert response["Location"] == back
    assert ProvisionRequest.objects.get(pk=pending.pk).status == RequestStatus.REJECTED
    # An outside address is not followed.
    other = make_request()
    response = ops.post(
        REQUESTS,
        {
            "action": "approve_selected",
            "_selected_action": [str(other.pk)],
            "next": "https://evil.example/",
            "apply": "1",
        },
    )
    assert response["Location"] == REQUESTS


@pytest.mark.django_db
def test_unknown_and_malformed_ids_are_reported_not_crashing(ops, make_request):
    pending = make_request()
    response = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": ["0" * 24, str(pending.pk)]})
    assert response.status_code == 200  # the note page, for the one that exists
    assert "1 selected item(s) no longer exist or are not visible to you." in response.content.decode()
    assert [item["pk"] for item in response.context["items"]] == [pending.pk]
    response = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": ["0" * 24], "apply": "1"})
    assert response.status_code == 302
    assert texts(response) == ["1 selected item(s) no longer exist or are not visible to you."]
    response = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": ["not-an-id", str(pending.pk)]})
    assert response.status_code == 302
    assert texts(response)[-1] == "Not a valid id: not-an-id. Nothing was done."
    assert ProvisionRequest.objects.get(pk=pending.pk).status == RequestStatus.REQUESTED


# --- extension requests ---------------------------------------------------------------------


@pytest.fixture
def extensions(make_request, dev_user, other_dev):
    now = timezone.now()
    first = make_request(status=RequestStatus.DEPLOYED, expires_at=now + timedelta(hours=4), description="alpha env")
    second = make_request(status=RequestStatus.APPROVED, user=other_dev, expires_at=now + timedelta(hours=2))
    return {
        "first": services.request_extension(actor=dev_user, request=first, extend_by_hours=10, reason="more tests"),
        "second": services.request_extension(actor=other_dev, request=second, extend_by_hours=3, reason="demo"),
    }


@pytest.mark.django_db
def test_extension_changelist_default_filters_and_search(ops, extensions, other_dev, ops2):
    first, second = extensions["first"], extensions["second"]
    services.reject_extension(actor=ops2, extension=second, note="no")
    assert listed_ids(ops.get(EXTENSIONS)) == ids(first)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all"})) == ids(first, second)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "REJECTED"})) == ids(second)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "requested_by__id__exact": str(other_dev.pk)})) == ids(
        second
    )
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "q": "dev2"})) == ids(second)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "q": "more tests"})) == ids(first)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "q": "alpha"})) == ids(first)
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "age": "older"})) == set()
    assert listed_ids(ops.get(EXTENSIONS, {"status": "all", "age": "hour"})) == ids(first, second)
    template = {"status": "all", "provision_request__template__id__exact": "basic-eks-cluster"}
    assert listed_ids(ops.get(EXTENSIONS, template)) == ids(first, second)


@pytest.mark.django_db
def test_extension_approve_moves_expiry(ops, extensions, devops_user):
    extension = extensions["first"]
    parent = extension.provision_request
    before = ProvisionRequest.objects.get(pk=parent.pk).expires_at
    page = run_action(ops, EXTENSIONS, "approve_selected", [extension], apply=False)
    assert 'name="note"' in page.content.decode()
    response = run_action(ops, EXTENSIONS, "approve_selected", [extension], note="enjoy")
    assert "Approved 1 extension request." in texts(response)
    extension.refresh_from_db()
    parent.refresh_from_db()
    assert extension.status == ExtensionStatus.APPROVED
    assert (extension.reviewed_by, extension.review_note) == (devops_user, "enjoy")
    assert parent.expires_at == before + timedelta(hours=10)
    assert parent.extension_slot == ExtensionSlot.USED
    assert Event.objects.filter(extension_request=extension, action="approve").count() == 1
    assert Event.objects.filter(provision_request=parent, action="extend").count() == 1


@pytest.mark.django_db
def test_extension_reject_needs_a_note_and_frees_the_slot(ops, extensions):
    extension = extensions["second"]
    response = run_action(ops, EXTENSIONS, "reject_selected", [extension], note="")
    assert response.status_code == 200
    assert ExtensionRequest.objects.get(pk=extension.pk).status == ExtensionStatus.REQUESTED
    response = run_action(ops, EXTENSIONS, "reject_selected", [extension], note="not this week")
    assert "Rejected 1 extension request." in texts(response)
    extension.refresh_from_db()
    assert (extension.status, extension.review_note) == (ExtensionStatus.REJECTED, "not this week")
    assert ProvisionRequest.objects.get(pk=extension.provision_request_id).extension_slot == ExtensionSlot.AVAILABLE


@pytest.mark.django_db
def test_extension_own_and_already_reviewed_are_reported(client, make_user, make_request, ops2):
    ops3 = make_user("ops3", roles.DEVOPS)
    now = timezone.now()
    mine = make_request(user=ops3, status=RequestStatus.DEPLOYED, expires_at=now + timedelta(hours=4))
    own = services.request_extension(actor=ops3, request=mine, extend_by_hours=2, reason="mine")
    theirs = make_request(status=RequestStatus.DEPLOYED, expires_at=now + timedelta(hours=4))
    reviewed = services.request_extension(actor=theirs.requested_by, request=theirs, extend_by_hours=2, reason="x")
    services.approve_extension(actor=ops2, extension=reviewed)
    login(client, ops3)
    response = run_action(client, EXTENSIONS, "approve_selected", [own, reviewed], note="")
    shown = texts(response)
    assert len(shown) == 2
    assert any(str(own.pk) in text and "their own" in text for text in shown)
    assert any(str(reviewed.pk) in text and "it is APPROVED" in text for text in shown)
    assert ExtensionRequest.objects.get(pk=own.pk).status == ExtensionStatus.REQUESTED


@pytest.mark.django_db
def test_select_across_reviews_every_row_of_the_filtered_list(ops, mixed, provisioning_queue):
    data = {"action": "approve_selected", "_selected_action": [str(mixed["fresh"].pk)], "select_across": "1"}
    page = ops.post(REQUESTS, {**data, "index": "0"})
    assert page.status_code == 200
    pending = ids(mixed["fresh"], mixed["day_old"], mixed["week_old"])
    assert {str(item["pk"]) for item in page.context["items"]} == pending
    response = ops.post(REQUESTS, {"action": "approve_selected", "_selected_action": sorted(pending), "apply": "1"})
    assert "Approved 3 provision requests: provisioning starts now." in texts(response)
    assert ProvisionRequest.objects.filter(status=RequestStatus.REQUESTED).count() == 0


@pytest.mark.django_db
def test_extension_of_an_environment_that_expired_meanwhile(ops, extensions):
    extension = extensions["first"]
    ProvisionRequest.objects.filter(pk=extension.provision_request_id).update(status=RequestStatus.EXPIRED)
    response = run_action(ops, EXTENSIONS, "approve_selected", [extension], note="")
    assert texts(response) == [
        f"Could not approve extension request {extension.pk} (+10h of provision request "
        f"{extension.provision_request_id}, by dev1): Cannot extend this provision request: it is EXPIRED."
    ]
    assert ExtensionRequest.objects.get(pk=extension.pk).status == ExtensionStatus.REQUESTED
    assert not Event.objects.filter(extension_request=extension, action="approve").exists()


@pytest.mark.django_db
def test_devops_purge_from_the_console(ops, make_request, provisioning_queue):
    deployed = make_request(status=RequestStatus.DEPLOYED)
    pending = make_request()
    page = ops.post(REQUESTS, {"action": "purge_selected", "_selected_action": [str(deployed.pk), str(pending.pk)]})
    asked = page.content.decode()
    assert 'name="note"' in asked
    assert "deletes the cluster and its node groups" in asked  # beside the one that can be purged
    assert "Purging deletes the cluster and its node groups now" in asked  # what it costs
    assert "This cannot be undone" in asked
    assert 'value="Yes, purge"' in asked
    assert "No longer possible to purge" in asked  # the pending one
    response = ops.post(
        REQUESTS,
        {
            "action": "purge_selected",
            "_selected_action": [str(deployed.pk), str(pending.pk)],
            "apply": "1",
            "note": "cost cleanup",
        },
        follow=True,
    )
    shown = response.content.decode()
    assert "Purging: the cluster and its node groups are being deleted." in shown
    assert "it is REQUESTED" in shown
    assert ProvisionRequest.objects.get(pk=deployed.pk).status == RequestStatus.PURGE_INITIATED
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{deployed.pk}"]


@pytest.mark.django_db
def test_staff_reach_the_job_dashboard_from_the_admin(ops):
    index = ops.get("/admin/").content.decode()
    assert 'href="/admin/django_rq/dashboard/"' in index
    dashboard = ops.get("/admin/django_rq/dashboard/")
    assert dashboard.status_code == 200
    assert "provisioning" in dashboard.content.decode()  # the queues are listed


# --- no dead ends: retry a failed provisioning, retry or close a failed purge ----------------


@pytest.mark.django_db
def test_failed_requests_are_retried_and_failed_purges_marked_cleaned_up_from_the_console(
    ops, make_request, provisioning_queue, settings
):
    settings.FAILED_PURGE_DELAY_MINUTES = 60
    failed = make_request(status=RequestStatus.FAILED)
    ProvisionRequest.objects.filter(pk=failed.pk).update(failure_reason="the cloud said no")
    page = ops.get(change_url(failed)).content.decode()
    assert "the cloud said no" in page
    assert 'value="retry_selected"' in page
    response = run_action(ops, REQUESTS, "retry_selected", [failed], note="")
    assert any(text.endswith(": Approved: provisioning starts now.") for text in texts(response))
    assert ProvisionRequest.objects.get(pk=failed.pk).status == RequestStatus.APPROVED
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{failed.pk}"]

    stuck = make_request(status=RequestStatus.PURGE_FAILED)
    page = ops.get(change_url(stuck)).content.decode()
    assert 'value="mark_cleaned_up_selected"' in page
    assert 'value="purge_selected"' in page
    note_page = run_action(ops, REQUESTS, "mark_cleaned_up_selected", [stuck], note="")
    assert note_page.status_code == 200
    assert "A note is required to mark cleaned up." in note_page.content.decode()
    assert "whatever is still in the cloud is no longer tracked" in note_page.content.decode()
    assert ProvisionRequest.objects.get(pk=stuck.pk).status == RequestStatus.PURGE_FAILED
    response = run_action(ops, REQUESTS, "mark_cleaned_up_selected", [stuck], note="deleted the VPC by hand")
    assert any(text.endswith(": Purged: it is closed and its quota given back.") for text in texts(response))
    assert ProvisionRequest.objects.get(pk=stuck.pk).status == RequestStatus.PURGED
    assert Event.objects.get(provision_request=stuck, action="mark_cleaned_up").note == "deleted the VPC by hand"

    # Not FAILED any more: refused per object, with the reason.
    response = run_action(ops, REQUESTS, "retry_selected", [stuck], note="")
    assert any("Could not retry" in text and "it is PURGED" in text for text in texts(response))


@pytest.mark.django_db
def test_admin_shows_who_approved_so_far(ops, make_request, eks, make_user):
    eks.required_approvals = 2
    eks.save(update_fields=["required_approvals"])
    request = make_request()
    first = run_action(ops, REQUESTS, "approve_selected", [request], note="fine by me")
    assert [text for text in texts(first) if "Approval" in text] == [
        f"Provision request {request.pk} (basic-eks-cluster for {request.requested_by}): "
        "Approval 1 of 2 recorded; waiting for another reviewer."
    ]
    assert not any("Approved" in text for text in texts(first))
    request.refresh_from_db()
    assert request.status == RequestStatus.REQUESTED
    listing = ops.get(REQUESTS).content.decode()
    assert "1/2" in listing
    page = ops.get(change_url(request)).content.decode()
    assert "1 of 2 approvals: ops1" in page
    response = run_action(ops, REQUESTS, "approve_selected", [request], note="again")
    assert any("already approved" in text for text in texts(response))
