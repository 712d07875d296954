"""commintel's ground floor: the app factory, config, accounts and roles, organisations, partnerships, geography."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from webapp.config import PROJECT_ROOT, load_config
from webapp.http import CommintelFlask

log = logging.getLogger(__name__)

TEMPLATE_DIR = PROJECT_ROOT / "templates"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (tests use it); the environment supplies the rest."""
    app = CommintelFlask(
        __name__,
        template_folder=str(TEMPLATE_DIR),
        static_folder="static",
    )
    app.config.update(load_config(config))
    if app.config["COMMINTEL_TRUSTED_PROXIES"]:
        # Behind a TLS-terminating proxy: the client's address (rate limits, audit) and https (HSTS, secure
        # cookies) come from the proxy's X-Forwarded-* headers, trusted for exactly that many hops.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["COMMINTEL_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    Path(app.config["COMMINTEL_INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    _configure_logging(app)

    from webapp import models  # noqa: F401  (register the tables with the metadata)
    from webapp.auth import login_manager_setup
    from webapp.celery_app import celery_init_app
    from webapp.extensions import csrf, db, limiter, migrate, tune_sqlite

    db.init_app(app)
    with app.app_context():
        tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager_setup(app)
    celery_init_app(app)

    from webapp import errors, security

    errors.register(app)
    security.register(app)

    from webapp.auth import bp as auth_bp
    from webapp.views import admin_bp, api_bp, jobs_bp, main_bp, orgs_bp, partnerships_bp

    for bp in (main_bp, auth_bp, orgs_bp, partnerships_bp, admin_bp, jobs_bp, api_bp):
        app.register_blueprint(bp)

    from webapp.cli import register_cli

    register_cli(app)
    _init_domains(app)

    from webapp.templating import register_template_helpers

    register_template_helpers(app)
    _freeze_start_up_objects(app)
    return app


def _freeze_start_up_objects(app: Flask) -> None:
    """Leave what start-up loaded (modules, the chart library's schemas, templates: ~220,000 objects) out of every
    later garbage collection. A full collection walks every tracked object; with them it took ~100 ms, in the middle
    of whichever request triggered it (the /areas map's p95 was such a request). Objects made later are collected as
    ever."""
    freeze = app.config["COMMINTEL_GC_FREEZE"]
    if freeze == "auto":
        freeze = app.config["COMMINTEL_ENV"] != "testing"
    if freeze:
        import gc

        gc.collect()  # what start-up left as garbage is freed now, not kept for good
        gc.freeze()


# The domain packages of the design card, in the order they build on each other. Each may define
# ``init_app(app)`` to register its blueprints, CLI commands and task hooks.
DOMAIN_PACKAGES = ("submissions", "nlp", "indicators", "convening")


def _init_domains(app: Flask) -> None:
    import importlib

    for name in DOMAIN_PACKAGES:
        module = importlib.import_module(name)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)


def _configure_logging(app: Flask) -> None:
    if app.config["COMMINTEL_ENV"] == "testing" or logging.getLogger().handlers:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # WeasyPrint logs every layout step at INFO; convening.pdf logs one line per render (pages, time, refusals).
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
