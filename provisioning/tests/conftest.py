"""Provisioning fixtures: the seed's templates and a factory for requests in any status."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from provisioning import services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from templates import services as template_services
from templates.models import Template
from templates.seed import TEMPLATES

EKS_PARAMETERS = {"cluster_name": "team-a-dev", "region": "eu-west-1", "instance_type": "t3.medium"}


@pytest.fixture
def templates(db):
    for definition in TEMPLATES:
        template_services.create_template(actor=None, **definition)
    return {template.pk: template for template in Template.objects.all()}


@pytest.fixture
def eks(templates):
    return templates["basic-eks-cluster"]


@pytest.fixture
def provisioning_queue():
    queue = django_rq.get_queue(services.PROVISIONING_QUEUE)
    queue.empty()
    yield queue
    queue.empty()


@pytest.fixture
def make_request(eks, dev_user):
    """Submit a request through the service, then (for tests only) put it in ``status``."""

    def make(*, status: str = RequestStatus.REQUESTED, user=None, **fields) -> ProvisionRequest:
        fields.setdefault("template", eks)
        fields.setdefault("parameters", EKS_PARAMETERS)
        request = services.submit_request(actor=user or dev_user, **fields)
        if status != RequestStatus.REQUESTED:
            ProvisionRequest.objects.filter(pk=request.pk).update(status=status)
            request.status = status
        return request

    return make


@pytest.fixture
def live_request(make_request):
    return make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=4))
