"""GX's data docs views, with their Jinja templates compiled once per process.

GX builds a new Jinja environment for every view it instantiates, so each data docs build
compiles the same page templates again: about a quarter of a gate's time on a small
partition. These subclasses keep the first environment of their kind and hand it to the
next instance; the pages are the same. The runner names them in the site configuration
(``view`` of the validations section and of the index), GX's own extension point.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView


class _SharedEnvironment:
    _environments: ClassVar[dict[tuple[type, Any, Any], Any]] = {}
    env: Any

    def __init__(self, custom_styles_directory: Any = None, custom_views_directory: Any = None) -> None:
        key = (type(self), custom_styles_directory, custom_views_directory)
        shared = self._environments.get(key)
        super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
        if shared is None:
            self._environments[key] = self.env
        else:
            self.env = shared  # its filters are bound to an equal view of the same directories


class CachedJinjaPageView(_SharedEnvironment, DefaultJinjaPageView):  # type: ignore[misc]
    """``DefaultJinjaPageView`` compiling its templates once per process."""


class CachedJinjaIndexPageView(_SharedEnvironment, DefaultJinjaIndexPageView):  # type: ignore[misc]
    """``DefaultJinjaIndexPageView`` compiling its templates once per process."""
