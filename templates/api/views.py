from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from cloudassist.api.permissions import IsAdminOrReadOnly
from cloudassist.api.serializers import ErrorSerializer
from templates import rendering, selectors, services
from templates.api.filtersets import TemplateFilterSet
from templates.api.serializers import (
    PlanRequestSerializer,
    PlanResultSerializer,
    RenderRequestSerializer,
    RenderResultSerializer,
    TemplateSerializer,
)


class TemplateViewSet(viewsets.ModelViewSet):
    """Resource templates. Everyone reads active ones; admins create, update and deactivate
    (`PATCH {"is_active": false}`)."""

    serializer_class = TemplateSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = TemplateFilterSet
    ordering_fields = ["name", "id", "created_at", "updated_at"]
    ordering = ["name"]
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return selectors.templates_for(self.request.user)

    def get_serializer_class(self):
        if self.action == "render_template":  # the browsable API's form asks for the parameters
            return RenderRequestSerializer
        if self.action == "plan_template":
            return PlanRequestSerializer
        return super().get_serializer_class()

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if self.action in {"render_template", "plan_template"} and "data" not in kwargs and self.kwargs.get("pk"):
            template = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
            if template is not None:
                serializer.fields["parameters"].initial = rendering.example_parameters(template.parameters_schema or {})
        return serializer

    def perform_create(self, serializer):
        serializer.instance = services.create_template(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_template(
            template=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(
        request=RenderRequestSerializer,
        responses={200: RenderResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="render", permission_classes=[IsAuthenticated])
    def render_template(self, request, pk=None):
        """Dry run: validate the parameters and render the template; returns the YAML document."""
        template = self.get_object()
        payload = RenderRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.render(template=template, parameters=payload.validated_data["parameters"])
        return Response(
            {
                "template": template.pk,
                "version": template.version,
                "parameters": result.parameters,
                "document": result.document,
            }
        )

    @extend_schema(
        request=PlanRequestSerializer,
        responses={200: PlanResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="plan", permission_classes=[IsAuthenticated])
    def plan_template(self, request, pk=None):
        """Dry run: what a request with these parameters would create (the plan, resource by
        resource) and what it would cost for `lifetime_hours` (default: the template's default
        lifetime). Nothing is submitted or reserved; names carry a placeholder suffix."""
        template = self.get_object()
        payload = PlanRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(PlanResultSerializer(services.dry_run(template=template, **payload.validated_data)).data)
