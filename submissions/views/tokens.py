"""API tokens of the organisations a person administers: create, rotate, revoke."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from submissions import operations as submission_ops
from submissions.forms import TokenForm, choices
from submissions.models import ApiToken
from submissions.views.common import admin_orgs, bp, pick
from webapp import transactions
from webapp.extensions import db
from webapp.forms import ButtonForm
from webapp.models import utcnow
from webapp.operations import OperationError

# API tokens ------------------------------------------------------------------------------------------------------


@bp.route("/api-tokens", methods=["GET", "POST"], endpoint="tokens")
def tokens():
    orgs = admin_orgs(current_user)
    if not orgs:
        abort(404)
    form = TokenForm()
    form.organisation.choices = choices((o.slug, o.name) for o in orgs)
    form.days.choices = _lifetime_choices()
    new_token = None
    if request.method == "GET":
        form.days.data = str(current_app.config["COMMINTEL_API_TOKEN_DAYS"])
    if form.validate_on_submit():
        org = pick(orgs, form.organisation.data) or orgs[0]
        try:
            days = int(form.days.data or current_app.config["COMMINTEL_API_TOKEN_DAYS"])
            token, raw = submission_ops.create_api_token(org, form.name.data, current_user, days)
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
    days = sorted({*submission_ops.API_TOKEN_LIFETIMES, current_app.config["COMMINTEL_API_TOKEN_DAYS"]})
    return choices((str(d), "1 year" if d == 365 else f"{d} days") for d in days)


@bp.route("/api-tokens/<int:token_id>/rotate", methods=["POST"], endpoint="rotate_token")
def rotate_token(token_id: int):
    """A new token of the same name and lifetime; the old one keeps working for a day so systems can switch."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.organisation not in admin_orgs(current_user) or not ButtonForm().validate_on_submit():
        abort(404)
    try:
        new, raw = submission_ops.rotate_api_token(token, current_user)
    except OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return redirect(url_for("observations.tokens"))
    orgs = admin_orgs(current_user)
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
    if token is None or token.organisation not in admin_orgs(current_user):
        abort(404)
    submission_ops.revoke_api_token(token, current_user)
    flash(f"The token {token.name!r} no longer works.", "success")
    return redirect(url_for("observations.tokens"))
