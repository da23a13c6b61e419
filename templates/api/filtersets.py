from django_filters import rest_framework as filters

from templates.models import Template


class TemplateFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Template
        fields = ["resource_type", "provider", "is_active", "name"]
