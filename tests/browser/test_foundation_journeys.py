"""Journeys on the ground floor: signing in as each kind of user, areas, invitations, password resets, error pages,
keyboard-only use with visible focus, and signing in without JavaScript."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser import live_app
from tests.browser.conftest import ROLES, sign_in
from tests.browser.focus import assert_focus_visible, tab_to

HOME_LEAD = {
    "resident": "You share what you see in your neighbourhood, as a resident.",
    "member": "You share what your organisation sees in the community.",
    "org_admin": "You manage your organisation on commintel",
    "convenor": "You convene partnership sessions",
    "funder": "You read the briefings of the partnerships you fund",
    "admin": "You are an administrator",
}
DISPLAY_NAME = {
    "resident": "Robin Resident",
    "member": "Morgan Member",
    "org_admin": "Olu Orgadmin",
    "convenor": "Chris Convenor",
    "funder": "Fran Funder",
    "admin": "Alex Admin",
}


@pytest.mark.parametrize("role", ROLES)
def test_each_demo_login_reaches_its_own_home_page(page: Page, role: str):
    page.goto("/")
    page.get_by_role("link", name="Sign in").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address").fill(live_app.DEMO_LOGINS[role])
    page.get_by_label("Password").fill(live_app.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if role in ("admin", "convenor"):  # their role requires two-step sign-in: set it up, or type a code
        live_app.complete_second_step(page, role)

    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {DISPLAY_NAME[role]}")
    expect(page.locator(".lead")).to_contain_text(HOME_LEAD[role])
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    if role == "admin":
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="People")).to_be_visible()
    else:
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="People")).to_have_count(0)


def test_wrong_password_is_named_next_to_the_field_and_nobody_is_signed_in(page: Page):
    page.goto("/auth/login")
    page.get_by_label("Email address").fill(live_app.DEMO_LOGINS["member"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.locator("#password-error")).to_contain_text("The email address or password is wrong.")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email address")).to_have_value(live_app.DEMO_LOGINS["member"])
    page.goto("/home")
    expect(page).to_have_url(re.compile(r"/auth/login"))


def test_areas_list_shows_the_bristol_wards(page: Page):
    sign_in(page, "member")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Areas").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Areas")
    expect(page.locator(".lead")).to_have_text("34 wards in commintel (Ward 2024 geography).")
    table = page.get_by_role("table", name=re.compile(r"^Wards"))
    expect(table.locator("caption")).to_have_text("Wards (34)")
    expect(table.locator("tbody tr")).to_have_count(34)
    for ward in ("Lawrence Hill", "Ashley", "Hartcliffe and Withywood", "Southmead", "Central"):
        expect(table.get_by_role("link", name=ward, exact=True)).to_be_visible()
    expect(table.locator("tbody")).to_contain_text("Bristol, City of")

    page.get_by_label("Name or code").fill("lawrence")
    page.get_by_role("search", name="Find an area").get_by_role("button").click()
    table = page.get_by_role("table", name=re.compile(r"^Wards matching"))
    expect(table.locator("caption")).to_have_text("Wards matching “lawrence” (2)")
    expect(table.get_by_role("link", name="Avonmouth and Lawrence Weston")).to_be_visible()
    table.get_by_role("link", name="Lawrence Hill").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lawrence Hill")
    expect(page.locator(".facts")).to_contain_text("Ward")
    expect(page.locator(".facts")).to_contain_text("E05010907")
    # The current LSOAs are Census 2021's; the four 2011 ones ONS split are listed apart, kept for older data.
    page.goto("/areas/?level=lsoa")
    expect(page.locator(".lead")).to_have_text("268 LSOAs in commintel (LSOA 2021 geography).")
    expect(page.get_by_role("heading", name="Superseded LSOAs (4)")).to_be_visible()


def test_keyboard_only_sign_in_with_visible_focus_throughout(page: Page):
    page.goto("/auth/login")
    skip = tab_to(page, "a.skip-link")
    expect(skip).to_be_in_viewport()
    assert_focus_visible(page)
    tab_to(page, "#email")
    page.keyboard.type(live_app.DEMO_LOGINS["convenor"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    assert_focus_visible(page)
    page.keyboard.type(live_app.DEMO_PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    # The convenor's second step, by keyboard too: set up first (if no journey has yet), or a code.
    page.wait_for_url(re.compile(r"/auth/mfa"))
    state = live_app._state(page, "convenor")
    setting_up = page.url.split("?")[0].endswith("/auth/mfa/setup")
    if setting_up:
        state["secret"] = page.locator("#totp-secret").inner_text().strip()
    tab_to(page, "#code")
    page.keyboard.type(live_app.fresh_code(state))
    page.keyboard.press("Enter")
    if setting_up:
        page.wait_for_url(re.compile(r"/auth/mfa/setup$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
        tab_to(page, "main a.button")
        page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Chris Convenor")
    # The skip link takes keyboard users past the navigation to the page's content.
    tab_to(page, "a.skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_signing_in_and_out_works_without_javascript(page_as: Callable[..., Page]):
    page = page_as("anonymous", java_script_enabled=False)
    page.goto("/auth/login")
    page.get_by_label("Email address").fill(live_app.DEMO_LOGINS["funder"])
    page.get_by_label("Password").fill(live_app.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Fran Funder")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    page.goto("/home")
    expect(page).to_have_url(re.compile(r"/auth/login"))


def _accept_invitation(page: Page, link: str, name: str, password: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your account")
    page.get_by_label("Your name").fill(name)
    page.get_by_label(re.compile(r"^New password")).fill(password)
    page.get_by_label(re.compile(r"^Repeat the new password")).fill(password)
    page.get_by_role("button", name="Create my account").click()


def test_organisation_admin_invites_a_member_who_sets_up_their_account(
    page_as: Callable[..., Page], live_server: live_app.LiveApp
):
    email = f"new-volunteer-{uuid.uuid4().hex[:8]}@example.org"
    admin = page_as("org_admin")
    admin.get_by_role("link", name="Lawrence Hill Food Share").click()
    admin.get_by_role("link", name="Invite someone").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Invite someone to Lawrence Hill Food Share")
    # A mistake first: the error is named next to the field and nothing is sent.
    admin.get_by_label("Their email address").fill("not-an-address")
    seen = len(live_server.one_time_links())
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.locator("#email-error")).to_be_visible()
    assert len(live_server.one_time_links()) == seen

    admin.get_by_label("Their email address").fill(email)
    admin.get_by_label("Role in the organisation").select_option(label="Member")
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.get_by_role("status")).to_contain_text("Invitation sent. The link works once.")
    link = live_server.wait_for_new_link(seen)
    assert "/auth/invitation/" in link

    newcomer = page_as("anonymous")
    newcomer.goto(link)
    expect(newcomer.locator("main")).to_contain_text("to join Lawrence Hill Food Share")
    expect(newcomer.locator("main")).to_contain_text(email)
    # Passwords that differ: told next to the second field.
    newcomer.get_by_label("Your name").fill("Nia Newcomer")
    newcomer.get_by_label(re.compile(r"^New password")).fill("a long enough password")
    newcomer.get_by_label(re.compile(r"^Repeat the new password")).fill("a different password")
    newcomer.get_by_role("button", name="Create my account").click()
    expect(newcomer.locator("#confirm-error")).to_contain_text("The two passwords differ.")

    _accept_invitation(newcomer, link, "Nia Newcomer", "a long enough password")
    expect(newcomer).to_have_url(re.compile(r"/home$"))
    expect(newcomer.get_by_role("status")).to_contain_text("Welcome to commintel. Your account is ready.")
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Welcome, Nia Newcomer")
    expect(newcomer.locator(".lead")).to_contain_text(HOME_LEAD["member"])
    expect(newcomer.get_by_role("link", name="Lawrence Hill Food Share")).to_be_visible()

    # The link worked once.
    other = page_as("anonymous")
    other.goto(link)
    expect(other.get_by_role("heading", level=1)).not_to_have_text("Set up your account")

    admin.reload()
    admin.goto(admin.url.rsplit("/invite", 1)[0])
    expect(admin.get_by_role("table")).to_contain_text("Nia Newcomer")


def test_forgotten_password_is_reset_through_the_emailed_link(
    page_as: Callable[..., Page], live_server: live_app.LiveApp
):
    # A person of this test's own, so the demo logins keep their published password.
    email = f"resident-{uuid.uuid4().hex[:8]}@example.org"
    admin = page_as("admin")
    admin.goto("/admin/invite")
    admin.get_by_label("Their email address").fill(email)
    admin.get_by_label("Role", exact=True).select_option(label="Resident")
    seen = len(live_server.one_time_links())
    admin.get_by_role("button", name=re.compile("invit", re.I)).click()
    invitation = live_server.wait_for_new_link(seen)
    person = page_as("anonymous")
    _accept_invitation(person, invitation, "Rae Reset", "the first password")
    expect(person.get_by_role("heading", level=1)).to_have_text("Welcome, Rae Reset")
    person.get_by_role("button", name="Sign out").click()

    person.goto("/auth/login")
    person.get_by_role("link", name="Forgotten your password?").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Reset your password")
    person.get_by_label("Email address").fill(email)
    seen = len(live_server.one_time_links())
    person.get_by_role("button", name="Send the link").click()
    expect(person.get_by_role("status")).to_contain_text("If that address has an account")
    reset_link = live_server.wait_for_new_link(seen)
    assert "/auth/reset/" in reset_link

    person.goto(reset_link)
    expect(person.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    person.get_by_label(re.compile(r"^New password")).fill("the second password")
    person.get_by_label(re.compile(r"^Repeat the new password")).fill("the second password")
    person.get_by_role("button", name="Save the new password").click()
    expect(person.get_by_role("status")).to_contain_text("Your password has been changed. Please sign in.")

    person.get_by_label("Email address").fill(email)
    person.get_by_label("Password").fill("the first password")
    person.get_by_role("button", name="Sign in").click()
    expect(person.locator("#password-error")).to_contain_text("The email address or password is wrong.")
    person.get_by_label("Password").fill("the second password")
    person.get_by_role("button", name="Sign in").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Welcome, Rae Reset")

    # The reset link worked once.
    person.goto(reset_link)
    expect(person.get_by_role("heading", level=1)).not_to_have_text("Choose a new password")


def test_error_pages_are_friendly(page_as: Callable[..., Page]):
    anonymous = page_as("anonymous")
    response = anonymous.goto("/no-such-page")
    assert response is not None
    assert response.status == 404
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(anonymous.locator("main")).to_contain_text("There is nothing at this address.")
    expect(anonymous.get_by_role("link", name="Go to the start page")).to_be_visible()
    assert "Traceback" not in anonymous.content()

    # Signed out: a page for signed-in people asks to sign in, then returns there.
    anonymous.goto("/areas/")
    expect(anonymous).to_have_url(re.compile(r"/auth/login\?next="))
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("Sign in")
    anonymous.get_by_label("Email address").fill(live_app.DEMO_LOGINS["resident"])
    anonymous.get_by_label("Password").fill(live_app.DEMO_PASSWORD)
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("Areas")

    member = page_as("member")
    response = member.goto("/admin/users")
    assert response is not None
    assert response.status == 403
    expect(member.get_by_role("heading", level=1)).to_have_text("You do not have access to this page")
    expect(member.locator("main")).to_contain_text("Ask your organisation admin.")
    expect(member.get_by_role("navigation", name="Main")).to_be_visible()

    # Another organisation's page is indistinguishable from a missing one.
    response = member.goto("/orgs/lawrence-hill-food-share")
    assert response is not None
    assert response.status == 404
    expect(member.get_by_role("heading", level=1)).to_have_text("Page not found")
