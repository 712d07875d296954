"""The observations' blueprints and what several of their views share: the reader's organisations and
partnerships, the forms' area and category lists, finding a record or answering 404."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.forms import choices
from submissions.models import Observation
from webapp.extensions import db
from webapp.models import (
    Area,
    AreaLevel,
    Neighbourhood,
    Organisation,
    OrgKind,
    OrgRole,
    Partnership,
    User,
    partnership_members,
)

log = logging.getLogger("submissions.views")

bp = Blueprint("observations", "submissions.views", url_prefix="/observations")
public_bp = Blueprint("public_observations", "submissions.views", url_prefix="/public")
api_bp = Blueprint("observations_api", "submissions.views", url_prefix="/api/v1")

PER_PAGE = 25


def submitter_orgs(user: User) -> list[Organisation]:
    """Organisations the user may submit for (funders observe through aggregates, never submit)."""
    return sorted((m.organisation for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER),
                  key=lambda o: o.name)  # fmt: skip


def admin_orgs(user: User) -> list[Organisation]:
    return sorted((m.organisation for m in user.memberships if m.role is OrgRole.ADMIN), key=lambda o: o.name)


def public_partnerships() -> list[Partnership]:
    return list(
        db.session.scalars(
            select(Partnership).where(Partnership.public_form_enabled.is_(True)).order_by(Partnership.name)
        )
    )


def org_partnerships(orgs: list[Organisation]) -> list[Partnership]:
    if not orgs:
        return []
    stmt = (
        select(Partnership)
        .join(partnership_members, partnership_members.c.partnership_id == Partnership.id)
        .where(partnership_members.c.organisation_id.in_([o.id for o in orgs]))
        .distinct()
        .order_by(Partnership.name)
    )
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class AreaOption:
    """One choice of the forms' area list (the datalist offers "Name (CODE)")."""

    name: str
    code: str
    label: str


_AREA_OPTIONS = "commintel.area_options"


def area_options() -> list[AreaOption]:
    """The current wards and LSOAs, read once per change of the geography (every form page listed them: loading
    300 areas as objects was a tenth of a submitter's page under load). The key is the count and the highest id of
    the current areas, one indexed read."""
    where = (Area.level.in_((AreaLevel.WARD, AreaLevel.LSOA)), Area.current.is_(True))
    key = tuple(db.session.execute(select(func.count(Area.id), func.max(Area.id)).where(*where)).one())
    cached = current_app.extensions.get(_AREA_OPTIONS)
    if cached is None or cached[0] != key:
        rows = db.session.execute(
            select(Area.name, Area.code, Area.level).where(*where).order_by(Area.level.desc(), Area.name).limit(3000)
        ).all()
        cached = (key, [AreaOption(name, code, level.label) for name, code, level in rows])
        current_app.extensions[_AREA_OPTIONS] = cached
    return cached[1]


def categories_choices():
    return choices([("", "Choose a category"), *((c.slug, c.name) for c in submission_ops.active_categories())])


def observation_or_404(obs_id: int) -> Observation:
    obs = db.session.get(Observation, obs_id)
    if obs is None:
        abort(404)
    return obs


def pick(options: list, value: str | None, key=lambda o: o.slug):
    return next((o for o in options if key(o) == value), None)


@dataclass(frozen=True)
class NeighbourhoodOption:
    """One neighbourhood in the forms' area list: its name and its ward's (plain values, like AreaOption)."""

    name: str
    ward: str


def neighbourhood_options() -> list[NeighbourhoodOption]:
    stmt = (
        select(Neighbourhood.name, Area.name)
        .join(Area, Area.id == Neighbourhood.ward_id)
        .where(Area.current.is_(True))
        .order_by(Neighbourhood.name)
        .limit(3000)
    )
    return [NeighbourhoodOption(name, ward) for name, ward in db.session.execute(stmt)]


def render_form(template: str, form, **context):
    status = 422 if form.errors else 200
    return render_template(template, form=form, areas=area_options(), categories=submission_ops.active_categories(),
                           neighbourhoods=neighbourhood_options(), **context), status  # fmt: skip
