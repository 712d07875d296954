"""axe-core on every main page for every role: no serious or critical WCAG 2.2 AA violation.

The pages are found, not listed: every GET page the app's policy lets the role reach, and one example of each page
with arguments linked from those (see :func:`tests.browser.accessibility.walk_pages`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser import live_app
from tests.browser.accessibility import assert_accessible, walk_pages

# Pages no link leads to from the role's own pages, checked as well.
EXTRA_PATHS = {
    "anonymous": ["/public/bristol/observe", "/no-such-page"],
    "member": ["/admin/users", "/no-such-page"],
}
# The smallest set of pages every walk must have checked, so a broken walk cannot pass by checking nothing.
MUST_CHECK = {
    "anonymous": {"/", "/auth/login", "/auth/forgot"},
    "resident": {"/home", "/areas/"},
    "member": {"/home", "/areas/", "/orgs/", "/partnerships/"},
    "org_admin": {"/home", "/orgs/lawrence-hill-food-share", "/orgs/lawrence-hill-food-share/invite"},
    "convenor": {"/home", "/partnerships/bristol", "/areas/", "/convening/sessions"},
    "funder": {"/home", "/partnerships/"},
    "admin": {"/home", "/admin/users", "/admin/invite", "/orgs/new"},
}


@pytest.mark.parametrize("role", ["anonymous", "resident", "member", "org_admin", "convenor", "funder", "admin"])
def test_every_main_page_has_no_serious_or_critical_wcag_violation(
    page_as: Callable[..., Page], live_server: live_app.LiveApp, role: str
):
    page = page_as(role)
    routes = live_server.routes()
    known = {r["rule"] for r in routes}
    extra = [p for p in EXTRA_PATHS.get(role, []) if not p.startswith("/public/") or "/public/<slug>/observe" in known]
    walk = walk_pages(page, role, routes, extra)

    missing = MUST_CHECK[role] - set(walk.checked)
    assert not missing, f"the walk did not reach {sorted(missing)} (checked {sorted(walk.checked)})"
    report = walk.blocking_report()
    assert not report, f"{role}: serious or critical WCAG 2.2 AA violations:\n{report}"


def test_a_form_showing_errors_is_accessible(page_as: Callable[..., Page]):
    page = page_as("anonymous")
    page.goto("/auth/login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    assert_accessible(page)
