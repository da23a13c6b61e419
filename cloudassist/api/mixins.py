"""Viewset mixins shared by the apps' APIs."""

from cloudassist.selectors import attach_related


class RelatedByPkMixin:
    """Cut the page first, then load the related rows it shows by primary key (one ``__in``
    query per related model), never as a ``$lookup`` over the collection. Loads the fields named
    in ``?expand=`` (the serializer's ``expandable``) plus ``always_related``; hyperlinks need
    only the foreign key's id, so nothing else is loaded."""

    always_related: tuple[str, ...] = ()

    def related_to_load(self) -> tuple[str, ...]:
        output = getattr(self, "output_serializer", None) or self.get_serializer_class()  # not an action's input
        expandable = getattr(output, "expandable", {})
        raw = self.request.query_params.get("expand", "") if self.request is not None else ""
        wanted = [name.strip() for name in raw.split(",") if name.strip() in expandable]
        return tuple(dict.fromkeys([*self.always_related, *wanted]))

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else attach_related(page, *self.related_to_load())

    def get_object(self):
        found = super().get_object()
        attach_related([found], *self.related_to_load())
        return found
