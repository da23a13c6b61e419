"""Read-only pricing API: /api/v1/pricing/instances/, /disks/ and /services/.

Every authenticated user reads the prices estimates are made from; nobody writes them through
the API (admins edit them in the Django admin; `manage.py sync_pricing` refreshes them).
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from cloudassist.api.serializers import BaseModelSerializer, ErrorSerializer
from quotas.choices import OperatingSystem, PricingModel
from quotas.models import DiskPrice, InstancePrice, ServicePrice

# --- serializers ------------------------------------------------------------------------------


class InstancePriceSerializer(BaseModelSerializer):
    """On-demand price of an EC2 instance type in a region, in USD per instance-hour."""

    class Meta:
        model = InstancePrice
        fields = [
            "url",
            "id",
            "instance_type",
            "region",
            "pricing_model",
            "operating_system",
            "usd_per_hour",
            "vcpus",
            "memory_gib",
            "source",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"url": {"view_name": "instanceprice-detail"}}


class DiskPriceSerializer(BaseModelSerializer):
    """Price of provisioned EBS storage of a volume type in a region, in USD per GB-month."""

    class Meta:
        model = DiskPrice
        fields = ["url", "id", "disk_type", "region", "usd_per_gb_month", "source", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"url": {"view_name": "diskprice-detail"}}


class ServicePriceSerializer(BaseModelSerializer):
    """A flat hourly fee of a service in a region, such as the EKS control plane, in USD per hour."""

    class Meta:
        model = ServicePrice
        fields = ["url", "id", "service", "region", "usd_per_hour", "source", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"url": {"view_name": "serviceprice-detail"}}


# --- filtersets -------------------------------------------------------------------------------


class InstancePriceFilterSet(filters.FilterSet):
    region = filters.CharFilter(help_text="AWS region, e.g. `us-east-1`.")
    instance_type = filters.CharFilter(help_text="EC2 instance type, e.g. `t3.medium`.")
    instance_family = filters.CharFilter(
        field_name="instance_type", method="filter_family", help_text="Instance family, e.g. `m5` (`m5.*`)."
    )
    pricing_model = filters.ChoiceFilter(choices=PricingModel.choices)
    operating_system = filters.ChoiceFilter(choices=OperatingSystem.choices)
    source = filters.CharFilter(help_text="`seed` or `aws-price-list`.")

    class Meta:
        model = InstancePrice
        fields = ["region", "instance_type", "instance_family", "pricing_model", "operating_system", "source"]

    def filter_family(self, queryset, name, value):
        return queryset.filter(instance_type__startswith=f"{value}.")


class DiskPriceFilterSet(filters.FilterSet):
    region = filters.CharFilter(help_text="AWS region, e.g. `us-east-1`.")
    disk_type = filters.CharFilter(help_text="EBS volume type, e.g. `gp3`.")
    source = filters.CharFilter(help_text="`seed` or `aws-price-list`.")

    class Meta:
        model = DiskPrice
        fields = ["region", "disk_type", "source"]


class ServicePriceFilterSet(filters.FilterSet):
    region = filters.CharFilter(help_text="AWS region, e.g. `us-east-1`.")
    service = filters.CharFilter(help_text="e.g. `eks-control-plane`.")
    source = filters.CharFilter(help_text="`seed` or `aws-price-list`.")

    class Meta:
        model = ServicePrice
        fields = ["region", "service", "source"]


# --- viewsets ---------------------------------------------------------------------------------

PRICE_ID = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The price's id (24 hexadecimal characters).")


def _read_only_schema(serializer):
    return extend_schema_view(
        list=extend_schema(responses={200: serializer(many=True), 400: ErrorSerializer}),
        retrieve=extend_schema(parameters=[PRICE_ID], responses={200: serializer, 404: ErrorSerializer}),
    )


@_read_only_schema(InstancePriceSerializer)
class InstancePriceViewSet(viewsets.ReadOnlyModelViewSet):
    """On-demand EC2 instance prices (USD per instance-hour) by instance type and region."""

    queryset = InstancePrice.objects.all()
    serializer_class = InstancePriceSerializer
    filterset_class = InstancePriceFilterSet
    ordering_fields = ["region", "instance_type", "usd_per_hour", "vcpus", "memory_gib", "updated_at"]
    ordering = ["region", "instance_type"]


@_read_only_schema(DiskPriceSerializer)
class DiskPriceViewSet(viewsets.ReadOnlyModelViewSet):
    """EBS volume prices (USD per GB-month) by volume type and region."""

    queryset = DiskPrice.objects.all()
    serializer_class = DiskPriceSerializer
    filterset_class = DiskPriceFilterSet
    ordering_fields = ["region", "disk_type", "usd_per_gb_month", "updated_at"]
    ordering = ["region", "disk_type"]


@_read_only_schema(ServicePriceSerializer)
class ServicePriceViewSet(viewsets.ReadOnlyModelViewSet):
    """Flat hourly fees by service and region, such as the EKS control plane (`eks-control-plane`)."""

    queryset = ServicePrice.objects.all()
    serializer_class = ServicePriceSerializer
    filterset_class = ServicePriceFilterSet
    ordering_fields = ["service", "region", "usd_per_hour", "updated_at"]
    ordering = ["service", "region"]
