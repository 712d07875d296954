"""Observations and their intake: web form, bulk file import, public resident form and API; moderation, sharing,
consent and erasure. Builds on :mod:`webapp` (people, organisations, partnerships, areas).

Importing the package loads its blueprints (for :func:`init_app`): every process that uses it builds the app."""

from __future__ import annotations

from flask import Flask

from submissions import (
    models,  # noqa: F401 - registers the tables with the metadata
    search,  # noqa: F401 - the search index follows the observations table
)
from submissions.cli import observations_cli
from submissions.views import (  # noqa: F401 - each module adds its routes to the blueprints
    api,
    bulk,
    moderation,
    observations,
    public,
    tokens,
)
from submissions.views.common import api_bp, bp, public_bp
from submissions.views.home import home_panels
from webapp.extensions import csrf
from webapp.home import register_home_panels


def init_app(app: Flask) -> None:
    # The API authenticates with bearer tokens, never with the session cookie, so CSRF does not apply to it.
    csrf.exempt(api_bp)
    for blueprint in (bp, public_bp, api_bp):
        app.register_blueprint(blueprint)
    app.cli.add_command(observations_cli)
    register_home_panels(app, home_panels)
