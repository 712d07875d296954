"""Early warning (issue 16, part 5): a need theme rising in a ward whose official indicators have not moved yet is on
the convenor's home page, on the ward's page, and offered to the briefing as a discussion question; one rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from indicators import warnings
from indicators.figures import area_figures
from indicators.models import Polarity
from nlp.themes.queries import add_months, month_start
from tests.indicators.conftest import CENTRAL_WARD
from tests.indicators.test_pages import _sharing_over_bristol, loaded  # noqa: F401 - the fixture
from webapp.extensions import db
from webapp.models import Area, AreaLevel

FLAG = "Rising needs where the statistics look stable"
THEME = "Food parcels running out"


@pytest.fixture
def themed(loaded, world, import_file, tmp_path):  # noqa: F811 - the fixture imported above
    """A partnership over Bristol with one need theme and no observations yet; Central's claimant rate improved, as
    did the other ward's."""
    from nlp.themes.models import Theme, ThemeModel

    partnership = _sharing_over_bristol(world)
    other = db.session.scalar(
        select(Area)
        .where(Area.level == AreaLevel.WARD, Area.code != CENTRAL_WARD, Area.current.is_(True))
        .where(Area.id.in_(select(Area.parent_id).where(Area.level == AreaLevel.LSOA, Area.current.is_(True))))
        .order_by(Area.code)
        .limit(1)
    )
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "area_code,period,indicator,value\n"
        + "".join(
            f"{code},2019,Claimant rate,5.0\n{code},2020,Claimant rate,4.0\n" for code in (CENTRAL_WARD, other.code)
        )
    )
    import_file(rates, dataset_title="Claimants", polarity=Polarity.HIGHER_IS_WORSE, unit="%")
    theme = Theme(partnership_id=partnership.id, auto_label=THEME, auto_label_machine_made=False)
    db.session.add(theme)
    db.session.flush()
    model = ThemeModel(
        partnership_id=partnership.id, embedding_model="test", path="test", active=True,
        changes={"topic_theme_ids": [theme.id]},
    )  # fmt: skip
    db.session.add(model)
    db.session.commit()
    return {"partnership": partnership, "theme": theme, "model": model, "other": other, "world": world}


def _observe(themed, lsoa_code: str | None, month: date, n: int, ward: Area | None = None) -> None:
    """``n`` need observations in ``month``, placed in ``lsoa_code`` (or the first current LSOA of ``ward``)."""
    from nlp.themes.models import ThemeAssignment
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel

    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    if lsoa_code is not None:
        area = db.session.scalar(select(Area).where(Area.code == lsoa_code))
    else:
        area = db.session.scalar(
            select(Area).where(Area.parent_id == ward.id, Area.current.is_(True)).order_by(Area.code).limit(1)
        )
    for _ in range(n):
        obs = Observation(
            organisation_id=themed["world"]["org"].id, partnership_id=themed["partnership"].id,
            kind=ObservationKind.NEED, category_id=food.id, text=THEME, redacted_text=THEME, area_id=area.id,
            period_start=month + timedelta(days=3), status=ObservationStatus.SUBMITTED,
            sharing_level=SharingLevel.PARTNERSHIP,
        )  # fmt: skip
        db.session.add(obs)
        db.session.flush()
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=themed["model"].id, theme_id=themed["theme"].id))
    db.session.commit()


LAST_MONTH = add_months(month_start(date.today()), -1)  # inside the last 3 complete months
EARLIER = add_months(month_start(date.today()), -5)  # inside the 3 before them


def test_a_rising_need_where_the_figures_are_quiet_reaches_home_page_and_ward_page(themed, client_for):
    _observe(themed, "E01014540", LAST_MONTH, 16)  # an LSOA in Central: 16 now, none before
    found = warnings.early_warnings(themed["partnership"])
    assert [(w.theme, w.area_code) for w in found] == [(THEME, CENTRAL_WARD)]
    assert found[0].before == 0
    assert found[0].recent >= 12  # released: 16 moved by at most 4
    assert found[0].p_value < 0.05
    assert "Claimant rate (2019 to 2020)" in found[0].indicators_text

    home = client_for("convenor").get("/home").get_data(as_text=True)
    assert "Early warnings" in home
    panel = home.split('id="home-warnings-h"')[1].split("</section>")[0]
    assert THEME in panel
    assert f'href="/areas/{CENTRAL_WARD}"' in panel
    assert f"{found[0].recent} observations in the last 3 complete months, 0 in the 3 before" in panel
    # Members and funders do not get the convenor's panel (themes are the partnership's curated view).
    for role in ("member", "funder"):
        assert 'id="home-warnings-h"' not in client_for(role).get("/home").get_data(as_text=True)
    page = client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    assert FLAG in page


def test_the_warning_goes_when_an_official_figure_gets_worse(themed, client_for, import_file, tmp_path):
    _observe(themed, "E01014540", LAST_MONTH, 16)
    assert warnings.early_warnings(themed["partnership"])
    rates = tmp_path / "worse.csv"
    rates.write_text(
        "area_code,period,indicator,value\n"
        + "".join(f"{CENTRAL_WARD},{year},Claimant rate,{v}\n" for year, v in ((2019, 5.0), (2020, 4.0), (2021, 4.5)))
    )  # a new release of the same dataset: 2020 to 2021 got worse by 12.5%
    import_file(
        rates, dataset_title="Claimants", polarity=Polarity.HIGHER_IS_WORSE, unit="%", release_date=date(2025, 3, 1)
    )
    assert warnings.early_warnings(themed["partnership"]) == []
    panel = _warnings_panel(client_for("convenor").get("/home").get_data(as_text=True))
    assert THEME not in panel
    assert "None now: no need theme is rising in a ward whose official figures look quiet." in panel
    assert FLAG not in client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)


def _warnings_panel(home: str) -> str:
    assert 'id="home-warnings-h"' in home
    return home.split('id="home-warnings-h"')[1].split("</section>")[0]


def test_the_home_page_says_why_no_warning_can_be_raised_without_an_official_series(themed, client_for):
    """Rising reports, but the only ward-level figures have one period (as the demo's IoD2025): nothing can say the
    statistics are quiet. The convenor reads why there is no warning and what would make one possible."""
    from indicators.models import Indicator, IndicatorValue

    _observe(themed, "E01014540", LAST_MONTH, 16)
    assert warnings.can_warn(themed["partnership"])
    claimant = db.session.scalar(select(Indicator).where(Indicator.name == "Claimant rate"))
    db.session.execute(
        delete(IndicatorValue).where(IndicatorValue.indicator_id == claimant.id, IndicatorValue.period_key == "2019")
    )
    db.session.commit()
    assert not warnings.can_warn(themed["partnership"])
    # A series with two periods for a ward of another local authority says nothing of this partnership's wards.
    elsewhere = Area(code="E05999999", name="A ward elsewhere", level=AreaLevel.WARD, current=True)
    db.session.add(elsewhere)
    db.session.flush()
    for year, value in (("2019", 5.0), ("2020", 4.0)):
        fields = {**_value_fields(claimant, "2020"), "area_id": elsewhere.id, "period_key": year, "value": value}
        db.session.add(IndicatorValue(**fields))
    db.session.commit()
    assert not warnings.can_warn(themed["partnership"])
    assert warnings.early_warnings(themed["partnership"]) == []
    panel = _warnings_panel(client_for("convenor").get("/home").get_data(as_text=True))
    assert "None can be raised yet." in panel
    assert "import a ward-level series" in panel
    # Two periods again, but with no direction (as FixMyStreet reports): still nothing to judge by.
    db.session.add(IndicatorValue(**{**_value_fields(claimant), "period_key": "2019", "value": 5.0}))
    claimant.polarity = Polarity.NEUTRAL
    db.session.commit()
    assert not warnings.can_warn(themed["partnership"])
    claimant.polarity = Polarity.HIGHER_IS_WORSE
    db.session.commit()
    assert warnings.can_warn(themed["partnership"])
    assert THEME in _warnings_panel(client_for("convenor").get("/home").get_data(as_text=True))


def _value_fields(indicator, period_key: str | None = None) -> dict:
    """The fields of one of ``indicator``'s stored values at Central (of ``period_key``, or any), to copy into
    another period or area."""
    from indicators.models import IndicatorValue

    stmt = (
        select(IndicatorValue)
        .join(Area, Area.id == IndicatorValue.area_id)
        .where(IndicatorValue.indicator_id == indicator.id, Area.code == CENTRAL_WARD)
    )
    if period_key is not None:
        stmt = stmt.where(IndicatorValue.period_key == period_key)
    row = db.session.scalar(stmt.limit(1))
    return {
        "indicator_id": row.indicator_id, "area_id": row.area_id, "period_kind": row.period_kind,
        "period_start": date(2019, 1, 1), "period_end": date(2019, 12, 31),
    }  # fmt: skip


def test_rising_is_judged_in_the_area_not_across_the_partnership(themed, client_for):
    """Partnership-wide the theme rises (Central's 16 new ones), but in the other ward it is steady (8 and 8): that
    ward gets no warning although its figures are as quiet as Central's, and it is reported there."""
    other = themed["other"]
    _observe(themed, "E01014540", LAST_MONTH, 16)
    _observe(themed, None, LAST_MONTH, 8, ward=other)
    _observe(themed, None, EARLIER, 8, ward=other)
    assert warnings.statistics_quiet(area_figures(other)) is not None  # the figures would allow a warning
    trends = warnings.area_trends(themed["partnership"])
    assert trends[(themed["theme"].id, other.id)].direction == "steady"
    found = warnings.early_warnings(themed["partnership"])
    assert [w.area_code for w in found] == [CENTRAL_WARD]
    assert FLAG not in client_for("member").get(f"/areas/{other.code}").get_data(as_text=True)
    assert FLAG in client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)


def test_too_few_is_no_warning(themed):
    _observe(themed, "E01014540", LAST_MONTH, 3)  # released as "fewer than k": the trend cannot be told
    assert warnings.early_warnings(themed["partnership"]) == []


def test_the_briefing_offers_the_warning_as_a_discussion_question_to_the_partnership_only(themed):
    from convening import operations as convening_ops
    from convening.composer.edition import Edition
    from convening.composer.facts import compose
    from convening.composer.sections import questions
    from webapp.disclosure import Audience

    _observe(themed, "E01014540", LAST_MONTH, 16)
    central = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    period_end = month_start(date.today()) - timedelta(days=1)
    session = convening_ops.create_session(
        themed["partnership"], "Winter meeting", date.today(), themed["world"]["users"]["convenor"],
        focus_area_ids=[central.id], period_start=add_months(period_end, -2), period_end=period_end,
    )  # fmt: skip
    db.session.commit()
    facts, _ = compose(session)
    assert facts["partnership"]["warnings"][0]["area"] == central.name
    assert "funders" not in facts or "warnings" not in facts["funders"]
    text, _ = questions.write(Edition(facts, Audience.PARTNERSHIP, themed["partnership"]))
    assert f"Early warning: reports about {THEME.lower()} are rising in {central.name}" in text
    assert "Claimant rate (2019 to 2020)" in text
    funders, _ = questions.write(Edition(facts, Audience.FUNDERS, themed["partnership"]))
    assert "Early warning" not in funders
    # A session about another ward has none.
    other = convening_ops.create_session(
        themed["partnership"], "Other meeting", date.today(), themed["world"]["users"]["convenor"],
        focus_area_ids=[themed["other"].id], period_start=add_months(period_end, -2), period_end=period_end,
    )  # fmt: skip
    db.session.commit()
    assert compose(other)[0]["partnership"]["warnings"] == []
