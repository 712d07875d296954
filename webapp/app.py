"""The app factory: settings, extensions, the core's blueprints and commands, then each domain package's
``init_app``. Reached through :func:`webapp.create_app` (``flask --app webapp``, ``webapp:create_app``), which
imports this module only when an app is built."""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import webapp.models  # noqa: F401 - registers the tables with the metadata before the database is set up
from webapp import (
    account_views,  # noqa: F401 - adds the account pages to the auth blueprint
    errors,
    security,
)
from webapp.admin_views import admin_bp
from webapp.auth import bp as auth_bp
from webapp.auth import login_manager_setup
from webapp.celery_app import celery_init_app
from webapp.cli import register_cli
from webapp.config import DOMAIN_PACKAGES, PROJECT_ROOT, load_config
from webapp.extensions import csrf, db, limiter, migrate
from webapp.http import CommintelFlask
from webapp.templating import register_template_helpers
from webapp.transactions import tune_sqlite
from webapp.views import api_bp, jobs_bp, main_bp, orgs_bp, partnerships_bp

log = logging.getLogger(__name__)

TEMPLATE_DIR = PROJECT_ROOT / "templates"


def build_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (tests use it); the environment supplies the rest."""
    app = CommintelFlask(
        "webapp",
        template_folder=str(TEMPLATE_DIR),
        static_folder="static",
    )
    app.config.update(load_config(config))
    if app.config["COMMINTEL_TRUSTED_PROXIES"]:
        # Behind a TLS-terminating proxy: the client's address (rate limits, audit) and https (HSTS, secure
        # cookies) come from the proxy's X-Forwarded-* headers, trusted for exactly that many hops.
        hops = app.config["COMMINTEL_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    Path(app.config["COMMINTEL_INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    _configure_logging(app)

    db.init_app(app)
    with app.app_context():
        tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager_setup(app)
    celery_init_app(app)

    errors.register(app)
    security.register(app)

    for bp in (main_bp, auth_bp, orgs_bp, partnerships_bp, admin_bp, jobs_bp, api_bp):
        app.register_blueprint(bp)

    register_cli(app)
    _init_domains(app)

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
        gc.collect()  # what start-up left as garbage is freed now, not kept for good
        gc.freeze()


def _init_domains(app: Flask) -> None:
    """Load each domain package by name (the core never imports them: the layers contract) and call its
    ``init_app(app)``, which registers its blueprints, CLI commands and task hooks."""
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
