"""The area pages: the map with its table, the area profile, community counts through suppress, and charts."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import altair as alt
import pytest
from sqlalchemy import select

from indicators.models import Indicator, PeriodKind, Polarity
from tests.indicators.conftest import BRISTOL, CENTRAL_WARD
from webapp import charts
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area


@pytest.fixture
def loaded(bristol, import_file):
    import_file("iod2019_file2_slice.csv")
    import_file(
        "fixmystreet_slice.csv",
        area_column="lsoa",
        period_column="month",
        value_column="reports",
        indicator="FixMyStreet reports",
        unit="count",
        publisher="mySociety",
        licence="ODC-By 1.0",
    )
    import_file(
        "dfe_fsm_slice.csv",
        format="tidy",
        dataset_title="Free school meals",
        publisher="Department for Education",
        licence="Open Government Licence v3.0",
        area_column="new_la_code",
        period_column="time_period",
        value_column="fsm_eligible_percent",
        indicator="Pupils eligible for free school meals",
        unit="%",
        year_type=PeriodKind.ACADEMIC_YEAR,
        filters=[("geographic_level", "Local authority"), ("phase", "Total")],
    )


def _spec(page: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{chart_id}-spec">(.*?)</script>', page, re.S)
    assert match, f"no JSON data block for {chart_id}"
    return json.loads(match.group(1))


def test_areas_page_shows_the_map_and_its_table(loaded, world, client_for):
    world["partnership"].areas.append(db.session.scalar(select(Area).where(Area.code == BRISTOL)))
    db.session.commit()
    response = client_for("member").get("/areas/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "34 wards" in page
    assert "Ashley" in page
    spec = _spec(page, "area-map")
    assert spec["layer"][0]["mark"]["type"] == "geoshape"
    features = spec["datasets"]["areas"]
    assert len(features) == 34  # the partnership's wards, each with its boundary
    central = next(f for f in features if f["properties"]["code"] == CENTRAL_WARD)
    # Central's eight LSOAs have IMD deciles 7, 4, 6, 4, 6, 3, 1, 1: two of eight in the most deprived 10%.
    assert central["properties"]["value"] == 25.0
    assert central["properties"]["display"] == "25%"
    assert "% of LSOAs in the most deprived 10%" in page
    assert spec["description"].startswith("Map of 34 areas")
    # No inline script: the CSP stays strict and the page loads the vendored scripts.
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", page) == []
    assert "vendor/vega-interpreter/vega-interpreter.js" in page


def test_map_switches_indicator_and_level(loaded, world, client_for):
    fms = db.session.scalar(select(Indicator).where(Indicator.name == "FixMyStreet reports"))
    page = client_for("member").get(f"/areas/?indicator={fms.id}&level=lsoa").get_data(as_text=True)
    spec = _spec(page, "area-map")
    assert "FixMyStreet reports" in spec["title"]
    assert len(spec["datasets"]["areas"]) == 268  # the current (2021) LSOAs
    features = {f["properties"]["code"]: f["properties"] for f in spec["datasets"]["areas"]}
    assert "E01014540" not in features  # a 2011 LSOA split in 2021: not on the current map
    assert features["E01033342"]["value"] is not None  # unchanged 2011 → 2021: its 2011 count as published
    assert features["E01014485"]["value"] is None  # no reports in the slice
    # A part of the split LSOA shows the whole 2011 LSOA's count, named, and is not coloured (it is not divided).
    assert features["E01033907"]["value"] is None
    assert "(the whole of E01014540)" in features["E01033907"]["display"]
    assert "through the ONS LSOA 2011 → 2021 lookup" in page


def test_area_profile_compares_with_the_local_authority(loaded, client_for):
    page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    assert "Index of Multiple Deprivation (IMD)" in page
    assert "Bristol, City of" in page
    assert "Ministry of Housing, Communities and Local Government" in page
    assert "Open Government Licence" in page
    assert "mySociety" in page
    assert "ODC-By 1.0" in page
    assert "How figures are rolled up from LSOAs" in page
    spark = _spec(
        page, f"spark-{db.session.scalar(select(Indicator.id).where(Indicator.name == 'FixMyStreet reports'))}"
    )
    assert spark["description"].startswith("Trend of FixMyStreet reports in Central")
    assert "Values by period" in page  # the sparkline's data table


def test_profiles_carry_a_map_of_their_neighbourhoods_with_its_table(loaded, client_for):
    from webapp.models import Area

    client = client_for("resident")
    ward = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    page = client.get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    spec = _spec(page, "profile-map")
    codes = sorted(f["properties"]["code"] for f in spec["datasets"]["areas"])
    assert codes == sorted(c.code for c in ward.children if c.current), "a ward's map shows its current LSOAs"
    assert len(codes) == 12  # Central has 12 LSOAs (2021); four of its 2011 ones were split
    assert "Map: LSOAs in Central" in page
    assert "index of multiple deprivation" in spec["description"]
    lsoa = ward.current_children[0]
    lsoa_page = client.get(f"/areas/{lsoa.code}").get_data(as_text=True)
    assert f'<strong aria-current="page">{lsoa.name}</strong>' in lsoa_page  # the LSOA among its ward's others
    la_page = client.get(f"/areas/{BRISTOL}").get_data(as_text=True)
    assert len(_spec(la_page, "profile-map")["datasets"]["areas"]) == 34


def test_lsoa_profile_shows_its_decile(loaded, client_for):
    page = client_for("resident").get("/areas/E01033367").get_data(as_text=True)
    assert "decile 1, rank 1,223 of 32,844" in page


def test_local_authority_profile_shows_its_own_series(loaded, client_for):
    page = client_for("funder").get(f"/areas/{BRISTOL}").get_data(as_text=True)
    assert "Pupils eligible for free school meals" in page
    assert "24.6%" in page
    assert "2020/21 (academic year)" in page


def test_unknown_area_is_not_found(client_for):
    assert client_for("member").get("/areas/E00000000").status_code == 404


def _sharing_over_bristol(world):
    """The world's partnership over Bristol, its member organisation sharing at partnership level."""
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    partnership.areas.append(db.session.scalar(select(Area).where(Area.code == BRISTOL)))
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    return partnership


def test_community_counts_go_through_suppress(loaded, world, client_for):
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel

    partnership = _sharing_over_bristol(world)
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    housing = db.session.scalar(select(Category).where(Category.slug == "housing-and-homelessness"))
    lsoa = db.session.scalar(select(Area).where(Area.code == "E01014540"))  # in Central ward
    recent = date.today() - timedelta(days=10)

    made: list = []

    def observe(category, n, level=SharingLevel.PARTNERSHIP):
        for _ in range(n):
            made.append(
                Observation(
                    organisation_id=world["org"].id,
                    partnership_id=partnership.id,
                    kind=ObservationKind.NEED,
                    category_id=category.id,
                    text="Families asking for food parcels",
                    redacted_text="Families asking for food parcels",
                    area_id=lsoa.id,
                    period_start=recent,
                    status=ObservationStatus.SUBMITTED,
                    sharing_level=level,
                )
            )
            db.session.add(made[-1])

    def shown(category=None, levels=None) -> str:
        """What the layer releases for these observations (count and record keys)."""
        from webapp.disclosure import Tally, release

        chosen = [o for o in made if (category is None or o.category_id == category.id)
                  and (levels is None or o.sharing_level in levels)]  # fmt: skip
        return str(release(Tally.of(chosen)))

    observe(food, 6)
    observe(housing, 2)
    observe(housing, 5, SharingLevel.PUBLIC_AGGREGATE)
    db.session.commit()
    member_page = client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    # Counts of 5 or more are released through the cell key method (the same observations, the same number).
    assert re.search(rf"<th scope=\"row\">Food</th><td>{shown(food)}</td>", member_page)
    assert re.search(rf"<th scope=\"row\">Housing and homelessness</th><td>{shown(housing)}</td>", member_page)
    assert f'in Central and the areas inside it: <strong class="community-total">{shown()}</strong>' in member_page
    # A resident sees only what was shared with the public, and small counts are hidden.
    resident_page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    assert "Food" not in resident_page.split("What the community reports")[1]
    public = [SharingLevel.PUBLIC_AGGREGATE]
    assert re.search(
        rf"<th scope=\"row\">Housing and homelessness</th><td>{shown(housing, public)}</td>", resident_page
    )
    observe(food, 1, SharingLevel.PUBLIC_AGGREGATE)
    db.session.commit()
    # One public food observation: "fewer than 5" for the authority; in the ward it is not broken down further (the
    # authority's food count is already fewer than 5, so the ward's could only repeat or pin it).
    resident_page = client_for("resident").get(f"/areas/{BRISTOL}").get_data(as_text=True)
    food_row = re.search(r"<th scope=\"row\">Food</th>(.*?)</tr>", resident_page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", food_row) == ["not shown", "not shown", "fewer than 5"]
    resident_page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    assert "Food" not in resident_page.split("What the community reports")[1]


def test_evidence_gap_flag_explains_itself(loaded, world, client_for):
    # E01033367 is in IMD decile 1 and nobody has reported anything there; E01014540 is in decile 4.
    _sharing_over_bristol(world)
    db.session.commit()
    page = client_for("member").get("/areas/E01033367").get_data(as_text=True)
    assert "Evidence gap" in page
    assert "This LSOA is in the most deprived 20% in England" in page
    assert "Evidence gap" not in client_for("member").get("/areas/E01014540").get_data(as_text=True)
    assert "The rule: An LSOA in the most deprived 20%" in page
    # A ward by the same rule (the briefing's): Central has 2 of its 8 LSOAs (25%) in the 20%, under 30%.
    assert "Evidence gap" not in client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)


def test_charts_are_valid_vega_lite_and_render_to_svg():
    square = {
        "type": "Polygon",
        "coordinates": [[[-2.6, 51.4], [-2.5, 51.4], [-2.5, 51.5], [-2.6, 51.5], [-2.6, 51.4]]],
    }
    spec = charts.choropleth(
        [{"code": "E1", "name": "A", "geometry": square, "value": 3.0, "display": "3"}], "Test", "Value", "worse"
    )
    alt.LayerChart.from_dict(spec)  # validates against the Vega-Lite schema
    svg = charts.to_svg(spec)
    assert svg.startswith("<svg")
    assert "<path" in svg
    assert "</script>" not in charts.script_json({"title": "</script><script>alert(1)"})


def test_themes_sit_beside_indicators_with_the_rising_flag(loaded, world, client_for, import_file, tmp_path):
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel

    partnership = _sharing_over_bristol(world)
    # An official rate for Central that improved between its two releases (lower is better).
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "area_code,period,indicator,value\n"
        f"{CENTRAL_WARD},2019,Claimant rate,5.0\n{CENTRAL_WARD},2020,Claimant rate,4.0\n"
    )
    import_file(rates, dataset_title="Claimants", polarity=Polarity.HIGHER_IS_WORSE, unit="%")
    theme = Theme(partnership_id=partnership.id, auto_label="Food parcels running out", auto_label_machine_made=False)
    db.session.add(theme)
    db.session.flush()
    model = ThemeModel(
        partnership_id=partnership.id, embedding_model="test", path="test", active=True,
        changes={"topic_theme_ids": [theme.id]},
    )  # fmt: skip
    db.session.add(model)
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    lsoa = db.session.scalar(select(Area).where(Area.code == "E01014540"))
    last_month = date.today().replace(day=1) - timedelta(days=20)  # inside the last three complete months
    made = []
    # 14: released as 10 or more whatever the keys (D=4), the fewest a trend is told from (nlp.themes.queries).
    for _ in range(14):
        obs = Observation(
            organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
            category_id=food.id, text="Food parcels running out", redacted_text="Food parcels running out",
            area_id=lsoa.id, period_start=last_month, status=ObservationStatus.SUBMITTED,
            sharing_level=SharingLevel.PARTNERSHIP,
        )  # fmt: skip
        db.session.add(obs)
        made.append(obs)
        db.session.flush()
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
    db.session.commit()
    from webapp.disclosure import Tally, release

    fourteen = release(Tally.of(made))  # 14, released with the noise of these observations' keys
    page = client_for("member").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    themes = page.split("<h3>Themes</h3>")[1]
    assert "Food parcels running out" in themes
    assert re.search(
        rf"Food parcels running out</th>\s*<td>{fourteen}</td><td class=\"trend trend-rising\">Rising</td>", themes
    )
    assert "Rising needs where the statistics look stable" in page
    assert "Claimant rate (2019 to 2020)" in page
    # Funders and the public see category counts only, never the themes.
    assert "Food parcels running out" not in client_for("funder").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    # The theme against the deprivation deciles (for the theme's convenors): all 14 are in E01014540, decile 4;
    # two of the eight LSOAs with a decile in the slice are in decile 4.
    convenor = client_for("convenor")
    page = convenor.get(f"/areas/themes/{theme.id}").get_data(as_text=True)
    assert "This is not a causal claim" in page
    assert re.search(rf'<th scope="row">4</th>\s*<td>{fourteen}</td>\s*<td>100%</td>\s*<td>25%</td>', page)
    assert re.search(r'<th scope="row">1 \(most deprived\)</th>\s*<td>0</td>\s*<td>0%</td>\s*<td>25%</td>', page)
    assert client_for("member").get(f"/areas/themes/{theme.id}").status_code == 403
    # The map switches to the theme's intensity: 14 observations in Central's LSOAs, counted at the ward.
    page = client_for("member").get(f"/areas/?indicator=theme-{theme.id}").get_data(as_text=True)
    spec = _spec(page, "area-map")
    assert spec["title"] == "Theme: Food parcels running out"
    central = next(f for f in spec["datasets"]["areas"] if f["properties"]["code"] == CENTRAL_WARD)
    assert central["properties"]["value"] == fourteen.value  # the same observations: the same released value
    assert f'value="theme-{theme.id}"' not in client_for("funder").get("/areas/").get_data(as_text=True)
    # By ward: Central has two of its eight LSOAs (25%) in the most deprived 20%: "A quarter to a half".
    page = convenor.get(f"/areas/themes/{theme.id}").get_data(as_text=True)
    assert re.search(rf'<th scope="row">A quarter to a half</th><td>{fourteen}</td>\s*<td>100%</td>', page)


def _flag(page: str) -> str:
    match = re.search(r'<div class="flag"><h3>Evidence gap</h3><p>(.*?)</p></div>', page, re.S)
    return match.group(1) if match else ""


def test_evidence_gap_follows_what_each_viewer_is_shown(loaded, world, client_for):
    """The flag is read from the total the viewer is shown (so it says nothing the page does not), and says whose
    observations it speaks of."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel

    partnership = _sharing_over_bristol(world)
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    deprived = db.session.scalar(select(Area).where(Area.code == "E01033367"))  # IMD decile 1

    def observe(n):
        for _ in range(n):
            db.session.add(
                Observation(
                    organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
                    category_id=food.id, text="No food bank nearby", redacted_text="No food bank nearby",
                    area_id=deprived.id, period_start=date.today() - timedelta(days=10),
                    status=ObservationStatus.SUBMITTED, sharing_level=SharingLevel.PARTNERSHIP,
                )
            )  # fmt: skip
        db.session.commit()

    observe(3)
    flags = {role: _flag(client_for(role).get("/areas/E01033367").get_data(as_text=True)) for role in
             ("member", "funder", "resident")}  # fmt: skip
    assert "has fewer than 5 observations here shared with the partnership&#39;s members" in flags["member"]
    assert "has 0 observations here shared with the public" in flags["resident"]
    assert "has 0 observations here shared with the partnership&#39;s funders" in flags["funder"]
    observe(3)  # six now: no gap for the partnership; the public and funders are still shown none of them
    assert "Evidence gap" not in client_for("member").get("/areas/E01033367").get_data(as_text=True)
    assert "shared with the public" in _flag(client_for("resident").get("/areas/E01033367").get_data(as_text=True))


def test_better_and_worse_are_said_in_words_not_only_colour(loaded, import_file, tmp_path, client_for):
    # E01014540 (Central ward) against the mean of the two Bristol LSOAs with a value: 10 vs 6, higher is worse.
    rates = tmp_path / "damp.csv"
    rates.write_text(
        "area_code,period,indicator,value\nE01014540,2020,Damp homes,10.0\nE01014485,2020,Damp homes,2.0\n"
    )
    import_file(rates, dataset_title="Damp survey", polarity=Polarity.HIGHER_IS_WORSE, unit="%")
    neutral = tmp_path / "bikes.csv"
    neutral.write_text(
        "area_code,period,indicator,value\nE01014540,2020,Bike racks,10.0\nE01014485,2020,Bike racks,2.0\n"
    )
    import_file(neutral, dataset_title="Bike survey", unit="%")
    worse = client_for("resident").get("/areas/E01014540").get_data(as_text=True)
    assert re.search(r"10%\s*<span class=\"comparison\">\(higher than Bristol, City of\)</span>"
                     r"\s*<span class=\"verdict\">\(worse\)</span>", worse)  # fmt: skip
    better = client_for("resident").get("/areas/E01014485").get_data(as_text=True)
    assert re.search(r"\(lower than Bristol, City of\)</span>\s*<span class=\"verdict\">\(better\)</span>", better)
    # Where no direction is good there is no colour, and no verdict either.
    bikes = better.split("Bike racks")[1].split("</tr>")[0]
    assert "lower than Bristol, City of" in bikes
    assert "(better)" not in bikes
    assert "(worse)" not in bikes


def test_methodology_note_and_withheld_values_are_shown(loaded, import_file, tmp_path, client_for):
    note = (
        "Low Income High Costs measure to 2018; Low Income Low Energy Efficiency from 2019, so 2019 is not directly "
        "comparable with earlier years."
    )  # as the demo imports it
    import_file(
        "beis_fuel_poverty_slice.csv", format="wide", indicator="Households in fuel poverty", unit="%",
        polarity=Polarity.HIGHER_IS_WORSE, level="lad", methodology_note=note,
        dataset_title="Sub-regional fuel poverty statistics",
    )  # fmt: skip
    page = client_for("resident").get(f"/areas/{BRISTOL}").get_data(as_text=True)
    assert note in page
    withheld = tmp_path / "withheld.csv"
    withheld.write_text(f"area_code,period,indicator,value\n{CENTRAL_WARD},2020,Small counts,c\n")
    import_file(withheld, dataset_title="Small counts survey", unit="count")
    row = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True).split("Small counts<")[1]
    cell = row.split('<td class="tone')[1].split("</td>")[0]  # Central's own figure (Bristol's has none)
    assert "withheld by the source" in cell
    assert "no value" not in cell
    assert "Marked “c” by the source." in cell


def test_a_source_is_written_out_once_and_the_rows_after_point_to_it(loaded, client_for, import_file, tmp_path):
    """Eight IoD domains from one file each repeated the same 80-word source: the first row writes it out, the rows
    after it name the dataset, say which row has it, and keep it in full a click away (a screenshot of the demo's
    ward page was a wall of identical source text)."""
    page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    table = page.split('class="data-table indicator-table"')[1].split("</section>")[0]  # sparklines hold tables
    rows = re.findall(r'<th scope="row">([^<]+)<.*?<td class="(source[^"]*)">(.*?)</td>', table, re.S)
    iod = [(name.strip(), cls, cell) for name, cls, cell in rows if "Indices of Deprivation" in cell]
    assert len(iod) >= 3, [r[0] for r in rows]
    (first_name, first_class, first_cell), *later = iod
    assert first_class == "source"
    assert "Ministry of Housing, Communities and Local Government" in first_cell
    assert "<details>" not in first_cell
    for name, cls, cell in later:
        assert cls == "source source-repeated", name
        shown, full = cell.split("<details>")
        assert f"as for {first_name} above" in shown
        assert "Ministry of Housing" not in shown  # not written out again...
        assert "Ministry of Housing, Communities and Local Government" in full  # ...but there in full
    other = [cls for name, cls, cell in rows if "mySociety" in cell]
    assert other == ["source"]  # another dataset's source is written out on its own first row
    # Two datasets alike in publisher, licence, release and geography are still two sources, each written out.
    for title in ("Survey A", "Survey B"):
        path = tmp_path / f"{title}.csv"
        path.write_text(f"area_code,period,indicator,value\n{CENTRAL_WARD},2024,{title} measure,3\n")
        import_file(path, dataset_title=title, publisher="Same Council", licence="OGL", release_date=date(2025, 1, 1))
    page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    table = page.split('class="data-table indicator-table"')[1].split("</section>")[0]
    rows = re.findall(r'<th scope="row">([^<]+)<.*?<td class="(source[^"]*)">(.*?)</td>', table, re.S)
    assert [cls for name, cls, cell in rows if "Same Council" in cell] == ["source", "source"]
