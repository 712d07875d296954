"""A resident without an account finds the public form from the landing page and says where in their own words
(issue 14 item 3): only clicks and typing from `/`, no typed addresses. The neighbourhood "Barton Hill" is stored as
its ward, Lawrence Hill, which the convenor's moderation queue shows (reached from the convenor's home page)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.accessibility import assert_accessible

PARTNERSHIP = "Bristol Community Intelligence Partnership"


def test_anonymous_resident_sends_an_observation_from_the_landing_page_with_a_neighbourhood(
    page_as: Callable[..., Page],
):
    resident = page_as("anonymous")
    resident.goto("/")  # the landing page is where a resident starts: every step after it is a click
    expect(resident.get_by_role("heading", level=2, name=re.compile("Tell us what you see"))).to_be_visible()
    assert_accessible(resident)

    resident.get_by_role("link", name=f"Tell {PARTNERSHIP} what you see").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text(f"Tell {PARTNERSHIP} what you see")
    # Wording for someone writing about themselves, and no sharing choice that means nothing to them.
    expect(resident.get_by_label("You may quote what I wrote in the partnership's briefings")).to_be_visible()
    expect(resident.get_by_text("My organisation only")).to_have_count(0)
    expect(resident.get_by_role("heading", level=2, name="Who reads it")).to_be_visible()
    assert_accessible(resident)

    marker = f"bh{uuid.uuid4().int % 10**6:06d}"
    resident.get_by_label("A need").check()
    resident.get_by_label("Category").select_option(label="Food")
    resident.get_by_label("What you have seen").fill(
        f"The community pantry by the flats has run out of tinned food two weeks running ({marker})."
    )
    resident.get_by_label("Area").fill("Barton Hill")
    resident.get_by_label("You may quote what I wrote in the partnership's briefings").check()
    resident.get_by_role("button", name="Send").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(resident.get_by_text(f"Your message has reached {PARTNERSHIP}")).to_be_visible()
    assert_accessible(resident)

    # The convenor moderates it: the neighbourhood was stored as its ward.
    convenor = page_as("convenor")
    convenor.get_by_role("link", name="Open the moderation queue").click()
    item = convenor.locator("section.card").filter(has_text=marker)
    expect(item).to_have_count(1)
    expect(item.locator(".moderation-area p").first).to_have_text("Area: Lawrence Hill")
