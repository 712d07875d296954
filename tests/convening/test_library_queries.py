"""The funders' library at scale: its queries do not grow with the partnerships a funder funds or the briefings they
published (benchmarks/scale.py times it with 200 partnerships and 400 briefings; one query per partnership or per
version made it seconds), and it lists exactly the same briefings as before."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, select

from convening import access, publishing
from convening import operations as convening_ops
from nlp.themes.models import Theme, ThemeModel
from nlp.themes.queries import visible_theme_labels_of, visible_themes
from tests.convening.conftest import HELD_ON
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Partnership


def _statements(client, path: str) -> list[str]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, path
    return statements


def _funded_partnership(cworld, i: int, themed: bool) -> Partnership:
    """Another partnership the world's funder funds, over the same areas, with two published briefings (and a
    theme model with two visible themes, one hidden and one merged, when ``themed``)."""
    convenor = cworld["users"]["convenor"]
    partnership = webapp_ops.create_partnership(
        f"Funded Partnership {i}",
        members=[cworld["other_org"]],
        funders=[cworld["funder_org"]],
        convenors=[convenor],
    )
    partnership.areas = list(cworld["partnership"].areas)
    for n in range(2):
        session = convening_ops.create_session(partnership, f"Meeting {i}.{n}", date(2025, 3, 1 + n), convenor)
        publishing.publish_briefing(convening_ops.start_briefing(session, convenor), None, automatic=True)
    if themed:
        themes = [Theme(partnership_id=partnership.id, auto_label=f"theme {i}.{k}") for k in range(4)]
        db.session.add_all(themes)
        db.session.flush()
        themes[2].hidden = True
        themes[3].merged_into_id = themes[0].id
        model = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True)
        split = Theme(partnership_id=partnership.id, auto_label=f"theme {i}.split")  # split off by a person
        db.session.add(split)
        db.session.flush()
        model.changes = {"topic_theme_ids": [t.id for t in themes], "split": [split.id]}
        db.session.add(model)
    db.session.commit()
    return partnership


def test_library_queries_do_not_grow_with_the_partnerships_funded(cworld, client_for):
    _funded_partnership(cworld, 0, themed=True)
    funder = client_for("funder")
    funder.get("/convening/library")  # warm up (templates, the session)
    db.session.expire_all()
    before = _statements(funder, "/convening/library")
    for i in range(1, 7):
        _funded_partnership(cworld, i, themed=i % 2 == 0)
    db.session.expire_all()
    after = _statements(funder, "/convening/library")
    assert len(after) == len(before), (len(before), len(after))
    page = funder.get("/convening/library").get_data(as_text=True)
    for i in range(7):
        assert f"Meeting {i}.0" in page
        assert f"Meeting {i}.1" in page
    assert "theme 0.0" in page  # the theme filter lists visible themes only (split-off ones too)
    assert "theme 0.split" in page
    assert "theme 0.2" not in page
    assert "theme 0.3" not in page


def test_visible_theme_labels_of_many_partnerships_are_each_ones_visible_themes(cworld):
    partnerships = [_funded_partnership(cworld, i, themed=i != 1) for i in range(3)]
    # A newer active version of the first partnership's model: its themes are the ones shown, as in active_model.
    newer = ThemeModel(partnership_id=partnerships[0].id, embedding_model="test", path="test", active=True, version=2)
    kept = db.session.scalar(select(Theme).where(Theme.auto_label == "theme 0.1"))
    newer.changes = {"topic_theme_ids": [kept.id]}
    db.session.add(newer)
    db.session.commit()
    kept.curated_label = "Renamed by a convenor"
    db.session.commit()
    expected = {t.id: t.label for p in partnerships for t in visible_themes(p)}
    assert visible_theme_labels_of(partnerships) == expected
    assert visible_theme_labels_of(partnerships[:1]) == {kept.id: "Renamed by a convenor"}
    assert visible_theme_labels_of([]) == {}
    assert visible_theme_labels_of([partnerships[1]]) == {}


def test_library_lists_the_latest_version_of_each_readable_briefing(cworld, client_for):
    partnership = _funded_partnership(cworld, 0, themed=False)
    session = db.session.scalar(select(Partnership).where(Partnership.id == partnership.id))
    briefing = convening_ops.start_briefing(convening_ops.create_session(session, "Later meeting", HELD_ON, None), None)
    publishing.publish_briefing(briefing, None, automatic=True)
    briefing.changed_since_publish = True
    publishing.publish_briefing(briefing, None, automatic=True, note="second version")
    db.session.commit()
    versions = access.library(cworld["users"]["funder"])
    assert [(v.title, v.number) for v in versions] == [
        ("Briefing: Later meeting", 2),
        ("Briefing: Meeting 0.1", 1),
        ("Briefing: Meeting 0.0", 1),
    ]
    assert access.library(cworld["users"]["resident"]) == []


def test_long_select_writes_the_html_wtforms_writes(app):
    """The library's fast <select> is WTForms' own markup, escaping and the selected option included."""
    from wtforms import Form, SelectField
    from wtforms.widgets import Select

    from convening.forms import LongSelect, choices

    pairs = choices([(0, "Any area"), (3, "St. Paul's & <Easton>"), (12, 'The "Dings"')])

    class Stock(Form):
        area = SelectField("Area", coerce=int, choices=pairs, widget=Select())

    class Fast(Form):
        area = SelectField("Area", coerce=int, choices=pairs, widget=LongSelect())

    for data in ({}, {"area": 3}, {"area": 12}):
        stock, fast = Stock(data=data), Fast(data=data)
        assert str(fast.area(class_="x")) == str(stock.area(class_="x"))
    assert "&lt;Easton&gt;" in str(Fast(data={"area": 3}).area())


def test_the_library_pages_its_briefings_in_the_same_order(cworld, client_for, monkeypatch):
    import re

    from convening import library_views

    monkeypatch.setattr(library_views, "LIBRARY_PAGE", 4)
    for i in range(5):
        _funded_partnership(cworld, i, themed=False)
    everything = [v.id for v in access.library(cworld["users"]["funder"])]
    assert len(everything) == 10
    funder = client_for("funder")
    seen, page, pages = [], 1, 0
    while True:
        html = funder.get(f"/convening/library?page={page}").get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'href="/convening/versions/(\d+)"', html)]
        pages += 1
        older = re.search(r'href="([^"]+)" rel="next"', html)
        if older is None:
            break
        page += 1
        assert f"page={page}" in older.group(1)
    assert pages == 3
    assert seen == everything  # every briefing once, in the library's order
    assert "Briefings 9 to 10 of 10" in html
    # Out of range or not a number: the nearest page, never an error.
    assert "Briefings 9 to 10 of 10" in funder.get("/convening/library?page=99").get_data(as_text=True)
    assert "Briefings 1 to 4 of 10" in funder.get("/convening/library?page=x").get_data(as_text=True)
    # A filter is kept from page to page.
    filtered = funder.get("/convening/library?date_from=2025-03-01").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" rel="next"', filtered).group(1)
    assert "date_from=2025-03-01" in older
    assert "page=2" in older


def test_many_partnerships_list_their_wards_and_themes_once_one_is_chosen(cworld, client_for, monkeypatch):
    from convening import library_views

    monkeypatch.setattr(library_views, "LIBRARY_ALL_OPTIONS", 2)
    partnerships = [_funded_partnership(cworld, i, themed=True) for i in range(3)]
    funder = client_for("funder")
    page = funder.get("/convening/library").get_data(as_text=True)
    assert "choose a partnership first to pick one of its wards" in page
    assert "theme 0.0" not in page
    chosen = funder.get(f"/convening/library?partnership={partnerships[1].id}").get_data(as_text=True)
    assert "theme 1.0" in chosen
    assert "theme 0.0" not in chosen  # only the chosen partnership's themes
    assert "Briefing: Meeting 1.0" in chosen
    assert "Briefing: Meeting 0.0" not in chosen
