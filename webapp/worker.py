"""Entry point for Celery workers: `celery -A webapp.worker worker`."""

from webapp import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
