"""A published briefing has a partnership's and a funders' edition: funders read only the funders' edition of the
partnerships they fund, never text their organisations did not allow them, and the counts of each edition are those
of the observations shared with its audience (released through webapp.disclosure, like the area pages)."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

import pytest

from convening import operations as convening_ops
from convening import publishing, tasks
from convening.models import BriefingVersion
from tests.conftest import sign_in
from tests.convening.conftest import HELD_ON, approve_all
from tests.disclosure import attack, scrape
from webapp import ptable as ptables
from webapp.disclosure import Audience, Tally, max_perturbation, release, released_with, threshold
from webapp.extensions import db
from webapp.models import OrgKind


def _publish(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    return version


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "edition.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout  # noqa: S607


def test_funders_read_the_funders_edition_without_partnership_text(
    observed, make_observation, make_session, client_for, make_user, make_org, tmp_path
):
    for_funders = make_observation(
        sharing_level="funders_aggregate",
        consent_to_quote=True,
        consent_to_quote_funders=True,
        text="The warm space on Tuesdays is full by noon.",
    )
    version = _publish(observed, make_session)
    partnership_only = observed["quoted"].redacted_text  # shared with the partnership, consent to quote there only
    convenor_page = client_for("convenor").get(f"/convening/versions/{version.id}").get_data(as_text=True)
    assert "skip meals" in convenor_page

    funder = client_for("funder")
    page = funder.get(f"/convening/versions/{version.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Funders&#39; edition" in text or "Funders' edition" in text
    assert "skip meals" not in text
    assert partnership_only not in text
    assert "warm space on Tuesdays" in text  # level and consent both include funders
    pdf = funder.get(f"/convening/versions/{version.id}/pdf")
    if pdf.status_code == 200:
        pdf_text = _pdf_text(pdf.data, tmp_path)
        assert "skip meals" not in pdf_text
    # The funders' edition counts only observations shared with funders: here one, "fewer than k".
    doc = publishing.version_document(version, Audience.FUNDERS)
    headlines = next(s for s in doc["sections"] if s["kind"] == "headlines")
    assert str(release(Tally.of([for_funders]))) in headlines["markdown"]
    assert "fewer than 5" in headlines["markdown"]

    elsewhere = make_user("funder", make_org("Elsewhere Fund", OrgKind.FUNDER))
    other = sign_in(funder.application.test_client(), elsewhere)
    assert other.get(f"/convening/versions/{version.id}").status_code == 404
    assert other.get(f"/convening/versions/{version.id}/pdf").status_code == 404


def test_briefing_counts_are_the_area_pages_counts_of_the_same_observations(observed, make_session):
    """The partnership's edition releases a ward's count from the same (count, key sum) as the area page would."""
    version = _publish(observed, make_session)
    facts = version.content["facts"]["partnership"]["cells"]
    ward_cells = {key: cell for key, cell in facts.items() if key.startswith("ward.")}
    assert ward_cells
    from submissions.models import Observation

    for _key, cell in ward_cells.items():
        observations = [db.session.get(Observation, i) for i in cell["ids"]]
        assert Tally.of(observations) == Tally.from_json(cell)


# Changing k (COMMINTEL_SUPPRESSION_K) or the perturbation table (COMMINTEL_PTABLE) re-releases every edition of
# every published briefing consistently: each edition's PDF becomes stale, the sweep renders it again and records the
# new release, and the version pages, the PDFs' text and the area pages then show the same observations with the same
# value under the new release (and the briefing's headline is the new release of its tally, not the old one).

# The sessions' periods start before every observation of the fixture, so that a briefing's "this period" counts the
# same observations as the authority's area page over all time: the same cell, shown by both.
PERIOD_START = date(2024, 1, 1)


def _publish_two_versions(observed, make_session) -> list[int]:
    convenor = observed["users"]["convenor"]
    ids = []
    for i, held_on in enumerate((HELD_ON, HELD_ON + timedelta(days=14))):
        session = make_session(held_on=held_on, title=f"Partnership meeting {i + 1}", period_start=PERIOD_START)
        briefing = convening_ops.compose_briefing(session, convenor)
        approve_all(briefing, convenor)
        version = publishing.publish_briefing(briefing, convenor)
        publishing.render_version_pdf(version)
        db.session.commit()
        ids.append(version.id)
    return ids


def _other_tables(k: int) -> list[ptables.PerturbationTable]:
    """Valid tables other than the shipped one, made by the project's own builder (and the same ones with their cell
    keys read backwards or turned round by a shift: the same distributions, other values per cell). Record keys are
    random, so one or six tables can happen to release every headline unchanged; among 96 that cannot happen."""
    out = []
    for d, v in ((4, 2.0), (3, 1.5), (2, 1.0)):
        rows = ptables.build(k, d, v)
        for shift in range(0, ptables.CELL_KEYS, ptables.CELL_KEYS // 16):
            for backwards in (False, True):
                table = sorted(
                    (n, ((ptables.CELL_KEYS - 1 - key if backwards else key) + shift) % ptables.CELL_KEYS, p)
                    for n, key, p in rows
                )
                name = f"built k={k} D={d} V={v} keys {'reversed' if backwards else 'shifted'} {shift}"
                out.append(ptables.parse(ptables.to_csv(table), name))
    return out


def _headline(version: BriefingVersion, audience: Audience) -> str:
    return str(release(Tally.from_json(version.content["facts"][audience.value]["cells"]["total.now"])))


@pytest.mark.parametrize("change", ["ptable", "k"])
def test_changing_k_or_the_table_re_releases_every_edition(
    change, observed, make_observation, make_session, app, monkeypatch, tmp_path
):
    # Observations the funders count too, enough that the funders' edition shows perturbed values.
    for i in range(7):
        make_observation(sharing_level="funders_aggregate", category="food", area="E05010897",
                         period=(date(2025, 3, 3) + timedelta(days=i)).isoformat())  # fmt: skip
    version_ids = _publish_two_versions(observed, make_session)
    before = released_with()
    versions = [db.session.get(BriefingVersion, i) for i in version_ids]
    old_headlines = {(v.id, a): _headline(v, a) for v in versions for a in v.audiences}
    for v in versions:
        assert {e.audience for e in v.editions} == {Audience.PARTNERSHIP, Audience.FUNDERS}
        assert not any(e.stale for e in v.editions)

    new_k = threshold() + 1 if change == "k" else threshold()
    monkeypatch.setitem(app.config, "COMMINTEL_SUPPRESSION_K", new_k)
    for table in _other_tables(new_k):  # the first that changes a headline: the test must see a new release
        monkeypatch.setitem(app.config, "COMMINTEL_PTABLE_TABLE", table)
        if table.identifier != before["ptable"] and any(
            _headline(v, a) != old_headlines[(v.id, a)] for v in versions for a in v.audiences
        ):
            break
    now = released_with()
    assert now["ptable"] != before["ptable"]
    assert now["k"] == new_k

    # Every edition of every version is stale now; the sweep renders each again, with the new release.
    for v in versions:
        assert all(e.stale for e in v.editions), f"version {v.id}: an edition was not made stale by the change"
    monkeypatch.setattr(tasks, "MISSING_AFTER", timedelta(seconds=-1))
    assert tasks.render_missing_pdfs() == version_ids
    db.session.expire_all()
    for version_id in version_ids:
        v = db.session.get(BriefingVersion, version_id)
        for e in v.editions:
            assert not e.stale
            assert {x: e.released_with.get(x) for x in ("k", "ptable", "D")} == now, (v.id, e.audience)
    assert tasks.render_missing_pdfs() == [], "nothing is left to re-render"

    # What the new release shows, page by page, for a convenor (the partnership) and a funder (the funders).
    k, d = threshold(), max_perturbation()
    changed = 0
    world = scrape.World.load(db.session.connection(), observed["partnership"].slug)
    for role, audience in (("convenor", Audience.PARTNERSHIP), ("funder", Audience.FUNDERS)):
        client = sign_in(app.test_client(), observed["users"][role])
        reader = scrape.Reader(world, client, audience.value, k)
        for area in sorted({world.lad(), *world.wards(), *(a for a, x in world.areas.items() if x[1] == "lsoa")}):
            for window in scrape.WINDOWS:
                reader.area_page(area, window)
        for version_id in version_ids:
            v = db.session.get(BriefingVersion, version_id)
            focus = scrape.session_focus(world, db.session.connection(), v.briefing.session_id, audience.value)
            path = f"/convening/versions/{version_id}"
            page = reader.briefing(path, focus, audience.value)
            reader.briefing_tables(path, page, focus, "category")
            pdf = client.get(f"{path}/pdf")
            assert pdf.status_code == 200, (path, pdf.status_code)
            pdf_text = scrape.pdf_text(pdf.data, tmp_path)
            reader.briefing_text(f"{path}/pdf", pdf_text, focus, audience.value)
            headline = _headline(v, audience)
            changed += headline != old_headlines[(v.id, audience)]
            assert f"recorded {headline} observations" in " ".join(scrape.page_text(page).split()), (path, headline)
            assert f"recorded {headline} observations" in " ".join(pdf_text.replace("*", "").split()), (path, headline)
        dims, cells, truth = reader.finish()
        attack.check_truthful(cells, k, d)  # every value shown is a release with the new k and table
        shown = attack.check_consistency(cells)  # ... and the same observations show one value on every page
        where = {}
        for cell in cells:
            where.setdefault(cell.truth, set()).add(cell.where.split(" ", 1)[0].split("?")[0])
        both = [
            t
            for t, pages in where.items()
            if any(p.startswith("/convening/versions/") for p in pages) and any(p.startswith("/areas/") for p in pages)
            and shown[t].kind == "value"
        ]  # fmt: skip
        assert both, f"{role}: no cell shown as a number on both a briefing and an area page"
    assert changed, "the change of release altered no headline: the test would not notice an old release"
