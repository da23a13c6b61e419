"""OpenAPI: operations tagged by the app that serves them, with readable summaries."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model

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


class CloudAssistAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        explicit = super().get_tags()
        app = type(self.view).__module__.split(".", 1)[0]
        tag = TAG_BY_APP.get(app)
        default = self._default_tags()
        if tag is None or explicit != default:  # an explicit @extend_schema(tags=...) wins
            return explicit
        return [tag]

    def _default_tags(self) -> list[str]:
        tokenized_path = self._tokenize_path()
        return [tokenized_path[0]] if tokenized_path else []

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
