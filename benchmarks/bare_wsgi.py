"""The product's WSGI application plus the bench's baselines, in the same server processes:
``python -m cloudassist.serving benchmarks.bare_wsgi:application`` (bench_http.py starts it so).

Paths under ``/bare/`` (benchmarks/bare_urls.py) go to a Django handler with no middleware and
the bare URLconf; everything else goes to ``cloudassist.wsgi.application`` unchanged. Same
settings, same apps loaded, same gunicorn workers: the difference between a workload and a
baseline is what CloudAssist's middleware, views and queries add. Benchmark-only: the image
serves ``cloudassist.wsgi`` and ships no ``benchmarks/``."""

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler

from benchmarks.bare_urls import BARE_PATH
from cloudassist.wsgi import application as product

URLCONF = "benchmarks.bare_urls"


class BareHandler(WSGIHandler):
    """Django's WSGI handler with an empty middleware chain, resolving against the bare URLconf."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._bare_response)

    def _bare_response(self, request):
        request.urlconf = URLCONF
        return self._get_response(request)


bare = BareHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith(BARE_PATH):
        return bare(environ, start_response)
    return product(environ, start_response)
