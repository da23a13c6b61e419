"""POST /api/v1/estimates/ (price a request before submitting it) and GET /api/v1/bills/."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist import selectors
from cloudassist.api.serializers import ErrorSerializer
from provisioning import bills, services
from provisioning.api.serializers import ProvisionRequestCreateSerializer
from templates.api.serializers import PlanSerializer

User = get_user_model()


class EstimateResultSerializer(serializers.Serializer):
    template = serializers.CharField()
    template_version = serializers.IntegerField()
    parameters = serializers.JSONField(help_text="With the template's defaults applied.")
    request_type = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    plan = PlanSerializer(help_text="What the request would create (names carry a placeholder suffix until submitted).")
    estimate = serializers.JSONField(help_text="hours, usd, machine_hours, disk_gb_hours, line_items, notes.")
    quota = serializers.JSONField(help_text="`fits`, and the breakdown against your quota.")


class EstimateView(APIView):
    """Price a request before submitting it: the same body as a provision request."""

    @extend_schema(
        request=ProvisionRequestCreateSerializer,
        responses={200: EstimateResultSerializer, 400: ErrorSerializer},
    )
    def post(self, request):
        payload = ProvisionRequestCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        result = services.estimate_request(actor=request.user, **payload.validated_data)
        return Response(EstimateResultSerializer(result).data)


class BillSerializer(serializers.Serializer):
    month = serializers.CharField()
    total_usd = serializers.CharField()
    bills = serializers.ListField(child=serializers.DictField())


class BillsView(APIView):
    """Estimated spend per user for a month (`?month=YYYY-MM`, default this month). Developers
    see their own; DevOps and admins everyone's, or one user's with `?user=`."""

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM (UTC); default: the current month."),
            OpenApiParameter("user", str, description="DevOps and admins: a user id or username."),
        ],
        responses={200: BillSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request):
        month = request.query_params.get("month") or timezone.now().strftime("%Y-%m")
        try:
            bills.month_bounds(month)
        except ValueError as exc:
            raise ValidationError({"month": [f"“{month}” is not a month; use YYYY-MM."]}) from exc
        user = selectors.subject_user(request.user, request.query_params.get("user"))
        return Response(bills.monthly_bills(month=month, user=user))
