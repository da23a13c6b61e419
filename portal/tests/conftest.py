"""Portal fixtures: logged-in clients and requests taken through the real services."""

import pytest
from django.test import Client

from provisioning import services
from provisioning.choices import RequestStatus

KUBECONFIG = "apiVersion: v1\nkind: Config\n# the environment's kubeconfig\n"


@pytest.fixture
def login():
    def log_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def dev(login, dev_user):
    return login(dev_user)


@pytest.fixture
def deploy(devops_user, provisioning_queue):
    """Approve (by DevOps), provision and deploy a request through the services, with a kubeconfig."""

    def deployed(request):
        if request.status == RequestStatus.REQUESTED:
            services.approve_request(actor=devops_user, request=request, note="fine")
        services.start_provisioning(request=request)
        services.mark_deployed(
            request=request, outputs={"endpoint": "https://k8s"}, secret=KUBECONFIG, secret_kind="kubeconfig"
        )
        return request

    return deployed
