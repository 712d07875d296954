"""Moderation of residents' observations by their partnership's convenors (and admins)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from submissions import operations as submission_ops
from submissions.forms import ModerateAreaForm, ModerateTextForm, RejectForm
from submissions.models import Observation
from submissions.queries import moderation_queue, unconfirmed_places
from submissions.views.common import bp, observation_or_404
from webapp import policy, transactions
from webapp.extensions import db
from webapp.models import Area
from webapp.operations import OperationError
from webapp.views import apply_or_flash

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
            areas[obs.partnership_id] = submission_ops.moderator_areas(obs)
    return render_template(
        "submissions/moderation.html",
        items=items,
        unconfirmed=unconfirmed,
        areas=areas,
        reject_form=RejectForm(),
        area_form=ModerateAreaForm(formdata=None),
        text_form=ModerateTextForm(formdata=None),
        reason_audience=submission_ops.reason_audience,
    )


def _moderated_or_404(obs_id: int) -> Observation:
    obs = observation_or_404(obs_id)
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
        apply_or_flash(
            lambda: submission_ops.confirm_suggested_area(obs, current_user), f"Observation {obs_id}: area confirmed."
        )
        return back
    area = None
    if form.area.data:
        area = db.session.get(Area, form.area.data)
        if area is None:
            flash(f"Observation {obs_id}: Set the area: choose one of the partnership's areas.", "error")
            return back
    apply_or_flash(
        lambda: submission_ops.set_area_by_moderator(obs, area, current_user),
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
            lambda: submission_ops.edit_text_by_moderator(obs, form.text.data or "", current_user),
            f"Observation {obs_id}: text edited. It is redacted again; approve it when it reads right.",
        )
    return redirect(url_for("observations.moderation") + f"#obs-{obs_id}")


@bp.route("/<int:obs_id>/moderate", methods=["POST"], endpoint="moderate")
def moderate(obs_id: int):
    obs = observation_or_404(obs_id)
    if not policy.can_moderate_observation(current_user, obs):
        abort(404)
    form = RejectForm()
    action = request.form.get("action")
    if not form.validate_on_submit() or action not in ("approve", "reject"):
        abort(400)
    try:
        if action == "approve":
            submission_ops.approve_observation(obs, current_user)
        else:
            submission_ops.reject_observation(obs, current_user, form.reason.data)
    except OperationError as exc:
        transactions.discard()
        flash(f"Observation {obs_id}: {exc.message}", "error")
    else:
        flash(f"Observation {obs_id} {'approved' if action == 'approve' else 'rejected'}.", "success")
    return redirect(url_for("observations.moderation"))
