"""``/configs/{name}``: one URL, two views. A GET with ``?wait=`` is the long-poll watch
(configs/api/watch.py, waiting in its greenlet under the production server); every other request
is the plain detail view (configs/api/views.py). The watch builds on the detail view, so the
imports run one way: dispatch -> watch -> views."""

from django.views.decorators.csrf import csrf_exempt

from configs.api import views, watch


@csrf_exempt  # as DRF's views: SessionAuthentication enforces CSRF for session users, token clients need none
def detail(request, name: str):
    if request.method == "GET" and "wait" in request.GET:
        return watch.view(request, name=name)
    return views.detail_view(request, name=name)


# Let the OpenAPI schema describe /configs/{name} through the class the dispatcher wraps.
detail.cls = views.ConfigDetailView
detail.initkwargs = {}
