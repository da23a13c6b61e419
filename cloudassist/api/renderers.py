"""The browsable API, made usable by hand."""

from rest_framework.renderers import BrowsableAPIRenderer


class CloudAssistBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The "Extra Actions" menu lists only the moves the object's ``actions`` field allows, and
    "Log out" is a form button (DRF's link has an inline handler the CSP blocks).

    A state-changing extra action (POST only) is shown when the serialized object names it in
    ``actions`` (what the current user may do with it in its current status). A view maps an
    action whose name differs from its move with ``extra_action_moves`` (``{"purge": "start_purge"}``).
    Read-only extra actions (GET: the audit trail, downloads) and objects without ``actions``
    are left as they are.
    """

    template = "cloudassist/browsable_api.html"

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        view = renderer_context["view"]
        extra = context.get("extra_actions")
        if extra and isinstance(data, dict) and isinstance(data.get("actions"), list):
            context["extra_actions"] = filter_extra_actions(view, extra, set(data["actions"]))
        return context


def filter_extra_actions(view, extra: dict, allowed: set[str]) -> dict:
    moves = getattr(view, "extra_action_moves", {})
    hidden = set()
    for action in view.get_extra_actions():
        if action.detail != view.detail or "get" in action.mapping:
            continue
        name = action.__name__
        if moves.get(name, name) not in allowed:
            hidden.add(view.__class__(**action.kwargs).get_view_name())  # the menu's key, as DRF builds it
    return {name: url for name, url in extra.items() if name not in hidden}
