"""OpenAPI: operations tagged by the app that serves them, with readable summaries, and every
error an operation can answer documented with the one JSON error shape (cloudassist/api/errors.py)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from rest_framework.permissions import AllowAny

from cloudassist.api.serializers import ErrorSerializer
from cloudassist.internals import drf_spectacular as spectacular_internals

# The tag of each app's operations (the core's API is users, roles and tokens).
TAG_BY_APP = {
    "cloudassist": "users",
    "templates": "templates",
    "provisioning": "provisioning",
    "quotas": "quotas",
    "notifications": "notifications",
    "configs": "configs",
}
STANDARD = {
    "list": "List {plural}",
    "create": "Create {a_noun}",
    "retrieve": "Retrieve {a_noun}",
    "update": "Replace {a_noun}",
    "partial_update": "Update {a_noun}",
    "destroy": "Delete {a_noun}",
}


# What each error status means, as its response's description.
ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each offending field (dotted paths for nested ones).",
    401: "No credentials, or a token that is unknown or expired (`Authorization: Token <key>`).",
    403: "You may not do this (your role, or the object's owner).",
    404: "No such object, or one you may not see; also a page number past the last page.",
    409: "Refused in the object's current state (`current_status`), or it conflicts with an existing one.",
    412: "`If-Match` names another version than the current one.",
    413: "The request body (or the document it produces) is larger than accepted.",
    415: "A request body in a media type this operation does not read.",
    422: "The data does not match the entry's JSON Schema.",
    429: "Too many attempts; `Retry-After` says when to try again.",
    503: "A backing service (MongoDB) is unreachable; `Retry-After` says when to try again.",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")


class CloudAssistAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if str(code) not in responses:
                responses[str(code)] = spectacular_internals.response_for_code(
                    self, ErrorSerializer, str(code), ("application/json",), direction
                )
        for code, response in responses.items():
            if not response.get("description") and int(code) in ERROR_DESCRIPTIONS:
                response["description"] = ERROR_DESCRIPTIONS[int(code)]
        return dict(sorted(responses.items()))

    def error_codes(self) -> list[int]:
        """The errors this operation can answer, besides those its view documents itself.

        Every API view: 400 (bad input, also checked at the edge for every request: body size,
        JSON depth, NUL and lone surrogates) and 503 (MongoDB unreachable; not the probes, GETs
        without authentication, which say what they check). With authentication: 401 (a bad token
        is refused even where anonymous access is allowed). Authenticated ones: 403. With a path
        parameter or a paginated list: 404. Writes: 409; with a body: 413 and 415. Throttled: 429.
        """
        codes = {400}
        view = self.view
        if view.get_authenticators():
            codes.add(401)
        if view.get_authenticators() or self.method != "GET":  # the probes document their own
            codes.add(503)
        if not all(isinstance(permission, AllowAny) for permission in view.get_permissions()):
            codes.add(403)
        if "{" in self.path or (self.method == "GET" and spectacular_internals.is_paginated_list(self)):
            codes.add(404)
        if self.method in WRITE_METHODS:
            codes.add(409)
        if self.method in BODY_METHODS:
            codes.update((413, 415))
        if view.get_throttles():
            codes.add(429)
        return sorted(codes)

    def get_tags(self) -> list[str]:
        explicit = super().get_tags()
        app = type(self.view).__module__.split(".", 1)[0]
        tag = TAG_BY_APP.get(app)
        default = spectacular_internals.default_tags(self)
        if tag is None or explicit != default:  # an explicit @extend_schema(tags=...) wins
            return explicit
        return [tag]

    def get_summary(self) -> str | None:
        explicit = super().get_summary()
        if explicit:
            return explicit
        return self._derived_summary()

    def _nouns(self) -> tuple[str, str]:
        named = getattr(self.view, "schema_noun", None)  # ("role", "roles") where the model's name misleads
        if named:
            return named
        try:
            model = get_view_model(self.view, emit_warnings=False)
        except Exception:
            model = None
        if model is None:
            name = self.view.get_view_name().lower()
            return name, name
        return str(model._meta.verbose_name), str(model._meta.verbose_name_plural)

    def _derived_summary(self) -> str | None:
        action = getattr(self.view, "action", None)
        if action is None:  # a plain APIView: the handler's docstring, else the view's
            handler = getattr(self.view, self.method.lower(), None)
            methods = [name for name in self.view.http_method_names if name not in ("head", "options")]
            doc = _first_sentence(getattr(handler, "__doc__", None))
            if not doc and len([name for name in methods if hasattr(self.view, name)]) == 1:
                doc = _first_sentence(type(self.view).__doc__)
            return doc or _api_view_summary(self.method, self.view.get_view_name().lower())
        noun, plural = self._nouns()
        if action in STANDARD:
            return STANDARD[action].format(noun=noun, plural=plural, a_noun=_with_article(noun))
        handler = getattr(self.view, action, None)
        name = getattr(handler, "url_path", action).replace("-", " ").replace("_", " ").capitalize()
        if not getattr(self.view, "detail", False):
            return _first_sentence(getattr(handler, "__doc__", None)) or f"{name} ({plural})"
        if self.method == "GET":
            return f"{name} of {_with_article(noun)}"
        return f"{name} {_with_article(noun)}"


VERBS = {"GET": "Read", "POST": "Create", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}


def _api_view_summary(method: str, view_name: str) -> str:
    """ "Config List" / "Config Detail" views: "List configs", "Create a config", "Read a config"..."""
    noun, _, kind = view_name.rpartition(" ")
    if kind == "list" and noun:
        return f"List {noun}s" if method == "GET" else f"{VERBS.get(method, method.title())} {_with_article(noun)}"
    if kind == "detail" and noun:
        return f"{VERBS.get(method, method.title())} {_with_article(noun)}"
    return f"{VERBS.get(method, method.title())} {view_name}"


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").strip().split("\n\n", 1)[0].split())
    return text.split(". ", 1)[0].rstrip(".")
