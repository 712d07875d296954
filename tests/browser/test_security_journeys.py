"""Account security in a real browser: a new convenor sets up two-step sign-in (the code computed here from the key
the page shows, as their phone's app would), signs in again with a code and with a recovery code, sees their
sessions, and a cookie copied before signing out opens nothing afterwards."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pyotp
from playwright.sync_api import Page, expect

from tests.browser import live_app
from tests.browser.accessibility import assert_accessible

PASSWORD = "a convenor's own passphrase"


def _sign_in_with_password(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/auth/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_new_convenor_sets_up_two_step_sign_in_and_signs_in_with_a_code(
    page_as: Callable[..., Page], live_server: live_app.LiveApp
):
    email = f"convenor-{uuid.uuid4().hex[:8]}@example.org"
    admin = page_as("admin")
    admin.goto("/admin/invite")
    admin.get_by_label("Their email address").fill(email)
    admin.get_by_label("Role", exact=True).select_option(label="Convenor")
    seen = len(live_server.one_time_links())
    admin.get_by_role("button", name=re.compile("invit", re.I)).click()
    invitation = live_server.wait_for_new_link(seen)

    person = page_as("anonymous")
    person.goto(invitation)
    person.get_by_label("Your name").fill("Cleo Convenor")
    person.get_by_label(re.compile(r"^New password")).fill(PASSWORD)
    person.get_by_label(re.compile(r"^Repeat the new password")).fill(PASSWORD)
    person.get_by_role("button", name="Create my account").click()

    # Their role requires two-step sign-in: set it up before anything else.
    expect(person).to_have_url(re.compile(r"/auth/mfa/setup$"))
    expect(person.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
    expect(person.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    assert_accessible(person)
    person.goto("/home")
    expect(person).to_have_url(re.compile(r"/auth/login"))
    person.goto("/auth/mfa/setup")
    key = person.locator("#totp-secret").inner_text().strip()
    person.get_by_label("Code from the app").fill("000000")
    person.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(person.locator("#code-error")).to_contain_text("That code is not right")
    state = {"secret": key}
    person.get_by_label("Code from the app").fill(live_app.fresh_code(state))
    person.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    codes = person.locator(".codes code").all_inner_texts()
    assert len(codes) == 10
    assert_accessible(person)
    person.get_by_role("link", name=re.compile("I have saved them")).click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Welcome, Cleo Convenor")
    person.get_by_role("button", name="Sign out").click()

    # Next time: password, then a fresh code from the app.
    _sign_in_with_password(person, email)
    expect(person.get_by_role("heading", level=1)).to_have_text("Enter your code")
    assert_accessible(person)
    person.get_by_label(re.compile(r"^Code\b(?! from)")).fill(live_app.fresh_code(state))
    person.get_by_role("button", name="Continue").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Welcome, Cleo Convenor")
    assert pyotp.TOTP(key).now()  # the key the page showed is a real RFC 6238 secret

    # Their sessions: this one is marked.
    person.get_by_role("link", name="Cleo Convenor").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Your account")
    person.get_by_role("link", name="Your sessions").click()
    expect(person.get_by_role("table").first).to_contain_text("(this one)")
    assert_accessible(person)

    # A recovery code signs in once, from another browser.
    other = page_as("anonymous")
    _sign_in_with_password(other, email)
    other.get_by_label(re.compile(r"^Code\b(?! from)")).fill(codes[0])
    other.get_by_role("button", name="Continue").click()
    expect(other.get_by_role("status")).to_contain_text("You used a recovery code; 9 left")
    expect(other.get_by_role("heading", level=1)).to_have_text("Welcome, Cleo Convenor")


def test_a_cookie_copied_before_signing_out_opens_nothing_after(
    page_as: Callable[..., Page], browser, browser_context_args: dict
):
    member = page_as("member")
    cookies = member.context.cookies()
    thief_context = browser.new_context(**browser_context_args)
    try:
        thief = thief_context.new_page()
        thief_context.add_cookies(cookies)
        thief.goto("/home")
        expect(thief.get_by_role("heading", level=1)).to_have_text("Welcome, Morgan Member")
        member.get_by_role("button", name="Sign out").click()
        expect(member.get_by_role("status")).to_contain_text("You have signed out.")
        thief.goto("/observations/")
        expect(thief).to_have_url(re.compile(r"/auth/login"))
        expect(thief.get_by_role("heading", level=1)).to_have_text("Sign in")
    finally:
        thief_context.close()


def test_sign_out_everywhere_ends_the_other_browsers_too(page_as: Callable[..., Page]):
    laptop = page_as("resident")
    phone = page_as("resident")
    laptop.goto("/auth/sessions")
    expect(laptop.get_by_role("table").first.locator("tbody tr")).not_to_have_count(0)
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("status")).to_contain_text("You have signed out everywhere")
    phone.goto("/home")
    expect(phone).to_have_url(re.compile(r"/auth/login"))
