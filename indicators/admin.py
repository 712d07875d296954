"""Importing an official indicator file from the web (admins): upload, a preview of what would be stored and what
is skipped (the importer's own dry run: nothing stored), then the import itself as a background job.

The uploaded file waits under ``instance/indicator_uploads/<token>/`` with what the preview said, until it is
imported (the job removes it) or discarded; an upload older than :data:`KEEP_HOURS` is removed when the next one
arrives. Nothing here reads a file the admin did not upload: tokens are checked against a strict pattern.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from celery import shared_task
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from werkzeug.utils import secure_filename
from wtforms import SelectChoice, SelectField, StringField

from indicators import operations as indicator_ops
from indicators.layouts import READERS
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity
from indicators.readers import Options
from webapp import transactions
from webapp.extensions import db
from webapp.forms import ButtonForm
from webapp.jobs import call_after_commit, enqueue, running
from webapp.models import User
from webapp.operations import OperationError

log = logging.getLogger(__name__)

bp = Blueprint("indicator_admin", __name__, url_prefix="/admin/indicators")

FOLDER = "indicator_uploads"
KEEP_HOURS = 24
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")
SUFFIXES = (".csv", ".xlsx")
# The form's fields that become importer Options (the rest of Options keeps its defaults: the CLI offers them).
LEVELS = (("", "Work it out"), ("lsoa", "LSOA"), ("ward", "Ward"), ("lad", "Local authority"))
TEXT_OPTIONS = ("dataset_title", "publisher", "licence", "source_url", "indicator", "unit", "period", "dataset_key")


class IndicatorFileForm(FlaskForm):
    file = FileField("CSV or XLSX file", description="As downloaded from the publisher (e.g. gov.uk, Fingertips, "
                     "Nomis, Stat-Xplore); up to the upload limit.")  # fmt: skip
    format = SelectField(
        "Layout",
        choices=[SelectChoice("auto", "Work it out from the file"), *(SelectChoice(k, k) for k in READERS)],
        validate_choice=False,
    )
    dataset_title = StringField("Title of the publication", description="Needed unless the file names it.")
    publisher = StringField("Publisher", description="Shown beside every figure, e.g. 'Ministry of Housing, "
                            "Communities and Local Government'.")  # fmt: skip
    licence = StringField("Licence", default="Open Government Licence v3.0")
    source_url = StringField("Where it was downloaded from")
    release_date = StringField("Release date", description="The publisher's release date, YYYY-MM-DD (needed "
                               "unless the file names its release).")  # fmt: skip
    dataset_key = StringField("Short name across releases", description="Optional, e.g. 'uc-households': a later "
                              "release with the same short name is shown as the newer one.")  # fmt: skip
    indicator = StringField("Indicator name", description="Only for a table of one indicator without its name.")
    unit = StringField("Unit", description="Only when the file does not say, e.g. '%' or 'per 1,000 households'.")
    polarity = SelectField(
        "Is a higher value worse or better?",
        choices=[SelectChoice("", "As the file says"), *(SelectChoice(p.value, p.label) for p in Polarity)],
        validate_choice=False,  # checked by options_from, which names the field
    )
    level = SelectField(
        "Level of the areas", choices=[SelectChoice(v, label) for v, label in LEVELS], validate_choice=False
    )
    period = StringField("Period of every row", description="Only for one-period tables, e.g. '2025' for IoD.")


def _root() -> Path:
    return Path(current_app.config["COMMINTEL_INSTANCE_DIR"]) / FOLDER


def _folder(token: str) -> Path:
    if not TOKEN.match(token or ""):
        abort(404)
    folder = _root() / token
    if not (folder / "upload.json").is_file():
        abort(404)
    return folder


def _pending(folder: Path) -> dict:
    return json.loads((folder / "upload.json").read_text(encoding="utf-8"))


def options_from(values: dict[str, str]) -> Options:
    """Importer options from the form's values (as stored with the upload); a bad date names the field."""
    kwargs: dict = {name: (values.get(name) or "").strip() or None for name in TEXT_OPTIONS}
    kwargs["format"] = values.get("format") or "auto"
    if kwargs["format"] not in ("auto", *READERS):
        raise OperationError(f"Unknown layout {kwargs['format']!r}.", "format")
    if values.get("polarity"):
        try:
            kwargs["polarity"] = Polarity(values["polarity"])
        except ValueError:
            raise OperationError("Is a higher value worse or better?: choose one of the list.", "polarity") from None
    if values.get("level"):
        if values["level"] not in ("lsoa", "ward", "lad"):
            raise OperationError("Level of the areas: choose one of the list.", "level")
        kwargs["level"] = values["level"]
    if (released := (values.get("release_date") or "").strip()) != "":
        try:
            kwargs["release_date"] = date.fromisoformat(released)
        except ValueError:
            raise OperationError("Release date: write it as YYYY-MM-DD, e.g. 2025-10-30.", "release_date") from None
    return Options(**kwargs)


def _dry_run(path: Path, options: Options) -> list[str]:
    """What the importer understood and would store, with nothing stored (its own dry run, and the request's
    transaction thrown away at its end)."""
    transactions.discard()
    return indicator_ops.import_file(path, options, dry_run=True).lines()


def _sweep_old() -> None:
    cutoff = datetime.now(UTC) - timedelta(hours=KEEP_HOURS)
    for folder in _root().glob("*"):
        if folder.is_dir() and datetime.fromtimestamp(folder.stat().st_mtime, UTC) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def _datasets() -> list[tuple[IndicatorDataset, int, int]]:
    """Every stored release with its number of indicators and values."""
    rows = db.session.execute(
        select(IndicatorDataset, func.count(func.distinct(Indicator.id)), func.count(IndicatorValue.id))
        .outerjoin(Indicator, Indicator.dataset_id == IndicatorDataset.id)
        .outerjoin(IndicatorValue, IndicatorValue.indicator_id == Indicator.id)
        .group_by(IndicatorDataset.id)
        .order_by(IndicatorDataset.title, IndicatorDataset.id)
    ).all()
    return [(dataset, indicators, values) for dataset, indicators, values in rows]


@bp.route("/", methods=["GET", "POST"], endpoint="index")
def index():
    form = IndicatorFileForm()
    problem: str | None = None
    understood: list[str] = []
    if form.validate_on_submit():
        upload = request.files.get("file")
        name = secure_filename(upload.filename or "") if upload else ""
        if upload is None or not name or not name.lower().endswith(SUFFIXES):
            form.file.errors = ["Choose a CSV or XLSX file."]
        else:
            _sweep_old()
            token = secrets.token_urlsafe(16)
            folder = _root() / token
            folder.mkdir(parents=True)
            path = folder / name
            upload.save(path)
            values = {f.name: f.data or "" for f in form if f.name not in ("file", "csrf_token")}
            try:
                lines = _dry_run(path, options_from(values))
            except indicator_ops.ImportFailed as exc:
                problem, understood = exc.message, exc.report.understanding()
            except OperationError as exc:
                problem = exc.message
            if problem is not None:
                shutil.rmtree(folder, ignore_errors=True)
                log.info("an indicator file was refused by its preview; nothing kept")
            else:
                pending = {"file": name, "options": values, "lines": lines, "by": current_user.id,
                           "at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
                (folder / "upload.json").write_text(json.dumps(pending), encoding="utf-8")
                return redirect(url_for("indicator_admin.preview", token=token))
    status = 422 if (form.errors or problem) else 200
    return render_template("indicators/admin_import.html", form=form, problem=problem, understood=understood,
                           datasets=_datasets()), status  # fmt: skip


@bp.route("/<token>", endpoint="preview")
def preview(token: str):
    pending = _pending(_folder(token))
    return render_template("indicators/admin_preview.html", token=token, pending=pending, form=ButtonForm())


@bp.route("/<token>/store", methods=["POST"], endpoint="store")
def store(token: str):
    folder = _folder(token)
    if not ButtonForm().validate_on_submit():
        flash("The form expired; please confirm again.", "error")
        return redirect(url_for("indicator_admin.preview", token=token))
    started = folder / "job"
    if started.is_file():  # a second click, or the back button: the import runs once
        return redirect(url_for("jobs.status", job_id=started.read_text(encoding="utf-8").strip()))
    # The mark is written once the job is committed and before it is sent (the job may remove the folder at once):
    # a request that fails or is run again leaves no mark of a job that does not exist.
    job_id: list[str] = []
    call_after_commit(lambda: started.write_text(job_id[0], encoding="utf-8"))
    job = enqueue("indicators.import", import_indicator_upload, token, created_by=current_user)
    job_id.append(job.id)
    return redirect(url_for("jobs.status", job_id=job.id))


@bp.route("/<token>/discard", methods=["POST"], endpoint="discard")
def discard(token: str):
    folder = _folder(token)
    if ButtonForm().validate_on_submit():
        shutil.rmtree(folder, ignore_errors=True)
        flash("The file was discarded; nothing was stored.", "success")
    return redirect(url_for("indicator_admin.index"))


@shared_task(name="indicators.import_upload")
def import_indicator_upload(job_id: str, token: str) -> dict:
    """Import an uploaded file as its preview described, then remove it. A file refused now (the geography changed
    since the preview) fails the job with the importer's message; nothing is stored."""
    folder = Path(current_app.config["COMMINTEL_INSTANCE_DIR"]) / FOLDER / token
    with running(job_id) as job:
        if not TOKEN.match(token) or not (folder / "upload.json").is_file():
            raise OperationError("The uploaded file is no longer there (imported or discarded already).", "file")
        pending = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
        actor = db.session.get(User, job.created_by_id) if job.created_by_id else None
        options = options_from(pending["options"])
        report = transactions.write(
            lambda: indicator_ops.import_file(folder / pending["file"], options, actor=actor), what="indicator import"
        )
        dataset = report.stored
        job.result = {"dataset_id": dataset.id, "imported": report.imported, "skipped": len(report.skipped)}
        job.message = (
            f"Imported {report.imported:,} values of {len(report.indicators)} indicator(s) into {dataset.title} "
            f"({dataset.release_label}); {len(report.skipped):,} rows or cells skipped."
        )
    shutil.rmtree(folder, ignore_errors=True)
    return job.result
