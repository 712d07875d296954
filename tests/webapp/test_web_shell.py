"""The web shell: security headers, friendly errors, CSRF, bad encodings and oversized requests."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import app_config, sign_in
from webapp import create_app
from webapp.extensions import db


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers
    https = client.get("/", base_url="https://commintel.example")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_have_landmarks_skip_link_and_no_inline_script(client):
    page = client.get("/auth/login").get_data(as_text=True)
    for needle in ('<main id="main"', "<header", "<footer", 'href="#main"', '<nav aria-label="Main"', 'lang="en-GB"'):
        assert needle in page
    assert "<script>" not in page
    assert "style=" not in page
    assert '<label for="email">' in page


def test_friendly_404_and_json_errors_under_api(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "Page not found" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.get_json()["error"]["status"] == 404


def test_500_is_friendly_and_rolled_back(app, client, monkeypatch):
    from webapp import views

    def boom():
        raise RuntimeError("kaboom")

    monkeypatch.setattr(views, "render_template", lambda *a, **k: boom())
    response = client.get("/")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text
    assert "kaboom" not in text
    assert "Traceback" not in text


def test_form_without_csrf_token_gets_a_friendly_400(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/csrf.db", tmp_path, WTF_CSRF_ENABLED=True))
    with app.app_context():
        db.create_all()
        response = app.test_client().post("/auth/login", data={"email": "a@example.org", "password": "x"})
        assert response.status_code == 400
        assert "The form had expired" in response.get_data(as_text=True)
        db.engine.dispose()


def test_non_utf8_form_is_not_a_500(client):
    response = client.post(
        "/auth/login", data=b"email=\xff\xfe%ff&password=\xc3\x28", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)
    fine = client.post("/auth/login", data={"email": "zoë@example.org", "password": "ünïcode"})
    assert fine.status_code == 422  # UTF-8 is welcome: a wrong password, not a refused form
    assert "UTF-8" not in fine.get_data(as_text=True)


def test_behind_a_trusted_proxy_https_and_the_client_address_come_from_its_headers(tmp_path):
    from webapp.models import AuditEvent  # noqa: F401  (tables)

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "ci.example"}
    direct = create_app(app_config(f"sqlite:///{tmp_path}/a.db", tmp_path))
    assert "Strict-Transport-Security" not in direct.test_client().get("/", headers=forwarded).headers
    proxied = create_app(
        app_config(
            f"sqlite:///{tmp_path}/b.db", tmp_path, COMMINTEL_TRUSTED_PROXIES=1, RATELIMIT_ENABLED=True,
            COMMINTEL_LOGIN_RATE_LIMIT="2 per minute",
        )
    )  # fmt: skip
    with proxied.app_context():
        db.create_all()
        client = proxied.test_client()
        assert "Strict-Transport-Security" in client.get("/", headers=forwarded).headers
        # The limit is per client behind the proxy, not one limit shared by everyone the proxy forwards.
        login = {"email": "a@example.org", "password": "wrong password"}
        for _ in range(2):
            assert client.post("/auth/login", data=login, headers=forwarded).status_code == 422
        assert client.post("/auth/login", data=login, headers=forwarded).status_code == 429
        other = forwarded | {"X-Forwarded-For": "198.51.100.7"}
        assert client.post("/auth/login", data=login, headers=other).status_code == 422
        db.engine.dispose()


def test_oversized_request_gets_413(client, app):
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/auth/login", data=too_big, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user("resident")
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_navigation_is_by_role(client_for):
    admin = client_for("admin").get("/home").get_data(as_text=True)
    resident = client_for("resident").get("/home").get_data(as_text=True)
    assert 'href="/admin/users"' in admin
    assert 'href="/admin/users"' not in resident
    assert 'href="/orgs/"' not in resident


def test_an_admin_makes_a_partnership_and_fills_it_on_the_web(world, client_for, make_org, make_user):
    """Issue 14: no web page created a partnership or added members and funders."""
    from webapp.models import Area, AreaLevel, OrgKind, Partnership

    db.session.add_all([Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD),
                        Area(code="E05010897", name="Lawrence Hill", level=AreaLevel.WARD)])  # fmt: skip
    new_funder = make_org("Quartet Trust", OrgKind.FUNDER)
    new_convenor = make_user("convenor", email="second-convenor@example.org")
    db.session.commit()
    admin = client_for("admin")
    assert 'href="/partnerships/new"' in admin.get("/partnerships/").get_data(as_text=True)
    assert 'href="/partnerships/new"' not in client_for("convenor").get("/partnerships/").get_data(as_text=True)

    # A line that names no area: the form comes back naming it, and nothing is created.
    bad = admin.post("/partnerships/new", data={"name": "East Bristol", "areas": "Bristol, City of\nAtlantis"})
    assert bad.status_code == 422
    assert "No local authority, ward or LSOA &#39;Atlantis&#39;" in bad.get_data(as_text=True)
    assert db.session.scalar(select(Partnership).where(Partnership.name == "East Bristol")) is None
    made = admin.post("/partnerships/new", data={"name": "East Bristol", "areas": "Bristol, City of\n\ne05010897"})
    assert made.status_code == 302
    assert made.headers["Location"].endswith("/partnerships/east-bristol#add")
    page = admin.get("/partnerships/east-bristol").get_data(as_text=True)
    assert "Add to this partnership" in page
    assert '<option value="quartet-trust">' in page
    assert "second-convenor" in page

    for what, item in (("member", world["other_org"].slug), ("funder", "quartet-trust"),
                       ("convenor", new_convenor.email)):  # fmt: skip
        response = admin.post("/partnerships/east-bristol/add", data={"what": what, "item": item})
        assert response.status_code == 302
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "east-bristol"))
    db.session.refresh(partnership)
    assert {a.code for a in partnership.areas} == {"E06000023", "E05010897"}
    assert partnership.members == [world["other_org"]]
    assert partnership.funders == [new_funder]
    assert partnership.convenors == [new_convenor]
    # Adding it twice says so; a funder cannot also be a member.
    again = admin.post("/partnerships/east-bristol/add", data={"what": "member", "item": world["other_org"].slug},
                       follow_redirects=True)  # fmt: skip
    assert "in East Bristol already" in again.get_data(as_text=True)
    both = admin.post("/partnerships/east-bristol/add", data={"what": "member", "item": "quartet-trust"},
                      follow_redirects=True)  # fmt: skip
    assert "a member or a funder, not both" in both.get_data(as_text=True)

    # Its new convenor may add member organisations and areas, not funders or convenors; other convenors nothing.
    convenor = client_for("convenor")  # convenes Test Partnership only
    assert convenor.post("/partnerships/east-bristol/add", data={"what": "member", "item": world["org"].slug}
                         ).status_code == 404  # fmt: skip
    second = sign_in(admin.application.test_client(), new_convenor)
    assert second.post("/partnerships/east-bristol/add", data={"what": "funder", "item": world["funder_org"].slug}
                       ).status_code == 403  # fmt: skip
    assert second.post("/partnerships/east-bristol/add", data={"what": "member", "item": world["org"].slug}
                       ).status_code == 302  # fmt: skip
    db.session.refresh(partnership)
    assert {o.slug for o in partnership.members} == {world["other_org"].slug, world["org"].slug}
    assert partnership.funders == [new_funder]
