"""The plugin registry: a template's provider name -> the plugin that plans, prices and applies it.

Modules register themselves with ``@register("aws-eks")``; ``get(name)`` returns an instance;
``names()`` and ``choices()`` list them (a template's ``provider`` must be one);
``unavailable_reason(name)`` says why a provider cannot be used now (not configured).
"""

from __future__ import annotations

import functools
import importlib

from providers.base import Provider, ProviderError

_REGISTRY: dict[str, type[Provider]] = {}
_MODULES = ("aws_eks", "aws_s3", "aws_ec2", "kubernetes.provider", "noop")


def register(name: str):
    def decorate(cls: type[Provider]) -> type[Provider]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


@functools.cache
def _load() -> None:
    """Import the provider modules once (tests may have registered their own before)."""
    for module in _MODULES:
        try:
            importlib.import_module(f"providers.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"providers.{module}":
                raise


def get(name: str) -> Provider:
    _load()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ProviderError(f"No provider is registered for '{name}'.") from None


def unavailable_reason(name: str) -> str | None:
    """Why templates of provider ``name`` cannot be requested now (naming the setting to set), or
    None when its provider is registered and configured."""
    _load()
    provider = _REGISTRY.get(name)
    if provider is None:
        return f"No provider is registered for '{name}'."
    return provider.unavailable_reason()


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def choices() -> list[tuple[str, str]]:
    """(name, label) of every plugin, for forms and the API's enum."""
    _load()
    return [(name, _REGISTRY[name].label or name) for name in sorted(_REGISTRY)]
