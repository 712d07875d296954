"""A small area total is broken down by theme on no page (found by the demo attack: a ward of 4 observations, each
in another theme; the area page said "fewer than 5" for the ward and the theme map "fewer than 5" for each of the 4
themes there, so each theme was 1 and the ward's total 4). Every "theme in an area" cell is released within the
area's own total: the theme map, the theme page's places and the themes × wards heat map."""

from __future__ import annotations

import json
import re
from datetime import date

from sqlalchemy import select

from indicators.area_themes import theme_map_layer
from nlp.themes import queries
from nlp.themes.models import Theme
from tests.themed import add_themed, theme_model
from webapp.disclosure import State, Tally, release
from webapp.extensions import db
from webapp.models import Area, AreaLevel

SMALL, LARGE = "E05000031", "E05000032"


def _world_with_a_small_ward(world) -> tuple[list[Theme], dict[str, Area]]:
    themes, model = theme_model(world, [f"Theme {i}" for i in range(4)], corpus_size=36)
    wards = {code: Area(code=code, name=name, level=AreaLevel.WARD)
             for code, name in ((SMALL, "Small Ward"), (LARGE, "Large Ward"))}  # fmt: skip
    db.session.add_all(wards.values())
    db.session.flush()
    month = queries.add_months(queries.month_start(date.today()), -2)
    for theme in themes:  # one observation of each theme in the small ward, eight in the large one
        for code, n in ((SMALL, 1), (LARGE, 8)):
            add_themed(world, model, theme, n, month, area_id=wards[code].id)
    db.session.commit()
    return themes, wards


def test_a_ward_of_fewer_than_k_is_broken_down_by_theme_on_no_page(world, client_for):
    themes, wards = _world_with_a_small_ward(world)
    partnership = world["partnership"]
    from submissions.models import Observation

    small = Tally.of(db.session.scalars(select(Observation).where(Observation.area_id == wards[SMALL].id)))
    assert small.count == 4
    assert release(small).state is State.HIDDEN  # its own page: "fewer than 5"
    # Without the ward's total in its cells' within, each theme there would be "fewer than 5" (at least 1): four of
    # them inside a total of at most 4 pin every one to 1.

    convenor = client_for("convenor")
    for theme in themes:
        layer = theme_map_layer(list(wards.values()), AreaLevel.WARD, partnership, theme)
        rows = {row["code"]: row for row in layer.rows}
        assert rows[SMALL]["value"] is None
        assert rows[SMALL]["display"] == "not shown", rows[SMALL]
        assert rows[LARGE]["value"] is not None  # 8: shown, perturbed
        page = convenor.get(f"/themes/{partnership.slug}/{theme.id}").get_data(as_text=True)
        assert not re.search(r"Small Ward</th><td>fewer than", page)
        spec = re.search(r'id="theme-heatmap-spec">(.*?)</script>', page, re.S)
        assert spec, "the theme's heat map is drawn (the large ward)"
        assert {c["column"] for c in json.loads(spec.group(1))["datasets"]["cells"]} == {"Large Ward"}
    listing = convenor.get(f"/themes/{partnership.slug}").get_data(as_text=True)
    spec = re.search(r'id="themes-heatmap-spec">(.*?)</script>', listing, re.S)
    assert spec, "the themes × wards heat map is drawn (the large ward)"
    columns = {c["column"] for c in json.loads(spec.group(1))["datasets"]["cells"]}
    assert "Large Ward" in columns
    assert "Small Ward" not in columns
    assert queries.area_total_tallies(partnership)[wards[SMALL].id] == small  # the total every theme cell there lies in
