"""What every app's admin shares: the site, refusals as messages, read-only admins, JSON on a
page, short ids, side-by-side diffs, the console's stylesheet, and changelists without joins."""

import difflib
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import csrf_protect

from cloudassist.exceptions import Conflict
from cloudassist.internals import django as django_internals
from cloudassist.mongodb.counting import IndexedCountPaginator
from cloudassist.selectors import attach_related


def refusal(exc: Exception) -> tuple[int, str]:
    """The message level and text an admin user sees for a refused action: a domain error
    (cloudassist/exceptions.py; a conflict with the current state is a warning), a permission
    refusal or a validation error (errors)."""
    if isinstance(exc, ValidationError):
        return messages.ERROR, " ".join(exc.messages)
    level = messages.WARNING if isinstance(exc, Conflict) else messages.ERROR
    return level, str(exc) or "Not allowed."


def pretty_json(value: Any, *, empty: str = "", sort_keys: bool = True) -> str:
    """JSON in a <pre>, escaped (it is user input); ``empty``, in italics, stands for no value."""
    if empty and value in (None, "", [], {}):
        return format_html("<em>{}</em>", empty)
    text = json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=str)
    return format_html('<pre style="margin: 0; white-space: pre-wrap;">{}</pre>', text)


def dollars(value: Any, *, places: int = 2, empty: str = "-") -> str:
    """An amount in USD as people read it: ``$1,234.50`` (``places`` decimals; rates may want more)."""
    if value in (None, ""):
        return empty
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    amount = amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"


SHORT_ID = 8  # characters of an id a list shows: its last ones, as in the cloud resources' names


def short_id(value: Any, *, url: str | None = None) -> str:
    """An id as a list shows it: its last SHORT_ID characters (an ObjectId's first ones are its
    creation second, the same for rows made together), the whole id on hover; a link with ``url``."""
    if value in (None, ""):
        return "-"
    text = str(value)
    if url:
        return format_html('<a class="short-id" href="{}" title="{}">{}</a>', url, text, text[-SHORT_ID:])
    return format_html('<span class="short-id" title="{}">{}</span>', text, text[-SHORT_ID:])


def clipped(text: Any, *, empty: str = "-") -> str:
    """Text a list cell cuts to its width (an ellipsis; the whole text on hover)."""
    text = "" if text is None else str(text)
    return format_html('<span class="clip" title="{}">{}</span>', text, text or empty)


# The console's stylesheet (short ids, clipped cells, diffs, the users' quota column): a ModelAdmin
# lists it in its Media (``class Media: css = CONSOLE_CSS``), a page template links it.
CONSOLE_CSS = {"all": ["cloudassist/console.css"]}
INTRALINE_LIMIT = 2000  # longer changed lines are marked whole, not character by character


def side_by_side(old: str, new: str, *, old_label: str, new_label: str, context: int = 3) -> SafeString:
    """Two texts side by side, as a table: changed lines with ``context`` lines around them, line
    numbers on both sides, removed text in <del>, added text in <ins> (a marker, not only a colour),
    the unchanged stretches between them counted. Escaped: the texts are user input."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    groups = list(difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_grouped_opcodes(context))
    if not groups or (len(groups) == 1 and all(tag == "equal" for tag, *_ in groups[0])):
        return format_html('<p class="diff-same">{}</p>', "No difference.")
    rows: list[SafeString] = []
    shown_to = 0
    for group in groups:
        first = group[0][1]
        if first > shown_to:
            rows.append(_skipped(first - shown_to))
        for opcode in group:
            rows.extend(_diff_rows(old_lines, new_lines, opcode))
        shown_to = group[-1][2]
    if shown_to < len(old_lines):
        rows.append(_skipped(len(old_lines) - shown_to))
    return format_html(
        '<table class="version-diff"><thead><tr><th scope="col" colspan="2">{}</th>'
        '<th scope="col" colspan="2">{}</th></tr></thead><tbody>{}</tbody></table>',
        old_label,
        new_label,
        mark_safe("".join(rows)),  # noqa: S308 -- every row is built by format_html
    )


def _skipped(count: int) -> SafeString:
    return format_html(
        '<tr class="diff-skipped"><td colspan="4">{} unchanged line{}</td></tr>', count, "" if count == 1 else "s"
    )


def _diff_rows(old_lines: list[str], new_lines: list[str], opcode: tuple[str, int, int, int, int]):
    tag, i1, i2, j1, j2 = opcode
    if tag == "equal":
        for offset in range(i2 - i1):
            text = old_lines[i1 + offset]
            yield _row("diff-equal", i1 + offset + 1, text, j1 + offset + 1, text)
        return
    old_part, new_part = old_lines[i1:i2], new_lines[j1:j2]
    for offset in range(max(len(old_part), len(new_part))):
        left = old_part[offset] if offset < len(old_part) else None
        right = new_part[offset] if offset < len(new_part) else None
        if left is not None and right is not None:
            marked_left, marked_right = _intraline(left, right)
            yield _row("diff-changed", i1 + offset + 1, marked_left, j1 + offset + 1, marked_right)
        elif left is not None:
            yield _row("diff-removed", i1 + offset + 1, format_html("<del>{}</del>", left), None, "")
        else:
            yield _row("diff-added", None, "", j1 + offset + 1, format_html("<ins>{}</ins>", right))


def _intraline(left: str, right: str) -> tuple[SafeString, SafeString]:
    """The two versions of a changed line, what differs marked within it."""
    if len(left) + len(right) > INTRALINE_LIMIT:
        return format_html("<del>{}</del>", left), format_html("<ins>{}</ins>", right)
    old_parts, new_parts = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        if tag == "equal":
            old_parts.append(format_html("{}", left[i1:i2]))
            new_parts.append(format_html("{}", right[j1:j2]))
            continue
        if i2 > i1:
            old_parts.append(format_html("<del>{}</del>", left[i1:i2]))
        if j2 > j1:
            new_parts.append(format_html("<ins>{}</ins>", right[j1:j2]))
    return mark_safe("".join(old_parts)), mark_safe("".join(new_parts))  # noqa: S308 -- built by format_html


def _row(kind: str, old_number: int | None, old_text: str, new_number: int | None, new_text: str) -> SafeString:
    return format_html(
        '<tr class="{}"><td class="line-number">{}</td><td class="diff-old">{}</td>'
        '<td class="line-number">{}</td><td class="diff-new">{}</td></tr>',
        kind,
        old_number or "",
        old_text,
        new_number or "",
        new_text,
    )


class ReadOnlyAdminMixin:
    """For a ModelAdmin or an inline: nothing is added, changed or deleted; the change page is a view page."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceTransactionsMixin:
    """For a ModelAdmin whose saves call services that run their own MongoDB transaction
    (cloudassist.db.run_atomic): Django's add/change view wraps its POST in
    django.db.transaction.atomic(), which does nothing on MongoDB but marks an atomic block in
    which run_atomic's commit refuses to run. The services are the transactions, so no wrapper."""

    @method_decorator(csrf_protect)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return django_internals.changeform_view(self, request, object_id, form_url, extra_context)


class DeletionConsequenceMixin:
    """Django's delete confirmations (one object, "delete selected") say first what deleting costs:
    ``deletion_consequence(objects)``, through admin/cloudassist/delete_confirmation.html."""

    delete_confirmation_template = "admin/cloudassist/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/cloudassist/delete_confirmation.html"

    def deletion_consequence(self, objects: list) -> str:
        return ""

    def render_delete_form(self, request, context):
        context["django_template"] = "admin/delete_confirmation.html"
        context["consequence"] = self.deletion_consequence([context["object"]])
        return super().render_delete_form(request, context)

    @admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
    def delete_selected(self, request, queryset):
        """Django's "delete selected", its confirmation saying what it costs (list it in ``actions``)."""
        return self.with_consequence(django_actions.delete_selected(self, request, queryset), queryset)

    def with_consequence(self, response, queryset):
        """Django's "delete selected" confirmation page (a TemplateResponse) with the consequence."""
        if getattr(response, "context_data", None) is not None:
            response.context_data["django_template"] = "admin/delete_selected_confirmation.html"
            response.context_data["consequence"] = self.deletion_consequence(list(queryset))
        return response


def add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: each field's messages on that field when the form
    has it, the rest (and an error for no field in particular) at the top of the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class CloudAssistAdminSite(admin.AdminSite):
    """The admin site. Its index opens with what waits for review: each registered ModelAdmin with a
    ``pending_review_count(request)`` method (the apps' review admins) adds a row, linking to its list."""

    site_header = "CloudAssist administration"
    site_title = "CloudAssist"
    # No app list beside every page: the index has it, and the review lists get the whole width
    # (the pending list fits 1440 px without scrolling; the browser test checks it).
    enable_nav_sidebar = False
    index_title = "Review requests, manage templates, users and roles"
    index_template = "admin/cloudassist/index.html"
    # No facet counts ("Show counts", ?_facets=True) on any list: Django counts them as one
    # aggregate of Count(filter=...) over the list's queryset, which django-mongodb-backend cannot
    # compile when that queryset has a subquery (a role-scoped list: NotImplementedError, a 500)
    # and which otherwise walks the whole collection. ?_facets=True renders the list without counts.
    show_facets = admin.ShowFacets.NEVER

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        for model_admin in django_internals.registered(self).values():
            model_admin.show_facets = self.show_facets

    def password_change(self, request, extra_context=None):
        """Django's page, through the one password service (it revokes the user's API tokens)."""
        from django.contrib.admin.forms import AdminPasswordChangeForm

        from cloudassist.accounts import PasswordChangeView

        defaults = {
            "form_class": AdminPasswordChangeForm,
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return PasswordChangeView.as_view(**defaults)(request)

    def index(self, request, extra_context=None):
        return super().index(request, {"pending_reviews": self.pending_reviews(request), **(extra_context or {})})

    def pending_reviews(self, request) -> list[dict[str, Any]]:
        rows = []
        for model, model_admin in django_internals.registered(self).items():
            count = getattr(model_admin, "pending_review_count", None)
            if count is None or not model_admin.has_view_permission(request):
                continue
            opts = model._meta
            rows.append(
                {
                    "label": opts.verbose_name_plural,
                    "count": count(request),
                    "url": reverse(f"{self.name}:{opts.app_label}_{opts.model_name}_changelist"),
                }
            )
        return rows


# --- changelists without joins (MongoDB) -------------------------------------------------------
# django-mongodb-backend runs select_related() as a $lookup over the whole collection before the
# page is cut, and the admin adds one for every foreign key in list_display. These changelists cut
# the page first (index-backed filter, sort and count), then load the page's related rows by pk.


class IndexedChangeList(ChangeList):
    def apply_select_related(self, qs):
        return qs

    def get_results(self, request):
        if self.model_admin.list_deferred:  # the page only: actions and the change form load everything
            self.queryset = self.queryset.defer(*self.model_admin.list_deferred)
        super().get_results(request)
        self.result_list = attach_related(self.result_list, *self.model_admin.list_related_by_pk)


class IndexedChangeListMixin:
    """For a ModelAdmin: ``list_related_by_pk`` names the foreign keys the list shows."""

    list_related_by_pk: tuple[str, ...] = ()
    list_deferred: tuple[str, ...] = ()  # fields the list page never shows: not loaded for it
    list_select_related = False
    show_full_result_count = False  # "N total" would be a second count of the whole collection
    paginator = IndexedCountPaginator

    def get_changelist(self, request, **kwargs):
        return IndexedChangeList


class RelatedValuesFilter(admin.RelatedFieldListFilter):
    """Like RelatedOnlyFieldListFilter (only the related rows that occur), but the values come from
    MongoDB's ``distinct`` on the indexed foreign key column (an index-only DISTINCT_SCAN) instead
    of a ``$group`` over every document."""

    def field_choices(self, field, request, model_admin):
        collection = connection.get_collection(model_admin.model._meta.db_table)
        ids = [value for value in collection.distinct(field.column) if value is not None]
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        related = field.related_model._default_manager.filter(pk__in=ids).order_by(*ordering)
        return [(row.pk, str(row)) for row in related]


def search_by_username(queryset, term: str, *, fields: tuple[str, ...], text_fields: tuple[str, ...]):
    """Admin search without a join: usernames containing ``term`` are resolved to user ids first
    (one query on the users), then matched on the foreign keys, or'ed with the text fields."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    if not term:
        return queryset
    user_ids = list(get_user_model().objects.filter(username__icontains=term).values_list("pk", flat=True))
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}_id__in": user_ids})
    for field in text_fields:
        condition |= Q(**{f"{field}__icontains": term})
    return queryset.filter(condition)


HISTORY_ROWS = 50  # the newest versions a history inline shows; older ones stay reachable by URL


class HistoryFormSet(BaseInlineFormSet):
    """For a version-history inline: display only, the newest HISTORY_ROWS versions; nothing
    posted is read."""

    def __init__(self, data=None, files=None, *args, **kwargs):
        super().__init__(None, None, *args, **kwargs)

    def get_queryset(self):
        if not hasattr(self, "_history"):
            self._history = super().get_queryset()[:HISTORY_ROWS]
        return self._history
