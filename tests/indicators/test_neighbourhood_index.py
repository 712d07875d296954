"""The composite neighbourhood index: its arithmetic against hand-computed examples, direction, weights, the stability
report, versioning, permissions, bad input, and the community domain through the disclosure layer."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from indicators import index_method as m
from indicators import index_operations as index_ops
from indicators.index_models import IndexStatus
from indicators.models import Indicator, IndicatorValue, Polarity
from webapp import operations as webapp_ops
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.operations import OperationError

# The arithmetic ------------------------------------------------------------------------------------------------------


def test_zscore_and_rank_standardisation_by_hand():
    values = {1: 1.0, 2: 2.0, 3: 3.0, 4: 6.0, 5: None}
    sd = math.sqrt((4 + 1 + 0 + 9) / 4)  # mean 3, population standard deviation
    z = m.standardise(values, "zscore")
    assert set(z) == {1, 2, 3, 4}  # an area without a value is left out, not 0
    assert z[1] == pytest.approx(-2 / sd)
    assert z[4] == pytest.approx(3 / sd)
    assert z[3] == pytest.approx(0)
    r = m.standardise(values, "rank")
    assert r == pytest.approx({1: 0.0, 2: 1 / 3, 3: 2 / 3, 4: 1.0})
    # Ties share their average rank: ranks 1.5, 1.5, 3 of 3 → 0.25, 0.25, 1.
    assert m.standardise({1: 5.0, 2: 5.0, 3: 9.0}, "rank") == pytest.approx({1: 0.25, 2: 0.25, 3: 1.0})
    assert m.standardise({1: 4.0, 2: 4.0}, "zscore") == {1: 0.0, 2: 0.0}  # no spread: no difference


def test_direction_turns_scores_so_that_higher_is_more_need():
    z = m.standardise({1: 10.0, 2: 20.0}, "zscore")
    assert m.orient(z, m.BETTER, "zscore") == pytest.approx({1: 1.0, 2: -1.0})
    assert m.orient(z, m.WORSE, "zscore") == pytest.approx({1: -1.0, 2: 1.0})
    r = m.standardise({1: 10.0, 2: 20.0, 3: 30.0}, "rank")
    assert m.orient(r, m.BETTER, "rank") == pytest.approx({1: 1.0, 2: 0.5, 3: 0.0})
    # The same data with the direction flipped reverses the ranking.
    domains = [m.DomainSpec("D", (m.IndicatorSpec("x", m.WORSE),))]
    worse = m.combine(domains, {"x": {1: 1.0, 2: 2.0, 3: 3.0}}, [1, 2, 3], "zscore")
    better = m.combine([m.DomainSpec("D", (m.IndicatorSpec("x", m.BETTER),))], {"x": {1: 1.0, 2: 2.0, 3: 3.0}},
                       [1, 2, 3], "zscore")  # fmt: skip
    assert [a.area_id for a in worse.areas] == [3, 2, 1]
    assert [a.area_id for a in better.areas] == [1, 2, 3]


def test_combination_and_weights_against_a_hand_computed_example():
    """Two domains: A has indicators x (weight 1) and y (weight 3, higher is better); B has z. Ranks scaled 0..1."""
    values = {
        "x": {1: 10.0, 2: 20.0, 3: 30.0},  # rank-scaled 0, .5, 1
        "y": {1: 3.0, 2: 1.0, 3: 2.0},  # rank-scaled 1, 0, .5; better → 0, 1, .5
        "z": {1: 7.0, 2: 5.0, 3: None},  # rank-scaled over areas 1 and 2: 1, 0; area 3 has no B
    }
    a = m.DomainSpec("A", (m.IndicatorSpec("x", m.WORSE, 1), m.IndicatorSpec("y", m.BETTER, 3)), weight=2)
    b = m.DomainSpec("B", (m.IndicatorSpec("z", m.WORSE, 1),), weight=1)
    result = m.combine([a, b], values, [1, 2, 3], "rank").by_area()
    # A = (1·x + 3·y')/4: area 1 (0+0)/4 = 0; area 2 (.5+3)/4 = .875; area 3 (1+1.5)/4 = .625
    assert [result[i].domains["A"] for i in (1, 2, 3)] == pytest.approx([0.0, 0.875, 0.625])
    assert [result[i].domains["B"] for i in (1, 2)] == pytest.approx([1.0, 0.0])
    assert result[3].domains["B"] is None
    # Index = (2·A + 1·B)/3; area 3 has only A, so its index is A (the weights renormalised, not B counted as 0).
    assert result[1].score == pytest.approx((0 + 1) / 3)
    assert result[2].score == pytest.approx((2 * 0.875 + 0) / 3)
    assert result[3].score == pytest.approx(0.625)
    assert (result[3].rank, result[2].rank, result[1].rank) == (1, 2, 3)
    # Equal weights change the order: area 2 ((.875+0)/2 = .4375) then area 1 (.5).
    equal = m.combine([m.DomainSpec("A", a.indicators), m.DomainSpec("B", b.indicators)], values, [1, 2, 3], "rank")
    assert [r.area_id for r in equal.areas] == [3, 1, 2]


def _separated_and_close(draws=1000, seed=7):
    # Area 1 is far above every other area in both domains; areas 2 and 3 swap places between the domains (a close
    # call); area 4 is far below.
    values = {"a": {1: 100.0, 2: 10.0, 3: 9.0, 4: -100.0}, "b": {1: 100.0, 2: 9.0, 3: 10.0, 4: -100.0}}
    domains = [m.DomainSpec("A", (m.IndicatorSpec("a"),)), m.DomainSpec("B", (m.IndicatorSpec("b"),))]
    return m.combine(domains, values, [1, 2, 3, 4], "zscore", draws=draws, seed=seed).by_area()


def test_stability_a_separated_area_has_no_rank_range_and_close_ones_overlap():
    result = _separated_and_close()
    assert (result[1].stability.low, result[1].stability.high) == (1, 1)
    assert result[1].stability.spread == 0
    assert result[4].stability.spread == 0
    two, three = result[2].stability, result[3].stability
    assert (two.low, two.high) == (2, 3)
    assert (three.low, three.high) == (2, 3)
    assert two.low <= two.p5 <= two.p95 <= two.high


def test_stability_is_reproducible_with_the_seed():
    first, again = _separated_and_close(seed=42), _separated_and_close(seed=42)
    assert {a: (r.stability.p5, r.stability.p95) for a, r in first.items()} == {
        a: (r.stability.p5, r.stability.p95) for a, r in again.items()
    }
    # The draws themselves are the seed's: the 5th-95th range of a close call comes from them, so ask numpy directly.
    w = np.array([0.5, 0.5])
    assert np.allclose(np.random.default_rng(42).dirichlet(20 * w, 5), np.random.default_rng(42).dirichlet(20 * w, 5))


def test_ranks_share_the_best_rank_on_ties():
    assert m.ranks_of(np.array([3.0, 1.0, 3.0, np.nan, 0.5])).tolist() == [1, 3, 1, 0, 4]


# The service layer ----------------------------------------------------------------------------------------------------


@pytest.fixture
def wards(bristol, world):
    """Four Bristol wards as the partnership's area, and three ward indicators on them (imported like any file)."""
    chosen = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True))
                                     .order_by(Area.code).limit(4)))  # fmt: skip
    world["partnership"].areas.extend(chosen)
    db.session.commit()
    return chosen


@pytest.fixture
def indicators_on(wards, import_file, tmp_path):
    def load(name: str, values: list[float], polarity=Polarity.HIGHER_IS_WORSE, period: str = "2023") -> Indicator:
        path = tmp_path / f"{name.replace(' ', '_')}.csv"
        rows = "".join(f"{w.code},{period},{name},{v}\n" for w, v in zip(wards, values, strict=True))
        path.write_text("area_code,period,indicator,value\n" + rows)
        import_file(path, dataset_title=f"{name} survey", polarity=polarity, unit="%", publisher="Test Council",
                    licence="OGL")  # fmt: skip
        return db.session.scalar(select(Indicator).where(Indicator.name == name))

    return load


def _definition(world, *rows, **kw):
    choices = [index_ops.Choice(i.id, domain, direction, weight) for i, domain, direction, weight in rows]
    return index_ops.build_definition("ward", choices, partnership=world["partnership"], **kw)


def test_an_index_is_computed_from_imported_indicators_and_sources_are_kept(world, wards, indicators_on):
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    green = indicators_on("Green space", [40, 30, 20, 10], Polarity.HIGHER_IS_BETTER)
    definition = _definition(world, (damp, "Housing", "worse", "1"), (green, "Environment", "better", "1"))
    version = index_ops.create_index(
        world["partnership"], "Test index", definition, "zscore", world["users"]["convenor"], 5
    )
    reading = index_ops.reading(version, Audience.PARTNERSHIP)
    order = [r["area"].code for r in reading.rows()]
    assert order == [w.code for w in reversed(wards)]  # the most damp and least green first
    assert [s["indicator"] for s in reading.sources] == ["Damp homes", "Green space"]
    assert reading.sources[0]["dataset"] == "Damp homes survey"
    assert reading.sources[0]["publisher"] == "Test Council"
    top = reading.result.areas[0]
    assert top.domains["Housing"] == pytest.approx(15 / math.sqrt(125))  # (40 − 25) / sd of 10, 20, 30, 40


def test_versions_are_immutable_once_published(world, wards, indicators_on):
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    convenor = world["users"]["convenor"]
    v1 = index_ops.create_index(world["partnership"], "Test index", _definition(world, (damp, "Housing", "worse", "1")),
                          "zscore", convenor)  # fmt: skip
    assert v1.status is IndexStatus.DRAFT
    assert v1.number == 1
    index_ops.publish_version(v1, convenor)
    db.session.commit()
    before = [(r.area_id, r.score) for r in index_ops.reading(v1, Audience.PARTNERSHIP).result.areas]
    with pytest.raises(ValueError, match="published"):
        v1.check_editable()
    with pytest.raises(OperationError, match="already published"):
        index_ops.publish_version(v1, convenor)
    # Editing makes a new draft; the published version keeps its definition, seed and values.
    v2 = index_ops.save_draft(v1.index, _definition(world, (damp, "Housing", "better", "1")), "rank", convenor)
    assert (v2.number, v2.status, v1.method, v2.method) == (2, IndexStatus.DRAFT, "zscore", "rank")
    assert v1.domains[0]["indicators"][0]["direction"] == "worse"
    # A re-import that changes a value changes the draft, not what was published.
    first = db.session.scalar(select(IndicatorValue).where(IndicatorValue.indicator_id == damp.id,
                                                           IndicatorValue.area_id == wards[0].id))  # fmt: skip
    first.value = 99.0
    db.session.commit()
    index_ops._RESULTS.clear()  # the frozen values, not the per-process copy of the result, keep it unchanged
    assert [(r.area_id, r.score) for r in index_ops.reading(v1, Audience.PARTNERSHIP).result.areas] == before
    assert index_ops.reading(v2, Audience.PARTNERSHIP).result.areas[-1].area_id == wards[0].id  # 99 % damp: least need
    # Editing a draft edits it in place (no new number).
    v2b = index_ops.save_draft(v1.index, _definition(world, (damp, "Housing", "worse", "2")), "rank", convenor)
    assert v2b is v2
    assert len(v1.index.versions) == 2
    assert v1.index.published is v1


def test_bad_input_is_refused_naming_the_field(world, wards, indicators_on):
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    with pytest.raises(OperationError, match="weight must be a number") as exc:
        _definition(world, (damp, "Housing", "worse", "lots"))
    assert exc.value.field == f"indicator-{damp.id}"
    with pytest.raises(OperationError, match="above 0") as exc:
        _definition(world, (damp, "Housing", "worse", "-1"))
    with pytest.raises(OperationError, match="at least one indicator") as exc:
        _definition(world, (damp, "", "worse", "1"))
    assert exc.value.field == "indicators"
    with pytest.raises(OperationError, match="no domain is called “Health”") as exc:
        _definition(world, (damp, "Housing", "worse", "1"), domain_weights="Health = 2")
    assert exc.value.field == "domain_weights"
    with pytest.raises(OperationError, match="Domain = weight"):
        _definition(world, (damp, "Housing", "worse", "1"), domain_weights="Housing 2")
    with pytest.raises(OperationError) as exc:  # a ward indicator cannot rank LSOAs
        index_ops.build_definition("lsoa", [index_ops.Choice(damp.id, "Housing")], partnership=world["partnership"])
    assert exc.value.field == f"indicator-{damp.id}"
    with pytest.raises(OperationError) as exc:
        index_ops.build_definition("lad", [index_ops.Choice(damp.id, "Housing")])
    assert exc.value.field == "level"
    with pytest.raises(OperationError) as exc:
        _definition(world, (damp, "Housing", "worse", "1"), community_theme_id=999999)
    assert exc.value.field == "community_theme"
    with pytest.raises(OperationError) as exc:
        index_ops.create_index(
            world["partnership"], "x", _definition(world, (damp, "Housing", "worse", "1")), "zscore", None
        )
    assert exc.value.field == "title"


# Pages and permissions -----------------------------------------------------------------------------------------------


def _form(indicator, weight="1", domain="Housing", **extra):
    return {"title": "Bristol need", "level": "ward", "method": "zscore", "community_theme": "0",
            "community_direction": "worse", "community_weight": "1", f"domain-{indicator.id}": domain,
            f"direction-{indicator.id}": "worse", f"weight-{indicator.id}": weight, **extra}  # fmt: skip


def test_convenors_build_and_publish_members_and_funders_read(world, wards, indicators_on, client_for, make_user):
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    convenor = client_for("convenor")
    slug = world["partnership"].slug
    assert convenor.get(f"/indexes/new?partnership={slug}").status_code == 200
    for role in ("member", "funder", "resident", "org_admin"):
        assert client_for(role).get(f"/indexes/new?partnership={slug}").status_code == 403, role
    response = convenor.post(f"/indexes/new?partnership={slug}", data=_form(damp))
    assert response.status_code == 302, response.get_data(as_text=True)
    index_id = int(re.search(r"/indexes/(\d+)", response.headers["Location"]).group(1))
    # A draft is its convenors' alone.
    assert convenor.get(f"/indexes/{index_id}").status_code == 200
    member, funder = client_for("member"), client_for("funder")
    assert member.get(f"/indexes/{index_id}").status_code == 404
    assert "Bristol need" not in member.get(f"/indexes/?partnership={slug}").get_data(as_text=True)
    assert member.post(f"/indexes/{index_id}/publish").status_code == 403
    assert convenor.post(f"/indexes/{index_id}/publish").status_code == 302
    for reader in (member, funder):
        page = reader.get(f"/indexes/{index_id}").get_data(as_text=True)
        assert "Rank range" in page
        assert "Damp homes" in page
        assert "Edit" not in page.split("How it is made")[0]
    # The ward's profile shows its rank and range.
    page = member.get(f"/areas/{wards[3].code}").get_data(as_text=True)
    assert re.search(r"Rank <strong>1 of 4</strong>", page)
    # A convenor of another partnership reads nothing of it.
    from tests.conftest import sign_in

    stranger = make_user("convenor")
    other = world["other_org"]
    webapp_ops.create_partnership("Elsewhere", "elsewhere", members=[other], convenors=[stranger])
    db.session.commit()
    outsider = sign_in(client_for("anonymous"), stranger)
    assert outsider.get(f"/indexes/{index_id}").status_code == 404
    assert outsider.get(f"/indexes/{index_id}/edit").status_code == 404
    assert client_for("anonymous").get(f"/indexes/{index_id}").status_code == 302  # to sign in


def test_the_form_names_the_bad_field(world, wards, indicators_on, client_for):
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    convenor = client_for("convenor")
    slug = world["partnership"].slug
    page = convenor.post(f"/indexes/new?partnership={slug}", data=_form(damp, weight="heavy"))
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "“Damp homes”: the weight must be a number" in text
    assert f'href="#indicator-{damp.id}"' in text
    page = convenor.post(f"/indexes/new?partnership={slug}", data=_form(damp, domain_weights="Nope = 1"))
    assert page.status_code == 400
    assert "no domain is called “Nope”" in page.get_data(as_text=True)


# The community domain through the disclosure layer -------------------------------------------------------------------


@pytest.fixture
def themed(world, wards, indicators_on):
    """A published index with a community domain: ward 0 has 20 observations (12 in the theme), ward 1 has 2."""
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    theme = Theme(partnership_id=partnership.id, auto_label="Damp and mould", auto_label_machine_made=False)
    db.session.add(theme)
    db.session.flush()
    model = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True,
                       changes={"topic_theme_ids": [theme.id]})  # fmt: skip
    db.session.add(model)
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    made: dict[int, list] = {w.id: [] for w in wards}
    # Ward 0: 20 observations, 12 in the theme (shown). Ward 1: 2 observations (fewer than k: not enough).
    for ward, n, themed in ((wards[0], 20, 12), (wards[1], 2, 2)):
        for i in range(n):
            obs = Observation(
                organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
                category_id=food.id, text="Mould", redacted_text="Mould", area_id=ward.id,
                period_start=date.today() - timedelta(days=10), status=ObservationStatus.SUBMITTED,
                sharing_level=SharingLevel.PARTNERSHIP,
            )  # fmt: skip
            db.session.add(obs)
            db.session.flush()
            made[ward.id].append(obs)
            if i < themed:
                db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
    db.session.commit()
    definition = _definition(world, (damp, "Housing", "worse", "1"), community_theme_id=theme.id)
    version = index_ops.create_index(partnership, "With community", definition, "zscore", world["users"]["convenor"], 3)
    index_ops.publish_version(version, world["users"]["convenor"])
    db.session.commit()

    return {"version": version, "made": made, "theme": theme}


def test_the_community_domain_goes_through_disclosure(world, wards, themed, client_for):
    version, made = themed["version"], themed["made"]
    reading = index_ops.reading(version, Audience.PARTNERSHIP)
    cells = reading.community
    total0, theme0 = release(Tally.of(made[wards[0].id])), release(Tally.of(made[wards[0].id][:12]))
    assert cells[wards[0].id].share == pytest.approx(theme0.value / total0.value)
    assert str(cells[wards[0].id]).endswith(f"({theme0} of {total0})")  # the released values, not the true ones
    assert cells[wards[1].id].share is None
    assert str(cells[wards[1].id]) == "not enough observations"
    assert cells[wards[2].id].share is None  # no observations at all: not enough, never 0
    by_area = reading.result.by_area()
    assert by_area[wards[1].id].domains["Community"] is None  # left out of its index, not counted as 0
    assert by_area[wards[0].id].domains["Community"] is not None
    page = client_for("member").get(f"/indexes/{version.index_id}").get_data(as_text=True)
    assert "not enough observations" in page
    assert f"({theme0} of {total0})" in page
    shares = page.split("Share of observations")[1].split("</table>")[0]
    assert "(2 of 2)" not in shares
    assert "fewer than" not in shares
    # Funders do not read the theme (as on the theme pages): their index is made from the indicators alone.
    page = client_for("funder").get(f"/indexes/{version.index_id}").get_data(as_text=True)
    assert "Damp and mould" not in page
    assert f"({theme0} of {total0})" not in page
    assert "official indicators alone" in page
    funders = index_ops.reading(version, Audience.FUNDERS)
    assert funders.community == {}
    assert "Community" not in funders.result.domain_names


def test_the_briefing_section_shows_the_published_index_for_each_edition(world, wards, themed):
    from convening import operations as convening_ops
    from convening import publishing
    from convening.models import SectionKind

    convenor = world["users"]["convenor"]
    session = convening_ops.create_session(world["partnership"], "Index session", date.today(), convenor)
    briefing = convening_ops.compose_briefing(session, world["users"]["convenor"])
    kinds = [s.kind for s in briefing.sections]
    assert SectionKind.INDEX in kinds
    assert kinds.index(SectionKind.INDEX) == kinds.index(SectionKind.INDICATORS) + 1
    doc = publishing.briefing_document(briefing, Audience.PARTNERSHIP)
    section = next(s for s in doc["sections"] if s["kind"] == "index")
    text = section["markdown"]
    top = index_ops.reading(themed["version"], Audience.PARTNERSHIP).result.ranked[0]
    assert "With community" in text
    assert f"| 1 | {next(w.name for w in wards if w.id == top.area_id)} |" in text
    assert "Rank range (5th–95th)" in text
    assert "| Rank | Ward |" in text  # the heading capitalised, the sentences not ("The 5 Wards with the most need")
    assert f"{len(wards)} wards ranked by" in text
    assert "wards with the most need" in text
    assert "1,000 random weightings" in text
    assert "Damp homes survey" in text  # its source, with provenance
    assert "Community: Damp and mould" in text
    funders = publishing.briefing_document(briefing, Audience.FUNDERS)
    text = next(s for s in funders["sections"] if s["kind"] == "index")["markdown"]
    assert "Damp and mould" not in text
    assert "official indicators alone" in text


def test_a_briefing_has_no_index_section_without_a_published_index(world, wards, indicators_on):
    from convening import operations as convening_ops
    from convening.models import SectionKind
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    db.session.add(Observation(organisation_id=world["org"].id, partnership_id=partnership.id,
                               kind=ObservationKind.NEED, category_id=food.id, text="x", redacted_text="x",
                               period_start=date.today() - timedelta(days=3), status=ObservationStatus.SUBMITTED,
                               sharing_level=SharingLevel.PARTNERSHIP))  # fmt: skip
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    index_ops.create_index(
        partnership, "Draft only", _definition(world, (damp, "Housing", "worse", "1")), "zscore", None
    )
    db.session.commit()
    session = convening_ops.create_session(partnership, "No index", date.today(), world["users"]["convenor"])
    briefing = convening_ops.compose_briefing(session, world["users"]["convenor"])
    assert SectionKind.INDEX not in [s.kind for s in briefing.sections]  # a draft index is not briefed on


def test_a_briefing_briefs_on_the_ward_index_and_an_lsoa_index_ranks_lsoas(world, wards, indicators_on, import_file,
                                                                              tmp_path):  # fmt: skip
    damp = indicators_on("Damp homes", [10, 20, 30, 40])
    convenor = world["users"]["convenor"]
    ward_version = index_ops.create_index(
        world["partnership"], "Wards", _definition(world, (damp, "Housing", "worse", "1")), "zscore", convenor
    )
    index_ops.publish_version(ward_version, convenor)
    lsoas = list(db.session.scalars(select(Area).where(Area.parent_id.in_([w.id for w in wards]),
                                                       Area.level == AreaLevel.LSOA, Area.current.is_(True))
                                    .order_by(Area.code)))  # fmt: skip
    path = tmp_path / "lsoa.csv"
    path.write_text("area_code,period,indicator,value\n" + "".join(f"{a.code},2023,Cold homes,{i}\n"
                                                                  for i, a in enumerate(lsoas)))  # fmt: skip
    import_file(path, dataset_title="Cold homes survey", polarity=Polarity.HIGHER_IS_WORSE, unit="%")
    cold = db.session.scalar(select(Indicator).where(Indicator.name == "Cold homes"))
    definition = index_ops.build_definition(
        "lsoa", [index_ops.Choice(cold.id, "Housing")], partnership=world["partnership"]
    )
    lsoa_version = index_ops.create_index(world["partnership"], "LSOAs", definition, "rank", convenor)
    index_ops.publish_version(lsoa_version, convenor)
    db.session.commit()
    reading = index_ops.reading(lsoa_version, Audience.PARTNERSHIP)
    assert len(reading.result.ranked) == len(lsoas)
    assert reading.result.ranked[0].area_id == lsoas[-1].id  # the highest value: the most need
    assert (
        index_ops.latest_published(world["partnership"]) == ward_version
    )  # published earlier, but wards suit a briefing
