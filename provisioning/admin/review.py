"""Approve / reject (and purge, retry, mark cleaned up): one implementation of the review actions
for both admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from bson import ObjectId
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from cloudassist import roles
from cloudassist.admin import refusal
from cloudassist.exceptions import ApplicationError
from cloudassist.mongodb.counting import fast_count
from provisioning import transitions
from provisioning.admin.base import admin_link


@dataclass(frozen=True)
class Decision:
    verb: str  # "approve", "reject", ...: the key of the admin's review_services, and `<verb>_selected`
    done: str
    note_required: bool
    label: str = ""  # how people read the verb, when it is not the verb itself
    move: str = ""  # the transition it makes (provisioning/transitions.py), when not named as the verb
    danger: bool = False  # deletes, or stops tracking, what cannot be had back: the page says what it costs

    @property
    def title(self) -> str:
        return self.label or self.verb

    def allowed_on(self, obj) -> bool:
        """Whether the object's current status still allows the move (who may is the service's call)."""
        return (self.move or self.verb) in transitions.allowed_actions(obj)


APPROVE = Decision(verb="approve", done="approved", note_required=False)
REJECT = Decision(verb="reject", done="rejected", note_required=True)
PURGE = Decision(verb="purge", done="started purging", note_required=False, move="start_purge", danger=True)
RETRY = Decision(verb="retry", done="retried provisioning of", note_required=False)
CLEANED_UP = Decision(
    verb="mark_cleaned_up", done="marked cleaned up", note_required=True, label="mark cleaned up", danger=True
)


class ReviewNoteForm(forms.Form):
    note = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Recorded in the audit trail and shown to the requester.",
    )

    def __init__(self, *args, note_required: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required
        if note_required:
            self.fields["note"].error_messages["required"] = "Say why; the requester will read it."


class ReviewActionsMixin:
    """Approve/reject admin actions with an intermediate note page, calling the review services.

    Subclasses set ``review_services`` ({"approve": fn, "reject": fn}) and ``subject_argument``
    (the keyword the services take the object by). The services raise PermissionDenied (e.g.
    one's own request), a 409 (not pending review any more) or ValidationError; each failure is
    reported per object, nothing here writes a status.
    """

    review_services: ClassVar[dict[str, Any]] = {}
    subject_argument: ClassVar[str] = ""
    pending_status: ClassVar[str] = "REQUESTED"
    review_note_template = "admin/cloudassist/confirm.html"
    actions: ClassVar[list[str]] = ["approve_selected", "reject_selected"]

    def has_review_permission(self, request) -> bool:
        return roles.is_reviewer(request.user)

    def pending_review_count(self, request) -> int:
        """How many wait for review (the admin index shows it): one indexed count."""
        return fast_count(self.model.objects.filter(status=self.pending_status))

    @admin.action(description="Approve selected %(verbose_name_plural)s", permissions=["review"])
    def approve_selected(self, request, queryset):
        return self._review(request, queryset, APPROVE)

    @admin.action(description="Reject selected %(verbose_name_plural)s", permissions=["review"])
    def reject_selected(self, request, queryset):
        return self._review(request, queryset, REJECT)

    def review_label(self, obj) -> str:
        return f"{self.opts.verbose_name} {obj.pk}"

    def outcome(self, obj, decision: Decision) -> str:
        """What the message after the action says of ``obj`` (empty: the decision's own words)."""
        return ""

    def consequence(self, objects: list, decision: Decision) -> str:
        """What the move costs, said on its confirmation page (empty: nothing to lose)."""
        return ""

    def item_detail(self, obj, decision: Decision) -> str:
        """What the move does to this one object, beside it on the confirmation page."""
        return ""

    def response_action(self, request, queryset):
        # Django filters by the posted ids before calling the action; a malformed ObjectId would be a 500.
        malformed = [value for value in request.POST.getlist(ACTION_CHECKBOX_NAME) if not ObjectId.is_valid(value)]
        if malformed:
            self.message_user(request, f"Not a valid id: {', '.join(malformed)}. Nothing was done.", messages.ERROR)
            return None
        return super().response_action(request, queryset)

    def _selected_objects(self, request, queryset) -> tuple[list, int]:
        """The selected rows, looked up by id regardless of the changelist's filters (the default
        status filter would otherwise silently drop rows that changed status meanwhile)."""
        if request.POST.get("select_across") == "1":
            return list(queryset), 0
        ids = list(dict.fromkeys(request.POST.getlist(ACTION_CHECKBOX_NAME)))
        objects = list(self.get_queryset(request).filter(pk__in=[ObjectId(value) for value in ids]))
        return objects, len(ids) - len(objects)

    def _next_url(self, request) -> str | None:
        url = request.POST.get("next", "")
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url
        return None

    def _review(self, request, queryset, decision: Decision):
        objects, missing = self._selected_objects(request, queryset)
        if missing:
            message = f"{missing} selected item(s) no longer exist or are not visible to you."
            self.message_user(request, message, messages.WARNING)
        if not objects:
            return None
        form = ReviewNoteForm(request.POST if "apply" in request.POST else None, note_required=decision.note_required)
        if not form.is_valid():  # unbound (first step) or an empty note when one is required
            return self._note_page(request, objects, decision, form)
        note = form.cleaned_data["note"]
        service = self.review_services[decision.verb]
        done: dict[str, list] = {}  # what each one is now (its status after the move) -> the objects
        for obj in objects:
            try:
                service(actor=request.user, note=note, **{self.subject_argument: obj})
            except (PermissionDenied, ValidationError, ApplicationError) as exc:  # e.g. not pending any more
                level, message = refusal(exc)
                self._report_failure(request, obj, decision, message, level)
            else:
                done.setdefault(self.outcome(obj, decision), []).append(obj)
        for outcome, moved in done.items():
            self.message_user(request, self._outcome_message(decision, outcome, moved), messages.SUCCESS)
        next_url = self._next_url(request)
        return HttpResponseRedirect(next_url) if next_url else None

    def _outcome_message(self, decision: Decision, outcome: str, moved: list) -> str:
        count = len(moved)
        noun = self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural
        if not outcome:
            return f"{decision.done.capitalize()} {count} {noun}."
        if count == 1:
            return f"{self.review_label(moved[0])[:1].upper()}{self.review_label(moved[0])[1:]}: {outcome}"
        head, _, rest = outcome.partition(": ")  # "Approved: provisioning starts now." for several:
        return f"{head} {count} {noun}: {rest}" if rest else f"{count} {noun}: {outcome}"

    def _report_failure(self, request, obj, decision: Decision, reason: str, level: int) -> None:
        self.message_user(request, f"Could not {decision.title} {self.review_label(obj)}: {reason}", level)

    def _note_page(self, request, objects, decision: Decision, form: ReviewNoteForm):
        """The note page offers the move only for the objects whose status still allows it (re-read
        now: a page opened from a stale list must not offer Approve for a request approved since)."""
        opts = self.opts
        movable = [obj for obj in objects if decision.allowed_on(obj)]
        stale = [obj for obj in objects if not decision.allowed_on(obj)]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{decision.title.capitalize()} {opts.verbose_name_plural}",
            "opts": opts,
            "verb": decision.title,
            "danger": decision.danger,
            "action": f"{decision.verb}_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "items": [self._item(obj, detail=self.item_detail(obj, decision)) for obj in movable],
            "stale": [self._item(obj) for obj in stale],
            "stale_heading": f"No longer possible to {decision.title} (its status changed since the list was shown):",
            "consequence": self.consequence(movable, decision) if movable else "",
            "form": form,
            "note_required": decision.note_required,
            "next": self._next_url(request) or "",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.review_note_template, context)

    def _item(self, obj, *, detail: str = "") -> dict:
        link = admin_link(obj, self.review_label(obj))
        return {"pk": obj.pk, "link": link, "state": obj.get_status_display(), "detail": detail}

    # Approve/reject buttons on the change page of an object pending review.
    def render_change_form(self, request, context, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and obj.status == self.pending_status and self.has_review_permission(request):
            context["review_buttons"] = [("approve_selected", "Approve"), ("reject_selected", "Reject")]
        return super().render_change_form(request, context, **kwargs)
