"""Observations one by one: the form (new and edit), the list and a record's page, withdraw, confirm the
suggested area, erase; and the categories."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from submissions import operations as submission_ops
from submissions import search
from submissions.forms import CategoryForm, EraseForm, ObservationForm, RejectForm, choices, use_resident_wording
from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
from submissions.queries import can_view, display_text, raw_readable, visible_observations
from submissions.validation import ValidationFailed
from submissions.views.common import (
    PER_PAGE,
    bp,
    categories_choices,
    observation_or_404,
    org_partnerships,
    pick,
    public_partnerships,
    render_form,
    submitter_orgs,
)
from webapp import policy, transactions
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation, Partnership, PlatformRole, User
from webapp.operations import OperationError
from webapp.views import apply_or_flash

# Observation form ------------------------------------------------------------------------------------------------


def _prepare_form(form: ObservationForm, orgs: list[Organisation], partnerships: list[Partnership]) -> None:
    form.category.choices = categories_choices()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    form.partnership.choices = choices([("", "Choose a partnership"), *((p.slug, p.name) for p in partnerships)])


@bp.route("/new", methods=["GET", "POST"], endpoint="create")
def create():
    orgs = submitter_orgs(current_user)
    resident = current_user.platform_role is PlatformRole.RESIDENT and not orgs
    if not orgs and not resident:
        abort(403)
    partnerships = public_partnerships() if resident else org_partnerships(orgs)
    form = ObservationForm()
    _prepare_form(form, orgs, partnerships)
    if resident:
        use_resident_wording(form)
        form.source.data = form.source.data if request.method == "POST" else "resident_voice"
        if len(partnerships) == 1 and not form.partnership.data:
            form.partnership.data = partnerships[0].slug  # the only choice: chosen already, never an error
    if form.validate_on_submit():
        org = None if resident else (pick(orgs, form.organisation.data) or orgs[0])
        partnership = pick(partnerships, form.partnership.data) if resident else None
        try:
            obs = submission_ops.submit_observation(form.values(), organisation=org, author=current_user,
                                         partnership=partnership, via="form")  # fmt: skip
        except ValidationFailed as failed:
            transactions.discard()
            form.show(failed)
        else:
            obs_id = obs.id
            if resident:
                flash("Thank you. A moderator will look at it before it is shared with the partnership.", "success")
            else:
                flash("Observation saved. Others see it once personal details have been removed.", "success")
            return redirect(url_for("observations.detail", obs_id=obs_id))
    return render_form("submissions/form.html", form, orgs=orgs, partnerships=partnerships, resident=resident,
                        editing=None)  # fmt: skip


@bp.route("/<int:obs_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit(obs_id: int):
    obs = observation_or_404(obs_id)
    if not policy.can_edit_observation(current_user, obs):
        abort(404)
    resident = obs.organisation_id is None
    orgs = [obs.organisation] if obs.organisation else []
    partnerships = [obs.partnership] if obs.partnership else []
    form = ObservationForm(obj=None) if request.method == "POST" else ObservationForm(data=_form_data(obs))
    _prepare_form(form, orgs, partnerships)
    if resident:
        use_resident_wording(form)
    if form.validate_on_submit():
        try:
            submission_ops.update_observation(obs, form.values(), current_user)
        except OperationError as exc:
            transactions.discard()
            if isinstance(exc, ValidationFailed):
                form.show(exc)
            else:
                form.text.errors = [exc.message]
        else:
            flash("Your changes are saved.", "success")
            return redirect(url_for("observations.detail", obs_id=obs_id))
    return render_form("submissions/form.html", form, orgs=orgs, partnerships=partnerships, resident=resident,
                        editing=obs)  # fmt: skip


def _form_data(obs: Observation) -> dict:
    return {
        "organisation": obs.organisation.slug if obs.organisation else "",
        "partnership": obs.partnership.slug if obs.partnership else "",
        "kind": obs.kind.value,
        "category": obs.category.slug,
        "text": obs.text,
        "area": f"{obs.area.name} ({obs.area.code})" if obs.area else "",
        "period": obs.period_start.isoformat() if obs.period_precision.value == "day"
        else obs.period_start.strftime("%Y-%m"),
        "people_affected": "" if obs.people_affected is None else str(obs.people_affected),
        "groups": list(obs.groups or []),
        "trend": obs.trend.value,
        "source": obs.source.value,
        "confidence": obs.confidence.value,
        "sharing_level": obs.sharing_level.value,
        "consent_to_quote": obs.consent_to_quote,
        "consent_to_quote_funders": obs.consent_to_quote_funders,
        "external_ref": obs.external_ref or "",
    }  # fmt: skip


# List and detail -------------------------------------------------------------------------------------------------


def _filtered(stmt, args, user=None):
    """The list's filters from the query string (kept in the URL: a search can be bookmarked and shared); values
    that do not parse are dropped, never an error."""
    filters: dict[str, str] = {}
    query = " ".join((args.get("q") or "").split())[:200]
    if (
        user is not None
        and (condition := search.matching(query, db.engine.dialect.name, raw_readable(user))) is not None
    ):
        stmt = stmt.where(condition)
        filters["q"] = query
    organisation = (args.get("organisation") or "").strip()[:80]
    if organisation:
        stmt = stmt.where(
            Observation.organisation_id.in_(select(Organisation.id).where(Organisation.slug == organisation))
        )
        filters["organisation"] = organisation
    if user is not None and args.get("mine") == "1":
        mine = [m.organisation_id for m in user.memberships]
        stmt = stmt.where(or_(Observation.author_id == user.id, Observation.organisation_id.in_(mine)))
        filters["mine"] = "1"
    area_code = (args.get("area") or "").strip()[:20]
    if area_code:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is not None:
            ids = [area.id, *(c.id for c in area.children)]
            stmt = stmt.where(Observation.area_id.in_(ids))
            filters["area"] = area_code
    category = args.get("category") or ""
    if category:
        stmt = stmt.join(Category, Category.id == Observation.category_id).where(Category.slug == category[:80])
        filters["category"] = category
    for name, enum_cls in (("kind", ObservationKind), ("status", ObservationStatus), ("sharing_level", SharingLevel)):
        value = args.get(name) or ""
        if value in {m.value for m in enum_cls}:
            stmt = stmt.where(getattr(Observation, name) == enum_cls(value))
            filters[name] = value
    for name, op in (("from", "ge"), ("to", "le")):
        value = (args.get(name) or "").strip()
        try:
            year, month = (int(x) for x in value.split("-")[:2])
            bound = date(year, month, 1)
        except (ValueError, TypeError):
            continue
        if op == "ge":
            stmt = stmt.where(Observation.period_start >= bound)
        else:
            end = date(year + (month == 12), month % 12 + 1, 1)
            stmt = stmt.where(Observation.period_start < end)
        filters[name] = value
    return stmt, filters


def _listed_organisations(user: User) -> list[Organisation]:
    """The organisations whose observations the reader may list: their own and those of their partnerships."""
    listed = db.session.scalars(visible_observations(user).with_only_columns(Observation.organisation_id).distinct())
    ids = [i for i in listed if i is not None]
    if not ids:
        return []
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))


def _sharing_levels(user: User) -> list[SharingLevel]:
    """The sharing levels worth filtering by (webapp.policy.offers_own_organisation_level)."""
    if policy.offers_own_organisation_level(user):
        return list(SharingLevel)
    return [level for level in SharingLevel if level is not SharingLevel.ORG_ONLY]


@bp.route("/", endpoint="index")
def index():
    stmt, filters = _filtered(visible_observations(current_user), request.args, current_user)
    stmt = stmt.order_by(Observation.period_start.desc(), Observation.id.desc())
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    rows = [(o, display_text(current_user, o)) for o in page.items]
    wards = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD).order_by(Area.name)))
    levels = _sharing_levels(current_user)
    return render_template(
        "submissions/list.html", page=page, rows=rows, filters=filters, categories=submission_ops.active_categories(),
        wards=wards, kinds=list(ObservationKind), statuses=list(ObservationStatus), levels=levels,
        organisations=_listed_organisations(current_user), has_own=bool(current_user.memberships),
        can_submit=bool(submitter_orgs(current_user)) or current_user.platform_role is PlatformRole.RESIDENT,
        allowed_links={
            ep
            for ep in ("observations.import_upload", "observations.export", "observations.tokens",
                       "observations.categories")
            if policy.decide(ep, current_user) is policy.Decision.ALLOW
        },
    )  # fmt: skip


@bp.route("/<int:obs_id>", endpoint="detail")
def detail(obs_id: int):
    obs = observation_or_404(obs_id)
    if not can_view(current_user, obs):
        abort(404)
    return render_template(
        "submissions/detail.html", obs=obs, text=display_text(current_user, obs),
        raw=policy.can_read_raw_text(current_user, obs),
        can_edit=policy.can_edit_observation(current_user, obs) and obs.status is not ObservationStatus.WITHDRAWN,
        can_erase=policy.can_erase_observation(current_user, obs),
        can_moderate=policy.can_moderate_observation(current_user, obs)
        and obs.status is ObservationStatus.NEEDS_MODERATION,
        reject_form=RejectForm(), erase_form=EraseForm(),
    )  # fmt: skip


@bp.route("/<int:obs_id>/withdraw", methods=["POST"], endpoint="withdraw")
def withdraw(obs_id: int):
    obs = observation_or_404(obs_id)
    if not policy.can_edit_observation(current_user, obs):
        abort(404)
    apply_or_flash(
        lambda: submission_ops.withdraw_observation(obs, current_user),
        "The observation is withdrawn: it is no longer shared or counted.",
    )
    return redirect(url_for("observations.detail", obs_id=obs_id))


@bp.route("/<int:obs_id>/confirm-area", methods=["POST"], endpoint="confirm_area")
def confirm_area(obs_id: int):
    obs = observation_or_404(obs_id)
    if not policy.can_edit_observation(current_user, obs):
        abort(404)
    apply_or_flash(lambda: submission_ops.confirm_suggested_area(obs, current_user), "The area is confirmed.")
    return redirect(url_for("observations.detail", obs_id=obs_id))


@bp.route("/<int:obs_id>/erase", methods=["GET", "POST"], endpoint="erase")
def erase(obs_id: int):
    obs = observation_or_404(obs_id)
    if not policy.can_erase_observation(current_user, obs):
        abort(404)
    form = EraseForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to confirm that the observation is to be erased for good."]
        else:
            submission_ops.erase_observation(obs, current_user)
            flash(f"Observation {obs_id} has been erased, with everything derived from it.", "success")
            return redirect(url_for("observations.index"))
    return render_template("submissions/erase.html", obs=obs, form=form), 422 if form.errors else 200


# Categories ------------------------------------------------------------------------------------------------------


@bp.route("/categories", endpoint="categories")
def categories():
    return render_template("submissions/categories.html", categories=submission_ops.active_categories(),
                           can_add=current_user.is_admin)  # fmt: skip


@bp.route("/categories/new", methods=["GET", "POST"], endpoint="category_create")
def category_create():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            category = submission_ops.create_category(form.name.data, form.description.data, current_user)
        except OperationError as exc:
            transactions.discard()
            form.name.errors = [exc.message]
        else:
            flash(f"Category {category.name!r} added.", "success")
            return redirect(url_for("observations.categories"))
    return render_template("submissions/category_new.html", form=form), 422 if form.errors else 200
