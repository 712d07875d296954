"""Observations and their intake: web form, bulk file import, public resident form and API; moderation, sharing,
consent and erasure. Builds on :mod:`webapp` (people, organisations, partnerships, areas)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from submissions import (
        models,  # noqa: F401  (register the tables with the metadata)
        search,  # noqa: F401  (the search index follows the observations table)
    )

    try:
        from submissions.views import api_bp, bp, public_bp
    except ImportError:  # pragma: no cover - views arrive in a later commit
        return
    from webapp.extensions import csrf

    # The API authenticates with bearer tokens, never with the session cookie, so CSRF does not apply to it.
    csrf.exempt(api_bp)
    for blueprint in (bp, public_bp, api_bp):
        app.register_blueprint(blueprint)

    from submissions.cli import observations_cli
    from submissions.views import home_panels
    from webapp.home import register_home_panels

    app.cli.add_command(observations_cli)
    register_home_panels(app, home_panels)
