"""Shared fixtures: an app per database backend, a rolled-back transaction per test, factories, signed-in clients.

Every test that uses ``app`` (directly or through ``client``, ``db_session`` or a factory) runs on SQLite and on
PostgreSQL. PostgreSQL tests need ``COMMINTEL_TEST_POSTGRES_URL``; without it they are skipped with that reason,
except in CI (``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession

import webapp.models as webapp_models
from webapp import create_app
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Organisation, OrgKind, OrgRole, Partnership, PlatformRole, User

PASSWORD = "correct horse battery"

# Tests create and sign in hundreds of users: argon2id with its production cost would spend most of the suite's time
# hashing. The algorithm and format stay the same (test_auth checks the $argon2id$ prefix); only the cost is lower.
webapp_models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# ../shared/data beside the repository (COMMINTEL_SHARED_DATA elsewhere, as for the benchmarks).
SHARED_DATA = Path(
    os.environ.get("COMMINTEL_SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
# Nothing may be downloaded: the Hugging Face libraries fail instead of fetching (subprocesses inherit this).
os.environ["HF_HUB_OFFLINE"] = "1"
# One ONNX export of the encoder for the whole suite and its subprocesses (it is verified by sha256 at every load),
# instead of one per instance folder.
os.environ.setdefault("COMMINTEL_MODEL_CACHE_DIR", str(Path(tempfile.gettempdir()) / "commintel-test-models"))

# Under pytest-xdist (`make test` runs the suite in two worker processes) each worker is given services of its own,
# derived from the ones in the environment, so that no two workers share a database, a Redis index or a queue:
# PostgreSQL databases `<name>_gw0`, `<name>_gw1`... (created on first use, see `worker_database`) and Redis database
# index `<index> + n` (mod 16). The environment is rewritten, so subprocesses the tests start inherit the worker's.
# Temporary and instance folders are already the worker's own (tmp_path_factory gives each worker its own base).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
POSTGRES_ENV = ("COMMINTEL_TEST_POSTGRES_URL", "COMMINTEL_TEST_BENCH_POSTGRES_URL")
_SHARED_POSTGRES: dict[str, str] = {}  # the worker's database URL -> the URL it was derived from (to create it)


def _for_worker(worker: str) -> None:
    from sqlalchemy.engine import make_url

    if os.environ.get("_COMMINTEL_TEST_SERVICES_OF") == worker:
        return  # a subprocess of a worker: the environment is already the worker's
    os.environ["_COMMINTEL_TEST_SERVICES_OF"] = worker
    n = int(worker.removeprefix("gw"))
    for name in POSTGRES_ENV:
        if os.environ.get(name):
            shared = make_url(os.environ[name])
            own = shared.set(database=f"{shared.database}_{worker}").render_as_string(hide_password=False)
            _SHARED_POSTGRES[own] = os.environ[name]
            os.environ[name] = own
    if os.environ.get("COMMINTEL_TEST_REDIS_URL"):
        shared = make_url(os.environ["COMMINTEL_TEST_REDIS_URL"])
        index = (int(shared.database or 0) + n) % 16
        os.environ["COMMINTEL_TEST_REDIS_URL"] = shared.set(database=str(index)).render_as_string(hide_password=False)


if XDIST_WORKER:
    _for_worker(XDIST_WORKER)


def worker_database(url: str) -> str:
    """``url``, after creating it if it is a worker's own PostgreSQL database that does not exist yet (connecting to
    the database it was derived from; the role needs CREATEDB, which .ci/run grants)."""
    shared = _SHARED_POSTGRES.get(url)
    if shared is None:
        return url  # not a worker's database, or already made
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = sa.create_engine(make_url(shared).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError as exc:
        # Two processes of one worker may race to create it: the loser finds it there.
        with engine.connect() as connection:
            if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                pytest.fail(f"could not create the test worker's PostgreSQL database {name} (needs CREATEDB): {exc}")
    finally:
        engine.dispose()
    del _SHARED_POSTGRES[url]
    return url


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_url(env_name: str, what: str) -> str:
    """The URL of a test service from the environment, or skip (fail in CI) saying which variable is missing."""
    url = os.environ.get(env_name)
    if not url:
        message = f"{what} tests skipped: {env_name} is not set (.ci/run starts {what} and sets it)"
        if in_ci():
            pytest.fail(message.replace("skipped", "cannot run in CI"))
        pytest.skip(message)
    return worker_database(url) if env_name in POSTGRES_ENV else url


class BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session asks its engines first; in tests it must use the connection it is bound to."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


class IsolatedClient(FlaskClient):
    """A test client whose requests do not see the previous request's signed-in user.

    The ``db_session`` fixture keeps one app context pushed for the whole test, and Flask reuses a pushed app
    context for requests, so ``g`` (where Flask-Login caches the user) would otherwise leak between clients.
    """

    def open(self, *args, **kwargs):
        from flask import g, has_app_context

        if has_app_context():
            for name in ("_login_user", "user_session", "session_ended"):
                g.pop(name, None)
        return super().open(*args, **kwargs)


def app_config(database_url: str, instance_dir: Path, **extra) -> dict:
    config = {
        "COMMINTEL_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "COMMINTEL_INSTANCE_DIR": str(instance_dir),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "CELERY_TASK_ALWAYS_EAGER": True,
        "TESTING": True,
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance_dir = tmp_path_factory.mktemp(f"instance-{request.param}")
    if request.param == "postgresql":
        url = service_url("COMMINTEL_TEST_POSTGRES_URL", "PostgreSQL")
    else:
        url = f"sqlite:///{instance_dir}/test.db"
    flask_app = create_app(app_config(url, instance_dir))
    flask_app.test_client_class = IsolatedClient
    with flask_app.app_context():
        db.drop_all()
        db.create_all()
    yield flask_app
    with flask_app.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator:
    """Run the test inside a transaction that is rolled back afterwards; commits in views become savepoints.

    Factories commit (which releases a savepoint, nothing more) so that what they make survives a view's rollback.
    Each request ends by removing the scoped session: re-read objects with ``db.session.get`` after a request.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"class_": BoundSession, "bind": connection, "join_transaction_mode": "create_savepoint"}
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask, db_session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_org(db_session) -> Callable[..., Organisation]:
    counter = iter(range(1, 10_000))

    def factory(name: str | None = None, kind: OrgKind = OrgKind.CHARITY, **kw) -> Organisation:
        org = webapp_ops.create_organisation(name or f"Test Organisation {next(counter)}", kind, **kw)
        db.session.commit()
        return org

    return factory


@pytest.fixture
def make_user(db_session) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def factory(
        role: str = "member",
        org: Organisation | None = None,
        email: str | None = None,
        password: str = PASSWORD,
    ) -> User:
        n = next(counter)
        platform_role = None if role in ("member", "org_admin") else PlatformRole(role)
        user = webapp_ops.create_user(
            email or f"{role}{n}@example.org",
            password,
            f"Test {role} {n}",
            platform_role=platform_role,
            organisation=org,
            org_role=OrgRole.ADMIN if role == "org_admin" else OrgRole.MEMBER,
        )
        db.session.commit()
        return user

    return factory


def totp_code(user_id: int) -> str:
    """The code a person's authenticator app shows now (computed from their stored secret, as the app would)."""
    return pyotp.TOTP(db.session.get(User, user_id).totp_secret).now()


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD) -> FlaskClient:
    """Sign in through the real forms, second step included: a person whose role requires two-step sign-in sets it
    up on first sign-in (the helper reads the new secret as their app would), later sign-ins type a code."""
    response = client.post("/auth/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    if location.endswith("/auth/mfa/setup"):
        assert client.get("/auth/mfa/setup").status_code == 200
        done = client.post("/auth/mfa/setup", data={"code": totp_code(user.id)})
        assert done.status_code == 200, done.get_data(as_text=True)
        assert "recovery codes" in done.get_data(as_text=True)
    elif location.endswith("/auth/mfa"):
        # Tests sign one person in many times within a 30-second step, which a person with one phone cannot; the
        # app refuses a code twice, so forget the step last used. test_security checks that refusal itself.
        db.session.get(User, user.id).totp_last_step = None
        db.session.commit()
        done = client.post("/auth/mfa", data={"code": totp_code(user.id)})
        assert done.status_code == 302, done.get_data(as_text=True)
    return client


@pytest.fixture
def world(db_session, make_org, make_user) -> dict:
    """One of everything: an organisation in a partnership, a funder, and a user for every role."""
    org = make_org("Lawrence Hill Food Share")
    other_org = make_org("Hartcliffe Mutual Aid", OrgKind.MUTUAL_AID)
    funder_org = make_org("Avon Fund", OrgKind.FUNDER)
    users = {
        "resident": make_user("resident"),
        "member": make_user("member", org),
        "org_admin": make_user("org_admin", org),
        "convenor": make_user("convenor"),
        "funder": make_user("funder", funder_org),
        "admin": make_user("admin"),
    }
    partnership: Partnership = webapp_ops.create_partnership(
        "Test Partnership",
        "test-partnership",
        members=[org],
        funders=[funder_org],
        convenors=[users["convenor"]],
    )
    db.session.flush()
    return {
        "org": org,
        "other_org": other_org,
        "funder_org": funder_org,
        "users": users,
        "partnership": partnership,
    }


@pytest.fixture
def client_for(app: Flask, world) -> Callable[[str], FlaskClient]:
    """A fresh client signed in as the world's user of ``role`` (or anonymous)."""

    def factory(role: str) -> FlaskClient:
        c = app.test_client()
        if role != "anonymous":
            sign_in(c, world["users"][role])
        return c

    return factory
