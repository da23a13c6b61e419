"""Every private or undocumented attribute of a third-party library that CloudAssist touches,
listed in one module per library, with the accessors the rest of the code goes through.

A library may rename or drop such an attribute in any release without notice. Each module here
lists what it relies on (``GUARDED``), and ``cloudassist/tests/test_internals.py`` checks every
entry against the installed version, failing with the library, its version and the attribute.
The libraries are pinned to the minor versions those checks passed on (requirements.in).

Where the code overrides a private hook (a subclass method of the same name), the override
stays in its subclass, and the entry here names it: the check then tells when the library stops
calling that name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Internal:
    """``attribute`` of what ``owner()`` returns (a class, or an instance for attributes set in
    ``__init__``), relied on for ``why``; ``parameters``: a method's leading parameter names
    that the code passes or overrides."""

    distribution: str
    owner: Callable[[], object]
    attribute: str
    why: str
    parameters: tuple[str, ...] = ()

    def problem(self) -> str | None:
        """None while the installed library still has the attribute (and parameters); else what is wrong."""
        target = self.owner()
        name = target.__name__ if isinstance(target, type) else type(target).__name__
        where = f"{self.distribution} {metadata.version(self.distribution)}: {name}.{self.attribute}"
        if not hasattr(target, self.attribute):
            return f"{where} is gone (CloudAssist relies on it: {self.why})"
        if self.parameters:
            found = tuple(inspect.signature(getattr(target, self.attribute)).parameters)[: len(self.parameters)]
            if found != self.parameters:
                return f"{where} takes {found}, not {self.parameters} (CloudAssist relies on it: {self.why})"
        return None
