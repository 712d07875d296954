"""The convenor's journey (themes curated and refreshed, an area profile read, a briefing edited, published and
downloaded) and the funder's (finds and reads the briefing, downloads its PDF, is refused observation pages)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.accessibility import assert_accessible, settle
from tests.conftest import in_ci

AUTUMN_BRIEFING = "Autumn review: cost of living and food"  # published by the demo


def _reload_until(page: Page, check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
        page.reload()
    raise AssertionError(f"{what} did not happen on {page.url} within {timeout_s} s")


def _poppler(tool: str) -> str:
    path = shutil.which(tool)  # poppler-utils: installed by .ci/run
    if path is None:
        message = f"{tool} (poppler-utils) is not installed"
        if in_ci():
            pytest.fail(message + ": .ci/run installs it")
        pytest.skip(message)
    return path


def _pdf_text(path: Path) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [_poppler("pdftotext"), "-l", "2", str(path), "-"], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def _pdf_title(path: Path) -> str:
    """The PDF's own Title (document information), as a PDF reader shows it in its title bar."""
    result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [_poppler("pdfinfo"), str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    titles = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("Title:")]
    return titles[0] if titles else ""


def test_convenor_reads_an_area_profile_and_the_map(page_as: Callable[..., Page]):
    convenor = page_as("convenor")
    convenor.get_by_role("navigation", name="Main").get_by_role("link", name="Areas").click()
    settle(convenor)
    area_map = convenor.locator("#area-map")
    expect(area_map).to_have_class(re.compile("chart-drawn"))
    expect(area_map).to_have_attribute("aria-label", re.compile("map"))
    expect(area_map.locator("svg path").first).to_be_attached()
    # The map has a table with every value beside it.
    expect(convenor.locator(".map-table tbody tr")).to_have_count(34)

    convenor.locator(".map-table").get_by_role("link", name="Lawrence Hill").click()
    settle(convenor)
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Lawrence Hill")
    indicators = convenor.get_by_role("table", name="Indicators for Lawrence Hill")
    expect(indicators).to_contain_text("Index of Multiple Deprivation")
    # IoD2025 on 2021 LSOAs, with IoD2019 as the earlier release and each value's release beside it.
    expect(indicators).to_contain_text("Earlier release, English Indices of Deprivation 2019")
    expect(indicators).to_contain_text("released 30 October 2025; published on LSOA 2021")
    expect(indicators).to_contain_text("Bristol, City of")
    expect(convenor.locator(".chart-drawn").first).to_be_visible()
    # Its map: the ward's neighbourhoods coloured by deprivation, drawn, with the table of every value beside it.
    profile_map = convenor.locator("#profile-map")
    expect(profile_map).to_have_class(re.compile("chart-drawn"))
    expect(profile_map.locator("svg path").first).to_be_attached()
    expect(convenor.locator(".map-section .map-table tbody tr")).to_have_count(9)
    expect(convenor.get_by_role("heading", level=2, name="What the community reports")).to_be_visible()
    expect(convenor.get_by_role("table", name="Observations by category and kind")).to_be_visible()
    expect(convenor.get_by_role("heading", level=3, name="Themes")).to_be_visible()
    expect(convenor.locator("main")).not_to_contain_text("No community themes to show here")
    assert_accessible(convenor)

    # Its neighbourhoods (LSOAs): the most deprived with few observations carry an evidence-gap flag, in words.
    lsoas = convenor.eval_on_selector_all("ul.columns a", "els => els.map(e => e.getAttribute('href'))")
    assert len(lsoas) == 9
    for href in lsoas:
        convenor.goto(href)
        if convenor.locator("#flags-heading").count():
            break
    else:
        raise AssertionError("no LSOA of Lawrence Hill shows a flag")
    expect(convenor.locator(".flags .flag h3").first).to_have_text("Evidence gap")
    expect(convenor.locator(".flags .flag p").first).to_contain_text("(English Indices of Deprivation 2025)")
    assert_accessible(convenor)


def test_convenor_composes_edits_publishes_a_briefing_that_the_funder_then_reads(page_as: Callable[..., Page]):
    # From the home page, only clicking (issue 14): the nav's Sessions, the partnership's workspace, a new session,
    # the composer, publishing with its confirmation, the job page's link back to the session, an action recorded.
    convenor = page_as("convenor")  # signing in ends on the home page
    expect(convenor).to_have_url(re.compile(r"/home$"))
    convenor.get_by_role("navigation", name="Main").get_by_role("link", name="Sessions").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Sessions")
    convenor.get_by_role("link", name="Open the workspace").first.click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text(re.compile("workspace$"))

    # A new session: title, date and place; the focus is left at the partnership's whole area.
    title = f"Spring planning session {uuid.uuid4().hex[:4]}"
    convenor.get_by_role("link", name="New session").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text("New session")
    assert_accessible(convenor)
    convenor.get_by_label("Title").fill(title)
    convenor.get_by_label("Date").fill((date.today() + timedelta(days=14)).isoformat())
    convenor.get_by_label("Place").fill("Easton Community Centre")
    convenor.get_by_role("button", name="Create session").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text(title)
    session_url = convenor.url

    # Compose the briefing from the session's focus, then open it in the composer.
    convenor.get_by_role("button", name="Compose the briefing").click()
    expect(convenor.get_by_role("status")).to_be_visible()
    if convenor.get_by_role("link", name="Open the composer").count():
        convenor.get_by_role("link", name="Open the composer").click()
    expect(convenor.locator("section.composer-section").first).to_be_visible()
    expect(convenor.locator("main")).to_contain_text("Needs and assets")
    assert_accessible(convenor)

    # Edit a section: the edit form opens from its summary.
    section = convenor.locator("section.composer-section").filter(has=convenor.locator("details.edit")).first
    section.locator("details.edit summary").click()
    body = section.locator("details.edit textarea").last
    body.fill("The partnership agreed to focus this spring on food and heating. (Edited by the convenor.)")
    section.get_by_role("button", name="Save section").click()
    expect(convenor.get_by_role("status")).to_be_visible()
    expect(convenor.locator("main")).to_contain_text("(Edited by the convenor.)")

    # Every machine-written section must be approved before the briefing can be published: all in one step, once
    # the convenor says they have read them.
    approve_all = convenor.locator("form.approve-all")
    approve_all.get_by_label("I have read these sections and approve them as written").check()
    approve_all.get_by_role("button", name=re.compile(r"^Approve \d+ section")).click()
    expect(convenor.get_by_role("status")).to_contain_text("approved as written")
    expect(convenor.get_by_role("button", name=re.compile("^Approve as written"))).to_have_count(0)
    expect(convenor.locator("#blocker")).to_have_count(0)
    # Publishing asks for confirmation: without the box ticked nothing is published.
    convenor.get_by_role("button", name=re.compile("^Publish")).click()
    expect(convenor.get_by_role("status")).to_contain_text("Nothing was published.")
    convenor.get_by_label("Yes, publish this briefing to the partnership and its funders").check()
    convenor.get_by_role("button", name=re.compile("^Publish")).click()
    expect(convenor.get_by_role("status")).to_contain_text(re.compile(r"Version \d+ is published"))

    # The job page leads back to the session (where the PDF is downloaded once it is ready).
    back_to_session = re.compile(f"(Open the session and its PDF|Back to the session): {re.escape(title)}")
    convenor.get_by_role("link", name=back_to_session).click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text(title)
    assert convenor.url.split("#")[0] == session_url
    download_link = convenor.get_by_role("link", name=re.compile(r"^Download \(\d+ pages\)"))
    _reload_until(convenor, lambda: download_link.count() > 0, 180, "the PDF being prepared")
    with convenor.expect_download() as info:
        download_link.first.click()
    pdf = info.value.path()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert title in _pdf_title(pdf), "the PDF's own title names the session"
    assert title in " ".join(_pdf_text(pdf).split())

    # Record an action on the session page.
    action = f"Ask the council about warm spaces in Easton {uuid.uuid4().hex[:4]}"
    form = convenor.locator("main form").filter(has=convenor.get_by_role("button", name="Record action"))
    form.get_by_label(re.compile(r"^Action\b")).fill(action)
    form.get_by_label("Owner organisation").select_option(index=1)
    form.get_by_role("button", name="Record action").click()
    expect(convenor.get_by_role("status")).to_contain_text("Action recorded.")
    expect(convenor.locator("#actions ~ table")).to_contain_text(action)
    assert_accessible(convenor)

    # The funder finds this briefing in the library and reads it.
    funder = page_as("funder")
    funder.get_by_role("navigation", name="Main").get_by_role("link", name="Briefings").click()
    funder.get_by_role("link", name=title).first.click()
    expect(funder.get_by_role("heading", level=1)).to_have_text(re.compile(f"{re.escape(title)}$"))
    # The funders' edition: written from the counts shared with funders; the convenor's own wording (which may speak
    # of what only the partnership sees) stays in the partnership's edition.
    expect(funder.locator("main")).to_contain_text("Funders' edition")
    expect(funder.locator("main")).not_to_contain_text("(Edited by the convenor.)")


def test_funder_finds_and_reads_the_briefing_and_downloads_it(page_as: Callable[..., Page]):
    funder = page_as("funder")
    funder.get_by_role("navigation", name="Main").get_by_role("link", name="Briefings").click()
    expect(funder.get_by_role("heading", level=1)).to_have_text("Briefings library")
    assert_accessible(funder)
    funder.get_by_role("link", name=AUTUMN_BRIEFING).first.click()
    expect(funder.get_by_role("heading", level=1)).to_have_text(re.compile(f"{re.escape(AUTUMN_BRIEFING)}$"))
    expect(funder.get_by_role("navigation", name="Contents")).to_be_visible()
    assert_accessible(funder)
    with funder.expect_download() as info:
        funder.get_by_role("link", name=re.compile("^Download the PDF")).click()
    pdf = info.value.path()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert AUTUMN_BRIEFING in " ".join(_pdf_text(pdf).split())

    # Observation-level pages are not for funders.
    expect(funder.get_by_role("navigation", name="Main").get_by_role("link", name="Observations")).to_have_count(0)
    response = funder.goto("/observations/")
    assert response is not None
    assert response.status == 403
    expect(funder.get_by_role("heading", level=1)).to_have_text("You do not have access to this page")
    response = funder.goto("/themes/")
    assert response is not None
    assert response.status == 403


# Last in this file: the refit is the heaviest background work, so nothing else waits on the worker meanwhile.
def test_convenor_curates_themes_and_watches_a_refresh(page_as: Callable[..., Page]):
    convenor = page_as("convenor")
    convenor.get_by_role("navigation", name="Main").get_by_role("link", name="Themes").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Themes")
    convenor.get_by_role("link", name="Bristol Community Intelligence Partnership").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text(re.compile("^Themes in Bristol"))
    theme_links = convenor.locator("main table th[scope=row] a")
    expect(theme_links.first).to_be_visible()
    assert theme_links.count() >= 2
    assert_accessible(convenor)
    second_label = theme_links.nth(1).inner_text().strip()

    # Rename the first theme to what the partnership calls it.
    theme_links.first.click()
    expect(convenor.get_by_role("heading", level=2, name="Curate")).to_be_visible()
    name = convenor.locator("main form").filter(has=convenor.get_by_role("button", name="Save name"))
    name.get_by_role("textbox").first.fill("Food parcels running short")
    name.get_by_role("button", name="Save name").click()
    expect(convenor.get_by_role("status")).to_contain_text("Theme renamed.")
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Food parcels running short")
    assert_accessible(convenor)

    # Merge the second theme into the renamed one.
    convenor.get_by_role("link", name=re.compile("^Themes in Bristol")).click()
    convenor.locator("main table th[scope=row] a", has_text=second_label).first.click()
    merge = convenor.locator("main form").filter(has=convenor.get_by_role("button", name="Merge"))
    # Nothing is preselected: merging without choosing says so and merges nothing.
    merge.get_by_role("checkbox").check()
    merge.get_by_role("button", name="Merge").click()
    expect(convenor.get_by_role("status")).to_contain_text("Nothing was merged.")
    merge = convenor.locator("main form").filter(has=convenor.get_by_role("button", name="Merge"))
    merge.get_by_role("combobox").select_option(label="Food parcels running short")
    merge.get_by_role("checkbox").check()
    merge.get_by_role("button", name="Merge").click()
    expect(convenor.get_by_role("status")).to_contain_text("Merged into “Food parcels running short”.")
    # The merged theme's observations now count in the renamed one, whose page is shown.
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Food parcels running short")

    # Start a refresh and watch it on the job page.
    convenor.get_by_role("link", name=re.compile("^Themes in Bristol")).click()
    convenor.get_by_role("button", name="Start a refresh").click()
    expect(convenor.get_by_role("heading", level=1)).to_have_text("Background work")
    progress = convenor.get_by_role("progressbar", name="Progress")
    expect(progress).to_be_visible()
    assert_accessible(convenor)
    status = convenor.locator(".facts dd").nth(1)

    def started() -> bool:
        return status.inner_text().strip() != "queued" or int(progress.get_attribute("value") or 0) > 0

    _reload_until(convenor, started, 120, "the theme refresh starting")
    # Watch it to the end (a refit takes minutes on a busy machine): it must finish, not fail.
    _reload_until(convenor, lambda: status.inner_text().strip() in ("done", "failed"), 420, "the theme refresh ending")
    expect(status).to_have_text("done")
    expect(progress).to_have_attribute("value", "100")
