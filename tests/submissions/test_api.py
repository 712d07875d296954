"""JSON API: tokens, 201/422/401/403, own organisation only, OpenAPI document."""

from __future__ import annotations

from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.models import ApiToken, Observation
from tests.submissions.conftest import valid_data
from webapp.extensions import db
from webapp.models import AuditEvent


def _token(org, admin) -> str:
    _token_row, raw = submission_ops.create_api_token(org, "Partner system", admin)
    db.session.commit()
    return raw


def _auth(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_post_creates_and_get_lists_own_only(sharing_world, make_observation, client):
    raw = _token(sharing_world["org"], sharing_world["users"]["org_admin"])
    response = client.post("/api/v1/observations", json=valid_data(external_ref="API-1"), headers=_auth(raw))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == db.session.scalar(select(Observation.id).where(Observation.external_ref == "API-1"))
    assert body["status"] == "submitted"
    assert body["area"] == "E05010885"
    make_observation(organisation="other_org", author="admin")  # another organisation's
    listed = client.get("/api/v1/observations", headers=_auth(raw)).get_json()
    assert listed["total"] == 1
    assert [o["external_ref"] for o in listed["observations"]] == ["API-1"]
    assert client.get("/api/v1/observations?external_ref=API-1", headers=_auth(raw)).get_json()["total"] == 1
    assert client.get("/api/v1/observations?status=bogus", headers=_auth(raw)).status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).last_used_at is not None


def test_422_names_every_bad_field_and_stores_nothing(sharing_world, client):
    raw = _token(sharing_world["org"], sharing_world["users"]["org_admin"])
    bad = valid_data(text="short", area="Narnia", people_affected=-1, period="2999-01-01", colour="blue")
    response = client.post("/api/v1/observations", json=bad, headers=_auth(raw))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"colour": "Unknown field."}
    del bad["colour"]
    errors = client.post("/api/v1/observations", json=bad, headers=_auth(raw)).get_json()["errors"]
    assert set(errors) == {"text", "area", "people_affected", "period"}
    assert client.post("/api/v1/observations", data="not json", headers=_auth(raw)).status_code == 422
    assert client.post("/api/v1/observations", json=[1, 2], headers=_auth(raw)).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Observation)) == 0
    # The same reference twice is refused, not duplicated.
    assert client.post("/api/v1/observations", json=valid_data(external_ref="X"), headers=_auth(raw)).status_code == 201
    again = client.post("/api/v1/observations", json=valid_data(external_ref="X"), headers=_auth(raw))
    assert again.status_code == 422
    assert "external_ref" in again.get_json()["errors"]


def test_401_without_a_valid_token_and_403_for_funders(sharing_world, client):
    assert client.post("/api/v1/observations", json=valid_data()).status_code == 401
    assert client.get("/api/v1/observations", headers=_auth("ci_wrong")).status_code == 401
    response = client.get("/api/v1/observations", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    token, raw = submission_ops.create_api_token(sharing_world["org"], "Old", sharing_world["users"]["org_admin"])
    submission_ops.revoke_api_token(token, sharing_world["users"]["org_admin"])
    db.session.commit()
    assert client.get("/api/v1/observations", headers=_auth(raw)).status_code == 401
    funder_raw = _token(sharing_world["funder_org"], sharing_world["users"]["admin"])
    assert client.get("/api/v1/observations", headers=_auth(funder_raw)).status_code == 403
    assert client.post("/api/v1/observations", json=valid_data(), headers=_auth(funder_raw)).status_code == 403


def test_session_cookies_do_not_authenticate_the_api(sharing_world, client_for):
    assert client_for("member").get("/api/v1/observations").status_code == 401


def test_openapi_document(sharing_world, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    schema = doc["components"]["schemas"]["ObservationInput"]
    assert schema["required"] == ["kind", "category", "text"]
    assert "food" in schema["properties"]["category"]["examples"]
    assert set(doc["paths"]["/api/v1/observations"]) == {"get", "post"}
    assert {"201", "401", "403", "422"} <= set(doc["paths"]["/api/v1/observations"]["post"]["responses"])


def test_the_api_works_with_csrf_on_and_the_form_refuses_a_post_without_its_token(
    sharing_world, client, client_for, app, monkeypatch
):
    """Production runs with CSRF on: bearer-token API calls are exempt, session forms are not."""
    member = client_for("member")  # signed in first: the sign-in form has no token here either
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    raw = _token(sharing_world["org"], sharing_world["users"]["org_admin"])
    created = client.post("/api/v1/observations", json=valid_data(external_ref="CSRF-1"), headers=_auth(raw))
    assert created.status_code == 201, created.get_json()
    refused = member.post("/observations/new", data=valid_data(text="Sent without the form's token."))
    assert refused.status_code == 400
    assert "The form had expired" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Observation)) == 1


def test_a_refused_submission_keeps_the_tokens_last_use_and_nothing_else(sharing_world, client):
    """The request commits whatever its status, and a refused submission writes nothing but the token's last use
    (validation comes before any write): the 422 is not rolled back, and no observation or audit event is left."""
    raw = _token(sharing_world["org"], sharing_world["users"]["org_admin"])
    events_before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    bad = valid_data(text="short", area="Narnia")
    response = client.post("/api/v1/observations", json=bad, headers=_auth(raw))
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).last_used_at is not None
    assert db.session.scalar(select(func.count()).select_from(Observation)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_a_funders_refused_token_is_not_noted_as_used(sharing_world, client):
    funder_raw = _token(sharing_world["funder_org"], sharing_world["users"]["admin"])
    assert client.post("/api/v1/observations", json=valid_data(), headers=_auth(funder_raw)).status_code == 403
    db.session.expire_all()
    token = db.session.scalar(select(ApiToken).where(ApiToken.organisation_id == sharing_world["funder_org"].id))
    assert token.last_used_at is None
