"""The area page's community counts: one grouped query for the area and every area above it gives each area exactly
the tallies it had when it was counted on its own (so every released value stays the same), and the page's queries
do not grow with the areas or observations (no N+1 can come back)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from indicators import community
from tests.indicators.conftest import BRISTOL, CENTRAL_WARD
from webapp import operations as webapp_ops
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.hierarchy import ancestors, area_ids_within
from webapp.models import Area, AreaLevel


def _organisations_alone(partnership, audience, area, since) -> set[int]:
    """The per-area query of the organisations counted (as the page asked before)."""
    from submissions import queries
    from submissions.models import Observation

    stmt = queries.partnership_observations(partnership, audience).where(Observation.area_id.in_(area_ids_within(area)))
    if since is not None:
        stmt = stmt.where(Observation.period_start >= since)
    return set(db.session.scalars(stmt.order_by(None).with_only_columns(Observation.organisation_id).distinct())) - {
        None
    }


def _one_area(partnership, audience, area, since) -> dict[tuple[str, str], Tally]:
    """The per-area path the grouped query replaced: one query for one area (joined to categories, by name)."""
    from submissions import queries
    from submissions.models import Category, Observation

    base = queries.partnership_observations(partnership, audience).where(Observation.area_id.in_(area_ids_within(area)))
    if since is not None:
        base = base.where(Observation.period_start >= since)
    stmt = (
        base.order_by(None)
        .join(Category, Category.id == Observation.category_id)
        .with_only_columns(Category.name, Observation.kind, *queries.tally_columns())
        .group_by(Category.name, Observation.kind)
    )
    return {
        (name, str(getattr(kind, "value", kind))): Tally.row(n, ks) for name, kind, n, ks in db.session.execute(stmt)
    }


@pytest.fixture
def seeded(bristol, world, make_org):
    """A partnership over Bristol with 600 observations of every kind, level, status, category and age, placed in
    LSOAs of Central and of other wards, in wards, in the authority and nowhere (partnership-wide); a resident's;
    and a second partnership's, which must never be counted."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    bristol_area = db.session.scalar(select(Area).where(Area.code == BRISTOL))
    partnership.areas.append(bristol_area)
    second = make_org("Knowle West Pantry")
    third = make_org("Not Yet Sharing")  # a member that has not accepted the agreement: never counted
    partnership.members.extend([second, third])
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    webapp_ops.accept_agreement(agreement, second, world["users"]["org_admin"])
    other = webapp_ops.create_partnership("Other Partnership", "other-partnership", members=[world["other_org"]])
    other.areas.append(bristol_area)
    db.session.flush()

    central = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    wards = list(db.session.scalars(select(Area).where(Area.parent_id == bristol_area.id)))
    lsoas = list(db.session.scalars(select(Area).where(Area.parent_id.in_([w.id for w in wards]))))
    central_lsoas = [a for a in lsoas if a.parent_id == central.id]
    places = [*central_lsoas, *central_lsoas, *lsoas[:40], central, *wards[:5], bristol_area, None]
    categories = list(db.session.scalars(select(Category)))
    rng = random.Random(10)  # noqa: S311 - test data, not security
    today = date.today()
    for i in range(600):
        place = rng.choice(places)
        resident = i % 25 == 0
        db.session.add(
            Observation(
                organisation_id=None if resident else rng.choice([world["org"], world["org"], second, third]).id,
                author_id=world["users"]["resident"].id if resident else None,
                partnership_id=other.id if i % 17 == 0 else partnership.id,
                kind=rng.choice(list(ObservationKind)),
                category_id=rng.choice(categories).id,
                text=f"Observation {i}",
                redacted_text=None if i % 31 == 0 else f"Observation {i}",
                area_id=place.id if place is not None else None,
                period_start=today - timedelta(days=rng.randrange(800)),
                status=ObservationStatus.APPROVED
                if resident
                else rng.choice([ObservationStatus.SUBMITTED] * 5 + [ObservationStatus.REJECTED]),
                sharing_level=rng.choice(list(SharingLevel)),
            )
        )
    db.session.commit()
    lsoa = next(a for a in central_lsoas if a.level is AreaLevel.LSOA and a.current)
    return {
        "partnership": partnership,
        "lsoa": lsoa,
        "ward": central,
        "bristol": bristol_area,
        "sharing": {world["org"].id, second.id},
    }


@pytest.mark.parametrize("audience", list(Audience))
def test_one_query_gives_each_area_its_own_tallies(app, seeded, audience):
    partnership = seeded["partnership"]
    for since in (None, date.today() - timedelta(days=91), date.today() - timedelta(days=365)):
        for start in ("lsoa", "ward", "bristol"):
            with app.test_request_context("/"):
                area = db.session.get(Area, seeded[start].id)
                chain = [area, *ancestors(area)]
                grouped = community.chain_tallies(partnership, audience, chain, since)
                for a, tallies in zip(chain, grouped, strict=True):
                    alone = _one_area(partnership, audience, a, since)
                    assert tallies == alone, (audience, since, start, a.code)
                    # The same tallies release the same values.
                    assert {c: str(release(t)) for c, t in tallies.items()} == {
                        c: str(release(t)) for c, t in alone.items()
                    }
                    assert community.contributing_organisations(partnership, audience, a, since) == (
                        _organisations_alone(partnership, audience, a, since)
                    )
    # Not vacuous: the seeded partnership has counts at every level of the chain for this audience.
    with app.test_request_context("/"):
        lsoa = db.session.get(Area, seeded["lsoa"].id)
        chain = [lsoa, *ancestors(lsoa)]
        totals = [Tally.total(t.values()).count for t in community.chain_tallies(partnership, audience, chain, None)]
        organisations = community.contributing_organisations(partnership, audience, chain[-1], None)
    assert len(totals) == 3
    assert 0 < totals[0] < totals[1] < totals[2]
    assert organisations == seeded["sharing"]  # both sharing members, never the one that has not accepted


def test_category_tallies_of_the_areas_above_come_from_the_same_query(app, seeded):
    """Asking for the LSOA counts its ward and authority too: asking for them after costs no query."""
    partnership = seeded["partnership"]
    with app.test_request_context("/"):
        lsoa = db.session.get(Area, seeded["lsoa"].id)
        above = ancestors(lsoa)
        community.category_tallies(partnership, Audience.PARTNERSHIP, lsoa, None)
        with _counting() as statements:
            for a in above:
                assert community.category_tallies(partnership, Audience.PARTNERSHIP, a, None) == _one_area(
                    partnership, Audience.PARTNERSHIP, a, None
                )
        assert sum("observations" in s for s in statements) == len(above)  # only the reference queries


class _counting:
    """Collects the SQL statements run inside the block."""

    def __enter__(self) -> list[str]:
        self.statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self.statements

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):  # the tests' transactions
            self.statements.append(statement)

    def __exit__(self, *exc) -> None:
        event.remove(db.engine, "before_cursor_execute", self._record)


def _queries(client, path: str) -> list[str]:
    with _counting() as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return statements


@pytest.mark.parametrize("role", ["member", "funder", "resident"])
def test_area_pages_ask_a_bounded_number_of_queries(seeded, client_for, role):
    """An area page reads observations once per covering partnership (its counts, and how many organisations
    contributed, for the whole area chain), whatever the depth of the chain; and the page's queries do not grow
    with the number of observations or of areas they are placed in."""
    from submissions.models import Observation

    client = client_for(role)
    paths = [f"/areas/{seeded[a].code}" for a in ("lsoa", "ward", "bristol")]
    for path in paths:
        client.get(path)  # warm up (templates, sessions)
    db.session.expire_all()  # as after the commit below: both rounds start from the same session state
    before = {path: _queries(client, path) for path in paths}
    for path, statements in before.items():
        reading = [s for s in statements if "FROM observations" in s]
        assert len(reading) <= 2, (path, len(reading))  # two partnerships cover Bristol
        assert len(statements) <= 60, (path, len(statements))  # 40 today, for an LSOA
    # Spread many more observations over many more areas: the same queries.
    lsoas = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.LSOA, Area.current.is_(True))))
    template = db.session.scalar(select(Observation).where(Observation.partnership_id == seeded["partnership"].id))
    for i, lsoa in enumerate(lsoas[:150]):
        db.session.add(
            Observation(
                organisation_id=template.organisation_id,
                partnership_id=template.partnership_id,
                kind=template.kind,
                category_id=template.category_id,
                text=f"More {i}",
                redacted_text=f"More {i}",
                area_id=lsoa.id,
                period_start=date.today() - timedelta(days=i),
                status=template.status,
                sharing_level=template.sharing_level,
            )
        )
    db.session.commit()
    for path in paths:
        assert len(_queries(client, path)) == len(before[path]), path


@pytest.mark.parametrize("level", ["ward", "lsoa"])
def test_areas_list_loads_vintages_in_one_query(seeded, client_for, level):
    """The list of superseded areas labels each with its vintages: loaded with them, not one query per area."""
    statements = _queries(client_for("member"), f"/areas/?level={level}")
    vintage_queries = [s for s in statements if "FROM area_vintages" in s]
    assert len(vintage_queries) <= 2, len(vintage_queries)  # the superseded list's, and the lead's first area
    assert len(statements) <= 40, len(statements)


def _themes(partnership, observations, n: int) -> None:
    """An active theme model with ``n`` themes, the observations assigned round-robin."""
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel

    db.session.query(ThemeModel).filter_by(partnership_id=partnership.id).update({"active": False})
    themes = [Theme(partnership_id=partnership.id, auto_label=f"Theme {i}") for i in range(n)]
    db.session.add_all(themes)
    db.session.flush()
    model = ThemeModel(
        partnership_id=partnership.id,
        embedding_model="test",
        path="test",
        active=True,
        changes={"topic_theme_ids": [t.id for t in themes]},
    )
    db.session.add(model)
    db.session.flush()
    for i, obs in enumerate(observations):
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=themes[i % n].id))
    db.session.commit()


def test_area_page_queries_do_not_grow_with_the_themes(seeded, client_for):
    """Each theme row is released within the theme's count in the ward (its map figure): the areas' parents are
    read once for all the themes, not once per theme (they were: every area in England, each time)."""
    from submissions.models import Observation

    partnership = seeded["partnership"]
    observations = list(
        db.session.scalars(
            select(Observation).where(Observation.partnership_id == partnership.id).order_by(Observation.id)
        )
    )
    client = client_for("member")
    path = f"/areas/{seeded['ward'].code}?months=all"
    counts = []
    for n in (1, 6):
        _themes(partnership, observations, n)
        client.get(path)
        db.session.expire_all()
        statements = _queries(client, path)
        page = client.get(path).get_data(as_text=True)
        assert "Theme 0" in page
        counts.append(len(statements))
        assert sum(s.count("FROM areas") for s in statements) <= 15, n
    assert counts[0] == counts[1]


def test_an_indicators_latest_period_follows_a_re_import(bristol, import_file, tmp_path):
    """Maps cache an indicator's latest period per import: a re-import with a newer period is read at once."""
    from indicators.models import Indicator
    from indicators.values import latest_period_key

    rates = tmp_path / "rates.csv"
    rates.write_text(f"area_code,period,indicator,value\n{CENTRAL_WARD},2019,Claimant rate,5.0\n")
    import_file(rates, dataset_title="Claimants", unit="%")
    indicator = db.session.scalar(select(Indicator).where(Indicator.name == "Claimant rate"))
    assert latest_period_key(indicator) == "2019"
    rates.write_text(
        "area_code,period,indicator,value\n"
        f"{CENTRAL_WARD},2019,Claimant rate,5.0\n{CENTRAL_WARD},2020,Claimant rate,4.0\n"
    )
    import_file(rates, dataset_title="Claimants", unit="%")
    indicator = db.session.scalar(select(Indicator).where(Indicator.name == "Claimant rate"))
    assert latest_period_key(indicator) == "2020"


def test_area_pages_ask_the_same_queries_whatever_the_partnerships_elsewhere(seeded, client_for, world):
    """Which partnerships cover an area is one query (benchmarks/scale.py has 200 partnerships, and reading each
    one's areas cost a query per partnership on every area page); partnerships elsewhere change nothing."""
    client = client_for("member")
    paths = [f"/areas/{seeded[a].code}" for a in ("lsoa", "ward")]
    for path in paths:
        client.get(path)
    db.session.expire_all()
    before = {path: _queries(client, path) for path in paths}
    ward = db.session.get(Area, seeded["ward"].id)
    elsewhere = db.session.scalar(
        select(Area).where(Area.level == AreaLevel.WARD, Area.id != ward.id, Area.parent_id == ward.parent_id)
    )
    for i in range(8):
        p = webapp_ops.create_partnership(f"Elsewhere {i}", members=[world["other_org"]])
        p.areas.append(elsewhere)
    db.session.commit()
    db.session.expire_all()
    for path in paths:
        assert len(_queries(client, path)) == len(before[path]), path
    with client.application.test_request_context("/"):
        lsoa = db.session.get(Area, seeded["lsoa"].id)
        covering = community.partnerships_covering(lsoa)
        above = {lsoa.id, *(a.id for a in ancestors(lsoa))}
        every = db.session.scalars(select(community.Partnership).order_by(community.Partnership.name))
        assert covering == [p for p in every if above & {a.id for a in p.areas}]
        assert {p.name for p in covering} == {"Test Partnership", "Other Partnership"}
