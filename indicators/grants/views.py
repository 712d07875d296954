"""Grants beside need: the page, the 360Giving import and the CSV export (routes declared in webapp.policy).

Who reads it: a partnership's convenors and admins (as the partnership: observations shared with it), and people
of the organisations that fund it (as its funders: only observations shared with funders). Anyone else — members,
residents, funders of other partnerships — gets 404 for a partnership they may not read. Convenors and admins
import files; every count of observations shown is released by webapp.disclosure (indicators.grants.need).
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import SelectField

from indicators import community
from indicators.grants import importer, need, standard
from indicators.grants.models import GrantFile
from submissions.operations import neutralise
from webapp import disclosure, policy, transactions
from webapp.extensions import db
from webapp.forms import ButtonForm
from webapp.hierarchy import partnership_wards
from webapp.models import Partnership
from webapp.operations import record

bp = Blueprint("grants", __name__, url_prefix="/grants")


class GrantUploadForm(FlaskForm):
    partnership = SelectField("Partnership", choices=[], validate_choice=False)
    file = FileField(
        "360Giving file (CSV, XLSX or JSON)",
        description="Up to 10 MB, in the 360Giving Data Standard: the flattened spreadsheet with its column titles "
        "(Identifier, Title, Description, Currency, Amount Awarded, Award Date, Recipient Org:Identifier, Recipient "
        "Org:Name, Funding Org:Identifier, Funding Org:Name, Beneficiary Location:Geographic Code...) or a JSON "
        'package {"grants": [...]}. Every grant is checked; if one fails, nothing is stored.',
    )


def readable(user) -> list[Partnership]:
    """Partnerships whose grants page ``user`` may read: admins all, convenors theirs, funders those they fund."""
    out = []
    for p in db.session.scalars(select(Partnership).order_by(Partnership.name)):
        if policy.can_convene(user, p) or disclosure.audience_for(user, p) is disclosure.Audience.FUNDERS:
            out.append(p)
    return out


def _chosen(partnerships: list[Partnership], slug: str | None) -> Partnership:
    if not partnerships:
        abort(404)
    if slug:
        found = next((p for p in partnerships if p.slug == slug), None)
        if found is None:
            abort(404)  # not theirs to read (or no such partnership): the same answer
        return found
    return partnerships[0]


def _view(partnership: Partnership):
    since, months = community.since_for(request.args.get("months"))
    audience = community.reader_audience(current_user, partnership)
    result = need.beside_need(partnership, audience, partnership_wards(partnership), since, user=current_user)
    return result, months


@bp.route("/", endpoint="index")
def index():
    partnerships = readable(current_user)
    if not partnerships:  # e.g. a funder whose organisation funds no partnership yet: say so, not 404
        return render_template("indicators/grants_none.html")
    partnership = _chosen(partnerships, request.args.get("partnership"))
    result, months = _view(partnership)
    return render_template(
        "indicators/grants.html",
        partnerships=partnerships,
        partnership=partnership,
        result=result,
        months=months,
        rule=need.rule(disclosure.threshold(), result.per_head_known),
        method_note=disclosure.method_note(),
        can_import=policy.can_convene(current_user, partnership),
        remove_form=ButtonForm(),
        amount=importer.amount_text,
    )


@bp.route("/export.csv", endpoint="export")
def export():
    """The ward table as the page shows it (released counts only), then the grants, formula-safe."""
    partnerships = readable(current_user)
    partnership = _chosen(partnerships, request.args.get("partnership"))
    result, months = _view(partnership)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["# Grants beside need", neutralise(partnership.name), f"period: {months} months"])
    w.writerow(["# " + need.rule(disclosure.threshold(), result.per_head_known)])
    w.writerow(["# " + disclosure.method_note()])
    w.writerow(
        [
            "ward_code",
            "ward_name",
            "funding_gbp",
            "grants",
            "population",
            "funding_per_head_gbp",
            "observations_shown",
            "funding_per_observation_gbp",
            "share_lsoas_most_deprived_20pc",
            "high_need_low_recorded_funding",
        ]
    )
    for r in result.rows:
        w.writerow(
            [
                r.ward.code,
                neutralise(r.ward.name),
                f"{r.pence / 100:.2f}",
                r.grants,
                f"{r.population:.0f}" if r.population else "",
                f"{r.per_head / 100:.2f}" if r.per_head is not None else "",
                str(r.observations),
                f"{r.per_observation / 100:.2f}" if r.per_observation is not None else "not enough observations",
                f"{r.share:.2f}" if r.share is not None else "",
                "yes" if r.flagged else "no",
            ]
        )
    w.writerow([])
    w.writerow(
        ["grant_identifier", "title", "funder", "recipient", "amount_gbp", "award_date", "placed_in", "placed_by"]
    )
    for grant, places in need.grants_list(partnership, result.since):
        for place in places:
            w.writerow(
                [
                    neutralise(grant.identifier),
                    neutralise(grant.title),
                    neutralise(grant.funder_name),
                    neutralise(grant.recipient_name),
                    f"{place.amount_pence / 100:.2f}",
                    grant.award_date.isoformat(),
                    place.area.code,
                    place.placed_by,
                ]
            )
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="grants-beside-need-{partnership.slug}.csv"'
    return response


@bp.route("/import", methods=["GET", "POST"], endpoint="upload")
def upload():
    partnerships = [p for p in readable(current_user) if policy.can_convene(current_user, p)]
    if not partnerships:
        abort(404)
    form = GrantUploadForm()
    form.partnership.choices = [(p.slug, p.name) for p in partnerships]
    if request.method == "GET" and request.args.get("partnership"):
        form.partnership.data = request.args["partnership"]
    report = None
    if form.validate_on_submit():
        partnership = next((p for p in partnerships if p.slug == form.partnership.data), None)
        file = request.files.get("file")
        if partnership is None:
            form.partnership.errors = ["Choose one of the partnerships you convene."]
        elif file is None or not file.filename:
            form.file.errors = ["Choose a 360Giving file (.csv, .xlsx or .json) to upload."]
        else:
            try:
                report = importer.import_grants(file.read(), file.filename, partnership, current_user)
            except importer.GrantImportRejected as rejected:
                transactions.discard()
                form.file.errors = [rejected.message]
                report = rejected.report
            except standard.GrantFileError as exc:
                transactions.discard()
                form.file.errors = [exc.message]
            else:
                record(
                    "grants.import",
                    "grant_file",
                    report.stored.id,
                    current_user,
                    grants=report.grants,
                    partnership_id=partnership.id,
                )
                outside = f" {report.outside} are placed outside the partnership's area." if report.outside else ""
                flash(f"{report.grants} grants imported from {report.filename}.{outside}", "success")
                return redirect(url_for("grants.index", partnership=partnership.slug, months="all"))
    status = 422 if form.errors else 200
    return render_template("indicators/grants_import.html", form=form, report=report), status


@bp.route("/files/<int:file_id>/remove", methods=["POST"], endpoint="remove")
def remove(file_id: int):
    grant_file = db.session.get(GrantFile, file_id)
    partnership = db.session.get(Partnership, grant_file.partnership_id) if grant_file else None
    if grant_file is None or partnership is None or not policy.can_convene(current_user, partnership):
        abort(404)
    if not ButtonForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
    else:
        record("grants.remove", "grant_file", grant_file.id, current_user, partnership_id=partnership.id)
        importer.remove_file(grant_file)
        flash("The file and its grants were removed.", "success")
    return redirect(url_for("grants.index", partnership=partnership.slug))
