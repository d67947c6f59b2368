"""Sessions: the dictionary ``ambi.session`` exposes for the current request.

Part of the sans-I/O core. This first version has no persistent session store:
``session`` is a :class:`NullSession`, readable (and empty) but refusing writes with a
message that says what to do. Signed cookie sessions compatible with Flask's come next
(see the changelog).
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["NullSession", "SessionMixin"]


class SessionMixin(dict[str, Any]):
    """A session: a dict with Flask's ``new``, ``modified``, ``accessed`` and ``permanent``."""

    new = False
    modified = False
    accessed = False

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session (``_permanent`` key)."""
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class NullSession(SessionMixin):
    """The session used when no session backend is available: empty and read-only."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            "The session is unavailable: this version of Ambi has no session backend"
            " configured. Reading an empty session works; writing to it does not."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
