"""Sign-in, sign-out, invitations, password resets and their bad inputs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, app_config, sign_in
from webapp import create_app
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import AuditEvent, OneTimeToken, OrgRole, PlatformRole, TokenPurpose, User, utcnow


def test_sign_in_and_out(client, make_user):
    user = make_user("resident")
    response = client.post("/auth/login?next=/areas/", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/areas/"
    assert client.get("/home").status_code == 200
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/home").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user("resident")
    response = client.post(f"/auth/login?next={target}", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/home"


@pytest.mark.parametrize(
    ("email", "password"),
    [("known", "wrong password!"), ("nobody@example.org", PASSWORD), ("", ""), ("not-an-email", PASSWORD)],
)
def test_failed_sign_in_says_so_and_changes_nothing(client, make_user, email, password):
    user = make_user("member", None)
    before = user.last_login_at
    response = client.post(
        "/auth/login", data={"email": user.email if email == "known" else email, "password": password}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page
    assert client.get("/home").status_code == 302
    assert db.session.get(User, user.id).last_login_at == before


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user("resident")
    user.active = False
    db.session.commit()
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422


def test_passwords_are_hashed_with_argon2(make_user):
    user = make_user("resident")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_duplicate_and_malformed_emails_are_refused(make_user):
    user = make_user("resident")
    with pytest.raises(webapp_ops.OperationError, match="already exists") as exc:
        webapp_ops.create_user(user.email.upper(), PASSWORD)
    assert exc.value.field == "email"
    with pytest.raises(webapp_ops.OperationError, match="email address"):
        webapp_ops.create_user("no at sign", PASSWORD)
    with pytest.raises(webapp_ops.OperationError, match="at least 10"):
        webapp_ops.create_user("new@example.org", "short")


def _link_from_log(caplog) -> str:
    for record in caplog.records:
        match = re.search(r"(/auth/(?:invitation|reset)/[\w-]+)", record.getMessage())
        if match:
            return match.group(1)
    raise AssertionError("no one-time link in the log")


def test_invitation_by_org_admin_creates_a_member(client_for, world, caplog, app):
    org_admin = client_for("org_admin")
    with caplog.at_level(logging.WARNING, logger="webapp.mail"):
        response = org_admin.post(
            f"/orgs/{world['org'].slug}/invite", data={"email": "newbie@example.org", "role": "member"}
        )
    assert response.status_code == 302
    link = _link_from_log(caplog)
    assert "newbie@example.org" not in " ".join(r.getMessage() for r in caplog.records), "emails stay out of logs"
    fresh = app.test_client()
    page = fresh.get(link)
    assert page.status_code == 200
    assert world["org"].name in page.get_data(as_text=True)
    bad = fresh.post(link, data={"display_name": "New Person", "password": "short", "confirm": "short"})
    assert bad.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "newbie@example.org")) == 0
    ok = fresh.post(link, data={"display_name": "New Person", "password": PASSWORD, "confirm": PASSWORD})
    assert ok.status_code == 302
    user = webapp_ops.get_user_by_email("newbie@example.org")
    assert user.org_role(world["org"]) is OrgRole.MEMBER
    assert fresh.get("/home").status_code == 200
    # The link works once.
    again = app.test_client().get(link)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_invitation_to_existing_account_and_platform_role_rules(world):
    # An organisation invitation to an existing account is made like any other (the inviter cannot tell); it is
    # accepted by signing in as that account (tests/webapp/test_security.py).
    issued = webapp_ops.invite(world["users"]["member"].email, world["users"]["org_admin"], organisation=world["org"])
    assert issued.token.user_id == world["users"]["member"].id
    # Platform roles are given by administrators, who see every account anyway.
    with pytest.raises(webapp_ops.OperationError, match="already has an account"):
        webapp_ops.invite(world["users"]["member"].email, world["users"]["admin"], platform_role=PlatformRole.FUNDER)
    with pytest.raises(webapp_ops.OperationError, match="Only an administrator"):
        webapp_ops.invite("x@example.org", world["users"]["org_admin"], platform_role=PlatformRole.CONVENOR)


def test_admin_invites_a_convenor(client_for, caplog, app):
    with caplog.at_level(logging.WARNING, logger="webapp.mail"):
        response = client_for("admin").post(
            "/admin/invite", data={"email": "conv@example.org", "platform_role": "convenor"}
        )
    assert response.status_code == 302
    link = _link_from_log(caplog)
    c = app.test_client()
    c.post(link, data={"display_name": "Cee", "password": PASSWORD, "confirm": PASSWORD})
    assert webapp_ops.get_user_by_email("conv@example.org").platform_role is PlatformRole.CONVENOR


def test_expired_invitation_is_refused(world, app):
    issued = webapp_ops.invite("late@example.org", world["users"]["admin"], organisation=world["org"])
    issued.token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = app.test_client().post(
        issued.path, data={"display_name": "Late", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert webapp_ops.get_user_by_email("late@example.org") is None


def test_password_reset_round_trip_ends_other_sessions(client, make_user, app, caplog):
    user = make_user("resident")
    other_session = sign_in(app.test_client(), user)
    with caplog.at_level(logging.WARNING, logger="webapp.mail"):
        response = client.post("/auth/forgot", data={"email": user.email})
    assert response.status_code == 302
    link = _link_from_log(caplog)
    mismatch = client.post(link, data={"password": "fresh passphrase 123", "confirm": "other passphrase 123"})
    assert mismatch.status_code == 422
    assert (
        client.post(link, data={"password": "fresh passphrase 123", "confirm": "fresh passphrase 123"}).status_code
        == 302
    )
    assert other_session.get("/home").status_code == 302, "old sessions end when the password changes"
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    sign_in(client, user, "fresh passphrase 123")
    assert app.test_client().get(link).status_code == 400, "a reset link works once"


def test_reset_for_unknown_email_answers_the_same(client, caplog):
    with caplog.at_level(logging.WARNING, logger="webapp.mail"):
        response = client.post("/auth/forgot", data={"email": "nobody@example.org"}, follow_redirects=True)
    assert "If that address has an account" in response.get_data(as_text=True)
    assert not any("/auth/reset/" in r.getMessage() for r in caplog.records)
    assert db.session.scalar(select(func.count()).select_from(OneTimeToken)) == 0


def test_tokens_are_stored_hashed(world):
    issued = webapp_ops.invite("hash@example.org", world["users"]["admin"], organisation=world["org"])
    assert issued.raw not in issued.token.token_hash
    assert issued.token.purpose is TokenPurpose.INVITATION


def test_sign_in_is_rate_limited(tmp_path):
    app = create_app(
        app_config(
            f"sqlite:///{tmp_path}/rl.db", tmp_path, RATELIMIT_ENABLED=True, COMMINTEL_LOGIN_RATE_LIMIT="3 per minute"
        )
    )
    with app.app_context():
        db.create_all()
        client = app.test_client()
        codes = [
            client.post("/auth/login", data={"email": "a@example.org", "password": "x"}).status_code for _ in range(5)
        ]
        assert codes[:3] == [422, 422, 422]
        assert codes[3:] == [429, 429]
        assert "Too many attempts" in client.post("/auth/login", data={}).get_data(as_text=True)
        db.engine.dispose()


def test_sign_in_is_audited(client, make_user):
    user = make_user("resident")
    sign_in(client, user)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "user.login", AuditEvent.actor_id == user.id)
        )
        == 1
    )


def test_production_without_smtp_never_logs_a_link_and_says_the_invitation_was_not_sent(
    client_for, world, caplog, app, monkeypatch
):
    monkeypatch.setitem(app.config, "COMMINTEL_ENV", "production")
    with caplog.at_level(logging.INFO, logger="webapp.mail"):
        response = client_for("org_admin").post(
            f"/orgs/{world['org'].slug}/invite", data={"email": "quiet@example.org", "role": "member"},
            follow_redirects=True,
        )  # fmt: skip
    assert response.status_code == 200
    assert "could not be sent" in response.get_data(as_text=True)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "/auth/invitation/" not in logged, "a usable link must never reach production logs"
    assert "not sent" in logged


class _FakeSMTP:
    """Stands in for smtplib.SMTP: records what would be sent, or fails to connect like a server that is down."""

    sent: list = []
    fail = False

    def __init__(self, host, port, timeout):
        if self.fail:
            raise ConnectionRefusedError(111, "Connection refused")
        self.host, self.port = host, port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def ehlo(self):
        pass

    def has_extn(self, name):
        return False

    def login(self, user, password):
        pass

    def send_message(self, message):
        _FakeSMTP.sent.append(message)


def test_invitation_by_smtp_and_an_smtp_failure_is_a_message_not_a_500(client_for, world, app, monkeypatch):
    import smtplib

    monkeypatch.setattr(smtplib, "SMTP", _FakeSMTP)
    monkeypatch.setitem(app.config, "COMMINTEL_SMTP_HOST", "mail.example.org")
    monkeypatch.setattr(_FakeSMTP, "sent", [])
    org_admin = client_for("org_admin")
    ok = org_admin.post(
        f"/orgs/{world['org'].slug}/invite", data={"email": "mailed@example.org", "role": "member"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Invitation sent" in ok.get_data(as_text=True)
    [message] = _FakeSMTP.sent
    assert message["To"] == "mailed@example.org"
    assert "/auth/invitation/" in message.get_content()

    monkeypatch.setattr(_FakeSMTP, "fail", True)
    down = org_admin.post(
        f"/orgs/{world['org'].slug}/invite", data={"email": "later@example.org", "role": "member"},
        follow_redirects=True,
    )  # fmt: skip
    assert down.status_code == 200
    assert "could not be sent" in down.get_data(as_text=True)
