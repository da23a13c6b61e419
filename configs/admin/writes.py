"""The admin's writes: each one configs.services call, with its refusals (the domain errors of
cloudassist.exceptions, PermissionDenied, ValidationError) said the admin's way: as errors on the
form that was posted, or as the text of a message. Only the write can tell whether it succeeds
(its compare-and-set, the schema, the size limit, who may write), so nothing is checked twice."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError

from cloudassist.admin import add_errors, refusal
from cloudassist.exceptions import ApplicationError, Conflict, NotFound
from configs import services
from configs.admin.forms import ConfigForm
from configs.models import Config


def changed_meanwhile(current: int) -> str:
    return f"This entry changed meanwhile: now at version {current}. Nothing was saved; reload the page and redo it."


def save(form: ConfigForm, *, actor) -> Config | None:
    """Write a valid entry form: ``create`` for the add form; for the change form ``replace`` at
    the version the form was loaded at (If-Match: a concurrent edit is refused, never overwritten),
    and nothing when nothing was edited. The entry as written, or None with the refusal on the form."""
    try:
        return _save(form, actor=actor)
    except ValidationError as exc:
        add_errors(form, exc)
    except services.PreconditionFailed as exc:
        form.add_error(None, changed_meanwhile(exc.extra["current_version"]))
    except services.SchemaViolation as exc:
        form.add_error(
            "data",
            [f"Does not match the schema at {error['path']}: {error['message']}" for error in exc.extra["errors"]],
        )
    except services.TooLarge as exc:
        form.add_error("data", str(exc))
    except Conflict:
        form.add_error("name", "An entry with this name already exists.")
    except NotFound:
        form.add_error(None, "This entry no longer exists (deleted or expired meanwhile). Nothing was saved.")
    except (ApplicationError, PermissionDenied) as exc:  # may not write, or may not change the access lists
        form.add_error(None, refusal(exc)[1])
    return None


def _save(form: ConfigForm, *, actor) -> Config:
    cleaned = form.cleaned_data
    metadata = {
        "schema": cleaned.get("schema"),
        "labels": cleaned["labels"],
        "read_roles": cleaned.get("read_roles", []),
        "write_roles": cleaned.get("write_roles", []),
    }
    ttl = cleaned.get("ttl")
    if form.instance.pk is None:
        return services.create(actor=actor, name=cleaned["name"], data=cleaned["data"], ttl=ttl or None, **metadata)
    if not form.edited:
        return form.instance  # no new version
    if ttl is not None:
        metadata["ttl"] = ttl or None
    return services.replace(
        actor=actor, name=form.instance.name, data=cleaned["data"], if_match=cleaned["loaded_version"], **metadata
    )


def delete(config: Config, *, actor) -> str | None:
    """Delete ``config``: None when it is gone, else why it was not deleted."""
    try:
        services.delete(actor=actor, name=config.name)
    except services.PreconditionFailed as exc:
        return f"it changed meanwhile (now at version {exc.extra['current_version']})"
    except NotFound:
        return "it no longer exists or has expired"
    except (ApplicationError, PermissionDenied) as exc:
        return refusal(exc)[1]
    return None


def roll_back(config: Config, *, actor, version: int, if_match: int) -> tuple[Config | None, int, str]:
    """Write version ``version``'s data as a new version, if ``config`` is still at ``if_match``:
    the entry as written (None when refused), and the message to show."""
    try:
        new = services.rollback(actor=actor, name=config.name, version=version, if_match=if_match)
    except services.PreconditionFailed as exc:
        current = exc.extra["current_version"]
        message = f"Not rolled back: “{config.name}” changed meanwhile: now at version {current}; reload and check."
    except services.SchemaViolation as exc:
        paths = ", ".join(error["path"] for error in exc.extra["errors"])
        message = f"Not rolled back: version {version} does not match the current schema at {paths}."
    except ValidationError as exc:
        message = f"Not rolled back: {' '.join(exc.messages)}"
    except NotFound:
        message = f"Not rolled back: “{config.name}” no longer exists or has expired."
    except (ApplicationError, PermissionDenied) as exc:
        message = f"Not rolled back: {refusal(exc)[1]}"
    else:
        done = f"Rolled back “{config.name}” to version {version}: it is now at version {new.version}."
        return new, messages.SUCCESS, done
    return None, messages.ERROR, message
