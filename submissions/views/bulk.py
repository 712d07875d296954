"""Files in and out: the bulk import (upload, template, column mapping, preview, import, skipped rows) and
the CSV export of an organisation's observations."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from submissions import importer, spreadsheets, uploads
from submissions import operations as submission_ops
from submissions.forms import ConfirmImportForm, UploadForm, choices
from submissions.models import Confidence, ObservationKind, SharingLevel, Source, Trend
from submissions.validation import FIELDS
from submissions.views.common import bp, org_partnerships, pick, submitter_orgs
from webapp import transactions
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation

# Export ----------------------------------------------------------------------------------------------------------


@bp.route("/export.csv", endpoint="export")
def export():
    orgs = sorted(current_user.organisations, key=lambda o: o.name)
    org = pick(orgs, request.args.get("org")) or (orgs[0] if orgs else None)
    if org is None:
        abort(404)
    body = submission_ops.export_csv(org, current_user)
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
    if upload is None or org is None or org not in submitter_orgs(current_user):
        abort(404)
    return upload, org


@bp.route("/import", methods=["GET", "POST"], endpoint="import_upload")
def import_upload():
    orgs = submitter_orgs(current_user)
    if not orgs:
        abort(403)
    form = UploadForm()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    if form.validate_on_submit():
        org = pick(orgs, form.organisation.data) or orgs[0]
        file = request.files.get("file")
        if file is None or not file.filename:
            form.file.errors = ["Choose a CSV or XLSX file to upload."]
        else:
            data = file.read()
            try:
                table = spreadsheets.read_table(data, file.filename)
            except spreadsheets.ImportFileError as exc:
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
    orgs = submitter_orgs(current_user)
    if not orgs:
        abort(403)
    org = pick(orgs, request.args.get("organisation", "")) or orgs[0]
    shared_with = org_partnerships([org])
    partnerships = [p.slug for p in shared_with]
    categories = submission_ops.active_categories()
    context = submission_ops.context_for(org)
    wards = db.session.scalars(
        select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True)).order_by(Area.name)
    )
    ward = next((a for a in wards if all(context.inside(a, p) for p in shared_with[:1])), None)
    rows = importer.template_rows([c.name for c in categories], partnerships, ward.name if ward else "", date.today())
    name = f"commintel-import-{org.slug}.{fmt}"
    body: str | bytes
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


def _table(upload: uploads.Upload) -> spreadsheets.Table:
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
        except spreadsheets.ImportFileError as exc:
            error = exc
        upload.mapping = {k: v for k, v in mapping.items() if v}
        upload.defaults = {k: v for k, v in defaults.items() if v}
        uploads.write(upload)
        if error is None:
            return redirect(url_for("observations.import_preview", upload_id=upload.id))
    return render_template(
        "submissions/import_mapping.html", upload=upload, org=org, table=table, fields=FIELDS, form=form,
        error=error, defaultable=importer.DEFAULTABLE, categories=submission_ops.active_categories(),
        partnerships=org_partnerships([org]), enums=_enum_options(),
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
    except spreadsheets.ImportFileError:
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
    preview = importer.check_rows(table, mapping, upload.defaults, submission_ops.context_for(org))
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
