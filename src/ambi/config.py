"""``app.config``: a dict of settings with Flask's loading helpers.

Part of the sans-I/O core. Only UPPER-CASE keys are settings, as in Flask.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["Config"]


class Config(dict[str, Any]):
    """The application's settings (Flask's ``Config`` API)."""

    def __init__(self, root_path: str, defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Copy the UPPER-CASE keys of ``mapping`` and ``kwargs``."""
        items = dict(mapping or {})
        items.update(kwargs)
        for key, value in items.items():
            if key.isupper():
                self[key] = value
        return True

    def from_object(self, obj: object | str) -> None:
        """Copy the UPPER-CASE attributes of an object, or of the object an import string
        (``"package.module:Object"`` or ``"package.module.Object"``) names."""
        if isinstance(obj, str):
            obj = _import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """The settings whose key starts with ``namespace`` (e.g. ``"IMAGE_STORE_"``)."""
        result: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            result[name.lower() if lowercase else name] = value
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _import_string(name: str) -> object:
    module_name, _, attr = name.replace(":", ".").rpartition(".")
    try:
        if module_name:
            module = importlib.import_module(module_name)
            return getattr(module, attr)
        return importlib.import_module(attr)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"Could not import {name!r} for the configuration: {exc}") from exc
