from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cloudassist.api.mixins import RelatedByPkMixin
from cloudassist.api.serializers import ErrorSerializer
from provisioning import selectors, services
from provisioning.api.filtersets import ExtensionRequestFilterSet, ProvisionRequestFilterSet
from provisioning.api.serializers import (
    EventSerializer,
    ExtendExpiredSerializer,
    ExtensionRequestCreateSerializer,
    ExtensionRequestSerializer,
    NoteSerializer,
    ProvisionRequestCreateSerializer,
    ProvisionRequestSerializer,
    ProvisionRequestUpdateSerializer,
)
from provisioning.choices import RequestStatus
from provisioning.models import ExtensionRequest, ProvisionRequest
from templates import rendering as template_rendering
from templates import selectors as template_selectors

EXPAND_REQUEST = OpenApiParameter(
    "expand", str, description="Embed related objects: any of `requested_by,template,reviewed_by`."
)
EXPAND_EXTENSION = OpenApiParameter(
    "expand", str, description="Embed related objects: any of `provision_request,requested_by,reviewed_by`."
)
ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


class ReviewActionsMixin:
    """POST approve / reject / revoke: each one service call; the services decide who may."""

    output_serializer = None
    services_by_action: dict = {}

    def _move(self, request, name: str):
        subject = self.get_object()
        payload = NoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        subject = self.services_by_action[name](
            actor=request.user, note=payload.validated_data["note"], **{self.subject_argument: subject}
        )
        return Response(self.output_serializer(subject, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """DevOps or admins (never the requester): REQUESTED -> APPROVED."""
        return self._move(request, "approve")

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """DevOps or admins (never the requester), with a note saying why: REQUESTED -> REJECTED."""
        return self._move(request, "reject")

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """The requester withdraws it."""
        return self._move(request, "revoke")

    @extend_schema(responses={200: EventSerializer(many=True), 404: ErrorSerializer}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=[], serializer_class=EventSerializer)
    def events(self, request, pk=None):
        """The audit trail, oldest first (a provision request's includes its extensions')."""
        events = selectors.events_for(**{self.subject_argument: self.get_object()})
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True, context=self.get_serializer_context()).data)


def _offer_example_parameters(serializer, request) -> None:
    """The empty create form (browsable API) starts from an example of a template's parameters:
    the template named by ``?template=``, else the first one the user may request."""
    templates = template_selectors.templates_for(request.user)
    wanted = request.query_params.get("template")
    template = (templates.filter(pk=wanted).first() if wanted else None) or templates.first()
    if template is None:
        return
    field = serializer.fields["parameters"]
    field.initial = template_rendering.example_parameters(template.parameters_schema or {})
    field.help_text = (
        f"A JSON object, validated against the template's parameters_schema. The example is for "
        f"'{template.pk}'; add ?template=<id> to this page's URL for another template's."
    )


def _create(view, request, *, input_serializer, service, output_serializer, **extra):
    payload = input_serializer(data=request.data, context=view.get_serializer_context())
    payload.is_valid(raise_exception=True)
    created = service(actor=request.user, **payload.validated_data, **extra)
    body = output_serializer(created, context=view.get_serializer_context()).data
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": str(body["url"])})


@extend_schema_view(
    list=extend_schema(parameters=[EXPAND_REQUEST]),
    retrieve=extend_schema(
        parameters=[EXPAND_REQUEST], responses={200: ProvisionRequestSerializer, 404: ErrorSerializer}
    ),
    create=extend_schema(
        request=ProvisionRequestCreateSerializer, responses={201: ProvisionRequestSerializer, **ERRORS}
    ),
    partial_update=extend_schema(
        request=ProvisionRequestUpdateSerializer, responses={200: ProvisionRequestSerializer, **ERRORS}
    ),
    approve=extend_schema(request=NoteSerializer, responses={200: ProvisionRequestSerializer, **ERRORS}),
    reject=extend_schema(request=NoteSerializer, responses={200: ProvisionRequestSerializer, **ERRORS}),
    revoke=extend_schema(request=NoteSerializer, responses={200: ProvisionRequestSerializer, **ERRORS}),
)
class ProvisionRequestViewSet(
    RelatedByPkMixin,
    ReviewActionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Provision requests. Developers see and act on their own; DevOps and admins see all and
    review them (never their own). PATCH changes the description only, while REQUESTED."""

    serializer_class = ProvisionRequestSerializer
    output_serializer = ProvisionRequestSerializer
    filterset_class = ProvisionRequestFilterSet
    ordering_fields = ["created_at", "updated_at", "expires_at", "status", "reviewed_at"]
    ordering = ["-created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    subject_argument = "request"
    services_by_action = {
        "approve": services.approve_request,
        "reject": services.reject_request,
        "revoke": services.revoke_request,
    }

    # The browsable API draws each form from the serializer of the action's input.
    input_serializers = {
        "create": ProvisionRequestCreateSerializer,
        "partial_update": ProvisionRequestUpdateSerializer,
        "approve": NoteSerializer,
        "reject": NoteSerializer,
        "revoke": NoteSerializer,
        "purge": NoteSerializer,
        "retry": NoteSerializer,
        "mark_cleaned_up": NoteSerializer,
        "extend": ExtendExpiredSerializer,
    }
    extra_action_moves = {"purge": "start_purge", "extend": "extend_expired"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ProvisionRequest.objects.none()
        if self.action == "list":
            return selectors.request_list_for(self.request.user)
        return selectors.requests_for(self.request.user)

    def get_serializer_class(self):
        return self.input_serializers.get(self.action) or super().get_serializer_class()

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            # Only a failed request's actions read its policy at submission (who may retry).
            selectors.attach_snapshot_parts([row for row in page if row.status == RequestStatus.FAILED])
        return page

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if self.action == "create" and "data" not in kwargs and not getattr(self, "swagger_fake_view", False):
            _offer_example_parameters(serializer, self.request)
        return serializer

    def _noted(self, request, service):
        provision_request = self.get_object()
        payload = NoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        service(actor=request.user, request=provision_request, note=payload.validated_data["note"])
        return Response(ProvisionRequestSerializer(provision_request, context=self.get_serializer_context()).data)

    @extend_schema(request=NoteSerializer, responses={200: ProvisionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def purge(self, request, pk=None):
        """Delete the environment now: the requester (ending it early) or DevOps/admins.
        From DEPLOYED, FAILED, EXPIRED or PURGE_FAILED (which retries a failed purge); the purge
        job does the work."""
        return self._noted(request, services.start_purge)

    @extend_schema(
        summary="Retry a failed provisioning",
        request=NoteSerializer,
        responses={200: ProvisionRequestSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Retry a failed provisioning: DevOps/admins, or the requester if the template allows it.
        FAILED -> APPROVED, then the provisioning job carries on from what exists. 409 when the
        provider is not configured (naming the setting) or the request has expired."""
        return self._noted(request, services.retry_provisioning)

    @extend_schema(
        summary="Close a failed purge cleaned up by hand",
        request=NoteSerializer,
        responses={200: ProvisionRequestSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="mark-cleaned-up")
    def mark_cleaned_up(self, request, pk=None):
        """DevOps/admins, after deleting by hand what a failed purge left: PURGE_FAILED -> PURGED,
        with a note (required) saying what was done. Gives back the quota reservation."""
        return self._noted(request, services.mark_cleaned_up)

    @extend_schema(
        summary="Extend an expired environment during its grace",
        request=ExtendExpiredSerializer,
        responses={200: ProvisionRequestSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """DevOps or admins, during the purge grace of an EXPIRED environment: keep it for
        ``extend_by_hours`` more (from now, within the template's lease cap): EXPIRED -> DEPLOYED."""
        provision_request = self.get_object()
        payload = ExtendExpiredSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.extend_expired(actor=request.user, request=provision_request, **payload.validated_data)
        return Response(ProvisionRequestSerializer(provision_request, context=self.get_serializer_context()).data)

    def _download(self, request, kind: str, content_type: str, suffix: str):
        provision_request = self.get_object()
        text = services.read_secret(actor=request.user, request=provision_request, kind=kind)
        response = HttpResponse(text, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{kind}-{provision_request.pk}.{suffix}"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="Download the kubeconfig",
        responses={(200, "application/yaml"): OpenApiTypes.STR, 404: ErrorSerializer},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def kubeconfig(self, request, pk=None):
        """Download the kubeconfig of a provisioned cluster or namespace (requester and DevOps only;
        each download is an audit event)."""
        return self._download(request, "kubeconfig", "application/yaml", "yaml")

    @extend_schema(
        summary="Download the credentials",
        responses={(200, "text/plain"): OpenApiTypes.STR, 404: ErrorSerializer},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def credentials(self, request, pk=None):
        """Download the credentials of a provisioned bucket or instance (requester and DevOps only;
        each download is an audit event)."""
        return self._download(request, "credentials", "text/plain", "txt")

    def create(self, request, *args, **kwargs):
        return _create(
            self,
            request,
            input_serializer=ProvisionRequestCreateSerializer,
            service=services.submit_request,
            output_serializer=ProvisionRequestSerializer,
        )

    def partial_update(self, request, *args, **kwargs):
        provision_request = self.get_object()
        payload = ProvisionRequestUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.update_description(actor=request.user, request=provision_request, **payload.validated_data)
        return Response(ProvisionRequestSerializer(provision_request, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(parameters=[EXPAND_EXTENSION]),
    retrieve=extend_schema(
        parameters=[EXPAND_EXTENSION], responses={200: ExtensionRequestSerializer, 404: ErrorSerializer}
    ),
    create=extend_schema(
        request=ExtensionRequestCreateSerializer, responses={201: ExtensionRequestSerializer, **ERRORS}
    ),
    approve=extend_schema(request=NoteSerializer, responses={200: ExtensionRequestSerializer, **ERRORS}),
    reject=extend_schema(request=NoteSerializer, responses={200: ExtensionRequestSerializer, **ERRORS}),
    revoke=extend_schema(request=NoteSerializer, responses={200: ExtensionRequestSerializer, **ERRORS}),
)
class ExtensionRequestViewSet(
    RelatedByPkMixin,
    ReviewActionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Requests for more time. One may ever be approved per provision request, and only for a
    live environment (APPROVED, INITIATED, DEPLOYED); approval moves its expires_at."""

    serializer_class = ExtensionRequestSerializer
    output_serializer = ExtensionRequestSerializer
    filterset_class = ExtensionRequestFilterSet
    ordering_fields = ["created_at", "updated_at", "status", "extend_by_hours"]
    ordering = ["-created_at"]
    subject_argument = "extension"
    services_by_action = {
        "approve": services.approve_extension,
        "reject": services.reject_extension,
        "revoke": services.revoke_extension,
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ExtensionRequest.objects.none()
        return selectors.extensions_for(self.request.user)

    input_serializers = {
        "create": ExtensionRequestCreateSerializer,
        "approve": NoteSerializer,
        "reject": NoteSerializer,
        "revoke": NoteSerializer,
    }

    def get_serializer_class(self):
        return self.input_serializers.get(self.action) or super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        def submit(*, actor, provision_request, **fields):
            return services.request_extension(actor=actor, request=provision_request, **fields)

        return _create(
            self,
            request,
            input_serializer=ExtensionRequestCreateSerializer,
            service=submit,
            output_serializer=ExtensionRequestSerializer,
        )
