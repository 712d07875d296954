"""Composing, reviewing, publishing and versioning briefings, through the operations (no HTTP)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing
from convening.composer.sections import headlines, needs_assets
from convening.models import BriefingVersion, SectionKind
from tests.convening.conftest import approve_all, edition, section_markdown, true_count
from webapp.disclosure import Audience
from webapp.extensions import db
from webapp.operations import OperationError


def _kinds(briefing):
    return [s.kind for s in sorted(briefing.sections, key=lambda s: s.position)]


def test_compose_drafts_every_section_machine_written_with_suppressed_counts(observed, make_session):
    session = make_session()
    briefing = convening_ops.compose_briefing(session, observed["users"]["convenor"])
    assert _kinds(briefing) == [
        SectionKind.HEADLINES, SectionKind.NEEDS_ASSETS, SectionKind.INDICATORS, SectionKind.MAP, SectionKind.QUOTES,
        SectionKind.GAPS, SectionKind.NETWORK, SectionKind.GRANTS, SectionKind.ACTIONS, SectionKind.QUESTIONS,
        SectionKind.PROVENANCE,
    ]  # fmt: skip
    machine = {s.kind for s in briefing.sections if s.machine_written}
    assert machine == set(_kinds(briefing)) - {SectionKind.PROVENANCE}
    # Figures are released when shown (the draft keeps placeholders): 15 food observations this period, 3 before.
    assert true_count(briefing, "g.food.now") == 15
    assert true_count(briefing, "g.food.before") == 3
    ed = edition(briefing)
    food_now = ed.rel("g.food.now")
    assert food_now.perturbed
    assert abs(food_now.value - 15) <= 4
    # The headlines' facts: each group's counts released for the edition, with the cells they came from.
    facts = headlines.read(ed)
    shown = {r.name: r for r in facts.shown}
    food = shown["Food"]
    assert (food.now.cell, food.now.released) == ("g.food.now", food_now)
    assert food.before.released.hidden  # 3 in the previous period: below k, never shown as 3
    housing = shown["Housing and homelessness"]
    assert (housing.now.released, housing.before.released) == (
        ed.rel("g.housing-and-homelessness.now"), ed.rel("g.housing-and-homelessness.before"))  # fmt: skip
    # The one rendering check of the headlines: the rows as written, "fewer than 5" for the food before.
    markdown = section_markdown(briefing, SectionKind.HEADLINES)
    assert f"| Food | {food_now} | fewer than 5 | {food.direction} |" in markdown
    assert f"| Housing and homelessness | {housing.now} | {housing.before} | {housing.direction} |" in markdown
    doc = publishing.briefing_document(briefing)
    chart_rows = next(s for s in doc["sections"] if s["kind"] == "headlines")["charts"][0]["spec"]["data"]["values"]
    assert not [r for r in chart_rows if r["label"] == "Food" and r["period"] == "Previous period"]
    assert {"label": "Food", "value": food_now.value, "period": "This period"} in chart_rows
    quotes = section_markdown(briefing, SectionKind.QUOTES)
    assert [q["observation_id"] for q in briefing.facts["partnership"]["quotes"]] == [observed["quoted"].id]
    # One charity among the two members: attributed no more narrowly than "a partner organisation" (k = 5).
    assert "a partner organisation" in quotes
    assert "a charity" not in quotes
    assert "skip meals" in quotes
    assert "Lawrence Hill Food Share" not in quotes  # attributed to the kind, not the organisation


def test_unshared_unredacted_and_unconsented_observations_stay_out(cworld, make_observation, make_session):
    pending = make_observation(consent_to_quote=True, text="Unredacted text must never reach a briefing.")
    pending.redacted_text = None  # redaction has not run yet
    db.session.commit()
    make_observation(sharing_level="org_only", consent_to_quote=True, text="Private to the organisation only.")
    make_observation(consent_to_quote=False, text="Shared but without consent to quote it.")
    briefing = convening_ops.compose_briefing(make_session(), cworld["users"]["convenor"])
    everything = " ".join(s.body for s in briefing.sections) + str(briefing.facts)
    for audience in ("partnership", "funders"):
        everything += str(publishing.briefing_document(briefing, edition(briefing, audience).audience))
    assert "Unredacted" not in everything
    assert "Private to the organisation" not in everything
    assert "without consent" not in everything
    assert true_count(briefing, "total.now") == 1  # only the shared, redacted, live one is counted


def test_no_data_is_a_clear_error(cworld, make_session):
    with pytest.raises(OperationError, match="no shared observations"):
        convening_ops.compose_briefing(make_session(), cworld["users"]["convenor"])


def test_publish_needs_review_then_makes_immutable_numbered_versions(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    with pytest.raises(OperationError, match="Review or edit the machine-written sections"):
        publishing.publish_briefing(briefing, convenor)
    approve_all(briefing, convenor)
    v1 = publishing.publish_briefing(briefing, convenor)
    publishing.render_version_pdf(v1)
    db.session.commit()
    assert v1.number == 1
    partnership_pdf = v1.edition(Audience.PARTNERSHIP)
    assert partnership_pdf.pdf.startswith(b"%PDF-")
    assert partnership_pdf.pdf_pages >= 5
    assert v1.edition(Audience.FUNDERS).pdf.startswith(b"%PDF-")
    assert v1.content["status"].startswith("Version 1, published")
    assert {c.organisation_id: c.observations for c in v1.contributions} == {
        observed["org"].id: 15,
        observed["other_org"].id: 6,
    }  # fmt: skip (true counts, kept as tallies: "informed" pages release them)

    with pytest.raises(OperationError, match="Nothing changed"):
        publishing.publish_briefing(briefing, convenor)

    # The published content cannot be changed; the PDFs are rendered again only when k or the table changes.
    sha = partnership_pdf.pdf_sha256
    publishing.render_version_pdf(v1)
    assert v1.edition(Audience.PARTNERSHIP).pdf_sha256 == sha
    v1.title = "Rewritten history"
    with pytest.raises(ValueError, match="cannot be changed"):
        db.session.flush()
    db.session.rollback()

    # Editing afterwards makes a new version; version 1 keeps what it said.
    briefing = db.session.get(BriefingVersion, v1.id).briefing
    headlines = next(s for s in briefing.sections if s.kind is SectionKind.HEADLINES)
    convening_ops.edit_section(headlines, convenor, body="Food insecurity is the headline this spring.")
    v2 = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    assert v2.number == 2
    v1 = db.session.get(BriefingVersion, v1.id)
    assert "Food insecurity is the headline" not in str(v1.content)
    assert "Food insecurity is the headline" in str(v2.content)
    assert [v.number for v in db.session.scalars(select(BriefingVersion).order_by(BriefingVersion.number))] == [1, 2]


def test_editing_clears_the_machine_mark_and_recompose_keeps_edits(observed, make_session):
    convenor = observed["users"]["convenor"]
    session = make_session()
    briefing = convening_ops.compose_briefing(session, convenor)
    questions = next(s for s in briefing.sections if s.kind is SectionKind.QUESTIONS)
    convening_ops.edit_section(questions, convenor, body="1. Who will lead on food this summer?")
    assert questions.machine_written is False
    assert questions.reviewed_by_id == convenor.id
    briefing = convening_ops.compose_briefing(session, convenor)
    questions = next(s for s in briefing.sections if s.kind is SectionKind.QUESTIONS)
    assert questions.body == "1. Who will lead on food this summer?"
    assert all(
        s.machine_written for s in briefing.sections if s.kind not in (SectionKind.QUESTIONS, SectionKind.PROVENANCE)
    )


def test_drop_reorder_and_the_appendix_stays(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    by_kind = {s.kind: s for s in briefing.sections}
    convening_ops.set_included(by_kind[SectionKind.INDICATORS], False, convenor)
    convening_ops.move_section(by_kind[SectionKind.QUOTES], -10, convenor)
    with pytest.raises(OperationError, match="provenance"):
        convening_ops.set_included(by_kind[SectionKind.PROVENANCE], False, convenor)
    with pytest.raises(OperationError, match="provenance appendix"):
        convening_ops.edit_section(by_kind[SectionKind.PROVENANCE], convenor, body="edited")
    doc = publishing.briefing_document(briefing)
    kinds = [s["kind"] for s in doc["sections"]]
    assert kinds[0] == "quotes"
    assert "indicators" not in kinds
    assert kinds[-1] == "provenance"


def test_open_actions_are_carried_into_the_next_briefing(observed, make_session):
    convenor = observed["users"]["convenor"]
    first = make_session(held_on=date(2025, 1, 14), title="Winter meeting")
    done = convening_ops.add_action(first, "Map every food pantry in Lawrence Hill", convenor, owner=observed["org"],
                           due_on=date(2025, 3, 1))  # fmt: skip
    convening_ops.add_action(first, "Ask the council for damp-housing figures", convenor, owner=observed["other_org"])
    convening_ops.set_action_status(done, "done", convenor)
    older = make_session(held_on=date(2024, 10, 1), title="Autumn meeting")
    convening_ops.add_action(older, "Recruit a youth group to the partnership", convenor)
    db.session.commit()
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    actions = next(s for s in briefing.sections if s.kind is SectionKind.ACTIONS)
    assert "Map every food pantry in Lawrence Hill | Lawrence Hill Food Share | 1 March 2025 | Done" in actions.body
    assert "Ask the council for damp-housing figures | Hartcliffe Mutual Aid | no date | Open" in actions.body
    assert "Recruit a youth group" in actions.body  # still open from an older session
    questions = next(s for s in briefing.sections if s.kind is SectionKind.QUESTIONS)
    assert "actions still open" in questions.body


def test_decisions_and_actions_validate(observed, make_session):
    convenor = observed["users"]["convenor"]
    session = make_session()
    with pytest.raises(OperationError) as exc:
        convening_ops.add_decision(session, "ok", convenor)
    assert exc.value.field == "text"
    with pytest.raises(OperationError) as exc:
        convening_ops.add_action(session, "Do something useful", convenor, owner=observed["funder_org"])
    assert exc.value.field == "owner"
    action = convening_ops.add_action(session, "Do something useful", convenor)
    with pytest.raises(OperationError):
        convening_ops.set_action_status(action, "finished", convenor)


def test_session_validation_names_the_field(cworld):
    with pytest.raises(OperationError) as exc:
        convening_ops.create_session(cworld["partnership"], "x", date(2025, 1, 1), None)
    assert exc.value.field == "title"
    with pytest.raises(OperationError) as exc:
        convening_ops.create_session(
            cworld["partnership"], "Meeting", date(2025, 1, 1), None, link="javascript:alert(1)"
        )
    assert exc.value.field == "link"
    with pytest.raises(OperationError) as exc:
        convening_ops.create_session(cworld["partnership"], "Meeting", date(2025, 1, 1), None,
                            period_start=date(2025, 2, 1), period_end=date(2025, 1, 1))  # fmt: skip
    assert exc.value.field == "period_start"


def test_focus_limits_the_observations(observed, make_session):
    session = make_session(focus_area_ids=[observed["areas"]["lawrence"].id])
    briefing = convening_ops.compose_briefing(session, observed["users"]["convenor"])
    # Lawrence Hill and its LSOA: 4 food needs at the LSOA, 6 housing needs at the ward.
    assert true_count(briefing, "total.now") == 10


def test_themes_group_the_briefing_when_a_theme_model_is_active(observed, make_session):
    nlp_models = pytest.importorskip("nlp.themes.models")
    from submissions.models import Observation

    partnership = observed["partnership"]
    model = nlp_models.ThemeModel(partnership_id=partnership.id, version=3, embedding_model="all-MiniLM-L6-v2",
                                  path="themes/test", active=True, theme_count=2, corpus_size=30)  # fmt: skip
    pantry = nlp_models.Theme(partnership_id=partnership.id, auto_label="Food parcels and pantries")
    damp = nlp_models.Theme(partnership_id=partnership.id, auto_label="Damp homes", curated_label="Damp and mould")
    db.session.add_all([model, pantry, damp])
    db.session.flush()
    for obs in db.session.scalars(select(Observation)):
        theme = damp if obs.category.slug == "housing-and-homelessness" else pantry
        db.session.add(nlp_models.ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
    db.session.commit()
    briefing = convening_ops.compose_briefing(make_session(), observed["users"]["convenor"])
    ed = edition(briefing)
    facts = headlines.read(ed)
    assert facts.group_word == "Theme"
    key = briefing.facts["partnership"]["groups"]["Damp and mould"]
    assert true_count(briefing, f"g.{key}.now") == 6
    assert true_count(briefing, f"g.{key}.before") == 5
    # The group's change as the headlines read it (typed, released for the edition), then its row as written.
    damp_change = next(c for c in facts.shown if c.name == "Damp and mould")
    assert (damp_change.key, damp_change.now.released, damp_change.before.released) == (
        key, ed.rel(f"g.{key}.now"), ed.rel(f"g.{key}.before"))  # fmt: skip
    provenance = section_markdown(briefing, SectionKind.PROVENANCE)
    assert "version 3 (all-MiniLM-L6-v2" in provenance
    assert sorted(briefing.facts["shared"]["theme_ids"]) == sorted([pantry.id, damp.id])
    focused = convening_ops.compose_briefing(make_session(title="Damp only", focus_theme_ids=[damp.id]),
                                    observed["users"]["convenor"])  # fmt: skip
    assert true_count(focused, "total.now") == 6


def test_small_groups_are_named_not_tabled(observed, make_observation, make_session):
    make_observation(category="safety-and-crime", text="Teenagers are being approached outside the shop at night.")
    briefing = convening_ops.compose_briefing(make_session(), observed["users"]["convenor"])
    ed = edition(briefing)
    facts = headlines.read(ed)
    assert "Safety and crime" in facts.small
    assert "Safety and crime" not in [r.name for r in facts.shown]
    needs = needs_assets.read(ed)  # its one observation is not broken down into needs and assets
    safety = next(r for r in needs.rows if r.name == "Safety and crime")
    assert (safety.need.perturbed, safety.asset.perturbed) == (False, False)  # inside its group's "fewer than 5"
    assert safety not in needs.shown
    assert needs.shown  # the larger groups are
    # The one rendering check of the needs and assets: the table has the groups shown, and only those.
    markdown = section_markdown(briefing, SectionKind.NEEDS_ASSETS)
    assert "| Safety and crime |" not in markdown
    assert all(f"| {r.name} | {r.need} | {r.asset} |" in markdown for r in needs.shown)
