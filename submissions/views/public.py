"""The public resident form: a partnership's observations from residents without an account."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, url_for
from sqlalchemy import select

from submissions import operations as submission_ops
from submissions.forms import PublicObservationForm, use_resident_wording
from submissions.validation import ValidationFailed
from submissions.views.common import categories_choices, log, public_bp, render_form
from webapp import transactions
from webapp.extensions import db, limiter
from webapp.models import Partnership

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
    form.category.choices = categories_choices()
    use_resident_wording(form)
    if form.validate_on_submit():
        if form.website.data:
            # A bot filled in the hidden field: say thank you, store nothing.
            log.info("public form honeypot triggered for partnership %s", partnership.id)
            return redirect(url_for("public_observations.thanks", slug=slug))
        try:
            submission_ops.submit_observation(form.values(), organisation=None, author=None, partnership=partnership,
                                   via="public_form")  # fmt: skip
        except ValidationFailed as failed:
            transactions.discard()
            form.show(failed)
        else:
            return redirect(url_for("public_observations.thanks", slug=slug))
    return render_form("submissions/public_form.html", form, partnership=partnership)


@public_bp.route("/<slug>/thanks", endpoint="thanks")
def public_thanks(slug: str):
    partnership = _public_partnership_or_404(slug)
    return render_template("submissions/public_thanks.html", partnership=partnership)
