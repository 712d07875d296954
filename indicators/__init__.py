"""Official indicator datasets (deprivation, benefits, fuel poverty...), their importers, aggregation up the
geography, and area profiles that set community themes beside them."""

from __future__ import annotations

from flask import Flask, url_for

from indicators import index_models, models  # noqa: F401  (register the tables)
from indicators.admin import bp as admin_bp
from indicators.cli import indicators_cli
from indicators.grants import models as grant_models  # noqa: F401  (register the tables)
from indicators.grants.cli import grants_cli
from indicators.grants.views import bp as grants_bp
from indicators.index_views import bp as index_bp
from indicators.views import bp
from webapp.jobs import register_result_link
from webapp.warmup import register_warm_up


def init_app(app: Flask) -> None:
    app.cli.add_command(indicators_cli)
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(grants_bp)
    app.cli.add_command(grants_cli)
    app.register_blueprint(index_bp)
    register_warm_up(app, _warm_up_index)
    # The import job's page ends with the list of stored releases (the new one among them).
    register_result_link(
        app, "indicators.import", lambda job: ("See the stored releases", url_for("indicator_admin.index"))
    )


def _warm_up_index() -> None:
    """scipy.stats, which the neighbourhood index's ranking imports on first use (2.5 s; a composer page with an
    index section or an index page)."""
    import scipy.stats  # noqa: F401, PLC0415 - heavy: loaded in the warm-up thread
