"""Shared filter backends and filters for the API."""

from bson import ObjectId
from bson.errors import InvalidId
from django import forms
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """`?ordering=a,-b`: unknown fields are a 400 naming them (not silently ignored), and the
    primary key always breaks ties so pages never skip or repeat rows."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            terms = [term.strip() for term in params.split(",") if term.strip()]
            valid = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            unknown = [term for term in terms if term.lstrip("-") not in valid]
            if unknown:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {', '.join(unknown)}; use one of: {', '.join(sorted(valid))}."
                        ]
                    }
                )
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(term.lstrip("-") in ("pk", "id") for term in ordering):
            descending = bool(ordering) and ordering[0].startswith("-")
            ordering.append("-pk" if descending else "pk")
        return ordering


class ObjectIdFormField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return ObjectId(value)
        except (InvalidId, TypeError) as exc:
            # The value goes in as a parameter: django-filter %-formats the message with them.
            raise forms.ValidationError(
                "“%(value)s” is not a valid id (24 hexadecimal characters).", code="invalid", params={"value": value}
            ) from exc


class ObjectIdFilter(filters.Filter):
    """Filter on an ObjectId (or a foreign key to an ObjectId model); a malformed id is a 400."""

    field_class = ObjectIdFormField


class UsernameFilter(filters.CharFilter):
    """Filter a foreign key to users by username without a join: the username is resolved to the
    user's id first (one indexed query); an unknown username matches nothing."""

    def filter(self, qs, value):
        if value in ([], (), {}, "", None):
            return qs
        from django.contrib.auth import get_user_model

        user_id = get_user_model().objects.filter(username=value).values_list("pk", flat=True).first()
        return qs.filter(**{self.field_name: user_id}) if user_id is not None else qs.none()
