"""Routes for observations: form, list, detail, edit, withdraw, erase, moderation, import, export, API tokens,
categories; the public resident form; and the JSON API. Who may reach each route is declared in webapp.policy;
record-level checks answer 404. Views parse, check, call an operation, commit once, render."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, or_, select

from submissions import importer, search, uploads
from submissions import operations as ops
from submissions.forms import (
    CategoryForm,
    ConfirmImportForm,
    EraseForm,
    ModerateAreaForm,
    ModerateTextForm,
    ObservationForm,
    PublicObservationForm,
    RejectForm,
    TokenForm,
    UploadForm,
    choices,
    use_resident_wording,
)
from submissions.models import (
    ApiToken,
    Category,
    Confidence,
    Observation,
    ObservationKind,
    ObservationStatus,
    SharingLevel,
    Source,
    Trend,
)
from submissions.openapi import document
from submissions.queries import (
    can_view,
    display_text,
    moderation_queue,
    moderation_tally,
    own_observations,
    raw_readable,
    unconfirmed_places,
    visible_observations,
)
from submissions.validation import FIELDS, FIELDS_BY_NAME, ValidationFailed
from webapp import disclosure, policy, transactions
from webapp.extensions import db, limiter
from webapp.forms import ButtonForm
from webapp.home import HomePanel
from webapp.models import (
    Area,
    AreaLevel,
    Neighbourhood,
    Organisation,
    OrgKind,
    OrgRole,
    Partnership,
    PlatformRole,
    User,
    partnership_members,
    utcnow,
)
from webapp.operations import OperationError
from webapp.views import apply_or_flash

log = logging.getLogger(__name__)

bp = Blueprint("observations", __name__, url_prefix="/observations")
public_bp = Blueprint("public_observations", __name__, url_prefix="/public")
api_bp = Blueprint("observations_api", __name__, url_prefix="/api/v1")

PER_PAGE = 25


# Helpers ---------------------------------------------------------------------------------------------------------

# How many of the organisation's (or resident's) latest observations their home page lists.
HOME_RECENT_OBSERVATIONS = 5


def home_panels(user: User) -> list[HomePanel]:
    """The home page's panels from submissions (registered with webapp.home): for people who submit, "Add an
    observation", "Import a spreadsheet" and their latest observations; for moderators, what waits in the queue
    (its count released through webapp.disclosure like every count)."""
    roles = policy.roles_of(user)
    panels = []
    if roles & policy.SUBMITTERS:
        recent = list(db.session.scalars(own_observations(user).limit(HOME_RECENT_OBSERVATIONS)))
        values = {
            "recent": recent,
            "orgs": _submitter_orgs(user),
            "can_import": policy.decide("observations.import_upload", user) is policy.Decision.ALLOW,
        }
        panels.append(HomePanel("submissions/_home_contribute.html", values, order=1))
    if policy.decide("observations.moderation", user) is policy.Decision.ALLOW:
        waiting = disclosure.release(moderation_tally(user))
        panels.append(HomePanel("submissions/_home_moderation.html", {"waiting": waiting}, order=12))
    return panels


def _submitter_orgs(user: User) -> list[Organisation]:
    """Organisations the user may submit for (funders observe through aggregates, never submit)."""
    return sorted((m.organisation for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER),
                  key=lambda o: o.name)  # fmt: skip


def _admin_orgs(user: User) -> list[Organisation]:
    return sorted((m.organisation for m in user.memberships if m.role is OrgRole.ADMIN), key=lambda o: o.name)


def _public_partnerships() -> list[Partnership]:
    return list(
        db.session.scalars(
            select(Partnership).where(Partnership.public_form_enabled.is_(True)).order_by(Partnership.name)
        )
    )


def _org_partnerships(orgs: list[Organisation]) -> list[Partnership]:
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


def _area_options() -> list[AreaOption]:
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


def _categories_choices():
    return choices([("", "Choose a category"), *((c.slug, c.name) for c in ops.active_categories())])


def _observation_or_404(obs_id: int) -> Observation:
    obs = db.session.get(Observation, obs_id)
    if obs is None:
        abort(404)
    return obs


def _pick(options: list, value: str | None, key=lambda o: o.slug):
    return next((o for o in options if key(o) == value), None)


@dataclass(frozen=True)
class NeighbourhoodOption:
    """One neighbourhood in the forms' area list: its name and its ward's (plain values, like AreaOption)."""

    name: str
    ward: str


def _neighbourhood_options() -> list[NeighbourhoodOption]:
    stmt = (
        select(Neighbourhood.name, Area.name)
        .join(Area, Area.id == Neighbourhood.ward_id)
        .where(Area.current.is_(True))
        .order_by(Neighbourhood.name)
        .limit(3000)
    )
    return [NeighbourhoodOption(name, ward) for name, ward in db.session.execute(stmt)]


def _render_form(template: str, form, **context):
    status = 422 if form.errors else 200
    return render_template(template, form=form, areas=_area_options(), categories=ops.active_categories(),
                           neighbourhoods=_neighbourhood_options(), **context), status  # fmt: skip


# Observation form ------------------------------------------------------------------------------------------------


def _prepare_form(form: ObservationForm, orgs: list[Organisation], partnerships: list[Partnership]) -> None:
    form.category.choices = _categories_choices()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    form.partnership.choices = choices([("", "Choose a partnership"), *((p.slug, p.name) for p in partnerships)])


@bp.route("/new", methods=["GET", "POST"], endpoint="create")
def create():
    orgs = _submitter_orgs(current_user)
    resident = current_user.platform_role is PlatformRole.RESIDENT and not orgs
    if not orgs and not resident:
        abort(403)
    partnerships = _public_partnerships() if resident else _org_partnerships(orgs)
    form = ObservationForm()
    _prepare_form(form, orgs, partnerships)
    if resident:
        use_resident_wording(form)
        form.source.data = form.source.data if request.method == "POST" else "resident_voice"
        if len(partnerships) == 1 and not form.partnership.data:
            form.partnership.data = partnerships[0].slug  # the only choice: chosen already, never an error
    if form.validate_on_submit():
        org = None if resident else (_pick(orgs, form.organisation.data) or orgs[0])
        partnership = _pick(partnerships, form.partnership.data) if resident else None
        try:
            obs = ops.submit_observation(form.values(), organisation=org, author=current_user,
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
    return _render_form("submissions/form.html", form, orgs=orgs, partnerships=partnerships, resident=resident,
                        editing=None)  # fmt: skip


@bp.route("/<int:obs_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit(obs_id: int):
    obs = _observation_or_404(obs_id)
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
            ops.update_observation(obs, form.values(), current_user)
        except OperationError as exc:
            transactions.discard()
            if isinstance(exc, ValidationFailed):
                form.show(exc)
            else:
                form.text.errors = [exc.message]
        else:
            flash("Your changes are saved.", "success")
            return redirect(url_for("observations.detail", obs_id=obs_id))
    return _render_form("submissions/form.html", form, orgs=orgs, partnerships=partnerships, resident=resident,
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
    ids = db.session.scalars(visible_observations(user).with_only_columns(Observation.organisation_id).distinct())
    ids = [i for i in ids if i is not None]
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
        "submissions/list.html", page=page, rows=rows, filters=filters, categories=ops.active_categories(),
        wards=wards, kinds=list(ObservationKind), statuses=list(ObservationStatus), levels=levels,
        organisations=_listed_organisations(current_user), has_own=bool(current_user.memberships),
        can_submit=bool(_submitter_orgs(current_user)) or current_user.platform_role is PlatformRole.RESIDENT,
        allowed_links={
            ep
            for ep in ("observations.import_upload", "observations.export", "observations.tokens",
                       "observations.categories")
            if policy.decide(ep, current_user) is policy.Decision.ALLOW
        },
    )  # fmt: skip


@bp.route("/<int:obs_id>", endpoint="detail")
def detail(obs_id: int):
    obs = _observation_or_404(obs_id)
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
    obs = _observation_or_404(obs_id)
    if not policy.can_edit_observation(current_user, obs):
        abort(404)
    apply_or_flash(
        lambda: ops.withdraw_observation(obs, current_user),
        "The observation is withdrawn: it is no longer shared or counted.",
    )
    return redirect(url_for("observations.detail", obs_id=obs_id))


@bp.route("/<int:obs_id>/confirm-area", methods=["POST"], endpoint="confirm_area")
def confirm_area(obs_id: int):
    obs = _observation_or_404(obs_id)
    if not policy.can_edit_observation(current_user, obs):
        abort(404)
    apply_or_flash(lambda: ops.confirm_suggested_area(obs, current_user), "The area is confirmed.")
    return redirect(url_for("observations.detail", obs_id=obs_id))


@bp.route("/<int:obs_id>/erase", methods=["GET", "POST"], endpoint="erase")
def erase(obs_id: int):
    obs = _observation_or_404(obs_id)
    if not policy.can_erase_observation(current_user, obs):
        abort(404)
    form = EraseForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to confirm that the observation is to be erased for good."]
        else:
            ops.erase_observation(obs, current_user)
            flash(f"Observation {obs_id} has been erased, with everything derived from it.", "success")
            return redirect(url_for("observations.index"))
    return render_template("submissions/erase.html", obs=obs, form=form), 422 if form.errors else 200


# Moderation ------------------------------------------------------------------------------------------------------


# How many approved observations with an unconfirmed place the moderation page lists at a time.
UNCONFIRMED_SHOWN = 50


@bp.route("/moderation", endpoint="moderation")
def moderation():
    items = list(db.session.scalars(moderation_queue(current_user).limit(200)))
    unconfirmed = list(db.session.scalars(unconfirmed_places(current_user).limit(UNCONFIRMED_SHOWN)))
    areas = {}  # the same partnership's choices once
    for obs in [*items, *unconfirmed]:
        if obs.partnership_id not in areas:
            areas[obs.partnership_id] = ops.moderator_areas(obs)
    return render_template(
        "submissions/moderation.html",
        items=items,
        unconfirmed=unconfirmed,
        areas=areas,
        reject_form=RejectForm(),
        area_form=ModerateAreaForm(formdata=None),
        text_form=ModerateTextForm(formdata=None),
        reason_audience=ops.reason_audience,
    )


def _moderated_or_404(obs_id: int) -> Observation:
    obs = _observation_or_404(obs_id)
    if not policy.can_moderate_observation(current_user, obs):
        abort(404)
    return obs


@bp.route("/<int:obs_id>/moderate/area", methods=["POST"], endpoint="moderate_area")
def moderate_area(obs_id: int):
    """Confirm the suggested place (``action=confirm``) or set the area (``action=set``, ``area`` an id, 0 for the
    partnership's whole area) of a resident's observation, waiting or approved."""
    obs = _moderated_or_404(obs_id)
    back = redirect(url_for("observations.moderation") + f"#obs-{obs_id}")
    form = ModerateAreaForm()
    action = request.form.get("action")
    if not form.validate_on_submit() or action not in ("confirm", "set"):
        flash(f"Observation {obs_id}: the form expired; please try again.", "error")
        return back
    if action == "confirm":
        apply_or_flash(lambda: ops.confirm_suggested_area(obs, current_user), f"Observation {obs_id}: area confirmed.")
        return back
    area = None
    if form.area.data:
        area = db.session.get(Area, form.area.data)
        if area is None:
            flash(f"Observation {obs_id}: Set the area: choose one of the partnership's areas.", "error")
            return back
    apply_or_flash(
        lambda: ops.set_area_by_moderator(obs, area, current_user),
        f"Observation {obs_id}: area set to {area.name if area else 'the whole partnership area'}.",
    )
    return back


@bp.route("/<int:obs_id>/moderate/text", methods=["POST"], endpoint="moderate_text")
def moderate_text(obs_id: int):
    obs = _moderated_or_404(obs_id)
    form = ModerateTextForm()
    if not form.validate_on_submit():
        flash(f"Observation {obs_id}: the form expired; please try again.", "error")
    else:
        apply_or_flash(
            lambda: ops.edit_text_by_moderator(obs, form.text.data or "", current_user),
            f"Observation {obs_id}: text edited. It is redacted again; approve it when it reads right.",
        )
    return redirect(url_for("observations.moderation") + f"#obs-{obs_id}")


@bp.route("/<int:obs_id>/moderate", methods=["POST"], endpoint="moderate")
def moderate(obs_id: int):
    obs = _observation_or_404(obs_id)
    if not policy.can_moderate_observation(current_user, obs):
        abort(404)
    form = RejectForm()
    action = request.form.get("action")
    if not form.validate_on_submit() or action not in ("approve", "reject"):
        abort(400)
    try:
        if action == "approve":
            ops.approve_observation(obs, current_user)
        else:
            ops.reject_observation(obs, current_user, form.reason.data)
    except OperationError as exc:
        transactions.discard()
        flash(f"Observation {obs_id}: {exc.message}", "error")
    else:
        flash(f"Observation {obs_id} {'approved' if action == 'approve' else 'rejected'}.", "success")
    return redirect(url_for("observations.moderation"))


# Export ----------------------------------------------------------------------------------------------------------


@bp.route("/export.csv", endpoint="export")
def export():
    orgs = sorted(current_user.organisations, key=lambda o: o.name)
    org = _pick(orgs, request.args.get("org")) or (orgs[0] if orgs else None)
    if org is None:
        abort(404)
    body = ops.export_csv(org, current_user)
    filename = f"{org.slug}-observations-{date.today().isoformat()}.csv"
    return Response(
        "\ufeff" + body,  # a BOM, so spreadsheet programs read the file as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Bulk import -----------------------------------------------------------------------------------------------------


def _upload_or_404(upload_id: str) -> tuple[uploads.Upload, Organisation]:
    upload = uploads.load(upload_id, current_user.id)
    org = db.session.get(Organisation, upload.organisation_id) if upload else None
    if upload is None or org is None or org not in _submitter_orgs(current_user):
        abort(404)
    return upload, org


@bp.route("/import", methods=["GET", "POST"], endpoint="import_upload")
def import_upload():
    orgs = _submitter_orgs(current_user)
    if not orgs:
        abort(403)
    form = UploadForm()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    if form.validate_on_submit():
        org = _pick(orgs, form.organisation.data) or orgs[0]
        file = request.files.get("file")
        if file is None or not file.filename:
            form.file.errors = ["Choose a CSV or XLSX file to upload."]
        else:
            data = file.read()
            try:
                table = importer.read_table(data, file.filename)
            except importer.ImportFileError as exc:
                form.file.errors = [exc.message]
            else:
                upload = uploads.save(table, file.filename, current_user.id, org.id,
                                      importer.guess_mapping(table.headers))  # fmt: skip
                return redirect(url_for("observations.import_mapping", upload_id=upload.id))
    status = 422 if form.errors else 200
    return render_template("submissions/import_upload.html", form=form, fields=FIELDS), status


@bp.route("/import/template.<any(xlsx, csv):fmt>", endpoint="import_template")
def import_template(fmt: str):
    """A file to fill in for one of the reader's organisations: the columns the import matches by themselves, an
    example row that passes the checks, and (XLSX) a sheet of what each column takes."""
    orgs = _submitter_orgs(current_user)
    if not orgs:
        abort(403)
    org = _pick(orgs, request.args.get("organisation", "")) or orgs[0]
    shared_with = _org_partnerships([org])
    partnerships = [p.slug for p in shared_with]
    categories = ops.active_categories()
    context = ops.context_for(org)
    wards = db.session.scalars(
        select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True)).order_by(Area.name)
    )
    ward = next((a for a in wards if all(context.inside(a, p) for p in shared_with[:1])), None)
    rows = importer.template_rows([c.name for c in categories], partnerships, ward.name if ward else "", date.today())
    name = f"commintel-import-{org.slug}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        body, mimetype = "\ufeff" + out.getvalue(), "text/csv"
    else:
        enums = {k: [value for value, _label in v] for k, v in _enum_options().items()}
        body = importer.template_xlsx(rows, {**enums, "category": [c.name for c in categories],
                                             "partnership": partnerships})  # fmt: skip
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _table(upload: uploads.Upload) -> importer.Table:
    table = uploads.table(upload)  # parsed once, at upload
    if table is None:  # already imported
        abort(404)
    return table


@bp.route("/import/<upload_id>/mapping", methods=["GET", "POST"], endpoint="import_mapping")
def import_mapping(upload_id: str):
    upload, org = _upload_or_404(upload_id)
    table = _table(upload)
    form = ConfirmImportForm()
    error = None
    if form.validate_on_submit():
        mapping = {f.name: request.form.get(f"map-{f.name}", "") for f in FIELDS}
        defaults = {name: request.form.get(f"default-{name}", "") for name in importer.DEFAULTABLE}
        try:
            importer.check_mapping(table.headers, mapping, defaults)
        except importer.ImportFileError as exc:
            error = exc
        upload.mapping = {k: v for k, v in mapping.items() if v}
        upload.defaults = {k: v for k, v in defaults.items() if v}
        uploads.write(upload)
        if error is None:
            return redirect(url_for("observations.import_preview", upload_id=upload.id))
    return render_template(
        "submissions/import_mapping.html", upload=upload, org=org, table=table, fields=FIELDS, form=form,
        error=error, defaultable=importer.DEFAULTABLE, categories=ops.active_categories(),
        partnerships=_org_partnerships([org]), enums=_enum_options(),
        sample=table.rows[:3],
    ), 422 if error else 200  # fmt: skip


def _enum_options() -> dict[str, list[tuple[str, str]]]:
    return {
        "kind": [(m.value, m.label) for m in ObservationKind],
        "sharing_level": [(m.value, m.label) for m in SharingLevel],
        "source": [(m.value, m.label) for m in Source],
        "confidence": [(m.value, m.label) for m in Confidence],
        "trend": [(m.value, m.label) for m in Trend],
    }


@bp.route("/import/<upload_id>/preview", methods=["GET", "POST"], endpoint="import_preview")
def import_preview(upload_id: str):
    upload, org = _upload_or_404(upload_id)
    table = _table(upload)
    form = ConfirmImportForm()
    message, status = None, 422
    try:
        mapping = importer.check_mapping(table.headers, upload.mapping, upload.defaults)
    except importer.ImportFileError:
        return redirect(url_for("observations.import_mapping", upload_id=upload.id))
    if form.validate_on_submit():
        try:
            with uploads.importing(upload):  # a second confirmation of the same upload imports nothing
                # The preview named the rows with problems and the button says they are skipped: the valid ones go
                # in. Committed inside the claim (its own transaction), so that a failed commit releases the claim
                # and the upload can be confirmed again.
                result = transactions.write(
                    lambda: importer.import_table(table, mapping, org, current_user, defaults=upload.defaults,
                                                  valid_rows_only=True, via="web"),
                    what="importing an upload",
                )  # fmt: skip
        except importer.ImportRejected as exc:
            transactions.discard()
            message = exc.message
        except uploads.AlreadyImporting:
            message, status = "This file is being imported already (or has been): it is imported once.", 409
        else:
            preview = result.preview
            upload.imported, upload.skipped = result.imported, preview.bad_row_count
            uploads.finish(upload, importer.skipped_rows_csv(table, preview) if preview.bad_rows else None)
            return render_template("submissions/import_done.html", upload=upload, org=org, result=result)
    preview = importer.check_rows(table, mapping, upload.defaults, ops.context_for(org))
    return render_template(
        "submissions/import_preview.html", upload=upload, org=org, table=table, preview=preview, form=form,
        message=message, mapping=mapping, labels={f.name: f.label for f in FIELDS},
    ), status if message else 200  # fmt: skip


@bp.route("/import/<upload_id>/skipped.csv", endpoint="import_skipped")
def import_skipped(upload_id: str):
    upload, _org = _upload_or_404(upload_id)
    body = uploads.skipped(upload)
    if body is None:
        abort(404)
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="skipped-rows-{upload.id[:8]}.csv"'},
    )


# API tokens ------------------------------------------------------------------------------------------------------


@bp.route("/api-tokens", methods=["GET", "POST"], endpoint="tokens")
def tokens():
    orgs = _admin_orgs(current_user)
    if not orgs:
        abort(404)
    form = TokenForm()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    form.days.choices = _lifetime_choices()
    new_token = None
    if request.method == "GET":
        form.days.data = str(current_app.config["COMMINTEL_API_TOKEN_DAYS"])
    if form.validate_on_submit():
        org = _pick(orgs, form.organisation.data) or orgs[0]
        try:
            days = int(form.days.data or current_app.config["COMMINTEL_API_TOKEN_DAYS"])
            token, raw = ops.create_api_token(org, form.name.data, current_user, days)
        except (OperationError, ValueError) as exc:
            transactions.discard()
            message = getattr(exc, "message", "Choose how long the token works.")
            getattr(form, getattr(exc, "field", None) or "days").errors = [message]
        else:
            new_token = (token, raw)
            form = TokenForm(formdata=None)
            form.organisation.choices = choices((o.slug, o.name) for o in orgs)
            form.days.choices = _lifetime_choices()
            form.days.data = str(current_app.config["COMMINTEL_API_TOKEN_DAYS"])
    listed = list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.organisation_id.in_([o.id for o in orgs])).order_by(ApiToken.created_at)
        )
    )
    status = 422 if form.errors else 200
    return render_template(
        "submissions/tokens.html", form=form, tokens=listed, new_token=new_token, button=ButtonForm(), now=utcnow()
    ), status


def _lifetime_choices() -> list:
    days = sorted({*ops.API_TOKEN_LIFETIMES, current_app.config["COMMINTEL_API_TOKEN_DAYS"]})
    return choices((str(d), "1 year" if d == 365 else f"{d} days") for d in days)


@bp.route("/api-tokens/<int:token_id>/rotate", methods=["POST"], endpoint="rotate_token")
def rotate_token(token_id: int):
    """A new token of the same name and lifetime; the old one keeps working for a day so systems can switch."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.organisation not in _admin_orgs(current_user) or not ButtonForm().validate_on_submit():
        abort(404)
    try:
        new, raw = ops.rotate_api_token(token, current_user)
    except OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return redirect(url_for("observations.tokens"))
    orgs = _admin_orgs(current_user)
    form = TokenForm(formdata=None)
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    form.days.choices = _lifetime_choices()
    listed = list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.organisation_id.in_([o.id for o in orgs])).order_by(ApiToken.created_at)
        )
    )
    return render_template(
        "submissions/tokens.html", form=form, tokens=listed, new_token=(new, raw), rotated=token, button=ButtonForm(),
        now=utcnow(),
    )  # fmt: skip


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"], endpoint="revoke_token")
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.organisation not in _admin_orgs(current_user):
        abort(404)
    ops.revoke_api_token(token, current_user)
    flash(f"The token {token.name!r} no longer works.", "success")
    return redirect(url_for("observations.tokens"))


# Categories ------------------------------------------------------------------------------------------------------


@bp.route("/categories", endpoint="categories")
def categories():
    return render_template("submissions/categories.html", categories=ops.active_categories(),
                           can_add=current_user.is_admin)  # fmt: skip


@bp.route("/categories/new", methods=["GET", "POST"], endpoint="category_create")
def category_create():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            category = ops.create_category(form.name.data, form.description.data, current_user)
        except OperationError as exc:
            transactions.discard()
            form.name.errors = [exc.message]
        else:
            flash(f"Category {category.name!r} added.", "success")
            return redirect(url_for("observations.categories"))
    return render_template("submissions/category_new.html", form=form), 422 if form.errors else 200


# Public resident form --------------------------------------------------------------------------------------------


def _public_partnership_or_404(slug: str) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug[:80]))
    if partnership is None or not partnership.public_form_enabled:
        abort(404)
    return partnership


def _public_rate_limit() -> str:
    return current_app.config["COMMINTEL_PUBLIC_FORM_RATE_LIMIT"]


@public_bp.route("/<slug>/observe", methods=["GET", "POST"], endpoint="new")
@limiter.limit(_public_rate_limit, methods=["POST"])
def public_new(slug: str):
    partnership = _public_partnership_or_404(slug)
    form = PublicObservationForm()
    form.category.choices = _categories_choices()
    use_resident_wording(form)
    if form.validate_on_submit():
        if form.website.data:
            # A bot filled in the hidden field: say thank you, store nothing.
            log.info("public form honeypot triggered for partnership %s", partnership.id)
            return redirect(url_for("public_observations.thanks", slug=slug))
        try:
            ops.submit_observation(form.values(), organisation=None, author=None, partnership=partnership,
                                   via="public_form")  # fmt: skip
        except ValidationFailed as failed:
            transactions.discard()
            form.show(failed)
        else:
            return redirect(url_for("public_observations.thanks", slug=slug))
    return _render_form("submissions/public_form.html", form, partnership=partnership)


@public_bp.route("/<slug>/thanks", endpoint="thanks")
def public_thanks(slug: str):
    partnership = _public_partnership_or_404(slug)
    return render_template("submissions/public_thanks.html", partnership=partnership)


# JSON API --------------------------------------------------------------------------------------------------------


def _api_error(status: int, message: str, errors: dict | None = None):
    body: dict = {"error": {"status": status, "message": message}}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="commintel"'
    return response


def _api_token() -> ApiToken | Response:
    token = ops.authenticate_api_token(request.headers.get("Authorization"))
    if token is None:
        return _api_error(401, ops.api_token_refusal(request.headers.get("Authorization")))
    if token.organisation.kind is OrgKind.FUNDER:
        transactions.discard()  # a refused token's use is not noted
        return _api_error(403, "Funder organisations cannot submit or read observations.")
    return token


def observation_json(obs: Observation) -> dict:
    return {
        "id": obs.id,
        "kind": obs.kind.value,
        "category": obs.category.slug,
        "text": obs.text,
        "area": obs.area.code if obs.area else None,
        "period": ops.period_value(obs),
        "period_precision": obs.period_precision.value,
        "people_affected": obs.people_affected,
        "groups": list(obs.groups or []),
        "trend": obs.trend.value,
        "source": obs.source.value,
        "confidence": obs.confidence.value,
        "sharing_level": obs.sharing_level.value,
        "consent_to_quote": obs.consent_to_quote,
        "consent_to_quote_funders": obs.consent_to_quote_funders,
        "external_ref": obs.external_ref,
        "partnership": obs.partnership.slug if obs.partnership else None,
        "status": obs.status.value,
        "redacted": obs.redacted_text is not None,
        "created_at": obs.created_at.isoformat(timespec="seconds"),
        "updated_at": obs.updated_at.isoformat(timespec="seconds"),
    }


@api_bp.route("/observations", methods=["POST"], endpoint="create")
def api_create():
    """Store one observation sent by a partner system.

    The token's last use is noted (by :func:`_api_token`) in the request's own transaction, which commits whatever
    the answer's status: a refused submission keeps it. That holds because a refused submission writes nothing
    else: :func:`submissions.operations.submit_observation` validates before it writes, and a clashing reference is
    caught inside its own savepoint. (Only a funder's token, refused outright, is not noted.)"""
    token = _api_token()
    if isinstance(token, Response):
        return token
    token_id = token.id
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _api_error(422, "Send one observation as a JSON object.", {"body": "Expected a JSON object."})
    unknown = sorted(set(payload) - set(FIELDS_BY_NAME))
    errors = {name: "Unknown field." for name in unknown[:20]}
    if not errors:
        try:
            obs = ops.submit_observation(payload, organisation=token.organisation, author=None, via="api")
        except ValidationFailed as failed:
            errors = failed.errors
        else:
            body = observation_json(obs)
            response = jsonify(body)
            response.status_code = 201
            response.headers["Location"] = url_for("observations.detail", obs_id=body["id"])
            return response
    log.info("API submission with token %s refused: %s", token_id, ", ".join(sorted(errors)))
    return _api_error(422, "Some fields are not valid.", errors)


@api_bp.route("/observations", methods=["GET"], endpoint="list")
def api_list():
    token = _api_token()
    if isinstance(token, Response):
        return token
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    per_page = min(200, max(1, request.args.get("per_page", 50, type=int) or 50))
    stmt = select(Observation).where(Observation.organisation_id == token.organisation_id)
    status = request.args.get("status")
    if status:
        if status not in {s.value for s in ObservationStatus}:
            return _api_error(
                422, "Unknown status.", {"status": f"Use one of {', '.join(s.value for s in ObservationStatus)}."}
            )
        stmt = stmt.where(Observation.status == ObservationStatus(status))
    ref = request.args.get("external_ref")
    if ref:
        stmt = stmt.where(Observation.external_ref == ref[:100])
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = list(db.session.scalars(stmt.order_by(Observation.id).offset((page_number - 1) * per_page).limit(per_page)))
    body = {
        "organisation": token.organisation.slug,
        "page": page_number,
        "per_page": per_page,
        "total": total,
        "observations": [observation_json(o) for o in items],
    }
    return jsonify(body)


@api_bp.route("/openapi.json", endpoint="openapi")
def api_openapi():
    return jsonify(document(url_for("observations_api.create", _external=False)))
