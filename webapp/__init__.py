"""commintel's ground floor: the app factory, config, accounts and roles, organisations, partnerships, geography.

The factory itself is :mod:`webapp.app`; this package's ``__init__`` runs whenever any ``webapp.*`` module is
imported (a task, a script that reads ``webapp.models``), so it loads nothing until an app is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app (``flask --app webapp``, ``webapp:create_app``). ``config`` overrides settings (tests use it);
    the environment supplies the rest. See :func:`webapp.app.build_app`."""
    # Here, not at the top: the whole app (and the domain packages) is loaded when one is built, not on every
    # `import webapp.x`.
    from webapp.app import build_app  # noqa: PLC0415 - heavy: the whole app, loaded only when one is built

    return build_app(config)
