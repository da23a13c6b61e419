from django.conf import settings
from rest_framework.pagination import PageNumberPagination

from cloudassist.mongodb.counting import IndexedCountPaginator


class StandardPagination(PageNumberPagination):
    """`count`, `next`, `previous`, `results`; `?page_size=` up to API_MAX_PAGE_SIZE."""

    page_size_query_param = "page_size"
    django_paginator_class = IndexedCountPaginator  # an index-backed count of the same filter

    @property
    def max_page_size(self) -> int:
        return settings.API_MAX_PAGE_SIZE
