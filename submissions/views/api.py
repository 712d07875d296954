"""The JSON API for partner systems, authenticated by an organisation's bearer token (never the session)."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for
from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.models import ApiToken, Observation, ObservationStatus
from submissions.openapi import document
from submissions.validation import FIELDS_BY_NAME, ValidationFailed
from submissions.views.common import api_bp, log
from webapp import transactions
from webapp.extensions import db
from webapp.models import OrgKind

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
    token = submission_ops.authenticate_api_token(request.headers.get("Authorization"))
    if token is None:
        return _api_error(401, submission_ops.api_token_refusal(request.headers.get("Authorization")))
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
        "period": submission_ops.period_value(obs),
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
            obs = submission_ops.submit_observation(payload, organisation=token.organisation, author=None, via="api")
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
