"""Journeys through observations: the member's form with a mistake, a CSV import with a bad row, the resident's
public form into the moderation queue, the keyboard-only form, the form without JavaScript, and the funder refused.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.accessibility import assert_accessible
from tests.browser.focus import assert_focus_visible, tab_to

REDACTION_WAIT_S = 120  # the embedded worker loads spaCy on its first redaction


def _unique() -> str:
    """A marker redaction must keep: letters then digits only (a hex marker such as "b3a1fa" is a postcode's shape,
    B3A 1FA, and is rightly redacted)."""
    return f"ref{uuid.uuid4().int % 10**6:06d}"


def _open_new_observation_form(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Observations").click()
    page.get_by_role("link", name="Add an observation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an observation")


def _reload_until(page: Page, locator_text: str, timeout_s: float) -> None:
    """Reload until the main content contains ``locator_text`` (work done by the background worker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if locator_text in page.locator("main").inner_text():
            return
        time.sleep(2)
        page.reload()
    raise AssertionError(f"{locator_text!r} did not appear on {page.url} within {timeout_s} s")


def test_member_fixes_a_mistake_and_finds_the_observation_with_its_redacted_text(page_as: Callable[..., Page]):
    member = page_as("member")
    _open_new_observation_form(member)
    member.get_by_label("A need").check()
    member.get_by_label("Category").select_option(label="Food")
    member.get_by_label("What you have seen").fill("Rats")  # too short
    member.get_by_label("Area").fill("Easton")
    member.get_by_role("button", name="Submit the observation").click()

    # The error is named next to the field, everything entered is kept.
    expect(member.get_by_role("alert")).to_contain_text("There is a problem")
    expect(member.locator("#text-error")).to_be_visible()
    expect(member.locator("#text-error")).to_contain_text("at least 10 characters")
    expect(member.get_by_label("What you have seen")).to_have_attribute("aria-invalid", "true")
    expect(member.get_by_label("Area")).to_have_value("Easton")
    expect(member.get_by_label("A need")).to_be_checked()
    assert_accessible(member)

    marker = _unique()
    text = (
        f"Families at the community centre ({marker}) say their food parcels ran out on Friday. "
        "Call Jane Smith on 07700 900456 to help."
    )
    member.get_by_label("What you have seen").fill(text)
    member.get_by_role("button", name="Submit the observation").click()
    expect(member.get_by_role("status")).to_contain_text("Observation saved.")
    expect(member.locator(".observation-text")).to_have_text(text)  # its own organisation sees what it wrote
    expect(member.locator(".facts")).to_contain_text("Easton")
    detail_url = member.url

    member.get_by_role("link", name="Observations").first.click()
    row = member.get_by_role("row").filter(has_text=marker)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Food")
    expect(row).to_contain_text("Easton")

    # Personal details are removed by the background worker; the submitter is shown what others see.
    member.goto(detail_url)
    _reload_until(member, "Others see:", REDACTION_WAIT_S)
    others_see = member.locator("main .hint").filter(has_text="Others see:").inner_text()
    assert marker in others_see
    assert "07700 900456" not in others_see
    assert "Jane Smith" not in others_see

    # Another organisation in the partnership sees the redacted text only.
    other = page_as("org_admin")
    other.goto(detail_url)
    expect(other.locator(".observation-text")).to_contain_text(marker)
    expect(other.locator("main")).not_to_contain_text("07700 900456")
    expect(other.locator("main")).not_to_contain_text("Jane Smith")


# No dates: they default to today, so the imported rows come first in the list.
CSV_WITH_ONE_BAD_ROW = """text,area,kind,category
"Queues at the food bank on Stapleton Road are longer every week, {m} one",Easton,need,food
"The library homework club is full and has a waiting list, {m} two",Lawrence Hill,asset,education-and-skills
"Damp in the flats is making children ill this winter, {m} three",Atlantis,need,housing-and-homelessness
"""


def test_member_imports_a_csv_and_sees_the_bad_rows_number_and_reason(page_as: Callable[..., Page]):
    marker = _unique()
    member = page_as("member")
    member.get_by_role("navigation", name="Main").get_by_role("link", name="Observations").click()
    member.get_by_role("link", name="Import a file").click()
    expect(member.get_by_role("heading", level=1)).to_have_text("Import observations from a file")
    member.get_by_label("CSV or XLSX file").set_input_files(
        files=[
            {
                "name": f"notes-{marker}.csv",
                "mimeType": "text/csv",
                "buffer": CSV_WITH_ONE_BAD_ROW.format(m=marker).encode(),
            }
        ]
    )
    member.get_by_role("button", name="Upload and match columns").click()

    expect(member.get_by_role("heading", level=1)).to_have_text(f"Match the columns of notes-{marker}.csv")
    expect(member.locator(".lead")).to_contain_text("3 rows")
    member.get_by_role("button", name="Check the rows").click()

    expect(member.get_by_role("heading", level=1)).to_have_text(f"Check the import of notes-{marker}.csv")
    expect(member.locator("main")).to_contain_text(re.compile(r"2 rows (are )?ready to import"))
    expect(member.locator("main")).to_contain_text(re.compile(r"1 rows? (with|ha(s|ve)) problems"))
    problems = member.get_by_role("table")
    expect(problems.locator("tbody tr")).to_have_count(1)
    cells = problems.locator("tbody tr td")
    expect(cells.nth(0)).to_have_text("4")  # the spreadsheet row: the header is row 1
    expect(cells.nth(1)).to_have_text("area")
    expect(cells.nth(2)).to_contain_text("Atlantis")
    assert_accessible(member)

    # The button says what it does: the valid rows go in, the bad one is skipped (before: "Import 2 rows" imported
    # nothing unless a box was ticked).
    expect(member.locator("main")).to_contain_text("The 1 row with problems will not be imported")
    member.get_by_role("button", name="Import the 2 valid rows and skip 1").click()
    expect(member.get_by_role("heading", level=1)).to_have_text("Imported 2 observations")
    with member.expect_download() as download_info:
        member.get_by_role("link", name="Download the skipped rows (CSV)").click()
    skipped = download_info.value.path().read_text(encoding="utf-8-sig")
    assert "Atlantis" in skipped
    assert skipped.splitlines()[1].startswith("4,")

    member.get_by_role("link", name="See the observations").click()
    expect(member.get_by_role("row").filter(has_text=marker)).to_have_count(2)


def test_resident_uses_the_public_form_and_the_convenor_approves_it(page_as: Callable[..., Page]):
    marker = _unique()
    resident = page_as("anonymous")
    resident.goto("/public/bristol/observe")
    expect(resident.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Tell .* what you see$"))
    resident.get_by_label("A need").check()
    resident.get_by_label("Category").select_option(label="Transport and access")
    resident.get_by_label("What you have seen").fill(
        f"The number 48 bus stopped running after 7pm and older people cannot get home ({marker})."
    )
    resident.get_by_label("Area").fill("Hartcliffe and Withywood")
    resident.get_by_role("button", name="Send").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(resident.locator(".lead")).to_contain_text("A moderator will read it before it is shared.")

    convenor = page_as("convenor")
    convenor.goto("/home")
    convenor.get_by_role("navigation", name="Main").get_by_role("link", name="Observations").click()
    convenor.goto("/observations/moderation")
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Residents' observations to moderate")
    item = convenor.locator("section.card").filter(has_text=marker)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Transport and access")
    expect(item).to_contain_text("Hartcliffe and Withywood")
    assert_accessible(convenor)

    # Before approving: edit personal data out of the text, and set the area (plain forms, no JavaScript).
    item.locator("details.edit summary").click()
    item.get_by_label(re.compile("^Text of observation")).fill(
        f"The number 48 bus stops running after 7pm and older people cannot get home ({marker}). Edited."
    )
    item.get_by_role("button", name=re.compile("^Save the edited text")).click()
    expect(convenor.get_by_role("status")).to_contain_text("text edited")
    item = convenor.locator("section.card").filter(has_text=marker)
    expect(item).to_contain_text("Edited.")
    item.get_by_label(re.compile("^Set the area")).select_option(label="Bishopsworth (Ward)")
    item.get_by_role("button", name=re.compile("^Set the area")).click()
    expect(convenor.get_by_role("status")).to_contain_text("area set to Bishopsworth")
    item = convenor.locator("section.card").filter(has_text=marker)
    expect(item).to_contain_text("Area: Bishopsworth")
    assert_accessible(convenor)

    item.get_by_role("button", name="Approve").click()
    expect(convenor.get_by_role("status")).to_contain_text("approved")
    expect(convenor.locator("section.card").filter(has_text=marker)).to_have_count(0)


def test_keyboard_only_observation_with_visible_focus_throughout(page_as: Callable[..., Page]):
    marker = _unique()
    page = page_as("member")
    page.goto("/observations/new")
    tab_to(page, "input[name=kind][value=need]")
    page.keyboard.press("Space")
    assert page.locator("input[name=kind][value=need]").is_checked()
    tab_to(page, "#category")
    page.keyboard.type("Loneliness")
    assert_focus_visible(page)
    tab_to(page, "#text")
    page.keyboard.type(f"Older men in the flats tell us they go days without speaking to anyone ({marker}).")
    tab_to(page, "#area")
    page.keyboard.type("Easton")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Observation saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("A need: Loneliness and isolation")
    expect(page.locator(".observation-text")).to_contain_text(marker)


def test_observation_can_be_submitted_without_javascript(page_as: Callable[..., Page]):
    marker = _unique()
    page = page_as("member", java_script_enabled=False)
    _open_new_observation_form(page)
    page.get_by_label("An asset").check()
    page.get_by_label("Category").select_option(label="Community activities and assets")
    page.get_by_label("What you have seen").fill(f"A new repair cafe opened at the church hall ({marker}).")
    page.get_by_label("Area").fill("Easton")
    page.get_by_label("When").fill("2026-03")
    page.get_by_role("button", name="Submit the observation").click()
    expect(page.get_by_role("status")).to_contain_text("Observation saved.")
    heading = re.compile(r"^An asset.*: Community activities and assets$")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator(".facts")).to_contain_text("March 2026")


@pytest.mark.parametrize("path", ["/observations/", "/observations/1", "/observations/new", "/observations/import"])
def test_funder_is_refused_observation_pages(page_as: Callable[..., Page], path: str):
    funder = page_as("funder")
    expect(funder.get_by_role("navigation", name="Main").get_by_role("link", name="Observations")).to_have_count(0)
    response = funder.goto(path)
    assert response is not None
    assert response.status in (403, 404)
    expect(funder.get_by_role("heading", level=1)).to_have_text(
        re.compile("You do not have access to this page|Page not found")
    )


def test_member_chooses_the_area_on_a_map_of_the_wards(page_as: Callable[..., Page]):
    """Issue 14: "a clickable ward map to choose an area". The map opens under the Area field, and a click on a ward
    writes it into the field as the field's own list would. Opened before the page's scripts have run (a quick
    click on a slow connection or a busy machine: the heading shows while vega still loads), it is drawn as well;
    the script used to listen only for the opening it had missed, and the map never came."""
    member = page_as("member")
    held: list[Route] = []

    def hold(route: Route) -> None:  # the first request waits for the click; any later one goes through
        if held:
            route.continue_()
        else:
            held.append(route)

    member.route("**/js/charts.js*", hold)
    _open_new_observation_form(member)
    member.get_by_text("Choose the ward on a map").click()
    expect(member.locator("details.area-map")).to_have_attribute("open", "")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        member.wait_for_timeout(50)
    assert held, "the form never asked for charts.js"
    held[0].continue_()
    wards = member.locator("details.area-map svg .role-mark path")
    expect(wards.first).to_be_visible()

    member.reload()  # scripts first, then the click: the usual order
    area = member.get_by_label("Area")
    expect(area).to_have_value("")
    status = member.locator("details.area-map [data-choose-status]")
    expect(status).to_have_text("Click a ward on the map, or type its name above.")
    member.get_by_text("Choose the ward on a map").click()
    expect(wards.first).to_be_visible()
    assert wards.count() == 34  # Bristol's wards, the demo partnership's
    wards.nth(len("central") + 10).click()
    expect(area).to_have_value(re.compile(r"^.+ \(E05\d{6}\)$"))
    chosen = area.input_value()
    expect(status).to_have_text(f"Area: {chosen.rsplit(' (', 1)[0]}.")
    assert_accessible(member)
