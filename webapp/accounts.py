"""Service layer for signing in safely: server-side sessions, the second factor (TOTP, recovery codes, remembered
devices), password changes and per-account throttling.

Like :mod:`webapp.operations`, these functions change objects, flush, audit and return; they never commit and never
read the request (the caller passes what it needs: the browser's user agent, the client's address). Every security
event goes to the audit log with ids and short facts only. One module (over 500 lines) for one job, signing in
safely: its parts share the session, device and throttling records and are reviewed together (docs/security.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import pyotp
import segno
from flask import current_app
from limits import parse
from sqlalchemy import CursorResult, select, update

from webapp import policy
from webapp.extensions import db, limiter
from webapp.models import RecoveryCode, RememberedDevice, TokenPurpose, User, UserSession, utcnow
from webapp.operations import OperationError, check_password_strength, find_token, record, revoke_links, use_token

log = logging.getLogger(__name__)

TOTP_STEP_SECONDS = 30
# A code is accepted in its own 30-second step and in the step before it (typing across a step boundary), never
# in a later one, and never twice: at most 60 seconds of life (docs/security.md, ASVS 6.5.5).
TOTP_PAST_STEPS = 1
RECOVERY_CODE_COUNT = 10
# 10 characters of a 32-letter alphabet: 50 bits each, stored as salted argon2id hashes (ASVS 6.5.2).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
# A sensitive change (password, second factor, ending sessions) needs the password typed in the last 10 minutes.
REAUTH_MINUTES = 10
# last_seen_at is written at most once a minute per session, so reading pages does not mean a write each time.
TOUCH_SECONDS = 60


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def summarise_user_agent(user_agent: str | None) -> str:
    """'Firefox on Linux': enough for a person to recognise their device, nothing that fingerprints it."""
    ua = user_agent or ""
    browser = "Unknown browser"
    for needle, name in (
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python-requests", "Python"),
    ):
        if needle in ua:
            browser = name
            break
    system = ""
    for needle, name in (
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ):
        if needle in ua:
            system = name
            break
    return f"{browser} on {system}" if system else browser


def address_prefix(address: str | None) -> str:
    """The client's network, not its address: /24 for IPv4, /48 for IPv6 (enough to tell places apart)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True)
class Client:
    """What the view knows about the browser making the request."""

    user_agent: str = ""
    address: str = ""


# Sessions --------------------------------------------------------------------------------------------------------


def start_session(user: User, client: Client, second_factor: str) -> tuple[UserSession, str]:
    """A new session for ``user`` after a full sign-in; returns it with the raw id for the cookie (128+ bits)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    session = UserSession(
        user_id=user.id,
        token_hash=_hash(raw),
        created_at=now,
        authenticated_at=now,
        last_seen_at=now,
        second_factor=second_factor,
        user_agent=summarise_user_agent(client.user_agent)[:80],
        ip_prefix=address_prefix(client.address),
    )
    db.session.add(session)
    user.last_login_at = now
    db.session.flush()
    record("user.login", "user", user.id, user, session_id=session.id, second_factor=second_factor)
    log.info("user %s signed in (session %s, %s)", user.id, session.id, second_factor)
    return session, raw


def rotate_session(session: UserSession) -> str:
    """Give the session a new id (after confirming the password, so an id seen before is worthless)."""
    raw = secrets.token_urlsafe(32)
    session.token_hash = _hash(raw)
    db.session.flush()
    return raw


def _expiry_reason(session: UserSession, now: datetime) -> str | None:
    config = current_app.config
    if now - session.last_seen_at > timedelta(minutes=config["COMMINTEL_SESSION_IDLE_MINUTES"]):
        return "idle"
    if now - session.created_at > timedelta(hours=config["COMMINTEL_SESSION_MAX_HOURS"]):
        return "expired"
    return None


def find_session(raw: str | None) -> UserSession | None:
    """The live session whose cookie id is ``raw``; a session past its idle or absolute limit is ended here.

    Marks it seen (at most once a minute). The caller commits."""
    if not raw:
        return None
    session = db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash(raw)))
    if session is None or session.revoked_at is not None:
        return None
    now = utcnow()
    reason = _expiry_reason(session, now)
    if reason is not None:
        session.revoked_at, session.revoked_reason = now, reason
        record("session.revoke", "user_session", session.id, None, user_id=session.user_id, reason=reason)
        return None
    if (now - session.last_seen_at).total_seconds() >= TOUCH_SECONDS:
        session.last_seen_at = now
    return session


def end_session(session: UserSession, actor: User | None, reason: str) -> None:
    """End one session at once (its cookie, wherever it was copied, stops working)."""
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = utcnow(), reason
        db.session.flush()
        record("session.revoke", "user_session", session.id, actor, user_id=session.user_id, reason=reason)


def end_sessions(user: User, actor: User | None, reason: str, keep: UserSession | None = None) -> int:
    """End every session of ``user`` except ``keep``; returns how many ended."""
    sessions = list(
        db.session.scalars(select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None)))
    )
    ended = 0
    for session in sessions:
        if keep is not None and session.id == keep.id:
            continue
        session.revoked_at, session.revoked_reason = utcnow(), reason
        ended += 1
    db.session.flush()
    if ended:
        record("session.revoke_all", "user", user.id, actor, reason=reason, sessions=ended)
    return ended


def end_everyone_sessions(actor: User | None, reason: str = "admin") -> int:
    """End every live session of every account (an administrator's emergency stop)."""
    result = cast(
        CursorResult,
        db.session.execute(
            update(UserSession)
            .where(UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    record("session.revoke_everyone", "user_session", None, actor, sessions=result.rowcount)
    return result.rowcount


def active_sessions(user: User) -> list[UserSession]:
    """The person's live sessions, most recently used first (idle or too old ones are ended on the way)."""
    now = utcnow()
    live = []
    for session in db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ):
        reason = _expiry_reason(session, now)
        if reason is None:
            live.append(session)
        else:
            session.revoked_at, session.revoked_reason = now, reason
    return live


def recently_authenticated(session: UserSession | None) -> bool:
    return session is not None and utcnow() - session.authenticated_at <= timedelta(minutes=REAUTH_MINUTES)


def confirm_password(session: UserSession, user: User, password: str) -> str:
    """Re-authenticate inside a session (before a sensitive change); returns the session's new cookie id."""
    if not user.check_password(password or ""):
        raise OperationError("The password is wrong.", "password")
    session.authenticated_at = utcnow()
    return rotate_session(session)


# Passwords -------------------------------------------------------------------------------------------------------


def change_password(user: User, current: str, new: str, session: UserSession | None) -> None:
    """Change the password (the current one is required); every other session and remembered device ends."""
    if not user.check_password(current or ""):
        raise OperationError("Your current password is wrong.", "current_password")
    if current == new:
        raise OperationError("Choose a password different from the current one.", "password")
    check_password_strength(new, personal=(user.email, user.display_name))
    user.set_password(new)
    user.session_version += 1
    revoke_links(TokenPurpose.PASSWORD_RESET, user.email)
    end_sessions(user, user, "password_change", keep=session)
    forget_devices(user)
    if session is not None:
        session.authenticated_at = utcnow()
    record("password.change", "user", user.id, user)


def reset_password(raw: str, password: str) -> User:
    """Set a new password with a reset link; ends every session, remembered device and other reset link.

    A reset never signs the person in and never turns off their second factor: they sign in afterwards with the
    new password and their code (ASVS 6.4.3)."""
    token = find_token(raw, TokenPurpose.PASSWORD_RESET)
    user = token.user
    if user is None or not user.active:
        raise OperationError("This link is not valid. Ask for a new one.")
    check_password_strength(password, personal=(user.email, user.display_name))
    user.set_password(password)
    user.session_version += 1
    use_token(token)
    end_sessions(user, None, "password_reset")
    forget_devices(user)
    record("password_reset.complete", "user", user.id, user)
    return user


# Second factor ---------------------------------------------------------------------------------------------------


def mfa_required(user: User) -> bool:
    """Whether this person's roles (COMMINTEL_MFA_REQUIRED_ROLES) oblige them to use a second factor."""
    required = current_app.config["COMMINTEL_MFA_REQUIRED_ROLES"]
    held = {role.value for role in policy.roles_of(user)}
    return bool(held & required)


def begin_totp(user: User) -> str:
    """The secret of the enrolment in progress (a new one from the CSPRNG when none is pending)."""
    if user.mfa_enabled:
        raise OperationError("Two-step sign-in is already on for this account.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="commintel")


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data URI, made here (no outside service sees the secret)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // TOTP_STEP_SECONDS)


def _check_totp(user: User, code: str) -> bool:
    """True for a code of the current (or previous) step newer than the last one accepted; records its step."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6 or not user.totp_secret:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = _step()
    for step in range(now, now - TOTP_PAST_STEPS - 1, -1):
        if secrets.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed, or older than a code already used
            user.totp_last_step = step
            return True
    return False


def confirm_totp(user: User, code: str) -> list[str]:
    """Finish enrolment with a code from the new authenticator; returns the recovery codes (shown once)."""
    if user.mfa_enabled:
        raise OperationError("Two-step sign-in is already on for this account.")
    if not user.totp_secret:
        raise OperationError("Start again: the set-up had not begun.", "code")
    if not _check_totp(user, code):
        raise OperationError("That code is not right. Enter the 6-digit code your app shows now.", "code")
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(user)
    record("mfa.enrol", "user", user.id, user, method="totp")
    log.info("user %s turned on two-step sign-in", user.id)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=User.hasher().hash(raw)))
    db.session.flush()
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace the recovery codes (the old ones stop working); returns the new ones, shown once."""
    if not user.mfa_enabled:
        raise OperationError("Turn on two-step sign-in first.")
    codes = _new_recovery_codes(user)
    record("mfa.recovery_codes", "user", user.id, user)
    return codes


def recovery_codes_left(user: User) -> int:
    return len(
        list(
            db.session.scalars(
                select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            )
        )
    )


def _use_recovery_code(user: User, code: str) -> bool:
    raw = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    if len(raw) != _RECOVERY_LENGTH:
        return False
    for stored in db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ):
        try:
            if User.hasher().verify(stored.code_hash, raw):
                stored.used_at = utcnow()
                return True
        except Exception:  # noqa: S112 - argon2 raises on a mismatch; try the next code
            continue
    return False


def verify_second_factor(user: User, code: str) -> str | None:
    """'totp' or 'recovery_code' when ``code`` is a fresh authenticator code or an unused recovery code."""
    if not user.mfa_enabled:
        return None
    if _check_totp(user, code):
        return "totp"
    if _use_recovery_code(user, code):
        record("mfa.recovery_code_used", "user", user.id, user, left=recovery_codes_left(user))
        return "recovery_code"
    return None


def turn_off_mfa(user: User, actor: User | None, reason: str) -> None:
    """Remove the second factor, its recovery codes and remembered devices; end the person's other sessions.

    ``reason`` is 'self' (an optional user turning it off) or 'admin_reset' (a lost device, after an administrator
    checked who is asking); a person whose role requires it enrols again at their next sign-in."""
    if reason == "self" and mfa_required(user):
        raise OperationError("Your role requires two-step sign-in; it cannot be turned off.")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    forget_devices(user)
    if reason == "admin_reset":
        end_sessions(user, actor, "mfa_reset")
        record("mfa.admin_reset", "user", user.id, actor)
    else:
        record("mfa.disable", "user", user.id, actor)


# Remembered devices ----------------------------------------------------------------------------------------------


def remember_device(user: User, client: Client) -> tuple[RememberedDevice, str]:
    """Remember this browser for COMMINTEL_MFA_REMEMBER_DAYS (at most 30); returns the raw cookie value."""
    raw = secrets.token_urlsafe(32)
    days = current_app.config["COMMINTEL_MFA_REMEMBER_DAYS"]
    device = RememberedDevice(
        user_id=user.id,
        token_hash=_hash(raw),
        user_agent=summarise_user_agent(client.user_agent)[:80],
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(device)
    db.session.flush()
    record("mfa.device_remembered", "remembered_device", device.id, user, days=days)
    return device, raw


def find_device(user: User, raw: str | None) -> RememberedDevice | None:
    """The live remembered device of ``user`` whose cookie value is ``raw`` (another account's never counts)."""
    if not raw:
        return None
    device = db.session.scalar(select(RememberedDevice).where(RememberedDevice.token_hash == _hash(raw)))
    if device is None or device.user_id != user.id or device.revoked_at is not None or device.expires_at <= utcnow():
        return None
    return device


def remembered_devices(user: User) -> list[RememberedDevice]:
    return list(
        db.session.scalars(
            select(RememberedDevice)
            .where(
                RememberedDevice.user_id == user.id,
                RememberedDevice.revoked_at.is_(None),
                RememberedDevice.expires_at > utcnow(),
            )
            .order_by(RememberedDevice.created_at.desc())
        )
    )


def forget_devices(user: User) -> int:
    result = cast(
        CursorResult,
        db.session.execute(
            update(RememberedDevice)
            .where(RememberedDevice.user_id == user.id, RememberedDevice.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount


# Throttling per account ------------------------------------------------------------------------------------------


def _account_key(email: str) -> str:
    return "account:" + _hash((email or "").strip().lower())[:32]


def _account_limit():
    return parse(current_app.config["COMMINTEL_ACCOUNT_RATE_LIMIT"])


def account_wait_seconds(email: str) -> int:
    """Seconds until the account may try again (0 when it may now). Unknown addresses are throttled alike, so the
    answer never tells whether an account exists."""
    if not limiter.enabled:
        return 0
    limit = _account_limit()
    if limiter.limiter.test(limit, _account_key(email)):
        return 0
    stats = limiter.limiter.get_window_stats(limit, _account_key(email))
    return max(1, math.ceil(stats.reset_time - time.time()))


def note_failure(email: str, user: User | None, address: str, step: str = "password") -> bool:
    """Count a failed password or code against the account; True when this failure locked it (audited).

    ``step`` is password, code (the second factor) or reauth (confirming the password inside a session)."""
    record("auth.login_failed", "user", user.id if user else None, None, step=step, ip_prefix=address_prefix(address))
    if not limiter.enabled:
        return False
    limit = _account_limit()
    limiter.limiter.hit(limit, _account_key(email))
    if limiter.limiter.test(limit, _account_key(email)):
        return False
    record(
        "auth.lockout",
        "user",
        user.id if user else None,
        None,
        scope="account",
        limit=str(current_app.config["COMMINTEL_ACCOUNT_RATE_LIMIT"]),
        ip_prefix=address_prefix(address),
    )
    log.warning("sign-in for account %s held back after repeated failures", user.id if user else "unknown")
    return True


def wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
