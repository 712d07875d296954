"""Settings: defaults, environment overrides, validation that names the setting."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import SETTINGS, ConfigError, load_config, settings_table_markdown


def test_defaults_outside_production():
    config = load_config(environ={"COMMINTEL_ENV": "development"})
    assert config["COMMINTEL_SUPPRESSION_K"] == 5
    assert config["REDIS_URL"] is None
    assert config["DATABASE_URL"].startswith("sqlite:///")
    assert config["DATABASE_URL"].endswith("instance/commintel.db")
    assert config["CELERY_BROKER_URL"].startswith("sqlite-queue:///")
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert len(config["SECRET_KEY"]) >= 32  # a random one, since none was given


def test_environment_overrides_and_derived_settings():
    config = load_config(
        environ={
            "COMMINTEL_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgres://u:p@db/commintel",
            "REDIS_URL": "redis://cache:6379/0",
            "COMMINTEL_SUPPRESSION_K": "10",
        }
    )
    assert config["DATABASE_URL"] == "postgresql+psycopg://u:p@db/commintel"
    assert config["COMMINTEL_SUPPRESSION_K"] == 10
    assert config["CELERY_BROKER_URL"] == "redis://cache:6379/0"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"COMMINTEL_ENV": "production"}, "SECRET_KEY"),
        ({"COMMINTEL_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"COMMINTEL_ENV": "staging"}, "COMMINTEL_ENV"),
        ({"COMMINTEL_ENV": "demo", "COMMINTEL_SUPPRESSION_K": "0"}, "COMMINTEL_SUPPRESSION_K"),
        ({"COMMINTEL_ENV": "demo", "COMMINTEL_SUPPRESSION_K": "five"}, "COMMINTEL_SUPPRESSION_K"),
        ({"COMMINTEL_ENV": "demo", "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"COMMINTEL_ENV": "demo", "REDIS_URL": "http://x"}, "REDIS_URL"),
    ],
)
def test_invalid_settings_stop_start_up_naming_the_setting(environ, named, monkeypatch):
    for key in list(environ):
        monkeypatch.setenv(key, environ[key])
    with pytest.raises(ConfigError, match=named):
        load_config(environ=environ)
    with pytest.raises(ConfigError, match=named):
        create_app()


def test_readme_configuration_table_matches_the_settings():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table_markdown() in readme, "regenerate the README table with `commintel settings`"
    assert len(SETTINGS) >= 5


def test_cli_reports_a_bad_setting_without_a_traceback():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}}
    env["COMMINTEL_ENV"] = "production"
    commintel = Path(sys.executable).parent / "commintel"
    result = subprocess.run(
        [str(commintel), "settings"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_gc_freeze_freezes_start_up_objects_outside_testing(tmp_path):
    import gc

    from tests.conftest import app_config

    assert load_config(environ={"COMMINTEL_ENV": "development"})["COMMINTEL_GC_FREEZE"] == "auto"
    assert (
        load_config(environ={"COMMINTEL_ENV": "development", "COMMINTEL_GC_FREEZE": "off"})["COMMINTEL_GC_FREEZE"]
        is False
    )
    with pytest.raises(ConfigError, match="COMMINTEL_GC_FREEZE"):
        load_config(environ={"COMMINTEL_ENV": "development", "COMMINTEL_GC_FREEZE": "sometimes"})
    gc.unfreeze()
    create_app(app_config(f"sqlite:///{tmp_path}/a.db", tmp_path))  # testing, auto: tests build many apps
    assert gc.get_freeze_count() == 0
    try:
        create_app(app_config(f"sqlite:///{tmp_path}/b.db", tmp_path, COMMINTEL_GC_FREEZE=True))
        assert gc.get_freeze_count() > 10_000  # the modules and schemas start-up loaded
    finally:
        gc.unfreeze()
