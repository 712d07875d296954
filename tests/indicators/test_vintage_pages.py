"""Area pages on current geography (issue 15): IoD2025 on LSOA 2021 maps and profiles with IoD2019 as the earlier
release through the LSOA 2011 → 2021 bridge, every value with its release, figures published only for the local
authority said so, the deprivation index found by its keys."""

from __future__ import annotations

import csv
import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from indicators.deprivation import deprivation_index
from indicators.models import Indicator, PeriodKind, Polarity
from indicators.values import all_indicators
from tests.indicators.conftest import BRISTOL, CENTRAL_WARD
from tests.indicators.test_pages import _spec
from webapp.extensions import db
from webapp.models import Area, AreaLevel

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "indicators" / "demo_data"
SPLIT_PART = "E01033907"  # Bristol 061A (2021), one of three parts of Bristol 032B (2011), E01014540
SPLIT_2011 = "E01014540"


def _decile(path: Path, code_column: str, decile_column: str, code: str) -> int:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return next(int(float(r[decile_column])) for r in csv.DictReader(f) if r[code_column] == code)


@pytest.fixture
def releases(bristol, import_file):
    """IoD2025 (LSOA 2021) and IoD2019 (LSOA 2011), FixMyStreet (LSOA 2011), fuel poverty (local authority)."""
    import_file(DEMO / "iod2019_file2_bristol.csv")
    import_file(DEMO / "iod2025_bristol_lsoa21.csv")
    import_file(
        "fixmystreet_slice.csv", area_column="lsoa", period_column="month", value_column="reports",
        indicator="FixMyStreet reports", unit="count", publisher="mySociety", release_date=date(2021, 7, 21),
    )  # fmt: skip
    import_file(
        "beis_fuel_poverty_slice.csv", format="wide", indicator="Households in fuel poverty", unit="%",
        polarity=Polarity.HIGHER_IS_WORSE, level="lad", dataset_title="Sub-regional fuel poverty statistics",
        publisher="Department for Business, Energy and Industrial Strategy", release_date=date(2021, 11, 15),
        release_note="date of the compiled copy used",
    )  # fmt: skip


def _row(page: str, indicator: str) -> str:
    return html.unescape(page.split(f'<th scope="row">{indicator}<span')[1].split("</tr>")[0])


def test_a_split_lsoa_shows_iod2025_and_iod2019_through_the_bridge(releases, client_for):
    page = client_for("resident").get(f"/areas/{SPLIT_PART}").get_data(as_text=True)
    assert "New in the 2021 geography: split from" in page
    now = _decile(DEMO / "iod2025_bristol_lsoa21.csv", "lsoa21_code", "IMD_decile", SPLIT_PART)
    then = _decile(
        DEMO / "iod2019_file2_bristol.csv",
        "LSOA code (2011)",
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
        SPLIT_2011,
    )
    row = _row(page, "Index of Multiple Deprivation (IMD)")
    assert re.search(rf"decile {now}, rank [\d,]+ of 33,755, score [\d.]+", row)
    assert "Earlier release, English Indices of Deprivation 2019 (2019):</span> decile" in row
    assert f"decile {then}, rank" in row
    assert (
        "Shown for the 2011 LSOA it was split from, E01014540 (Bristol 032B), through the ONS LSOA 2011 → 2021 " in row
    )
    words = (
        "in the same decile as in 2019"
        if now == then
        else f"{'more' if now < then else 'less'} deprived relative to England than in 2019 (decile {then} then, "
        f"{now} now)"
    )
    assert words in row
    assert "released 30 October 2025; published on LSOA 2021" in row
    assert "English Indices of Deprivation 2019, released 26 September 2019, on LSOA 2011" in row
    assert page.count("Ranks and deciles are relative") == 1  # said once for the page, not on every row
    # FixMyStreet counts of the whole 2011 LSOA are shown, named, and not given a colour or a comparison.
    fms = _row(page, "FixMyStreet reports")
    assert "(the whole of E01014540)" in fms
    assert "tone-neutral" in fms


def test_a_superseded_lsoa_shows_what_became_of_it(releases, client_for):
    page = client_for("resident").get(f"/areas/{SPLIT_2011}").get_data(as_text=True)
    assert "in 2021 it was split into" in page
    row = _row(page, "Index of Multiple Deprivation (IMD)")
    assert "Shown for the 3 2021 LSOAs it was split into: E01033907 (Bristol 061A)" in row
    assert row.count("(E0103390") + row.count("(E0103391") == 3  # one decile per part, none coloured
    assert "tone-neutral" in row


def test_a_ward_shows_iod2025_with_iod2019_as_the_earlier_release(releases, client_for):
    page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    row = _row(page, "Index of Multiple Deprivation (IMD)")
    assert re.search(r"\d+% of LSOAs in England's most deprived 10%", row.split("Earlier release")[0])
    assert re.search(r"(a larger|a smaller|the same) share of its LSOAs among England's most deprived 10%", row)
    # One row per measure: the 2019 release is not a row of its own.
    assert page.count('<th scope="row">Index of Multiple Deprivation (IMD)<span') == 1
    assert "each from its own LSOAs" in page  # the method says both releases are rolled up the same way


def test_stale_and_local_authority_only_figures_are_said_so(releases, client_for):
    page = client_for("resident").get(f"/areas/{CENTRAL_WARD}").get_data(as_text=True)
    # The slice ends in December 2019 (the demo's release in December 2020): long past, said in words.
    assert "The latest figure in this release is for Dec 2019." in _row(page, "FixMyStreet reports")
    wider = page.split("Published only for Bristol, City of as a whole")[1].split("</table>")[0]
    assert "Households in fuel poverty" in wider
    assert "13.8%" in wider  # Bristol's 2019 figure, for context
    assert "released 15 November 2021 (date of the compiled copy used)" in wider
    assert "Households in fuel poverty" not in page.split("Indicators for Central")[1].split("</table>")[0]


def test_maps_use_current_lsoas_and_the_latest_deprivation_index_found_by_its_keys(releases, client_for, tmp_path,
                                                                                   import_file):  # fmt: skip
    # Something else named like the index, from another dataset: never chosen for being so named.
    decoy = tmp_path / "decoy.csv"
    decoy.write_text(f"area_code,period,indicator,value\n{SPLIT_PART},2020,Index of Multiple Deprivation x,1\n")
    import_file(decoy, dataset_title="AAA local survey")
    page = client_for("resident").get("/areas/?level=lsoa").get_data(as_text=True)
    spec = _spec(page, "area-map")
    assert spec["title"] == "Index of Multiple Deprivation (IMD), 2025"
    features = {f["properties"]["code"]: f["properties"] for f in spec["datasets"]["areas"]}
    assert len(features) == 268
    assert SPLIT_2011 not in features
    assert "released 30 October 2025; published on LSOA 2021; period 2025" in page
    assert "268 LSOAs in commintel (LSOA 2021 geography)" in page
    index = deprivation_index(all_indicators())
    assert (index.dataset.title, index.key) == ("English Indices of Deprivation 2025", "imd")


def test_an_lsoa_2011_dataset_is_drawn_on_2021_lsoas_through_the_bridge(releases, client_for):
    imd_2019 = db.session.scalar(
        select(Indicator).join(Indicator.dataset).where(Indicator.key == "imd", Indicator.vintage == 2011)
    )
    page = client_for("resident").get(f"/areas/?level=lsoa&indicator={imd_2019.id}").get_data(as_text=True)
    features = {f["properties"]["code"]: f["properties"] for f in _spec(page, "area-map")["datasets"]["areas"]}
    then = _decile(
        DEMO / "iod2019_file2_bristol.csv",
        "LSOA code (2011)",
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
        SPLIT_2011,
    )
    assert features[SPLIT_PART]["value"] == then  # the decile of the 2011 LSOA it was split from
    assert all(f["value"] is not None for f in features.values())  # every 2021 LSOA has a 2019 figure
    assert "2011 LSOA figures drawn on 2021 LSOAs through the ONS LSOA 2011 → 2021 lookup" in page
    assert "published on LSOA 2011" in page


def test_the_evidence_gap_flag_names_the_release(releases, world, client_for):
    lsoa = next(
        a
        for a in db.session.scalars(select(Area).where(Area.level == "lsoa", Area.current.is_(True)))
        if _decile(DEMO / "iod2025_bristol_lsoa21.csv", "lsoa21_code", "IMD_decile", a.code) == 1
    )
    world["partnership"].areas.append(db.session.scalar(select(Area).where(Area.code == BRISTOL)))
    db.session.commit()
    page = client_for("member").get(f"/areas/{lsoa.code}").get_data(as_text=True)
    assert "This LSOA is in the most deprived 20% in England (English Indices of Deprivation 2025)" in page


def test_profile_figures_for_free_school_meals_stay_at_the_local_authority(releases, import_file, client_for):
    import_file(
        "dfe_fsm_slice.csv", format="tidy", dataset_title="Free school meals", area_column="new_la_code",
        period_column="time_period", value_column="fsm_eligible_percent",
        indicator="Pupils eligible for free school meals", unit="%", year_type=PeriodKind.ACADEMIC_YEAR,
        filters=[("geographic_level", "Local authority"), ("phase", "Total")],
    )  # fmt: skip
    lsoa_page = client_for("resident").get(f"/areas/{SPLIT_PART}").get_data(as_text=True)
    wider = lsoa_page.split("Published only for Bristol, City of as a whole")[1]
    assert "Pupils eligible for free school meals" in wider
    assert "so Bristol 061A's own figure is not known" in lsoa_page


def test_one_evidence_gap_rule_on_the_city_list_the_ward_pages_and_the_briefing(releases, world, client_for, app):
    """Issue 14: ward profiles flagged 0 of 34 wards while the briefing listed four, and there was no city-wide list.
    Now the list, each ward's page and the briefing's gaps table name the same wards."""
    import re as _re

    from indicators import gaps
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories
    from webapp import operations as webapp_ops

    partnership = world["partnership"]
    partnership.areas.append(db.session.scalar(select(Area).where(Area.code == BRISTOL)))
    ensure_default_categories()
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    # Six observations in Clifton (none of its LSOAs in the most deprived 20%): something to brief on.
    clifton = db.session.scalar(select(Area).where(Area.name == "Clifton", Area.level == AreaLevel.WARD))
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    for i in range(6):
        db.session.add(Observation(
            organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
            category_id=food.id, text="The pantry ran out", redacted_text="The pantry ran out", area_id=clifton.id,
            period_start=date.today() - timedelta(days=3 + i), status=ObservationStatus.SUBMITTED,
            sharing_level=SharingLevel.PARTNERSHIP))  # fmt: skip
    db.session.commit()
    member = client_for("member")
    page = member.get(f"/areas/evidence-gaps?partnership={partnership.slug}&months=12").get_data(as_text=True)
    assert gaps.rule(5).split(".")[0] in page
    listed = set(_re.findall(r'<tr class="gap">\s*<th scope="row"><a href="/areas/(E05\d+)', page))
    quiet = set(_re.findall(r'<tr>\s*<th scope="row"><a href="/areas/(E05\d+)', page))
    assert listed, "Bristol's deprived wards with no observations are gaps (IoD2025)"
    assert quiet, "and the others are listed too, not flagged"
    for code in sorted(listed)[:3]:
        assert "Evidence gap" in member.get(f"/areas/{code}?months=12").get_data(as_text=True), code
    for code in sorted(quiet)[:3]:
        assert "Evidence gap" not in member.get(f"/areas/{code}?months=12").get_data(as_text=True), code
    assert f'href="/areas/evidence-gaps?partnership={partnership.slug}"' in member.get("/areas/").get_data(as_text=True)

    # The list counts every ward in one query; each total is released exactly as the ward's own page releases it.
    from indicators import community
    from webapp.disclosure import Audience as _Audience

    since, _ = community.since_for("12")
    wards = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True))))
    with app.test_request_context():  # the pages' per-request caches
        listed_totals = community.area_totals(partnership, _Audience.PARTNERSHIP, wards, since)
    for ward, total in zip(wards, listed_totals, strict=True):
        own = community.community(ward, world["users"]["member"], since)[0].total  # outside a request too
        assert (total.state, str(total)) == (own.state, str(own)), ward.name
    assert any(str(t) == "6" or t.perturbed for t in listed_totals), "Clifton's six observations are counted"
    clifton_total = listed_totals[[w.id for w in wards].index(clifton.id)]
    assert clifton_total.perturbed, "Clifton's six observations are counted and shown (6 is k or more)"

    # The briefing's gaps table names the same wards (no observations anywhere: every deprived ward is a gap).
    from convening import operations as convening_ops
    from convening import publishing
    from convening.models import SectionKind
    from webapp.disclosure import Audience

    session = convening_ops.create_session(partnership, "Gaps meeting", date.today(), world["users"]["convenor"])
    briefing = convening_ops.compose_briefing(session, world["users"]["convenor"])
    doc = publishing.briefing_document(briefing, Audience.PARTNERSHIP)
    table = next(s["markdown"] for s in doc["sections"] if s["kind"] == SectionKind.GAPS.value)
    names = {db.session.scalar(select(Area.name).where(Area.code == code)) for code in listed}
    in_briefing = set(_re.findall(r"^\| ([^|]+?) \| \d+% \|", table, _re.M))
    assert in_briefing == names, (in_briefing, names)


def test_choosers_offer_the_latest_release_first_and_mark_the_earlier_one(releases, client_for):
    """Ordered by dataset title, every chooser put IoD2019 on 2011 LSOAs above IoD2025: a convenor building an index
    from the top of the list (the demo's screenshot) would build it on the superseded release."""
    form = html.unescape(client_for("convenor").get("/indexes/new").get_data(as_text=True))
    hints = re.findall(r'<th scope="row">([^<]+)<br><span class="hint">([^<]+)</span>', form)
    imd = [hint for name, hint in hints if name == "Index of Multiple Deprivation (IMD)"]
    assert [h.split(";")[0] for h in imd] == [f"English Indices of Deprivation {y}" for y in (2025, 2019)]
    assert "earlier release" not in imd[0]
    assert imd[1].endswith("earlier release: the latest is English Indices of Deprivation 2025")
    first_2019 = next(i for i, (_, hint) in enumerate(hints) if "2019" in hint)
    assert all("2019" in hint for _, hint in hints[first_2019:])  # every current measure (FixMyStreet too) above
    assert any("FixMyStreet" in name for name, _ in hints[:first_2019])

    page = html.unescape(client_for("resident").get("/areas/").get_data(as_text=True))
    current, earlier = page.split('<optgroup label="Official indicators">')[1].split("</optgroup>")[:2]
    assert "English Indices of Deprivation 2025" in current
    assert "2019" not in current
    assert '<optgroup label="Earlier releases (a later one is above)">' in earlier
    assert earlier.count("English Indices of Deprivation 2019") == 8  # the IMD and its seven domains
