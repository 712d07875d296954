"""Theme counts read once per request (nlp.themes.queries._counted_rows) are the tallies the SQL it replaced counted:
for every kind, period and audience, after submissions, status and sharing changes, an erasure, a hidden and a merged
theme and a refit; so every released value on the area and theme pages stays the same (count and key sum alike).
And a page asks for the rows once, not once per figure (benchmarks/scale.py: 30-70 ms a read at a million)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from nlp.themes import queries
from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
from webapp import operations as webapp_ops
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db

KINDS = (None, "need", "asset")


def _periods() -> list[tuple[date | None, date | None]]:
    month = queries.month_start(date.today())
    return [(None, None), (queries.add_months(month, -6), month), (queries.add_months(month, -2), None), (None, month)]


def _base(partnership, kind, start, end, audience):
    """The statement each theme figure ran before the rows were read once (and before they were read without the
    subquery of shared ids and the join to themes, nlp.themes.queries._assigned_rows): kept here as the reference."""
    from nlp.themes.models import active_model
    from submissions.queries import partnership_observations

    model = active_model(partnership.id)
    if model is None:
        return None
    shared = partnership_observations(partnership, audience).with_only_columns(Observation.id).order_by(None).subquery()
    stmt = (
        select(
            ThemeAssignment.theme_id,
            Observation.period_start,
            Observation.area_id,
            Observation.kind,
            Observation.record_key,
        )
        .join(Observation, Observation.id == ThemeAssignment.observation_id)
        .join(shared, shared.c.id == Observation.id)
        .join(Theme, Theme.id == ThemeAssignment.theme_id)
        .where(
            ThemeAssignment.model_id == model.id,
            ThemeAssignment.theme_id.is_not(None),
            Theme.hidden.is_(False),
            Theme.merged_into_id.is_(None),
        )
    )
    if kind is not None:
        stmt = stmt.where(Observation.kind == ObservationKind(kind))
    if start is not None:
        stmt = stmt.where(Observation.period_start >= start)
    if end is not None:
        stmt = stmt.where(Observation.period_start < end)
    return stmt


def _reference(partnership, kind, start, end, audience, by: str) -> dict:
    """The grouped SQL the request-once rows replaced (count(*) and sum(record_key) per theme, and area or month)."""
    stmt = _base(partnership, kind, start, end, audience)
    if stmt is None:
        return {}
    sub = stmt.subquery()
    extra = {"theme": [], "area": [sub.c.area_id], "day": [sub.c.period_start]}[by]
    rows = db.session.execute(
        select(sub.c.theme_id, *extra, func.count(), func.sum(sub.c.record_key)).group_by(sub.c.theme_id, *extra)
    )
    out: dict = {}
    for row in rows:
        theme_id, n, ks = row[0], row[-2], row[-1]
        if by == "theme":
            out[theme_id] = Tally.row(n, ks)
        else:
            inner = row[1] if by == "area" else queries.month_start(row[1])
            cell = out.setdefault(theme_id, {})
            cell[inner] = cell.get(inner, Tally()) + Tally.row(n, ks)
    return out


def _check_everything(app, partnership) -> int:
    """Every count function, kind, period and audience equals the reference, inside one request (the cached rows);
    returns how many cells were compared."""
    cells = 0
    with app.test_request_context("/"):
        for audience in (Audience.PARTNERSHIP, Audience.FUNDERS, Audience.PUBLIC):
            for kind in KINDS:
                for start, end in _periods():
                    args = (partnership, kind, start, end, audience)
                    got = queries.theme_counts(*args)
                    assert got == _reference(*args, by="theme"), (audience, kind, start, end)
                    assert queries.area_counts(*args) == _reference(*args, by="area"), (audience, kind, start, end)
                    assert queries.monthly_counts(*args) == _reference(*args, by="day"), (audience, kind, start, end)
                    for tally in got.values():
                        assert release(tally) == release(Tally(tally.count, tally.key_sum))
                    cells += len(got)
    return cells


@pytest.fixture
def themed(world, make_org):
    """A partnership with two sharing members and one that has not accepted, a theme model with four themes, and
    300 observations of every kind, level, status, month and place, each assigned (some outliers)."""
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    second = make_org("Second Pantry")
    silent = make_org("Not Yet Sharing")
    partnership.members.extend([second, silent])
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    webapp_ops.accept_agreement(agreement, second, world["users"]["org_admin"])
    themes = [Theme(partnership_id=partnership.id, auto_label=f"theme {i}") for i in range(4)]
    db.session.add_all(themes)
    db.session.flush()
    model = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True)
    model.changes = {"topic_theme_ids": [t.id for t in themes]}
    db.session.add(model)
    from webapp.models import Area, AreaLevel

    lad = Area(code="E06000023", name="Bristol", level=AreaLevel.LAD)
    wards = [Area(code=f"E0501000{i}", name=f"Ward {i}", level=AreaLevel.WARD, parent=lad) for i in range(3)]
    db.session.add_all([lad, *wards])
    db.session.flush()
    categories = list(db.session.scalars(select(Category.id)))
    rng = random.Random(17)  # noqa: S311 - test data, not security
    today = date.today()
    orgs = [world["org"].id, second.id, silent.id, None]
    for i in range(300):
        org = rng.choice(orgs)
        status = (
            rng.choice([ObservationStatus.APPROVED, ObservationStatus.NEEDS_MODERATION])
            if org is None
            else rng.choice([ObservationStatus.SUBMITTED] * 5 + [ObservationStatus.WITHDRAWN])
        )
        obs = Observation(
            organisation_id=org, partnership_id=partnership.id, kind=rng.choice(list(ObservationKind)),
            category_id=rng.choice(categories), text=f"Observation {i}",
            redacted_text=None if rng.random() < 0.05 else f"Observation {i}",
            area_id=rng.choice([None, lad.id, *(w.id for w in wards)]),
            period_start=today - timedelta(days=rng.randrange(400)), status=status,
            sharing_level=rng.choice(list(SharingLevel)),
        )  # fmt: skip
        db.session.add(obs)
        db.session.flush()
        theme_id = None if rng.random() < 0.1 else rng.choice(themes).id
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme_id))
    db.session.commit()
    return {"partnership": partnership, "themes": themes, "model": model, "wards": wards}


def test_counts_read_once_equal_the_grouped_sql_through_every_change(app, themed):
    partnership, themes = themed["partnership"], themed["themes"]
    assert _check_everything(app, partnership) > 40
    live = list(
        db.session.scalars(
            select(Observation)
            .where(Observation.partnership_id == partnership.id, Observation.redacted_text.is_not(None))
            .order_by(Observation.id)
        )
    )
    # Status changes (withdrawn, approved by a moderator), a sharing level edited, an area edited, an erasure.
    live[0].status = ObservationStatus.WITHDRAWN
    residents = [o for o in live if o.organisation_id is None and o.status is ObservationStatus.NEEDS_MODERATION]
    residents[0].status = ObservationStatus.APPROVED
    wider = live[1].sharing_level is not SharingLevel.PUBLIC_AGGREGATE
    live[1].sharing_level = SharingLevel.PUBLIC_AGGREGATE if wider else SharingLevel.ORG_ONLY
    live[2].area_id = themed["wards"][0].id
    db.session.delete(live[3])
    db.session.commit()
    _check_everything(app, partnership)
    # A hidden theme and a merged one.
    themes[0].hidden = True
    themes[1].merged_into_id = themes[2].id
    db.session.commit()
    with app.test_request_context("/"):
        assert set(queries.theme_counts(partnership)) <= {themes[2].id, themes[3].id}
    _check_everything(app, partnership)
    # A refit: a new active model whose assignments differ.
    old = themed["model"]
    old.active = False
    refit = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True, version=2)
    refit.changes = {"topic_theme_ids": [themes[3].id, themes[2].id]}
    db.session.add(refit)
    db.session.flush()
    assigned = db.session.scalars(select(ThemeAssignment.observation_id).where(ThemeAssignment.model_id == old.id))
    for i, oid in enumerate(list(assigned)):
        theme_id = themes[2 + i % 2].id if i % 7 else None
        db.session.add(ThemeAssignment(observation_id=oid, model_id=refit.id, theme_id=theme_id))
    db.session.commit()
    _check_everything(app, partnership)


def test_a_page_reads_the_counted_rows_once(app, themed, client_for):
    """The theme list asked for the same rows once per figure (totals, months and trends of each kind)."""
    client = client_for("convenor")
    path = f"/themes/{themed['partnership'].slug}"
    client.get(path)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert sum("FROM theme_assignments JOIN observations" in s for s in statements) == 2  # the rows, and the corpus


def test_outside_a_request_nothing_is_kept(app, themed):
    """A job or the CLI counts afresh on every call: a count after a change sees the change."""
    partnership = themed["partnership"]
    before = queries.theme_counts(partnership)
    obs = db.session.scalar(
        select(Observation)
        .join(ThemeAssignment, ThemeAssignment.observation_id == Observation.id)
        .where(
            ThemeAssignment.theme_id == themed["themes"][3].id,
            Observation.status == ObservationStatus.SUBMITTED,
            Observation.organisation_id == partnership.members[0].id,
            Observation.sharing_level != SharingLevel.ORG_ONLY,
            Observation.redacted_text.is_not(None),
        )
    )
    obs.status = ObservationStatus.WITHDRAWN
    db.session.commit()
    after = queries.theme_counts(partnership)
    assert after[themed["themes"][3].id] == before[themed["themes"][3].id] - Tally(1, obs.record_key)
