"""Official indicator datasets (deprivation, benefits, fuel poverty...), their importers, aggregation up the
geography, and area profiles that set community themes beside them."""

from __future__ import annotations

from flask import Flask, url_for


def init_app(app: Flask) -> None:
    from indicators import index_models, models  # noqa: F401  (register the tables)
    from indicators.cli import indicators_cli

    app.cli.add_command(indicators_cli)
    from indicators.views import bp

    app.register_blueprint(bp)
    from indicators.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from indicators.grants import models as grant_models  # noqa: F401  (register the tables)
    from indicators.grants.views import bp as grants_bp

    app.register_blueprint(grants_bp)
    from indicators.grants.cli import grants_cli

    app.cli.add_command(grants_cli)
    from indicators.index_views import bp as index_bp

    app.register_blueprint(index_bp)
    from webapp.jobs import register_result_link

    # The import job's page ends with the list of stored releases (the new one among them).
    register_result_link(
        app, "indicators.import", lambda job: ("See the stored releases", url_for("indicator_admin.index"))
    )
