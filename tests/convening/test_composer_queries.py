"""The composer reads grouped rows, not objects (issue 17), and must store exactly the facts it stored before.

A busy partnership over the demo's real Bristol geography and indicators — observations of every status, sharing
level, consent and place (LSOAs of both vintages, wards, the local authority, none), residents' ones, an
organisation that has not accepted the agreement, a theme model with a hidden theme, a merged one, unthemed
observations and an older model — is composed for several sessions (whole area, a ward, categories, themes, a long
period, with earlier sessions and their actions) by the composer and by the one it replaced
(tests/convening/reference_composer.py): the facts must be identical, byte for byte as JSON, so every count is released
the same (same count, same sum of record keys, same ids for an erasure to recount). The number of SQL statements a
draft issues must not grow with the observations or the earlier sessions (no N+1).
"""

from __future__ import annotations

import difflib
import json
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import event, insert, select

from convening import operations as convening_ops
from convening.composer.facts import compose
from convening.models import Action, ActionStatus
from indicators.figures import area_figures
from indicators.models import ValueKind
from indicators.values import period_label
from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
from submissions.operations import ensure_default_categories
from tests.convening.reference_composer import reference_facts
from webapp import demo
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, AreaLevel, OrgKind, Partnership

HELD_ON = date(2026, 6, 1)


def _add_observations(partnership: Partnership, n: int, seed: int, outsider_id: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    orgs = [o.id for o in partnership.members if o.id != outsider_id]
    wards = list(db.session.scalars(select(Area.id).where(Area.level == AreaLevel.WARD).order_by(Area.code)))
    lsoas = list(db.session.scalars(select(Area.id).where(Area.level == AreaLevel.LSOA).order_by(Area.code)))
    la = db.session.scalar(select(Area.id).where(Area.level == AreaLevel.LAD))
    lawrence = db.session.scalar(select(Area).where(Area.level == AreaLevel.WARD, Area.name == "Lawrence Hill"))
    # LSOAs of both vintages and wards anywhere, Lawrence Hill (a session's focus) and its LSOAs, the whole city, none.
    places = [*rng.sample(lsoas, 40), *rng.sample(wards, 12), lawrence.id, *[c.id for c in lawrence.children], la]
    places += [None, None]
    categories = list(db.session.scalars(select(Category.id)))
    rows = []
    for i in range(n):
        resident = rng.random() < 0.12
        status = (
            rng.choice([ObservationStatus.APPROVED] * 4 + [ObservationStatus.NEEDS_MODERATION])
            if resident
            else rng.choice(
                [ObservationStatus.SUBMITTED] * 8 + [ObservationStatus.WITHDRAWN, ObservationStatus.REJECTED]
            )
        )
        consent = rng.random() < 0.3
        rows.append(
            {
                "organisation_id": None if resident else (outsider_id if rng.random() < 0.05 else rng.choice(orgs)),
                "partnership_id": partnership.id,
                "kind": rng.choice(list(ObservationKind)),
                "category_id": rng.choice(categories),
                "text": f"Observation {seed}-{i}",
                "redacted_text": None if rng.random() < 0.05 else f"Observation {seed}-{i} [redacted] " + "word " * 90,
                "area_id": rng.choice(places),
                "period_start": HELD_ON - timedelta(days=rng.randrange(400)),
                "people_affected": rng.choice([None, *range(1, 30)]),
                "status": status,
                "sharing_level": rng.choice(list(SharingLevel)),
                "consent_to_quote": consent,
                "consent_to_quote_funders": consent and rng.random() < 0.6,
                "record_key": rng.randrange(256),
            }
        )
    db.session.execute(insert(Observation), rows)


def _add_theme_model(partnership: Partnership) -> list:
    """An active model with six themes (one hidden, one merged into another, one renamed), most observations
    assigned, some unthemed; and an older inactive model whose assignments must be ignored."""
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel

    old = ThemeModel(partnership_id=partnership.id, version=1, embedding_model="m", path="p", active=False)
    model = ThemeModel(partnership_id=partnership.id, version=2, embedding_model="all-MiniLM-L6-v2", path="p",
                       active=True, theme_count=6, corpus_size=100)  # fmt: skip
    db.session.add_all([old, model])
    db.session.flush()
    themes = [Theme(partnership_id=partnership.id, auto_label=f"Theme {i}") for i in range(6)]
    db.session.add_all(themes)
    db.session.flush()
    themes[1].hidden = True
    themes[2].merged_into_id = themes[3].id
    themes[4].curated_label = "Damp and mould"
    rng = random.Random(3)  # noqa: S311 - test data, not security
    ids = list(db.session.scalars(select(Observation.id).order_by(Observation.id)))
    db.session.execute(
        insert(ThemeAssignment),
        [{"observation_id": i, "model_id": model.id, "is_outlier": False, "probability": 0.5,
          "theme_id": None if rng.random() < 0.1 else rng.choice(themes).id} for i in ids if rng.random() < 0.95]
        + [{"observation_id": i, "model_id": old.id, "is_outlier": False, "probability": 0.5,
            "theme_id": themes[0].id} for i in ids],
    )  # fmt: skip
    db.session.commit()
    return themes


@pytest.fixture
def busy(db_session) -> dict:
    demo.load()  # Bristol's geography (both vintages, boundaries), the demo organisations and partnership
    from indicators import demo as indicators_demo

    indicators_demo.load()  # real indicator releases: IoD2025 and IoD2019 ranks, rates, a series
    ensure_default_categories()
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    # A member that has not accepted the agreement: its observations are counted nowhere.
    outsider = webapp_ops.create_organisation("Not Yet Agreed", OrgKind.CHARITY)
    partnership.members.append(outsider)
    db.session.flush()
    _add_observations(partnership, 1500, seed=1, outsider_id=outsider.id)
    db.session.commit()
    convenor = partnership.convenors[0]
    earlier = convening_ops.create_session(partnership, "Last quarter", HELD_ON - timedelta(days=90), convenor)
    for i, status in enumerate([ActionStatus.OPEN, ActionStatus.DONE, ActionStatus.OPEN]):
        db.session.add(Action(session=earlier, description=f"Action {i}", status=status,
                              owner_org_id=partnership.members[i].id))  # fmt: skip
    db.session.commit()
    return {"partnership": partnership, "convenor": convenor, "outsider": outsider}


def _sessions(busy: dict, themes: list | None) -> list:
    partnership, convenor = busy["partnership"], busy["convenor"]
    ward = next(a for a in partnership.areas if a.level is AreaLevel.WARD and a.name == "Lawrence Hill")
    categories = list(db.session.scalars(select(Category.id).order_by(Category.id)))[:3]
    specs = [
        {},
        {"focus_area_ids": [ward.id]},
        {"focus_category_ids": categories},
        {"period_start": HELD_ON - timedelta(days=199), "period_end": HELD_ON},
    ]
    if themes:
        specs.append({"focus_theme_ids": [themes[3].id, themes[5].id]})
    sessions = [
        convening_ops.create_session(partnership, f"Session {i}", HELD_ON, convenor, **kw) for i, kw in enumerate(specs)
    ]
    db.session.commit()
    return sessions


def _without_network(facts: dict) -> dict:
    """The facts the reference composer knows: the organisation network (issue 19, tested in test_network.py) is
    left out, its cells and its summary."""
    out = {**facts}
    for audience in ("partnership", "funders"):
        edition = {key: value for key, value in facts[audience].items() if key != "network"}
        edition["cells"] = {key: c for key, c in edition["cells"].items() if not key.startswith("net.")}
        out[audience] = edition
    return out


def _same_facts(session) -> dict:
    facts, composer = compose(session)
    expected = reference_facts(session)
    assert composer.has_data
    # the same cells, in the same order, with the same ids
    assert json.dumps(_without_network(facts)) == json.dumps(expected)
    return facts


def test_the_composer_stores_the_facts_the_object_composer_stored(busy):
    for session in _sessions(busy, None):  # no theme model: grouped by category
        facts = _same_facts(session)
        assert facts["shared"]["group_word"] == "Category"
    whole = _same_facts(_sessions(busy, None)[0])
    # The data exercise what must match: both editions, quotes, residents, placed and unplaced, carried actions.
    for audience in ("partnership", "funders"):
        assert whole[audience]["cells"]["total.now"]["n"] > 50
        assert whole[audience]["quotes"]
    assert whole["funders"]["cells"]["total.now"]["n"] < whole["partnership"]["cells"]["total.now"]["n"]
    assert "kind.residents" in whole["partnership"]["cells"]
    assert 0 < whole["partnership"]["cells"]["placed"]["n"] < whole["partnership"]["cells"]["total.now"]["n"]
    # The last earlier session (held the same day) has no actions; from the one before it, the open ones.
    assert [a["description"] for a in whole["shared"]["actions"]] == ["Action 0", "Action 2"]
    assert whole["shared"]["indicators"]
    assert whole["shared"]["deprived"]

    themes = _add_theme_model(busy["partnership"])
    for session in _sessions(busy, themes):
        facts = _same_facts(session)
        assert facts["shared"]["group_word"] == "Theme"
    groups = facts["partnership"]["groups"]  # the last: focused on two themes, one of them a merge target
    assert set(groups) == {"Theme 3", "Theme 5"}


def test_a_briefing_figure_for_a_ward_is_the_figure_on_the_ward_page(busy):
    """Same ward, indicator and period: the briefing's indicator fact equals the area page's figure (both rolled up
    by indicators.aggregation). A count of a ward's LSOAs is their sum on both (the briefing used to average it)."""
    partnership, convenor = busy["partnership"], busy["convenor"]
    ward = next(a for a in partnership.areas if a.level is AreaLevel.WARD and a.name == "Lawrence Hill")
    session = convening_ops.create_session(partnership, "Lawrence Hill", HELD_ON, convenor, focus_area_ids=[ward.id])
    db.session.commit()
    facts, _composer = compose(session)
    page = {f.indicator.name: f for f in area_figures(ward)}
    kinds = set()
    for row in facts["shared"]["indicators"]:
        figure = page[row["indicator"]]
        assert period_label(row["period"]) == figure.period, row["indicator"]
        kind = figure.indicator.value_kind
        kinds.add(kind)
        if kind is ValueKind.RANK:
            share_20 = row["value"].removesuffix(" of LSOAs in the most deprived 20%")
            assert f"({share_20} in the 20%)" in figure.display, (row, figure.display)
        else:
            assert figure.value is not None
            assert row["value"].startswith(f"{figure.value:,.1f}"), (row, figure.display)
    assert {ValueKind.RANK, ValueKind.COUNT} <= kinds  # ranks and a count summed over LSOAs were compared


def test_a_draft_issues_the_same_statements_however_many_observations_and_sessions(busy):
    partnership, convenor = busy["partnership"], busy["convenor"]
    _add_theme_model(partnership)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's own transaction, not the draft's work
            statements.append(statement)

    def draft(title: str) -> int:
        session = convening_ops.create_session(partnership, title, HELD_ON, convenor)
        db.session.commit()
        db.session.expire_all()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            convening_ops.compose_briefing(session, convenor)
            db.session.flush()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    draft("Warm-up")  # the caches kept per import (the latest IMD period of the evidence-gap rule) filled once
    first = draft("First")
    first_statements = [" ".join(st.split()[:12]) for st in statements]
    # Four times the observations, two more earlier sessions with actions, quotes in more groups.
    _add_observations(partnership, 4500, seed=2, outsider_id=busy["outsider"].id)
    for days in (30, 60):
        earlier = convening_ops.create_session(partnership, f"Earlier {days}", HELD_ON - timedelta(days=days), convenor)
        db.session.add_all([Action(session=earlier, description=f"Follow-up {days} {i}", owner_org_id=org.id)
                            for i, org in enumerate(partnership.members[:3])])  # fmt: skip
    db.session.commit()
    second = draft("Second")
    second_statements = [" ".join(st.split()[:12]) for st in statements]
    assert second == first, "\n".join(difflib.unified_diff(first_statements, second_statements, lineterm=""))
    # About 33 reads (the grants, network and index sections read their own few), then the briefing, its eleven
    # sections (one insert each on SQLite; no index section without a published index) and the audit event.
    assert first <= 50, "\n".join(statements)
