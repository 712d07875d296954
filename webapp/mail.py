"""Sending one-time links: by SMTP when configured; otherwise written to the log in development, demo and testing.

In production without SMTP a link is never logged (anyone who reads the logs could use it): nothing is sent and the
caller tells the person who asked for it.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


LOGGED_ENVS = frozenset({"development", "demo", "testing"})


def send_link(to: str, subject: str, intro: str, path: str, token_id: int) -> bool:
    """Send ``intro`` and the absolute link for ``path``; True when it went out (or, outside production, was written
    to the log). Call only after the transaction has committed: a failure here never undoes what was stored."""
    config = current_app.config
    link = config["COMMINTEL_BASE_URL"].rstrip("/") + path
    if not config["COMMINTEL_SMTP_HOST"]:
        if config["COMMINTEL_ENV"] not in LOGGED_ENVS:
            log.warning("No SMTP server configured (COMMINTEL_SMTP_HOST): one-time link of token %s not sent", token_id)
            return False
        # No address in the log: the token id is enough to tell links apart.
        log.warning("No SMTP server configured; one-time link (token %s): %s", token_id, link)
        return True
    message = EmailMessage()
    message["From"] = config["COMMINTEL_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(
        f"{intro}\n\n{link}\n\nThe link works once and expires in {config['COMMINTEL_TOKEN_HOURS']} hours.\n"
    )
    try:
        _smtp_send(message)
    except (smtplib.SMTPException, OSError) as exc:
        log.error("one-time link of token %s not sent: SMTP failed (%s)", token_id, type(exc).__name__)
        return False
    log.info("one-time link sent by SMTP (token %s)", token_id)
    return True


def send_notice(to: str, subject: str, body: str, reference: str) -> bool:
    """Send a plain notice (no link that signs anyone in); True when it went out, or outside production was written
    to the log. The log names ``reference`` (an id), never the address or the body. Call only after the commit."""
    config = current_app.config
    if not config["COMMINTEL_SMTP_HOST"]:
        if config["COMMINTEL_ENV"] not in LOGGED_ENVS:
            log.warning("No SMTP server configured (COMMINTEL_SMTP_HOST): notice %s not sent", reference)
            return False
        log.warning("No SMTP server configured; notice %s not sent by email (development: written here only)",
                    reference)  # fmt: skip
        return True
    message = EmailMessage()
    message["From"] = config["COMMINTEL_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        _smtp_send(message)
    except (smtplib.SMTPException, OSError) as exc:
        log.error("notice %s not sent: SMTP failed (%s)", reference, type(exc).__name__)
        return False
    log.info("notice %s sent by SMTP", reference)
    return True


def _smtp_send(message: EmailMessage) -> None:
    """Hand ``message`` to the configured SMTP server (STARTTLS when offered, login when a user is set); raises
    ``smtplib.SMTPException`` or ``OSError`` when it cannot."""
    config = current_app.config
    with smtplib.SMTP(config["COMMINTEL_SMTP_HOST"], config["COMMINTEL_SMTP_PORT"], timeout=20) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if config["COMMINTEL_SMTP_USER"]:
            smtp.login(config["COMMINTEL_SMTP_USER"], config["COMMINTEL_SMTP_PASSWORD"] or "")
        smtp.send_message(message)
