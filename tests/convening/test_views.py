"""The convening pages: workspace and agreement, sessions, composer, publishing with a PDF job, the library,
reading and downloading (recorded), usage, "your observations informed", and what funders can never reach."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing
from convening.models import Briefing, BriefingVersion, BriefingView, SectionKind, Session, ViewKind
from tests.convening.conftest import approve_all
from webapp.extensions import db
from webapp.models import AgreementAcceptance, Job, JobStatus


def _published(observed, make_session, render: bool = True) -> BriefingVersion:
    convenor = observed["users"]["convenor"]
    session = make_session()
    briefing = convening_ops.compose_briefing(session, convenor)
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    if render:
        publishing.render_version_pdf(version)
    convening_ops.add_decision(session, "Fund a second evening pantry in Lawrence Hill.", convenor)
    convening_ops.add_action(session, "Write to the housing team about damp", convenor, owner=observed["org"])
    db.session.commit()
    return version


def test_workspace_lists_people_and_agreement_acceptances(cworld, client_for):
    page = client_for("member").get(f"/convening/partnerships/{cworld['partnership'].slug}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for needle in ("Lawrence Hill Food Share", "Hartcliffe Mutual Aid", "Avon Fund", "(convenor)", "Version 1"):
        assert needle in text
    assert cworld["users"]["org_admin"].display_name in text  # who accepted for the food share


def test_convenor_publishes_agreement_and_org_admin_accepts(cworld, client_for):
    slug = cworld["partnership"].slug
    convenor = client_for("convenor")
    r = convenor.post(f"/convening/partnerships/{slug}/agreement", data={"text": "Version two: we also share assets."})
    assert r.status_code == 302
    partnership = db.session.get(type(cworld["partnership"]), cworld["partnership"].id)
    assert partnership.current_agreement.version == 2
    assert partnership.current_agreement.acceptances == []  # a new version asks again
    # A member (not an admin) cannot accept; the org admin can, for their own organisation only.
    org_id = cworld["org"].id
    r = client_for("member").post(f"/convening/partnerships/{slug}/agreement/accept", data={"organisation": org_id})
    assert r.status_code == 403
    admin_client = client_for("org_admin")
    r = admin_client.post(
        f"/convening/partnerships/{slug}/agreement/accept", data={"organisation": cworld["other_org"].id}
    )
    assert r.status_code == 302
    assert db.session.scalar(select(AgreementAcceptance).where(AgreementAcceptance.organisation_id == cworld[
        "other_org"].id, AgreementAcceptance.agreement_id == partnership.current_agreement.id)) is None  # fmt: skip
    r = admin_client.post(f"/convening/partnerships/{slug}/agreement/accept", data={"organisation": org_id})
    assert r.status_code == 302
    page = admin_client.get(f"/convening/partnerships/{slug}").get_data(as_text=True)
    assert "Version 2" in page
    assert cworld["users"]["org_admin"].display_name in page


def test_convenor_goes_from_session_to_published_pdf(observed, client_for):
    c = client_for("convenor")
    slug = observed["partnership"].slug
    r = c.post(
        f"/convening/partnerships/{slug}/sessions/new",
        data={"title": "Spring partnership meeting", "held_on": "2025-04-01", "place": "Easton Community Centre",
              "agenda": "Welcome\nHeadlines\nActions", "attending": [observed["org"].id]},
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)
    session = db.session.scalar(select(Session))
    assert session.agenda == ["Welcome", "Headlines", "Actions"]
    assert c.post(f"/convening/sessions/{session.id}/compose").status_code == 302
    page = c.get(f"/convening/sessions/{session.id}/briefing").get_data(as_text=True)
    assert "Machine-written: not yet reviewed" in page
    assert "data:image/svg+xml;base64," in page  # charts drawn on the server, no script
    # Publishing is refused until every machine-written section is reviewed.
    r = c.post(f"/convening/sessions/{session.id}/briefing/publish", data={"confirm": "y"}, follow_redirects=True)
    assert "Review or edit the machine-written sections" in r.get_data(as_text=True)
    briefing = db.session.scalar(select(Briefing))
    for s in briefing.sections:
        if s.kind is SectionKind.HEADLINES:
            edit = {f"s{s.id}-title": "What changed this spring", f"s{s.id}-body": "Food need rose **sharply**."}
            r = c.post(f"/convening/sections/{s.id}", data=edit)
        elif s.machine_written:
            r = c.post(f"/convening/sections/{s.id}", data={"do": "approve"})
        assert r.status_code == 302
    preview = c.get(f"/convening/sessions/{session.id}/briefing/preview").get_data(as_text=True)
    assert "<strong>sharply</strong>" in preview
    assert "Machine-written" not in preview.split("</h1>", 1)[1].split("Preview of the draft")[1]
    r = c.post(f"/convening/sessions/{session.id}/briefing/publish", data={"confirm": "y"})
    assert r.status_code == 302
    assert "/jobs/" in r.headers["Location"]
    job = db.session.scalar(select(Job).where(Job.kind == "briefing_pdf"))
    assert job.status is JobStatus.DONE
    assert job.progress == 100
    version = db.session.scalar(select(BriefingVersion))
    from webapp.disclosure import Audience

    assert version.edition(Audience.PARTNERSHIP).pdf_pages >= 5
    assert job.result["version_id"] == version.id
    pdf = c.get(f"/convening/versions/{version.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")


def test_funder_reads_and_downloads_and_usage_is_recorded(observed, make_session, client_for):
    version = _published(observed, make_session)
    funder = client_for("funder")
    library = funder.get("/convening/library").get_data(as_text=True)
    assert version.title in library
    assert funder.get(f"/convening/versions/{version.id}").status_code == 200
    assert funder.get(f"/convening/versions/{version.id}/pdf").status_code == 200
    assert client_for("member").get(f"/convening/versions/{version.id}").status_code == 200
    views = list(db.session.scalars(select(BriefingView).order_by(BriefingView.id)))
    assert [(v.how, v.organisation_kind) for v in views] == [
        (ViewKind.VIEW, "funder"), (ViewKind.DOWNLOAD, "funder"), (ViewKind.VIEW, "charity"),
    ]  # fmt: skip
    usage = client_for("convenor").get(f"/convening/sessions/{version.briefing.session_id}/usage")
    text = usage.get_data(as_text=True)
    assert "2 reading(s) online and 1 download(s)" in text
    assert "<td>Funder</td><td>1</td><td>1</td>" in text
    assert "<td>Charity</td><td>1</td><td>0</td>" in text
    assert client_for("funder").get(f"/convening/sessions/{version.briefing.session_id}/usage").status_code == 403


def test_funders_never_reach_observation_level_data(observed, make_session, client_for):
    version = _published(observed, make_session, render=False)
    session_id = version.briefing.session_id
    funder = client_for("funder")
    for path in (
        f"/observations/{observed['quoted'].id}",
        f"/convening/sessions/{session_id}",
        f"/convening/sessions/{session_id}/briefing",
        f"/convening/sessions/{session_id}/briefing/preview",
    ):
        assert funder.get(path).status_code in (403, 404), path
    listing = funder.get("/observations/")
    if listing.status_code == 200:  # funders' own (empty) list, never the partnership's observations
        assert "skip meals" not in listing.get_data(as_text=True)
    else:
        assert listing.status_code in (403, 404)
    r = funder.post(f"/convening/sessions/{session_id}/briefing/publish")
    assert r.status_code == 403


def test_library_filters_and_outsiders(observed, make_session, client_for, make_org, make_user, app):
    version = _published(observed, make_session, render=False)
    funder = client_for("funder")
    lawrence, ashley = observed["areas"]["lawrence"].id, observed["areas"]["ashley"].id
    assert version.title in funder.get(f"/convening/library?partnership={version.partnership_id}").get_data(
        as_text=True)  # fmt: skip
    assert version.title not in funder.get("/convening/library?date_from=2025-05-01").get_data(as_text=True)
    assert version.title in funder.get("/convening/library?date_to=2025-04-30").get_data(as_text=True)
    # The session looked at the whole area: it is found for any ward inside it.
    assert version.title in funder.get(f"/convening/library?area={lawrence}").get_data(as_text=True)
    focused = make_session(title="Ashley only", focus_area_ids=[ashley])
    b = convening_ops.compose_briefing(focused, observed["users"]["convenor"])
    approve_all(b, observed["users"]["convenor"])
    publishing.publish_briefing(b, observed["users"]["convenor"])
    db.session.commit()
    assert "Ashley only" not in funder.get(f"/convening/library?area={lawrence}").get_data(as_text=True)
    assert "Ashley only" in funder.get(f"/convening/library?area={ashley}").get_data(as_text=True)
    from tests.conftest import sign_in

    outsider = app.test_client()
    sign_in(outsider, make_user("funder", make_org("Other Trust", kind="funder")))
    assert version.title not in outsider.get("/convening/library").get_data(as_text=True)
    assert outsider.get(f"/convening/versions/{version.id}").status_code == 404
    assert outsider.get(f"/convening/versions/{version.id}/pdf").status_code == 404


def test_contributing_organisations_see_what_their_observations_informed(observed, make_session, client_for):
    version = _published(observed, make_session, render=False)
    page = client_for("member").get("/convening/informed").get_data(as_text=True)
    assert version.title in page
    from webapp.disclosure import Tally, release

    mine = next(c for c in version.contributions if c.organisation_id == observed["org"].id)
    assert mine.observations == 15
    # Released like every other count (15 observations: a perturbed number within D of it).
    assert f"It drew on {release(Tally(mine.observations, mine.key_sum))} of your observations<" in page
    assert "Fund a second evening pantry" in page  # the session's decision
    assert "Write to the housing team about damp" in page  # the action it owns


def test_hostile_session_and_section_text_is_escaped_and_fetches_nothing(observed, make_session):
    from tests.convening.hostile import embedded_files, hostile_text, listening

    convenor = observed["users"]["convenor"]
    with listening() as listener:
        evil = hostile_text(listener.url)
        session = make_session(title="Meeting " + evil[:150], place=evil[:300], agenda=[evil[:300], evil[300:600]])
        briefing = convening_ops.compose_briefing(session, convenor)
        briefing.title = ("Briefing " + evil)[:200]
        for s in briefing.sections:
            if s.kind is not SectionKind.PROVENANCE:
                convening_ops.edit_section(s, convenor, title=("T " + evil)[:200], body=evil)
        convening_ops.add_custom_section(briefing, "Custom " + evil[:100], evil, convenor)
        version = publishing.publish_briefing(briefing, convenor)
        publishing.render_version_pdf(version)
        assert listener.requests == []
    for edition in version.editions:
        assert embedded_files(edition.pdf) == []


def test_session_page_carries_actions_and_updates_their_status(cworld, make_session, client_for):
    from datetime import date

    convenor = cworld["users"]["convenor"]
    first = make_session(held_on=date(2025, 1, 14), title="Winter meeting")
    action = convening_ops.add_action(first, "Map every food pantry in Lawrence Hill", convenor, owner=cworld["org"])
    convening_ops.add_decision(first, "Meet monthly until the spring.", convenor)
    db.session.commit()
    second = make_session()
    c = client_for("convenor")
    page = c.get(f"/convening/sessions/{second.id}").get_data(as_text=True)
    assert "Actions from the previous session" in page
    assert "Map every food pantry in Lawrence Hill" in page
    assert '<option value="in_progress">In progress</option>' in page
    r = c.post(f"/convening/actions/{action.id}", data={"status": "done", "session_id": second.id})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/convening/sessions/{second.id}")
    assert db.session.get(type(action), action.id).status.value == "done"
    assert (
        c.post(f"/convening/sessions/{second.id}/notes", data={"notes": "Agreed to meet in March."}).status_code == 302
    )
    assert "Agreed to meet in March." in c.get(f"/convening/sessions/{second.id}").get_data(as_text=True)
    r = c.post(f"/convening/sessions/{second.id}/decisions", data={"text": "ok"}, follow_redirects=True)
    assert "Decision" in r.get_data(as_text=True)
    assert "at least 5" in r.get_data(as_text=True) or "Field must be" in r.get_data(as_text=True)


def _themes(partnership) -> tuple:
    nlp_models = pytest.importorskip("nlp.themes.models")
    model = nlp_models.ThemeModel(partnership_id=partnership.id, version=1, embedding_model="all-MiniLM-L6-v2",
                                  path="themes/test", active=True, theme_count=2, corpus_size=30)  # fmt: skip
    pantry = nlp_models.Theme(partnership_id=partnership.id, auto_label="Food parcels and pantries")
    damp = nlp_models.Theme(partnership_id=partnership.id, auto_label="Damp homes", curated_label="Damp and mould")
    db.session.add_all([model, pantry, damp])
    db.session.flush()
    model.changes = {"topic_theme_ids": [pantry.id, damp.id]}
    db.session.commit()
    return pantry, damp


def test_actions_link_themes_areas_and_observations(observed, make_session, client_for):
    from datetime import date

    from convening.models import Action

    pantry, damp = _themes(observed["partnership"])
    lawrence, quoted = observed["areas"]["lawrence"], observed["quoted"]
    first = make_session(held_on=date(2025, 1, 14), title="Winter meeting")
    c = client_for("convenor")
    form = c.get(f"/convening/sessions/{first.id}").get_data(as_text=True)
    for label in ("Linked themes", "Linked areas", "Linked observations"):
        assert f">{label}</label>" in form
    assert f'<option value="{damp.id}">Damp and mould</option>' in form
    assert f'<option value="{lawrence.id}">Lawrence Hill</option>' in form

    r = c.post(f"/convening/sessions/{first.id}/actions", data={
        "description": "Survey damp in Lawrence Hill flats", "owner": observed["org"].id, "due_on": "2025-03-01",
        "theme_ids": [damp.id], "area_ids": [lawrence.id], "observation_ids": f" {quoted.id}, #{quoted.id}",
    })  # fmt: skip
    assert r.status_code == 302
    action = db.session.scalar(select(Action))
    assert (action.theme_ids, action.area_ids, action.observation_ids) == ([damp.id], [lawrence.id], [quoted.id])
    page = c.get(f"/convening/sessions/{first.id}").get_data(as_text=True)
    assert "Themes: Damp and mould; Areas: Lawrence Hill; Observations: " + str(quoted.id) in page
    assert "skip meals" not in page  # ids only, never an observation's text

    second = make_session()
    page = c.get(f"/convening/sessions/{second.id}").get_data(as_text=True)
    assert "Themes: Damp and mould; Areas: Lawrence Hill" in page  # carried over, with its links
    briefing = convening_ops.compose_briefing(second, observed["users"]["convenor"])
    actions = next(s for s in briefing.sections if s.kind is SectionKind.ACTIONS)
    assert "| Themes and areas |" in actions.body
    row = next(line for line in actions.body.splitlines() if "Survey damp in Lawrence Hill flats" in line)
    assert row.endswith("| Open | Damp and mould; Lawrence Hill |")  # no observation ids in a briefing


def test_a_bad_linked_observation_is_a_field_error_and_stores_nothing(observed, make_session, client_for):
    from convening.models import Action
    from submissions.models import Observation, SharingLevel

    session = make_session()
    private = db.session.scalar(select(Observation).limit(1))
    private.sharing_level = SharingLevel.ORG_ONLY  # no longer shared with the partnership
    db.session.commit()
    c = client_for("convenor")
    for ids, message in (
        ("999999", "Linked observations not shared with this partnership (check the numbers): 999999."),
        (str(private.id), f"Linked observations not shared with this partnership (check the numbers): {private.id}."),
        ("12, twelve", "“twelve” is not an observation number"),
    ):
        r = c.post(f"/convening/sessions/{session.id}/actions",
                   data={"description": "Follow up the reports", "observation_ids": ids})  # fmt: skip
        assert r.status_code == 422
        page = r.get_data(as_text=True)
        assert 'id="observation_ids-error"' in page
        assert message in page
        assert 'aria-invalid="true"' in page
        assert "Follow up the reports" in page  # what was typed comes back
        assert db.session.scalar(select(Action)) is None


def test_a_partnership_over_a_whole_local_authority_can_focus_sessions_and_actions_on_its_wards(
    cworld, make_session, client_for
):
    # Set up over the local authority alone (as `commintel partnership create --area E06000023` does): the session
    # form and the action form offered no ward at all, while its indicator pages listed every one.
    from webapp.models import Area, AreaLevel

    areas = cworld["areas"]
    db.session.add(
        Area(code="E05001979", name="Easton (2011 ward)", level=AreaLevel.WARD, parent=areas["bristol"], current=False)
    )
    partnership = cworld["partnership"]
    partnership.areas = [areas["bristol"]]
    db.session.commit()
    c = client_for("convenor")
    form = c.get(f"/convening/partnerships/{partnership.slug}/sessions/new").get_data(as_text=True)
    for ward in ("ashley", "lawrence"):
        assert f'<option value="{areas[ward].id}">{areas[ward].name}</option>' in form
    assert "Easton (2011 ward)" not in form  # a ward of an earlier vintage is not offered
    r = c.post(
        f"/convening/partnerships/{partnership.slug}/sessions/new",
        data={"title": "Ashley listening meeting", "held_on": "2025-04-01", "focus_areas": [areas["ashley"].id]},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    session = db.session.scalar(select(Session))
    assert session.focus_area_ids == [areas["ashley"].id]
    page = c.get(f"/convening/sessions/{session.id}").get_data(as_text=True)
    assert f'<option value="{areas["lawrence"].id}">Lawrence Hill</option>' in page  # the action form's areas
