"""Real-browser journeys: Debian's Chromium, driven by Playwright, against the real app serving the demo data.

The app is started once per test session (see :mod:`tests.browser.live_app`): a fresh SQLite database, the demo
loaded by `commintel demo`, served by `commintel serve` on a free localhost port with its embedded worker. Nothing
downloads a browser: Playwright launches ``/usr/bin/chromium`` (override with ``COMMINTEL_CHROMIUM``). Without it
the browser tests are skipped with that reason, except in CI (``CI=true``), where a missing browser is a failure.

Every test here carries the ``browser`` mark: ``pytest -m "not browser"`` leaves them out while working on something
else; ``make test`` runs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import live_app
from tests.conftest import in_ci

BROWSER_DIR = Path(__file__).resolve().parent
# One per test worker when the suite runs in several (pytest-xdist): each serves its own app.
_WORKER = f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
LAST_LOG = live_app.PROJECT_ROOT / "instance" / f"browser-tests-server{_WORKER}.log"
CHROMIUM_ARGS = live_app.CHROMIUM_ARGS
chromium_path = live_app.chromium_path
sign_in = live_app.sign_in
ROLES = ("resident", "member", "org_admin", "convenor", "funder", "admin")
TIMEOUT_MS = 30_000  # generous: the suite shares a small machine with other work


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if not Path(path).is_file():
        message = (
            f"browser tests skipped: no Chromium at {path} (install Debian's package: apt-get install chromium; "
            "or set COMMINTEL_CHROMIUM)"
        )
        if in_ci():
            pytest.fail(message.replace("skipped", "cannot run in CI"))
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_executable: str) -> dict:
    """pytest-playwright's launch arguments: Debian's Chromium, headless, no background traffic."""
    return {**browser_type_launch_args, "executable_path": chromium_executable, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_server(
    chromium_executable: str, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[live_app.LiveApp]:
    """The app with the demo data, served for the whole session."""
    # The demo database is cached between sessions (see live_app.prepare) unless COMMINTEL_BROWSER_FRESH=1.
    cache = None if os.environ.get("COMMINTEL_BROWSER_FRESH") else pytestconfig.cache.mkdir("commintel-browser-demo")
    live = live_app.start(tmp_path_factory.mktemp("browser-app"), cache)
    try:
        yield live
    finally:
        live.stop()
        # Keep the served app's log where it survives pytest's cleaning of old temporary folders.
        LAST_LOG.parent.mkdir(exist_ok=True)
        shutil.copyfile(live.log_path, LAST_LOG)


@pytest.fixture(scope="session")
def base_url(live_server: live_app.LiveApp) -> str:
    """Replaces pytest-playwright's own (which reads --base-url): every page is addressed relative to the app."""
    return live_server.base_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def context(context: BrowserContext) -> BrowserContext:
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(autouse=True, scope="session")
def _expect_timeout() -> None:
    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def page_as(browser: Browser, browser_context_args: dict) -> Iterator[Callable[[str], Page]]:
    """A new page in its own browser context (its own cookies), signed in as ``role`` (or anonymous)."""
    contexts: list[BrowserContext] = []

    def factory(role: str, **context_args) -> Page:
        ctx = browser.new_context(**{**browser_context_args, **context_args})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        new_page = ctx.new_page()
        if role != "anonymous":
            sign_in(new_page, role)
        return new_page

    yield factory
    for ctx in contexts:
        ctx.close()
