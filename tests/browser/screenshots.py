"""`make screenshots`: a picture of each main page, as each kind of user sees it, in docs/screenshots/.

Starts the app on a fresh database with the demo data (like the browser tests), drives Debian's Chromium, and
writes one PNG per page. Pages whose route does not exist yet are left out and listed at the end.

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser import live_app
from tests.browser.accessibility import settle

DEFAULT_OUT = live_app.PROJECT_ROOT / "docs" / "screenshots"
# The browser tests' cache of the demo database (pytest's cache folder), shared so neither builds it twice.
DEMO_CACHE = live_app.PROJECT_ROOT / ".pytest_cache" / "d" / "commintel-browser-demo"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _shown(target: Path) -> str:
    """The picture's path for the summary: relative to the project when it is inside it."""
    return (
        str(target.relative_to(live_app.PROJECT_ROOT)) if target.is_relative_to(live_app.PROJECT_ROOT) else str(target)
    )


def _submit_empty_form(page: Page) -> None:
    page.locator("main form[method=post] button[type=submit]").last.click()
    page.wait_for_load_state()


def _import_invalid_grants(page: Page) -> None:
    """Upload the suite's invalid 360Giving file: the row-by-row report, nothing stored."""
    invalid = Path(__file__).resolve().parent.parent / "data" / "grants" / "invalid.csv"
    page.locator("input[type=file]").set_input_files(str(invalid))
    page.locator("main form[method=post] button[type=submit]").last.click()
    page.wait_for_load_state()


def _first_link(*patterns: str) -> Callable[[Page], None]:
    """Follow, one page after another, the first link in the main content whose address matches each pattern."""

    def action(page: Page) -> None:
        for pattern in patterns:
            hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
            href = next((h for h in hrefs if re.search(pattern, h)), None)
            if href is None:
                raise LookupError(f"no link matching {pattern} on {page.url}")
            page.goto(href)

    return action


def _create_token(page: Page) -> None:
    page.get_by_label("Name of the token").fill("Case management system")
    page.get_by_role("button", name="Create the token").click()
    page.wait_for_load_state()


def _password_of(role: str) -> Callable[[Page], None]:
    """Sign in with the password only, stopping at the second step (the code page)."""

    def action(page: Page) -> None:
        page.get_by_label("Email address").fill(live_app.DEMO_LOGINS[role])
        page.get_by_label("Password").fill(live_app.DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/auth/mfa"))

    return action


@dataclass(frozen=True)
class Shot:
    name: str
    role: str
    path: str
    action: Callable[[Page], None] | None = None
    viewport: dict | None = None


SHOTS = (
    Shot("01-start", "anonymous", "/"),
    Shot("02-sign-in", "anonymous", "/auth/login"),
    Shot("03-public-form", "anonymous", "/public/bristol/observe"),
    Shot("04-home-member", "member", "/home"),
    Shot("04b-home-org-admin", "org_admin", "/home"),
    Shot("04c-home-resident", "resident", "/home"),
    Shot("05-observation-form", "member", "/observations/new"),
    Shot("06-observation-form-errors", "member", "/observations/new", _submit_empty_form),
    Shot("07-observations", "member", "/observations/"),
    Shot("08-observation", "member", "/observations/", _first_link(r"^/observations/\d+$")),
    Shot("09-import", "member", "/observations/import"),
    Shot("10-moderation", "convenor", "/observations/moderation"),
    Shot("11-home-convenor", "convenor", "/home"),
    Shot("11b-sessions", "convenor", "/convening/sessions"),
    Shot("12-themes", "convenor", "/themes/bristol"),
    Shot("13-theme", "convenor", "/themes/bristol", _first_link(r"^/themes/bristol/\d+$")),
    Shot(
        "13b-theme-deprivation",
        "convenor",
        "/themes/bristol",
        _first_link(r"^/themes/bristol/\d+$", r"^/areas/themes/\d+$"),
    ),
    Shot("14-areas-map", "convenor", "/areas/"),
    Shot("15-area-profile", "convenor", "/areas/E05010907"),
    Shot("16-partnership", "convenor", "/partnerships/bristol"),
    Shot("17-workspace", "convenor", "/convening/partnerships/bristol"),
    Shot(
        "18-composer",
        "convenor",
        "/convening/partnerships/bristol",
        _first_link(r"^/convening/sessions/\d+$", r"^/convening/sessions/\d+/briefing$"),
    ),
    Shot("19-home-funder", "funder", "/home"),
    Shot("20-library", "funder", "/convening/library"),
    Shot("20b-briefing", "funder", "/convening/library", _first_link(r"^/convening/versions/\d+$")),
    Shot("21-people", "admin", "/admin/users"),
    Shot("22-not-found", "member", "/no-such-page"),
    Shot("23-phone-home", "member", "/home", viewport=PHONE),
    Shot("24-phone-observation-form", "member", "/observations/new", viewport=PHONE),
    Shot("25-phone-area-profile", "convenor", "/areas/E05010907", viewport=PHONE),
    Shot("26-your-account", "convenor", "/auth/account"),
    Shot("27-your-sessions", "convenor", "/auth/sessions"),
    Shot("28-audit-log", "admin", "/admin/audit"),
    Shot("29-api-tokens", "org_admin", "/observations/api-tokens", _create_token),
    Shot("30-mfa-setup", "resident", "/auth/mfa/setup"),
    Shot("31-mfa-code", "anonymous", "/auth/login", _password_of("convenor")),
    Shot("40-network", "convenor", "/network/bristol?months=12"),
    Shot("41-who-else", "org_admin", "/network/mine?months=12"),
    Shot("32-grants-beside-need", "convenor", "/grants/?partnership=bristol&months=all"),
    Shot("32b-grants-funder", "funder", "/grants/?partnership=bristol&months=all"),
    Shot("32c-grants-import", "convenor", "/grants/import?partnership=bristol"),
    Shot("32d-grants-import-errors", "convenor", "/grants/import?partnership=bristol", _import_invalid_grants),
    # The demo's first index is the wards' (with a community domain); the LSOAs' is the second.
    Shot("32-neighbourhood-index", "convenor", "/indexes/1"),
    Shot("32a-neighbourhood-index-lsoas", "convenor", "/indexes/2"),
    Shot("32b-neighbourhood-index-form", "convenor", "/indexes/new"),
    Shot("32c-neighbourhood-index-funder", "funder", "/indexes/1"),
)


def route_exists(path: str, rules: list[str]) -> bool:
    from werkzeug.exceptions import HTTPException, NotFound
    from werkzeug.routing import Map, Rule

    adapter = Map([Rule(r) for r in rules]).bind("localhost")
    try:
        adapter.match(path.split("?", 1)[0])  # a shot's query string is not part of the route
    except NotFound:
        return path == "/no-such-page"
    except HTTPException:  # a redirect (e.g. a missing trailing slash) still means the route exists
        return True
    return True


def take(out: Path, only: set[str] | None = None) -> tuple[list[str], list[str]]:
    out.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    left_out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="commintel-screenshots-") as tmp:
        live = live_app.start(Path(tmp), DEMO_CACHE)
        try:
            rules = [r["rule"] for r in live.routes()]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=live_app.chromium_path(), headless=True, args=live_app.CHROMIUM_ARGS
                )
                pages: dict[tuple[str, str], Page] = {}
                for shot in SHOTS:
                    if only and shot.name not in only:
                        continue
                    if not route_exists(shot.path, rules):
                        left_out.append(f"{shot.name}: no route {shot.path} yet")
                        continue
                    viewport = shot.viewport or DESKTOP
                    key = (shot.role, str(viewport))
                    if key not in pages:
                        context = browser.new_context(base_url=live.base_url, viewport=viewport)
                        pages[key] = context.new_page()
                        if shot.role != "anonymous":
                            live_app.sign_in(pages[key], shot.role)
                    page = pages[key]
                    response = page.goto(shot.path)
                    try:
                        if shot.action:
                            shot.action(page)
                        settle(page)
                    except (LookupError, TimeoutError) as exc:
                        left_out.append(f"{shot.name}: {exc}")
                        continue
                    status = response.status if response else 0
                    if status != (404 if shot.path == "/no-such-page" else 200):
                        left_out.append(f"{shot.name}: {shot.path} answered {status}")
                        continue
                    target = out / f"{shot.name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    made.append(f"{_shown(target)} ({shot.role}, {page.url}, {status})")
                browser.close()
        finally:
            live.stop()
    return made, left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", help="names of the screenshots to take (default: all)")
    args = parser.parse_args(argv)
    if not Path(live_app.chromium_path()).is_file():
        print(f"No Chromium at {live_app.chromium_path()}: apt-get install chromium", file=sys.stderr)
        return 2
    started = time.monotonic()
    made, left_out = take(args.out.resolve(), set(args.only) if args.only else None)
    for line in made:
        print(line)
    for line in left_out:
        print(f"left out: {line}")
    print(f"{len(made)} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")
    return 1 if left_out else 0  # a page that could not be shot as a user sees it is a failure, not a gap


if __name__ == "__main__":
    sys.exit(main())
